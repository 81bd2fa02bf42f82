//! `ci`: everything CI runs, as one ordered list of named steps.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::cli::BuildTarget;
use crate::run::{probe, run};
use crate::workspace::Workspace;
use crate::{dist, local, prereq, repro, smoke};

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `cargo <args>` from the workspace root.
    Cargo(Vec<String>),
    /// Any program from the workspace root (terraform, checkov, nix, ...).
    Run { program: String, args: Vec<String> },
    /// The workspace's tests: the flake's `workspace-nextest` replayed under
    /// a Nix sandbox's conditions (so CI and `nix flake check` run the same
    /// test command in the same conditions), then the doc tests.
    Tests,
    /// A phase of `cargo xtask nix-replay`.
    NixReplay(crate::replay::Phase),
    /// `cargo xtask dist` for the declared target into dist/.
    Dist,
    /// `cargo xtask check` of dist/.
    Check,
    /// `cargo xtask smoke` of dist/.
    Smoke,
    /// `cargo xtask e2e` on dist/: the local stack and the end-to-end suite.
    E2e,
    /// `cargo xtask repro`.
    Repro,
    /// No function links `ring`: aws-lc-rs is the one crypto provider.
    CryptoStack,
    /// No function links two HTTP client stacks: the AWS SDK sends through
    /// the same reqwest client as the third-party calls.
    HttpStack,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: &'static str,
    pub action: Action,
}

impl Step {
    fn new(name: &'static str, action: Action) -> Self {
        Self { name, action }
    }

    fn cargo(name: &'static str, args: &[&str]) -> Self {
        Self::new(
            name,
            Action::Cargo(args.iter().map(|a| (*a).to_owned()).collect()),
        )
    }

    /// A step running an external program, e.g.
    /// `Step::run("terraform fmt", "terraform", &["fmt", "-check", "-recursive", "terraform"])`.
    fn run(name: &'static str, program: &str, args: &[&str]) -> Self {
        Self::new(
            name,
            Action::Run {
                program: program.to_owned(),
                args: args.iter().map(|a| (*a).to_owned()).collect(),
            },
        )
    }
}

/// The CI pipeline, in order; the first failure stops it. Add a step here (and
/// its tool to `prereq::for_ci`) and both `cargo xtask ci` and `.ci/run` run it.
pub fn steps() -> Vec<Step> {
    vec![
        Step::cargo("fmt", &["fmt", "--all", "--", "--check"]),
        Step::cargo(
            "clippy",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--locked",
                "--",
                "-D",
                "warnings",
            ],
        ),
        Step::run("nix", "bash", &["nix/tests/run.sh"]),
        Step::new("nix-eval", Action::NixReplay(crate::replay::Phase::Eval)),
        Step::new("test", Action::Tests),
        Step::new("crypto", Action::CryptoStack),
        Step::new("http-stack", Action::HttpStack),
        Step::run("actionlint", "actionlint", &[".github/workflows/nix.yml"]),
        Step::run("taplo", "taplo", &["fmt", "--check"]),
        Step::run("terraform", "bash", &["terraform/scripts/ci.sh"]),
        Step::new("dist", Action::Dist),
        Step::new("check", Action::Check),
        Step::new("smoke", Action::Smoke),
        Step::new("e2e", Action::E2e),
        Step::new("nix-local", Action::NixReplay(crate::replay::Phase::Local)),
        Step::run(
            "tf-dist",
            "bash",
            &["terraform/scripts/check-dist.sh", "dist"],
        ),
        Step::new("repro", Action::Repro),
        Step::new("nix-boot", Action::NixReplay(crate::replay::Phase::Boot)),
        Step::new(
            "nix-artifact",
            Action::NixReplay(crate::replay::Phase::Artifact),
        ),
        Step::new(
            "nix-controls",
            Action::NixReplay(crate::replay::Phase::Controls),
        ),
    ]
}

/// The cargo invocation of the test step after the replayed nextest: the doc
/// tests, which nextest does not run.
pub fn doc_test_command() -> Vec<String> {
    "test --workspace --locked --doc"
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn replay(ws: &Workspace, phase: crate::replay::Phase) -> anyhow::Result<()> {
    crate::replay::replay(
        ws,
        &crate::replay::Options {
            phases: vec![phase],
            dist: ws.root.join("dist"),
        },
    )
}

fn execute(ws: &Workspace, target: &BuildTarget, action: &Action) -> anyhow::Result<()> {
    let dist_dir = ws.root.join("dist");
    let cargo = |args: &[String]| run(Command::new(&ws.cargo).current_dir(&ws.root).args(args));
    match action {
        Action::Cargo(args) => cargo(args),
        Action::Run { program, args } => {
            run(Command::new(program).current_dir(&ws.root).args(args))
        }
        Action::Tests => {
            replay(ws, crate::replay::Phase::Test)?;
            cargo(&doc_test_command())
        }
        Action::NixReplay(phase) => replay(ws, *phase),
        Action::Dist => dist::dist(ws, &ws.root, target, &dist_dir, &[]).map(|_| ()),
        Action::Check => dist::check(
            &dist_dir,
            crate::workspace::machine_of(target)?,
            dist::Strictness::Deployable,
        ),
        Action::Smoke => smoke::smoke(ws, &dist_dir),
        Action::E2e => local::e2e(
            ws,
            &local::E2eArgs {
                dist: Some(dist_dir),
                ..local::E2eArgs::default()
            },
        ),
        Action::Repro => repro::repro(ws, target, &[]),
        Action::CryptoStack => crypto_stack(ws, target),
        Action::HttpStack => http_stack(ws, target),
    }
}

/// Crates that must never be linked into a function: the one crypto
/// provider is aws-lc-rs (rustls, the AWS SDK and jsonwebtoken share it).
const FORBIDDEN_CRATES: &[&str] = &["ring", "openssl", "openssl-sys", "native-tls"];

/// The crate names in one `cargo tree --prefix none --format {p}` listing,
/// sorted, each once.
pub fn crate_names(tree: &str) -> Vec<&str> {
    let mut names: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The forbidden crates found in one `cargo tree --prefix none --format {p}` listing.
pub fn forbidden_in(tree: &str) -> Vec<String> {
    crate_names(tree)
        .into_iter()
        .filter(|name| FORBIDDEN_CRATES.contains(name))
        .map(str::to_owned)
        .collect()
}

/// The crates that each bring a whole HTTP client (connection pool, TLS
/// connector, request API), with what they are. A function links at most
/// one; the Lambda runtime's own plain-HTTP client for the Runtime API is
/// not among them (reqwest is built on the same hyper-util client).
const HTTP_CLIENT_STACKS: &[(&str, &str)] = &[
    ("reqwest", "reqwest"),
    (
        "aws-smithy-http-client",
        "the AWS SDK's default HTTPS client (hyper-rustls)",
    ),
    ("hyper-tls", "hyper-tls"),
    ("isahc", "isahc"),
    ("ureq", "ureq"),
    ("attohttpc", "attohttpc"),
    ("surf", "surf"),
];

/// The HTTP client stacks found in one `cargo tree --prefix none --format {p}`
/// listing, described, in [`HTTP_CLIENT_STACKS`] order.
pub fn http_stacks_in(tree: &str) -> Vec<&'static str> {
    let names = crate_names(tree);
    HTTP_CLIENT_STACKS
        .iter()
        .filter(|(krate, _)| names.contains(krate))
        .map(|(_, what)| *what)
        .collect()
}

/// `package`'s normal (linked) dependency graph for `triple` (`all` for
/// every target) in the workspace at `root`, as `cargo tree --prefix none
/// --format {p}` lists it.
pub fn linked_tree(
    cargo: &Path,
    root: &Path,
    triple: &str,
    package: &str,
) -> anyhow::Result<String> {
    let output = Command::new(cargo)
        .current_dir(root)
        .stdin(std::process::Stdio::null())
        .args(["tree", "--locked", "-e", "normal", "--target", triple])
        .args(["-p", package, "--prefix", "none", "--format", "{p}"])
        .output()
        .context("starting cargo tree")?;
    if !output.status.success() {
        anyhow::bail!(
            "cargo tree failed for {package} in {}: {}",
            root.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Each artifact's [`linked_tree`] for `target`.
fn linked_trees(ws: &Workspace, target: &BuildTarget) -> anyhow::Result<Vec<(String, String)>> {
    let triple = match target {
        BuildTarget::Triple(triple) => triple.as_str(),
        BuildTarget::Host => "all",
    };
    let set = ws.artifacts()?;
    let mut trees = Vec::new();
    for artifact in &set.artifacts {
        let tree = linked_tree(&ws.cargo, &ws.root, triple, &artifact.package)?;
        trees.push((artifact.name.clone(), tree));
    }
    Ok(trees)
}

fn http_stack(ws: &Workspace, target: &BuildTarget) -> anyhow::Result<()> {
    let mut offenders = Vec::new();
    for (name, tree) in linked_trees(ws, target)? {
        let found = http_stacks_in(&tree);
        println!(
            "{name}: {}",
            if found.is_empty() {
                "no HTTP client".to_owned()
            } else {
                found.join(" + ")
            }
        );
        if found.len() > 1 {
            offenders.push(format!("{name} links {}", found.join(" and ")));
        }
    }
    if offenders.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "a second HTTP client stack is linked (build the SDK clients with aws-env, \
             whose HTTPS client the third-party calls share): {}",
            offenders.join("; ")
        )
    }
}

fn crypto_stack(ws: &Workspace, target: &BuildTarget) -> anyhow::Result<()> {
    let mut offenders = Vec::new();
    for (name, tree) in linked_trees(ws, target)? {
        let found = forbidden_in(&tree);
        println!(
            "{name}: {}",
            if found.is_empty() {
                "aws-lc-rs only".to_owned()
            } else {
                found.join(", ")
            }
        );
        if !found.is_empty() {
            offenders.push(format!("{name} links {}", found.join(", ")));
        }
    }
    if offenders.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "a second crypto/TLS stack is linked: {}",
            offenders.join("; ")
        )
    }
}

fn summary(done: &[(&str, Duration)], failed: Option<&str>) -> String {
    let mut out = String::from("ci summary:\n");
    for (name, took) in done {
        out.push_str(&format!("  {name:<10} {:>8.1} s\n", took.as_secs_f64()));
    }
    let total: f64 = done.iter().map(|(_, d)| d.as_secs_f64()).sum();
    // Not "N passed, N failed": CI tooling would read that as a test count.
    match failed {
        None => out.push_str(&format!(
            "ci: all {} steps succeeded in {total:.1} s",
            done.len()
        )),
        Some(name) => out.push_str(&format!("ci: stopped at step `{name}` after {total:.1} s")),
    }
    out
}

pub fn ci(ws: &Workspace) -> anyhow::Result<()> {
    let target = ws.default_target()?;
    prereq::require(&prereq::for_ci(&target)?)?;
    warn_if_disk_is_short(ws);
    let steps = steps();
    let mut done: Vec<(&str, Duration)> = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        println!("\n==> [{}/{}] {}", index + 1, steps.len(), step.name);
        let started = Instant::now();
        let result = execute(ws, &target, &step.action);
        let took = started.elapsed();
        done.push((step.name, took));
        match result {
            Ok(()) => println!("<== {} ok ({:.1} s)", step.name, took.as_secs_f64()),
            Err(error) => {
                println!("<== {} FAILED ({:.1} s)", step.name, took.as_secs_f64());
                println!("\n{}", summary(&done, Some(step.name)));
                return Err(error).with_context(|| format!("ci step `{}` failed", step.name));
            }
        }
    }
    println!("\n{}", summary(&done, None));
    Ok(())
}

/// What a full run from a clean clone leaves under the target directory
/// (measured: 7.7 GiB), plus room for the peaks in between.
const DISK_NEEDED_KIB: u64 = 12 * 1024 * 1024;

/// Says so up front when the target directory's file system has less room
/// than a full run needs: a full disk shows up much later and far from its
/// cause, as a linker killed by SIGBUS or an I/O error in a test.
fn warn_if_disk_is_short(ws: &Workspace) {
    let dir = ws
        .target_dir
        .ancestors()
        .find(|dir| dir.exists())
        .unwrap_or(&ws.root);
    let Some(available) = probe(Command::new("df").arg("-Pk").arg(dir))
        .as_deref()
        .and_then(available_kib)
    else {
        return;
    };
    if available < DISK_NEEDED_KIB {
        println!(
            "ci: warning: {:.1} GiB free on the file system of {} (a full run writes about {} GiB); \
             if a step dies with `Bus error` or `No space left on device`, free some space first",
            available as f64 / (1024.0 * 1024.0),
            dir.display(),
            DISK_NEEDED_KIB / (1024 * 1024),
        );
    }
}

/// The "Available" column (KiB) of `df -Pk <dir>`'s one data line.
fn available_kib(df_output: &str) -> Option<u64> {
    df_output
        .lines()
        .nth(1)?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn available_space_is_read_from_posix_df_output() {
        let output = "Filesystem     1024-blocks     Used Available Capacity Mounted on\n\
                      /dev/vda         264091588 19581780  76404224      21% /\n";
        assert_eq!(available_kib(output), Some(76_404_224));
        assert_eq!(
            available_kib("Filesystem 1024-blocks Used Available\n"),
            None
        );
        assert_eq!(available_kib("header\n/dev/vda 1 2 lots 3% /\n"), None);
    }

    #[test]
    fn cargo_tree_output_becomes_crate_names() {
        let tree =
            "sms v0.1.0 (/ws/crates/sms)\nring v0.17.14\nrustls v0.23.46\nring v0.17.14 (*)\n\n";
        assert_eq!(crate_names(tree), ["ring", "rustls", "sms"]);
    }

    #[test]
    fn forbidden_crypto_crates_are_found_by_exact_name() {
        let tree = "cors v0.1.0 (/w/crates/cors)\nring v0.17.14\nrustls v0.23.46\nring v0.17.14\nringbuf v0.3.0\n";
        assert_eq!(forbidden_in(tree), vec!["ring".to_owned()]);
        assert!(forbidden_in("aws-lc-rs v1.19.0\nrustls v0.23.46\n").is_empty());
    }

    #[test]
    fn http_client_stacks_are_counted_by_exact_crate_name() {
        let sdk_and_reqwest = "sms v0.1.0 (/w/crates/sms)\naws-smithy-http-client v1.5.2\n\
                               hyper-rustls v0.27.10\nreqwest v0.13.5\nreqwest v0.13.5\n";
        assert_eq!(
            http_stacks_in(sdk_and_reqwest),
            [
                "reqwest",
                "the AWS SDK's default HTTPS client (hyper-rustls)"
            ]
        );
        // The runtime's hyper-util client and hyper-rustls are shared by
        // reqwest: one stack.
        let one = "auth v0.1.0\nhyper-util v0.1.21\nhyper-rustls v0.27.10\nreqwest v0.13.5\n\
                   aws-smithy-runtime v1.16.2\nreqwest-middleware v0.4.0\n";
        assert_eq!(http_stacks_in(one), ["reqwest"]);
        assert!(
            http_stacks_in("cors v0.1.0\nlambda_runtime v1.5.0\nhyper-util v0.1.21\n").is_empty()
        );
    }

    #[test]
    fn steps_run_in_the_documented_order() {
        let names: Vec<&str> = steps().iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "fmt",
                "clippy",
                "nix",
                "nix-eval",
                "test",
                "crypto",
                "http-stack",
                "actionlint",
                "taplo",
                "terraform",
                "dist",
                "check",
                "smoke",
                "e2e",
                "nix-local",
                "tf-dist",
                "repro",
                "nix-boot",
                "nix-artifact",
                "nix-controls"
            ]
        );
    }

    #[test]
    fn fmt_and_clippy_are_the_exact_cargo_commands() {
        let steps = steps();
        assert_eq!(
            steps[0].action,
            Action::Cargo(vec![
                "fmt".into(),
                "--all".into(),
                "--".into(),
                "--check".into()
            ])
        );
        let Action::Cargo(clippy) = &steps[1].action else {
            panic!("clippy is a cargo step")
        };
        assert_eq!(
            clippy.join(" "),
            "clippy --workspace --all-targets --locked -- -D warnings"
        );
    }

    #[test]
    fn the_test_step_replays_the_flake_s_nextest_then_runs_the_doc_tests() {
        let test = steps().into_iter().find(|s| s.name == "test").unwrap();
        assert_eq!(test.action, Action::Tests);
        assert_eq!(
            doc_test_command().join(" "),
            "test --workspace --locked --doc"
        );
    }

    #[test]
    fn the_boot_replay_and_the_controls_run_after_dist() {
        let names: Vec<&str> = steps().iter().map(|s| s.name).collect();
        let at = |n: &str| names.iter().position(|x| *x == n).unwrap();
        assert!(at("nix-boot") > at("dist"));
        assert!(at("nix-artifact") > at("dist"));
        assert!(at("nix-controls") > at("nix-boot"));
        assert!(at("nix-eval") < at("test"));
        // After e2e, whose host builds the app's crane builds then reuse.
        assert!(at("nix-local") > at("e2e"));
    }

    #[test]
    fn external_steps_carry_program_and_arguments() {
        let step = Step::run("terraform fmt", "terraform", &["fmt", "-check"]);
        assert_eq!(
            step.action,
            Action::Run {
                program: "terraform".into(),
                args: vec!["fmt".into(), "-check".into()]
            }
        );
    }

    #[test]
    fn the_summary_lists_step_times_and_never_looks_like_a_test_count() {
        let done = [
            ("fmt", Duration::from_millis(1500)),
            ("clippy", Duration::from_secs(30)),
        ];
        let ok = summary(&done, None);
        assert!(ok.contains("  fmt             1.5 s\n"), "{ok}");
        assert!(ok.ends_with("ci: all 2 steps succeeded in 31.5 s"), "{ok}");
        assert!(!ok.contains("passed"));
        let failed = summary(&done, Some("clippy"));
        assert!(
            failed.ends_with("ci: stopped at step `clippy` after 31.5 s"),
            "{failed}"
        );
    }

    #[test]
    fn a_failing_external_step_fails_with_its_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::in_dir(dir.path());
        let target = BuildTarget::Host;
        let failing = Step::run("lint", "sh", &["-c", "exit 3"]);
        let err = execute(&ws, &target, &failing.action)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`sh -c 'exit 3'` failed"), "{err}");
        let passing = Step::run("lint", "true", &[]);
        assert!(execute(&ws, &target, &passing.action).is_ok());
    }
}
