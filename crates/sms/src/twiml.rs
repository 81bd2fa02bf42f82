//! The TwiML answers to Twilio's webhook.

use api_gateway::GatewayResponse;

/// The empty answer: the reply, if any, goes through the REST API.
pub const EMPTY: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#;

/// An answer that makes Twilio send `parts` itself, one `<Message>` each:
/// the fallback when the REST API could not.
pub fn messages(parts: &[String]) -> String {
    let mut xml = String::from(r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#);
    for part in parts {
        xml.push_str("<Message>");
        xml.push_str(&escape(part));
        xml.push_str("</Message>");
    }
    xml.push_str("</Response>");
    xml
}

/// `text` safe as XML character data or an attribute value; characters
/// XML 1.0 forbids (most C0 controls) are dropped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// A 200 `text/xml` response carrying `xml`.
pub fn response(xml: impl Into<String>) -> GatewayResponse {
    GatewayResponse::text(200, "text/xml", xml)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_forbidden_characters() {
        assert_eq!(
            escape("a < b & c > \"d\" 'e'\u{1}\n"),
            "a &lt; b &amp; c &gt; &quot;d&quot; &apos;e&apos;\n"
        );
    }

    #[test]
    fn messages_wrap_each_part() {
        assert_eq!(
            messages(&["1 < 2".to_owned(), "ok".to_owned()]),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Message>1 &lt; 2</Message><Message>ok</Message></Response>"#
        );
        assert_eq!(messages(&[]), EMPTY);
    }

    #[test]
    fn response_is_200_text_xml() {
        let r = response(EMPTY);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("text/xml"));
        assert_eq!(r.body, EMPTY);
    }
}
