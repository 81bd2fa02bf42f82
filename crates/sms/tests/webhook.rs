//! The inbound webhook end to end: moto's DynamoDB and Secrets Manager,
//! wiremock fakes of OpenAI and Twilio asserting the exact requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn a_known_opted_in_user_is_answered_with_history_and_both_turns_are_stored() {
    let sms = Sms::start().await;
    sms.seed_user("u-1", PHONE, true).await;
    sms.seed_turn(PHONE, 1_700_000_000_000_000, "user", "What is 2+2?")
        .await;
    sms.seed_turn(PHONE, 1_700_000_000_000_500, "assistant", "4.")
        .await;
    sms.openai_answers("Paris is the capital of France.").await;
    sms.twilio_accepts().await;

    let resp = sms
        .call(Webhook::sms("SM0001", PHONE, "And the capital of France?").event())
        .await;
    resp.assert_empty_twiml();

    let openai = sms.openai_requests().await;
    assert_eq!(openai.len(), 1);
    let request = &openai[0];
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), COMPLETIONS_PATH);
    assert_eq!(
        header(request, "authorization"),
        format!("Bearer {OPENAI_KEY}")
    );
    assert!(header(request, "content-type").starts_with("application/json"));
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
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

    let twilio = sms.twilio_requests().await;
    assert_eq!(twilio.len(), 1);
    let request = &twilio[0];
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), MESSAGES_PATH);
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"));
    assert_eq!(header(request, "authorization"), format!("Basic {basic}"));
    assert_eq!(
        header(request, "content-type"),
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        form_pairs(request),
        [
            ("To".to_owned(), PHONE.to_owned()),
            ("From".to_owned(), OUR_NUMBER.to_owned()),
            (
                "Body".to_owned(),
                "Paris is the capital of France.".to_owned()
            ),
        ]
    );

    assert_eq!(
        sms.history(PHONE).await,
        [
            ("user".to_owned(), "What is 2+2?".to_owned()),
            ("assistant".to_owned(), "4.".to_owned()),
            ("user".to_owned(), "And the capital of France?".to_owned()),
            (
                "assistant".to_owned(),
                "Paris is the capital of France.".to_owned()
            ),
        ]
    );
    let items = sms.history_items(PHONE).await;
    let new_user = &items[2];
    assert_eq!(new_user["message_sid"].as_s().unwrap(), "SM0001");
    let ts: Vec<u64> = items
        .iter()
        .map(|i| i["ts"].as_n().unwrap().parse().unwrap())
        .collect();
    assert!(ts.windows(2).all(|w| w[0] < w[1]), "{ts:?}");
    let expires: u64 = new_user["expires_at"].as_n().unwrap().parse().unwrap();
    let ttl = expires - ts[2] / 1_000_000;
    assert!((30 * 86_400 - 5..=30 * 86_400 + 5).contains(&ttl), "{ttl}");

    let record = sms
        .idempotency_record("SM0001")
        .await
        .expect("MessageSid recorded");
    let expires: u64 = record["expires_at"].as_n().unwrap().parse().unwrap();
    assert!(expires > ts[2] / 1_000_000 + 86_000);
}

#[tokio::test]
async fn only_the_last_history_turns_are_sent() {
    let sms = Sms::with(Setup::default().env("HISTORY_TURNS", "2")).await;
    sms.seed_user("u-1", PHONE, true).await;
    for (i, (role, text)) in [
        ("user", "one"),
        ("assistant", "two"),
        ("user", "three"),
        ("assistant", "four"),
    ]
    .iter()
    .enumerate()
    {
        sms.seed_turn(PHONE, 1_700_000_000_000_000 + i as u64, role, text)
            .await;
    }
    sms.openai_answers("five").await;
    sms.twilio_accepts().await;
    sms.call(Webhook::sms("SM0002", PHONE, "question").event())
        .await
        .assert_empty_twiml();
    let body: Value = serde_json::from_slice(&sms.openai_requests().await[0].body).unwrap();
    let contents: Vec<&str> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        ["You answer by SMS.", "three", "four", "question"]
    );
}

#[tokio::test]
async fn bad_or_missing_signatures_are_403_and_nothing_is_stored_or_sent() {
    let sms = Sms::start().await;
    sms.seed_user("u-1", PHONE, true).await;
    sms.openai_answers("never").await;
    sms.twilio_accepts().await;
    let message = Webhook::sms("SM0003", PHONE, "hello");
    let other_url = sms::signature::compute(
        AUTH_TOKEN,
        "https://evil.example/sms/inbound",
        &message.params,
    );
    let other_token = sms::signature::compute("another-token", WEBHOOK_URL, &message.params);
    let mut tampered = message.valid_signature();
    tampered.replace_range(0..2, "AA");
    for (what, event) in [
        ("missing", message.clone().signed_with("").event()),
        ("tampered", message.clone().signed_with(&tampered).event()),
        ("other url", message.clone().signed_with(&other_url).event()),
        (
            "other token",
            message.clone().signed_with(&other_token).event(),
        ),
        ("body changed after signing", {
            let signature = message.valid_signature();
            let mut changed = message.clone();
            changed
                .params
                .iter_mut()
                .find(|(k, _)| k == "Body")
                .unwrap()
                .1 = "changed".into();
            changed.signed_with(&signature).event()
        }),
        (
            "http api, missing",
            message.clone().signed_with("").http_api().event(),
        ),
    ] {
        let resp = sms.call(event).await;
        assert_eq!(resp.status, 403, "{what}: {resp:?}");
        assert_eq!(resp.error_code(), "invalid_signature", "{what}");
    }
    assert!(sms.idempotency_record("SM0003").await.is_none());
    assert!(sms.history(PHONE).await.is_empty());
    assert!(sms.openai_requests().await.is_empty());
    assert!(sms.twilio_requests().await.is_empty());
}

#[tokio::test]
async fn the_signature_is_accepted_with_an_explicit_default_port() {
    let sms = Sms::start().await;
    sms.openai_answers("hi").await;
    sms.twilio_accepts().await;
    let message = Webhook::sms("SM0004", "+15559990000", "hello");
    let signature = sms::signature::compute(
        AUTH_TOKEN,
        "https://api.example.com:443/prod/sms/inbound",
        &message.params,
    );
    sms.call(message.signed_with(&signature).event())
        .await
        .assert_empty_twiml();
}

#[tokio::test]
async fn a_duplicate_message_sid_gets_empty_twiml_and_no_second_reply() {
    let sms = Sms::start().await;
    sms.seed_user("u-1", PHONE, true).await;
    sms.openai_answers("Once only.").await;
    sms.twilio_accepts().await;
    let event = Webhook::sms("SM0005", PHONE, "hello").event();
    sms.call(event.clone()).await.assert_empty_twiml();
    sms.call(event.clone()).await.assert_empty_twiml();
    sms.call(Webhook::sms("SM0005", PHONE, "hello").http_api().event())
        .await
        .assert_empty_twiml();
    assert_eq!(sms.openai_requests().await.len(), 1);
    assert_eq!(sms.twilio_requests().await.len(), 1);
    assert_eq!(sms.history(PHONE).await.len(), 2);
}

#[tokio::test]
async fn an_unknown_sender_gets_the_short_reply_without_openai_or_history() {
    let sms = Sms::start().await;
    sms.openai_answers("never").await;
    sms.twilio_accepts().await;
    sms.call(Webhook::sms("SM0006", "+15550009999", "hello?").event())
        .await
        .assert_empty_twiml();
    assert!(sms.openai_requests().await.is_empty());
    assert_eq!(
        sms.sent_bodies().await,
        ["This number only answers registered users."]
    );
    assert_eq!(
        form_field(&sms.twilio_requests().await[0], "To").unwrap(),
        "+15550009999"
    );
    assert!(sms.history("+15550009999").await.is_empty());
}

#[tokio::test]
async fn without_a_configured_reply_unknown_senders_get_nothing() {
    let sms = Sms::with(Setup::default().env("UNKNOWN_SENDER_REPLY", "")).await;
    sms.twilio_accepts().await;
    sms.call(Webhook::sms("SM0007", "+15550009999", "hello?").event())
        .await
        .assert_empty_twiml();
    assert!(sms.twilio_requests().await.is_empty());
    assert!(sms.openai_requests().await.is_empty());
    assert!(sms.idempotency_record("SM0007").await.is_some());
}

#[tokio::test]
async fn an_opted_out_sender_gets_the_short_reply_without_openai_or_history() {
    let sms = Sms::start().await;
    sms.seed_user("u-2", PHONE, false).await;
    sms.openai_answers("never").await;
    sms.twilio_accepts().await;
    sms.call(Webhook::sms("SM0008", PHONE, "hello").event())
        .await
        .assert_empty_twiml();
    assert!(sms.openai_requests().await.is_empty());
    assert_eq!(
        sms.sent_bodies().await,
        ["This number only answers registered users."]
    );
    assert!(sms.history(PHONE).await.is_empty());
}

#[tokio::test]
async fn help_sends_the_help_text_whoever_asks() {
    let sms = Sms::start().await;
    sms.seed_user("u-1", PHONE, true).await;
    sms.openai_answers("never").await;
    sms.twilio_accepts().await;
    sms.call(Webhook::sms("SM0009", PHONE, " Help ").event())
        .await
        .assert_empty_twiml();
    sms.call(Webhook::sms("SM0010", "+15550009999", "HELP").event())
        .await
        .assert_empty_twiml();
    assert_eq!(
        sms.sent_bodies().await,
        [
            "Ask anything. RESET clears, STOP opts out.",
            "Ask anything. RESET clears, STOP opts out."
        ]
    );
    assert!(sms.openai_requests().await.is_empty());
    assert!(sms.history(PHONE).await.is_empty());
}

#[tokio::test]
async fn reset_clears_the_history_and_confirms() {
    let sms = Sms::start().await;
    sms.seed_user("u-1", PHONE, true).await;
    // More than one BatchWriteItem's worth.
    for i in 0..30 {
        sms.seed_turn(PHONE, 1_700_000_000_000_000 + i, "user", "old")
            .await;
    }
    sms.seed_turn("+15550002222", 1, "user", "someone else's")
        .await;
    sms.openai_answers("never").await;
    sms.twilio_accepts().await;
    sms.call(Webhook::sms("SM0011", PHONE, "reset").event())
        .await
        .assert_empty_twiml();
    assert!(sms.history(PHONE).await.is_empty());
    assert_eq!(sms.history("+15550002222").await.len(), 1);
    assert_eq!(sms.sent_bodies().await, ["Conversation cleared."]);
    assert!(sms.openai_requests().await.is_empty());
}

#[tokio::test]
async fn stop_and_start_are_mirrored_into_sms_opt_in_with_a_version_bump() {
    let sms = Sms::start().await;
    sms.seed_user("u-1", PHONE, true).await;
    sms.twilio_accepts().await;
    sms.openai_answers("never").await;

    sms.call(Webhook::sms("SM0012", PHONE, "STOP").event())
        .await
        .assert_empty_twiml();
    let item = sms.user_item("u-1").await;
    assert_eq!(item["sms_opt_in"].as_bool().unwrap(), &false);
    assert_eq!(item["version"].as_n().unwrap(), "2");
    assert_ne!(item["updated_at"].as_s().unwrap(), "2026-11-01T00:00:00Z");
    assert!(item["updated_at"].as_s().unwrap().ends_with('Z'));
    assert_eq!(
        item["email"].as_s().unwrap(),
        "u-1@example.com",
        "other fields untouched"
    );

    // Twilio's own classification, in any language.
    sms.call(
        Webhook::sms("SM0013", PHONE, "Arrêt")
            .param("OptOutType", "STOP")
            .event(),
    )
    .await
    .assert_empty_twiml();
    assert_eq!(
        sms.user_item("u-1").await["version"].as_n().unwrap(),
        "2",
        "no-op"
    );

    sms.call(Webhook::sms("SM0014", PHONE, "start").event())
        .await
        .assert_empty_twiml();
    let item = sms.user_item("u-1").await;
    assert_eq!(item["sms_opt_in"].as_bool().unwrap(), &true);
    assert_eq!(item["version"].as_n().unwrap(), "3");

    // Twilio confirms opt-outs itself: we send nothing, ask nobody.
    assert!(sms.twilio_requests().await.is_empty());
    assert!(sms.openai_requests().await.is_empty());
    assert!(sms.history(PHONE).await.is_empty());
}

#[tokio::test]
async fn stop_from_an_unknown_number_changes_nothing_and_sends_nothing() {
    let sms = Sms::start().await;
    sms.twilio_accepts().await;
    sms.call(Webhook::sms("SM0015", "+15550009999", "stop").event())
        .await
        .assert_empty_twiml();
    assert!(sms.twilio_requests().await.is_empty());
}

#[tokio::test]
async fn an_openai_timeout_sends_the_apology_and_keeps_the_user_turn() {
    let sms = Sms::with(Setup::default().env("OPENAI_TIMEOUT_MS", "100")).await;
    sms.seed_user("u-1", PHONE, true).await;
    Mock::given(method("POST"))
        .and(path(COMPLETIONS_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(completion("too late"))
                .set_delay(Duration::from_millis(2000)),
        )
        .mount(&sms.openai)
        .await;
    sms.twilio_accepts().await;
    sms.call(Webhook::sms("SM0016", PHONE, "slow question").event())
        .await
        .assert_empty_twiml();
    assert_eq!(
        sms.openai_requests().await.len(),
        1,
        "a timeout is not retried"
    );
    assert_eq!(sms.sent_bodies().await, ["Sorry, try again later."]);
    assert_eq!(
        sms.history(PHONE).await,
        [("user".to_owned(), "slow question".to_owned())]
    );
    assert!(logs().contents().contains("openai_timeout"));
}

#[tokio::test]
async fn a_429_rate_limit_is_retried_once_and_then_answered() {
    let sms = Sms::start().await;
    sms.seed_user("u-1", PHONE, true).await;
    Mock::given(method("POST"))
        .and(path(COMPLETIONS_PATH))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after-ms", "20")
                .set_body_json(openai_error("rate_limit_exceeded", "requests")),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&sms.openai)
        .await;
    sms.openai_answers("Answer after the retry.").await;
    sms.twilio_accepts().await;
    sms.call(Webhook::sms("SM0017", PHONE, "q").event())
        .await
        .assert_empty_twiml();
    let requests = sms.openai_requests().await;
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, requests[1].body, "the same request again");
    assert_eq!(sms.sent_bodies().await, ["Answer after the retry."]);
    assert_eq!(sms.history(PHONE).await.len(), 2);
}

#[tokio::test]
async fn a_500_twice_gives_the_apology_after_exactly_one_retry() {
    let sms = Sms::start().await;
    sms.seed_user("u-1", PHONE, true).await;
    Mock::given(method("POST"))
        .and(path(COMPLETIONS_PATH))
        .respond_with(
            ResponseTemplate::new(500).set_body_json(openai_error("server_error", "server_error")),
        )
        .mount(&sms.openai)
        .await;
    sms.twilio_accepts().await;
    sms.call(Webhook::sms("SM0018", PHONE, "q").event())
        .await
        .assert_empty_twiml();
    assert_eq!(sms.openai_requests().await.len(), 2);
    assert_eq!(sms.sent_bodies().await, ["Sorry, try again later."]);
    assert_eq!(
        sms.history(PHONE).await,
        [("user".to_owned(), "q".to_owned())]
    );
}

#[tokio::test]
async fn a_503_then_success_is_answered() {
    let sms = Sms::start().await;
    sms.seed_user("u-1", PHONE, true).await;
    Mock::given(method("POST"))
        .and(path(COMPLETIONS_PATH))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream unavailable"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&sms.openai)
        .await;
    sms.openai_answers("Recovered.").await;
    sms.twilio_accepts().await;
    sms.call(Webhook::sms("SM0019", PHONE, "q").event())
        .await
        .assert_empty_twiml();
    assert_eq!(sms.sent_bodies().await, ["Recovered."]);
}

#[tokio::test]
async fn insufficient_quota_and_other_4xx_are_not_retried() {
    for (sid, status, code) in [
        ("SM0020", 429, "insufficient_quota"),
        ("SM0021", 400, "context_length_exceeded"),
        ("SM0022", 401, "invalid_api_key"),
    ] {
        let sms = Sms::start().await;
        sms.seed_user("u-1", PHONE, true).await;
        Mock::given(method("POST"))
            .and(path(COMPLETIONS_PATH))
            .respond_with(
                ResponseTemplate::new(status)
                    .set_body_json(openai_error(code, "invalid_request_error")),
            )
            .mount(&sms.openai)
            .await;
        sms.twilio_accepts().await;
        sms.call(Webhook::sms(sid, PHONE, "q").event())
            .await
            .assert_empty_twiml();
        assert_eq!(sms.openai_requests().await.len(), 1, "{code}");
        assert_eq!(
            sms.sent_bodies().await,
            ["Sorry, try again later."],
            "{code}"
        );
        assert_eq!(
            sms.history(PHONE).await.len(),
            1,
            "{code}: the user turn is kept"
        );
    }
    assert!(logs().contents().contains("openai_insufficient_quota"));
}

#[tokio::test]
async fn a_malformed_openai_answer_gives_the_apology() {
    let sms = Sms::start().await;
    sms.seed_user("u-1", PHONE, true).await;
    Mock::given(method("POST"))
        .and(path(COMPLETIONS_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"choices": []})))
        .mount(&sms.openai)
        .await;
    sms.twilio_accepts().await;
    sms.call(Webhook::sms("SM0023", PHONE, "q").event())
        .await
        .assert_empty_twiml();
    assert_eq!(sms.openai_requests().await.len(), 1);
    assert_eq!(sms.sent_bodies().await, ["Sorry, try again later."]);
}

#[tokio::test]
async fn a_twilio_500_falls_back_to_the_answer_as_inline_twiml() {
    let sms = Sms::start().await;
    sms.seed_user("u-1", PHONE, true).await;
    sms.openai_answers("Use <b> & \"quotes\".").await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(ResponseTemplate::new(500).set_body_json(
            json!({"code": 20500, "message": "Internal Server Error", "status": 500}),
        ))
        .mount(&sms.twilio)
        .await;
    let resp = sms.call(Webhook::sms("SM0024", PHONE, "q").event()).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.content_type, "text/xml");
    assert_eq!(
        resp.body,
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Message>Use &lt;b&gt; &amp; &quot;quotes&quot;.</Message></Response>"#
    );
    assert_eq!(sms.twilio_requests().await.len(), 1, "no REST retry");
    assert_eq!(
        sms.history(PHONE).await.len(),
        2,
        "the inline answer is a turn too"
    );
    assert!(
        sms.idempotency_record("SM0024").await.is_some(),
        "a retry must not answer twice"
    );
    assert!(logs().contents().contains("twilio_error"));
}

#[tokio::test]
async fn a_twilio_timeout_falls_back_to_inline_twiml() {
    let sms = Sms::with(Setup::default().env("TWILIO_TIMEOUT_MS", "100")).await;
    sms.seed_user("u-1", PHONE, true).await;
    sms.openai_answers("Slow network answer.").await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"sid": "SMlate"}))
                .set_delay(Duration::from_millis(2000)),
        )
        .mount(&sms.twilio)
        .await;
    let resp = sms.call(Webhook::sms("SM0038", PHONE, "q").event()).await;
    assert_eq!(resp.status, 200);
    assert!(
        resp.body
            .ends_with("<Response><Message>Slow network answer.</Message></Response>"),
        "{}",
        resp.body
    );
    assert!(logs().contents().contains("twilio_unreachable"));
}

#[tokio::test]
async fn reset_from_an_unknown_sender_clears_nothing_and_gets_the_short_reply() {
    let sms = Sms::start().await;
    sms.seed_turn("+15550009999", 1, "user", "left over").await;
    sms.twilio_accepts().await;
    sms.call(Webhook::sms("SM0039", "+15550009999", "RESET").event())
        .await
        .assert_empty_twiml();
    assert_eq!(sms.history("+15550009999").await.len(), 1);
    assert_eq!(
        sms.sent_bodies().await,
        ["This number only answers registered users."]
    );
}

#[tokio::test]
async fn a_long_answer_is_split_into_numbered_parts() {
    let sms = Sms::start().await;
    sms.seed_user("u-1", PHONE, true).await;
    let words: Vec<String> = (0..700).map(|i| format!("w{i:04}")).collect();
    let answer = words.join(" ");
    sms.openai_answers(&answer).await;
    sms.twilio_accepts().await;
    sms.call(Webhook::sms("SM0025", PHONE, "q").event())
        .await
        .assert_empty_twiml();
    let bodies = sms.sent_bodies().await;
    assert_eq!(bodies.len(), 3, "4199 characters");
    let mut rebuilt = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        assert!(body.chars().count() <= 1600);
        let text = body.strip_prefix(&format!("({}/3) ", i + 1)).unwrap();
        rebuilt.extend(text.split(' ').map(str::to_owned));
    }
    assert_eq!(rebuilt, words);
    assert_eq!(
        sms.history(PHONE).await[1].1,
        answer,
        "the whole answer is one turn"
    );
}

#[tokio::test]
async fn when_a_later_part_fails_only_the_rest_goes_inline() {
    let sms = Sms::start().await;
    sms.seed_user("u-1", PHONE, true).await;
    let answer = "abcd ".repeat(500);
    sms.openai_answers(&answer).await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SMok"})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&sms.twilio)
        .await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(ResponseTemplate::new(503))
        .mount(&sms.twilio)
        .await;
    let resp = sms.call(Webhook::sms("SM0026", PHONE, "q").event()).await;
    assert_eq!(resp.status, 200);
    assert!(resp.body.contains("<Message>(2/2) abcd"), "{}", resp.body);
    assert!(!resp.body.contains("(1/2)"));
    assert!(sms.sent_bodies().await[0].starts_with("(1/2) abcd"));
}

#[tokio::test]
async fn a_base64_body_from_the_http_api_is_answered_in_its_format() {
    let sms = Sms::start().await;
    sms.seed_user("u-1", PHONE, true).await;
    sms.openai_answers("Über gut: ça va ✓").await;
    sms.twilio_accepts().await;
    let resp = sms
        .call(
            Webhook::sms("SM0027", PHONE, "Grüße & ünïcödé + plus")
                .http_api()
                .event(),
        )
        .await;
    resp.assert_empty_twiml();
    assert!(resp.raw.get("cookies").is_some(), "an HTTP API response");
    let body: Value = serde_json::from_slice(&sms.openai_requests().await[0].body).unwrap();
    assert_eq!(body["messages"][1]["content"], "Grüße & ünïcödé + plus");
    assert_eq!(sms.sent_bodies().await, ["Über gut: ça va ✓"]);
}

#[tokio::test]
async fn missing_fields_are_400_after_a_valid_signature() {
    let sms = Sms::start().await;
    sms.twilio_accepts().await;
    for field in ["From", "To", "Body", "MessageSid"] {
        let resp = sms
            .call(Webhook::sms("SM0028", PHONE, "hi").without(field).event())
            .await;
        assert_eq!(resp.status, 400, "{field}: {resp:?}");
        assert_eq!(resp.error_code(), "missing_field");
        assert!(resp.body.contains(field));
    }
    assert!(sms.idempotency_record("SM0028").await.is_none());
    assert!(sms.twilio_requests().await.is_empty());
}

#[tokio::test]
async fn a_body_that_is_not_a_form_is_refused_like_an_unsigned_one() {
    let sms = Sms::start().await;
    let mut event = Webhook::sms("SM0040", PHONE, "hi").http_api().event();
    event["body"] =
        json!(base64::engine::general_purpose::STANDARD.encode([0xff, 0xfe, b'=', 0x80]));
    let resp = sms.call(event).await;
    assert_eq!(resp.status, 403, "{resp:?}");
    assert!(sms.idempotency_record("SM0040").await.is_none());
}

#[tokio::test]
async fn other_methods_are_405() {
    let sms = Sms::start().await;
    let mut hook = Webhook::sms("SM0029", PHONE, "hi");
    hook.method = "GET".into();
    let resp = sms.call(hook.event()).await;
    assert_eq!(resp.status, 405);
}

#[tokio::test]
async fn a_messaging_service_replaces_the_from_number() {
    let sms = Sms::with(Setup::default().secret(secret_json(
        json!({"twilio_messaging_service_sid": "MG0123"}),
    )))
    .await;
    sms.seed_user("u-1", PHONE, true).await;
    sms.openai_answers("hi").await;
    sms.twilio_accepts().await;
    sms.call(Webhook::sms("SM0030", PHONE, "q").event())
        .await
        .assert_empty_twiml();
    assert_eq!(
        form_pairs(&sms.twilio_requests().await[0]),
        [
            ("To".to_owned(), PHONE.to_owned()),
            ("MessagingServiceSid".to_owned(), "MG0123".to_owned()),
            ("Body".to_owned(), "hi".to_owned()),
        ]
    );
}

#[tokio::test]
async fn a_dynamodb_failure_before_any_reply_releases_the_message_for_twilios_retry() {
    let sms = Sms::with(Setup {
        without_history_table: true,
        ..Setup::default()
    })
    .await;
    sms.seed_user("u-1", PHONE, true).await;
    sms.openai_answers("Answered on the retry.").await;
    sms.twilio_accepts().await;
    let event = Webhook::sms("SM0031", PHONE, "q").event();
    let resp = sms.call(event.clone()).await;
    assert_eq!(resp.status, 503, "{resp:?}");
    assert!(sms.idempotency_record("SM0031").await.is_none(), "released");
    assert!(sms.openai_requests().await.is_empty());
    assert!(sms.twilio_requests().await.is_empty());

    // The table comes back; Twilio retries the same message.
    moto_harness::create_table_from_schema(
        &sms.dynamodb,
        SCHEMA,
        "sms_history",
        &sms.history_table,
    )
    .await
    .unwrap();
    sms.call(event).await.assert_empty_twiml();
    assert_eq!(sms.sent_bodies().await, ["Answered on the retry."]);
    assert_eq!(sms.history(PHONE).await.len(), 2);
}

#[tokio::test]
async fn a_hung_dynamodb_is_503_within_the_time_budget_and_nothing_is_sent() {
    let sms = Sms::with(Setup {
        hung_dynamodb: true,
        env: vec![
            ("TIME_BUDGET_MS", "800".to_owned()),
            ("OPENAI_TIMEOUT_MS", "500".to_owned()),
        ],
        ..Setup::default()
    })
    .await;
    sms.seed_user("u-1", PHONE, true).await;
    sms.openai_answers("never asked").await;
    sms.twilio_accepts().await;
    // Without the budget the SDK would wait on the silent endpoint for as
    // long as it is allowed to; the answer must come whatever DynamoDB does.
    let resp = tokio::time::timeout(
        Duration::from_secs(10),
        sms.call(Webhook::sms("SM0039", PHONE, "q").event()),
    )
    .await
    .expect("the webhook answered");
    assert_eq!(resp.status, 503, "{resp:?}");
    assert_eq!(resp.error_code(), "service_unavailable", "{resp:?}");
    assert!(sms.openai_requests().await.is_empty());
    assert!(sms.twilio_requests().await.is_empty());
    assert!(
        logs()
            .contents()
            .contains("claiming the MessageSid outlasted the time budget"),
        "the log names the slow call"
    );
}

#[tokio::test]
async fn a_missing_secret_key_is_503_and_the_log_names_it() {
    let sms =
        Sms::with(Setup::default().secret(secret_json(json!({"openai_api_key": null})))).await;
    let resp = sms.call(Webhook::sms("SM0032", PHONE, "q").event()).await;
    assert_eq!(resp.status, 503);
    assert!(!resp.body.contains("openai_api_key"));
    assert!(
        logs()
            .contents()
            .contains(r#"has no value for key \"openai_api_key\""#)
    );
    assert!(sms.idempotency_record("SM0032").await.is_none());
}

#[tokio::test]
async fn a_rotated_auth_token_is_picked_up_after_the_cache_ttl() {
    let sms = Sms::with(Setup::default().env("SECRET_TTL_SECONDS", "0")).await;
    sms.twilio_accepts().await;
    sms.call(Webhook::sms("SM0033", "+15550009999", "hi").event())
        .await
        .assert_empty_twiml();
    sms.secrets
        .put_secret_value()
        .secret_id(&sms.secret_id)
        .secret_string(secret_json(json!({"twilio_auth_token": "rotated-token"})))
        .send()
        .await
        .unwrap();
    let old = sms
        .call(Webhook::sms("SM0034", "+15550009999", "hi").event())
        .await;
    assert_eq!(old.status, 403, "the old token no longer signs");
    let hook = Webhook::sms("SM0035", "+15550009999", "hi");
    let signature = sms::signature::compute("rotated-token", WEBHOOK_URL, &hook.params);
    sms.call(hook.signed_with(&signature).event())
        .await
        .assert_empty_twiml();
}

#[tokio::test]
async fn logs_hold_no_token_key_signature_or_message_text() {
    let sms = Sms::start().await;
    sms.seed_user("u-1", PHONE, true).await;
    sms.openai_answers("Secret answer text 93b1").await;
    sms.twilio_accepts().await;
    let hook = Webhook::sms("SM0036", PHONE, "Private question text 4c7e");
    let signature = hook.valid_signature();
    sms.call(hook.event()).await.assert_empty_twiml();
    sms.call(
        Webhook::sms("SM0037", PHONE, "Tampered text 77aa")
            .signed_with("bm90LXZhbGlk")
            .event(),
    )
    .await;
    let out = logs().contents();
    assert!(out.contains("SM0036"), "the message is logged by id: {out}");
    assert!(out.contains("message answered"));
    for secret in [
        AUTH_TOKEN,
        OPENAI_KEY,
        signature.as_str(),
        "bm90LXZhbGlk",
        "Private question text",
        "Secret answer text",
        "Tampered text",
    ] {
        assert!(!out.contains(secret), "{secret} leaked into the logs");
    }
}
