//! The login state: OAuth `state`, the PKCE verifier and the `return_to`
//! path, carried from login to callback in a cookie sealed with
//! HMAC-SHA256 under the secret's `cookie_key`.
//!
//! Cookie value: `base64url(json) "." base64url(hmac(json))`. The payload
//! is readable by the browser that holds it (it is that browser's own
//! login), but any change breaks the MAC. The issue time inside is checked
//! as well as the cookie's `Max-Age`, so a replayed old cookie is refused.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::Error;
use crate::cookies::STATE_MAX_AGE_SECS;

type HmacSha256 = hmac::Hmac<Sha256>;

/// Smallest accepted `cookie_key`, in bytes (the HMAC-SHA256 block strength).
pub const MIN_KEY_BYTES: usize = 32;
/// Clock skew tolerated for an issue time in the future.
const SKEW_SECS: u64 = 5;

/// `n` random bytes from AWS-LC's CSPRNG, base64url without padding.
pub fn random_token(n: usize) -> Result<String, Error> {
    let mut bytes = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| Error::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The S256 PKCE challenge of `verifier` (RFC 7636 4.2).
pub fn code_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether two secrets are equal, in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// What travels from login to callback.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginState {
    /// The OAuth `state` sent to the hosted UI.
    #[serde(rename = "s")]
    pub state: String,
    /// The PKCE code verifier.
    #[serde(rename = "v")]
    pub verifier: String,
    /// Validated path on the app to land on afterwards.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
    /// Issue time, seconds since the Unix epoch.
    #[serde(rename = "t")]
    pub issued_at: u64,
}

impl std::fmt::Debug for LoginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginState")
            .field("return_to", &self.return_to)
            .field("issued_at", &self.issued_at)
            .finish_non_exhaustive()
    }
}

impl LoginState {
    /// A fresh state and verifier (32 random bytes each: 43 characters,
    /// within PKCE's 43..=128).
    pub fn generate(return_to: Option<String>, now: u64) -> Result<Self, Error> {
        Ok(Self {
            state: random_token(32)?,
            verifier: random_token(32)?,
            return_to,
            issued_at: now,
        })
    }
}

/// Why a state cookie was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not our format, or the MAC does not verify.
    Invalid,
    /// Older than [`STATE_MAX_AGE_SECS`].
    Expired,
}

/// Seals and opens state cookies with one key.
pub struct StateSealer {
    mac: HmacSha256,
}

impl std::fmt::Debug for StateSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateSealer([REDACTED])")
    }
}

impl StateSealer {
    /// A sealer for `key`; `None` when the key is shorter than [`MIN_KEY_BYTES`].
    pub fn new(key: &[u8]) -> Option<Self> {
        if key.len() < MIN_KEY_BYTES {
            return None;
        }
        HmacSha256::new_from_slice(key).ok().map(|mac| Self { mac })
    }

    /// The cookie value for `state`.
    pub fn seal(&self, state: &LoginState) -> Result<String, Error> {
        let json = serde_json::to_vec(state)
            .map_err(|err| Error::Internal(format!("serialising the login state: {err}")))?;
        let mut mac = self.mac.clone();
        mac.update(&json);
        Ok(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&json),
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        ))
    }

    /// The state in a cookie value, if the MAC verifies and it is fresh at `now`.
    pub fn open(&self, value: &str, now: u64) -> Result<LoginState, Refusal> {
        let (payload, tag) = value.split_once('.').ok_or(Refusal::Invalid)?;
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| Refusal::Invalid)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| Refusal::Invalid)?;
        let mut mac = self.mac.clone();
        mac.update(&json);
        // `verify_slice` compares in constant time.
        mac.verify_slice(&tag).map_err(|_| Refusal::Invalid)?;
        let state: LoginState = serde_json::from_slice(&json).map_err(|_| Refusal::Invalid)?;
        if state.issued_at > now + SKEW_SECS {
            return Err(Refusal::Invalid);
        }
        if now.saturating_sub(state.issued_at) > STATE_MAX_AGE_SECS {
            return Err(Refusal::Expired);
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8; 32] = b"0123456789abcdef0123456789abcdef";

    fn sample(now: u64) -> LoginState {
        LoginState::generate(Some("/settings?tab=2".into()), now).unwrap()
    }

    #[test]
    fn pkce_challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn random_tokens_are_43_url_safe_characters_and_differ() {
        let a = random_token(32).unwrap();
        let b = random_token(32).unwrap();
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a, b);
    }

    #[test]
    fn sealed_state_opens_with_the_same_key() {
        let sealer = StateSealer::new(KEY).unwrap();
        let state = sample(1_000);
        let sealed = sealer.seal(&state).unwrap();
        assert_eq!(sealer.open(&sealed, 1_000 + 600).unwrap(), state);
    }

    #[test]
    fn rejects_tampered_payload_or_tag_and_other_keys() {
        let sealer = StateSealer::new(KEY).unwrap();
        let sealed = sealer.seal(&sample(1_000)).unwrap();
        let (payload, tag) = sealed.split_once('.').unwrap();
        let mut forged: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        forged["r"] = "https://evil.example".into();
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(forged.to_string()));
        assert_eq!(sealer.open(&forged, 1_000), Err(Refusal::Invalid));
        let mut bad_tag = tag.to_owned();
        bad_tag.replace_range(0..1, if tag.starts_with('A') { "B" } else { "A" });
        assert_eq!(
            sealer.open(&format!("{payload}.{bad_tag}"), 1_000),
            Err(Refusal::Invalid)
        );
        let other = StateSealer::new(b"another-key-of-32-bytes-or-more!!").unwrap();
        assert_eq!(other.open(&sealed, 1_000), Err(Refusal::Invalid));
        for junk in ["", "abc", "a.b", "...", "%%.%%"] {
            assert_eq!(sealer.open(junk, 1_000), Err(Refusal::Invalid));
        }
    }

    #[test]
    fn states_older_than_ten_minutes_or_from_the_future_are_refused() {
        let sealer = StateSealer::new(KEY).unwrap();
        let sealed = sealer.seal(&sample(1_000)).unwrap();
        assert_eq!(sealer.open(&sealed, 1_601), Err(Refusal::Expired));
        assert_eq!(sealer.open(&sealed, 900), Err(Refusal::Invalid));
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(StateSealer::new(&KEY[..31]).is_none());
    }

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }

    #[test]
    fn debug_never_shows_state_or_verifier() {
        let state = sample(1);
        let debug = format!("{state:?}");
        assert!(!debug.contains(&state.state) && !debug.contains(&state.verifier));
    }
}
