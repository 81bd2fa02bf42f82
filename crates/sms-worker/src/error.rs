//! The one error type of the sms worker: every failure has one stable
//! `code` for the logs and the inbound record's `last_error`.

use sms_inbox::InboxError;

/// Everything the worker can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
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
        /// Retrying cannot help.
        permanent: bool,
    },
    /// The message changed under us: another attempt took it over.
    #[error("message {0} was taken over by another attempt")]
    LeaseLost(String),
    /// An inbound record or a history item does not have our format.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// OpenAI did not answer within the time allowed.
    #[error("OpenAI timed out")]
    OpenAiTimeout,
    /// OpenAI answered 429 `rate_limit_exceeded` (after the retries).
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
    /// Twilio answered with an error status.
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
    /// Twilio's answer could not be read.
    #[error("Twilio answer is malformed: {0}")]
    TwilioMalformed(String),
    /// Not enough of the invocation is left for the next step.
    #[error("{0}: not enough time left in the invocation")]
    OutOfTime(&'static str),
    /// A bug or a misconfiguration.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The stable machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Secret(_) => "secret_unavailable",
            Self::Store {
                permanent: true, ..
            } => "store_rejected",
            Self::Store { .. } => "store_unavailable",
            Self::LeaseLost(_) => "lease_lost",
            Self::Corrupt(_) => "corrupt_data",
            Self::OpenAiTimeout => "openai_timeout",
            Self::OpenAiRateLimited => "openai_rate_limited",
            Self::OpenAiQuota => "openai_insufficient_quota",
            Self::OpenAiStatus { .. } => "openai_error",
            Self::OpenAiMalformed(_) => "openai_malformed",
            Self::OpenAiTransport(_) => "openai_unreachable",
            Self::TwilioStatus { .. } => "twilio_error",
            Self::TwilioTransport(_) => "twilio_unreachable",
            Self::TwilioMalformed(_) => "twilio_malformed",
            Self::OutOfTime(_) => "time_budget_exceeded",
            Self::Internal(_) => "internal_error",
        }
    }
}

impl From<InboxError> for Error {
    fn from(err: InboxError) -> Self {
        match err {
            InboxError::Conflict(sid) => Self::LeaseLost(sid),
            InboxError::Store {
                operation,
                table,
                detail,
                permanent,
            } => Self::Store {
                operation,
                table,
                detail,
                permanent,
            },
            corrupt @ InboxError::Corrupt { .. } => Self::Corrupt(corrupt.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanent_and_transient_store_failures_have_distinct_codes() {
        let store = |permanent| Error::Store {
            operation: "PutItem",
            table: "t".into(),
            detail: "d".into(),
            permanent,
        };
        assert_eq!(store(true).code(), "store_rejected");
        assert_eq!(store(false).code(), "store_unavailable");
        assert_eq!(
            Error::from(InboxError::Conflict("SM1".into())).code(),
            "lease_lost"
        );
    }
}
