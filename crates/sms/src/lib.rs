//! The sms webhook: Twilio's inbound messages, verified and recorded.
//!
//! `POST /sms/inbound` (REST API v1 or HTTP API v2 proxy events): the form
//! Twilio posts is bounded ([`form`]), checked against
//! `X-Twilio-Signature` ([`signature`]) and recorded once per `MessageSid`
//! in the inbound-message table (`sms_record`); Twilio gets `200` empty
//! TwiML ([`twiml`]) at once. The answer is the sms worker's job: the
//! table's stream feeds it. The ordering rules are in [`handler`].
//!
//! Configuration: [`Config`] (every variable is in the README).

pub mod config;
mod error;
pub mod form;
pub mod handler;
pub mod signature;
#[cfg(feature = "test-util")]
pub mod testing;
pub mod twiml;

pub use config::Config;
pub use error::Error;
pub use handler::handle;

use std::time::Duration;

use api_gateway::CorsConfig;
use secret_cache::SecretCache;
use serde_json::Value;
use sms_record::Recorder;

/// What the handler needs, built once per cold start.
#[derive(Debug)]
pub struct Deps {
    /// The inbound-message table.
    pub inbox: Recorder,
    /// The secret holding the Twilio auth token, cached with a TTL.
    pub secrets: SecretCache<aws_sdk_secretsmanager::Client>,
    /// The URL Twilio signs.
    pub public_webhook_url: String,
    /// Answer when a message cannot be recorded.
    pub apology_text: String,
    /// How long an inbound message is kept.
    pub inbound_ttl: Duration,
    /// The longest `Body` accepted, in characters.
    pub max_body_chars: usize,
    /// Time budget of one request.
    pub time_budget: Duration,
    /// CORS policy (the webhook is server-to-server, but every function
    /// answers with the same headers).
    pub cors: CorsConfig,
}

impl Deps {
    /// Dependencies from the configuration and the AWS clients.
    pub fn new(
        config: Config,
        dynamodb: aws_sdk_dynamodb::Client,
        secretsmanager: aws_sdk_secretsmanager::Client,
    ) -> Self {
        Self {
            inbox: Recorder::new(dynamodb, config.inbound_table),
            secrets: SecretCache::new(secretsmanager, config.secret_id, config.secret_ttl),
            public_webhook_url: config.public_webhook_url,
            apology_text: config.apology_text,
            inbound_ttl: config.inbound_ttl,
            max_body_chars: config.max_body_chars,
            time_budget: config.time_budget,
            cors: config.cors,
        }
    }
}

/// Handles one raw API Gateway event: parsing, errors as JSON and CORS are
/// `api_gateway::handle`'s job; the rest is [`handle`].
pub async fn handle_event(deps: &Deps, event: Value) -> Value {
    api_gateway::handle(event, &deps.cors, |request| handle(deps, request)).await
}
