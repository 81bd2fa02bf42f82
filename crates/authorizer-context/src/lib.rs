//! The authorizer context: the keys our Lambda authorizer writes into
//! API Gateway's `requestContext.authorizer` (flattened by REST, under
//! `lambda` by HTTP API) and the `api-gateway` crate reads back as the
//! caller's identity. Both sides use this crate, so a value is written and
//! parsed by the same rules.
//!
//! REST API allows only strings, numbers and booleans as context values,
//! so lists travel as strings: groups as a JSON array (Cognito group names
//! may contain commas, spaces and brackets; JSON is the one encoding that
//! is unambiguous for all of them), scopes space-separated (OAuth scope
//! tokens cannot contain spaces).

use std::fmt;
use std::str::FromStr;

/// Key: the user's `sub`.
pub const SUB: &str = "sub";
/// Key: the Cognito user name.
pub const USERNAME: &str = "username";
/// Key: the e-mail address, when the token carried one.
pub const EMAIL: &str = "email";
/// Key: `cognito:groups` as a JSON array of strings ([`encode_groups`]).
pub const GROUPS: &str = "groups";
/// Key: OAuth scopes, space-separated.
pub const SCOPES: &str = "scopes";
/// Key: `access` or `id`.
pub const TOKEN_USE: &str = "token_use";
/// Key: which credential the authorizer read ([`CredentialSource`]).
pub const CREDENTIAL: &str = "credential";

/// The one credential the authorizer reads (`CREDENTIAL_SOURCE`), which is
/// also what API Gateway caches its decision on (the identity source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialSource {
    /// The access-token cookie; identity source `method.request.header.Cookie`.
    Cookie,
    /// `Authorization: Bearer`; identity source `method.request.header.Authorization`.
    Authorization,
}

impl CredentialSource {
    /// `cookie` or `authorization`, as configured and as put in the context.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cookie => "cookie",
            Self::Authorization => "authorization",
        }
    }

    /// The request header API Gateway must cache the authorizer's answer
    /// on (REST `identity_source` is `method.request.header.<this>`).
    pub fn header(self) -> &'static str {
        match self {
            Self::Cookie => "Cookie",
            Self::Authorization => "Authorization",
        }
    }

    /// Whether a browser attaches this credential by itself, which makes
    /// the request forgeable cross-site (CSRF): true for the cookie.
    pub fn sent_by_browsers_automatically(self) -> bool {
        self == Self::Cookie
    }
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CredentialSource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cookie" => Ok(Self::Cookie),
            "authorization" => Ok(Self::Authorization),
            _ => Err("expected cookie or authorization".to_owned()),
        }
    }
}

/// Groups as the context carries them: a JSON array of strings.
pub fn encode_groups(groups: &[String]) -> String {
    serde_json::Value::from(groups.to_vec()).to_string()
}

/// Groups back from [`encode_groups`]; `None` for anything that is not a
/// JSON array of strings (the caller then trusts no group at all).
pub fn decode_groups(encoded: &str) -> Option<Vec<String>> {
    match serde_json::from_str::<serde_json::Value>(encoded).ok()? {
        serde_json::Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                serde_json::Value::String(group) => Some(group),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_with_commas_spaces_quotes_and_brackets_round_trip() {
        let groups: Vec<String> = [
            "admin",
            "sales,emea",
            "a b",
            "[admin]",
            "quote\"d",
            "back\\slash",
            "",
            "é",
        ]
        .map(str::to_owned)
        .to_vec();
        let encoded = encode_groups(&groups);
        assert_eq!(decode_groups(&encoded).as_deref(), Some(groups.as_slice()));
        assert_eq!(encode_groups(&[]), "[]");
        assert_eq!(decode_groups("[]"), Some(Vec::new()));
    }

    #[test]
    fn a_comma_joined_or_otherwise_malformed_value_is_no_groups() {
        for bad in [
            "admin,staff",
            "admin",
            "[admin staff]",
            "{}",
            "[1]",
            "[\"a\",null]",
            "",
        ] {
            assert_eq!(decode_groups(bad), None, "{bad}");
        }
    }

    #[test]
    fn credential_sources_parse_strictly() {
        assert_eq!("cookie".parse(), Ok(CredentialSource::Cookie));
        assert_eq!("authorization".parse(), Ok(CredentialSource::Authorization));
        for bad in ["Cookie", "bearer", "both", "", "header"] {
            assert!(bad.parse::<CredentialSource>().is_err(), "{bad}");
        }
        assert_eq!(CredentialSource::Cookie.header(), "Cookie");
        assert!(CredentialSource::Cookie.sent_by_browsers_automatically());
        assert!(!CredentialSource::Authorization.sent_by_browsers_automatically());
    }
}
