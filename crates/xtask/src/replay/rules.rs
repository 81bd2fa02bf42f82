//! What the evaluation alone must show, on every system: no warnings, the
//! native checks in the dev profile, every artifact built by `cargo xtask
//! dist`'s recipe (same command, variables, path remapping, zig and
//! cargo-zigbuild), a reproducibility probe that really builds elsewhere,
//! the one Nix formatter, no system emulator where qemu-user does, and an
//! `apps.<system>.local` that `nix flake check` accepts and whose closure
//! holds what `cargo xtask local` runs.

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::Context;

use super::plan::{Drv, Plan, SYSTEMS};
use crate::cli::BuildTarget;
use crate::dist::{BuildEnv, build_plan};
use crate::prereq::{CARGO_ZIGBUILD_VERSION, ZIG_VERSION};
use crate::workspace::Workspace;

/// stdenv's SOURCE_DATE_EPOCH (1980-01-01).
const STDENV_SOURCE_DATE_EPOCH: &str = "315532800";

/// Crane functions that compile nothing (their profile does not matter).
const NO_COMPILE: &[&str] = &["-fmt", "-tomlfmt", "-audit", "-deny"];

/// Every rule's findings; empty means the evaluation passes.
pub fn check(plan: &Plan, ws: &Workspace) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    for warning in &plan.warnings {
        problems.push(format!(
            "evaluation warning (nix flake check prints it on every run): {warning}"
        ));
    }
    let set = ws.artifacts()?;
    let target = set.settings.target.clone();
    let dist = build_plan(
        &set,
        &BuildTarget::Triple(target.clone()),
        &BuildEnv::from_workspace(ws),
    );
    let registry_src = dist_registry_src(ws)?;
    for system in SYSTEMS {
        for name in plan.output_names(system, "") {
            let drv = plan.output(system, &name)?;
            for d in plan.closure(drv) {
                native_profile(d, &target, &mut problems);
                if d.var("pname") == Some("qemu") {
                    problems.push(format!(
                        "{system} {name}: depends on qemu, the whole system emulator; qemu-user runs the bootstraps"
                    ));
                }
            }
        }
        for artifact in &set.artifacts {
            let zip = plan.output(system, &format!("packages.{}", artifact.name))?;
            let binary = artifact_binary(plan, zip, &target)
                .with_context(|| format!("{system} packages.{}", artifact.name))?;
            let dist_args = dist
                .invocations
                .iter()
                .find(|args| args.last() == Some(&artifact.package))
                .context("dist builds no such package")?;
            recipe(
                binary,
                dist_args,
                &dist.env,
                &registry_src,
                system,
                &mut problems,
            );
            probe(plan, system, &artifact.name, &target, &mut problems)?;
        }
        formatter(plan, system, &mut problems)?;
        local_app(plan, &set, system, &mut problems);
    }
    problems.sort();
    problems.dedup();
    Ok(problems)
}

fn native_profile(d: &Drv, target: &str, problems: &mut Vec<String>) {
    if d.kind() != "crane"
        || d.builds_for(target)
        || NO_COMPILE.iter().any(|s| d.name().contains(s))
    {
        return;
    }
    let profile = d
        .var("CARGO_PROFILE")
        .unwrap_or("release (crane's default)");
    if profile != "dev" {
        problems.push(format!(
            "{} ({}): CARGO_PROFILE={profile}; the native checks and tools build in the dev profile CI builds in, not with release's fat LTO",
            d.name(),
            d.system
        ));
    }
}

/// The crane build of the binary a zip package packs.
fn artifact_binary<'a>(plan: &'a Plan, zip: &Drv, target: &str) -> anyhow::Result<&'a Drv> {
    zip.input_drvs
        .iter()
        .filter_map(|p| plan.drvs.get(p))
        .find(|d| d.function() == Some("buildPackage") && d.builds_for(target))
        .with_context(|| {
            format!(
                "{} packs no crane build for {target} (cargo zigbuild --target {target}, as `cargo xtask dist` builds)",
                zip.name()
            )
        })
}

/// The cargo words of crane's build command, with `cargoWithProfile`
/// expanded as crane's hook does and the build-log plumbing dropped.
pub fn effective_command(d: &Drv) -> Vec<String> {
    let command = d.recorded("buildPhaseCargoCommand").unwrap_or_default();
    let line = command
        .lines()
        .find(|l| l.contains("cargoWithProfile") || l.trim_start().starts_with("cargo "))
        .unwrap_or_default();
    let mut words: Vec<String> = Vec::new();
    let mut iter = line.split_whitespace().peekable();
    while let Some(word) = iter.next() {
        match word {
            "cargoWithProfile" => {
                if let Some(sub) = iter.next() {
                    words.push(sub.to_owned());
                }
                match d.var("CARGO_PROFILE").unwrap_or("release") {
                    "release" => words.push("--release".to_owned()),
                    "" => {}
                    other => words.extend(["--profile".to_owned(), other.to_owned()]),
                }
            }
            "cargo" if words.is_empty() => {}
            "--message-format" => {
                iter.next();
            }
            w if w.starts_with('>') => {}
            w => words.push(w.to_owned()),
        }
    }
    words
}

fn recipe(
    binary: &Drv,
    dist_args: &[String],
    dist_env: &[(String, String)],
    registry_src: &str,
    system: &str,
    problems: &mut Vec<String>,
) {
    let name = binary.name();
    let ours = effective_command(binary);
    if ours != dist_args {
        problems.push(format!(
            "{system} {name}: runs `cargo {}`, `cargo xtask dist` runs `cargo {}`",
            ours.join(" "),
            dist_args.join(" ")
        ));
    }
    let nix_env = match prepatch_env(binary) {
        Ok(env) => env,
        Err(error) => {
            problems.push(format!(
                "{system} {name}: its prePatch does not run: {error:#}"
            ));
            return;
        }
    };
    for (key, value) in dist_env {
        let theirs = match key.as_str() {
            "CARGO_TARGET_DIR" => continue,
            "SOURCE_DATE_EPOCH" => binary
                .var(key)
                .unwrap_or(STDENV_SOURCE_DATE_EPOCH)
                .to_owned(),
            _ => nix_env
                .get(key)
                .cloned()
                .or_else(|| binary.var(key).map(str::to_owned))
                .unwrap_or_default(),
        };
        let (want, have) = match key.as_str() {
            "CARGO_ENCODED_RUSTFLAGS" => (
                normalise_dist(&value.replace('\x1f', " "), registry_src),
                normalise_nix(&theirs.replace('\x1f', " ")),
            ),
            k if k.starts_with("CFLAGS_") || k.starts_with("CXXFLAGS_") => {
                (normalise_dist(value, registry_src), normalise_nix(&theirs))
            }
            _ => (value.clone(), theirs),
        };
        if want != have {
            problems.push(format!(
                "{system} {name}: {key} is {have:?} where `cargo xtask dist` has {want:?}"
            ));
        }
    }
    for (pname, pinned) in [
        ("zig", ZIG_VERSION),
        ("cargo-zigbuild", CARGO_ZIGBUILD_VERSION),
    ] {
        let found = binary
            .list("nativeBuildInputs")
            .iter()
            .any(|out| out.ends_with(&format!("-{pname}-{pinned}")));
        if !found {
            problems.push(format!(
                "{system} {name}: builds without {pname} {pinned}, the version `cargo xtask setup` pins"
            ));
        }
    }
}

/// The variables the artifact build's prePatch exports, run with bash in a
/// Linux sandbox's directories.
fn prepatch_env(d: &Drv) -> anyhow::Result<BTreeMap<String, String>> {
    let script = format!(
        "set -eu\ncd /\nPWD=/build/source TMPDIR=/build\n{}\nenv -0",
        d.var("prePatch").unwrap_or_default()
    );
    let output = Command::new("bash")
        .args(["--noprofile", "--norc", "-c", &script])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(output
        .stdout
        .split(|b| *b == 0)
        .filter_map(|entry| {
            let text = String::from_utf8_lossy(entry);
            text.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect())
}

/// dist's flags with the machine's paths named by what they are: CARGO_HOME
/// (whose registry sources then sit at `/cargo/registry/src/<dir>`) and the
/// target dir.
fn normalise_dist(flags: &str, registry_src: &str) -> String {
    flags
        .split_whitespace()
        .map(|flag| {
            for prefix in ["--remap-path-prefix=", "-ffile-prefix-map="] {
                if let Some(rest) = flag.strip_prefix(prefix)
                    && let Some((_, to)) = rest.rsplit_once('=')
                {
                    return match to {
                        "/cargo" => format!("{prefix}<registry>={registry_src}"),
                        "/target" => format!("{prefix}<target>=/target"),
                        other => format!("{prefix}<?>={other}"),
                    };
                }
            }
            flag.to_owned()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The flake's flags likewise: the vendored registry and the target dir.
fn normalise_nix(flags: &str) -> String {
    flags
        .split_whitespace()
        .map(|flag| {
            for prefix in ["--remap-path-prefix=", "-ffile-prefix-map="] {
                if let Some(rest) = flag.strip_prefix(prefix)
                    && let Some((from, to)) = rest.rsplit_once('=')
                {
                    return if from.starts_with("/nix/store/") {
                        format!("{prefix}<registry>={to}")
                    } else if from.ends_with("/target") {
                        format!("{prefix}<target>={to}")
                    } else {
                        format!("{prefix}<?>={to}")
                    };
                }
            }
            flag.to_owned()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where dist's remapping puts crates.io sources: `/cargo/registry/src/<dir>`
/// for the registry directory of this machine's CARGO_HOME.
fn dist_registry_src(ws: &Workspace) -> anyhow::Result<String> {
    let names: Vec<String> = super::tree::registry_src_names(&ws.cargo_home)
        .into_iter()
        .filter(|n| n.starts_with("index.crates.io-"))
        .collect();
    match names.as_slice() {
        [one] => Ok(format!("/cargo/registry/src/{one}")),
        [] => anyhow::bail!(
            "{}/registry/src has no crates.io sources yet (run a build first)",
            ws.cargo_home.display()
        ),
        many => anyhow::bail!("several crates.io source directories in CARGO_HOME: {many:?}"),
    }
}

/// The probe builds the same artifact from another directory, with the
/// vendored sources at another path: what differs between machines.
fn probe(
    plan: &Plan,
    system: &str,
    artifact: &str,
    target: &str,
    problems: &mut Vec<String>,
) -> anyhow::Result<()> {
    let check = plan.output(system, &format!("checks.{artifact}-reproducible"))?;
    let binaries: Vec<&Drv> = check
        .input_drvs
        .iter()
        .filter_map(|p| plan.drvs.get(p))
        .filter_map(|zip| artifact_binary(plan, zip, target).ok())
        .collect();
    let [first, second] = binaries.as_slice() else {
        problems.push(format!(
            "{system} checks.{artifact}-reproducible: compares {} builds, not two",
            binaries.len()
        ));
        return Ok(());
    };
    let dir = |d: &Drv| {
        d.var("postUnpack")
            .and_then(|s| s.split("sourceRoot=").nth(1))
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|| "source".to_owned())
    };
    if dir(first) == dir(second) {
        problems.push(format!(
            "{system} checks.{artifact}-reproducible: both builds run in the same directory ({}); that checks determinism, not independence from the build machine",
            dir(first)
        ));
    }
    if first.var("cargoVendorDir") == second.var("cargoVendorDir") {
        problems.push(format!(
            "{system} checks.{artifact}-reproducible: both builds read the vendored crates from the same path"
        ));
    }
    Ok(())
}

/// `nix fmt`, the nix-fmt check and CI run one formatter: crates/nix-fmt.
fn formatter(plan: &Plan, system: &str, problems: &mut Vec<String>) -> anyhow::Result<()> {
    let formatter = plan.output(system, "formatter")?;
    if formatter.var("pname") != Some("nix-fmt") || formatter.function() != Some("buildPackage") {
        problems.push(format!(
            "{system} formatter: {} is not crates/nix-fmt, the formatter CI runs",
            formatter.name()
        ));
    }
    let check = plan.output(system, "checks.nix-fmt")?;
    if !check.input_drvs.contains(&formatter.path) {
        problems.push(format!(
            "{system} checks.nix-fmt: does not run crates/nix-fmt (the formatter CI and `nix fmt` run)"
        ));
    }
    Ok(())
}

/// The app `nix run .#local` runs.
pub const LOCAL_APP: &str = "local";

/// The `-p` packages of a crane build's command.
pub fn packages_of(d: &Drv) -> Vec<String> {
    let words = effective_command(d);
    words
        .iter()
        .zip(words.iter().skip(1))
        .filter(|(flag, _)| *flag == "-p")
        .map(|(_, package)| package.clone())
        .collect()
}

/// `apps.<system>.local`: what `nix flake check` requires of an app (only
/// `type`, `program` and `meta`; type "app"; a description, or it warns),
/// what `nix run` needs (a program inside the one derivation its string
/// context names), and in that derivation's closure what `cargo xtask
/// local` runs: native builds of local-stack and of every declared
/// function, Python with moto's server, and qemu-user where the zips of
/// `--dist` cannot run natively.
fn local_app(
    plan: &Plan,
    set: &lambda_pack::spec::ArtifactSet,
    system: &str,
    problems: &mut Vec<String>,
) {
    let at = format!("{system} apps.{LOCAL_APP}");
    let Some(app) = plan.apps.get(system).and_then(|apps| apps.get(LOCAL_APP)) else {
        problems.push(format!(
            "{at}: missing; `nix run .#local` must start the local stack as `cargo xtask local` does"
        ));
        return;
    };
    for attribute in &app.attributes {
        if !["type", "program", "meta"].contains(&attribute.as_str()) {
            problems.push(format!(
                "{at}: has unsupported attribute '{attribute}' (nix flake check refuses it)"
            ));
        }
    }
    if app.app_type.as_deref() != Some("app") {
        problems.push(format!("{at}: type is {:?}, not \"app\"", app.app_type));
    }
    if app.description.is_none() {
        problems.push(format!(
            "{at}: lacks attribute 'meta.description' (nix flake check warns on every run)"
        ));
    }
    let [drv_path] = app.context_drvs.as_slice() else {
        problems.push(format!(
            "{at}: its program names {} derivations, not one (nix run builds the program's derivation, then execs it)",
            app.context_drvs.len()
        ));
        return;
    };
    let Ok(drv) = plan.drv(drv_path) else {
        problems.push(format!("{at}: {drv_path} is not in the evaluated closure"));
        return;
    };
    let program = app.program.clone().unwrap_or_default();
    let bin = program
        .strip_prefix(drv.out())
        .and_then(|rest| rest.strip_prefix("/bin/"));
    if !bin.is_some_and(|name| drv.bins().iter().any(|b| b == name)) {
        problems.push(format!(
            "{at}: program {program:?} is not one of the programs {} installs in {}/bin",
            drv.name(),
            drv.out()
        ));
    }
    let closure = plan.closure(drv);
    let native_builds: Vec<&Drv> = closure
        .iter()
        .copied()
        .filter(|d| d.function() == Some("buildPackage") && !d.builds_for(&set.settings.target))
        .collect();
    let built: Vec<String> = native_builds.iter().flat_map(|d| packages_of(d)).collect();
    let mut wanted = vec!["local-stack".to_owned()];
    wanted.extend(
        set.artifacts
            .iter()
            .filter(|a| a.kind == lambda_pack::spec::Kind::Function)
            .map(|a| a.package.clone()),
    );
    for package in wanted {
        if !built.contains(&package) {
            problems.push(format!(
                "{at}: no native crane build of {package} in its closure (`cargo xtask local` runs it)"
            ));
        }
    }
    let provides = |program: &str| {
        closure
            .iter()
            .any(|d| d.kind() == "package" && d.bins().iter().any(|b| b == program))
    };
    if !(provides("moto_server") && provides("python3")) {
        problems.push(format!(
            "{at}: no Python with moto's server in its closure (the stack starts moto with it)"
        ));
    }
    if system == "x86_64-linux" && !provides("qemu-aarch64") {
        problems.push(format!(
            "{at}: no qemu-user in its closure (`--dist` runs aarch64 zips under qemu-aarch64 here)"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remapped_paths_compare_by_what_they_are() {
        let dist = "-C target-feature=+crt-static --remap-path-prefix=/root/.cargo=/cargo --remap-path-prefix=/w/target=/target";
        let nix = "-C target-feature=+crt-static --remap-path-prefix=/nix/store/abc-vendor-cargo-deps/c19b=/cargo/registry/src/index-x --remap-path-prefix=/build/source/target=/target";
        assert_eq!(
            normalise_dist(dist, "/cargo/registry/src/index-x"),
            normalise_nix(nix)
        );
        let elsewhere = nix.replace("index-x", "index-y");
        assert_ne!(
            normalise_dist(dist, "/cargo/registry/src/index-x"),
            normalise_nix(&elsewhere)
        );
    }
}

#[cfg(test)]
mod local_app_tests {
    use super::*;
    use crate::replay::plan::App;
    use serde_json::json;

    fn drv(name: &str, replay: serde_json::Value, env: &[(&str, &str)], inputs: &[&str]) -> Drv {
        let mut vars: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        vars.insert("name".into(), name.into());
        vars.insert("out".into(), format!("/nix/store/{name}"));
        Drv {
            path: format!("/nix/store/{name}.drv"),
            system: "x86_64-linux".into(),
            env: vars,
            input_drvs: inputs
                .iter()
                .map(|i| format!("/nix/store/{i}.drv"))
                .collect(),
            replay,
        }
    }

    fn crane(name: &str, args: &str) -> Drv {
        drv(
            name,
            json!({"kind": "crane", "function": "buildPackage",
                   "buildPhaseCargoCommand": format!("cargoWithProfile build --message-format json-render-diagnostics {args} >\"$log\"")}),
            &[("CARGO_PROFILE", "dev")],
            &[],
        )
    }

    fn package(name: &str, bins: &[&str]) -> Drv {
        drv(name, json!({"kind": "package", "bins": bins}), &[], &[])
    }

    /// This workspace's artifacts, an app as the flake defines it, and the
    /// plan holding both. The workspace itself, not a fixture under nix/:
    /// the flake's test tree (what `workspace-nextest` runs in) holds every
    /// crate's manifest but not nix/.
    fn fixture() -> (lambda_pack::spec::ArtifactSet, Plan) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let set = lambda_pack::spec::ArtifactSet::load(&root).unwrap();
        let functions: Vec<String> = set
            .artifacts
            .iter()
            .filter(|a| a.kind == lambda_pack::spec::Kind::Function)
            .map(|a| format!("-p {}", a.package))
            .collect();
        let drvs = vec![
            crane(
                "local-functions",
                &format!("--locked {}", functions.join(" ")),
            ),
            crane("local-stack", "--locked -p local-stack --bin local-stack"),
            package("python3-env", &["python3", "moto_server"]),
            package("qemu-user", &["qemu-aarch64"]),
            drv(
                "lambda-forge-local",
                json!({"kind": "script", "bins": ["lambda-forge-local"]}),
                &[],
                &["local-functions", "local-stack", "python3-env", "qemu-user"],
            ),
        ];
        let mut plan = Plan::default();
        for d in drvs {
            plan.drvs.insert(d.path.clone(), d);
        }
        let app = App {
            attributes: vec!["meta".into(), "program".into(), "type".into()],
            app_type: Some("app".into()),
            description: Some("the local stack".into()),
            program: Some("/nix/store/lambda-forge-local/bin/lambda-forge-local".into()),
            context_drvs: vec!["/nix/store/lambda-forge-local.drv".into()],
        };
        plan.apps.insert(
            "x86_64-linux".into(),
            BTreeMap::from([(LOCAL_APP.to_owned(), app)]),
        );
        (set, plan)
    }

    fn problems(set: &lambda_pack::spec::ArtifactSet, plan: &Plan) -> Vec<String> {
        let mut problems = Vec::new();
        local_app(plan, set, "x86_64-linux", &mut problems);
        problems
    }

    fn app(plan: &mut Plan) -> &mut App {
        plan.apps
            .get_mut("x86_64-linux")
            .and_then(|a| a.get_mut(LOCAL_APP))
            .unwrap()
    }

    #[test]
    fn an_app_as_the_flake_defines_it_passes() {
        let (set, plan) = fixture();
        assert_eq!(problems(&set, &plan), Vec::<String>::new());
    }

    #[test]
    fn a_missing_app_is_reported() {
        let (set, mut plan) = fixture();
        plan.apps.clear();
        assert!(problems(&set, &plan)[0].contains("missing"));
    }

    #[test]
    fn what_nix_flake_check_refuses_or_warns_about_is_reported() {
        let (set, mut plan) = fixture();
        app(&mut plan).attributes.push("name".into());
        app(&mut plan).app_type = Some("derivation".into());
        app(&mut plan).description = None;
        let found = problems(&set, &plan).join("\n");
        assert!(found.contains("unsupported attribute 'name'"), "{found}");
        assert!(found.contains("not \"app\""), "{found}");
        assert!(found.contains("meta.description"), "{found}");
    }

    #[test]
    fn a_program_outside_the_wrapper_s_bin_is_reported() {
        let (set, mut plan) = fixture();
        app(&mut plan).program = Some("/nix/store/lambda-forge-local/bin/other".into());
        assert!(problems(&set, &plan)[0].contains("is not one of the programs"));
        app(&mut plan)
            .context_drvs
            .push("/nix/store/local-stack.drv".into());
        assert!(problems(&set, &plan)[0].contains("names 2 derivations"));
    }

    #[test]
    fn a_function_moto_or_qemu_missing_from_the_closure_is_reported() {
        let (set, plan) = fixture();
        let wrapper = "/nix/store/lambda-forge-local.drv";
        for (dropped, expected) in [
            ("/nix/store/local-functions.drv", "no native crane build of"),
            (
                "/nix/store/local-stack.drv",
                "no native crane build of local-stack",
            ),
            ("/nix/store/python3-env.drv", "moto"),
            ("/nix/store/qemu-user.drv", "qemu-user"),
        ] {
            let mut plan = plan.clone();
            plan.drvs
                .get_mut(wrapper)
                .unwrap()
                .input_drvs
                .retain(|i| i != dropped);
            let found = problems(&set, &plan).join("\n");
            assert!(found.contains(expected), "without {dropped}: {found}");
        }
    }
}
