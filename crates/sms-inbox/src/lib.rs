//! The sms inbound-message table: the one record of each message Twilio
//! delivered, written by the webhook and driven to an answer by the worker.
//!
//! The webhook writes a message once (`sms_record`: a `PutItem` conditional on its
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

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

// The format, the states and the webhook's write, for the worker's use.
pub use sms_record::{
    InboundMessage, InboxError, Recorded, Recorder, ReplyKind, State, attr, dynamo, dynamodb_name,
    epoch_ms,
};
use sms_record::{n, s, store_error};

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
        store_error(&self.table, operation, err)
    }

    /// Writes `message` in state `received`, kept for `ttl`, unless its
    /// `MessageSid` is already there ([`Recorder::record`]).
    pub async fn record(
        &self,
        message: &InboundMessage,
        ttl: Duration,
    ) -> Result<Recorded, InboxError> {
        Recorder::new(self.client.clone(), self.table.clone())
            .record(message, ttl)
            .await
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
    fn a_replys_debug_output_holds_no_text() {
        let reply = Reply {
            kind: ReplyKind::Answer,
            text: "secret answer".into(),
            parts: vec!["secret answer".into()],
            sent: 0,
            sids: vec![],
            pending: None,
        };
        let debug = format!("{reply:?}");
        assert!(!debug.contains("secret"), "{debug}");
    }
}
