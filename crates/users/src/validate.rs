//! Syntax rules for the fields a client may send; each rule has its own
//! error so that the web app can point at the offending input. The profile
//! field rules themselves live in `user_record::rules`, shared with auth.

use crate::Error;

use user_record::rules;

/// Longest accepted display name, in characters, after trimming.
pub const MAX_NAME_CHARS: usize = rules::MAX_NAME_CHARS;
/// Longest accepted user id (Cognito subs are 36 characters).
pub const MAX_USER_ID_CHARS: usize = 128;

/// A display name: [`user_record::rules::name`].
pub fn name(raw: &str) -> Result<String, Error> {
    rules::name(raw).map_err(Error::InvalidName)
}

/// A phone number in strict E.164: [`user_record::rules::phone`].
pub fn phone(raw: &str) -> Result<String, Error> {
    rules::phone(raw).map_err(Error::InvalidPhone)
}

/// An email address: [`user_record::rules::email`].
pub fn email(raw: &str) -> Result<String, Error> {
    rules::email(raw).map_err(Error::InvalidEmail)
}

/// A user id (the Cognito `sub`): 1..=128 characters from a URL-safe set,
/// so it can appear in a path without escaping.
pub fn user_id(raw: &str) -> Result<String, Error> {
    let ok = !raw.is_empty()
        && raw.len() <= MAX_USER_ID_CHARS
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:@+".contains(&b));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(Error::InvalidUserId(format!(
            "user id must be 1..={MAX_USER_ID_CHARS} characters of A-Z a-z 0-9 - _ . : @ +"
        )))
    }
}

/// The `limit` query parameter of the list route: 1..=100, default 25.
pub fn limit(raw: Option<&str>) -> Result<i32, Error> {
    const DEFAULT: i32 = 25;
    let Some(raw) = raw else { return Ok(DEFAULT) };
    match raw.trim().parse::<i32>() {
        Ok(n) if (1..=100).contains(&n) => Ok(n),
        _ => Err(Error::InvalidLimit(format!(
            "limit must be a whole number from 1 to 100, got {:?}",
            truncate(raw, 16)
        ))),
    }
}

/// The version a client read, from an `If-Match` header: `"3"`, `W/"3"` or
/// `3`. A list or `*` is refused: an update must name the one version it
/// was computed from.
pub fn if_match(raw: &str) -> Result<u64, Error> {
    let tag = raw.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    let tag = tag
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(tag);
    version_number(tag).ok_or_else(|| {
        Error::InvalidVersion(format!(
            "If-Match must be the ETag of the profile you read, such as \"3\", got {:?}",
            truncate(raw, 32)
        ))
    })
}

/// A version from a JSON body field: a positive integer.
pub fn version_value(value: &serde_json::Value) -> Result<u64, Error> {
    value
        .as_u64()
        .filter(|v| *v >= 1)
        .ok_or_else(|| Error::InvalidVersion("version must be a positive integer".into()))
}

fn version_number(raw: &str) -> Option<u64> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok().filter(|v| *v >= 1)
}

/// At most `max` characters of client input, for error messages.
pub(crate) fn truncate(raw: &str, max: usize) -> String {
    raw.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(result: Result<impl std::fmt::Debug, Error>) -> &'static str {
        result.unwrap_err().code()
    }

    #[test]
    fn the_shared_field_rules_answer_with_their_own_codes() {
        // The rules themselves are tested in user_record::rules.
        assert_eq!(name("  Ada ").unwrap(), "Ada");
        assert_eq!(code(name("")), "invalid_name");
        assert_eq!(phone("+14155550123").unwrap(), "+14155550123");
        assert_eq!(code(phone("555-0123")), "invalid_phone");
        assert_eq!(email(" x@y.io ").unwrap(), "x@y.io");
        assert_eq!(code(email("plain")), "invalid_email");
    }

    #[test]
    fn user_id_allows_cognito_subs_and_rejects_path_characters() {
        assert!(user_id("3f1c6a2e-8d4b-4c1e-9a7f-2b5d8e0c1a34").is_ok());
        for bad in ["", "a/b", "a b", "ü", &"a".repeat(129)] {
            assert_eq!(code(user_id(bad)), "invalid_user_id", "{bad}");
        }
    }

    #[test]
    fn limit_defaults_to_25_and_must_be_between_1_and_100() {
        assert_eq!(limit(None).unwrap(), 25);
        assert_eq!(limit(Some("1")).unwrap(), 1);
        assert_eq!(limit(Some("100")).unwrap(), 100);
        for bad in ["0", "101", "-1", "ten", "", "2.5"] {
            assert_eq!(code(limit(Some(bad))), "invalid_limit", "{bad}");
        }
    }

    #[test]
    fn if_match_accepts_strong_weak_and_bare_versions() {
        assert_eq!(if_match("\"3\"").unwrap(), 3);
        assert_eq!(if_match("W/\"12\"").unwrap(), 12);
        assert_eq!(if_match(" 7 ").unwrap(), 7);
        for bad in ["*", "\"0\"", "\"abc\"", "\"1\", \"2\"", "", "-1"] {
            assert_eq!(code(if_match(bad)), "invalid_version", "{bad}");
        }
    }

    #[test]
    fn body_version_must_be_a_positive_integer() {
        assert_eq!(version_value(&serde_json::json!(4)).unwrap(), 4);
        for bad in [
            serde_json::json!(0),
            serde_json::json!(-2),
            serde_json::json!(1.5),
            serde_json::json!("3"),
            serde_json::Value::Null,
        ] {
            assert_eq!(code(version_value(&bad)), "invalid_version", "{bad}");
        }
    }
}
