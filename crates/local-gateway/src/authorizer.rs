//! The REST API's Lambda REQUEST authorizer as API Gateway runs it: the
//! identity sources, the result cache keyed on their values, the TTL.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::HeaderMap;

use crate::policy::AuthorizerAnswer;
use crate::routes::percent_decode;

/// One identity source (`method.request.header.Cookie`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// A request header (name lower case).
    Header(String),
    /// A query string parameter.
    Query(String),
}

impl IdentitySource {
    /// Parses API Gateway's mapping expression:
    /// `method.request.header.<name>` or `method.request.querystring.<name>`.
    pub fn parse(expression: &str) -> Result<Self, String> {
        if let Some(name) = expression.strip_prefix("method.request.header.")
            && !name.is_empty()
            && http::HeaderName::from_bytes(name.as_bytes()).is_ok()
        {
            return Ok(Self::Header(name.to_ascii_lowercase()));
        }
        if let Some(name) = expression.strip_prefix("method.request.querystring.")
            && !name.is_empty()
        {
            return Ok(Self::Query(name.to_owned()));
        }
        Err(format!(
            "{expression:?} is not an identity source (method.request.header.<name> or method.request.querystring.<name>)"
        ))
    }

    /// This source's value in a request; empty counts as missing.
    fn value(&self, headers: &HeaderMap, query: Option<&str>) -> Option<String> {
        let value = match self {
            Self::Header(name) => {
                let values: Vec<String> = headers
                    .get_all(name.as_str())
                    .iter()
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .collect();
                values.join(",")
            }
            Self::Query(name) => query
                .unwrap_or_default()
                .split('&')
                .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
                .filter(|(key, _)| percent_decode(key) == *name)
                .map(|(_, value)| percent_decode(value))
                .next_back()
                .unwrap_or_default(),
        };
        (!value.trim().is_empty()).then_some(value)
    }
}

/// The authorizer of the API (one, as in the Terraform module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerConfig {
    /// The function that decides.
    pub function: String,
    /// Request parts the decision is keyed on; any missing one is a 401
    /// without invoking the function.
    pub identity_sources: Vec<IdentitySource>,
    /// How long a decision is reused for the same identity values; zero
    /// turns the cache off (`authorizer_result_ttl_in_seconds`).
    pub ttl: Duration,
}

impl AuthorizerConfig {
    /// The cache key of a request: its identity source values, or `None`
    /// when one is missing.
    pub fn identity(&self, headers: &HeaderMap, query: Option<&str>) -> Option<Vec<String>> {
        self.identity_sources
            .iter()
            .map(|source| source.value(headers, query))
            .collect()
    }
}

/// Decisions by identity, each until its TTL runs out.
#[derive(Debug, Default)]
pub struct DecisionCache {
    entries: Mutex<HashMap<Vec<String>, (AuthorizerAnswer, Instant)>>,
}

impl DecisionCache {
    /// The cached decision for `identity`, if still fresh.
    pub fn get(&self, identity: &[String]) -> Option<AuthorizerAnswer> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(identity) {
            Some((answer, expires)) if Instant::now() < *expires => Some(answer.clone()),
            Some(_) => {
                entries.remove(identity);
                None
            }
            None => None,
        }
    }

    /// Keeps `answer` for `identity` during `ttl` (nothing when zero).
    pub fn put(&self, identity: Vec<String>, answer: AuthorizerAnswer, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        entries.retain(|_, (_, expires)| now < *expires);
        entries.insert(identity, (answer, now + ttl));
    }

    /// Forgets every decision (API Gateway's "flush authorizer cache").
    pub fn flush(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    fn config(sources: &[&str]) -> AuthorizerConfig {
        AuthorizerConfig {
            function: "authorizer".into(),
            identity_sources: sources
                .iter()
                .map(|s| IdentitySource::parse(s).unwrap())
                .collect(),
            ttl: Duration::from_secs(300),
        }
    }

    #[test]
    fn identity_sources_parse_from_mapping_expressions() {
        assert_eq!(
            IdentitySource::parse("method.request.header.Cookie"),
            Ok(IdentitySource::Header("cookie".into()))
        );
        assert_eq!(
            IdentitySource::parse("method.request.querystring.token"),
            Ok(IdentitySource::Query("token".into()))
        );
        for bad in [
            "method.request.header.",
            "header.Cookie",
            "method.request.path.id",
        ] {
            assert!(IdentitySource::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_missing_or_empty_identity_source_gives_no_identity() {
        let c = config(&["method.request.header.Cookie"]);
        assert_eq!(c.identity(&headers(&[]), None), None);
        assert_eq!(c.identity(&headers(&[("cookie", " ")]), None), None);
        assert_eq!(
            c.identity(&headers(&[("cookie", "access_token=a")]), None),
            Some(vec!["access_token=a".to_owned()])
        );
        let both = config(&[
            "method.request.header.Authorization",
            "method.request.querystring.v",
        ]);
        assert_eq!(
            both.identity(&headers(&[("authorization", "Bearer x")]), Some("w=1")),
            None
        );
        assert_eq!(
            both.identity(&headers(&[("authorization", "Bearer x")]), Some("v=2")),
            Some(vec!["Bearer x".to_owned(), "2".to_owned()])
        );
    }

    #[test]
    fn cached_decisions_expire_and_a_zero_ttl_caches_nothing() {
        let answer = AuthorizerAnswer::parse(&json!({
            "principalId": "p", "policyDocument": {"Statement": []}
        }))
        .unwrap();
        let cache = DecisionCache::default();
        let key = vec!["k".to_owned()];
        cache.put(key.clone(), answer.clone(), Duration::ZERO);
        assert!(cache.get(&key).is_none());
        cache.put(key.clone(), answer.clone(), Duration::from_millis(30));
        assert_eq!(cache.get(&key), Some(answer.clone()));
        assert!(cache.get(&["other".to_owned()]).is_none());
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get(&key).is_none());
        cache.put(key.clone(), answer, Duration::from_secs(60));
        cache.flush();
        assert!(cache.get(&key).is_none());
    }
}
