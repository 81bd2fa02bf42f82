//! `lambda-emulator smoke --zip <file.zip> --cases <smoke.json> [--runner <prog>] [--timeout-secs N]`
//!
//! Boots a packaged function or extension layer against the in-process Lambda
//! API emulator and checks the canned cases; exit 1 on the first failure (with
//! the process's output), exit 2 on bad usage.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use lambda_emulator::{SmokeOptions, SmokeProgress, run_smoke};

const USAGE: &str = "usage: lambda-emulator smoke --zip <file.zip> --cases <smoke.json> [--runner <prog>] [--timeout-secs N]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse_args(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("lambda-emulator: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("lambda-emulator: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let artifact = options
        .zip
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let result = runtime.block_on(run_smoke(&options, |event| {
        let mut out = std::io::stdout().lock();
        // A closed stdout must not abort the run; the exit code still tells.
        let _ = match event {
            SmokeProgress::Started { startup } => writeln!(
                out,
                "smoke {artifact}: started in {:.1} ms (process start to first next)",
                millis(*startup)
            ),
            SmokeProgress::CasePassed(case) => {
                writeln!(out, "ok   {} ({:.1} ms)", case.name, millis(case.duration))
            }
            SmokeProgress::SecrecyChecked(report) => {
                writeln!(out, "secrecy {artifact}: {report}")
            }
        };
    }));
    match result {
        Ok(report) => {
            let _ = writeln!(
                std::io::stdout().lock(),
                "smoke {artifact}: {} cases passed",
                report.cases.len()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("FAIL {artifact}: {error}");
            ExitCode::from(1)
        }
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn parse_args(args: &[String]) -> Result<SmokeOptions, String> {
    let Some((command, rest)) = args.split_first() else {
        return Err("missing command".into());
    };
    if command != "smoke" {
        return Err(format!("unknown command {command:?}"));
    }
    let mut zip = None;
    let mut cases = None;
    let mut runner = Vec::new();
    let mut timeout = None;
    let mut iter = rest.iter();
    while let Some(flag) = iter.next() {
        let mut value = || {
            iter.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--zip" => zip = Some(value()?),
            "--cases" => cases = Some(value()?),
            // A runner with arguments ("qemu-aarch64-static -cpu max") is split on spaces.
            "--runner" => runner = value()?.split_whitespace().map(str::to_owned).collect(),
            "--timeout-secs" => {
                let raw = value()?;
                let secs: u64 = raw.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                    format!("--timeout-secs: expected a positive integer, got {raw:?}")
                })?;
                timeout = Some(Duration::from_secs(secs));
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let mut options = SmokeOptions::new(
        zip.ok_or("--zip is required")?,
        cases.ok_or("--cases is required")?,
    );
    options.runner = runner;
    if let Some(timeout) = timeout {
        options.timeout = timeout;
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_every_flag() {
        let options = parse_args(&args(&[
            "smoke",
            "--zip",
            "dist/cors.zip",
            "--cases",
            "crates/cors/smoke.json",
            "--runner",
            "qemu-aarch64-static",
            "--timeout-secs",
            "7",
        ]))
        .unwrap();
        assert_eq!(options.zip, std::path::Path::new("dist/cors.zip"));
        assert_eq!(
            options.cases,
            std::path::Path::new("crates/cors/smoke.json")
        );
        assert_eq!(options.runner, vec!["qemu-aarch64-static"]);
        assert_eq!(options.timeout, Duration::from_secs(7));
    }

    #[test]
    fn zip_and_cases_are_required() {
        assert_eq!(
            parse_args(&args(&["smoke", "--cases", "s.json"])).unwrap_err(),
            "--zip is required"
        );
        assert_eq!(
            parse_args(&args(&["smoke", "--zip", "a.zip"])).unwrap_err(),
            "--cases is required"
        );
    }

    #[test]
    fn rejects_unknown_commands_flags_and_bad_timeouts() {
        assert!(parse_args(&args(&["run"])).is_err());
        assert!(parse_args(&args(&["smoke", "--zap", "x"])).is_err());
        assert!(
            parse_args(&args(&[
                "smoke",
                "--zip",
                "a",
                "--cases",
                "b",
                "--timeout-secs",
                "0"
            ]))
            .is_err()
        );
        assert!(parse_args(&args(&["smoke", "--zip"])).is_err());
    }
}
