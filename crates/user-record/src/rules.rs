//! The rules a profile's fields obey, whoever writes them: the users
//! function refuses input that breaks them, the auth function makes what
//! the identity provider sends fit them (or drops it) before storing it.

/// Longest display name, in characters, after trimming.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest e-mail address, in bytes (RFC 5321's path limit).
pub const MAX_EMAIL_BYTES: usize = 254;

/// A display name: trimmed, 1..=[`MAX_NAME_CHARS`] characters, no control
/// characters. The error says what is wrong.
pub fn name(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    let count = trimmed.chars().count();
    if count == 0 {
        return Err("name must not be empty".into());
    }
    if count > MAX_NAME_CHARS {
        return Err(format!(
            "name must be at most {MAX_NAME_CHARS} characters, got {count}"
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err("name must not contain control characters".into());
    }
    Ok(trimmed.to_owned())
}

/// A name from an identity provider made to pass [`name`]: control
/// characters become spaces, runs of white space one space, and it is cut
/// to [`MAX_NAME_CHARS`] characters; `None` when nothing is left.
pub fn name_from_provider(raw: &str) -> Option<String> {
    let cleaned: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let joined = words.join(" ");
    let cut: String = joined.chars().take(MAX_NAME_CHARS).collect();
    name(&cut).ok()
}

/// A phone number in strict E.164: `+`, a non-zero digit, 7..=15 digits in
/// all. No spaces or punctuation, so that one number has one spelling and
/// the uniqueness claim cannot be dodged by formatting.
pub fn phone(raw: &str) -> Result<String, String> {
    let invalid = || {
        format!(
            "phone must be in E.164 format such as +14155550123, got {:?}",
            raw.chars().take(32).collect::<String>()
        )
    };
    let digits = raw.strip_prefix('+').ok_or_else(invalid)?;
    let valid = (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(invalid())
    }
}

/// An email address: a pragmatic subset of RFC 5321 (dot-atom local part,
/// a domain of at least two LDH labels), at most [`MAX_EMAIL_BYTES`].
pub fn email(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    let invalid = |why: &str| format!("email {why}");
    if trimmed.len() > MAX_EMAIL_BYTES {
        return Err(invalid("must be at most 254 characters"));
    }
    let (local, domain) = trimmed
        .rsplit_once('@')
        .ok_or_else(|| invalid("must contain @"))?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b));
    if !local_ok {
        return Err(invalid("has an invalid part before @"));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()));
    if !domain_ok {
        return Err(invalid("has an invalid domain"));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn name_is_trimmed_and_bounded_by_characters_not_bytes() {
        assert_eq!(name("  Ada Lovelace ").unwrap(), "Ada Lovelace");
        assert_eq!(name(&"é".repeat(100)).unwrap().chars().count(), 100);
        assert!(name(&"é".repeat(101)).is_err());
        assert!(name("   ").is_err());
        assert!(name("a\u{0}b").is_err());
    }

    #[test]
    fn provider_names_are_cleaned_and_cut_to_pass_the_rule() {
        assert_eq!(
            name_from_provider(" Ada\n\tLovelace ").as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(
            name_from_provider("a\u{0}\u{1b}[31mb").as_deref(),
            Some("a [31mb")
        );
        let long = "é".repeat(500);
        let cut = name_from_provider(&long).unwrap();
        assert_eq!(cut.chars().count(), MAX_NAME_CHARS);
        assert!(name(&cut).is_ok());
        assert_eq!(name_from_provider("\u{0}\n \t"), None);
        assert_eq!(name_from_provider(""), None);
    }

    #[test]
    fn phone_accepts_only_strict_e164() {
        assert_eq!(phone("+14155550123").unwrap(), "+14155550123");
        assert_eq!(phone("+447911123456").unwrap(), "+447911123456");
        for bad in [
            "14155550123",
            "+1 415 555 0123",
            "+04155550123",
            "+141555",
            "+1234567890123456",
            "+1415555012a",
            "",
            "+",
        ] {
            assert!(phone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn email_accepts_common_addresses_and_rejects_malformed_ones() {
        for good in ["ada@example.com", "a.b+tag@mail.example.co.uk"] {
            assert!(email(good).is_ok(), "{good}");
        }
        assert_eq!(email(" x@y.io ").unwrap(), "x@y.io");
        for bad in [
            "@example.com",
            "a@",
            ".a@example.com",
            "a@-example.com",
            "a@example.c0m",
            "a b@example.com",
            "plain",
            "a@localhost",
            "a..b@example.com",
            "a@exa_mple.com",
            "a\u{0}@example.com",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
        assert!(email(&format!("{}@example.com", "a".repeat(250))).is_err());
    }
}
