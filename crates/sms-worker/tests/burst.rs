//! A burst: a few hundred messages from many senders, delivered by
//! "Twilio" with duplicates (some at the same moment), OpenAI and Twilio
//! faults injected, and a second stream reader delivering every record to
//! the worker again concurrently (as a mistaken second poller would).
//! Every message must be stored exactly once and answered at most once;
//! the figures are printed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use sms_inbox::{ReplyKind, State};

const MESSAGES: usize = 300;
const SENDERS: usize = 60;
const UNKNOWN_SENDERS: usize = 10;

fn phone(i: usize) -> String {
    format!("+1555200{i:04}")
}

/// The text of message `i`, with the fault markers it carries.
fn text(i: usize) -> String {
    let mut text = format!("question {i}");
    for (every, marker) in [
        (10, " #o500"),
        (20, " #o429"),
        (33, " #oslow"),
        (50, " #odown"),
        (17, " #tlate"),
        (29, " #t500c"),
        (23, " #tbusy"),
        (31, " #t503"),
    ] {
        if i % every == 3 {
            text.push_str(marker);
        }
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_with_duplicates_and_faults_stores_each_message_once_and_answers_it_at_most_once() {
    let world = Arc::new(
        World::with(Setup {
            invocation: Duration::from_secs(20),
            batch_size: 25,
            ..Setup::default()
                .env("WORKER_CONCURRENCY", "8")
                // Roomy: a loaded machine must not turn answers into timeouts
                // (moto serves one request at a time), nor run out of attempts.
                .env("OPENAI_TIMEOUT_MS", "5000")
                .env("MAX_ATTEMPTS", "8")
        })
        .await,
    );
    for s in 0..SENDERS - UNKNOWN_SENDERS {
        world.seed_user(&format!("u-{s}"), &phone(s), true).await;
    }
    // OpenAI: 500s and 429s that the retries absorb, slow answers, and an
    // outage longer than the attempts (those get the apology).
    world
        .openai
        .marker("#o500", Ai::Status(500, "server_error", None), 2);
    world
        .openai
        .marker("#o429", Ai::Status(429, "rate_limit_exceeded", Some(20)), 3);
    world
        .openai
        .marker("#oslow", Ai::Answer(Duration::from_millis(400)), 1);
    world
        .openai
        .marker("#odown", Ai::Status(503, "unavailable", None), 100);
    // Twilio: accepted after our timeout, created then 500, 429 (not
    // created) and 503 (not created, but that takes a look to know).
    world
        .twilio
        .marker("#tlate", Send::AcceptLate(Duration::from_millis(1500)), 1);
    world.twilio.marker("#t500c", Send::AcceptThen500, 1);
    world.twilio.marker("#tbusy", Send::Refuse(429, 20429), 1);
    // Three 503s in a row: more than one attempt's sends, so the record is
    // delivered again.
    world.twilio.marker("#t503", Send::Refuse(503, 20503), 3);

    // Twilio delivers: each message once, some twice or three times, the
    // copies of a message at the same moment.
    let started = Instant::now();
    let deliveries = Arc::new(AtomicUsize::new(0));
    let mut posts = tokio::task::JoinSet::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(16));
    for i in 0..MESSAGES {
        let copies = 1 + usize::from(i % 3 == 0) + usize::from(i % 7 == 0);
        for _ in 0..copies {
            let (world, deliveries, limit) = (world.clone(), deliveries.clone(), limit.clone());
            posts.spawn(async move {
                let _permit = limit.acquire().await.unwrap();
                let hook = sms::testing::Webhook::sms(
                    &format!("SMb{i:05}"),
                    &phone(i % SENDERS),
                    &text(i),
                );
                deliveries.fetch_add(1, Ordering::Relaxed);
                world.post(&hook).await
            });
        }
    }
    while let Some(resp) = posts.join_next().await {
        resp.unwrap().assert_empty_twiml();
    }
    let acknowledged = started.elapsed();

    // The event source mapping drains the stream while a second reader
    // delivers every record once more, concurrently.
    let done = Arc::new(AtomicBool::new(false));
    let rogue = {
        let (world, done) = (world.clone(), done.clone());
        tokio::spawn(async move {
            let mut reader = moto_harness::StreamReader::open(
                &world.moto,
                &world.dynamodb,
                &world.inbound_table,
            )
            .await
            .unwrap();
            let mut delivered = 0;
            while !done.load(Ordering::Relaxed) {
                let inserts: Vec<_> = reader
                    .poll(1000)
                    .await
                    .unwrap()
                    .into_iter()
                    .filter(|r| r["eventName"] == "INSERT")
                    .collect();
                for batch in inserts.chunks(10) {
                    delivered += batch.len();
                    let _ = world.invoke(batch, Duration::from_secs(6)).await;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            delivered
        })
    };
    let drained = world.drain().await;
    let time_to_last = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let rogue_deliveries = rogue.await.unwrap();

    // Stored exactly once.
    let records = world.records().await;
    let sids: HashSet<&str> = records
        .iter()
        .map(|r| r.message.message_sid.as_str())
        .collect();
    assert_eq!(records.len(), MESSAGES, "one record per message");
    assert_eq!(sids.len(), MESSAGES);
    for r in &records {
        let i: usize = r.message.message_sid[3..].parse().unwrap();
        assert_eq!(r.message.body, text(i), "the first delivery's text");
        assert!(
            r.state.is_terminal(),
            "{} is {:?}",
            r.message.message_sid,
            r.state
        );
    }

    // Answered at most once: every SMS belongs to exactly one message, and
    // each message's reply went out once, whole.
    let sent = world.twilio.messages();
    let mut owner: HashMap<&str, &str> = HashMap::new();
    for r in &records {
        for sid in r.reply.iter().flat_map(|reply| reply.sids.iter()) {
            assert!(
                owner.insert(sid.as_str(), &r.message.message_sid).is_none(),
                "{sid} counted twice"
            );
        }
    }
    for m in &sent {
        assert!(
            owner.contains_key(m.sid.as_str()),
            "an SMS no message accounts for: {m:?}"
        );
    }
    assert_eq!(owner.len(), sent.len());
    let mut per_recipient_body: HashMap<(&str, &str), usize> = HashMap::new();
    for m in &sent {
        *per_recipient_body.entry((&m.to, &m.body)).or_default() += 1;
    }
    let mut answers = 0;
    let mut apologies = 0;
    let mut out_of_time = 0;
    let mut others = 0;
    for r in &records {
        let i: usize = r.message.message_sid[3..].parse().unwrap();
        let reply = r.reply.as_ref().expect("every message here gets a reply");
        assert_eq!(r.state, State::Sent, "{}", r.message.message_sid);
        assert_eq!(reply.sids.len(), reply.parts.len());
        match reply.kind {
            ReplyKind::Answer => {
                answers += 1;
                assert_eq!(reply.text, answer_to(&text(i)));
                assert_eq!(
                    per_recipient_body[&(r.message.from.as_str(), reply.text.as_str())],
                    1,
                    "answer {i} sent once"
                );
            }
            ReplyKind::Apology if text(i).contains("#odown") => apologies += 1,
            ReplyKind::Apology => {
                // Only when every attempt ran out of invocation time (a
                // machine too loaded for moto): the texter still gets
                // exactly one reply.
                assert!(
                    r.poisoned && r.last_error.as_deref() == Some("time_budget_exceeded"),
                    "apology for {i}: {:?}",
                    r.last_error
                );
                out_of_time += 1;
            }
            ReplyKind::UnknownSender => {
                others += 1;
                assert!(i % SENDERS >= SENDERS - UNKNOWN_SENDERS);
            }
            other => panic!("unexpected reply {other:?}"),
        }
    }
    let total_deliveries = deliveries.load(Ordering::Relaxed);
    let claims: u32 = records.iter().map(|r| r.attempts).sum();
    println!(
        "burst: {MESSAGES} messages from {SENDERS} senders; {total_deliveries} webhook deliveries \
         ({} duplicates suppressed), all acknowledged in {:.2} s; {} records stored",
        total_deliveries - MESSAGES,
        acknowledged.as_secs_f64(),
        records.len(),
    );
    println!(
        "burst: {} SMS sent: {answers} answers, {apologies} apologies (OpenAI down), \
         {out_of_time} apologies (attempts out of time on this machine), {others} \
         unknown-sender replies; 0 messages answered twice",
        sent.len()
    );
    println!(
        "burst: worker: {} invocations, {claims} attempts claimed ({} beyond the first), {} \
         records delivered again after a failure, {} dead-lettered, {rogue_deliveries} \
         duplicate deliveries by a second reader; Twilio: {} send requests, {} list requests \
         (reconciliations); OpenAI: {} requests",
        drained.invocations,
        claims as usize - MESSAGES,
        drained.redeliveries,
        drained.dead_lettered.len(),
        world.twilio.posts(),
        world.twilio.lists().len(),
        world.openai.calls().len(),
    );
    println!(
        "burst: time to last answer {:.2} s (moto serves one request at a time)",
        time_to_last.as_secs_f64()
    );
    assert!(apologies > 0 && answers > apologies && others > 0);
}
