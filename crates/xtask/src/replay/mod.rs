//! `nix-replay`: what CI runs instead of `nix flake check`, which cannot run
//! here. Every flake output is evaluated for the three systems through
//! stand-ins of nixpkgs, crane and rust-overlay (nix/tests/replay), then:
//!
//! - `eval`: the evaluation's rules (./rules.rs) and, in each crane
//!   derivation's own source tree with its vendored crates and offline, the
//!   lock resolution of every build (`cargo metadata --locked`, `cargo tree
//!   --locked -p ...`);
//! - `test`: `workspace-nextest`'s commands, as crane runs them, under the
//!   sandbox's conditions (./sandbox.rs): this is CI's test step;
//! - `boot`: every `*-boot` check's script against the zips of `cargo xtask
//!   dist`, with the lambda-emulator the flake builds (its crane command);
//! - `artifact`: one artifact's derivations (its dependency build, then its
//!   build) run as crane would, with zig, under the same conditions, in
//!   their own target dir: the binary must be the bytes of dist's;
//! - `local`: `nix run .#local` of this machine's system: the app's crane
//!   builds (local-stack, the functions) run as crane would, then its
//!   wrapper script starts the stack from their outputs with the programs
//!   its closure provides, a gateway request runs the authorizer and users
//!   with a seeded user's token, and Ctrl-C stops it cleanly;
//! - `controls`: the flake mutated back to each defect of issue 14 must fail
//!   the phase that guards against it (./controls.rs).

mod controls;
mod plan;
mod rules;
mod sandbox;
mod tree;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use plan::Drv;
pub use plan::Plan;
use sandbox::{Build, Host, Overrides};

use crate::workspace::Workspace;

/// What to replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Eval,
    Test,
    Boot,
    Artifact,
    Local,
    Controls,
}

impl Phase {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "eval" => Some(Self::Eval),
            "test" => Some(Self::Test),
            "boot" => Some(Self::Boot),
            "artifact" => Some(Self::Artifact),
            "local" => Some(Self::Local),
            "controls" => Some(Self::Controls),
            _ => None,
        }
    }
}

/// The crane derivations' hooks as crane v0.23.4 runs them
/// (configureCargoCommonVars, configureCargoVendoredDeps and
/// cargoHelperFunctions, rewritten from a reading of their sources).
const CRANE_PRELUDE: &str = r#"
cargo() (
  set -x
  command cargo "$@"
)
cargoWithProfile() {
  local profileArgs=()
  if [[ "${CARGO_PROFILE}" == "release" ]]; then
    profileArgs+=("--release")
  elif [[ -n "${CARGO_PROFILE:-}" ]]; then
    profileArgs+=("--profile" "${CARGO_PROFILE}")
  fi
  cargo "${@:1:1}" "${profileArgs[@]}" "${@:2}"
}
export CARGO_HOME=${CARGO_HOME:-${PWD}/.cargo-home}
mkdir -p "${CARGO_HOME}"
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-$NIX_BUILD_CORES}
export RUST_TEST_THREADS=${RUST_TEST_THREADS:-$NIX_BUILD_CORES}
export CARGO_BUILD_INCREMENTAL=${CARGO_BUILD_INCREMENTAL-false}
CARGO_PROFILE=${CARGO_PROFILE-release}
if [ -n "${cargoVendorDir-}" ]; then
  cat "${cargoVendorDir}/config.toml" >>"${CARGO_HOME}/config.toml"
fi
"#;

/// Where the replay keeps its trees and builds.
struct Dirs {
    base: PathBuf,
}

impl Dirs {
    fn new(ws: &Workspace) -> anyhow::Result<Self> {
        let base = ws.target_dir.join("nix-replay");
        std::fs::create_dir_all(&base)?;
        Ok(Self { base })
    }
    fn flake(&self, label: &str) -> PathBuf {
        self.base.join("flake").join(label)
    }
    fn trees(&self) -> PathBuf {
        self.base.join("trees")
    }
    fn builds(&self) -> PathBuf {
        self.base.join("builds")
    }
    fn vendor(&self) -> PathBuf {
        self.base.join("vendor")
    }
}

/// The host's Nix system name.
fn host_system() -> anyhow::Result<&'static str> {
    match std::env::consts::ARCH {
        "x86_64" => Ok("x86_64-linux"),
        "aarch64" => Ok("aarch64-linux"),
        other => bail!("the replay runs on x86_64 or aarch64 Linux, not {other}"),
    }
}

/// Copies what Nix copies of a git flake: the tracked files (with their
/// contents in the work tree) into `dest`.
fn copy_flake(root: &Path, dest: &Path) -> anyhow::Result<()> {
    if dest.exists() {
        std::fs::remove_dir_all(dest)?;
    }
    let output = Command::new("git")
        .current_dir(root)
        .args(["ls-files", "-z", "--cached"])
        .output()
        .context("git ls-files (the flake is a git repository's tracked files)")?;
    if !output.status.success() {
        bail!(
            "git ls-files failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let files: Vec<PathBuf> = output
        .stdout
        .split(|b| *b == 0)
        .filter(|f| !f.is_empty())
        .map(|f| PathBuf::from(String::from_utf8_lossy(f).into_owned()))
        .collect();
    crate::repro::copy_files(root, dest, &files)?;
    Ok(())
}

/// Evaluates the flake in `flake` (a copy) and checks its rules.
fn evaluate(ws: &Workspace, flake: &Path) -> anyhow::Result<Plan> {
    let started = Instant::now();
    let plan = Plan::evaluate(flake)?;
    println!(
        "nix-replay: evaluated {} outputs on {} systems to {} derivations in {:.1} s",
        plan.outputs.values().map(BTreeMap::len).sum::<usize>(),
        plan.outputs.len(),
        plan.drvs.len(),
        started.elapsed().as_secs_f64()
    );
    let problems = rules::check(&plan, ws)?;
    if !problems.is_empty() {
        bail!(
            "the flake's evaluation breaks {} rule(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        );
    }
    println!("nix-replay: every rule holds (warnings, profiles, dist's recipe, probe, formatter)");
    Ok(plan)
}

/// Lock resolution of every crane build, in its own source tree, offline.
fn lock_resolution(ws: &Workspace, dirs: &Dirs, plan: &Plan, host: &Host) -> anyhow::Result<()> {
    let mut jobs: BTreeMap<String, (Drv, Vec<Vec<String>>)> = BTreeMap::new();
    for drv in plan.drvs.values() {
        if drv.kind() != "crane" {
            continue;
        }
        let Some(src) = drv.recorded("src") else {
            continue;
        };
        // (cargo-audit's source holds Cargo.lock alone: nothing to resolve.)
        if !Path::new(src).join("Cargo.lock").is_file()
            || !Path::new(src).join("Cargo.toml").is_file()
        {
            continue;
        }
        let words = rules::effective_command(drv);
        let mut selection: Vec<String> = Vec::new();
        let mut iter = words.iter();
        while let Some(w) = iter.next() {
            if w == "-p" || w == "--target" {
                selection.push(w.clone());
                if let Some(v) = iter.next() {
                    selection.push(v.clone());
                }
            }
        }
        let entry = jobs
            .entry(src.to_owned())
            .or_insert_with(|| (drv.clone(), Vec::new()));
        if !selection.is_empty() && !entry.1.contains(&selection) {
            entry.1.push(selection);
        }
    }
    for (src, (drv, selections)) in &jobs {
        let tree = dirs.trees().join(tree_name(src));
        tree::sync(Path::new(src), &tree)?;
        let vendor = tree::vendor(ws, &tree.join("Cargo.lock"), &dirs.vendor())?;
        let mut script = String::from(CRANE_PRELUDE);
        script.push_str("cargo metadata --format-version 1 --locked --offline >/dev/null\n");
        for selection in selections {
            script.push_str(&format!(
                "cargo tree --locked --offline -e all --prefix none {} >/dev/null\n",
                selection.join(" ")
            ));
        }
        let overrides = Overrides {
            outputs: BTreeMap::from([(
                drv.var("cargoVendorDir").unwrap_or_default().to_owned(),
                vendor.clone(),
            )]),
            vars: BTreeMap::new(),
            lenient: true,
        };
        let build = Build::new(&dirs.builds(), plan, drv, host, &overrides)?;
        let mut env = build.environment(drv, &overrides);
        env.insert("cargoVendorDir".into(), vendor.display().to_string());
        let _ = std::fs::remove_dir_all(tree.join(".cargo-home"));
        build.run(&script, &tree, &env).with_context(|| {
            format!(
                "lock resolution of {} ({} selections) in {src}",
                drv.name(),
                selections.len()
            )
        })?;
        println!(
            "nix-replay: {src}: Cargo.lock resolves offline with --locked for the workspace and {} package selection(s)",
            selections.len()
        );
    }
    Ok(())
}

fn tree_name(store_path: &str) -> String {
    store_path.rsplit('/').next().unwrap_or("source").to_owned()
}

/// Variables the replay keeps from our environment so that it reuses the
/// other CI steps' builds instead of starting from crane's empty target.
fn reuse_vars(ws: &Workspace) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::from([(
        "CARGO_TARGET_DIR".to_owned(),
        ws.target_dir.display().to_string(),
    )]);
    if let Some(dir) = std::env::var_os("CARGO_BUILD_BUILD_DIR").filter(|d| !d.is_empty()) {
        vars.insert(
            "CARGO_BUILD_BUILD_DIR".to_owned(),
            dir.to_string_lossy().into_owned(),
        );
    }
    vars
}

/// Runs a crane derivation's build (and, when doCheck, check) commands in its
/// source tree under the sandbox's conditions.
fn run_crane(
    ws: &Workspace,
    dirs: &Dirs,
    plan: &Plan,
    host: &Host,
    drv: &Drv,
    extra_args: &str,
) -> anyhow::Result<PathBuf> {
    let src = drv
        .recorded("src")
        .with_context(|| format!("{} has no source", drv.name()))?;
    let tree = dirs.trees().join(tree_name(src));
    tree::sync(Path::new(src), &tree)?;
    let vendor = tree::vendor(ws, &tree.join("Cargo.lock"), &dirs.vendor())?;
    let overrides = Overrides {
        outputs: BTreeMap::from([(
            drv.var("cargoVendorDir").unwrap_or_default().to_owned(),
            vendor,
        )]),
        vars: reuse_vars(ws),
        lenient: false,
    };
    let build = Build::new(&dirs.builds(), plan, drv, host, &overrides)?;
    let env = build.environment(drv, &overrides);
    let mut script = String::from(CRANE_PRELUDE);
    script.push_str(drv.recorded("buildPhaseCargoCommand").unwrap_or_default());
    script.push('\n');
    if drv.var("doCheck") == Some("1") {
        let check = drv.recorded("checkPhaseCargoCommand").unwrap_or_default();
        script.push_str(check.trim_end());
        script.push(' ');
        script.push_str(extra_args);
        script.push('\n');
    }
    let _ = std::fs::remove_dir_all(tree.join(".cargo-home"));
    build
        .run(&script, &tree, &env)
        .with_context(|| format!("the replay of {}", drv.name()))?;
    Ok(tree)
}

/// `checks.workspace-nextest` of this machine's system, under the sandbox's
/// conditions; `filter` narrows it (the controls).
fn test(ws: &Workspace, dirs: &Dirs, plan: &Plan, host: &Host, filter: &str) -> anyhow::Result<()> {
    let system = host_system()?;
    let drv = plan.output(system, "checks.workspace-nextest")?;
    let started = Instant::now();
    run_crane(ws, dirs, plan, host, drv, filter)?;
    println!(
        "nix-replay: {system} checks.workspace-nextest passed in the sandbox's conditions ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Every `*-boot` check of this machine's system (or those in `only`)
/// against dist/'s zips.
fn boot(
    ws: &Workspace,
    dirs: &Dirs,
    plan: &Plan,
    host: &Host,
    dist: &Path,
    only: &[String],
) -> anyhow::Result<()> {
    let system = host_system()?;
    let checks: Vec<String> = plan
        .output_names(system, "checks.")
        .into_iter()
        .filter(|n| n.ends_with("-boot"))
        .filter(|n| only.is_empty() || only.iter().any(|o| n == &format!("checks.{o}-boot")))
        .collect();
    if checks.is_empty() {
        bail!("the flake defines no boot check on {system}");
    }
    // The emulator the boot checks call: the flake's tool derivation, built
    // by its own crane command.
    let mut tools: BTreeMap<String, PathBuf> = BTreeMap::new();
    for name in &checks {
        let check = plan.output(system, name)?;
        for input in plan.inputs(check) {
            if input.function() == Some("buildPackage") && !tools.contains_key(input.out()) {
                let tree = run_crane(ws, dirs, plan, host, input, "")?;
                let _ = tree;
                let pname = input.var("pname").unwrap_or_default();
                let profile_dir = match input.var("CARGO_PROFILE").unwrap_or("release") {
                    "dev" => "debug",
                    other => other,
                };
                let binary = ws.target_dir.join(profile_dir).join(pname);
                let staged = dirs.builds().join(format!("tool-{pname}"));
                std::fs::create_dir_all(staged.join("bin"))?;
                sandbox::symlink(&binary, &staged.join("bin").join(pname))?;
                tools.insert(input.out().to_owned(), staged);
            }
        }
    }
    let started = Instant::now();
    for name in &checks {
        let check = plan.output(system, name)?;
        let mut outputs = tools.clone();
        // The zip packages the script reads: dist's zips, same file names.
        for d in plan.closure(check) {
            if d.kind() == "runCommand" && d.name().starts_with("lambda-") {
                let artifact = d.name().trim_start_matches("lambda-");
                let dir = dirs.builds().join(format!("zip-{artifact}"));
                std::fs::create_dir_all(&dir)?;
                let zip = dist.join(format!("{artifact}.zip"));
                if !zip.is_file() {
                    bail!("{} is missing: run `cargo xtask dist` first", zip.display());
                }
                sandbox::symlink(&zip, &dir.join(format!("{artifact}.zip")))?;
                outputs.insert(d.out().to_owned(), dir);
            }
        }
        let overrides = Overrides {
            outputs,
            vars: BTreeMap::new(),
            lenient: false,
        };
        let build = Build::new(&dirs.builds(), plan, check, host, &overrides)?;
        let env = build.environment(check, &overrides);
        let script = build.rewrite(check.var("buildCommand").unwrap_or_default());
        std::fs::create_dir_all(build.top.join("work"))?;
        build
            .run(&script, &build.top.join("work"), &env)
            .with_context(|| format!("{system} {name}"))?;
        println!("nix-replay: {system} {name} passed");
    }
    println!(
        "nix-replay: {} boot check(s) passed in the sandbox's conditions ({:.1} s)",
        checks.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The artifact the `artifact` phase builds: the smallest function (a full
/// release build of one artifact costs minutes; its crates have no C code,
/// so the C flags are checked by the rules only).
pub const REPLAYED_ARTIFACT: &str = "cors";

/// Builds `name` with the flake's own derivations (the dependency build's
/// commands, then the build's, in one tree as crane's inheritCargoArtifacts
/// would chain them), zig and cargo-zigbuild included, under the sandbox's
/// conditions, and compares the binary with the `bootstrap` of dist's zip.
fn artifact(
    ws: &Workspace,
    dirs: &Dirs,
    plan: &Plan,
    host: &Host,
    dist: &Path,
    name: &str,
) -> anyhow::Result<()> {
    let system = host_system()?;
    let set = ws.artifacts()?;
    let target = set.settings.target.clone();
    let zip = plan.output(system, &format!("packages.{name}"))?;
    let binary = plan
        .inputs(zip)
        .into_iter()
        .chain(zip.input_drvs.iter().filter_map(|p| plan.drvs.get(p)))
        .find(|d| d.function() == Some("buildPackage") && d.builds_for(&target))
        .with_context(|| format!("packages.{name} has no crane build for {target}"))?;
    let deps = plan
        .by_out(binary.var("cargoArtifacts").unwrap_or_default())
        .with_context(|| format!("{} has no dependency build", binary.name()))?;
    let src = binary
        .recorded("src")
        .context("the artifact build has no source")?;
    let tree = dirs.base.join("artifact").join(tree_name(src));
    tree::sync(Path::new(src), &tree)?;
    let vendor = tree::vendor(ws, &tree.join("Cargo.lock"), &dirs.vendor())?;
    let overrides = Overrides {
        outputs: BTreeMap::from([(
            binary.var("cargoVendorDir").unwrap_or_default().to_owned(),
            vendor,
        )]),
        vars: BTreeMap::new(),
        lenient: false,
    };
    let build = Build::new(&dirs.builds(), plan, binary, host, &overrides)?;
    let env = build.environment(binary, &overrides);
    let mut script = build.rewrite(binary.var("prePatch").unwrap_or_default());
    script.push_str(CRANE_PRELUDE);
    for d in [deps, binary] {
        script.push_str(d.recorded("buildPhaseCargoCommand").unwrap_or_default());
        script.push('\n');
    }
    let started = Instant::now();
    let _ = std::fs::remove_dir_all(tree.join(".cargo-home"));
    build
        .run(&script, &tree, &env)
        .with_context(|| format!("the replay of {}", binary.name()))?;
    let artifact = set
        .get(name)
        .with_context(|| format!("no artifact {name}"))?;
    let built = tree
        .join("target")
        .join(&target)
        .join("release")
        .join(&artifact.binary);
    // Packed as the flake's zip derivation packs it (`lambda-pack zip`,
    // stdenv's SOURCE_DATE_EPOCH).
    let time = lambda_pack::archive::DosTime::from_source_date_epoch(Some("315532800"))?;
    let ours = lambda_pack::archive::function_zip(&built, time)?;
    let dist_zip = dist.join(format!("{name}.zip"));
    let theirs =
        std::fs::read(&dist_zip).with_context(|| format!("reading {}", dist_zip.display()))?;
    if ours != theirs {
        bail!(
            "{system} packages.{name}: the flake's recipe gives a {}-byte zip, `cargo xtask dist` a {}-byte one with other bytes: the two recipes differ",
            ours.len(),
            theirs.len()
        );
    }
    println!(
        "nix-replay: {system} packages.{name}: the flake's recipe, run in its own tree with crane's vendored crates, gives the very bytes of dist/{name}.zip ({} bytes, {:.1} s)",
        ours.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What the `local` phase runs after the app's wrapper has started the
/// stack in the background (`$app`, its log in `$log`): wait for the
/// summary, ask the gateway for the seeded user's profile with the token the
/// stack wrote (authorizer, then users, both cold-started from the app's
/// host builds; the authorizer fetches moto's JWKS with the HTTPS client
/// the root store of the app's closure lets it build; users reads
/// DynamoDB), then Ctrl-C.
const LOCAL_SCRIPT: &str = r#"
stop() { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
"$app" --host --port 0 --site replay.localhost --credential-source authorization >"$log" 2>&1 &
pid=$!
ready=""
for _ in $(seq 1 600); do
  if grep -q 'Ctrl-C stops everything' "$log"; then ready=1; break; fi
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.5
done
if [ -z "$ready" ]; then
  stop; cat "$log"
  echo "nix-replay: the app did not start the local stack" >&2
  exit 1
fi
api=$(sed -n 's/^  API  *\(http:[^ ]*\).*/\1/p' "$log")
authority=${api#http://}
port=${authority##*:}
token_file=$(sed -n 's/^  export LF_TOKEN="$(cat \(.*\))".*/\1/p' "$log")
token=$(cat "$token_file")
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /users/me HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n' "$authority" "$token" >&3
response=$(cat <&3)
exec 3<&-
status=$(printf '%s' "$response" | head -n 1 | tr -d '\r')
# Her profile, or users' own answer that she has none yet (the stack seeds
# profiles only for SMS users; auth's callback creates the others').
case "$status" in
  "HTTP/1.1 200 OK") expected='"alice@example.com"' ;;
  "HTTP/1.1 404 Not Found") expected='"profile_not_found"' ;;
  *) expected='<an answer from users>' ;;
esac
# (A 401 or 403 would be the gateway's or the authorizer's refusal.)
if ! printf '%s' "$response" | grep -q "$expected"; then
  stop; cat "$log"
  printf 'nix-replay: GET %s/users/me as alice answered:
%s
' "$api" "$response" >&2
  exit 1
fi
echo "nix-replay: GET $api/users/me as alice: authorizer allowed, users answered $status"
kill -INT "$pid"
code=0
wait "$pid" || code=$?
cat "$log"
if [ "$code" != 0 ] || ! grep -q 'stopping (interrupt)' "$log"; then
  echo "nix-replay: the stack exited with $code after Ctrl-C" >&2
  exit 1
fi
"#;

/// The binaries a native crane build installs: its `--bin` targets, else
/// each `-p` package's declared binary (the package name otherwise).
fn installed_binaries(drv: &Drv, set: &lambda_pack::spec::ArtifactSet) -> Vec<String> {
    let words = rules::effective_command(drv);
    let bins: Vec<String> = words
        .iter()
        .zip(words.iter().skip(1))
        .filter(|(flag, _)| *flag == "--bin")
        .map(|(_, bin)| bin.clone())
        .collect();
    if !bins.is_empty() {
        return bins;
    }
    rules::packages_of(drv)
        .into_iter()
        .map(|package| {
            set.artifacts
                .iter()
                .find(|a| a.package == package)
                .map_or(package, |a| a.binary.clone())
        })
        .collect()
}

/// `nix run .#local` on this machine's system: the app's crane builds run
/// as crane would, in their own tree, under the sandbox's conditions (they
/// reuse CI's target dir: after the e2e step, little is left to compile);
/// then the wrapper script, with those outputs and the programs of its
/// closure in place of the store paths, starts the stack in a user's
/// environment (no SSL_CERT_FILE, no /etc/ssl, HOME unusable, offline).
fn local(ws: &Workspace, dirs: &Dirs, plan: &Plan, host: &Host) -> anyhow::Result<()> {
    let system = host_system()?;
    let name = format!("apps.{}", rules::LOCAL_APP);
    let wrapper = plan.output(system, &name)?;
    let set = ws.artifacts()?;
    let started = Instant::now();
    let mut outputs: BTreeMap<String, PathBuf> = BTreeMap::new();
    for input in wrapper.input_drvs.iter().filter_map(|p| plan.drvs.get(p)) {
        if input.function() != Some("buildPackage") {
            continue;
        }
        run_crane(ws, dirs, plan, host, input, "")?;
        let profile_dir = match input.var("CARGO_PROFILE").unwrap_or("release") {
            "dev" => "debug",
            other => other,
        };
        let staged = dirs.builds().join(format!("app-{}", input.name()));
        if staged.exists() {
            std::fs::remove_dir_all(&staged)?;
        }
        std::fs::create_dir_all(staged.join("bin"))?;
        for binary in installed_binaries(input, &set) {
            let built = ws.target_dir.join(profile_dir).join(&binary);
            if !built.is_file() {
                bail!("{}: its build left no {}", input.name(), built.display());
            }
            sandbox::symlink(&built, &staged.join("bin").join(&binary))?;
        }
        outputs.insert(input.out().to_owned(), staged);
    }
    let overrides = Overrides {
        outputs,
        vars: BTreeMap::new(),
        lenient: false,
    };
    let build = Build::new(&dirs.builds(), plan, wrapper, host, &overrides)?;
    let mut env = build.environment(wrapper, &overrides);
    // `nix run` runs in the user's environment, not a builder's.
    env.remove("SSL_CERT_FILE");
    let app = build.top.join("app");
    let text = wrapper
        .recorded("text")
        .with_context(|| format!("{system} {name}: its script has no text"))?;
    std::fs::write(&app, format!("#!/bin/bash\n{}", build.rewrite(text)))?;
    sandbox::set_executable(&app)?;
    env.insert("app".into(), app.display().to_string());
    env.insert(
        "log".into(),
        build.top.join("local.log").display().to_string(),
    );
    std::fs::create_dir_all(build.top.join("work"))?;
    build
        .run(LOCAL_SCRIPT, &build.top.join("work"), &env)
        .with_context(|| format!("{system} {name} (nix run .#local)"))?;
    println!(
        "nix-replay: {system} {name}: the app started the local stack, answered alice's GET /users/me through the authorizer and users, and stopped on Ctrl-C ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Options of one replay.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub phases: Vec<Phase>,
    pub dist: PathBuf,
}

/// Runs the phases in order on the checkout's flake.
pub fn replay(ws: &Workspace, options: &Options) -> anyhow::Result<()> {
    let dirs = Dirs::new(ws)?;
    let flake = dirs.flake("checkout");
    copy_flake(&ws.root, &flake)?;
    let host = Host::discover()?;
    if !sandbox::isolation_available() {
        println!(
            "nix-replay: note: no network/mount namespace here (not root?): commands run offline-configured but not isolated"
        );
    }
    let plan = evaluate(ws, &flake)?;
    for phase in &options.phases {
        let started = Instant::now();
        match phase {
            Phase::Eval => lock_resolution(ws, &dirs, &plan, &host)?,
            Phase::Test => test(ws, &dirs, &plan, &host, "")?,
            Phase::Boot => boot(ws, &dirs, &plan, &host, &options.dist, &[])?,
            Phase::Artifact => artifact(ws, &dirs, &plan, &host, &options.dist, REPLAYED_ARTIFACT)?,
            Phase::Local => local(ws, &dirs, &plan, &host)?,
            Phase::Controls => controls::run(ws, &flake, &options.dist)?,
        }
        println!(
            "nix-replay: phase {phase:?} took {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
