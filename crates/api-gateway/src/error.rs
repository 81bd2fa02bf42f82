//! The JSON error every HTTP function answers with.

use std::borrow::Cow;

use http::StatusCode;
use serde_json::json;

/// An HTTP error with a stable machine-readable `code` and a human message.
///
/// Serialised as `{"error": {"code": "...", "message": "..."}}`. For 5xx
/// errors the message shown to clients is generic; the detail given to
/// [`ApiError::internal`] is only logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    status: StatusCode,
    code: Cow<'static, str>,
    message: String,
    headers: Vec<(String, String)>,
    internal_detail: Option<String>,
}

impl ApiError {
    /// An error with any status.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            headers: Vec::new(),
            internal_detail: None,
        }
    }

    /// 400: the request is malformed or invalid.
    pub fn bad_request(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401: no (valid) identity.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: identity known, access refused.
    pub fn forbidden(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// 404: nothing there.
    pub fn not_found(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 405 with the `Allow` header listing what is allowed.
    pub fn method_not_allowed(method: &str, allowed: &[&str]) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!(
                "method {method} is not allowed here; allowed: {}",
                allowed.join(", ")
            ),
        )
        .with_header("allow", allowed.join(", "))
    }

    /// 409: conflicts with the current state.
    pub fn conflict(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 413: the body is larger than `limit` bytes.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than {limit} bytes"),
        )
    }

    /// 503 with `Retry-After`: a dependency is unavailable, try again later.
    pub fn unavailable(retry_after_secs: u32, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            message,
        )
        .with_header("retry-after", retry_after_secs.to_string())
    }

    /// 500: our fault. `detail` is logged, never sent to the client.
    pub fn internal(detail: impl Into<String>) -> Self {
        let mut err = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the server failed to handle the request",
        );
        err.internal_detail = Some(detail.into());
        err
    }

    /// Adds a response header (name in lower case).
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The machine-readable code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The message clients see.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Extra response headers.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// What went wrong inside, for the logs only.
    pub fn internal_detail(&self) -> &str {
        self.internal_detail.as_deref().unwrap_or("")
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"code": self.code, "message": self.message}})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_code_and_message() {
        let err = ApiError::bad_request("invalid_phone", "phone must be E.164");
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            err.body(),
            json!({"error": {"code": "invalid_phone", "message": "phone must be E.164"}})
        );
    }

    #[test]
    fn internal_errors_hide_their_detail_from_clients() {
        let err = ApiError::internal("dynamodb said: table users-prod not found");
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!err.body().to_string().contains("users-prod"));
        assert!(err.internal_detail().contains("users-prod"));
    }

    #[test]
    fn method_not_allowed_lists_the_allowed_methods() {
        let err = ApiError::method_not_allowed("POST", &["OPTIONS"]);
        assert_eq!(err.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(err.headers(), &[("allow".to_owned(), "OPTIONS".to_owned())]);
    }

    #[test]
    fn unavailable_carries_retry_after() {
        let err = ApiError::unavailable(2, "users table is throttled");
        assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(err.headers(), &[("retry-after".to_owned(), "2".to_owned())]);
    }
}
