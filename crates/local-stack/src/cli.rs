//! What the `local-stack` and `e2e` binaries share: usage errors and
//! running their async main on a small runtime.

use std::future::Future;
use std::io::Write as _;
use std::process::ExitCode;

/// Prints `message` (unless empty: `--help`) and `usage` to stderr; exit
/// code 2.
pub fn usage_error(program: &str, message: &str, usage: &str) -> ExitCode {
    let mut err = std::io::stderr().lock();
    if !message.is_empty() {
        let _ = writeln!(err, "{program}: {message}");
    }
    let _ = writeln!(err, "{usage}");
    ExitCode::from(2)
}

/// Runs `main` on a two-worker runtime (the stack's machines have two
/// cores); an error is printed as `program: message`, exit code 1.
pub fn run_main(program: &str, main: impl Future<Output = Result<ExitCode, String>>) -> ExitCode {
    let result = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|runtime| runtime.block_on(main));
    match result {
        Ok(code) => code,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "{program}: {message}");
            ExitCode::FAILURE
        }
    }
}
