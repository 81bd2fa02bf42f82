//! Twilio's Messages API: sending a message, and finding one we may have
//! sent.
//!
//! - Send: `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`,
//!   HTTP Basic (account SID, auth token), form fields `To`, `From` (or
//!   `MessagingServiceSid`) and `Body`.
//! - Find: `GET` on the same URL with `To`, `From` and `DateSent>=` filters
//!   (newest first), used to learn whether a send whose answer never came
//!   went out after all.
//!
//! What a failed send means decides what may happen next, so [`send`]
//! tells apart the failures after which the message certainly does not
//! exist (no connection was made; Twilio refused it with a 4xx) from those
//! after which it may (timeout, dropped connection, 5xx).
//!
//! [`send`]: Twilio::send

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::Error;
use crate::deadline::Deadline;
use crate::secrets::Credentials;

/// A Twilio Messages API client.
#[derive(Debug, Clone)]
pub struct Twilio {
    http: reqwest::Client,
    base_url: String,
    timeout: Duration,
}

/// The least time worth giving a request.
const FLOOR: Duration = Duration::from_millis(50);
/// Messages per page when looking for a sent one.
const PAGE_SIZE: u32 = 50;
/// Pages read at most when looking for a sent one.
const MAX_PAGES: usize = 4;
/// Clock difference tolerated between us and Twilio.
const CLOCK_SKEW: Duration = Duration::from_secs(120);

/// Why a send did not return a message SID.
#[derive(Debug)]
pub enum SendFailure {
    /// The message certainly was not created: no connection was made, or
    /// Twilio answered 429 (slow down) or 401/403/404 (credentials or
    /// account wrong: fixable, so worth trying again later). Sending again
    /// is safe.
    NotSent(Error),
    /// Twilio refused this message for good (another 4xx: an invalid or
    /// opted-out recipient, a body it does not take). Sending it again
    /// would fail too.
    Refused(Error),
    /// The message may or may not exist (timeout, dropped connection,
    /// 5xx): find out before sending again.
    Unknown(Error),
}

impl SendFailure {
    /// The underlying error.
    pub fn error(&self) -> &Error {
        match self {
            Self::NotSent(err) | Self::Refused(err) | Self::Unknown(err) => err,
        }
    }
}

/// Where a message we may have sent stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Twilio has it (queued, sent or delivered): its SID.
    Sent(String),
    /// Twilio has no such message, or only a failed one.
    NotSent,
}

impl Twilio {
    /// A client for `base_url`; each request is bounded by `timeout`.
    pub fn new(http: reqwest::Client, base_url: String, timeout: Duration) -> Self {
        Self {
            http,
            base_url,
            timeout,
        }
    }

    /// The longest a request may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn messages_url(&self, credentials: &Credentials) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.base_url, credentials.account_sid
        )
    }

    /// Sends `body` to `to`, from `from` or through the credentials'
    /// Messaging Service; returns the new message's SID.
    pub async fn send(
        &self,
        credentials: &Credentials,
        to: &str,
        from: &str,
        body: &str,
        deadline: &Deadline,
    ) -> Result<String, SendFailure> {
        let timeout = deadline
            .timeout(self.timeout, Duration::ZERO, FLOOR)
            .ok_or(SendFailure::NotSent(Error::OutOfTime("sending a message")))?;
        let sender = match &credentials.messaging_service_sid {
            Some(service) => ("MessagingServiceSid", service.as_str()),
            None => ("From", from),
        };
        let form = [("To", to), sender, ("Body", body)];
        let response = self
            .http
            .post(self.messages_url(credentials))
            .basic_auth(
                &credentials.account_sid,
                Some(credentials.auth_token.expose()),
            )
            .form(&form)
            .timeout(timeout)
            .send()
            .await
            .map_err(|err| {
                // Only a connection that was never made proves the request
                // never reached Twilio.
                if err.is_connect() && !err.is_timeout() {
                    SendFailure::NotSent(transport(err))
                } else {
                    SendFailure::Unknown(transport(err))
                }
            })?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|err| SendFailure::Unknown(transport(err)))?;
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();
        if (200..300).contains(&status) {
            return json
                .as_ref()
                .and_then(|j| j.get("sid"))
                .and_then(Value::as_str)
                .filter(|sid| !sid.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| {
                    // Created, but we cannot tell which message it is.
                    SendFailure::Unknown(Error::TwilioMalformed(
                        "the answer to a send has no sid".to_owned(),
                    ))
                });
        }
        let error = Error::TwilioStatus {
            status,
            code: json
                .as_ref()
                .and_then(|j| j.get("code"))
                .and_then(Value::as_i64)
                .unwrap_or(0),
        };
        Err(match status {
            401 | 403 | 404 | 429 => SendFailure::NotSent(error),
            400..=499 => SendFailure::Refused(error),
            _ => SendFailure::Unknown(error),
        })
    }

    /// Whether a message with `body` went from us (`from`, or the
    /// Messaging Service) to `to` since `since` (less the clock skew).
    ///
    /// Two reads, newest first: the first page without a date filter, which
    /// holds messages still queued (a queued message has no `date_sent` yet,
    /// so a `DateSent` filter would hide it), then up to [`MAX_PAGES`] pages
    /// filtered by `DateSent>=` the day `since` falls on.
    pub async fn find(
        &self,
        credentials: &Credentials,
        to: &str,
        from: &str,
        body: &str,
        since: SystemTime,
        deadline: &Deadline,
    ) -> Result<Found, Error> {
        let since: DateTime<Utc> = (since - CLOCK_SKEW).into();
        let mut query = vec![("To", to.to_owned()), ("PageSize", PAGE_SIZE.to_string())];
        if credentials.messaging_service_sid.is_none() {
            query.push(("From", from.to_owned()));
        }
        let recent = self.page(credentials, &query, deadline).await?;
        if let Some(sid) = matching(&recent.0, body, since) {
            return Ok(Found::Sent(sid));
        }
        // `DateSent>=YYYY-MM-DD` in Twilio's docs is the parameter named
        // `DateSent>` (as its libraries send it), not a third operator.
        query.push(("DateSent>", since.format("%Y-%m-%d").to_string()));
        let mut page = self.page(credentials, &query, deadline).await?;
        for _ in 0..MAX_PAGES {
            if let Some(sid) = matching(&page.0, body, since) {
                return Ok(Found::Sent(sid));
            }
            let Some(next) = page.1.take() else {
                return Ok(Found::NotSent);
            };
            page = self.next_page(credentials, &next, deadline).await?;
        }
        // Not among the pages read, and more exist: we cannot be sure.
        Err(Error::TwilioMalformed(format!(
            "more than {} messages to check; not sure the message was not sent",
            PAGE_SIZE as usize * MAX_PAGES
        )))
    }

    async fn page(
        &self,
        credentials: &Credentials,
        query: &[(&str, String)],
        deadline: &Deadline,
    ) -> Result<(Vec<Value>, Option<String>), Error> {
        let query = serde_urlencoded::to_string(query)
            .map_err(|err| Error::Internal(format!("encoding a message query: {err}")))?;
        let request = self
            .http
            .get(format!("{}?{query}", self.messages_url(credentials)));
        self.read_page(credentials, request, deadline).await
    }

    async fn next_page(
        &self,
        credentials: &Credentials,
        next_page_uri: &str,
        deadline: &Deadline,
    ) -> Result<(Vec<Value>, Option<String>), Error> {
        // Twilio's next_page_uri is a path on the API host; never follow a
        // URL elsewhere with our credentials.
        if !next_page_uri.starts_with('/') || next_page_uri.starts_with("//") {
            return Err(Error::TwilioMalformed(
                "next_page_uri is not a path".to_owned(),
            ));
        }
        let request = self.http.get(format!("{}{next_page_uri}", self.base_url));
        self.read_page(credentials, request, deadline).await
    }

    async fn read_page(
        &self,
        credentials: &Credentials,
        request: reqwest::RequestBuilder,
        deadline: &Deadline,
    ) -> Result<(Vec<Value>, Option<String>), Error> {
        let timeout = deadline
            .timeout(self.timeout, Duration::ZERO, FLOOR)
            .ok_or(Error::OutOfTime("listing messages"))?;
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
            .map_err(|err| Error::TwilioMalformed(format!("a message list: {err}")))?;
        if !(200..300).contains(&status) {
            return Err(Error::TwilioStatus {
                status,
                code: json.get("code").and_then(Value::as_i64).unwrap_or(0),
            });
        }
        let messages = json
            .get("messages")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| Error::TwilioMalformed("a message list without messages".to_owned()))?;
        let next = json
            .get("next_page_uri")
            .and_then(Value::as_str)
            .filter(|uri| !uri.is_empty())
            .map(str::to_owned);
        Ok((messages, next))
    }
}

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

fn transport(err: reqwest::Error) -> Error {
    let kind = if err.is_timeout() {
        "timed out"
    } else {
        "failed"
    };
    // The URL holds the account SID only, but the error text is enough.
    Error::TwilioTransport(format!("{kind}: {}", err.without_url()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(sid: &str, body: &str, created: &str, status: &str, direction: &str) -> Value {
        json!({"sid": sid, "body": body, "date_created": created, "status": status, "direction": direction})
    }

    #[test]
    fn a_recent_outbound_message_with_the_same_body_matches() {
        let since = DateTime::parse_from_rfc2822("Tue, 01 Dec 2026 10:00:00 +0000")
            .unwrap()
            .with_timezone(&Utc);
        let messages = [
            message(
                "SMold",
                "hi",
                "Tue, 01 Dec 2026 09:59:59 +0000",
                "delivered",
                "outbound-api",
            ),
            message(
                "SMin",
                "hi",
                "Tue, 01 Dec 2026 10:00:05 +0000",
                "received",
                "inbound",
            ),
            message(
                "SMother",
                "other",
                "Tue, 01 Dec 2026 10:00:05 +0000",
                "sent",
                "outbound-api",
            ),
            message(
                "SMfail",
                "hi",
                "Tue, 01 Dec 2026 10:00:05 +0000",
                "failed",
                "outbound-api",
            ),
            message(
                "SMq",
                "hi",
                "Tue, 01 Dec 2026 10:00:01 +0000",
                "queued",
                "outbound-api",
            ),
        ];
        assert_eq!(matching(&messages, "hi", since).as_deref(), Some("SMq"));
        assert_eq!(matching(&messages[..4], "hi", since), None);
        assert_eq!(matching(&[json!({"body": "hi"})], "hi", since), None);
    }
}
