//! `e2e`: runs the end-to-end suite against a local stack (what `cargo
//! xtask e2e` and CI run).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use e2e::{SuiteOptions, all_cases};
use local_stack::cli;

const USAGE: &str = "\
usage: e2e (--dist <dir> | --bin-dir <dir> [--root <workspace>]) [--stack-bin <local-stack>] [--only case,...]

  --dist <dir>       run the functions from the zips of a `cargo xtask dist` directory
  --bin-dir <dir>    run host builds instead (e.g. target/debug)
  --stack-bin <path> the local-stack binary, for the shutdown case
  --only <cases>     run only these cases

The stack's log is printed when a case fails, or always with E2E_LOG=1.";

fn parse(args: &[String]) -> Result<SuiteOptions, String> {
    let (mut artifacts, mut stack_bin, mut only) =
        (cli::ArtifactFlags::default(), None, Vec::new());
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        let mut value = || {
            iter.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        if artifacts.accept(flag, &mut value)? {
            continue;
        }
        match flag.as_str() {
            "--stack-bin" => stack_bin = Some(PathBuf::from(value()?)),
            "--only" => {
                only = value()?
                    .split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let artifacts = artifacts.artifacts()?;
    if let Some(unknown) = only
        .iter()
        .find(|o| !all_cases().iter().any(|c| c.name == o.as_str()))
    {
        let names: Vec<&str> = all_cases().iter().map(|c| c.name).collect();
        return Err(format!(
            "unknown case {unknown:?} (cases: {})",
            names.join(", ")
        ));
    }
    Ok(SuiteOptions {
        artifacts,
        stack_bin,
        only,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(options) => options,
        Err(message) => return cli::usage_error("e2e", &message, USAGE),
    };
    let mut out = std::io::stdout().lock();
    for case in all_cases()
        .iter()
        .filter(|c| options.only.is_empty() || options.only.iter().any(|o| o == c.name))
    {
        let _ = writeln!(out, "  {:<17} {}", case.name, case.what);
    }
    drop(out);
    cli::run_main("e2e", async {
        let report = e2e::run(&options).await?;
        let mut out = std::io::stdout().lock();
        if !report.passed() || std::env::var_os("E2E_LOG").is_some() {
            let _ = writeln!(
                out,
                "--- stack log ---\n{}--- end of stack log ---",
                report.log
            );
        }
        let _ = writeln!(out, "{}", report.render());
        Ok(if report.passed() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}
