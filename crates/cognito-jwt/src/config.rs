//! What a [`crate::Verifier`] checks, parsed from the environment in one place.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use env_config::{ConfigError, Env};

/// Default leeway on `exp`, `nbf` and `iat`. Cognito and Lambda both keep
/// NTP time, so real skew is milliseconds; 10 s absorbs delivery delays
/// without keeping expired tokens alive for long.
pub const DEFAULT_LEEWAY_SECS: u64 = 10;
/// The largest leeway the configuration accepts.
pub const MAX_LEEWAY_SECS: u64 = 60;
/// Default minimum time between two JWKS fetches caused by unknown `kid`s.
pub const DEFAULT_REFETCH_INTERVAL_SECS: u64 = 60;

/// Which kind of Cognito token is accepted (`token_use` claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    /// Access tokens: the app client is in `client_id`.
    Access,
    /// ID tokens: the app client is in `aud`.
    Id,
}

impl TokenUse {
    /// The claim value, `access` or `id`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Id => "id",
        }
    }
}

impl fmt::Display for TokenUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TokenUse {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "access" => Ok(Self::Access),
            "id" => Ok(Self::Id),
            _ => Err("expected \"access\" or \"id\"".to_owned()),
        }
    }
}

/// Everything a [`crate::Verifier`] needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierConfig {
    /// Exact `iss`: `https://cognito-idp.{region}.amazonaws.com/{userPoolId}`.
    pub issuer: String,
    /// Where the keys are fetched; `{issuer}/.well-known/jwks.json` by default.
    pub jwks_url: String,
    /// App client ids whose tokens are accepted (never empty).
    pub client_ids: Vec<String>,
    /// The accepted `token_use`; access tokens by default.
    pub token_use: TokenUse,
    /// Leeway on `exp`, `nbf` and `iat`; [`DEFAULT_LEEWAY_SECS`], at most [`MAX_LEEWAY_SECS`].
    pub leeway: Duration,
    /// Minimum time between refetches caused by unknown `kid`s;
    /// [`DEFAULT_REFETCH_INTERVAL_SECS`] by default.
    pub refetch_interval: Duration,
}

impl VerifierConfig {
    /// The configuration for a user pool with the defaults: access tokens,
    /// the pool's own JWKS URL, default leeway and refetch interval.
    pub fn for_user_pool(region: &str, user_pool_id: &str, client_ids: Vec<String>) -> Self {
        let issuer = issuer_for(region, user_pool_id);
        Self {
            jwks_url: default_jwks_url(&issuer),
            issuer,
            client_ids,
            token_use: TokenUse::Access,
            leeway: Duration::from_secs(DEFAULT_LEEWAY_SECS),
            refetch_interval: Duration::from_secs(DEFAULT_REFETCH_INTERVAL_SECS),
        }
    }

    /// Parses the configuration from the environment:
    ///
    /// | variable | meaning | default |
    /// | --- | --- | --- |
    /// | `USER_POOL_ID` | the pool, e.g. `eu-west-1_AbCdEf123` | required |
    /// | `COGNITO_REGION` | the pool's region, when it differs from the function's | `AWS_REGION` |
    /// | `AWS_REGION` | the function's region (set by Lambda) | required unless `COGNITO_REGION` |
    /// | `APP_CLIENT_IDS` | comma-separated accepted app client ids | required |
    /// | `TOKEN_USE` | `access` or `id` | `access` |
    /// | `JWKS_URL` | override of `{issuer}/.well-known/jwks.json` (local emulators) | derived |
    /// | `JWT_LEEWAY_SECS` | 0..=60 | 10 |
    /// | `JWKS_REFETCH_INTERVAL_SECS` | 1..=86400 | 60 |
    pub fn from_env(env: &(impl Env + ?Sized)) -> Result<Self, ConfigError> {
        let user_pool_id = env_config::required(env, "USER_POOL_ID")?;
        let (region, region_variable) = match env_config::optional(env, "COGNITO_REGION") {
            Some(region) => (region, "COGNITO_REGION"),
            None => (env_config::required(env, "AWS_REGION")?, "AWS_REGION"),
        };
        if !is_region(&region) {
            return Err(ConfigError::new(
                region_variable,
                format!("{region:?} is not an AWS region name"),
            ));
        }
        validate_user_pool_id(&user_pool_id, &region, region_variable)?;

        let client_ids = env_config::list(env, "APP_CLIENT_IDS");
        if client_ids.is_empty() {
            return Err(ConfigError::new(
                "APP_CLIENT_IDS",
                "is required: a comma-separated list of app client ids",
            ));
        }
        if let Some(bad) = client_ids.iter().find(|id| !is_client_id(id)) {
            return Err(ConfigError::new(
                "APP_CLIENT_IDS",
                format!("{bad:?} is not an app client id (letters and digits only)"),
            ));
        }

        let mut config = Self::for_user_pool(&region, &user_pool_id, client_ids);
        config.token_use = env_config::parse_or(env, "TOKEN_USE", TokenUse::Access)?;
        if let Some(url) = env_config::optional(env, "JWKS_URL") {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(ConfigError::new(
                    "JWKS_URL",
                    format!("{url:?} is not an http(s) URL"),
                ));
            }
            config.jwks_url = url;
        }
        config.leeway = env_config::seconds_in(
            env,
            "JWT_LEEWAY_SECS",
            DEFAULT_LEEWAY_SECS,
            0..=MAX_LEEWAY_SECS,
        )?;
        config.refetch_interval = env_config::seconds_in(
            env,
            "JWKS_REFETCH_INTERVAL_SECS",
            DEFAULT_REFETCH_INTERVAL_SECS,
            1..=86_400,
        )?;
        Ok(config)
    }
}

/// The issuer string Cognito puts in `iss`.
pub(crate) fn issuer_for(region: &str, user_pool_id: &str) -> String {
    format!("https://cognito-idp.{region}.amazonaws.com/{user_pool_id}")
}

fn default_jwks_url(issuer: &str) -> String {
    format!("{issuer}/.well-known/jwks.json")
}

/// `us-east-1`, `ap-southeast-2`, `us-gov-west-1`: lower-case words and a number.
fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|part| !part.is_empty())
        && parts[..parts.len() - 1]
            .iter()
            .all(|part| part.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

fn is_client_id(id: &str) -> bool {
    id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Pool ids are `{region}_{id}`; the region part must be the issuer's, or
/// every token would be refused with a confusing "wrong issuer".
fn validate_user_pool_id(
    user_pool_id: &str,
    region: &str,
    region_variable: &str,
) -> Result<(), ConfigError> {
    let Some((pool_region, id)) = user_pool_id.split_once('_') else {
        return Err(ConfigError::new(
            "USER_POOL_ID",
            format!("{user_pool_id:?} is not a user pool id (expected region_id)"),
        ));
    };
    if id.is_empty() || id.len() > 55 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ConfigError::new(
            "USER_POOL_ID",
            format!("{user_pool_id:?} is not a user pool id (expected region_id)"),
        ));
    }
    if pool_region != region {
        return Err(ConfigError::new(
            "USER_POOL_ID",
            format!(
                "pool {user_pool_id:?} is in {pool_region}, not {region} ({region_variable}); \
                 set COGNITO_REGION for a pool in another region"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: [(&str, &str); 3] = [
        ("USER_POOL_ID", "eu-west-1_AbC123"),
        ("AWS_REGION", "eu-west-1"),
        ("APP_CLIENT_IDS", "client1, client2"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut env: Vec<(&str, &str)> = BASE
            .iter()
            .filter(|(key, _)| !extra.iter().any(|(k, _)| k == key))
            .copied()
            .collect();
        env.extend(extra.iter().copied().filter(|(_, value)| !value.is_empty()));
        env
    }

    fn error_for(extra: &[(&'static str, &'static str)]) -> ConfigError {
        match VerifierConfig::from_env(with(extra).as_slice()) {
            Ok(config) => panic!("expected an error, got {config:?}"),
            Err(err) => err,
        }
    }

    #[test]
    fn defaults_give_access_tokens_of_the_pool_with_its_own_jwks() {
        let config = VerifierConfig::from_env(BASE.as_slice()).unwrap();
        assert_eq!(
            config,
            VerifierConfig {
                issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123".into(),
                jwks_url:
                    "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123/.well-known/jwks.json"
                        .into(),
                client_ids: vec!["client1".into(), "client2".into()],
                token_use: TokenUse::Access,
                leeway: Duration::from_secs(10),
                refetch_interval: Duration::from_secs(60),
            }
        );
    }

    #[test]
    fn every_setting_can_be_overridden() {
        let config = VerifierConfig::from_env(
            with(&[
                ("TOKEN_USE", "id"),
                (
                    "JWKS_URL",
                    "http://127.0.0.1:5000/eu-west-1_AbC123/.well-known/jwks.json",
                ),
                ("JWT_LEEWAY_SECS", "60"),
                ("JWKS_REFETCH_INTERVAL_SECS", "300"),
            ])
            .as_slice(),
        )
        .unwrap();
        assert_eq!(config.token_use, TokenUse::Id);
        assert_eq!(
            config.jwks_url,
            "http://127.0.0.1:5000/eu-west-1_AbC123/.well-known/jwks.json"
        );
        assert_eq!(config.leeway, Duration::from_secs(60));
        assert_eq!(config.refetch_interval, Duration::from_secs(300));
    }

    #[test]
    fn cognito_region_overrides_the_function_region_for_the_issuer() {
        let config = VerifierConfig::from_env(
            with(&[("AWS_REGION", "us-east-1"), ("COGNITO_REGION", "eu-west-1")]).as_slice(),
        )
        .unwrap();
        assert_eq!(
            config.issuer,
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"
        );
    }

    #[test]
    fn rejects_missing_user_pool_id() {
        assert_eq!(error_for(&[("USER_POOL_ID", "")]).variable, "USER_POOL_ID");
    }

    #[test]
    fn rejects_user_pool_id_without_region_prefix() {
        assert_eq!(
            error_for(&[("USER_POOL_ID", "AbC123")]).variable,
            "USER_POOL_ID"
        );
    }

    #[test]
    fn rejects_user_pool_id_with_bad_characters() {
        assert_eq!(
            error_for(&[("USER_POOL_ID", "eu-west-1_Ab/../C")]).variable,
            "USER_POOL_ID"
        );
    }

    #[test]
    fn rejects_user_pool_id_of_another_region() {
        let err = error_for(&[("USER_POOL_ID", "us-east-1_AbC123")]);
        assert_eq!(err.variable, "USER_POOL_ID");
        assert!(err.message.contains("COGNITO_REGION"), "{}", err.message);
    }

    #[test]
    fn rejects_missing_region() {
        assert_eq!(error_for(&[("AWS_REGION", "")]).variable, "AWS_REGION");
    }

    #[test]
    fn rejects_malformed_region() {
        assert_eq!(
            error_for(&[("AWS_REGION", "Europe")]).variable,
            "AWS_REGION"
        );
        assert_eq!(
            error_for(&[("COGNITO_REGION", "eu_west_1")]).variable,
            "COGNITO_REGION"
        );
    }

    #[test]
    fn rejects_missing_or_blank_client_ids() {
        assert_eq!(
            error_for(&[("APP_CLIENT_IDS", "")]).variable,
            "APP_CLIENT_IDS"
        );
        assert_eq!(
            error_for(&[("APP_CLIENT_IDS", " , ,")]).variable,
            "APP_CLIENT_IDS"
        );
    }

    #[test]
    fn rejects_client_id_with_bad_characters() {
        assert_eq!(
            error_for(&[("APP_CLIENT_IDS", "good1,bad id")]).variable,
            "APP_CLIENT_IDS"
        );
    }

    #[test]
    fn rejects_unknown_token_use() {
        let err = error_for(&[("TOKEN_USE", "refresh")]);
        assert_eq!(err.variable, "TOKEN_USE");
        assert!(err.message.contains("access"), "{}", err.message);
    }

    #[test]
    fn rejects_jwks_url_that_is_not_http() {
        assert_eq!(
            error_for(&[("JWKS_URL", "file:///etc/passwd")]).variable,
            "JWKS_URL"
        );
    }

    #[test]
    fn rejects_leeway_over_sixty_seconds() {
        assert_eq!(
            error_for(&[("JWT_LEEWAY_SECS", "61")]).variable,
            "JWT_LEEWAY_SECS"
        );
    }

    #[test]
    fn rejects_leeway_that_is_not_a_number() {
        assert_eq!(
            error_for(&[("JWT_LEEWAY_SECS", "-1")]).variable,
            "JWT_LEEWAY_SECS"
        );
    }

    #[test]
    fn rejects_zero_or_unparsable_refetch_interval() {
        assert_eq!(
            error_for(&[("JWKS_REFETCH_INTERVAL_SECS", "0")]).variable,
            "JWKS_REFETCH_INTERVAL_SECS"
        );
        assert_eq!(
            error_for(&[("JWKS_REFETCH_INTERVAL_SECS", "1m")]).variable,
            "JWKS_REFETCH_INTERVAL_SECS"
        );
    }
}
