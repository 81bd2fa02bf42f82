//! The authorizer's configuration, parsed from the environment in one place.

use std::fmt;
use std::str::FromStr;

pub use authorizer_context::CredentialSource;
use cognito_jwt::VerifierConfig;
use env_config::{ConfigError, Env};

/// Default name of the cookie holding the access token; the auth function
/// sets the cookie under this same name.
pub const DEFAULT_ACCESS_TOKEN_COOKIE: &str = "access_token";

/// Which authorizer payloads this function accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// Detect the kind from each event (default).
    Auto,
    /// REST API `TOKEN` authorizer only.
    Token,
    /// REST API `REQUEST` authorizer only.
    Request,
    /// HTTP API payload 2.0 with simple responses only.
    Http,
}

impl fmt::Display for PayloadFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Token => "token",
            Self::Request => "request",
            Self::Http => "http",
        })
    }
}

impl FromStr for PayloadFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "token" => Ok(Self::Token),
            "request" => Ok(Self::Request),
            "http" => Ok(Self::Http),
            _ => Err("expected auto, token, request or http".to_owned()),
        }
    }
}

/// Everything the authorizer is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The token rules (pool, clients, token use, JWKS, leeway); see
    /// [`VerifierConfig::from_env`] for its variables.
    pub jwt: VerifierConfig,
    /// `CREDENTIAL_SOURCE`: the one credential read, `cookie` (default) or
    /// `authorization`. It must match what API Gateway caches the answer on
    /// (the authorizer's identity source, [`CredentialSource::header`]):
    /// reading anything else would let two callers that share the cached
    /// value share one identity.
    pub credential_source: CredentialSource,
    /// `ACCESS_TOKEN_COOKIE`: the cookie read with `CREDENTIAL_SOURCE=cookie`;
    /// [`DEFAULT_ACCESS_TOKEN_COOKIE`].
    pub access_token_cookie: String,
    /// `AUTHORIZER_PAYLOAD`: `auto` (default), `token`, `request` or `http`.
    pub payload: PayloadFormat,
}

impl Config {
    /// Parses the configuration; the error names the variable at fault.
    pub fn from_env(env: &(impl Env + ?Sized)) -> Result<Self, ConfigError> {
        let jwt = VerifierConfig::from_env(env)?;
        let access_token_cookie = env_config::optional(env, "ACCESS_TOKEN_COOKIE")
            .unwrap_or_else(|| DEFAULT_ACCESS_TOKEN_COOKIE.to_owned());
        if !is_cookie_name(&access_token_cookie) {
            return Err(ConfigError::new(
                "ACCESS_TOKEN_COOKIE",
                format!("{access_token_cookie:?} is not a valid cookie name"),
            ));
        }
        let payload = env_config::parse_or(env, "AUTHORIZER_PAYLOAD", PayloadFormat::Auto)?;
        let credential_source =
            env_config::parse_or(env, "CREDENTIAL_SOURCE", CredentialSource::Cookie)?;
        Ok(Self {
            jwt,
            credential_source,
            access_token_cookie,
            payload,
        })
    }
}

/// RFC 6265 cookie-name: an RFC 7230 token.
fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: [(&str, &str); 3] = [
        ("USER_POOL_ID", "us-east-1_Pool1"),
        ("AWS_REGION", "us-east-1"),
        ("APP_CLIENT_IDS", "client1"),
    ];

    fn parse(extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut env: Vec<(&str, &str)> = BASE.to_vec();
        env.extend_from_slice(extra);
        Config::from_env(env.as_slice())
    }

    #[test]
    fn defaults_are_the_access_token_cookie_and_auto_detection() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.access_token_cookie, "access_token");
        assert_eq!(config.credential_source, CredentialSource::Cookie);
        assert_eq!(config.payload, PayloadFormat::Auto);
        assert_eq!(
            config.jwt.issuer,
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool1"
        );
    }

    #[test]
    fn cookie_name_and_payload_format_can_be_set() {
        let config = parse(&[
            ("ACCESS_TOKEN_COOKIE", "__Host-at"),
            ("AUTHORIZER_PAYLOAD", "http"),
        ])
        .unwrap();
        assert_eq!(config.access_token_cookie, "__Host-at");
        assert_eq!(config.payload, PayloadFormat::Http);
    }

    #[test]
    fn rejects_cookie_name_with_separators() {
        for bad in ["access token", "a;b", "a=b", "tok\"en"] {
            let mut env: Vec<(&str, &str)> = BASE.to_vec();
            env.push(("ACCESS_TOKEN_COOKIE", bad));
            let err = Config::from_env(env.as_slice()).unwrap_err();
            assert_eq!(err.variable, "ACCESS_TOKEN_COOKIE", "{bad}");
        }
    }

    #[test]
    fn credential_source_is_cookie_or_authorization() {
        let config = parse(&[("CREDENTIAL_SOURCE", "authorization")]).unwrap();
        assert_eq!(config.credential_source, CredentialSource::Authorization);
        let config = parse(&[("CREDENTIAL_SOURCE", "cookie")]).unwrap();
        assert_eq!(config.credential_source, CredentialSource::Cookie);
    }

    #[test]
    fn rejects_any_other_credential_source_naming_the_variable() {
        for bad in [
            "both",
            "Cookie",
            "AUTHORIZATION",
            "bearer",
            "header",
            "cookie,authorization",
        ] {
            let mut env: Vec<(&str, &str)> = BASE.to_vec();
            env.push(("CREDENTIAL_SOURCE", bad));
            let err = Config::from_env(env.as_slice()).unwrap_err();
            assert_eq!(err.variable, "CREDENTIAL_SOURCE", "{bad}");
            assert!(
                err.message.contains("cookie or authorization"),
                "{}",
                err.message
            );
        }
    }

    #[test]
    fn rejects_unknown_payload_format() {
        assert_eq!(
            parse(&[("AUTHORIZER_PAYLOAD", "websocket")])
                .unwrap_err()
                .variable,
            "AUTHORIZER_PAYLOAD"
        );
    }

    #[test]
    fn jwt_variables_are_validated_too() {
        assert_eq!(
            parse(&[("TOKEN_USE", "refresh")]).unwrap_err().variable,
            "TOKEN_USE"
        );
    }
}
