//! `local` and `e2e`: the whole API on loopback (crates/local-stack) and
//! the end-to-end suite against it (crates/e2e).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use lambda_pack::manifest;
use lambda_pack::spec::Kind;

use crate::prereq::{self, Tool};
use crate::run::{describe, run};
use crate::workspace::Workspace;

/// `cargo xtask local` options (passed on to `local-stack`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalArgs {
    /// The zips to run (`None`: `dist/` when it holds a manifest, else host builds).
    pub dist: Option<PathBuf>,
    /// Host builds even when `dist/` exists.
    pub host: bool,
    /// Flags for `local-stack` as they are (`--port`, `--site`, ...).
    pub stack_flags: Vec<String>,
}

/// `cargo xtask e2e` options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct E2eArgs {
    /// The zips to run (`None`: as for `local`).
    pub dist: Option<PathBuf>,
    /// Host builds.
    pub host: bool,
    /// Cases to run; empty means all.
    pub only: Vec<String>,
}

/// Where the functions come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Functions {
    Dist(PathBuf),
    Host,
}

fn choose(ws: &Workspace, dist: Option<&Path>, host: bool) -> anyhow::Result<Functions> {
    if host {
        if dist.is_some() {
            bail!("--host and --dist exclude each other");
        }
        return Ok(Functions::Host);
    }
    match dist {
        Some(dir) => {
            let dir = ws.resolve(dir);
            if !dir.join(manifest::FILE_NAME).is_file() {
                bail!(
                    "{} has no {}: run `cargo xtask dist` (or use --host)",
                    dir.display(),
                    manifest::FILE_NAME
                );
            }
            Ok(Functions::Dist(dir))
        }
        None => {
            let default = ws.root.join("dist");
            Ok(if default.join(manifest::FILE_NAME).is_file() {
                Functions::Dist(default)
            } else {
                Functions::Host
            })
        }
    }
}

/// `cargo build --locked -p ...` (debug) from the workspace root.
fn build(ws: &Workspace, packages: &[String]) -> anyhow::Result<()> {
    let mut command = Command::new(&ws.cargo);
    command.current_dir(&ws.root).args(["build", "--locked"]);
    for package in packages {
        command.args(["-p", package]);
    }
    run(&mut command)
}

/// The tools the stack needs for `functions`, and the flags telling
/// `local-stack`/`e2e` where the functions are (building host ones).
fn prepare(
    ws: &Workspace,
    functions: &Functions,
    tools: &mut Vec<Tool>,
) -> anyhow::Result<Vec<OsString>> {
    tools.push(Tool::MotoServer);
    match functions {
        Functions::Dist(dir) => {
            tools.extend(prereq::for_smoke(ws.default_machine()?));
            Ok(vec!["--dist".into(), dir.into()])
        }
        Functions::Host => {
            let packages: Vec<String> = ws
                .artifacts()?
                .artifacts
                .iter()
                .filter(|a| a.kind == Kind::Function)
                .map(|a| a.package.clone())
                .collect();
            println!(
                "local: no dist/manifest.json (or --host): running host builds of {}",
                packages.join(", ")
            );
            build(ws, &packages)?;
            Ok(vec![
                "--bin-dir".into(),
                ws.target_dir.join("debug").into(),
                "--root".into(),
                ws.root.clone().into(),
            ])
        }
    }
}

/// Builds `local-stack` and replaces this process with it, so that Ctrl-C
/// and SIGTERM reach it directly.
pub fn local(ws: &Workspace, args: &LocalArgs) -> anyhow::Result<()> {
    let functions = choose(ws, args.dist.as_deref(), args.host)?;
    let mut tools = Vec::new();
    let mut flags = prepare(ws, &functions, &mut tools)?;
    prereq::require(&tools)?;
    build(ws, &["local-stack".to_owned()])?;
    flags.extend(args.stack_flags.iter().map(OsString::from));
    let mut command = Command::new(ws.target_dir.join("debug/local-stack"));
    command.current_dir(&ws.root).args(&flags);
    let line = describe(&command);
    eprintln!("$ {line}");
    use std::os::unix::process::CommandExt as _;
    let error = command.exec();
    Err(error).with_context(|| format!("cannot start `{line}`"))
}

/// Builds `local-stack` and `e2e` and runs the suite.
pub fn e2e(ws: &Workspace, args: &E2eArgs) -> anyhow::Result<()> {
    let functions = choose(ws, args.dist.as_deref(), args.host)?;
    let mut tools = vec![Tool::Chromium, Tool::Chromedriver];
    let mut flags = prepare(ws, &functions, &mut tools)?;
    prereq::require(&tools)?;
    build(ws, &["local-stack".to_owned(), "e2e".to_owned()])?;
    flags.push("--stack-bin".into());
    flags.push(ws.target_dir.join("debug/local-stack").into());
    if !args.only.is_empty() {
        flags.push("--only".into());
        flags.push(args.only.join(",").into());
    }
    run(Command::new(ws.target_dir.join("debug/e2e"))
        .current_dir(&ws.root)
        .args(&flags))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dist_is_used_when_it_has_a_manifest_else_host_builds() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::in_dir(dir.path());
        assert_eq!(choose(&ws, None, false).unwrap(), Functions::Host);
        std::fs::create_dir_all(dir.path().join("dist")).unwrap();
        std::fs::write(dir.path().join("dist/manifest.json"), "{}").unwrap();
        assert_eq!(
            choose(&ws, None, false).unwrap(),
            Functions::Dist(dir.path().join("dist"))
        );
        assert_eq!(choose(&ws, None, true).unwrap(), Functions::Host);
        assert!(
            choose(&ws, Some(Path::new("elsewhere")), false)
                .unwrap_err()
                .to_string()
                .contains("cargo xtask dist")
        );
        assert!(choose(&ws, Some(Path::new("dist")), true).is_err());
    }
}
