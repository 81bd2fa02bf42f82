//! OpenAI chat completions: `POST {base}/chat/completions`.
//!
//! Each attempt is bounded by the configured timeout and by what is left
//! of the invocation after the reserve for sending the answer. A 429
//! `rate_limit_exceeded`, a 5xx, a timeout or a failed connection is
//! retried, up to the configured number of attempts, after an exponential
//! pause with jitter (or OpenAI's `retry-after-ms`/`retry-after`, when
//! longer), as long as the invocation leaves room for a useful attempt;
//! `insufficient_quota`, other 4xx and malformed answers are not (retrying
//! cannot help).

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::Error;
use crate::deadline::Deadline;
use crate::history::{Role, Turn};

/// A chat completions client.
#[derive(Debug, Clone)]
pub struct OpenAi {
    http: reqwest::Client,
    url: String,
    model: String,
    max_completion_tokens: u32,
    timeout: Duration,
    retry: Retry,
}

/// How failed attempts are retried.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Pause after the first failure; doubled after each further one.
    pub backoff: Duration,
    /// The longest pause of our own (OpenAI's `retry-after` may ask more).
    pub backoff_max: Duration,
}

impl Retry {
    /// The pause after failed attempt `attempt` (1-based): exponential,
    /// capped, with "equal jitter" (half fixed, half spread by `seed`) so
    /// that messages failing together do not retry together.
    pub fn pause(&self, attempt: u32, seed: u64) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        let full = self.backoff.saturating_mul(factor).min(self.backoff_max);
        let half = full / 2;
        let spread = u64::try_from(half.as_micros()).unwrap_or(u64::MAX);
        let jitter = if spread == 0 {
            0
        } else {
            mix(seed ^ u64::from(attempt)) % (spread + 1)
        };
        half + Duration::from_micros(jitter)
    }
}

/// splitmix64: a well-spread 64-bit mix, enough for jitter.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The conversation to complete.
#[derive(Debug, Clone, Copy)]
pub struct Prompt<'a> {
    /// The system prompt.
    pub system: &'a str,
    /// Earlier messages, oldest first.
    pub history: &'a [Turn],
    /// The message to answer.
    pub user: &'a str,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    messages: Vec<Message<'a>>,
    max_completion_tokens: u32,
}

/// A failed attempt and how long OpenAI asked us to wait.
struct Failure {
    error: Error,
    retry_after: Option<Duration>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

impl OpenAi {
    /// A client for `{base_url}/chat/completions`.
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        model: String,
        max_completion_tokens: u32,
        timeout: Duration,
        retry: Retry,
    ) -> Self {
        Self {
            http,
            url: format!("{base_url}/chat/completions"),
            model,
            max_completion_tokens,
            timeout,
            retry,
        }
    }

    /// The longest one attempt may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The assistant's answer to `prompt`, leaving `reserve` of the
    /// invocation; `seed` spreads the retry pauses (the message's hash).
    pub async fn complete(
        &self,
        api_key: &str,
        prompt: Prompt<'_>,
        deadline: &Deadline,
        reserve: Duration,
        seed: u64,
    ) -> Result<String, Error> {
        let request = self.request(prompt);
        let mut attempt = 1;
        loop {
            let failure = match self.attempt(api_key, &request, deadline, reserve).await {
                Ok(answer) => return Ok(answer),
                Err(failure) => failure,
            };
            let retryable = match &failure.error {
                Error::OpenAiRateLimited | Error::OpenAiTimeout | Error::OpenAiTransport(_) => true,
                Error::OpenAiStatus { status, .. } => *status >= 500,
                _ => false,
            };
            if !retryable || attempt >= self.retry.max_attempts {
                return Err(failure.error);
            }
            let pause = failure
                .retry_after
                .unwrap_or_default()
                .max(self.retry.pause(attempt, seed));
            if deadline
                .timeout(self.timeout, reserve + pause, self.floor())
                .is_none()
            {
                tracing::warn!(
                    code = failure.error.code(),
                    attempt,
                    "OpenAI failed; no time left for another attempt"
                );
                return Err(failure.error);
            }
            tracing::warn!(
                code = failure.error.code(),
                attempt,
                pause_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
                "OpenAI failed; retrying"
            );
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }

    /// The least time worth giving an attempt.
    fn floor(&self) -> Duration {
        self.timeout.min(Duration::from_secs(1))
    }

    fn request<'a>(&'a self, prompt: Prompt<'a>) -> Request<'a> {
        let mut messages = Vec::with_capacity(prompt.history.len() + 2);
        if !prompt.system.is_empty() {
            messages.push(Message {
                role: "system",
                content: prompt.system,
            });
        }
        messages.extend(prompt.history.iter().map(|turn| Message {
            role: turn.role.as_str(),
            content: &turn.content,
        }));
        messages.push(Message {
            role: Role::User.as_str(),
            content: prompt.user,
        });
        Request {
            model: &self.model,
            messages,
            max_completion_tokens: self.max_completion_tokens,
        }
    }

    async fn attempt(
        &self,
        api_key: &str,
        request: &Request<'_>,
        deadline: &Deadline,
        reserve: Duration,
    ) -> Result<String, Failure> {
        let timeout = deadline
            .timeout(self.timeout, reserve, self.floor())
            .ok_or(Error::OpenAiTimeout)?;
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(api_key)
            .json(request)
            .timeout(timeout)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let body = response.bytes().await.map_err(transport)?;
        if (200..300).contains(&status) {
            return answer(&body).map_err(Failure::from);
        }
        let code = error_code(&body);
        let error = match (status, code.as_deref()) {
            (429, Some("insufficient_quota")) => Error::OpenAiQuota,
            (429, _) => Error::OpenAiRateLimited,
            (status, code) => Error::OpenAiStatus {
                status,
                code: code.unwrap_or("unknown").to_owned(),
            },
        };
        Err(Failure { error, retry_after })
    }
}

fn transport(err: reqwest::Error) -> Failure {
    if err.is_timeout() {
        Error::OpenAiTimeout.into()
    } else {
        Error::OpenAiTransport(err.without_url().to_string()).into()
    }
}

/// `choices[0].message.content`, which must be non-blank text.
fn answer(body: &[u8]) -> Result<String, Error> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|err| Error::OpenAiMalformed(format!("not JSON: {err}")))?;
    let content = json
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .ok_or_else(|| {
            Error::OpenAiMalformed("no text in choices[0].message.content".to_owned())
        })?;
    Ok(content.to_owned())
}

/// `error.code`, else `error.type`, of an OpenAI error body.
fn error_code(body: &[u8]) -> Option<String> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let error = json.get("error")?;
    error
        .get("code")
        .and_then(Value::as_str)
        .or_else(|| error.get("type").and_then(Value::as_str))
        .map(str::to_owned)
}

/// OpenAI's `retry-after-ms`, else `retry-after` in seconds.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0 && *v < 3600.0)
    };
    number("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| number("retry-after").map(Duration::from_secs_f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_first_choice() {
        let body =
            br#"{"choices":[{"index":0,"message":{"role":"assistant","content":"  Hi!  "}}]}"#;
        assert_eq!(answer(body).unwrap(), "Hi!");
    }

    #[test]
    fn malformed_answers_are_errors() {
        for body in [
            &b"not json"[..],
            br#"{"choices":[]}"#,
            br#"{"choices":[{"message":{"content":null,"refusal":"no"}}]}"#,
            br#"{"choices":[{"message":{"content":"   "}}]}"#,
        ] {
            assert!(matches!(answer(body), Err(Error::OpenAiMalformed(_))));
        }
    }

    #[test]
    fn error_codes_come_from_code_or_type() {
        assert_eq!(
            error_code(br#"{"error":{"message":"m","type":"insufficient_quota","code":"insufficient_quota"}}"#).as_deref(),
            Some("insufficient_quota")
        );
        assert_eq!(
            error_code(br#"{"error":{"type":"server_error","code":null}}"#).as_deref(),
            Some("server_error")
        );
        assert_eq!(error_code(b"<html>"), None);
    }

    #[test]
    fn pauses_grow_exponentially_up_to_the_cap_with_bounded_jitter() {
        let retry = Retry {
            max_attempts: 6,
            backoff: Duration::from_millis(1000),
            backoff_max: Duration::from_millis(8000),
        };
        for seed in [0, 1, 42, u64::MAX] {
            for (attempt, full) in [
                (1, 1000),
                (2, 2000),
                (3, 4000),
                (4, 8000),
                (5, 8000),
                (30, 8000),
            ] {
                let pause = retry.pause(attempt, seed).as_millis();
                assert!(
                    (full / 2..=full).contains(&pause),
                    "attempt {attempt}, seed {seed}: {pause} ms"
                );
            }
        }
        let spread: std::collections::HashSet<u128> = (0..20)
            .map(|seed| retry.pause(3, seed).as_millis())
            .collect();
        assert!(
            spread.len() > 10,
            "messages retry at different times: {spread:?}"
        );
        let none = Retry {
            backoff: Duration::ZERO,
            backoff_max: Duration::ZERO,
            ..retry
        };
        assert_eq!(none.pause(3, 7), Duration::ZERO);
    }

    #[test]
    fn retry_after_prefers_milliseconds() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", "150".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(150)));
        headers.insert("retry-after-ms", "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
    }
}
