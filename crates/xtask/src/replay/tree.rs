//! Source trees and vendored dependencies as the flake's derivations see
//! them: a store path written by the evaluation, copied to a stable place
//! (so that cargo reuses what did not change), and crane's vendored registry
//! rebuilt from the same .crate files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use sha2::{Digest as _, Sha256};

use crate::run::run;
use crate::workspace::Workspace;

/// Makes `dest` hold exactly the files of `src` (a store path). Files whose
/// bytes did not change keep their modification time, so that cargo's
/// freshness checks see what really changed; build outputs (`target`,
/// `.cargo-home`) are left alone.
pub fn sync(src: &Path, dest: &Path) -> anyhow::Result<usize> {
    let mut wanted = BTreeSet::new();
    copy_dir(src, dest, Path::new(""), &mut wanted)?;
    remove_others(dest, Path::new(""), &wanted)?;
    Ok(wanted.len())
}

fn copy_dir(
    src: &Path,
    dest: &Path,
    rel: &Path,
    wanted: &mut BTreeSet<PathBuf>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dest.join(rel))?;
    for entry in std::fs::read_dir(src.join(rel))
        .with_context(|| format!("reading {}", src.join(rel).display()))?
    {
        let entry = entry?;
        let rel = rel.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_dir(src, dest, &rel, wanted)?;
            continue;
        }
        let from = src.join(&rel);
        let to = dest.join(&rel);
        let bytes = std::fs::read(&from).with_context(|| format!("reading {}", from.display()))?;
        if std::fs::read(&to).ok().as_deref() != Some(bytes.as_slice()) {
            if to.exists() {
                std::fs::remove_file(&to)?;
            }
            std::fs::write(&to, &bytes)?;
            let mode =
                std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&from)?.permissions());
            std::fs::set_permissions(
                &to,
                std::os::unix::fs::PermissionsExt::from_mode(mode | 0o200),
            )?;
        }
        wanted.insert(rel);
    }
    Ok(())
}

fn remove_others(dest: &Path, rel: &Path, wanted: &BTreeSet<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dest.join(rel))? {
        let entry = entry?;
        let name = entry.file_name();
        if rel.as_os_str().is_empty() && (name == "target" || name == ".cargo-home") {
            continue;
        }
        let rel = rel.join(&name);
        if entry.file_type()?.is_dir() {
            remove_others(dest, &rel, wanted)?;
            if std::fs::read_dir(dest.join(&rel))?.next().is_none() {
                std::fs::remove_dir(dest.join(&rel))?;
            }
        } else if !wanted.contains(&rel) {
            std::fs::remove_file(dest.join(&rel))?;
        }
    }
    Ok(())
}

/// The directory crane names a registry's vendored crates by: the sha256 of
/// its Cargo.lock `source` string.
pub fn registry_dir_name(source: &str) -> String {
    Sha256::digest(source.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// crane's vendored dependencies for `lock` (vendorCargoRegistries): per
/// registry a directory of `<name>-<version>` crates unpacked from their
/// .crate files, with `.cargo-checksum.json`, and a config.toml replacing
/// crates-io with it. Kept at one path under `cache` and updated crate by
/// crate when Cargo.lock changes, so that cargo's builds of unchanged crates
/// (whose paths are part of their fingerprints) stay fresh.
pub fn vendor(ws: &Workspace, lock: &Path, cache: &Path) -> anyhow::Result<PathBuf> {
    let text =
        std::fs::read_to_string(lock).with_context(|| format!("reading {}", lock.display()))?;
    let dir = cache.join("crates");
    let stamp = dir.join(".lock-sha256");
    let wanted_stamp = registry_dir_name(&text);
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted_stamp.as_str()) {
        return Ok(dir);
    }
    // What Nix's fixed-output downloads do: fetch every locked crate.
    run(Command::new(&ws.cargo)
        .current_dir(&ws.root)
        .args(["fetch", "--locked", "--quiet"]))?;
    let parsed: toml::Table = text.parse().context("parsing Cargo.lock")?;
    let packages = parsed
        .get("package")
        .and_then(|p| p.as_array())
        .context("Cargo.lock has no packages")?;
    let caches = registry_caches(&ws.cargo_home)?;
    let mut sources = BTreeSet::new();
    let mut kept: BTreeSet<PathBuf> = BTreeSet::new();
    for package in packages {
        let (Some(name), Some(version), Some(source), Some(checksum)) = (
            package.get("name").and_then(|v| v.as_str()),
            package.get("version").and_then(|v| v.as_str()),
            package.get("source").and_then(|v| v.as_str()),
            package.get("checksum").and_then(|v| v.as_str()),
        ) else {
            continue;
        };
        if !source.starts_with("registry+") && !source.starts_with("sparse+") {
            continue;
        }
        let registry = dir.join(registry_dir_name(source));
        std::fs::create_dir_all(&registry)?;
        sources.insert(source.to_owned());
        let crate_dir = registry.join(format!("{name}-{version}"));
        kept.insert(crate_dir.clone());
        let checksum_file = crate_dir.join(".cargo-checksum.json");
        let checksum_json = format!("{{\"files\":{{}},\"package\":\"{checksum}\"}}");
        if std::fs::read_to_string(&checksum_file).ok().as_deref() == Some(checksum_json.as_str()) {
            continue;
        }
        if crate_dir.exists() {
            std::fs::remove_dir_all(&crate_dir)?;
        }
        let file = format!("{name}-{version}.crate");
        let crate_file = caches
            .iter()
            .map(|c| c.join(&file))
            .find(|p| p.is_file())
            .with_context(|| {
                format!(
                    "{file} is not in {}/registry/cache",
                    ws.cargo_home.display()
                )
            })?;
        let status = Command::new("tar")
            .arg("-xzf")
            .arg(&crate_file)
            .arg("-C")
            .arg(&registry)
            .status()
            .context("cannot start tar")?;
        if !status.success() {
            bail!("unpacking {} failed ({status})", crate_file.display());
        }
        std::fs::write(&checksum_file, checksum_json)?;
    }
    // Crates no longer locked leave, as they would from crane's vendor dir.
    for source in &sources {
        for entry in std::fs::read_dir(dir.join(registry_dir_name(source)))? {
            let path = entry?.path();
            if !kept.contains(&path) {
                std::fs::remove_dir_all(&path)?;
            }
        }
    }
    let mut config = String::new();
    for source in &sources {
        let hashed = registry_dir_name(source);
        config.push_str(&format!(
            "[source.nix-sources-{hashed}]\ndirectory = \"{}\"\n",
            dir.join(&hashed).display()
        ));
    }
    for source in &sources {
        let url = source.trim_start_matches("registry+");
        if url == "https://github.com/rust-lang/crates.io-index" {
            config.push_str(&format!(
                "[source.crates-io]\nregistry = \"{url}\"\nreplace-with = \"nix-sources-{}\"\n",
                registry_dir_name(source)
            ));
        } else {
            bail!("Cargo.lock uses registry {source}: the replay only knows crates.io");
        }
    }
    std::fs::write(dir.join("config.toml"), config)?;
    std::fs::write(&stamp, wanted_stamp)?;
    Ok(dir)
}

fn registry_caches(cargo_home: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let cache = cargo_home.join("registry/cache");
    let mut dirs = Vec::new();
    for entry in
        std::fs::read_dir(&cache).with_context(|| format!("reading {}", cache.display()))?
    {
        let path = entry?.path();
        if path.is_dir() {
            dirs.push(path);
        }
    }
    Ok(dirs)
}

/// The registry source directory cargo unpacks crates.io crates into under
/// CARGO_HOME (`index.crates.io-<hash>`): the path `cargo xtask dist` remaps
/// to `/cargo/registry/src/...`.
pub fn registry_src_names(cargo_home: &Path) -> Vec<String> {
    std::fs::read_dir(cargo_home.join("registry/src"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crates_io_is_vendored_under_crane_s_directory_name() {
        assert_eq!(
            registry_dir_name("registry+https://github.com/rust-lang/crates.io-index"),
            "c19b7c6f923b580ac259164a89f2577984ad5ab09ee9d583b888f934adbbe8d0"
        );
    }

    #[test]
    fn sync_keeps_unchanged_files_and_drops_removed_ones() {
        let src = tempfile::tempdir().unwrap();
        let dest = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join("crates/a")).unwrap();
        std::fs::write(src.path().join("Cargo.toml"), "[workspace]\n").unwrap();
        std::fs::write(src.path().join("crates/a/lib.rs"), "//! a\n").unwrap();
        assert_eq!(sync(src.path(), dest.path()).unwrap(), 2);
        let before = std::fs::metadata(dest.path().join("Cargo.toml"))
            .unwrap()
            .modified()
            .unwrap();
        std::fs::create_dir_all(dest.path().join("target")).unwrap();
        std::fs::write(dest.path().join("stale.rs"), "").unwrap();
        std::fs::remove_file(src.path().join("crates/a/lib.rs")).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        sync(src.path(), dest.path()).unwrap();
        let after = std::fs::metadata(dest.path().join("Cargo.toml"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(before, after, "unchanged files keep their time");
        assert!(!dest.path().join("stale.rs").exists());
        assert!(!dest.path().join("crates").exists());
        assert!(dest.path().join("target").is_dir(), "build outputs stay");
    }
}
