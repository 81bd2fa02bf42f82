//! The inbound webhook's form body: its bounds, its pairs and the message
//! it carries.
//!
//! Everything here runs before any AWS call: a request too large for what
//! Twilio sends is refused before the secret is read or anything is
//! written.

use sms_record::InboundMessage;

use crate::Error;

/// The largest form accepted, in bytes. A real inbound message (1600
/// characters of percent-encoded UTF-8 text plus ten media URLs and
/// Twilio's other fields) stays far below it.
pub const MAX_FORM_BYTES: usize = 64 * 1024;
/// The most parameters accepted (an MMS with ten media has about 45).
pub const MAX_PARAMS: usize = 200;
/// Twilio's limit on a message body, in characters.
pub const TWILIO_MAX_BODY_CHARS: usize = 1600;
/// The longest `MessageSid` accepted (Twilio's are 34 characters).
pub const MAX_SID_CHARS: usize = 64;
/// The longest `From`/`To` accepted (E.164 or a channel address such as
/// `whatsapp:+15551234567`).
pub const MAX_ADDRESS_CHARS: usize = 256;
/// The longest `OptOutType` accepted (Twilio sends `STOP`, `START`, `HELP`).
pub const MAX_OPT_OUT_TYPE_CHARS: usize = 32;

/// Refuses a body larger than [`MAX_FORM_BYTES`] before it is parsed.
pub fn check_size(body: &[u8]) -> Result<(), Error> {
    if body.len() > MAX_FORM_BYTES {
        return Err(Error::PayloadTooLarge(MAX_FORM_BYTES));
    }
    Ok(())
}

/// Parses an `application/x-www-form-urlencoded` body into its pairs, in
/// order, repeated names kept (the signature covers every one of them).
pub fn parse(body: &[u8]) -> Result<Vec<(String, String)>, Error> {
    // The decoder would replace invalid UTF-8 silently; Twilio posts
    // ASCII (percent-encoded UTF-8), so anything else is not Twilio.
    let text = std::str::from_utf8(body)
        .map_err(|_| Error::MalformedForm("the body is not UTF-8".to_owned()))?;
    serde_urlencoded::from_str(text).map_err(|err| Error::MalformedForm(err.to_string()))
}

/// Refuses parameters beyond what Twilio sends: too many, or a field
/// longer than its limit (`max_body_chars` for `Body`).
pub fn check_bounds(params: &[(String, String)], max_body_chars: usize) -> Result<(), Error> {
    if params.len() > MAX_PARAMS {
        return Err(Error::TooLarge {
            code: "too_many_parameters",
            message: format!(
                "the form has {} parameters; at most {MAX_PARAMS} are accepted",
                params.len()
            ),
        });
    }
    for (name, limit) in [
        ("Body", max_body_chars),
        ("MessageSid", MAX_SID_CHARS),
        ("From", MAX_ADDRESS_CHARS),
        ("To", MAX_ADDRESS_CHARS),
        ("OptOutType", MAX_OPT_OUT_TYPE_CHARS),
    ] {
        for (_, value) in params.iter().filter(|(key, _)| key == name) {
            let chars = value.chars().count();
            if chars > limit {
                return Err(Error::TooLarge {
                    code: "field_too_long",
                    message: format!("{name} has {chars} characters; at most {limit} are accepted"),
                });
            }
        }
    }
    Ok(())
}

/// The first value of `name`.
pub fn first<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The message in the webhook parameters, received at `received_at_ms`;
/// a missing or malformed field is a 400 that names it.
pub fn message(params: &[(String, String)], received_at_ms: u64) -> Result<InboundMessage, Error> {
    let required = |name: &'static str| {
        first(params, name)
            .map(str::to_owned)
            .ok_or(Error::MissingField(name))
    };
    let non_blank = |name: &'static str| {
        required(name).and_then(|value| {
            if value.trim().is_empty() {
                Err(Error::MissingField(name))
            } else {
                Ok(value.trim().to_owned())
            }
        })
    };
    let message_sid = non_blank("MessageSid")?;
    // It becomes a DynamoDB key and a log field.
    if !message_sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::InvalidField {
            name: "MessageSid",
            reason: "must be letters and digits",
        });
    }
    Ok(InboundMessage {
        message_sid,
        from: non_blank("From")?,
        to: non_blank("To")?,
        // Present but empty is legitimate: an MMS with only a picture.
        body: required("Body")?,
        opt_out_type: first(params, "OptOutType")
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned),
        received_at_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_repeated_names_and_decodes_plus_and_percent() {
        let params = parse(b"Body=Hi+there%21&MediaUrl=a&MediaUrl=b&From=%2B15551234567").unwrap();
        assert_eq!(
            params,
            [
                ("Body".to_owned(), "Hi there!".to_owned()),
                ("MediaUrl".to_owned(), "a".to_owned()),
                ("MediaUrl".to_owned(), "b".to_owned()),
                ("From".to_owned(), "+15551234567".to_owned()),
            ]
        );
        assert_eq!(parse(b"").unwrap(), []);
    }

    #[test]
    fn rejects_bodies_that_are_not_forms() {
        assert!(matches!(
            parse(&[0xff, 0xfe, b'=', 0x80]),
            Err(Error::MalformedForm(_))
        ));
    }

    fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const FULL: [(&str, &str); 4] = [
        ("MessageSid", "SM1"),
        ("From", "+15551234567"),
        ("To", "+15550001111"),
        ("Body", "hello"),
    ];

    #[test]
    fn reads_the_required_fields() {
        let msg = message(&pairs(&FULL), 42).unwrap();
        assert_eq!(msg.message_sid, "SM1");
        assert_eq!(msg.from, "+15551234567");
        assert_eq!(msg.to, "+15550001111");
        assert_eq!(msg.body, "hello");
        assert_eq!(msg.opt_out_type, None);
        assert_eq!(msg.received_at_ms, 42);
    }

    #[test]
    fn each_missing_field_is_named() {
        for missing in ["MessageSid", "From", "To", "Body"] {
            let p: Vec<_> = FULL
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            match message(&pairs(&p), 0) {
                Err(Error::MissingField(name)) => assert_eq!(name, missing),
                other => panic!("{missing}: {other:?}"),
            }
        }
        let blank_from: Vec<_> = FULL
            .iter()
            .map(|&(k, v)| if k == "From" { (k, " ") } else { (k, v) })
            .collect();
        assert!(matches!(
            message(&pairs(&blank_from), 0),
            Err(Error::MissingField("From"))
        ));
    }

    #[test]
    fn a_message_sid_that_is_not_alphanumeric_is_invalid() {
        let bad: Vec<_> = FULL
            .iter()
            .map(|&(k, v)| {
                if k == "MessageSid" {
                    (k, "SM1/../x")
                } else {
                    (k, v)
                }
            })
            .collect();
        assert!(matches!(
            message(&pairs(&bad), 0),
            Err(Error::InvalidField {
                name: "MessageSid",
                ..
            })
        ));
    }

    #[test]
    fn an_empty_body_is_present_not_missing() {
        let p: Vec<_> = FULL
            .iter()
            .map(|&(k, v)| if k == "Body" { (k, "") } else { (k, v) })
            .collect();
        assert_eq!(message(&pairs(&p), 0).unwrap().body, "");
    }

    #[test]
    fn bounds_follow_twilios_limits_in_characters() {
        let at_limit = "é".repeat(TWILIO_MAX_BODY_CHARS);
        let p = pairs(&[("Body", &at_limit), ("From", "+1")]);
        assert!(check_bounds(&p, TWILIO_MAX_BODY_CHARS).is_ok());
        let over = "x".repeat(TWILIO_MAX_BODY_CHARS + 1);
        let err = check_bounds(&pairs(&[("Body", &over)]), TWILIO_MAX_BODY_CHARS).unwrap_err();
        assert!(
            err.to_string().contains("Body has 1601 characters"),
            "{err}"
        );
        assert!(check_bounds(&pairs(&[("Body", &over)]), 4096).is_ok());
        let long_sid = "S".repeat(MAX_SID_CHARS + 1);
        assert!(check_bounds(&pairs(&[("MessageSid", &long_sid)]), 1600).is_err());
        let many: Vec<(String, String)> = (0..=MAX_PARAMS)
            .map(|i| (format!("p{i}"), String::new()))
            .collect();
        assert!(matches!(
            check_bounds(&many, 1600),
            Err(Error::TooLarge {
                code: "too_many_parameters",
                ..
            })
        ));
        assert!(check_size(&vec![b'a'; MAX_FORM_BYTES]).is_ok());
        assert!(matches!(
            check_size(&vec![b'a'; MAX_FORM_BYTES + 1]),
            Err(Error::PayloadTooLarge(MAX_FORM_BYTES))
        ));
    }
}
