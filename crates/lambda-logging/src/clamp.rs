//! The ceiling on what third-party crates may log, whatever the environment
//! asks for.
//!
//! `lambda_runtime` logs every raw event at TRACE ("raw JSON event received
//! from Lambda": tokens, cookies, OAuth codes, phone numbers, message
//! texts), and the AWS SDK's smithy runtime logs request and response
//! bodies at DEBUG and TRACE. `RUST_LOG` and `AWS_LAMBDA_LOG_LEVEL` are
//! settings an operator flips while debugging; neither may turn the logs
//! into a copy of the traffic. So the level filter built from them is
//! intersected with this one, which the environment cannot change: events
//! of the crates listed in [`CLAMPED_CRATES`] are written at WARN and
//! ERROR only, their spans at INFO and above (the runtime's
//! `Lambda runtime invoke` span is INFO and carries the `requestId` every
//! line of ours is tagged with).
//!
//! The list covers every crate of `Cargo.lock` that depends on `tracing`
//! and is not ours (a test checks it), and the crates that log through
//! `log` (reqwest, rustls, ...) in case a `log` bridge is ever installed.

use tracing::{Level, Metadata};
use tracing_subscriber::layer::{Context, Layer};

/// Crate names (the first `::` segment of a target) whose events are
/// capped at WARN; a trailing `*` matches any name with that prefix.
pub const CLAMPED_CRATES: &[&str] = &[
    "aws_config",
    "aws_credential_types",
    "aws_lc*",
    "aws_runtime",
    "aws_sdk_*",
    "aws_sigv4",
    "aws_smithy_*",
    "aws_types",
    "h2",
    "hyper*",
    "iana_time_zone",
    "jni",
    "jsonwebtoken",
    "lambda_extension",
    "lambda_runtime*",
    "mio",
    "quinn*",
    "reqwest",
    "rustls*",
    "tokio*",
    "tower*",
    "tracing",
    "tracing_subscriber",
    "want",
    "wiremock",
];

/// Highest level at which a clamped crate's events are written.
pub const CLAMPED_EVENT_LEVEL: Level = Level::WARN;
/// Highest level at which a clamped crate's spans are recorded.
pub const CLAMPED_SPAN_LEVEL: Level = Level::INFO;

/// Whether `target` belongs to a crate in [`CLAMPED_CRATES`].
pub fn is_clamped(target: &str) -> bool {
    let krate = target.split("::").next().unwrap_or(target);
    CLAMPED_CRATES
        .iter()
        .any(|entry| match entry.strip_suffix('*') {
            Some(prefix) => krate.starts_with(prefix),
            None => krate == *entry,
        })
}

/// Whether a span or event with `metadata` may be recorded at all.
pub fn allows(metadata: &Metadata<'_>) -> bool {
    if !is_clamped(metadata.target()) {
        return true;
    }
    // In `tracing`, a more verbose level compares greater.
    let ceiling = if metadata.is_span() {
        CLAMPED_SPAN_LEVEL
    } else {
        CLAMPED_EVENT_LEVEL
    };
    *metadata.level() <= ceiling
}

/// The layer applying [`allows`] to everything the subscriber sees.
#[derive(Debug, Clone, Copy, Default)]
pub struct PayloadClamp;

impl<S: tracing::Subscriber> Layer<S> for PayloadClamp {
    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        allows(metadata)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn targets_are_matched_by_crate_not_by_substring() {
        for clamped in [
            "lambda_runtime::layers::api_response",
            "lambda_runtime_api_client",
            "aws_smithy_runtime::client::orchestrator",
            "aws_sdk_dynamodb::operation",
            "hyper_util::client::legacy::pool",
            "hyper",
            "h2::codec",
            "reqwest::connect",
            "rustls::client::hs",
        ] {
            assert!(is_clamped(clamped), "{clamped}");
        }
        for ours in [
            "auth",
            "auth::profile",
            "aws_env",
            "cognito_jwt::jwks",
            "api_gateway",
            "sms::handler",
            "h2o",
            "users",
        ] {
            assert!(!is_clamped(ours), "{ours}");
        }
    }

    /// Every crate in Cargo.lock that logs through `tracing` and is not a
    /// member of this workspace must be clamped: a new dependency that logs
    /// payloads cannot slip in unnoticed.
    #[test]
    fn every_third_party_tracing_user_in_the_lockfile_is_clamped() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock");
        let text = std::fs::read_to_string(path).unwrap();
        let lock: toml::Value = toml::from_str(&text).unwrap();
        let packages = lock["package"].as_array().unwrap();
        let mut unclamped = Vec::new();
        let mut third_party = 0;
        for package in packages {
            // Workspace members have no `source`.
            if package.get("source").is_none() {
                continue;
            }
            let logs = package
                .get("dependencies")
                .and_then(toml::Value::as_array)
                .is_some_and(|deps| {
                    deps.iter()
                        .filter_map(toml::Value::as_str)
                        .any(|dep| dep == "tracing" || dep.starts_with("tracing ") || dep == "log")
                });
            if !logs {
                continue;
            }
            third_party += 1;
            let name = package["name"].as_str().unwrap().replace('-', "_");
            if !is_clamped(&name) {
                unclamped.push(name);
            }
        }
        assert!(third_party > 10, "the lockfile was not read properly");
        assert!(
            unclamped.is_empty(),
            "these crates log through tracing or log but are not in CLAMPED_CRATES \
             (crates/lambda-logging/src/clamp.rs); add them, after checking what they log: {unclamped:?}"
        );
    }
}
