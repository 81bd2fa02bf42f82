//! Small DynamoDB helpers shared by the stores.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::Error;

/// A DynamoDB failure as our error: what was tried, where, and what the SDK said.
pub fn store_error<E, R>(operation: &'static str, table: &str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    Error::Store {
        operation,
        table: table.to_owned(),
        detail: DisplayErrorContext(&err).to_string(),
    }
}

/// Whether `err` is a failed condition (the one "expected" refusal).
pub fn is_conditional_failure<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    matches!(err, SdkError::ServiceError(service)
        if service.err().code() == Some("ConditionalCheckFailedException"))
}

/// Seconds since the Unix epoch.
pub fn epoch_secs(now: std::time::SystemTime) -> u64 {
    now.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// RFC 3339 UTC with second precision, the format of the users table's
/// `created_at`/`updated_at`.
pub fn rfc3339(now: std::time::SystemTime) -> Result<String, Error> {
    use aws_sdk_dynamodb::primitives::{DateTime, DateTimeFormat};
    DateTime::from_secs(i64::try_from(epoch_secs(now)).unwrap_or(i64::MAX))
        .fmt(DateTimeFormat::DateTime)
        .map_err(|err| Error::Internal(format!("formatting the current time: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn formats_times_like_the_users_function() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_000_000_999);
        assert_eq!(rfc3339(t).unwrap(), "2026-11-18T11:06:40Z");
        assert_eq!(epoch_secs(t), 1_795_000_000);
    }
}
