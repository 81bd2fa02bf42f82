//! Configuration, parsed from the environment once per cold start.

use std::str::FromStr;
use std::time::Duration;

use api_gateway::CorsConfig;
use cognito_jwt::{TokenUse, VerifierConfig};
use env_config::{ConfigError, Env};

use crate::cookies::CookieConfig;
use crate::oauth::HostedUi;

/// Variable: DynamoDB table of user profiles.
pub const USERS_TABLE: &str = "USERS_TABLE";
/// Variable: Secrets Manager secret holding `cookie_key` and `client_secret`.
pub const SECRET_ID: &str = "SECRET_ID";
/// Variable: how long the secret is cached, in seconds.
pub const SECRET_TTL_SECONDS: &str = "SECRET_TTL_SECONDS";
/// Variable: the app client the hosted UI signs users in to.
pub const COGNITO_CLIENT_ID: &str = "COGNITO_CLIENT_ID";
/// Variable: the hosted-UI domain.
pub const COGNITO_DOMAIN: &str = "COGNITO_DOMAIN";
/// Variable: the callback URL registered with the app client.
pub const REDIRECT_URI: &str = "REDIRECT_URI";
/// Variable: the sign-out URL registered with the app client.
pub const LOGOUT_URI: &str = "LOGOUT_URI";
/// Variable: where the browser lands after sign-in.
pub const APP_URL: &str = "APP_URL";
/// Variable: space-separated OAuth scopes.
pub const OAUTH_SCOPES: &str = "OAUTH_SCOPES";
/// Variable: `Domain` attribute of the access and ID token cookies.
pub const COOKIE_DOMAIN: &str = "COOKIE_DOMAIN";
/// Variable: lifetime of the refresh-token cookie, in seconds.
pub const REFRESH_COOKIE_MAX_AGE_SECONDS: &str = "REFRESH_COOKIE_MAX_AGE_SECONDS";
/// Variable: whether logout also calls `GlobalSignOut`.
pub const GLOBAL_SIGN_OUT: &str = "GLOBAL_SIGN_OUT";
/// Variable: how sign-in errors are answered, `redirect` or `json`.
pub const ERROR_MODE: &str = "ERROR_MODE";
/// Variable (read by `cognito-jwt`): accepted token use; must be `id` here.
pub const TOKEN_USE: &str = "TOKEN_USE";
/// Variable (read by `cognito-jwt`): accepted app client ids.
pub const APP_CLIENT_IDS: &str = "APP_CLIENT_IDS";

/// Default scopes when `OAUTH_SCOPES` is unset.
pub const DEFAULT_SCOPES: &str = "openid email profile";
/// Default secret cache lifetime.
pub const DEFAULT_SECRET_TTL_SECS: u64 = 300;
/// Default refresh-cookie lifetime: Cognito's default refresh-token validity (30 days).
pub const DEFAULT_REFRESH_COOKIE_MAX_AGE_SECS: u64 = 30 * 24 * 3600;

/// How sign-in (login and callback) errors reach the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorMode {
    /// 302 to `APP_URL` with `auth_error=<code>` (default).
    Redirect,
    /// The JSON error body with a 4xx/5xx status.
    Json,
}

impl FromStr for ErrorMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "redirect" => Ok(Self::Redirect),
            "json" => Ok(Self::Json),
            _ => Err("expected redirect or json".to_owned()),
        }
    }
}

/// Everything the auth function needs from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `USERS_TABLE` (required): the profiles table shared with the users function.
    pub users_table: String,
    /// `SECRET_ID` (required): JSON secret with `cookie_key` and optional `client_secret`.
    pub secret_id: String,
    /// `SECRET_TTL_SECONDS` (default 300, 0..=3600): secret cache lifetime.
    pub secret_ttl: Duration,
    /// ID-token rules (`USER_POOL_ID`, `APP_CLIENT_IDS` (default
    /// `COGNITO_CLIENT_ID`), `TOKEN_USE` (default and only value `id`),
    /// `AWS_REGION`/`COGNITO_REGION`, `JWKS_URL`, ...; see `cognito-jwt`).
    pub jwt: VerifierConfig,
    /// `COGNITO_CLIENT_ID` (required).
    pub client_id: String,
    /// `COGNITO_DOMAIN` (required): hosted-UI host, `https://` optional.
    pub hosted_ui: HostedUi,
    /// `REDIRECT_URI` (required): must end in `/callback`; its parent path
    /// scopes the refresh and state cookies.
    pub redirect_uri: String,
    /// `LOGOUT_URI` (required).
    pub logout_uri: String,
    /// `APP_URL` (required): landing page after sign-in and for errors.
    pub app_url: String,
    /// `OAUTH_SCOPES` (default `openid email profile`; must include `openid`).
    pub scopes: Vec<String>,
    /// Cookie attributes (`COOKIE_DOMAIN`, `REFRESH_COOKIE_MAX_AGE_SECONDS`).
    pub cookies: CookieConfig,
    /// `GLOBAL_SIGN_OUT` (default true).
    pub global_sign_out: bool,
    /// `ERROR_MODE` (default `redirect`).
    pub error_mode: ErrorMode,
    /// `CORS_*`, see `api_gateway::CorsConfig::from_env`.
    pub cors: CorsConfig,
}

impl Config {
    /// Reads and validates every variable; the error names the first bad one.
    pub fn from_env(env: &(impl Env + ?Sized)) -> Result<Self, ConfigError> {
        let users_table = table_name(env, USERS_TABLE)?;
        let secret_id = env_config::required(env, SECRET_ID)?;
        let secret_ttl =
            env_config::seconds_in(env, SECRET_TTL_SECONDS, DEFAULT_SECRET_TTL_SECS, 0..=3600)?;
        let client_id = env_config::required(env, COGNITO_CLIENT_ID)?;
        if client_id.len() > 128 || !client_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ConfigError::new(
                COGNITO_CLIENT_ID,
                format!("{client_id:?} is not an app client id (letters and digits only)"),
            ));
        }
        let jwt = VerifierConfig::from_env(&JwtDefaults {
            env,
            client_id: &client_id,
        })?;
        if jwt.token_use != TokenUse::Id {
            return Err(ConfigError::new(
                TOKEN_USE,
                "must be id: the auth function verifies the ID token of a sign-in",
            ));
        }
        if !jwt.client_ids.contains(&client_id) {
            return Err(ConfigError::new(
                APP_CLIENT_IDS,
                format!("must include COGNITO_CLIENT_ID ({client_id})"),
            ));
        }
        let hosted_ui = HostedUi::parse(&env_config::required(env, COGNITO_DOMAIN)?)
            .map_err(|msg| ConfigError::new(COGNITO_DOMAIN, msg))?;
        let redirect = url(env, REDIRECT_URI)?;
        let Some(auth_path) = redirect.path.strip_suffix("/callback") else {
            return Err(ConfigError::new(
                REDIRECT_URI,
                format!(
                    "{:?} must end in /callback (the auth routes are its siblings)",
                    redirect.full
                ),
            ));
        };
        let auth_path = if auth_path.is_empty() { "/" } else { auth_path }.to_owned();
        let logout = url(env, LOGOUT_URI)?;
        let app = url(env, APP_URL)?;
        let scopes = scopes(env)?;
        let domain = cookie_domain(env)?;
        let refresh_max_age = env_config::number_in(
            env,
            REFRESH_COOKIE_MAX_AGE_SECONDS,
            DEFAULT_REFRESH_COOKIE_MAX_AGE_SECS,
            60..=3650 * 24 * 3600,
        )?;
        Ok(Self {
            users_table,
            secret_id,
            secret_ttl,
            jwt,
            client_id,
            hosted_ui,
            cookies: CookieConfig {
                domain,
                auth_path,
                callback_path: redirect.path.clone(),
                refresh_max_age,
            },
            redirect_uri: redirect.full,
            logout_uri: logout.full,
            app_url: app.full,
            scopes,
            global_sign_out: env_config::flag_or(env, GLOBAL_SIGN_OUT, true)?,
            error_mode: env_config::parse_or(env, ERROR_MODE, ErrorMode::Redirect)?,
            cors: CorsConfig::from_env(env)?,
        })
    }

    /// `scheme://host[:port]` of `APP_URL`, which `return_to` paths are joined to.
    pub fn app_origin(&self) -> &str {
        origin_of(&self.app_url)
    }

    /// `scheme://host[:port]` of `REDIRECT_URI`: the API's own origin.
    pub fn api_origin(&self) -> &str {
        origin_of(&self.redirect_uri)
    }
}

/// `TOKEN_USE` and `APP_CLIENT_IDS` default to what the auth function
/// needs, so a minimal environment only names the client once.
struct JwtDefaults<'a, E: ?Sized> {
    env: &'a E,
    client_id: &'a str,
}

impl<E: Env + ?Sized> Env for JwtDefaults<'_, E> {
    fn var(&self, name: &str) -> Option<String> {
        let value = env_config::optional(self.env, name);
        match name {
            TOKEN_USE => value.or_else(|| Some("id".to_owned())),
            APP_CLIENT_IDS => value.or_else(|| Some(self.client_id.to_owned())),
            _ => value,
        }
    }
}

fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => &url[..after_scheme + slash],
        None => url,
    }
}

/// A checked absolute URL.
struct Url {
    full: String,
    path: String,
}

/// `https://host[:port][/path][?query]`; plain `http` only for loopback
/// hosts (local runs and tests).
fn url(env: &(impl Env + ?Sized), variable: &str) -> Result<Url, ConfigError> {
    let raw = env_config::required(env, variable)?;
    let bad = |why: &str| ConfigError::new(variable, format!("{raw:?} {why}"));
    let (scheme, rest) = raw
        .split_once("://")
        .ok_or_else(|| bad("is not an absolute URL"))?;
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) || raw.contains('#') {
        return Err(bad("holds whitespace or a fragment"));
    }
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(bad("has no host (or has user info)"));
    }
    match scheme {
        "https" => {}
        "http" if is_loopback(authority) => {}
        _ => {
            return Err(bad(
                "must be https (http only for 127.0.0.1, localhost and *.localhost)",
            ));
        }
    }
    let path = path.split('?').next().unwrap_or("").to_owned();
    Ok(Url {
        full: raw.clone(),
        path: if path.is_empty() {
            "/".to_owned()
        } else {
            path
        },
    })
}

/// Whether `authority` (`host[:port]`) is the local machine: loopback
/// addresses, `localhost` and names under `.localhost`, which RFC 6761
/// reserves for loopback (browsers resolve them there and treat them as
/// secure contexts; the local stack serves the app and the API on
/// `app.<name>.localhost` and `api.<name>.localhost`).
pub(crate) fn is_loopback(authority: &str) -> bool {
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    let localhost_name = host.strip_suffix(".localhost").is_some_and(|name| {
        !name.is_empty()
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
    });
    localhost_name || matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

fn scopes(env: &(impl Env + ?Sized)) -> Result<Vec<String>, ConfigError> {
    let raw = env_config::optional(env, OAUTH_SCOPES).unwrap_or_else(|| DEFAULT_SCOPES.into());
    let scopes: Vec<String> = raw.split_whitespace().map(str::to_owned).collect();
    if let Some(bad) = scopes.iter().find(|s| {
        !s.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    }) {
        return Err(ConfigError::new(
            OAUTH_SCOPES,
            format!("{bad:?} is not a scope"),
        ));
    }
    if !scopes.iter().any(|s| s == "openid") {
        return Err(ConfigError::new(
            OAUTH_SCOPES,
            "must include openid: sign-in needs the ID token",
        ));
    }
    Ok(scopes)
}

fn cookie_domain(env: &(impl Env + ?Sized)) -> Result<Option<String>, ConfigError> {
    let Some(domain) = env_config::optional(env, COOKIE_DOMAIN) else {
        return Ok(None);
    };
    let bare = domain.strip_prefix('.').unwrap_or(&domain);
    let valid = !bare.is_empty()
        && bare.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if valid {
        Ok(Some(bare.to_owned()))
    } else {
        Err(ConfigError::new(
            COOKIE_DOMAIN,
            format!("{domain:?} is not a lower-case domain name"),
        ))
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

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const BASE: [(&str, &str); 11] = [
        (USERS_TABLE, "users-test"),
        (SECRET_ID, "prod/auth"),
        ("USER_POOL_ID", "eu-west-1_AbC123"),
        ("AWS_REGION", "eu-west-1"),
        (COGNITO_CLIENT_ID, "client1"),
        (COGNITO_DOMAIN, "myapp.auth.eu-west-1.amazoncognito.com"),
        (REDIRECT_URI, "https://api.example.com/prod/auth/callback"),
        (LOGOUT_URI, "https://app.example.com/signed-out"),
        (APP_URL, "https://app.example.com/home"),
        ("CORS_ALLOWED_ORIGINS", "https://app.example.com"),
        ("CORS_ALLOW_CREDENTIALS", "true"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut env: Vec<_> = BASE
            .iter()
            .filter(|(key, _)| !extra.iter().any(|(k, _)| k == key))
            .copied()
            .collect();
        env.extend(extra.iter().copied().filter(|(_, v)| !v.is_empty()));
        env
    }

    fn error_for(extra: &[(&'static str, &'static str)]) -> ConfigError {
        Config::from_env(with(extra).as_slice()).unwrap_err()
    }

    #[test]
    fn reads_a_complete_environment_with_defaults() {
        let config = Config::from_env(BASE.as_slice()).unwrap();
        assert_eq!(config.users_table, "users-test");
        assert_eq!(config.secret_ttl, Duration::from_secs(300));
        assert_eq!(config.jwt.token_use, TokenUse::Id);
        assert_eq!(config.jwt.client_ids, ["client1"]);
        assert_eq!(
            config.hosted_ui.base_url(),
            "https://myapp.auth.eu-west-1.amazoncognito.com"
        );
        assert_eq!(config.scopes, ["openid", "email", "profile"]);
        assert_eq!(config.cookies.auth_path, "/prod/auth");
        assert_eq!(config.cookies.callback_path, "/prod/auth/callback");
        assert_eq!(config.cookies.domain, None);
        assert_eq!(config.cookies.refresh_max_age, 2_592_000);
        assert!(config.global_sign_out);
        assert_eq!(config.error_mode, ErrorMode::Redirect);
        assert_eq!(config.app_origin(), "https://app.example.com");
        assert_eq!(config.api_origin(), "https://api.example.com");
    }

    #[test]
    fn every_optional_setting_can_be_set() {
        let config = Config::from_env(
            with(&[
                (COGNITO_DOMAIN, "https://auth.example.com/"),
                (OAUTH_SCOPES, "openid  email"),
                (COOKIE_DOMAIN, ".example.com"),
                (REFRESH_COOKIE_MAX_AGE_SECONDS, "3600"),
                (GLOBAL_SIGN_OUT, "false"),
                (ERROR_MODE, "json"),
                (SECRET_TTL_SECONDS, "0"),
                (APP_CLIENT_IDS, "client1,client2"),
            ])
            .as_slice(),
        )
        .unwrap();
        assert_eq!(config.hosted_ui.base_url(), "https://auth.example.com");
        assert_eq!(config.scopes, ["openid", "email"]);
        assert_eq!(config.cookies.domain.as_deref(), Some("example.com"));
        assert_eq!(config.cookies.refresh_max_age, 3600);
        assert!(!config.global_sign_out);
        assert_eq!(config.error_mode, ErrorMode::Json);
        assert_eq!(config.secret_ttl, Duration::ZERO);
    }

    #[test]
    fn loopback_http_is_accepted_for_local_runs() {
        let config = Config::from_env(
            with(&[
                (COGNITO_DOMAIN, "http://127.0.0.1:8080"),
                (REDIRECT_URI, "http://localhost:3000/auth/callback"),
            ])
            .as_slice(),
        )
        .unwrap();
        assert_eq!(config.hosted_ui.base_url(), "http://127.0.0.1:8080");
        assert_eq!(config.cookies.auth_path, "/auth");
    }

    #[test]
    fn missing_required_variables_are_named() {
        for variable in [
            USERS_TABLE,
            SECRET_ID,
            COGNITO_CLIENT_ID,
            COGNITO_DOMAIN,
            REDIRECT_URI,
            LOGOUT_URI,
            APP_URL,
            "USER_POOL_ID",
        ] {
            assert_eq!(error_for(&[(variable, "")]).variable, variable);
        }
    }

    #[test]
    fn rejects_invalid_values_naming_the_variable() {
        let cases: &[(&str, &str)] = &[
            (USERS_TABLE, "a/b"),
            (SECRET_TTL_SECONDS, "3601"),
            (SECRET_TTL_SECONDS, "soon"),
            (COGNITO_CLIENT_ID, "client-1"),
            (
                COGNITO_DOMAIN,
                "http://myapp.auth.eu-west-1.amazoncognito.com",
            ),
            (COGNITO_DOMAIN, "https://user@auth.example.com"),
            (COGNITO_DOMAIN, "auth.example.com/path"),
            (REDIRECT_URI, "https://api.example.com/prod/auth/cb"),
            (REDIRECT_URI, "http://api.example.com/auth/callback"),
            (REDIRECT_URI, "api.example.com/auth/callback"),
            (LOGOUT_URI, "https://app.example.com/#out"),
            (APP_URL, "ftp://app.example.com"),
            (OAUTH_SCOPES, "email profile"),
            (OAUTH_SCOPES, "openid \"x\""),
            (COOKIE_DOMAIN, "Example.COM"),
            (REFRESH_COOKIE_MAX_AGE_SECONDS, "10"),
            (GLOBAL_SIGN_OUT, "sometimes"),
            (ERROR_MODE, "html"),
            (TOKEN_USE, "access"),
            (APP_CLIENT_IDS, "other1"),
            ("CORS_MAX_AGE", "forever"),
        ];
        for (variable, value) in cases {
            let err = Config::from_env(
                with(&[])
                    .into_iter()
                    .filter(|(k, _)| k != variable)
                    .chain([(*variable, *value)])
                    .collect::<Vec<_>>()
                    .as_slice(),
            )
            .unwrap_err();
            assert_eq!(&err.variable, variable, "{value:?}: {err}");
        }
    }

    #[test]
    fn loopback_detection_needs_a_loopback_host() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost"));
        assert!(!is_loopback("127.0.0.1.example.com"));
        assert!(!is_loopback("example.com:80"));
        assert!(is_loopback("api.lambda-forge.localhost:4000"));
        assert!(is_loopback("app.localhost"));
        assert!(!is_loopback(".localhost"));
        assert!(!is_loopback("api..localhost"));
        assert!(!is_loopback("localhost.example.com"));
        assert!(!is_loopback("evil.com/.localhost"));
    }
}
