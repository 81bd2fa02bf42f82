//! Issue 15 in the users function: a phone is claimed only once proven (a
//! code texted through Twilio, or an administrator's explicit vouch);
//! cookie-authenticated writes pass the CSRF checks, bearer-authenticated
//! ones need not; a slow dependency ends in a 503, not a Lambda timeout.
//! Every call also checks that nothing secret reached the TRACE logs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use common::{Api, ORIGIN, Req, SMS_FROM};
use serde_json::json;
use user_record::attr;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Sets attributes of `user`'s item directly (to age a code, say).
async fn set_numbers(api: &Api, user: &str, values: &[(&str, u64)]) {
    let mut update = api
        .client
        .update_item()
        .table_name(&api.users_table)
        .key(attr::USER_ID, AttributeValue::S(user.to_owned()));
    let mut sets = Vec::new();
    for (index, (name, value)) in values.iter().enumerate() {
        sets.push(format!("#n{index} = :v{index}"));
        update = update
            .expression_attribute_names(format!("#n{index}"), *name)
            .expression_attribute_values(
                format!(":v{index}"),
                AttributeValue::N(value.to_string()),
            );
    }
    update
        .update_expression(format!("SET {}", sets.join(", ")))
        .send()
        .await
        .unwrap();
}

// ---------------------------------------------------------- phone proof

#[tokio::test]
async fn a_user_cannot_claim_a_number_by_patching_the_profile() {
    let api = Api::start().await;
    api.seed("u-1", None).await;
    let resp = api
        .call(
            Req::patch("/users/me")
                .user("u-1")
                .if_match(1)
                .json(json!({"phone": "+14155550300", "sms_opt_in": true})),
        )
        .await;
    assert_eq!(
        (resp.status, resp.code()),
        (403, "phone_not_verified"),
        "{resp:?}"
    );
    let message = resp.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("POST /users/me/phone-verification"),
        "{message}"
    );
    assert_eq!(api.claim_owner("+14155550300").await, None);
    assert!(api.texts().await.is_empty());
    let read = api.call(Req::get("/users/me").user("u-1")).await;
    assert_eq!(read.body["phone"], serde_json::Value::Null);
    assert_eq!(read.version(), 1);
}

#[tokio::test]
async fn a_code_texted_to_the_number_proves_it_and_claims_it() {
    let api = Api::start().await;
    api.seed("u-1", Some("+14155550301")).await;
    let started = api.start_proof("u-1", "+14155550302").await;
    assert_eq!(started.status, 202, "{started:?}");
    assert_eq!(started.body["phone"], "+14155550302");
    assert_eq!(started.body["expires_in"], 300);
    assert_eq!(started.body["attempts"], 5);
    let texts = api.texts().await;
    assert_eq!(texts.len(), 1);
    assert_eq!(texts[0].0, "+14155550302");
    let code = common::code_in(&texts[0].1).unwrap();
    assert!(texts[0].1.contains("5 minutes"), "{}", texts[0].1);
    // The twilio fake saw our sender.
    let request = &api.twilio.received_requests().await.unwrap()[0];
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&request.body).unwrap();
    assert!(
        form.contains(&("From".to_owned(), SMS_FROM.to_owned())),
        "{form:?}"
    );

    // The code is not stored in clear.
    let item = api
        .client
        .get_item()
        .table_name(&api.users_table)
        .key(attr::USER_ID, AttributeValue::S("u-1".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert!(!format!("{item:?}").contains(&code));

    let wrong = if code == "000000" { "000001" } else { "000000" };
    let refused = api.confirm_code("u-1", wrong).await;
    assert_eq!(
        (refused.status, refused.code()),
        (400, "invalid_code"),
        "{refused:?}"
    );
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("4 attempts left")
    );
    let proven = api.confirm_code("u-1", &code).await;
    assert_eq!(proven.status, 200, "{proven:?}");
    assert_eq!(proven.body["phone"], "+14155550302");
    assert_eq!(proven.body["phone_verified_by"], "sms_code");
    assert!(proven.body["phone_verified_at"].is_string());
    assert_eq!(proven.version(), 2);
    assert_eq!(
        api.claim_owner("+14155550302").await.as_deref(),
        Some("u-1")
    );
    assert_eq!(
        api.claim_owner("+14155550301").await,
        None,
        "the old number is released"
    );
    // A code works once.
    let again = api.confirm_code("u-1", &code).await;
    assert_eq!(
        (again.status, again.code()),
        (409, "no_pending_verification")
    );
    // And the proven number may now be opted in.
    let opted = api
        .call(
            Req::patch("/users/me")
                .user("u-1")
                .if_match(2)
                .json(json!({"sms_opt_in": true})),
        )
        .await;
    assert_eq!(opted.status, 200, "{opted:?}");
    assert!(common::logs().contents().contains("verification code sent"));
}

#[tokio::test]
async fn five_wrong_codes_end_the_challenge() {
    let api = Api::start().await;
    api.seed("u-1", None).await;
    assert_eq!(api.start_proof("u-1", "+14155550303").await.status, 202);
    let code = api.code_sent_to("+14155550303").await;
    let wrong = if code == "999999" { "999998" } else { "999999" };
    for left in (0..5).rev() {
        let resp = api.confirm_code("u-1", wrong).await;
        assert_eq!(
            (resp.status, resp.code()),
            (400, "invalid_code"),
            "{resp:?}"
        );
        let message = resp.body["error"]["message"].as_str().unwrap();
        if left > 0 {
            assert!(
                message.contains(&format!("{left} attempts left")),
                "{message}"
            );
        } else {
            assert!(message.contains("request a new code"), "{message}");
        }
    }
    let late = api.confirm_code("u-1", &code).await;
    assert_eq!((late.status, late.code()), (409, "no_pending_verification"));
    assert_eq!(api.claim_owner("+14155550303").await, None);
}

#[tokio::test]
async fn an_expired_code_is_refused_and_malformed_codes_are_400() {
    let api = Api::start().await;
    api.seed("u-1", None).await;
    assert_eq!(api.start_proof("u-1", "+14155550304").await.status, 202);
    let code = api.code_sent_to("+14155550304").await;
    for bad in [
        json!("12345"),
        json!("abcdef"),
        json!(123456),
        json!("1234567"),
    ] {
        let resp = api
            .call(
                Req::post("/users/me/phone-verification/confirm")
                    .user("u-1")
                    .json(json!({"code": bad})),
            )
            .await;
        assert_eq!((resp.status, resp.code()), (400, "invalid_code"), "{bad}");
    }
    set_numbers(&api, "u-1", &[(attr::PHONE_CODE_EXPIRES_AT, now() - 1)]).await;
    let expired = api.confirm_code("u-1", &code).await;
    assert_eq!(
        (expired.status, expired.code()),
        (400, "verification_expired")
    );
    let after = api.confirm_code("u-1", &code).await;
    assert_eq!(after.code(), "no_pending_verification");
}

#[tokio::test]
async fn codes_are_rate_limited_per_minute_and_per_day() {
    let api = Api::start().await;
    api.seed("u-1", None).await;
    assert_eq!(api.start_proof("u-1", "+14155550305").await.status, 202);
    let again = api.start_proof("u-1", "+14155550305").await;
    assert_eq!(
        (again.status, again.code()),
        (429, "verification_rate_limited")
    );
    let retry: u64 = again.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(api.texts().await.len(), 1);
    // A minute later the sixth code of the day is refused.
    set_numbers(
        &api,
        "u-1",
        &[
            (attr::PHONE_CODE_SENT_AT, now() - 61),
            (attr::PHONE_CODE_SENDS, 5),
            (attr::PHONE_CODE_WINDOW_START, now() - 3600),
        ],
    )
    .await;
    let capped = api.start_proof("u-1", "+14155550305").await;
    assert_eq!(
        (capped.status, capped.code()),
        (429, "verification_rate_limited")
    );
    let retry: u64 = capped.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 20 * 3600, "{retry}");
    assert_eq!(api.texts().await.len(), 1);
}

#[tokio::test]
async fn no_code_goes_to_a_number_someone_else_owns_or_the_one_already_proven() {
    let api = Api::start().await;
    api.seed("owner", Some("+14155550306")).await;
    api.seed("u-1", None).await;
    let taken = api.start_proof("u-1", "+14155550306").await;
    assert_eq!((taken.status, taken.code()), (409, "phone_taken"));
    let own = api.start_proof("owner", "+14155550306").await;
    assert_eq!((own.status, own.code()), (409, "phone_already_verified"));
    assert!(api.texts().await.is_empty());
    let no_profile = api.start_proof("ghost", "+14155550307").await;
    assert_eq!(
        (no_profile.status, no_profile.code()),
        (404, "profile_not_found")
    );
}

#[tokio::test]
async fn without_twilio_configured_nobody_can_prove_a_number() {
    let api = Api::start_with(&[("TWILIO_SECRET_ID", ""), ("SMS_FROM", "")]).await;
    api.seed("u-1", None).await;
    let resp = api.start_proof("u-1", "+14155550308").await;
    assert_eq!(
        (resp.status, resp.code()),
        (503, "phone_verification_unavailable")
    );
    let patch = api
        .call(
            Req::patch("/users/me")
                .user("u-1")
                .if_match(1)
                .json(json!({"phone": "+14155550308"})),
        )
        .await;
    assert_eq!(patch.code(), "phone_not_verified");
}

#[tokio::test]
async fn twilio_refusing_the_number_is_400_and_twilio_down_is_503() {
    let api = Api::start().await;
    api.seed("u-1", None).await;
    api.seed("u-2", None).await;
    api.twilio.reset().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(
            wiremock::ResponseTemplate::new(400)
                .set_body_json(json!({"code": 21614, "message": "'To' number +14155550309 is not a valid mobile number"})),
        )
        .mount(&api.twilio)
        .await;
    let refused = api.start_proof("u-1", "+14155550309").await;
    assert_eq!(
        (refused.status, refused.code()),
        (400, "phone_unreachable"),
        "{refused:?}"
    );
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("21614")
    );
    api.twilio.reset().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(503))
        .mount(&api.twilio)
        .await;
    let down = api.start_proof("u-2", "+14155550310").await;
    assert_eq!(
        (down.status, down.code()),
        (503, "phone_verification_unavailable")
    );
    assert_eq!(down.header("retry-after"), Some("60"));
}

#[tokio::test]
async fn a_slow_twilio_ends_in_a_503_within_the_time_budget() {
    let mut api = Api::start().await;
    api.seed("u-1", None).await;
    api.twilio.reset().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(
            wiremock::ResponseTemplate::new(201)
                .set_body_json(json!({"sid": "SMslow"}))
                .set_delay(Duration::from_secs(20)),
        )
        .mount(&api.twilio)
        .await;
    api.budget = Duration::from_millis(2_000);
    let resp = tokio::time::timeout(
        Duration::from_secs(5),
        api.start_proof("u-1", "+14155550311"),
    )
    .await
    .expect("the request outlived its time budget");
    assert_eq!(resp.status, 503, "{resp:?}");
}

#[tokio::test]
async fn an_unproven_legacy_phone_cannot_be_opted_in_until_proven_or_vouched_for() {
    let api = Api::start().await;
    // Written before proofs existed: a phone, no phone_verified_at.
    api.client
        .put_item()
        .table_name(&api.users_table)
        .set_item(Some(
            moto_harness::item_from_json(&json!({
                "user_id": {"S": "legacy"}, "email": {"S": "l@example.com"}, "name": {"S": "L"},
                "phone": {"S": "+14155550312"}, "sms_opt_in": {"BOOL": false},
                "created_at": {"S": "2026-01-01T00:00:00Z"}, "updated_at": {"S": "2026-01-01T00:00:00Z"},
                "version": {"N": "1"}
            }))
            .unwrap(),
        ))
        .send()
        .await
        .unwrap();
    let opt_in = api
        .call(
            Req::patch("/users/me")
                .user("legacy")
                .if_match(1)
                .json(json!({"sms_opt_in": true})),
        )
        .await;
    assert_eq!((opt_in.status, opt_in.code()), (403, "phone_not_verified"));
    let admin_plain = api
        .call(
            Req::patch("/users/legacy")
                .admin()
                .if_match(1)
                .json(json!({"sms_opt_in": true})),
        )
        .await;
    assert_eq!(admin_plain.code(), "phone_not_verified");
    let vouched = api
        .call(
            Req::patch("/users/legacy")
                .admin()
                .if_match(1)
                .json(json!({"sms_opt_in": true, "vouch_for_phone": true})),
        )
        .await;
    assert_eq!(vouched.status, 200, "{vouched:?}");
    assert_eq!(vouched.body["phone_verified_by"], "admin:admin-1");
    assert_eq!(vouched.body["sms_opt_in"], true);
}

#[tokio::test]
async fn an_admin_sets_a_number_nobody_proved_only_by_vouching_for_it() {
    let api = Api::start().await;
    api.seed("u-1", None).await;
    for (request, what) in [
        (
            Req::patch("/users/u-1")
                .admin()
                .if_match(1)
                .json(json!({"phone": "+14155550313"})),
            "patch",
        ),
        (
            Req::put("/users/u-1")
                .admin()
                .if_match(1)
                .json(json!({"email": "a@example.com", "name": "A", "phone": "+14155550313"})),
            "put",
        ),
        (
            Req::post("/users").admin().json(json!({
                "user_id": "u-2", "email": "b@example.com", "name": "B", "phone": "+14155550313"
            })),
            "create",
        ),
    ] {
        let resp = api.call(request).await;
        assert_eq!(
            (resp.status, resp.code()),
            (403, "phone_not_verified"),
            "{what}: {resp:?}"
        );
        assert!(
            resp.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("vouch_for_phone"),
            "{what}"
        );
    }
    assert_eq!(api.claim_owner("+14155550313").await, None);
    let vouched = api
        .call(
            Req::patch("/users/u-1")
                .admin()
                .if_match(1)
                .json(json!({"phone": "+14155550313", "vouch_for_phone": true})),
        )
        .await;
    assert_eq!(vouched.status, 200, "{vouched:?}");
    assert_eq!(vouched.body["phone_verified_by"], "admin:admin-1");
    assert_eq!(
        api.claim_owner("+14155550313").await.as_deref(),
        Some("u-1")
    );
    let nothing_to_vouch = api
        .call(
            Req::patch("/users/u-1")
                .admin()
                .if_match(2)
                .json(json!({"phone": null, "vouch_for_phone": true})),
        )
        .await;
    assert_eq!(
        (nothing_to_vouch.status, nothing_to_vouch.code()),
        (400, "invalid_json")
    );
}

// ------------------------------------------------------------------ CSRF

#[tokio::test]
async fn cookie_authenticated_writes_with_a_simple_request_content_type_are_415() {
    let api = Api::start().await;
    api.seed("u-1", None).await;
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let create = api
            .call(
                Req::post("/users")
                    .admin()
                    .header("content-type", content_type)
                    .raw_body(r#"{"user_id":"u-csrf","email":"c@example.com","name":"C"}"#),
            )
            .await;
        assert_eq!(
            (create.status, create.code()),
            (415, "unsupported_media_type"),
            "{content_type}"
        );
        let patch = api
            .call(
                Req::patch("/users/me")
                    .user("u-1")
                    .if_match(1)
                    .header("content-type", content_type)
                    .raw_body(r#"{"name":"Forged"}"#),
            )
            .await;
        assert_eq!(patch.status, 415, "{content_type}");
    }
    assert_eq!(
        api.call(Req::get("/users/u-csrf").admin()).await.status,
        404
    );
    assert_eq!(
        api.call(Req::get("/users/me").user("u-1")).await.body["name"],
        "User u-1"
    );
}

#[tokio::test]
async fn cookie_authenticated_writes_need_an_allowed_origin() {
    let api = Api::start().await;
    api.seed("u-1", None).await;
    for (origin, code) in [
        (None, "origin_required"),
        (Some("null"), "origin_required"),
        (Some("https://evil.example"), "origin_not_allowed"),
        (Some("https://sub.app.example.com"), "origin_not_allowed"),
    ] {
        let mut request = Req::delete("/users/u-1").admin().no_headers();
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let resp = api.call(request).await;
        assert_eq!((resp.status, resp.code()), (403, code), "{origin:?}");
    }
    assert_eq!(api.call(Req::get("/users/u-1").admin()).await.status, 200);
    // Reads are not CSRF-prone: no Origin needed.
    let read = api
        .call(Req::get("/users/me").user("u-1").no_headers())
        .await;
    assert_eq!(read.status, 200);
    let deleted = api
        .call(Req::delete("/users/u-1").admin().header("origin", ORIGIN))
        .await;
    assert_eq!(deleted.status, 204);
}

#[tokio::test]
async fn a_wildcard_cors_policy_allows_no_cookie_authenticated_write() {
    let api = Api::start_with(&[("CORS_ALLOWED_ORIGINS", "*")]).await;
    let resp = api
        .call(
            Req::post("/users")
                .admin()
                .header("origin", "https://evil.example")
                .json(json!({"user_id": "u-9", "email": "n@example.com", "name": "N"})),
        )
        .await;
    assert_eq!((resp.status, resp.code()), (403, "origin_not_allowed"));
}

#[tokio::test]
async fn bearer_authenticated_clients_are_not_held_to_the_browser_rules() {
    // A page cannot make a browser send a bearer token it cannot read.
    let api = Api::start().await;
    let resp = api
        .call(
            Req::post("/users")
                .admin()
                .bearer()
                .no_headers()
                .header("content-type", "text/plain")
                .raw_body(r#"{"user_id":"u-7","email":"s@example.com","name":"Script"}"#),
        )
        .await;
    assert_eq!(resp.status, 201, "{resp:?}");
}
