//! The state machine's writes against moto: each transition happens once,
//! and only for the attempt holding a live lease.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use moto_harness::SharedMoto;
use sms_inbox::{InboundMessage, Inbox, InboxError, Recorded, ReplyKind, State};

const SCHEMA: &str = include_str!("../../../terraform/schema/dynamodb.json");
const NOW: u64 = 1_795_000_000_000;

async fn inbox() -> (Inbox, SharedMoto) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let moto = SharedMoto::acquire().unwrap();
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    let table = format!(
        "inbound-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    moto_harness::create_table_from_schema(&client, SCHEMA, "idempotency", &table)
        .await
        .unwrap();
    (Inbox::new(client, table), moto)
}

fn message(sid: &str) -> InboundMessage {
    InboundMessage {
        message_sid: sid.to_owned(),
        from: "+15551234567".to_owned(),
        to: "+15550001111".to_owned(),
        body: "hello".to_owned(),
        opt_out_type: Some("HELP".to_owned()),
        received_at_ms: NOW,
    }
}

#[tokio::test]
async fn a_message_is_recorded_once_with_its_fields_and_ttl() {
    let (inbox, _moto) = inbox().await;
    let ttl = Duration::from_secs(7 * 86_400);
    assert_eq!(
        inbox.record(&message("SM1"), ttl).await.unwrap(),
        Recorded::New
    );
    let mut again = message("SM1");
    again.body = "a different body under the same sid".into();
    assert_eq!(
        inbox.record(&again, ttl).await.unwrap(),
        Recorded::Duplicate
    );
    let record = inbox.get("SM1").await.unwrap().unwrap();
    assert_eq!(record.message, message("SM1"), "the first write wins");
    assert_eq!(record.state, State::Received);
    assert_eq!(record.attempts, 0);
    assert!(record.lease.is_none() && record.reply.is_none() && !record.poisoned);
    assert!(inbox.get("SM-none").await.unwrap().is_none());
}

#[tokio::test]
async fn a_bare_claim_from_an_older_webhook_is_not_a_message() {
    let (inbox, moto) = inbox().await;
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    client
        .put_item()
        .table_name(inbox.table())
        .item(
            "message_sid",
            aws_sdk_dynamodb::types::AttributeValue::S("SMold".into()),
        )
        .item(
            "expires_at",
            aws_sdk_dynamodb::types::AttributeValue::N("4102444800".into()),
        )
        .send()
        .await
        .unwrap();
    assert!(inbox.get("SMold").await.unwrap().is_none());
}

#[tokio::test]
async fn a_claim_takes_a_lease_counts_the_attempt_and_excludes_others() {
    let (inbox, _moto) = inbox().await;
    inbox
        .record(&message("SM2"), Duration::from_secs(86_400))
        .await
        .unwrap();
    let seen = inbox.get("SM2").await.unwrap().unwrap();
    let claimed = inbox
        .claim(&seen, "req-a", NOW + 60_000, NOW)
        .await
        .unwrap();
    assert_eq!(claimed.state, State::Answering);
    assert_eq!(claimed.attempts, 1);
    assert_eq!(claimed.lease.as_ref().unwrap().owner, "req-a");
    // A second attempt that read the same record loses...
    assert!(matches!(
        inbox.claim(&seen, "req-b", NOW + 60_000, NOW).await,
        Err(InboxError::Conflict(_))
    ));
    // ...and so does one that read the claimed record while the lease lives.
    assert!(matches!(
        inbox
            .claim(&claimed, "req-b", NOW + 120_000, NOW + 59_999)
            .await,
        Err(InboxError::Conflict(_))
    ));
    // Once it ran out, the next attempt takes over.
    let retaken = inbox
        .claim(&claimed, "req-b", NOW + 120_000, NOW + 60_000)
        .await
        .unwrap();
    assert_eq!(retaken.attempts, 2);
    assert_eq!(retaken.lease.unwrap().owner, "req-b");
    // The old holder can no longer write.
    assert!(matches!(
        inbox
            .choose_reply(
                "SM2",
                "req-a",
                ReplyKind::Help,
                "help",
                &["help".into()],
                NOW
            )
            .await,
        Err(InboxError::Conflict(_))
    ));
}

#[tokio::test]
async fn a_reply_is_chosen_once_and_its_parts_are_counted_in_order() {
    let (inbox, _moto) = inbox().await;
    inbox
        .record(&message("SM3"), Duration::from_secs(86_400))
        .await
        .unwrap();
    let seen = inbox.get("SM3").await.unwrap().unwrap();
    inbox
        .claim(&seen, "req-a", NOW + 60_000, NOW)
        .await
        .unwrap();
    let parts = vec!["(1/2) one".to_owned(), "(2/2) two".to_owned()];
    inbox
        .choose_reply("SM3", "req-a", ReplyKind::Answer, "one two", &parts, NOW)
        .await
        .unwrap();
    assert!(
        matches!(
            inbox
                .choose_reply(
                    "SM3",
                    "req-a",
                    ReplyKind::Apology,
                    "sorry",
                    &["sorry".into()],
                    NOW
                )
                .await,
            Err(InboxError::Conflict(_))
        ),
        "a reply is never replaced"
    );
    // A send must leave the lease alive for as long as it may take.
    assert!(matches!(
        inbox
            .mark_pending("SM3", "req-a", 0, NOW, NOW + 60_001)
            .await,
        Err(InboxError::Conflict(_))
    ));
    assert!(
        matches!(
            inbox.mark_pending("SM3", "req-a", 1, NOW, NOW + 1000).await,
            Err(InboxError::Conflict(_))
        ),
        "parts go in order"
    );
    inbox
        .mark_pending("SM3", "req-a", 0, NOW + 5, NOW + 1000)
        .await
        .unwrap();
    let pending = inbox.get("SM3").await.unwrap().unwrap().reply.unwrap();
    assert_eq!(pending.pending.unwrap().part, 0);
    assert_eq!(pending.pending.unwrap().since_ms, NOW + 5);
    inbox
        .part_sent("SM3", "req-a", 0, "SMr1", NOW)
        .await
        .unwrap();
    assert!(
        matches!(
            inbox.part_sent("SM3", "req-a", 0, "SMr1", NOW).await,
            Err(InboxError::Conflict(_))
        ),
        "a part is counted once"
    );
    inbox
        .mark_pending("SM3", "req-a", 1, NOW, NOW + 1000)
        .await
        .unwrap();
    inbox.part_not_sent("SM3", "req-a", 1, NOW).await.unwrap();
    inbox
        .mark_pending("SM3", "req-a", 1, NOW, NOW + 1000)
        .await
        .unwrap();
    inbox
        .part_sent("SM3", "req-a", 1, "SMr2", NOW)
        .await
        .unwrap();
    inbox
        .finish("SM3", "req-a", State::Sent, "answer", false, NOW)
        .await
        .unwrap();
    let record = inbox.get("SM3").await.unwrap().unwrap();
    assert_eq!(record.state, State::Sent);
    assert_eq!(record.outcome.as_deref(), Some("answer"));
    assert!(record.lease.is_none());
    let reply = record.reply.unwrap();
    assert_eq!((reply.kind, reply.sent), (ReplyKind::Answer, 2));
    assert_eq!(reply.parts, parts);
    assert_eq!(reply.text, "one two");
    assert_eq!(reply.sids, ["SMr1", "SMr2"]);
    assert_eq!(reply.pending, None);
    assert!(
        matches!(
            inbox
                .claim(
                    &inbox.get("SM3").await.unwrap().unwrap(),
                    "req-b",
                    NOW + 1,
                    NOW
                )
                .await,
            Err(InboxError::Corrupt { .. })
        ),
        "a finished message cannot be claimed"
    );
}

#[tokio::test]
async fn a_released_lease_can_be_claimed_at_once_and_keeps_the_state() {
    let (inbox, _moto) = inbox().await;
    inbox
        .record(&message("SM4"), Duration::from_secs(86_400))
        .await
        .unwrap();
    let seen = inbox.get("SM4").await.unwrap().unwrap();
    inbox
        .claim(&seen, "req-a", NOW + 60_000, NOW)
        .await
        .unwrap();
    inbox
        .choose_reply(
            "SM4",
            "req-a",
            ReplyKind::Help,
            "help",
            &["help".into()],
            NOW,
        )
        .await
        .unwrap();
    inbox
        .release("SM4", "req-a", "twilio_unreachable", NOW + 10)
        .await
        .unwrap();
    let record = inbox.get("SM4").await.unwrap().unwrap();
    assert_eq!(record.state, State::Sending);
    assert_eq!(record.last_error.as_deref(), Some("twilio_unreachable"));
    assert!(record.leased_at(NOW + 10).is_none());
    let claimed = inbox
        .claim(&record, "req-b", NOW + 60_000, NOW + 10)
        .await
        .unwrap();
    assert_eq!((claimed.state, claimed.attempts), (State::Sending, 2));
}

#[tokio::test]
async fn a_missing_table_is_a_permanent_store_error() {
    let (inbox, moto) = inbox().await;
    let missing = Inbox::new(
        aws_sdk_dynamodb::Client::new(&moto.sdk_config().await),
        "no-such-table".to_owned(),
    );
    let err = missing
        .record(&message("SM5"), Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(err.is_permanent(), "{err}");
    assert!(err.to_string().contains("no-such-table"), "{err}");
    drop(inbox);
}
