//! The sms inbound-message table: the one record of each message Twilio
//! delivered, written by the webhook and driven to an answer by the worker.
//!
//! The webhook writes a message once (`PutItem` conditional on its
//! `MessageSid` being new: Twilio's retries and duplicates stop there) in
//! state [`State::Received`]. The table's stream hands it to the worker,
//! which moves it through explicit states, every step a conditional write
//! so that two attempts can never both act:
//!
//! ```text
//! received ──claim──▶ answering ──choose a reply──▶ sending ──last part sent──▶ sent
//!                        │                            │
//!                        └──nothing to send──▶ done   └──cannot be sent──▶ failed
//! ```
//!
//! - A claim takes a *lease* (`lease_owner`, `lease_until`: the end of the
//!   claiming invocation) and counts the attempt. A lease that has run out
//!   (the worker crashed or timed out) can be claimed by the next attempt;
//!   a live one cannot.
//! - The reply (its kind and its parts, split for SMS) is chosen once and
//!   stored before anything is sent: a later attempt sends the same reply,
//!   never a second one (an answer *or* the apology, never both).
//! - Before each part goes to Twilio the attempt marks it *pending*; once
//!   Twilio answered, the part is counted as sent with its SID. A pending
//!   part found by a later attempt had an unknown outcome: the worker asks
//!   Twilio whether it went out before sending it again.
//! - `poisoned` marks a message whose attempts ran out; the worker reports
//!   it as failed so that Lambda's event source mapping puts it in the
//!   on-failure destination.

pub mod dynamo;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

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

/// A worker attempt's hold on a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The holder (an invocation's request id).
    pub owner: String,
    /// When it runs out, milliseconds since the epoch.
    pub until_ms: u64,
}

/// A part whose send started and was not confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// Its index.
    pub part: usize,
    /// When the send started, milliseconds since the epoch.
    pub since_ms: u64,
}

/// The reply chosen for a message and how far sending it got.
#[derive(Clone, PartialEq, Eq)]
pub struct Reply {
    /// What it is.
    pub kind: ReplyKind,
    /// The whole text.
    pub text: String,
    /// The SMS parts, in order.
    pub parts: Vec<String>,
    /// How many parts went out.
    pub sent: usize,
    /// Twilio's SIDs of the parts that went out.
    pub sids: Vec<String>,
    /// A part whose outcome is unknown.
    pub pending: Option<Pending>,
}

// The reply is message text: Debug shows its shape only.
impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("kind", &self.kind)
            .field("parts", &self.parts.len())
            .field("sent", &self.sent)
            .field("sids", &self.sids)
            .field("pending", &self.pending)
            .finish()
    }
}

/// A message and everything known about its handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The message.
    pub message: InboundMessage,
    /// Where it is.
    pub state: State,
    /// Attempts claimed so far.
    pub attempts: u32,
    /// The current (or last) lease.
    pub lease: Option<Lease>,
    /// The reply, once chosen.
    pub reply: Option<Reply>,
    /// How it ended, once finished.
    pub outcome: Option<String>,
    /// It ran out of attempts.
    pub poisoned: bool,
    /// Code of the last failed attempt.
    pub last_error: Option<String>,
}

impl Record {
    /// Whether a live lease (one running past `now_ms`) is held by someone.
    pub fn leased_at(&self, now_ms: u64) -> Option<&Lease> {
        self.lease.as_ref().filter(|lease| lease.until_ms > now_ms)
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

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The inbound-message table.
#[derive(Debug, Clone)]
pub struct Inbox {
    client: Client,
    table: String,
}

impl Inbox {
    /// The messages in `table`.
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    fn store_error<E, R>(
        &self,
        operation: &'static str,
        err: &aws_sdk_dynamodb::error::SdkError<E, R>,
    ) -> InboxError
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        InboxError::Store {
            operation,
            table: self.table.clone(),
            detail: dynamo::describe(err),
            permanent: dynamo::is_permanent(err),
        }
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
            Err(err) => Err(self.store_error("PutItem", &err)),
        }
    }

    /// The record of `message_sid` (strongly consistent), if any. An item
    /// without a state is not a message record but a bare claim, as the
    /// webhook wrote them before the worker existed (or after a rollback to
    /// such a version): there is nothing to answer, so it counts as absent.
    pub async fn get(&self, message_sid: &str) -> Result<Option<Record>, InboxError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::MESSAGE_SID, s(message_sid))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| self.store_error("GetItem", &err))?;
        match output.item {
            Some(item) if item.contains_key(attr::STATE) => self.parse(&item).map(Some),
            _ => Ok(None),
        }
    }

    /// Takes the lease of `seen` for `owner` until `lease_until_ms` and
    /// counts an attempt, if nothing changed since it was read and no live
    /// lease is held at `now_ms`. A received message becomes `answering`;
    /// one already answering or sending stays where it was. Returns the
    /// record as claimed.
    pub async fn claim(
        &self,
        seen: &Record,
        owner: &str,
        lease_until_ms: u64,
        now_ms: u64,
    ) -> Result<Record, InboxError> {
        let next = match seen.state {
            State::Received | State::Answering => State::Answering,
            State::Sending => State::Sending,
            terminal => {
                return Err(InboxError::Corrupt {
                    table: self.table.clone(),
                    message_sid: seen.message.message_sid.clone(),
                    what: format!("cannot claim a message in state {}", terminal.as_str()),
                });
            }
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::MESSAGE_SID, s(&seen.message.message_sid))
            .update_expression(
                "SET #state = :next, #attempts = :attempts, #owner = :owner, #until = :until, #updated = :now",
            )
            .condition_expression(
                "#state = :seen AND #attempts = :seen_attempts AND (attribute_not_exists(#until) OR #until <= :now)",
            )
            .expression_attribute_names("#state", attr::STATE)
            .expression_attribute_names("#attempts", attr::ATTEMPTS)
            .expression_attribute_names("#owner", attr::LEASE_OWNER)
            .expression_attribute_names("#until", attr::LEASE_UNTIL)
            .expression_attribute_names("#updated", attr::UPDATED_AT)
            .expression_attribute_values(":next", s(next.as_str()))
            .expression_attribute_values(":seen", s(seen.state.as_str()))
            .expression_attribute_values(":seen_attempts", n(seen.attempts))
            .expression_attribute_values(":attempts", n(seen.attempts + 1))
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":until", n(lease_until_ms))
            .expression_attribute_values(":now", n(now_ms))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => match output.attributes {
                Some(item) => self.parse(&item),
                None => Err(InboxError::Corrupt {
                    table: self.table.clone(),
                    message_sid: seen.message.message_sid.clone(),
                    what: "the claim returned no item".to_owned(),
                }),
            },
            Err(err) if dynamo::is_conditional_failure(&err) => {
                Err(InboxError::Conflict(seen.message.message_sid.clone()))
            }
            Err(err) => Err(self.store_error("UpdateItem", &err)),
        }
    }

    /// Fixes the reply of a message `owner` is answering (`text`, sent as
    /// `parts`): `answering` -> `sending`, nothing sent yet.
    pub async fn choose_reply(
        &self,
        message_sid: &str,
        owner: &str,
        kind: ReplyKind,
        text: &str,
        parts: &[String],
        now_ms: u64,
    ) -> Result<(), InboxError> {
        self.update(
            message_sid,
            "SET #state = :sending, #kind = :kind, #text = :text, #parts = :parts, #sent = :zero, #sids = :empty, #updated = :now",
            "#state = :answering AND #owner = :owner",
            &[
                ("#state", attr::STATE),
                ("#kind", attr::REPLY_KIND),
                ("#text", attr::REPLY_TEXT),
                ("#parts", attr::REPLY_PARTS),
                ("#sent", attr::PARTS_SENT),
                ("#sids", attr::REPLY_SIDS),
                ("#updated", attr::UPDATED_AT),
                ("#owner", attr::LEASE_OWNER),
            ],
            vec![
                (":sending", s(State::Sending.as_str())),
                (":answering", s(State::Answering.as_str())),
                (":kind", s(kind.as_str())),
                (":text", s(text)),
                (
                    ":parts",
                    AttributeValue::L(parts.iter().map(|p| s(p)).collect()),
                ),
                (":zero", n(0)),
                (":empty", AttributeValue::L(Vec::new())),
                (":now", n(now_ms)),
                (":owner", s(owner)),
            ],
        )
        .await
    }

    /// Marks `part` as being sent from `since_ms`, if `owner` still holds
    /// the lease until at least `lease_needed_until_ms` (so that no other
    /// attempt can take over while the send may still be in flight) and
    /// `part` is the next one.
    pub async fn mark_pending(
        &self,
        message_sid: &str,
        owner: &str,
        part: usize,
        since_ms: u64,
        lease_needed_until_ms: u64,
    ) -> Result<(), InboxError> {
        self.update(
            message_sid,
            "SET #pending = :part, #since = :since, #updated = :since",
            "#state = :sending AND #owner = :owner AND #sent = :part AND #until >= :needed",
            &[
                ("#pending", attr::PENDING_PART),
                ("#since", attr::PENDING_SINCE),
                ("#updated", attr::UPDATED_AT),
                ("#state", attr::STATE),
                ("#owner", attr::LEASE_OWNER),
                ("#sent", attr::PARTS_SENT),
                ("#until", attr::LEASE_UNTIL),
            ],
            vec![
                (":part", n(part)),
                (":since", n(since_ms)),
                (":sending", s(State::Sending.as_str())),
                (":owner", s(owner)),
                (":needed", n(lease_needed_until_ms)),
            ],
        )
        .await
    }

    /// Counts `part` as sent with Twilio's `twilio_sid`.
    pub async fn part_sent(
        &self,
        message_sid: &str,
        owner: &str,
        part: usize,
        twilio_sid: &str,
        now_ms: u64,
    ) -> Result<(), InboxError> {
        self.update(
            message_sid,
            "SET #sent = :next, #sids = list_append(#sids, :sid), #updated = :now REMOVE #pending, #since",
            "#state = :sending AND #owner = :owner AND #sent = :part",
            &[
                ("#sent", attr::PARTS_SENT),
                ("#sids", attr::REPLY_SIDS),
                ("#updated", attr::UPDATED_AT),
                ("#pending", attr::PENDING_PART),
                ("#since", attr::PENDING_SINCE),
                ("#state", attr::STATE),
                ("#owner", attr::LEASE_OWNER),
            ],
            vec![
                (":next", n(part + 1)),
                (":part", n(part)),
                (":sid", AttributeValue::L(vec![s(twilio_sid)])),
                (":now", n(now_ms)),
                (":sending", s(State::Sending.as_str())),
                (":owner", s(owner)),
            ],
        )
        .await
    }

    /// Clears the pending mark of `part`: Twilio certainly did not send it.
    pub async fn part_not_sent(
        &self,
        message_sid: &str,
        owner: &str,
        part: usize,
        now_ms: u64,
    ) -> Result<(), InboxError> {
        self.update(
            message_sid,
            "SET #updated = :now REMOVE #pending, #since",
            "#state = :sending AND #owner = :owner AND #pending = :part",
            &[
                ("#updated", attr::UPDATED_AT),
                ("#pending", attr::PENDING_PART),
                ("#since", attr::PENDING_SINCE),
                ("#state", attr::STATE),
                ("#owner", attr::LEASE_OWNER),
            ],
            vec![
                (":part", n(part)),
                (":now", n(now_ms)),
                (":sending", s(State::Sending.as_str())),
                (":owner", s(owner)),
            ],
        )
        .await
    }

    /// Ends the handling of a message `owner` holds: `sent`, `done` or
    /// `failed`, with how it ended; the lease is dropped.
    pub async fn finish(
        &self,
        message_sid: &str,
        owner: &str,
        state: State,
        outcome: &str,
        poisoned: bool,
        now_ms: u64,
    ) -> Result<(), InboxError> {
        if !state.is_terminal() {
            return Err(InboxError::Corrupt {
                table: self.table.clone(),
                message_sid: message_sid.to_owned(),
                what: format!("{} is not a final state", state.as_str()),
            });
        }
        self.update(
            message_sid,
            "SET #state = :state, #outcome = :outcome, #poisoned = :poisoned, #updated = :now REMOVE #owner, #until",
            "#owner = :owner AND (#state = :answering OR #state = :sending)",
            &[
                ("#state", attr::STATE),
                ("#outcome", attr::OUTCOME),
                ("#poisoned", attr::POISONED),
                ("#updated", attr::UPDATED_AT),
                ("#owner", attr::LEASE_OWNER),
                ("#until", attr::LEASE_UNTIL),
            ],
            vec![
                (":state", s(state.as_str())),
                (":outcome", s(outcome)),
                (":poisoned", AttributeValue::Bool(poisoned)),
                (":now", n(now_ms)),
                (":owner", s(owner)),
                (":answering", s(State::Answering.as_str())),
                (":sending", s(State::Sending.as_str())),
            ],
        )
        .await
    }

    /// Gives up `owner`'s lease early after a failed attempt (recording the
    /// error's code), so that the next attempt need not wait for it to run
    /// out. The state stays where it was.
    pub async fn release(
        &self,
        message_sid: &str,
        owner: &str,
        error_code: &str,
        now_ms: u64,
    ) -> Result<(), InboxError> {
        self.update(
            message_sid,
            "SET #until = :now, #error = :error, #updated = :now",
            "#owner = :owner AND (#state = :answering OR #state = :sending)",
            &[
                ("#until", attr::LEASE_UNTIL),
                ("#error", attr::LAST_ERROR),
                ("#updated", attr::UPDATED_AT),
                ("#owner", attr::LEASE_OWNER),
                ("#state", attr::STATE),
            ],
            vec![
                (":now", n(now_ms)),
                (":error", s(error_code)),
                (":owner", s(owner)),
                (":answering", s(State::Answering.as_str())),
                (":sending", s(State::Sending.as_str())),
            ],
        )
        .await
    }

    async fn update(
        &self,
        message_sid: &str,
        update: &str,
        condition: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<(), InboxError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::MESSAGE_SID, s(message_sid))
            .update_expression(update)
            .condition_expression(condition);
        for (placeholder, name) in names {
            request = request.expression_attribute_names(*placeholder, *name);
        }
        for (placeholder, value) in values {
            request = request.expression_attribute_values(placeholder, value);
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) if dynamo::is_conditional_failure(&err) => {
                Err(InboxError::Conflict(message_sid.to_owned()))
            }
            Err(err) => Err(self.store_error("UpdateItem", &err)),
        }
    }

    /// An item as a [`Record`].
    pub fn parse(&self, item: &HashMap<String, AttributeValue>) -> Result<Record, InboxError> {
        let message_sid = match item.get(attr::MESSAGE_SID) {
            Some(AttributeValue::S(sid)) => sid.clone(),
            _ => String::new(),
        };
        let corrupt = |what: String| InboxError::Corrupt {
            table: self.table.clone(),
            message_sid: message_sid.clone(),
            what,
        };
        let text = |name: &str| -> Result<Option<String>, InboxError> {
            match item.get(name) {
                None | Some(AttributeValue::Null(_)) => Ok(None),
                Some(AttributeValue::S(value)) => Ok(Some(value.clone())),
                Some(_) => Err(corrupt(format!("{name} is not a string"))),
            }
        };
        let required =
            |name: &str| text(name)?.ok_or_else(|| corrupt(format!("{name} is missing")));
        let number = |name: &str| -> Result<Option<u64>, InboxError> {
            match item.get(name) {
                None | Some(AttributeValue::Null(_)) => Ok(None),
                Some(AttributeValue::N(value)) => value
                    .parse()
                    .map(Some)
                    .map_err(|_| corrupt(format!("{name} is not a whole number"))),
                Some(_) => Err(corrupt(format!("{name} is not a number"))),
            }
        };
        let texts = |name: &str| -> Result<Vec<String>, InboxError> {
            match item.get(name) {
                None => Ok(Vec::new()),
                Some(AttributeValue::L(values)) => values
                    .iter()
                    .map(|v| match v {
                        AttributeValue::S(text) => Ok(text.clone()),
                        _ => Err(corrupt(format!("{name} holds a non-string"))),
                    })
                    .collect(),
                Some(_) => Err(corrupt(format!("{name} is not a list"))),
            }
        };
        let index =
            |value: u64| usize::try_from(value).map_err(|_| corrupt("index too large".into()));
        if message_sid.is_empty() {
            return Err(corrupt(format!("{} is missing", attr::MESSAGE_SID)));
        }
        let message = InboundMessage {
            message_sid: message_sid.clone(),
            from: required(attr::FROM)?,
            to: required(attr::TO)?,
            body: text(attr::BODY)?.unwrap_or_default(),
            opt_out_type: text(attr::OPT_OUT_TYPE)?,
            received_at_ms: number(attr::RECEIVED_AT)?.unwrap_or(0),
        };
        let state_name = required(attr::STATE)?;
        let state = State::parse(&state_name)
            .ok_or_else(|| corrupt(format!("unknown state {state_name:?}")))?;
        let lease = match (text(attr::LEASE_OWNER)?, number(attr::LEASE_UNTIL)?) {
            (Some(owner), Some(until_ms)) => Some(Lease { owner, until_ms }),
            _ => None,
        };
        let reply = match text(attr::REPLY_KIND)? {
            None => None,
            Some(kind_name) => {
                let kind = ReplyKind::parse(&kind_name)
                    .ok_or_else(|| corrupt(format!("unknown reply kind {kind_name:?}")))?;
                let pending = match (number(attr::PENDING_PART)?, number(attr::PENDING_SINCE)?) {
                    (Some(part), Some(since_ms)) => Some(Pending {
                        part: index(part)?,
                        since_ms,
                    }),
                    _ => None,
                };
                Some(Reply {
                    kind,
                    text: text(attr::REPLY_TEXT)?.unwrap_or_default(),
                    parts: texts(attr::REPLY_PARTS)?,
                    sent: index(number(attr::PARTS_SENT)?.unwrap_or(0))?,
                    sids: texts(attr::REPLY_SIDS)?,
                    pending,
                })
            }
        };
        let poisoned = match item.get(attr::POISONED) {
            Some(AttributeValue::Bool(value)) => *value,
            None => false,
            Some(_) => return Err(corrupt(format!("{} is not a boolean", attr::POISONED))),
        };
        Ok(Record {
            message,
            state,
            attempts: u32::try_from(number(attr::ATTEMPTS)?.unwrap_or(0))
                .map_err(|_| corrupt("attempts too large".into()))?,
            lease,
            reply,
            outcome: text(attr::OUTCOME)?,
            poisoned,
            last_error: text(attr::LAST_ERROR)?,
        })
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
        let reply = Reply {
            kind: ReplyKind::Answer,
            text: "secret answer".into(),
            parts: vec!["secret answer".into()],
            sent: 0,
            sids: vec![],
            pending: None,
        };
        let debug = format!("{message:?} {reply:?}");
        assert!(
            !debug.contains("private") && !debug.contains("+1555") && !debug.contains("secret"),
            "{debug}"
        );
    }
}
