//! Why the stack could not start or do what was asked.

/// The stack's errors; each says which piece failed.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// A file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// moto could not be started or seeded.
    #[error("moto: {0}")]
    Moto(String),
    /// The routes could not be read.
    #[error("routes from {origin}: {message}")]
    Routes {
        /// Where they were read from.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// The artifacts (zips or host binaries) could not be used.
    #[error("artifacts: {0}")]
    Artifacts(String),
    /// A function did not start.
    #[error("function {name} did not start: {message}")]
    FunctionStart {
        /// The function.
        name: String,
        /// Why, with its output.
        message: String,
    },
    /// The configuration is inconsistent.
    #[error("configuration: {0}")]
    Config(String),
}

impl StackError {
    /// An [`StackError::Io`].
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}
