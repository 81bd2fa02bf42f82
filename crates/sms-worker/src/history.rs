//! Conversation history, one item per message.
//!
//! Items: partition key `phone` (E.164), sort key `ts`, a number: the
//! message's time in microseconds since the Unix epoch. Microseconds keep
//! turns in order, and uniqueness is enforced, not hoped for: every put is
//! conditional on the key being free and moves one microsecond on when it
//! is not (two messages of one sender in the same microsecond, or an
//! assistant turn written right after its user turn). Other attributes:
//! `role` (`user`/`assistant`), `content`, `message_sid` (the inbound
//! message the turn belongs to: a user turn is the message, an assistant
//! turn answers it), and `expires_at` (epoch seconds, the table's TTL
//! attribute).
//!
//! A worker attempt may be retried after it stored a turn, so storing is
//! idempotent: a turn's `ts` derives from its message (the time it was
//! received), and a put that finds its key taken by the same message's
//! turn of the same role counts as done.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};

use crate::Error;
use crate::dynamo::{epoch_secs, is_conditional_failure, store_error};

/// Attribute names of the history table.
pub mod attr {
    /// Partition key: the sender's phone.
    pub const PHONE: &str = "phone";
    /// Sort key: microseconds since the epoch, unique per phone.
    pub const TS: &str = "ts";
    /// `user` or `assistant`.
    pub const ROLE: &str = "role";
    /// The message text.
    pub const CONTENT: &str = "content";
    /// Twilio's id of an inbound message.
    pub const MESSAGE_SID: &str = "message_sid";
    /// TTL, epoch seconds.
    pub const EXPIRES_AT: &str = "expires_at";
}

/// Who said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The person texting.
    User,
    /// The assistant's answer.
    Assistant,
}

impl Role {
    /// The stored (and OpenAI) name of the role.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

/// One stored message.
#[derive(Clone, PartialEq, Eq)]
pub struct Turn {
    /// Its sort key.
    pub ts: u64,
    /// Who said it.
    pub role: Role,
    /// What was said.
    pub content: String,
}

// Message text is personal data: Debug shows its length only.
impl std::fmt::Debug for Turn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Turn")
            .field("ts", &self.ts)
            .field("role", &self.role)
            .field("content_chars", &self.content.chars().count())
            .finish()
    }
}

/// Attempts at finding a free `ts` before giving up.
const MAX_PUT_ATTEMPTS: u64 = 8;
/// BatchWriteItem's limit.
const BATCH: usize = 25;

/// The history table.
#[derive(Debug, Clone)]
pub struct History {
    client: Client,
    table: String,
    ttl: Duration,
}

impl History {
    /// The history in `table`, items living `ttl`.
    pub fn new(client: Client, table: String, ttl: Duration) -> Self {
        Self { client, table, ttl }
    }

    /// The last `n` messages of `phone` before `before` (a `ts`), oldest first.
    pub async fn recent(&self, phone: &str, n: u16, before: u64) -> Result<Vec<Turn>, Error> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#phone = :phone AND #ts < :before")
            .expression_attribute_names("#phone", attr::PHONE)
            .expression_attribute_names("#ts", attr::TS)
            .expression_attribute_values(":phone", AttributeValue::S(phone.to_owned()))
            .expression_attribute_values(":before", AttributeValue::N(before.to_string()))
            .scan_index_forward(false)
            .limit(i32::from(n))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| store_error("Query", &self.table, err))?;
        let mut turns = output
            .items()
            .iter()
            .map(|item| self.turn(item))
            .collect::<Result<Vec<_>, _>>()?;
        turns.reverse();
        Ok(turns)
    }

    /// Stores the `role` turn of inbound message `message_sid` of `phone`
    /// at `ts` (or the first free microsecond after it) and returns the `ts`
    /// it has. Stored once: if an earlier attempt stored it, nothing is
    /// written and its `ts` is returned.
    pub async fn append(
        &self,
        phone: &str,
        role: Role,
        content: &str,
        message_sid: &str,
        ts: u64,
        now: SystemTime,
    ) -> Result<u64, Error> {
        let expires_at = epoch_secs(now) + self.ttl.as_secs();
        let mut ts = ts;
        for _ in 0..MAX_PUT_ATTEMPTS {
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item(attr::PHONE, AttributeValue::S(phone.to_owned()))
                .item(attr::TS, AttributeValue::N(ts.to_string()))
                .item(attr::ROLE, AttributeValue::S(role.as_str().to_owned()))
                .item(attr::CONTENT, AttributeValue::S(content.to_owned()))
                .item(attr::MESSAGE_SID, AttributeValue::S(message_sid.to_owned()))
                .item(attr::EXPIRES_AT, AttributeValue::N(expires_at.to_string()))
                .condition_expression("attribute_not_exists(#ts)")
                .expression_attribute_names("#ts", attr::TS)
                .send()
                .await;
            match put {
                Ok(_) => return Ok(ts),
                Err(err) if is_conditional_failure(&err) => {
                    if self.holds(phone, ts, role, message_sid).await? {
                        return Ok(ts);
                    }
                    ts += 1;
                }
                Err(err) => return Err(store_error("PutItem", &self.table, err)),
            }
        }
        Err(Error::Internal(format!(
            "{}: no free ts after {MAX_PUT_ATTEMPTS} attempts",
            self.table
        )))
    }

    /// Whether the item at (`phone`, `ts`) is the `role` turn of `message_sid`.
    async fn holds(
        &self,
        phone: &str,
        ts: u64,
        role: Role,
        message_sid: &str,
    ) -> Result<bool, Error> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::PHONE, AttributeValue::S(phone.to_owned()))
            .key(attr::TS, AttributeValue::N(ts.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| store_error("GetItem", &self.table, err))?;
        let is = |name: &str, expected: &str| matches!(output.item.as_ref().and_then(|i| i.get(name)), Some(AttributeValue::S(v)) if v == expected);
        Ok(is(attr::MESSAGE_SID, message_sid) && is(attr::ROLE, role.as_str()))
    }

    /// Deletes every message of `phone`; returns how many.
    pub async fn clear(&self, phone: &str) -> Result<usize, Error> {
        let mut keys = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#phone = :phone")
                .expression_attribute_names("#phone", attr::PHONE)
                .expression_attribute_names("#ts", attr::TS)
                .expression_attribute_values(":phone", AttributeValue::S(phone.to_owned()))
                .projection_expression("#phone, #ts")
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|err| store_error("Query", &self.table, err))?;
            keys.extend(output.items().iter().cloned());
            match output.last_evaluated_key() {
                Some(last) if !last.is_empty() => start = Some(last.clone()),
                _ => break,
            }
        }
        let count = keys.len();
        for chunk in keys.chunks(BATCH) {
            let mut requests = chunk
                .iter()
                .map(|key| {
                    DeleteRequest::builder()
                        .set_key(Some(key.clone()))
                        .build()
                        .map(|delete| WriteRequest::builder().delete_request(delete).build())
                        .map_err(|err| Error::Internal(format!("building a delete: {err}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            // Unprocessed items are throttling; the SDK already backed off
            // once, so a few more rounds are enough or it is an outage.
            for _ in 0..4 {
                if requests.is_empty() {
                    break;
                }
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|err| store_error("BatchWriteItem", &self.table, err))?;
                requests = output
                    .unprocessed_items
                    .and_then(|mut items| items.remove(&self.table))
                    .unwrap_or_default();
            }
            if !requests.is_empty() {
                return Err(Error::Store {
                    operation: "BatchWriteItem",
                    table: self.table.clone(),
                    detail: format!("{} deletes left unprocessed", requests.len()),
                    permanent: false,
                });
            }
        }
        Ok(count)
    }

    fn turn(&self, item: &HashMap<String, AttributeValue>) -> Result<Turn, Error> {
        let corrupt = |what: &str| Error::Internal(format!("{}: history item {what}", self.table));
        let ts = match item.get(attr::TS) {
            Some(AttributeValue::N(n)) => n.parse().map_err(|_| corrupt("has a bad ts"))?,
            _ => return Err(corrupt("has no ts")),
        };
        let role = match item.get(attr::ROLE) {
            Some(AttributeValue::S(r)) if r == "user" => Role::User,
            Some(AttributeValue::S(r)) if r == "assistant" => Role::Assistant,
            _ => return Err(corrupt("has no valid role")),
        };
        let content = match item.get(attr::CONTENT) {
            Some(AttributeValue::S(c)) => c.clone(),
            _ => return Err(corrupt("has no content")),
        };
        Ok(Turn { ts, role, content })
    }
}
