//! The caller, as the Lambda authorizer (or a JWT authorizer) described it.

use std::collections::HashMap;

use authorizer_context::{self as key, CredentialSource};
use aws_lambda_events::apigw::ApiGatewayRequestAuthorizer;
use serde_json::Value;

/// Who is calling. Built only from the authorizer context API Gateway
/// attached after verifying the token; never from client-supplied headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Cognito `sub`: the stable user id.
    pub sub: String,
    /// Cognito user name.
    pub username: Option<String>,
    /// E-mail address, when the token carried one.
    pub email: Option<String>,
    /// `cognito:groups`.
    pub groups: Vec<String>,
    /// OAuth scopes.
    pub scopes: Vec<String>,
    /// `access` or `id`.
    pub token_use: Option<String>,
    /// Which credential the authorizer verified, when it says (our Lambda
    /// authorizer does): a cookie makes a request forgeable cross-site.
    pub credential: Option<CredentialSource>,
}

impl Identity {
    /// Reads the identity from the authorizer context: our Lambda authorizer's
    /// context (REST: flattened fields; HTTP API: `lambda`), or JWT claims
    /// (HTTP API JWT authorizer, REST Cognito authorizer). `None` without a `sub`.
    pub fn from_authorizer(authorizer: &ApiGatewayRequestAuthorizer) -> Option<Self> {
        if let Some(identity) = Self::from_fields(&authorizer.fields) {
            return Some(identity);
        }
        if let Some(Value::Object(claims)) = authorizer.fields.get("claims") {
            let claims: HashMap<String, Value> = claims.clone().into_iter().collect();
            if let Some(identity) = Self::from_fields(&claims) {
                return Some(identity);
            }
        }
        let jwt = authorizer.jwt.as_ref()?;
        let claims: HashMap<String, Value> = jwt
            .claims
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let mut identity = Self::from_fields(&claims)?;
        if identity.scopes.is_empty() {
            identity.scopes = jwt.scopes.clone().unwrap_or_default();
        }
        Some(identity)
    }

    fn from_fields(fields: &HashMap<String, Value>) -> Option<Self> {
        let text = |key: &str| match fields.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let sub = text(key::SUB)?;
        // Our authorizer's `groups` is a JSON array (authorizer-context);
        // anything else there is trusted for no group at all. Cognito's own
        // `cognito:groups` claim arrives in API Gateway's formats.
        let groups = match fields.get(key::GROUPS) {
            Some(Value::String(encoded)) if encoded.is_empty() => Vec::new(),
            Some(Value::String(encoded)) => key::decode_groups(encoded).unwrap_or_else(|| {
                tracing::warn!("authorizer context groups is not a JSON array; no group trusted");
                Vec::new()
            }),
            Some(Value::Array(items)) => strings(items),
            Some(_) => Vec::new(),
            None => claim_list(fields.get("cognito:groups")),
        };
        Some(Self {
            sub,
            username: text(key::USERNAME).or_else(|| text("cognito:username")),
            email: text(key::EMAIL),
            groups,
            scopes: claim_list(fields.get(key::SCOPES).or_else(|| fields.get("scope"))),
            token_use: text(key::TOKEN_USE),
            credential: text(key::CREDENTIAL).and_then(|source| source.parse().ok()),
        })
    }

    /// Whether the caller is in `group`.
    pub fn is_in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

/// The strings of a JSON array.
fn strings(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// A list claim in API Gateway's own formats: a JSON array, or (JWT and
/// Cognito authorizers stringify arrays) `a,b`, `a b` or `[a b]`.
fn claim_list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => strings(items),
        Some(Value::String(text)) => text
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split([',', ' '])
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn authorizer(value: Value) -> ApiGatewayRequestAuthorizer {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn reads_our_lambda_authorizer_context() {
        let auth = authorizer(json!({"lambda": {
            "sub": "abc", "username": "alice", "email": "a@example.com",
            "groups": "[\"admin\",\"staff\"]", "scopes": "openid email", "token_use": "access",
            "credential": "cookie"
        }}));
        let identity = Identity::from_authorizer(&auth).unwrap();
        assert_eq!(identity.sub, "abc");
        assert_eq!(identity.email.as_deref(), Some("a@example.com"));
        assert_eq!(identity.groups, ["admin", "staff"]);
        assert_eq!(identity.scopes, ["openid", "email"]);
        assert!(identity.is_in_group("admin"));
        assert!(!identity.is_in_group("adm"));
        assert_eq!(identity.credential, Some(CredentialSource::Cookie));
    }

    #[test]
    fn group_names_with_commas_are_one_group_each() {
        let groups = authorizer_context::encode_groups(&["sales,admin".into(), "x y".into()]);
        let auth = authorizer(json!({"lambda": {"sub": "abc", "groups": groups}}));
        let identity = Identity::from_authorizer(&auth).unwrap();
        assert_eq!(identity.groups, ["sales,admin", "x y"]);
        assert!(!identity.is_in_group("admin"));
    }

    #[test]
    fn a_comma_joined_groups_value_in_our_context_grants_no_group() {
        // The old format: "sales,admin" could be one group or two.
        let auth = authorizer(json!({"lambda": {"sub": "abc", "groups": "sales,admin"}}));
        let identity = Identity::from_authorizer(&auth).unwrap();
        assert!(identity.groups.is_empty());
        assert!(!identity.is_in_group("admin"));
    }

    #[test]
    fn an_unknown_credential_value_is_no_credential() {
        let auth = authorizer(json!({"lambda": {"sub": "abc", "credential": "magic"}}));
        assert_eq!(Identity::from_authorizer(&auth).unwrap().credential, None);
    }

    #[test]
    fn reads_jwt_authorizer_claims_with_bracketed_groups() {
        let auth = authorizer(json!({"jwt": {
            "claims": {"sub": "xyz", "cognito:username": "bob", "cognito:groups": "[admin users]"},
            "scopes": ["users/read"]
        }}));
        let identity = Identity::from_authorizer(&auth).unwrap();
        assert_eq!(identity.sub, "xyz");
        assert_eq!(identity.username.as_deref(), Some("bob"));
        assert_eq!(identity.groups, ["admin", "users"]);
        assert_eq!(identity.scopes, ["users/read"]);
    }

    #[test]
    fn no_sub_means_no_identity() {
        let auth = authorizer(json!({"lambda": {"username": "ghost", "groups": "admin"}}));
        assert_eq!(Identity::from_authorizer(&auth), None);
        assert_eq!(Identity::from_authorizer(&authorizer(json!({}))), None);
    }
}
