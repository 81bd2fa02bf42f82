//! The whole sign-in sequence and the refresh and logout routes against
//! moto (Cognito IDP, DynamoDB, Secrets Manager), the fake hosted UI and
//! the RevokeToken fake (moto answers RevokeToken with 500; see
//! `common::CognitoProxy`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Client, Harness, LOGOUT_URI, Req, assert_not_logged, token_response};
use serde_json::json;

#[tokio::test]
async fn login_callback_refresh_logout_with_a_client_secret() {
    let h = Harness::start(Client::WithSecret).await;
    let moto_tokens = h
        .pool
        .sign_in(&h.client_id, h.client_secret.as_deref())
        .await;
    let id_token = h.id_token();

    // Login: 302 to the hosted UI with PKCE S256 and a sealed state.
    let login = h.login(Some("/settings?tab=2")).await;
    assert!(
        login
            .location
            .starts_with(&format!("{}/oauth2/authorize?", h.hosted_ui.uri())),
        "{}",
        login.location
    );
    assert_eq!(login.param("response_type"), "code");
    assert_eq!(login.param("client_id"), h.client_id);
    assert_eq!(login.param("redirect_uri"), common::REDIRECT_URI);
    assert_eq!(login.param("scope"), "openid email profile");
    assert_eq!(login.param("code_challenge_method"), "S256");
    let verifier = login.verifier();
    assert_eq!(verifier.len(), 43);
    assert_eq!(
        login.param("code_challenge"),
        auth::state::code_challenge(&verifier)
    );
    assert_eq!(login.payload()["s"], login.param("state"));
    assert_eq!(login.payload()["r"], "/settings?tab=2");

    // Callback: the token endpoint must see the exact form, Basic auth
    // and the verifier (the mock only matches those).
    h.token_endpoint(
        "auth-code-1",
        &verifier,
        token_response(
            &id_token,
            &moto_tokens.access_token,
            &moto_tokens.refresh_token,
        ),
    )
    .await;
    let resp = h.call(login.callback("auth-code-1")).await;
    assert_eq!(resp.status, 302, "{resp:?}");
    assert_eq!(resp.location(), "https://app.example.com/settings?tab=2");
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    assert_eq!(
        resp.set_cookie("access_token").unwrap(),
        format!(
            "access_token={}; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax",
            moto_tokens.access_token
        )
    );
    assert_eq!(
        resp.set_cookie("id_token").unwrap(),
        format!("id_token={id_token}; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax")
    );
    assert_eq!(
        resp.set_cookie("refresh_token").unwrap(),
        format!(
            "refresh_token={}; Path=/prod/auth; Max-Age=2592000; HttpOnly; Secure; SameSite=Lax",
            moto_tokens.refresh_token
        )
    );
    let username_cookie = resp.cookie("auth_user").unwrap().to_owned();
    assert_eq!(
        auth::cookies::decode_username(&username_cookie).as_deref(),
        Some("alice")
    );
    assert!(resp.clears("auth_state"));
    assert!(!resp.location().contains("auth-code-1"));

    // The profile, in the users function's item format.
    let sub = h.id_claims()["sub"].as_str().unwrap().to_owned();
    let item = h.item(&sub).await.unwrap();
    assert_eq!(item["email"], "alice@example.com");
    assert_eq!(item["name"], "Alice Liddell");
    assert_eq!(item["sms_opt_in"], false);
    assert_eq!(item["version"], json!({"N": "1"}));
    assert_eq!(item["created_at"], item["updated_at"]);
    assert_eq!(item["idp_email"], "alice@example.com");

    // Refresh through moto's InitiateAuth with SECRET_HASH(username).
    let refresh = h
        .call(
            Req::post("/auth/refresh")
                .cookie("refresh_token", &moto_tokens.refresh_token)
                .cookie("auth_user", &username_cookie),
        )
        .await;
    assert_eq!(refresh.status, 200, "{refresh:?}");
    assert_eq!(refresh.body, json!({"expires_in": 3600}));
    let fresh_access = refresh.cookie("access_token").unwrap().to_owned();
    assert!(!fresh_access.is_empty());
    assert!(refresh.cookie("id_token").is_some_and(|t| !t.is_empty()));
    refresh.assert_holds_none(&[&moto_tokens.refresh_token]);

    // Logout: RevokeToken (faked: moto answers 500) with the client
    // secret, GlobalSignOut in moto, every cookie cleared.
    let logout = h
        .call(
            Req::post("/auth/logout")
                .cookie("refresh_token", &moto_tokens.refresh_token)
                .cookie("access_token", &fresh_access),
        )
        .await;
    assert_eq!(logout.status, 200, "{logout:?}");
    assert_eq!(logout.body["revoked"], true);
    assert_eq!(logout.body["signed_out_globally"], true);
    // Real Cognito's RevokeToken also invalidates the access tokens issued
    // from the refresh token, so GlobalSignOut must come first.
    let operations = h.proxy.operations();
    assert_eq!(
        operations[operations.len() - 2..],
        ["GlobalSignOut", "RevokeToken"],
        "{operations:?}"
    );
    let logout_url = format!(
        "{}/logout?{}",
        h.hosted_ui.uri(),
        serde_urlencoded::to_string([
            ("client_id", h.client_id.as_str()),
            ("logout_uri", LOGOUT_URI)
        ])
        .unwrap()
    );
    assert_eq!(logout.body["logout_url"], logout_url);
    logout.assert_clears_every_cookie();
    assert_eq!(
        h.proxy.revoke_calls(),
        [json!({
            "Token": moto_tokens.refresh_token,
            "ClientId": h.client_id,
            "ClientSecret": h.client_secret.clone().unwrap(),
        })]
    );

    // GlobalSignOut revoked the refresh token in moto: refresh is now 401.
    let after = h
        .call(
            Req::post("/auth/refresh")
                .cookie("refresh_token", &moto_tokens.refresh_token)
                .cookie("auth_user", &username_cookie),
        )
        .await;
    assert_eq!(after.status, 401, "{after:?}");
    assert_eq!(after.code(), "invalid_refresh_token");
    assert!(after.clears("access_token") && after.clears("refresh_token"));

    assert_not_logged(&[
        &moto_tokens.refresh_token,
        &moto_tokens.access_token,
        &fresh_access,
        &id_token,
        &verifier,
        login.param("state"),
        "auth-code-1",
        h.client_secret.as_deref().unwrap(),
        common::COOKIE_KEY,
    ]);
}

#[tokio::test]
async fn public_client_refreshes_from_a_json_body_over_http_api() {
    let h = Harness::start(Client::Public).await;
    let tokens = h.pool.sign_in(&h.client_id, None).await;
    let resp = h
        .call(
            Req::post("/auth/refresh")
                .json(json!({"refresh_token": tokens.refresh_token}))
                .http_api(),
        )
        .await;
    assert_eq!(resp.status, 200, "{resp:?}");
    assert!(resp.raw["cookies"].as_array().unwrap().len() >= 2);
    assert!(resp.cookie("access_token").is_some_and(|t| !t.is_empty()));
    resp.assert_holds_none(&[&tokens.refresh_token]);
}

#[tokio::test]
async fn an_invalid_refresh_token_is_401_with_cookies_cleared_and_not_logged() {
    let h = Harness::start(Client::WithSecret).await;
    let bogus = "eyJjdHkiOiJKV1QiLCJlbmMiOiJBMjU2R0NNIn0.bogus-refresh-token-value";
    let resp = h
        .call(
            Req::post("/auth/refresh")
                .cookie("refresh_token", bogus)
                .cookie("auth_user", "YWxpY2U"),
        )
        .await;
    assert_eq!(resp.status, 401, "{resp:?}");
    assert_eq!(resp.code(), "invalid_refresh_token");
    for name in ["access_token", "id_token", "refresh_token", "auth_user"] {
        assert!(resp.clears(name), "{name}: {resp:?}");
    }
    resp.assert_holds_none(&[bogus]);
    assert_not_logged(&[bogus]);
}

#[tokio::test]
async fn a_wrong_username_makes_a_wrong_secret_hash_and_a_401() {
    let h = Harness::start(Client::WithSecret).await;
    let tokens = h
        .pool
        .sign_in(&h.client_id, h.client_secret.as_deref())
        .await;
    let resp = h
        .call(
            Req::post("/auth/refresh")
                .cookie("refresh_token", &tokens.refresh_token)
                .cookie("auth_user", "bWFsbG9yeQ"),
        )
        .await;
    assert_eq!(resp.status, 401, "{resp:?}");
    assert_eq!(resp.code(), "invalid_refresh_token");
    // moto's error message is the expected SECRET_HASH: it must not be logged.
    let expected_hash =
        auth::cognito::secret_hash(h.client_secret.as_deref().unwrap(), "alice", &h.client_id);
    assert_not_logged(&[&tokens.refresh_token, &expected_hash]);
}

#[tokio::test]
async fn refresh_without_a_token_or_without_a_username_is_401() {
    let h = Harness::start(Client::WithSecret).await;
    let resp = h.call(Req::post("/auth/refresh")).await;
    assert_eq!(resp.status, 401);
    assert_eq!(resp.code(), "missing_refresh_token");
    assert!(resp.clears("access_token"));

    let tokens = h
        .pool
        .sign_in(&h.client_id, h.client_secret.as_deref())
        .await;
    let resp = h
        .call(Req::post("/auth/refresh").cookie("refresh_token", &tokens.refresh_token))
        .await;
    assert_eq!(resp.status, 401);
    assert_eq!(resp.code(), "missing_username");
    assert!(resp.clears("refresh_token"));
    assert_not_logged(&[&tokens.refresh_token]);
}

#[tokio::test]
async fn refresh_and_logout_from_a_foreign_origin_are_refused() {
    let h = Harness::start(Client::Public).await;
    for path in ["/auth/refresh", "/auth/logout"] {
        let resp = h
            .call(
                Req::post(path)
                    .header("origin", "https://evil.example.net")
                    .cookie("refresh_token", "r"),
            )
            .await;
        assert_eq!(resp.status, 403, "{path}: {resp:?}");
        assert_eq!(resp.code(), "origin_not_allowed");
        assert!(resp.set_cookies.is_empty());
    }
}

#[tokio::test]
async fn refresh_rejects_a_malformed_body() {
    let h = Harness::start(Client::Public).await;
    let resp = h
        .call(Req::post("/auth/refresh").json(json!({"refresh_token": "x", "admin": true})))
        .await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.code(), "invalid_body");
}

#[tokio::test]
async fn logout_without_global_sign_out_only_revokes() {
    let h = Harness::start_with(Client::Public, &[("GLOBAL_SIGN_OUT", "false")], None).await;
    let tokens = h.pool.sign_in(&h.client_id, None).await;
    let resp = h
        .call(
            Req::post("/auth/logout")
                .cookie("refresh_token", &tokens.refresh_token)
                .cookie("access_token", &tokens.access_token)
                .http_api(),
        )
        .await;
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body["revoked"], true);
    assert_eq!(resp.body["signed_out_globally"], false);
    assert_eq!(resp.raw["cookies"].as_array().unwrap().len(), 5);
    assert_eq!(
        h.proxy.revoke_calls(),
        [json!({"Token": tokens.refresh_token, "ClientId": h.client_id})]
    );
    // No GlobalSignOut reached moto: the refresh token still works there
    // (only the RevokeToken fake saw the revocation).
    let refresh = h
        .call(Req::post("/auth/refresh").cookie("refresh_token", &tokens.refresh_token))
        .await;
    assert_eq!(refresh.status, 200, "{refresh:?}");
}

#[tokio::test]
async fn logout_still_clears_cookies_when_cognito_refuses_and_logs_no_token() {
    let h = Harness::start(Client::Public).await;
    h.proxy
        .revokes
        .fail
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let stale_access = "eyJhbGciOiJSUzI1NiJ9.stale-access-token.sig";
    let resp = h
        .call(
            Req::post("/auth/logout")
                .cookie("refresh_token", "stale-refresh-token-value")
                .header("authorization", &format!("Bearer {stale_access}")),
        )
        .await;
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body["revoked"], false);
    assert_eq!(resp.body["signed_out_globally"], false);
    resp.assert_clears_every_cookie();
    // moto's GlobalSignOut error message quotes the access token.
    assert_not_logged(&["stale-refresh-token-value", stale_access]);
}

#[tokio::test]
async fn logout_with_nothing_to_revoke_answers_the_logout_url() {
    let h = Harness::start(Client::Public).await;
    let resp = h.call(Req::post("/auth/logout")).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body["revoked"], false);
    assert!(
        resp.body["logout_url"]
            .as_str()
            .unwrap()
            .contains("logout_uri=https%3A%2F%2Fapp.example.com%2Fsigned-out")
    );
    assert!(h.proxy.revoke_calls().is_empty());
}

/// Why `common::CognitoProxy` fakes RevokeToken: moto does not implement
/// it. When this fails, moto has caught up and the fake can go.
#[tokio::test]
async fn moto_still_answers_revoke_token_with_a_server_error() {
    let h = Harness::start(Client::Public).await;
    let tokens = h.pool.sign_in(&h.client_id, None).await;
    let err = h
        .pool
        .cognito
        .revoke_token()
        .token(&tokens.refresh_token)
        .client_id(&h.client_id)
        .send()
        .await
        .unwrap_err();
    let status = err.raw_response().map(|raw| raw.status().as_u16());
    assert_eq!(status, Some(500), "{err:?}");
}

#[tokio::test]
async fn logout_with_a_malformed_body_still_revokes_and_clears_every_cookie() {
    let h = Harness::start(Client::Public).await;
    let tokens = h.pool.sign_in(&h.client_id, None).await;
    let resp = h
        .call(
            Req::post("/auth/logout")
                .cookie("refresh_token", &tokens.refresh_token)
                .header("content-type", "application/json")
                .raw_body(&format!("{{\"refresh_token\": \"{}", tokens.refresh_token)),
        )
        .await;
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body["revoked"], true);
    resp.assert_clears_every_cookie();
    assert_eq!(
        h.proxy.revoke_calls(),
        [json!({"Token": tokens.refresh_token, "ClientId": h.client_id})]
    );
    resp.assert_holds_none(&[&tokens.refresh_token]);
    assert_not_logged(&[&tokens.refresh_token]);
}
