//! Configuration from the environment, validated once at init.

use std::time::Duration;

use env_config::{ConfigError, Env, flag_or, list, number_in, optional, required};
use serde::Serialize;

use crate::emf::{Metric, MetricSet};
use crate::processor::Settings;

/// Where Lambda serves the Runtime and Extensions APIs (`host:port`).
pub const RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";
/// The function the extension runs beside; the `FunctionName` dimension.
pub const FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
/// `1`/`true` turns the extension into one that registers and idles.
pub const DISABLED: &str = "TELEMETRY_DISABLED";
/// CloudWatch namespace of the metrics.
pub const NAMESPACE: &str = "TELEMETRY_NAMESPACE";
/// Comma-separated metric names to publish (default: all).
pub const METRICS: &str = "TELEMETRY_METRICS";
/// Telemetry API buffering: most events per batch.
pub const BUFFER_MAX_ITEMS: &str = "TELEMETRY_BUFFER_MAX_ITEMS";
/// Telemetry API buffering: most bytes per batch.
pub const BUFFER_MAX_BYTES: &str = "TELEMETRY_BUFFER_MAX_BYTES";
/// Telemetry API buffering: longest wait before a batch is sent.
pub const BUFFER_TIMEOUT_MS: &str = "TELEMETRY_BUFFER_TIMEOUT_MS";
/// Port the extension receives telemetry on (0: any free port).
pub const LISTENER_PORT: &str = "TELEMETRY_LISTENER_PORT";
/// How long SHUTDOWN waits for outstanding reports before flushing.
pub const SHUTDOWN_DRAIN_MS: &str = "TELEMETRY_SHUTDOWN_DRAIN_MS";

/// Default CloudWatch namespace.
pub const DEFAULT_NAMESPACE: &str = "LambdaForge";
/// Default telemetry port; not 9001 (Runtime API) nor the 9002/9003 that
/// `lambda-extension` based extensions use by default.
pub const DEFAULT_LISTENER_PORT: u16 = 9500;
/// Invocations awaiting a report that the processor keeps at most.
pub const MAX_PENDING_INVOCATIONS: usize = 256;
/// The port of Lambda's own Runtime API inside the sandbox.
const RUNTIME_API_PORT: u16 = 9001;

/// The whole configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `host:port` of the Extensions and Telemetry APIs.
    pub runtime_api: String,
    /// What the extension does once registered.
    pub mode: Mode,
}

/// Whether the extension publishes metrics.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Register, acknowledge every event, exit on SHUTDOWN.
    Disabled,
    /// Subscribe to platform telemetry and publish metrics.
    Enabled(Enabled),
}

/// Settings of an enabled extension.
#[derive(Debug, Clone, PartialEq)]
pub struct Enabled {
    /// What the processor publishes and under which names.
    pub processor: Settings,
    /// Batching requested from the Telemetry API.
    pub buffering: Buffering,
    /// Port of the telemetry listener (0: any free port).
    pub listener_port: u16,
    /// Longest wait at SHUTDOWN for reports still on their way.
    pub shutdown_drain: Duration,
}

/// Telemetry API buffering, serialised as the subscription request wants it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Buffering {
    /// Most events per batch (AWS: 1,000..=10,000).
    pub max_items: u32,
    /// Most bytes per batch (AWS: 262,144..=1,048,576).
    pub max_bytes: u32,
    /// Longest time a batch is held, in ms (AWS: 25..=30,000).
    pub timeout_ms: u32,
}

impl Config {
    /// Parses and validates every variable; the first bad one is the error.
    ///
    /// When disabled, nothing but the Runtime API address is read, so a
    /// disabled extension can never fail the function's init.
    pub fn from_env(env: &(impl Env + ?Sized)) -> Result<Self, ConfigError> {
        let runtime_api = required(env, RUNTIME_API)?;
        if flag_or(env, DISABLED, false)? {
            return Ok(Config {
                runtime_api,
                mode: Mode::Disabled,
            });
        }
        let processor = Settings {
            // Default written next to the field, per house style.
            namespace: namespace(env)?,
            function_name: required(env, FUNCTION_NAME)?,
            metrics: metrics(env)?,
            max_pending: MAX_PENDING_INVOCATIONS,
        };
        let buffering = Buffering {
            max_items: number_in(env, BUFFER_MAX_ITEMS, 1_000, 1_000..=10_000)?,
            max_bytes: number_in(env, BUFFER_MAX_BYTES, 262_144, 262_144..=1_048_576)?,
            timeout_ms: number_in(env, BUFFER_TIMEOUT_MS, 1_000, 25..=30_000)?,
        };
        let listener_port = number_in(env, LISTENER_PORT, DEFAULT_LISTENER_PORT, 0..=u16::MAX)?;
        if listener_port == RUNTIME_API_PORT {
            return Err(ConfigError::new(
                LISTENER_PORT,
                "9001 is the Lambda Runtime API's port",
            ));
        }
        // Lambda gives all extensions 2 s to shut down; leave room to flush.
        let drain_ms = number_in(env, SHUTDOWN_DRAIN_MS, 1_000, 0..=1_500)?;
        Ok(Config {
            runtime_api,
            mode: Mode::Enabled(Enabled {
                processor,
                buffering,
                listener_port,
                shutdown_drain: Duration::from_millis(drain_ms),
            }),
        })
    }
}

/// A CloudWatch namespace: 1..=255 ASCII characters from CloudWatch's set,
/// not in the reserved `AWS/` space.
fn namespace(env: &(impl Env + ?Sized)) -> Result<String, ConfigError> {
    let Some(namespace) = optional(env, NAMESPACE) else {
        return Ok(DEFAULT_NAMESPACE.to_owned());
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_/#: ".contains(c);
    if namespace.len() > 255 {
        Err(ConfigError::new(NAMESPACE, "is longer than 255 characters"))
    } else if let Some(bad) = namespace.chars().find(|c| !allowed(*c)) {
        Err(ConfigError::new(
            NAMESPACE,
            format!("{bad:?} is not allowed (use letters, digits and . - _ / # : space)"),
        ))
    } else if namespace.starts_with(':') {
        Err(ConfigError::new(NAMESPACE, "must not start with ':'"))
    } else if namespace.starts_with("AWS/") {
        Err(ConfigError::new(
            NAMESPACE,
            "the AWS/ prefix is reserved for AWS services",
        ))
    } else {
        Ok(namespace)
    }
}

fn metrics(env: &(impl Env + ?Sized)) -> Result<MetricSet, ConfigError> {
    if optional(env, METRICS).is_none() {
        return Ok(MetricSet::all());
    }
    let names = list(env, METRICS);
    if names.is_empty() {
        return Err(ConfigError::new(METRICS, "names no metric"));
    }
    names
        .iter()
        .map(|name| {
            name.parse::<Metric>()
                .map_err(|err| ConfigError::new(METRICS, format!("{name:?}: {err}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: [(&str, &str); 2] = [(RUNTIME_API, "127.0.0.1:9001"), (FUNCTION_NAME, "sms")];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        BASE.iter().chain(extra).copied().collect()
    }

    fn enabled(env: &[(&str, &str)]) -> Enabled {
        match Config::from_env(env).unwrap().mode {
            Mode::Enabled(enabled) => enabled,
            Mode::Disabled => panic!("expected the extension to be enabled"),
        }
    }

    fn rejected(extra: &[(&'static str, &'static str)]) -> ConfigError {
        Config::from_env(with(extra).as_slice()).unwrap_err()
    }

    #[test]
    fn defaults_publish_every_metric_under_lambda_forge() {
        let enabled = enabled(&BASE);
        assert_eq!(
            enabled.processor,
            Settings {
                namespace: "LambdaForge".into(),
                function_name: "sms".into(),
                metrics: MetricSet::all(),
                max_pending: MAX_PENDING_INVOCATIONS,
            }
        );
        assert_eq!(
            enabled.buffering,
            Buffering {
                max_items: 1_000,
                max_bytes: 262_144,
                timeout_ms: 1_000
            }
        );
        assert_eq!(enabled.listener_port, DEFAULT_LISTENER_PORT);
        assert_eq!(enabled.shutdown_drain, Duration::from_millis(1_000));
    }

    #[test]
    fn every_variable_overrides_its_default() {
        let env = with(&[
            (NAMESPACE, "Team/Api v2"),
            (METRICS, "Duration, ColdStart"),
            (BUFFER_MAX_ITEMS, "10000"),
            (BUFFER_MAX_BYTES, "1048576"),
            (BUFFER_TIMEOUT_MS, "25"),
            (LISTENER_PORT, "0"),
            (SHUTDOWN_DRAIN_MS, "0"),
        ]);
        let enabled = enabled(&env);
        assert_eq!(enabled.processor.namespace, "Team/Api v2");
        assert_eq!(
            enabled.processor.metrics,
            [Metric::Duration, Metric::ColdStart].into_iter().collect()
        );
        assert_eq!(
            enabled.buffering,
            Buffering {
                max_items: 10_000,
                max_bytes: 1_048_576,
                timeout_ms: 25
            }
        );
        assert_eq!(enabled.listener_port, 0);
        assert_eq!(enabled.shutdown_drain, Duration::ZERO);
    }

    #[test]
    fn disabled_ignores_every_other_telemetry_variable() {
        let env = [
            (RUNTIME_API, "127.0.0.1:9001"),
            (DISABLED, "1"),
            (NAMESPACE, "AWS/Lambda"),
            (BUFFER_MAX_ITEMS, "5"),
        ];
        let config = Config::from_env(&env).unwrap();
        assert_eq!(config.mode, Mode::Disabled);
        assert_eq!(config.runtime_api, "127.0.0.1:9001");
    }

    #[test]
    fn rejects_a_missing_runtime_api() {
        let err = Config::from_env(&[(FUNCTION_NAME, "sms")]).unwrap_err();
        assert_eq!(err.variable, RUNTIME_API);
    }

    #[test]
    fn rejects_a_missing_function_name() {
        let err = Config::from_env(&[(RUNTIME_API, "127.0.0.1:9001")]).unwrap_err();
        assert_eq!(err.variable, FUNCTION_NAME);
    }

    #[test]
    fn rejects_a_disabled_flag_that_is_not_a_boolean() {
        assert_eq!(rejected(&[(DISABLED, "sometimes")]).variable, DISABLED);
    }

    #[test]
    fn rejects_a_namespace_in_the_reserved_aws_space() {
        assert_eq!(rejected(&[(NAMESPACE, "AWS/Lambda")]).variable, NAMESPACE);
    }

    #[test]
    fn rejects_a_namespace_with_a_forbidden_character() {
        let err = rejected(&[(NAMESPACE, "Lambda*Forge")]);
        assert_eq!(err.variable, NAMESPACE);
        assert!(err.message.contains("'*'"), "{}", err.message);
    }

    #[test]
    fn rejects_a_namespace_starting_with_a_colon() {
        assert_eq!(rejected(&[(NAMESPACE, ":Forge")]).variable, NAMESPACE);
    }

    #[test]
    fn rejects_a_namespace_longer_than_255_characters() {
        let long: &'static str = "N".repeat(256).leak();
        assert_eq!(rejected(&[(NAMESPACE, long)]).variable, NAMESPACE);
        let longest: &'static str = "N".repeat(255).leak();
        assert_eq!(
            enabled(&with(&[(NAMESPACE, longest)]))
                .processor
                .namespace
                .len(),
            255
        );
    }

    #[test]
    fn rejects_an_unknown_metric_name() {
        let err = rejected(&[(METRICS, "Duration,Latency")]);
        assert_eq!(err.variable, METRICS);
        assert!(err.message.contains("\"Latency\""), "{}", err.message);
    }

    #[test]
    fn rejects_a_metric_list_that_names_nothing() {
        assert_eq!(rejected(&[(METRICS, " , ,")]).variable, METRICS);
    }

    #[test]
    fn rejects_buffer_max_items_outside_the_aws_range() {
        assert_eq!(
            rejected(&[(BUFFER_MAX_ITEMS, "999")]).variable,
            BUFFER_MAX_ITEMS
        );
        assert_eq!(
            rejected(&[(BUFFER_MAX_ITEMS, "10001")]).variable,
            BUFFER_MAX_ITEMS
        );
        assert_eq!(
            rejected(&[(BUFFER_MAX_ITEMS, "many")]).variable,
            BUFFER_MAX_ITEMS
        );
    }

    #[test]
    fn rejects_buffer_max_bytes_outside_the_aws_range() {
        assert_eq!(
            rejected(&[(BUFFER_MAX_BYTES, "262143")]).variable,
            BUFFER_MAX_BYTES
        );
        assert_eq!(
            rejected(&[(BUFFER_MAX_BYTES, "1048577")]).variable,
            BUFFER_MAX_BYTES
        );
    }

    #[test]
    fn rejects_buffer_timeout_outside_the_aws_range() {
        assert_eq!(
            rejected(&[(BUFFER_TIMEOUT_MS, "24")]).variable,
            BUFFER_TIMEOUT_MS
        );
        assert_eq!(
            rejected(&[(BUFFER_TIMEOUT_MS, "30001")]).variable,
            BUFFER_TIMEOUT_MS
        );
        assert_eq!(
            rejected(&[(BUFFER_TIMEOUT_MS, "-1")]).variable,
            BUFFER_TIMEOUT_MS
        );
    }

    #[test]
    fn rejects_a_listener_port_that_is_not_a_port() {
        assert_eq!(
            rejected(&[(LISTENER_PORT, "65536")]).variable,
            LISTENER_PORT
        );
    }

    #[test]
    fn rejects_the_runtime_api_port_as_listener_port() {
        assert_eq!(rejected(&[(LISTENER_PORT, "9001")]).variable, LISTENER_PORT);
    }

    #[test]
    fn rejects_a_shutdown_drain_that_would_miss_the_two_second_limit() {
        assert_eq!(
            rejected(&[(SHUTDOWN_DRAIN_MS, "1501")]).variable,
            SHUTDOWN_DRAIN_MS
        );
    }
}
