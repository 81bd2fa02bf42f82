//! The one error type of the sms function. Errors that reach API Gateway
//! become HTTP statuses here; OpenAI and Twilio failures never do (the
//! handler turns them into an apology or a TwiML fallback) but share the
//! enum so that every failure has one stable `code` for the logs.

use api_gateway::ApiError;
use http::StatusCode;

/// Everything the sms function can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Anything but `POST`.
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    /// `X-Twilio-Signature` is absent or does not match.
    #[error("the request is not signed by Twilio")]
    BadSignature,
    /// The body is not `application/x-www-form-urlencoded`.
    #[error("the body is not a form: {0}")]
    MalformedForm(String),
    /// A parameter Twilio always sends is absent.
    #[error("missing parameter {0}")]
    MissingField(&'static str),
    /// The secret cannot be read or lacks a key.
    #[error(transparent)]
    Secret(#[from] secret_cache::SecretError),
    /// DynamoDB failed (after the SDK's retries).
    #[error("{operation} on {table}: {detail}")]
    Store {
        /// The DynamoDB operation.
        operation: &'static str,
        /// The table.
        table: String,
        /// What the SDK said.
        detail: String,
    },
    /// OpenAI did not answer within the time allowed.
    #[error("OpenAI timed out")]
    OpenAiTimeout,
    /// OpenAI answered 429 `rate_limit_exceeded` (after the retry).
    #[error("OpenAI rate limit exceeded")]
    OpenAiRateLimited,
    /// OpenAI answered 429 `insufficient_quota`: retrying cannot help.
    #[error("OpenAI quota exhausted")]
    OpenAiQuota,
    /// OpenAI answered another non-success status.
    #[error("OpenAI answered {status} ({code})")]
    OpenAiStatus {
        /// HTTP status.
        status: u16,
        /// OpenAI's `error.code` (or `error.type`), `unknown` when absent.
        code: String,
    },
    /// OpenAI's answer lacks `choices[0].message.content`.
    #[error("OpenAI answer is malformed: {0}")]
    OpenAiMalformed(String),
    /// The connection to OpenAI failed.
    #[error("OpenAI request failed: {0}")]
    OpenAiTransport(String),
    /// Twilio refused or failed to send a message.
    #[error("Twilio answered {status} (code {code})")]
    TwilioStatus {
        /// HTTP status.
        status: u16,
        /// Twilio's numeric error `code`, 0 when absent.
        code: i64,
    },
    /// The connection to Twilio failed or timed out.
    #[error("Twilio request failed: {0}")]
    TwilioTransport(String),
    /// A DynamoDB or Secrets Manager call before the reply did not finish
    /// within what was left of the invocation's time budget.
    #[error("{0} outlasted the time budget")]
    OutOfTime(&'static str),
    /// A bug or a misconfiguration.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The stable machine-readable code of this error (response bodies and logs).
    pub fn code(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::BadSignature => "invalid_signature",
            Self::MalformedForm(_) => "malformed_body",
            Self::MissingField(_) => "missing_field",
            Self::Secret(_) => "secret_unavailable",
            Self::Store { .. } => "store_unavailable",
            Self::OpenAiTimeout => "openai_timeout",
            Self::OpenAiRateLimited => "openai_rate_limited",
            Self::OpenAiQuota => "openai_insufficient_quota",
            Self::OpenAiStatus { .. } => "openai_error",
            Self::OpenAiMalformed(_) => "openai_malformed",
            Self::OpenAiTransport(_) => "openai_unreachable",
            Self::TwilioStatus { .. } => "twilio_error",
            Self::TwilioTransport(_) => "twilio_unreachable",
            Self::OutOfTime(_) => "time_budget_exceeded",
            Self::Internal(_) => "internal_error",
        }
    }

    /// The HTTP status when this error ends the request.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadSignature => StatusCode::FORBIDDEN,
            Self::MalformedForm(_) | Self::MissingField(_) => StatusCode::BAD_REQUEST,
            Self::Secret(_) | Self::Store { .. } | Self::OutOfTime(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Seconds Twilio (or an operator) should wait before retrying a 503.
pub const RETRY_AFTER_SECS: u32 = 2;

impl From<Error> for ApiError {
    /// The one place our errors become HTTP: server-side details go to the
    /// logs only.
    fn from(err: Error) -> Self {
        match err {
            Error::MethodNotAllowed(method) => ApiError::method_not_allowed(&method, &["POST"]),
            Error::Secret(_) | Error::Store { .. } | Error::OutOfTime(_) => {
                tracing::error!(code = err.code(), error = %err, "dependency unavailable");
                ApiError::unavailable(RETRY_AFTER_SECS, "a dependency is unavailable; retry later")
            }
            err if err.status().is_server_error() => ApiError::internal(err.to_string()),
            err => ApiError::new(err.status(), err.code(), err.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_keep_status_and_code() {
        let api = ApiError::from(Error::BadSignature);
        assert_eq!(api.status(), StatusCode::FORBIDDEN);
        assert_eq!(api.code(), "invalid_signature");
        let api = ApiError::from(Error::MissingField("From"));
        assert_eq!(api.status(), StatusCode::BAD_REQUEST);
        assert!(api.message().contains("From"));
        let api = ApiError::from(Error::MethodNotAllowed("GET".into()));
        assert_eq!(api.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn store_failures_are_503_without_detail() {
        let api = ApiError::from(Error::Store {
            operation: "PutItem",
            table: "sms-history-prod".into(),
            detail: "ResourceNotFoundException".into(),
        });
        assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!api.body().to_string().contains("sms-history-prod"));
    }
}
