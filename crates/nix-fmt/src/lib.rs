//! nixfmt (the nixfmt_rs port, pinned in the workspace) over Nix files: the
//! one formatter behind `nix fmt`, the flake's `nix-fmt` check and CI's
//! `nix/tests/run.sh`, so that the three can never disagree.

use std::path::{Path, PathBuf};

/// The nixfmt_rs release doing the formatting.
pub const NIXFMT_VERSION: &str = nixfmt_rs::VERSION;

/// Directories never searched for Nix files: build outputs and VCS data.
const SKIPPED_DIRS: &[&str] = &["target", ".git", "result", "dist"];

/// `source` formatted as nixfmt formats it (width 100, indent 2).
pub fn format(source: &str) -> Result<String, String> {
    nixfmt_rs::format(source).map_err(|error| nixfmt_rs::format_error(source, None, &error))
}

/// Every `*.nix` file at or under each of `paths` (a file is taken as is),
/// sorted, skipping build outputs (`target`, `result*`, `dist`) and `.git`.
pub fn nix_files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut found)?;
        } else {
            found.push(path.clone());
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if entry.file_type()?.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_ref()) && !name.starts_with("result-") {
                walk(&path, found)?;
            }
        } else if name.ends_with(".nix") {
            found.push(path);
        }
    }
    Ok(())
}

/// What checking or formatting one file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Already formatted.
    Formatted,
    /// Differs from its formatted form (rewritten unless checking).
    Changed,
    /// Not valid Nix; the message says where.
    Invalid(String),
}

/// Checks `path` and, unless `check`, rewrites it formatted.
pub fn process(path: &Path, check: bool) -> std::io::Result<Outcome> {
    let source = std::fs::read_to_string(path)?;
    let formatted = match format(&source) {
        Ok(text) => text,
        Err(message) => return Ok(Outcome::Invalid(message)),
    };
    if formatted == source {
        return Ok(Outcome::Formatted);
    }
    if !check {
        std::fs::write(path, formatted)?;
    }
    Ok(Outcome::Changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_nixfmt_does() {
        assert_eq!(format("{foo=1;}").unwrap(), "{ foo = 1; }\n");
        assert!(format("{ foo = ; }").is_err());
    }

    #[test]
    fn finds_nix_files_but_not_in_build_outputs() {
        let dir = tempfile::tempdir().unwrap();
        for file in [
            "flake.nix",
            "nix/a.nix",
            "target/x.nix",
            "result-sms/y.nix",
            "nix/readme.md",
        ] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "{ }\n").unwrap();
        }
        let found = nix_files(&[dir.path().to_owned()]).unwrap();
        let relative: Vec<_> = found
            .iter()
            .map(|p| p.strip_prefix(dir.path()).unwrap().to_owned())
            .collect();
        assert_eq!(
            relative,
            [PathBuf::from("flake.nix"), PathBuf::from("nix/a.nix")]
        );
    }

    #[test]
    fn check_reports_without_writing_and_format_rewrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.nix");
        std::fs::write(&path, "{foo=1;}").unwrap();
        assert_eq!(process(&path, true).unwrap(), Outcome::Changed);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{foo=1;}");
        assert_eq!(process(&path, false).unwrap(), Outcome::Changed);
        assert_eq!(process(&path, true).unwrap(), Outcome::Formatted);
        std::fs::write(&path, "{ a = ; }").unwrap();
        assert!(matches!(process(&path, true).unwrap(), Outcome::Invalid(_)));
    }
}
