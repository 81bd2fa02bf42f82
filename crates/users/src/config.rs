//! Configuration, parsed from the environment once per cold start.

use api_gateway::CorsConfig;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use env_config::{ConfigError, Env};

use crate::cursor::{CursorSigner, MIN_KEY_BYTES};

/// Name of the variable holding the profiles table.
pub const USERS_TABLE: &str = "USERS_TABLE";
/// Name of the variable holding the phone-claims table.
pub const PHONE_CLAIMS_TABLE: &str = "PHONE_CLAIMS_TABLE";
/// Name of the variable holding the cursor signing key (base64).
pub const CURSOR_SECRET: &str = "CURSOR_SECRET";
/// Name of the variable holding the admin group.
pub const ADMIN_GROUP: &str = "ADMIN_GROUP";

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
    /// CORS policy (`CORS_*`, see `api_gateway::CorsConfig::from_env`).
    pub cors: CorsConfig,
}

impl Config {
    /// Reads and validates every variable; the error names the first bad one.
    pub fn from_env(env: &(impl Env + ?Sized)) -> Result<Self, ConfigError> {
        Ok(Self {
            users_table: table_name(env, USERS_TABLE)?,
            phone_claims_table: table_name(env, PHONE_CLAIMS_TABLE)?,
            cursors: cursor_signer(env)?,
            admin_group: env_config::optional(env, ADMIN_GROUP)
                .unwrap_or_else(|| "admin".to_owned()),
            cors: CorsConfig::from_env(env)?,
        })
    }
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

fn cursor_signer(env: &(impl Env + ?Sized)) -> Result<CursorSigner, ConfigError> {
    let raw = env_config::required(env, CURSOR_SECRET)?;
    // The value itself never appears in an error: it is a secret.
    let key = STANDARD
        .decode(raw.as_bytes())
        .map_err(|_| ConfigError::new(CURSOR_SECRET, "is not valid base64"))?;
    CursorSigner::new(&key).ok_or_else(|| {
        ConfigError::new(
            CURSOR_SECRET,
            format!(
                "decodes to {} bytes; at least {MIN_KEY_BYTES} random bytes are required",
                key.len()
            ),
        )
    })
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
    fn invalid_cors_settings_fail_the_config() {
        let err = error_for(&[(api_gateway::cors_vars::MAX_AGE, "forever")]);
        assert_eq!(err.variable, api_gateway::cors_vars::MAX_AGE);
    }
}
