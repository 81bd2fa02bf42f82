//! The log-secrecy check of a function smoke run: every case runs again
//! with `RUST_LOG=trace` and `AWS_LAMBDA_LOG_LEVEL=TRACE` (the most an
//! operator can ask for), and the process's whole output is searched for
//! the secret values the case's event and the seeded data carry.
//!
//! What counts as secret, wherever it sits in the event (headers, cookies,
//! query, a JSON, form or base64 body) or in the seeded data (`moto`
//! items and secrets, served `files`), without any declaration:
//!
//! - credentials: the value of a key that names one (`authorization`,
//!   `cookie`, `*token*`, `*secret*`, `password`, `signature`, `api_key`,
//!   `code`, ... as `lambda_logging::is_sensitive_key` says; identifiers
//!   such as `SECRET_ID` or `token_use` excepted), each cookie of a
//!   `Cookie` value, the token of `Bearer <token>`, and anything shaped
//!   like a JWT (and each of its parts);
//! - phone numbers: every E.164 number (`+` and 7 to 15 digits);
//! - message texts: the value of a `body`, `message`, `text` or `content`
//!   key (Twilio's `Body`, a chat completion's `content`) and the raw
//!   request body;
//! - stored secrets: the credential-named values of `moto.secrets`.
//!
//! Plus whatever the spec declares: `"secrets": [...]` at the top (for
//! every case) or in a case. Values too short to search without matching
//! by chance are left out (credentials under 12 characters, texts under 8).

use std::collections::BTreeSet;
use std::fmt;

use base64::Engine as _;
use serde_json::Value;

use crate::smoke::{CaseCheck, SmokeCase, SmokeSpec};

/// Shortest credential searched for.
const MIN_CREDENTIAL_CHARS: usize = 12;
/// Shortest message text searched for.
const MIN_TEXT_CHARS: usize = 8;
/// Shortest declared secret searched for.
const MIN_DECLARED_CHARS: usize = 4;

/// The environment of the TRACE pass.
pub const TRACE_ENV: [(&str, &str); 2] = [("RUST_LOG", "trace"), ("AWS_LAMBDA_LOG_LEVEL", "TRACE")];

/// What kind of secret a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SecretKind {
    /// A token, cookie, code, key or signature.
    Credential,
    /// An E.164 phone number.
    PhoneNumber,
    /// A message text or request body.
    MessageText,
    /// A value stored in Secrets Manager.
    StoredSecret,
    /// Declared in the spec's `secrets`.
    Declared,
}

impl fmt::Display for SecretKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Credential => "credential",
            Self::PhoneNumber => "phone number",
            Self::MessageText => "message text",
            Self::StoredSecret => "stored secret",
            Self::Declared => "declared secret",
        })
    }
}

/// One value that must not appear in the output.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Secret {
    /// Its kind, for reports.
    pub kind: SecretKind,
    /// The value.
    pub value: String,
}

/// What the check searched, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecrecyReport {
    /// Cases run again at TRACE.
    pub cases: usize,
    /// Distinct secret values searched for, by kind.
    pub secrets: Vec<(SecretKind, usize)>,
    /// Output lines searched.
    pub lines: usize,
}

impl SecrecyReport {
    /// Distinct secret values in all.
    pub fn total(&self) -> usize {
        self.secrets.iter().map(|(_, n)| n).sum()
    }
}

impl fmt::Display for SecrecyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds: Vec<String> = self
            .secrets
            .iter()
            .map(|(kind, n)| format!("{n} {kind}{}", if *n == 1 { "" } else { "s" }))
            .collect();
        write!(
            f,
            "{} cases re-run with RUST_LOG=trace AWS_LAMBDA_LOG_LEVEL=TRACE; {} secret values ({}) searched in {} output lines: none found",
            self.cases,
            self.total(),
            if kinds.is_empty() {
                "none".to_owned()
            } else {
                kinds.join(", ")
            },
            self.lines
        )
    }
}

/// The secrets every case shares: the seeded data, the environment and
/// the spec's declared ones.
pub fn spec_secrets(spec: &SmokeSpec, file_contents: &[(String, Vec<u8>)]) -> BTreeSet<Secret> {
    let mut out = BTreeSet::new();
    for (key, value) in &spec.env {
        walk(&Value::String(value.clone()), Some(key), &mut out);
    }
    if let Some(moto) = &spec.moto {
        for items in moto.items.values() {
            for item in items {
                walk(&unwrap_dynamodb_json(item), None, &mut out);
            }
        }
        for secret in moto.secrets.values() {
            let parsed = match secret {
                Value::String(text) => {
                    serde_json::from_str(text).unwrap_or_else(|_| secret.clone())
                }
                other => other.clone(),
            };
            stored(&parsed, None, &mut out);
        }
    }
    for (_, content) in file_contents {
        if let Ok(json) = serde_json::from_slice::<Value>(content) {
            walk(&json, None, &mut out);
        }
    }
    for value in &spec.secrets {
        declared(value, &mut out);
    }
    out
}

/// The secrets of one case: its event and its declared ones.
pub fn case_secrets(case: &SmokeCase) -> BTreeSet<Secret> {
    let mut out = BTreeSet::new();
    if let CaseCheck::Response { event, .. } | CaseCheck::Error { event, .. } = &case.check {
        event_secrets(event, &mut out);
    }
    for value in &case.secrets {
        declared(value, &mut out);
    }
    out
}

/// The first secret in `line`, if any.
pub fn find_in<'a>(line: &str, secrets: &'a BTreeSet<Secret>) -> Option<&'a Secret> {
    secrets.iter().find(|secret| line.contains(&secret.value))
}

/// `line` with every secret replaced, for error messages.
pub fn masked(line: &str, secrets: &BTreeSet<Secret>) -> String {
    secrets.iter().fold(line.to_owned(), |line, secret| {
        line.replace(&secret.value, &format!("[{}]", secret.kind))
    })
}

fn declared(value: &str, out: &mut BTreeSet<Secret>) {
    if value.chars().count() >= MIN_DECLARED_CHARS {
        out.insert(Secret {
            kind: SecretKind::Declared,
            value: value.to_owned(),
        });
    }
}

fn push(out: &mut BTreeSet<Secret>, kind: SecretKind, value: &str) {
    let min = match kind {
        SecretKind::Credential | SecretKind::StoredSecret => MIN_CREDENTIAL_CHARS,
        SecretKind::MessageText => MIN_TEXT_CHARS,
        SecretKind::PhoneNumber => 0,
        SecretKind::Declared => MIN_DECLARED_CHARS,
    };
    let value = value.trim();
    if value.chars().count() >= min && !value.is_empty() {
        out.insert(Secret {
            kind,
            value: value.to_owned(),
        });
    }
}

/// Whether a key names a credential (not merely an identifier of one).
fn names_credential(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    let identifier = [
        "_id", "_ids", "_arn", "_name", "_url", "_table", "_use", "_type",
    ]
    .iter()
    .any(|suffix| lower.ends_with(suffix));
    lambda_logging::is_sensitive_key(&lower) && !identifier
}

/// Whether a key holds a message text.
fn names_text(key: &str) -> bool {
    matches!(
        key.to_ascii_lowercase().as_str(),
        "body" | "message" | "text" | "content"
    )
}

/// An API Gateway event: its body (decoded, parsed) and query string get
/// looked into; everything else is walked as JSON.
fn event_secrets(event: &Value, out: &mut BTreeSet<Secret>) {
    let Value::Object(fields) = event else {
        walk(event, None, out);
        return;
    };
    for (key, value) in fields {
        match (key.as_str(), value) {
            ("body", Value::String(raw)) => {
                let base64 = fields.get("isBase64Encoded").and_then(Value::as_bool) == Some(true);
                let body = if base64 {
                    base64::engine::general_purpose::STANDARD
                        .decode(raw)
                        .ok()
                        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                        .unwrap_or_else(|| raw.clone())
                } else {
                    raw.clone()
                };
                push(out, SecretKind::MessageText, &body);
                content_secrets(&body, out);
            }
            ("rawQueryString", Value::String(query)) => content_secrets(query, out),
            _ => walk(value, Some(key), out),
        }
    }
}

/// A request body or query string: JSON, else form pairs, else text.
fn content_secrets(text: &str, out: &mut BTreeSet<Secret>) {
    if let Ok(json) = serde_json::from_str::<Value>(text) {
        walk(&json, None, out);
    } else if let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(text) {
        for (key, value) in pairs {
            walk(&Value::String(value), Some(&key), out);
        }
    } else {
        walk(&Value::String(text.to_owned()), None, out);
    }
}

fn walk(value: &Value, key: Option<&str>, out: &mut BTreeSet<Secret>) {
    match value {
        Value::String(text) => string_secrets(text, key, out),
        Value::Array(items) => items.iter().for_each(|item| walk(item, key, out)),
        Value::Object(map) => map.iter().for_each(|(k, v)| walk(v, Some(k), out)),
        _ => {}
    }
}

fn stored(value: &Value, key: Option<&str>, out: &mut BTreeSet<Secret>) {
    match value {
        Value::String(text) if key.is_some_and(names_credential) => {
            push(out, SecretKind::StoredSecret, text);
        }
        Value::Object(map) => map.iter().for_each(|(k, v)| stored(v, Some(k), out)),
        Value::Array(items) => items.iter().for_each(|item| stored(item, key, out)),
        other => walk(other, key, out),
    }
}

fn string_secrets(text: &str, key: Option<&str>, out: &mut BTreeSet<Secret>) {
    if key.is_some_and(names_credential) {
        push(out, SecretKind::Credential, text);
        // A Cookie header value: each cookie on its own.
        for pair in text.split(';') {
            if let Some((_, value)) = pair.split_once('=') {
                push(out, SecretKind::Credential, value);
            }
        }
        if let Some((scheme, token)) = text.trim().split_once(' ')
            && scheme.eq_ignore_ascii_case("bearer")
        {
            push(out, SecretKind::Credential, token);
        }
    }
    if key.is_some_and(names_text) {
        push(out, SecretKind::MessageText, text);
    }
    for phone in phone_numbers(text) {
        push(out, SecretKind::PhoneNumber, &phone);
    }
    for jwt in jwts(text) {
        push(out, SecretKind::Credential, &jwt);
        for part in jwt.split('.') {
            push(out, SecretKind::Credential, part);
        }
    }
}

/// Every E.164 number in `text`.
fn phone_numbers(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    text.match_indices('+')
        .filter_map(|(start, _)| {
            let digits = bytes[start + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            let first_ok = bytes.get(start + 1).is_some_and(|b| *b != b'0');
            ((7..=15).contains(&digits) && first_ok)
                .then(|| text[start..=start + digits].to_owned())
        })
        .collect()
}

/// Every JWT-shaped run in `text`: three base64url parts, the first a JSON
/// header (`eyJ`).
fn jwts(text: &str) -> Vec<String> {
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    text.split(|c: char| !(is_b64(c) || c == '.'))
        .filter(|run| {
            let parts: Vec<&str> = run.split('.').collect();
            parts.len() == 3 && parts[0].starts_with("eyJ") && parts[1].len() >= 8
        })
        .map(str::to_owned)
        .collect()
}

/// `{"S": "x"}`-style DynamoDB JSON as plain JSON.
fn unwrap_dynamodb_json(value: &Value) -> Value {
    match value {
        Value::Object(map) if map.len() == 1 => {
            let (tag, inner) = map
                .iter()
                .next()
                .map(|(k, v)| (k.as_str(), v))
                .unwrap_or(("", value));
            match (tag, inner) {
                ("S" | "N" | "BOOL" | "NULL", scalar) => scalar.clone(),
                ("M", Value::Object(fields)) => Value::Object(
                    fields
                        .iter()
                        .map(|(k, v)| (k.clone(), unwrap_dynamodb_json(v)))
                        .collect(),
                ),
                ("L", Value::Array(items)) => {
                    Value::Array(items.iter().map(unwrap_dynamodb_json).collect())
                }
                ("SS" | "NS", list) => list.clone(),
                _ => Value::Object(
                    map.iter()
                        .map(|(k, v)| (k.clone(), unwrap_dynamodb_json(v)))
                        .collect(),
                ),
            }
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), unwrap_dynamodb_json(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(secrets: &BTreeSet<Secret>, kind: SecretKind) -> Vec<String> {
        secrets
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| s.value.clone())
            .collect()
    }

    fn case(event: Value) -> SmokeCase {
        SmokeCase {
            name: "c".into(),
            check: CaseCheck::Response {
                event,
                expect: json!({}),
            },
            secrets: vec!["declared-value".into()],
        }
    }

    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz";

    #[test]
    fn credentials_phones_and_texts_are_found_in_every_part_of_an_event() {
        let form =
            "From=%2B14155550100&To=%2B14155550199&Body=Meet+me+at+noon+please&MessageSid=SM1";
        let secrets = case_secrets(&case(json!({
            "headers": {
                "Authorization": format!("Bearer {JWT}"),
                "cookie": "theme=dark; access_token=cookie-token-value-123",
                "x-twilio-signature": "pHESg5PBlBwqi2rya13NuziMxg4=",
                "origin": "https://app.example.com"
            },
            "cookies": ["refresh_token=refresh-token-value-456"],
            "queryStringParameters": {"code": "one-time-oauth-code-789", "state": "s"},
            "rawQueryString": "code=raw-oauth-code-0001&x=1",
            "requestContext": {"authorizer": {"token_use": "access-token-use"}},
            "body": base64::engine::general_purpose::STANDARD.encode(form),
            "isBase64Encoded": true
        })));
        let credentials = values(&secrets, SecretKind::Credential);
        for expected in [
            JWT,
            "eyJzdWIiOiJhbGljZSJ9",
            "cookie-token-value-123",
            "refresh-token-value-456",
            "one-time-oauth-code-789",
            "raw-oauth-code-0001",
            "pHESg5PBlBwqi2rya13NuziMxg4=",
        ] {
            assert!(
                credentials.iter().any(|c| c == expected),
                "{expected} in {credentials:?}"
            );
        }
        assert!(
            !credentials.iter().any(|c| c.contains("access-token-use")),
            "token_use is no credential"
        );
        assert!(!credentials.iter().any(|c| c.contains("app.example.com")));
        assert_eq!(
            values(&secrets, SecretKind::PhoneNumber),
            ["+14155550100", "+14155550199"]
        );
        let texts = values(&secrets, SecretKind::MessageText);
        assert!(
            texts.contains(&"Meet me at noon please".to_owned()),
            "{texts:?}"
        );
        assert!(texts.contains(&form.to_owned()), "the raw body");
        assert_eq!(values(&secrets, SecretKind::Declared), ["declared-value"]);
    }

    #[test]
    fn seeded_data_and_the_environment_give_their_secrets() {
        let spec = SmokeSpec::parse(
            r#"{
              "env": {"AWS_SECRET_ACCESS_KEY": "smoke-test-secret", "SECRET_ID": "smoke-secret-name",
                      "CURSOR_SECRET": "c21va2UtdGVzdC1jdXJzb3 Itc2VjcmV0", "USERS_TABLE": "users"},
              "moto": {
                "items": {"users": [{"user_id": {"S": "u-1"}, "phone": {"S": "+15551234567"},
                                     "history": {"L": [{"M": {"content": {"S": "what is the weather"}}}]}}]},
                "secrets": {"sms": {"twilio_account_sid": "ACsmoke0000000001", "twilio_auth_token": "smoke-twilio-auth-token",
                                    "openai_api_key": "sk-smoke-not-a-real-key"}}
              },
              "secrets": ["top-level-declared"],
              "cases": [{"name": "x", "event": {}, "expect": {}}]
            }"#,
            std::path::Path::new("/crate"),
        )
        .unwrap();
        let files = vec![(
            "/v1/chat/completions".to_owned(),
            br#"{"choices":[{"message":{"role":"assistant","content":"It is sunny today in Lisbon."}}]}"#.to_vec(),
        )];
        let secrets = spec_secrets(&spec, &files);
        assert_eq!(
            values(&secrets, SecretKind::StoredSecret),
            ["sk-smoke-not-a-real-key", "smoke-twilio-auth-token"]
        );
        let credentials = values(&secrets, SecretKind::Credential);
        assert!(
            credentials.contains(&"smoke-test-secret".to_owned()),
            "{credentials:?}"
        );
        assert!(
            !credentials.iter().any(|c| c == "smoke-secret-name"),
            "SECRET_ID names a secret"
        );
        assert_eq!(values(&secrets, SecretKind::PhoneNumber), ["+15551234567"]);
        let texts = values(&secrets, SecretKind::MessageText);
        assert!(
            texts.contains(&"what is the weather".to_owned()),
            "{texts:?}"
        );
        assert!(
            texts.contains(&"It is sunny today in Lisbon.".to_owned()),
            "{texts:?}"
        );
        assert_eq!(
            values(&secrets, SecretKind::Declared),
            ["top-level-declared"]
        );
    }

    #[test]
    fn short_values_are_not_searched_and_lines_are_masked() {
        let secrets = case_secrets(&case(
            json!({"headers": {"authorization": "Bearer x1"}, "body": "Hi"}),
        ));
        assert!(values(&secrets, SecretKind::Credential).is_empty());
        assert!(values(&secrets, SecretKind::MessageText).is_empty());
        let found = case_secrets(&case(
            json!({"headers": {"cookie": "access_token=cookie-token-value-123"}}),
        ));
        let line = r#"{"cookie":"access_token=cookie-token-value-123"}"#;
        assert!(find_in(line, &found).is_some());
        assert!(!masked(line, &found).contains("cookie-token-value-123"));
    }

    #[test]
    fn the_report_says_what_was_searched() {
        let report = SecrecyReport {
            cases: 4,
            secrets: vec![(SecretKind::Credential, 3), (SecretKind::PhoneNumber, 1)],
            lines: 120,
        };
        assert_eq!(
            report.to_string(),
            "4 cases re-run with RUST_LOG=trace AWS_LAMBDA_LOG_LEVEL=TRACE; 4 secret values \
             (3 credentials, 1 phone number) searched in 120 output lines: none found"
        );
    }
}
