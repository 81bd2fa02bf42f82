//! Configuration, parsed from the environment once per cold start. Every
//! variable is documented in the crate's README.

use std::time::Duration;

use api_gateway::CorsConfig;
use env_config::{ConfigError, Env};

use crate::form::TWILIO_MAX_BODY_CHARS;

/// Variable names.
pub mod vars {
    /// The inbound-message table (`idempotency` in the schema).
    pub const IDEMPOTENCY_TABLE: &str = "IDEMPOTENCY_TABLE";
    /// Secrets Manager secret id or ARN.
    pub const SECRET_ID: &str = "SECRET_ID";
    /// Seconds a fetched secret is reused.
    pub const SECRET_TTL_SECONDS: &str = "SECRET_TTL_SECONDS";
    /// The URL Twilio posts to, exactly as configured in Twilio.
    pub const PUBLIC_WEBHOOK_URL: &str = "PUBLIC_WEBHOOK_URL";
    /// Answer when the message cannot be recorded.
    pub const APOLOGY_TEXT: &str = "APOLOGY_TEXT";
    /// Days an inbound message is kept.
    pub const INBOUND_TTL_DAYS: &str = "INBOUND_TTL_DAYS";
    /// The longest `Body` accepted, in characters.
    pub const MAX_BODY_CHARS: &str = "MAX_BODY_CHARS";
    /// Time budget of one request, milliseconds.
    pub const TIME_BUDGET_MS: &str = "TIME_BUDGET_MS";
}

/// Default `APOLOGY_TEXT` (the worker's default too).
pub const DEFAULT_APOLOGY_TEXT: &str =
    "Sorry, I can't answer right now. Please try again in a few minutes.";

/// Everything the webhook needs from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `IDEMPOTENCY_TABLE` (required): where inbound messages are recorded.
    pub inbound_table: String,
    /// `SECRET_ID` (required).
    pub secret_id: String,
    /// `SECRET_TTL_SECONDS`, default 300, 0..=3600.
    pub secret_ttl: Duration,
    /// `PUBLIC_WEBHOOK_URL` (required): the URL Twilio signs.
    pub public_webhook_url: String,
    /// `APOLOGY_TEXT`, default [`DEFAULT_APOLOGY_TEXT`], at most 1600 characters.
    pub apology_text: String,
    /// `INBOUND_TTL_DAYS`, default 7, 2..=365: longer than the stream's
    /// 24 hours plus every retry, so a redelivered record is still there.
    pub inbound_ttl: Duration,
    /// `MAX_BODY_CHARS`, default 1600 (Twilio's SMS limit), 1600..=4096
    /// (WhatsApp allows 4096).
    pub max_body_chars: usize,
    /// `TIME_BUDGET_MS`, default 5000, 200..=14000: reading the secret and
    /// recording the message fit in it, well inside Twilio's 15 s.
    pub time_budget: Duration,
    /// `CORS_*` (see `api_gateway::CorsConfig::from_env`).
    pub cors: CorsConfig,
}

impl Config {
    /// Reads and validates every variable; the error names the first bad one.
    pub fn from_env(env: &(impl Env + ?Sized)) -> Result<Self, ConfigError> {
        use vars::*;
        let apology_text = env_config::optional(env, APOLOGY_TEXT)
            .unwrap_or_else(|| DEFAULT_APOLOGY_TEXT.to_owned());
        let chars = apology_text.chars().count();
        if chars > TWILIO_MAX_BODY_CHARS {
            return Err(ConfigError::new(
                APOLOGY_TEXT,
                format!("is {chars} characters; at most {TWILIO_MAX_BODY_CHARS} fit one message"),
            ));
        }
        Ok(Self {
            inbound_table: sms_record::dynamodb_name(env, IDEMPOTENCY_TABLE)?,
            secret_id: env_config::required(env, SECRET_ID)?,
            secret_ttl: env_config::seconds_in(env, SECRET_TTL_SECONDS, 300, 0..=3600)?,
            public_webhook_url: webhook_url(env)?,
            apology_text,
            inbound_ttl: Duration::from_secs(
                env_config::number_in(env, INBOUND_TTL_DAYS, 7u64, 2..=365)? * 86_400,
            ),
            max_body_chars: env_config::number_in(
                env,
                MAX_BODY_CHARS,
                TWILIO_MAX_BODY_CHARS,
                TWILIO_MAX_BODY_CHARS..=4096,
            )?,
            time_budget: Duration::from_millis(env_config::number_in(
                env,
                TIME_BUDGET_MS,
                5000u64,
                200..=14_000,
            )?),
            cors: CorsConfig::from_env(env)?,
        })
    }
}

/// An absolute http(s) URL with a host, no fragment, no whitespace, kept
/// exactly as given: Twilio signs the URL byte for byte.
fn webhook_url(env: &(impl Env + ?Sized)) -> Result<String, ConfigError> {
    let variable = vars::PUBLIC_WEBHOOK_URL;
    let url = env_config::required(env, variable)?;
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| ConfigError::new(variable, format!("{url:?} is not an http(s) URL")))?;
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    if host.is_empty() || url.contains(char::is_whitespace) || url.contains('#') {
        return Err(ConfigError::new(
            variable,
            format!("{url:?} is not an absolute URL with a host"),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::vars::*;
    use super::*;

    fn env_with(overrides: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut env = vec![
            (IDEMPOTENCY_TABLE, "idempotency-test"),
            (
                SECRET_ID,
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:sms",
            ),
            (
                PUBLIC_WEBHOOK_URL,
                "https://api.example.com/prod/sms/inbound",
            ),
        ];
        for (name, value) in overrides {
            env.retain(|(existing, _)| existing != name);
            env.push((name, value));
        }
        env
    }

    fn error_for(overrides: &[(&'static str, &'static str)]) -> ConfigError {
        Config::from_env(env_with(overrides).as_slice()).unwrap_err()
    }

    #[test]
    fn reads_a_complete_environment_with_defaults() {
        let c = Config::from_env(env_with(&[]).as_slice()).unwrap();
        assert_eq!(c.inbound_table, "idempotency-test");
        assert_eq!(
            c.public_webhook_url,
            "https://api.example.com/prod/sms/inbound"
        );
        assert_eq!(c.secret_ttl, Duration::from_secs(300));
        assert_eq!(c.apology_text, DEFAULT_APOLOGY_TEXT);
        assert_eq!(c.inbound_ttl, Duration::from_secs(7 * 86_400));
        assert_eq!(c.max_body_chars, 1600);
        assert_eq!(c.time_budget, Duration::from_millis(5000));
    }

    #[test]
    fn missing_required_variables_are_named() {
        for name in [IDEMPOTENCY_TABLE, SECRET_ID, PUBLIC_WEBHOOK_URL] {
            assert_eq!(error_for(&[(name, " ")]).variable, name);
        }
    }

    #[test]
    fn rejects_invalid_values() {
        for (name, value) in [
            (IDEMPOTENCY_TABLE, "a/b"),
            (PUBLIC_WEBHOOK_URL, "/sms/inbound"),
            (PUBLIC_WEBHOOK_URL, "https:///x"),
            (PUBLIC_WEBHOOK_URL, "https://a.test/x#frag"),
            (INBOUND_TTL_DAYS, "1"),
            (MAX_BODY_CHARS, "160"),
            (MAX_BODY_CHARS, "5000"),
            (TIME_BUDGET_MS, "15000"),
            (SECRET_TTL_SECONDS, "-1"),
        ] {
            assert_eq!(error_for(&[(name, value)]).variable, name, "{name}={value}");
        }
        let long: &'static str = Box::leak("x".repeat(1601).into_boxed_str());
        assert_eq!(error_for(&[(APOLOGY_TEXT, long)]).variable, APOLOGY_TEXT);
    }

    #[test]
    fn invalid_cors_settings_fail_the_config() {
        let err = error_for(&[(api_gateway::cors_vars::MAX_AGE, "forever")]);
        assert_eq!(err.variable, api_gateway::cors_vars::MAX_AGE);
    }
}
