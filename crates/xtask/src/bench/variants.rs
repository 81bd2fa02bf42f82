//! `bench --variants`: the size and cold-start alternatives of issue 19
//! ((e) the ring crypto provider, (f) the release-profile switches), rebuilt
//! and measured next to the adopted build, so the README's table of them can
//! be regenerated instead of being a one-off record.
//!
//! Profile variants are the workspace as it is, built with
//! `CARGO_PROFILE_RELEASE_*` overrides in a target dir of their own (they
//! would otherwise evict the normal release build). The ring variant is a
//! copy of the workspace under the target dir with a few checked text edits
//! (every edit must match exactly once, so a workspace that moved on fails
//! loudly instead of measuring something else); it shares the adopted
//! build's target dir, where every unchanged dependency is reused.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use lambda_pack::manifest::{self, Manifest};

use super::model::{MIB, Measured, SizeRow};
use super::render::{mib, ms, thousands};
use super::stats::{Summary, summarize};
use crate::repro::{copy_files, source_files};

/// One text replacement in one file of the workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextEdit {
    /// Path relative to the workspace root.
    pub file: &'static str,
    pub find: &'static str,
    pub replace: &'static str,
}

/// (e): rustls's ring provider instead of aws-lc-rs, for the functions
/// whose graph allows it (sms and sms-worker: jsonwebtoken has no ring
/// backend, and auth and users draw random bytes from `aws_lc_rs::rand`).
pub const RING_EDITS: &[TextEdit] = &[
    TextEdit {
        file: "Cargo.toml",
        find: r#"rustls = { version = "0.23.46", default-features = false, features = ["aws_lc_rs", "#,
        replace: r#"rustls = { version = "0.23.46", default-features = false, features = ["ring", "#,
    },
    TextEdit {
        file: "Cargo.toml",
        find: r#"default-features = false, features = ["rustls", "json", "form"] }"#,
        replace: r#"default-features = false, features = ["rustls-no-provider", "json", "form"] }"#,
    },
    // rustls's ring provider has no ML-KEM: the post-quantum preference
    // requires aws-lc-rs.
    TextEdit {
        file: "crates/aws-env/Cargo.toml",
        find: r#"rustls = { workspace = true, features = ["prefer-post-quantum"] }"#,
        replace: "rustls = { workspace = true }",
    },
    // reqwest without a provider takes the process's default one.
    TextEdit {
        file: "crates/aws-env/src/https.rs",
        find: "        let http = reqwest::Client::builder()\n",
        replace: "        let _ = rustls::crypto::ring::default_provider().install_default();\n        let http = reqwest::Client::builder()\n",
    },
];

/// A build to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    /// Its name on the command line and in the table.
    pub key: &'static str,
    pub label: &'static str,
    /// `CARGO_PROFILE_RELEASE_*` overrides.
    pub profile: &'static [(&'static str, &'static str)],
    /// Whether it builds the copy with [`RING_EDITS`] applied.
    pub ring: bool,
}

const OPT_Z: (&str, &str) = ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "z");
const PANIC_ABORT: (&str, &str) = ("CARGO_PROFILE_RELEASE_PANIC", "abort");

/// Every variant, the adopted build first (the others are compared with it).
pub const VARIANTS: &[Variant] = &[
    Variant {
        key: "adopted",
        label: "(b) adopted: aws-lc-rs, `opt-level = \"s\"`, unwind",
        profile: &[],
        ring: false,
    },
    Variant {
        key: "ring",
        label: "(e) ring instead of aws-lc-rs",
        profile: &[],
        ring: true,
    },
    Variant {
        key: "opt-z",
        label: "(f) `opt-level = \"z\"`",
        profile: &[OPT_Z],
        ring: false,
    },
    Variant {
        key: "ring-opt-z",
        label: "(e) + (f): ring and `opt-level = \"z\"`",
        profile: &[OPT_Z],
        ring: true,
    },
    Variant {
        key: "panic-abort",
        label: "(f) `panic = \"abort\"`",
        profile: &[PANIC_ABORT],
        ring: false,
    },
];

/// The artifacts measured when `--only` names none: the two the size
/// target is about, and the only ones the ring variant can switch.
pub const DEFAULT_ARTIFACTS: &[&str] = &["sms", "sms-worker"];

/// `--variants all` or a comma-separated list of [`VARIANTS`] keys; the
/// adopted build is always measured (and measured first), since every change
/// is relative to it.
pub fn parse(list: &[String]) -> anyhow::Result<Vec<Variant>> {
    if let Some(unknown) = list
        .iter()
        .find(|k| *k != "all" && !VARIANTS.iter().any(|v| v.key == k.as_str()))
    {
        let known: Vec<&str> = VARIANTS.iter().map(|v| v.key).collect();
        bail!(
            "--variants {unknown}: no such variant (known: all, {})",
            known.join(", ")
        );
    }
    let all = list.is_empty() || list.iter().any(|k| k == "all");
    Ok(VARIANTS
        .iter()
        .filter(|v| all || v.key == "adopted" || list.iter().any(|k| k == v.key))
        .copied()
        .collect())
}

/// The target dir a variant builds in: one per profile, so the adopted
/// build's is the normal one (`dist` and `bench` warm it) and the ring
/// variant reuses the dependencies it did not change.
pub fn target_dir(variant: &Variant, normal: &Path) -> PathBuf {
    if variant.profile.is_empty() {
        return normal.to_path_buf();
    }
    let name: Vec<String> = variant
        .profile
        .iter()
        .map(|(key, value)| {
            let setting = key
                .trim_start_matches("CARGO_PROFILE_RELEASE_")
                .to_lowercase()
                .replace('_', "-");
            format!("{setting}-{value}")
        })
        .collect();
    normal
        .join("bench/variants")
        .join(format!("target-{}", name.join("-")))
}

/// `text` with `edit` applied; an error unless `edit.find` occurs exactly
/// once.
pub fn apply(text: &str, edit: &TextEdit) -> anyhow::Result<String> {
    match text.matches(edit.find).count() {
        1 => Ok(text.replacen(edit.find, edit.replace, 1)),
        0 => bail!(
            "{}: {:?} not found; the ring variant's edits (xtask bench/variants.rs) no longer \
             match the workspace: update them",
            edit.file,
            edit.find.trim()
        ),
        n => bail!(
            "{}: {:?} occurs {n} times; the ring variant's edits must each match once",
            edit.file,
            edit.find.trim()
        ),
    }
}

/// Applies `edits` to the files under `root`, each file read and written once.
pub fn apply_all(root: &Path, edits: &[TextEdit]) -> anyhow::Result<()> {
    let mut files: Vec<&str> = edits.iter().map(|e| e.file).collect();
    files.dedup();
    for file in files {
        let path = root.join(file);
        let mut text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        for edit in edits.iter().filter(|e| e.file == file) {
            text = apply(&text, edit)?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Fails unless `package`, built from `root` for `triple`, links ring and
/// no aws-lc: otherwise the ring variant would not measure one provider.
pub fn require_ring_only(
    cargo: &Path,
    root: &Path,
    triple: &str,
    package: &str,
) -> anyhow::Result<()> {
    let tree = crate::ci::linked_tree(cargo, root, triple, package)?;
    let names = crate::ci::crate_names(&tree);
    let aws_lc: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| n.starts_with("aws-lc-"))
        .collect();
    let ring = names.contains(&"ring");
    if ring && aws_lc.is_empty() {
        return Ok(());
    }
    let links = if aws_lc.is_empty() {
        "no aws-lc".to_owned()
    } else {
        aws_lc.join(", ")
    };
    bail!(
        "the ring variant of {package} does not switch providers (links {links}; ring {}): \
         it applies to functions whose graph allows ring only (sms, sms-worker)",
        if ring { "linked" } else { "not linked" }
    )
}

/// Prepares the ring copy of `root` at `copy` (replacing it): the files a
/// fresh clone would have, as `repro` copies them, edited, and the lock
/// file completed offline (ring becomes a dependency of rustls).
pub fn prepare_ring_copy(cargo: &Path, root: &Path, copy: &Path) -> anyhow::Result<()> {
    copy_source(root, copy)?;
    apply_all(copy, RING_EDITS)?;
    let mut metadata = Command::new(cargo);
    metadata
        .current_dir(copy)
        .args(["metadata", "--offline", "--format-version", "1"])
        .stdout(std::process::Stdio::null());
    crate::run::run(&mut metadata)
        .context("completing the ring copy's Cargo.lock offline (is ring in the local registry cache? run `cargo fetch` once online)")?;
    Ok(())
}

/// Copies the source files of the checkout at `from` ([`source_files`]) to
/// `to`, replacing it.
fn copy_source(from: &Path, to: &Path) -> anyhow::Result<()> {
    if to.exists() {
        std::fs::remove_dir_all(to).with_context(|| format!("removing {}", to.display()))?;
    }
    copy_files(from, to, &source_files(from)?)?;
    Ok(())
}

/// What one variant measured for one artifact.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub variant: Variant,
    pub size: SizeRow,
    pub measured: Option<Measured>,
}

/// One measurement from several rounds of the same artifact: the median of
/// the rounds' medians for each time, the highest peak RSS, every warm
/// error; `None` when nothing was measured.
pub fn combine_rounds(runs: &[Measured]) -> Option<Measured> {
    let first = runs.first()?;
    let medians = |pick: fn(&Measured) -> Option<f64>| -> Option<Summary> {
        summarize(&runs.iter().filter_map(pick).collect::<Vec<_>>())
    };
    Some(Measured {
        name: first.name.clone(),
        kind: first.kind,
        ready_ms: medians(|m| Some(m.ready_ms.median))?,
        first_response_ms: medians(|m| m.first_response_ms.map(|s| s.median)),
        warm_ms: medians(|m| m.warm_ms.map(|s| s.median)),
        warm_errors: runs.iter().map(|m| m.warm_errors).sum(),
        peak_rss_kib: runs.iter().filter_map(|m| m.peak_rss_kib).max(),
        qemu: first.qemu.clone(),
    })
}

/// Where a variant's dists go.
pub fn dist_dirs(target_dir: &Path, variant: &Variant) -> (PathBuf, PathBuf) {
    let base = target_dir.join("bench/variants").join(variant.key);
    (base.join("dist"), base.join("dist-host"))
}

/// Reads a dist's manifest, naming the build command when it is missing.
pub fn read_manifest(dir: &Path, variant: &Variant) -> anyhow::Result<Manifest> {
    let path = dir.join(manifest::FILE_NAME);
    if !path.is_file() {
        bail!(
            "{} is missing: run `cargo xtask bench --variants {}` without --no-build",
            path.display(),
            variant.key
        );
    }
    Ok(Manifest::read(&path)?)
}

fn change(value: u64, base: Option<u64>) -> String {
    match base {
        Some(base) if base > 0 && base != value => {
            let delta = value as i64 - base as i64;
            format!(
                "{} ({:+.1}%)",
                thousands(value),
                delta as f64 * 100.0 / base as f64
            )
        }
        _ => thousands(value),
    }
}

/// The variants table: per artifact, each variant's zip and unzipped bytes
/// (change against the adopted build), whether the zip fits the 2 MiB
/// target, and its native cold start, first response, warm p50 and peak RSS.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str(
        "| variant | artifact | zip | unzipped | zip ≤ 2 MiB | ready p50 | first response p50 | warm p50 | peak RSS |\n\
         | --- | --- | ---: | ---: | :---: | ---: | ---: | ---: | ---: |\n",
    );
    let mut artifacts: Vec<&str> = rows.iter().map(|r| r.size.name.as_str()).collect();
    artifacts.sort_unstable();
    artifacts.dedup();
    for artifact in artifacts {
        let base = rows
            .iter()
            .find(|r| r.size.name == artifact && r.variant.key == "adopted");
        for row in rows.iter().filter(|r| r.size.name == artifact) {
            let adopted = row.variant.key == "adopted";
            let (zip, unzipped) = if adopted {
                (
                    thousands(row.size.zip_bytes),
                    thousands(row.size.unzipped_bytes),
                )
            } else {
                (
                    change(row.size.zip_bytes, base.map(|b| b.size.zip_bytes)),
                    change(row.size.unzipped_bytes, base.map(|b| b.size.unzipped_bytes)),
                )
            };
            let time = |pick: fn(&Measured) -> Option<f64>| {
                row.measured
                    .as_ref()
                    .and_then(pick)
                    .map_or("–".to_owned(), ms)
            };
            let rss = row
                .measured
                .as_ref()
                .and_then(|m| m.peak_rss_kib)
                .map_or("–".to_owned(), |k| {
                    format!("{:.1} MiB", k as f64 / 1024.0)
                });
            let bold = |s: String| {
                if adopted && s != "–" {
                    format!("**{s}**")
                } else {
                    s
                }
            };
            let _ = writeln!(
                out,
                "| {} | {artifact} | {} | {} | {} | {} | {} | {} | {} |",
                bold(row.variant.label.to_owned()),
                bold(zip),
                bold(unzipped),
                if row.size.zip_bytes <= 2 * MIB {
                    "yes"
                } else {
                    "no"
                },
                bold(time(|m| Some(m.ready_ms.median))),
                bold(time(|m| m.first_response_ms.map(|s| s.median))),
                bold(time(|m| m.warm_ms.map(|s| s.median)))
                    + &row
                        .measured
                        .as_ref()
                        .filter(|m| m.warm_errors > 0)
                        .map(|m| format!(" ({} failed)", m.warm_errors))
                        .unwrap_or_default(),
                bold(rss),
            );
        }
    }
    out
}

/// Start and end markers of the variants table in the README.
pub const README_START: &str =
    "<!-- bench-variants:start: written by `cargo xtask bench --variants`, do not edit -->";
pub const README_END: &str = "<!-- bench-variants:end -->";

/// The README section: how it was measured, then the table.
pub fn readme_section(rows: &[Row], how: &str) -> String {
    format!("{how}\n\n{}", table(rows))
}

/// Sizes in MiB for the console summary.
pub fn summary_line(row: &Row) -> String {
    format!(
        "{} {}: {} zipped, {} unzipped{}",
        row.variant.key,
        row.size.name,
        mib(row.size.zip_bytes),
        mib(row.size.unzipped_bytes),
        row.measured
            .as_ref()
            .map(|m| format!(", ready p50 {}", ms(m.ready_ms.median)))
            .unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::model::QemuCheck;
    use crate::bench::model::tests as fixtures;
    use lambda_pack::spec::Kind;

    fn workspace_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn every_ring_edit_matches_the_workspace_exactly_once() {
        let root = workspace_root();
        for edit in RING_EDITS {
            let text = std::fs::read_to_string(root.join(edit.file)).unwrap();
            let edited = apply(&text, edit).unwrap();
            assert_ne!(edited, text, "{}", edit.file);
            assert!(edited.contains(edit.replace), "{}", edit.file);
        }
    }

    #[test]
    fn an_edit_that_matches_nothing_or_twice_is_refused_with_the_file_named() {
        let edit = TextEdit {
            file: "Cargo.toml",
            find: "aws_lc_rs",
            replace: "ring",
        };
        assert_eq!(apply("a aws_lc_rs b", &edit).unwrap(), "a ring b");
        let missing = apply("nothing here", &edit).unwrap_err().to_string();
        assert!(
            missing.contains("Cargo.toml") && missing.contains("not found"),
            "{missing}"
        );
        let twice = apply("aws_lc_rs aws_lc_rs", &edit).unwrap_err().to_string();
        assert!(twice.contains("occurs 2 times"), "{twice}");
    }

    #[test]
    fn the_ring_edits_apply_to_a_copy_and_leave_the_original_alone() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("ws");
        let write = |path: &str, text: &str| {
            let file = from.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        };
        let root = workspace_root();
        for edit in RING_EDITS {
            write(
                edit.file,
                &std::fs::read_to_string(root.join(edit.file)).unwrap(),
            );
        }
        // The ignore rules of the project's .gitignore decide what a copy
        // leaves out (that file itself is not in the flake's test source).
        write(
            ".gitignore",
            "/target\n/dist\n/result\n/result-*\n.terraform/\n",
        );
        write("target/release/bootstrap", "binary");
        write("dist/sms.zip", "zip");
        write("terraform/.terraform/providers/aws", "provider binary");
        write("crates/sms/src/main.rs", "fn main() {}");
        std::os::unix::fs::symlink("/nix/store/x", from.join("result")).unwrap();
        let init = Command::new("git")
            .current_dir(&from)
            .args(["init", "-q"])
            .status()
            .unwrap();
        assert!(init.success());
        let copy = dir.path().join("copy");
        std::fs::create_dir_all(copy.join("stale")).unwrap();
        copy_source(&from, &copy).unwrap();
        apply_all(&copy, RING_EDITS).unwrap();

        assert!(copy.join("crates/sms/src/main.rs").is_file());
        for gone in [
            "target",
            "dist",
            ".git",
            "result",
            "terraform/.terraform",
            "stale",
        ] {
            assert!(!copy.join(gone).exists(), "{gone} is in the copy");
        }
        let cargo = std::fs::read_to_string(copy.join("Cargo.toml")).unwrap();
        assert!(cargo.contains(r#"features = ["ring", "std", "tls12"]"#));
        assert!(cargo.contains(r#"["rustls-no-provider", "json", "form"]"#));
        let https = std::fs::read_to_string(copy.join("crates/aws-env/src/https.rs")).unwrap();
        assert!(https.contains("rustls::crypto::ring::default_provider().install_default()"));
        let original = std::fs::read_to_string(from.join("Cargo.toml")).unwrap();
        assert!(original.contains(r#"features = ["aws_lc_rs", "std", "tls12"]"#));
        // Applying twice fails: the copy is made fresh each time.
        assert!(apply_all(&copy, RING_EDITS).is_err());
    }

    #[test]
    fn variants_are_chosen_by_key_and_always_include_the_adopted_build() {
        let keys = |list: &[&str]| -> Vec<&str> {
            parse(&list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .unwrap()
                .iter()
                .map(|v| v.key)
                .collect()
        };
        assert_eq!(
            keys(&["all"]),
            ["adopted", "ring", "opt-z", "ring-opt-z", "panic-abort"]
        );
        assert_eq!(keys(&[]), keys(&["all"]));
        assert_eq!(
            keys(&["panic-abort", "ring"]),
            ["adopted", "ring", "panic-abort"]
        );
        let err = parse(&["lto-thin".to_owned()]).unwrap_err().to_string();
        assert!(
            err.contains("no such variant") && err.contains("ring-opt-z"),
            "{err}"
        );
    }

    #[test]
    fn each_profile_builds_in_its_own_target_dir_and_ring_shares_the_adopted_one() {
        let normal = Path::new("/ws/target");
        let dir = |key: &str| target_dir(VARIANTS.iter().find(|v| v.key == key).unwrap(), normal);
        assert_eq!(dir("adopted"), normal);
        assert_eq!(dir("ring"), normal);
        assert_eq!(
            dir("opt-z"),
            Path::new("/ws/target/bench/variants/target-opt-level-z")
        );
        assert_eq!(dir("ring-opt-z"), dir("opt-z"));
        assert_eq!(
            dir("panic-abort"),
            Path::new("/ws/target/bench/variants/target-panic-abort")
        );
    }

    fn row(key: &str, name: &str, zip: u64, ready: Option<f64>) -> Row {
        Row {
            variant: *VARIANTS.iter().find(|v| v.key == key).unwrap(),
            size: SizeRow {
                name: name.into(),
                kind: Kind::Function,
                zip_bytes: zip,
                unzipped_bytes: zip * 2,
                budget_zip: 0,
                budget_unzipped: 0,
            },
            measured: ready.map(|r| Measured {
                name: name.into(),
                kind: Kind::Function,
                ready_ms: fixtures::summary(r),
                first_response_ms: Some(fixtures::summary(r + 1.0)),
                warm_ms: Some(fixtures::summary(0.5)),
                warm_errors: 0,
                peak_rss_kib: Some(6656),
                qemu: QemuCheck::NotRun("test".into()),
            }),
        }
    }

    #[test]
    fn rounds_combine_into_the_median_of_their_medians_and_the_highest_peak() {
        let run = |ready: f64, rss: u64, errors: usize| {
            let mut m = row("ring", "sms", 1, Some(ready)).measured.unwrap();
            m.peak_rss_kib = Some(rss);
            m.warm_errors = errors;
            m
        };
        let combined =
            combine_rounds(&[run(9.0, 6000, 0), run(7.0, 6500, 1), run(8.0, 6200, 0)]).unwrap();
        assert_eq!(combined.ready_ms.median, 8.0);
        assert_eq!(combined.ready_ms.n, 3);
        assert_eq!(combined.first_response_ms.unwrap().median, 9.0);
        assert_eq!(combined.peak_rss_kib, Some(6500));
        assert_eq!(combined.warm_errors, 1);
        assert_eq!(combine_rounds(&[]), None);
    }

    #[test]
    fn the_table_compares_every_variant_with_the_adopted_build_per_artifact() {
        let rows = vec![
            row("adopted", "sms", 2_188_252, Some(7.31)),
            row("ring", "sms", 2_031_864, Some(6.5)),
            row("adopted", "sms-worker", 2_300_569, None),
        ];
        let text = table(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[2].contains("| sms | **2,188,252** | **4,376,504** | no | **7.31 ms** | **8.31 ms** | **0.50 ms** | **6.5 MiB** |"), "{}", lines[2]);
        assert!(
            lines[3].contains("| sms | 2,031,864 (-7.1%) | 4,063,728 (-7.1%) | yes | 6.50 ms |"),
            "{}",
            lines[3]
        );
        let mut failing = rows[1].clone();
        failing.measured.as_mut().unwrap().warm_errors = 2;
        assert!(table(&[failing]).contains("| 0.50 ms (2 failed) |"));
        assert!(
            lines[4].contains("| sms-worker |") && lines[4].ends_with("| – | – | – | – |"),
            "{}",
            lines[4]
        );
    }
}
