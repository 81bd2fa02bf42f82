//! The profile record and its DynamoDB item form.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;

use crate::Error;

/// Attribute names of the users table; the format is shared with the auth
/// and sms functions through the `user-record` crate.
pub use user_record::attr;

/// A user profile as stored and as returned to clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    /// Cognito `sub`.
    pub user_id: String,
    /// Email address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// E.164 phone number, `null` when none.
    pub phone: Option<String>,
    /// When the owner of `phone` was proven (RFC 3339); `null` for a phone
    /// nobody proved (set before proofs existed) or no phone.
    pub phone_verified_at: Option<String>,
    /// How: `sms_code`, or `admin:<sub>` for a number an administrator
    /// vouched for.
    pub phone_verified_by: Option<String>,
    /// Opted in to SMS replies.
    pub sms_opt_in: bool,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last change.
    pub updated_at: String,
    /// Incremented on every write; clients send it back as `If-Match`.
    pub version: u64,
}

impl Profile {
    /// The `ETag` of this version.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }

    /// The DynamoDB item.
    pub fn to_item(&self) -> HashMap<String, AttributeValue> {
        let mut item = HashMap::from([
            (
                attr::USER_ID.to_owned(),
                AttributeValue::S(self.user_id.clone()),
            ),
            (
                attr::EMAIL.to_owned(),
                AttributeValue::S(self.email.clone()),
            ),
            (attr::NAME.to_owned(), AttributeValue::S(self.name.clone())),
            (
                attr::SMS_OPT_IN.to_owned(),
                AttributeValue::Bool(self.sms_opt_in),
            ),
            (
                attr::CREATED_AT.to_owned(),
                AttributeValue::S(self.created_at.clone()),
            ),
            (
                attr::UPDATED_AT.to_owned(),
                AttributeValue::S(self.updated_at.clone()),
            ),
            (
                attr::VERSION.to_owned(),
                AttributeValue::N(self.version.to_string()),
            ),
        ]);
        for (name, value) in self.optional_attributes() {
            if let Some(value) = value {
                item.insert(name.to_owned(), AttributeValue::S(value.to_owned()));
            }
        }
        item
    }

    /// The attributes that are absent rather than empty when unset (a GSI
    /// key cannot be empty), with their values.
    pub fn optional_attributes(&self) -> [(&'static str, Option<&str>); 3] {
        [
            (attr::PHONE, self.phone.as_deref()),
            (attr::PHONE_VERIFIED_AT, self.phone_verified_at.as_deref()),
            (attr::PHONE_VERIFIED_BY, self.phone_verified_by.as_deref()),
        ]
    }

    /// Whether `phone` is set and its owner was proven.
    pub fn phone_is_verified(&self) -> bool {
        self.phone.is_some() && self.phone_verified_at.is_some()
    }

    /// Reads an item; a missing or mistyped attribute is an internal error
    /// (something other than this function wrote the item). Attributes
    /// this function does not own (auth's `idp_*`) are ignored here and
    /// left alone by [`crate::store::Store`]'s writes.
    pub fn from_item(item: &HashMap<String, AttributeValue>) -> Result<Self, Error> {
        let user_id = user_record::string(item, attr::USER_ID)
            .map_err(|err| Error::Internal(format!("item: {err}")))?;
        let corrupt = |err: user_record::Error| Error::Internal(format!("item {user_id:?}: {err}"));
        let text = |name: &str| {
            user_record::string(item, name)
                .map(str::to_owned)
                .map_err(corrupt)
        };
        let optional = |name: &str| {
            user_record::optional_string(item, name)
                .map(|value| value.map(str::to_owned))
                .map_err(corrupt)
        };
        Ok(Self {
            email: text(attr::EMAIL)?,
            name: text(attr::NAME)?,
            phone: optional(attr::PHONE)?,
            phone_verified_at: optional(attr::PHONE_VERIFIED_AT)?,
            phone_verified_by: optional(attr::PHONE_VERIFIED_BY)?,
            sms_opt_in: user_record::bool_or(item, attr::SMS_OPT_IN, false).map_err(corrupt)?,
            created_at: text(attr::CREATED_AT)?,
            updated_at: text(attr::UPDATED_AT)?,
            version: user_record::unsigned(item, attr::VERSION).map_err(corrupt)?,
            user_id: user_id.to_owned(),
        })
    }
}

/// A validated profile to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProfile {
    /// Cognito `sub` of the user.
    pub user_id: String,
    /// Email address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// E.164 phone number.
    pub phone: Option<String>,
    /// Opted in to SMS replies.
    pub sms_opt_in: bool,
    /// The administrator vouches for `phone` (`vouch_for_phone`).
    pub vouch_for_phone: bool,
}

impl NewProfile {
    /// Version 1 of the profile, created at `now`; a vouched phone is
    /// recorded as verified by `by`.
    pub fn into_profile(self, now: &str, by: &str) -> Profile {
        let vouched = self.vouch_for_phone && self.phone.is_some();
        Profile {
            user_id: self.user_id,
            email: self.email,
            name: self.name,
            phone: self.phone,
            phone_verified_at: vouched.then(|| now.to_owned()),
            phone_verified_by: vouched.then(|| by.to_owned()),
            sms_opt_in: self.sms_opt_in,
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
            version: 1,
        }
    }
}

/// Validated changes to a profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// New email.
    pub email: Option<String>,
    /// New name.
    pub name: Option<String>,
    /// New phone; `Some(None)` removes it.
    pub phone: Option<Option<String>>,
    /// New opt-in flag.
    pub sms_opt_in: Option<bool>,
    /// An administrator vouches for the resulting phone (`vouch_for_phone`).
    pub vouch_for_phone: bool,
}

impl Changes {
    /// The next version of `current` with these changes, written at `now`.
    /// The phone's proof stays with an unchanged number and goes with a
    /// changed or removed one; a vouched phone is verified by `by`.
    pub fn apply(&self, current: &Profile, now: &str, by: &str) -> Profile {
        let phone = self.phone.clone().unwrap_or_else(|| current.phone.clone());
        let (mut verified_at, mut verified_by) = if phone == current.phone {
            (
                current.phone_verified_at.clone(),
                current.phone_verified_by.clone(),
            )
        } else {
            (None, None)
        };
        if self.vouch_for_phone && phone.is_some() && verified_at.is_none() {
            verified_at = Some(now.to_owned());
            verified_by = Some(by.to_owned());
        }
        Profile {
            user_id: current.user_id.clone(),
            email: self.email.clone().unwrap_or_else(|| current.email.clone()),
            name: self.name.clone().unwrap_or_else(|| current.name.clone()),
            phone,
            phone_verified_at: verified_at,
            phone_verified_by: verified_by,
            sms_opt_in: self.sms_opt_in.unwrap_or(current.sms_opt_in),
            created_at: current.created_at.clone(),
            updated_at: now.to_owned(),
            version: current.version + 1,
        }
    }
}

/// Now, in the table's timestamp format ([`user_record::rfc3339`]).
pub fn now_rfc3339() -> Result<String, Error> {
    user_record::rfc3339(std::time::SystemTime::now())
        .map_err(|err| Error::Internal(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Profile {
        NewProfile {
            user_id: "u-1".into(),
            email: "ada@example.com".into(),
            name: "Ada".into(),
            phone: Some("+14155550123".into()),
            sms_opt_in: true,
            vouch_for_phone: true,
        }
        .into_profile("2026-11-28T04:00:00Z", "admin:a-1")
    }

    #[test]
    fn item_round_trips_with_and_without_phone() {
        let profile = sample();
        assert_eq!(Profile::from_item(&profile.to_item()).unwrap(), profile);
        let no_phone = Profile {
            phone: None,
            phone_verified_at: None,
            phone_verified_by: None,
            ..sample()
        };
        let item = no_phone.to_item();
        assert!(
            !item.contains_key(attr::PHONE),
            "GSI keys must be absent, not empty"
        );
        assert_eq!(Profile::from_item(&item).unwrap(), no_phone);
    }

    #[test]
    fn corrupt_items_are_internal_errors() {
        let mut item = sample().to_item();
        item.insert(attr::VERSION.into(), AttributeValue::S("1".into()));
        assert_eq!(
            Profile::from_item(&item).unwrap_err().code(),
            "internal_error"
        );
        let mut item = sample().to_item();
        item.remove(attr::EMAIL);
        assert_eq!(
            Profile::from_item(&item).unwrap_err().code(),
            "internal_error"
        );
    }

    #[test]
    fn changes_bump_the_version_and_keep_untouched_fields() {
        let current = sample();
        let next = Changes {
            name: Some("Ada L.".into()),
            phone: Some(None),
            ..Changes::default()
        }
        .apply(&current, "2026-11-28T05:00:00Z", "admin:a-1");
        assert_eq!(next.name, "Ada L.");
        assert_eq!(next.phone, None);
        assert_eq!(
            next.phone_verified_at, None,
            "the proof goes with the number"
        );
        assert_eq!(next.email, current.email);
        assert!(next.sms_opt_in);
        assert_eq!(next.version, 2);
        assert_eq!(next.created_at, current.created_at);
        assert_eq!(next.updated_at, "2026-11-28T05:00:00Z");
        assert_eq!(next.etag(), "\"2\"");
    }

    #[test]
    fn a_phone_proof_stays_with_its_number_and_a_vouch_proves_a_new_one() {
        let current = sample();
        assert!(current.phone_is_verified());
        assert_eq!(current.phone_verified_by.as_deref(), Some("admin:a-1"));
        let renamed = Changes {
            name: Some("Ada".into()),
            ..Changes::default()
        }
        .apply(&current, "2026-11-28T06:00:00Z", "x");
        assert_eq!(renamed.phone_verified_at, current.phone_verified_at);
        let changed = Changes {
            phone: Some(Some("+14155550124".into())),
            ..Changes::default()
        }
        .apply(&current, "2026-11-28T06:00:00Z", "x");
        assert!(!changed.phone_is_verified());
        let vouched = Changes {
            phone: Some(Some("+14155550124".into())),
            vouch_for_phone: true,
            ..Changes::default()
        }
        .apply(&current, "2026-11-28T06:00:00Z", "admin:a-2");
        assert_eq!(vouched.phone_verified_by.as_deref(), Some("admin:a-2"));
        assert_eq!(
            vouched.phone_verified_at.as_deref(),
            Some("2026-11-28T06:00:00Z")
        );
    }

    #[test]
    fn now_is_rfc3339_utc_with_whole_seconds() {
        let now = now_rfc3339().unwrap();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
    }
}
