//! The whole API on one machine, on loopback, as a browser and Twilio
//! reach it in production:
//!
//! ```text
//!  browser ──► app.<site>:<port>  test app page (same site as the API)
//!     │
//!     └─────► api.<site>:<port>  local API Gateway ── REQUEST authorizer (cache on the identity source)
//!                                     │                  └─► authorizer ─► moto JWKS
//!                                     ├─► auth  ─► Cognito stand-in (hosted UI, token, RevokeToken) ─► moto Cognito IDP
//!                                     ├─► users ─► moto DynamoDB
//!                                     ├─► sms   ─► moto DynamoDB, Secrets Manager; Twilio fake, OpenAI fake
//!                                     └─► cors  (every OPTIONS)
//!  Twilio (tests) ──► api.<site>:<port>/sms/inbound
//! ```
//!
//! Every function runs from its `dist/` zip (under qemu-user when it is
//! aarch64 on an x86_64 host) or a host build, each behind its own Runtime
//! API emulator ([`functions`]). [`Stack::start`] brings it all up and
//! fails naming the piece that did not come up; [`Stack::shutdown`] (or
//! dropping it) stops every process. `cargo xtask local` runs the
//! `local-stack` binary; the end-to-end suite drives a [`Stack`] in
//! process.

pub mod cli;
mod config;
pub mod edge;
mod error;
pub mod functions;
pub mod log;
pub mod routes;
pub mod seed;
mod stack;
pub mod stream;

pub use config::{
    ADMIN_GROUP, AUTHORIZER, Artifacts, CredentialSource, DEFAULT_CONCURRENCY, DEFAULT_PORT,
    DEFAULT_SITE, PASSWORD, SeedUser, StackConfig, TWILIO_NUMBER,
};
pub use error::StackError;
pub use log::{LogEntry, LogSink};
pub use routes::RoutesSource;
pub use stack::{ACCESS_TOKEN_COOKIE, Stack};
