//! JSON structured logging for our Lambda functions.
//!
//! [`init`] installs a `tracing` subscriber that writes one JSON object per
//! line to stdout, which CloudWatch Logs indexes. The Lambda runtime opens a
//! span carrying `requestId` around every invocation, and the subscriber
//! includes the current span's fields in each line, so every log line names
//! its request.
//!
//! Redaction: secrets, tokens, cookies and `Authorization` headers must
//! never reach the logs. Wrap such values in [`Redacted`], log headers
//! through [`loggable_headers`] and arbitrary JSON through [`redact_json`].

use std::fmt;
use std::io::Write;

use serde_json::Value;
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
/// else `info`. Calling it twice is harmless (the second call is ignored).
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
/// can capture exactly what a function would log.
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

/// Headers as `(name, value)` pairs fit for a log line: sensitive values
/// replaced by `[REDACTED]`.
pub fn loggable_headers<'a, I>(headers: I) -> Vec<(String, String)>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    headers
        .into_iter()
        .map(|(name, value)| {
            let shown = if is_sensitive_header(name) {
                REDACTED
            } else {
                value
            };
            (name.to_owned(), shown.to_owned())
        })
        .collect()
}

/// A copy of `value` with every sensitive key's value replaced, at any depth.
/// API Gateway events also carry raw header strings and bodies; callers log
/// those only through this function.
pub fn redact_json(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, inner)| {
                    let redacted = if is_sensitive_key(key) && !inner.is_null() {
                        Value::String(REDACTED.to_owned())
                    } else {
                        redact_json(inner)
                    };
                    (key.clone(), redacted)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_json).collect()),
        other => other.clone(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
    fn sensitive_headers_are_redacted_whatever_their_case() {
        let headers = loggable_headers([
            ("Authorization", "Bearer abc"),
            ("COOKIE", "session=1"),
            ("X-Twilio-Signature", "sig"),
            ("Origin", "https://app.example.com"),
        ]);
        assert_eq!(
            headers,
            vec![
                ("Authorization".into(), REDACTED.into()),
                ("COOKIE".into(), REDACTED.into()),
                ("X-Twilio-Signature".into(), REDACTED.into()),
                ("Origin".into(), "https://app.example.com".into()),
            ]
        );
    }

    #[test]
    fn redact_json_hides_secrets_at_any_depth() {
        let event = json!({
            "headers": {"authorization": "Bearer abc", "origin": "https://a.example"},
            "multiValueHeaders": {"Cookie": ["a=b"]},
            "queryStringParameters": {"code": "one-time", "state": "s"},
            "body": null,
            "nested": [{"refresh_token": "r", "client_secret": "c", "name": "n"}]
        });
        let redacted = redact_json(&event);
        let text = redacted.to_string();
        for secret in ["Bearer abc", "a=b", "one-time", "\"r\"", "\"c\""] {
            assert!(!text.contains(secret), "{secret} leaked in {text}");
        }
        assert_eq!(redacted["headers"]["origin"], "https://a.example");
        assert_eq!(redacted["queryStringParameters"]["state"], "s");
        assert_eq!(redacted["nested"][0]["name"], "n");
        assert!(redacted["body"].is_null());
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
