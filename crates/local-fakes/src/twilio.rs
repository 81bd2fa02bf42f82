//! Twilio's Messages REST API: create (`POST .../Messages.json`), list
//! (`GET .../Messages.json`) and fetch (`GET .../Messages/{Sid}.json`),
//! with HTTP Basic authentication by account SID and auth token.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::server::{Exchange, FakeServer, Reply, Service};

/// Twilio's limit on one message body.
pub const MAX_BODY_CHARS: usize = 1600;

/// The account the fake accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwilioAccount {
    /// `AC...`.
    pub account_sid: String,
    /// The auth token (HTTP Basic password; also what signs webhooks).
    pub auth_token: String,
}

/// A message the fake accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    /// `SM...`.
    pub sid: String,
    /// Recipient.
    pub to: String,
    /// Sender number, when sent `From`.
    pub from: Option<String>,
    /// Messaging Service, when sent `MessagingServiceSid`.
    pub messaging_service_sid: Option<String>,
    /// The text.
    pub body: String,
}

impl SentMessage {
    fn resource(&self, account_sid: &str) -> Value {
        json!({
            "sid": self.sid,
            "account_sid": account_sid,
            "to": self.to,
            "from": self.from,
            "messaging_service_sid": self.messaging_service_sid,
            "body": self.body,
            "status": "queued",
            "direction": "outbound-api",
            "num_segments": self.body.chars().count().div_ceil(153).max(1).to_string(),
            "error_code": null,
            "error_message": null,
            "uri": format!("/2010-04-01/Accounts/{account_sid}/Messages/{}.json", self.sid),
        })
    }
}

struct Twilio {
    account: TwilioAccount,
    messages: Mutex<Vec<SentMessage>>,
    next: AtomicU64,
}

fn error(status: u16, code: u32, message: &str) -> Value {
    json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status,
    })
}

impl Twilio {
    fn basic_auth_matches(&self, exchange: &Exchange) -> bool {
        let Some(encoded) = exchange
            .header("authorization")
            .and_then(|v| v.strip_prefix("Basic "))
        else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let expected = format!("{}:{}", self.account.account_sid, self.account.auth_token);
        decoded == expected.as_bytes()
    }

    fn messages(&self) -> Vec<SentMessage> {
        self.messages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn create(&self, exchange: &Exchange) -> Reply {
        let form: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&exchange.body).unwrap_or_default();
        let field = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        let Some(to) = field("To") else {
            return Reply::json(
                400,
                error(400, 21604, "A 'To' phone number is required."),
                true,
            );
        };
        let Some(body) = field("Body") else {
            return Reply::json(400, error(400, 21602, "Message body is required."), true);
        };
        let (from, service) = (field("From"), field("MessagingServiceSid"));
        if from.is_none() && service.is_none() {
            return Reply::json(
                400,
                error(400, 21603, "A 'From' phone number is required."),
                true,
            );
        }
        if body.chars().count() > MAX_BODY_CHARS {
            return Reply::json(
                400,
                error(
                    400,
                    21617,
                    "The concatenated message body exceeds the 1600 character limit.",
                ),
                true,
            );
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let message = SentMessage {
            sid: format!("SM{n:032x}"),
            to,
            from,
            messaging_service_sid: service,
            body,
        };
        let resource = message.resource(&self.account.account_sid);
        self.messages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(message);
        Reply::json(201, resource, true)
    }

    fn list(&self, exchange: &Exchange) -> Reply {
        let query: Vec<(String, String)> =
            serde_urlencoded::from_str(exchange.query.as_deref().unwrap_or_default())
                .unwrap_or_default();
        let filter = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let (to, from) = (filter("To"), filter("From"));
        let messages: Vec<Value> = self
            .messages()
            .iter()
            .rev()
            .filter(|m| to.as_ref().is_none_or(|t| *t == m.to))
            .filter(|m| from.as_ref().is_none_or(|f| Some(f) == m.from.as_ref()))
            .map(|m| m.resource(&self.account.account_sid))
            .collect();
        Reply::json(
            200,
            json!({
                "messages": messages,
                "page": 0,
                "page_size": messages.len().max(50),
                "next_page_uri": null,
                "previous_page_uri": null,
            }),
            true,
        )
    }
}

impl Service for Twilio {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn authorized(&self, exchange: &Exchange) -> bool {
        self.basic_auth_matches(exchange)
    }

    fn answer(&self, exchange: &Exchange) -> Reply {
        let prefix = format!("/2010-04-01/Accounts/{}/", self.account.account_sid);
        if !self.authorized(exchange) {
            let mut reply = Reply::json(401, error(401, 20003, "Authenticate"), false);
            reply.headers.push((
                "www-authenticate".into(),
                "Basic realm=\"Twilio API\"".into(),
            ));
            return reply;
        }
        let not_found = || {
            Reply::json(
                404,
                error(
                    404,
                    20404,
                    &format!("The requested resource {} was not found", exchange.path),
                ),
                true,
            )
        };
        let Some(rest) = exchange.path.strip_prefix(&prefix) else {
            return not_found();
        };
        match (&exchange.method, rest) {
            (&Method::POST, "Messages.json") => self.create(exchange),
            (&Method::GET, "Messages.json") => self.list(exchange),
            (&Method::GET, single) => match single
                .strip_prefix("Messages/")
                .and_then(|s| s.strip_suffix(".json"))
                .and_then(|sid| self.messages().into_iter().find(|m| m.sid == sid))
            {
                Some(message) => {
                    Reply::json(200, message.resource(&self.account.account_sid), true)
                }
                None => not_found(),
            },
            _ => not_found(),
        }
    }

    fn error_body(&self, status: u16) -> Value {
        error(
            status,
            20500,
            "Internal Server Error (injected by the fake)",
        )
    }

    fn control(&self, method: &Method, rest: &str, _body: &[u8]) -> Option<Reply> {
        (*method == Method::GET && rest == "messages")
            .then(|| Reply::json(200, json!(self.messages()), true))
    }

    fn reset(&self) {
        self.messages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// The running Twilio fake.
pub struct FakeTwilio {
    server: FakeServer,
    service: Arc<Twilio>,
}

impl std::ops::Deref for FakeTwilio {
    type Target = FakeServer;

    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl std::fmt::Debug for FakeTwilio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeTwilio")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl FakeTwilio {
    /// Serves on `127.0.0.1:port` (0: any free port) for `account`.
    pub async fn start(account: TwilioAccount, port: u16) -> std::io::Result<Self> {
        let service = Arc::new(Twilio {
            account,
            messages: Mutex::new(Vec::new()),
            next: AtomicU64::new(1),
        });
        let server = FakeServer::start(Arc::clone(&service), port).await?;
        Ok(Self { server, service })
    }

    /// The base URL (`TWILIO_BASE_URL`), e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        self.server.root_url()
    }

    /// Messages accepted so far, oldest first.
    pub fn messages(&self) -> Vec<SentMessage> {
        self.service.messages()
    }
}
