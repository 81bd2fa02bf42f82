//! Test support: one moto server shared by the tests of a binary (tables are
//! per test), the tables created from the schema shared with Terraform, and
//! API Gateway events for both payload versions.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use moto_harness::SharedMoto;
use serde_json::{Map, Value, json};
use users::{Config, Deps};
use wiremock::MockServer;

/// The one definition of the tables, shared with the Terraform module.
pub const SCHEMA: &str = include_str!("../../../../terraform/schema/dynamodb.json");
/// Base64 of 32 bytes.
pub const CURSOR_SECRET: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
pub const ORIGIN: &str = "https://app.example.com";
/// The Twilio account of the fake, and the number codes come from.
pub const TWILIO_SID: &str = "ACusers0000000000000000000000000001";
pub const TWILIO_TOKEN: &str = "users-twilio-auth-token";
pub const SMS_FROM: &str = "+14155550199";

/// Every scenario runs under the function's own subscriber at TRACE (the
/// most an operator can ask for); [`Api::call`] searches the capture for
/// the secrets each exchange carried.
pub fn logs() -> &'static lambda_logging::CapturedLogs {
    lambda_logging::capture_global("trace")
}

/// The E.164 numbers anywhere in `value`'s strings.
pub fn phones_in(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut visit = vec![value];
    while let Some(value) = visit.pop() {
        match value {
            Value::String(text) => {
                let bytes = text.as_bytes();
                for (start, _) in text.match_indices('+') {
                    let digits = bytes[start + 1..]
                        .iter()
                        .take_while(|b| b.is_ascii_digit())
                        .count();
                    if digits >= 7 {
                        found.push(text[start..start + 1 + digits].to_owned());
                    }
                }
            }
            Value::Array(items) => visit.extend(items),
            Value::Object(map) => visit.extend(map.values()),
            _ => {}
        }
    }
    found
}

pub fn schema() -> Value {
    serde_json::from_str(SCHEMA).expect("terraform/schema/dynamodb.json is valid JSON")
}

pub fn schema_table(logical: &str) -> Value {
    schema()["tables"][logical].clone()
}

/// A use of the test binary's shared (serial) moto server.
pub struct Moto {
    server: SharedMoto,
}

impl Moto {
    pub fn acquire() -> Self {
        Self {
            server: SharedMoto::acquire().unwrap_or_else(|err| panic!("{err}")),
        }
    }

    pub fn endpoint_url(&self) -> String {
        self.server.endpoint_url()
    }

    pub async fn secrets_client(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.server.sdk_config().await)
    }

    pub async fn client(&self) -> Client {
        Client::new(&self.server.sdk_config().await)
    }
}

/// A table name no other test uses.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates table `name` as the schema defines `logical`.
pub async fn create_table(client: &Client, logical: &str, name: &str) {
    moto_harness::create_table_from_schema(client, SCHEMA, logical, name)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
}

/// Twilio's Messages API, faked: accepts every message and remembers it.
pub async fn twilio_fake() -> MockServer {
    let server = MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path(format!(
            "/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
        )))
        .respond_with(wiremock::ResponseTemplate::new(201).set_body_json(json!({"sid": "SMfake"})))
        .mount(&server)
        .await;
    server
}

/// The users function over fresh tables in moto, with a fake Twilio.
pub struct Api {
    pub deps: Deps,
    pub client: Client,
    pub users_table: String,
    pub claims_table: String,
    pub moto: Moto,
    pub twilio: MockServer,
    /// The time budget each call gets.
    pub budget: Duration,
}

impl Api {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// `extra` overrides environment variables (`""` removes one).
    pub async fn start_with(extra: &[(&str, &str)]) -> Self {
        logs();
        let moto = Moto::acquire();
        let client = moto.client().await;
        let users_table = unique_name("users");
        let claims_table = unique_name("phone-claims");
        create_table(&client, "users", &users_table).await;
        create_table(&client, "phone_claims", &claims_table).await;
        let secrets = moto.secrets_client().await;
        let secret_id = unique_name("twilio");
        moto_harness::create_secret(
            &secrets,
            &secret_id,
            &json!({"twilio_account_sid": TWILIO_SID, "twilio_auth_token": TWILIO_TOKEN}),
        )
        .await
        .unwrap();
        let twilio = twilio_fake().await;
        let twilio_url = twilio.uri();
        let mut env: Vec<(&str, &str)> = vec![
            ("USERS_TABLE", users_table.as_str()),
            ("PHONE_CLAIMS_TABLE", claims_table.as_str()),
            ("CURSOR_SECRET", CURSOR_SECRET),
            ("CORS_ALLOWED_ORIGINS", ORIGIN),
            ("TWILIO_SECRET_ID", secret_id.as_str()),
            ("SMS_FROM", SMS_FROM),
            ("TWILIO_BASE_URL", twilio_url.as_str()),
        ];
        for (name, value) in extra {
            env.retain(|(k, _)| k != name);
            if !value.is_empty() {
                env.push((name, value));
            }
        }
        let config = Config::from_env(env.as_slice()).unwrap();
        Self {
            deps: Deps::new(
                config,
                client.clone(),
                secrets,
                aws_env::HttpsClient::new().unwrap().reqwest().clone(),
            )
            .unwrap(),
            client,
            users_table,
            claims_table,
            moto,
            twilio,
            budget: Duration::from_secs(9),
        }
    }

    /// Runs `request` through the function, then checks that nothing
    /// secret the exchange carried reached the logs: the cookie or bearer
    /// token, the phone numbers of the request and the response, the codes
    /// texted meanwhile, the Twilio auth token.
    pub async fn call(&self, request: Req) -> Resp {
        let v2 = request.http_api;
        let texts_before = self.texts().await.len();
        let resp = Resp::from_event(
            users::handle_event(&self.deps, request.event(), self.budget).await,
            v2,
        );
        let mut secrets = request.secrets();
        secrets.extend(phones_in(&resp.body));
        let mut codes: Vec<String> = request.code().into_iter().collect();
        for (to, body) in self.texts().await.into_iter().skip(texts_before) {
            secrets.push(to);
            secrets.push(body.clone());
            codes.extend(code_in(&body));
        }
        secrets.push(TWILIO_TOKEN.to_owned());
        logs().assert_holds_none(&secrets);
        assert_no_code_logged(&codes);
        resp
    }

    /// Every text the fake Twilio accepted, in order: (To, Body).
    pub async fn texts(&self) -> Vec<(String, String)> {
        self.twilio
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter_map(|request| {
                let form: Vec<(String, String)> =
                    serde_urlencoded::from_bytes(&request.body).ok()?;
                let field =
                    |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
                Some((field("To")?, field("Body")?))
            })
            .collect()
    }

    /// The code last texted to `phone`.
    pub async fn code_sent_to(&self, phone: &str) -> String {
        self.texts()
            .await
            .into_iter()
            .rev()
            .find(|(to, _)| to == phone)
            .and_then(|(_, body)| code_in(&body))
            .unwrap_or_else(|| panic!("no code was texted to {phone}"))
    }

    /// `POST /users/me/phone-verification` for `phone` as `user`.
    pub async fn start_proof(&self, user: &str, phone: &str) -> Resp {
        self.call(
            Req::post("/users/me/phone-verification")
                .user(user)
                .json(json!({"phone": phone})),
        )
        .await
    }

    /// `POST /users/me/phone-verification/confirm` with `code` as `user`.
    pub async fn confirm_code(&self, user: &str, code: &str) -> Resp {
        self.call(
            Req::post("/users/me/phone-verification/confirm")
                .user(user)
                .json(json!({"code": code})),
        )
        .await
    }

    /// `user` proves `phone` with the code texted to it: the phone becomes
    /// the profile's. Returns the confirmed profile.
    pub async fn prove(&self, user: &str, phone: &str) -> Resp {
        let started = self.start_proof(user, phone).await;
        assert_eq!(started.status, 202, "{started:?}");
        let code = self.code_sent_to(phone).await;
        let confirmed = self.confirm_code(user, &code).await;
        assert_eq!(confirmed.status, 200, "{confirmed:?}");
        confirmed
    }

    /// Creates a profile through the admin route (vouching for the phone).
    pub async fn seed(&self, user_id: &str, phone: Option<&str>) -> Value {
        let mut body = json!({"user_id": user_id, "email": format!("{user_id}@example.com"), "name": format!("User {user_id}")});
        if let Some(phone) = phone {
            body["phone"] = json!(phone);
            body["vouch_for_phone"] = json!(true);
        }
        let resp = self.call(Req::post("/users").admin().json(body)).await;
        assert_eq!(resp.status, 201, "{resp:?}");
        resp.body
    }

    /// The owner of `phone` in the claims table.
    pub async fn claim_owner(&self, phone: &str) -> Option<String> {
        let out = self
            .client
            .get_item()
            .table_name(&self.claims_table)
            .key(
                "phone",
                aws_sdk_dynamodb::types::AttributeValue::S(phone.to_owned()),
            )
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        out.item
            .and_then(|item| item.get("user_id").and_then(|v| v.as_s().ok()).cloned())
    }

    pub async fn claim_count(&self) -> usize {
        let out = self
            .client
            .scan()
            .table_name(&self.claims_table)
            .send()
            .await
            .unwrap();
        out.items().len()
    }
}

/// Six digits occur by chance in timestamps and durations: a code counts
/// as logged only as a number of its own (no digit right before or after).
pub fn assert_no_code_logged(codes: &[String]) {
    let out = logs().contents();
    for code in codes {
        for (at, _) in out.match_indices(code.as_str()) {
            let before = out[..at].chars().next_back();
            let after = out[at + code.len()..].chars().next();
            let alone = !before.is_some_and(|c| c.is_ascii_digit())
                && !after.is_some_and(|c| c.is_ascii_digit());
            assert!(!alone, "the code {code} was logged:\n{out}");
        }
    }
}

/// The six-digit code in a text.
pub fn code_in(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|word| word.len() == 6)
        .map(str::to_owned)
}

/// A request as API Gateway would deliver it. By default the caller is
/// authenticated by the access-token cookie, as the web app is (the
/// authorizer's default `CREDENTIAL_SOURCE`), and sends the app's `Origin`.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub caller: Option<(String, Vec<String>)>,
    /// `cookie` or `authorization`: the credential the authorizer verified.
    pub credential: &'static str,
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub body: Option<String>,
    pub http_api: bool,
}

impl Req {
    pub fn new(method: &str, path: &str) -> Self {
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            caller: None,
            credential: "cookie",
            headers: vec![("origin".into(), ORIGIN.into())],
            query: Vec::new(),
            body: None,
            http_api: false,
        }
    }
    pub fn get(path: &str) -> Self {
        Self::new("GET", path)
    }
    pub fn post(path: &str) -> Self {
        Self::new("POST", path)
    }
    pub fn patch(path: &str) -> Self {
        Self::new("PATCH", path)
    }
    pub fn put(path: &str) -> Self {
        Self::new("PUT", path)
    }
    pub fn delete(path: &str) -> Self {
        Self::new("DELETE", path)
    }
    /// An authenticated user without groups.
    pub fn user(mut self, sub: &str) -> Self {
        self.caller = Some((sub.to_owned(), Vec::new()));
        self
    }
    /// An authenticated administrator.
    pub fn admin(mut self) -> Self {
        self.caller = Some((
            "admin-1".to_owned(),
            vec!["staff".to_owned(), "admin".to_owned()],
        ));
        self
    }
    /// A JSON body, declared as such (what a web app's `fetch` sends).
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body.to_string());
        self.header("content-type", "application/json")
    }
    /// Authenticated by `Authorization: Bearer` instead of the cookie
    /// (`CREDENTIAL_SOURCE=authorization`): a non-browser client.
    pub fn bearer(mut self) -> Self {
        self.credential = "authorization";
        self
    }
    /// Without any header (no Origin either).
    pub fn no_headers(mut self) -> Self {
        self.headers.clear();
        self
    }
    pub fn raw_body(mut self, body: &str) -> Self {
        self.body = Some(body.to_owned());
        self
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The caller's credential, as the client sends it.
    fn credential_header(&self) -> Option<(String, String)> {
        let (sub, _) = self.caller.as_ref()?;
        Some(match self.credential {
            "cookie" => (
                "cookie".to_owned(),
                format!("theme=dark; access_token=cookie-token-of-{sub}-8c1f"),
            ),
            _ => (
                "authorization".to_owned(),
                format!("Bearer bearer-token-of-{sub}-8c1f"),
            ),
        })
    }

    /// What this request carries that must never be logged: the caller's
    /// token, the phone numbers and codes of its body.
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets = Vec::new();
        if let Some((_, value)) = self.credential_header() {
            secrets.extend(
                value
                    .split(['=', ' ', ';'])
                    .filter(|part| part.len() >= 12)
                    .map(str::to_owned),
            );
        }
        if let Some(body) = &self.body {
            let parsed = serde_json::from_str::<Value>(body).unwrap_or(Value::String(body.clone()));
            secrets.extend(phones_in(&parsed));
        }
        secrets
    }

    /// The verification code this request sends, if any.
    pub fn code(&self) -> Option<String> {
        let body: Value = serde_json::from_str(self.body.as_deref()?).ok()?;
        body.get("code").and_then(Value::as_str).map(str::to_owned)
    }
    pub fn if_match(self, version: u64) -> Self {
        self.header("if-match", &format!("\"{version}\""))
    }
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }
    /// Sends it as an HTTP API (payload 2.0) event instead of REST v1.
    pub fn http_api(mut self) -> Self {
        self.http_api = true;
        self
    }

    pub fn event(&self) -> Value {
        let headers: Map<String, Value> = self
            .headers
            .iter()
            .cloned()
            .chain(self.credential_header())
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let fields = self.caller.as_ref().map(|(sub, groups)| {
            json!({
                "sub": sub, "username": sub, "email": format!("{sub}@example.com"),
                "groups": authorizer_context::encode_groups(groups),
                "credential": self.credential
            })
        });
        if self.http_api {
            let query: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let mut context = json!({
                "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
                "http": {"method": self.method, "path": format!("/prod{}", self.path), "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "test"},
                "requestId": "req-v2", "routeKey": "ANY /users/{proxy+}", "stage": "prod",
                "time": "28/Nov/2026:05:00:00 +0000", "timeEpoch": 1_795_000_000_000_i64
            });
            if let Some(fields) = fields {
                context["authorizer"] = json!({"lambda": fields});
            }
            json!({
                "version": "2.0", "routeKey": "ANY /users/{proxy+}",
                "rawPath": format!("/prod{}", self.path), "rawQueryString": query.join("&"),
                "headers": headers, "requestContext": context,
                "body": self.body.as_ref().map(|b| base64_encode(b.as_bytes())),
                "isBase64Encoded": self.body.is_some()
            })
        } else {
            let multi_headers: Map<String, Value> = headers
                .iter()
                .map(|(k, v)| (k.clone(), json!([v])))
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
            let single_query: Map<String, Value> = self
                .query
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            let mut authorizer = Value::Null;
            if let Some(mut fields) = fields {
                fields["principalId"] = fields["sub"].clone();
                authorizer = fields;
            }
            json!({
                "resource": "/users/{proxy+}", "path": self.path, "httpMethod": self.method,
                "headers": headers, "multiValueHeaders": multi_headers,
                "queryStringParameters": if single_query.is_empty() { Value::Null } else { Value::Object(single_query) },
                "multiValueQueryStringParameters": if multi_query.is_empty() { Value::Null } else { Value::Object(multi_query) },
                "pathParameters": null, "stageVariables": null,
                "requestContext": {
                    "resourcePath": "/users/{proxy+}", "httpMethod": self.method, "path": format!("/prod{}", self.path),
                    "stage": "prod", "requestId": "req-v1", "identity": {"sourceIp": "203.0.113.9"},
                    "authorizer": authorizer
                },
                "body": self.body, "isBase64Encoded": false
            })
        }
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A response event, parsed.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Map<String, Value>,
    pub body: Value,
    pub raw: Value,
}

impl Resp {
    pub fn from_event(event: Value, http_api: bool) -> Self {
        let status = u16::try_from(event["statusCode"].as_u64().unwrap()).unwrap();
        let headers = event["headers"].as_object().cloned().unwrap_or_default();
        let text = event["body"].as_str().unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(text).unwrap()
        };
        if http_api {
            assert!(
                event.get("cookies").is_some(),
                "an HTTP API response: {event}"
            );
        }
        Self {
            status,
            headers,
            body,
            raw: event,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(Value::as_str)
    }

    /// The error code of an error response.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or("<no error code>")
    }

    pub fn version(&self) -> u64 {
        self.body["version"].as_u64().unwrap()
    }
}
