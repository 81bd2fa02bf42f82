//! Test support for the auth function.
//!
//! - moto (one serial server per test binary) plays DynamoDB, Secrets
//!   Manager and Cognito Identity Provider: a user pool, app clients with
//!   and without a secret, a user with real refresh and access tokens.
//! - moto's `RevokeToken` answers 500 (not implemented in moto 5.x), so
//!   Cognito calls go through [`CognitoProxy`]: it answers `RevokeToken`
//!   itself (recording the request) and forwards every other call to moto.
//! - wiremock plays the hosted UI's token endpoint and the pool's JWKS;
//!   ID tokens are signed with `cognito_jwt::testing::TestKey`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth::{Config, Deps};
use aws_sdk_cognitoidentityprovider::types::{AttributeType, AuthFlowType, ExplicitAuthFlowsType};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cognito_jwt::testing::{self, TestKey};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use lambda_logging::CapturedLogs;
use moto_harness::SharedMoto;
use serde_json::{Map, Value, json};
use wiremock::MockServer;

pub const SCHEMA: &str = include_str!("../../../../terraform/schema/dynamodb.json");
pub const REGION: &str = "us-east-1";
pub const APP_URL: &str = "https://app.example.com/home";
pub const APP_ORIGIN: &str = "https://app.example.com";
pub const REDIRECT_URI: &str = "https://api.example.com/prod/auth/callback";
pub const LOGOUT_URI: &str = "https://app.example.com/signed-out";
/// Base64 of 32 bytes.
pub const COOKIE_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
pub const PASSWORD: &str = "Perm-pass1!";

/// The test binary's log capture: the subscriber the function installs,
/// with `RUST_LOG=trace` (the most an operator can ask for): every scenario
/// of the suite runs under it, and [`Harness::call`] searches it for the
/// secrets each request and response carried.
pub fn logs() -> &'static CapturedLogs {
    lambda_logging::capture_global("trace")
}

/// Asserts that none of `secrets` is in the captured logs.
pub fn assert_not_logged(secrets: &[&str]) {
    logs().assert_holds_none(secrets.iter().filter(|s| !s.is_empty()));
}

pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A Cognito user pool in moto with one user and two app clients.
pub struct Pool {
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub pool_id: String,
    pub secret_client: (String, String),
    pub public_client: String,
    pub username: String,
}

/// Tokens moto issued for the user.
#[derive(Debug, Clone)]
pub struct MotoTokens {
    pub access_token: String,
    pub refresh_token: String,
}

impl Pool {
    pub async fn create(moto: &SharedMoto) -> Self {
        let cognito = aws_sdk_cognitoidentityprovider::Client::new(&moto.sdk_config().await);
        let pool_id = cognito
            .create_user_pool()
            .pool_name(unique("pool"))
            .send()
            .await
            .unwrap()
            .user_pool
            .unwrap()
            .id
            .unwrap();
        let flows = [
            ExplicitAuthFlowsType::AllowUserPasswordAuth,
            ExplicitAuthFlowsType::AllowRefreshTokenAuth,
        ];
        let secret_client = cognito
            .create_user_pool_client()
            .user_pool_id(&pool_id)
            .client_name("web-with-secret")
            .generate_secret(true)
            .set_explicit_auth_flows(Some(flows.to_vec()))
            .send()
            .await
            .unwrap()
            .user_pool_client
            .unwrap();
        let public_client = cognito
            .create_user_pool_client()
            .user_pool_id(&pool_id)
            .client_name("web-public")
            .generate_secret(false)
            .set_explicit_auth_flows(Some(flows.to_vec()))
            .send()
            .await
            .unwrap()
            .user_pool_client
            .unwrap();
        let username = "alice".to_owned();
        cognito
            .admin_create_user()
            .user_pool_id(&pool_id)
            .username(&username)
            .temporary_password("Temp-pass1!")
            .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
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
            .username(&username)
            .password(PASSWORD)
            .permanent(true)
            .send()
            .await
            .unwrap();
        Self {
            cognito,
            pool_id,
            secret_client: (
                secret_client.client_id.unwrap(),
                secret_client.client_secret.unwrap(),
            ),
            public_client: public_client.client_id.unwrap(),
            username,
        }
    }

    pub fn issuer(&self) -> String {
        format!(
            "https://cognito-idp.{REGION}.amazonaws.com/{}",
            self.pool_id
        )
    }

    /// Signs the user in with a password (what the hosted UI does) and
    /// returns moto's real tokens.
    pub async fn sign_in(&self, client_id: &str, client_secret: Option<&str>) -> MotoTokens {
        let mut request = self
            .cognito
            .initiate_auth()
            .client_id(client_id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", &self.username)
            .auth_parameters("PASSWORD", PASSWORD);
        if let Some(secret) = client_secret {
            request = request.auth_parameters(
                "SECRET_HASH",
                auth::cognito::secret_hash(secret, &self.username, client_id),
            );
        }
        let result = request.send().await.unwrap().authentication_result.unwrap();
        MotoTokens {
            access_token: result.access_token.unwrap(),
            refresh_token: result.refresh_token.unwrap(),
        }
    }
}

/// What the proxy saw of `RevokeToken` calls.
#[derive(Default)]
pub struct RevokeLog {
    pub calls: Mutex<Vec<Value>>,
    pub fail: AtomicBool,
    /// Every Cognito operation the proxy saw, in order (`RevokeToken`,
    /// `GlobalSignOut`, ...).
    pub operations: Mutex<Vec<String>>,
    /// How long the proxy waits before answering any call (a slow Cognito).
    pub delay_ms: std::sync::atomic::AtomicU64,
}

/// Answers `RevokeToken` (which moto does not implement: it answers 500)
/// in Cognito's JSON protocol and forwards every other Cognito call to moto.
pub struct CognitoProxy {
    pub url: String,
    pub revokes: Arc<RevokeLog>,
}

impl CognitoProxy {
    pub async fn start(moto_url: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let revokes = Arc::new(RevokeLog::default());
        let log = revokes.clone();
        let http = reqwest::Client::new();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (log, http, moto_url) = (log.clone(), http.clone(), moto_url.clone());
                let service = service_fn(move |request| {
                    proxy(request, log.clone(), http.clone(), moto_url.clone())
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        Self { url, revokes }
    }

    pub fn revoke_calls(&self) -> Vec<Value> {
        self.revokes.calls.lock().unwrap().clone()
    }

    /// The Cognito operations seen so far, in order.
    pub fn operations(&self) -> Vec<String> {
        self.revokes.operations.lock().unwrap().clone()
    }
}

async fn proxy(
    request: Request<Incoming>,
    log: Arc<RevokeLog>,
    http: reqwest::Client,
    moto_url: String,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let operation = target
        .strip_prefix("AWSCognitoIdentityProviderService.")
        .unwrap_or(&target)
        .to_owned();
    log.operations.lock().unwrap().push(operation);
    let delay = log.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if target == "AWSCognitoIdentityProviderService.RevokeToken" {
        log.calls
            .lock()
            .unwrap()
            .push(serde_json::from_slice(&body).unwrap());
        let (status, answer) = if log.fail.load(Ordering::SeqCst) {
            (
                400,
                json!({"__type": "UnauthorizedException", "message": "revocation refused"}),
            )
        } else {
            (200, json!({}))
        };
        return Ok(Response::builder()
            .status(status)
            .header("content-type", "application/x-amz-json-1.1")
            .body(Full::new(Bytes::from(answer.to_string())))
            .unwrap());
    }
    let mut forward = http.post(format!("{moto_url}{}", parts.uri.path()));
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            forward = forward.header(name, value);
        }
    }
    let answer = forward.body(body).send().await.unwrap();
    let mut response = Response::builder().status(answer.status().as_u16());
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            response = response.header(name, value);
        }
    }
    Ok(response
        .body(Full::new(answer.bytes().await.unwrap()))
        .unwrap())
}

/// Which app client the function is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    WithSecret,
    Public,
}

/// The function wired to moto, the proxy and a fake hosted UI.
pub struct Harness {
    pub deps: Deps,
    pub pool: Pool,
    pub hosted_ui: MockServer,
    pub proxy: CognitoProxy,
    pub key: TestKey,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub users_table: String,
    pub secret_id: String,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub moto: SharedMoto,
    /// The time budget each call gets (what Lambda's deadline leaves).
    pub budget: Duration,
}

impl Harness {
    pub async fn start(client: Client) -> Self {
        Self::start_with(client, &[], None).await
    }

    /// `extra` overrides environment variables; `secret` replaces the
    /// secret's JSON.
    pub async fn start_with(client: Client, extra: &[(&str, &str)], secret: Option<Value>) -> Self {
        logs();
        let moto = SharedMoto::acquire().unwrap_or_else(|err| panic!("{err}"));
        let sdk = moto.sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let users_table = unique("users");
        moto_harness::create_table_from_schema(&dynamodb, SCHEMA, "users", &users_table)
            .await
            .unwrap();
        let pool = Pool::create(&moto).await;
        let (client_id, client_secret) = match client {
            Client::WithSecret => (
                pool.secret_client.0.clone(),
                Some(pool.secret_client.1.clone()),
            ),
            Client::Public => (pool.public_client.clone(), None),
        };
        let secret = secret.unwrap_or_else(|| match &client_secret {
            Some(client_secret) => {
                json!({"cookie_key": COOKIE_KEY, "client_secret": client_secret})
            }
            None => json!({"cookie_key": COOKIE_KEY}),
        });
        let secret_id = unique("auth-secret");
        moto_harness::create_secret(
            &aws_sdk_secretsmanager::Client::new(&sdk),
            &secret_id,
            &secret,
        )
        .await
        .unwrap();

        let hosted_ui = MockServer::start().await;
        let key = TestKey::primary();
        wiremock::Mock::given(wiremock::matchers::method("GET"))
            .and(wiremock::matchers::path("/jwks.json"))
            .respond_with(
                wiremock::ResponseTemplate::new(200).set_body_json(testing::jwks(&[&key])),
            )
            .mount(&hosted_ui)
            .await;
        let proxy = CognitoProxy::start(moto.endpoint_url()).await;

        let jwks_url = format!("{}/jwks.json", hosted_ui.uri());
        let moto_url = moto.endpoint_url();
        let mut env: Vec<(String, String)> = [
            ("AWS_REGION", REGION),
            ("AWS_ACCESS_KEY_ID", "AKIATESTTESTTESTTEST"),
            ("AWS_SECRET_ACCESS_KEY", "test-secret-access-key"),
            ("AWS_ENDPOINT_URL", moto_url.as_str()),
            (
                "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
                proxy.url.as_str(),
            ),
            ("USERS_TABLE", users_table.as_str()),
            ("SECRET_ID", secret_id.as_str()),
            ("USER_POOL_ID", pool.pool_id.as_str()),
            ("APP_CLIENT_IDS", client_id.as_str()),
            ("TOKEN_USE", "id"),
            ("COGNITO_CLIENT_ID", client_id.as_str()),
            ("COGNITO_DOMAIN", hosted_ui.uri().as_str()),
            ("JWKS_URL", jwks_url.as_str()),
            ("REDIRECT_URI", REDIRECT_URI),
            ("LOGOUT_URI", LOGOUT_URI),
            ("APP_URL", APP_URL),
            ("CORS_ALLOWED_ORIGINS", APP_ORIGIN),
            ("CORS_ALLOW_CREDENTIALS", "true"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (name, value) in extra {
            env.retain(|(k, _)| k != name);
            env.push(((*name).to_owned(), (*value).to_owned()));
        }
        let env: std::collections::HashMap<String, String> = env.into_iter().collect();
        let config = Config::from_env(&env).unwrap();
        let aws = aws_env::AwsEnv::from_env(&env).unwrap();
        Self {
            deps: Deps::new(config, &aws).unwrap(),
            pool,
            hosted_ui,
            proxy,
            key,
            client_id,
            client_secret,
            users_table,
            secret_id,
            dynamodb,
            moto,
            budget: Duration::from_secs(9),
        }
    }

    /// Runs `request` through the function, then checks that no secret the
    /// exchange carried (the request's cookies, bearer token, code, state
    /// and body tokens, the response's cookies, the app client secret, the
    /// cookie key) reached the logs at TRACE.
    pub async fn call(&self, request: Req) -> Resp {
        let v2 = request.http_api;
        let resp = Resp::from_event(
            auth::handle_event(&self.deps, request.event(), self.budget).await,
            v2,
        );
        let mut secrets = request.secrets();
        secrets.extend(resp.cookie_values());
        secrets.push(COOKIE_KEY.to_owned());
        secrets.extend(self.client_secret.clone());
        logs().assert_holds_none(secrets.iter().filter(|s| s.len() >= 8));
        resp
    }

    /// ID-token claims for this pool and client.
    pub fn id_claims(&self) -> Value {
        let mut claims = testing::id_claims(&self.pool.issuer(), &self.client_id);
        claims["cognito:username"] = json!(self.pool.username);
        claims["name"] = json!("Alice Liddell");
        claims
    }

    pub fn id_token(&self) -> String {
        self.key.sign(&self.id_claims())
    }

    /// `GET /auth/login`: the authorize URL's query and the state cookie.
    pub async fn login(&self, return_to: Option<&str>) -> Login {
        let mut request = Req::get("/auth/login");
        if let Some(path) = return_to {
            request = request.query("return_to", path);
        }
        let resp = self.call(request).await;
        assert_eq!(resp.status, 302, "{resp:?}");
        let location = resp.location().to_owned();
        let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
        let cookie = resp.cookie("auth_state").unwrap().to_owned();
        Login {
            location,
            params,
            cookie,
        }
    }

    /// Mounts a token endpoint answering `tokens` once for `code`.
    pub async fn token_endpoint(
        &self,
        code: &str,
        verifier: &str,
        answer: wiremock::ResponseTemplate,
    ) {
        let body = serde_urlencoded::to_string([
            ("grant_type", "authorization_code"),
            ("client_id", self.client_id.as_str()),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ])
        .unwrap();
        let mut mock = wiremock::Mock::given(wiremock::matchers::method("POST"))
            .and(wiremock::matchers::path("/oauth2/token"))
            .and(wiremock::matchers::header(
                "content-type",
                "application/x-www-form-urlencoded",
            ))
            .and(wiremock::matchers::body_string(body));
        if let Some(secret) = &self.client_secret {
            let basic = STANDARD.encode(format!("{}:{secret}", self.client_id));
            mock = mock.and(wiremock::matchers::header(
                "authorization",
                format!("Basic {basic}").as_str(),
            ));
        } else {
            // A public client has no secret: no Basic auth, nothing else.
            mock = mock
                .and(|request: &wiremock::Request| !request.headers.contains_key("authorization"));
        }
        mock.respond_with(answer)
            .expect(1)
            .mount(&self.hosted_ui)
            .await;
    }

    /// A whole sign-in whose ID token carries `claims`; asserts it lands
    /// on the app.
    pub async fn sign_in_with(&self, claims: Value) -> Resp {
        let login = self.login(None).await;
        let code = unique("code");
        self.token_endpoint(
            &code,
            &login.verifier(),
            token_response(&self.key.sign(&claims), "access", "refresh"),
        )
        .await;
        let resp = self.call(login.callback(&code)).await;
        assert_eq!(resp.status, 302, "{resp:?}");
        assert_eq!(resp.location(), APP_URL);
        resp
    }

    /// The users-table item of `user_id`.
    pub async fn item(&self, user_id: &str) -> Option<Map<String, Value>> {
        let item = self
            .dynamodb
            .get_item()
            .table_name(&self.users_table)
            .key(
                "user_id",
                aws_sdk_dynamodb::types::AttributeValue::S(user_id.to_owned()),
            )
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item?;
        Some(
            item.into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        aws_sdk_dynamodb::types::AttributeValue::S(s) => json!(s),
                        aws_sdk_dynamodb::types::AttributeValue::N(n) => json!({"N": n}),
                        aws_sdk_dynamodb::types::AttributeValue::Bool(b) => json!(b),
                        other => json!(format!("{other:?}")),
                    };
                    (k, v)
                })
                .collect(),
        )
    }
}

/// The outcome of `GET /auth/login`.
#[derive(Debug, Clone)]
pub struct Login {
    pub location: String,
    pub params: Vec<(String, String)>,
    /// `auth_state` cookie value.
    pub cookie: String,
}

impl Login {
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} in {}", self.location))
    }

    /// The sealed payload (readable: only its integrity is protected).
    pub fn payload(&self) -> Value {
        let payload = self.cookie.split('.').next().unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    }

    pub fn verifier(&self) -> String {
        self.payload()["v"].as_str().unwrap().to_owned()
    }

    /// The callback request the hosted UI would redirect the browser to.
    pub fn callback(&self, code: &str) -> Req {
        Req::get("/auth/callback")
            .query("code", code)
            .query("state", self.param("state"))
            .cookie("auth_state", &self.cookie)
    }
}

/// A request as API Gateway would deliver it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub cookies: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub body: Option<String>,
    pub http_api: bool,
}

impl Req {
    pub fn new(method: &str, path: &str) -> Self {
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            headers: Vec::new(),
            cookies: Vec::new(),
            query: Vec::new(),
            body: None,
            http_api: false,
        }
    }
    pub fn get(path: &str) -> Self {
        Self::new("GET", path)
    }
    pub fn post(path: &str) -> Self {
        Self::new("POST", path).header("origin", APP_ORIGIN)
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(k, _)| k != name);
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
    pub fn cookie(mut self, name: &str, value: &str) -> Self {
        self.cookies.push((name.to_owned(), value.to_owned()));
        self
    }
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }
    /// A JSON body, declared as such (what a web app's `fetch` sends).
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body.to_string());
        self.header("content-type", "application/json")
    }
    /// A body sent as it is (for malformed ones).
    pub fn raw_body(mut self, body: &str) -> Self {
        self.body = Some(body.to_owned());
        self
    }
    pub fn http_api(mut self) -> Self {
        self.http_api = true;
        self
    }

    /// The credentials this request carries: cookie values, the bearer
    /// token, the OAuth code and state, tokens in the body.
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = self.cookies.iter().map(|(_, v)| v.clone()).collect();
        for (name, value) in &self.headers {
            if name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("cookie") {
                secrets.push(value.clone());
                secrets.extend(value.split_whitespace().map(str::to_owned));
            }
        }
        secrets.extend(
            self.query
                .iter()
                .filter(|(k, _)| k == "code" || k == "state")
                .map(|(_, v)| v.clone()),
        );
        if let Some(Value::Object(body)) = self
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str::<Value>(b).ok())
        {
            secrets.extend(
                body.iter()
                    .filter(|(k, _)| k.contains("token"))
                    .filter_map(|(_, v)| v.as_str().map(str::to_owned)),
            );
        }
        secrets
    }

    pub fn event(&self) -> Value {
        let mut headers: Map<String, Value> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let cookies: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let query = serde_urlencoded::to_string(&self.query).unwrap();
        if self.http_api {
            json!({
                "version": "2.0", "routeKey": format!("{} {}", self.method, self.path),
                "rawPath": self.path, "rawQueryString": query,
                "cookies": cookies, "headers": headers,
                "requestContext": {
                    "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
                    "http": {"method": self.method, "path": self.path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "test"},
                    "requestId": "req-v2", "routeKey": format!("{} {}", self.method, self.path), "stage": "$default",
                    "time": "28/Nov/2026:05:00:00 +0000", "timeEpoch": 1_795_000_000_000_i64
                },
                "body": self.body.as_ref().map(|b| STANDARD.encode(b)),
                "isBase64Encoded": self.body.is_some()
            })
        } else {
            if !cookies.is_empty() {
                headers.insert("cookie".into(), json!(cookies.join("; ")));
            }
            let multi: Map<String, Value> = headers
                .iter()
                .map(|(k, v)| (k.clone(), json!([v])))
                .collect();
            let single_query: Map<String, Value> = self
                .query
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            let mut multi_query = Map::new();
            for (k, v) in &self.query {
                multi_query
                    .entry(k.clone())
                    .or_insert_with(|| json!([]))
                    .as_array_mut()
                    .unwrap()
                    .push(json!(v));
            }
            let or_null = |m: Map<String, Value>| {
                if m.is_empty() {
                    Value::Null
                } else {
                    Value::Object(m)
                }
            };
            json!({
                "resource": self.path, "path": self.path, "httpMethod": self.method,
                "headers": headers, "multiValueHeaders": multi,
                "queryStringParameters": or_null(single_query),
                "multiValueQueryStringParameters": or_null(multi_query),
                "pathParameters": null, "stageVariables": null,
                "requestContext": {
                    "resourcePath": self.path, "httpMethod": self.method, "path": format!("/prod{}", self.path),
                    "stage": "prod", "requestId": "req-v1", "identity": {"sourceIp": "203.0.113.9"}
                },
                "body": self.body, "isBase64Encoded": false
            })
        }
    }
}

/// A response event, parsed.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Map<String, Value>,
    pub set_cookies: Vec<String>,
    pub body: Value,
    pub raw: Value,
}

impl Resp {
    pub fn from_event(event: Value, http_api: bool) -> Self {
        let status = u16::try_from(event["statusCode"].as_u64().unwrap()).unwrap();
        let headers = event["headers"].as_object().cloned().unwrap_or_default();
        let cookies = if http_api {
            event["cookies"].clone()
        } else {
            event["multiValueHeaders"]["set-cookie"].clone()
        };
        let set_cookies = cookies
            .as_array()
            .map(|a| a.iter().map(|c| c.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        let text = event["body"].as_str().unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(text).unwrap()
        };
        Self {
            status,
            headers,
            set_cookies,
            body,
            raw: event,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(Value::as_str)
    }

    pub fn location(&self) -> &str {
        self.header("location")
            .unwrap_or_else(|| panic!("no location: {self:?}"))
    }

    /// The full `Set-Cookie` line of `name`.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.set_cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(String::as_str)
    }

    /// Every value the response sets a cookie to.
    pub fn cookie_values(&self) -> Vec<String> {
        self.set_cookies
            .iter()
            .filter_map(|c| c.split(';').next())
            .filter_map(|pair| pair.split_once('='))
            .map(|(_, v)| v.to_owned())
            .collect()
    }

    /// The value `name` is set to.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.set_cookie(name)
            .and_then(|c| c.split(';').next())
            .and_then(|pair| pair.split_once('='))
            .map(|(_, v)| v)
    }

    /// Whether `name` is cleared (empty with Max-Age=0).
    pub fn clears(&self, name: &str) -> bool {
        self.set_cookie(name)
            .is_some_and(|c| c.starts_with(&format!("{name}=;")) && c.contains("Max-Age=0"))
    }

    /// Every cookie the function sets is cleared (what a logout does).
    pub fn assert_clears_every_cookie(&self) {
        for name in [
            "access_token",
            "id_token",
            "refresh_token",
            "auth_user",
            "auth_state",
        ] {
            assert!(self.clears(name), "{name} not cleared: {self:?}");
        }
    }

    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("<no code>")
    }

    /// The `auth_error` of an error redirect to the app.
    pub fn auth_error(&self) -> String {
        let location = self.location();
        assert!(location.starts_with(APP_URL), "{location}");
        let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
        params
            .into_iter()
            .find(|(k, _)| k == "auth_error")
            .map(|(_, v)| v)
            .unwrap_or_default()
    }

    /// Asserts none of `secrets` appears anywhere in the response.
    pub fn assert_holds_none(&self, secrets: &[&str]) {
        let text = self.raw.to_string();
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            assert!(
                !text.contains(secret),
                "{secret} leaked into the response: {text}"
            );
        }
    }
}

/// A token response as Cognito's token endpoint sends it.
pub fn token_response(
    id_token: &str,
    access_token: &str,
    refresh_token: &str,
) -> wiremock::ResponseTemplate {
    wiremock::ResponseTemplate::new(200).set_body_json(json!({
        "id_token": id_token,
        "access_token": access_token,
        "refresh_token": refresh_token,
        "expires_in": 3600,
        "token_type": "Bearer"
    }))
}
