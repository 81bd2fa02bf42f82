//! `nix-fmt [--check] [PATH...]`: formats the Nix files at or under each PATH
//! (default `.`); with `--check`, lists the unformatted ones and fails.
// A command-line tool: its stdout is its interface.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::ExitCode;

use nix_fmt::{Outcome, nix_files, process};

fn main() -> ExitCode {
    let mut check = false;
    let mut paths = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--check" | "-c" => check = true,
            "--version" => {
                println!("nix-fmt (nixfmt_rs {})", nix_fmt::NIXFMT_VERSION);
                return ExitCode::SUCCESS;
            }
            "-h" | "--help" => {
                println!("usage: nix-fmt [--check] [PATH...]");
                return ExitCode::SUCCESS;
            }
            _ if arg.starts_with('-') => {
                eprintln!("nix-fmt: unknown option {arg}\nusage: nix-fmt [--check] [PATH...]");
                return ExitCode::from(2);
            }
            _ => paths.push(PathBuf::from(arg)),
        }
    }
    if paths.is_empty() {
        paths.push(PathBuf::from("."));
    }
    let files = match nix_files(&paths) {
        Ok(files) => files,
        Err(error) => {
            eprintln!("nix-fmt: {error}");
            return ExitCode::FAILURE;
        }
    };
    let (mut formatted, mut failed) = (0, 0);
    for file in &files {
        match process(file, check) {
            Ok(Outcome::Formatted) => formatted += 1,
            Ok(Outcome::Changed) if check => {
                eprintln!("not formatted (run `nix fmt`): {}", file.display());
                failed += 1;
            }
            Ok(Outcome::Changed) => formatted += 1,
            Ok(Outcome::Invalid(message)) => {
                eprintln!("{}: {message}", file.display());
                failed += 1;
            }
            Err(error) => {
                eprintln!("{}: {error}", file.display());
                failed += 1;
            }
        }
    }
    println!("nixfmt: {formatted} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
