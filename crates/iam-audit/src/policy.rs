//! `terraform/iam/policies.json`: each function's least-privilege
//! statements, with symbolic resources the Terraform module resolves
//! (`table:<name>`, `index:<table>/<index>`, `stream:<table>`,
//! `secret:<name>`, `user_pool`). Terraform renders them into the roles'
//! policies; this crate compares their actions with the source.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::Error;

/// Where the file lives, relative to the workspace root.
pub const FILE: &str = "terraform/iam/policies.json";

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policies {
    /// Free text for readers.
    #[serde(rename = "$comment", default)]
    pub comment: Option<String>,
    /// Statements per function name.
    pub functions: BTreeMap<String, Vec<Statement>>,
}

/// Why a statement exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// The function's code calls these actions (compared with the source).
    #[default]
    Code,
    /// Lambda's event source mapping uses the function's role to read its
    /// source (e.g. `dynamodb:GetRecords` on a stream): no code calls them.
    EventSource,
}

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// Statement id.
    pub sid: String,
    /// IAM actions, `service:Operation`.
    pub actions: Vec<String>,
    /// Symbolic resources.
    pub resources: Vec<String>,
    /// IAM conditions.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Code (default) or event source.
    #[serde(default)]
    pub purpose: Purpose,
}

/// One IAM condition.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// Operator, e.g. `ForAllValues:StringEquals`.
    pub test: String,
    /// Condition key.
    pub variable: String,
    /// Values.
    pub values: Vec<String>,
}

impl Policies {
    /// Reads and checks the file.
    pub fn read(path: &Path) -> Result<Policies, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let policies: Policies = serde_json::from_str(&text).map_err(|e| Error::Policy {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        for (function, statements) in &policies.functions {
            for s in statements {
                let problem = if s.actions.is_empty() || s.resources.is_empty() {
                    Some("needs at least one action and one resource".to_owned())
                } else if let Some(a) = s.actions.iter().find(|a| {
                    a.contains('*')
                        || a.split_once(':')
                            .is_none_or(|(p, o)| p.is_empty() || o.is_empty())
                }) {
                    Some(format!(
                        "action \"{a}\" must be one service:Operation, no wildcard"
                    ))
                } else {
                    s.resources
                        .iter()
                        .find(|r| !is_symbolic(r))
                        .map(|r| format!("resource \"{r}\" is not one of table:<name>, index:<table>/<index>, stream:<table>, secret:<name>, user_pool"))
                };
                if let Some(message) = problem {
                    return Err(Error::Policy {
                        path: path.to_path_buf(),
                        message: format!("function {function}, statement {}: {message}", s.sid),
                    });
                }
            }
        }
        Ok(policies)
    }
}

fn is_symbolic(resource: &str) -> bool {
    let name = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'*'))
    };
    match resource.split_once(':') {
        None => resource == "user_pool",
        Some(("table" | "stream" | "secret", n)) => name(n),
        Some(("index", rest)) => rest
            .split_once('/')
            .is_some_and(|(t, i)| name(t) && name(i)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Result<Policies, Error> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        std::fs::write(&path, json).unwrap();
        Policies::read(&path)
    }

    #[test]
    fn reads_statements_with_defaults() {
        let p = read(r#"{"functions": {"sms": [
            {"sid": "History", "actions": ["dynamodb:Query"], "resources": ["table:sms_history", "index:users/phone-index"]},
            {"sid": "Stream", "actions": ["dynamodb:GetRecords"], "resources": ["stream:inbound"], "purpose": "event-source"}
        ]}}"#)
        .unwrap();
        let sms = &p.functions["sms"];
        assert_eq!(sms[0].purpose, Purpose::Code);
        assert_eq!(sms[1].purpose, Purpose::EventSource);
        assert!(sms[0].conditions.is_empty());
    }

    #[test]
    fn refuses_wildcards_unknown_resources_and_unknown_keys() {
        for (json, why) in [
            (
                r#"{"functions": {"a": [{"sid": "S", "actions": ["dynamodb:*"], "resources": ["table:t"]}]}}"#,
                "no wildcard",
            ),
            (
                r#"{"functions": {"a": [{"sid": "S", "actions": ["Query"], "resources": ["table:t"]}]}}"#,
                "service:Operation",
            ),
            (
                r#"{"functions": {"a": [{"sid": "S", "actions": ["dynamodb:Query"], "resources": ["arn:aws:dynamodb:*"]}]}}"#,
                "is not one of",
            ),
            (
                r#"{"functions": {"a": [{"sid": "S", "actions": ["dynamodb:Query"], "resources": []}]}}"#,
                "at least one",
            ),
            (
                r#"{"functions": {"a": [{"sid": "S", "actions": ["dynamodb:Query"], "resources": ["table:t"], "effect": "Deny"}]}}"#,
                "unknown field",
            ),
            (
                r#"{"functions": {"a": [{"sid": "S", "actions": ["dynamodb:Query"], "resources": ["table:t"], "purpose": "other"}]}}"#,
                "unknown variant",
            ),
        ] {
            let err = read(json).unwrap_err().to_string();
            assert!(err.contains(why), "{json}: {err}");
        }
    }
}
