//! `iam-audit [--workspace <dir>]`: prints, per function, the AWS actions
//! its source needs and what `terraform/iam/policies.json` grants; exits 1
//! when they differ (see the crate docs).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = match args.as_slice() {
        [] => PathBuf::from("."),
        [flag, dir] if flag == "--workspace" => PathBuf::from(dir),
        _ => {
            eprintln!("usage: iam-audit [--workspace <dir>]");
            return ExitCode::from(2);
        }
    };
    match iam_audit::audit(&root) {
        Ok(report) => {
            let mut stdout = std::io::stdout().lock();
            if stdout.write_all(report.render().as_bytes()).is_err() {
                return ExitCode::FAILURE;
            }
            if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("iam-audit: {e}");
            ExitCode::FAILURE
        }
    }
}
