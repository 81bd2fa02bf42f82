//! The end-to-end suite: the seed's manual phase-4 checklist, automated
//! against the local stack (`local-stack`), over HTTP only, as a browser
//! and Twilio would talk to a deployed API.
//!
//! | case | what it proves |
//! | --- | --- |
//! | `sms-inbound` | a Twilio-signed form (signed the documented way, see [`local_fakes::twilio_signature`]) from an opted-in user is answered through the Twilio fake with the OpenAI fake's text; a retry is answered once; a bad signature is 403 and leaves nothing in any table |
//! | `sms-burst` | a few hundred signed webhooks, a quarter of them sent three times, through the gateway: every message recorded, answered exactly once; throughput and p50/p99 latency printed |
//! | `auth-flow` | login redirect (state, PKCE S256), hosted-UI sign-in, callback, cookies and their attributes, refresh, logout (refresh token revoked, cookies cleared) |
//! | `users-crud` | own profile read/update with versions (stale 412, missing 428), another user's profile refused, the admin's list/create/update/delete |
//! | `jwt-refusals` | no token, expired, tampered, `alg: none`, wrong audience, an ID token: all 401 from the gateway, users never invoked |
//! | `cors` | preflights from the app's origin pass, from another are refused; gateway and function errors carry the CORS headers |
//! | `browser` | headless Chromium on the app's origin signs in through the hosted UI, reads and edits the profile with `fetch(..., {credentials: "include"})`, refreshes, logs out |
//! | `browser-controls` | the browser test fails, at the expected step, against stacks with a broken CORS allow-list, a foreign cookie domain, `SameSite=Strict`, or the app on another site |
//! | `shutdown` | `local-stack` stops every child on SIGINT and on SIGTERM |

pub mod browser;
pub mod cases;
pub mod client;
pub mod tokens;
pub mod webdriver;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, Instant};

use local_stack::{Artifacts, LogSink, Stack, StackConfig};

pub use client::{Answer, Call, Client, Cookie, Jar};

/// Fails the current check with a formatted message unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($message:tt)+) => {
        if !$cond {
            return Err(format!($($message)+));
        }
    };
}

/// What the suite runs against.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    /// The function binaries.
    pub artifacts: Artifacts,
    /// The `local-stack` binary (for `shutdown`); `None` skips that case
    /// with a failure saying so.
    pub stack_bin: Option<PathBuf>,
    /// Cases to run; empty means all.
    pub only: Vec<String>,
}

/// The future of one case.
pub type CaseFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Everything a case needs.
pub struct Ctx<'a> {
    /// The shared stack.
    pub stack: &'a Stack,
    /// A client resolving the stack's hosts.
    pub client: Client,
    /// The suite's options.
    pub options: &'a SuiteOptions,
}

impl Ctx<'_> {
    /// `api_origin + path`.
    pub fn api(&self, path: &str) -> String {
        format!("{}{path}", self.stack.api_origin())
    }
}

/// One case of the suite.
pub struct Case {
    /// Its name (`--only` takes these).
    pub name: &'static str,
    /// What it checks, for the report.
    pub what: &'static str,
    /// The check.
    pub run: for<'a> fn(&'a Ctx<'a>) -> CaseFuture<'a>,
}

/// Every case, in the order they run.
pub fn all_cases() -> Vec<Case> {
    vec![
        Case {
            name: "sms-inbound",
            what: "signed SMS answered via the fakes, retry answered once, bad signature stores nothing",
            run: cases::sms::inbound,
        },
        Case {
            name: "sms-burst",
            what: "a burst of signed webhooks with retries: each stored once, answered once; throughput, p50/p99",
            run: cases::burst::burst,
        },
        Case {
            name: "auth-flow",
            what: "login, hosted-UI sign-in, callback, cookies, refresh, logout",
            run: cases::auth::flow,
        },
        Case {
            name: "users-crud",
            what: "own profile with versions, other profiles refused, admin CRUD",
            run: cases::users::crud,
        },
        Case {
            name: "jwt-refusals",
            what: "no/expired/tampered/none/wrong-audience/ID tokens refused before users runs",
            run: cases::jwt::refusals,
        },
        Case {
            name: "cors",
            what: "preflights allowed and refused; errors carry CORS headers",
            run: cases::cors::preflights_and_errors,
        },
        Case {
            name: "browser",
            what: "headless Chromium: sign in, read and edit the profile, refresh, log out",
            run: browser::case,
        },
        Case {
            name: "browser-controls",
            what: "the browser test fails on broken CORS, cookie domain, SameSite, cross-site app",
            run: browser::controls,
        },
        Case {
            name: "shutdown",
            what: "local-stack stops every child process on SIGINT and SIGTERM",
            run: cases::shutdown::signals,
        },
    ]
}

/// One case's outcome.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case.
    pub name: String,
    /// `None` when it passed, else why it failed.
    pub failure: Option<String>,
    /// How long it took.
    pub took: Duration,
}

/// The suite's outcome.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Time to start the shared stack.
    pub stack_start: Duration,
    /// Each case run.
    pub results: Vec<CaseResult>,
    /// The stack's log, kept for failures.
    pub log: String,
}

impl Report {
    /// Whether every case passed.
    pub fn passed(&self) -> bool {
        !self.results.is_empty() && self.results.iter().all(|r| r.failure.is_none())
    }

    /// The report as text.
    pub fn render(&self) -> String {
        let mut out = format!(
            "e2e: shared stack started in {:.1} s\n",
            self.stack_start.as_secs_f64()
        );
        for result in &self.results {
            let (mark, detail) = match &result.failure {
                None => ("ok  ", String::new()),
                Some(why) => (
                    "FAIL",
                    format!("\n        {}", why.replace('\n', "\n        ")),
                ),
            };
            out.push_str(&format!(
                "  {mark} {:<17} {:>6.1} s{detail}\n",
                result.name,
                result.took.as_secs_f64()
            ));
        }
        let failed = self.results.iter().filter(|r| r.failure.is_some()).count();
        let total: f64 = self.stack_start.as_secs_f64()
            + self
                .results
                .iter()
                .map(|r| r.took.as_secs_f64())
                .sum::<f64>();
        out.push_str(&format!(
            "e2e: {} of {} cases passed in {total:.1} s",
            self.results.len() - failed,
            self.results.len()
        ));
        out
    }
}

/// A stack configuration for the suite: any free port, log kept in memory.
pub fn stack_config(options: &SuiteOptions) -> StackConfig {
    let mut config = StackConfig::new(options.artifacts.clone());
    config.port = 0;
    config.log = LogSink::capture();
    config
}

/// A client for `stack`'s hosts.
pub fn client_for(stack: &Stack, extra_hosts: &[String]) -> Result<Client, String> {
    let site = &stack.config().site;
    let mut hosts = vec![format!("api.{site}"), format!("app.{site}")];
    hosts.extend(extra_hosts.iter().cloned());
    Client::new(&hosts, stack.port())
}

/// Runs the selected cases against one shared stack (cases that need a
/// differently configured stack start their own).
pub async fn run(options: &SuiteOptions) -> Result<Report, String> {
    let cases: Vec<Case> = all_cases()
        .into_iter()
        .filter(|c| options.only.is_empty() || options.only.iter().any(|o| o == c.name))
        .collect();
    if let Some(unknown) = options
        .only
        .iter()
        .find(|o| !all_cases().iter().any(|c| c.name == *o))
    {
        return Err(format!("unknown case {unknown:?}"));
    }
    let started = Instant::now();
    let config = stack_config(options);
    let log = config.log.clone();
    let stack = Stack::start(config)
        .await
        .map_err(|e| format!("the stack did not start: {e}\n{}", log.dump()))?;
    let mut report = Report {
        stack_start: started.elapsed(),
        ..Report::default()
    };
    let ctx = Ctx {
        client: client_for(&stack, &[])?,
        stack: &stack,
        options,
    };
    for case in &cases {
        let started = Instant::now();
        let failure = (case.run)(&ctx).await.err();
        report.results.push(CaseResult {
            name: case.name.to_owned(),
            failure,
            took: started.elapsed(),
        });
    }
    report.log = log.dump();
    stack.shutdown().await;
    Ok(report)
}

/// Polls `check` every 100 ms until it returns `Some` or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if started.elapsed() > timeout {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
