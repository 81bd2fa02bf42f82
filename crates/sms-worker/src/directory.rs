//! Senders, looked up in the users function's table by phone.
//!
//! The users function owns that table (item format in the `user-record`
//! crate: `user_id`, E.164 `phone`, `sms_opt_in` bool, `version` number,
//! `updated_at` RFC 3339). This function reads it through the `phone` GSI
//! and writes one thing: `sms_opt_in`, when Twilio reports `STOP` or
//! `START`. That write bumps `version` and `updated_at` like any profile
//! change, so a client holding the old version gets 412 from the users
//! function instead of silently overwriting the opt-out.

use std::collections::HashMap;
use std::time::SystemTime;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::Error;
use crate::dynamo::{is_conditional_failure, store_error};

/// The users table's attribute names (this function relies on `user_id`,
/// `phone`, `sms_opt_in`, `version` and `updated_at`).
pub use user_record::attr;

/// A known sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// The user's id.
    pub user_id: String,
    /// Whether they opted in to assistant replies.
    pub sms_opt_in: bool,
}

/// What mirroring an opt-in choice did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mirrored {
    /// `sms_opt_in` was changed.
    Updated,
    /// It already had that value; nothing written.
    Unchanged,
    /// The profile was deleted or its phone changed meanwhile.
    Gone,
}

/// Reads senders from, and mirrors opt-outs into, the users table.
#[derive(Debug, Clone)]
pub struct Directory {
    client: Client,
    table: String,
    phone_index: String,
}

impl Directory {
    /// A directory over `table` and its GSI `phone_index`.
    pub fn new(client: Client, table: String, phone_index: String) -> Self {
        Self {
            client,
            table,
            phone_index,
        }
    }

    /// The user whose profile has `phone`, if any.
    pub async fn find(&self, phone: &str) -> Result<Option<Sender>, Error> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(&self.phone_index)
            .key_condition_expression("#phone = :phone")
            .expression_attribute_names("#phone", attr::PHONE)
            .expression_attribute_values(":phone", AttributeValue::S(phone.to_owned()))
            .limit(2)
            .send()
            .await
            .map_err(|err| store_error("Query", &self.table, err))?;
        let items = output.items();
        if items.len() > 1 {
            // The users function keeps phones unique through its claims
            // table; two owners means something bypassed it.
            tracing::warn!(table = %self.table, "several profiles share one phone; using the first");
        }
        items
            .first()
            .map(|item| sender(&self.table, item))
            .transpose()
    }

    /// Sets `sms_opt_in` of `sender` to `opt_in`, if the profile still
    /// exists with this phone. A no-op when it already has that value.
    pub async fn set_opt_in(
        &self,
        sender: &Sender,
        phone: &str,
        opt_in: bool,
        now: SystemTime,
    ) -> Result<Mirrored, Error> {
        if sender.sms_opt_in == opt_in {
            return Ok(Mirrored::Unchanged);
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::USER_ID, AttributeValue::S(sender.user_id.clone()))
            .update_expression("SET #opt = :opt, #updated = :now ADD #version :one")
            .condition_expression("attribute_exists(#uid) AND #phone = :phone")
            .expression_attribute_names("#opt", attr::SMS_OPT_IN)
            .expression_attribute_names("#updated", attr::UPDATED_AT)
            .expression_attribute_names("#version", attr::VERSION)
            .expression_attribute_names("#uid", attr::USER_ID)
            .expression_attribute_names("#phone", attr::PHONE)
            .expression_attribute_values(":opt", AttributeValue::Bool(opt_in))
            .expression_attribute_values(":now", AttributeValue::S(timestamp(now)?))
            .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
            .expression_attribute_values(":phone", AttributeValue::S(phone.to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Mirrored::Updated),
            Err(err) if is_conditional_failure(&err) => Ok(Mirrored::Gone),
            Err(err) => Err(store_error("UpdateItem", &self.table, err)),
        }
    }
}

fn sender(table: &str, item: &HashMap<String, AttributeValue>) -> Result<Sender, Error> {
    let user_id = user_record::string(item, attr::USER_ID)
        .map_err(|err| Error::Internal(format!("{table}: a profile: {err}")))?;
    let sms_opt_in = user_record::bool_or(item, attr::SMS_OPT_IN, false)
        .map_err(|err| Error::Internal(format!("{table}: profile {user_id:?}: {err}")))?;
    Ok(Sender {
        user_id: user_id.to_owned(),
        sms_opt_in,
    })
}

/// `now` in the users table's timestamp format.
fn timestamp(now: SystemTime) -> Result<String, Error> {
    user_record::rfc3339(now).map_err(|err| Error::Internal(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_sender_and_defaults_opt_in_to_false() {
        let item = HashMap::from([
            ("user_id".to_owned(), AttributeValue::S("u1".into())),
            ("sms_opt_in".to_owned(), AttributeValue::Bool(true)),
        ]);
        assert_eq!(
            sender("t", &item).unwrap(),
            Sender {
                user_id: "u1".into(),
                sms_opt_in: true
            }
        );
        let item = HashMap::from([("user_id".to_owned(), AttributeValue::S("u2".into()))]);
        assert!(!sender("t", &item).unwrap().sms_opt_in);
    }

    #[test]
    fn corrupt_profiles_are_internal_errors() {
        let item = HashMap::from([("sms_opt_in".to_owned(), AttributeValue::Bool(true))]);
        assert!(matches!(sender("t", &item), Err(Error::Internal(_))));
        let item = HashMap::from([
            ("user_id".to_owned(), AttributeValue::S("u1".into())),
            ("sms_opt_in".to_owned(), AttributeValue::S("yes".into())),
        ]);
        assert!(matches!(sender("t", &item), Err(Error::Internal(_))));
    }
}
