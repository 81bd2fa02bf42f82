//! Twilio's Messages API: sending an SMS, and finding one we may have sent.
//!
//! - Send: `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`
//!   with HTTP Basic (account SID, auth token) and the form fields `To`,
//!   `From` (or `MessagingServiceSid`) and `Body`.
//! - Find: `GET` on the same URL filtered by `To`, `From` and `DateSent>=`
//!   (newest first), to learn whether a send whose answer never came went
//!   out after all ([`MessagesClient::find_sent`]).
//!
//! What a failed send means decides what a caller may do next, so
//! [`SendError`] tells apart the failures after which the message
//! certainly does not exist (no connection was made; Twilio refused it)
//! from those after which it may ([`SendError::may_have_been_sent`]).
//!
//! The credentials come from a Secrets Manager JSON secret with the keys
//! in [`keys`], the format the sms function's secret has, so one secret can
//! serve every function that texts. Errors never hold the auth token, the
//! recipient or the message.

use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use lambda_logging::Redacted;
use secret_cache::{SecretError, SecretJson};
use serde_json::Value;

/// Twilio's API, unless a test or a local stack points elsewhere.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// Keys of the secret.
pub mod keys {
    /// Twilio account SID (`AC...`): HTTP Basic user and part of the API path.
    pub const TWILIO_ACCOUNT_SID: &str = "twilio_account_sid";
    /// Twilio auth token: HTTP Basic password.
    pub const TWILIO_AUTH_TOKEN: &str = "twilio_auth_token";
    /// Optional Messaging Service SID (`MG...`): when set, messages are sent
    /// through it instead of from a number.
    pub const TWILIO_MESSAGING_SERVICE_SID: &str = "twilio_messaging_service_sid";
}

/// What Twilio needs to accept a message from us.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Account SID (not secret, but only known from the secret).
    pub account_sid: String,
    /// Auth token.
    pub auth_token: Redacted<String>,
    /// Messaging Service SID, when messages go through one.
    pub messaging_service_sid: Option<String>,
}

impl Credentials {
    /// Reads the keys of `secret`; a missing one fails naming it.
    pub fn from_secret(secret: &SecretJson) -> Result<Self, SecretError> {
        let account_sid = secret.required(keys::TWILIO_ACCOUNT_SID)?.to_owned();
        // It becomes a URL path segment.
        if account_sid.is_empty() || !account_sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(SecretError::MissingKey {
                secret_id: secret.secret_id().to_owned(),
                key: format!("{} (letters and digits)", keys::TWILIO_ACCOUNT_SID),
            });
        }
        Ok(Self {
            account_sid,
            auth_token: Redacted(secret.required(keys::TWILIO_AUTH_TOKEN)?.to_owned()),
            messaging_service_sid: secret
                .optional(keys::TWILIO_MESSAGING_SERVICE_SID)?
                .map(str::to_owned),
        })
    }
}

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No connection to Twilio could be made: the request never reached it,
    /// so the message certainly does not exist.
    #[error("Twilio unreachable: {0}")]
    Unreachable(String),
    /// The request may have reached Twilio, but its answer did not come
    /// back (timeout, dropped connection).
    #[error("Twilio transport {0}")]
    Transport(String),
    /// Twilio answered with an error status and its error code.
    #[error("Twilio answered HTTP {status} (error code {code})")]
    Status {
        /// HTTP status.
        status: u16,
        /// Twilio's error code, 0 when the body had none.
        code: i64,
    },
}

impl SendError {
    /// Whether trying again later may succeed (transport trouble, 429, 5xx)
    /// rather than the request being refused for good (e.g. an invalid
    /// number, error 21211).
    pub fn is_temporary(&self) -> bool {
        match self {
            Self::Unreachable(_) | Self::Transport(_) => true,
            Self::Status { status, .. } => *status == 429 || *status >= 500,
        }
    }

    /// Whether the message may exist despite the error (no answer, or a
    /// 5xx): a caller that must not send twice finds out
    /// ([`MessagesClient::find_sent`]) before sending again.
    pub fn may_have_been_sent(&self) -> bool {
        match self {
            Self::Unreachable(_) => false,
            Self::Transport(_) => true,
            Self::Status { status, .. } => *status >= 500,
        }
    }

    /// Whether Twilio refused this message for good (a 4xx other than 429
    /// "slow down" and 401/403/404, which say the credentials or the
    /// account are wrong: fixable, so worth trying again later).
    pub fn is_refused(&self) -> bool {
        matches!(self, Self::Status { status, .. }
            if (400..500).contains(status) && !matches!(status, 401 | 403 | 404 | 429))
    }

    /// Twilio's error code, 0 when it gave none.
    pub fn code(&self) -> i64 {
        match self {
            Self::Status { code, .. } => *code,
            Self::Unreachable(_) | Self::Transport(_) => 0,
        }
    }
}

/// Why [`MessagesClient::find_sent`] could not tell.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FindError {
    /// Not enough time left for another request.
    #[error("no time left to list messages")]
    OutOfTime,
    /// Twilio could not be reached or did not answer in time.
    #[error("Twilio transport {0}")]
    Transport(String),
    /// Twilio answered with an error status and its error code.
    #[error("Twilio answered HTTP {status} (error code {code})")]
    Status {
        /// HTTP status.
        status: u16,
        /// Twilio's error code, 0 when the body had none.
        code: i64,
    },
    /// The answer was not a message list, or it had more candidates than
    /// are read: the message may exist.
    #[error("Twilio message list: {0}")]
    Malformed(String),
}

/// Where a message we may have sent stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Twilio has it (queued, sent or delivered): its SID.
    Sent(String),
    /// Twilio has no such message, or only a failed one.
    NotSent,
}

/// The least time worth giving a request.
const FLOOR: Duration = Duration::from_millis(50);
/// Messages per page when looking for a sent one.
const PAGE_SIZE: u32 = 50;
/// Pages read at most when looking for a sent one.
const MAX_PAGES: usize = 4;
/// Clock difference tolerated between us and Twilio.
const CLOCK_SKEW: Duration = Duration::from_secs(120);

/// A Messages API client.
#[derive(Debug, Clone)]
pub struct MessagesClient {
    http: reqwest::Client,
    base_url: String,
}

impl MessagesClient {
    /// A client for `base_url` ([`DEFAULT_BASE_URL`] in production) sending
    /// with `http`.
    pub fn new(http: reqwest::Client, base_url: impl Into<String>) -> Self {
        Self {
            http,
            base_url: base_url.into().trim_end_matches('/').to_owned(),
        }
    }

    fn messages_url(&self, credentials: &Credentials) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.base_url, credentials.account_sid
        )
    }

    /// Sends `body` to `to`, through the credentials' Messaging Service if
    /// they name one, else from `from`; at most `timeout`. Returns the new
    /// message's SID, `None` if Twilio accepted it without saying which it
    /// is (a caller that must not send twice treats that as "may have been
    /// sent").
    pub async fn send(
        &self,
        credentials: &Credentials,
        to: &str,
        from: &str,
        body: &str,
        timeout: Duration,
    ) -> Result<Option<String>, SendError> {
        let sender = match &credentials.messaging_service_sid {
            Some(service) => ("MessagingServiceSid", service.as_str()),
            None => ("From", from),
        };
        let response = self
            .http
            .post(self.messages_url(credentials))
            .basic_auth(
                &credentials.account_sid,
                Some(credentials.auth_token.expose()),
            )
            .form(&[("To", to), sender, ("Body", body)])
            .timeout(timeout)
            .send()
            .await
            .map_err(|err| {
                // Only a connection that was never made proves the request
                // never reached Twilio.
                if err.is_connect() && !err.is_timeout() {
                    SendError::Unreachable(transport_text(err))
                } else {
                    SendError::Transport(transport_text(err))
                }
            })?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|err| SendError::Transport(transport_text(err)))?;
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();
        let field = |name: &str| json.as_ref().and_then(|j| j.get(name));
        if (200..300).contains(&status) {
            Ok(field("sid")
                .and_then(Value::as_str)
                .filter(|sid| !sid.is_empty())
                .map(str::to_owned))
        } else {
            Err(SendError::Status {
                status,
                code: field("code").and_then(Value::as_i64).unwrap_or(0),
            })
        }
    }

    /// Whether a message with `body` went from us (`from`, or the
    /// Messaging Service) to `to` since `since` (less a tolerated clock
    /// difference). Each request gets at most `per_request`, and none is
    /// started after `until`.
    ///
    /// Two reads, newest first: the first page without a date filter, which
    /// holds messages still queued (a queued message has no `date_sent` yet,
    /// so a `DateSent` filter would hide it), then up to a few pages
    /// filtered by `DateSent>=` the day `since` falls on. A failed or
    /// canceled message counts as not sent; more candidates than are read
    /// is an error, not "not sent".
    #[allow(clippy::too_many_arguments)]
    pub async fn find_sent(
        &self,
        credentials: &Credentials,
        to: &str,
        from: &str,
        body: &str,
        since: SystemTime,
        per_request: Duration,
        until: Instant,
    ) -> Result<Found, FindError> {
        let since: DateTime<Utc> = (since - CLOCK_SKEW).into();
        let mut query = vec![("To", to.to_owned()), ("PageSize", PAGE_SIZE.to_string())];
        if credentials.messaging_service_sid.is_none() {
            query.push(("From", from.to_owned()));
        }
        let limits = (per_request, until);
        let recent = self.page(credentials, &query, limits).await?;
        if let Some(sid) = matching(&recent.0, body, since) {
            return Ok(Found::Sent(sid));
        }
        // `DateSent>=YYYY-MM-DD` in Twilio's docs is the parameter named
        // `DateSent>` (as its libraries send it), not a third operator.
        query.push(("DateSent>", since.format("%Y-%m-%d").to_string()));
        let mut page = self.page(credentials, &query, limits).await?;
        for _ in 0..MAX_PAGES {
            if let Some(sid) = matching(&page.0, body, since) {
                return Ok(Found::Sent(sid));
            }
            let Some(next) = page.1.take() else {
                return Ok(Found::NotSent);
            };
            page = self.next_page(credentials, &next, limits).await?;
        }
        // Not among the pages read, and more exist: we cannot be sure.
        Err(FindError::Malformed(format!(
            "more than {} messages to check; not sure the message was not sent",
            PAGE_SIZE as usize * MAX_PAGES
        )))
    }

    async fn page(
        &self,
        credentials: &Credentials,
        query: &[(&str, String)],
        limits: (Duration, Instant),
    ) -> Result<Page, FindError> {
        let query = serde_urlencoded::to_string(query)
            .map_err(|err| FindError::Malformed(format!("encoding a message query: {err}")))?;
        let request = self
            .http
            .get(format!("{}?{query}", self.messages_url(credentials)));
        self.read_page(credentials, request, limits).await
    }

    async fn next_page(
        &self,
        credentials: &Credentials,
        next_page_uri: &str,
        limits: (Duration, Instant),
    ) -> Result<Page, FindError> {
        // Twilio's next_page_uri is a path on the API host; never follow a
        // URL elsewhere with our credentials.
        if !next_page_uri.starts_with('/') || next_page_uri.starts_with("//") {
            return Err(FindError::Malformed(
                "next_page_uri is not a path".to_owned(),
            ));
        }
        let request = self.http.get(format!("{}{next_page_uri}", self.base_url));
        self.read_page(credentials, request, limits).await
    }

    async fn read_page(
        &self,
        credentials: &Credentials,
        request: reqwest::RequestBuilder,
        (per_request, until): (Duration, Instant),
    ) -> Result<Page, FindError> {
        let timeout = until
            .saturating_duration_since(Instant::now())
            .min(per_request);
        if timeout < FLOOR {
            return Err(FindError::OutOfTime);
        }
        let transport = |err: reqwest::Error| FindError::Transport(transport_text(err));
        let response = request
            .basic_auth(
                &credentials.account_sid,
                Some(credentials.auth_token.expose()),
            )
            .timeout(timeout)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(transport)?;
        let json: Value = serde_json::from_slice(&bytes)
            .map_err(|err| FindError::Malformed(format!("not JSON: {err}")))?;
        if !(200..300).contains(&status) {
            return Err(FindError::Status {
                status,
                code: json.get("code").and_then(Value::as_i64).unwrap_or(0),
            });
        }
        let messages = json
            .get("messages")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| FindError::Malformed("no messages".to_owned()))?;
        let next = json
            .get("next_page_uri")
            .and_then(Value::as_str)
            .filter(|uri| !uri.is_empty())
            .map(str::to_owned);
        Ok((messages, next))
    }
}

/// One page of a message list and the path of the next one.
type Page = (Vec<Value>, Option<String>);

/// The SID of the first outbound message in `messages` with `body`,
/// created at or after `since`, that did not fail.
fn matching(messages: &[Value], body: &str, since: DateTime<Utc>) -> Option<String> {
    messages.iter().find_map(|message| {
        let text = |name: &str| message.get(name).and_then(Value::as_str);
        let outbound = text("direction").is_some_and(|d| d.starts_with("outbound"));
        let failed = matches!(text("status"), Some("failed" | "canceled"));
        let created = text("date_created")
            .and_then(|d| DateTime::parse_from_rfc2822(d).ok())
            .map(|d| d.with_timezone(&Utc));
        let recent = created.is_some_and(|created| created >= since);
        (outbound && !failed && recent && text("body") == Some(body))
            .then(|| text("sid").map(str::to_owned))
            .flatten()
    })
}

/// A transport error's kind and text, without the URL (it holds the
/// account SID and, when listing, the recipient).
fn transport_text(err: reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else {
        "failed"
    };
    format!("{kind}: {}", err.without_url())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use wiremock::matchers::{body_string, header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn credentials(service: Option<&str>) -> Credentials {
        Credentials {
            account_sid: "AC123".into(),
            auth_token: Redacted("tok-secret".into()),
            messaging_service_sid: service.map(str::to_owned),
        }
    }

    #[tokio::test]
    async fn sends_the_form_with_basic_auth_and_returns_the_sid() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/2010-04-01/Accounts/AC123/Messages.json"))
            .and(header("authorization", "Basic QUMxMjM6dG9rLXNlY3JldA=="))
            .and(body_string(
                "To=%2B14155550100&From=%2B14155550199&Body=code+123456",
            ))
            .respond_with(
                ResponseTemplate::new(201).set_body_json(serde_json::json!({"sid": "SM1"})),
            )
            .expect(1)
            .mount(&server)
            .await;
        let client = MessagesClient::new(reqwest::Client::new(), server.uri());
        let sid = client
            .send(
                &credentials(None),
                "+14155550100",
                "+14155550199",
                "code 123456",
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        assert_eq!(sid.as_deref(), Some("SM1"));
    }

    #[tokio::test]
    async fn a_messaging_service_replaces_the_from_number() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(body_string(
                "To=%2B14155550100&MessagingServiceSid=MG9&Body=hi",
            ))
            .respond_with(
                ResponseTemplate::new(201).set_body_json(serde_json::json!({"sid": "SM2"})),
            )
            .expect(1)
            .mount(&server)
            .await;
        let client = MessagesClient::new(reqwest::Client::new(), format!("{}/", server.uri()));
        let sid = client
            .send(
                &credentials(Some("MG9")),
                "+14155550100",
                "+1",
                "hi",
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        assert_eq!(sid.as_deref(), Some("SM2"));
    }

    #[tokio::test]
    async fn errors_carry_status_and_code_and_say_whether_to_retry() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({"code": 21211, "message": "Invalid 'To' Phone Number: +1415555..."})))
            .mount(&server)
            .await;
        let client = MessagesClient::new(reqwest::Client::new(), server.uri());
        let err = client
            .send(
                &credentials(None),
                "+14155550100",
                "+1",
                "hi",
                Duration::from_secs(5),
            )
            .await
            .unwrap_err();
        assert_eq!(
            err,
            SendError::Status {
                status: 400,
                code: 21211
            }
        );
        assert!(!err.is_temporary());
        assert!(!err.to_string().contains("+1415555"));
        assert!(
            SendError::Status {
                status: 503,
                code: 0
            }
            .is_temporary()
        );
        assert!(SendError::Transport("timed out".into()).is_temporary());
    }

    #[test]
    fn credentials_come_from_the_secret_without_printing_the_token() {
        let secret = SecretJson::parse(
            "twilio",
            r#"{"twilio_account_sid":"AC1","twilio_auth_token":"tok-secret","twilio_messaging_service_sid":"MG2"}"#,
        )
        .unwrap();
        let creds = Credentials::from_secret(&secret).unwrap();
        assert_eq!(creds.account_sid, "AC1");
        assert_eq!(creds.messaging_service_sid.as_deref(), Some("MG2"));
        assert!(!format!("{creds:?}").contains("tok-secret"));
        let bad = SecretJson::parse(
            "twilio",
            r#"{"twilio_account_sid":"AC/../x","twilio_auth_token":"t"}"#,
        )
        .unwrap();
        assert!(Credentials::from_secret(&bad).is_err());
        let missing = SecretJson::parse("twilio", r#"{"twilio_account_sid":"AC1"}"#).unwrap();
        assert!(
            Credentials::from_secret(&missing)
                .unwrap_err()
                .to_string()
                .contains("twilio_auth_token")
        );
    }

    #[test]
    fn what_a_failed_send_means() {
        let status = |status| SendError::Status { status, code: 1 };
        // Certainly not sent, worth another try.
        for err in [
            SendError::Unreachable("refused".into()),
            status(429),
            status(401),
            status(403),
            status(404),
        ] {
            assert!(!err.may_have_been_sent() && !err.is_refused(), "{err}");
        }
        // Refused for good.
        for err in [status(400), status(422)] {
            assert!(!err.may_have_been_sent() && err.is_refused(), "{err}");
            assert!(!err.is_temporary());
        }
        // May exist.
        for err in [
            SendError::Transport("timed out".into()),
            status(500),
            status(503),
        ] {
            assert!(err.may_have_been_sent() && !err.is_refused(), "{err}");
            assert!(err.is_temporary());
        }
        assert_eq!(status(400).code(), 1);
        assert_eq!(SendError::Transport(String::new()).code(), 0);
    }

    #[tokio::test]
    async fn no_connection_is_unreachable_and_an_answer_without_sid_is_none() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let client = MessagesClient::new(reqwest::Client::new(), url);
        let err = client
            .send(&credentials(None), "+1", "+2", "hi", Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Unreachable(_)), "{err:?}");

        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(201).set_body_string("{}"))
            .mount(&server)
            .await;
        let client = MessagesClient::new(reqwest::Client::new(), server.uri());
        let sid = client
            .send(&credentials(None), "+1", "+2", "hi", Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(sid, None);
    }

    #[tokio::test]
    async fn a_send_that_times_out_may_have_been_sent() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(201)
                    .set_body_json(json!({"sid": "SMlate"}))
                    .set_delay(Duration::from_millis(500)),
            )
            .mount(&server)
            .await;
        let client = MessagesClient::new(reqwest::Client::new(), server.uri());
        let err = client
            .send(
                &credentials(None),
                "+1",
                "+2",
                "hi",
                Duration::from_millis(100),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, SendError::Transport(_)) && err.may_have_been_sent(),
            "{err:?}"
        );
    }

    fn message(sid: &str, body: &str, created: &str, status: &str, direction: &str) -> Value {
        json!({"sid": sid, "body": body, "date_created": created, "status": status, "direction": direction})
    }

    #[test]
    fn a_recent_outbound_message_with_the_same_body_matches() {
        let since = DateTime::parse_from_rfc2822("Tue, 01 Dec 2026 10:00:00 +0000")
            .unwrap()
            .with_timezone(&Utc);
        let at = |s: &str| format!("Tue, 01 Dec 2026 {s} +0000");
        let messages = [
            message("SMold", "hi", &at("09:59:59"), "delivered", "outbound-api"),
            message("SMin", "hi", &at("10:00:05"), "received", "inbound"),
            message("SMother", "other", &at("10:00:05"), "sent", "outbound-api"),
            message("SMfail", "hi", &at("10:00:05"), "failed", "outbound-api"),
            message("SMq", "hi", &at("10:00:01"), "queued", "outbound-api"),
        ];
        assert_eq!(matching(&messages, "hi", since).as_deref(), Some("SMq"));
        assert_eq!(matching(&messages[..4], "hi", since), None);
        assert_eq!(matching(&[json!({"body": "hi"})], "hi", since), None);
    }

    fn rfc2822(at: SystemTime) -> String {
        DateTime::<Utc>::from(at).to_rfc2822()
    }

    fn limits() -> (Duration, Instant) {
        (
            Duration::from_secs(5),
            Instant::now() + Duration::from_secs(30),
        )
    }

    #[tokio::test]
    async fn a_queued_message_is_found_on_the_unfiltered_first_page() {
        let server = MockServer::start().await;
        let since = SystemTime::now();
        Mock::given(method("GET"))
            .and(path("/2010-04-01/Accounts/AC123/Messages.json"))
            .and(query_param("To", "+14155550100"))
            .and(query_param("From", "+14155550199"))
            .and(header("authorization", "Basic QUMxMjM6dG9rLXNlY3JldA=="))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "messages": [message("SMq", "the answer", &rfc2822(since), "queued", "outbound-api")],
                "next_page_uri": null
            })))
            .expect(1)
            .mount(&server)
            .await;
        let client = MessagesClient::new(reqwest::Client::new(), server.uri());
        let (per_request, until) = limits();
        let found = client
            .find_sent(
                &credentials(None),
                "+14155550100",
                "+14155550199",
                "the answer",
                since,
                per_request,
                until,
            )
            .await
            .unwrap();
        assert_eq!(found, Found::Sent("SMq".into()));
    }

    #[tokio::test]
    async fn the_dated_pages_are_followed_and_an_absent_message_is_not_sent() {
        let server = MockServer::start().await;
        let since = SystemTime::now();
        let day = DateTime::<Utc>::from(since - CLOCK_SKEW)
            .format("%Y-%m-%d")
            .to_string();
        // The second dated page holds it.
        Mock::given(method("GET"))
            .and(path("/2010-04-01/Accounts/AC123/Messages.json"))
            .and(query_param("DateSent>", day.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "messages": [message("SMx", "other", &rfc2822(since), "sent", "outbound-api")],
                "next_page_uri": "/2010-04-01/Accounts/AC123/Messages.json?Page=1&PageToken=PA1"
            })))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(query_param("PageToken", "PA1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "messages": [message("SMyes", "hi", &rfc2822(since), "delivered", "outbound-api")],
                "next_page_uri": null
            })))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"messages": [], "next_page_uri": null})),
            )
            .mount(&server)
            .await;
        let client = MessagesClient::new(reqwest::Client::new(), server.uri());
        let (per_request, until) = limits();
        let creds = credentials(None);
        let found = client
            .find_sent(&creds, "+1", "+2", "hi", since, per_request, until)
            .await;
        assert_eq!(found, Ok(Found::Sent("SMyes".into())));
        let found = client
            .find_sent(&creds, "+1", "+2", "not there", since, per_request, until)
            .await;
        assert_eq!(found, Ok(Found::NotSent));
    }

    #[tokio::test]
    async fn what_cannot_be_told_is_an_error_never_not_sent() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(query_param("To", "+elsewhere"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "messages": [], "next_page_uri": "https://evil.example/steal"
            })))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(query_param("To", "+down"))
            .respond_with(ResponseTemplate::new(503).set_body_json(json!({"code": 20503})))
            .mount(&server)
            .await;
        let client = MessagesClient::new(reqwest::Client::new(), server.uri());
        let creds = credentials(None);
        let since = SystemTime::now();
        let (per_request, until) = limits();
        let err = client
            .find_sent(&creds, "+elsewhere", "+2", "hi", since, per_request, until)
            .await;
        assert!(matches!(err, Err(FindError::Malformed(_))), "{err:?}");
        let err = client
            .find_sent(&creds, "+down", "+2", "hi", since, per_request, until)
            .await;
        assert_eq!(
            err,
            Err(FindError::Status {
                status: 503,
                code: 20503
            })
        );
        let err = client
            .find_sent(
                &creds,
                "+down",
                "+2",
                "hi",
                since,
                per_request,
                Instant::now(),
            )
            .await;
        assert_eq!(err, Err(FindError::OutOfTime));
    }
}
