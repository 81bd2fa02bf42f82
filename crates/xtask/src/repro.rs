//! `repro`: build dist/ here and from a copy of the checkout in another
//! directory (same target dir), then compare every artifact's hash.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use lambda_pack::manifest::Manifest;

use crate::cli::BuildTarget;
use crate::dist::dist;
use crate::run::describe;
use crate::workspace::Workspace;

/// One artifact's hash in the two builds (`None`: missing from that build).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub name: String,
    pub here: Option<String>,
    pub copy: Option<String>,
}

impl Comparison {
    pub fn same(&self) -> bool {
        self.here.is_some() && self.here == self.copy
    }
}

fn hashes(manifest: &Manifest) -> Vec<(String, String)> {
    manifest
        .artifacts()
        .iter()
        .map(|a| (a.name.to_owned(), a.base64sha256.to_owned()))
        .collect()
}

pub fn compare(here: &Manifest, copy: &Manifest) -> Vec<Comparison> {
    let (here, copy) = (hashes(here), hashes(copy));
    let names: BTreeSet<&String> = here.iter().chain(&copy).map(|(n, _)| n).collect();
    let find = |list: &[(String, String)], name: &str| {
        list.iter().find(|(n, _)| n == name).map(|(_, h)| h.clone())
    };
    names
        .into_iter()
        .map(|name| Comparison {
            name: name.clone(),
            here: find(&here, name),
            copy: find(&copy, name),
        })
        .collect()
}

pub fn render(rows: &[Comparison], here: &Path, copy: &Path) -> String {
    let mut out = format!("{:<16} {:<46} {:<46} result\n", "artifact", "here", "copy");
    out.push_str(&format!(
        "{:<16} {:<46} {:<46}\n",
        "",
        here.display(),
        copy.display()
    ));
    for row in rows {
        out.push_str(&format!(
            "{:<16} {:<46} {:<46} {}\n",
            row.name,
            row.here.as_deref().unwrap_or("(missing)"),
            row.copy.as_deref().unwrap_or("(missing)"),
            if row.same() { "identical" } else { "DIFFERENT" }
        ));
    }
    out
}

/// Files a fresh clone would have: tracked, plus untracked files git does not
/// ignore (so uncommitted work is tested too).
pub fn source_files(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut git = Command::new("git");
    git.current_dir(root).args([
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    ]);
    let line = describe(&git);
    let output = git
        .output()
        .with_context(|| format!("cannot start `{line}`"))?;
    if !output.status.success() {
        bail!(
            "`{line}` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(parse_ls_files(&output.stdout))
}

fn parse_ls_files(stdout: &[u8]) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = stdout
        .split(|b| *b == 0)
        .filter(|name| !name.is_empty())
        .map(|name| PathBuf::from(String::from_utf8_lossy(name).into_owned()))
        .collect();
    files.sort();
    files.dedup();
    files
}

/// Copies `files` (relative to `from`) into `to`, keeping modes. Files listed
/// by git but deleted in the work tree are skipped, as a commit would.
pub fn copy_files(from: &Path, to: &Path, files: &[PathBuf]) -> anyhow::Result<usize> {
    let mut copied = 0;
    for file in files {
        let source = from.join(file);
        if !source.is_file() {
            continue;
        }
        let target = to.join(file);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::copy(&source, &target)
            .with_context(|| format!("copying {} to {}", source.display(), target.display()))?;
        copied += 1;
    }
    Ok(copied)
}

pub fn repro(ws: &Workspace, target: &BuildTarget, only: &[String]) -> anyhow::Result<()> {
    let here_out = ws.root.join("dist");
    eprintln!("repro: building in {}", ws.root.display());
    let here = dist(ws, &ws.root, target, &here_out, only)?;

    // A fixed path, emptied first: cargo then keeps one set of build outputs
    // for the copy's crates in the shared target dir instead of a new set per
    // random temporary name.
    let copy = std::env::temp_dir().join("lambda-forge-repro");
    if copy.exists() {
        std::fs::remove_dir_all(&copy)
            .with_context(|| format!("removing the previous copy {}", copy.display()))?;
    }
    let files = source_files(&ws.root)?;
    let copied = copy_files(&ws.root, &copy, &files)?;
    eprintln!(
        "repro: copied {copied} files to {}; building there with the same target dir",
        copy.display()
    );
    let copy_out = copy.join("dist");
    let copied_manifest = dist(ws, &copy, target, &copy_out, only)?;

    let rows = compare(&here, &copied_manifest);
    println!("{}", render(&rows, &here_out, &copy_out).trim_end());
    let different: Vec<&str> = rows
        .iter()
        .filter(|r| !r.same())
        .map(|r| r.name.as_str())
        .collect();
    if different.is_empty() {
        println!("repro: {} artifacts are byte-identical", rows.len());
        // Only a passing run cleans up: a failing one leaves the copy to diff.
        std::fs::remove_dir_all(&copy).with_context(|| format!("removing {}", copy.display()))?;
        Ok(())
    } else {
        bail!(
            "not reproducible: {} differ between {} and {} (the copy is kept)",
            different.join(", "),
            here_out.display(),
            copy_out.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_pack::manifest::{FunctionEntry, SCHEMA_VERSION};
    use lambda_pack::spec::{Budget, Limits};
    use std::collections::BTreeMap;

    fn manifest(hashes: &[(&str, &str)]) -> Manifest {
        let entry = |hash: &str| FunctionEntry {
            file: "f.zip".into(),
            base64sha256: hash.into(),
            zip_bytes: 1,
            unzipped_bytes: 1,
            architecture: "arm64".into(),
            runtime: "provided.al2023".into(),
            handler: "bootstrap".into(),
            memory_mb: 128,
            timeout_s: 3,
            layers: vec![],
            external_layers: vec![],
            routes: vec![],
            budget: Budget {
                zip_bytes: 1,
                unzipped_bytes: 1,
            },
        };
        Manifest {
            schema_version: SCHEMA_VERSION,
            limits: Limits {
                max_zip_bytes: 1,
                max_unzipped_bytes: 1,
                max_layers: 5,
            },
            functions: hashes
                .iter()
                .map(|(name, hash)| ((*name).to_owned(), entry(hash)))
                .collect(),
            layers: BTreeMap::new(),
            external_layers: BTreeMap::new(),
            preflight: None,
        }
    }

    #[test]
    fn identical_hashes_compare_equal() {
        let rows = compare(&manifest(&[("cors", "A=")]), &manifest(&[("cors", "A=")]));
        assert_eq!(rows.len(), 1);
        assert!(rows[0].same());
    }

    #[test]
    fn a_different_or_missing_hash_is_a_difference() {
        let rows = compare(
            &manifest(&[("cors", "A="), ("sms", "S=")]),
            &manifest(&[("cors", "B="), ("users", "U=")]),
        );
        let verdicts: Vec<(&str, bool)> =
            rows.iter().map(|r| (r.name.as_str(), r.same())).collect();
        assert_eq!(
            verdicts,
            vec![("cors", false), ("sms", false), ("users", false)]
        );
        let table = render(&rows, Path::new("/a/dist"), Path::new("/b/dist"));
        assert!(table.contains("(missing)"), "{table}");
        assert!(
            table.lines().nth(2).unwrap().ends_with("DIFFERENT"),
            "{table}"
        );
    }

    #[test]
    fn ls_files_output_is_split_on_nul_sorted_and_deduplicated() {
        let files = parse_ls_files(b"b.rs\0a dir/x.rs\0b.rs\0");
        assert_eq!(
            files,
            vec![PathBuf::from("a dir/x.rs"), PathBuf::from("b.rs")]
        );
    }

    #[test]
    fn copying_skips_deleted_files_and_keeps_the_tree() {
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(from.path().join("crates/a/src")).unwrap();
        std::fs::write(from.path().join("crates/a/src/lib.rs"), "//! a\n").unwrap();
        let files = vec![
            PathBuf::from("crates/a/src/lib.rs"),
            PathBuf::from("deleted.rs"),
        ];
        assert_eq!(copy_files(from.path(), to.path(), &files).unwrap(), 1);
        assert_eq!(
            std::fs::read_to_string(to.path().join("crates/a/src/lib.rs")).unwrap(),
            "//! a\n"
        );
    }

    #[test]
    fn source_files_lists_untracked_files_but_not_ignored_ones() {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let status = Command::new("git")
                .current_dir(dir.path())
                .args(args)
                .status()
                .unwrap();
            assert!(status.success());
        };
        git(&["init", "-q"]);
        std::fs::write(dir.path().join(".gitignore"), "/target\n").unwrap();
        std::fs::write(dir.path().join("Cargo.toml"), "[workspace]\n").unwrap();
        std::fs::create_dir(dir.path().join("target")).unwrap();
        std::fs::write(dir.path().join("target/big"), "x").unwrap();
        let files = source_files(dir.path()).unwrap();
        assert_eq!(
            files,
            vec![PathBuf::from(".gitignore"), PathBuf::from("Cargo.toml")]
        );
    }
}
