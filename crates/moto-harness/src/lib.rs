//! Test support for crates that talk to AWS: a [`MotoServer`] runs
//! `moto_server` (the moto AWS emulator) on a free loopback port for the
//! life of a value, and hands out an [`aws_config::SdkConfig`] pointed at it
//! with dummy credentials in `us-east-1`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), moto_harness::HarnessError> {
//! let moto = moto_harness::MotoServer::start()?;
//! let config = moto.sdk_config().await;
//! // aws_sdk_dynamodb::Client::new(&config) ...
//! # Ok(()) }
//! ```
//!
//! [`create_tables_from_schema`] creates the tables of
//! `terraform/schema/dynamodb.json` in it; the SDK is re-exported as
//! [`aws_sdk_dynamodb`] so users need no version of their own;
//! [`put_items`] and [`create_secret`] seed data; [`StreamReader`] reads a
//! table's DynamoDB stream as Lambda's event source mapping would.

mod schema;
mod seed;
mod shared;
mod stream;

pub use aws_sdk_dynamodb;
pub use aws_sdk_secretsmanager;
pub use schema::{
    IndexSchema, Schema, TableSchema, create_table, create_table_from_schema,
    create_tables_from_schema,
};
pub use seed::{create_secret, item_from_json, put_items};
pub use shared::SharedMoto;
pub use stream::StreamReader;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

/// The program started; found on `PATH`, or at `MOTO_SERVER_BIN` when set.
pub const MOTO_SERVER: &str = "moto_server";
/// How to install it, quoted in the error when it is missing.
pub const INSTALL_HINT: &str = "install it with: pip install 'moto[server]'";
/// The region every client built from [`MotoServer::sdk_config`] uses.
pub const REGION: &str = "us-east-1";
/// The account id moto uses for ARNs.
pub const ACCOUNT_ID: &str = "123456789012";

/// moto imports a large Python package tree before listening; a cold
/// start on a busy two-core machine can take several seconds.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// `moto_server` is not installed.
    #[error("`{program}` was not found: {hint}")]
    NotInstalled {
        /// The program looked for.
        program: String,
        /// [`INSTALL_HINT`].
        hint: &'static str,
    },
    /// Starting the process or finding a port failed.
    #[error("cannot start `{program}`: {source}")]
    Io {
        /// The program started.
        program: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The process exited before it answered.
    #[error("`{program}` exited with {status} before answering; its output:\n{output}")]
    Exited {
        /// The program started.
        program: String,
        /// How it ended.
        status: std::process::ExitStatus,
        /// What it printed.
        output: String,
    },
    /// The process did not answer HTTP in time.
    #[error("`{program}` did not answer on {endpoint} within {timeout:?}; its output:\n{output}")]
    NotReady {
        /// The program started.
        program: String,
        /// Where it should have answered.
        endpoint: String,
        /// How long we waited.
        timeout: Duration,
        /// What it printed.
        output: String,
    },
    /// A DynamoDB schema file is malformed or lacks a table.
    #[error("DynamoDB schema: {message}")]
    Schema {
        /// What is wrong.
        message: String,
    },
    /// Seed data (an item or a secret) is malformed or was refused.
    #[error("seeding moto: {message}")]
    Seed {
        /// What is wrong.
        message: String,
    },
    /// A DynamoDB stream could not be read.
    #[error("DynamoDB stream: {message}")]
    Stream {
        /// What went wrong.
        message: String,
    },
    /// moto refused to create a table.
    #[error("creating table `{table}` failed: {message}")]
    CreateTable {
        /// The table name.
        table: String,
        /// The SDK's error with its causes.
        message: String,
    },
}

/// The Python interpreter that runs moto in serial mode; `MOTO_PYTHON`
/// overrides it.
pub const PYTHON: &str = "python3";

/// Runs moto's server with one request at a time (see the script for why).
const SERIAL_SCRIPT: &str = include_str!("moto_serial_server.py");

/// A running `moto_server`, killed when dropped.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    addr: SocketAddr,
    log: tempfile::NamedTempFile,
    // Kept alive as long as the process that runs it.
    _script: Option<tempfile::NamedTempFile>,
}

impl MotoServer {
    /// Starts `moto_server` on a free port of 127.0.0.1 and waits until it
    /// answers HTTP. Fails with [`INSTALL_HINT`] when it is not installed.
    pub fn start() -> Result<Self, HarnessError> {
        let program = std::env::var_os("MOTO_SERVER_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(MOTO_SERVER));
        Self::start_program(program)
    }

    /// Starts moto serving one request at a time. moto's DynamoDB
    /// transactions are not isolated between its server threads (a
    /// cancelled transaction restores a snapshot that can undo another
    /// one's commit), so tests that race writers need this; requests still
    /// interleave between callers, each call is atomic as in DynamoDB.
    /// A Python without moto fails with [`INSTALL_HINT`] in the output.
    pub fn start_serial() -> Result<Self, HarnessError> {
        let python = std::env::var_os("MOTO_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(PYTHON));
        let io_error = |source| HarnessError::Io {
            program: python.display().to_string(),
            source,
        };
        let mut script = tempfile::Builder::new()
            .prefix("moto_serial_server")
            .suffix(".py")
            .tempfile()
            .map_err(io_error)?;
        script
            .write_all(SERIAL_SCRIPT.as_bytes())
            .and_then(|()| script.flush())
            .map_err(io_error)?;
        let mut server = Self::start_command(python, vec![script.path().into()])
            .map_err(|err| match err {
                HarnessError::Exited {
                    program,
                    status,
                    output,
                } => HarnessError::Exited {
                    program,
                    status,
                    output: format!("{output}\n(moto in serial mode needs moto importable by this Python: {INSTALL_HINT})"),
                },
                other => other,
            })?;
        server._script = Some(script);
        Ok(server)
    }

    /// Like [`MotoServer::start`] with an explicit program path.
    pub fn start_program(program: PathBuf) -> Result<Self, HarnessError> {
        Self::start_command(program, Vec::new())
    }

    /// Runs `program args... -H 127.0.0.1 -p PORT` and waits for HTTP.
    fn start_command(
        program: PathBuf,
        args: Vec<std::ffi::OsString>,
    ) -> Result<Self, HarnessError> {
        let program_name = program.display().to_string();
        let io_error = |source| HarnessError::Io {
            program: program_name.clone(),
            source,
        };
        let port = free_port().map_err(io_error)?;
        let log = tempfile::NamedTempFile::new().map_err(io_error)?;
        let stdout = log.reopen().map_err(io_error)?;
        let stderr = log.reopen().map_err(io_error)?;
        let child = Command::new(&program)
            .args(args)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|source| {
                if source.kind() == std::io::ErrorKind::NotFound {
                    HarnessError::NotInstalled {
                        program: program_name.clone(),
                        hint: INSTALL_HINT,
                    }
                } else {
                    io_error(source)
                }
            })?;
        let mut server = Self {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            log,
            _script: None,
        };
        server.wait_until_ready(&program_name)?;
        Ok(server)
    }

    /// The base URL, e.g. `http://127.0.0.1:49152` (no trailing slash).
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// An SDK configuration for this server: its endpoint, region
    /// [`REGION`], static dummy credentials, the latest behaviour version.
    pub async fn sdk_config(&self) -> SdkConfig {
        self.config_loader().load().await
    }

    /// The loader behind [`MotoServer::sdk_config`], for tests that need to
    /// change more settings before loading.
    pub fn config_loader(&self) -> aws_config::ConfigLoader {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new(
                "AKIAMOTOTESTING00000",
                "moto-test-secret-access-key",
                None,
                None,
                "moto-harness",
            ))
            .endpoint_url(self.endpoint_url())
    }

    /// What the server has printed so far.
    pub fn output(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = self.log.reopen() {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    fn wait_until_ready(&mut self, program: &str) -> Result<(), HarnessError> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(HarnessError::Exited {
                    program: program.to_owned(),
                    status,
                    output: self.output(),
                });
            }
            if answers_http(self.addr) {
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(HarnessError::NotReady {
                    program: program.to_owned(),
                    endpoint: self.endpoint_url(),
                    timeout: READY_TIMEOUT,
                    output: self.output(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port the OS considers free right now. Another process could take it
/// before moto binds it; moto then exits and [`MotoServer::start`] says so.
fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Whether something answers an HTTP request on `addr` with a status line.
fn answers_http(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = "GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_program_fails_with_the_install_command() {
        let err = MotoServer::start_program(PathBuf::from("/nonexistent/moto_server")).unwrap_err();
        assert!(matches!(err, HarnessError::NotInstalled { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("install it with: pip install 'moto[server]'"),
            "{err}"
        );
    }

    #[test]
    fn a_program_that_exits_at_once_is_reported_with_its_output() {
        let err = MotoServer::start_program(PathBuf::from("false")).unwrap_err();
        assert!(matches!(err, HarnessError::Exited { .. }), "{err}");
    }

    #[tokio::test]
    async fn started_server_answers_and_dies_on_drop() {
        let server = MotoServer::start().unwrap();
        let addr = server.addr();
        assert!(answers_http(addr));
        assert!(server.endpoint_url().starts_with("http://127.0.0.1:"));
        let config = server.sdk_config().await;
        assert_eq!(config.region().map(|r| r.as_ref()), Some(REGION));
        assert_eq!(config.endpoint_url(), Some(server.endpoint_url().as_str()));
        drop(server);
        assert!(!answers_http(addr), "moto_server still answers after drop");
    }
}
