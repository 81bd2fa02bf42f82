//! Request bodies: size limit, JSON, known fields only, then the per-field
//! rules of [`crate::validate`].

use serde_json::{Map, Value};

use crate::profile::{Changes, NewProfile};
use crate::{Error, validate};

/// Largest accepted body, in bytes (after API Gateway's base64 is undone).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Which update a body is for; each accepts its own set of fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateKind {
    /// `PATCH /users/me`: the user's own editable fields.
    OwnPatch,
    /// `PATCH /users/{id}` by an admin: any subset of the profile fields.
    AdminPatch,
    /// `PUT /users/{id}` by an admin: the whole editable profile; absent
    /// optional fields are reset (no phone, not opted in).
    AdminPut,
}

impl UpdateKind {
    fn fields(self) -> &'static [&'static str] {
        match self {
            Self::OwnPatch => &["name", "phone", "sms_opt_in", "version"],
            Self::AdminPatch | Self::AdminPut => &[
                "email",
                "name",
                "phone",
                "sms_opt_in",
                "vouch_for_phone",
                "version",
            ],
        }
    }

    fn editable(self) -> &'static str {
        match self {
            Self::OwnPatch => "name, phone, sms_opt_in",
            Self::AdminPatch | Self::AdminPut => "email, name, phone, sms_opt_in, vouch_for_phone",
        }
    }
}

const CREATE_FIELDS: &[&str] = &[
    "user_id",
    "email",
    "name",
    "phone",
    "sms_opt_in",
    "vouch_for_phone",
];

/// An update body: the changes and the `version` field, if sent.
pub fn update(body: &[u8], kind: UpdateKind) -> Result<(Changes, Option<u64>), Error> {
    let fields = object(body, kind.fields())?;
    let version = fields
        .get("version")
        .map(validate::version_value)
        .transpose()?;
    let mut changes = Changes {
        email: fields.get("email").map(email).transpose()?,
        name: fields.get("name").map(name).transpose()?,
        phone: fields.get("phone").map(phone).transpose()?,
        sms_opt_in: fields.get("sms_opt_in").map(sms_opt_in).transpose()?,
        vouch_for_phone: fields
            .get("vouch_for_phone")
            .map(vouch_for_phone)
            .transpose()?
            .unwrap_or(false),
    };
    if kind == UpdateKind::AdminPut {
        changes.email = Some(changes.email.ok_or(Error::MissingField("email"))?);
        changes.name = Some(changes.name.ok_or(Error::MissingField("name"))?);
        changes.phone = Some(changes.phone.unwrap_or(None));
        changes.sms_opt_in = Some(changes.sms_opt_in.unwrap_or(false));
    }
    if changes == Changes::default() {
        return Err(Error::EmptyUpdate(kind.editable()));
    }
    Ok((changes, version))
}

/// A `POST /users` body.
pub fn create(body: &[u8]) -> Result<NewProfile, Error> {
    let fields = object(body, CREATE_FIELDS)?;
    let required = |name: &'static str| fields.get(name).ok_or(Error::MissingField(name));
    let user_id = match required("user_id")? {
        Value::String(raw) => validate::user_id(raw)?,
        _ => return Err(Error::InvalidUserId("user_id must be a string".into())),
    };
    Ok(NewProfile {
        user_id,
        email: email(required("email")?)?,
        name: name(required("name")?)?,
        phone: fields.get("phone").map(phone).transpose()?.flatten(),
        sms_opt_in: fields
            .get("sms_opt_in")
            .map(sms_opt_in)
            .transpose()?
            .unwrap_or(false),
        vouch_for_phone: fields
            .get("vouch_for_phone")
            .map(vouch_for_phone)
            .transpose()?
            .unwrap_or(false),
    })
}

/// The version the client read: from `If-Match` or the body's `version`,
/// which must agree when both are sent.
pub fn expected_version(if_match: Option<&str>, body_version: Option<u64>) -> Result<u64, Error> {
    let header_version = if_match.map(validate::if_match).transpose()?;
    match (header_version, body_version) {
        (Some(header), Some(body)) if header != body => Err(Error::InvalidVersion(format!(
            "If-Match says version {header} but the body says {body}"
        ))),
        (Some(version), _) | (None, Some(version)) => Ok(version),
        (None, None) => Err(Error::VersionRequired),
    }
}

/// The body as a JSON object with only `allowed` keys.
fn object(body: &[u8], allowed: &[&str]) -> Result<Map<String, Value>, Error> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Error::PayloadTooLarge(MAX_BODY_BYTES));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::InvalidJson("a JSON object body is required".into()));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|err| Error::InvalidJson(format!("the body is not valid JSON: {err}")))?;
    let Value::Object(fields) = value else {
        return Err(Error::InvalidJson("the body must be a JSON object".into()));
    };
    if let Some(unknown) = fields.keys().find(|key| !allowed.contains(&key.as_str())) {
        return Err(Error::UnknownField(validate::truncate(unknown, 64)));
    }
    Ok(fields)
}

fn email(value: &Value) -> Result<String, Error> {
    match value {
        Value::String(raw) => validate::email(raw),
        _ => Err(Error::InvalidEmail("email must be a string".into())),
    }
}

fn name(value: &Value) -> Result<String, Error> {
    match value {
        Value::String(raw) => validate::name(raw),
        _ => Err(Error::InvalidName("name must be a string".into())),
    }
}

/// `null` removes the phone.
fn phone(value: &Value) -> Result<Option<String>, Error> {
    match value {
        Value::Null => Ok(None),
        Value::String(raw) => validate::phone(raw).map(Some),
        _ => Err(Error::InvalidPhone("phone must be a string or null".into())),
    }
}

fn sms_opt_in(value: &Value) -> Result<bool, Error> {
    value.as_bool().ok_or(Error::InvalidSmsOptIn)
}

fn vouch_for_phone(value: &Value) -> Result<bool, Error> {
    value
        .as_bool()
        .ok_or_else(|| Error::InvalidJson("vouch_for_phone must be true or false".into()))
}

/// A `POST /users/me/phone-verification` body: the number to prove.
pub fn verification_request(body: &[u8]) -> Result<String, Error> {
    let fields = object(body, &["phone"])?;
    match fields.get("phone") {
        Some(Value::String(raw)) => validate::phone(raw),
        Some(_) => Err(Error::InvalidPhone("phone must be a string".into())),
        None => Err(Error::MissingField("phone")),
    }
}

/// A `POST /users/me/phone-verification/confirm` body: the code received,
/// six digits.
pub fn verification_code(body: &[u8]) -> Result<String, Error> {
    let fields = object(body, &["code"])?;
    match fields.get("code") {
        Some(Value::String(code))
            if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Ok(code.clone())
        }
        Some(_) => Err(Error::InvalidCode {
            message: "code must be the six digits sent by SMS, as a string".into(),
            attempts_left: None,
        }),
        None => Err(Error::MissingField("code")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code<T: std::fmt::Debug>(result: Result<T, Error>) -> &'static str {
        result.unwrap_err().code()
    }

    #[test]
    fn own_patch_reads_the_editable_fields_and_version() {
        let (changes, version) = update(
            br#"{"name":" Ada ","phone":"+14155550123","sms_opt_in":true,"version":3}"#,
            UpdateKind::OwnPatch,
        )
        .unwrap();
        assert_eq!(changes.name.as_deref(), Some("Ada"));
        assert_eq!(changes.phone, Some(Some("+14155550123".into())));
        assert_eq!(changes.sms_opt_in, Some(true));
        assert_eq!(changes.email, None);
        assert_eq!(version, Some(3));
    }

    #[test]
    fn null_phone_removes_it() {
        let (changes, _) = update(br#"{"phone":null}"#, UpdateKind::OwnPatch).unwrap();
        assert_eq!(changes.phone, Some(None));
    }

    #[test]
    fn own_patch_rejects_email_and_other_unknown_fields_by_name() {
        let err = update(br#"{"email":"a@b.co"}"#, UpdateKind::OwnPatch).unwrap_err();
        assert_eq!(err.code(), "unknown_field");
        assert!(err.to_string().contains("`email`"), "{err}");
        let err = update(br#"{"name":"x","is_admin":true}"#, UpdateKind::AdminPatch).unwrap_err();
        assert!(err.to_string().contains("`is_admin`"), "{err}");
    }

    #[test]
    fn each_invalid_field_has_its_own_code() {
        let kind = UpdateKind::AdminPatch;
        assert_eq!(code(update(br#"{"email":"nope"}"#, kind)), "invalid_email");
        assert_eq!(code(update(br#"{"email":1}"#, kind)), "invalid_email");
        assert_eq!(code(update(br#"{"name":""}"#, kind)), "invalid_name");
        assert_eq!(code(update(br#"{"name":["a"]}"#, kind)), "invalid_name");
        assert_eq!(
            code(update(br#"{"phone":"555-0123"}"#, kind)),
            "invalid_phone"
        );
        assert_eq!(
            code(update(br#"{"phone":14155550123}"#, kind)),
            "invalid_phone"
        );
        assert_eq!(
            code(update(br#"{"sms_opt_in":"yes"}"#, kind)),
            "invalid_sms_opt_in"
        );
        assert_eq!(
            code(update(br#"{"name":"a","version":0}"#, kind)),
            "invalid_version"
        );
    }

    #[test]
    fn non_json_non_object_and_empty_bodies_are_invalid_json() {
        for body in [
            &b"name=ada"[..],
            b"[1]",
            b"\"x\"",
            b"",
            b"  ",
            b"{\"name\":",
        ] {
            assert_eq!(code(update(body, UpdateKind::OwnPatch)), "invalid_json");
        }
    }

    #[test]
    fn bodies_over_16_kib_are_too_large_before_parsing() {
        let big = format!("{{\"name\":\"{}\"}}", "a".repeat(MAX_BODY_BYTES));
        assert_eq!(
            code(update(big.as_bytes(), UpdateKind::OwnPatch)),
            "payload_too_large"
        );
        let garbage = vec![b'x'; MAX_BODY_BYTES + 1];
        assert_eq!(code(create(&garbage)), "payload_too_large");
    }

    #[test]
    fn an_update_that_changes_nothing_is_rejected() {
        assert_eq!(
            code(update(br#"{"version":2}"#, UpdateKind::OwnPatch)),
            "empty_update"
        );
        assert_eq!(code(update(b"{}", UpdateKind::AdminPatch)), "empty_update");
    }

    #[test]
    fn put_requires_email_and_name_and_resets_the_rest() {
        assert_eq!(
            code(update(br#"{"name":"A","version":1}"#, UpdateKind::AdminPut)),
            "missing_field"
        );
        let (changes, _) = update(
            br#"{"email":"a@b.co","name":"A","version":1}"#,
            UpdateKind::AdminPut,
        )
        .unwrap();
        assert_eq!(changes.phone, Some(None));
        assert_eq!(changes.sms_opt_in, Some(false));
    }

    #[test]
    fn create_requires_id_email_and_name() {
        let profile = create(br#"{"user_id":"u-1","email":"a@b.co","name":"A"}"#).unwrap();
        assert_eq!(profile.phone, None);
        assert!(!profile.sms_opt_in);
        assert_eq!(
            code(create(br#"{"email":"a@b.co","name":"A"}"#)),
            "missing_field"
        );
        assert_eq!(
            code(create(br#"{"user_id":"u/1","email":"a@b.co","name":"A"}"#)),
            "invalid_user_id"
        );
        assert_eq!(
            code(create(br#"{"user_id":7,"email":"a@b.co","name":"A"}"#)),
            "invalid_user_id"
        );
        assert_eq!(
            code(create(
                br#"{"user_id":"u","email":"a@b.co","name":"A","version":1}"#
            )),
            "unknown_field"
        );
    }

    #[test]
    fn version_comes_from_if_match_or_body_and_both_must_agree() {
        assert_eq!(expected_version(Some("\"4\""), None).unwrap(), 4);
        assert_eq!(expected_version(None, Some(5)).unwrap(), 5);
        assert_eq!(expected_version(Some("\"5\""), Some(5)).unwrap(), 5);
        assert_eq!(
            code(expected_version(Some("\"4\""), Some(5))),
            "invalid_version"
        );
        assert_eq!(code(expected_version(None, None)), "version_required");
        assert_eq!(code(expected_version(Some("*"), None)), "invalid_version");
    }
}
