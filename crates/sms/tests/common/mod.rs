//! Test support: the sms function over moto (DynamoDB tables from the
//! schema shared with Terraform, the secret in Secrets Manager) and
//! wiremock fakes of OpenAI and Twilio; signed webhook events in both
//! API Gateway payload versions; one log capture for the test binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use lambda_logging::CapturedLogs;
use moto_harness::SharedMoto;
use serde_json::{Value, json};
use sms::{Config, Deps};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const SCHEMA: &str = include_str!("../../../../terraform/schema/dynamodb.json");
pub const WEBHOOK_URL: &str = "https://api.example.com/prod/sms/inbound";
pub const ACCOUNT_SID: &str = "AC00000000000000000000000000000001";
pub const AUTH_TOKEN: &str = "twilio-auth-token-7f3a9c";
pub const OPENAI_KEY: &str = "sk-test-openai-key-51d2e8";
pub const OUR_NUMBER: &str = "+15550001111";
pub const PHONE: &str = "+15551234567";
pub const MESSAGES_PATH: &str =
    "/2010-04-01/Accounts/AC00000000000000000000000000000001/Messages.json";
pub const COMPLETIONS_PATH: &str = "/v1/chat/completions";
pub const EMPTY_TWIML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#;

/// The test binary's log capture: one global subscriber at info level,
/// installed before any handler runs.
pub fn logs() -> &'static CapturedLogs {
    static LOGS: OnceLock<CapturedLogs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = CapturedLogs::default();
        let subscriber = lambda_logging::json_subscriber(
            lambda_logging::level_filter(Some("info"), None),
            logs.clone(),
        );
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    })
}

pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn secret_json(extra: Value) -> String {
    let mut secret = json!({
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "openai_api_key": OPENAI_KEY,
    });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            secret.as_object_mut().unwrap().remove(k);
        } else {
            secret[k] = v.clone();
        }
    }
    secret.to_string()
}

/// A loopback endpoint that accepts connections, reads nothing and never
/// answers: a dependency that hangs.
async fn silent_endpoint() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    url
}

/// The function over fresh tables, a fresh secret and two fakes.
pub struct Sms {
    pub deps: Deps,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub users_table: String,
    pub history_table: String,
    pub idempotency_table: String,
    pub secret_id: String,
    pub openai: MockServer,
    pub twilio: MockServer,
    pub moto: SharedMoto,
}

/// How to build the harness.
pub struct Setup {
    pub env: Vec<(&'static str, String)>,
    pub secret: String,
    /// Leave the history table out (a DynamoDB failure mid-message).
    pub without_history_table: bool,
    /// Give the function a DynamoDB that accepts connections and never
    /// answers (the harness's own client still reaches moto).
    pub hung_dynamodb: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            env: Vec::new(),
            secret: secret_json(json!({})),
            without_history_table: false,
            hung_dynamodb: false,
        }
    }
}

impl Setup {
    pub fn env(mut self, name: &'static str, value: &str) -> Self {
        self.env.push((name, value.to_owned()));
        self
    }
    pub fn secret(mut self, secret: String) -> Self {
        self.secret = secret;
        self
    }
}

impl Sms {
    pub async fn start() -> Self {
        Self::with(Setup::default()).await
    }

    pub async fn with(setup: Setup) -> Self {
        logs();
        let moto = SharedMoto::acquire().unwrap_or_else(|err| panic!("{err}"));
        let sdk = moto.sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        let users_table = unique("users");
        let history_table = unique("sms-history");
        let idempotency_table = unique("idempotency");
        let mut tables = vec![("users", &users_table), ("idempotency", &idempotency_table)];
        if !setup.without_history_table {
            tables.push(("sms_history", &history_table));
        }
        for (logical, name) in tables {
            moto_harness::create_table_from_schema(&dynamodb, SCHEMA, logical, name)
                .await
                .unwrap_or_else(|err| panic!("{err}"));
        }
        let secret_id = unique("sms-secret");
        secrets
            .create_secret()
            .name(&secret_id)
            .secret_string(&setup.secret)
            .send()
            .await
            .unwrap();
        let openai = MockServer::start().await;
        let twilio = MockServer::start().await;
        let mut env: Vec<(&'static str, String)> = vec![
            ("USERS_TABLE", users_table.clone()),
            ("USERS_PHONE_INDEX", "phone-index".to_owned()),
            ("SMS_HISTORY_TABLE", history_table.clone()),
            ("IDEMPOTENCY_TABLE", idempotency_table.clone()),
            ("SECRET_ID", secret_id.clone()),
            ("PUBLIC_WEBHOOK_URL", WEBHOOK_URL.to_owned()),
            ("OPENAI_BASE_URL", format!("{}/v1", openai.uri())),
            ("OPENAI_MODEL", "gpt-test".to_owned()),
            ("OPENAI_RETRY_BACKOFF_MS", "10".to_owned()),
            ("MAX_COMPLETION_TOKENS", "150".to_owned()),
            ("SYSTEM_PROMPT", "You answer by SMS.".to_owned()),
            ("TWILIO_BASE_URL", twilio.uri()),
            (
                "UNKNOWN_SENDER_REPLY",
                "This number only answers registered users.".to_owned(),
            ),
            (
                "HELP_TEXT",
                "Ask anything. RESET clears, STOP opts out.".to_owned(),
            ),
            ("RESET_REPLY", "Conversation cleared.".to_owned()),
            ("APOLOGY_TEXT", "Sorry, try again later.".to_owned()),
        ];
        for (name, value) in setup.env {
            env.retain(|(existing, _)| *existing != name);
            env.push((name, value));
        }
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let config = Config::from_env(pairs.as_slice()).unwrap();
        let function_dynamodb = if setup.hung_dynamodb {
            let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
                .endpoint_url(silent_endpoint().await)
                .build();
            aws_sdk_dynamodb::Client::from_conf(conf)
        } else {
            dynamodb.clone()
        };
        let http = aws_env::HttpsClient::new().unwrap().reqwest().clone();
        let deps = Deps::new(config, function_dynamodb, secrets.clone(), http).unwrap();
        Self {
            deps,
            dynamodb,
            secrets,
            users_table,
            history_table,
            idempotency_table,
            secret_id,
            openai,
            twilio,
            moto,
        }
    }

    pub async fn call(&self, event: Value) -> Resp {
        Resp::from_event(sms::handle_event(&self.deps, event).await)
    }

    /// A profile as the users function writes it.
    pub async fn seed_user(&self, user_id: &str, phone: &str, sms_opt_in: bool) {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        self.dynamodb
            .put_item()
            .table_name(&self.users_table)
            .item("user_id", s(user_id))
            .item("email", s(&format!("{user_id}@example.com")))
            .item("name", s("Test User"))
            .item("phone", s(phone))
            .item("sms_opt_in", AttributeValue::Bool(sms_opt_in))
            .item("created_at", s("2026-11-01T00:00:00Z"))
            .item("updated_at", s("2026-11-01T00:00:00Z"))
            .item("version", AttributeValue::N("1".to_owned()))
            .send()
            .await
            .unwrap();
    }

    pub async fn user_item(
        &self,
        user_id: &str,
    ) -> std::collections::HashMap<String, AttributeValue> {
        self.dynamodb
            .get_item()
            .table_name(&self.users_table)
            .key("user_id", AttributeValue::S(user_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap()
    }

    /// A stored turn, as the function would have written it.
    pub async fn seed_turn(&self, phone: &str, ts: u64, role: &str, content: &str) {
        self.dynamodb
            .put_item()
            .table_name(&self.history_table)
            .item("phone", AttributeValue::S(phone.to_owned()))
            .item("ts", AttributeValue::N(ts.to_string()))
            .item("role", AttributeValue::S(role.to_owned()))
            .item("content", AttributeValue::S(content.to_owned()))
            .item("expires_at", AttributeValue::N("4102444800".to_owned()))
            .send()
            .await
            .unwrap();
    }

    /// Every stored turn of `phone`, oldest first: (role, content).
    pub async fn history(&self, phone: &str) -> Vec<(String, String)> {
        self.history_items(phone)
            .await
            .iter()
            .map(|item| {
                (
                    item["role"].as_s().unwrap().clone(),
                    item["content"].as_s().unwrap().clone(),
                )
            })
            .collect()
    }

    pub async fn history_items(
        &self,
        phone: &str,
    ) -> Vec<std::collections::HashMap<String, AttributeValue>> {
        self.dynamodb
            .query()
            .table_name(&self.history_table)
            .key_condition_expression("phone = :p")
            .expression_attribute_values(":p", AttributeValue::S(phone.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .items()
            .to_vec()
    }

    pub async fn idempotency_record(
        &self,
        sid: &str,
    ) -> Option<std::collections::HashMap<String, AttributeValue>> {
        self.dynamodb
            .get_item()
            .table_name(&self.idempotency_table)
            .key("message_sid", AttributeValue::S(sid.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }

    /// OpenAI answers `content` to every request.
    pub async fn openai_answers(&self, content: &str) {
        Mock::given(method("POST"))
            .and(path(COMPLETIONS_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_json(completion(content)))
            .mount(&self.openai)
            .await;
    }

    /// Twilio accepts every message.
    pub async fn twilio_accepts(&self) {
        Mock::given(method("POST"))
            .and(path(MESSAGES_PATH))
            .respond_with(
                ResponseTemplate::new(201)
                    .set_body_json(json!({"sid": "SMreply0001", "status": "queued"})),
            )
            .mount(&self.twilio)
            .await;
    }

    pub async fn openai_requests(&self) -> Vec<wiremock::Request> {
        self.openai.received_requests().await.unwrap()
    }

    pub async fn twilio_requests(&self) -> Vec<wiremock::Request> {
        self.twilio.received_requests().await.unwrap()
    }

    /// The `Body` of every message sent through the REST API.
    pub async fn sent_bodies(&self) -> Vec<String> {
        self.twilio_requests()
            .await
            .iter()
            .map(|r| form_field(r, "Body").unwrap())
            .collect()
    }
}

pub fn completion(content: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_795_000_000, "model": "gpt-test",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    })
}

pub fn openai_error(code: &str, kind: &str) -> Value {
    json!({"error": {"message": "failure for the test", "type": kind, "param": null, "code": code}})
}

pub fn form_pairs(request: &wiremock::Request) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(&request.body).unwrap()
}

pub fn form_field(request: &wiremock::Request, name: &str) -> Option<String> {
    form_pairs(request)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

pub fn header<'a>(request: &'a wiremock::Request, name: &str) -> &'a str {
    request
        .headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

/// An inbound SMS webhook, as Twilio posts it.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub params: Vec<(String, String)>,
    pub signature: Option<String>,
    pub http_api: bool,
    pub method: String,
}

impl Webhook {
    /// A message `body` from `from`, id `sid`, correctly signed.
    pub fn sms(sid: &str, from: &str, body: &str) -> Self {
        let params = [
            ("ToCountry", "US"),
            ("SmsMessageSid", sid),
            ("NumMedia", "0"),
            ("SmsSid", sid),
            ("SmsStatus", "received"),
            ("Body", body),
            ("To", OUR_NUMBER),
            ("NumSegments", "1"),
            ("MessageSid", sid),
            ("AccountSid", ACCOUNT_SID),
            ("From", from),
            ("ApiVersion", "2010-04-01"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        Self {
            params,
            signature: None,
            http_api: false,
            method: "POST".to_owned(),
        }
    }

    pub fn without(mut self, name: &str) -> Self {
        self.params.retain(|(k, _)| k != name);
        self
    }

    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.params.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn signed_with(mut self, signature: &str) -> Self {
        self.signature = Some(signature.to_owned());
        self
    }

    pub fn http_api(mut self) -> Self {
        self.http_api = true;
        self
    }

    pub fn body(&self) -> String {
        serde_urlencoded::to_string(&self.params).unwrap()
    }

    pub fn valid_signature(&self) -> String {
        sms::signature::compute(AUTH_TOKEN, WEBHOOK_URL, &self.params)
    }

    pub fn event(&self) -> Value {
        let signature = self
            .signature
            .clone()
            .unwrap_or_else(|| self.valid_signature());
        let mut headers = json!({
            "content-type": "application/x-www-form-urlencoded",
            "host": "abc123.execute-api.us-east-1.amazonaws.com",
            "user-agent": "TwilioProxy/1.1",
        });
        if !signature.is_empty() {
            headers["x-twilio-signature"] = json!(signature);
        }
        if self.http_api {
            json!({
                "version": "2.0", "routeKey": "POST /sms/inbound",
                "rawPath": "/sms/inbound", "rawQueryString": "",
                "headers": headers,
                "requestContext": {
                    "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
                    "http": {"method": self.method, "path": "/sms/inbound", "protocol": "HTTP/1.1", "sourceIp": "54.172.60.1", "userAgent": "TwilioProxy/1.1"},
                    "requestId": "req-v2", "routeKey": "POST /sms/inbound", "stage": "$default",
                    "time": "28/Nov/2026:05:00:00 +0000", "timeEpoch": 1_795_000_000_000_i64
                },
                "body": base64::engine::general_purpose::STANDARD.encode(self.body()),
                "isBase64Encoded": true
            })
        } else {
            let multi: serde_json::Map<String, Value> = headers
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), json!([v])))
                .collect();
            json!({
                "resource": "/sms/inbound", "path": "/sms/inbound", "httpMethod": self.method,
                "headers": headers, "multiValueHeaders": multi,
                "queryStringParameters": null, "multiValueQueryStringParameters": null,
                "pathParameters": null, "stageVariables": null,
                "requestContext": {
                    "resourcePath": "/sms/inbound", "httpMethod": self.method, "path": "/prod/sms/inbound",
                    "stage": "prod", "requestId": "req-v1", "identity": {"sourceIp": "54.172.60.1"}
                },
                "body": self.body(), "isBase64Encoded": false
            })
        }
    }
}

/// A response event, parsed.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub body: String,
    pub raw: Value,
}

impl Resp {
    pub fn from_event(event: Value) -> Self {
        Self {
            status: u16::try_from(event["statusCode"].as_u64().unwrap()).unwrap(),
            content_type: event["headers"]["content-type"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
            body: event["body"].as_str().unwrap_or("").to_owned(),
            raw: event,
        }
    }

    /// 200, text/xml, empty TwiML.
    pub fn assert_empty_twiml(&self) {
        assert_eq!(self.status, 200, "{self:?}");
        assert_eq!(self.content_type, "text/xml", "{self:?}");
        assert_eq!(self.body, EMPTY_TWIML, "{self:?}");
    }

    pub fn error_code(&self) -> String {
        let body: Value = serde_json::from_str(&self.body).unwrap();
        body["error"]["code"].as_str().unwrap().to_owned()
    }
}
