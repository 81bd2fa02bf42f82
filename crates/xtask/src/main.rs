//! `cargo xtask`: the build without Nix, and everything CI runs.
//!
//! ```text
//! cargo xtask setup                      install prerequisites on Debian/Ubuntu
//! cargo xtask dist [--target aarch64-unknown-linux-musl|host] [--out dist] [--only a,b]
//! cargo xtask check [--dist dist] [--machine aarch64|x86_64]
//! cargo xtask smoke [--dist dist]
//! cargo xtask repro [--only a,b]
//! cargo xtask local [--dist dist|--host] [--port 4080] [--site ...] [--credential-source ...]
//! cargo xtask e2e [--dist dist|--host] [--only case,...]
//! cargo xtask nix-replay [--phase eval,test,boot,artifact,controls] [--dist dist]
//! cargo xtask ci
//! cargo xtask bench [--quick] [--no-build] [--skip-python] [--skip-micro] [--skip-qemu] ...
//! ```
//!
//! Relative paths are taken from the workspace root. Every command checks the
//! tools it needs first and stops with the command that installs a missing one.
// This is a command-line tool: its stdout is its interface.
#![allow(clippy::print_stdout)]

mod bench;
mod ci;
mod cli;
mod dist;
mod local;
mod prereq;
mod replay;
mod repro;
mod run;
mod smoke;
mod workspace;

use std::process::ExitCode;

use cli::Command;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match cli::parse(&args) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("xtask: {message}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    match execute(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: error: {}", error_chain(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, skipping a cause whose text the
/// message already holds (lambda-pack's errors print their source).
fn error_chain(error: &anyhow::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
    }
    message
}

fn execute(command: Command) -> anyhow::Result<()> {
    if let Command::Help = command {
        println!("{}", cli::USAGE);
        return Ok(());
    }
    let ws = workspace::Workspace::discover()?;
    match command {
        Command::Help => Ok(()),
        Command::Setup => prereq::setup(&ws),
        Command::Dist { target, out, only } => {
            let target = match target {
                Some(target) => target,
                None => ws.default_target()?,
            };
            prereq::require(&prereq::for_dist(&target))?;
            dist::dist(&ws, &ws.root, &target, &ws.resolve(&out), &only).map(|_| ())
        }
        Command::Check { dist, machine } => {
            let machine = machine.unwrap_or(ws.default_machine()?);
            dist::check(&ws.resolve(&dist), machine, dist::Strictness::Deployable)
        }
        Command::Smoke { dist } => smoke::smoke(&ws, &ws.resolve(&dist)),
        Command::Repro { only } => {
            let target = ws.default_target()?;
            prereq::require(&prereq::for_dist(&target))?;
            repro::repro(&ws, &target, &only)
        }
        Command::Ci => ci::ci(&ws),
        Command::Bench(args) => bench::bench(&ws, &args),
        Command::Local(args) => local::local(&ws, &args),
        Command::E2e(args) => local::e2e(&ws, &args),
        Command::NixReplay { phases, dist } => {
            prereq::require(&prereq::for_replay())?;
            let phases = if phases.is_empty() {
                vec![
                    replay::Phase::Eval,
                    replay::Phase::Test,
                    replay::Phase::Boot,
                    replay::Phase::Artifact,
                    replay::Phase::Local,
                    replay::Phase::Controls,
                ]
            } else {
                phases
                    .iter()
                    .map(|p| {
                        replay::Phase::parse(p).ok_or_else(|| {
                            anyhow::anyhow!(
                                "--phase {p}: expected eval, test, boot, artifact, local or controls"
                            )
                        })
                    })
                    .collect::<anyhow::Result<_>>()?
            };
            replay::replay(
                &ws,
                &replay::Options {
                    phases,
                    dist: ws.resolve(&dist),
                },
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_causes_are_printed_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let error = anyhow::Error::new(io).context("dist/manifest.json: No such file");
        assert_eq!(error_chain(&error), "dist/manifest.json: No such file");
        let error = anyhow::anyhow!("root cause").context("reading x");
        assert_eq!(error_chain(&error), "reading x: root cause");
    }
}
