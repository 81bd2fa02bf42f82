//! Configuration, parsed from the environment once per cold start. Every
//! variable is documented in the crate's README.

use std::time::Duration;

use api_gateway::CorsConfig;
use env_config::{ConfigError, Env};

/// Variable names.
pub mod vars {
    /// Users table (profiles with `phone` and `sms_opt_in`).
    pub const USERS_TABLE: &str = "USERS_TABLE";
    /// The users table's GSI on `phone`.
    pub const USERS_PHONE_INDEX: &str = "USERS_PHONE_INDEX";
    /// Conversation history table.
    pub const SMS_HISTORY_TABLE: &str = "SMS_HISTORY_TABLE";
    /// Idempotency table (`MessageSid`s seen).
    pub const IDEMPOTENCY_TABLE: &str = "IDEMPOTENCY_TABLE";
    /// Secrets Manager secret id or ARN.
    pub const SECRET_ID: &str = "SECRET_ID";
    /// Seconds a fetched secret is reused.
    pub const SECRET_TTL_SECONDS: &str = "SECRET_TTL_SECONDS";
    /// The URL Twilio posts to, exactly as configured in Twilio.
    pub const PUBLIC_WEBHOOK_URL: &str = "PUBLIC_WEBHOOK_URL";
    /// OpenAI API base URL.
    pub const OPENAI_BASE_URL: &str = "OPENAI_BASE_URL";
    /// OpenAI model.
    pub const OPENAI_MODEL: &str = "OPENAI_MODEL";
    /// Timeout of one OpenAI attempt, milliseconds.
    pub const OPENAI_TIMEOUT_MS: &str = "OPENAI_TIMEOUT_MS";
    /// Pause before the one retry, milliseconds.
    pub const OPENAI_RETRY_BACKOFF_MS: &str = "OPENAI_RETRY_BACKOFF_MS";
    /// `max_completion_tokens` of each completion.
    pub const MAX_COMPLETION_TOKENS: &str = "MAX_COMPLETION_TOKENS";
    /// The system prompt.
    pub const SYSTEM_PROMPT: &str = "SYSTEM_PROMPT";
    /// Earlier turns sent with each message.
    pub const HISTORY_TURNS: &str = "HISTORY_TURNS";
    /// Days a turn is kept.
    pub const HISTORY_TTL_DAYS: &str = "HISTORY_TTL_DAYS";
    /// Twilio API base URL.
    pub const TWILIO_BASE_URL: &str = "TWILIO_BASE_URL";
    /// Timeout of one Twilio send, milliseconds.
    pub const TWILIO_TIMEOUT_MS: &str = "TWILIO_TIMEOUT_MS";
    /// Reply to unknown or opted-out senders; empty for none.
    pub const UNKNOWN_SENDER_REPLY: &str = "UNKNOWN_SENDER_REPLY";
    /// Answer to `HELP`.
    pub const HELP_TEXT: &str = "HELP_TEXT";
    /// Answer to `RESET`.
    pub const RESET_REPLY: &str = "RESET_REPLY";
    /// Answer when OpenAI fails.
    pub const APOLOGY_TEXT: &str = "APOLOGY_TEXT";
    /// Time budget of one invocation, milliseconds.
    pub const TIME_BUDGET_MS: &str = "TIME_BUDGET_MS";
}

/// Default `OPENAI_MODEL`.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";
/// Default `SYSTEM_PROMPT`.
pub const DEFAULT_SYSTEM_PROMPT: &str = "You are a helpful assistant answering text messages. \
Reply in plain text without markdown, briefly: a few sentences at most.";
/// Default `HELP_TEXT`.
pub const DEFAULT_HELP_TEXT: &str = "Text any question and our assistant will answer. \
Send RESET to start a new conversation, STOP to stop receiving messages. Msg & data rates may apply.";
/// Default `RESET_REPLY`.
pub const DEFAULT_RESET_REPLY: &str = "Done: your conversation has been cleared.";
/// Default `APOLOGY_TEXT`.
pub const DEFAULT_APOLOGY_TEXT: &str =
    "Sorry, I can't answer right now. Please try again in a few minutes.";

/// Everything the sms function needs from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `USERS_TABLE` (required).
    pub users_table: String,
    /// `USERS_PHONE_INDEX` (required): the users table's GSI keyed by `phone`.
    pub users_phone_index: String,
    /// `SMS_HISTORY_TABLE` (required).
    pub history_table: String,
    /// `IDEMPOTENCY_TABLE` (required).
    pub idempotency_table: String,
    /// `SECRET_ID` (required).
    pub secret_id: String,
    /// `SECRET_TTL_SECONDS`, default 300, 0..=3600.
    pub secret_ttl: Duration,
    /// `PUBLIC_WEBHOOK_URL` (required): the URL Twilio signs.
    pub public_webhook_url: String,
    /// `OPENAI_BASE_URL`, default `https://api.openai.com/v1`, no trailing slash.
    pub openai_base_url: String,
    /// `OPENAI_MODEL`, default [`DEFAULT_MODEL`].
    pub openai_model: String,
    /// `OPENAI_TIMEOUT_MS`, default 8000, 50..=14000.
    pub openai_timeout: Duration,
    /// `OPENAI_RETRY_BACKOFF_MS`, default 500, 0..=5000.
    pub openai_retry_backoff: Duration,
    /// `MAX_COMPLETION_TOKENS`, default 400, 1..=16384.
    pub max_completion_tokens: u32,
    /// `SYSTEM_PROMPT`, default [`DEFAULT_SYSTEM_PROMPT`].
    pub system_prompt: String,
    /// `HISTORY_TURNS`, default 10, 0..=100: earlier messages (user or
    /// assistant, one each) sent along.
    pub history_turns: u16,
    /// `HISTORY_TTL_DAYS`, default 30, 1..=3650.
    pub history_ttl: Duration,
    /// `TWILIO_BASE_URL`, default `https://api.twilio.com`, no trailing slash.
    pub twilio_base_url: String,
    /// `TWILIO_TIMEOUT_MS`, default 3000, 50..=10000.
    pub twilio_timeout: Duration,
    /// `UNKNOWN_SENDER_REPLY`, default none (unset or blank).
    pub unknown_sender_reply: Option<String>,
    /// `HELP_TEXT`, default [`DEFAULT_HELP_TEXT`].
    pub help_text: String,
    /// `RESET_REPLY`, default [`DEFAULT_RESET_REPLY`].
    pub reset_reply: String,
    /// `APOLOGY_TEXT`, default [`DEFAULT_APOLOGY_TEXT`].
    pub apology_text: String,
    /// `TIME_BUDGET_MS`, default 12000, 500..=14000: every outbound call of
    /// one invocation fits in it (Twilio gives up after 15 s).
    pub time_budget: Duration,
    /// `CORS_*` (see `api_gateway::CorsConfig::from_env`).
    pub cors: CorsConfig,
}

impl Config {
    /// Reads and validates every variable; the error names the first bad one.
    pub fn from_env(env: &(impl Env + ?Sized)) -> Result<Self, ConfigError> {
        use vars::*;
        let text_or = |name: &str, default: &str| {
            env_config::optional(env, name).unwrap_or_else(|| default.to_owned())
        };
        let reply = |name: &str, default: &str| {
            let value = text_or(name, default);
            check_sms_text(name, value)
        };
        let config = Self {
            users_table: table_name(env, USERS_TABLE)?,
            users_phone_index: index_name(env, USERS_PHONE_INDEX)?,
            history_table: table_name(env, SMS_HISTORY_TABLE)?,
            idempotency_table: table_name(env, IDEMPOTENCY_TABLE)?,
            secret_id: env_config::required(env, SECRET_ID)?,
            secret_ttl: env_config::seconds_in(env, SECRET_TTL_SECONDS, 300, 0..=3600)?,
            public_webhook_url: webhook_url(env)?,
            openai_base_url: base_url(env, OPENAI_BASE_URL, "https://api.openai.com/v1")?,
            openai_model: text_or(OPENAI_MODEL, DEFAULT_MODEL),
            openai_timeout: millis(env, OPENAI_TIMEOUT_MS, 8000, 50..=14_000)?,
            openai_retry_backoff: millis(env, OPENAI_RETRY_BACKOFF_MS, 500, 0..=5000)?,
            max_completion_tokens: env_config::number_in(
                env,
                MAX_COMPLETION_TOKENS,
                400,
                1..=16_384,
            )?,
            system_prompt: text_or(SYSTEM_PROMPT, DEFAULT_SYSTEM_PROMPT),
            history_turns: env_config::number_in(env, HISTORY_TURNS, 10, 0..=100)?,
            history_ttl: Duration::from_secs(
                env_config::number_in(env, HISTORY_TTL_DAYS, 30u64, 1..=3650)? * 86_400,
            ),
            twilio_base_url: base_url(env, TWILIO_BASE_URL, "https://api.twilio.com")?,
            twilio_timeout: millis(env, TWILIO_TIMEOUT_MS, 3000, 50..=10_000)?,
            unknown_sender_reply: env_config::optional(env, UNKNOWN_SENDER_REPLY)
                .map(|text| check_sms_text(UNKNOWN_SENDER_REPLY, text))
                .transpose()?,
            help_text: reply(HELP_TEXT, DEFAULT_HELP_TEXT)?,
            reset_reply: reply(RESET_REPLY, DEFAULT_RESET_REPLY)?,
            apology_text: reply(APOLOGY_TEXT, DEFAULT_APOLOGY_TEXT)?,
            time_budget: millis(env, TIME_BUDGET_MS, 12_000, 500..=14_000)?,
            cors: CorsConfig::from_env(env)?,
        };
        if config.openai_timeout >= config.time_budget {
            return Err(ConfigError::new(
                OPENAI_TIMEOUT_MS,
                format!(
                    "{} ms leaves nothing of {TIME_BUDGET_MS} ({} ms) for sending the answer",
                    config.openai_timeout.as_millis(),
                    config.time_budget.as_millis()
                ),
            ));
        }
        Ok(config)
    }
}

fn millis(
    env: &(impl Env + ?Sized),
    name: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    env_config::number_in(env, name, default, range).map(Duration::from_millis)
}

/// DynamoDB's rule: 3..=255 characters of `A-Z a-z 0-9 _ - .`.
fn table_name(env: &(impl Env + ?Sized), variable: &str) -> Result<String, ConfigError> {
    let name = env_config::required(env, variable)?;
    if dynamo_name(&name, 255) {
        Ok(name)
    } else {
        Err(ConfigError::new(
            variable,
            format!("{name:?} is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ - .)"),
        ))
    }
}

fn index_name(env: &(impl Env + ?Sized), variable: &str) -> Result<String, ConfigError> {
    let name = env_config::required(env, variable)?;
    if dynamo_name(&name, 255) {
        Ok(name)
    } else {
        Err(ConfigError::new(
            variable,
            format!("{name:?} is not a DynamoDB index name (3-255 of A-Z a-z 0-9 _ - .)"),
        ))
    }
}

fn dynamo_name(name: &str, max: usize) -> bool {
    (3..=max).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

/// An absolute http(s) URL with a host, no fragment, no whitespace.
fn absolute_url(variable: &str, url: &str) -> Result<(), ConfigError> {
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
    Ok(())
}

fn webhook_url(env: &(impl Env + ?Sized)) -> Result<String, ConfigError> {
    let url = env_config::required(env, vars::PUBLIC_WEBHOOK_URL)?;
    absolute_url(vars::PUBLIC_WEBHOOK_URL, &url)?;
    // Kept exactly as given: Twilio signs the URL byte for byte.
    Ok(url)
}

fn base_url(
    env: &(impl Env + ?Sized),
    variable: &str,
    default: &str,
) -> Result<String, ConfigError> {
    let url = env_config::optional(env, variable).unwrap_or_else(|| default.to_owned());
    absolute_url(variable, &url)?;
    if url.contains('?') {
        return Err(ConfigError::new(
            variable,
            format!("{url:?} must not have a query"),
        ));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// Fixed replies must fit one SMS body.
fn check_sms_text(variable: &str, text: String) -> Result<String, ConfigError> {
    let chars = text.chars().count();
    if chars > crate::split::MAX_CHARS {
        Err(ConfigError::new(
            variable,
            format!(
                "is {chars} characters; at most {} fit one message",
                crate::split::MAX_CHARS
            ),
        ))
    } else {
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::vars::*;
    use super::*;

    fn env_with(overrides: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut env = vec![
            (USERS_TABLE, "users-test"),
            (USERS_PHONE_INDEX, "phone-index"),
            (SMS_HISTORY_TABLE, "sms-history-test"),
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
        assert_eq!(c.users_table, "users-test");
        assert_eq!(c.users_phone_index, "phone-index");
        assert_eq!(c.history_table, "sms-history-test");
        assert_eq!(c.idempotency_table, "idempotency-test");
        assert_eq!(
            c.public_webhook_url,
            "https://api.example.com/prod/sms/inbound"
        );
        assert_eq!(c.secret_ttl, Duration::from_secs(300));
        assert_eq!(c.openai_base_url, "https://api.openai.com/v1");
        assert_eq!(c.openai_model, DEFAULT_MODEL);
        assert_eq!(c.openai_timeout, Duration::from_millis(8000));
        assert_eq!(c.openai_retry_backoff, Duration::from_millis(500));
        assert_eq!(c.max_completion_tokens, 400);
        assert_eq!(c.history_turns, 10);
        assert_eq!(c.history_ttl, Duration::from_secs(30 * 86_400));
        assert_eq!(c.twilio_base_url, "https://api.twilio.com");
        assert_eq!(c.twilio_timeout, Duration::from_millis(3000));
        assert_eq!(c.unknown_sender_reply, None);
        assert_eq!(c.help_text, DEFAULT_HELP_TEXT);
        assert_eq!(c.reset_reply, DEFAULT_RESET_REPLY);
        assert_eq!(c.apology_text, DEFAULT_APOLOGY_TEXT);
        assert_eq!(c.time_budget, Duration::from_millis(12_000));
    }

    #[test]
    fn reads_overrides_and_trims_base_url_slashes() {
        let c = Config::from_env(
            env_with(&[
                (OPENAI_BASE_URL, "http://127.0.0.1:9000/v1/"),
                (TWILIO_BASE_URL, "http://127.0.0.1:9001/"),
                (OPENAI_MODEL, "gpt-test"),
                (HISTORY_TURNS, "0"),
                (UNKNOWN_SENDER_REPLY, "Who is this?"),
                (SYSTEM_PROMPT, "Be terse."),
            ])
            .as_slice(),
        )
        .unwrap();
        assert_eq!(c.openai_base_url, "http://127.0.0.1:9000/v1");
        assert_eq!(c.twilio_base_url, "http://127.0.0.1:9001");
        assert_eq!(c.openai_model, "gpt-test");
        assert_eq!(c.history_turns, 0);
        assert_eq!(c.unknown_sender_reply.as_deref(), Some("Who is this?"));
        assert_eq!(c.system_prompt, "Be terse.");
    }

    #[test]
    fn missing_required_variables_are_named() {
        for name in [
            USERS_TABLE,
            USERS_PHONE_INDEX,
            SMS_HISTORY_TABLE,
            IDEMPOTENCY_TABLE,
            SECRET_ID,
            PUBLIC_WEBHOOK_URL,
        ] {
            assert_eq!(error_for(&[(name, " ")]).variable, name);
        }
    }

    #[test]
    fn rejects_invalid_names_and_urls() {
        assert_eq!(error_for(&[(USERS_TABLE, "a/b")]).variable, USERS_TABLE);
        assert_eq!(
            error_for(&[(USERS_PHONE_INDEX, "ix")]).variable,
            USERS_PHONE_INDEX
        );
        assert_eq!(
            error_for(&[(SMS_HISTORY_TABLE, "h")]).variable,
            SMS_HISTORY_TABLE
        );
        assert_eq!(
            error_for(&[(IDEMPOTENCY_TABLE, "i d")]).variable,
            IDEMPOTENCY_TABLE
        );
        assert_eq!(
            error_for(&[(PUBLIC_WEBHOOK_URL, "/sms/inbound")]).variable,
            PUBLIC_WEBHOOK_URL
        );
        assert_eq!(
            error_for(&[(PUBLIC_WEBHOOK_URL, "https:///x")]).variable,
            PUBLIC_WEBHOOK_URL
        );
        assert_eq!(
            error_for(&[(OPENAI_BASE_URL, "api.openai.com")]).variable,
            OPENAI_BASE_URL
        );
        assert_eq!(
            error_for(&[(TWILIO_BASE_URL, "https://api.twilio.com?x=1")]).variable,
            TWILIO_BASE_URL
        );
    }

    #[test]
    fn rejects_numbers_out_of_range_or_unparseable() {
        for (name, value) in [
            (OPENAI_TIMEOUT_MS, "0"),
            (OPENAI_TIMEOUT_MS, "eight"),
            (OPENAI_RETRY_BACKOFF_MS, "60000"),
            (MAX_COMPLETION_TOKENS, "0"),
            (HISTORY_TURNS, "101"),
            (HISTORY_TTL_DAYS, "0"),
            (TWILIO_TIMEOUT_MS, "20000"),
            (SECRET_TTL_SECONDS, "-1"),
            (TIME_BUDGET_MS, "15000"),
        ] {
            assert_eq!(error_for(&[(name, value)]).variable, name, "{name}={value}");
        }
    }

    #[test]
    fn the_openai_timeout_must_leave_room_in_the_budget() {
        let err = error_for(&[(OPENAI_TIMEOUT_MS, "9000"), (TIME_BUDGET_MS, "9000")]);
        assert_eq!(err.variable, OPENAI_TIMEOUT_MS);
    }

    #[test]
    fn fixed_replies_must_fit_one_message() {
        let long: &'static str = Box::leak("x".repeat(1601).into_boxed_str());
        for name in [HELP_TEXT, RESET_REPLY, APOLOGY_TEXT, UNKNOWN_SENDER_REPLY] {
            assert_eq!(error_for(&[(name, long)]).variable, name);
        }
    }

    #[test]
    fn invalid_cors_settings_fail_the_config() {
        let err = error_for(&[(api_gateway::cors_vars::MAX_AGE, "forever")]);
        assert_eq!(err.variable, api_gateway::cors_vars::MAX_AGE);
    }
}
