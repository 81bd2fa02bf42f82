//! The users table's item format, shared by the users, auth and sms functions.
//!
//! The users function owns the format (its `Profile` reads and writes whole
//! profiles); auth creates and refreshes profiles at sign-in and sms
//! mirrors `STOP`/`START` into `sms_opt_in`. All three read and write the
//! same items, so the attribute names, the timestamp format and the typed
//! attribute readers live here, once.
//!
//! A writer must leave alone the attributes it does not own: items are
//! updated attribute by attribute, never replaced whole (a whole-item `Put`
//! would drop, say, auth's [`attr::IDP_EMAIL`]).

pub mod rules;

use std::collections::HashMap;
use std::time::SystemTime;

use aws_sdk_dynamodb::primitives::{DateTime, DateTimeFormat};
use aws_sdk_dynamodb::types::AttributeValue;

/// Attribute names of the users table. Key and index attributes must match
/// `terraform/schema/dynamodb.json`.
pub mod attr {
    /// Partition key: the Cognito `sub`.
    pub const USER_ID: &str = "user_id";
    /// Email address (string, may be empty).
    pub const EMAIL: &str = "email";
    /// Display name (string, may be empty).
    pub const NAME: &str = "name";
    /// E.164 phone; absent when none (a GSI key cannot be empty). Key of
    /// the `phone` GSI, through which sms finds senders, and partition key
    /// of the phone-claims table.
    pub const PHONE: &str = "phone";
    /// Whether the user wants AI replies by SMS (bool; absent means false).
    pub const SMS_OPT_IN: &str = "sms_opt_in";
    /// Creation time, see [`crate::rfc3339`].
    pub const CREATED_AT: &str = "created_at";
    /// Time of the last visible change, see [`crate::rfc3339`].
    pub const UPDATED_AT: &str = "updated_at";
    /// Optimistic-locking counter: 1 on creation, +1 on every visible
    /// change; clients send it back as `If-Match`.
    pub const VERSION: &str = "version";
    /// Auth's: the email the ID token had when `email` was last set from it.
    pub const IDP_EMAIL: &str = "idp_email";
    /// Auth's: the name the ID token had when `name` was last set from it.
    pub const IDP_NAME: &str = "idp_name";
    /// When the owner of `phone` was last proven (RFC 3339); absent for a
    /// phone nobody proved (set before proofs existed).
    pub const PHONE_VERIFIED_AT: &str = "phone_verified_at";
    /// How `phone` was proven: `sms_code`, or `admin:<sub>` for a number an
    /// administrator vouched for.
    pub const PHONE_VERIFIED_BY: &str = "phone_verified_by";
    /// The pending phone proof (users' `phone_code_*` attributes): a random
    /// id naming the challenge ...
    pub const PHONE_CODE_ID: &str = "phone_code_id";
    /// ... the number the code was sent to ...
    pub const PHONE_CODE_PHONE: &str = "phone_code_phone";
    /// ... the code's keyed MAC (never the code) ...
    pub const PHONE_CODE_MAC: &str = "phone_code_mac";
    /// ... its expiry and sending time (Unix seconds) ...
    pub const PHONE_CODE_EXPIRES_AT: &str = "phone_code_expires_at";
    /// ... when it was sent (Unix seconds) ...
    pub const PHONE_CODE_SENT_AT: &str = "phone_code_sent_at";
    /// ... and the wrong codes tried so far.
    pub const PHONE_CODE_ATTEMPTS: &str = "phone_code_attempts";
    /// Codes sent in the current window, and when it started (Unix
    /// seconds): the daily cap outlives each challenge.
    pub const PHONE_CODE_SENDS: &str = "phone_code_sends";
    /// See [`PHONE_CODE_SENDS`].
    pub const PHONE_CODE_WINDOW_START: &str = "phone_code_window_start";
}

/// A users-table item.
pub type Item = HashMap<String, AttributeValue>;

/// An item that does not have the format, or a time that cannot be written
/// in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A required attribute is absent.
    #[error("attribute {0} is missing")]
    Missing(String),
    /// An attribute has the wrong DynamoDB type or an unparsable value.
    #[error("attribute {name} is not {expected}")]
    Mistyped {
        /// The attribute.
        name: String,
        /// What it should be, e.g. "a string".
        expected: &'static str,
    },
    /// The time is outside what RFC 3339 can express.
    #[error("formatting a time: {0}")]
    Time(String),
}

/// `time` as RFC 3339 in UTC with whole seconds (`2026-11-28T04:00:00Z`),
/// the format of [`attr::CREATED_AT`] and [`attr::UPDATED_AT`]. Fractions
/// of a second are dropped, so equal-length strings sort by time.
pub fn rfc3339(time: SystemTime) -> Result<String, Error> {
    DateTime::from_secs(DateTime::from(time).secs())
        .fmt(DateTimeFormat::DateTime)
        .map_err(|err| Error::Time(err.to_string()))
}

/// The string attribute `name`, which must be present.
pub fn string<'a>(item: &'a Item, name: &str) -> Result<&'a str, Error> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        None => Err(Error::Missing(name.to_owned())),
        Some(_) => Err(mistyped(name, "a string")),
    }
}

/// The string attribute `name`; `None` when absent or `NULL`.
pub fn optional_string<'a>(item: &'a Item, name: &str) -> Result<Option<&'a str>, Error> {
    match item.get(name) {
        None | Some(AttributeValue::Null(true)) => Ok(None),
        Some(AttributeValue::S(value)) => Ok(Some(value)),
        Some(_) => Err(mistyped(name, "a string")),
    }
}

/// The boolean attribute `name`; `default` when absent.
pub fn bool_or(item: &Item, name: &str, default: bool) -> Result<bool, Error> {
    match item.get(name) {
        None => Ok(default),
        Some(AttributeValue::Bool(flag)) => Ok(*flag),
        Some(_) => Err(mistyped(name, "a boolean")),
    }
}

/// The number attribute `name` as stored (DynamoDB numbers travel as
/// text), for passing back unchanged, e.g. into a condition.
pub fn number<'a>(item: &'a Item, name: &str) -> Result<&'a str, Error> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => Ok(value),
        None => Err(Error::Missing(name.to_owned())),
        Some(_) => Err(mistyped(name, "a number")),
    }
}

/// The number attribute `name` as a non-negative integer, e.g.
/// [`attr::VERSION`].
pub fn unsigned(item: &Item, name: &str) -> Result<u64, Error> {
    number(item, name)?
        .parse()
        .map_err(|_| mistyped(name, "a non-negative integer"))
}

fn mistyped(name: &str, expected: &'static str) -> Error {
    Error::Mistyped {
        name: name.to_owned(),
        expected,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn item() -> Item {
        HashMap::from([
            (attr::USER_ID.to_owned(), AttributeValue::S("u-1".into())),
            (attr::PHONE.to_owned(), AttributeValue::Null(true)),
            (attr::SMS_OPT_IN.to_owned(), AttributeValue::Bool(true)),
            (attr::VERSION.to_owned(), AttributeValue::N("7".into())),
            (attr::EMAIL.to_owned(), AttributeValue::N("1".into())),
        ])
    }

    #[test]
    fn rfc3339_is_utc_with_whole_seconds() {
        let time = UNIX_EPOCH + Duration::from_millis(1_795_000_000_999);
        assert_eq!(rfc3339(time).unwrap(), "2026-11-18T11:06:40Z");
        assert_eq!(rfc3339(UNIX_EPOCH).unwrap(), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn rfc3339_refuses_years_beyond_9999() {
        let time = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
        assert!(matches!(rfc3339(time), Err(Error::Time(_))));
    }

    #[test]
    fn strings_are_read_and_errors_name_the_attribute() {
        let item = item();
        assert_eq!(string(&item, attr::USER_ID).unwrap(), "u-1");
        assert_eq!(
            string(&item, attr::NAME).unwrap_err(),
            Error::Missing("name".into())
        );
        let err = string(&item, attr::EMAIL).unwrap_err();
        assert_eq!(err.to_string(), "attribute email is not a string");
    }

    #[test]
    fn optional_strings_treat_absent_and_null_alike() {
        let item = item();
        assert_eq!(optional_string(&item, attr::USER_ID).unwrap(), Some("u-1"));
        assert_eq!(optional_string(&item, attr::PHONE).unwrap(), None);
        assert_eq!(optional_string(&item, attr::NAME).unwrap(), None);
        assert!(optional_string(&item, attr::EMAIL).is_err());
    }

    #[test]
    fn booleans_default_when_absent_and_refuse_other_types() {
        let item = item();
        assert!(bool_or(&item, attr::SMS_OPT_IN, false).unwrap());
        assert!(!bool_or(&item, "absent", false).unwrap());
        assert!(bool_or(&item, "absent", true).unwrap());
        assert_eq!(
            bool_or(&item, attr::USER_ID, false)
                .unwrap_err()
                .to_string(),
            "attribute user_id is not a boolean"
        );
    }

    #[test]
    fn numbers_are_read_as_text_or_as_unsigned_integers() {
        let mut item = item();
        assert_eq!(number(&item, attr::VERSION).unwrap(), "7");
        assert_eq!(unsigned(&item, attr::VERSION).unwrap(), 7);
        assert_eq!(
            unsigned(&item, attr::CREATED_AT).unwrap_err(),
            Error::Missing("created_at".into())
        );
        assert!(matches!(
            number(&item, attr::USER_ID),
            Err(Error::Mistyped { .. })
        ));
        item.insert(attr::VERSION.into(), AttributeValue::N("-1".into()));
        assert_eq!(
            unsigned(&item, attr::VERSION).unwrap_err().to_string(),
            "attribute version is not a non-negative integer"
        );
    }
}
