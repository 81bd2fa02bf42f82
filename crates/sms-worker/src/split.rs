//! Splitting long answers into numbered SMS parts.
//!
//! Twilio refuses a message body over 1600 characters. A longer answer is
//! cut at word boundaries into parts prefixed `(1/3) `, `(2/3) `, ...,
//! each at most the limit including its prefix; a single word longer than
//! a part is cut where it must be.

/// Twilio's limit on a message body, in characters.
pub const MAX_CHARS: usize = 1600;

/// `text` as one part when it fits in `limit` characters, else numbered parts.
pub fn split(text: &str, limit: usize) -> Vec<String> {
    let text = text.trim();
    if text.chars().count() <= limit {
        return vec![text.to_owned()];
    }
    let mut total = 2;
    loop {
        let prefix = prefix_len(total);
        // A limit smaller than the prefix cannot be honoured; one character
        // per part still terminates.
        let chunks = chunk(text, limit.saturating_sub(prefix).max(1));
        if prefix_len(chunks.len()) <= prefix {
            let n = chunks.len();
            return chunks
                .into_iter()
                .enumerate()
                .map(|(i, part)| format!("({}/{n}) {part}", i + 1))
                .collect();
        }
        // More parts than digits allowed for: longer prefixes, fewer
        // characters per part; try again with the larger count.
        total = chunks.len();
    }
}

/// The longest prefix `(i/n) ` can be with `n` parts.
fn prefix_len(n: usize) -> usize {
    let digits = n.to_string().len();
    digits * 2 + 4
}

/// Greedy word-boundary chunks of at most `width` characters.
fn chunk(text: &str, width: usize) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let Some((fit_end, first_out)) = rest.char_indices().nth(width) else {
            chunks.push(rest.trim_end().to_owned());
            break;
        };
        // The character just past the limit counts: a space there is a
        // clean break after a full-width part.
        let window = &rest[..fit_end + first_out.len_utf8()];
        match window.rfind(char::is_whitespace).filter(|&at| at > 0) {
            Some(at) => {
                chunks.push(rest[..at].trim_end().to_owned());
                rest = rest[at..].trim_start();
            }
            None => {
                chunks.push(rest[..fit_end].to_owned());
                rest = &rest[fit_end..];
            }
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> usize {
        s.chars().count()
    }

    #[test]
    fn short_answers_are_one_unnumbered_part() {
        assert_eq!(split("  Hello there. ", MAX_CHARS), ["Hello there."]);
        let exact = "a".repeat(MAX_CHARS);
        assert_eq!(split(&exact, MAX_CHARS), vec![exact]);
    }

    #[test]
    fn long_answers_split_at_word_boundaries_into_numbered_parts() {
        let words: Vec<String> = (0..600).map(|i| format!("word{i}")).collect();
        let text = words.join(" ");
        let parts = split(&text, MAX_CHARS);
        assert!(parts.len() >= 3, "{}", parts.len());
        let n = parts.len();
        let mut rebuilt = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            assert!(chars(part) <= MAX_CHARS, "part {i} has {}", chars(part));
            let prefix = format!("({}/{n}) ", i + 1);
            let body = part.strip_prefix(&prefix).unwrap();
            assert!(!body.starts_with(' ') && !body.ends_with(' '));
            rebuilt.extend(body.split(' ').map(str::to_owned));
        }
        assert_eq!(rebuilt, words, "no word is cut or lost");
    }

    #[test]
    fn multibyte_text_is_counted_in_characters() {
        let text = "é".repeat(3000);
        let parts = split(&text, MAX_CHARS);
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| chars(p) <= MAX_CHARS));
        let joined: String = parts.iter().map(|p| p.split_once(' ').unwrap().1).collect();
        assert_eq!(joined, text, "an unbreakable word is cut, nothing lost");
    }

    #[test]
    fn prefixes_grow_with_the_number_of_parts() {
        // 10+ parts need two-digit prefixes; every part must still fit.
        let text = "abcd ".repeat(100);
        let parts = split(&text, 30);
        assert!(parts.len() >= 10);
        assert!(parts.iter().all(|p| chars(p) <= 30), "{parts:?}");
        assert!(parts[0].starts_with(&format!("(1/{}) ", parts.len())));
    }

    #[test]
    fn newlines_inside_a_part_are_kept() {
        let text = format!("{}\nsecond line {}", "x".repeat(10), "y ".repeat(20));
        let parts = split(&text, 30);
        assert!(parts[0].contains('\n'), "{parts:?}");
    }
}
