//! Sending an SMS through Twilio's Messages API:
//! `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP
//! Basic (account SID, auth token) and the form fields `To`, `From` (or
//! `MessagingServiceSid`) and `Body`.
//!
//! The credentials come from a Secrets Manager JSON secret with the keys
//! in [`keys`], the format the sms function's secret has, so one secret can
//! serve every function that texts. Errors never hold the auth token, the
//! recipient or the message.

use std::time::Duration;

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
    /// Twilio could not be reached, or did not answer in time.
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
            Self::Transport(_) => true,
            Self::Status { status, .. } => *status == 429 || *status >= 500,
        }
    }
}

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

    /// Sends `body` to `to`, through the credentials' Messaging Service if
    /// they name one, else from `from`; at most `timeout`. Returns the new
    /// message's SID.
    pub async fn send(
        &self,
        credentials: &Credentials,
        to: &str,
        from: &str,
        body: &str,
        timeout: Duration,
    ) -> Result<String, SendError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.base_url, credentials.account_sid
        );
        let sender = match &credentials.messaging_service_sid {
            Some(service) => ("MessagingServiceSid", service.as_str()),
            None => ("From", from),
        };
        let response = self
            .http
            .post(&url)
            .basic_auth(
                &credentials.account_sid,
                Some(credentials.auth_token.expose()),
            )
            .form(&[("To", to), sender, ("Body", body)])
            .timeout(timeout)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(transport)?;
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();
        let field = |name: &str| json.as_ref().and_then(|j| j.get(name)).cloned();
        if (200..300).contains(&status) {
            Ok(field("sid")
                .and_then(|sid| sid.as_str().map(str::to_owned))
                .unwrap_or_default())
        } else {
            Err(SendError::Status {
                status,
                code: field("code").and_then(|c| c.as_i64()).unwrap_or(0),
            })
        }
    }
}

fn transport(err: reqwest::Error) -> SendError {
    let kind = if err.is_timeout() {
        "timed out"
    } else {
        "failed"
    };
    SendError::Transport(format!("{kind}: {}", err.without_url()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{body_string, header, method, path};
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
        assert_eq!(sid, "SM1");
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
        assert_eq!(sid, "SM2");
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
}
