//! Login and callback: every error path answers with a redirect to the app
//! (or 400 JSON with `ERROR_MODE=json`), never a 500, and no token, code,
//! state or verifier reaches the URL or the logs. Plus the profile upsert
//! rule against moto's DynamoDB and the secret's keys from moto's Secrets
//! Manager.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use auth::state::{LoginState, StateSealer};
use base64::Engine as _;
use cognito_jwt::testing::TestKey;
use common::{Client, Harness, Login, Req, Resp, assert_not_logged, token_response};
use serde_json::json;
use wiremock::ResponseTemplate;

/// The callback's answer to an error: 302 to the app with `auth_error`,
/// the state cookie cleared, no token cookie set.
fn assert_error_redirect(resp: &Resp, code: &str) {
    assert_eq!(resp.status, 302, "{resp:?}");
    assert_eq!(resp.auth_error(), code, "{resp:?}");
    assert!(resp.clears("auth_state"), "{resp:?}");
    for name in ["access_token", "id_token", "refresh_token"] {
        assert!(resp.set_cookie(name).is_none(), "{name} set on error");
    }
    assert_eq!(resp.header("cache-control"), Some("no-store"));
}

/// What a finished login leaves that must never be disclosed.
fn login_secrets(login: &Login) -> Vec<String> {
    vec![
        login.verifier(),
        login.param("state").to_owned(),
        login.cookie.clone(),
    ]
}

fn assert_leaks_nothing(resp: &Resp, secrets: &[String]) {
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    resp.assert_holds_none(&secrets);
    assert_not_logged(&secrets);
}

#[tokio::test]
async fn cognito_error_parameter_redirects_with_its_oauth_code_only() {
    let h = Harness::start(Client::Public).await;
    let login = h.login(None).await;
    let resp = h
        .call(
            Req::get("/auth/callback")
                .query("error", "access_denied")
                .query("error_description", "User cancelled <script>")
                .query("state", login.param("state"))
                .cookie("auth_state", &login.cookie),
        )
        .await;
    assert_error_redirect(&resp, "access_denied");
    assert!(!resp.location().contains("script"));
    let resp = h
        .call(Req::get("/auth/callback").query("error", "something<weird>"))
        .await;
    assert_error_redirect(&resp, "provider_error");
    assert_leaks_nothing(&resp, &login_secrets(&login));
}

#[tokio::test]
async fn missing_code_state_or_cookie_each_have_their_code() {
    let h = Harness::start(Client::Public).await;
    let login = h.login(None).await;
    let state = login.param("state").to_owned();
    let cases = [
        (
            Req::get("/auth/callback")
                .query("state", &state)
                .cookie("auth_state", &login.cookie),
            "missing_code",
        ),
        (
            Req::get("/auth/callback")
                .query("code", "secret-code-1")
                .cookie("auth_state", &login.cookie),
            "missing_state",
        ),
        (
            Req::get("/auth/callback")
                .query("code", "secret-code-1")
                .query("state", &state),
            "missing_state_cookie",
        ),
    ];
    for (request, code) in cases {
        let resp = h.call(request).await;
        assert_error_redirect(&resp, code);
        let mut secrets = login_secrets(&login);
        secrets.push("secret-code-1".into());
        assert_leaks_nothing(&resp, &secrets);
    }
}

#[tokio::test]
async fn a_tampered_state_cookie_is_invalid_state() {
    let h = Harness::start(Client::Public).await;
    let login = h.login(Some("/a")).await;
    let mut payload = login.payload();
    payload["r"] = json!("/somewhere-else");
    let tag = login.cookie.split_once('.').unwrap().1;
    let forged = format!(
        "{}.{tag}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let resp = h
        .call(
            Req::get("/auth/callback")
                .query("code", "secret-code-2")
                .query("state", login.param("state"))
                .cookie("auth_state", &forged),
        )
        .await;
    assert_error_redirect(&resp, "invalid_state");
    let mut secrets = login_secrets(&login);
    secrets.push("secret-code-2".into());
    assert_leaks_nothing(&resp, &secrets);
}

#[tokio::test]
async fn a_state_from_another_login_is_a_mismatch_over_http_api_too() {
    let h = Harness::start(Client::Public).await;
    let mine = h.login(None).await;
    let theirs = h.login(None).await;
    let resp = h
        .call(
            Req::get("/auth/callback")
                .query("code", "secret-code-3")
                .query("state", theirs.param("state"))
                .cookie("auth_state", &mine.cookie)
                .http_api(),
        )
        .await;
    assert_error_redirect(&resp, "state_mismatch");
    assert!(resp.raw["cookies"].is_array());
    let mut secrets = login_secrets(&mine);
    secrets.extend(login_secrets(&theirs));
    secrets.push("secret-code-3".into());
    assert_leaks_nothing(&resp, &secrets);
}

#[tokio::test]
async fn a_state_cookie_older_than_ten_minutes_is_expired() {
    let h = Harness::start(Client::Public).await;
    let key = base64::engine::general_purpose::STANDARD
        .decode(common::COOKIE_KEY)
        .unwrap();
    let sealer = StateSealer::new(&key).unwrap();
    let issued = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 601;
    let old = LoginState::generate(None, issued).unwrap();
    let cookie = sealer.seal(&old).unwrap();
    let resp = h
        .call(
            Req::get("/auth/callback")
                .query("code", "secret-code-4")
                .query("state", &old.state)
                .cookie("auth_state", &cookie),
        )
        .await;
    assert_error_redirect(&resp, "state_expired");
    assert_leaks_nothing(
        &resp,
        &[
            old.state.clone(),
            old.verifier.clone(),
            "secret-code-4".into(),
        ],
    );
}

#[tokio::test]
async fn a_token_endpoint_4xx_redirects_with_token_exchange_failed() {
    let h = Harness::start(Client::WithSecret).await;
    let login = h.login(None).await;
    h.token_endpoint(
        "secret-code-5",
        &login.verifier(),
        ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})),
    )
    .await;
    let resp = h.call(login.callback("secret-code-5")).await;
    assert_error_redirect(&resp, "token_exchange_failed");
    let mut secrets = login_secrets(&login);
    secrets.push("secret-code-5".into());
    secrets.push(h.client_secret.clone().unwrap());
    assert_leaks_nothing(&resp, &secrets);
    assert!(common::logs().contents().contains("invalid_grant"));
}

#[tokio::test]
async fn a_token_endpoint_5xx_is_temporarily_unavailable_not_a_500() {
    let h = Harness::start(Client::Public).await;
    let login = h.login(None).await;
    h.token_endpoint(
        "secret-code-6",
        &login.verifier(),
        ResponseTemplate::new(503).set_body_string("down"),
    )
    .await;
    let resp = h.call(login.callback("secret-code-6")).await;
    assert_error_redirect(&resp, "temporarily_unavailable");
    let mut secrets = login_secrets(&login);
    secrets.push("secret-code-6".into());
    assert_leaks_nothing(&resp, &secrets);
}

#[tokio::test]
async fn a_malformed_token_response_is_temporarily_unavailable_and_quotes_nothing() {
    let h = Harness::start(Client::Public).await;
    let login = h.login(None).await;
    // Truncated JSON whose only field is a token: serde's message would quote it.
    let partial = "eyJhbGciOiJSUzI1NiJ9.partial-id-token";
    h.token_endpoint(
        "secret-code-20",
        &login.verifier(),
        ResponseTemplate::new(200).set_body_string(format!("{{\"id_token\": \"{partial}")),
    )
    .await;
    let resp = h.call(login.callback("secret-code-20")).await;
    assert_error_redirect(&resp, "temporarily_unavailable");
    let mut secrets = login_secrets(&login);
    secrets.extend(["secret-code-20".into(), partial.into()]);
    assert_leaks_nothing(&resp, &secrets);
}

#[tokio::test]
async fn an_unreachable_jwks_is_temporarily_unavailable_and_stores_no_profile() {
    // Port 9 on loopback: nothing listens there, the connection is refused.
    let h = Harness::start_with(
        Client::Public,
        &[("JWKS_URL", "http://127.0.0.1:9/jwks.json")],
        None,
    )
    .await;
    let login = h.login(None).await;
    let id_token = h.id_token();
    h.token_endpoint(
        "secret-code-21",
        &login.verifier(),
        token_response(&id_token, "access-21", "refresh-21"),
    )
    .await;
    let resp = h.call(login.callback("secret-code-21")).await;
    assert_error_redirect(&resp, "temporarily_unavailable");
    let mut secrets = login_secrets(&login);
    secrets.extend([
        id_token,
        "access-21".into(),
        "refresh-21".into(),
        "secret-code-21".into(),
    ]);
    assert_leaks_nothing(&resp, &secrets);
    let sub = h.id_claims()["sub"].as_str().unwrap().to_owned();
    assert!(h.item(&sub).await.is_none());
}

#[tokio::test]
async fn expired_misaddressed_or_access_tokens_are_refused_as_id_tokens() {
    let h = Harness::start(Client::Public).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let cases: [(&str, serde_json::Value); 4] = [
        ("expired", json!({"exp": now - 3600, "iat": now - 7200})),
        ("another client", json!({"aud": "some-other-client-id"})),
        (
            "another pool",
            json!({"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"}),
        ),
        ("an access token", json!({"token_use": "access"})),
    ];
    for (index, (what, changes)) in cases.into_iter().enumerate() {
        let login = h.login(None).await;
        let mut claims = h.id_claims();
        for (name, value) in changes.as_object().unwrap() {
            claims[name] = value.clone();
        }
        let token = TestKey::primary().sign(&claims);
        let code = format!("secret-code-3{index}");
        h.token_endpoint(
            &code,
            &login.verifier(),
            token_response(&token, "access-3x", "refresh-3x"),
        )
        .await;
        let resp = h.call(login.callback(&code)).await;
        assert_error_redirect(&resp, "invalid_id_token");
        let mut secrets = login_secrets(&login);
        secrets.extend([token, "access-3x".into(), "refresh-3x".into(), code]);
        assert_leaks_nothing(&resp, &secrets);
        let sub = h.id_claims()["sub"].as_str().unwrap().to_owned();
        assert!(h.item(&sub).await.is_none(), "{what}: profile stored");
    }
}

#[tokio::test]
async fn an_id_token_from_another_key_is_refused_and_no_cookie_set() {
    let h = Harness::start(Client::Public).await;
    let login = h.login(None).await;
    let forged = TestKey::secondary().sign(&h.id_claims());
    h.token_endpoint(
        "secret-code-7",
        &login.verifier(),
        token_response(&forged, "forged-access-token", "forged-refresh-token"),
    )
    .await;
    let resp = h.call(login.callback("secret-code-7")).await;
    assert_error_redirect(&resp, "invalid_id_token");
    let mut secrets = login_secrets(&login);
    secrets.extend([
        forged,
        "forged-access-token".into(),
        "forged-refresh-token".into(),
        "secret-code-7".into(),
    ]);
    assert_leaks_nothing(&resp, &secrets);
    let sub = h.id_claims()["sub"].as_str().unwrap().to_owned();
    assert!(
        h.item(&sub).await.is_none(),
        "no profile without a valid token"
    );
}

#[tokio::test]
async fn json_error_mode_answers_400_with_the_code() {
    let h = Harness::start_with(Client::Public, &[("ERROR_MODE", "json")], None).await;
    let login = h.login(None).await;
    let resp = h
        .call(
            Req::get("/auth/callback")
                .query("code", "secret-code-8")
                .query("state", "not-the-state")
                .cookie("auth_state", &login.cookie),
        )
        .await;
    assert_eq!(resp.status, 400, "{resp:?}");
    assert_eq!(resp.code(), "state_mismatch");
    assert!(resp.clears("auth_state"));
    assert!(resp.header("location").is_none());

    h.token_endpoint(
        "secret-code-9",
        &login.verifier(),
        ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})),
    )
    .await;
    let resp = h.call(login.callback("secret-code-9")).await;
    assert_eq!(resp.status, 400, "{resp:?}");
    assert_eq!(resp.code(), "token_exchange_failed");

    let resp = h
        .call(Req::get("/auth/callback").query("error", "access_denied"))
        .await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.code(), "access_denied");
    assert_leaks_nothing(&resp, &login_secrets(&login));
}

#[tokio::test]
async fn login_refuses_a_return_to_outside_the_app() {
    let h = Harness::start(Client::Public).await;
    for bad in [
        "https://evil.example.net/",
        "//evil.example.net",
        "/\\evil.example.net",
    ] {
        let resp = h
            .call(Req::get("/auth/login").query("return_to", bad))
            .await;
        assert_error_redirect(&resp, "invalid_return_to");
    }
}

#[tokio::test]
async fn login_over_http_api_sets_the_state_cookie_in_the_cookies_array() {
    let h = Harness::start(Client::Public).await;
    let resp = h.call(Req::get("/auth/login").http_api()).await;
    assert_eq!(resp.status, 302);
    let cookies = resp.raw["cookies"].as_array().unwrap();
    assert_eq!(cookies.len(), 1);
    let cookie = cookies[0].as_str().unwrap();
    assert!(cookie.starts_with("auth_state="));
    assert!(
        cookie.ends_with("; Path=/prod/auth/callback; Max-Age=600; HttpOnly; Secure; SameSite=Lax")
    );
}

#[tokio::test]
async fn a_secret_without_cookie_key_fails_sign_in_naming_the_key_in_the_log_only() {
    let h = Harness::start_with(Client::Public, &[], Some(json!({"client_secret": "x"}))).await;
    let resp = h.call(Req::get("/auth/login")).await;
    assert_eq!(resp.status, 302);
    assert_eq!(resp.auth_error(), "server_error");
    assert!(
        resp.set_cookie("auth_state")
            .is_some_and(|c| c.contains("Max-Age=0"))
    );
    let logs = common::logs().contents();
    assert!(
        logs.contains(r#"has no value for key \"cookie_key\""#),
        "{logs}"
    );
}

#[tokio::test]
async fn a_short_cookie_key_is_refused() {
    let h = Harness::start_with(
        Client::Public,
        &[("ERROR_MODE", "json")],
        Some(json!({"cookie_key": "c2hvcnQ="})),
    )
    .await;
    let resp = h.call(Req::get("/auth/login")).await;
    assert_eq!(resp.status, 500);
    assert_eq!(resp.code(), "internal_error");
    assert!(common::logs().contents().contains("decodes to 5 bytes"));
}

#[tokio::test]
async fn unknown_routes_and_methods_are_404_and_405() {
    let h = Harness::start(Client::Public).await;
    assert_eq!(h.call(Req::get("/auth/nope")).await.status, 404);
    let resp = h.call(Req::get("/auth/logout")).await;
    assert_eq!(resp.status, 405);
    assert_eq!(resp.header("allow"), Some("POST"));
    assert_eq!(h.call(Req::post("/auth/login")).await.status, 405);
}

// ------------------------------------------------------------ profiles

#[tokio::test]
async fn sign_in_refreshes_fields_the_user_did_not_edit() {
    let h = Harness::start(Client::Public).await;
    let mut claims = h.id_claims();
    let sub = claims["sub"].as_str().unwrap().to_owned();
    h.sign_in_with(claims.clone()).await;
    let first = h.item(&sub).await.unwrap();

    // Same token again: nothing changes, not even the version.
    h.sign_in_with(claims.clone()).await;
    assert_eq!(h.item(&sub).await.unwrap(), first);

    // The provider's email changed and the user never edited it.
    claims["email"] = json!("alice@new.example.com");
    h.sign_in_with(claims.clone()).await;
    let item = h.item(&sub).await.unwrap();
    assert_eq!(item["email"], "alice@new.example.com");
    assert_eq!(item["idp_email"], "alice@new.example.com");
    assert_eq!(item["name"], "Alice Liddell");
    assert_eq!(item["version"], json!({"N": "2"}));
    assert_eq!(item["created_at"], first["created_at"]);
}

#[tokio::test]
async fn sign_in_never_overwrites_what_the_user_edited() {
    let h = Harness::start(Client::Public).await;
    let mut claims = h.id_claims();
    let sub = claims["sub"].as_str().unwrap().to_owned();
    // As the users function writes a profile after an edit: whole item,
    // no idp_* attributes, version 4.
    h.dynamodb
        .put_item()
        .table_name(&h.users_table)
        .set_item(Some(
            moto_harness::item_from_json(&json!({
                "user_id": {"S": sub}, "email": {"S": "me@mine.example"}, "name": {"S": "Al"},
                "phone": {"S": "+14155550123"}, "sms_opt_in": {"BOOL": true},
                "created_at": {"S": "2026-01-01T00:00:00Z"}, "updated_at": {"S": "2026-02-01T00:00:00Z"},
                "version": {"N": "4"}
            }))
            .unwrap(),
        ))
        .send()
        .await
        .unwrap();
    claims["email"] = json!("alice@idp.example.com");
    h.sign_in_with(claims).await;
    let item = h.item(&sub).await.unwrap();
    assert_eq!(item["email"], "me@mine.example");
    assert_eq!(item["name"], "Al");
    assert_eq!(item["phone"], "+14155550123");
    assert_eq!(item["sms_opt_in"], true);
    assert_eq!(item["version"], json!({"N": "4"}));
}

#[tokio::test]
async fn an_empty_name_is_filled_from_the_token() {
    let h = Harness::start(Client::Public).await;
    let mut claims = h.id_claims();
    let sub = claims["sub"].as_str().unwrap().to_owned();
    claims.as_object_mut().unwrap().remove("name");
    h.sign_in_with(claims.clone()).await;
    let item = h.item(&sub).await.unwrap();
    assert_eq!(item["name"], "");
    assert!(!item.contains_key("idp_name"));

    claims["given_name"] = json!("Alice");
    claims["family_name"] = json!("Liddell");
    h.sign_in_with(claims).await;
    let item = h.item(&sub).await.unwrap();
    assert_eq!(item["name"], "Alice Liddell");
    assert_eq!(item["version"], json!({"N": "2"}));
}

#[tokio::test]
async fn a_failing_profile_write_is_temporarily_unavailable_and_sets_no_cookie() {
    let h = Harness::start_with(Client::Public, &[("USERS_TABLE", "no-such-table")], None).await;
    let login = h.login(None).await;
    h.token_endpoint(
        "secret-code-10",
        &login.verifier(),
        token_response(&h.id_token(), "access-10", "refresh-10"),
    )
    .await;
    let resp = h.call(login.callback("secret-code-10")).await;
    assert_error_redirect(&resp, "temporarily_unavailable");
    let mut secrets = login_secrets(&login);
    secrets.extend(["access-10".into(), "refresh-10".into(), h.id_token()]);
    assert_leaks_nothing(&resp, &secrets);
}

#[tokio::test]
async fn an_unreadable_secret_makes_login_temporarily_unavailable() {
    let h = Harness::start_with(Client::Public, &[("SECRET_ID", "no-such-secret")], None).await;
    let resp = h.call(Req::get("/auth/login")).await;
    assert_eq!(resp.status, 302);
    assert_eq!(resp.auth_error(), "temporarily_unavailable");
    assert!(resp.clears("auth_state"));
}
