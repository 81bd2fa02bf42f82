//! Configuration, parsed from the environment once per cold start. Every
//! variable is documented in the crate's README.

use std::time::Duration;

use env_config::{ConfigError, Env};

/// Variable names.
pub mod vars {
    /// Users table (profiles with `phone` and `sms_opt_in`).
    pub const USERS_TABLE: &str = "USERS_TABLE";
    /// The users table's GSI on `phone`.
    pub const USERS_PHONE_INDEX: &str = "USERS_PHONE_INDEX";
    /// Conversation history table.
    pub const SMS_HISTORY_TABLE: &str = "SMS_HISTORY_TABLE";
    /// The inbound-message table (`idempotency` in the schema).
    pub const IDEMPOTENCY_TABLE: &str = "IDEMPOTENCY_TABLE";
    /// Secrets Manager secret id or ARN.
    pub const SECRET_ID: &str = "SECRET_ID";
    /// Seconds a fetched secret is reused.
    pub const SECRET_TTL_SECONDS: &str = "SECRET_TTL_SECONDS";
    /// OpenAI API base URL.
    pub const OPENAI_BASE_URL: &str = "OPENAI_BASE_URL";
    /// OpenAI model.
    pub const OPENAI_MODEL: &str = "OPENAI_MODEL";
    /// Timeout of one OpenAI attempt, milliseconds.
    pub const OPENAI_TIMEOUT_MS: &str = "OPENAI_TIMEOUT_MS";
    /// OpenAI attempts per message.
    pub const OPENAI_MAX_ATTEMPTS: &str = "OPENAI_MAX_ATTEMPTS";
    /// First pause between OpenAI attempts, milliseconds (doubled each time).
    pub const OPENAI_RETRY_BACKOFF_MS: &str = "OPENAI_RETRY_BACKOFF_MS";
    /// Longest pause between OpenAI attempts, milliseconds.
    pub const OPENAI_RETRY_BACKOFF_MAX_MS: &str = "OPENAI_RETRY_BACKOFF_MAX_MS";
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
    /// Timeout of one Twilio request, milliseconds.
    pub const TWILIO_TIMEOUT_MS: &str = "TWILIO_TIMEOUT_MS";
    /// Sends of one part when Twilio certainly did not take it.
    pub const TWILIO_SEND_ATTEMPTS: &str = "TWILIO_SEND_ATTEMPTS";
    /// Wait after a send with an unknown outcome before asking Twilio.
    pub const SEND_RECONCILE_DELAY_MS: &str = "SEND_RECONCILE_DELAY_MS";
    /// Reply to unknown or opted-out senders; empty for none.
    pub const UNKNOWN_SENDER_REPLY: &str = "UNKNOWN_SENDER_REPLY";
    /// Answer to `HELP`.
    pub const HELP_TEXT: &str = "HELP_TEXT";
    /// Answer to `RESET`.
    pub const RESET_REPLY: &str = "RESET_REPLY";
    /// Answer when the assistant cannot answer.
    pub const APOLOGY_TEXT: &str = "APOLOGY_TEXT";
    /// The attempt at which a message gets the apology instead.
    pub const MAX_ATTEMPTS: &str = "MAX_ATTEMPTS";
    /// Messages of one batch handled at the same time.
    pub const WORKER_CONCURRENCY: &str = "WORKER_CONCURRENCY";
    /// Time kept back from the invocation's deadline for the last writes.
    pub const DEADLINE_RESERVE_MS: &str = "DEADLINE_RESERVE_MS";
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
/// Default `APOLOGY_TEXT` (the webhook's default too).
pub const DEFAULT_APOLOGY_TEXT: &str =
    "Sorry, I can't answer right now. Please try again in a few minutes.";

/// Everything the worker needs from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `USERS_TABLE` (required).
    pub users_table: String,
    /// `USERS_PHONE_INDEX` (required): the users table's GSI keyed by `phone`.
    pub users_phone_index: String,
    /// `SMS_HISTORY_TABLE` (required).
    pub history_table: String,
    /// `IDEMPOTENCY_TABLE` (required): the inbound messages.
    pub inbound_table: String,
    /// `SECRET_ID` (required).
    pub secret_id: String,
    /// `SECRET_TTL_SECONDS`, default 300, 0..=3600.
    pub secret_ttl: Duration,
    /// `OPENAI_BASE_URL`, default `https://api.openai.com/v1`, no trailing slash.
    pub openai_base_url: String,
    /// `OPENAI_MODEL`, default [`DEFAULT_MODEL`].
    pub openai_model: String,
    /// `OPENAI_TIMEOUT_MS`, default 30000, 50..=300000: a real answer often
    /// takes 10-20 s.
    pub openai_timeout: Duration,
    /// `OPENAI_MAX_ATTEMPTS`, default 4, 1..=10.
    pub openai_max_attempts: u32,
    /// `OPENAI_RETRY_BACKOFF_MS`, default 1000, 0..=60000.
    pub openai_backoff: Duration,
    /// `OPENAI_RETRY_BACKOFF_MAX_MS`, default 10000, at least the backoff,
    /// at most 120000.
    pub openai_backoff_max: Duration,
    /// `MAX_COMPLETION_TOKENS`, default 400, 1..=16384.
    pub max_completion_tokens: u32,
    /// `SYSTEM_PROMPT`, default [`DEFAULT_SYSTEM_PROMPT`].
    pub system_prompt: String,
    /// `HISTORY_TURNS`, default 10, 0..=100.
    pub history_turns: u16,
    /// `HISTORY_TTL_DAYS`, default 30, 1..=3650.
    pub history_ttl: Duration,
    /// `TWILIO_BASE_URL`, default `https://api.twilio.com`, no trailing slash.
    pub twilio_base_url: String,
    /// `TWILIO_TIMEOUT_MS`, default 10000, 50..=60000.
    pub twilio_timeout: Duration,
    /// `TWILIO_SEND_ATTEMPTS`, default 3, 1..=10.
    pub twilio_send_attempts: u32,
    /// `SEND_RECONCILE_DELAY_MS`, default 15000, 0..=300000: a send that
    /// timed out may still complete at Twilio for a while.
    pub reconcile_delay: Duration,
    /// `UNKNOWN_SENDER_REPLY`, default none (unset or blank).
    pub unknown_sender_reply: Option<String>,
    /// `HELP_TEXT`, default [`DEFAULT_HELP_TEXT`].
    pub help_text: String,
    /// `RESET_REPLY`, default [`DEFAULT_RESET_REPLY`].
    pub reset_reply: String,
    /// `APOLOGY_TEXT`, default [`DEFAULT_APOLOGY_TEXT`].
    pub apology_text: String,
    /// `MAX_ATTEMPTS`, default 4, 1..=100: the attempt that sends the
    /// apology instead of trying again. Terraform sets it to the event
    /// source mapping's `maximum_retry_attempts` + 1.
    pub max_attempts: u32,
    /// `WORKER_CONCURRENCY`, default 8, 1..=64.
    pub concurrency: usize,
    /// `DEADLINE_RESERVE_MS`, default 3000, 0..=30000.
    pub deadline_reserve: Duration,
}

impl Config {
    /// Reads and validates every variable; the error names the first bad one.
    pub fn from_env(env: &(impl Env + ?Sized)) -> Result<Self, ConfigError> {
        use vars::*;
        let text_or = |name: &str, default: &str| {
            env_config::optional(env, name).unwrap_or_else(|| default.to_owned())
        };
        let reply = |name: &str, default: &str| check_sms_text(name, text_or(name, default));
        let config = Self {
            users_table: sms_inbox::dynamodb_name(env, USERS_TABLE)?,
            users_phone_index: sms_inbox::dynamodb_name(env, USERS_PHONE_INDEX)?,
            history_table: sms_inbox::dynamodb_name(env, SMS_HISTORY_TABLE)?,
            inbound_table: sms_inbox::dynamodb_name(env, IDEMPOTENCY_TABLE)?,
            secret_id: env_config::required(env, SECRET_ID)?,
            secret_ttl: env_config::seconds_in(env, SECRET_TTL_SECONDS, 300, 0..=3600)?,
            openai_base_url: base_url(env, OPENAI_BASE_URL, "https://api.openai.com/v1")?,
            openai_model: text_or(OPENAI_MODEL, DEFAULT_MODEL),
            openai_timeout: millis(env, OPENAI_TIMEOUT_MS, 30_000, 50..=300_000)?,
            openai_max_attempts: env_config::number_in(env, OPENAI_MAX_ATTEMPTS, 4, 1..=10)?,
            openai_backoff: millis(env, OPENAI_RETRY_BACKOFF_MS, 1000, 0..=60_000)?,
            openai_backoff_max: millis(env, OPENAI_RETRY_BACKOFF_MAX_MS, 10_000, 0..=120_000)?,
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
            twilio_timeout: millis(env, TWILIO_TIMEOUT_MS, 10_000, 50..=60_000)?,
            twilio_send_attempts: env_config::number_in(env, TWILIO_SEND_ATTEMPTS, 3, 1..=10)?,
            reconcile_delay: millis(env, SEND_RECONCILE_DELAY_MS, 15_000, 0..=300_000)?,
            unknown_sender_reply: env_config::optional(env, UNKNOWN_SENDER_REPLY)
                .map(|text| check_sms_text(UNKNOWN_SENDER_REPLY, text))
                .transpose()?,
            help_text: reply(HELP_TEXT, DEFAULT_HELP_TEXT)?,
            reset_reply: reply(RESET_REPLY, DEFAULT_RESET_REPLY)?,
            apology_text: reply(APOLOGY_TEXT, DEFAULT_APOLOGY_TEXT)?,
            max_attempts: env_config::number_in(env, MAX_ATTEMPTS, 4, 1..=100)?,
            concurrency: env_config::number_in(env, WORKER_CONCURRENCY, 8, 1..=64)?,
            deadline_reserve: millis(env, DEADLINE_RESERVE_MS, 3000, 0..=30_000)?,
        };
        if config.openai_backoff_max < config.openai_backoff {
            return Err(ConfigError::new(
                OPENAI_RETRY_BACKOFF_MAX_MS,
                format!(
                    "{} ms is shorter than {OPENAI_RETRY_BACKOFF_MS} ({} ms)",
                    config.openai_backoff_max.as_millis(),
                    config.openai_backoff.as_millis()
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

/// An absolute http(s) URL with a host and no query, fragment or
/// whitespace, without a trailing slash.
fn base_url(
    env: &(impl Env + ?Sized),
    variable: &str,
    default: &str,
) -> Result<String, ConfigError> {
    let url = env_config::optional(env, variable).unwrap_or_else(|| default.to_owned());
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| ConfigError::new(variable, format!("{url:?} is not an http(s) URL")))?;
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    if host.is_empty() || url.contains(char::is_whitespace) || url.contains(['#', '?']) {
        return Err(ConfigError::new(
            variable,
            format!("{url:?} is not an absolute URL with a host, without query or fragment"),
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
        assert_eq!(c.inbound_table, "idempotency-test");
        assert_eq!(c.secret_ttl, Duration::from_secs(300));
        assert_eq!(c.openai_base_url, "https://api.openai.com/v1");
        assert_eq!(c.openai_model, DEFAULT_MODEL);
        assert_eq!(c.openai_timeout, Duration::from_secs(30));
        assert_eq!(c.openai_max_attempts, 4);
        assert_eq!(c.openai_backoff, Duration::from_secs(1));
        assert_eq!(c.openai_backoff_max, Duration::from_secs(10));
        assert_eq!(c.max_completion_tokens, 400);
        assert_eq!(c.history_turns, 10);
        assert_eq!(c.history_ttl, Duration::from_secs(30 * 86_400));
        assert_eq!(c.twilio_base_url, "https://api.twilio.com");
        assert_eq!(c.twilio_timeout, Duration::from_secs(10));
        assert_eq!(c.twilio_send_attempts, 3);
        assert_eq!(c.reconcile_delay, Duration::from_secs(15));
        assert_eq!(c.unknown_sender_reply, None);
        assert_eq!(c.help_text, DEFAULT_HELP_TEXT);
        assert_eq!(c.reset_reply, DEFAULT_RESET_REPLY);
        assert_eq!(c.apology_text, DEFAULT_APOLOGY_TEXT);
        assert_eq!(c.max_attempts, 4);
        assert_eq!(c.concurrency, 8);
        assert_eq!(c.deadline_reserve, Duration::from_secs(3));
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
                (MAX_ATTEMPTS, "11"),
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
        assert_eq!(c.max_attempts, 11);
    }

    #[test]
    fn missing_required_variables_are_named() {
        for name in [
            USERS_TABLE,
            USERS_PHONE_INDEX,
            SMS_HISTORY_TABLE,
            IDEMPOTENCY_TABLE,
            SECRET_ID,
        ] {
            assert_eq!(error_for(&[(name, " ")]).variable, name);
        }
    }

    #[test]
    fn rejects_invalid_names_urls_and_numbers() {
        for (name, value) in [
            (USERS_TABLE, "a/b"),
            (USERS_PHONE_INDEX, "ix"),
            (OPENAI_BASE_URL, "api.openai.com"),
            (TWILIO_BASE_URL, "https://api.twilio.com?x=1"),
            (OPENAI_TIMEOUT_MS, "0"),
            (OPENAI_TIMEOUT_MS, "eight"),
            (OPENAI_MAX_ATTEMPTS, "0"),
            (OPENAI_RETRY_BACKOFF_MS, "60001"),
            (MAX_COMPLETION_TOKENS, "0"),
            (HISTORY_TURNS, "101"),
            (HISTORY_TTL_DAYS, "0"),
            (TWILIO_TIMEOUT_MS, "60001"),
            (TWILIO_SEND_ATTEMPTS, "0"),
            (SEND_RECONCILE_DELAY_MS, "-1"),
            (SECRET_TTL_SECONDS, "-1"),
            (MAX_ATTEMPTS, "0"),
            (WORKER_CONCURRENCY, "65"),
            (DEADLINE_RESERVE_MS, "30001"),
        ] {
            assert_eq!(error_for(&[(name, value)]).variable, name, "{name}={value}");
        }
    }

    #[test]
    fn the_backoff_cap_must_not_be_below_the_backoff() {
        let err = error_for(&[
            (OPENAI_RETRY_BACKOFF_MS, "5000"),
            (OPENAI_RETRY_BACKOFF_MAX_MS, "4000"),
        ]);
        assert_eq!(err.variable, OPENAI_RETRY_BACKOFF_MAX_MS);
    }

    #[test]
    fn fixed_replies_must_fit_one_message() {
        let long: &'static str = Box::leak("x".repeat(1601).into_boxed_str());
        for name in [HELP_TEXT, RESET_REPLY, APOLOGY_TEXT, UNKNOWN_SENDER_REPLY] {
            assert_eq!(error_for(&[(name, long)]).variable, name);
        }
    }
}
