//! Twilio retries a webhook it did not get an answer to; each `MessageSid`
//! is handled once.
//!
//! Items: partition key `message_sid`, `expires_at` (epoch seconds, the
//! table's TTL attribute, one day after receipt). DynamoDB deletes expired
//! items lazily, so the claim also succeeds over an item whose
//! `expires_at` has passed.

use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::Error;
use crate::dynamo::{epoch_secs, is_conditional_failure, store_error};

/// How long a `MessageSid` is remembered.
pub const TTL: Duration = Duration::from_secs(86_400);

/// Attribute names of the idempotency table.
pub mod attr {
    /// Partition key.
    pub const MESSAGE_SID: &str = "message_sid";
    /// TTL, epoch seconds.
    pub const EXPIRES_AT: &str = "expires_at";
}

/// Whether this invocation owns the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// First time seen: handle it.
    New,
    /// Already handled (or being handled): answer and do nothing.
    Duplicate,
}

/// The idempotency table.
#[derive(Debug, Clone)]
pub struct Idempotency {
    client: Client,
    table: String,
}

impl Idempotency {
    /// Records in `table`.
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    /// Records `message_sid` unless a live record exists.
    pub async fn claim(&self, message_sid: &str, now: SystemTime) -> Result<Claim, Error> {
        let now_secs = epoch_secs(now);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(attr::MESSAGE_SID, AttributeValue::S(message_sid.to_owned()))
            .item(
                attr::EXPIRES_AT,
                AttributeValue::N((now_secs + TTL.as_secs()).to_string()),
            )
            .condition_expression("attribute_not_exists(#sid) OR #exp < :now")
            .expression_attribute_names("#sid", attr::MESSAGE_SID)
            .expression_attribute_names("#exp", attr::EXPIRES_AT)
            .expression_attribute_values(":now", AttributeValue::N(now_secs.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::New),
            Err(err) if is_conditional_failure(&err) => Ok(Claim::Duplicate),
            Err(err) => Err(store_error("PutItem", &self.table, err)),
        }
    }

    /// Forgets `message_sid`, so that Twilio's retry is handled afresh.
    pub async fn release(&self, message_sid: &str) -> Result<(), Error> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(attr::MESSAGE_SID, AttributeValue::S(message_sid.to_owned()))
            .send()
            .await
            .map_err(|err| store_error("DeleteItem", &self.table, err))?;
        Ok(())
    }
}
