//! Test support (feature `test-util`): the committed test-only RSA keys,
//! their JWKs, and helpers that sign Cognito-shaped tokens.
//!
//! The keys in `tests/keys/` protect nothing; they exist so that tests, the
//! benchmark and the authorizer's smoke cases can sign tokens that the
//! verifier accepts when pointed at a JWKS holding them.
#![allow(clippy::expect_used)] // The inputs are the committed test keys.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// PEM of the first test key (kid `test-key-1`).
pub const TEST_KEY_1_PEM: &str = include_str!("../tests/keys/test-key-1.pem");
/// PEM of the second test key (kid `test-key-2`).
pub const TEST_KEY_2_PEM: &str = include_str!("../tests/keys/test-key-2.pem");

/// A test RSA key with its `kid`.
pub struct TestKey {
    /// The kid tokens signed by this key carry.
    pub kid: String,
    /// The PEM the key was read from.
    pub pem: &'static str,
    encoding: EncodingKey,
}

impl TestKey {
    /// The first committed key, kid `test-key-1`.
    pub fn primary() -> Self {
        Self::from_pem("test-key-1", TEST_KEY_1_PEM)
    }

    /// The second committed key, kid `test-key-2`.
    pub fn secondary() -> Self {
        Self::from_pem("test-key-2", TEST_KEY_2_PEM)
    }

    /// A key from a PEM, with the given kid.
    pub fn from_pem(kid: &str, pem: &'static str) -> Self {
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("test key PEM parses");
        Self {
            kid: kid.to_owned(),
            pem,
            encoding,
        }
    }

    /// The public JWK, as Cognito publishes it (kty, kid, alg, use, n, e).
    pub fn jwk(&self) -> Value {
        let jwk = Jwk::from_encoding_key(&self.encoding, Algorithm::RS256)
            .expect("RSA components of the test key");
        let mut value = serde_json::to_value(&jwk).expect("JWK serialises");
        value["kid"] = json!(self.kid);
        value["use"] = json!("sig");
        value
    }

    /// Signs `claims` with RS256 and this key's kid.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        self.sign_with_header(&header, claims)
    }

    /// Signs `claims` with an arbitrary header (alg must be an RSA one).
    pub fn sign_with_header(&self, header: &Header, claims: &Value) -> String {
        jsonwebtoken::encode(header, claims, &self.encoding).expect("signing with the test key")
    }

    /// The raw public modulus, used as an HMAC secret by the
    /// "HS256 signed with the public key" attack.
    pub fn public_jwk_modulus(&self) -> String {
        self.jwk()["n"].as_str().expect("n is a string").to_owned()
    }
}

/// A JWKS document holding `keys`.
pub fn jwks(keys: &[&TestKey]) -> Value {
    json!({ "keys": keys.iter().map(|key| key.jwk()).collect::<Vec<_>>() })
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Valid access-token claims for `issuer` and `client_id`, issued now and
/// expiring in an hour, with two groups and two scopes.
pub fn access_claims(issuer: &str, client_id: &str) -> Value {
    let now = now();
    json!({
        "sub": "11111111-2222-3333-4444-555555555555",
        "iss": issuer,
        "client_id": client_id,
        "origin_jti": "00000000-0000-0000-0000-000000000000",
        "event_id": "00000000-0000-0000-0000-000000000001",
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin openid",
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "jti": "00000000-0000-0000-0000-000000000002",
        "username": "alice",
        "cognito:groups": ["admin", "staff"],
    })
}

/// Valid ID-token claims for `issuer` and `client_id`.
pub fn id_claims(issuer: &str, client_id: &str) -> Value {
    let now = now();
    json!({
        "sub": "11111111-2222-3333-4444-555555555555",
        "iss": issuer,
        "aud": client_id,
        "token_use": "id",
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "cognito:username": "alice",
        "email": "alice@example.com",
        "email_verified": true,
        "cognito:groups": ["admin"],
    })
}

/// A token assembled from raw header and claims JSON with the given
/// signature bytes, for attacks `jsonwebtoken` refuses to produce
/// (`alg: none`, unknown algorithms).
pub fn unsigned_token(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// base64url without padding, for tests that tamper with token parts.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding.
pub fn b64url_decode(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}
