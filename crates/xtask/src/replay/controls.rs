//! Negative controls: the flake mutated back to each defect issue 14 found
//! must fail the replay phase that guards against it, with the message that
//! names it. A control whose text no longer matches the flake fails too, so
//! that a refactor cannot silently disarm it.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};

use super::{Dirs, Phase};
use crate::workspace::Workspace;

/// One mutation of the flake and what must catch it.
#[derive(Debug, Clone, Copy)]
pub struct Control {
    /// The defect of issue 14 it brings back.
    pub defect: &'static str,
    pub file: &'static str,
    pub find: &'static str,
    pub replace: &'static str,
    pub phase: Phase,
    /// For the test phase: nextest arguments narrowing the run.
    pub filter: &'static str,
    /// For the boot phase: the one artifact to boot.
    pub boot: &'static str,
    /// A piece of the error the replay must give.
    pub expect: &'static str,
}

const fn control(
    defect: &'static str,
    file: &'static str,
    find: &'static str,
    replace: &'static str,
    phase: Phase,
    expect: &'static str,
) -> Control {
    Control {
        defect,
        file,
        find,
        replace,
        phase,
        filter: "",
        boot: "",
        expect,
    }
}

pub const CONTROLS: &[Control] = &[
    control(
        "1: a per-crate source tree with --locked",
        "nix/crane.nix",
        "      inherit src;\n      pname = package;",
        "      src = lib.fileset.toSource {\n        inherit root;\n        fileset = lib.fileset.unions (\n          [\n            (root + \"/Cargo.toml\")\n            (root + \"/Cargo.lock\")\n          ]\n          ++ map (d: root + \"/${d}\") (set.closureOf \"crates/${package}\")\n        );\n      };\n      pname = package;",
        Phase::Eval,
        "lock resolution",
    ),
    Control {
        filter: "-E 'test(source_files_lists_untracked_files_but_not_ignored_ones)'",
        ..control(
            "2: no git in workspace-nextest",
            "nix/checks.nix",
            "          moto\n          pkgs.git\n",
            "          moto\n",
            Phase::Test,
            "the replay of lambda-forge-nextest",
        )
    },
    Control {
        filter: "-E 'package(cognito-jwt) & binary(jwks_cache)'",
        ..control(
            "3: no certificates in workspace-nextest",
            "nix/checks.nix",
            "        SSL_CERT_FILE = certificates;\n",
            "",
            Phase::Test,
            "the replay of lambda-forge-nextest",
        )
    },
    Control {
        boot: "auth",
        ..control(
            "4: no certificates in the boot checks",
            "nix/checks.nix",
            "{ SSL_CERT_FILE = certificates; }",
            "{ }",
            Phase::Boot,
            "auth-boot",
        )
    },
    control(
        "5: AWS_LC_SYS_NO_JITTER_ENTROPY missing from the artifact builds",
        "nix/crane.nix",
        "      AWS_LC_SYS_NO_JITTER_ENTROPY = \"1\";\n",
        "",
        Phase::Eval,
        "AWS_LC_SYS_NO_JITTER_ENTROPY",
    ),
    control(
        "6: no [workspace.metadata.crane] name",
        "Cargo.toml",
        "[workspace.metadata.crane]\nname = \"lambda-forge\"\n",
        "",
        Phase::Eval,
        "placeholder",
    ),
    control(
        "7: crane's default release profile for the native checks",
        "nix/crane.nix",
        "    CARGO_PROFILE = \"dev\";\n",
        "",
        Phase::Eval,
        "CARGO_PROFILE=release",
    ),
    control(
        "8: a version warning in the dev shell",
        "nix/shell.nix",
        "    pkgs.cargo-lambda\n",
        "    (lib.warnIf (lib.versionOlder pkgs.cargo-lambda.version \"1.9.2\") \"cargo-lambda ${pkgs.cargo-lambda.version} is older than 1.9.2\" pkgs.cargo-lambda)\n",
        Phase::Eval,
        "cargo-lambda 1.9.1 is older",
    ),
    control(
        "9: the reproducibility probe builds in the same directory",
        "nix/crane.nix",
        "        postUnpack = ''\n          mkdir -p elsewhere/probe\n          mv \"$sourceRoot\" elsewhere/probe/source\n          sourceRoot=elsewhere/probe/source\n        '';\n",
        "",
        Phase::Eval,
        "same directory",
    ),
    control(
        "10: the whole qemu system emulator for the boot checks",
        "nix/default.nix",
        "then pkgs.qemu-user else null",
        "then pkgs.qemu else null",
        Phase::Eval,
        "qemu, the whole system emulator",
    ),
    control(
        "10/one recipe: a plain cargo build (a cross C compiler) instead of cargo zigbuild",
        "nix/crane.nix",
        "      cargoBuildCommand = \"cargoWithProfile zigbuild\";\n",
        "",
        Phase::Eval,
        "runs `cargo build --release",
    ),
    control(
        "11: nixpkgs' nixfmt in the nix-fmt check, nixfmt_rs in CI",
        "nix/checks.nix",
        "nativeBuildInputs = [ tools.nix-fmt ];",
        "nativeBuildInputs = [ pkgs.nixfmt ];",
        Phase::Eval,
        "checks.nix-fmt",
    ),
    control(
        "12: another zig than the one `cargo xtask setup` pins",
        "Cargo.toml",
        "[workspace.metadata.build-tools.ziglang]\nversion = \"0.15.2\"",
        "[workspace.metadata.build-tools.ziglang]\nversion = \"0.17.1\"",
        Phase::Eval,
        "zig 0.15.2",
    ),
    control(
        "issue 18/nix run .#local: a function missing from the app's host builds",
        "nix/local.nix",
        "(a: \"-p ${a.package}\") functions",
        "(a: \"-p ${a.package}\") (builtins.tail functions)",
        Phase::Eval,
        "no native crane build of",
    ),
    control(
        "issue 18/nix run .#local: an app without meta.description",
        "nix/local.nix",
        "    meta = { inherit description; };\n",
        "",
        Phase::Eval,
        "lacks attribute 'meta.description'",
    ),
];

/// Applies `control` to the flake copy `dir`.
pub fn mutate(dir: &Path, control: &Control) -> anyhow::Result<()> {
    let path = dir.join(control.file);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let count = text.matches(control.find).count();
    if count != 1 {
        bail!(
            "control for defect {}: expected the text once in {}, found it {count} times (update the control with the flake)",
            control.defect,
            control.file
        );
    }
    std::fs::write(&path, text.replacen(control.find, control.replace, 1))?;
    Ok(())
}

/// Runs every control; fails if one is not caught.
pub fn run(ws: &Workspace, checkout: &Path, dist: &Path) -> anyhow::Result<()> {
    let dirs = Dirs::new(ws)?;
    let host = super::Host::discover()?;
    let mut failures = Vec::new();
    for (index, control) in CONTROLS.iter().enumerate() {
        let started = Instant::now();
        let dir = dirs.flake(&format!("control-{index}"));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        copy_tree(checkout, &dir)?;
        mutate(&dir, control)?;
        let outcome = (|| -> anyhow::Result<()> {
            let plan = super::evaluate(ws, &dir)?;
            match control.phase {
                Phase::Eval => super::lock_resolution(ws, &dirs, &plan, &host),
                Phase::Test => super::test(ws, &dirs, &plan, &host, control.filter),
                Phase::Boot => {
                    super::boot(ws, &dirs, &plan, &host, dist, &[control.boot.to_owned()])
                }
                Phase::Artifact | Phase::Local | Phase::Controls => Ok(()),
            }
        })();
        let took = started.elapsed().as_secs_f64();
        match outcome {
            Err(error) => {
                let text = format!("{error:#}");
                if text.contains(control.expect) {
                    println!(
                        "nix-replay: control {:<60} caught ({took:.1} s)",
                        control.defect
                    );
                } else {
                    println!(
                        "nix-replay: control {} failed for another reason:\n{text}",
                        control.defect
                    );
                    failures.push(control.defect);
                }
            }
            Ok(()) => {
                println!(
                    "nix-replay: control {} NOT caught ({took:.1} s)",
                    control.defect
                );
                failures.push(control.defect);
            }
        }
    }
    if !failures.is_empty() {
        bail!(
            "{} negative control(s) not caught: {}",
            failures.len(),
            failures.join("; ")
        );
    }
    println!(
        "nix-replay: all {} negative controls caught",
        CONTROLS.len()
    );
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_numbered_defect_has_a_control() {
        for defect in 1..=12 {
            assert!(
                CONTROLS
                    .iter()
                    .any(|c| c.defect.starts_with(&format!("{defect}:"))
                        || c.defect.starts_with(&format!("{defect}/"))),
                "defect {defect}"
            );
        }
    }
}
