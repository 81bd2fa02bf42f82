//! What a message gets in reply, decided once per message.
//!
//! | sender / text | reply | OpenAI | history |
//! | --- | --- | --- | --- |
//! | `STOP` family / `START`, or Twilio's `OptOutType` | none (Twilio confirms); `sms_opt_in` mirrored | no | no |
//! | `HELP`/`INFO` | the help text | no | no |
//! | `RESET`, known user | history deleted, the reset reply | no | cleared |
//! | unknown or opted-out sender | the unknown-sender reply, or none | no | no |
//! | opted-in user, empty text | none | no | no |
//! | opted-in user | the assistant's answer | yes | user turn before OpenAI, assistant turn once sent |
//! | opted-in user, OpenAI fails after its retries | the apology | yes | user turn |

use std::time::SystemTime;

use sms_inbox::{InboundMessage, ReplyKind};

use crate::deadline::Deadline;
use crate::directory::Sender;
use crate::history::Role;
use crate::keywords::{self, Keyword};
use crate::openai::Prompt;
use crate::secrets::Credentials;
use crate::{Deps, Error};

/// The decision for one message.
#[derive(Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send `text`.
    Reply {
        /// What it is.
        kind: ReplyKind,
        /// The text, before splitting.
        text: String,
    },
    /// Send nothing; the message is done (`outcome` says why).
    Nothing(&'static str),
}

// Reply text may be the assistant's answer: Debug shows the kind only.
impl std::fmt::Debug for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Reply { kind, text } => f
                .debug_struct("Reply")
                .field("kind", kind)
                .field("chars", &text.chars().count())
                .finish(),
            Self::Nothing(outcome) => f.debug_tuple("Nothing").field(outcome).finish(),
        }
    }
}

/// The `ts` of a message's user turn in the history: the time it was
/// received, in microseconds (its assistant turn goes right after it).
pub fn user_turn_ts(message: &InboundMessage) -> u64 {
    message.received_at_ms.saturating_mul(1000)
}

/// Decides the reply to `message`. An `Err` means nothing was decided
/// (the attempt is retried); OpenAI failing is not an error but the
/// apology.
pub async fn decide(
    deps: &Deps,
    message: &InboundMessage,
    credentials: &Credentials,
    deadline: &Deadline,
) -> Result<Decision, Error> {
    let sender = deps.directory.find(&message.from).await?;
    match keywords::classify(&message.body, message.opt_out_type.as_deref()) {
        Some(Keyword::Stop) => return mirror(deps, message, sender.as_ref(), false).await,
        Some(Keyword::Start) => return mirror(deps, message, sender.as_ref(), true).await,
        Some(Keyword::Help) => {
            return Ok(Decision::Reply {
                kind: ReplyKind::Help,
                text: deps.texts.help.clone(),
            });
        }
        Some(Keyword::Reset) => {
            if let Some(known) = &sender {
                let cleared = deps.history.clear(&message.from).await?;
                tracing::info!(
                    message_sid = %message.message_sid,
                    user_id = %known.user_id,
                    cleared,
                    "conversation cleared"
                );
                return Ok(Decision::Reply {
                    kind: ReplyKind::Reset,
                    text: deps.texts.reset.clone(),
                });
            }
        }
        None => {}
    }
    match &sender {
        Some(known) if known.sms_opt_in => converse(deps, message, credentials, deadline).await,
        other => Ok(match &deps.texts.unknown_sender {
            Some(text) => Decision::Reply {
                kind: ReplyKind::UnknownSender,
                text: text.clone(),
            },
            None if other.is_some() => Decision::Nothing("opted_out"),
            None => Decision::Nothing("unknown_sender"),
        }),
    }
}

async fn converse(
    deps: &Deps,
    message: &InboundMessage,
    credentials: &Credentials,
    deadline: &Deadline,
) -> Result<Decision, Error> {
    if message.body.trim().is_empty() {
        return Ok(Decision::Nothing("empty_message"));
    }
    // One full OpenAI attempt and the send after it must fit in what is
    // left; otherwise a fresh invocation takes the message rather than
    // apologising for our own lack of time.
    let reserve = deps.twilio.timeout();
    if deadline
        .timeout(deps.openai.timeout(), reserve, deps.openai.timeout())
        .is_none()
    {
        return Err(Error::OutOfTime("asking OpenAI"));
    }
    let user_ts = user_turn_ts(message);
    let history = deps
        .history
        .recent(&message.from, deps.history_turns, user_ts)
        .await?;
    deps.history
        .append(
            &message.from,
            Role::User,
            &message.body,
            &message.message_sid,
            user_ts,
            SystemTime::now(),
        )
        .await?;
    let prompt = Prompt {
        system: &deps.texts.system_prompt,
        history: &history,
        user: &message.body,
    };
    let answer = deps
        .openai
        .complete(
            credentials.openai_api_key.expose(),
            prompt,
            deadline,
            reserve,
            seed(&message.message_sid),
        )
        .await;
    Ok(match answer {
        Ok(text) => {
            tracing::info!(
                message_sid = %message.message_sid,
                history_turns = history.len(),
                answer_chars = text.chars().count(),
                "OpenAI answered"
            );
            Decision::Reply {
                kind: ReplyKind::Answer,
                text,
            }
        }
        Err(err) => {
            tracing::error!(
                message_sid = %message.message_sid,
                code = err.code(),
                error = %err,
                "OpenAI failed; the sender gets the apology"
            );
            Decision::Reply {
                kind: ReplyKind::Apology,
                text: deps.texts.apology.clone(),
            }
        }
    })
}

/// Mirrors Twilio's opt-out or opt-in into the profile; Twilio itself
/// confirms to the sender, so we send nothing.
async fn mirror(
    deps: &Deps,
    message: &InboundMessage,
    sender: Option<&Sender>,
    opt_in: bool,
) -> Result<Decision, Error> {
    let outcome = if opt_in { "start" } else { "stop" };
    if let Some(known) = sender {
        let mirrored = deps
            .directory
            .set_opt_in(known, &message.from, opt_in, SystemTime::now())
            .await?;
        tracing::info!(
            message_sid = %message.message_sid,
            user_id = %known.user_id,
            sms_opt_in = opt_in,
            result = ?mirrored,
            "opt-in choice mirrored"
        );
    }
    Ok(Decision::Nothing(outcome))
}

/// A stable 64-bit hash of `text` (FNV-1a): spreads retry pauses per message.
pub fn seed(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_stable_and_differ_between_messages() {
        assert_eq!(seed("SM1"), seed("SM1"));
        assert_ne!(seed("SM1"), seed("SM2"));
        assert_eq!(seed(""), 0xcbf2_9ce4_8422_2325);
    }

    #[test]
    fn the_user_turn_sits_at_the_receipt_time_in_microseconds() {
        let message = InboundMessage {
            message_sid: "SM1".into(),
            from: "+1".into(),
            to: "+2".into(),
            body: String::new(),
            opt_out_type: None,
            received_at_ms: 1_795_000_000_123,
        };
        assert_eq!(user_turn_ts(&message), 1_795_000_000_123_000);
    }
}
