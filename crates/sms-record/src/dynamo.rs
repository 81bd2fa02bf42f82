//! How DynamoDB failures are told apart: a failed condition (an expected
//! refusal), a permanent error (retrying cannot help: validation, missing
//! table, access denied) and a transient one (throttling, 5xx, timeouts).

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Error codes DynamoDB answers for requests that can never succeed as sent.
const PERMANENT_CODES: &[&str] = &[
    "ValidationException",
    "ResourceNotFoundException",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "MissingAuthenticationTokenException",
    "SerializationException",
    "ItemCollectionSizeLimitExceededException",
];

/// Whether `err` is a failed condition expression.
pub fn is_conditional_failure<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    matches!(err, SdkError::ServiceError(service)
        if service.err().code() == Some("ConditionalCheckFailedException"))
}

/// Whether retrying `err` cannot help (the request itself or the
/// configuration is wrong), as opposed to an outage or throttling.
pub fn is_permanent<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(service) => service
            .err()
            .code()
            .is_some_and(|code| PERMANENT_CODES.contains(&code)),
        SdkError::ConstructionFailure(_) => true,
        _ => false,
    }
}

/// The SDK's description of `err` with its causes (never item contents:
/// DynamoDB error messages name attributes and limits, not values).
pub fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    DisplayErrorContext(err).to_string()
}
