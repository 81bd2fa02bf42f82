//! JSON structured logging for our Lambda functions.
//!
//! [`init`] installs a `tracing` subscriber that writes one JSON object per
//! line to stdout, which CloudWatch Logs indexes. The Lambda runtime opens a
//! span carrying `requestId` around every invocation, and the subscriber
//! includes the current span's fields in each line, so every log line names
//! its request.
//!
//! Secrets never reach the logs, at any level:
//! - third-party crates that log payloads (the Lambda runtime logs every raw
//!   event at TRACE, the AWS SDK request and response bodies at DEBUG and
//!   TRACE) are capped at WARN by a filter the environment cannot lift
//!   ([`clamp`]);
//! - our own code logs no token, cookie, code, phone number or message
//!   text at any level: wrap secrets in [`Redacted`], log attacker-chosen
//!   strings through [`excerpt`]; every function's test suite runs at TRACE
//!   and searches its captured logs for the secrets it used.

pub mod clamp;

use std::fmt;
use std::io::Write;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// Which levels (per target) are logged. `Targets` rather than `EnvFilter`:
/// same `info,my_crate=debug` syntax without linking a regex engine, which
/// cost the cors binary about 10% of its size.
pub type LogFilter = tracing_subscriber::filter::Targets;

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Installs the JSON subscriber for the whole process.
///
/// The level comes from `RUST_LOG`, else Lambda's `AWS_LAMBDA_LOG_LEVEL`,
/// else `info`; whatever it is, [`clamp`] caps the third-party crates.
/// Calling it twice is harmless (the second call is ignored).
pub fn init() {
    let filter = level_filter(
        std::env::var("RUST_LOG").ok().as_deref(),
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
    );
    // A second init (tests, or a library that installed one) is not an error.
    let _ = tracing::subscriber::set_global_default(json_subscriber(filter, std::io::stdout));
}

/// The filter: `RUST_LOG` (`level` or `target=level,...`) first, then a
/// plain Lambda level, then info. Unparseable values fall through.
pub fn level_filter(rust_log: Option<&str>, lambda_level: Option<&str>) -> LogFilter {
    rust_log
        .and_then(|spec| spec.parse::<LogFilter>().ok())
        .or_else(|| {
            lambda_level.and_then(|level| level.to_ascii_lowercase().parse::<LogFilter>().ok())
        })
        .unwrap_or_else(|| LogFilter::new().with_default(tracing::Level::INFO))
}

/// The subscriber [`init`] installs, writing to `writer`; public so that tests
/// can capture exactly what a function would log. `filter` is what the
/// environment asked for; the [`clamp`] applies on top of it.
pub fn json_subscriber<W>(filter: LogFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::level_filters::LevelFilter::TRACE)
        .with_writer(writer)
        .with_ansi(false)
        .with_target(true)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .finish()
        .with(filter)
        .with(clamp::PayloadClamp)
}

/// At most `max_chars` characters of `value`, for logging a string an
/// attacker chose (a JWT's `kid`, a path, an `Origin`): a longer one ends
/// in `...` and its length, so a flood of 8 KiB values cannot fill the logs.
pub fn excerpt(value: &str, max_chars: usize) -> String {
    match value.char_indices().nth(max_chars) {
        None => value.to_owned(),
        Some((cut, _)) => format!("{}...({} bytes)", &value[..cut], value.len()),
    }
}

/// A value that must never be logged: `Debug` and `Display` print
/// `[REDACTED]`, while the code that needs it reads `.0` or [`Redacted::expose`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Redacted<T>(pub T);

impl<T> Redacted<T> {
    /// The secret value itself, for the one place that uses it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Header names whose values are credentials (compared case-insensitively).
const SENSITIVE_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-amz-security-token",
    "x-twilio-signature",
];

/// Fragments of JSON keys or query names that mark a secret value.
const SENSITIVE_KEY_FRAGMENTS: &[&str] = &[
    "authorization",
    "cookie",
    "token",
    "secret",
    "password",
    "signature",
    "api_key",
    "apikey",
    "api-key",
    "credential",
    "code_verifier",
    "private",
];

/// Whether a header's value must be redacted.
pub fn is_sensitive_header(name: &str) -> bool {
    SENSITIVE_HEADERS
        .iter()
        .any(|sensitive| sensitive.eq_ignore_ascii_case(name))
}

/// Whether a JSON key, form field or query parameter holds a secret.
/// OAuth's `code` is a one-time credential, so it counts too.
pub fn is_sensitive_key(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "code"
        || is_sensitive_header(&lower)
        || SENSITIVE_KEY_FRAGMENTS
            .iter()
            .any(|fragment| lower.contains(fragment))
}

/// A `MakeWriter` that collects everything in memory, for tests that assert
/// on log output (ours and other crates').
#[derive(Clone, Default)]
pub struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Everything written so far, as text.
    pub fn contents(&self) -> String {
        let bytes = match self.0.lock() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Panics, naming the value and quoting the logs, when any of `secrets`
    /// was logged. Values shorter than 4 characters are not searched: they
    /// occur by chance.
    pub fn assert_holds_none<S: AsRef<str>>(&self, secrets: impl IntoIterator<Item = S>) {
        let out = self.contents();
        for secret in secrets {
            let secret = secret.as_ref();
            assert!(
                secret.len() < 4 || !out.contains(secret),
                "a secret ({}) was logged:\n{out}",
                excerpt(secret, 24)
            );
        }
    }
}

/// The writer [`CapturedLogs`] hands out.
pub struct CapturedWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Write for CapturedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.lock() {
            Ok(mut guard) => guard.extend_from_slice(buf),
            Err(poisoned) => poisoned.into_inner().extend_from_slice(buf),
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedWriter;

    fn make_writer(&'a self) -> Self::Writer {
        CapturedWriter(self.0.clone())
    }
}

#[cfg(feature = "test-util")]
#[allow(clippy::panic)] // A test helper: nobody to return the error to.
/// Test support (feature `test-util`): installs, once per process, the
/// subscriber [`init`] would install with `RUST_LOG=rust_log`, writing into
/// memory, and returns the capture: test suites run their scenarios under
/// it (at `trace`) and search it for the secrets they used. Panics when
/// another global subscriber is installed.
pub fn capture_global(rust_log: &str) -> &'static CapturedLogs {
    static LOGS: std::sync::OnceLock<CapturedLogs> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = CapturedLogs::default();
        let subscriber = json_subscriber(level_filter(Some(rust_log), None), logs.clone());
        if tracing::subscriber::set_global_default(subscriber).is_err() {
            panic!("capture_global: another global subscriber is already installed");
        }
        logs
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn capture(f: impl FnOnce()) -> String {
        let logs = CapturedLogs::default();
        let subscriber = json_subscriber(level_filter(None, None), logs.clone());
        tracing::subscriber::with_default(subscriber, f);
        logs.contents()
    }

    #[test]
    fn every_line_is_json_with_the_request_id_of_the_current_span() {
        let out = capture(|| {
            let span = tracing::info_span!("Lambda runtime invoke", requestId = "req-123");
            let _guard = span.enter();
            tracing::info!(status = 204, "preflight answered");
        });
        let line: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(line["message"], "preflight answered");
        assert_eq!(line["status"], 204);
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["span"]["requestId"], "req-123");
    }

    #[test]
    fn redacted_values_never_reach_the_log() {
        let token = Redacted("eyJhbGciOiJSUzI1NiJ9.secret.sig".to_owned());
        let out = capture(|| {
            tracing::info!(token = %token, debug = ?token, "verifying");
        });
        assert!(!out.contains("eyJhbGciOiJSUzI1NiJ9"), "{out}");
        assert!(out.contains(REDACTED));
        assert_eq!(token.expose(), "eyJhbGciOiJSUzI1NiJ9.secret.sig");
    }

    #[test]
    fn sensitive_names_are_recognised_whatever_their_case() {
        for header in [
            "Authorization",
            "COOKIE",
            "X-Twilio-Signature",
            "set-cookie",
        ] {
            assert!(is_sensitive_header(header), "{header}");
        }
        assert!(!is_sensitive_header("Origin"));
        for key in [
            "code",
            "refresh_token",
            "client_secret",
            "CURSOR_SECRET",
            "Cookie",
        ] {
            assert!(is_sensitive_key(key), "{key}");
        }
        for key in ["state", "name", "origin", "error_code"] {
            assert!(!is_sensitive_key(key), "{key}");
        }
    }

    const RAW_EVENT: &str = r#"{"headers":{"authorization":"Bearer SECRET-TOKEN"}}"#;

    /// What the runtime and the SDK emit, under their real targets.
    fn third_party_payload_events() {
        tracing::trace!(
            target: "lambda_runtime::layers::api_response",
            body = RAW_EVENT,
            "raw JSON event received from Lambda"
        );
        tracing::debug!(
            target: "aws_smithy_runtime::client::orchestrator",
            response = "{\"Item\":{\"phone\":{\"S\":\"+14155550100\"}}}",
            "received response"
        );
        tracing::trace!(target: "hyper_util::client", "SECRET-TOKEN on the wire");
        tracing::info!(target: "aws_sdk_dynamodb::operation", "SECRET-TOKEN at info");
        tracing::warn!(target: "lambda_runtime::runtime", "runtime warning");
    }

    #[test]
    fn no_environment_setting_lifts_third_party_payload_logs() {
        let settings: [(Option<&str>, Option<&str>); 6] = [
            (Some("trace"), None),
            (None, Some("TRACE")),
            (Some("trace"), Some("TRACE")),
            (
                Some("lambda_runtime=trace,aws_smithy_runtime=trace,hyper_util=trace"),
                None,
            ),
            (
                Some("info,lambda_runtime::layers::api_response=trace"),
                None,
            ),
            (Some("debug"), Some("DEBUG")),
        ];
        for (rust_log, lambda_level) in settings {
            let logs = CapturedLogs::default();
            let subscriber = json_subscriber(level_filter(rust_log, lambda_level), logs.clone());
            tracing::subscriber::with_default(subscriber, || {
                third_party_payload_events();
                tracing::trace!(target: "auth::profile", "our own trace line");
            });
            let out = logs.contents();
            let setting = format!("RUST_LOG={rust_log:?} AWS_LAMBDA_LOG_LEVEL={lambda_level:?}");
            for secret in ["SECRET-TOKEN", "+14155550100", "raw JSON event"] {
                assert!(!out.contains(secret), "{setting}: {secret} leaked: {out}");
            }
            assert!(
                out.contains("runtime warning"),
                "{setting}: warnings stay: {out}"
            );
            if rust_log.is_some_and(|l| l.starts_with("trace")) || lambda_level == Some("TRACE") {
                assert!(out.contains("our own trace line"), "{setting}: {out}");
            }
        }
    }

    #[test]
    fn the_runtime_request_span_still_tags_our_lines_under_the_clamp() {
        let logs = CapturedLogs::default();
        let subscriber = json_subscriber(level_filter(Some("trace"), None), logs.clone());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                target: "lambda_runtime::layers::trace",
                "Lambda runtime invoke",
                requestId = "req-7"
            );
            let _guard = span.enter();
            tracing::info!(target: "users", "profile read");
        });
        let line: Value = serde_json::from_str(logs.contents().trim()).unwrap();
        assert_eq!(line["span"]["requestId"], "req-7");
    }

    #[test]
    fn excerpts_keep_short_values_and_cut_long_ones_on_a_character_boundary() {
        assert_eq!(excerpt("test-key-1", 32), "test-key-1");
        let long = "é".repeat(5000);
        let cut = excerpt(&long, 32);
        assert!(cut.starts_with(&"é".repeat(32)), "{cut}");
        assert!(cut.ends_with("...(10000 bytes)"), "{cut}");
        assert!(cut.len() < 100);
    }

    #[test]
    fn level_comes_from_rust_log_then_lambda_then_info() {
        use tracing::Level;
        let enabled = |filter: &LogFilter, level| filter.would_enable("cors", &level);
        let debug = level_filter(Some("debug"), Some("ERROR"));
        assert!(enabled(&debug, Level::DEBUG));
        let warn = level_filter(None, Some("WARN"));
        assert!(enabled(&warn, Level::WARN) && !enabled(&warn, Level::INFO));
        let info = level_filter(Some("=:not a filter"), None);
        assert!(enabled(&info, Level::INFO) && !enabled(&info, Level::DEBUG));
        let per_target = level_filter(Some("info,cors=trace"), None);
        assert!(enabled(&per_target, Level::TRACE));
        assert!(!per_target.would_enable("hyper", &Level::DEBUG));
    }

    #[test]
    fn events_below_the_level_are_not_written() {
        let logs = CapturedLogs::default();
        let subscriber = json_subscriber(level_filter(Some("warn"), None), logs.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("quiet");
            tracing::warn!("loud");
        });
        let out = logs.contents();
        assert!(out.contains("loud") && !out.contains("quiet"), "{out}");
    }
}
