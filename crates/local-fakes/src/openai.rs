//! OpenAI's chat completions (`POST {base}/chat/completions`, Bearer key),
//! answering with a configurable text.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::server::{Exchange, FakeServer, Reply, Service};

/// The default answer; `{prompt}` is replaced by the last user message.
pub const DEFAULT_REPLY: &str = "(fake OpenAI) You said: {prompt}";

struct OpenAi {
    api_key: String,
    reply: Mutex<String>,
    next: AtomicU64,
}

fn error(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

#[derive(Deserialize)]
struct ChatRequest {
    model: String,
    messages: Vec<ChatMessage>,
}

#[derive(Deserialize)]
struct ChatMessage {
    role: String,
    content: String,
}

impl OpenAi {
    fn template(&self) -> String {
        self.reply.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Service for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn authorized(&self, exchange: &Exchange) -> bool {
        exchange
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|key| key == self.api_key)
    }

    fn answer(&self, exchange: &Exchange) -> Reply {
        if !self.authorized(exchange) {
            return Reply::json(
                401,
                error(
                    "Incorrect API key provided.",
                    "invalid_request_error",
                    Some("invalid_api_key"),
                ),
                false,
            );
        }
        if exchange.method != Method::POST || !exchange.path.ends_with("/chat/completions") {
            return Reply::json(
                404,
                error(
                    &format!("Invalid URL ({} {})", exchange.method, exchange.path),
                    "invalid_request_error",
                    None,
                ),
                true,
            );
        }
        let request: ChatRequest = match serde_json::from_slice(&exchange.body) {
            Ok(request) => request,
            Err(err) => {
                return Reply::json(
                    400,
                    error(
                        &format!("We could not parse the JSON body of your request: {err}"),
                        "invalid_request_error",
                        None,
                    ),
                    true,
                );
            }
        };
        let Some(prompt) = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == "user")
            .map(|m| m.content.clone())
        else {
            return Reply::json(
                400,
                error(
                    "messages must hold a user message",
                    "invalid_request_error",
                    None,
                ),
                true,
            );
        };
        let text = self.template().replace("{prompt}", &prompt);
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let prompt_tokens: usize = request
            .messages
            .iter()
            .map(|m| m.content.split_whitespace().count())
            .sum();
        let completion_tokens = text.split_whitespace().count();
        Reply::json(
            200,
            json!({
                "id": format!("chatcmpl-fake{n}"),
                "object": "chat.completion",
                "created": SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
                "model": request.model,
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": null},
                    "logprobs": null,
                    "finish_reason": "stop"
                }],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens
                }
            }),
            true,
        )
    }

    fn error_body(&self, status: u16) -> Value {
        match status {
            429 => error(
                "Rate limit reached (injected by the fake).",
                "requests",
                Some("rate_limit_exceeded"),
            ),
            s if s >= 500 => error(
                "The server had an error while processing your request (injected by the fake).",
                "server_error",
                None,
            ),
            _ => error("Injected by the fake.", "invalid_request_error", None),
        }
    }

    fn control(&self, method: &Method, rest: &str, body: &[u8]) -> Option<Reply> {
        if *method != Method::PUT || rest != "reply" {
            return None;
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct SetReply {
            text: String,
        }
        Some(match serde_json::from_slice::<SetReply>(body) {
            Ok(set) if !set.text.trim().is_empty() => {
                *self.reply.lock().unwrap_or_else(|p| p.into_inner()) = set.text.clone();
                Reply::json(200, json!({"text": set.text}), true)
            }
            _ => Reply::json(
                400,
                json!({"error": "expected {\"text\": \"...\"} (non-blank; {prompt} is replaced by the last user message)"}),
                true,
            ),
        })
    }

    fn reset(&self) {
        *self.reply.lock().unwrap_or_else(|p| p.into_inner()) = DEFAULT_REPLY.to_owned();
    }
}

/// The running OpenAI fake.
pub struct FakeOpenAi {
    server: FakeServer,
    service: Arc<OpenAi>,
}

impl std::ops::Deref for FakeOpenAi {
    type Target = FakeServer;

    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl std::fmt::Debug for FakeOpenAi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeOpenAi")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl FakeOpenAi {
    /// Serves on `127.0.0.1:port` (0: any free port), accepting `api_key`.
    pub async fn start(api_key: &str, port: u16) -> std::io::Result<Self> {
        let service = Arc::new(OpenAi {
            api_key: api_key.to_owned(),
            reply: Mutex::new(DEFAULT_REPLY.to_owned()),
            next: AtomicU64::new(1),
        });
        let server = FakeServer::start(Arc::clone(&service), port).await?;
        Ok(Self { server, service })
    }

    /// The API base URL (`OPENAI_BASE_URL`), e.g. `http://127.0.0.1:40124/v1`.
    pub fn url(&self) -> String {
        format!("{}/v1", self.server.root_url())
    }

    /// The answer the next completions get, for `prompt`.
    pub fn answer_for(&self, prompt: &str) -> String {
        self.service.template().replace("{prompt}", prompt)
    }

    /// Sets the answer (`{prompt}`: the last user message).
    pub fn set_reply(&self, text: &str) {
        *self.service.reply.lock().unwrap_or_else(|p| p.into_inner()) = text.to_owned();
    }
}
