//! The sms inbound-message record: the item format and states of the
//! inbound-message table, and the webhook's one write to it.
//!
//! The webhook writes each message once ([`Recorder::record`], a `PutItem`
//! conditional on its `MessageSid` being new: Twilio's retries and
//! duplicates stop there) in state [`State::Received`]; the table's stream
//! hands it to the worker, whose state transitions live in the `sms-inbox`
//! crate. Kept apart so that the webhook's code, and so its IAM role (see
//! `crates/iam-audit`), holds nothing but that write.

pub mod dynamo;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

/// Attribute names of the inbound-message table. The key must match
/// `terraform/schema/dynamodb.json` (table `idempotency`).
pub mod attr {
    /// Partition key: Twilio's `MessageSid`.
    pub const MESSAGE_SID: &str = "message_sid";
    /// The sender (E.164 or a channel address).
    pub const FROM: &str = "from";
    /// Our number the message was sent to; replies come from it.
    pub const TO: &str = "to";
    /// The text (may be empty: a picture only).
    pub const BODY: &str = "body";
    /// Twilio's Advanced Opt-Out classification, when present.
    pub const OPT_OUT_TYPE: &str = "opt_out_type";
    /// When the webhook recorded it, milliseconds since the epoch.
    pub const RECEIVED_AT: &str = "received_at";
    /// TTL, epoch seconds.
    pub const EXPIRES_AT: &str = "expires_at";
    /// One of [`super::State`].
    pub const STATE: &str = "state";
    /// Attempts claimed so far.
    pub const ATTEMPTS: &str = "attempts";
    /// Who holds the lease (an invocation's request id).
    pub const LEASE_OWNER: &str = "lease_owner";
    /// End of the lease, milliseconds since the epoch.
    pub const LEASE_UNTIL: &str = "lease_until";
    /// One of [`super::ReplyKind`].
    pub const REPLY_KIND: &str = "reply_kind";
    /// The reply's whole text, fixed once chosen.
    pub const REPLY_TEXT: &str = "reply_text";
    /// The reply's parts (list of strings), fixed once chosen.
    pub const REPLY_PARTS: &str = "reply_parts";
    /// How many parts went out.
    pub const PARTS_SENT: &str = "parts_sent";
    /// Twilio's SIDs of the parts that went out (list of strings).
    pub const REPLY_SIDS: &str = "reply_sids";
    /// The part whose send was started but not confirmed.
    pub const PENDING_PART: &str = "pending_part";
    /// When that send started, milliseconds since the epoch.
    pub const PENDING_SINCE: &str = "pending_since";
    /// How a finished message ended (`answer`, `stop`, `twilio_refused`...).
    pub const OUTCOME: &str = "outcome";
    /// The message ran out of attempts.
    pub const POISONED: &str = "poisoned";
    /// Code of the last failed attempt.
    pub const LAST_ERROR: &str = "last_error";
    /// Time of the last transition, milliseconds since the epoch.
    pub const UPDATED_AT: &str = "updated_at";
}

/// Where a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Recorded by the webhook, not yet claimed.
    Received,
    /// Claimed by a worker attempt (under a lease); no reply chosen yet.
    Answering,
    /// A reply was chosen; its parts are being sent.
    Sending,
    /// The reply went out. Terminal.
    Sent,
    /// Handled without a reply (STOP/START, no reply configured...). Terminal.
    Done,
    /// The reply could not be sent. Terminal.
    Failed,
}

impl State {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Answering => "answering",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    /// The state stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Received,
            Self::Answering,
            Self::Sending,
            Self::Sent,
            Self::Done,
            Self::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    /// Whether nothing more happens to a message in this state.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Sent | Self::Done | Self::Failed)
    }
}

/// What the reply is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyKind {
    /// The assistant's answer.
    Answer,
    /// The apology (the assistant or the attempts failed).
    Apology,
    /// The help text.
    Help,
    /// The confirmation that the history was cleared.
    Reset,
    /// The reply to an unknown or opted-out sender.
    UnknownSender,
}

impl ReplyKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answer => "answer",
            Self::Apology => "apology",
            Self::Help => "help",
            Self::Reset => "reset",
            Self::UnknownSender => "unknown_sender",
        }
    }

    /// The kind stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Answer,
            Self::Apology,
            Self::Help,
            Self::Reset,
            Self::UnknownSender,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }
}

/// One inbound message as Twilio posted it.
#[derive(Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// Twilio's id of the message.
    pub message_sid: String,
    /// The sender.
    pub from: String,
    /// Our number it was sent to.
    pub to: String,
    /// The text.
    pub body: String,
    /// Twilio's `OptOutType`, when present.
    pub opt_out_type: Option<String>,
    /// When it was recorded, milliseconds since the epoch.
    pub received_at_ms: u64,
}

// Message text and phone numbers are personal data: Debug shows neither.
impl std::fmt::Debug for InboundMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundMessage")
            .field("message_sid", &self.message_sid)
            .field("body_chars", &self.body.chars().count())
            .field("opt_out_type", &self.opt_out_type)
            .field("received_at_ms", &self.received_at_ms)
            .finish_non_exhaustive()
    }
}

/// What recording a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// First time seen: it is now in the table.
    New,
    /// Its `MessageSid` was already there: nothing written.
    Duplicate,
}

/// Why a table operation failed.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    /// The message is not in the state the write expected (another attempt
    /// holds or finished it, or the lease was lost).
    #[error("message {0} changed meanwhile")]
    Conflict(String),
    /// DynamoDB failed.
    #[error("{operation} on {table}: {detail}")]
    Store {
        /// The DynamoDB operation.
        operation: &'static str,
        /// The table.
        table: String,
        /// What the SDK said.
        detail: String,
        /// Retrying cannot help (validation, missing table, access denied).
        permanent: bool,
    },
    /// An item that does not have this crate's format.
    #[error("{table}: message {message_sid}: {what}")]
    Corrupt {
        /// The table.
        table: String,
        /// The item's key.
        message_sid: String,
        /// What is wrong.
        what: String,
    },
}

impl InboxError {
    /// Whether retrying the same operation later cannot succeed.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Store { permanent, .. } => *permanent,
            Self::Conflict(_) => false,
            Self::Corrupt { .. } => true,
        }
    }
}

/// A required table or index name variable of the sms functions, checked
/// against DynamoDB's rule (3 to 255 of `A-Z a-z 0-9 _ - .`) so that a
/// typo fails at init instead of on every message.
pub fn dynamodb_name(
    env: &(impl env_config::Env + ?Sized),
    variable: &str,
) -> Result<String, env_config::ConfigError> {
    let value = env_config::required(env, variable)?;
    let valid = (3..=255).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    if valid {
        Ok(value)
    } else {
        Err(env_config::ConfigError::new(
            variable,
            format!("{value:?} is not a DynamoDB table or index name (3-255 of A-Z a-z 0-9 _ - .)"),
        ))
    }
}

/// Milliseconds since the epoch.
pub fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A string attribute.
pub fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

/// A number attribute.
pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A DynamoDB failure of `operation` on `table` as an [`InboxError`].
pub fn store_error<E, R>(
    table: &str,
    operation: &'static str,
    err: &aws_sdk_dynamodb::error::SdkError<E, R>,
) -> InboxError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    InboxError::Store {
        operation,
        table: table.to_owned(),
        detail: dynamo::describe(err),
        permanent: dynamo::is_permanent(err),
    }
}

/// The webhook's side of the inbound-message table: recording messages.
#[derive(Debug, Clone)]
pub struct Recorder {
    client: Client,
    table: String,
}

impl Recorder {
    /// Records into `table`.
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Writes `message` in state `received`, kept for `ttl`, unless its
    /// `MessageSid` is already there (whatever its state or age: an item
    /// past its TTL but not yet deleted still counts, so every message is
    /// recorded, and streamed as an `INSERT`, exactly once).
    pub async fn record(
        &self,
        message: &InboundMessage,
        ttl: Duration,
    ) -> Result<Recorded, InboxError> {
        let expires_at = message.received_at_ms / 1000 + ttl.as_secs();
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(attr::MESSAGE_SID, s(&message.message_sid))
            .item(attr::FROM, s(&message.from))
            .item(attr::TO, s(&message.to))
            .item(attr::BODY, s(&message.body))
            .item(attr::RECEIVED_AT, n(message.received_at_ms))
            .item(attr::EXPIRES_AT, n(expires_at))
            .item(attr::STATE, s(State::Received.as_str()))
            .item(attr::ATTEMPTS, n(0))
            .item(attr::UPDATED_AT, n(message.received_at_ms))
            .condition_expression("attribute_not_exists(#sid)")
            .expression_attribute_names("#sid", attr::MESSAGE_SID);
        if let Some(kind) = &message.opt_out_type {
            put = put.item(attr::OPT_OUT_TYPE, s(kind));
        }
        match put.send().await {
            Ok(_) => Ok(Recorded::New),
            Err(err) if dynamo::is_conditional_failure(&err) => Ok(Recorded::Duplicate),
            Err(err) => Err(store_error(&self.table, "PutItem", &err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_kinds_round_trip_through_their_stored_names() {
        for state in [
            State::Received,
            State::Answering,
            State::Sending,
            State::Sent,
            State::Done,
            State::Failed,
        ] {
            assert_eq!(State::parse(state.as_str()), Some(state));
        }
        assert_eq!(State::parse("lost"), None);
        assert!(
            State::Sent.is_terminal() && State::Done.is_terminal() && State::Failed.is_terminal()
        );
        assert!(!State::Sending.is_terminal());
        for kind in [
            ReplyKind::Answer,
            ReplyKind::Apology,
            ReplyKind::Help,
            ReplyKind::Reset,
            ReplyKind::UnknownSender,
        ] {
            assert_eq!(ReplyKind::parse(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn dynamodb_names_follow_dynamodbs_rule() {
        let env = [
            ("OK", "sms-history_v2.prod"),
            ("SLASH", "a/b"),
            ("SHORT", "ab"),
        ];
        assert_eq!(
            dynamodb_name(&env, "OK").as_deref(),
            Ok("sms-history_v2.prod")
        );
        for bad in ["SLASH", "SHORT", "UNSET"] {
            assert_eq!(dynamodb_name(&env, bad).unwrap_err().variable, bad);
        }
        let long = "t".repeat(256);
        assert!(dynamodb_name(&[("LONG", long.as_str())], "LONG").is_err());
    }

    #[test]
    fn debug_output_holds_no_text_or_number() {
        let message = InboundMessage {
            message_sid: "SM1".into(),
            from: "+15551234567".into(),
            to: "+15550001111".into(),
            body: "private words".into(),
            opt_out_type: None,
            received_at_ms: 1,
        };
        let debug = format!("{message:?}");
        assert!(
            !debug.contains("private") && !debug.contains("+1555"),
            "{debug}"
        );
    }
}
