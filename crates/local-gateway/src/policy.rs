//! The REST authorizer's answer (principal, IAM policy, context) and how
//! API Gateway applies its policy to a method ARN.

use serde_json::{Map, Value};

/// What the authorizer allowed or denied, as API Gateway keeps it in its
/// cache.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizerAnswer {
    /// `principalId`.
    pub principal_id: String,
    /// `policyDocument.Statement`.
    pub statements: Vec<Statement>,
    /// `context`: flat string, number and boolean values only.
    pub context: Map<String, Value>,
}

/// One policy statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// `Allow` (true) or `Deny` (false).
    pub allow: bool,
    /// `Action` patterns.
    pub actions: Vec<String>,
    /// `Resource` patterns.
    pub resources: Vec<String>,
}

/// The policy's verdict for one method ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// An `Allow` statement covers it and no `Deny` does.
    Allow,
    /// A `Deny` statement covers it (API Gateway's "explicit deny").
    ExplicitDeny,
    /// No statement covers it.
    NotAllowed,
}

impl AuthorizerAnswer {
    /// Reads the authorizer's response. API Gateway answers 500
    /// (`AuthorizerConfigurationException`) for anything malformed: no
    /// `principalId`, no statements, or a context value that is an object or
    /// an array.
    pub fn parse(response: &Value) -> Result<Self, String> {
        let principal_id = match response.get("principalId") {
            Some(Value::String(id)) => id.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err("the response has no principalId".into()),
        };
        let document = response
            .get("policyDocument")
            .and_then(Value::as_object)
            .ok_or("the response has no policyDocument object")?;
        let statements = match document.get("Statement") {
            Some(Value::Array(items)) => items.iter().map(statement).collect::<Result<_, _>>()?,
            Some(single @ Value::Object(_)) => vec![statement(single)?],
            _ => return Err("policyDocument has no Statement".into()),
        };
        let context = match response.get("context") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(map)) => {
                if let Some((key, _)) = map
                    .iter()
                    .find(|(_, v)| matches!(v, Value::Object(_) | Value::Array(_)))
                {
                    return Err(format!(
                        "context.{key} is an object or array; REST authorizer context values must be strings, numbers or booleans"
                    ));
                }
                map.iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            }
            Some(_) => return Err("context is not an object".into()),
        };
        Ok(Self {
            principal_id,
            statements,
            context,
        })
    }

    /// Applies the policy to `method_arn` the way IAM does: an explicit
    /// deny wins, then any allow.
    pub fn verdict(&self, method_arn: &str) -> Verdict {
        let covers = |s: &Statement| {
            s.actions.iter().any(|a| action_matches(a))
                && s.resources.iter().any(|r| wildcard_match(r, method_arn))
        };
        if self.statements.iter().any(|s| !s.allow && covers(s)) {
            Verdict::ExplicitDeny
        } else if self.statements.iter().any(|s| s.allow && covers(s)) {
            Verdict::Allow
        } else {
            Verdict::NotAllowed
        }
    }
}

fn statement(value: &Value) -> Result<Statement, String> {
    let effect = value
        .get("Effect")
        .and_then(Value::as_str)
        .ok_or("a statement has no Effect")?;
    let allow = match effect.to_ascii_lowercase().as_str() {
        "allow" => true,
        "deny" => false,
        other => return Err(format!("Effect {other:?} is neither Allow nor Deny")),
    };
    let list = |key: &str| -> Result<Vec<String>, String> {
        match value.get(key) {
            Some(Value::String(one)) => Ok(vec![one.clone()]),
            Some(Value::Array(many)) => many
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("{key} holds a non-string"))
                })
                .collect(),
            _ => Err(format!("a statement has no {key}")),
        }
    };
    Ok(Statement {
        allow,
        actions: list("Action")?,
        resources: list("Resource")?,
    })
}

fn action_matches(pattern: &str) -> bool {
    wildcard_match(&pattern.to_ascii_lowercase(), "execute-api:invoke")
}

/// IAM's wildcards: `*` any run of characters (slashes included), `?` one.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            backtrack = Some((pi, ti));
            pi += 1;
        } else if let Some((star, matched)) = backtrack {
            pi = star + 1;
            ti = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:local/v1/GET/users/42";

    fn answer(statements: Value) -> AuthorizerAnswer {
        AuthorizerAnswer::parse(&json!({
            "principalId": "user-1",
            "policyDocument": {"Version": "2012-10-17", "Statement": statements},
            "context": {"sub": "user-1", "n": 3, "ok": true, "gone": null}
        }))
        .unwrap()
    }

    #[test]
    fn a_stage_wide_allow_covers_every_method_and_path() {
        let a = answer(json!([{
            "Effect": "Allow", "Action": "execute-api:Invoke",
            "Resource": "arn:aws:execute-api:us-east-1:123456789012:local/v1/*/*"
        }]));
        assert_eq!(a.verdict(ARN), Verdict::Allow);
        assert_eq!(a.context["n"], json!(3));
        assert!(!a.context.contains_key("gone"));
    }

    #[test]
    fn a_narrow_allow_does_not_cover_another_path_and_deny_wins() {
        let narrow = answer(json!({
            "Effect": "Allow", "Action": ["execute-api:Invoke"],
            "Resource": ["arn:aws:execute-api:us-east-1:123456789012:local/v1/GET/users/me"]
        }));
        assert_eq!(narrow.verdict(ARN), Verdict::NotAllowed);
        let deny = answer(json!([
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "execute-api:*", "Resource": "arn:aws:execute-api:*:*:*/v1/GET/users/*"}
        ]));
        assert_eq!(deny.verdict(ARN), Verdict::ExplicitDeny);
        assert_eq!(
            deny.verdict("arn:aws:execute-api:us-east-1:123456789012:local/v1/PATCH/users/me"),
            Verdict::Allow
        );
    }

    #[test]
    fn malformed_answers_are_configuration_errors() {
        for bad in [
            json!({"policyDocument": {"Statement": []}}),
            json!({"principalId": "p"}),
            json!({"principalId": "p", "policyDocument": {}}),
            json!({"principalId": "p", "policyDocument": {"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}}),
            json!({"principalId": "p", "policyDocument": {"Statement": []}, "context": {"nested": {"a": 1}}}),
            json!({"principalId": "p", "policyDocument": {"Statement": []}, "context": {"list": [1]}}),
        ] {
            assert!(AuthorizerAnswer::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn wildcards_match_like_iam() {
        assert!(wildcard_match("a*c", "abbbc"));
        assert!(wildcard_match("a*", "a/b/c"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(!wildcard_match("a*d", "abc"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("**x", "yyx"));
    }
}
