//! The sms function: Twilio inbound SMS answered by OpenAI, with
//! per-number history in DynamoDB.
//!
//! `POST /sms/inbound` (REST API v1 or HTTP API v2 proxy events): the form
//! Twilio posts is checked against `X-Twilio-Signature` ([`signature`]),
//! deduplicated by `MessageSid` ([`idempotency`]), and answered according
//! to the sender ([`directory`]) and the text ([`keywords`]): assistant
//! answers from OpenAI ([`openai`]) with the conversation so far
//! ([`history`]), sent through Twilio's REST API ([`twilio`], split by
//! [`split`]). Twilio always gets `200 text/xml` with empty TwiML
//! ([`twiml`]) unless the REST send failed, in which case the reply is in
//! the TwiML. The ordering rules that keep messages from being lost or
//! answered twice are in [`handler`].
//!
//! Configuration: [`Config`] (every variable is in the README); credentials:
//! one Secrets Manager secret ([`secrets`]).

pub mod config;
pub mod deadline;
pub mod directory;
mod dynamo;
mod error;
pub mod form;
pub mod handler;
pub mod history;
pub mod idempotency;
pub mod keywords;
pub mod openai;
pub mod secrets;
pub mod signature;
pub mod split;
pub mod twilio;
pub mod twiml;

pub use config::Config;
pub use error::{Error, RETRY_AFTER_SECS};
pub use handler::handle;

use std::time::Duration;

use api_gateway::CorsConfig;
use secret_cache::SecretCache;
use serde_json::Value;

use crate::directory::Directory;
use crate::history::History;
use crate::idempotency::Idempotency;
use crate::openai::OpenAi;
use crate::twilio::Twilio;

/// What the handler needs, built once per cold start.
#[derive(Debug)]
pub struct Deps {
    /// Senders by phone, and opt-in mirroring.
    pub directory: Directory,
    /// Conversation history.
    pub history: History,
    /// `MessageSid`s already handled.
    pub idempotency: Idempotency,
    /// The Twilio/OpenAI credentials, cached with a TTL.
    pub secrets: SecretCache<aws_sdk_secretsmanager::Client>,
    /// Chat completions.
    pub openai: OpenAi,
    /// Message sending.
    pub twilio: Twilio,
    /// The URL Twilio signs.
    pub public_webhook_url: String,
    /// The system prompt.
    pub system_prompt: String,
    /// Earlier messages sent with each one.
    pub history_turns: u16,
    /// Answer to `HELP`.
    pub help_text: String,
    /// Answer to `RESET`.
    pub reset_reply: String,
    /// Answer when OpenAI fails.
    pub apology_text: String,
    /// Answer to unknown or opted-out senders, if any.
    pub unknown_sender_reply: Option<String>,
    /// Time budget of one invocation.
    pub time_budget: Duration,
    /// CORS policy (the webhook is server-to-server, but every function
    /// answers with the same headers).
    pub cors: CorsConfig,
}

impl Deps {
    /// Dependencies from the configuration, the AWS clients and the
    /// process's HTTPS client (`aws_env::AwsEnv::http`, the one the AWS
    /// clients send through) for OpenAI and Twilio. Per-request timeouts
    /// come from the time budget.
    pub fn new(
        config: Config,
        dynamodb: aws_sdk_dynamodb::Client,
        secretsmanager: aws_sdk_secretsmanager::Client,
        http: reqwest::Client,
    ) -> Result<Self, Error> {
        Ok(Self {
            directory: Directory::new(
                dynamodb.clone(),
                config.users_table,
                config.users_phone_index,
            ),
            history: History::new(dynamodb.clone(), config.history_table, config.history_ttl),
            idempotency: Idempotency::new(dynamodb, config.idempotency_table),
            secrets: SecretCache::new(secretsmanager, config.secret_id, config.secret_ttl),
            openai: OpenAi::new(
                http.clone(),
                &config.openai_base_url,
                config.openai_model,
                config.max_completion_tokens,
                config.openai_timeout,
                config.openai_retry_backoff,
            ),
            twilio: Twilio::new(http, config.twilio_base_url, config.twilio_timeout),
            public_webhook_url: config.public_webhook_url,
            system_prompt: config.system_prompt,
            history_turns: config.history_turns,
            help_text: config.help_text,
            reset_reply: config.reset_reply,
            apology_text: config.apology_text,
            unknown_sender_reply: config.unknown_sender_reply,
            time_budget: config.time_budget,
            cors: config.cors,
        })
    }
}

/// Handles one raw API Gateway event: parsing, errors as JSON and CORS are
/// `api_gateway::handle`'s job; the rest is [`handle`].
pub async fn handle_event(deps: &Deps, event: Value) -> Value {
    api_gateway::handle(event, &deps.cors, |request| handle(deps, request)).await
}
