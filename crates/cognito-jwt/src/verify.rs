//! Token verification and the claims it yields.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use crate::{Error, JwksCache, TokenUse, VerifierConfig};

/// Tokens longer than this are refused without being parsed; Cognito's are
/// 1–2 KiB even with many groups.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// What a verified token says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The user's stable id (`sub`).
    pub sub: String,
    /// `username` (access tokens) or `cognito:username` (ID tokens).
    pub username: String,
    /// `email`, present in ID tokens only.
    pub email: Option<String>,
    /// `cognito:groups`, empty when the user is in none.
    pub groups: Vec<String>,
    /// OAuth scopes (`scope`, space-separated in access tokens).
    pub scopes: Vec<String>,
    /// Which kind of token this was.
    pub token_use: TokenUse,
    /// The app client the token was issued to.
    pub client_id: String,
    /// `exp`, seconds since the Unix epoch.
    pub expires_at: u64,
}

/// Verifies Cognito tokens against one user pool's keys and rules.
#[derive(Debug)]
pub struct Verifier {
    config: VerifierConfig,
    jwks: JwksCache,
    validation: Validation,
}

#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    kid: Option<String>,
}

#[derive(Deserialize)]
struct RawClaims {
    // Optional here so that a missing claim is reported by name (by
    // jsonwebtoken's required-claims check) instead of as a parse error.
    sub: Option<String>,
    iat: Option<u64>,
    exp: Option<u64>,
    token_use: Option<String>,
    client_id: Option<String>,
    aud: Option<String>,
    username: Option<String>,
    #[serde(rename = "cognito:username")]
    cognito_username: Option<String>,
    email: Option<String>,
    #[serde(rename = "cognito:groups", default)]
    groups: Vec<String>,
    scope: Option<String>,
}

impl Verifier {
    /// A verifier with an empty key cache; keys are fetched on first use
    /// or by [`Verifier::prefetch`].
    pub fn new(config: VerifierConfig) -> Result<Self, Error> {
        let jwks = JwksCache::new(config.jwks_url.clone(), config.refetch_interval)?;
        Ok(Self::with_jwks(config, jwks))
    }

    /// [`Verifier::new`], fetching the JWKS with `client` (a function that
    /// makes other HTTP calls shares its client: one TLS root store load
    /// at start-up instead of two).
    pub fn with_http_client(config: VerifierConfig, client: reqwest::Client) -> Self {
        let jwks = JwksCache::with_client(config.jwks_url.clone(), config.refetch_interval, client);
        Self::with_jwks(config, jwks)
    }

    fn with_jwks(config: VerifierConfig, jwks: JwksCache) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = config.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        // Cognito access tokens carry no `aud`; the app client is checked
        // below for both kinds of token.
        validation.validate_aud = false;
        validation.set_issuer(&[config.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        Self {
            config,
            jwks,
            validation,
        }
    }

    /// The configuration this verifier enforces.
    pub fn config(&self) -> &VerifierConfig {
        &self.config
    }

    /// The key cache, e.g. to inspect it in tests.
    pub fn jwks(&self) -> &JwksCache {
        &self.jwks
    }

    /// Loads the keys now, e.g. during the function's init phase, so the
    /// first request does not pay for the fetch. A failure is not fatal:
    /// the next unknown `kid` after the refetch interval tries again.
    pub async fn prefetch(&self) -> Result<usize, Error> {
        self.jwks.refresh().await
    }

    /// Verifies `token` (the bare JWT, without `Bearer `) and returns its
    /// claims. Every check must pass; the first failure is returned.
    pub async fn verify(&self, token: &str) -> Result<Claims, Error> {
        if token.is_empty() {
            return Err(Error::Empty);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Error::TooLong {
                len: token.len(),
                max: MAX_TOKEN_BYTES,
            });
        }
        let (header, empty_part) = parse_header(token)?;
        // The algorithm is fixed by us, never chosen by the token: checking
        // it before the key lookup stops `none`/HS256-with-public-key tricks
        // and keeps forged headers from triggering JWKS fetches.
        match header.alg.as_deref() {
            Some("RS256") => {}
            Some(other) => return Err(Error::AlgorithmNotAllowed(other.to_owned())),
            None => return Err(Error::AlgorithmNotAllowed(String::new())),
        }
        if empty_part {
            return Err(Error::Malformed("empty part"));
        }
        let kid = header.kid.ok_or(Error::MissingKid)?;
        let key = self.jwks.key(&kid).await?;
        let data = jsonwebtoken::decode::<RawClaims>(token, &key, &self.validation)
            .map_err(map_jwt_error)?;
        self.check_claims(data.claims, now_secs())
    }

    fn check_claims(&self, raw: RawClaims, now: u64) -> Result<Claims, Error> {
        let leeway = self.config.leeway.as_secs();
        let sub = raw
            .sub
            .ok_or_else(|| Error::InvalidClaim("sub".to_owned()))?;
        let exp = raw
            .exp
            .ok_or_else(|| Error::InvalidClaim("exp".to_owned()))?;
        let iat = raw
            .iat
            .ok_or_else(|| Error::InvalidClaim("iat".to_owned()))?;
        if iat > now.saturating_add(leeway) {
            return Err(Error::IssuedInFuture);
        }
        let expected = self.config.token_use;
        if raw.token_use.as_deref() != Some(expected.as_str()) {
            return Err(Error::WrongTokenUse {
                found: raw.token_use.unwrap_or_default(),
                expected: expected.as_str(),
            });
        }
        let client_id = match expected {
            TokenUse::Access => raw.client_id,
            TokenUse::Id => raw.aud,
        }
        .ok_or(Error::WrongClient)?;
        if !self.config.client_ids.contains(&client_id) {
            return Err(Error::WrongClient);
        }
        let username = match expected {
            TokenUse::Access => raw.username,
            TokenUse::Id => raw.cognito_username,
        }
        .unwrap_or_else(|| sub.clone());
        let scopes = raw
            .scope
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        Ok(Claims {
            sub,
            username,
            email: raw.email,
            groups: raw.groups,
            scopes,
            token_use: expected,
            client_id,
            expires_at: exp,
        })
    }
}

fn now_secs() -> u64 {
    // A clock before 1970 would make every token look issued in the future,
    // which denies: the safe direction.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// The header, and whether the payload or signature part is empty (checked
/// after the algorithm so that `alg: none` tokens are reported as such).
fn parse_header(token: &str) -> Result<(Header, bool), Error> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Malformed("expected three dot-separated parts"));
    };
    if header.is_empty() {
        return Err(Error::Malformed("empty header"));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| Error::Malformed("header is not base64url"))?;
    let header: Header = serde_json::from_slice(&bytes)
        .map_err(|_| Error::Malformed("header is not a JSON object"))?;
    Ok((header, payload.is_empty() || signature.is_empty()))
}

fn map_jwt_error(err: jsonwebtoken::errors::Error) -> Error {
    match err.kind() {
        ErrorKind::InvalidSignature => Error::BadSignature,
        ErrorKind::ExpiredSignature => Error::Expired,
        ErrorKind::ImmatureSignature => Error::NotYetValid,
        ErrorKind::InvalidIssuer => Error::WrongIssuer,
        ErrorKind::InvalidAlgorithm => Error::AlgorithmNotAllowed("RS256 expected".to_owned()),
        ErrorKind::MissingRequiredClaim(claim) | ErrorKind::InvalidClaimFormat(claim) => {
            Error::InvalidClaim(claim.clone())
        }
        ErrorKind::Base64(_) | ErrorKind::Utf8(_) | ErrorKind::InvalidToken => {
            Error::Malformed("undecodable part")
        }
        ErrorKind::Json(_) => Error::Malformed("claims are missing or of the wrong type"),
        _ => Error::Rejected(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier(token_use: TokenUse) -> Verifier {
        let mut config =
            VerifierConfig::for_user_pool("eu-west-1", "eu-west-1_Pool1", vec!["client1".into()]);
        config.token_use = token_use;
        Verifier::new(config).unwrap()
    }

    fn raw(token_use: &str) -> RawClaims {
        RawClaims {
            sub: Some("sub-1".into()),
            iat: Some(1_000),
            exp: Some(5_000),
            token_use: Some(token_use.into()),
            client_id: Some("client1".into()),
            aud: Some("client1".into()),
            username: Some("alice".into()),
            cognito_username: Some("alice-id".into()),
            email: Some("alice@example.com".into()),
            groups: vec!["admin".into(), "staff".into()],
            scope: Some("openid  profile".into()),
        }
    }

    #[test]
    fn access_claims_carry_username_scopes_and_groups() {
        let claims = verifier(TokenUse::Access)
            .check_claims(raw("access"), 1_000)
            .unwrap();
        assert_eq!(claims.username, "alice");
        assert_eq!(claims.scopes, vec!["openid", "profile"]);
        assert_eq!(claims.groups, vec!["admin", "staff"]);
        assert_eq!(claims.client_id, "client1");
        assert_eq!(claims.expires_at, 5_000);
    }

    #[test]
    fn id_claims_take_the_client_from_aud_and_the_cognito_username() {
        let mut claims = raw("id");
        claims.client_id = None;
        let claims = verifier(TokenUse::Id).check_claims(claims, 1_000).unwrap();
        assert_eq!(claims.username, "alice-id");
        assert_eq!(claims.client_id, "client1");
        assert_eq!(claims.email.as_deref(), Some("alice@example.com"));
    }

    #[test]
    fn iat_within_the_leeway_is_accepted_and_beyond_it_refused() {
        let v = verifier(TokenUse::Access);
        assert!(v.check_claims(raw("access"), 1_000 - 10).is_ok());
        assert!(matches!(
            v.check_claims(raw("access"), 1_000 - 11),
            Err(Error::IssuedInFuture)
        ));
    }

    #[test]
    fn missing_iat_is_refused() {
        let mut claims = raw("access");
        claims.iat = None;
        assert!(matches!(
            verifier(TokenUse::Access).check_claims(claims, 1_000),
            Err(Error::InvalidClaim(_))
        ));
    }

    #[test]
    fn access_token_without_client_id_is_refused_even_with_a_matching_aud() {
        let mut claims = raw("access");
        claims.client_id = None;
        assert!(matches!(
            verifier(TokenUse::Access).check_claims(claims, 1_000),
            Err(Error::WrongClient)
        ));
    }

    #[test]
    fn missing_token_use_is_refused() {
        let mut claims = raw("access");
        claims.token_use = None;
        assert!(matches!(
            verifier(TokenUse::Access).check_claims(claims, 1_000),
            Err(Error::WrongTokenUse { .. })
        ));
    }

    #[test]
    fn header_parsing_requires_three_parts_and_a_header() {
        for token in ["a.b", "a.b.c.d", "...", ".b.c", "abc"] {
            assert!(
                matches!(parse_header(token), Err(Error::Malformed(_))),
                "{token}"
            );
        }
    }
}
