//! Diagnostics on stderr, one JSON object per line.
//!
//! Not `lambda-logging`: its `tracing-subscriber` stack (JSON formatter and
//! env filter) would take a large share of the layer's 1 MiB budget for the
//! handful of lines an extension writes per sandbox lifetime. Stdout is
//! reserved for EMF documents.

use std::io::Write;

use serde_json::{Map, Value};

/// Severity of a diagnostic line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Normal lifecycle milestones.
    Info,
    /// Something was skipped or failed but the extension carries on.
    Warn,
    /// The extension stops.
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

/// The JSON line for `message` with `fields` (a field may not override
/// `level` or `message`).
pub fn line(level: Level, message: &str, fields: &[(&str, Value)]) -> String {
    let mut map = Map::new();
    for (key, value) in fields {
        map.insert((*key).to_owned(), value.clone());
    }
    map.insert("level".into(), level.as_str().into());
    map.insert("message".into(), message.into());
    Value::Object(map).to_string()
}

/// Writes one diagnostic line to stderr; a closed stderr is ignored, as
/// there is nowhere left to report it.
pub fn log(level: Level, message: &str, fields: &[(&str, Value)]) {
    let _ = writeln!(std::io::stderr().lock(), "{}", line(level, message, fields));
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn line_is_one_json_object_with_level_message_and_fields() {
        let text = line(
            Level::Warn,
            "batch rejected",
            &[("error", json!("too big")), ("port", json!(9500))],
        );
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"level": "WARN", "message": "batch rejected", "error": "too big", "port": 9500})
        );
        assert!(!text.contains('\n'));
    }

    #[test]
    fn fields_cannot_override_level_or_message() {
        let text = line(
            Level::Info,
            "real",
            &[("message", json!("fake")), ("level", json!("X"))],
        );
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (value["level"].as_str(), value["message"].as_str()),
            (Some("INFO"), Some("real"))
        );
    }
}
