//! A Lambda extension that turns the Telemetry API's platform events into
//! CloudWatch Embedded Metric Format lines on stdout, one per invocation:
//! Duration, BilledDuration, MaxMemoryUsed, InitDuration (cold starts),
//! ColdStart, Errors and Timeouts under the `FunctionName` dimension.
//!
//! [`processor`] is the pure part (events in, lines out), [`emf`] the
//! document format, [`config`] the environment, [`extension`] the I/O and
//! [`diag`] the stderr diagnostics.
//!
//! Configuration (validated at init; an invalid value is reported to the
//! Extensions API as `Extension.ConfigInvalid` naming the variable):
//!
//! | variable | default | allowed |
//! | --- | --- | --- |
//! | `TELEMETRY_DISABLED` | `false` | boolean; when true nothing else is read and the extension only idles |
//! | `TELEMETRY_NAMESPACE` | `LambdaForge` | CloudWatch namespace, 1..=255 chars, not `AWS/...` |
//! | `TELEMETRY_METRICS` | all | comma list of Duration, BilledDuration, MaxMemoryUsed, InitDuration, ColdStart, Errors, Timeouts |
//! | `TELEMETRY_BUFFER_MAX_ITEMS` | 1000 | 1000..=10000 |
//! | `TELEMETRY_BUFFER_MAX_BYTES` | 262144 | 262144..=1048576 |
//! | `TELEMETRY_BUFFER_TIMEOUT_MS` | 1000 | 25..=30000 |
//! | `TELEMETRY_LISTENER_PORT` | 9500 | 0 (any free port) or a port other than 9001 |
//! | `TELEMETRY_SHUTDOWN_DRAIN_MS` | 1000 | 0..=1500: wait at SHUTDOWN for reports still on their way |

pub mod config;
pub mod diag;
pub mod emf;
pub mod extension;
pub mod processor;

// The EMF rules every emitted line is checked against, shared with tests/.
#[cfg(test)]
#[path = "../tests/support/emf_rules.rs"]
mod emf_rules;

/// Everything that stops the extension.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// A configuration variable is missing or invalid.
    #[error(transparent)]
    Config(#[from] env_config::ConfigError),
    /// `AWS_LAMBDA_RUNTIME_API` is not a usable `host:port`.
    #[error("AWS_LAMBDA_RUNTIME_API: {0:?} is not a host:port")]
    RuntimeApi(String),
    /// The telemetry listener could not be opened.
    #[error("cannot listen for telemetry on port {port}: {source}")]
    Listen {
        /// The configured port.
        port: u16,
        /// Why binding failed.
        source: std::io::Error,
    },
    /// Registration with the Extensions API failed.
    #[error("cannot register with the Extensions API: {0}")]
    Register(String),
    /// The Telemetry API refused or failed the subscription.
    #[error("cannot subscribe to the Telemetry API: {0}")]
    Subscribe(String),
    /// The Extensions API event loop failed.
    #[error("extension event loop failed: {0}")]
    EventLoop(String),
}
