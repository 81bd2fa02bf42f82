//! The sms worker: answers the inbound messages the sms webhook recorded.
//!
//! Lambda's event source mapping hands it batches of the inbound-message
//! table's DynamoDB stream ([`stream`]). Each new message is driven through
//! the states of `sms_inbox` ([`process`]): claimed under a lease, answered
//! according to its sender ([`directory`]) and text ([`keywords`]) with the
//! assistant's answer from OpenAI ([`openai`]) and the conversation so far
//! ([`history`]), or with a fixed reply ([`reply`]), and sent through
//! Twilio's REST API ([`twilio`], split by [`split`]) at most once. A
//! record that must be tried again is reported in the partial batch
//! response; Lambda delivers it again, and after the last attempt puts it
//! in the on-failure destination.
//!
//! Configuration: [`Config`] (every variable is in the README); credentials:
//! one Secrets Manager secret ([`secrets`]).

pub mod config;
pub mod deadline;
pub mod directory;
mod dynamo;
mod error;
pub mod history;
pub mod keywords;
pub mod openai;
pub mod process;
pub mod reply;
pub mod secrets;
pub mod split;
pub mod stream;
pub mod twilio;

pub use config::Config;
pub use error::Error;

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use secret_cache::SecretCache;
use serde_json::Value;
use sms_inbox::Inbox;
use tokio::sync::Mutex;
use tokio::task::JoinSet;

use crate::deadline::Deadline;
use crate::directory::Directory;
use crate::history::History;
use crate::openai::{OpenAi, Retry};
use crate::process::Outcome;
use crate::stream::Delivery;
use crate::twilio::Twilio;

/// The fixed texts the worker sends or sends with.
#[derive(Debug, Clone)]
pub struct Texts {
    /// The system prompt.
    pub system_prompt: String,
    /// Answer to `HELP`.
    pub help: String,
    /// Answer to `RESET`.
    pub reset: String,
    /// Answer when the assistant cannot answer, or the attempts ran out.
    pub apology: String,
    /// Answer to unknown or opted-out senders, if any.
    pub unknown_sender: Option<String>,
}

/// What the worker needs, built once per cold start.
#[derive(Debug)]
pub struct Deps {
    /// The inbound messages and their states.
    pub inbox: Inbox,
    /// Senders by phone, and opt-in mirroring.
    pub directory: Directory,
    /// Conversation history.
    pub history: History,
    /// The Twilio/OpenAI credentials, cached with a TTL.
    pub secrets: SecretCache<aws_sdk_secretsmanager::Client>,
    /// Chat completions.
    pub openai: OpenAi,
    /// Message sending and lookup.
    pub twilio: Twilio,
    /// Fixed texts.
    pub texts: Texts,
    /// Earlier messages sent with each one.
    pub history_turns: u16,
    /// The attempt that sends the apology instead of trying again.
    pub max_attempts: u32,
    /// Sends of one part when Twilio certainly did not take it.
    pub twilio_send_attempts: u32,
    /// Wait after a send with an unknown outcome before asking Twilio.
    pub reconcile_delay: Duration,
    /// Messages of one batch handled at the same time.
    pub concurrency: usize,
    /// Time kept back from the invocation's deadline.
    pub deadline_reserve: Duration,
}

impl Deps {
    /// Dependencies from the configuration, the AWS clients and the
    /// process's one HTTPS client (aws-env's, shared with the SDK clients),
    /// used for OpenAI and Twilio. Per-request timeouts come from the
    /// configuration and the invocation's deadline.
    pub fn new(
        config: Config,
        dynamodb: aws_sdk_dynamodb::Client,
        secretsmanager: aws_sdk_secretsmanager::Client,
        http: reqwest::Client,
    ) -> Result<Self, Error> {
        Ok(Self {
            inbox: Inbox::new(dynamodb.clone(), config.inbound_table),
            directory: Directory::new(
                dynamodb.clone(),
                config.users_table,
                config.users_phone_index,
            ),
            history: History::new(dynamodb, config.history_table, config.history_ttl),
            secrets: SecretCache::new(secretsmanager, config.secret_id, config.secret_ttl),
            openai: OpenAi::new(
                http.clone(),
                &config.openai_base_url,
                config.openai_model,
                config.max_completion_tokens,
                config.openai_timeout,
                Retry {
                    max_attempts: config.openai_max_attempts,
                    backoff: config.openai_backoff,
                    backoff_max: config.openai_backoff_max,
                },
            ),
            twilio: Twilio::new(http, config.twilio_base_url, config.twilio_timeout),
            texts: Texts {
                system_prompt: config.system_prompt,
                help: config.help_text,
                reset: config.reset_reply,
                apology: config.apology_text,
                unknown_sender: config.unknown_sender_reply,
            },
            history_turns: config.history_turns,
            max_attempts: config.max_attempts,
            twilio_send_attempts: config.twilio_send_attempts,
            reconcile_delay: config.reconcile_delay,
            concurrency: config.concurrency,
            deadline_reserve: config.deadline_reserve,
        })
    }
}

/// The invocation a batch arrived in.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// Lambda's request id: the owner of the leases this invocation takes.
    pub request_id: String,
    /// When Lambda stops the invocation.
    pub deadline: SystemTime,
}

/// Handles one stream batch and returns the partial batch response. An
/// event that is not a DynamoDB stream batch is an error (Lambda retries
/// the whole batch, then puts it in the on-failure destination).
pub async fn handle_batch(
    deps: &Arc<Deps>,
    event: Value,
    invocation: &Invocation,
) -> Result<Value, Error> {
    let batch = stream::batch(event)
        .map_err(|err| Error::Internal(format!("not a DynamoDB stream event: {err}")))?;
    let deadline = Deadline::before(invocation.deadline, deps.deadline_reserve);
    let lease_until_ms = sms_inbox::epoch_ms(invocation.deadline);

    // Messages of one sender in stream order, senders side by side.
    let mut groups: VecDeque<(String, Vec<Delivery>)> = VecDeque::new();
    let mut seen = HashSet::new();
    for delivery in batch.deliveries {
        // A record delivered twice in one batch is handled once.
        if !seen.insert(delivery.message_sid.clone()) {
            continue;
        }
        match groups.iter_mut().find(|(from, _)| *from == delivery.from) {
            Some((_, group)) => group.push(delivery),
            None => groups.push_back((delivery.from.clone(), vec![delivery])),
        }
    }
    let messages = seen.len();
    let queue = Arc::new(Mutex::new(groups));
    let mut workers = JoinSet::new();
    for _ in 0..deps.concurrency.max(1) {
        let (deps, queue, owner) = (
            Arc::clone(deps),
            Arc::clone(&queue),
            invocation.request_id.clone(),
        );
        workers.spawn(async move {
            let mut failed = Vec::new();
            loop {
                let Some((_, group)) = queue.lock().await.pop_front() else {
                    break;
                };
                let mut held_back = false;
                for delivery in group {
                    let outcome = if held_back {
                        Outcome::Retry("held_back")
                    } else {
                        let attempt = process::Attempt {
                            owner: &owner,
                            deadline,
                            lease_until_ms,
                        };
                        process::process(&deps, &delivery.message_sid, &attempt).await
                    };
                    match outcome {
                        Outcome::Handled => {}
                        Outcome::Retry(_) => {
                            // Later messages of this sender wait for it, so
                            // that they are answered in order.
                            held_back = true;
                            failed.push(delivery.item_identifier);
                        }
                        Outcome::Poisoned => failed.push(delivery.item_identifier),
                    }
                }
            }
            failed
        });
    }
    let mut failed = Vec::new();
    while let Some(result) = workers.join_next().await {
        match result {
            Ok(ids) => failed.extend(ids),
            Err(err) => {
                // A panic inside a message's handling: fail the whole batch
                // so that Lambda delivers it again.
                return Err(Error::Internal(format!("a message task failed: {err}")));
            }
        }
    }
    tracing::info!(
        messages,
        ignored = batch.ignored,
        failed = failed.len(),
        "batch handled"
    );
    Ok(stream::response(failed.iter().map(String::as_str)))
}
