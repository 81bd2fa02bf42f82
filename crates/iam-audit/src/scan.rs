//! The AWS SDK operations one crate's source calls.
//!
//! A call is `.<operation>()` (fluent builders take no arguments) where
//! `<operation>` is an operation of an SDK the crate depends on, and the
//! builder is sent: `.send()` follows in the same statement, or the
//! statement binds it (`let [mut] name = ...`) and `name.send()` comes
//! later in the file. Comments, literals and test-only items do not count
//! (see [`crate::source`]). A matching method that is never sent (say
//! `uri.query()` in a crate that also uses DynamoDB) is kept aside as
//! "not sent", for the report.
//!
//! DynamoDB transactions have no IAM action of their own: IAM checks
//! each item, so a crate calling `transact_write_items` needs the actions
//! of the item kinds it builds (`Put::builder()` -> `PutItem`, `Update` ->
//! `UpdateItem`, `Delete` -> `DeleteItem`, `ConditionCheck` ->
//! `ConditionCheckItem`), and `transact_get_items` needs `GetItem`. The
//! PartiQL operations map to several actions by statement text, which this
//! check cannot read: calling one is an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::sdk::Sdk;
use crate::source;

/// Where a call is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Site {
    /// The file, relative to the workspace root.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
}

/// One SDK operation called from the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The SDK package, e.g. `aws-sdk-dynamodb`.
    pub package: String,
    /// The API operation, e.g. `TransactWriteItems`.
    pub operation: String,
    /// Where.
    pub site: Site,
}

/// What one crate's source holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// SDK calls.
    pub calls: Vec<Call>,
    /// `.<operation>()` of a known SDK, never sent.
    pub not_sent: Vec<(String, Site)>,
    /// DynamoDB transaction item kinds built (`Put`, `Update`, ...).
    pub transaction_items: Vec<(String, Site)>,
    /// `.<operation>()`, sent, that several of the crate's SDKs define.
    pub ambiguous: Vec<(String, Vec<String>, Site)>,
}

/// Every `.rs` file under `<crate_dir>/src` that is not a test-only
/// module, in path order.
pub fn source_files(crate_dir: &Path) -> Result<Vec<(PathBuf, String)>, Error> {
    let mut files = Vec::new();
    let src = crate_dir.join("src");
    collect(&src, &mut files)?;
    files.sort();
    let mut texts = Vec::new();
    let mut test_only: Vec<PathBuf> = Vec::new();
    for path in &files {
        let raw = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let (text, found) = source::remove_test_items(&source::blank_comments_and_literals(&raw));
        let stem_dir = module_dir(path);
        for module in found.modules {
            test_only.push(stem_dir.join(format!("{module}.rs")));
            test_only.push(stem_dir.join(&module));
        }
        texts.push((path.clone(), text));
    }
    Ok(texts
        .into_iter()
        .filter(|(p, _)| !test_only.iter().any(|t| p == t || p.starts_with(t)))
        .collect())
}

/// The directory holding the child modules of the module in `path`.
fn module_dir(path: &Path) -> PathBuf {
    let parent = path.parent().unwrap_or(Path::new(""));
    match path.file_stem().and_then(|s| s.to_str()) {
        Some("lib" | "main" | "mod") => parent.to_path_buf(),
        Some(stem) if parent.file_name().and_then(|n| n.to_str()) == Some("bin") => {
            parent.join(stem)
        }
        Some(stem) => parent.join(stem),
        None => parent.to_path_buf(),
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// Scans prepared files (see [`source_files`]) against the SDKs the crate
/// depends on; `root` makes the reported paths relative.
pub fn scan(root: &Path, files: &[(PathBuf, String)], sdks: &[&Sdk]) -> Findings {
    let mut findings = Findings::default();
    for (path, text) in files {
        let file = path.strip_prefix(root).unwrap_or(path).to_path_buf();
        let site = |offset| Site {
            file: file.clone(),
            line: source::line_of(text, offset),
        };
        for (offset, method) in empty_calls(text) {
            let owners: Vec<&&Sdk> = sdks
                .iter()
                .filter(|s| s.operations.contains_key(method))
                .collect();
            let Some(sdk) = owners.first() else {
                continue;
            };
            if !is_sent(text, offset) {
                findings.not_sent.push((method.to_owned(), site(offset)));
            } else if owners.len() > 1 {
                findings.ambiguous.push((
                    method.to_owned(),
                    owners.iter().map(|s| s.package.clone()).collect(),
                    site(offset),
                ));
            } else {
                findings.calls.push(Call {
                    package: sdk.package.clone(),
                    operation: sdk.operations[method].clone(),
                    site: site(offset),
                });
            }
        }
        for kind in ["Put", "Update", "Delete", "ConditionCheck", "Get"] {
            let needle = format!("{kind}::builder()");
            let mut from = 0;
            while let Some(at) = text[from..].find(&needle) {
                let offset = from + at;
                let preceded_by_ident = text[..offset]
                    .bytes()
                    .next_back()
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
                if !preceded_by_ident {
                    findings
                        .transaction_items
                        .push((kind.to_owned(), site(offset)));
                }
                from = offset + needle.len();
            }
        }
    }
    findings
}

/// `(offset of the name, name)` for every `.name()` with nothing between
/// the parentheses but whitespace.
fn empty_calls(text: &str) -> Vec<(usize, &str)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for (dot, _) in text.match_indices('.') {
        let mut i = dot + 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        if i == start || !bytes[start].is_ascii_lowercase() && bytes[start] != b'_' {
            continue;
        }
        let name_end = i;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes.get(i) != Some(&b'(') {
            continue;
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes.get(i) == Some(&b')') {
            out.push((start, &text[start..name_end]));
        }
    }
    out
}

/// The statement around `offset` sends the builder, or binds it to a name
/// sent later in the file.
fn is_sent(text: &str, offset: usize) -> bool {
    let bytes = text.as_bytes();
    // Statement start: after the last `;`, `{` or `}` before the call.
    let start = text[..offset].rfind([';', '{', '}']).map_or(0, |p| p + 1);
    // Statement end: the `;` at this nesting level, or the `}` closing the
    // enclosing block.
    let mut depth = 0i32;
    let mut end = bytes.len();
    for (k, b) in bytes.iter().enumerate().skip(offset) {
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth == 0 => {
                end = k;
                break;
            }
            b')' | b']' | b'}' => depth -= 1,
            b';' if depth == 0 => {
                end = k;
                break;
            }
            _ => {}
        }
    }
    let statement = &text[start..end];
    if empty_calls(statement)
        .iter()
        .any(|(_, name)| *name == "send")
    {
        return true;
    }
    let Some(binding) = statement.trim_start().strip_prefix("let ") else {
        return false;
    };
    let name: String = binding
        .trim_start()
        .trim_start_matches("mut ")
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if name.is_empty() {
        return false;
    }
    let later = &text[end..];
    let mut from = 0;
    while let Some(at) = later[from..].find(name.as_str()) {
        let pos = from + at;
        let before_ok = later[..pos]
            .bytes()
            .next_back()
            .is_none_or(|b| !(b.is_ascii_alphanumeric() || b == b'_'));
        let rest = later[pos + name.len()..].trim_start();
        if before_ok
            && rest.starts_with('.')
            && rest[1..].trim_start().starts_with("send")
            && empty_calls(&rest[..rest.len().min(64)])
                .first()
                .is_some_and(|(_, n)| *n == "send")
        {
            return true;
        }
        from = pos + name.len();
    }
    false
}

/// Transaction operations and the IAM action of each item kind.
pub const TRANSACTIONS: [(&str, &[(&str, &str)]); 2] = [
    (
        "TransactWriteItems",
        &[
            ("Put", "PutItem"),
            ("Update", "UpdateItem"),
            ("Delete", "DeleteItem"),
            ("ConditionCheck", "ConditionCheckItem"),
        ],
    ),
    ("TransactGetItems", &[("Get", "GetItem")]),
];

/// Operations whose IAM actions depend on a PartiQL statement.
pub const PARTIQL: [&str; 3] = [
    "ExecuteStatement",
    "BatchExecuteStatement",
    "ExecuteTransaction",
];

/// Calls grouped by operation.
pub fn by_operation(calls: &[Call]) -> BTreeMap<(String, String), Vec<Site>> {
    let mut out: BTreeMap<(String, String), Vec<Site>> = BTreeMap::new();
    for call in calls {
        out.entry((call.package.clone(), call.operation.clone()))
            .or_default()
            .push(call.site.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn sdk(package: &str, prefix: &str, ops: &[(&str, &str)], unsigned: &[&str]) -> Sdk {
        Sdk {
            package: package.to_owned(),
            iam_prefix: prefix.to_owned(),
            operations: ops
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            unsigned: unsigned
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<BTreeSet<_>>(),
        }
    }

    fn dynamodb() -> Sdk {
        sdk(
            "aws-sdk-dynamodb",
            "dynamodb",
            &[
                ("put_item", "PutItem"),
                ("query", "Query"),
                ("get_item", "GetItem"),
                ("transact_write_items", "TransactWriteItems"),
            ],
            &[],
        )
    }

    fn findings(src: &str) -> Findings {
        let text = source::remove_test_items(&source::blank_comments_and_literals(src)).0;
        let ddb = dynamodb();
        scan(
            Path::new("/ws"),
            &[(PathBuf::from("/ws/crates/x/src/lib.rs"), text)],
            &[&ddb],
        )
    }

    fn ops(f: &Findings) -> Vec<(String, usize)> {
        f.calls
            .iter()
            .map(|c| (c.operation.clone(), c.site.line))
            .collect()
    }

    #[test]
    fn finds_multi_line_fluent_calls_that_are_sent() {
        let f = findings(
            "async fn a(&self) {\n    let out = self\n        .client\n        .put_item()\n        .table_name(&self.t)\n        .send()\n        .await?;\n}\n",
        );
        assert_eq!(ops(&f), [("PutItem".to_owned(), 4)]);
        assert_eq!(f.calls[0].site.file, PathBuf::from("crates/x/src/lib.rs"));
    }

    #[test]
    fn follows_a_builder_bound_to_a_name_and_sent_later() {
        let f = findings(
            "fn a() {\n let mut request = client.get_item().key(k);\n if x { request = request.consistent_read(true); }\n request.send().await;\n}\n",
        );
        assert_eq!(ops(&f), [("GetItem".to_owned(), 2)]);
    }

    #[test]
    fn ignores_unsent_methods_comments_literals_and_tests() {
        let f = findings(
            "fn a(uri: &Uri) -> Option<&str> { uri.query() }\n// client.put_item().send()\nconst S: &str = \"client.put_item().send()\";\nfn b() { reqwest.get(u).query(&q).send(); }\n#[cfg(test)]\nmod tests { fn t() { client.put_item().send(); } }\n",
        );
        assert!(f.calls.is_empty(), "{:?}", f.calls);
        assert_eq!(
            f.not_sent
                .iter()
                .map(|(m, s)| (m.as_str(), s.line))
                .collect::<Vec<_>>(),
            [("query", 1)]
        );
    }

    #[test]
    fn records_transaction_item_kinds() {
        let f = findings(
            "fn a() { let p = Put::builder().build(); let d = types::Delete::builder(); client.transact_write_items().send(); }\nfn b() { MyPut::builder(); }\n",
        );
        assert_eq!(ops(&f), [("TransactWriteItems".to_owned(), 1)]);
        let kinds: Vec<&str> = f
            .transaction_items
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(kinds, ["Put", "Delete"]);
    }

    #[test]
    fn skips_test_only_module_files() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("helpers")).unwrap();
        std::fs::write(
            src.join("lib.rs"),
            "mod live;\n#[cfg(test)]\nmod tests;\n#[cfg(test)]\nmod helpers;\n",
        )
        .unwrap();
        std::fs::write(src.join("live.rs"), "").unwrap();
        std::fs::write(src.join("tests.rs"), "").unwrap();
        std::fs::write(src.join("helpers/mod.rs"), "").unwrap();
        let files: Vec<String> = source_files(dir.path())
            .unwrap()
            .into_iter()
            .map(|(p, _)| p.strip_prefix(&src).unwrap().display().to_string())
            .collect();
        assert_eq!(files, ["lib.rs", "live.rs"]);
    }
}
