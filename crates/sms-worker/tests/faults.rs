//! Fault injection on the whole path: every row of issue 16's fault table
//! and the faults it lists, each ending with the texter answered or
//! apologised to exactly once (or, where nothing can reach them, the
//! message failed and in the on-failure queue) and the message recorded.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::types::AttributeValue;
use common::*;
use serde_json::json;
use sms_inbox::{ReplyKind, State};

/// Runs `work` until `until` resolves, then drops it: Lambda killing the
/// invocation at that moment.
async fn kill_when<W: Future, U: Future>(work: W, until: U) {
    tokio::select! {
        _ = work => panic!("the invocation finished before it was killed"),
        _ = until => {}
    }
}

// ------------------------------------------------------------ fault table

/// "users table unreadable": the worker's attempt fails, the record is
/// delivered again, and once the table is back the texter is answered once.
#[tokio::test]
async fn an_unreadable_users_table_delays_the_answer_without_losing_or_doubling_it() {
    let world = World::start().await;
    world.text("SM1001", PHONE, "are you there?").await;
    world.drop_table(&world.users_table).await;
    let mut drained = Drained::default();
    assert!(world.step(&mut drained).await);
    assert_eq!(
        drained.redeliveries, 1,
        "failed and kept for another delivery"
    );
    let record = world.record("SM1001").await;
    assert_eq!((record.state, record.attempts), (State::Answering, 1));
    assert_eq!(record.last_error.as_deref(), Some("store_rejected"));
    assert!(
        record
            .leased_at(sms_inbox::epoch_ms(SystemTime::now()))
            .is_none(),
        "lease given back"
    );
    assert!(world.twilio.messages().is_empty());

    world.restore_table("users", &world.users_table).await;
    world.seed_user("u-1", PHONE, true).await;
    world.drain().await;
    assert_eq!(world.twilio.bodies_to(PHONE), [answer_to("are you there?")]);
    let record = world.record("SM1001").await;
    assert_eq!((record.state, record.attempts), (State::Sent, 2));
}

/// The same, for good: after MAX_ATTEMPTS the texter gets the apology
/// exactly once and the record ends in the on-failure queue.
#[tokio::test]
async fn a_poison_message_gets_the_apology_once_and_lands_in_the_on_failure_queue() {
    let world = World::start().await;
    world.text("SM1002", PHONE, "hello?").await;
    world.drop_table(&world.users_table).await;
    let drained = world.drain().await;
    assert_eq!(drained.dead_lettered, ["SM1002"]);
    assert_eq!(world.twilio.bodies_to(PHONE), [APOLOGY]);
    let record = world.record("SM1002").await;
    assert_eq!(record.state, State::Sent);
    assert_eq!(record.attempts, 3, "MAX_ATTEMPTS");
    assert_eq!(record.reply.unwrap().kind, ReplyKind::Apology);
    assert!(record.poisoned);
    // Delivered again (a replay from the queue): nothing more is sent.
    let dlq = world.esm.lock().await.dlq.clone();
    world.invoke(&dlq, Duration::from_secs(10)).await.unwrap();
    assert_eq!(world.twilio.messages().len(), 1);
}

/// "invocation killed while OpenAI is answering": the lease runs out, the
/// record is delivered again, and the message is answered once.
#[tokio::test]
async fn a_worker_killed_mid_answer_is_retried_after_its_lease_without_a_second_sms() {
    let world = World::start().await;
    world.seed_user("u-1", PHONE, true).await;
    world.openai.then([Ai::Answer(Duration::from_secs(30))]);
    world.text("SM1003", PHONE, "slow one").await;
    let records = world.take_inserts().await;
    kill_when(
        world.invoke(&records, Duration::from_secs(4)),
        world.openai.wait_for_calls(1),
    )
    .await;
    let record = world.record("SM1003").await;
    assert_eq!((record.state, record.attempts), (State::Answering, 1));
    assert!(
        record.lease.is_some(),
        "the killed attempt still holds its lease"
    );

    // Lambda delivers the record again; the new invocation waits out the lease.
    let failed = world
        .invoke(&records, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(failed.is_empty());
    assert_eq!(world.twilio.bodies_to(PHONE), [answer_to("slow one")]);
    assert_eq!(world.openai.calls().len(), 2);
    assert_eq!(
        world.history(PHONE).await,
        [
            ("user".to_owned(), "slow one".to_owned()),
            ("assistant".to_owned(), answer_to("slow one")),
        ],
        "the killed attempt's user turn is not stored twice"
    );
    assert_eq!(world.record("SM1003").await.attempts, 2);
}

/// "Twilio REST accepts after our timeout": the send's outcome is unknown,
/// Twilio's Messages list shows it went out, nothing is sent again (and
/// nothing goes inline as TwiML: the webhook answered long ago).
#[tokio::test]
async fn a_send_accepted_after_our_timeout_is_found_and_not_sent_again() {
    let world = World::start().await;
    world.seed_user("u-1", PHONE, true).await;
    world
        .twilio
        .then([Send::AcceptLate(Duration::from_secs(5))]);
    world.text("SM1004", PHONE, "q").await;
    world.drain().await;
    let sent = world.twilio.messages();
    assert_eq!(sent.len(), 1, "one SMS");
    assert_eq!(world.twilio.posts(), 1, "no second send");
    let lists = world.twilio.lists();
    assert!(!lists.is_empty(), "Twilio was asked");
    assert!(
        lists[0].contains("To=%2B15551234567") && lists[0].contains("From=%2B15550001111"),
        "{lists:?}"
    );
    let record = world.record("SM1004").await;
    assert_eq!(record.state, State::Sent);
    assert_eq!(record.reply.unwrap().sids, [sent[0].sid.clone()]);
}

#[tokio::test]
async fn a_worker_killed_after_twilio_took_the_message_does_not_send_it_again() {
    let world = World::start().await;
    world.seed_user("u-1", PHONE, true).await;
    world
        .twilio
        .then([Send::AcceptLate(Duration::from_secs(30))]);
    world.text("SM1005", PHONE, "q").await;
    let records = world.take_inserts().await;
    kill_when(
        world.invoke(&records, Duration::from_secs(4)),
        world.twilio.wait_for_posts(1),
    )
    .await;
    let record = world.record("SM1005").await;
    assert_eq!(record.state, State::Sending);
    assert!(
        record.reply.as_ref().unwrap().pending.is_some(),
        "an unconfirmed send"
    );

    world
        .invoke(&records, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        world.twilio.posts(),
        1,
        "found through the Messages list, not resent"
    );
    assert_eq!(world.twilio.bodies_to(PHONE), [answer_to("q")]);
    assert_eq!(world.record("SM1005").await.state, State::Sent);
}

#[tokio::test]
async fn a_send_that_never_reached_twilio_is_sent_once_after_checking() {
    let world = World::start().await;
    world.seed_user("u-1", PHONE, true).await;
    world
        .twilio
        .then([Send::HangThen500(Duration::from_secs(30))]);
    world.text("SM1006", PHONE, "q").await;
    let records = world.take_inserts().await;
    kill_when(
        world.invoke(&records, Duration::from_secs(4)),
        world.twilio.wait_for_posts(1),
    )
    .await;
    world
        .invoke(&records, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        world.twilio.posts(),
        2,
        "sent again once it was known not to exist"
    );
    assert_eq!(world.twilio.bodies_to(PHONE), [answer_to("q")], "one SMS");
}

#[tokio::test]
async fn a_500_after_twilio_created_the_message_is_not_a_reason_to_send_it_again() {
    let world = World::start().await;
    world.seed_user("u-1", PHONE, true).await;
    world.twilio.then([Send::AcceptThen500]);
    world.text("SM1007", PHONE, "q").await;
    world.drain().await;
    assert_eq!(world.twilio.posts(), 1);
    assert_eq!(world.twilio.messages().len(), 1);
}

// ------------------------------------------------------------ OpenAI

/// "OpenAI slow (20 s)": a slow answer is still an answer. Scaled down: a
/// fake that takes most of a short configured timeout stands for a real
/// answer taking 20 s of the default 30 s, both far beyond the old 8 s
/// inside Twilio's window.
#[tokio::test]
async fn a_slow_openai_answer_is_still_sent() {
    let world = World::start().await;
    world.seed_user("u-1", PHONE, true).await;
    world.openai.then([Ai::Answer(Duration::from_millis(1300))]);
    world.text("SM1008", PHONE, "think hard").await;
    world.drain().await;
    assert_eq!(world.twilio.bodies_to(PHONE), [answer_to("think hard")]);
    assert_eq!(world.openai.calls().len(), 1);
}

#[tokio::test]
async fn an_openai_slower_than_its_timeout_gets_the_apology_once_after_its_retries() {
    let world = World::with(
        Setup::default()
            .env("OPENAI_TIMEOUT_MS", "300")
            .env("OPENAI_MAX_ATTEMPTS", "2"),
    )
    .await;
    world.seed_user("u-1", PHONE, true).await;
    world
        .openai
        .marker("too slow", Ai::Answer(Duration::from_secs(2)), 10);
    world.text("SM1009", PHONE, "too slow").await;
    world.drain().await;
    assert_eq!(
        world.openai.calls().len(),
        2,
        "a timeout is retried, up to the attempts"
    );
    assert_eq!(world.twilio.bodies_to(PHONE), [APOLOGY]);
    assert_eq!(
        world.history(PHONE).await,
        [("user".to_owned(), "too slow".to_owned())],
        "the user turn survives"
    );
    let record = world.record("SM1009").await;
    assert_eq!((record.state, record.attempts), (State::Sent, 1));
    assert!(
        !record.poisoned,
        "an apology for OpenAI is an outcome, not a poison"
    );
    assert!(
        log_lines_with("SM1009")
            .iter()
            .any(|l| l["code"] == "openai_timeout"),
        "the reason is logged"
    );
}

#[tokio::test]
async fn a_429_storm_is_waited_out_with_backoff_and_answered() {
    let world = World::start().await;
    world.seed_user("u-1", PHONE, true).await;
    world.openai.then([
        Ai::Status(429, "rate_limit_exceeded", Some(30)),
        Ai::Status(429, "rate_limit_exceeded", Some(30)),
        Ai::Status(429, "rate_limit_exceeded", None),
    ]);
    world.text("SM1010", PHONE, "q").await;
    world.drain().await;
    assert_eq!(world.openai.calls().len(), 4);
    assert_eq!(world.twilio.bodies_to(PHONE), [answer_to("q")]);
}

#[tokio::test]
async fn a_429_or_500_storm_longer_than_the_attempts_gets_the_apology_once() {
    let world = World::start().await;
    world.seed_user("u-1", PHONE, true).await;
    world.seed_user("u-2", "+15557654321", true).await;
    world.openai.marker(
        "storm429",
        Ai::Status(429, "rate_limit_exceeded", Some(5)),
        100,
    );
    world
        .openai
        .marker("storm500", Ai::Status(500, "server_error", None), 100);
    world.text("SM1011", PHONE, "storm429").await;
    world.text("SM1012", "+15557654321", "storm500").await;
    world.drain().await;
    assert_eq!(world.openai.calls().len(), 8, "four attempts each");
    assert_eq!(world.twilio.bodies_to(PHONE), [APOLOGY]);
    assert_eq!(world.twilio.bodies_to("+15557654321"), [APOLOGY]);
}

#[tokio::test]
async fn insufficient_quota_and_other_4xx_are_not_retried() {
    let world = World::start().await;
    world.seed_user("u-1", PHONE, true).await;
    world
        .openai
        .marker("quota", Ai::Status(429, "insufficient_quota", None), 100);
    world.openai.marker(
        "context",
        Ai::Status(400, "context_length_exceeded", None),
        100,
    );
    world.text("SM1013", PHONE, "quota").await;
    world.text("SM1014", PHONE, "context").await;
    world.drain().await;
    assert_eq!(world.openai.calls().len(), 2);
    assert_eq!(world.twilio.bodies_to(PHONE), [APOLOGY, APOLOGY]);
}

// ------------------------------------------------------------ Twilio REST

/// "Twilio REST down": every request answered 503. The send's outcome is
/// unknown, the list cannot tell, so nothing is sent blindly; once Twilio
/// is back the reply goes out once.
#[tokio::test]
async fn twilio_down_delays_the_reply_and_never_doubles_it() {
    let world = World::start().await;
    world.seed_user("u-1", PHONE, true).await;
    world.twilio.set_down(true);
    world.text("SM1015", PHONE, "q").await;
    let mut drained = Drained::default();
    world.step(&mut drained).await;
    let record = world.record("SM1015").await;
    assert_eq!(record.state, State::Sending);
    assert_eq!(
        record.last_error.as_deref(),
        Some("twilio_error"),
        "the list could not tell"
    );
    assert_eq!(world.twilio.posts(), 1);
    world.twilio.set_down(false);
    world.drain().await;
    assert_eq!(world.twilio.bodies_to(PHONE), [answer_to("q")]);
    assert_eq!(world.openai.calls().len(), 1, "the answer was chosen once");
    assert_eq!(world.record("SM1015").await.state, State::Sent);
}

/// Twilio unreachable for good: nothing can reach the texter, so the
/// message ends failed and in the on-failure queue (and nothing is sent
/// twice when it comes back).
#[tokio::test]
async fn twilio_unreachable_for_good_ends_failed_in_the_on_failure_queue() {
    let world = World::with(Setup {
        twilio_url: Some(closed_endpoint()),
        ..Setup::default()
    })
    .await;
    world.seed_user("u-1", PHONE, true).await;
    world.text("SM1016", PHONE, "q").await;
    let drained = world.drain().await;
    assert_eq!(drained.dead_lettered, ["SM1016"]);
    let record = world.record("SM1016").await;
    assert_eq!(record.state, State::Failed);
    assert!(record.poisoned);
    assert_eq!(record.outcome.as_deref(), Some("twilio_unreachable"));
    assert_eq!(
        record.reply.unwrap().kind,
        ReplyKind::Answer,
        "the answer stays the reply"
    );
    assert_eq!(world.openai.calls().len(), 1);
}

#[tokio::test]
async fn a_recipient_twilio_refuses_ends_failed_without_retries() {
    let world = World::start().await;
    world.seed_user("u-1", PHONE, true).await;
    world.twilio.then([Send::Refuse(400, 21610)]);
    world.text("SM1017", PHONE, "q").await;
    let drained = world.drain().await;
    assert_eq!((drained.invocations, drained.dead_lettered.len()), (1, 0));
    assert_eq!(world.twilio.posts(), 1);
    let record = world.record("SM1017").await;
    assert_eq!(
        (record.state, record.outcome.as_deref(), record.poisoned),
        (State::Failed, Some("twilio_refused"), false)
    );
}

// ------------------------------------------------------------ duplicates

/// "the same MessageSid concurrently": many webhook deliveries, one record,
/// one stream record; the same record delivered to two invocations at
/// once: one SMS.
#[tokio::test]
async fn the_same_message_sid_delivered_concurrently_is_answered_once() {
    let world = Arc::new(World::start().await);
    world.seed_user("u-1", PHONE, true).await;
    world.openai.then([Ai::Answer(Duration::from_millis(300))]);
    let mut posts = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let world = world.clone();
        posts.spawn(async move {
            world
                .post(&sms::testing::Webhook::sms("SM1018", PHONE, "twins"))
                .await
        });
    }
    while let Some(resp) = posts.join_next().await {
        resp.unwrap().assert_empty_twiml();
    }
    let records = world.take_inserts().await;
    assert_eq!(records.len(), 1, "recorded once, streamed once");
    let (a, b) = tokio::join!(
        world.invoke(&records, Duration::from_secs(10)),
        world.invoke(&records, Duration::from_secs(10))
    );
    // One invocation answered; the other found the lease taken (its
    // record is delivered again) or the message done.
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.len() + b.len() <= 1, "{a:?} {b:?}");
    let again = world
        .invoke(&records, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(again.is_empty());
    assert_eq!(world.twilio.bodies_to(PHONE), [answer_to("twins")]);
    assert_eq!(world.openai.calls().len(), 1);
}

/// "...and again an hour later": the record is still there, so the
/// redelivery is a duplicate; nothing is streamed, nothing sent.
#[tokio::test]
async fn the_same_message_sid_an_hour_later_is_a_duplicate() {
    let world = World::start().await;
    world.seed_user("u-1", PHONE, true).await;
    world.text("SM1019", PHONE, "once").await;
    world.drain().await;
    let hour_ago = sms_inbox::epoch_ms(SystemTime::now() - Duration::from_secs(3600));
    world
        .dynamodb
        .update_item()
        .table_name(&world.inbound_table)
        .key("message_sid", AttributeValue::S("SM1019".into()))
        .update_expression("SET received_at = :t, updated_at = :t")
        .expression_attribute_values(":t", AttributeValue::N(hour_ago.to_string()))
        .send()
        .await
        .unwrap();
    world.text("SM1019", PHONE, "once").await;
    world.drain().await;
    assert!(world.take_inserts().await.is_empty());
    assert_eq!(world.twilio.bodies_to(PHONE), [answer_to("once")]);
    assert_eq!(world.openai.calls().len(), 1);
}

/// A worker missing its credentials can send nothing, not even the
/// apology: the message ends failed in the on-failure queue.
#[tokio::test]
async fn a_worker_without_credentials_fails_the_message_into_the_queue() {
    let world = World::start().await;
    world.text("SM1020", PHONE, "q").await;
    world
        .secrets
        .put_secret_value()
        .secret_id(&world.secret_id)
        .secret_string(secret_json(&json!({"twilio_account_sid": null})))
        .send()
        .await
        .unwrap();
    // The worker's cache is cold: it reads the broken secret.
    let drained = world.drain().await;
    assert_eq!(drained.dead_lettered, ["SM1020"]);
    let record = world.record("SM1020").await;
    assert_eq!(
        (record.state, record.outcome.as_deref()),
        (State::Failed, Some("secret_unavailable"))
    );
    assert!(world.twilio.messages().is_empty());
}
