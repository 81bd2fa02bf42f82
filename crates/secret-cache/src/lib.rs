//! A JSON secret from AWS Secrets Manager, cached across warm invocations.
//!
//! Functions keep credentials (Twilio, OpenAI, a cookie key, an app client
//! secret) in one Secrets Manager secret whose string is a JSON object. A
//! [`SecretCache`] fetches it on first use and again once its TTL has passed,
//! so a rotated value is picked up within the TTL without a redeploy. When a
//! refresh fails and an older value is at hand, that value is served (and
//! the failure logged) rather than failing the request; the next call tries
//! again.
//!
//! Nothing here prints a secret value: [`SecretJson`]'s `Debug` lists key
//! names only, and errors name the secret and the key.
//!
//! ```no_run
//! # async fn demo(client: aws_sdk_secretsmanager::Client) -> Result<(), secret_cache::SecretError> {
//! use std::time::Duration;
//! let cache = secret_cache::SecretCache::new(client, "prod/sms", Duration::from_secs(300));
//! let secret = cache.get().await?;
//! let token = secret.required("twilio_auth_token")?;
//! # let _ = token; Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Why a secret or one of its keys is not available.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Secrets Manager could not be asked or refused (not found, access
    /// denied, throttled after retries...).
    #[error("cannot read secret {secret_id}: {message}")]
    Fetch {
        /// The secret id or ARN.
        secret_id: String,
        /// What the SDK said (never the value).
        message: String,
    },
    /// The secret has no string value (a binary secret).
    #[error("secret {secret_id} has no string value")]
    NoString {
        /// The secret id or ARN.
        secret_id: String,
    },
    /// The string value is not a JSON object.
    #[error("secret {secret_id} is not a JSON object")]
    NotJson {
        /// The secret id or ARN.
        secret_id: String,
    },
    /// A required key is absent or empty.
    #[error("secret {secret_id} has no value for key {key:?}")]
    MissingKey {
        /// The secret id or ARN.
        secret_id: String,
        /// The key looked up.
        key: String,
    },
    /// A key holds something other than a string.
    #[error("secret {secret_id}: key {key:?} must be a string")]
    NotAString {
        /// The secret id or ARN.
        secret_id: String,
        /// The key looked up.
        key: String,
    },
}

/// The fields of one JSON secret.
#[derive(Clone, PartialEq)]
pub struct SecretJson {
    secret_id: String,
    fields: Map<String, Value>,
}

impl SecretJson {
    /// Parses a secret string; it must be a JSON object.
    pub fn parse(secret_id: &str, text: &str) -> Result<Self, SecretError> {
        match serde_json::from_str(text) {
            Ok(Value::Object(fields)) => Ok(Self {
                secret_id: secret_id.to_owned(),
                fields,
            }),
            _ => Err(SecretError::NotJson {
                secret_id: secret_id.to_owned(),
            }),
        }
    }

    /// The id or ARN of the secret these fields came from.
    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    /// The string under `key`; absent or empty is an error naming the key.
    pub fn required(&self, key: &str) -> Result<&str, SecretError> {
        match self.optional(key)? {
            Some(value) => Ok(value),
            None => Err(SecretError::MissingKey {
                secret_id: self.secret_id.clone(),
                key: key.to_owned(),
            }),
        }
    }

    /// The string under `key`, `None` when absent, null or empty.
    pub fn optional(&self, key: &str) -> Result<Option<&str>, SecretError> {
        match self.fields.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(value)) if value.is_empty() => Ok(None),
            Some(Value::String(value)) => Ok(Some(value)),
            Some(_) => Err(SecretError::NotAString {
                secret_id: self.secret_id.clone(),
                key: key.to_owned(),
            }),
        }
    }
}

impl fmt::Debug for SecretJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretJson")
            .field("secret_id", &self.secret_id)
            .field("keys", &self.fields.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Where secret strings come from: Secrets Manager, or a fake in tests.
pub trait SecretSource: Send + Sync {
    /// The current string value of `secret_id`.
    fn fetch(&self, secret_id: &str) -> impl Future<Output = Result<String, SecretError>> + Send;
}

impl SecretSource for aws_sdk_secretsmanager::Client {
    async fn fetch(&self, secret_id: &str) -> Result<String, SecretError> {
        let output = self
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|err| SecretError::Fetch {
                secret_id: secret_id.to_owned(),
                message: aws_sdk_secretsmanager::error::DisplayErrorContext(&err).to_string(),
            })?;
        output.secret_string.ok_or_else(|| SecretError::NoString {
            secret_id: secret_id.to_owned(),
        })
    }
}

/// One secret, fetched on first use and refreshed after `ttl`.
pub struct SecretCache<S = aws_sdk_secretsmanager::Client> {
    source: S,
    secret_id: String,
    ttl: Duration,
    // One lock for fetch and read: concurrent cold callers wait for one
    // fetch instead of each calling Secrets Manager.
    cached: Mutex<Option<(Instant, Arc<SecretJson>)>>,
}

impl<S> fmt::Debug for SecretCache<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretCache")
            .field("secret_id", &self.secret_id)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl<S: SecretSource> SecretCache<S> {
    /// A cache of `secret_id` read from `source`; nothing is fetched yet.
    pub fn new(source: S, secret_id: impl Into<String>, ttl: Duration) -> Self {
        Self {
            source,
            secret_id: secret_id.into(),
            ttl,
            cached: Mutex::new(None),
        }
    }

    /// The secret id or ARN.
    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    /// The secret: the cached value while younger than the TTL, else a
    /// fresh one. A failed refresh serves the previous value if there is
    /// one; with none, the error is returned.
    pub async fn get(&self) -> Result<Arc<SecretJson>, SecretError> {
        let mut cached = self.cached.lock().await;
        if let Some((fetched_at, value)) = cached.as_ref()
            && fetched_at.elapsed() < self.ttl
        {
            return Ok(value.clone());
        }
        let fresh = async {
            let text = self.source.fetch(&self.secret_id).await?;
            SecretJson::parse(&self.secret_id, &text)
        }
        .await;
        match (fresh, cached.as_ref()) {
            (Ok(value), _) => {
                let value = Arc::new(value);
                *cached = Some((Instant::now(), value.clone()));
                Ok(value)
            }
            (Err(error), Some((_, stale))) => {
                tracing::warn!(
                    secret_id = %self.secret_id,
                    error = %error,
                    "secret refresh failed; serving the previous value"
                );
                Ok(stale.clone())
            }
            (Err(error), None) => Err(error),
        }
    }

    /// Forgets the cached value, so the next [`get`](Self::get) fetches;
    /// for when a downstream service rejects a credential that may have
    /// been rotated.
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Answers from a script of results, counting calls.
    struct Scripted {
        answers: StdMutex<Vec<Result<String, SecretError>>>,
        calls: AtomicUsize,
    }

    impl Scripted {
        fn new(answers: Vec<Result<String, SecretError>>) -> Self {
            Self {
                answers: StdMutex::new(answers),
                calls: AtomicUsize::new(0),
            }
        }
    }

    impl SecretSource for &Scripted {
        async fn fetch(&self, _secret_id: &str) -> Result<String, SecretError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.answers.lock().unwrap().remove(0)
        }
    }

    fn down() -> SecretError {
        SecretError::Fetch {
            secret_id: "s".into(),
            message: "service unavailable".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn fetches_once_within_the_ttl_and_again_after_it() {
        let source = Scripted::new(vec![
            Ok(r#"{"token":"one"}"#.into()),
            Ok(r#"{"token":"two"}"#.into()),
        ]);
        let cache = SecretCache::new(&source, "s", Duration::from_secs(300));
        assert_eq!(cache.get().await.unwrap().required("token").unwrap(), "one");
        tokio::time::advance(Duration::from_secs(299)).await;
        assert_eq!(cache.get().await.unwrap().required("token").unwrap(), "one");
        assert_eq!(source.calls.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(cache.get().await.unwrap().required("token").unwrap(), "two");
        assert_eq!(source.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_refresh_serves_the_previous_value_and_retries_next_time() {
        let source = Scripted::new(vec![
            Ok(r#"{"token":"one"}"#.into()),
            Err(down()),
            Ok(r#"{"token":"two"}"#.into()),
        ]);
        let cache = SecretCache::new(&source, "s", Duration::from_secs(60));
        cache.get().await.unwrap();
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(cache.get().await.unwrap().required("token").unwrap(), "one");
        assert_eq!(cache.get().await.unwrap().required("token").unwrap(), "two");
        assert_eq!(source.calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_first_fetch_failure_is_returned() {
        let source = Scripted::new(vec![Err(down()), Ok("not json".into())]);
        let cache = SecretCache::new(&source, "s", Duration::from_secs(60));
        assert_eq!(cache.get().await.unwrap_err(), down());
        assert_eq!(
            cache.get().await.unwrap_err(),
            SecretError::NotJson {
                secret_id: "s".into()
            }
        );
    }

    #[tokio::test]
    async fn invalidate_forces_a_fetch() {
        let source = Scripted::new(vec![Ok(r#"{"k":"1"}"#.into()), Ok(r#"{"k":"2"}"#.into())]);
        let cache = SecretCache::new(&source, "s", Duration::from_secs(3600));
        assert_eq!(cache.get().await.unwrap().required("k").unwrap(), "1");
        cache.invalidate().await;
        assert_eq!(cache.get().await.unwrap().required("k").unwrap(), "2");
    }

    #[test]
    fn keys_are_required_by_name_and_values_never_printed() {
        let secret = SecretJson::parse(
            "prod/sms",
            r#"{"twilio_auth_token":"tok-123","empty":"","n":5,"nothing":null}"#,
        )
        .unwrap();
        assert_eq!(secret.required("twilio_auth_token").unwrap(), "tok-123");
        let missing = secret.required("openai_api_key").unwrap_err();
        assert_eq!(
            missing.to_string(),
            "secret prod/sms has no value for key \"openai_api_key\""
        );
        assert!(matches!(
            secret.required("empty"),
            Err(SecretError::MissingKey { .. })
        ));
        assert_eq!(secret.optional("nothing").unwrap(), None);
        assert!(matches!(
            secret.optional("n"),
            Err(SecretError::NotAString { .. })
        ));
        let debug = format!("{secret:?}");
        assert!(debug.contains("twilio_auth_token"), "{debug}");
        assert!(!debug.contains("tok-123"), "{debug}");
    }

    #[test]
    fn a_json_array_or_text_is_not_a_secret_object() {
        for text in ["[1,2]", "token", ""] {
            assert!(matches!(
                SecretJson::parse("s", text),
                Err(SecretError::NotJson { .. })
            ));
        }
    }
}
