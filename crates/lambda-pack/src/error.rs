//! The one error type of lambda-pack.

use std::path::PathBuf;

/// Everything that can go wrong while reading the declaration, packaging,
/// writing the manifest or checking artifacts. Each variant renders as one
/// line that names the file (and key) at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path being read or written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The artifact declaration (Cargo.toml metadata) is invalid.
    #[error("{}: {key}: {message}", file.display())]
    Spec {
        /// The Cargo.toml at fault.
        file: PathBuf,
        /// The dotted key at fault, e.g. `package.metadata.lambda.kind`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// An input that must be an ELF executable is not one.
    #[error("{what}: not a usable ELF file: {message}")]
    Elf {
        /// The file (or zip entry) inspected.
        what: String,
        /// Why it was refused.
        message: String,
    },
    /// An input cannot be put into an archive (wrong file type, bad name, too big).
    #[error("{}: {message}", path.display())]
    Input {
        /// The offending path.
        path: PathBuf,
        /// Why it was refused.
        message: String,
    },
    /// An archive could not be read.
    #[error("{what}: not a readable zip archive: {message}")]
    Zip {
        /// The archive inspected.
        what: String,
        /// The reader's complaint.
        message: String,
    },
    /// manifest.json is missing, malformed or inconsistent.
    #[error("{}: {message}", path.display())]
    Manifest {
        /// The manifest path.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A setting from the environment (e.g. `SOURCE_DATE_EPOCH`) is invalid.
    #[error("{variable}: {message}")]
    Env {
        /// The variable name.
        variable: String,
        /// What is wrong with its value.
        message: String,
    },
    /// The command line is wrong.
    #[error("{0} (see lambda-pack --help)")]
    Usage(String),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
