//! The user's profile in the users table, created or refreshed at sign-in.
//!
//! Items have the users table's format (the `user-record` crate, owned by
//! the users function): `user_id`, `email`, `name`, `sms_opt_in`,
//! `created_at`, `updated_at` (RFC 3339 UTC) and `version` (1 on creation,
//! +1 on every visible change, conditioned on the version read).
//!
//! Two more attributes, `idp_email` and `idp_name`, remember what the ID
//! token said when this function last wrote the field. The rule for a
//! sign-in, per field:
//!
//! - stored value equals the token's: nothing to change;
//! - stored value empty, or equal to `idp_*` (nobody edited it since the
//!   identity provider set it): take the token's value;
//! - otherwise the user (or an admin) edited it: keep it.
//!
//! The users function updates only the attributes it owns and so keeps
//! `idp_*` across edits. Items without them (written before it did, or by
//! hand) are still read safely: a field without its `idp_*` counts as
//! edited, which errs on the side of keeping the user's data.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
pub use user_record::attr;

use crate::Error;

/// Attempts before a run of concurrent writers is reported as a conflict.
const ATTEMPTS: usize = 3;

/// What the ID token says about the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenProfile {
    /// `sub`.
    pub user_id: String,
    /// `email`, if the token has one.
    pub email: Option<String>,
    /// `name`, else `given_name family_name`, if any.
    pub name: Option<String>,
}

/// What the sign-in did to the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    /// A new profile, version 1.
    Created,
    /// Email and/or name taken from the token; version bumped.
    Refreshed,
    /// Nothing visible changed.
    Unchanged,
}

/// Creates or refreshes the profile of `token` in `table`.
pub async fn upsert(client: &Client, table: &str, token: &TokenProfile) -> Result<Upsert, Error> {
    for _ in 0..ATTEMPTS {
        let current = client
            .get_item()
            .table_name(table)
            .key(attr::USER_ID, s(&token.user_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| store_error("GetItem", &err))?
            .item;
        let written = match current {
            None => create(client, table, token)
                .await?
                .then_some(Upsert::Created),
            Some(item) => refresh(client, table, token, &item).await?,
        };
        if let Some(outcome) = written {
            return Ok(outcome);
        }
    }
    Err(Error::WriteConflict)
}

/// `Ok(false)` when someone created the profile first.
async fn create(client: &Client, table: &str, token: &TokenProfile) -> Result<bool, Error> {
    let now = now_rfc3339()?;
    let email = token.email.clone().unwrap_or_default();
    let name = token.name.clone().unwrap_or_default();
    let mut item = HashMap::from([
        (attr::USER_ID.to_owned(), s(&token.user_id)),
        (attr::EMAIL.to_owned(), s(&email)),
        (attr::NAME.to_owned(), s(&name)),
        (attr::SMS_OPT_IN.to_owned(), AttributeValue::Bool(false)),
        (attr::CREATED_AT.to_owned(), s(&now)),
        (attr::UPDATED_AT.to_owned(), s(&now)),
        (attr::VERSION.to_owned(), AttributeValue::N("1".into())),
    ]);
    if let Some(email) = &token.email {
        item.insert(attr::IDP_EMAIL.to_owned(), s(email));
    }
    if let Some(name) = &token.name {
        item.insert(attr::IDP_NAME.to_owned(), s(name));
    }
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#uid)")
        .expression_attribute_names("#uid", attr::USER_ID)
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(err) if is_condition_failure(&err) => Ok(false),
        Err(err) => Err(store_error("PutItem", &err)),
    }
}

/// One field's fate under the module's rule.
#[derive(Debug, PartialEq, Eq)]
enum Field {
    Keep,
    /// Only `idp_*` needs recording (the visible value already matches).
    Record,
    /// Take the token's value.
    Take,
}

fn decide(stored: Option<&str>, idp: Option<&str>, token: Option<&str>) -> Field {
    let Some(token) = token else {
        return Field::Keep;
    };
    match stored {
        Some(stored) if stored == token => {
            if idp == Some(token) {
                Field::Keep
            } else {
                Field::Record
            }
        }
        None | Some("") => Field::Take,
        Some(stored) if idp == Some(stored) => Field::Take,
        Some(_) => Field::Keep,
    }
}

/// `Ok(None)` when the item changed since it was read.
async fn refresh(
    client: &Client,
    table: &str,
    token: &TokenProfile,
    item: &HashMap<String, AttributeValue>,
) -> Result<Option<Upsert>, Error> {
    // A mistyped field reads as absent, so the token's value replaces it.
    let text = |name: &str| user_record::optional_string(item, name).ok().flatten();
    // Passed back as stored, only to condition the write on it.
    let version = user_record::number(item, attr::VERSION)
        .map_err(|err| Error::Internal(format!("profile {:?}: {err}", token.user_id)))?
        .to_owned();
    let fields = [
        (attr::EMAIL, attr::IDP_EMAIL, token.email.as_deref()),
        (attr::NAME, attr::IDP_NAME, token.name.as_deref()),
    ];
    let mut sets = Vec::new();
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    let mut visible = false;
    for (index, (field, idp_field, value)) in fields.into_iter().enumerate() {
        let decision = decide(text(field), text(idp_field), value);
        let Some(value) = value.filter(|_| decision != Field::Keep) else {
            continue;
        };
        names.insert(format!("#i{index}"), idp_field.to_owned());
        values.insert(format!(":v{index}"), s(value));
        sets.push(format!("#i{index} = :v{index}"));
        if decision == Field::Take {
            names.insert(format!("#f{index}"), field.to_owned());
            sets.push(format!("#f{index} = :v{index}"));
            visible = true;
        }
    }
    if sets.is_empty() {
        return Ok(Some(Upsert::Unchanged));
    }
    names.insert("#version".into(), attr::VERSION.into());
    values.insert(":read".into(), AttributeValue::N(version));
    // Only visible changes bump the version: recording `idp_*` alone must
    // not invalidate the If-Match a client holds.
    if visible {
        names.insert("#updated".into(), attr::UPDATED_AT.into());
        values.insert(":now".into(), s(&now_rfc3339()?));
        values.insert(":one".into(), AttributeValue::N("1".into()));
        sets.push("#updated = :now".into());
        sets.push("#version = #version + :one".into());
    }
    let result = client
        .update_item()
        .table_name(table)
        .key(attr::USER_ID, s(&token.user_id))
        .update_expression(format!("SET {}", sets.join(", ")))
        .condition_expression("#version = :read")
        .set_expression_attribute_names(Some(names))
        .set_expression_attribute_values(Some(values))
        .send()
        .await;
    match result {
        Ok(_) if visible => Ok(Some(Upsert::Refreshed)),
        Ok(_) => Ok(Some(Upsert::Unchanged)),
        Err(err) if is_condition_failure(&err) => Ok(None),
        Err(err) => Err(store_error("UpdateItem", &err)),
    }
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn is_condition_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
}

fn store_error<E: ProvideErrorMetadata, R>(operation: &'static str, err: &SdkError<E, R>) -> Error {
    let message = match err.code() {
        Some(code) => format!("{code}: {}", err.message().unwrap_or("")),
        None => format!("{err}"),
    };
    Error::Store { operation, message }
}

/// Now, in the users table's timestamp format ([`user_record::rfc3339`]).
pub fn now_rfc3339() -> Result<String, Error> {
    user_record::rfc3339(std::time::SystemTime::now())
        .map_err(|err| Error::Internal(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_fills_empty_or_untouched_fields_only() {
        // Nothing in the token: keep.
        assert_eq!(decide(Some("a"), None, None), Field::Keep);
        // Same as the token, already recorded: keep; not recorded: record.
        assert_eq!(decide(Some("a"), Some("a"), Some("a")), Field::Keep);
        assert_eq!(decide(Some("a"), None, Some("a")), Field::Record);
        // Empty or missing: take.
        assert_eq!(decide(Some(""), None, Some("a")), Field::Take);
        assert_eq!(decide(None, None, Some("a")), Field::Take);
        // Unedited since the provider set it: take the new value.
        assert_eq!(decide(Some("old"), Some("old"), Some("new")), Field::Take);
        // Edited by the user (differs from idp_*, or idp_* dropped): keep.
        assert_eq!(decide(Some("mine"), Some("old"), Some("new")), Field::Keep);
        assert_eq!(decide(Some("mine"), None, Some("new")), Field::Keep);
    }

    #[test]
    fn now_is_rfc3339_utc_with_whole_seconds() {
        let now = now_rfc3339().unwrap();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.ends_with('Z'));
    }
}
