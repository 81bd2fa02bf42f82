//! The one error type of the users function, with its HTTP status and the
//! stable `code` clients switch on.

use api_gateway::ApiError;
use http::StatusCode;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No identity in the authorizer context.
    #[error("authentication required")]
    Unauthenticated,
    /// The caller may not act on this resource.
    #[error("{0}")]
    Forbidden(String),
    /// `GET`/`PATCH /users/me` before a profile exists.
    #[error("you have no profile yet")]
    ProfileNotFound,
    /// No user with that id.
    #[error("no user with id {0:?}")]
    UserNotFound(String),
    /// No route for this path.
    #[error("no route for {0}")]
    RouteNotFound(String),
    /// The path exists but not with this method.
    #[error("method {method} is not allowed here")]
    MethodNotAllowed {
        /// The method used.
        method: String,
        /// The methods the path accepts, for the `Allow` header.
        allow: &'static [&'static str],
    },
    /// The body is not a JSON object.
    #[error("{0}")]
    InvalidJson(String),
    /// A body field this route does not accept.
    #[error("unknown field `{0}`")]
    UnknownField(String),
    /// A field this route requires is absent.
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// See [`crate::validate::email`].
    #[error("{0}")]
    InvalidEmail(String),
    /// See [`crate::validate::phone`].
    #[error("{0}")]
    InvalidPhone(String),
    /// See [`crate::validate::name`].
    #[error("{0}")]
    InvalidName(String),
    /// `sms_opt_in` is not a boolean.
    #[error("sms_opt_in must be true or false")]
    InvalidSmsOptIn,
    /// See [`crate::validate::user_id`].
    #[error("{0}")]
    InvalidUserId(String),
    /// A malformed `If-Match` header or `version` field.
    #[error("{0}")]
    InvalidVersion(String),
    /// An update with nothing to change.
    #[error("the body changes nothing: send at least one of {0}")]
    EmptyUpdate(&'static str),
    /// See [`crate::validate::limit`].
    #[error("{0}")]
    InvalidLimit(String),
    /// A pagination cursor that we did not issue or that was altered.
    #[error("the next cursor is invalid; start again without it")]
    InvalidCursor,
    /// The body exceeds [`crate::input::MAX_BODY_BYTES`].
    #[error("the body must be at most {0} bytes")]
    PayloadTooLarge(usize),
    /// An update without the version it was based on.
    #[error("send the version you read, as If-Match or a version field")]
    VersionRequired,
    /// The profile changed since the client read it.
    #[error("the profile has changed since version {0}; read it again")]
    VersionMismatch(u64),
    /// `POST /users` for an id that already has a profile.
    #[error("user {0:?} already exists")]
    UserExists(String),
    /// The phone number belongs to another user.
    #[error("this phone number is already in use")]
    PhoneTaken,
    /// A phone (or an SMS opt-in for one) nobody proved to own; the message
    /// says how to prove it.
    #[error("{0}")]
    PhoneNotVerified(String),
    /// A proof was asked for the number the profile already has, proven.
    #[error("this phone number is already verified on the profile")]
    PhoneAlreadyVerified,
    /// Too many codes asked for; retry after the given seconds.
    #[error("{message}")]
    VerificationRateLimited {
        /// What limit was hit.
        message: String,
        /// When asking again may succeed.
        retry_after_secs: u64,
    },
    /// A code was sent in but none is pending.
    #[error(
        "no phone verification is pending: request a code with POST /users/me/phone-verification"
    )]
    NoPendingVerification,
    /// The pending code expired.
    #[error("the code has expired: request a new one with POST /users/me/phone-verification")]
    VerificationExpired,
    /// A wrong (or malformed) code.
    #[error("{message}")]
    InvalidCode {
        /// What is wrong and what to do.
        message: String,
        /// Attempts left for the pending code, when one is pending.
        attempts_left: Option<u32>,
    },
    /// Twilio refuses to text this number (not a mobile number, not
    /// allowed, ...).
    #[error("this number cannot receive SMS from us (Twilio error {0}); use another number")]
    PhoneUnreachable(i64),
    /// Phone verification is not configured, or Twilio is unavailable.
    #[error("{0}")]
    VerificationUnavailable(String),
    /// DynamoDB refused the write because a concurrent transaction touched
    /// the same items; retrying may succeed.
    #[error("a concurrent request changed the same data; retry")]
    WriteConflict,
    /// DynamoDB throttled us or is unreachable, after the SDK's retries.
    #[error("the user store is temporarily unavailable; retry later")]
    Unavailable(String),
    /// A bug or a misconfiguration (a missing table, a corrupt item).
    #[error("internal error")]
    Internal(String),
}

impl Error {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::ProfileNotFound | Self::UserNotFound(_) | Self::RouteNotFound(_) => {
                StatusCode::NOT_FOUND
            }
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::InvalidJson(_)
            | Self::UnknownField(_)
            | Self::MissingField(_)
            | Self::InvalidEmail(_)
            | Self::InvalidPhone(_)
            | Self::InvalidName(_)
            | Self::InvalidSmsOptIn
            | Self::InvalidUserId(_)
            | Self::InvalidVersion(_)
            | Self::EmptyUpdate(_)
            | Self::InvalidLimit(_)
            | Self::InvalidCursor => StatusCode::BAD_REQUEST,
            Self::UserExists(_)
            | Self::PhoneTaken
            | Self::WriteConflict
            | Self::PhoneAlreadyVerified
            | Self::NoPendingVerification => StatusCode::CONFLICT,
            Self::PhoneNotVerified(_) => StatusCode::FORBIDDEN,
            Self::VerificationRateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::VerificationExpired | Self::InvalidCode { .. } | Self::PhoneUnreachable(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::VerificationUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::VersionMismatch(_) => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::VersionRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::ProfileNotFound => "profile_not_found",
            Self::UserNotFound(_) => "user_not_found",
            Self::RouteNotFound(_) => "route_not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::InvalidJson(_) => "invalid_json",
            Self::UnknownField(_) => "unknown_field",
            Self::MissingField(_) => "missing_field",
            Self::InvalidEmail(_) => "invalid_email",
            Self::InvalidPhone(_) => "invalid_phone",
            Self::InvalidName(_) => "invalid_name",
            Self::InvalidSmsOptIn => "invalid_sms_opt_in",
            Self::InvalidUserId(_) => "invalid_user_id",
            Self::InvalidVersion(_) => "invalid_version",
            Self::EmptyUpdate(_) => "empty_update",
            Self::InvalidLimit(_) => "invalid_limit",
            Self::InvalidCursor => "invalid_cursor",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::VersionRequired => "version_required",
            Self::VersionMismatch(_) => "version_mismatch",
            Self::UserExists(_) => "user_exists",
            Self::PhoneTaken => "phone_taken",
            Self::PhoneNotVerified(_) => "phone_not_verified",
            Self::PhoneAlreadyVerified => "phone_already_verified",
            Self::VerificationRateLimited { .. } => "verification_rate_limited",
            Self::NoPendingVerification => "no_pending_verification",
            Self::VerificationExpired => "verification_expired",
            Self::InvalidCode { .. } => "invalid_code",
            Self::PhoneUnreachable(_) => "phone_unreachable",
            Self::VerificationUnavailable(_) => "phone_verification_unavailable",
            Self::WriteConflict => "write_conflict",
            Self::Unavailable(_) => "service_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    /// Seconds a client should wait before retrying, for `Retry-After`.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::Unavailable(_) => Some(RETRY_AFTER_SECS.into()),
            Self::WriteConflict => Some(1),
            Self::VerificationRateLimited {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            Self::VerificationUnavailable(_) => Some(SMS_RETRY_AFTER_SECS),
            _ => None,
        }
    }
}

impl From<Error> for ApiError {
    /// The one place our errors become HTTP: details of 5xx errors go to
    /// the logs (through `ApiError::internal` or here), never to clients.
    fn from(err: Error) -> Self {
        match err {
            Error::Internal(detail) => ApiError::internal(detail),
            Error::Unavailable(detail) => {
                tracing::warn!(error = %detail, "DynamoDB unavailable after retries");
                ApiError::unavailable(
                    RETRY_AFTER_SECS,
                    Error::Unavailable(String::new()).to_string(),
                )
            }
            Error::MethodNotAllowed { method, allow } => {
                ApiError::method_not_allowed(&method, allow)
            }
            Error::InvalidCode {
                message,
                attempts_left: Some(left),
            } => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_code",
                format!("{message} ({left} attempts left)"),
            ),
            other => {
                let api = ApiError::new(other.status(), other.code(), other.to_string());
                match other.retry_after_secs() {
                    Some(secs) => api.with_header("retry-after", secs.to_string()),
                    None => api,
                }
            }
        }
    }
}

/// The retry hint on 503s: the SDK has already retried with backoff, so
/// a short pause is enough for throttling to clear.
pub const RETRY_AFTER_SECS: u32 = 2;

/// The retry hint when the SMS provider is unavailable.
pub const SMS_RETRY_AFTER_SECS: u64 = 60;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_becomes_503_with_retry_after_and_no_detail() {
        let api = ApiError::from(Error::Unavailable(
            "ThrottlingException on users-prod".into(),
        ));
        assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(api.code(), "service_unavailable");
        assert!(
            api.headers()
                .contains(&("retry-after".to_owned(), RETRY_AFTER_SECS.to_string()))
        );
        assert!(!api.message().contains("users-prod"));
    }

    #[test]
    fn internal_errors_keep_their_detail_out_of_the_body() {
        let api = ApiError::from(Error::Internal("table users-prod missing".into()));
        assert_eq!(api.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!api.body().to_string().contains("users-prod"));
        assert!(api.internal_detail().contains("users-prod"));
    }

    #[test]
    fn client_errors_keep_code_status_and_message() {
        let api = ApiError::from(Error::UnknownField("admin".into()));
        assert_eq!(api.status(), StatusCode::BAD_REQUEST);
        assert_eq!(api.code(), "unknown_field");
        assert!(api.message().contains("admin"));
        let api = ApiError::from(Error::VersionMismatch(3));
        assert_eq!(api.status(), StatusCode::PRECONDITION_FAILED);
        let api = ApiError::from(Error::VersionRequired);
        assert_eq!(api.status(), StatusCode::PRECONDITION_REQUIRED);
    }

    #[test]
    fn method_not_allowed_lists_allowed_methods() {
        let api = ApiError::from(Error::MethodNotAllowed {
            method: "POST".into(),
            allow: &["GET", "PATCH"],
        });
        assert_eq!(api.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert!(
            api.headers()
                .contains(&("allow".to_owned(), "GET, PATCH".to_owned()))
        );
    }
}
