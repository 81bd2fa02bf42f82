//! Token verification and the claims it yields.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

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
    /// `name`, else `given_name family_name`, present in ID tokens only;
    /// as the identity provider sent it (callers apply their own rules).
    pub name: Option<String>,
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
        // below for both kinds of token. `iss` too is compared here, not by
        // jsonwebtoken, which accepts an array overlapping the expected
        // issuer (and ignores an `iss` it cannot parse).
        validation.validate_aud = false;
        validation.iss = None;
        validation.set_required_spec_claims(&["exp"]);
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
            Some(other) => {
                return Err(Error::AlgorithmNotAllowed(lambda_logging::excerpt(
                    other,
                    EXCERPT_CHARS,
                )));
            }
            None => return Err(Error::AlgorithmNotAllowed(String::new())),
        }
        if empty_part {
            return Err(Error::Malformed("empty part"));
        }
        let kid = header.kid.ok_or(Error::MissingKid)?;
        let key = self.jwks.key(&kid).await?;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &self.validation)
            .map_err(map_jwt_error)?;
        self.check_claims(&RawClaims(data.claims), now_secs())
    }

    /// Every claim is read with its exact JSON type: a string claim given
    /// as an array, a number or `null` is refused, never coerced.
    fn check_claims(&self, raw: &RawClaims, now: u64) -> Result<Claims, Error> {
        let leeway = self.config.leeway.as_secs();
        let sub = raw
            .string("sub")?
            .filter(|sub| !sub.is_empty())
            .ok_or_else(|| Error::InvalidClaim("sub".to_owned()))?;
        let iss = raw
            .string("iss")?
            .ok_or_else(|| Error::InvalidClaim("iss".to_owned()))?;
        if iss != self.config.issuer {
            return Err(Error::WrongIssuer);
        }
        let exp = raw
            .number("exp")?
            .ok_or_else(|| Error::InvalidClaim("exp".to_owned()))?;
        let iat = raw
            .number("iat")?
            .ok_or_else(|| Error::InvalidClaim("iat".to_owned()))?;
        if iat > now.saturating_add(leeway) {
            return Err(Error::IssuedInFuture);
        }
        let expected = self.config.token_use;
        match raw.string("token_use")? {
            Some(found) if found == expected.as_str() => {}
            found => {
                return Err(Error::WrongTokenUse {
                    found: lambda_logging::excerpt(found.unwrap_or_default(), EXCERPT_CHARS),
                    expected: expected.as_str(),
                });
            }
        }
        let (client_claim, username_claim) = match expected {
            TokenUse::Access => ("client_id", "username"),
            TokenUse::Id => ("aud", "cognito:username"),
        };
        let client_id = raw.string(client_claim)?.ok_or(Error::WrongClient)?;
        if !self.config.client_ids.iter().any(|id| id == client_id) {
            return Err(Error::WrongClient);
        }
        let username = raw.string(username_claim)?.unwrap_or(sub);
        let scopes = raw
            .string("scope")?
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let name = match raw.string("name")? {
            Some(name) => Some(name.to_owned()),
            None => {
                let parts: Vec<&str> = [raw.string("given_name")?, raw.string("family_name")?]
                    .into_iter()
                    .flatten()
                    .map(str::trim)
                    .filter(|part| !part.is_empty())
                    .collect();
                (!parts.is_empty()).then(|| parts.join(" "))
            }
        };
        Ok(Claims {
            sub: sub.to_owned(),
            username: username.to_owned(),
            email: raw.string("email")?.map(str::to_owned),
            name,
            groups: raw.strings("cognito:groups")?,
            scopes,
            token_use: expected,
            client_id: client_id.to_owned(),
            expires_at: exp,
        })
    }
}

/// How much of an attacker-chosen header or claim value an error keeps.
pub(crate) const EXCERPT_CHARS: usize = 32;

/// The verified payload, read claim by claim with strict types.
struct RawClaims(Map<String, Value>);

impl RawClaims {
    /// A string claim: `None` when absent; any other JSON type (`null`
    /// included) is an invalid claim.
    fn string(&self, name: &str) -> Result<Option<&str>, Error> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::String(value)) => Ok(Some(value)),
            Some(_) => Err(Error::InvalidClaim(name.to_owned())),
        }
    }

    /// A non-negative integer claim (a NumericDate).
    fn number(&self, name: &str) -> Result<Option<u64>, Error> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::Number(value)) => value
                .as_u64()
                .map(Some)
                .ok_or_else(|| Error::InvalidClaim(name.to_owned())),
            Some(_) => Err(Error::InvalidClaim(name.to_owned())),
        }
    }

    /// An array-of-strings claim; empty when absent.
    fn strings(&self, name: &str) -> Result<Vec<String>, Error> {
        match self.0.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(value) => Ok(value.clone()),
                    _ => Err(Error::InvalidClaim(name.to_owned())),
                })
                .collect(),
            Some(_) => Err(Error::InvalidClaim(name.to_owned())),
        }
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
        _ => Error::Rejected(lambda_logging::excerpt(&err.to_string(), 2 * EXCERPT_CHARS)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool1";

    fn verifier(token_use: TokenUse) -> Verifier {
        let mut config =
            VerifierConfig::for_user_pool("eu-west-1", "eu-west-1_Pool1", vec!["client1".into()]);
        config.token_use = token_use;
        Verifier::new(config).unwrap()
    }

    fn raw(token_use: &str) -> Value {
        json!({
            "sub": "sub-1",
            "iss": ISSUER,
            "iat": 1_000,
            "exp": 5_000,
            "token_use": token_use,
            "client_id": "client1",
            "aud": "client1",
            "username": "alice",
            "cognito:username": "alice-id",
            "email": "alice@example.com",
            "given_name": "Alice",
            "family_name": "Liddell",
            "cognito:groups": ["admin", "staff"],
            "scope": "openid  profile",
        })
    }

    fn check(token_use: TokenUse, claims: Value, now: u64) -> Result<Claims, Error> {
        let Value::Object(map) = claims else {
            panic!("claims must be an object")
        };
        verifier(token_use).check_claims(&RawClaims(map), now)
    }

    #[test]
    fn access_claims_carry_username_scopes_and_groups() {
        let claims = check(TokenUse::Access, raw("access"), 1_000).unwrap();
        assert_eq!(claims.username, "alice");
        assert_eq!(claims.scopes, vec!["openid", "profile"]);
        assert_eq!(claims.groups, vec!["admin", "staff"]);
        assert_eq!(claims.client_id, "client1");
        assert_eq!(claims.expires_at, 5_000);
    }

    #[test]
    fn id_claims_take_the_client_from_aud_and_the_cognito_username() {
        let mut claims = raw("id");
        claims.as_object_mut().unwrap().remove("client_id");
        let claims = check(TokenUse::Id, claims, 1_000).unwrap();
        assert_eq!(claims.username, "alice-id");
        assert_eq!(claims.client_id, "client1");
        assert_eq!(claims.email.as_deref(), Some("alice@example.com"));
        assert_eq!(claims.name.as_deref(), Some("Alice Liddell"));
    }

    #[test]
    fn name_wins_over_given_and_family_name() {
        let mut claims = raw("id");
        claims["name"] = json!("Ada");
        assert_eq!(
            check(TokenUse::Id, claims, 1_000).unwrap().name.as_deref(),
            Some("Ada")
        );
    }

    #[test]
    fn iat_within_the_leeway_is_accepted_and_beyond_it_refused() {
        assert!(check(TokenUse::Access, raw("access"), 1_000 - 10).is_ok());
        assert!(matches!(
            check(TokenUse::Access, raw("access"), 1_000 - 11),
            Err(Error::IssuedInFuture)
        ));
    }

    #[test]
    fn missing_iat_is_refused() {
        let mut claims = raw("access");
        claims.as_object_mut().unwrap().remove("iat");
        assert!(matches!(
            check(TokenUse::Access, claims, 1_000),
            Err(Error::InvalidClaim(_))
        ));
    }

    #[test]
    fn access_token_without_client_id_is_refused_even_with_a_matching_aud() {
        let mut claims = raw("access");
        claims.as_object_mut().unwrap().remove("client_id");
        assert!(matches!(
            check(TokenUse::Access, claims, 1_000),
            Err(Error::WrongClient)
        ));
    }

    #[test]
    fn missing_token_use_is_refused() {
        let mut claims = raw("access");
        claims.as_object_mut().unwrap().remove("token_use");
        assert!(matches!(
            check(TokenUse::Access, claims, 1_000),
            Err(Error::WrongTokenUse { .. })
        ));
    }

    #[test]
    fn every_claim_must_have_its_exact_json_type() {
        let cases: [(TokenUse, &str, Value); 14] = [
            (TokenUse::Access, "iss", json!([ISSUER])),
            (
                TokenUse::Access,
                "iss",
                json!(["https://evil.example", ISSUER]),
            ),
            (TokenUse::Access, "iss", Value::Null),
            (TokenUse::Access, "iss", json!(7)),
            (TokenUse::Access, "client_id", json!(["client1"])),
            (TokenUse::Access, "client_id", json!(1)),
            (TokenUse::Access, "client_id", Value::Null),
            (TokenUse::Access, "token_use", json!(["access"])),
            (TokenUse::Access, "token_use", Value::Null),
            (TokenUse::Id, "aud", json!(["client1"])),
            (TokenUse::Id, "aud", json!(["client1", "other"])),
            (TokenUse::Id, "aud", Value::Null),
            (TokenUse::Access, "cognito:groups", json!("admin")),
            (TokenUse::Access, "sub", json!(42)),
        ];
        for (token_use, claim, value) in cases {
            let mut claims = raw(token_use.as_str());
            claims[claim] = value.clone();
            let result = check(token_use, claims, 1_000);
            assert!(result.is_err(), "{claim} = {value} was accepted");
        }
    }

    #[test]
    fn long_attacker_strings_are_cut_in_errors() {
        let mut claims = raw("access");
        claims["token_use"] = json!("x".repeat(8000));
        let err = check(TokenUse::Access, claims, 1_000).unwrap_err();
        assert!(err.to_string().len() < 200, "{err}");
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
