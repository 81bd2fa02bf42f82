//! The auth function's errors and their HTTP (or redirect) form.

use api_gateway::ApiError;
use http::StatusCode;

/// Seconds clients are told to wait after a dependency failed.
pub const RETRY_AFTER_SECS: u32 = 2;

/// Everything that can go wrong; each variant has a stable code
/// ([`Error::code`]) used as the JSON error code and as `auth_error` in
/// redirects. No variant holds a token, a code or a state value.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `return_to` is not a relative path on the app.
    #[error("return_to must be a relative path on the app (starting with one /)")]
    InvalidReturnTo,
    /// A POST from an origin that is neither the app, the API nor a CORS origin.
    #[error("requests from this origin are not accepted")]
    OriginNotAllowed,
    /// The hosted UI sent back an OAuth `error` (the code, sanitised).
    #[error("the sign-in was not completed: {0}")]
    Provider(String),
    /// The callback has no `code`.
    #[error("the callback has no authorization code")]
    MissingCode,
    /// The callback has no `state`.
    #[error("the callback has no state")]
    MissingState,
    /// No state cookie came with the callback (expired or never set).
    #[error("no sign-in is in progress in this browser (state cookie missing)")]
    MissingStateCookie,
    /// The state cookie is malformed or its MAC does not verify.
    #[error("the sign-in state cookie is invalid")]
    InvalidState,
    /// The callback's `state` is not the one in the cookie.
    #[error("the state does not match this browser's sign-in")]
    StateMismatch,
    /// The state cookie is older than ten minutes.
    #[error("the sign-in took too long; please sign in again")]
    StateExpired,
    /// The token endpoint refused the code (4xx).
    #[error("the authorization code was refused (HTTP {status}, {})", .error.as_deref().unwrap_or("no error code"))]
    TokenExchange {
        /// HTTP status of the token endpoint.
        status: u16,
        /// Its OAuth error code.
        error: Option<String>,
    },
    /// The ID token from the token endpoint does not verify.
    #[error("the ID token is invalid: {0}")]
    InvalidIdToken(String),
    /// No refresh token in the cookie or the body.
    #[error("no refresh token")]
    MissingRefreshToken,
    /// A client secret is configured but no username came with the refresh.
    #[error("no username for the refresh (auth_user cookie or body username)")]
    MissingUsername,
    /// Cognito refused the refresh token (invalid, expired or revoked).
    #[error("the refresh token is invalid or revoked ({0})")]
    RefreshRejected(String),
    /// Cognito, the token endpoint, the JWKS or Secrets Manager is unavailable.
    #[error("a dependency is unavailable: {0}")]
    Unavailable(String),
    /// The secret could not be read or lacks a key.
    #[error(transparent)]
    Secret(#[from] secret_cache::SecretError),
    /// `cookie_key` in the secret is not base64 of at least 32 bytes.
    #[error("secret key cookie_key {0}")]
    CookieKey(String),
    /// A DynamoDB call failed.
    #[error("DynamoDB {operation} failed: {message}")]
    Store {
        /// The operation.
        operation: &'static str,
        /// What DynamoDB said.
        message: String,
    },
    /// Concurrent writers kept changing the profile.
    #[error("the profile kept changing; please sign in again")]
    WriteConflict,
    /// The system random generator failed.
    #[error("the random generator failed")]
    Random,
    /// Anything else that is our fault.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// The stable code.
    pub fn code(&self) -> &str {
        match self {
            Self::InvalidReturnTo => "invalid_return_to",
            Self::OriginNotAllowed => "origin_not_allowed",
            Self::Provider(code) => code,
            Self::MissingCode => "missing_code",
            Self::MissingState => "missing_state",
            Self::MissingStateCookie => "missing_state_cookie",
            Self::InvalidState => "invalid_state",
            Self::StateMismatch => "state_mismatch",
            Self::StateExpired => "state_expired",
            Self::TokenExchange { .. } => "token_exchange_failed",
            Self::InvalidIdToken(_) => "invalid_id_token",
            Self::MissingRefreshToken => "missing_refresh_token",
            Self::MissingUsername => "missing_username",
            Self::RefreshRejected(_) => "invalid_refresh_token",
            Self::Unavailable(_)
            | Self::Store { .. }
            | Self::WriteConflict
            | Self::Secret(secret_cache::SecretError::Fetch { .. }) => "temporarily_unavailable",
            Self::Secret(_) | Self::CookieKey(_) | Self::Random | Self::Internal(_) => {
                "server_error"
            }
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::OriginNotAllowed => StatusCode::FORBIDDEN,
            Self::MissingRefreshToken | Self::MissingUsername | Self::RefreshRejected(_) => {
                StatusCode::UNAUTHORIZED
            }
            Self::InvalidIdToken(_) => StatusCode::BAD_GATEWAY,
            Self::Unavailable(_) | Self::Store { .. } | Self::WriteConflict => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Secret(secret_cache::SecretError::Fetch { .. }) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Secret(_) | Self::CookieKey(_) | Self::Random | Self::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let status = err.status();
        match status {
            StatusCode::SERVICE_UNAVAILABLE => {
                // The detail (which service, which error code) is logged by
                // the caller; clients get the generic message.
                ApiError::unavailable(RETRY_AFTER_SECS, "a dependency is unavailable; try again")
            }
            StatusCode::INTERNAL_SERVER_ERROR => ApiError::internal(err.to_string()),
            _ => ApiError::new(status, err.code().to_owned(), err.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_are_4xx_and_dependency_failures_503_never_500() {
        assert_eq!(Error::StateMismatch.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            Error::TokenExchange {
                status: 400,
                error: Some("invalid_grant".into())
            }
            .status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            Error::RefreshRejected("NotAuthorizedException".into()).status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            Error::Unavailable("x".into()).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        let api = ApiError::from(Error::Store {
            operation: "GetItem",
            message: "throttled".into(),
        });
        assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(api.headers(), &[("retry-after".to_owned(), "2".to_owned())]);
    }

    #[test]
    fn an_unreachable_secret_is_temporary_but_a_missing_key_is_ours() {
        let fetch = Error::Secret(secret_cache::SecretError::Fetch {
            secret_id: "s".into(),
            message: "throttled".into(),
        });
        assert_eq!(fetch.code(), "temporarily_unavailable");
        assert_eq!(fetch.status(), StatusCode::SERVICE_UNAVAILABLE);
        let missing = Error::Secret(secret_cache::SecretError::MissingKey {
            secret_id: "s".into(),
            key: "cookie_key".into(),
        });
        assert_eq!(missing.code(), "server_error");
        assert_eq!(missing.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn secret_configuration_errors_are_internal_and_hide_their_detail() {
        let api = ApiError::from(Error::CookieKey("is not base64".into()));
        assert_eq!(api.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!api.body().to_string().contains("cookie_key"));
        assert!(api.internal_detail().contains("cookie_key"));
    }
}
