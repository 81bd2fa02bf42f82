//! The requests the webhook refuses, and the one place they become HTTP.
//!
//! Only client mistakes are errors here (4xx): a validly signed request is
//! never answered with a 5xx. When the secret cannot be read or the
//! message cannot be recorded, the handler answers `200` with the apology
//! as TwiML instead (see [`crate::handler`]).

use api_gateway::ApiError;
use http::StatusCode;

/// Why a request is refused.
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
    /// The body is larger than any form Twilio sends.
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// A field (or the number of fields) is beyond Twilio's limits.
    #[error("{message}")]
    TooLarge {
        /// `field_too_long` or `too_many_parameters`.
        code: &'static str,
        /// Which field and which limit.
        message: String,
    },
    /// A parameter Twilio always sends is absent.
    #[error("missing parameter {0}")]
    MissingField(&'static str),
    /// A parameter does not have the form Twilio gives it.
    #[error("parameter {name} {reason}")]
    InvalidField {
        /// The parameter.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl Error {
    /// The stable machine-readable code (response bodies and logs).
    pub fn code(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::BadSignature => "invalid_signature",
            Self::MalformedForm(_) => "malformed_body",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::TooLarge { code, .. } => code,
            Self::MissingField(_) => "missing_field",
            Self::InvalidField { .. } => "invalid_field",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadSignature => StatusCode::FORBIDDEN,
            Self::PayloadTooLarge(_) | Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MalformedForm(_) | Self::MissingField(_) | Self::InvalidField { .. } => {
                StatusCode::BAD_REQUEST
            }
        }
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::MethodNotAllowed(method) => ApiError::method_not_allowed(&method, &["POST"]),
            Error::PayloadTooLarge(limit) => ApiError::payload_too_large(limit),
            err => ApiError::new(err.status(), err.code(), err.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_is_a_4xx_with_its_code() {
        for (err, status, code) in [
            (Error::BadSignature, 403, "invalid_signature"),
            (Error::MissingField("From"), 400, "missing_field"),
            (
                Error::MethodNotAllowed("GET".into()),
                405,
                "method_not_allowed",
            ),
            (Error::PayloadTooLarge(65_536), 413, "payload_too_large"),
            (
                Error::TooLarge {
                    code: "field_too_long",
                    message: "Body has 1601 characters".into(),
                },
                413,
                "field_too_long",
            ),
            (
                Error::InvalidField {
                    name: "MessageSid",
                    reason: "must be letters and digits",
                },
                400,
                "invalid_field",
            ),
        ] {
            let api = ApiError::from(err);
            assert_eq!(api.status().as_u16(), status);
            assert_eq!(api.code(), code);
        }
    }
}
