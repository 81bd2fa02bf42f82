//! Test support (feature `test-util`): inbound-message webhooks as Twilio
//! posts them, signed like Twilio signs them, in both API Gateway payload
//! versions. Used by this crate's tests and by the sms worker's end-to-end
//! tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use serde_json::{Value, json};

use crate::signature;

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
    /// Message `body` from `from` to `to`, id `sid`, of account
    /// `account_sid`, posted to `url` and signed with `auth_token`.
    pub fn sms(
        sid: &str,
        from: &str,
        to: &str,
        body: &str,
        account_sid: &str,
        auth_token: &str,
        url: &str,
    ) -> Self {
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
