//! Keywords: a whole message, case-insensitive, surrounding spaces and
//! punctuation ignored.
//!
//! `STOP`/`START` are Twilio's: Twilio blocks or unblocks the number and
//! answers by itself; we only mirror the choice into `sms_opt_in`. When the
//! account uses Advanced Opt-Out, Twilio's own classification
//! (`OptOutType`) wins over our word lists. `YES` is one of Twilio's
//! default opt-in words but is deliberately not mirrored from the text
//! alone: in a conversation it is far more often an answer than a request.

/// A keyword the function handles instead of asking the assistant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// Send the help text.
    Help,
    /// Clear the conversation history and confirm.
    Reset,
    /// The sender opted out at Twilio: mirror `sms_opt_in = false`.
    Stop,
    /// The sender opted back in at Twilio: mirror `sms_opt_in = true`.
    Start,
}

const STOP_WORDS: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "OPTOUT",
    "REVOKE",
];
const START_WORDS: &[&str] = &["START", "UNSTOP", "OPTIN"];
const HELP_WORDS: &[&str] = &["HELP", "INFO"];
const RESET_WORDS: &[&str] = &["RESET"];

/// The keyword `body` is, if any; `opt_out_type` is Twilio's `OptOutType`.
pub fn classify(body: &str, opt_out_type: Option<&str>) -> Option<Keyword> {
    match opt_out_type.map(str::to_ascii_uppercase).as_deref() {
        Some("STOP") => return Some(Keyword::Stop),
        Some("START") => return Some(Keyword::Start),
        Some("HELP") => return Some(Keyword::Help),
        _ => {}
    }
    let word = body
        .trim()
        .trim_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace())
        .to_ascii_uppercase();
    let is = |list: &[&str]| list.contains(&word.as_str());
    if is(STOP_WORDS) {
        Some(Keyword::Stop)
    } else if is(START_WORDS) {
        Some(Keyword::Start)
    } else if is(HELP_WORDS) {
        Some(Keyword::Help)
    } else if is(RESET_WORDS) {
        Some(Keyword::Reset)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_whole_messages_in_any_case() {
        assert_eq!(classify("help", None), Some(Keyword::Help));
        assert_eq!(classify("  Reset! ", None), Some(Keyword::Reset));
        assert_eq!(classify("STOP", None), Some(Keyword::Stop));
        assert_eq!(classify("unsubscribe", None), Some(Keyword::Stop));
        assert_eq!(classify("Start", None), Some(Keyword::Start));
        assert_eq!(classify("please help me", None), None);
        assert_eq!(classify("reset my router?", None), None);
        assert_eq!(classify("", None), None);
    }

    #[test]
    fn yes_is_an_answer_not_an_opt_in() {
        assert_eq!(classify("yes", None), None);
    }

    #[test]
    fn twilios_opt_out_type_wins() {
        assert_eq!(classify("arrête", Some("STOP")), Some(Keyword::Stop));
        assert_eq!(classify("oui", Some("start")), Some(Keyword::Start));
        assert_eq!(classify("aide", Some("HELP")), Some(Keyword::Help));
        assert_eq!(classify("reset", Some("")), Some(Keyword::Reset));
    }
}
