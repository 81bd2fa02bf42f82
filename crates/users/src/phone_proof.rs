//! Proving that a user owns a phone number before it is claimed: a
//! six-digit code texted to the number through Twilio (the provider the sms
//! function already answers through), checked within a few minutes with a
//! bounded number of attempts.
//!
//! - The code is drawn from the system CSPRNG; only its HMAC (keyed with
//!   `CURSOR_SECRET` under a context of its own, bound to the user, the
//!   challenge and the number) is stored, so a reader of the table cannot
//!   recover it.
//! - A code expires after `PHONE_CODE_TTL_SECONDS` (5 minutes by default)
//!   and dies after [`MAX_ATTEMPTS`] wrong tries; a new code can be asked
//!   for after [`RESEND_AFTER`], at most [`MAX_SENDS_PER_WINDOW`] per
//!   [`SEND_WINDOW`] and user (SMS costs money and can be aimed at a
//!   victim's phone).
//! - The pending challenge lives in the user's own item (the
//!   `phone_code_*` attributes of `user_record::attr`), so every change is
//!   a conditional write on that item.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use sha2::Sha256;
use user_record::attr;

use crate::Error;

type HmacSha256 = hmac::Hmac<Sha256>;

/// Wrong codes a challenge survives; the last one ends it.
pub const MAX_ATTEMPTS: u32 = 5;
/// The least time between two codes for one user.
pub const RESEND_AFTER: Duration = Duration::from_secs(60);
/// Codes one user may ask for per [`SEND_WINDOW`].
pub const MAX_SENDS_PER_WINDOW: u32 = 5;
/// The window of [`MAX_SENDS_PER_WINDOW`].
pub const SEND_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Default lifetime of a code.
pub const DEFAULT_CODE_TTL_SECS: u64 = 300;

const CONTEXT: &[u8] = b"lambda-forge/users/phone-code\0";

/// Makes and checks the MACs of codes.
#[derive(Clone)]
pub struct CodeSigner {
    keyed: HmacSha256,
}

impl std::fmt::Debug for CodeSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeSigner([REDACTED])")
    }
}

impl CodeSigner {
    /// A signer over `key` (the cursor key: the context string keeps the
    /// two uses apart). `None` for a key under 32 bytes.
    pub fn new(key: &[u8]) -> Option<Self> {
        if key.len() < crate::cursor::MIN_KEY_BYTES {
            return None;
        }
        let mut keyed = HmacSha256::new_from_slice(key).ok()?;
        keyed.update(CONTEXT);
        Some(Self { keyed })
    }

    fn mac(&self, user_id: &str, challenge_id: &str, phone: &str, code: &str) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        for part in [user_id, challenge_id, phone, code] {
            mac.update(part.as_bytes());
            mac.update(b"\0");
        }
        mac
    }

    /// The stored form of `code` for this user, challenge and number.
    pub fn seal(&self, user_id: &str, challenge_id: &str, phone: &str, code: &str) -> String {
        let tag = self
            .mac(user_id, challenge_id, phone, code)
            .finalize()
            .into_bytes();
        URL_SAFE_NO_PAD.encode(tag)
    }

    /// Whether `code` is the one `challenge` was sealed with (constant time).
    pub fn verify(&self, user_id: &str, challenge: &Challenge, code: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(&challenge.mac) else {
            return false;
        };
        self.mac(user_id, &challenge.id, &challenge.phone, code)
            .verify_slice(&tag)
            .is_ok()
    }
}

/// A fresh six-digit code and a challenge id, from the system CSPRNG.
pub fn new_code() -> Result<(String, String), Error> {
    let random = |bytes: &mut [u8]| {
        aws_lc_rs::rand::fill(bytes)
            .map_err(|_| Error::Internal("the random generator failed".into()))
    };
    // Rejection sampling: below this bound every residue mod 10^6 is
    // equally likely.
    const BOUND: u32 = u32::MAX - (u32::MAX % 1_000_000);
    let code = loop {
        let mut bytes = [0u8; 4];
        random(&mut bytes)?;
        let value = u32::from_be_bytes(bytes);
        if value < BOUND {
            break value % 1_000_000;
        }
    };
    let mut id = [0u8; 16];
    random(&mut id)?;
    Ok((format!("{code:06}"), URL_SAFE_NO_PAD.encode(id)))
}

/// A pending proof, as stored in the user's item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Random id; every write on the challenge is conditioned on it.
    pub id: String,
    /// The number the code went to.
    pub phone: String,
    /// [`CodeSigner::seal`] of the code.
    pub mac: String,
    /// Unix seconds after which the code is refused.
    pub expires_at: u64,
    /// Unix seconds when it was sent.
    pub sent_at: u64,
    /// Wrong codes tried so far.
    pub attempts: u32,
}

/// The proof state of a user's item: the pending challenge and the send
/// counter of the current window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProofState {
    /// The pending challenge, if any.
    pub challenge: Option<Challenge>,
    /// Codes sent in the current window.
    pub sends: u32,
    /// When the current window started (Unix seconds); 0 when none.
    pub window_start: u64,
}

impl ProofState {
    /// Reads the `phone_code_*` attributes; anything malformed reads as no
    /// challenge (the next request simply starts over).
    pub fn from_item(item: &HashMap<String, AttributeValue>) -> Self {
        let text = |name: &str| user_record::optional_string(item, name).ok().flatten();
        let number = |name: &str| user_record::unsigned(item, name).ok();
        let challenge = (|| {
            Some(Challenge {
                id: text(attr::PHONE_CODE_ID)?.to_owned(),
                phone: text(attr::PHONE_CODE_PHONE)?.to_owned(),
                mac: text(attr::PHONE_CODE_MAC)?.to_owned(),
                expires_at: number(attr::PHONE_CODE_EXPIRES_AT)?,
                sent_at: number(attr::PHONE_CODE_SENT_AT)?,
                attempts: u32::try_from(number(attr::PHONE_CODE_ATTEMPTS)?).ok()?,
            })
        })();
        Self {
            challenge,
            sends: number(attr::PHONE_CODE_SENDS)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
            window_start: number(attr::PHONE_CODE_WINDOW_START).unwrap_or(0),
        }
    }

    /// The counters after one more send at `now`, or why no code may be
    /// sent now.
    pub fn next_send(&self, now: u64) -> Result<(u32, u64), Error> {
        if let Some(challenge) = &self.challenge {
            let ready_at = challenge.sent_at.saturating_add(RESEND_AFTER.as_secs());
            if now < ready_at {
                return Err(Error::VerificationRateLimited {
                    message: format!(
                        "a code was sent less than {} seconds ago; wait before asking again",
                        RESEND_AFTER.as_secs()
                    ),
                    retry_after_secs: ready_at - now,
                });
            }
        }
        let window_end = self.window_start.saturating_add(SEND_WINDOW.as_secs());
        if now >= window_end || self.window_start == 0 {
            return Ok((1, now));
        }
        if self.sends >= MAX_SENDS_PER_WINDOW {
            return Err(Error::VerificationRateLimited {
                message: format!(
                    "at most {MAX_SENDS_PER_WINDOW} codes are sent per day; try again later"
                ),
                retry_after_secs: window_end - now,
            });
        }
        Ok((self.sends + 1, self.window_start))
    }
}

/// The text message carrying `code`.
pub fn message(code: &str, ttl: Duration) -> String {
    format!(
        "{code} is your verification code. It expires in {} minutes. Do not share it.",
        ttl.as_secs().div_ceil(60)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(sent_at: u64) -> Challenge {
        Challenge {
            id: "c1".into(),
            phone: "+14155550100".into(),
            mac: String::new(),
            expires_at: sent_at + 300,
            sent_at,
            attempts: 0,
        }
    }

    #[test]
    fn codes_are_six_digits_and_ids_unique() {
        let (code, id) = new_code().unwrap();
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        let (_, other) = new_code().unwrap();
        assert_ne!(id, other);
    }

    #[test]
    fn a_sealed_code_verifies_only_for_its_user_challenge_number_and_key() {
        let signer = CodeSigner::new(&[7; 32]).unwrap();
        let mut pending = challenge(1_000);
        pending.mac = signer.seal("u-1", "c1", "+14155550100", "123456");
        assert!(signer.verify("u-1", &pending, "123456"));
        assert!(!signer.verify("u-1", &pending, "123457"));
        assert!(!signer.verify("u-2", &pending, "123456"));
        let other_number = Challenge {
            phone: "+14155550101".into(),
            ..pending.clone()
        };
        assert!(!signer.verify("u-1", &other_number, "123456"));
        assert!(
            !CodeSigner::new(&[8; 32])
                .unwrap()
                .verify("u-1", &pending, "123456")
        );
        assert!(!pending.mac.contains("123456"));
        assert!(CodeSigner::new(&[1; 31]).is_none());
    }

    #[test]
    fn resends_wait_a_minute_and_a_day_allows_five() {
        let now = 100_000;
        let fresh = ProofState::default();
        assert_eq!(fresh.next_send(now).unwrap(), (1, now));
        let recent = ProofState {
            challenge: Some(challenge(now - 10)),
            sends: 1,
            window_start: now - 10,
        };
        match recent.next_send(now).unwrap_err() {
            Error::VerificationRateLimited {
                retry_after_secs, ..
            } => assert_eq!(retry_after_secs, 50),
            other => panic!("{other:?}"),
        }
        let later = ProofState {
            challenge: Some(challenge(now - 61)),
            ..recent.clone()
        };
        assert_eq!(later.next_send(now).unwrap(), (2, now - 10));
        let spent = ProofState {
            challenge: None,
            sends: MAX_SENDS_PER_WINDOW,
            window_start: now - 3600,
        };
        assert!(matches!(
            spent.next_send(now),
            Err(Error::VerificationRateLimited { retry_after_secs, .. }) if retry_after_secs == 24 * 3600 - 3600
        ));
        // A new window starts a day after the last one did.
        assert_eq!(
            spent.next_send(now + 24 * 3600).unwrap(),
            (1, now + 24 * 3600)
        );
    }

    #[test]
    fn the_message_names_the_code_and_its_lifetime() {
        let text = message("012345", Duration::from_secs(300));
        assert!(text.starts_with("012345 "), "{text}");
        assert!(text.contains("5 minutes"), "{text}");
    }
}
