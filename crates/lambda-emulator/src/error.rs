//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while emulating Lambda or running a smoke test.
///
/// Variants that concern the function process carry its captured output (`log`)
/// so a failure can be diagnosed from the message alone.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A zip archive could not be read.
    #[error("{path}: not a readable zip archive: {message}")]
    Zip {
        /// The archive.
        path: PathBuf,
        /// What the zip reader reported.
        message: String,
    },
    /// An archive does not have the layout Lambda expects.
    #[error("{path}: {message}")]
    Layout {
        /// The archive.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A smoke.json file is missing, malformed or inconsistent.
    #[error("{path}: {message}")]
    Spec {
        /// The smoke.json file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The process could not be started at all.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The program that was executed.
        program: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The function reported an error to `/runtime/init/error`.
    #[error("init failed: {error_type}: {error_message}\n{log}")]
    Init {
        /// `errorType` of the posted diagnostic.
        error_type: String,
        /// `errorMessage` of the posted diagnostic.
        error_message: String,
        /// Captured stdout/stderr of the process.
        log: String,
    },
    /// The process exited while the emulator still expected it to run (or exited
    /// with a failure status where a clean exit was required).
    #[error("process exited ({status}) {during}\n{log}")]
    Exited {
        /// Exit status as printed by the OS.
        status: String,
        /// The phase it exited in.
        during: String,
        /// Captured stdout/stderr of the process.
        log: String,
    },
    /// Something did not happen in time.
    #[error("timed out after {seconds} s waiting for {what}\n{log}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// The limit that was exceeded.
        seconds: f64,
        /// Captured stdout/stderr of the process (empty when there is none).
        log: String,
    },
    /// A smoke case got an answer that does not match its expectation.
    #[error("case `{case}` failed: {reason}\n{log}")]
    CaseFailed {
        /// The case name from smoke.json.
        case: String,
        /// Why it failed.
        reason: String,
        /// Captured stdout/stderr of the process.
        log: String,
    },
    /// A secret of the smoke spec appeared in the function's output at
    /// TRACE (the line is shown with every secret masked).
    #[error(
        "case `{case}`: a {kind} ({excerpt}...) appears in the output at RUST_LOG=trace / AWS_LAMBDA_LOG_LEVEL=TRACE:\n{line}"
    )]
    SecretLogged {
        /// The case whose run printed the line.
        case: String,
        /// What kind of secret.
        kind: String,
        /// Its first characters.
        excerpt: String,
        /// The line, secrets masked.
        line: String,
    },
    /// An HTTP exchange made by the emulator failed.
    #[error("HTTP {method} {url}: {message}")]
    Http {
        /// Request method.
        method: String,
        /// Target URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// moto could not be started for a smoke spec's `moto` key, or its tables
    /// could not be created.
    #[error("moto: {0}")]
    Moto(#[from] moto_harness::HarnessError),
    /// An emulator API was used in a way it does not support.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// The captured process output attached to this error, when there is one.
    pub fn log(&self) -> Option<&str> {
        match self {
            Self::Init { log, .. }
            | Self::Exited { log, .. }
            | Self::Timeout { log, .. }
            | Self::CaseFailed { log, .. } => Some(log),
            _ => None,
        }
    }
}
