//! The Cognito hosted UI: authorize and logout URLs, and the token endpoint.

use std::time::Duration;

use lambda_logging::Redacted;
use serde::Deserialize;

use crate::config::is_loopback;

/// Time allowed for the token endpoint (the function has 10 s in all).
pub const TOKEN_TIMEOUT: Duration = Duration::from_secs(5);

/// The hosted-UI domain, as `scheme://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostedUi {
    base: String,
}

impl HostedUi {
    /// Parses `COGNITO_DOMAIN`: a bare host (`myapp.auth.eu-west-1.amazoncognito.com`,
    /// a custom domain), the same with `https://`, or `http://` for a
    /// loopback fake.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim_end_matches('/');
        let (scheme, host) = match trimmed.split_once("://") {
            Some((scheme, host)) => (scheme, host),
            None => ("https", trimmed),
        };
        match scheme {
            "https" => {}
            "http" if is_loopback(host) => {}
            _ => {
                return Err(format!(
                    "{raw:?} must be https (http only for 127.0.0.1, localhost and *.localhost)"
                ));
            }
        }
        let valid = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
        if !valid {
            return Err(format!(
                "{raw:?} is not a domain (expected e.g. myapp.auth.eu-west-1.amazoncognito.com)"
            ));
        }
        Ok(Self {
            base: format!("{scheme}://{}", host.to_ascii_lowercase()),
        })
    }

    /// `scheme://host[:port]`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The authorize URL of a login (authorization code with PKCE S256).
    pub fn authorize_url(
        &self,
        client_id: &str,
        redirect_uri: &str,
        scopes: &[String],
        state: &str,
        code_challenge: &str,
    ) -> String {
        let query = form(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("scope", &scopes.join(" ")),
            ("state", state),
            ("code_challenge", code_challenge),
            ("code_challenge_method", "S256"),
        ]);
        format!("{}/oauth2/authorize?{query}", self.base)
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.base)
    }

    /// The hosted-UI logout URL, which ends the Cognito session and
    /// returns to `logout_uri`.
    pub fn logout_url(&self, client_id: &str, logout_uri: &str) -> String {
        let query = form(&[("client_id", client_id), ("logout_uri", logout_uri)]);
        format!("{}/logout?{query}", self.base)
    }
}

/// `application/x-www-form-urlencoded` pairs.
pub fn form(pairs: &[(&str, &str)]) -> String {
    // Only `&str` pairs: serialisation cannot fail.
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// What the token endpoint returned for an authorization code.
#[derive(Debug, Clone)]
pub struct TokenSet {
    /// The ID token (verified before use).
    pub id_token: Redacted<String>,
    /// The access token.
    pub access_token: Redacted<String>,
    /// The refresh token.
    pub refresh_token: Option<Redacted<String>>,
    /// Lifetime of the access and ID tokens, seconds.
    pub expires_in: u64,
}

#[derive(Deserialize)]
struct RawTokens {
    id_token: String,
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    expires_in: u64,
}

/// Why the token endpoint gave no tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExchangeError {
    /// A 4xx: the code is invalid, used, expired, or not for this verifier.
    Rejected {
        /// HTTP status.
        status: u16,
        /// OAuth `error` code from the body, if any.
        error: Option<String>,
    },
    /// Unreachable, timed out or 5xx.
    Unavailable(String),
    /// A 200 without the expected JSON.
    Invalid(String),
}

/// Exchanges `code` at `token_url`. The client authenticates with HTTP
/// Basic when it has a secret (`client_secret_basic`).
pub async fn exchange_code(
    http: &reqwest::Client,
    token_url: &str,
    client_id: &str,
    client_secret: Option<&str>,
    code: &str,
    redirect_uri: &str,
    code_verifier: &str,
) -> Result<TokenSet, ExchangeError> {
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("client_id", client_id),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", code_verifier),
    ]);
    let mut request = http
        .post(token_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .timeout(TOKEN_TIMEOUT)
        .body(body);
    if let Some(secret) = client_secret {
        request = request.basic_auth(client_id, Some(secret));
    }
    // reqwest's error text holds the URL only, never the body.
    let response = request
        .send()
        .await
        .map_err(|err| ExchangeError::Unavailable(err.without_url().to_string()))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|err| ExchangeError::Unavailable(err.without_url().to_string()))?;
    if status.is_client_error() {
        #[derive(Deserialize)]
        struct OauthError {
            error: Option<String>,
        }
        // Only the short OAuth code is kept: descriptions are free text.
        let error = serde_json::from_slice::<OauthError>(&bytes)
            .ok()
            .and_then(|body| body.error)
            .filter(|code| code.len() <= 64 && code.bytes().all(|b| b.is_ascii_graphic()));
        return Err(ExchangeError::Rejected {
            status: status.as_u16(),
            error,
        });
    }
    if !status.is_success() {
        return Err(ExchangeError::Unavailable(format!(
            "token endpoint answered {status}"
        )));
    }
    let raw: RawTokens = serde_json::from_slice(&bytes).map_err(|err| {
        ExchangeError::Invalid(format!("token response: {}", err.classify_name()))
    })?;
    Ok(TokenSet {
        id_token: Redacted(raw.id_token),
        access_token: Redacted(raw.access_token),
        refresh_token: raw.refresh_token.map(Redacted),
        expires_in: raw.expires_in,
    })
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    /// serde's messages can quote input; its category cannot.
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "io error",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "missing or mistyped field",
            serde_json::error::Category::Eof => "truncated JSON",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bare_and_https_domains_and_loopback_http() {
        for raw in [
            "myapp.auth.eu-west-1.amazoncognito.com",
            "https://myapp.auth.eu-west-1.amazoncognito.com/",
        ] {
            assert_eq!(
                HostedUi::parse(raw).unwrap().base_url(),
                "https://myapp.auth.eu-west-1.amazoncognito.com"
            );
        }
        assert_eq!(
            HostedUi::parse("http://127.0.0.1:9000").unwrap().base_url(),
            "http://127.0.0.1:9000"
        );
        assert!(HostedUi::parse("http://auth.example.com").is_err());
        assert!(HostedUi::parse("auth.example.com/x").is_err());
        assert!(HostedUi::parse("ftp://auth.example.com").is_err());
    }

    #[test]
    fn authorize_url_carries_every_parameter_encoded() {
        let ui = HostedUi::parse("auth.example.com").unwrap();
        let url = ui.authorize_url(
            "client1",
            "https://api.example.com/prod/auth/callback",
            &["openid".into(), "email".into()],
            "st",
            "ch",
        );
        assert_eq!(
            url,
            "https://auth.example.com/oauth2/authorize?response_type=code&client_id=client1\
             &redirect_uri=https%3A%2F%2Fapi.example.com%2Fprod%2Fauth%2Fcallback\
             &scope=openid+email&state=st&code_challenge=ch&code_challenge_method=S256"
        );
    }

    #[test]
    fn logout_url_names_client_and_logout_uri() {
        let ui = HostedUi::parse("auth.example.com").unwrap();
        assert_eq!(
            ui.logout_url("client1", "https://app.example.com/bye"),
            "https://auth.example.com/logout?client_id=client1&logout_uri=https%3A%2F%2Fapp.example.com%2Fbye"
        );
    }
}
