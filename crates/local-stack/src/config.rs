//! What a stack runs and how it is reachable.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::log::LogSink;
use crate::routes::RoutesSource;

/// The site the app and the API share (RFC 6761 reserves `.localhost`
/// for loopback; browsers resolve it there and treat it as a secure
/// context, so `Secure` cookies work over plain http).
pub const DEFAULT_SITE: &str = "lambda-forge.localhost";
/// The port `cargo xtask local` serves the app and the API on.
pub const DEFAULT_PORT: u16 = 4080;
/// Sandboxes per function (each runs one invocation at a time, as on
/// Lambda); a few, so that concurrent requests really run concurrently.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// The password of every seeded user.
pub const PASSWORD: &str = "Local-Passw0rd!";
/// The number the seeded users text (Twilio's magic test number).
pub const TWILIO_NUMBER: &str = "+15005550006";
/// The function Terraform wires as the REQUEST authorizer.
pub const AUTHORIZER: &str = "authorizer";
/// The Cognito group whose members administer users (`ADMIN_GROUP`).
pub const ADMIN_GROUP: &str = "admin";

/// Which function binaries run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Artifacts {
    /// The zips of a `cargo xtask dist` directory, read through its
    /// `manifest.json` (aarch64 binaries run under qemu-user on x86_64).
    Dist(PathBuf),
    /// Host binaries built by `cargo build`: `bin_dir/<binary>` for every
    /// function the workspace at `root` declares.
    Host {
        /// The workspace root (its `Cargo.toml` declares the artifacts).
        root: PathBuf,
        /// Where the binaries are (e.g. `target/debug`).
        bin_dir: PathBuf,
    },
}

/// Which credential the authorizer reads, and so which request header API
/// Gateway keys its cache on (contract B).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialSource {
    /// The access-token cookie; identity source `Cookie`.
    Cookie,
    /// `Authorization: Bearer`; identity source `Authorization`.
    Authorization,
}

impl CredentialSource {
    /// The authorizer's `CREDENTIAL_SOURCE` value.
    pub fn env_value(self) -> &'static str {
        match self {
            Self::Cookie => "cookie",
            Self::Authorization => "authorization",
        }
    }

    /// The REST authorizer's `identity_source` (what Terraform derives).
    pub fn identity_source(self) -> &'static str {
        match self {
            Self::Cookie => "method.request.header.Cookie",
            Self::Authorization => "method.request.header.Authorization",
        }
    }

    /// Parses `cookie` or `authorization`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "cookie" => Ok(Self::Cookie),
            "authorization" => Ok(Self::Authorization),
            other => Err(format!(
                "credential source {other:?}: expected cookie or authorization"
            )),
        }
    }
}

/// A user seeded into the Cognito pool (password [`PASSWORD`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedUser {
    /// Cognito username.
    pub username: String,
    /// `email` attribute.
    pub email: String,
    /// `name` attribute.
    pub name: String,
    /// Cognito groups.
    pub groups: Vec<String>,
    /// When set, a profile with this phone, opted in to SMS, is seeded in
    /// the users table: a known sender for the sms function.
    pub sms_phone: Option<String>,
}

impl SeedUser {
    fn new(username: &str, name: &str) -> Self {
        Self {
            username: username.into(),
            email: format!("{username}@example.com"),
            name: name.into(),
            groups: Vec::new(),
            sms_phone: None,
        }
    }

    /// alice and bob (users), admin (in [`ADMIN_GROUP`]) and sam (a phone
    /// opted in to SMS replies).
    pub fn defaults() -> Vec<Self> {
        let mut admin = Self::new("admin", "Ada Admin");
        admin.groups.push(ADMIN_GROUP.into());
        let mut sam = Self::new("sam", "Sam Texter");
        sam.sms_phone = Some("+15555550142".into());
        vec![
            Self::new("alice", "Alice Example"),
            Self::new("bob", "Bob Example"),
            admin,
            sam,
        ]
    }
}

/// Everything a stack is started with.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// The function binaries.
    pub artifacts: Artifacts,
    /// The site: the app is `app.<site>`, the API `api.<site>`.
    pub site: String,
    /// The port of both (0: any free port).
    pub port: u16,
    /// Contract B's credential source.
    pub credential_source: CredentialSource,
    /// `authorizer_result_ttl_in_seconds`.
    pub authorizer_ttl: Duration,
    /// Sandboxes each function may run at once (Lambda's concurrency).
    pub concurrency: usize,
    /// Where the routes come from.
    pub routes: RoutesSource,
    /// The seeded users.
    pub users: Vec<SeedUser>,
    /// More hosts (on the same port) serving the test app, e.g. one on
    /// another site to show what cross-site cookies do.
    pub extra_app_hosts: Vec<String>,
    /// Environment variables set (or, with an empty value, removed) per
    /// function on top of the stack's.
    pub env_overrides: BTreeMap<String, BTreeMap<String, String>>,
    /// A fault for the browser test's negative controls: every
    /// `Set-Cookie` the API sends has this text replaced (e.g.
    /// `SameSite=Lax` by `SameSite=Strict`). `None` in normal runs.
    pub set_cookie_rewrite: Option<(String, String)>,
    /// Where the log goes.
    pub log: LogSink,
}

impl StackConfig {
    /// A stack of `artifacts` with the defaults: [`DEFAULT_SITE`] on any
    /// free port, cookie credentials, a 300 s authorizer cache (Terraform's
    /// default), the routes the artifacts declare, [`SeedUser::defaults`].
    pub fn new(artifacts: Artifacts) -> Self {
        Self {
            routes: RoutesSource::for_artifacts(&artifacts),
            artifacts,
            site: DEFAULT_SITE.into(),
            port: 0,
            credential_source: CredentialSource::Cookie,
            authorizer_ttl: Duration::from_secs(300),
            concurrency: DEFAULT_CONCURRENCY,
            users: SeedUser::defaults(),
            extra_app_hosts: Vec::new(),
            env_overrides: BTreeMap::new(),
            set_cookie_rewrite: None,
            log: LogSink::Print,
        }
    }

    /// Sets (or with `""` removes) `name` in `function`'s environment.
    pub fn with_env(mut self, function: &str, name: &str, value: &str) -> Self {
        self.env_overrides
            .entry(function.to_owned())
            .or_default()
            .insert(name.to_owned(), value.to_owned());
        self
    }
}
