//! Why a token was refused, or why the keys could not be loaded.

/// Everything that can go wrong while verifying a token or loading the JWKS.
///
/// Messages never contain the token or any part of it, so they are safe to
/// log; [`Error::reason`] gives a short stable code for log fields.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The token is the empty string.
    #[error("token is empty")]
    Empty,
    /// The token is longer than [`crate::MAX_TOKEN_BYTES`]; it was not parsed.
    #[error("token is {len} bytes, over the {max} byte limit")]
    TooLong {
        /// Length of the refused token.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not three base64url parts with a JSON header, or undecodable claims.
    #[error("token is malformed: {0}")]
    Malformed(&'static str),
    /// The header names an algorithm other than RS256 (including `none`).
    #[error("algorithm {0:?} is not allowed (RS256 only)")]
    AlgorithmNotAllowed(String),
    /// The header has no `kid`, so no key can be chosen.
    #[error("token header has no kid")]
    MissingKid,
    /// No key with this `kid` in the JWKS, even after a refetch (or the
    /// refetch was rate limited).
    #[error("no key with kid {0:?} in the JWKS")]
    UnknownKid(String),
    /// The signature does not verify with the key named by `kid`.
    #[error("signature does not verify")]
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    #[error("token was issued in the future")]
    IssuedInFuture,
    /// `iss` is not the configured user pool's issuer.
    #[error("issuer is not the configured user pool")]
    WrongIssuer,
    /// `token_use` is not the configured one.
    #[error("token_use is {found:?}, expected {expected:?}")]
    WrongTokenUse {
        /// What the token says.
        found: String,
        /// What the configuration requires.
        expected: &'static str,
    },
    /// `client_id` (access) or `aud` (ID) is not a configured app client.
    #[error("app client is not one of the configured ones")]
    WrongClient,
    /// A claim this crate relies on is missing or has the wrong type.
    #[error("claim {0:?} is missing or invalid")]
    InvalidClaim(String),
    /// Verification failed for a reason not listed above.
    #[error("token rejected: {0}")]
    Rejected(String),
    /// No keys are cached and the JWKS could not be fetched.
    #[error("no signing keys available: {0}")]
    NoKeys(String),
    /// The JWKS endpoint could not be reached or did not answer 200.
    #[error("JWKS fetch failed: {0}")]
    JwksFetch(String),
    /// The JWKS document is not a usable key set.
    #[error("JWKS is invalid: {0}")]
    JwksInvalid(String),
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
}

impl Error {
    /// A short, stable code for log fields and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::TooLong { .. } => "too_long",
            Self::Malformed(_) => "malformed",
            Self::AlgorithmNotAllowed(_) => "algorithm_not_allowed",
            Self::MissingKid => "missing_kid",
            Self::UnknownKid(_) => "unknown_kid",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongTokenUse { .. } => "wrong_token_use",
            Self::WrongClient => "wrong_client",
            Self::InvalidClaim(_) => "invalid_claim",
            Self::Rejected(_) => "rejected",
            Self::NoKeys(_) => "no_keys",
            Self::JwksFetch(_) => "jwks_fetch",
            Self::JwksInvalid(_) => "jwks_invalid",
            Self::HttpClient(_) => "http_client",
        }
    }
}
