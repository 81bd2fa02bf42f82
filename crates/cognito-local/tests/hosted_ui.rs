//! The stand-in in front of moto's Cognito: the authorization code flow
//! with PKCE, refresh, logout and RevokeToken, as the auth function and a
//! browser use them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::config::Builder;
use aws_sdk_cognitoidentityprovider::types::{
    AttributeType, AuthFlowType, ExplicitAuthFlowsType, MessageActionType, OAuthFlowType,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cognito_local::{CognitoLocal, CognitoLocalConfig};
use moto_harness::SharedMoto;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

const CALLBACK: &str = "http://api.test.localhost:9/auth/callback";
const SIGNED_OUT: &str = "http://app.test.localhost:9/";
const PASSWORD: &str = "Local-Passw0rd!";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

struct Setup {
    _moto: SharedMoto,
    standin: CognitoLocal,
    client_id: String,
    sdk_config: aws_config::SdkConfig,
    http: reqwest::Client,
}

async fn setup() -> Setup {
    let moto = SharedMoto::acquire().unwrap();
    let sdk_config = moto.sdk_config().await;
    let cognito = Client::new(&sdk_config);
    let pool_id = cognito
        .create_user_pool()
        .pool_name(format!("standin-{}", std::process::id()))
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let client_id = cognito
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("web")
        .generate_secret(false)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .allowed_o_auth_flows(OAuthFlowType::Code)
        .callback_urls(CALLBACK)
        .logout_urls(SIGNED_OUT)
        .read_attributes("email")
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap();
    cognito
        .admin_create_user()
        .user_pool_id(&pool_id)
        .username("alice")
        .temporary_password("Temp-Passw0rd!")
        .message_action(MessageActionType::Suppress)
        .user_attributes(
            AttributeType::builder()
                .name("email")
                .value("alice@example.com")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    cognito
        .admin_set_user_password()
        .user_pool_id(&pool_id)
        .username("alice")
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .unwrap();
    let standin = CognitoLocal::start(CognitoLocalConfig {
        moto_url: moto.endpoint_url(),
        user_pool_id: pool_id,
        port: 0,
    })
    .await
    .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Setup {
        _moto: moto,
        standin,
        client_id,
        sdk_config,
        http,
    }
}

fn with_query(url: &str, pairs: &[(&str, String)]) -> String {
    format!("{url}?{}", serde_urlencoded::to_string(pairs).unwrap())
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

impl Setup {
    fn authorize_query(&self, redirect: &str, with_pkce: bool) -> Vec<(&'static str, String)> {
        let mut query = vec![
            ("response_type", "code".to_owned()),
            ("client_id", self.client_id.clone()),
            ("redirect_uri", redirect.to_owned()),
            ("scope", "openid email".to_owned()),
            ("state", "st-1".to_owned()),
        ];
        if with_pkce {
            query.push(("code_challenge", challenge(VERIFIER)));
            query.push(("code_challenge_method", "S256".to_owned()));
        }
        query
    }

    /// Authorize, then post the form; returns the redirect back.
    async fn sign_in(&self, password: &str) -> reqwest::Response {
        let query = self.authorize_query(CALLBACK, true);
        let response = self
            .http
            .get(with_query(
                &format!("{}/oauth2/authorize", self.standin.url()),
                &query,
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302);
        assert!(location(&response).starts_with("/login?"));
        let page = self
            .http
            .get(format!("{}{}", self.standin.url(), location(&response)))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("id=\"username\""), "{page}");
        let mut form: Vec<(&str, String)> = query;
        form.push(("username", "alice".into()));
        form.push(("password", password.into()));
        self.http
            .post(format!("{}/login", self.standin.url()))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    async fn token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/oauth2/token", self.standin.url()))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert_eq!(response.headers()["cache-control"], "no-store");
        (status, response.json().await.unwrap())
    }

    /// `authorization_code` at the token endpoint.
    async fn exchange(&self, code: &str, redirect_uri: &str, verifier: &str) -> (u16, Value) {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &self.client_id),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ])
        .await
    }

    async fn code(&self) -> String {
        let back = self.sign_in(PASSWORD).await;
        assert_eq!(back.status(), 302);
        let location = location(&back);
        assert!(location.starts_with(CALLBACK), "{location}");
        assert_eq!(query_param(&location, "state").as_deref(), Some("st-1"));
        query_param(&location, "code").unwrap()
    }
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn the_code_flow_with_pkce_gives_tokens_moto_signed() {
    let s = setup().await;
    let code = s.code().await;
    let (status, tokens) = s.exchange(&code, CALLBACK, VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], s.client_id.as_str());
    assert_eq!(id["email"], "alice@example.com");
    assert_eq!(id["token_use"], "id");
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["client_id"], s.client_id.as_str());
    assert!(tokens["refresh_token"].is_string());
    assert_eq!(tokens["token_type"], "Bearer");

    // A code is good once.
    let (status, body) = s.exchange(&code, CALLBACK, VERIFIER).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn a_wrong_verifier_or_redirect_uri_is_invalid_grant() {
    let s = setup().await;
    let wrong_verifier = "x".repeat(43);
    for (verifier, redirect) in [
        (wrong_verifier.as_str(), CALLBACK),
        (VERIFIER, "http://api.test.localhost:9/elsewhere"),
    ] {
        let code = s.code().await;
        let (status, body) = s.exchange(&code, redirect, verifier).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
    }
    let (status, body) = s
        .token(&[("grant_type", "password"), ("client_id", &s.client_id)])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, body) = s.token(&[("grant_type", "authorization_code")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
}

#[tokio::test]
async fn authorize_refuses_unknown_clients_unregistered_redirects_and_missing_pkce() {
    let s = setup().await;
    let url = format!("{}/oauth2/authorize", s.standin.url());
    let unregistered = s
        .http
        .get(with_query(
            &url,
            &s.authorize_query("http://evil.example/cb", true),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(unregistered.status(), 400);
    assert!(
        unregistered
            .text()
            .await
            .unwrap()
            .contains("redirect_mismatch")
    );
    let mut unknown = s.authorize_query(CALLBACK, true);
    unknown[1].1 = "nosuchclient".into();
    let response = s.http.get(with_query(&url, &unknown)).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let no_pkce = s
        .http
        .get(with_query(&url, &s.authorize_query(CALLBACK, false)))
        .send()
        .await
        .unwrap();
    assert_eq!(no_pkce.status(), 302);
    let back = location(&no_pkce);
    assert!(back.starts_with(CALLBACK));
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query_param(&back, "state").as_deref(), Some("st-1"));
}

#[tokio::test]
async fn a_wrong_password_shows_the_form_again_without_a_code() {
    let s = setup().await;
    let response = s.sign_in("not-the-password").await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("Incorrect username or password."), "{page}");
}

#[tokio::test]
async fn revoked_refresh_tokens_stop_working_everywhere() {
    let s = setup().await;
    let code = s.code().await;
    let (_, tokens) = s.exchange(&code, CALLBACK, VERIFIER).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, refreshed) = s
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", &s.client_id),
            ("refresh_token", &refresh),
        ])
        .await;
    assert_eq!(status, 200, "{refreshed}");
    assert!(refreshed.get("refresh_token").is_none());

    // The auth function's SDK client, pointed at the stand-in.
    let sdk = Client::from_conf(
        Builder::from(&s.sdk_config)
            .endpoint_url(s.standin.url())
            .build(),
    );
    sdk.revoke_token()
        .token(&refresh)
        .client_id(&s.client_id)
        .send()
        .await
        .unwrap();
    assert!(s.standin.is_revoked(&refresh));
    let (status, body) = s
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", &s.client_id),
            ("refresh_token", &refresh),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let err = sdk
        .initiate_auth()
        .client_id(&s.client_id)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", &refresh)
        .send()
        .await
        .unwrap_err();
    assert!(
        format!("{:?}", err.into_service_error()).contains("NotAuthorized"),
        "refresh after revoke must be NotAuthorized"
    );
    // Other operations reach moto.
    let user = sdk
        .get_user()
        .access_token(refreshed["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(user.username(), "alice");
    assert_eq!(
        s.standin.operations(),
        ["RevokeToken", "InitiateAuth", "GetUser"]
    );
}

#[tokio::test]
async fn logout_goes_back_to_registered_sign_out_urls_only() {
    let s = setup().await;
    let url = format!("{}/logout", s.standin.url());
    let ok = s
        .http
        .get(with_query(
            &url,
            &[
                ("client_id", s.client_id.clone()),
                ("logout_uri", SIGNED_OUT.to_owned()),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 302);
    assert_eq!(location(&ok), SIGNED_OUT);
    let refused = s
        .http
        .get(with_query(
            &url,
            &[
                ("client_id", s.client_id.clone()),
                ("logout_uri", "http://evil.example/".to_owned()),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
}
