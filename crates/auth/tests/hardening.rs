//! The security hardening of issue 15 in auth: every route ends within its
//! time budget with the answer a dependency failure gets (never a Lambda
//! timeout, which API Gateway turns into a 502); cookie-authenticated POSTs
//! pass the shared CSRF checks; what the ID token says about the profile
//! obeys the users function's rules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{Client, Harness, Req, token_response};
use serde_json::json;
use wiremock::ResponseTemplate;

/// Slow fakes answer after this long: within each client's own timeout
/// (token endpoint 5 s), so only the route's budget can cut them off.
const SLOW: Duration = Duration::from_millis(4_500);
/// The budget the slow tests give each call.
const BUDGET: Duration = Duration::from_millis(1_500);
/// How long the test waits for an answer before calling the route stuck:
/// far more than the budget, far less than the slow fake's total.
const PATIENCE: Duration = Duration::from_millis(4_000);

async fn within_patience(h: &Harness, request: Req) -> common::Resp {
    tokio::time::timeout(PATIENCE, h.call(request))
        .await
        .expect("the route outlived its time budget")
}

/// A callback whose token endpoint answers only after [`SLOW`], under
/// [`BUDGET`]: it must end within [`PATIENCE`].
async fn slow_callback(extra: &[(&str, &str)], code: &str) -> common::Resp {
    let mut h = Harness::start_with(Client::Public, extra, None).await;
    let login = h.login(None).await;
    h.token_endpoint(
        code,
        &login.verifier(),
        token_response(&h.id_token(), "access-slow", "refresh-slow").set_delay(SLOW),
    )
    .await;
    h.budget = BUDGET;
    within_patience(&h, login.callback(code)).await
}

#[tokio::test]
async fn a_callback_that_outlasts_its_budget_redirects_with_temporarily_unavailable() {
    let resp = slow_callback(&[], "slow-code-1").await;
    assert_eq!(resp.status, 302, "{resp:?}");
    assert_eq!(resp.auth_error(), "temporarily_unavailable");
    assert!(resp.clears("auth_state"));
    assert!(resp.set_cookie("access_token").is_none());
    assert!(
        common::logs().contents().contains("time budget exhausted"),
        "the cut-off is logged"
    );
}

#[tokio::test]
async fn a_slow_callback_in_json_mode_is_a_503_with_retry_after() {
    let resp = slow_callback(&[("ERROR_MODE", "json")], "slow-code-2").await;
    assert_eq!(resp.status, 503, "{resp:?}");
    assert_eq!(resp.code(), "service_unavailable");
    assert_eq!(resp.header("retry-after"), Some("2"));
}

#[tokio::test]
async fn a_slow_jwks_and_a_slow_token_endpoint_together_still_end_in_the_error_redirect() {
    // Each within its own timeout (JWKS 3 s, token endpoint 5 s), together
    // beyond the budget.
    let mut h = Harness::start(Client::Public).await;
    h.hosted_ui.reset().await;
    wiremock::Mock::given(wiremock::matchers::path("/jwks.json"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(cognito_jwt::testing::jwks(&[&h.key]))
                .set_delay(Duration::from_millis(2_500)),
        )
        .mount(&h.hosted_ui)
        .await;
    let login = h.login(None).await;
    h.token_endpoint(
        "slow-code-3",
        &login.verifier(),
        token_response(&h.id_token(), "access-slow-3", "refresh-slow-3")
            .set_delay(Duration::from_millis(1_000)),
    )
    .await;
    h.budget = Duration::from_millis(2_000);
    let resp = within_patience(&h, login.callback("slow-code-3")).await;
    assert_eq!(resp.auth_error(), "temporarily_unavailable", "{resp:?}");
}

#[tokio::test]
async fn a_slow_cognito_makes_refresh_a_503_that_keeps_the_cookies() {
    let mut h = Harness::start(Client::Public).await;
    let tokens = h.pool.sign_in(&h.client_id, None).await;
    h.proxy
        .revokes
        .delay_ms
        .store(SLOW.as_millis() as u64, Ordering::SeqCst);
    h.budget = BUDGET;
    let resp = within_patience(
        &h,
        Req::post("/auth/refresh").cookie("refresh_token", &tokens.refresh_token),
    )
    .await;
    assert_eq!(resp.status, 503, "{resp:?}");
    assert_eq!(resp.code(), "service_unavailable");
    // Not a refusal: the session is not ended because Cognito was slow.
    assert!(resp.set_cookies.is_empty(), "{resp:?}");
}

#[tokio::test]
async fn a_slow_cognito_still_lets_logout_sign_out_locally_in_time() {
    let mut h = Harness::start(Client::Public).await;
    let tokens = h.pool.sign_in(&h.client_id, None).await;
    h.proxy
        .revokes
        .delay_ms
        .store(SLOW.as_millis() as u64, Ordering::SeqCst);
    h.budget = BUDGET;
    let resp = within_patience(
        &h,
        Req::post("/auth/logout")
            .cookie("refresh_token", &tokens.refresh_token)
            .cookie("access_token", &tokens.access_token),
    )
    .await;
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body["revoked"], false);
    assert_eq!(resp.body["signed_out_globally"], false);
    resp.assert_clears_every_cookie();
}

// ------------------------------------------------------------------ CSRF

#[tokio::test]
async fn cookie_authenticated_refresh_and_logout_need_the_origin_a_browser_sends() {
    let h = Harness::start(Client::Public).await;
    for path in ["/auth/refresh", "/auth/logout"] {
        let resp = h
            .call(Req::new("POST", path).cookie("refresh_token", "r-cookie-1234"))
            .await;
        assert_eq!(resp.status, 403, "{path}: {resp:?}");
        assert_eq!(resp.code(), "origin_required");
        assert!(resp.set_cookies.is_empty(), "{path}");
    }
}

#[tokio::test]
async fn cookie_authenticated_posts_with_a_simple_request_body_are_415() {
    let h = Harness::start(Client::Public).await;
    for path in ["/auth/refresh", "/auth/logout"] {
        for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
            let resp = h
                .call(
                    Req::post(path)
                        .cookie("refresh_token", "r-cookie-1234")
                        .header("content-type", content_type)
                        .raw_body("refresh_token=x"),
                )
                .await;
            assert_eq!(resp.status, 415, "{path} {content_type}: {resp:?}");
            assert_eq!(resp.code(), "unsupported_media_type");
        }
    }
}

#[tokio::test]
async fn a_client_sending_its_refresh_token_in_the_body_needs_no_origin() {
    // Not CSRF-prone: a page can only send a token it can read.
    let h = Harness::start(Client::Public).await;
    let tokens = h.pool.sign_in(&h.client_id, None).await;
    let resp = h
        .call(
            Req::new("POST", "/auth/refresh")
                .json(json!({"refresh_token": tokens.refresh_token, "username": h.pool.username})),
        )
        .await;
    assert_eq!(resp.status, 200, "{resp:?}");
}

#[tokio::test]
async fn a_wildcard_cors_policy_does_not_open_auth_to_every_origin() {
    let h = Harness::start_with(
        Client::Public,
        &[
            ("CORS_ALLOWED_ORIGINS", "*"),
            ("CORS_ALLOW_CREDENTIALS", "false"),
        ],
        None,
    )
    .await;
    let resp = h
        .call(
            Req::post("/auth/logout")
                .header("origin", "https://evil.example.net")
                .cookie("refresh_token", "r-cookie-1234"),
        )
        .await;
    assert_eq!(resp.status, 403, "{resp:?}");
    assert_eq!(resp.code(), "origin_not_allowed");
}

// -------------------------------------------------------- profile rules

#[tokio::test]
async fn id_token_names_are_cleaned_and_cut_to_the_profile_rules() {
    let h = Harness::start(Client::Public).await;
    let mut claims = h.id_claims();
    let sub = claims["sub"].as_str().unwrap().to_owned();
    let long = format!("Alice\u{7}\u{1b}[2J\r\nLiddell {}", "x".repeat(300));
    claims["name"] = json!(long);
    h.sign_in_with(claims).await;
    let item = h.item(&sub).await.unwrap();
    let name = item["name"].as_str().unwrap();
    assert!(name.starts_with("Alice [2J Liddell xxx"), "{name:?}");
    assert_eq!(name.chars().count(), user_record::rules::MAX_NAME_CHARS);
    assert_eq!(user_record::rules::name(name).as_deref(), Ok(name));
    assert_eq!(item["idp_name"], item["name"]);
}

#[tokio::test]
async fn an_id_token_email_that_breaks_the_rules_is_not_stored() {
    let h = Harness::start(Client::Public).await;
    for (index, email) in [
        "not-an-email".to_owned(),
        "a\u{0}b@example.com".to_owned(),
        format!("{}@example.com", "a".repeat(300)),
    ]
    .into_iter()
    .enumerate()
    {
        let mut claims = h.id_claims();
        let sub = format!("bad-email-user-{index}");
        claims["sub"] = json!(sub);
        claims["email"] = json!(email);
        h.sign_in_with(claims).await;
        let item = h.item(&sub).await.unwrap();
        assert_eq!(item["email"], "", "{email:?}");
        assert!(!item.contains_key("idp_email"), "{email:?}");
        assert_eq!(item["name"], "Alice Liddell");
    }
}
