//! DynamoDB failures of the worker's own tables (history, users) as its
//! error type; the classification is `sms_inbox::dynamo`'s.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

pub use sms_inbox::dynamo::is_conditional_failure;

use crate::Error;

/// A DynamoDB failure as our error: what was tried, where, what the SDK
/// said, and whether retrying can help.
pub fn store_error<E, R>(operation: &'static str, table: &str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    Error::Store {
        operation,
        table: table.to_owned(),
        detail: sms_inbox::dynamo::describe(&err),
        permanent: sms_inbox::dynamo::is_permanent(&err),
    }
}

/// Seconds since the Unix epoch.
pub fn epoch_secs(now: std::time::SystemTime) -> u64 {
    now.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn epoch_seconds_drop_the_fraction() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_000_000_999);
        assert_eq!(epoch_secs(t), 1_795_000_000);
        assert_eq!(epoch_secs(UNIX_EPOCH - Duration::from_secs(1)), 0);
    }
}
