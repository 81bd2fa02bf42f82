//! What each message gets, end to end: signed webhook -> inbound table ->
//! moto's stream -> the worker -> fakes of OpenAI and Twilio.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::*;
use serde_json::json;
use sms_inbox::{ReplyKind, State};

#[tokio::test]
async fn a_known_opted_in_user_is_answered_with_history_and_both_turns_are_stored() {
    let world = World::start().await;
    world.seed_user("u-1", PHONE, true).await;
    world
        .seed_turn(PHONE, 1_700_000_000_000_000, "user", "What is 2+2?")
        .await;
    world
        .seed_turn(PHONE, 1_700_000_000_000_500, "assistant", "4.")
        .await;
    world
        .text("SM0001", PHONE, "And the capital of France?")
        .await;
    assert!(
        world.twilio.messages().is_empty() && world.openai.calls().is_empty(),
        "the webhook only records"
    );
    let drained = world.drain().await;
    assert_eq!((drained.invocations, drained.redeliveries), (1, 0));

    let calls = world.openai.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0],
        json!({
            "model": "gpt-test",
            "messages": [
                {"role": "system", "content": "You answer by SMS."},
                {"role": "user", "content": "What is 2+2?"},
                {"role": "assistant", "content": "4."},
                {"role": "user", "content": "And the capital of France?"}
            ],
            "max_completion_tokens": 150
        })
    );
    let requests = world.openai_server.received_requests().await.unwrap();
    assert_eq!(
        requests[0].headers.get("authorization").unwrap(),
        &format!("Bearer {OPENAI_KEY}")
    );

    let answer = answer_to("And the capital of France?");
    let sent = world.twilio.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (
            sent[0].to.as_str(),
            sent[0].from.as_str(),
            sent[0].body.as_str()
        ),
        (PHONE, OUR_NUMBER, answer.as_str())
    );
    let post = world
        .twilio_server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.method.as_str() == "POST")
        .unwrap();
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"));
    assert_eq!(
        post.headers.get("authorization").unwrap(),
        &format!("Basic {basic}")
    );

    assert_eq!(
        world.history(PHONE).await,
        [
            ("user".to_owned(), "What is 2+2?".to_owned()),
            ("assistant".to_owned(), "4.".to_owned()),
            ("user".to_owned(), "And the capital of France?".to_owned()),
            ("assistant".to_owned(), answer.clone()),
        ]
    );
    let items = world.history_items(PHONE).await;
    for item in &items[2..] {
        assert_eq!(item["message_sid"].as_s().unwrap(), "SM0001");
    }
    let record = world.record("SM0001").await;
    assert_eq!(record.state, State::Sent);
    assert_eq!(record.attempts, 1);
    assert_eq!(record.outcome.as_deref(), Some("answer"));
    let reply = record.reply.unwrap();
    assert_eq!(reply.kind, ReplyKind::Answer);
    assert_eq!(reply.sids, [sent[0].sid.clone()]);
    assert!(record.lease.is_none() && !record.poisoned);
}

#[tokio::test]
async fn only_the_last_history_turns_are_sent() {
    let world = World::with(Setup::default().env("HISTORY_TURNS", "2")).await;
    world.seed_user("u-1", PHONE, true).await;
    for (i, (role, text)) in [
        ("user", "one"),
        ("assistant", "two"),
        ("user", "three"),
        ("assistant", "four"),
    ]
    .iter()
    .enumerate()
    {
        world
            .seed_turn(PHONE, 1_700_000_000_000_000 + i as u64, role, text)
            .await;
    }
    world.text("SM0002", PHONE, "question").await;
    world.drain().await;
    let contents: Vec<String> = world.openai.calls()[0]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        contents,
        ["You answer by SMS.", "three", "four", "question"]
    );
}

#[tokio::test]
async fn messages_of_one_sender_are_answered_in_order_each_seeing_the_last() {
    let world = World::start().await;
    world.seed_user("u-1", PHONE, true).await;
    world.text("SM0003", PHONE, "first").await;
    world.text("SM0004", PHONE, "second").await;
    world.drain().await;
    assert_eq!(
        world.twilio.bodies_to(PHONE),
        [answer_to("first"), answer_to("second")]
    );
    let second = &world.openai.calls()[1]["messages"];
    assert_eq!(second[1]["content"], "first");
    assert_eq!(second[2]["content"], answer_to("first"));
    assert_eq!(world.history(PHONE).await.len(), 4);
}

#[tokio::test]
async fn an_unknown_sender_gets_the_short_reply_without_openai_or_history() {
    let world = World::start().await;
    world.text("SM0005", "+15550009999", "hello?").await;
    world.drain().await;
    assert!(world.openai.calls().is_empty());
    assert_eq!(
        world.twilio.bodies_to("+15550009999"),
        ["This number only answers registered users."]
    );
    assert!(world.history("+15550009999").await.is_empty());
    let record = world.record("SM0005").await;
    assert_eq!(
        (record.state, record.outcome.as_deref()),
        (State::Sent, Some("unknown_sender"))
    );
}

#[tokio::test]
async fn without_a_configured_reply_unknown_and_opted_out_senders_get_nothing() {
    let world = World::with(Setup::default().env("UNKNOWN_SENDER_REPLY", "")).await;
    world.seed_user("u-2", PHONE, false).await;
    world.text("SM0006", "+15550009999", "hello?").await;
    world.text("SM0007", PHONE, "hello?").await;
    world.drain().await;
    assert!(world.twilio.messages().is_empty());
    assert!(world.openai.calls().is_empty());
    for (sid, outcome) in [("SM0006", "unknown_sender"), ("SM0007", "opted_out")] {
        let record = world.record(sid).await;
        assert_eq!(
            (record.state, record.outcome.as_deref()),
            (State::Done, Some(outcome))
        );
    }
}

#[tokio::test]
async fn help_sends_the_help_text_whoever_asks() {
    let world = World::start().await;
    world.seed_user("u-1", PHONE, true).await;
    world.text("SM0008", PHONE, " Help ").await;
    world.text("SM0009", "+15550009999", "HELP").await;
    world.drain().await;
    let help = "Ask anything. RESET clears, STOP opts out.";
    assert_eq!(world.twilio.bodies_to(PHONE), [help]);
    assert_eq!(world.twilio.bodies_to("+15550009999"), [help]);
    assert!(world.openai.calls().is_empty());
    assert!(world.history(PHONE).await.is_empty());
}

#[tokio::test]
async fn reset_clears_the_history_and_confirms() {
    let world = World::start().await;
    world.seed_user("u-1", PHONE, true).await;
    // More than one BatchWriteItem's worth.
    for i in 0..30 {
        world
            .seed_turn(PHONE, 1_700_000_000_000_000 + i, "user", "old")
            .await;
    }
    world
        .seed_turn("+15550002222", 1, "user", "someone else's")
        .await;
    world.text("SM0010", PHONE, "reset").await;
    world.drain().await;
    assert!(world.history(PHONE).await.is_empty());
    assert_eq!(world.history("+15550002222").await.len(), 1);
    assert_eq!(world.twilio.bodies_to(PHONE), ["Conversation cleared."]);
    assert!(world.openai.calls().is_empty());
}

#[tokio::test]
async fn stop_and_start_are_mirrored_into_sms_opt_in_and_nothing_is_sent() {
    let world = World::start().await;
    world.seed_user("u-1", PHONE, true).await;
    world.text("SM0011", PHONE, "STOP").await;
    world.drain().await;
    let item = world.user_item("u-1").await;
    assert_eq!(item["sms_opt_in"].as_bool().unwrap(), &false);
    assert_eq!(item["version"].as_n().unwrap(), "2");
    // Twilio's own classification, in any language.
    world
        .post(&sms::testing::Webhook::sms("SM0012", PHONE, "Arrêt").param("OptOutType", "STOP"))
        .await
        .assert_empty_twiml();
    world.text("SM0013", PHONE, "start").await;
    world.drain().await;
    let item = world.user_item("u-1").await;
    assert_eq!(item["sms_opt_in"].as_bool().unwrap(), &true);
    assert_eq!(item["version"].as_n().unwrap(), "3");
    assert!(
        world.twilio.messages().is_empty(),
        "Twilio confirms opt-outs itself"
    );
    assert!(world.openai.calls().is_empty());
    for (sid, outcome) in [("SM0011", "stop"), ("SM0012", "stop"), ("SM0013", "start")] {
        let record = world.record(sid).await;
        assert_eq!(
            (record.state, record.outcome.as_deref()),
            (State::Done, Some(outcome))
        );
    }
}

#[tokio::test]
async fn a_long_answer_is_split_into_numbered_parts_and_stored_whole() {
    let world = World::start().await;
    world.seed_user("u-1", PHONE, true).await;
    // The fake answers "Answer to: <question>": a question of Twilio's
    // longest length makes an answer that needs two parts.
    let words: Vec<String> = (0..400).map(|i| format!("w{i:04}")).collect();
    let question = words.join(" ")[..1595].to_owned();
    world.text("SM0015", PHONE, &question).await;
    world.drain().await;
    let bodies = world.twilio.bodies_to(PHONE);
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert!(
        bodies[0].starts_with("(1/2) Answer to: w0000"),
        "{}",
        bodies[0]
    );
    assert!(bodies[1].starts_with("(2/2) "), "{}", bodies[1]);
    assert!(bodies.iter().all(|b| b.chars().count() <= 1600));
    let record = world.record("SM0015").await;
    assert_eq!(record.reply.unwrap().sids.len(), 2);
    let history = world.history(PHONE).await;
    assert_eq!(
        history.last().unwrap().1,
        answer_to(&question),
        "the whole answer is one turn"
    );
}

#[tokio::test]
async fn a_messaging_service_replaces_the_from_number() {
    let world = World::with(Setup {
        secret: secret_json(&json!({"twilio_messaging_service_sid": "MG0123"})),
        ..Setup::default()
    })
    .await;
    world.seed_user("u-1", PHONE, true).await;
    world.text("SM0016", PHONE, "q").await;
    world.drain().await;
    let post = world
        .twilio_server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.method.as_str() == "POST")
        .unwrap();
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&post.body).unwrap();
    assert_eq!(
        form,
        [
            ("To".to_owned(), PHONE.to_owned()),
            ("MessagingServiceSid".to_owned(), "MG0123".to_owned()),
            ("Body".to_owned(), answer_to("q")),
        ]
    );
}

#[tokio::test]
async fn state_changes_and_expiries_on_the_stream_are_acknowledged_and_ignored() {
    let world = World::start().await;
    world.text("SM0017", "+15550009999", "hi").await;
    world.drain().await;
    // The raw stream also holds the worker's own MODIFYs; delivered anyway
    // (no filter), they change nothing.
    let moto = &world.moto;
    let mut reader = moto_harness::StreamReader::open(moto, &world.dynamodb, &world.inbound_table)
        .await
        .unwrap();
    let all = reader.poll(1000).await.unwrap();
    assert!(all.iter().any(|r| r["eventName"] == "MODIFY"));
    let failed = world.invoke(&all, Duration::from_secs(10)).await.unwrap();
    assert!(failed.is_empty());
    assert_eq!(world.twilio.messages().len(), 1, "still one reply");
    let not_a_stream = sms_worker::handle_batch(
        &world.worker,
        json!({"httpMethod": "POST"}),
        &world.invocation(Duration::from_secs(5)),
    )
    .await;
    assert!(not_a_stream.is_err());
}

#[tokio::test]
async fn logs_hold_no_key_token_or_message_text() {
    let world = World::start().await;
    world.seed_user("u-1", PHONE, true).await;
    world
        .text("SM0018", PHONE, "Private question text 4c7e")
        .await;
    world.drain().await;
    let out = logs().contents();
    assert!(
        out.contains("SM0018") && out.contains("message answered"),
        "{out}"
    );
    for secret in [AUTH_TOKEN, OPENAI_KEY, "Private question text", "Answer to"] {
        assert!(!out.contains(secret), "{secret} leaked into the logs");
    }
}
