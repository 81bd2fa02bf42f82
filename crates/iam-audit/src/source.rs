//! Rust source reduced to what the scanner may match on: comments and the
//! contents of string and character literals blanked (so that neither a
//! comment nor a log message mentioning `.put_item()` counts as a call), and
//! test-only items (`#[cfg(test)]`, `#[test]`, `#[tokio::test]`) removed.
//! Blanking keeps every byte offset and line number of the original.

/// The source with comments and literal contents replaced by spaces
/// (newlines kept). Quotes stay, so `"a"` becomes `" "`.
pub fn blank_comments_and_literals(src: &str) -> String {
    let bytes = src.as_bytes();
    let mut out = bytes.to_vec();
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for b in &mut out[from..to] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    };
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    while i < bytes.len() {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied();
        if b == b'/' && next == Some(b'/') {
            let end = bytes[i..]
                .iter()
                .position(|c| *c == b'\n')
                .map_or(bytes.len(), |n| i + n);
            blank(&mut out, i, end);
            i = end;
        } else if b == b'/' && next == Some(b'*') {
            // Block comments nest in Rust.
            let mut depth = 0usize;
            let mut j = i;
            while j < bytes.len() {
                if bytes[j] == b'/' && bytes.get(j + 1) == Some(&b'*') {
                    depth += 1;
                    j += 2;
                } else if bytes[j] == b'*' && bytes.get(j + 1) == Some(&b'/') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if (b == b'r' || (b == b'b' && next == Some(b'r')))
            && (i == 0 || !ident(bytes[i - 1]))
            && raw_string_start(bytes, i).is_some()
        {
            let (hashes, body) = raw_string_start(bytes, i).unwrap_or((0, i));
            let closing: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            let end = bytes[body..]
                .windows(closing.len())
                .position(|w| w == closing.as_slice())
                .map_or(bytes.len(), |n| body + n);
            blank(&mut out, body, end);
            i = (end + closing.len()).min(bytes.len());
        } else if b == b'"' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            let end = j.min(bytes.len());
            blank(&mut out, i + 1, end);
            i = end + 1;
        } else if b == b'\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime/label ('a).
            if next == Some(b'\\') {
                // Skip the backslash and the escaped character itself.
                let mut j = i + 3;
                while j < bytes.len() && bytes[j] != b'\'' {
                    j += 1;
                }
                blank(&mut out, i + 1, j.min(bytes.len()));
                i = j + 1;
            } else if let Some(c) = src[i + 1..].chars().next() {
                let after = i + 1 + c.len_utf8();
                if bytes.get(after) == Some(&b'\'') {
                    blank(&mut out, i + 1, after);
                    i = after + 1;
                } else {
                    i += 1;
                }
            } else {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// At `r"`, `r#"`, `br##"`...: the number of `#` and where the body starts.
fn raw_string_start(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut j = at + if bytes[at] == b'b' { 2 } else { 1 };
    let mut hashes = 0;
    while bytes.get(j) == Some(&b'#') {
        hashes += 1;
        j += 1;
    }
    (bytes.get(j) == Some(&b'"')).then_some((hashes, j + 1))
}

/// What [`remove_test_items`] found besides the items it blanked.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TestItems {
    /// `#[cfg(test)] mod name;`: modules whose file is test-only.
    pub modules: Vec<String>,
}

/// Blanks every item under a test-only attribute, in a source already
/// passed through [`blank_comments_and_literals`]. An attribute is
/// test-only when it is `#[test]`, `#[<path>::test]` (with arguments or
/// not), `#[cfg(test)]` or `#[cfg(all(test, ...))]`; `cfg(any(test, ...))`
/// is not, since the item is built outside tests too.
pub fn remove_test_items(src: &str) -> (String, TestItems) {
    let bytes = src.as_bytes();
    let mut out = bytes.to_vec();
    let mut found = TestItems::default();
    let mut i = 0;
    while let Some(offset) = src[i..].find("#[") {
        let start = i + offset;
        let Some(close) = matching(bytes, start + 1, b'[', b']') else {
            break;
        };
        let attribute: String = src[start + 2..close]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        i = close + 1;
        if !is_test_attribute(&attribute) {
            continue;
        }
        // Skip further attributes, then take the item up to its `;` or its
        // braced body.
        let mut j = close + 1;
        loop {
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            if src[j..].starts_with("#[") {
                match matching(bytes, j + 1, b'[', b']') {
                    Some(end) => j = end + 1,
                    None => break,
                }
            } else {
                break;
            }
        }
        let item_start = j;
        let mut k = j;
        let mut depth = 0i32;
        let end = loop {
            match bytes.get(k) {
                None => break bytes.len(),
                Some(b'(' | b'[') => depth += 1,
                Some(b')' | b']') => depth -= 1,
                Some(b';') if depth == 0 => break k + 1,
                Some(b'{') if depth == 0 => {
                    break matching(bytes, k, b'{', b'}').map_or(bytes.len(), |e| e + 1);
                }
                _ => {}
            }
            k += 1;
        };
        let item = &src[item_start..end];
        if let Some(name) = module_declaration(item) {
            found.modules.push(name);
        }
        for b in &mut out[start..end] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
        i = end;
    }
    (String::from_utf8_lossy(&out).into_owned(), found)
}

fn is_test_attribute(attribute: &str) -> bool {
    attribute == "test"
        || attribute == "cfg(test)"
        || attribute.starts_with("cfg(all(test,")
        || attribute
            .split('(')
            .next()
            .is_some_and(|path| path.ends_with("::test"))
}

/// `mod name;` (optionally `pub`/`pub(crate)`) -> `name`.
fn module_declaration(item: &str) -> Option<String> {
    let item = item.trim().strip_suffix(';')?.trim();
    let rest = item
        .strip_prefix("pub(crate)")
        .or_else(|| item.strip_prefix("pub"))
        .unwrap_or(item)
        .trim();
    let name = rest.strip_prefix("mod")?.trim();
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .then(|| name.to_owned())
}

/// The index of the bracket closing the one at `open_at`.
pub fn matching(bytes: &[u8], open_at: usize, open: u8, close: u8) -> Option<usize> {
    let mut depth = 0usize;
    for (k, b) in bytes.iter().enumerate().skip(open_at) {
        if *b == open {
            depth += 1;
        } else if *b == close {
            depth = depth.checked_sub(1)?;
            if depth == 0 {
                return Some(k);
            }
        }
    }
    None
}

/// 1-based line of byte `offset`.
pub fn line_of(src: &str, offset: usize) -> usize {
    src.as_bytes()[..offset.min(src.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanks_comments_and_literals_keeping_lines_and_offsets() {
        let src =
            "let a = \"x.put_item()\"; // .query()\n/* .scan() /* nested */ */ b.get_item()\n";
        let out = blank_comments_and_literals(src);
        assert_eq!(out.len(), src.len());
        assert!(!out.contains("put_item") && !out.contains("query") && !out.contains("scan"));
        assert!(out.contains("b.get_item()"));
        assert_eq!(out.matches('\n').count(), 2);
    }

    #[test]
    fn keeps_lifetimes_and_blanks_char_and_raw_string_literals() {
        let src = "fn f<'a>(x: &'a str) -> char { let _ = r#\"c.scan()\"#; let _ = b\"d.query()\"; '\\'' } 'x'";
        let out = blank_comments_and_literals(src);
        assert!(out.contains("<'a>") && out.contains("&'a str"));
        assert!(!out.contains("scan") && !out.contains("query"));
        assert!(out.ends_with("' '"));
    }

    #[test]
    fn removes_test_modules_functions_and_test_only_module_files() {
        let src = "fn live() { c.put_item(); }\n#[cfg(test)]\nmod tests {\n    fn helper() { c.delete_item(); }\n}\n#[cfg(test)]\nmod fixtures;\n#[tokio::test(flavor = \"current_thread\")]\nasync fn t() { c.scan(); }\n#[cfg(any(test, feature = \"x\"))]\nfn shared() { c.query(); }\n";
        let (out, found) = remove_test_items(&blank_comments_and_literals(src));
        assert!(out.contains("put_item") && out.contains("query"));
        assert!(!out.contains("delete_item") && !out.contains("scan"));
        assert_eq!(found.modules, ["fixtures"]);
        assert_eq!(line_of(&out, out.find("query").unwrap()), 11);
    }
}
