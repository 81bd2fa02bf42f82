//! One CORS configuration, read once from the environment, applied to every
//! response and used by the cors function to answer preflights.

use env_config::{ConfigError, Env};

/// Variable: comma-separated allowed origins.
pub const ORIGINS_VAR: &str = "CORS_ALLOWED_ORIGINS";
/// Variable: comma-separated allowed methods.
pub const METHODS_VAR: &str = "CORS_ALLOWED_METHODS";
/// Variable: comma-separated allowed request headers.
pub const HEADERS_VAR: &str = "CORS_ALLOWED_HEADERS";
/// Variable: preflight cache lifetime in seconds.
pub const MAX_AGE_VAR: &str = "CORS_MAX_AGE";
/// Variable: whether credentials (cookies) are allowed.
pub const CREDENTIALS_VAR: &str = "CORS_ALLOW_CREDENTIALS";

const DEFAULT_METHODS: &str = "GET,POST,PUT,PATCH,DELETE,OPTIONS";
const DEFAULT_HEADERS: &str = "authorization,content-type,if-match";
const DEFAULT_MAX_AGE: u32 = 600;
/// Browsers cap the preflight cache anyway (Chromium: 2 h); a day is plenty.
const MAX_MAX_AGE: u32 = 86_400;

/// One entry of the origin allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginRule {
    /// Exactly this origin, e.g. `https://app.example.com`.
    Exact(String),
    /// Any subdomain of `domain` over `scheme` (`https://*.example.com`),
    /// not the bare domain itself.
    Subdomains {
        /// `http` or `https`.
        scheme: String,
        /// The parent domain, without the leading `*.`.
        domain: String,
    },
    /// `*`: any origin (never together with credentials).
    Any,
}

impl OriginRule {
    /// Parses one configured origin, rejecting anything that is not
    /// `scheme://host[:port]` (no path, no trailing slash, no user info).
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw == "*" {
            return Ok(Self::Any);
        }
        let (scheme, rest) = raw
            .split_once("://")
            .ok_or_else(|| format!("{raw:?} is not an origin (expected scheme://host[:port])"))?;
        if scheme != "https" && scheme != "http" {
            return Err(format!("{raw:?}: scheme must be http or https"));
        }
        if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
            return Err(format!(
                "{raw:?} is not an origin (no path, query, user info or trailing slash allowed)"
            ));
        }
        if raw.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(format!(
                "{raw:?}: origins are compared in lower case; write it in lower case"
            ));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        };
        if let Some(port) = port
            && (port.is_empty() || port.parse::<u16>().is_err())
        {
            return Err(format!("{raw:?}: invalid port"));
        }
        if let Some(domain) = host.strip_prefix("*.") {
            if domain.contains('*') || !domain.contains('.') || !valid_host(domain) {
                return Err(format!(
                    "{raw:?}: a wildcard must be one leading `*.` before a domain with at least two labels"
                ));
            }
            let domain = match port {
                Some(port) => format!("{domain}:{port}"),
                None => domain.to_owned(),
            };
            return Ok(Self::Subdomains {
                scheme: scheme.to_owned(),
                domain,
            });
        }
        if !valid_host(host) {
            return Err(format!("{raw:?}: invalid host"));
        }
        Ok(Self::Exact(raw.to_owned()))
    }

    /// Whether this rule admits `origin` (as sent by a browser).
    pub fn matches(&self, origin: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(allowed) => allowed == origin,
            Self::Subdomains { scheme, domain } => origin
                .strip_prefix(scheme.as_str())
                .and_then(|rest| rest.strip_prefix("://"))
                .and_then(|host| host.strip_suffix(domain.as_str()))
                .and_then(|sub| sub.strip_suffix('.'))
                .is_some_and(|sub| !sub.is_empty() && valid_host(sub)),
        }
    }
}

fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

/// Why a preflight was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreflightError {
    /// No `Origin` header.
    #[error("the request has no Origin header")]
    MissingOrigin,
    /// The origin is not on the allow-list.
    #[error("origin {0} is not allowed")]
    OriginNotAllowed(String),
    /// No `Access-Control-Request-Method` header.
    #[error("the preflight has no Access-Control-Request-Method header")]
    MissingMethod,
    /// The requested method is not allowed.
    #[error("method {0} is not allowed")]
    MethodNotAllowed(String),
    /// A requested header is not allowed.
    #[error("request header {0} is not allowed")]
    HeaderNotAllowed(String),
}

impl PreflightError {
    /// A stable machine-readable code for the JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingOrigin => "cors_missing_origin",
            Self::OriginNotAllowed(_) => "cors_origin_not_allowed",
            Self::MissingMethod => "cors_missing_method",
            Self::MethodNotAllowed(_) => "cors_method_not_allowed",
            Self::HeaderNotAllowed(_) => "cors_header_not_allowed",
        }
    }
}

/// The CORS policy of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsConfig {
    /// Allowed origins; empty means no cross-origin access at all.
    pub origins: Vec<OriginRule>,
    /// Allowed methods, upper case.
    pub methods: Vec<String>,
    /// Allowed request headers, lower case.
    pub headers: Vec<String>,
    /// `Access-Control-Max-Age` in seconds.
    pub max_age: u32,
    /// Whether `Access-Control-Allow-Credentials: true` is sent.
    pub credentials: bool,
}

impl Default for CorsConfig {
    /// No origins allowed; defaults for everything else.
    fn default() -> Self {
        Self {
            origins: Vec::new(),
            methods: split_upper(DEFAULT_METHODS),
            headers: split_lower(DEFAULT_HEADERS),
            max_age: DEFAULT_MAX_AGE,
            credentials: false,
        }
    }
}

fn split_upper(list: &str) -> Vec<String> {
    list.split(',')
        .map(|m| m.trim().to_ascii_uppercase())
        .filter(|m| !m.is_empty())
        .collect()
}

fn split_lower(list: &str) -> Vec<String> {
    list.split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

impl CorsConfig {
    /// A policy that allows no origin and so adds no headers.
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Reads the `CORS_*` variables. Unset origins mean no cross-origin
    /// access; `*` with credentials, a malformed origin, an invalid method or
    /// header name, or an out-of-range max-age is an error naming the variable.
    pub fn from_env(env: &(impl Env + ?Sized)) -> Result<Self, ConfigError> {
        let origins = env_config::list(env, ORIGINS_VAR)
            .iter()
            .map(|raw| OriginRule::parse(raw).map_err(|msg| ConfigError::new(ORIGINS_VAR, msg)))
            .collect::<Result<Vec<_>, _>>()?;
        let methods = match env_config::optional(env, METHODS_VAR) {
            Some(raw) => split_upper(&raw),
            None => split_upper(DEFAULT_METHODS),
        };
        if let Some(bad) = methods
            .iter()
            .find(|m| !m.chars().all(|c| c.is_ascii_alphabetic()))
        {
            return Err(ConfigError::new(
                METHODS_VAR,
                format!("{bad:?} is not an HTTP method"),
            ));
        }
        let headers = match env_config::optional(env, HEADERS_VAR) {
            Some(raw) => split_lower(&raw),
            None => split_lower(DEFAULT_HEADERS),
        };
        if let Some(bad) = headers
            .iter()
            .find(|h| http::HeaderName::from_bytes(h.as_bytes()).is_err() && h.as_str() != "*")
        {
            return Err(ConfigError::new(
                HEADERS_VAR,
                format!("{bad:?} is not a header name"),
            ));
        }
        let max_age = env_config::number_in(env, MAX_AGE_VAR, DEFAULT_MAX_AGE, 0..=MAX_MAX_AGE)?;
        let credentials = env_config::flag_or(env, CREDENTIALS_VAR, false)?;
        if credentials && origins.contains(&OriginRule::Any) {
            return Err(ConfigError::new(
                ORIGINS_VAR,
                format!(
                    "`*` cannot be combined with {CREDENTIALS_VAR}=true; list the origins explicitly"
                ),
            ));
        }
        Ok(Self {
            origins,
            methods,
            headers,
            max_age,
            credentials,
        })
    }

    /// Whether `origin` is allowed.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.origins.iter().any(|rule| rule.matches(origin))
    }

    /// Whether `origin` is allowed by a rule that names it (exactly or as a
    /// subdomain), not by `*`: the test for who may send cookie-
    /// authenticated writes (see `api_gateway::csrf`).
    pub fn allows_origin_explicitly(&self, origin: &str) -> bool {
        self.origins
            .iter()
            .any(|rule| *rule != OriginRule::Any && rule.matches(origin))
    }

    /// The CORS headers for an actual (non-preflight) response: none unless
    /// `origin` is allowed.
    pub fn response_headers(&self, origin: Option<&str>) -> Vec<(&'static str, String)> {
        let Some(origin) = origin.filter(|o| self.allows_origin(o)) else {
            return Vec::new();
        };
        let mut headers = vec![
            ("access-control-allow-origin", origin.to_owned()),
            ("vary", "Origin".to_owned()),
        ];
        if self.credentials {
            headers.push(("access-control-allow-credentials", "true".to_owned()));
        }
        headers
    }

    /// Evaluates a preflight: the headers to answer with, or why not.
    ///
    /// `request_headers` is the raw `Access-Control-Request-Headers` value;
    /// when every requested header is allowed they are echoed back.
    pub fn preflight(
        &self,
        origin: Option<&str>,
        request_method: Option<&str>,
        request_headers: Option<&str>,
    ) -> Result<Vec<(&'static str, String)>, PreflightError> {
        let origin = origin
            .filter(|o| !o.is_empty())
            .ok_or(PreflightError::MissingOrigin)?;
        if !self.allows_origin(origin) {
            return Err(PreflightError::OriginNotAllowed(origin.to_owned()));
        }
        let method = request_method
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .ok_or(PreflightError::MissingMethod)?;
        if !self.methods.iter().any(|allowed| allowed == method) {
            return Err(PreflightError::MethodNotAllowed(method.to_owned()));
        }
        let requested = request_headers.map(split_lower).unwrap_or_default();
        let any_header = self.headers.iter().any(|h| h == "*") && !self.credentials;
        if !any_header && let Some(bad) = requested.iter().find(|h| !self.headers.contains(h)) {
            return Err(PreflightError::HeaderNotAllowed(bad.clone()));
        }
        let mut headers = self.response_headers(Some(origin));
        headers.push(("access-control-allow-methods", self.methods.join(", ")));
        let allow_headers = if requested.is_empty() {
            self.headers.join(", ")
        } else {
            requested.join(", ")
        };
        headers.push(("access-control-allow-headers", allow_headers));
        headers.push(("access-control-max-age", self.max_age.to_string()));
        Ok(headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<CorsConfig, ConfigError> {
        CorsConfig::from_env(vars)
    }

    #[test]
    fn exact_and_subdomain_origins_match_as_expected() {
        let cors = config(&[(
            ORIGINS_VAR,
            "https://app.example.com, https://*.example.org",
        )])
        .unwrap();
        assert!(cors.allows_origin("https://app.example.com"));
        assert!(!cors.allows_origin("http://app.example.com"));
        assert!(!cors.allows_origin("https://app.example.com.evil.net"));
        assert!(cors.allows_origin("https://a.example.org"));
        assert!(cors.allows_origin("https://a.b.example.org"));
        assert!(!cors.allows_origin("https://example.org"));
        assert!(!cors.allows_origin("https://evilexample.org"));
        assert!(!cors.allows_origin("https://x.example.org:8443"));
        assert!(!cors.allows_origin("https://..example.org"));
    }

    #[test]
    fn unset_origins_allow_nothing() {
        let cors = config(&[]).unwrap();
        assert!(!cors.allows_origin("https://app.example.com"));
        assert!(
            cors.response_headers(Some("https://app.example.com"))
                .is_empty()
        );
    }

    #[test]
    fn star_with_credentials_is_rejected_naming_the_variable() {
        let err = config(&[(ORIGINS_VAR, "*"), (CREDENTIALS_VAR, "true")]).unwrap_err();
        assert_eq!(err.variable, ORIGINS_VAR);
        assert!(err.message.contains(CREDENTIALS_VAR));
    }

    #[test]
    fn malformed_origins_are_rejected_naming_the_variable() {
        for bad in [
            "app.example.com",
            "ftp://app.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://",
            "https://*.com",
            "https://a.*.example.com",
            "https://*example.com",
            "https://app.example.com:99999",
            "https://App.Example.com",
            "https://user@app.example.com",
        ] {
            let err = config(&[(ORIGINS_VAR, bad)]).unwrap_err();
            assert_eq!(err.variable, ORIGINS_VAR, "{bad}");
        }
    }

    #[test]
    fn invalid_methods_headers_max_age_and_credentials_are_rejected() {
        assert_eq!(
            config(&[(METHODS_VAR, "GET,P0ST")]).unwrap_err().variable,
            METHODS_VAR
        );
        assert_eq!(
            config(&[(HEADERS_VAR, "x-ok,bad header")])
                .unwrap_err()
                .variable,
            HEADERS_VAR
        );
        assert_eq!(
            config(&[(MAX_AGE_VAR, "-1")]).unwrap_err().variable,
            MAX_AGE_VAR
        );
        assert_eq!(
            config(&[(MAX_AGE_VAR, "86401")]).unwrap_err().variable,
            MAX_AGE_VAR
        );
        assert_eq!(
            config(&[(CREDENTIALS_VAR, "sometimes")])
                .unwrap_err()
                .variable,
            CREDENTIALS_VAR
        );
    }

    #[test]
    fn response_headers_echo_the_allowed_origin_with_vary_and_credentials() {
        let cors = config(&[
            (ORIGINS_VAR, "https://app.example.com"),
            (CREDENTIALS_VAR, "true"),
        ])
        .unwrap();
        assert_eq!(
            cors.response_headers(Some("https://app.example.com")),
            vec![
                (
                    "access-control-allow-origin",
                    "https://app.example.com".to_owned()
                ),
                ("vary", "Origin".to_owned()),
                ("access-control-allow-credentials", "true".to_owned()),
            ]
        );
        assert!(
            cors.response_headers(Some("https://evil.example.com"))
                .is_empty()
        );
        assert!(cors.response_headers(None).is_empty());
    }

    #[test]
    fn preflight_echoes_requested_headers_when_all_are_allowed() {
        let cors = config(&[
            (ORIGINS_VAR, "https://app.example.com"),
            (MAX_AGE_VAR, "300"),
        ])
        .unwrap();
        let headers = cors
            .preflight(
                Some("https://app.example.com"),
                Some("PATCH"),
                Some("Content-Type, Authorization"),
            )
            .unwrap();
        let get = |name| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            get("access-control-allow-headers"),
            Some("content-type, authorization")
        );
        assert_eq!(
            get("access-control-allow-methods"),
            Some("GET, POST, PUT, PATCH, DELETE, OPTIONS")
        );
        assert_eq!(get("access-control-max-age"), Some("300"));
        assert_eq!(get("access-control-allow-credentials"), None);
    }

    #[test]
    fn preflight_refusals_say_why() {
        let cors = config(&[
            (ORIGINS_VAR, "https://app.example.com"),
            (METHODS_VAR, "GET,POST"),
        ])
        .unwrap();
        let ok_origin = Some("https://app.example.com");
        assert_eq!(
            cors.preflight(None, Some("GET"), None),
            Err(PreflightError::MissingOrigin)
        );
        assert_eq!(
            cors.preflight(Some("https://evil.com"), Some("GET"), None),
            Err(PreflightError::OriginNotAllowed("https://evil.com".into()))
        );
        assert_eq!(
            cors.preflight(ok_origin, None, None),
            Err(PreflightError::MissingMethod)
        );
        assert_eq!(
            cors.preflight(ok_origin, Some("DELETE"), None),
            Err(PreflightError::MethodNotAllowed("DELETE".into()))
        );
        assert_eq!(
            cors.preflight(ok_origin, Some("GET"), Some("content-type, x-secret")),
            Err(PreflightError::HeaderNotAllowed("x-secret".into()))
        );
    }
}
