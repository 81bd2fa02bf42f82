//! Verification of Amazon Cognito user pool JWTs.
//!
//! The authorizer verifies access tokens on every protected request and the
//! auth function verifies ID tokens after login; both go through
//! [`Verifier`], so the rules live in one place:
//!
//! - RS256 only: `none`, `HS*`, `ES*`, `PS*` and anything else are refused
//!   before any key lookup, so a forged header can never steer the choice of
//!   algorithm or make us fetch keys.
//! - The key is chosen by `kid` from the pool's JWKS, fetched lazily and
//!   cached across warm invocations ([`JwksCache`]). An unknown `kid` causes
//!   at most one refetch per interval, so a flood of forged kids cannot
//!   hammer Cognito; a failed refetch keeps the keys already cached. While
//!   no key is cached (an outage at cold start) fetches are retried after
//!   a backoff of seconds, not a whole interval.
//! - `exp` and `nbf` with a small leeway, `iat` not in the future, `iss`
//!   exactly the pool's issuer (a string, compared whole), `token_use` as
//!   configured, and the app client (`client_id` of access tokens, `aud`
//!   of ID tokens, each a single string) one of the configured ones. Every
//!   claim must have its exact JSON type: an array, number or `null` where
//!   a string belongs is refused. Tokens over 8 KiB are refused without
//!   being parsed.
//! - Errors quote attacker-chosen values (`kid`, `alg`, `token_use`) only
//!   as a short excerpt, so they are safe to log.

mod config;
mod error;
mod jwks;
#[cfg(feature = "test-util")]
pub mod testing;
mod verify;

pub use config::{
    DEFAULT_LEEWAY_SECS, DEFAULT_REFETCH_INTERVAL_SECS, MAX_LEEWAY_SECS, TokenUse, VerifierConfig,
};
pub use error::Error;
pub use jwks::{EMPTY_CACHE_BACKOFF, EMPTY_CACHE_MAX_BACKOFF, JwksCache, MAX_JWKS_BYTES};
pub use verify::{Claims, MAX_TOKEN_BYTES, Verifier};
