//! The inbound webhook's form body.

use crate::Error;

/// Parses an `application/x-www-form-urlencoded` body into its pairs, in
/// order, repeated names kept (the signature covers every one of them).
pub fn parse(body: &[u8]) -> Result<Vec<(String, String)>, Error> {
    // The decoder would replace invalid UTF-8 silently; Twilio posts
    // ASCII (percent-encoded UTF-8), so anything else is not Twilio.
    let text = std::str::from_utf8(body)
        .map_err(|_| Error::MalformedForm("the body is not UTF-8".to_owned()))?;
    serde_urlencoded::from_str(text).map_err(|err| Error::MalformedForm(err.to_string()))
}

/// The first value of `name`.
pub fn first<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The fields of an inbound message this function acts on.
#[derive(Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// Twilio's id of the message, the idempotency key.
    pub message_sid: String,
    /// The sender, E.164.
    pub from: String,
    /// Our number the message was sent to; replies come from it.
    pub to: String,
    /// The text (may be empty for a media-only message).
    pub body: String,
    /// Twilio's Advanced Opt-Out classification (`STOP`, `START`, `HELP`), when enabled.
    pub opt_out_type: Option<String>,
}

impl InboundMessage {
    /// The message from the webhook parameters; 400 names a missing one.
    pub fn from_params(params: &[(String, String)]) -> Result<Self, Error> {
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
        Ok(Self {
            message_sid: non_blank("MessageSid")?,
            from: non_blank("From")?,
            to: non_blank("To")?,
            // Present but empty is legitimate: an MMS with only a picture.
            body: required("Body")?,
            opt_out_type: first(params, "OptOutType")
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
        })
    }
}

// Message text and phone numbers are personal data: Debug shows neither.
impl std::fmt::Debug for InboundMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundMessage")
            .field("message_sid", &self.message_sid)
            .field("body_chars", &self.body.chars().count())
            .field("opt_out_type", &self.opt_out_type)
            .finish_non_exhaustive()
    }
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

    fn message(pairs: &[(&str, &str)]) -> Result<InboundMessage, Error> {
        let params: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        InboundMessage::from_params(&params)
    }

    const FULL: [(&str, &str); 4] = [
        ("MessageSid", "SM1"),
        ("From", "+15551234567"),
        ("To", "+15550001111"),
        ("Body", "hello"),
    ];

    #[test]
    fn reads_the_required_fields() {
        let msg = message(&FULL).unwrap();
        assert_eq!(msg.message_sid, "SM1");
        assert_eq!(msg.from, "+15551234567");
        assert_eq!(msg.to, "+15550001111");
        assert_eq!(msg.body, "hello");
        assert_eq!(msg.opt_out_type, None);
        let debug = format!("{msg:?}");
        assert!(
            !debug.contains("hello") && !debug.contains("+1555"),
            "{debug}"
        );
    }

    #[test]
    fn each_missing_field_is_named() {
        for missing in ["MessageSid", "From", "To", "Body"] {
            let pairs: Vec<_> = FULL
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            match message(&pairs) {
                Err(Error::MissingField(name)) => assert_eq!(name, missing),
                other => panic!("{missing}: {other:?}"),
            }
        }
        let blank_from: Vec<_> = FULL
            .iter()
            .map(|&(k, v)| if k == "From" { (k, " ") } else { (k, v) })
            .collect();
        assert!(matches!(
            message(&blank_from),
            Err(Error::MissingField("From"))
        ));
    }

    #[test]
    fn an_empty_body_is_present_not_missing() {
        let pairs: Vec<_> = FULL
            .iter()
            .map(|&(k, v)| if k == "Body" { (k, "") } else { (k, v) })
            .collect();
        assert_eq!(message(&pairs).unwrap().body, "");
    }
}
