//! The webhook end to end against moto: what is recorded, what Twilio is
//! answered, and that a validly signed request never gets a 5xx.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use common::*;
use serde_json::json;

#[tokio::test]
async fn a_signed_message_is_recorded_once_and_acknowledged_with_empty_twiml() {
    let sms = Sms::start().await;
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    sms.call(webhook("SM0001", PHONE, "What is 2+2?").event())
        .await
        .assert_empty_twiml();
    let record = sms.record("SM0001").await.expect("recorded");
    assert_eq!(s(&record, "from"), PHONE);
    assert_eq!(s(&record, "to"), OUR_NUMBER);
    assert_eq!(s(&record, "body"), "What is 2+2?");
    assert_eq!(s(&record, "state"), "received");
    assert_eq!(n(&record, "attempts"), 0);
    let received = n(&record, "received_at");
    assert!(received >= u64::try_from(before.as_millis()).unwrap());
    let ttl = n(&record, "expires_at") - received / 1000;
    assert!((7 * 86_400 - 5..=7 * 86_400 + 5).contains(&ttl), "{ttl}");
    assert!(!record.contains_key("opt_out_type"));
}

#[tokio::test]
async fn a_base64_form_from_the_http_api_is_recorded_with_its_unicode_intact() {
    let sms = Sms::start().await;
    let resp = sms
        .call(
            webhook("SM0002", PHONE, "Grüße & ünïcödé + plus")
                .param("OptOutType", "HELP")
                .http_api()
                .event(),
        )
        .await;
    resp.assert_empty_twiml();
    assert!(resp.raw.get("cookies").is_some(), "an HTTP API response");
    let record = sms.record("SM0002").await.unwrap();
    assert_eq!(s(&record, "body"), "Grüße & ünïcödé + plus");
    assert_eq!(s(&record, "opt_out_type"), "HELP");
}

#[tokio::test]
async fn bad_or_missing_signatures_are_403_and_nothing_is_recorded() {
    let sms = Sms::start().await;
    let message = webhook("SM0003", PHONE, "hello");
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
    assert_eq!(sms.recorded().await, 0);
}

#[tokio::test]
async fn the_signature_is_accepted_with_an_explicit_default_port() {
    let sms = Sms::start().await;
    let message = webhook("SM0004", "+15559990000", "hello");
    let signature = sms::signature::compute(
        AUTH_TOKEN,
        "https://api.example.com:443/prod/sms/inbound",
        &message.params,
    );
    sms.call(message.signed_with(&signature).event())
        .await
        .assert_empty_twiml();
    assert!(sms.record("SM0004").await.is_some());
}

/// Fault table: "two identical (name, value) pairs in the form".
#[tokio::test]
async fn a_genuine_request_with_a_repeated_pair_is_accepted_as_twilios_libraries_sign_it() {
    let sms = Sms::start().await;
    let mut message = webhook("SM0042", PHONE, "photo twice");
    message
        .params
        .iter_mut()
        .find(|(k, _)| k == "NumMedia")
        .unwrap()
        .1 = "1".into();
    let message = message
        .param("MediaUrl0", "https://api.twilio.com/media/ME1")
        .param("MediaUrl0", "https://api.twilio.com/media/ME1");
    // Computed independently with Python from Twilio's documented algorithm
    // (twilio-python's sorted(set(...)) over each name's values).
    let signature = "na+DpVZ0lYtg2gzMdlaNHrl5pAM=";
    sms.call(message.signed_with(signature).event())
        .await
        .assert_empty_twiml();
    assert_eq!(
        s(&sms.record("SM0042").await.unwrap(), "body"),
        "photo twice"
    );
}

#[tokio::test]
async fn twilios_retries_and_duplicates_are_absorbed_by_the_conditional_write() {
    let sms = Sms::start().await;
    let event = webhook("SM0005", PHONE, "first body").event();
    sms.call(event.clone()).await.assert_empty_twiml();
    sms.call(event).await.assert_empty_twiml();
    sms.call(
        webhook("SM0005", PHONE, "a retry with another body")
            .http_api()
            .event(),
    )
    .await
    .assert_empty_twiml();
    assert_eq!(sms.recorded().await, 1);
    assert_eq!(
        s(&sms.record("SM0005").await.unwrap(), "body"),
        "first body"
    );
}

#[tokio::test]
async fn the_same_message_sid_delivered_concurrently_is_recorded_once() {
    let sms = std::sync::Arc::new(Sms::start().await);
    let event = webhook("SM0006", PHONE, "at once").event();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (sms, event) = (sms.clone(), event.clone());
        calls.spawn(async move { sms.call(event).await });
    }
    while let Some(resp) = calls.join_next().await {
        resp.unwrap().assert_empty_twiml();
    }
    assert_eq!(sms.recorded().await, 1);
    let recorded = log_lines_with("SM0006")
        .iter()
        .filter(|l| l["outcome"] == "recorded")
        .count();
    assert_eq!(
        recorded, 1,
        "one call recorded it, the others saw a duplicate"
    );
}

/// Fault table: "a signed 1 MB Body".
#[tokio::test]
async fn an_oversize_body_is_refused_with_413_before_any_aws_call() {
    // Every AWS call would hang: an answer at once proves none was made.
    let sms = Sms::with(Setup {
        hung_dynamodb: true,
        hung_secrets: true,
        ..Setup::default()
    })
    .await;
    let huge = "x".repeat(1024 * 1024);
    let started = Instant::now();
    let resp = sms.call(webhook("SM0007", PHONE, &huge).event()).await;
    assert_eq!(resp.status, 413, "{resp:?}");
    assert_eq!(resp.error_code(), "payload_too_large");
    let over = "y".repeat(1601);
    let resp = sms.call(webhook("SM0008", PHONE, &over).event()).await;
    assert_eq!(resp.status, 413, "{resp:?}");
    assert_eq!(resp.error_code(), "field_too_long");
    assert!(
        resp.body.contains("Body has 1601 characters"),
        "{}",
        resp.body
    );
    let mut many = webhook("SM0009", PHONE, "hi");
    for i in 0..250 {
        many = many.param(&format!("X{i}"), "1");
    }
    let resp = sms.call(many.event()).await;
    assert_eq!(
        (resp.status, resp.error_code().as_str()),
        (413, "too_many_parameters")
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "no call to the hung services was made"
    );
}

#[tokio::test]
async fn twilios_longest_body_is_accepted_and_counted_in_characters() {
    let sms = Sms::start().await;
    let longest = "é".repeat(1600);
    sms.call(webhook("SM0010", PHONE, &longest).event())
        .await
        .assert_empty_twiml();
    assert_eq!(s(&sms.record("SM0010").await.unwrap(), "body"), longest);
}

#[tokio::test]
async fn missing_or_malformed_fields_are_400_after_a_valid_signature() {
    let sms = Sms::start().await;
    for field in ["From", "To", "Body", "MessageSid"] {
        let resp = sms
            .call(webhook("SM0011", PHONE, "hi").without(field).event())
            .await;
        assert_eq!(resp.status, 400, "{field}: {resp:?}");
        assert_eq!(resp.error_code(), "missing_field");
        assert!(resp.body.contains(field));
    }
    let mut odd = webhook("SM0011", PHONE, "hi");
    for (key, value) in &mut odd.params {
        if key == "MessageSid" {
            *value = "SM 11/x".into();
        }
    }
    let resp = sms.call(odd.event()).await;
    assert_eq!(
        (resp.status, resp.error_code().as_str()),
        (400, "invalid_field")
    );
    assert_eq!(sms.recorded().await, 0);
}

#[tokio::test]
async fn a_body_that_is_not_a_form_is_refused_like_an_unsigned_one() {
    let sms = Sms::start().await;
    let mut event = webhook("SM0012", PHONE, "hi").http_api().event();
    event["body"] =
        json!(base64::engine::general_purpose::STANDARD.encode([0xff, 0xfe, b'=', 0x80]));
    let resp = sms.call(event).await;
    assert_eq!(resp.status, 403, "{resp:?}");
    assert_eq!(sms.recorded().await, 0);
}

#[tokio::test]
async fn other_methods_are_405() {
    let sms = Sms::start().await;
    let mut hook = webhook("SM0013", PHONE, "hi");
    hook.method = "GET".into();
    assert_eq!(sms.call(hook.event()).await.status, 405);
}

/// Fault table: "idempotency table unreadable" and "permanent AWS errors
/// are not retry later".
#[tokio::test]
async fn when_the_table_refuses_the_write_twilio_gets_200_with_the_apology() {
    let sms = Sms::with(Setup {
        without_inbound_table: true,
        ..Setup::default()
    })
    .await;
    let resp = sms
        .call(webhook("SM0014", PHONE, "anyone there?").event())
        .await;
    resp.assert_twiml_message(APOLOGY);
    let lines = log_lines_with("SM0014");
    let error = lines
        .iter()
        .find(|l| l["level"] == "ERROR")
        .expect("the MessageSid is logged at ERROR");
    assert_eq!(
        error["code"], "store_rejected",
        "a permanent error: {error}"
    );
    assert_eq!(error["signature_checked"], true);
    assert!(!logs().contents().contains("retry later"));
}

/// Fault table: "DynamoDB down at receive time".
#[tokio::test]
async fn a_hung_dynamodb_gets_the_apology_within_the_time_budget() {
    let sms = Sms::with(Setup {
        hung_dynamodb: true,
        env: vec![("TIME_BUDGET_MS", "700".to_owned())],
        ..Setup::default()
    })
    .await;
    let resp = tokio::time::timeout(
        Duration::from_secs(10),
        sms.call(webhook("SM0015", PHONE, "q").event()),
    )
    .await
    .expect("the webhook answered");
    resp.assert_twiml_message(APOLOGY);
    let error = log_lines_with("SM0015")
        .into_iter()
        .find(|l| l["level"] == "ERROR")
        .expect("logged at ERROR");
    assert_eq!(error["code"], "time_budget_exceeded", "{error}");
}

/// Fault table: "secret unreadable".
#[tokio::test]
async fn an_unreadable_secret_gets_the_apology_and_records_nothing() {
    for (sid, setup) in [
        ("SM0016", Setup::default().secret(None)),
        (
            "SM0017",
            Setup::default().secret(Some(secret_json(json!({"twilio_auth_token": null})))),
        ),
    ] {
        let sms = Sms::with(setup).await;
        let resp = sms.call(webhook(sid, PHONE, "q").event()).await;
        resp.assert_twiml_message(APOLOGY);
        assert_eq!(sms.recorded().await, 0, "unverified: nothing is stored");
        let error = log_lines_with(sid)
            .into_iter()
            .find(|l| l["level"] == "ERROR")
            .expect("logged at ERROR");
        assert_eq!(error["code"], "secret_unavailable");
        assert_eq!(error["signature_checked"], false);
    }
}

#[tokio::test]
async fn a_rotated_auth_token_is_picked_up_after_the_cache_ttl() {
    let sms = Sms::with(Setup::default().env("SECRET_TTL_SECONDS", "0")).await;
    sms.call(webhook("SM0018", "+15550009999", "hi").event())
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
        .call(webhook("SM0019", "+15550009999", "hi").event())
        .await;
    assert_eq!(old.status, 403, "the old token no longer signs");
    let mut hook = webhook("SM0020", "+15550009999", "hi");
    hook.auth_token = "rotated-token".into();
    sms.call(hook.event()).await.assert_empty_twiml();
}

#[tokio::test]
async fn logs_hold_no_token_signature_or_message_text() {
    let sms = Sms::start().await;
    let hook = webhook("SM0021", PHONE, "Private question text 4c7e");
    let signature = hook.valid_signature();
    sms.call(hook.event()).await.assert_empty_twiml();
    sms.call(
        webhook("SM0022", PHONE, "Tampered text 77aa")
            .signed_with("bm90LXZhbGlk")
            .event(),
    )
    .await;
    let out = logs().contents();
    assert!(out.contains("SM0021"), "the message is logged by id: {out}");
    for secret in [
        AUTH_TOKEN,
        OPENAI_KEY,
        signature.as_str(),
        "bm90LXZhbGlk",
        "Private question text",
        "Tampered text",
    ] {
        assert!(!out.contains(secret), "{secret} leaked into the logs");
    }
}
