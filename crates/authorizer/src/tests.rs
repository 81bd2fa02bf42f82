//! Handler tests against an in-process JWKS: allow paths, every deny path,
//! the committed smoke cases, and what reaches the logs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use cognito_jwt::testing::{TestKey, access_claims, id_claims, jwks, now};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;

const CLIENT: &str = "client1";
const METHOD_ARN: &str = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/users/me";
const STAGE_ARN: &str = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*/*";

struct Fixture {
    _server: MockServer,
    state: State,
    key: TestKey,
}

async fn jwks_server(body: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/.well-known/jwks.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    server
}

async fn fixture_with(extra: &[(&str, &str)]) -> Fixture {
    let key = TestKey::primary();
    let server = jwks_server(jwks(&[&key])).await;
    let jwks_url = format!("{}/.well-known/jwks.json", server.uri());
    let mut env: Vec<(&str, &str)> = vec![
        ("USER_POOL_ID", "eu-west-1_TestPool1"),
        ("AWS_REGION", "eu-west-1"),
        ("APP_CLIENT_IDS", CLIENT),
        ("JWKS_URL", &jwks_url),
    ];
    env.extend_from_slice(extra);
    let config = Config::from_env(env.as_slice()).unwrap();
    Fixture {
        _server: server,
        state: State::new(config).unwrap(),
        key,
    }
}

/// The default configuration: the access-token cookie is the credential.
async fn fixture() -> Fixture {
    fixture_with(&[]).await
}

/// `CREDENTIAL_SOURCE=authorization`: `Authorization: Bearer` is the credential.
async fn bearer_fixture() -> Fixture {
    fixture_with(&[("CREDENTIAL_SOURCE", "authorization")]).await
}

impl Fixture {
    fn token(&self) -> String {
        self.key
            .sign(&access_claims(&self.state.verifier.config().issuer, CLIENT))
    }

    fn token_with(&self, key: &str, value: Value) -> String {
        let mut claims = access_claims(&self.state.verifier.config().issuer, CLIENT);
        claims[key] = value;
        self.key.sign(&claims)
    }

    /// A valid token of another user, in other groups.
    fn other_users_token(&self) -> String {
        let mut claims = access_claims(&self.state.verifier.config().issuer, CLIENT);
        claims["sub"] = json!("99999999-0000-0000-0000-000000000000");
        claims["username"] = json!("mallory");
        claims["cognito:groups"] = json!(["admin"]);
        self.key.sign(&claims)
    }

    async fn run(&self, event: Value) -> Result<Value, AuthorizerError> {
        handle(&self.state, event)
            .await
            .map(|response| serde_json::to_value(response).unwrap())
    }
}

fn token_event(authorization: &str) -> Value {
    json!({"type": "TOKEN", "authorizationToken": authorization, "methodArn": METHOD_ARN})
}

fn request_event(headers: Value) -> Value {
    json!({
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "resource": "/users/me",
        "path": "/users/me",
        "httpMethod": "GET",
        "headers": headers,
        "queryStringParameters": {},
        "pathParameters": {},
        "stageVariables": {},
        "requestContext": {
            "path": "/prod/users/me", "accountId": "123456789012", "resourceId": "r1",
            "stage": "prod", "requestId": "req-1", "resourcePath": "/users/me",
            "httpMethod": "GET", "apiId": "abc123",
            "identity": {"sourceIp": "203.0.113.9"}
        }
    })
}

fn http_event(headers: Value, cookies: Value) -> Value {
    json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:eu-west-1:123456789012:abc123/$default/GET/users/me",
        "identitySource": ["$request.header.Authorization"],
        "routeKey": "GET /users/me",
        "rawPath": "/users/me",
        "rawQueryString": "",
        "cookies": cookies,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": "api.example.com",
            "domainPrefix": "api", "requestId": "req-2", "routeKey": "GET /users/me",
            "stage": "$default", "time": "28/Nov/2026:05:00:00 +0000", "timeEpoch": 1_795_842_000_000_i64,
            "http": {"method": "GET", "path": "/users/me", "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.9", "userAgent": "test"}
        }
    })
}

fn assert_unauthorized(result: Result<Value, AuthorizerError>) {
    match result {
        Err(AuthorizerError::Unauthorized) => {}
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}

fn assert_http_denied(result: Result<Value, AuthorizerError>) {
    assert_eq!(result.unwrap(), json!({"isAuthorized": false}));
}

#[tokio::test]
async fn rest_token_event_with_valid_token_gets_an_allow_policy_for_the_stage() {
    let f = bearer_fixture().await;
    let response = f
        .run(token_event(&format!("Bearer {}", f.token())))
        .await
        .unwrap();
    assert_eq!(
        response,
        json!({
            "principalId": "11111111-2222-3333-4444-555555555555",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [STAGE_ARN]}]
            },
            "context": {
                "sub": "11111111-2222-3333-4444-555555555555",
                "username": "alice",
                "groups": "[\"admin\",\"staff\"]",
                "scopes": "aws.cognito.signin.user.admin openid",
                "token_use": "access",
                "credential": "authorization"
            }
        })
    );
}

#[tokio::test]
async fn lowercase_bearer_scheme_is_accepted() {
    let f = bearer_fixture().await;
    let response = f
        .run(token_event(&format!("bearer {}", f.token())))
        .await
        .unwrap();
    assert_eq!(
        response["policyDocument"]["Statement"][0]["Effect"],
        "Allow"
    );
}

#[tokio::test]
async fn rest_request_event_with_authorization_header_is_allowed() {
    let f = bearer_fixture().await;
    let event = request_event(json!({"Authorization": format!("Bearer {}", f.token())}));
    let response = f.run(event).await.unwrap();
    assert_eq!(
        response["principalId"],
        "11111111-2222-3333-4444-555555555555"
    );
    assert_eq!(
        response["policyDocument"]["Statement"][0]["Resource"][0],
        STAGE_ARN
    );
}

#[tokio::test]
async fn rest_request_event_with_the_access_token_cookie_is_allowed() {
    let f = fixture().await;
    let event = request_event(json!({"Cookie": format!("theme=dark; access_token={}", f.token())}));
    let response = f.run(event).await.unwrap();
    assert_eq!(response["context"]["username"], "alice");
    assert_eq!(response["context"]["credential"], "cookie");
}

#[tokio::test]
async fn configured_cookie_name_is_the_one_read() {
    let f = fixture_with(&[("ACCESS_TOKEN_COOKIE", "at")]).await;
    let default_name = request_event(json!({"Cookie": format!("access_token={}", f.token())}));
    assert_unauthorized(f.run(default_name).await);
    let configured = request_event(json!({"Cookie": format!("at={}", f.token())}));
    assert!(f.run(configured).await.is_ok());
}

#[tokio::test]
async fn http_api_event_with_valid_token_is_authorized_with_context() {
    let f = bearer_fixture().await;
    let event = http_event(
        json!({"authorization": format!("Bearer {}", f.token())}),
        json!([]),
    );
    let response = f.run(event).await.unwrap();
    assert_eq!(response["isAuthorized"], true);
    assert_eq!(
        response["context"]["sub"],
        "11111111-2222-3333-4444-555555555555"
    );
    assert_eq!(response["context"]["groups"], "[\"admin\",\"staff\"]");
}

#[tokio::test]
async fn http_api_event_with_the_cookie_is_authorized() {
    let f = fixture().await;
    let event = http_event(json!({}), json!([format!("access_token={}", f.token())]));
    assert_eq!(f.run(event).await.unwrap()["isAuthorized"], true);
}

#[tokio::test]
async fn context_is_what_the_api_gateway_crate_reads_as_the_identity() {
    let f = bearer_fixture().await;
    let event = http_event(
        json!({"authorization": format!("Bearer {}", f.token())}),
        json!([]),
    );
    let context = f.run(event).await.unwrap()["context"].clone();
    let authorizer = serde_json::from_value(json!({ "lambda": context })).unwrap();
    let identity = api_gateway::Identity::from_authorizer(&authorizer).unwrap();
    assert_eq!(identity.sub, "11111111-2222-3333-4444-555555555555");
    assert_eq!(identity.username.as_deref(), Some("alice"));
    assert_eq!(identity.groups, ["admin", "staff"]);
    assert_eq!(identity.scopes, ["aws.cognito.signin.user.admin", "openid"]);
    assert_eq!(identity.token_use.as_deref(), Some("access"));
    assert_eq!(identity.credential, Some(CredentialSource::Authorization));
}

#[tokio::test]
async fn group_names_with_commas_reach_the_functions_unchanged_in_both_payloads() {
    let f = fixture().await;
    let groups = ["sales,admin", "a b", "[staff]", "admin\"x"];
    let token = f.token_with("cognito:groups", json!(groups));
    let cookie = format!("access_token={token}");
    let rest = f
        .run(request_event(json!({"Cookie": cookie})))
        .await
        .unwrap();
    let http = f.run(http_event(json!({}), json!([cookie]))).await.unwrap();
    // The events the functions then get, with the context where each API puts it.
    let rest_event = json!({
        "resource": "/users/me", "path": "/users/me", "httpMethod": "GET", "headers": {},
        "requestContext": {"httpMethod": "GET", "stage": "prod", "requestId": "r", "identity": {"sourceIp": "203.0.113.9"},
                           "authorizer": rest["context"]}
    });
    let http_event = json!({
        "version": "2.0", "rawPath": "/users/me", "rawQueryString": "", "headers": {},
        "requestContext": {"http": {"method": "GET", "path": "/users/me", "protocol": "HTTP/1.1",
                                    "sourceIp": "203.0.113.9", "userAgent": "t"},
                           "requestId": "r", "routeKey": "GET /users/me", "stage": "$default", "timeEpoch": 0,
                           "authorizer": {"lambda": http["context"]}}
    });
    for event in [rest_event, http_event] {
        let request = api_gateway::GatewayRequest::from_event(event).unwrap();
        let identity = request.identity.unwrap();
        assert_eq!(identity.groups, groups);
        // "sales,admin" is one group: its holder is not an admin.
        assert!(!identity.is_in_group("admin"));
        assert!(!identity.is_in_group("sales"));
        assert!(identity.is_in_group("sales,admin"));
    }
}

/// Tokens that must be denied, wherever they come from.
fn bad_tokens(f: &Fixture) -> Vec<(&'static str, String)> {
    let valid = f.token();
    let parts: Vec<&str> = valid.split('.').collect();
    let mut tampered = parts[2].to_owned().into_bytes();
    tampered[4] = if tampered[4] == b'A' { b'B' } else { b'A' };
    let other_key = TestKey::from_pem("test-key-1", cognito_jwt::testing::TEST_KEY_2_PEM);
    let issuer = f.state.verifier.config().issuer.clone();
    vec![
        ("garbage", "garbage".to_owned()),
        ("three dots", "...".to_owned()),
        (
            "tampered signature",
            format!(
                "{}.{}.{}",
                parts[0],
                parts[1],
                String::from_utf8(tampered).unwrap()
            ),
        ),
        (
            "signed by another key",
            other_key.sign(&access_claims(&issuer, CLIENT)),
        ),
        ("expired", f.token_with("exp", json!(now() - 3600))),
        ("not yet valid", f.token_with("nbf", json!(now() + 3600))),
        ("wrong client", f.token_with("client_id", json!("other"))),
        (
            "wrong issuer",
            f.token_with("iss", json!("https://evil.example.com/pool")),
        ),
        ("issuer array", f.token_with("iss", json!([issuer.clone()]))),
        (
            "issuer array with evil first",
            f.token_with("iss", json!(["https://evil.example", issuer.clone()])),
        ),
        (
            "client id array",
            f.token_with("client_id", json!([CLIENT])),
        ),
        ("token_use null", f.token_with("token_use", Value::Null)),
        ("id token", f.key.sign(&id_claims(&issuer, CLIENT))),
        ("oversized", "a".repeat(cognito_jwt::MAX_TOKEN_BYTES + 1)),
    ]
}

/// Authorization values that must be denied, whatever the payload format.
fn bad_authorizations(f: &Fixture) -> Vec<(&'static str, String)> {
    let valid = f.token();
    let mut cases = vec![
        ("bearer missing", valid.clone()),
        ("bearer doubled", format!("Bearer Bearer {valid}")),
        ("basic scheme", "Basic YWxpY2U6c2VjcmV0".to_owned()),
        ("empty", String::new()),
        ("bearer without token", "Bearer ".to_owned()),
    ];
    cases.extend(
        bad_tokens(f)
            .into_iter()
            .map(|(name, token)| (name, format!("Bearer {token}"))),
    );
    cases
}

#[tokio::test]
async fn rest_token_deny_paths_are_unauthorized() {
    let f = bearer_fixture().await;
    for (name, authorization) in bad_authorizations(&f) {
        match f.run(token_event(&authorization)).await {
            Err(AuthorizerError::Unauthorized) => {}
            other => panic!("{name}: expected Unauthorized, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn rest_request_deny_paths_are_unauthorized() {
    let f = bearer_fixture().await;
    for (name, authorization) in bad_authorizations(&f) {
        let event = request_event(json!({"Authorization": authorization}));
        match f.run(event).await {
            Err(AuthorizerError::Unauthorized) => {}
            other => panic!("{name}: expected Unauthorized, got {other:?}"),
        }
    }
    assert_unauthorized(f.run(request_event(json!({}))).await);
}

#[tokio::test]
async fn http_api_deny_paths_are_not_authorized() {
    let f = bearer_fixture().await;
    for (name, authorization) in bad_authorizations(&f) {
        let event = http_event(json!({"authorization": authorization}), json!([]));
        let response = f
            .run(event)
            .await
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(response, json!({"isAuthorized": false}), "{name}");
    }
    assert_http_denied(f.run(http_event(json!({}), json!(["other=1"]))).await);
}

#[tokio::test]
async fn the_same_bad_tokens_in_the_cookie_are_denied_too() {
    let f = fixture().await;
    for (name, token) in bad_tokens(&f) {
        let cookie = format!("access_token={token}");
        match f
            .run(request_event(json!({"Cookie": cookie.clone()})))
            .await
        {
            Err(AuthorizerError::Unauthorized) => {}
            other => panic!("{name}: expected Unauthorized, got {other:?}"),
        }
        assert_http_denied(f.run(http_event(json!({}), json!([cookie]))).await);
    }
}

/// What the handler answered, comparable across events: the allow
/// response, or the denial.
async fn outcome(f: &Fixture, event: Value) -> Value {
    match f.run(event).await {
        Ok(response) => response,
        Err(err) => json!({"error": err.to_string()}),
    }
}

#[tokio::test]
async fn one_cookie_with_different_bearers_always_gets_the_cookies_identity() {
    let f = fixture().await;
    let cookie = format!("access_token={}", f.token());
    let bearers = [
        None,
        Some(format!("Bearer {}", f.other_users_token())),
        Some("Bearer garbage".to_owned()),
    ];
    let mut rest = Vec::new();
    let mut http = Vec::new();
    for bearer in &bearers {
        let mut headers = json!({"Cookie": cookie});
        if let Some(bearer) = bearer {
            headers["Authorization"] = json!(bearer);
        }
        rest.push(outcome(&f, request_event(headers)).await);
        let v2_headers = match bearer {
            Some(bearer) => json!({"authorization": bearer}),
            None => json!({}),
        };
        http.push(outcome(&f, http_event(v2_headers, json!([cookie]))).await);
    }
    for answer in &rest {
        assert_eq!(answer, &rest[0]);
        assert_eq!(
            answer["principalId"],
            "11111111-2222-3333-4444-555555555555"
        );
        assert_eq!(answer["context"]["username"], "alice");
    }
    for answer in &http {
        assert_eq!(answer, &http[0]);
        assert_eq!(answer["context"]["username"], "alice");
    }
}

#[tokio::test]
async fn an_invalid_cookie_is_denied_even_next_to_a_valid_bearer() {
    let f = fixture().await;
    let bearer = format!("Bearer {}", f.other_users_token());
    for cookie in ["access_token=garbage", "theme=dark"] {
        let headers = json!({"Cookie": cookie, "Authorization": bearer});
        assert_unauthorized(f.run(request_event(headers)).await);
        assert_http_denied(
            f.run(http_event(
                json!({"authorization": bearer}),
                json!([cookie]),
            ))
            .await,
        );
        let token = json!({"type": "TOKEN", "authorizationToken": bearer, "methodArn": METHOD_ARN});
        assert_unauthorized(f.run(token).await);
    }
}

#[tokio::test]
async fn one_bearer_with_different_cookies_always_gets_the_bearers_identity() {
    let f = bearer_fixture().await;
    let bearer = format!("Bearer {}", f.token());
    let mut answers = Vec::new();
    for cookie in [
        None,
        Some(format!("access_token={}", f.other_users_token())),
        Some("access_token=garbage".to_owned()),
    ] {
        let mut headers = json!({"Authorization": bearer});
        if let Some(cookie) = &cookie {
            headers["Cookie"] = json!(cookie);
        }
        answers.push(outcome(&f, request_event(headers)).await);
    }
    for answer in &answers {
        assert_eq!(answer, &answers[0]);
        assert_eq!(answer["context"]["username"], "alice");
    }
    // And an invalid bearer is not rescued by a valid cookie.
    let headers =
        json!({"Authorization": "Bearer garbage", "Cookie": format!("access_token={}", f.token())});
    assert_unauthorized(f.run(request_event(headers)).await);
}

/// API Gateway caches the answer on the identity source's value alone
/// (Terraform derives `identity_source` from the same `CREDENTIAL_SOURCE`):
/// so for one value, every other part of the request must not matter.
#[tokio::test]
async fn the_answer_depends_on_the_identity_source_value_alone() {
    for source in ["cookie", "authorization"] {
        let f = fixture_with(&[("CREDENTIAL_SOURCE", source)]).await;
        let tokens = [
            f.token(),
            f.other_users_token(),
            "garbage".to_owned(),
            f.token_with("exp", json!(now() - 3600)),
        ];
        let identity_values: Vec<Option<String>> = tokens
            .iter()
            .map(|token| {
                Some(match source {
                    "cookie" => format!("theme=dark; access_token={token}"),
                    _ => format!("Bearer {token}"),
                })
            })
            .chain([None])
            .collect();
        // The other credential: absent, valid for another user, valid for
        // the same user, garbage.
        let others = [
            None,
            Some(f.other_users_token()),
            Some(f.token()),
            Some("garbage".to_owned()),
        ];
        for identity in &identity_values {
            let mut seen: Option<Value> = None;
            for other in &others {
                for (route, extra_header) in [("GET/users/me", "a"), ("DELETE/users/u-1", "b")] {
                    let mut headers = json!({"User-Agent": extra_header, "X-Other": extra_header});
                    let (own, other_name) = match source {
                        "cookie" => ("Cookie", "Authorization"),
                        _ => ("Authorization", "Cookie"),
                    };
                    if let Some(identity) = identity {
                        headers[own] = json!(identity);
                    }
                    if let Some(other) = other {
                        headers[other_name] = json!(match source {
                            "cookie" => format!("Bearer {other}"),
                            _ => format!("access_token={other}"),
                        });
                    }
                    let mut event = request_event(headers);
                    event["methodArn"] = json!(format!(
                        "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/{route}"
                    ));
                    event["queryStringParameters"] = json!({"q": extra_header});
                    let answer = outcome(&f, event).await;
                    match &seen {
                        None => seen = Some(answer),
                        Some(first) => assert_eq!(
                            &answer, first,
                            "CREDENTIAL_SOURCE={source}: the answer changed with the {other_name} \
                             header or another part of the request"
                        ),
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn nothing_secret_is_logged_at_trace_on_any_allow_or_deny_path() {
    let logs = lambda_logging::capture_global("trace");
    let mut secrets = Vec::new();
    for source in ["cookie", "authorization"] {
        let f = fixture_with(&[("CREDENTIAL_SOURCE", source)]).await;
        let mut tokens: Vec<String> = bad_tokens(&f).into_iter().map(|(_, t)| t).collect();
        tokens.push(f.token());
        tokens.push(f.other_users_token());
        for token in &tokens {
            let cookie = format!("access_token={token}");
            let bearer = format!("Bearer {token}");
            f.run(request_event(
                json!({"Cookie": cookie, "Authorization": bearer}),
            ))
            .await
            .ok();
            f.run(http_event(
                json!({"authorization": bearer}),
                json!([cookie]),
            ))
            .await
            .ok();
            f.run(json!({"type": "TOKEN", "authorizationToken": bearer, "methodArn": METHOD_ARN}))
                .await
                .ok();
            // Each part of a JWT is a secret of its own (the payload names
            // the user, the signature proves the token).
            secrets.extend(token.split('.').filter(|p| p.len() >= 8).map(str::to_owned));
        }
    }
    assert!(
        logs.contents().contains("request denied"),
        "the capture works"
    );
    logs.assert_holds_none(&secrets);
}

#[tokio::test]
async fn token_event_without_authorization_token_is_unauthorized() {
    let f = fixture().await;
    assert_unauthorized(
        f.run(json!({"type": "TOKEN", "methodArn": METHOD_ARN}))
            .await,
    );
}

#[tokio::test]
async fn valid_token_with_a_malformed_method_arn_is_unauthorized() {
    let f = bearer_fixture().await;
    let event = json!({
        "type": "TOKEN",
        "authorizationToken": format!("Bearer {}", f.token()),
        "methodArn": "arn:aws:lambda:eu-west-1:123456789012:function:x"
    });
    assert_unauthorized(f.run(event).await);
    let event = json!({"type": "TOKEN", "authorizationToken": format!("Bearer {}", f.token())});
    assert_unauthorized(f.run(event).await);
}

#[tokio::test]
async fn unknown_event_shapes_are_unauthorized() {
    let f = fixture().await;
    let token = f.token();
    for event in [
        json!({}),
        json!({"authorizationToken": format!("Bearer {token}"), "methodArn": METHOD_ARN}),
        json!({"type": "token", "authorizationToken": format!("Bearer {token}"), "methodArn": METHOD_ARN}),
        json!({"version": "2.0", "type": "TOKEN_V2", "headers": {"authorization": format!("Bearer {token}")}}),
        json!({"type": "REQUEST", "headers": "not a map", "requestContext": {}}),
        json!(null),
    ] {
        assert_unauthorized(f.run(event).await);
    }
}

#[tokio::test]
async fn configured_payload_format_refuses_the_other_formats() {
    let f = fixture_with(&[
        ("AUTHORIZER_PAYLOAD", "token"),
        ("CREDENTIAL_SOURCE", "authorization"),
    ])
    .await;
    let bearer = format!("Bearer {}", f.token());
    assert!(f.run(token_event(&bearer)).await.is_ok());
    assert_unauthorized(
        f.run(request_event(json!({"Authorization": bearer.clone()})))
            .await,
    );
    assert_unauthorized(
        f.run(http_event(json!({"authorization": bearer}), json!([])))
            .await,
    );
}

#[tokio::test]
async fn jwks_down_at_cold_start_denies() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let jwks_url = format!("{}/.well-known/jwks.json", server.uri());
    let env = [
        ("USER_POOL_ID", "eu-west-1_TestPool1"),
        ("AWS_REGION", "eu-west-1"),
        ("APP_CLIENT_IDS", CLIENT),
        ("JWKS_URL", jwks_url.as_str()),
        ("CREDENTIAL_SOURCE", "authorization"),
    ];
    let state = State::new(Config::from_env(env.as_slice()).unwrap()).unwrap();
    let token = TestKey::primary().sign(&access_claims(&state.verifier.config().issuer, CLIENT));
    let result = handle(&state, token_event(&format!("Bearer {token}"))).await;
    assert!(matches!(result, Err(AuthorizerError::Unauthorized)));
}

#[test]
fn unauthorized_is_reported_to_lambda_with_the_exact_message_api_gateway_expects() {
    let diagnostic = lambda_runtime::Diagnostic::from(AuthorizerError::Unauthorized);
    let value = serde_json::to_value(&diagnostic).unwrap();
    assert_eq!(
        value,
        json!({"errorType": "Unauthorized", "errorMessage": "Unauthorized"})
    );
}

#[tokio::test]
async fn deny_reason_is_logged_at_info_without_the_token() {
    let f = bearer_fixture().await;
    let expired = f.token_with("exp", json!(now() - 3600));
    let logs = lambda_logging::CapturedLogs::default();
    let subscriber = lambda_logging::json_subscriber(
        lambda_logging::level_filter(Some("info"), None),
        logs.clone(),
    );
    let _guard = tracing::subscriber::set_default(subscriber);
    assert_unauthorized(f.run(token_event(&format!("Bearer {expired}"))).await);
    assert_unauthorized(
        f.run(request_event(
            json!({"Authorization": format!("Bearer {expired}x")}),
        ))
        .await,
    );
    drop(_guard);

    let text = logs.contents();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|line: &Value| line["decision"] == "deny")
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["level"], "INFO");
    assert_eq!(lines[0]["reason"], "expired");
    assert_eq!(lines[0]["payload"], "token");
    assert_eq!(lines[1]["payload"], "request");
    for part in expired.split('.') {
        assert!(
            !text.contains(part),
            "token part leaked into the logs: {text}"
        );
    }
}

// ---- smoke.json: the canned events the packaged artifact must answer ----

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn smoke() -> Value {
    let text = std::fs::read_to_string(crate_dir().join("smoke.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// `expected` is a JSON subset of `actual`, as docs/artifacts.md section 4
/// defines it: object keys recursively, everything else (arrays included) equal.
fn is_subset(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(want), Value::Object(have)) => want
            .iter()
            .all(|(key, value)| have.get(key).is_some_and(|got| is_subset(value, got))),
        _ => expected == actual,
    }
}

#[test]
fn subset_matching_follows_the_smoke_contract() {
    let actual = json!({"a": 1, "b": {"c": [1, 2], "d": "x"}});
    assert!(is_subset(&json!({"b": {"d": "x"}}), &actual));
    assert!(!is_subset(&json!({"b": {"c": [1]}}), &actual));
    assert!(!is_subset(&json!({"e": null}), &actual));
}

#[test]
fn smoke_jwks_holds_the_public_half_of_the_test_key() {
    let text = std::fs::read_to_string(crate_dir().join("smoke/jwks.json")).unwrap();
    let committed: Value = serde_json::from_str(&text).unwrap();
    let expected = jwks(&[&TestKey::primary()]);
    assert_eq!(committed["keys"][0]["n"], expected["keys"][0]["n"]);
    assert_eq!(committed["keys"][0]["e"], expected["keys"][0]["e"]);
    assert_eq!(committed["keys"][0]["kid"], "test-key-1");
}

#[tokio::test]
async fn smoke_cases_pass_against_the_handler() {
    let smoke = smoke();
    // Serve `files` like the emulator's static server does.
    let server = MockServer::start().await;
    for (url_path, file) in smoke["files"].as_object().unwrap() {
        let body = std::fs::read(crate_dir().join(file.as_str().unwrap())).unwrap();
        Mock::given(method("GET"))
            .and(path(url_path.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
            .mount(&server)
            .await;
    }
    let env: Vec<(String, String)> = smoke["env"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(key, value)| {
            let value = value
                .as_str()
                .unwrap()
                .replace("{{static_url}}", &server.uri());
            (key.clone(), value)
        })
        .collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let state = State::new(Config::from_env(env.as_slice()).unwrap()).unwrap();

    let cases = smoke["cases"].as_array().unwrap();
    assert!(cases.iter().any(|case| case.get("expect").is_some()));
    assert!(cases.iter().any(|case| case.get("expect_error").is_some()));
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let result = handle(&state, case["event"].clone()).await;
        match (case.get("expect"), case.get("expect_error"), result) {
            (Some(expect), None, Ok(response)) => {
                let response = serde_json::to_value(response).unwrap();
                assert!(is_subset(expect, &response), "{name}: got {response}");
            }
            (None, Some(expect), Err(err)) => {
                let diagnostic =
                    serde_json::to_value(lambda_runtime::Diagnostic::from(err)).unwrap();
                assert!(is_subset(expect, &diagnostic), "{name}: got {diagnostic}");
            }
            (_, _, result) => panic!("{name}: unexpected outcome {result:?}"),
        }
    }
}
