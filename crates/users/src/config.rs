//! Configuration, parsed from the environment once per cold start.

use api_gateway::CorsConfig;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use env_config::{ConfigError, Env};

use std::time::Duration;

use crate::cursor::{CursorSigner, MIN_KEY_BYTES};
use crate::phone_proof::{CodeSigner, DEFAULT_CODE_TTL_SECS};

/// Name of the variable holding the profiles table.
pub const USERS_TABLE: &str = "USERS_TABLE";
/// Name of the variable holding the phone-claims table.
pub const PHONE_CLAIMS_TABLE: &str = "PHONE_CLAIMS_TABLE";
/// Name of the variable holding the cursor signing key (base64).
pub const CURSOR_SECRET: &str = "CURSOR_SECRET";
/// Name of the variable holding the admin group.
pub const ADMIN_GROUP: &str = "ADMIN_GROUP";
/// Name of the variable holding the Secrets Manager secret with the Twilio
/// credentials (the sms function's secret format).
pub const TWILIO_SECRET_ID: &str = "TWILIO_SECRET_ID";
/// Name of the variable holding the number verification codes are sent from.
pub const SMS_FROM: &str = "SMS_FROM";
/// Name of the variable overriding Twilio's API base URL (fakes, local stack).
pub const TWILIO_BASE_URL: &str = "TWILIO_BASE_URL";
/// Name of the variable holding the secret cache lifetime, in seconds.
pub const SECRET_TTL_SECONDS: &str = "SECRET_TTL_SECONDS";
/// Name of the variable holding a verification code's lifetime, in seconds.
pub const PHONE_CODE_TTL_SECONDS: &str = "PHONE_CODE_TTL_SECONDS";

/// How phone numbers are proven: where the Twilio credentials are and
/// which number texts the codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneProofConfig {
    /// `TWILIO_SECRET_ID`.
    pub secret_id: String,
    /// `SMS_FROM`: E.164 sender (unused when the secret names a Messaging
    /// Service).
    pub from: String,
    /// `TWILIO_BASE_URL` (default `https://api.twilio.com`).
    pub base_url: String,
    /// `SECRET_TTL_SECONDS` (default 300, 0..=3600).
    pub secret_ttl: Duration,
    /// `PHONE_CODE_TTL_SECONDS` (default 300, 60..=900).
    pub code_ttl: Duration,
}

/// Everything the users function needs from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// DynamoDB table of profiles (`USERS_TABLE`, required).
    pub users_table: String,
    /// DynamoDB table of phone claims (`PHONE_CLAIMS_TABLE`, required).
    pub phone_claims_table: String,
    /// Signs pagination cursors (`CURSOR_SECRET`, required: base64 of at
    /// least 32 random bytes, e.g. Terraform's `random_bytes`).
    pub cursors: CursorSigner,
    /// Cognito group whose members administer users (`ADMIN_GROUP`,
    /// default `admin`).
    pub admin_group: String,
    /// CORS policy (`CORS_*`, see `api_gateway::CorsConfig::from_env`);
    /// its explicit origins are also the ones cookie-authenticated writes
    /// may come from.
    pub cors: CorsConfig,
    /// Seals phone verification codes (keyed by `CURSOR_SECRET` too, under
    /// a context of its own).
    pub phone_codes: CodeSigner,
    /// Phone proofs by SMS: `TWILIO_SECRET_ID` and `SMS_FROM`, both or
    /// neither. Without them nobody can prove (and so claim) a phone;
    /// administrators can still vouch for one.
    pub phone_proof: Option<PhoneProofConfig>,
}

impl Config {
    /// Reads and validates every variable; the error names the first bad one.
    pub fn from_env(env: &(impl Env + ?Sized)) -> Result<Self, ConfigError> {
        let key = cursor_key(env)?;
        let short = || {
            ConfigError::new(
                CURSOR_SECRET,
                format!(
                    "decodes to {} bytes; at least {MIN_KEY_BYTES} random bytes are required",
                    key.len()
                ),
            )
        };
        Ok(Self {
            users_table: table_name(env, USERS_TABLE)?,
            phone_claims_table: table_name(env, PHONE_CLAIMS_TABLE)?,
            cursors: CursorSigner::new(&key).ok_or_else(short)?,
            phone_codes: CodeSigner::new(&key).ok_or_else(short)?,
            admin_group: env_config::optional(env, ADMIN_GROUP)
                .unwrap_or_else(|| "admin".to_owned()),
            cors: CorsConfig::from_env(env)?,
            phone_proof: phone_proof(env)?,
        })
    }
}

fn phone_proof(env: &(impl Env + ?Sized)) -> Result<Option<PhoneProofConfig>, ConfigError> {
    let secret_id = env_config::optional(env, TWILIO_SECRET_ID);
    let from = env_config::optional(env, SMS_FROM);
    let (secret_id, from) = match (secret_id, from) {
        (None, None) => return Ok(None),
        (Some(secret_id), Some(from)) => (secret_id, from),
        (Some(_), None) => {
            return Err(ConfigError::new(
                SMS_FROM,
                format!("is required with {TWILIO_SECRET_ID}: the number codes are texted from"),
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                TWILIO_SECRET_ID,
                format!("is required with {SMS_FROM}: the secret with the Twilio credentials"),
            ));
        }
    };
    user_record::rules::phone(&from).map_err(|msg| ConfigError::new(SMS_FROM, msg))?;
    let base_url = env_config::optional(env, TWILIO_BASE_URL)
        .unwrap_or_else(|| twilio_messages::DEFAULT_BASE_URL.to_owned());
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"];
    let host_follows = |prefix: &str| {
        base_url
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
    };
    if !(base_url.starts_with("https://") || loopback.iter().any(|p| host_follows(p))) {
        return Err(ConfigError::new(
            TWILIO_BASE_URL,
            format!("{base_url:?} must be https (http only for 127.0.0.1/localhost)"),
        ));
    }
    Ok(Some(PhoneProofConfig {
        secret_id,
        from,
        base_url,
        secret_ttl: env_config::seconds_in(env, SECRET_TTL_SECONDS, 300, 0..=3600)?,
        code_ttl: env_config::seconds_in(
            env,
            PHONE_CODE_TTL_SECONDS,
            DEFAULT_CODE_TTL_SECS,
            60..=900,
        )?,
    }))
}

/// DynamoDB's rule: 3..=255 characters of `A-Z a-z 0-9 _ - .`.
fn table_name(env: &(impl Env + ?Sized), variable: &str) -> Result<String, ConfigError> {
    let name = env_config::required(env, variable)?;
    let valid = (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    if valid {
        Ok(name)
    } else {
        Err(ConfigError::new(
            variable,
            format!("{name:?} is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ - .)"),
        ))
    }
}

fn cursor_key(env: &(impl Env + ?Sized)) -> Result<Vec<u8>, ConfigError> {
    let raw = env_config::required(env, CURSOR_SECRET)?;
    // The value itself never appears in an error: it is a secret.
    STANDARD
        .decode(raw.as_bytes())
        .map_err(|_| ConfigError::new(CURSOR_SECRET, "is not valid base64"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes

    fn env_with(overrides: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut env = vec![
            (USERS_TABLE, "users-test"),
            (PHONE_CLAIMS_TABLE, "phone-claims-test"),
            (CURSOR_SECRET, SECRET),
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
        let config = Config::from_env(env_with(&[]).as_slice()).unwrap();
        assert_eq!(config.users_table, "users-test");
        assert_eq!(config.phone_claims_table, "phone-claims-test");
        assert_eq!(config.admin_group, "admin");
        assert!(config.cors.origins.is_empty());
        let config = Config::from_env(env_with(&[(ADMIN_GROUP, "staff")]).as_slice()).unwrap();
        assert_eq!(config.admin_group, "staff");
    }

    #[test]
    fn missing_tables_name_their_variable() {
        assert_eq!(error_for(&[(USERS_TABLE, "")]).variable, USERS_TABLE);
        assert_eq!(
            error_for(&[(PHONE_CLAIMS_TABLE, " ")]).variable,
            PHONE_CLAIMS_TABLE
        );
    }

    #[test]
    fn rejects_invalid_table_names() {
        assert_eq!(error_for(&[(USERS_TABLE, "us")]).variable, USERS_TABLE);
        assert_eq!(
            error_for(&[(PHONE_CLAIMS_TABLE, "a/b:c")]).variable,
            PHONE_CLAIMS_TABLE
        );
    }

    #[test]
    fn rejects_missing_non_base64_and_short_cursor_secrets_without_echoing_them() {
        assert_eq!(error_for(&[(CURSOR_SECRET, "")]).variable, CURSOR_SECRET);
        let err = error_for(&[(CURSOR_SECRET, "not*base64")]);
        assert_eq!(err.variable, CURSOR_SECRET);
        assert!(!err.message.contains("not*base64"));
        let err = error_for(&[(CURSOR_SECRET, "c2hvcnQ=")]);
        assert!(err.message.contains("5 bytes"), "{}", err.message);
    }

    #[test]
    fn phone_proofs_are_off_without_twilio_and_configured_with_it() {
        let config = Config::from_env(env_with(&[]).as_slice()).unwrap();
        assert_eq!(config.phone_proof, None);
        let config = Config::from_env(
            env_with(&[
                (TWILIO_SECRET_ID, "prod/twilio"),
                (SMS_FROM, "+14155550199"),
                (TWILIO_BASE_URL, "http://127.0.0.1:9000"),
                (PHONE_CODE_TTL_SECONDS, "120"),
            ])
            .as_slice(),
        )
        .unwrap();
        let proof = config.phone_proof.unwrap();
        assert_eq!(proof.secret_id, "prod/twilio");
        assert_eq!(proof.from, "+14155550199");
        assert_eq!(proof.base_url, "http://127.0.0.1:9000");
        assert_eq!(proof.code_ttl, Duration::from_secs(120));
        assert_eq!(proof.secret_ttl, Duration::from_secs(300));
        let default_url = Config::from_env(
            env_with(&[(TWILIO_SECRET_ID, "s"), (SMS_FROM, "+14155550199")]).as_slice(),
        )
        .unwrap();
        assert_eq!(
            default_url.phone_proof.unwrap().base_url,
            "https://api.twilio.com"
        );
    }

    #[test]
    fn phone_proof_settings_are_validated_naming_the_variable() {
        assert_eq!(error_for(&[(TWILIO_SECRET_ID, "s")]).variable, SMS_FROM);
        assert_eq!(
            error_for(&[(SMS_FROM, "+14155550199")]).variable,
            TWILIO_SECRET_ID
        );
        let twilio = [(TWILIO_SECRET_ID, "s"), (SMS_FROM, "+14155550199")];
        let with = |extra: (&'static str, &'static str)| {
            let mut env = twilio.to_vec();
            env.push(extra);
            error_for(&env).variable
        };
        assert_eq!(with((SMS_FROM, "4155550199")), SMS_FROM);
        assert_eq!(
            with((TWILIO_BASE_URL, "http://api.twilio.com")),
            TWILIO_BASE_URL
        );
        assert_eq!(
            with((TWILIO_BASE_URL, "http://127.0.0.1.evil.example")),
            TWILIO_BASE_URL
        );
        assert_eq!(with((PHONE_CODE_TTL_SECONDS, "30")), PHONE_CODE_TTL_SECONDS);
        assert_eq!(
            with((PHONE_CODE_TTL_SECONDS, "3600")),
            PHONE_CODE_TTL_SECONDS
        );
        assert_eq!(with((SECRET_TTL_SECONDS, "x")), SECRET_TTL_SECONDS);
    }

    #[test]
    fn invalid_cors_settings_fail_the_config() {
        let err = error_for(&[(api_gateway::cors_vars::MAX_AGE, "forever")]);
        assert_eq!(err.variable, api_gateway::cors_vars::MAX_AGE);
    }
}
