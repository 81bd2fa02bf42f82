//! Opaque pagination cursors for `GET /users`.
//!
//! A cursor carries the last user id of a page, signed with HMAC-SHA256
//! under a key only the function knows: clients cannot forge a starting
//! point or feed us arbitrary DynamoDB keys, and any altered byte fails the
//! check. Layout, base64url without padding: `1 || user_id || tag[32]`,
//! where the tag covers a fixed context string plus `1 || user_id`, so a
//! MAC made with the same key for another purpose never verifies here.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use sha2::Sha256;

use crate::Error;

type HmacSha256 = hmac::Hmac<Sha256>;

const FORMAT_VERSION: u8 = 1;
const CONTEXT: &[u8] = b"lambda-forge/users/list-cursor\0";
const TAG_LEN: usize = 32;
/// Longest cursor we even try to decode; real ones are far shorter.
const MAX_CURSOR_CHARS: usize = 512;
/// Shortest accepted key, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// Signs and verifies cursors with one secret key.
#[derive(Clone)]
pub struct CursorSigner {
    // Keyed once; cloned per cursor so the key schedule is not redone.
    keyed: HmacSha256,
}

impl std::fmt::Debug for CursorSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorSigner([REDACTED])")
    }
}

impl CursorSigner {
    /// A signer over `key`, which must hold at least 32 bytes.
    pub fn new(key: &[u8]) -> Option<Self> {
        if key.len() < MIN_KEY_BYTES {
            return None;
        }
        let mut keyed = HmacSha256::new_from_slice(key).ok()?;
        keyed.update(CONTEXT);
        Some(Self { keyed })
    }

    /// The cursor that resumes a listing after `last_user_id`.
    pub fn encode(&self, last_user_id: &str) -> String {
        let mut blob = Vec::with_capacity(1 + last_user_id.len() + TAG_LEN);
        blob.push(FORMAT_VERSION);
        blob.extend_from_slice(last_user_id.as_bytes());
        let tag = self.tag(&blob);
        blob.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(blob)
    }

    /// The user id inside `cursor`, if we issued it unchanged.
    pub fn decode(&self, cursor: &str) -> Result<String, Error> {
        if cursor.len() > MAX_CURSOR_CHARS {
            return Err(Error::InvalidCursor);
        }
        let blob = URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| Error::InvalidCursor)?;
        if blob.len() <= 1 + TAG_LEN {
            return Err(Error::InvalidCursor);
        }
        let (signed, tag) = blob.split_at(blob.len() - TAG_LEN);
        let mut mac = self.mac();
        mac.update(signed);
        // verify_slice compares in constant time.
        mac.verify_slice(tag).map_err(|_| Error::InvalidCursor)?;
        let (&format, user_id) = signed.split_first().ok_or(Error::InvalidCursor)?;
        if format != FORMAT_VERSION {
            return Err(Error::InvalidCursor);
        }
        let user_id = std::str::from_utf8(user_id).map_err(|_| Error::InvalidCursor)?;
        crate::validate::user_id(user_id).map_err(|_| Error::InvalidCursor)
    }

    fn mac(&self) -> HmacSha256 {
        self.keyed.clone()
    }

    fn tag(&self, signed: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = self.mac();
        mac.update(signed);
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(byte: u8) -> CursorSigner {
        CursorSigner::new(&[byte; 32]).unwrap()
    }

    #[test]
    fn round_trips_the_last_user_id() {
        let s = signer(7);
        let cursor = s.encode("user-42");
        assert_eq!(s.decode(&cursor).unwrap(), "user-42");
        assert!(
            !cursor.contains("user-42"),
            "cursor should not show the key in clear"
        );
    }

    #[test]
    fn rejects_keys_shorter_than_32_bytes() {
        assert!(CursorSigner::new(&[1; 31]).is_none());
        assert!(CursorSigner::new(&[1; 32]).is_some());
    }

    #[test]
    fn rejects_tampered_cursor_in_any_byte() {
        let s = signer(7);
        let blob = URL_SAFE_NO_PAD.decode(s.encode("user-42")).unwrap();
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            let err = s.decode(&URL_SAFE_NO_PAD.encode(&bad)).unwrap_err();
            assert_eq!(err.code(), "invalid_cursor", "byte {i}");
        }
    }

    #[test]
    fn rejects_cursor_signed_with_another_key() {
        let cursor = signer(1).encode("user-42");
        assert_eq!(
            signer(2).decode(&cursor).unwrap_err().code(),
            "invalid_cursor"
        );
    }

    #[test]
    fn rejects_garbage_truncated_and_oversized_cursors() {
        let s = signer(7);
        let good = s.encode("user-42");
        for bad in [
            "",
            "not base64!",
            &good[..good.len() - 2],
            &"A".repeat(MAX_CURSOR_CHARS + 4),
        ] {
            assert_eq!(s.decode(bad).unwrap_err().code(), "invalid_cursor", "{bad}");
        }
    }

    #[test]
    fn rejects_a_validly_signed_key_that_is_not_a_user_id() {
        let s = signer(7);
        let cursor = s.encode("a/b");
        assert_eq!(s.decode(&cursor).unwrap_err().code(), "invalid_cursor");
    }

    #[test]
    fn debug_output_hides_the_key() {
        assert_eq!(format!("{:?}", signer(9)), "CursorSigner([REDACTED])");
    }
}
