//! Twilio's Messages API, through the shared `twilio-messages` crate:
//! sending a reply part within the invocation's time, and finding one we
//! may have sent.
//!
//! What a failed send means decides what may happen next, so [`send`]
//! tells apart the failures after which the message certainly does not
//! exist (no connection was made; Twilio refused it with a 4xx) from those
//! after which it may (timeout, dropped connection, 5xx, an answer without
//! a SID).
//!
//! [`send`]: Twilio::send

use std::time::{Duration, Instant, SystemTime};

use twilio_messages::{Credentials, FindError, MessagesClient, SendError};

use crate::Error;
use crate::deadline::Deadline;

pub use twilio_messages::Found;

/// The Twilio client of the worker.
#[derive(Debug, Clone)]
pub struct Twilio {
    client: MessagesClient,
    timeout: Duration,
}

/// The least time worth giving a request.
const FLOOR: Duration = Duration::from_millis(50);

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
    /// 5xx, created without a SID): find out before sending again.
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

impl Twilio {
    /// A client for `base_url`; each request is bounded by `timeout`.
    pub fn new(http: reqwest::Client, base_url: String, timeout: Duration) -> Self {
        Self {
            client: MessagesClient::new(http, base_url),
            timeout,
        }
    }

    /// The longest a request may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
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
        match self.client.send(credentials, to, from, body, timeout).await {
            Ok(Some(sid)) => Ok(sid),
            // Created, but we cannot tell which message it is.
            Ok(None) => Err(SendFailure::Unknown(Error::TwilioMalformed(
                "the answer to a send has no sid".to_owned(),
            ))),
            Err(err) if err.may_have_been_sent() => Err(SendFailure::Unknown(send_error(err))),
            Err(err) if err.is_refused() => Err(SendFailure::Refused(send_error(err))),
            Err(err) => Err(SendFailure::NotSent(send_error(err))),
        }
    }

    /// Whether a message with `body` went from us (`from`, or the
    /// Messaging Service) to `to` since `since`
    /// (`twilio_messages::MessagesClient::find_sent`).
    pub async fn find(
        &self,
        credentials: &Credentials,
        to: &str,
        from: &str,
        body: &str,
        since: SystemTime,
        deadline: &Deadline,
    ) -> Result<Found, Error> {
        let until = Instant::now() + deadline.remaining();
        self.client
            .find_sent(credentials, to, from, body, since, self.timeout, until)
            .await
            .map_err(|err| match err {
                FindError::OutOfTime => Error::OutOfTime("listing messages"),
                FindError::Transport(text) => Error::TwilioTransport(text),
                FindError::Status { status, code } => Error::TwilioStatus { status, code },
                FindError::Malformed(text) => Error::TwilioMalformed(text),
            })
    }
}

fn send_error(err: SendError) -> Error {
    match err {
        SendError::Status { status, code } => Error::TwilioStatus { status, code },
        SendError::Unreachable(text) | SendError::Transport(text) => Error::TwilioTransport(text),
    }
}
