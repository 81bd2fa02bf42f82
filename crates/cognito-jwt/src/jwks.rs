//! The user pool's signing keys, cached across warm invocations.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use serde::Deserialize;

use crate::Error;

/// The largest JWKS document accepted; Cognito's is under 2 KiB.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// Lambda gives the authorizer a few seconds in all; a slow JWKS endpoint
/// must fail the fetch, not the whole invocation.
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// While no key is cached, a failed fetch is retried after this long, then
/// twice as long after each further failure, up to [`EMPTY_CACHE_MAX_BACKOFF`]:
/// an outage at cold start must not deny valid tokens for a whole refetch
/// interval, yet a denied flood must not turn into a fetch per request.
pub const EMPTY_CACHE_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between fetches while no key is cached.
pub const EMPTY_CACHE_MAX_BACKOFF: Duration = Duration::from_secs(8);

type KeyMap = HashMap<String, Arc<DecodingKey>>;

/// A JWKS fetched lazily and reused.
///
/// With keys cached, a `kid` missing from the cache triggers a refetch, at
/// most one per `refetch_interval` (counted from the previous fetch
/// attempt, successful or not): Cognito rotates keys rarely, while forged
/// kids are free to make up. A failed or unusable refetch keeps the keys
/// already cached. With no key cached (an outage at cold start), fetches
/// are retried after a short backoff instead ([`EMPTY_CACHE_BACKOFF`]
/// doubling to [`EMPTY_CACHE_MAX_BACKOFF`], never beyond the interval).
pub struct JwksCache {
    url: String,
    client: reqwest::Client,
    refetch_interval: Duration,
    keys: RwLock<Arc<KeyMap>>,
    /// The last fetch attempt; held across the fetch so that concurrent
    /// misses wait for one fetch instead of starting their own.
    last_fetch: tokio::sync::Mutex<FetchState>,
}

/// When the last fetch started, and how many fetches in a row failed while
/// no key was cached.
#[derive(Debug, Default)]
struct FetchState {
    started: Option<Instant>,
    failures_while_empty: u32,
}

impl FetchState {
    /// How long after the last attempt the next one may start.
    fn wait(&self, interval: Duration, empty: bool) -> Duration {
        if !empty {
            return interval;
        }
        let doublings = self.failures_while_empty.saturating_sub(1).min(16);
        EMPTY_CACHE_BACKOFF
            .saturating_mul(1 << doublings)
            .min(EMPTY_CACHE_MAX_BACKOFF)
            .min(interval)
    }
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("url", &self.url)
            .field("refetch_interval", &self.refetch_interval)
            .field("cached_kids", &self.cached_kids())
            .finish_non_exhaustive()
    }
}

impl JwksCache {
    /// An empty cache for the JWKS at `url`, with an HTTP client of its own.
    pub fn new(url: impl Into<String>, refetch_interval: Duration) -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|err| Error::HttpClient(err.to_string()))?;
        Ok(Self::with_client(url, refetch_interval, client))
    }

    /// An empty cache for the JWKS at `url` that fetches with `client`
    /// (shared with the rest of the function: every reqwest client loads the
    /// TLS root certificates once more at start-up). Each fetch is bounded
    /// by its own timeout whatever the client's.
    pub fn with_client(
        url: impl Into<String>,
        refetch_interval: Duration,
        client: reqwest::Client,
    ) -> Self {
        Self {
            url: url.into(),
            client,
            refetch_interval,
            keys: RwLock::new(Arc::new(HashMap::new())),
            last_fetch: tokio::sync::Mutex::new(FetchState::default()),
        }
    }

    /// The URL the keys come from.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The kids currently cached, sorted.
    pub fn cached_kids(&self) -> Vec<String> {
        let mut kids: Vec<String> = self.snapshot().keys().cloned().collect();
        kids.sort();
        kids
    }

    /// Fetches the key set now (e.g. during init), replacing the cache on
    /// success; returns how many usable keys it holds. Only a successful
    /// fetch starts the rate-limit interval, so a failure at init does not
    /// stop the first request from trying again.
    pub async fn refresh(&self) -> Result<usize, Error> {
        let mut last_fetch = self.last_fetch.lock().await;
        let started = Instant::now();
        let keys = self.fetch().await?;
        *last_fetch = FetchState {
            started: Some(started),
            failures_while_empty: 0,
        };
        let count = keys.len();
        self.replace(keys);
        Ok(count)
    }

    /// The key for `kid`, refetching the set if it is unknown and the rate
    /// limit allows.
    pub async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, Error> {
        if let Some(key) = self.lookup(kid) {
            return Ok(key);
        }
        let mut last_fetch = self.last_fetch.lock().await;
        // Another invocation may have refreshed the set while this one waited.
        if let Some(key) = self.lookup(kid) {
            return Ok(key);
        }
        let empty = self.snapshot().is_empty();
        let wait = last_fetch.wait(self.refetch_interval, empty);
        if last_fetch.started.is_some_and(|at| at.elapsed() < wait) {
            let why = if empty {
                "retrying after a short backoff"
            } else {
                "refetch rate limited"
            };
            return Err(self.missing(kid, why));
        }
        last_fetch.started = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                tracing::info!(url = %self.url, keys = keys.len(), "JWKS fetched");
                last_fetch.failures_while_empty = 0;
                self.replace(keys);
            }
            Err(err) => {
                if self.snapshot().is_empty() {
                    last_fetch.failures_while_empty =
                        last_fetch.failures_while_empty.saturating_add(1);
                    let retry_in = last_fetch.wait(self.refetch_interval, true);
                    tracing::error!(
                        url = %self.url,
                        error = %err,
                        retry_in_ms = u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
                        "JWKS fetch failed and no keys are cached: tokens are denied until a fetch succeeds"
                    );
                    return Err(Error::NoKeys(err.to_string()));
                }
                tracing::warn!(url = %self.url, error = %err, "JWKS refetch failed; keeping the cached keys");
            }
        }
        self.lookup(kid)
            .ok_or_else(|| self.missing(kid, "not in the fetched set"))
    }

    fn missing(&self, kid: &str, why: &str) -> Error {
        if self.snapshot().is_empty() {
            Error::NoKeys(format!("no JWKS cached ({why})"))
        } else {
            // The kid is attacker-chosen and may be kilobytes long.
            Error::UnknownKid(lambda_logging::excerpt(kid, crate::verify::EXCERPT_CHARS))
        }
    }

    fn snapshot(&self) -> Arc<KeyMap> {
        match self.keys.read() {
            Ok(guard) => Arc::clone(&guard),
            // A panic elsewhere cannot leave a half-written map: writers swap an Arc.
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    fn lookup(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        self.snapshot().get(kid).cloned()
    }

    fn replace(&self, keys: KeyMap) {
        let keys = Arc::new(keys);
        match self.keys.write() {
            Ok(mut guard) => *guard = keys,
            Err(poisoned) => *poisoned.into_inner() = keys,
        }
    }

    async fn fetch(&self) -> Result<KeyMap, Error> {
        let mut response = self
            .client
            .get(&self.url)
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .map_err(|err| Error::JwksFetch(err.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(Error::JwksFetch(format!("HTTP status {status}")));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| Error::JwksFetch(err.without_url().to_string()))?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(Error::JwksInvalid(format!(
                    "document is over {MAX_JWKS_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        parse_jwks(&body)
    }
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// The RS256 signing keys of a JWKS document, by kid. Keys of other types
/// or uses are skipped rather than failing the set, so that a pool adding
/// an EC key one day does not lock everyone out.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<KeyMap, Error> {
    let set: JwkSet =
        serde_json::from_slice(body).map_err(|err| Error::JwksInvalid(err.to_string()))?;
    let mut keys = HashMap::new();
    for jwk in set.keys {
        let usable = jwk.kty == "RSA"
            && jwk.alg.as_deref().is_none_or(|alg| alg == "RS256")
            && jwk.use_.as_deref().is_none_or(|use_| use_ == "sig");
        let (true, Some(kid), Some(n), Some(e)) = (usable, jwk.kid, jwk.n, jwk.e) else {
            continue;
        };
        match DecodingKey::from_rsa_components(&n, &e) {
            Ok(key) => {
                keys.insert(kid, Arc::new(key));
            }
            Err(err) => tracing::warn!(kid = %kid, error = %err, "skipping unusable JWK"),
        }
    }
    if keys.is_empty() {
        return Err(Error::JwksInvalid("no usable RS256 signing key".to_owned()));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_keeps_rs256_signing_keys_and_skips_the_rest() {
        let body = br#"{"keys":[
            {"kty":"RSA","kid":"a","alg":"RS256","use":"sig","n":"sXch","e":"AQAB"},
            {"kty":"RSA","kid":"b","n":"sXch","e":"AQAB"},
            {"kty":"RSA","kid":"enc","use":"enc","n":"sXch","e":"AQAB"},
            {"kty":"RSA","kid":"ps","alg":"PS256","n":"sXch","e":"AQAB"},
            {"kty":"EC","kid":"ec","crv":"P-256","x":"AA","y":"AA"},
            {"kty":"RSA","n":"sXch","e":"AQAB"}
        ]}"#;
        let keys = parse_jwks(body).unwrap();
        let mut kids: Vec<_> = keys.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, vec!["a", "b"]);
    }

    #[test]
    fn the_empty_cache_backoff_doubles_up_to_its_cap_and_never_beyond_the_interval() {
        let interval = Duration::from_secs(60);
        let wait = |failures| {
            FetchState {
                started: None,
                failures_while_empty: failures,
            }
            .wait(interval, true)
        };
        let secs: Vec<u64> = (0..7).map(|n| wait(n).as_secs()).collect();
        assert_eq!(secs, [1, 1, 2, 4, 8, 8, 8]);
        assert_eq!(wait(u32::MAX), EMPTY_CACHE_MAX_BACKOFF);
        let state = FetchState {
            started: None,
            failures_while_empty: 3,
        };
        assert_eq!(
            state.wait(Duration::from_secs(2), true),
            Duration::from_secs(2)
        );
        // With keys cached, the interval is the rate limit for unknown kids.
        assert_eq!(state.wait(interval, false), interval);
    }

    #[test]
    fn parse_rejects_a_set_without_usable_keys() {
        let err = parse_jwks(br#"{"keys":[{"kty":"EC","kid":"ec"}]}"#).unwrap_err();
        assert!(matches!(err, Error::JwksInvalid(_)), "{err}");
    }

    #[test]
    fn parse_rejects_documents_that_are_not_a_key_set() {
        assert!(matches!(parse_jwks(b"<html>"), Err(Error::JwksInvalid(_))));
        assert!(matches!(
            parse_jwks(br#"{"keys":{}}"#),
            Err(Error::JwksInvalid(_))
        ));
    }
}
