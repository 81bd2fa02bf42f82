//! An offline emulator of the AWS Lambda Runtime API, Extensions API and
//! Telemetry API, and the smoke runner that boots packaged artifacts against it.
//!
//! Why our own instead of `cargo lambda watch --only-lambda-apis`:
//! - cold-start benchmarks need the time from process start to the runtime's
//!   first `/invocation/next`, which cargo-lambda does not expose;
//! - the telemetry extension needs an Extensions API (register, `INVOKE` and
//!   `SHUTDOWN` events) and a Telemetry API subscription it can be fed
//!   platform events through; cargo-lambda's `watch` sends extensions no
//!   telemetry;
//! - the Nix flake's boot check runs inside the build sandbox: no network, no
//!   cargo-lambda download, just this crate and (for aarch64 on x86_64) qemu.
//!
//! Pieces, usable on their own from other crates' tests:
//! - [`Emulator`]: the three APIs on `127.0.0.1:<ephemeral>`; queue events with
//!   [`Emulator::invoke`], feed telemetry with [`Emulator::send_telemetry`],
//!   end extensions with [`Emulator::shutdown_extensions`];
//! - [`LambdaProcess`]: starts a `bootstrap` or extension (optionally through a
//!   runner such as `qemu-aarch64-static`) with the Lambda environment,
//!   captures its output, kills it on drop;
//! - [`run_smoke`]: the `smoke.json` runner used by `cargo xtask smoke` and
//!   the flake (docs/artifacts.md, section 4), with its log-secrecy check
//!   ([`secrecy`]): every function case again at TRACE, the output searched
//!   for the secrets the cases and the seeded data carry.
//!
//! ```no_run
//! # async fn demo() -> Result<(), lambda_emulator::Error> {
//! use lambda_emulator::{Emulator, EmulatorConfig, InvocationResult, LambdaProcess, ProcessSpec};
//! let emulator = Emulator::start(EmulatorConfig::default()).await?;
//! let mut process = LambdaProcess::spawn(&ProcessSpec {
//!     program: "target/debug/my-function".into(),
//!     env: emulator.lambda_env(),
//!     ..ProcessSpec::default()
//! })?;
//! let answer = emulator.invoke(&serde_json::json!({"hello": "world"})).outcome().await?;
//! assert!(matches!(answer.result, InvocationResult::Response(_)));
//! process.kill().await;
//! # Ok(()) }
//! ```

pub mod bench;
mod error;
pub mod http_client;
pub mod matcher;
pub mod process;
pub mod secrecy;
pub mod server;
pub mod smoke;
pub mod static_files;

pub use error::Error;
pub use matcher::{json_contains, json_subset_mismatch};
pub use process::{LambdaProcess, LogLine, OutputFollower, ProcessSpec, Stream};
pub use secrecy::{SecrecyReport, SecretKind};
pub use server::{
    Emulator, EmulatorConfig, ExtensionError, Invocation, InvocationResult, PendingInvocation,
    RegisteredExtension, ReportedError, TelemetryDelivery, TelemetrySubscription,
};
pub use smoke::{
    CaseCheck, CaseReport, MotoSpec, SmokeCase, SmokeKind, SmokeMoto, SmokeOptions, SmokeProgress,
    SmokeReport, SmokeSpec, run_smoke, unpack_zip,
};
pub use static_files::StaticFiles;
