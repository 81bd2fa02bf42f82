//! The function's credentials, from one Secrets Manager secret (a JSON
//! object), cached by `secret_cache` across warm invocations.

use lambda_logging::Redacted;
use secret_cache::SecretJson;

use crate::Error;

/// Keys of the secret beyond Twilio's (`twilio_messages::keys`).
pub mod keys {
    /// OpenAI API key.
    pub const OPENAI_API_KEY: &str = "openai_api_key";
}

/// Everything secret the function uses.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Twilio's account SID, auth token and optional Messaging Service
    /// (replies are sent through it instead of from the number the message
    /// was sent to).
    pub twilio: twilio_messages::Credentials,
    /// OpenAI API key.
    pub openai_api_key: Redacted<String>,
}

impl Credentials {
    /// Reads the keys; a missing one fails with an error naming it.
    pub fn from_secret(secret: &SecretJson) -> Result<Self, Error> {
        Ok(Self {
            twilio: twilio_messages::Credentials::from_secret(secret)?,
            openai_api_key: Redacted(secret.required(keys::OPENAI_API_KEY)?.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Credentials, Error> {
        Credentials::from_secret(&SecretJson::parse("sms-secret", json).unwrap())
    }

    #[test]
    fn reads_all_keys_and_never_prints_secrets() {
        let creds = parse(
            r#"{"twilio_account_sid":"AC123","twilio_auth_token":"tok-secret","openai_api_key":"sk-secret","twilio_messaging_service_sid":"MG9"}"#,
        )
        .unwrap();
        assert_eq!(creds.twilio.account_sid, "AC123");
        assert_eq!(creds.twilio.auth_token.expose(), "tok-secret");
        assert_eq!(creds.openai_api_key.expose(), "sk-secret");
        assert_eq!(creds.twilio.messaging_service_sid.as_deref(), Some("MG9"));
        let debug = format!("{creds:?}");
        assert!(
            !debug.contains("tok-secret") && !debug.contains("sk-secret"),
            "{debug}"
        );
    }

    #[test]
    fn a_missing_key_is_named() {
        for (missing, json) in [
            (
                "twilio_account_sid",
                r#"{"twilio_auth_token":"t","openai_api_key":"k"}"#,
            ),
            (
                "twilio_auth_token",
                r#"{"twilio_account_sid":"AC1","openai_api_key":"k"}"#,
            ),
            (
                "openai_api_key",
                r#"{"twilio_account_sid":"AC1","twilio_auth_token":"t"}"#,
            ),
        ] {
            let err = parse(json).unwrap_err();
            assert!(err.to_string().contains(missing), "{err}");
        }
        let creds =
            parse(r#"{"twilio_account_sid":"AC1","twilio_auth_token":"t","openai_api_key":"k"}"#)
                .unwrap();
        assert_eq!(creds.twilio.messaging_service_sid, None);
    }

    #[test]
    fn an_account_sid_that_is_not_a_path_segment_is_refused() {
        let err = parse(
            r#"{"twilio_account_sid":"AC1/../x","twilio_auth_token":"t","openai_api_key":"k"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("twilio_account_sid"), "{err}");
    }
}
