//! One log for every piece of the stack, each line prefixed with where it
//! came from (`[users]`, `[gateway]`, `[moto]`, ...).

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// One line of the stack's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The piece that wrote it.
    pub source: String,
    /// The text.
    pub text: String,
}

/// Where the stack's log goes.
#[derive(Debug, Clone, Default)]
pub enum LogSink {
    /// Standard output, prefixed (`cargo xtask local`).
    #[default]
    Print,
    /// Kept in memory (tests print it when they fail).
    Capture(Arc<Mutex<Vec<LogEntry>>>),
}

impl LogSink {
    /// A sink that keeps the lines in memory.
    pub fn capture() -> Self {
        Self::Capture(Arc::default())
    }

    /// Writes one line.
    pub fn line(&self, source: &str, text: &str) {
        match self {
            Self::Print => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "[{source:>10}] {text}");
            }
            Self::Capture(lines) => {
                lines
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(LogEntry {
                        source: source.to_owned(),
                        text: text.to_owned(),
                    })
            }
        }
    }

    /// The lines kept so far (empty when printing).
    pub fn captured(&self) -> Vec<LogEntry> {
        match self {
            Self::Print => Vec::new(),
            Self::Capture(lines) => lines.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }

    /// The captured lines as text, `[source] line` each.
    pub fn dump(&self) -> String {
        self.captured()
            .iter()
            .map(|e| format!("[{:>10}] {}\n", e.source, e.text))
            .collect()
    }
}

/// A function's JSON log line (lambda-logging's format: `timestamp`,
/// `level`, `message`, the event's fields, `target`, `span`) made readable:
/// `LEVEL message key=value ... requestId=...`; other lines are kept as
/// they are.
pub fn readable(line: &str) -> String {
    let Ok(Value::Object(record)) = serde_json::from_str::<Value>(line) else {
        return line.to_owned();
    };
    let Some(level) = record.get("level").and_then(Value::as_str) else {
        return line.to_owned();
    };
    // tracing-subscriber nests the fields unless they are flattened.
    let fields = match record.get("fields") {
        Some(Value::Object(fields)) => fields.clone(),
        _ => record.clone(),
    };
    let message = fields.get("message").and_then(Value::as_str).unwrap_or("");
    let mut out = format!("{level:<5} {message}");
    for (key, value) in &fields {
        if matches!(
            key.as_str(),
            "message" | "timestamp" | "level" | "target" | "span" | "spans"
        ) {
            continue;
        }
        let value = match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        out.push_str(&format!(" {key}={value}"));
    }
    if let Some(Value::String(request_id)) = record.get("span").and_then(|s| s.get("requestId")) {
        out.push_str(&format!(" requestId={request_id}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_become_level_message_and_fields() {
        let line = r#"{"timestamp":"t","level":"INFO","fields":{"message":"request allowed","decision":"allow","n":2},"target":"authorizer","span":{"requestId":"r-1","name":"invocation"}}"#;
        assert_eq!(
            readable(line),
            "INFO  request allowed decision=allow n=2 requestId=r-1"
        );
        let flat = r#"{"timestamp":"t","level":"INFO","message":"JWKS loaded at init","keys":1,"target":"authorizer"}"#;
        assert_eq!(readable(flat), "INFO  JWKS loaded at init keys=1");
        assert_eq!(readable("plain text"), "plain text");
        assert_eq!(readable(r#"{"no":"fields"}"#), r#"{"no":"fields"}"#);
    }

    #[test]
    fn a_capturing_sink_keeps_lines_in_order() {
        let sink = LogSink::capture();
        sink.line("users", "one");
        sink.line("gateway", "two");
        assert_eq!(sink.dump(), "[     users] one\n[   gateway] two\n");
    }
}
