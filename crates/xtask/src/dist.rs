//! `dist`: one cargo build per artifact, packaging with lambda-pack,
//! manifest.json, the checks and the size report; and `check` on its own.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use lambda_pack::archive::{self, DosTime};
use lambda_pack::check;
use lambda_pack::elf::Machine;
use lambda_pack::manifest::{self, Manifest};
use lambda_pack::report;
use lambda_pack::spec::{ArtifactSet, Kind};

use crate::cli::BuildTarget;
use crate::run::run;
use crate::workspace::{Workspace, load_artifacts, machine_of};

/// nixpkgs' stdenv value (1980-01-01): zips and anything a build script
/// stamps get the same time here and in the flake.
pub const DEFAULT_SOURCE_DATE_EPOCH: &str = "315532800";

/// The cargo invocations that build the artifacts: one per package, so each
/// binary gets exactly its own dependency features (as in the flake, which
/// builds `-p <crate>`). One build of all packages would unify features, and
/// cors would grow from 0.66 to 0.82 MiB zipped with the SDK functions' needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildPlan {
    /// cargo arguments, one invocation per package, in order.
    pub invocations: Vec<Vec<String>>,
    /// Variables set for cargo.
    pub env: Vec<(String, String)>,
    /// Variables removed for cargo (they would replace our rustflags).
    pub env_remove: Vec<String>,
    /// Artifact name to the binary cargo leaves in the target dir.
    pub binaries: Vec<(String, PathBuf)>,
}

/// Inputs of [`build_plan`] that come from the environment.
#[derive(Debug, Clone)]
pub struct BuildEnv {
    pub target_dir: PathBuf,
    pub cargo_home: PathBuf,
    pub source_date_epoch: String,
}

impl BuildEnv {
    pub fn from_workspace(ws: &Workspace) -> Self {
        Self {
            target_dir: ws.target_dir.clone(),
            cargo_home: ws.cargo_home.clone(),
            source_date_epoch: std::env::var("SOURCE_DATE_EPOCH")
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| DEFAULT_SOURCE_DATE_EPOCH.to_owned()),
        }
    }
}

/// rustc flags for a release build that does not depend on where the checkout,
/// CARGO_HOME or the target dir are.
///
/// Workspace members are compiled with paths relative to the workspace root,
/// so the root needs no remapping; registry sources (under CARGO_HOME) and
/// generated code (under the target dir) are absolute and are remapped. The
/// flags contain no checkout path, so the second build of `repro` (another
/// checkout, same target dir) has the same flags and reuses every compiled
/// dependency. `--config`/RUSTFLAGS-style flags replace the
/// `[target.<triple>] rustflags` of .cargo/config.toml, so the musl
/// `+crt-static` is repeated here.
pub fn rustflags(target: &BuildTarget, env: &BuildEnv) -> Vec<String> {
    let mut flags = Vec::new();
    if let BuildTarget::Triple(triple) = target
        && triple.ends_with("-musl")
    {
        flags.extend(["-C".to_owned(), "target-feature=+crt-static".to_owned()]);
    }
    flags.push(format!(
        "--remap-path-prefix={}=/cargo",
        env.cargo_home.display()
    ));
    flags.push(format!(
        "--remap-path-prefix={}=/target",
        env.target_dir.display()
    ));
    flags
}

/// C/C++ flags for the cross build: `__FILE__` and debug paths of C sources
/// (aws-lc-sys) map to the same neutral prefixes as rustc's, so that the
/// bytes do not depend on where CARGO_HOME or the target dir are. The flake
/// maps its vendored sources to the same `/cargo/registry/...` paths.
pub fn cflags(env: &BuildEnv) -> String {
    format!(
        "-ffile-prefix-map={}=/cargo -ffile-prefix-map={}=/target",
        env.cargo_home.display(),
        env.target_dir.display()
    )
}

pub fn build_plan(set: &ArtifactSet, target: &BuildTarget, env: &BuildEnv) -> BuildPlan {
    let base: Vec<String> = match target {
        BuildTarget::Triple(triple) => ["zigbuild", "--release", "--locked", "--target", triple]
            .map(str::to_owned)
            .to_vec(),
        BuildTarget::Host => ["build", "--release", "--locked"]
            .map(str::to_owned)
            .to_vec(),
    };
    let mut packages: Vec<&str> = set.artifacts.iter().map(|a| a.package.as_str()).collect();
    packages.sort_unstable();
    packages.dedup();
    let invocations = packages
        .into_iter()
        .map(|package| {
            let mut args = base.clone();
            args.extend(["-p".to_owned(), package.to_owned()]);
            args
        })
        .collect();
    let out_dir = match target {
        BuildTarget::Triple(triple) => env.target_dir.join(triple).join("release"),
        BuildTarget::Host => env.target_dir.join("release"),
    };
    let binaries = set
        .artifacts
        .iter()
        .map(|a| (a.name.clone(), out_dir.join(&a.binary)))
        .collect();
    let mut vars: Vec<(String, String)> = vec![
        ("AWS_LC_SYS_NO_JITTER_ENTROPY".into(), "1".into()),
        ("SOURCE_DATE_EPOCH".into(), env.source_date_epoch.clone()),
        (
            "CARGO_TARGET_DIR".into(),
            env.target_dir.display().to_string(),
        ),
        (
            "CARGO_ENCODED_RUSTFLAGS".into(),
            rustflags(target, env).join("\x1f"),
        ),
    ];
    if let BuildTarget::Triple(triple) = target {
        let suffix = triple.replace('-', "_");
        vars.push((format!("CFLAGS_{suffix}"), cflags(env)));
        vars.push((format!("CXXFLAGS_{suffix}"), cflags(env)));
    }
    BuildPlan {
        invocations,
        env: vars,
        env_remove: vec!["RUSTFLAGS".into()],
        binaries,
    }
}

/// The artifacts named in `only` plus the workspace layers those functions
/// use (all artifacts when `only` is empty); unknown names are an error.
pub fn select(set: &ArtifactSet, only: &[String]) -> anyhow::Result<ArtifactSet> {
    if let Some(unknown) = only.iter().find(|name| set.get(name).is_none()) {
        let known: Vec<&str> = set.artifacts.iter().map(|a| a.name.as_str()).collect();
        bail!(
            "--only {unknown}: no such artifact (declared: {})",
            known.join(", ")
        );
    }
    let mut names: Vec<String> = only.to_vec();
    for name in only {
        if let Some(artifact) = set.get(name) {
            names.extend(set.split_layers(artifact).0);
        }
    }
    let mut selected = set.clone();
    selected
        .artifacts
        .retain(|a| only.is_empty() || names.contains(&a.name));
    Ok(selected)
}

/// Set to build with a zig or cargo-zigbuild other than the pinned ones anyway.
pub const ALLOW_UNPINNED: &str = "LAMBDA_FORGE_ALLOW_UNPINNED_TOOLS";

/// Refuses a cross build with another zig or cargo-zigbuild than the pinned
/// ones (their bytes would match neither the flake nor the recorded hashes),
/// unless [`ALLOW_UNPINNED`] is set, which turns the refusal into a warning.
fn require_pinned_build_tools() -> anyhow::Result<()> {
    let zig = crate::prereq::zig_version();
    let zigbuild = crate::prereq::cargo_zigbuild_version();
    let found = crate::prereq::unpinned_build_tools(zig.as_deref(), zigbuild.as_deref());
    if found.is_empty() {
        return Ok(());
    }
    let list = found.join("\n  ");
    if std::env::var_os(ALLOW_UNPINNED).is_some_and(|v| !v.is_empty()) {
        eprintln!(
            "warning: {ALLOW_UNPINNED} is set: building with unpinned tools; these artifacts will not be byte-identical to the flake's or to the recorded hashes:\n  {list}"
        );
        return Ok(());
    }
    bail!(
        "refusing to build with unpinned tools (their artifacts would differ from the flake's):\n  {list}\nset {ALLOW_UNPINNED}=1 to build anyway"
    )
}

/// Builds, packages, writes the manifest, checks and reports the workspace at
/// `root` into `out`. Returns the manifest written.
pub fn dist(
    ws: &Workspace,
    root: &Path,
    target: &BuildTarget,
    out: &Path,
    only: &[String],
) -> anyhow::Result<Manifest> {
    dist_with(ws, root, target, out, only, &Overrides::default())
}

/// What a measurement build changes in [`dist`]'s recipe: another target dir
/// (builds with other settings must not evict the normal build's) and extra
/// variables for cargo (such as `CARGO_PROFILE_RELEASE_OPT_LEVEL`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub target_dir: Option<PathBuf>,
    pub env: Vec<(String, String)>,
}

/// [`dist`] with `overrides` applied.
pub fn dist_with(
    ws: &Workspace,
    root: &Path,
    target: &BuildTarget,
    out: &Path,
    only: &[String],
    overrides: &Overrides,
) -> anyhow::Result<Manifest> {
    let set = load_artifacts(root)?;
    if set.artifacts.is_empty() {
        bail!(
            "{} declares no artifacts ([package.metadata.lambda])",
            root.display()
        );
    }
    let selected = select(&set, only)?;
    if let BuildTarget::Triple(_) = target {
        require_pinned_build_tools()?;
    }
    let mut env = BuildEnv::from_workspace(ws);
    if let Some(dir) = &overrides.target_dir {
        env.target_dir.clone_from(dir);
    }
    let plan = build_plan(&selected, target, &env);
    for args in &plan.invocations {
        let mut cargo = Command::new(&ws.cargo);
        cargo.current_dir(root).args(args);
        for (key, value) in plan.env.iter().chain(&overrides.env) {
            cargo.env(key, value);
        }
        for key in &plan.env_remove {
            cargo.env_remove(key);
        }
        run(&mut cargo)?;
    }

    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let time = DosTime::from_source_date_epoch(Some(&env.source_date_epoch))?;
    for artifact in &selected.artifacts {
        let binary = plan
            .binaries
            .iter()
            .find(|(name, _)| *name == artifact.name)
            .map(|(_, path)| path)
            .context("build plan lost an artifact")?;
        let bytes = match artifact.kind {
            Kind::Function => archive::function_zip(binary, time)?,
            Kind::Extension => archive::extension_layer(binary, &artifact.name, time)?,
        };
        archive::write_file(&out.join(artifact.file_name()), &bytes)?;
    }
    let names: Vec<String> = if only.is_empty() {
        Vec::new()
    } else {
        selected.artifacts.iter().map(|a| a.name.clone()).collect()
    };
    let manifest = Manifest::build(&set, out, &names)?;
    manifest.write(&out.join(manifest::FILE_NAME))?;
    eprintln!(
        "dist: wrote {} artifacts and {}",
        selected.artifacts.len(),
        out.join(manifest::FILE_NAME).display()
    );
    let strictness = match target {
        BuildTarget::Host => Strictness::HostBuild,
        BuildTarget::Triple(_) => Strictness::Deployable,
    };
    check(out, machine_of(target)?, strictness)?;
    Ok(manifest)
}

/// How strict `check` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// Every rule must hold: what gets deployed.
    Deployable,
    /// A `--target host` build links the host's libc dynamically and is built
    /// for another machine than the budgets were measured on; that is fine for
    /// local smoke and benchmark runs, so the `static` and budget rules only
    /// produce notes (AWS's limits still fail).
    HostBuild,
}

/// Splits violations into (failures, notes) for `strictness`.
pub fn triage(
    violations: Vec<check::Violation>,
    strictness: Strictness,
) -> (Vec<check::Violation>, Vec<check::Violation>) {
    violations.into_iter().partition(|v| {
        strictness == Strictness::Deployable
            || ![
                check::rules::STATIC,
                check::rules::BUDGET_ZIP,
                check::rules::BUDGET_UNZIPPED,
            ]
            .contains(&v.rule)
    })
}

/// Checks `dist` against its manifest; prints the size report, then every
/// violation, and fails if there is one.
pub fn check(dist: &Path, machine: Machine, strictness: Strictness) -> anyhow::Result<()> {
    let outcome = check::check_dir(dist, machine)?;
    println!("{}", report::render(&outcome.manifest).trim_end());
    let (failures, notes) = triage(outcome.violations, strictness);
    for note in &notes {
        eprintln!("note: {note} (a host build: fine for local runs, not deployable)");
    }
    if failures.is_empty() {
        eprintln!("check: every artifact passed ({})", machine.name());
        return Ok(());
    }
    for violation in &failures {
        eprintln!("{violation}");
    }
    bail!(
        "{} check violation(s) in {}",
        failures.len(),
        dist.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_toml() -> String {
        lambda_pack::spec::sample_workspace_toml("")
    }

    fn set() -> ArtifactSet {
        set_at("/ws")
    }

    fn set_at(root: &str) -> ArtifactSet {
        let cors = r#"
[package]
name = "cors"
[package.metadata.lambda]
kind = "function"
memory_mb = 128
timeout_s = 3
layers = ["telemetry"]
budget = { zip_bytes = 1048576, unzipped_bytes = 2097152 }
"#;
        let telemetry = r#"
[package]
name = "telemetry-extension"
[package.metadata.lambda]
kind = "extension"
name = "telemetry"
binary = "telemetry-extension"
budget = { zip_bytes = 1048576, unzipped_bytes = 3145728 }
"#;
        let xtask = "[package]\nname = \"xtask\"\n";
        ArtifactSet::parse(
            Path::new(root),
            &root_toml(),
            &[
                ("crates/cors".into(), cors.into()),
                ("crates/telemetry-extension".into(), telemetry.into()),
                ("crates/xtask".into(), xtask.into()),
            ],
        )
        .unwrap()
    }

    fn env() -> BuildEnv {
        BuildEnv {
            target_dir: "/ws/target".into(),
            cargo_home: "/home/me/.cargo".into(),
            source_date_epoch: DEFAULT_SOURCE_DATE_EPOCH.into(),
        }
    }

    #[test]
    fn each_artifact_is_built_in_its_own_locked_release_zigbuild() {
        let target = BuildTarget::Triple("aarch64-unknown-linux-musl".into());
        let plan = build_plan(&set(), &target, &env());
        let lines: Vec<String> = plan.invocations.iter().map(|args| args.join(" ")).collect();
        assert_eq!(
            lines,
            [
                "zigbuild --release --locked --target aarch64-unknown-linux-musl -p cors",
                "zigbuild --release --locked --target aarch64-unknown-linux-musl -p telemetry-extension",
            ]
        );
        assert_eq!(
            plan.binaries,
            vec![
                (
                    "cors".into(),
                    PathBuf::from("/ws/target/aarch64-unknown-linux-musl/release/cors")
                ),
                (
                    "telemetry".into(),
                    PathBuf::from(
                        "/ws/target/aarch64-unknown-linux-musl/release/telemetry-extension"
                    )
                ),
            ]
        );
    }

    #[test]
    fn a_host_build_is_a_plain_cargo_build_into_target_release() {
        let plan = build_plan(&set(), &BuildTarget::Host, &env());
        assert_eq!(
            plan.invocations[0].join(" "),
            "build --release --locked -p cors"
        );
        assert_eq!(plan.binaries[0].1, PathBuf::from("/ws/target/release/cors"));
    }

    #[test]
    fn the_build_environment_pins_entropy_time_target_dir_and_rustflags() {
        let target = BuildTarget::Triple("aarch64-unknown-linux-musl".into());
        let plan = build_plan(&set(), &target, &env());
        let get = |key: &str| {
            plan.env
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("AWS_LC_SYS_NO_JITTER_ENTROPY").as_deref(), Some("1"));
        assert_eq!(get("SOURCE_DATE_EPOCH").as_deref(), Some("315532800"));
        assert_eq!(get("CARGO_TARGET_DIR").as_deref(), Some("/ws/target"));
        assert_eq!(
            get("CARGO_ENCODED_RUSTFLAGS")
                .unwrap()
                .split('\x1f')
                .collect::<Vec<_>>(),
            [
                "-C",
                "target-feature=+crt-static",
                "--remap-path-prefix=/home/me/.cargo=/cargo",
                "--remap-path-prefix=/ws/target=/target"
            ]
        );
        assert_eq!(plan.env_remove, ["RUSTFLAGS"]);
        assert_eq!(
            get("CFLAGS_aarch64_unknown_linux_musl").as_deref(),
            Some("-ffile-prefix-map=/home/me/.cargo=/cargo -ffile-prefix-map=/ws/target=/target")
        );
        assert_eq!(
            get("CXXFLAGS_aarch64_unknown_linux_musl"),
            get("CFLAGS_aarch64_unknown_linux_musl")
        );
    }

    #[test]
    fn rustflags_do_not_depend_on_the_checkout_so_repro_reuses_dependencies() {
        let target = BuildTarget::Triple("aarch64-unknown-linux-musl".into());
        let in_checkout = build_plan(&set(), &target, &env());
        let other = set_at("/tmp/elsewhere");
        let in_copy = build_plan(&other, &target, &env());
        assert_eq!(in_checkout.env, in_copy.env);
        assert_eq!(in_checkout.invocations, in_copy.invocations);
    }

    #[test]
    fn only_builds_the_named_artifacts_with_their_layers_and_refuses_unknown_names() {
        let selected = select(&set(), &["telemetry".to_owned()]).unwrap();
        let target = BuildTarget::Triple("aarch64-unknown-linux-musl".into());
        let plan = build_plan(&selected, &target, &env());
        assert_eq!(plan.invocations.len(), 1);
        assert!(
            plan.invocations[0].ends_with(&["-p".to_owned(), "telemetry-extension".to_owned()])
        );
        assert_eq!(plan.binaries.len(), 1);
        assert_eq!(select(&set(), &[]).unwrap().artifacts.len(), 2);
        let with_layer = select(&set(), &["cors".to_owned()]).unwrap();
        let names: Vec<&str> = with_layer
            .artifacts
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(names, ["cors", "telemetry"], "a function brings its layers");
        let err = select(&set(), &["sms".to_owned()]).unwrap_err().to_string();
        assert_eq!(
            err,
            "--only sms: no such artifact (declared: cors, telemetry)"
        );
    }

    #[test]
    fn only_host_builds_may_be_dynamically_linked_or_over_the_aarch64_budgets() {
        let violation = |rule: &'static str| check::Violation {
            artifact: "cors".into(),
            rule,
            limit: "l".into(),
            measured: "m".into(),
        };
        let found = || {
            vec![
                violation(check::rules::STATIC),
                violation(check::rules::BUDGET_ZIP),
                violation(check::rules::BUDGET_UNZIPPED),
                violation(check::rules::AWS_ZIP),
            ]
        };
        let (failures, notes) = triage(found(), Strictness::Deployable);
        assert_eq!((failures.len(), notes.len()), (4, 0));
        let (failures, notes) = triage(found(), Strictness::HostBuild);
        assert_eq!(failures, vec![violation(check::rules::AWS_ZIP)]);
        assert_eq!(
            notes,
            vec![
                violation(check::rules::STATIC),
                violation(check::rules::BUDGET_ZIP),
                violation(check::rules::BUDGET_UNZIPPED),
            ]
        );
    }

    #[test]
    fn host_builds_keep_the_remapping_but_not_crt_static() {
        let flags = rustflags(&BuildTarget::Host, &env());
        assert_eq!(
            flags,
            [
                "--remap-path-prefix=/home/me/.cargo=/cargo",
                "--remap-path-prefix=/ws/target=/target"
            ]
        );
    }
}
