//! Where things are: the workspace root, the cargo target dir, CARGO_HOME.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use lambda_pack::elf::Machine;
use lambda_pack::spec::ArtifactSet;

use crate::cli::BuildTarget;

#[derive(Debug, Clone)]
pub struct Workspace {
    /// The directory holding the workspace's Cargo.toml.
    pub root: PathBuf,
    /// Cargo's target directory, shared by every build xtask starts (also the
    /// second build of `repro`, so dependencies are compiled once).
    pub target_dir: PathBuf,
    /// CARGO_HOME (registry sources live under it).
    pub cargo_home: PathBuf,
    /// The cargo executable that started us (`$CARGO`), else `cargo`.
    pub cargo: PathBuf,
}

impl Workspace {
    pub fn discover() -> anyhow::Result<Self> {
        let cwd = std::env::current_dir().context("reading the current directory")?;
        let root = find_root(&cwd)
            .or_else(|| {
                // Started from outside the checkout (e.g. by path): fall back to
                // where xtask itself was compiled from.
                let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
                find_root(manifest_dir)
            })
            .context("no Cargo.toml with [workspace] in this directory or above")?;
        let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) if !dir.is_empty() => cwd.join(dir),
            _ => root.join("target"),
        };
        let cargo_home = match std::env::var_os("CARGO_HOME") {
            Some(dir) if !dir.is_empty() => cwd.join(dir),
            _ => {
                let home =
                    std::env::var_os("HOME").context("neither CARGO_HOME nor HOME is set")?;
                PathBuf::from(home).join(".cargo")
            }
        };
        let cargo = std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from);
        Ok(Self {
            root,
            target_dir,
            cargo_home,
            cargo,
        })
    }

    /// A workspace rooted at `dir`, its target and cargo home inside it (tests).
    #[cfg(test)]
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            root: dir.to_owned(),
            target_dir: dir.join("target"),
            cargo_home: dir.join("cargo"),
            cargo: "cargo".into(),
        }
    }

    /// `path` if absolute, else relative to the workspace root.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.root.join(path)
    }

    pub fn artifacts(&self) -> anyhow::Result<ArtifactSet> {
        load_artifacts(&self.root)
    }

    /// The declared target (`[workspace.metadata.lambda] target`).
    pub fn default_target(&self) -> anyhow::Result<BuildTarget> {
        Ok(BuildTarget::Triple(self.artifacts()?.settings.target))
    }

    /// The machine the declared target runs on.
    pub fn default_machine(&self) -> anyhow::Result<Machine> {
        machine_of(&self.default_target()?)
    }
}

pub fn load_artifacts(root: &Path) -> anyhow::Result<ArtifactSet> {
    ArtifactSet::load(root)
        .with_context(|| format!("reading the artifact set of {}", root.display()))
}

/// The machine binaries built for `target` run on.
pub fn machine_of(target: &BuildTarget) -> anyhow::Result<Machine> {
    let arch = match target {
        BuildTarget::Host => std::env::consts::ARCH,
        BuildTarget::Triple(triple) => triple.split('-').next().unwrap_or_default(),
    };
    match Machine::from_name(arch) {
        Some(machine) => Ok(machine),
        None => bail!("no Lambda machine for architecture {arch:?}"),
    }
}

/// The machine xtask runs on, if Lambda has one like it.
pub fn host_machine() -> Option<Machine> {
    Machine::from_name(std::env::consts::ARCH)
}

fn find_root(start: &Path) -> Option<PathBuf> {
    start.ancestors().find_map(|dir| {
        let manifest = dir.join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).ok()?;
        text.lines()
            .any(|line| line.trim() == "[workspace]")
            .then(|| dir.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_the_nearest_directory_with_a_workspace_table() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[workspace]\nmembers = [\"crates/*\"]\n",
        )
        .unwrap();
        let member = dir.path().join("crates/a");
        std::fs::create_dir_all(&member).unwrap();
        std::fs::write(member.join("Cargo.toml"), "[package]\nname = \"a\"\n").unwrap();
        assert_eq!(find_root(&member), Some(dir.path().to_owned()));
    }

    #[test]
    fn triples_map_to_their_lambda_machine() {
        let aarch64 = BuildTarget::Triple("aarch64-unknown-linux-musl".into());
        assert_eq!(machine_of(&aarch64).unwrap(), Machine::Aarch64);
        let x86 = BuildTarget::Triple("x86_64-unknown-linux-musl".into());
        assert_eq!(machine_of(&x86).unwrap(), Machine::X86_64);
        assert!(machine_of(&BuildTarget::Triple("riscv64gc-unknown-linux-gnu".into())).is_err());
    }
}
