//! Profiles in DynamoDB, with phone uniqueness enforced by claim items.
//!
//! Every write that touches a phone is one `TransactWriteItems`: the
//! profile put/update/delete (conditioned on the version read) together
//! with the claim put (`attribute_not_exists`, so a number has at most one
//! owner) and the release of the previous claim. Either all of it happens
//! or none.
//!
//! Updates `SET` (or `REMOVE`) only the attributes this function owns and
//! never rewrite the whole item: other functions keep their own attributes
//! in it (auth's `idp_email`/`idp_name`, see the `user-record` crate).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};

use crate::Error;
use crate::phone_proof::{Challenge, MAX_ATTEMPTS, ProofState};
use crate::profile::{Profile, attr};

/// The attributes of a pending phone proof, removed together.
const CHALLENGE_ATTRIBUTES: [&str; 6] = [
    attr::PHONE_CODE_ID,
    attr::PHONE_CODE_PHONE,
    attr::PHONE_CODE_MAC,
    attr::PHONE_CODE_EXPIRES_AT,
    attr::PHONE_CODE_SENT_AT,
    attr::PHONE_CODE_ATTEMPTS,
];

/// Attribute of a claim item naming its owner.
const CLAIM_OWNER: &str = "user_id";

/// Claims may be written only when free or already ours; releases likewise
/// only touch our own claim (a missing claim is not an error: there is
/// nothing to release).
const CLAIM_IS_FREE_OR_OURS: &str = "attribute_not_exists(#phone) OR #owner = :uid";

/// The user store.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    users_table: String,
    claims_table: String,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The profiles of this page.
    pub profiles: Vec<Profile>,
    /// The user id to resume after, when there may be more.
    pub resume_after: Option<String>,
}

impl Store {
    /// A store over `client` and the two tables.
    pub fn new(client: Client, users_table: String, claims_table: String) -> Self {
        Self {
            client,
            users_table,
            claims_table,
        }
    }

    /// The profile of `user_id`, read strongly consistent so that a client
    /// sees its own writes.
    pub async fn get(&self, user_id: &str) -> Result<Option<Profile>, Error> {
        Ok(self
            .get_with_proof(user_id)
            .await?
            .map(|(profile, _)| profile))
    }

    /// The profile of `user_id` with its phone proof state.
    pub async fn get_with_proof(
        &self,
        user_id: &str,
    ) -> Result<Option<(Profile, ProofState)>, Error> {
        let output = self
            .client
            .get_item()
            .table_name(&self.users_table)
            .key(attr::USER_ID, AttributeValue::S(user_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| sdk_error("GetItem", err))?;
        output
            .item
            .as_ref()
            .map(|item| Ok((Profile::from_item(item)?, ProofState::from_item(item))))
            .transpose()
    }

    /// Who claimed `phone`, if anyone.
    pub async fn phone_owner(&self, phone: &str) -> Result<Option<String>, Error> {
        let output = self
            .client
            .get_item()
            .table_name(&self.claims_table)
            .key(attr::PHONE, AttributeValue::S(phone.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| sdk_error("GetItem", err))?;
        Ok(output
            .item
            .as_ref()
            .and_then(|item| {
                user_record::optional_string(item, CLAIM_OWNER)
                    .ok()
                    .flatten()
            })
            .map(str::to_owned))
    }

    /// Stores `challenge` as the pending proof of `user_id` with the send
    /// counters `(sends, window_start)`, if the proof state is still
    /// `previous` (two requests racing for the rate limit: one wins, the
    /// other gets [`Error::WriteConflict`]).
    pub async fn start_challenge(
        &self,
        user_id: &str,
        challenge: &Challenge,
        counters: (u32, u64),
        previous: &ProofState,
    ) -> Result<(), Error> {
        let n = |value: u64| AttributeValue::N(value.to_string());
        let s = |value: &str| AttributeValue::S(value.to_owned());
        let values = [
            (attr::PHONE_CODE_ID, s(&challenge.id)),
            (attr::PHONE_CODE_PHONE, s(&challenge.phone)),
            (attr::PHONE_CODE_MAC, s(&challenge.mac)),
            (attr::PHONE_CODE_EXPIRES_AT, n(challenge.expires_at)),
            (attr::PHONE_CODE_SENT_AT, n(challenge.sent_at)),
            (attr::PHONE_CODE_ATTEMPTS, n(u64::from(challenge.attempts))),
            (attr::PHONE_CODE_SENDS, n(u64::from(counters.0))),
            (attr::PHONE_CODE_WINDOW_START, n(counters.1)),
        ];
        let mut update = self
            .client
            .update_item()
            .table_name(&self.users_table)
            .key(attr::USER_ID, s(user_id))
            .expression_attribute_names("#uid", attr::USER_ID)
            .expression_attribute_names("#cid", attr::PHONE_CODE_ID)
            .expression_attribute_names("#sends", attr::PHONE_CODE_SENDS);
        let mut sets = Vec::new();
        for (index, (name, value)) in values.into_iter().enumerate() {
            sets.push(format!("#s{index} = :s{index}"));
            update = update
                .expression_attribute_names(format!("#s{index}"), name)
                .expression_attribute_values(format!(":s{index}"), value);
        }
        let mut conditions = vec!["attribute_exists(#uid)".to_owned()];
        match &previous.challenge {
            Some(old) => {
                conditions.push("#cid = :old_cid".into());
                update = update.expression_attribute_values(":old_cid", s(&old.id));
            }
            None => conditions.push("attribute_not_exists(#cid)".into()),
        }
        if previous.window_start == 0 {
            conditions.push("attribute_not_exists(#sends)".into());
        } else {
            conditions.push("#sends = :old_sends".into());
            update = update.expression_attribute_values(":old_sends", n(u64::from(previous.sends)));
        }
        let result = update
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression(conditions.join(" AND "))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_condition_failure(&err) => Err(Error::WriteConflict),
            Err(err) => Err(sdk_error("UpdateItem", err)),
        }
    }

    /// Counts a wrong code against `challenge`; the last allowed one ends
    /// it. Returns the attempts left.
    pub async fn fail_attempt(&self, user_id: &str, challenge: &Challenge) -> Result<u32, Error> {
        let attempts = challenge.attempts.saturating_add(1);
        let left = MAX_ATTEMPTS.saturating_sub(attempts);
        let update = self
            .client
            .update_item()
            .table_name(&self.users_table)
            .key(attr::USER_ID, AttributeValue::S(user_id.to_owned()))
            .condition_expression("#cid = :cid AND #attempts = :attempts")
            .expression_attribute_names("#cid", attr::PHONE_CODE_ID)
            .expression_attribute_names("#attempts", attr::PHONE_CODE_ATTEMPTS)
            .expression_attribute_values(":cid", AttributeValue::S(challenge.id.clone()))
            .expression_attribute_values(
                ":attempts",
                AttributeValue::N(challenge.attempts.to_string()),
            );
        let update = if left == 0 {
            let (expression, names) = remove_challenge_expression();
            names
                .into_iter()
                .fold(update.update_expression(expression), |u, (k, v)| {
                    u.expression_attribute_names(k, v)
                })
        } else {
            update
                .update_expression("SET #attempts = :next")
                .expression_attribute_values(":next", AttributeValue::N(attempts.to_string()))
        };
        match update.send().await {
            Ok(_) => Ok(left),
            Err(err) if is_condition_failure(&err) => Err(Error::WriteConflict),
            Err(err) => Err(sdk_error("UpdateItem", err)),
        }
    }

    /// Ends the pending `challenge_id` (expired), if it is still pending.
    pub async fn clear_challenge(&self, user_id: &str, challenge_id: &str) -> Result<(), Error> {
        let (expression, names) = remove_challenge_expression();
        let result = names
            .into_iter()
            .fold(
                self.client
                    .update_item()
                    .table_name(&self.users_table)
                    .key(attr::USER_ID, AttributeValue::S(user_id.to_owned()))
                    .update_expression(expression)
                    .condition_expression("#cid = :cid")
                    .expression_attribute_values(
                        ":cid",
                        AttributeValue::S(challenge_id.to_owned()),
                    ),
                |u, (k, v)| u.expression_attribute_names(k, v),
            )
            .expression_attribute_names("#cid", attr::PHONE_CODE_ID)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Someone else ended or replaced it: nothing left to clear.
            Err(err) if is_condition_failure(&err) => Ok(()),
            Err(err) => Err(sdk_error("UpdateItem", err)),
        }
    }

    /// Creates `profile` (version 1) and its phone claim.
    pub async fn create(&self, profile: &Profile) -> Result<(), Error> {
        let mut items = vec![self.put_profile(profile, "attribute_not_exists(#uid)", None)?];
        if let Some(phone) = &profile.phone {
            items.push(self.claim(phone, &profile.user_id)?);
        }
        match self.transact(items).await {
            Err(Cancelled(reasons)) => Err(match first_failed(&reasons) {
                Some(0) => Error::UserExists(profile.user_id.clone()),
                Some(_) => Error::PhoneTaken,
                None => from_reasons(&reasons),
            }),
            Err(Other(err)) => Err(err),
            Ok(()) => Ok(()),
        }
    }

    /// Replaces `current` by `next`, if `current.version` is still stored;
    /// claims `next`'s phone and releases `current`'s when they differ.
    /// A version mismatch (or a profile deleted meanwhile) is
    /// [`Error::VersionMismatch`].
    pub async fn replace(&self, current: &Profile, next: &Profile) -> Result<(), Error> {
        self.replace_proving(current, next, None).await
    }

    /// [`Store::replace`] that, with `challenge_id`, also requires that
    /// challenge to be the pending one and ends it: the write of a proven
    /// phone.
    pub async fn replace_proving(
        &self,
        current: &Profile,
        next: &Profile,
        challenge_id: Option<&str>,
    ) -> Result<(), Error> {
        let mut items = vec![self.update_profile(current.version, next, challenge_id)?];
        if next.phone != current.phone {
            if let Some(phone) = &next.phone {
                items.push(self.claim(phone, &next.user_id)?);
            }
            if let Some(phone) = &current.phone {
                items.push(self.release(phone, &current.user_id)?);
            }
        }
        let claims_new_phone = next.phone.is_some() && next.phone != current.phone;
        match self.transact(items).await {
            Err(Cancelled(reasons)) => Err(match first_failed(&reasons) {
                Some(0) => Error::VersionMismatch(current.version),
                Some(1) if claims_new_phone => Error::PhoneTaken,
                // Our old claim held by someone else: a concurrent writer.
                Some(_) => Error::WriteConflict,
                None => from_reasons(&reasons),
            }),
            Err(Other(err)) => Err(err),
            Ok(()) => Ok(()),
        }
    }

    /// Deletes `current` if its version is still stored, and releases its
    /// phone claim.
    pub async fn delete(&self, current: &Profile) -> Result<(), Error> {
        let delete = Delete::builder()
            .table_name(&self.users_table)
            .key(attr::USER_ID, AttributeValue::S(current.user_id.clone()))
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", attr::VERSION)
            .expression_attribute_values(
                ":expected",
                AttributeValue::N(current.version.to_string()),
            )
            .build()
            .map_err(build_error)?;
        let mut items = vec![TransactWriteItem::builder().delete(delete).build()];
        if let Some(phone) = &current.phone {
            items.push(self.release(phone, &current.user_id)?);
        }
        match self.transact(items).await {
            Err(Cancelled(reasons)) => Err(match first_failed(&reasons) {
                Some(0) => Error::VersionMismatch(current.version),
                Some(_) => Error::WriteConflict,
                None => from_reasons(&reasons),
            }),
            Err(Other(err)) => Err(err),
            Ok(()) => Ok(()),
        }
    }

    /// Up to `limit` profiles after `resume_after` (exclusive), in table
    /// order.
    pub async fn list(&self, limit: i32, resume_after: Option<&str>) -> Result<Page, Error> {
        // One extra item tells whether another page exists, so the last
        // page does not hand out a cursor to an empty page.
        let output = self
            .client
            .scan()
            .table_name(&self.users_table)
            .limit(limit.saturating_add(1))
            .set_exclusive_start_key(resume_after.map(|id| {
                HashMap::from([(attr::USER_ID.to_owned(), AttributeValue::S(id.to_owned()))])
            }))
            .send()
            .await
            .map_err(|err| sdk_error("Scan", err))?;
        let mut profiles = output
            .items()
            .iter()
            .map(Profile::from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let limit = usize::try_from(limit).unwrap_or(0);
        let resume_after = if profiles.len() > limit {
            profiles.truncate(limit);
            profiles.last().map(|p| p.user_id.clone())
        } else {
            // Fewer items than asked but a LastEvaluatedKey: DynamoDB
            // stopped at its 1 MB page size.
            match output
                .last_evaluated_key()
                .and_then(|key| key.get(attr::USER_ID))
            {
                Some(AttributeValue::S(id)) => Some(id.clone()),
                _ => None,
            }
        };
        Ok(Page {
            profiles,
            resume_after,
        })
    }

    fn put_profile(
        &self,
        profile: &Profile,
        condition: &str,
        expected_version: Option<u64>,
    ) -> Result<TransactWriteItem, Error> {
        let mut put = Put::builder()
            .table_name(&self.users_table)
            .set_item(Some(profile.to_item()))
            .condition_expression(condition);
        put = match expected_version {
            Some(version) => put
                .expression_attribute_names("#version", attr::VERSION)
                .expression_attribute_values(":expected", AttributeValue::N(version.to_string())),
            None => put.expression_attribute_names("#uid", attr::USER_ID),
        };
        Ok(TransactWriteItem::builder()
            .put(put.build().map_err(build_error)?)
            .build())
    }

    /// Writes every attribute `next` owns, as a whole-item put would, but
    /// leaves the item's other attributes as they are. The condition also
    /// fails on a deleted item (no `version`), so this never creates one.
    fn update_profile(
        &self,
        expected_version: u64,
        next: &Profile,
        challenge_id: Option<&str>,
    ) -> Result<TransactWriteItem, Error> {
        let mut owned = next.to_item();
        owned.remove(attr::USER_ID);
        owned.remove(attr::VERSION);
        let mut sets = vec!["#version = :version".to_owned()];
        let condition = match challenge_id {
            Some(_) => "#version = :expected AND #cid = :cid",
            None => "#version = :expected",
        };
        let mut update = Update::builder()
            .table_name(&self.users_table)
            .key(attr::USER_ID, AttributeValue::S(next.user_id.clone()))
            .condition_expression(condition)
            .expression_attribute_names("#version", attr::VERSION)
            .expression_attribute_values(
                ":expected",
                AttributeValue::N(expected_version.to_string()),
            )
            .expression_attribute_values(":version", AttributeValue::N(next.version.to_string()));
        // Sorted, so that the same profile always gives the same request.
        let mut owned: Vec<_> = owned.into_iter().collect();
        owned.sort_by(|a, b| a.0.cmp(&b.0));
        for (index, (name, value)) in owned.into_iter().enumerate() {
            sets.push(format!("#a{index} = :a{index}"));
            update = update
                .expression_attribute_names(format!("#a{index}"), name)
                .expression_attribute_values(format!(":a{index}"), value);
        }
        let mut expression = format!("SET {}", sets.join(", "));
        // A GSI key cannot be empty: no phone means no attribute (and no
        // proof of one).
        let mut removes: Vec<&str> = next
            .optional_attributes()
            .into_iter()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| name)
            .collect();
        if let Some(challenge_id) = challenge_id {
            update = update
                .expression_attribute_names("#cid", attr::PHONE_CODE_ID)
                .expression_attribute_values(":cid", AttributeValue::S(challenge_id.to_owned()));
            removes.extend(CHALLENGE_ATTRIBUTES);
        }
        if !removes.is_empty() {
            let names: Vec<String> = (0..removes.len()).map(|i| format!("#r{i}")).collect();
            expression.push_str(&format!(" REMOVE {}", names.join(", ")));
            for (placeholder, name) in names.into_iter().zip(removes) {
                update = update.expression_attribute_names(placeholder, name);
            }
        }
        let update = update
            .update_expression(expression)
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    fn claim(&self, phone: &str, user_id: &str) -> Result<TransactWriteItem, Error> {
        let put = Put::builder()
            .table_name(&self.claims_table)
            .item(attr::PHONE, AttributeValue::S(phone.to_owned()))
            .item(CLAIM_OWNER, AttributeValue::S(user_id.to_owned()))
            .condition_expression(CLAIM_IS_FREE_OR_OURS)
            .expression_attribute_names("#phone", attr::PHONE)
            .expression_attribute_names("#owner", CLAIM_OWNER)
            .expression_attribute_values(":uid", AttributeValue::S(user_id.to_owned()))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn release(&self, phone: &str, user_id: &str) -> Result<TransactWriteItem, Error> {
        let delete = Delete::builder()
            .table_name(&self.claims_table)
            .key(attr::PHONE, AttributeValue::S(phone.to_owned()))
            .condition_expression(CLAIM_IS_FREE_OR_OURS)
            .expression_attribute_names("#phone", attr::PHONE)
            .expression_attribute_names("#owner", CLAIM_OWNER)
            .expression_attribute_values(":uid", AttributeValue::S(user_id.to_owned()))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), TransactError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(service)) => match service.into_err() {
                TransactWriteItemsError::TransactionCanceledException(cancelled) => Err(Cancelled(
                    cancelled
                        .cancellation_reasons()
                        .iter()
                        .map(|reason| reason.code().unwrap_or("None").to_owned())
                        .collect(),
                )),
                other => Err(Other(service_error("TransactWriteItems", &other))),
            },
            Err(err) => Err(Other(sdk_error("TransactWriteItems", err))),
        }
    }
}

/// `REMOVE` of every challenge attribute, with its name placeholders.
fn remove_challenge_expression() -> (String, Vec<(String, &'static str)>) {
    let names: Vec<(String, &'static str)> = CHALLENGE_ATTRIBUTES
        .iter()
        .enumerate()
        .map(|(i, name)| (format!("#c{i}"), *name))
        .collect();
    let list: Vec<&str> = names
        .iter()
        .map(|(placeholder, _)| placeholder.as_str())
        .collect();
    (format!("REMOVE {}", list.join(", ")), names)
}

fn is_condition_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
}

enum TransactError {
    /// The per-item reason codes, in the order of the items.
    Cancelled(Vec<String>),
    Other(Error),
}
use TransactError::{Cancelled, Other};

/// The index of the first item whose condition failed.
fn first_failed(reasons: &[String]) -> Option<usize> {
    reasons
        .iter()
        .position(|code| code == "ConditionalCheckFailed")
}

/// A cancellation without a failed condition: contention or throttling.
fn from_reasons(reasons: &[String]) -> Error {
    if reasons.iter().any(|code| code == "TransactionConflict") {
        Error::WriteConflict
    } else if reasons.iter().any(|code| is_throttling(code)) {
        Error::Unavailable(format!("transaction cancelled: {reasons:?}"))
    } else {
        Error::Internal(format!("transaction cancelled: {reasons:?}"))
    }
}

fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "ThrottlingError"
            | "ThrottlingException"
            | "ProvisionedThroughputExceeded"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded"
            | "InternalServerError"
            | "ServiceUnavailable"
    )
}

/// Throttling, 5xx and transport failures (the SDK has retried them
/// already) are "unavailable"; anything else is a bug or misconfiguration.
fn sdk_error<E, R>(operation: &str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Error::Unavailable(format!("{operation}: {}", error_chain(&err)))
        }
        SdkError::ServiceError(service) => service_error(operation, service.err()),
        _ => Error::Internal(format!("{operation}: {}", error_chain(&err))),
    }
}

fn service_error(operation: &str, err: &(impl ProvideErrorMetadata + std::error::Error)) -> Error {
    let code = err.code().unwrap_or("unknown");
    let detail = format!("{operation}: {code}: {}", err.message().unwrap_or_default());
    if is_throttling(code) {
        Error::Unavailable(detail)
    } else {
        Error::Internal(detail)
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn build_error(err: aws_sdk_dynamodb::error::BuildError) -> Error {
    Error::Internal(format!("building a DynamoDB request: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failed_condition_identifies_the_item() {
        let reasons = ["None", "ConditionalCheckFailed", "None"].map(str::to_owned);
        assert_eq!(first_failed(&reasons), Some(1));
        assert_eq!(first_failed(&["None".to_owned()]), None);
    }

    #[test]
    fn cancellations_without_a_failed_condition_map_to_conflict_or_unavailable() {
        let conflict = ["None", "TransactionConflict"].map(str::to_owned);
        assert_eq!(from_reasons(&conflict).code(), "write_conflict");
        let throttled = ["ThrottlingError", "None"].map(str::to_owned);
        assert_eq!(from_reasons(&throttled).code(), "service_unavailable");
        let odd = ["ValidationError"].map(str::to_owned);
        assert_eq!(from_reasons(&odd).code(), "internal_error");
    }
}
