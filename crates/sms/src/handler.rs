//! One inbound message, from signature check to reply.
//!
//! Nothing is lost, nothing is answered twice:
//! 1. The signature is checked before anything else is looked at; a bad
//!    one is 403 and nothing is stored or sent. Missing fields are 400.
//! 2. The `MessageSid` is claimed with a conditional write; a duplicate
//!    gets empty TwiML and nothing else happens.
//! 3. Until a reply may have left (REST send attempted), any internal
//!    failure (DynamoDB down or too slow for the time budget, ...) releases
//!    the claim and answers 503, so Twilio's retry is handled from scratch:
//!    at least once.
//! 4. From the first send attempt on, failures are logged and the claim is
//!    kept, so a retry can never send a second answer: at most once for
//!    replies. A failed REST send is answered inline as TwiML instead.
//! 5. The user turn is stored before OpenAI is asked, so it survives an
//!    OpenAI failure; the assistant turn is stored after the answer went out.

use std::time::{Duration, SystemTime};

use api_gateway::{ApiError, GatewayRequest, GatewayResponse};
use http::Method;

use crate::deadline::Deadline;
use crate::directory::Sender;
use crate::form::{self, InboundMessage};
use crate::history::Role;
use crate::idempotency::Claim;
use crate::keywords::{self, Keyword};
use crate::openai::Prompt;
use crate::secrets::Credentials;
use crate::{Deps, Error, signature, split, twiml};

/// The least time given to storing the assistant turn once the answer is out.
const STORE_AFTER_SEND_FLOOR: Duration = Duration::from_millis(500);

/// The most a claim release may take once the budget is spent (the budget
/// plus this stays under Lambda's and Twilio's 15 s).
const RELEASE_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs a DynamoDB or Secrets Manager call made before any reply within
/// what is left of the budget, so that slow AWS calls (each bounded only by
/// the SDK's per-operation timeout) cannot add up past Twilio's window.
async fn within<T>(
    deadline: &Deadline,
    what: &'static str,
    call: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    tokio::time::timeout(deadline.remaining(), call)
        .await
        .unwrap_or(Err(Error::OutOfTime(what)))
}

/// Handles one request; errors become JSON error responses.
pub async fn handle(deps: &Deps, request: GatewayRequest) -> Result<GatewayResponse, ApiError> {
    let deadline = Deadline::after(deps.time_budget);
    inbound(deps, &request, &deadline)
        .await
        .map(twiml::response)
        .map_err(ApiError::from)
}

async fn inbound(
    deps: &Deps,
    request: &GatewayRequest,
    deadline: &Deadline,
) -> Result<String, Error> {
    if request.method != Method::POST {
        return Err(Error::MethodNotAllowed(request.method.to_string()));
    }
    // A body that is not a form cannot carry Twilio's signature: 403 like
    // any other unsigned request.
    let params = form::parse(&request.body).map_err(|err| {
        tracing::warn!(code = err.code(), error = %err, "webhook rejected: body is not a form");
        Error::BadSignature
    })?;
    let secret = within(deadline, "reading the secret", async {
        Ok(deps.secrets.get().await?)
    })
    .await?;
    let credentials = Credentials::from_secret(&secret)?;
    let signature = request.header("x-twilio-signature").unwrap_or_default();
    if !signature::validate(
        credentials.auth_token.expose(),
        &deps.public_webhook_url,
        &params,
        signature,
    ) {
        tracing::warn!(
            signature_present = !signature.is_empty(),
            "webhook rejected: Twilio signature missing or wrong"
        );
        return Err(Error::BadSignature);
    }
    let message = InboundMessage::from_params(&params)?;
    let claim = within(
        deadline,
        "claiming the MessageSid",
        deps.idempotency
            .claim(&message.message_sid, SystemTime::now()),
    )
    .await?;
    if claim == Claim::Duplicate {
        tracing::info!(message_sid = %message.message_sid, outcome = "duplicate", "message already handled");
        return Ok(twiml::EMPTY.to_owned());
    }
    let turn = Turn {
        deps,
        credentials: &credentials,
        message: &message,
        deadline,
    };
    match turn.respond().await {
        Ok(xml) => Ok(xml),
        Err(err) => {
            let release = tokio::time::timeout(
                RELEASE_TIMEOUT,
                deps.idempotency.release(&message.message_sid),
            )
            .await
            .unwrap_or(Err(Error::OutOfTime("releasing the MessageSid")));
            match release {
                Ok(()) => tracing::error!(
                    message_sid = %message.message_sid,
                    code = err.code(),
                    error = %err,
                    "message failed before any reply; released for Twilio's retry"
                ),
                Err(release_err) => tracing::error!(
                    message_sid = %message.message_sid,
                    code = err.code(),
                    error = %err,
                    release_error = %release_err,
                    "message failed before any reply and could not be released; a retry will be ignored"
                ),
            }
            Err(err)
        }
    }
}

/// One message being answered. Every `Err` it returns happened before any
/// reply was attempted.
struct Turn<'a> {
    deps: &'a Deps,
    credentials: &'a Credentials,
    message: &'a InboundMessage,
    deadline: &'a Deadline,
}

impl Turn<'_> {
    async fn respond(&self) -> Result<String, Error> {
        let (deps, message) = (self.deps, self.message);
        let deadline = self.deadline;
        let sender = within(
            deadline,
            "looking up the sender",
            deps.directory.find(&message.from),
        )
        .await?;
        match keywords::classify(&message.body, message.opt_out_type.as_deref()) {
            Some(Keyword::Stop) => return self.mirror(sender.as_ref(), false).await,
            Some(Keyword::Start) => return self.mirror(sender.as_ref(), true).await,
            Some(Keyword::Help) => {
                self.log_outcome("help", sender.as_ref());
                return Ok(self.deliver(&deps.help_text).await);
            }
            Some(Keyword::Reset) => {
                if let Some(known) = &sender {
                    let cleared = within(
                        deadline,
                        "clearing the history",
                        deps.history.clear(&message.from),
                    )
                    .await?;
                    tracing::info!(
                        message_sid = %message.message_sid,
                        user_id = %known.user_id,
                        cleared,
                        outcome = "reset",
                        "conversation cleared"
                    );
                    return Ok(self.deliver(&deps.reset_reply).await);
                }
            }
            None => {}
        }
        match &sender {
            Some(known) if known.sms_opt_in => self.converse(known).await,
            other => {
                let outcome = if other.is_some() {
                    "opted_out"
                } else {
                    "unknown_sender"
                };
                self.log_outcome(outcome, other.as_ref());
                Ok(match &deps.unknown_sender_reply {
                    Some(reply) => self.deliver(reply).await,
                    None => twiml::EMPTY.to_owned(),
                })
            }
        }
    }

    async fn converse(&self, sender: &Sender) -> Result<String, Error> {
        let (deps, message) = (self.deps, self.message);
        if message.body.trim().is_empty() {
            self.log_outcome("empty_message", Some(sender));
            return Ok(twiml::EMPTY.to_owned());
        }
        let history = within(
            self.deadline,
            "reading the history",
            deps.history.recent(&message.from, deps.history_turns),
        )
        .await?;
        let user_ts = within(
            self.deadline,
            "storing the user turn",
            deps.history.append(
                &message.from,
                Role::User,
                &message.body,
                Some(&message.message_sid),
                0,
                SystemTime::now(),
            ),
        )
        .await?;
        let prompt = Prompt {
            system: &deps.system_prompt,
            history: &history,
            user: &message.body,
        };
        let answer = deps
            .openai
            .complete(
                self.credentials.openai_api_key.expose(),
                prompt,
                self.deadline,
                deps.twilio.timeout(),
            )
            .await;
        match answer {
            Ok(answer) => {
                let xml = self.deliver(&answer).await;
                // Bounded: a slow DynamoDB must not hold back a TwiML answer
                // past Twilio's window.
                let stored = tokio::time::timeout(
                    self.deadline.remaining().max(STORE_AFTER_SEND_FLOOR),
                    deps.history.append(
                        &message.from,
                        Role::Assistant,
                        &answer,
                        None,
                        user_ts + 1,
                        SystemTime::now(),
                    ),
                )
                .await
                .unwrap_or_else(|_| {
                    Err(Error::Internal(
                        "storing the assistant turn outlasted the time budget".to_owned(),
                    ))
                });
                if let Err(err) = stored {
                    tracing::error!(
                        message_sid = %message.message_sid,
                        code = err.code(),
                        error = %err,
                        "the answer went out but its turn was not stored"
                    );
                }
                tracing::info!(
                    message_sid = %message.message_sid,
                    user_id = %sender.user_id,
                    history_turns = history.len(),
                    answer_chars = answer.chars().count(),
                    outcome = "answered",
                    "message answered"
                );
                Ok(xml)
            }
            Err(err) => {
                tracing::error!(
                    message_sid = %message.message_sid,
                    user_id = %sender.user_id,
                    code = err.code(),
                    error = %err,
                    outcome = "apology",
                    "OpenAI failed; sending the apology"
                );
                Ok(self.deliver(&deps.apology_text).await)
            }
        }
    }

    /// Mirrors Twilio's opt-out or opt-in into the profile; Twilio itself
    /// confirms to the sender, so we send nothing.
    async fn mirror(&self, sender: Option<&Sender>, opt_in: bool) -> Result<String, Error> {
        let outcome = if opt_in { "start" } else { "stop" };
        match sender {
            None => self.log_outcome(outcome, None),
            Some(known) => {
                let mirrored = within(
                    self.deadline,
                    "mirroring the opt-in choice",
                    self.deps.directory.set_opt_in(
                        known,
                        &self.message.from,
                        opt_in,
                        SystemTime::now(),
                    ),
                )
                .await?;
                tracing::info!(
                    message_sid = %self.message.message_sid,
                    user_id = %known.user_id,
                    sms_opt_in = opt_in,
                    result = ?mirrored,
                    outcome,
                    "opt-in choice mirrored"
                );
            }
        }
        Ok(twiml::EMPTY.to_owned())
    }

    /// Sends `text` (split if needed) through the REST API; what could not
    /// be sent comes back as TwiML for Twilio to send instead.
    async fn deliver(&self, text: &str) -> String {
        let parts = split::split(text, split::MAX_CHARS);
        for (index, part) in parts.iter().enumerate() {
            let sent = self
                .deps
                .twilio
                .send(
                    self.credentials,
                    &self.message.from,
                    &self.message.to,
                    part,
                    self.deadline,
                )
                .await;
            if let Err(err) = sent {
                tracing::error!(
                    message_sid = %self.message.message_sid,
                    code = err.code(),
                    error = %err,
                    part = index + 1,
                    parts = parts.len(),
                    "Twilio send failed; answering inline with TwiML"
                );
                return twiml::messages(&parts[index..]);
            }
        }
        tracing::info!(message_sid = %self.message.message_sid, parts = parts.len(), "reply sent");
        twiml::EMPTY.to_owned()
    }

    fn log_outcome(&self, outcome: &'static str, sender: Option<&Sender>) {
        tracing::info!(
            message_sid = %self.message.message_sid,
            user_id = sender.map_or("", |s| s.user_id.as_str()),
            outcome,
            "message handled"
        );
    }
}
