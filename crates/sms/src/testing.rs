//! Test support (feature `test-util`): inbound-message webhooks as Twilio
//! posts them, signed like Twilio signs them, in both API Gateway payload
//! versions, plus what every sms test needs (the test account's
//! constants, one log capture per test binary, unique names, a hung
//! endpoint). Used by this crate's tests and the sms worker's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use lambda_logging::CapturedLogs;
use serde_json::{Value, json};

use crate::signature;

/// The URL the test webhooks are posted to (and signed for).
pub const WEBHOOK_URL: &str = "https://api.example.com/prod/sms/inbound";
/// The test Twilio account.
pub const ACCOUNT_SID: &str = "AC00000000000000000000000000000001";
/// Its auth token.
pub const AUTH_TOKEN: &str = "twilio-auth-token-7f3a9c";
/// The test OpenAI key.
pub const OPENAI_KEY: &str = "sk-test-openai-key-51d2e8";
/// Our Twilio number.
pub const OUR_NUMBER: &str = "+15550001111";

/// The secret holding the test credentials; a `null` in `extra` removes a
/// key, anything else sets it.
pub fn secret_json(extra: &Value) -> String {
    let mut secret = json!({
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "openai_api_key": OPENAI_KEY,
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        if v.is_null() {
            secret.as_object_mut().unwrap().remove(k);
        } else {
            secret[k] = v.clone();
        }
    }
    secret.to_string()
}

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

/// The captured log lines (JSON objects) that mention `needle`.
pub fn log_lines_with(needle: &str) -> Vec<Value> {
    logs()
        .contents()
        .lines()
        .filter(|line| line.contains(needle))
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// `prefix` made unique in this process (table and secret names).
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A loopback endpoint that accepts connections, reads nothing and never
/// answers: a dependency that hangs.
pub async fn silent_endpoint() -> String {
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

/// A loopback URL where nothing listens: a dependency that is down.
pub fn closed_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

/// An inbound SMS webhook, as Twilio posts it.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// The form, in order (repeated names allowed).
    pub params: Vec<(String, String)>,
    /// `X-Twilio-Signature`; `None` signs with [`Webhook::auth_token`],
    /// `Some("")` sends none.
    pub signature: Option<String>,
    /// The auth token that signs it.
    pub auth_token: String,
    /// The URL Twilio posted to (what it signs).
    pub url: String,
    /// HTTP API (payload 2.0, base64 body) instead of REST API (1.0).
    pub http_api: bool,
    /// The HTTP method.
    pub method: String,
}

impl Webhook {
    /// Message `body` from `from` to [`OUR_NUMBER`], id `sid`, of the test
    /// account, posted to [`WEBHOOK_URL`] and signed with [`AUTH_TOKEN`].
    pub fn sms(sid: &str, from: &str, body: &str) -> Self {
        let (to, account_sid, auth_token, url) = (OUR_NUMBER, ACCOUNT_SID, AUTH_TOKEN, WEBHOOK_URL);
        let params = [
            ("ToCountry", "US"),
            ("SmsMessageSid", sid),
            ("NumMedia", "0"),
            ("SmsSid", sid),
            ("SmsStatus", "received"),
            ("Body", body),
            ("To", to),
            ("NumSegments", "1"),
            ("MessageSid", sid),
            ("AccountSid", account_sid),
            ("From", from),
            ("ApiVersion", "2010-04-01"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        Self {
            params,
            signature: None,
            auth_token: auth_token.to_owned(),
            url: url.to_owned(),
            http_api: false,
            method: "POST".to_owned(),
        }
    }

    /// Without parameter `name`.
    pub fn without(mut self, name: &str) -> Self {
        self.params.retain(|(k, _)| k != name);
        self
    }

    /// With one more parameter (a repeated name is allowed).
    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.params.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sent with this signature instead of a valid one (`""`: none).
    pub fn signed_with(mut self, signature: &str) -> Self {
        self.signature = Some(signature.to_owned());
        self
    }

    /// As an HTTP API (payload 2.0) event.
    pub fn http_api(mut self) -> Self {
        self.http_api = true;
        self
    }

    /// The form body.
    pub fn body(&self) -> String {
        serde_urlencoded::to_string(&self.params).unwrap()
    }

    /// Twilio's signature of this request.
    pub fn valid_signature(&self) -> String {
        signature::compute(&self.auth_token, &self.url, &self.params)
    }

    /// The API Gateway event.
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
    /// HTTP status.
    pub status: u16,
    /// `content-type`.
    pub content_type: String,
    /// The body.
    pub body: String,
    /// The whole response event.
    pub raw: Value,
}

/// The empty TwiML answer.
pub const EMPTY_TWIML: &str = crate::twiml::EMPTY;

impl Resp {
    /// Reads a response event.
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

    /// Asserts 200, text/xml, empty TwiML.
    pub fn assert_empty_twiml(&self) {
        assert_eq!(self.status, 200, "{self:?}");
        assert_eq!(self.content_type, "text/xml", "{self:?}");
        assert_eq!(self.body, EMPTY_TWIML, "{self:?}");
    }

    /// Asserts 200 TwiML that makes Twilio send exactly `text`.
    pub fn assert_twiml_message(&self, text: &str) {
        assert_eq!(self.status, 200, "{self:?}");
        assert_eq!(self.content_type, "text/xml", "{self:?}");
        assert_eq!(
            self.body,
            crate::twiml::messages(&[text.to_owned()]),
            "{self:?}"
        );
    }

    /// The JSON error code of an error response.
    pub fn error_code(&self) -> String {
        let body: Value = serde_json::from_str(&self.body).unwrap();
        body["error"]["code"].as_str().unwrap().to_owned()
    }
}
