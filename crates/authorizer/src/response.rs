//! What the authorizer answers when it allows a request.
//!
//! Only allowing responses exist here, and each is built from verified
//! [`Claims`]: a denial is never a response but the `Unauthorized` error
//! (REST) or `isAuthorized: false` (HTTP API), so no code path can turn a
//! failed verification into an `Allow`.

use std::collections::BTreeMap;

use authorizer_context as key;
use cognito_jwt::Claims;
use serde::Serialize;

use crate::Deny;
use crate::config::CredentialSource;

/// The authorizer context passed to the backend functions (flattened into
/// `requestContext.authorizer` by REST, under `.lambda` by HTTP API), in
/// the `authorizer-context` format the `api-gateway` crate's `Identity`
/// reads back: REST allows only string, number or boolean values, so
/// groups travel as a JSON array and scopes space-separated.
pub(crate) fn context(claims: &Claims, source: CredentialSource) -> BTreeMap<&'static str, String> {
    let mut context = BTreeMap::new();
    context.insert(key::SUB, claims.sub.clone());
    context.insert(key::USERNAME, claims.username.clone());
    if let Some(email) = &claims.email {
        context.insert(key::EMAIL, email.clone());
    }
    context.insert(key::GROUPS, key::encode_groups(&claims.groups));
    context.insert(key::SCOPES, claims.scopes.join(" "));
    context.insert(key::TOKEN_USE, claims.token_use.as_str().to_owned());
    context.insert(key::CREDENTIAL, source.as_str().to_owned());
    context
}

/// REST API answer: an IAM policy allowing every method and path of the
/// stage, so API Gateway's authorizer cache can serve other routes too.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyResponse {
    principal_id: String,
    policy_document: PolicyDocument,
    context: BTreeMap<&'static str, String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyDocument {
    version: &'static str,
    statement: [Statement; 1],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Statement {
    action: &'static str,
    effect: &'static str,
    resource: [String; 1],
}

impl PolicyResponse {
    /// Allows `claims.sub` on every route of the stage `method_arn` is in.
    pub(crate) fn allow(
        claims: &Claims,
        source: CredentialSource,
        method_arn: &str,
    ) -> Result<Self, Deny> {
        Ok(Self {
            principal_id: claims.sub.clone(),
            policy_document: PolicyDocument {
                version: "2012-10-17",
                statement: [Statement {
                    action: "execute-api:Invoke",
                    effect: "Allow",
                    resource: [stage_wildcard(method_arn)?],
                }],
            },
            context: context(claims, source),
        })
    }
}

/// HTTP API simple response.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimpleResponse {
    is_authorized: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    context: BTreeMap<&'static str, String>,
}

impl SimpleResponse {
    /// Authorized, with the caller's claims as context.
    pub(crate) fn allow(claims: &Claims, source: CredentialSource) -> Self {
        Self {
            is_authorized: true,
            context: context(claims, source),
        }
    }

    /// Not authorized; HTTP API answers 403 without calling the route.
    pub(crate) fn deny() -> Self {
        Self {
            is_authorized: false,
            context: BTreeMap::new(),
        }
    }
}

/// `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{method}/{path}`
/// becomes `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/*/*`.
pub(crate) fn stage_wildcard(method_arn: &str) -> Result<String, Deny> {
    let bad = || Deny::BadMethodArn;
    let mut fields = method_arn.splitn(6, ':');
    let (
        Some("arn"),
        Some(partition),
        Some("execute-api"),
        Some(region),
        Some(account),
        Some(rest),
    ) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    )
    else {
        return Err(bad());
    };
    let mut path = rest.split('/');
    let (Some(api_id), Some(stage)) = (path.next(), path.next()) else {
        return Err(bad());
    };
    let plain = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'$')
    };
    if ![partition, region, account, api_id, stage]
        .into_iter()
        .all(plain)
    {
        return Err(bad());
    }
    Ok(format!(
        "arn:{partition}:execute-api:{region}:{account}:{api_id}/{stage}/*/*"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_covers_every_method_and_path_of_the_stage() {
        assert_eq!(
            stage_wildcard("arn:aws:execute-api:eu-west-1:123456789012:a1b2c3/prod/GET/users/me")
                .unwrap(),
            "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3/prod/*/*"
        );
        assert_eq!(
            stage_wildcard("arn:aws-cn:execute-api:cn-north-1:123456789012:a1b2c3/$default/POST/")
                .unwrap(),
            "arn:aws-cn:execute-api:cn-north-1:123456789012:a1b2c3/$default/*/*"
        );
    }

    #[test]
    fn malformed_method_arns_are_refused() {
        for arn in [
            "",
            "arn:aws:lambda:eu-west-1:123456789012:function/x",
            "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3",
            "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3/",
            "arn:aws:execute-api:eu-west-1:123456789012:*/prod/GET/x",
            "arn:aws:execute-api:eu-west-1::a1b2c3/prod/GET/x",
            "not an arn",
        ] {
            assert!(
                matches!(stage_wildcard(arn), Err(Deny::BadMethodArn)),
                "{arn}"
            );
        }
    }
}
