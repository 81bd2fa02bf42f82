//! Sending a message: `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`
//! with HTTP Basic (account SID, auth token) and form fields `To`, `From`
//! (or `MessagingServiceSid`) and `Body`.

use std::time::Duration;

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

/// The least time worth giving a send.
const FLOOR: Duration = Duration::from_millis(50);

impl Twilio {
    /// A client for `base_url`; each send is bounded by `timeout`.
    pub fn new(http: reqwest::Client, base_url: String, timeout: Duration) -> Self {
        Self {
            http,
            base_url,
            timeout,
        }
    }

    /// The longest a send may take.
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
    ) -> Result<String, Error> {
        let timeout = deadline
            .timeout(self.timeout, Duration::ZERO, FLOOR)
            .ok_or_else(|| Error::TwilioTransport("no time left in the budget".to_owned()))?;
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.base_url, credentials.account_sid
        );
        let sender = match &credentials.messaging_service_sid {
            Some(service) => ("MessagingServiceSid", service.as_str()),
            None => ("From", from),
        };
        let form = [("To", to), sender, ("Body", body)];
        let response = self
            .http
            .post(&url)
            .basic_auth(
                &credentials.account_sid,
                Some(credentials.auth_token.expose()),
            )
            .form(&form)
            .timeout(timeout)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(transport)?;
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();
        if (200..300).contains(&status) {
            Ok(json
                .as_ref()
                .and_then(|j| j.get("sid"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned())
        } else {
            Err(Error::TwilioStatus {
                status,
                code: json
                    .as_ref()
                    .and_then(|j| j.get("code"))
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
            })
        }
    }
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
