//! The smoke runner: boots a packaged artifact against the emulator and checks
//! its answers to the canned cases of a smoke.json (docs/artifacts.md, section 4).

use std::collections::BTreeMap;
use std::fs;
use std::future::Future;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use crate::Error;
use crate::matcher::{json_contains, json_subset_mismatch};
use crate::process::{LambdaProcess, ProcessSpec, describe_exit};
use crate::secrecy::{self, SecrecyReport};
use crate::server::{Emulator, EmulatorConfig, InvocationResult};
use crate::static_files::StaticFiles;

/// Placeholder in smoke.json `env` values for the static file server's base URL.
pub const STATIC_URL_PLACEHOLDER: &str = "{{static_url}}";
/// Placeholder in smoke.json `env` values for the moto server's base URL.
pub const MOTO_URL_PLACEHOLDER: &str = "{{moto_url}}";
/// Placeholder in extension `telemetry` strings for the case's request id.
pub const REQUEST_ID_PLACEHOLDER: &str = "{{request_id}}";

/// What a smoke.json tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmokeKind {
    /// A function zip: `bootstrap` against the Runtime API.
    Function,
    /// An extension layer: `extensions/<name>` against the Extensions and
    /// Telemetry APIs.
    Extension,
}

/// What one case sends and expects.
#[derive(Debug, Clone, PartialEq)]
pub enum CaseCheck {
    /// Invoke with `event`; the response must contain `expect`.
    Response {
        /// The event.
        event: Value,
        /// JSON subset of the response.
        expect: Value,
    },
    /// Invoke with `event`; the posted error must contain `expect_error`.
    Error {
        /// The event.
        event: Value,
        /// JSON subset of the error document (`errorType`, `errorMessage`).
        expect_error: Value,
    },
    /// Extensions: send `INVOKE`, post `telemetry` to the subscriber, then, when
    /// `expect_log` is given, wait for a stdout line whose JSON contains it.
    Telemetry {
        /// Telemetry API events posted as one batch (may be empty).
        telemetry: Vec<Value>,
        /// JSON subset a line printed after the batch must contain.
        expect_log: Option<Value>,
    },
}

/// One named case.
#[derive(Debug, Clone, PartialEq)]
pub struct SmokeCase {
    /// The case name, printed in reports.
    pub name: String,
    /// What it does.
    pub check: CaseCheck,
    /// Values this case's output must never hold, on top of the ones the
    /// log-secrecy check finds by itself (see [`crate::secrecy`]).
    pub secrets: Vec<String>,
}

/// A parsed and validated smoke.json.
#[derive(Debug, Clone, PartialEq)]
pub struct SmokeSpec {
    /// `kind` (default `function`).
    pub kind: SmokeKind,
    /// Extra environment for the process (placeholders not yet substituted).
    pub env: BTreeMap<String, String>,
    /// URL path to the file's absolute path (resolved against the smoke.json's
    /// directory).
    pub files: BTreeMap<String, PathBuf>,
    /// The moto server to start, when the spec has a `moto` key.
    pub moto: Option<MotoSpec>,
    /// Values no case's output may hold (see [`crate::secrecy`]).
    pub secrets: Vec<String>,
    /// The cases, in order.
    pub cases: Vec<SmokeCase>,
}

/// The `moto` key: a moto server started for the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MotoSpec {
    /// Schema file (terraform/schema/README.md) whose every table is created,
    /// named by its logical name; resolved against the smoke.json's directory.
    pub dynamodb_schema: Option<PathBuf>,
    /// Secrets Manager secrets created before the function starts: name to
    /// value (a JSON string is stored as it is, anything else as JSON text).
    pub secrets: BTreeMap<String, Value>,
    /// Items (DynamoDB JSON) put into tables before the function starts.
    pub items: BTreeMap<String, Vec<Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMoto {
    #[serde(default)]
    dynamodb_schema: Option<String>,
    #[serde(default)]
    secrets: BTreeMap<String, Value>,
    #[serde(default)]
    items: BTreeMap<String, Vec<Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    files: BTreeMap<String, String>,
    #[serde(default)]
    moto: Option<RawMoto>,
    #[serde(default)]
    secrets: Vec<String>,
    cases: Vec<RawCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: String,
    event: Option<Value>,
    expect: Option<Value>,
    expect_error: Option<Value>,
    telemetry: Option<Vec<Value>>,
    expect_log: Option<Value>,
    #[serde(default)]
    secrets: Vec<String>,
}

impl SmokeSpec {
    /// Reads and validates `path`; `files` are resolved against its directory and
    /// must exist.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        let spec = Self::parse(&text, base).map_err(|message| Error::Spec {
            path: path.to_owned(),
            message,
        })?;
        if let Some((url, file)) = spec.files.iter().find(|(_, file)| !file.is_file()) {
            return Err(Error::Spec {
                path: path.to_owned(),
                message: format!("files.{url}: {} is not a file", file.display()),
            });
        }
        if let Some(schema) = spec
            .moto
            .as_ref()
            .and_then(|m| m.dynamodb_schema.as_ref())
            .filter(|schema| !schema.is_file())
        {
            return Err(Error::Spec {
                path: path.to_owned(),
                message: format!("moto.dynamodb_schema: {} is not a file", schema.display()),
            });
        }
        Ok(spec)
    }

    /// Parses smoke.json text; relative `files` paths are joined to `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Self, String> {
        let raw: RawSpec = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let kind = match raw.kind.as_deref() {
            None | Some("function") => SmokeKind::Function,
            Some("extension") => SmokeKind::Extension,
            Some(other) => {
                return Err(format!(
                    "kind: expected \"function\" or \"extension\", got {other:?}"
                ));
            }
        };
        if raw.cases.is_empty() {
            return Err("cases: at least one case is required".into());
        }
        let mut files = BTreeMap::new();
        for (url, file) in raw.files {
            if !url.starts_with('/') {
                return Err(format!("files: URL path {url:?} must start with '/'"));
            }
            files.insert(url, base.join(file));
        }
        let moto = match raw.moto {
            Some(m) => {
                for (table, items) in &m.items {
                    for (index, item) in items.iter().enumerate() {
                        moto_harness::item_from_json(item)
                            .map_err(|e| format!("moto.items.{table}[{index}]: {e}"))?;
                    }
                }
                Some(MotoSpec {
                    dynamodb_schema: m.dynamodb_schema.map(|schema| base.join(schema)),
                    secrets: m.secrets,
                    items: m.items,
                })
            }
            None => None,
        };
        if moto.is_none()
            && let Some((key, _)) = raw
                .env
                .iter()
                .find(|(_, value)| value.contains(MOTO_URL_PLACEHOLDER))
        {
            return Err(format!(
                "env.{key} uses {MOTO_URL_PLACEHOLDER} but the spec has no `moto` key"
            ));
        }
        let mut cases = Vec::new();
        for (index, case) in raw.cases.into_iter().enumerate() {
            let check = case_check(kind, &case)
                .map_err(|message| format!("cases[{index}] ({:?}): {message}", case.name))?;
            cases.push(SmokeCase {
                name: case.name,
                check,
                secrets: case.secrets,
            });
        }
        Ok(Self {
            kind,
            env: raw.env,
            files,
            moto,
            secrets: raw.secrets,
            cases,
        })
    }
}

fn case_check(kind: SmokeKind, case: &RawCase) -> Result<CaseCheck, String> {
    match kind {
        SmokeKind::Function => {
            if case.telemetry.is_some() || case.expect_log.is_some() {
                return Err("`telemetry`/`expect_log` are for \"kind\": \"extension\"".into());
            }
            let event = case.event.clone().ok_or("`event` is required")?;
            match (&case.expect, &case.expect_error) {
                (Some(expect), None) => Ok(CaseCheck::Response {
                    event,
                    expect: expect.clone(),
                }),
                (None, Some(expect_error)) => Ok(CaseCheck::Error {
                    event,
                    expect_error: expect_error.clone(),
                }),
                _ => Err("exactly one of `expect` and `expect_error` is required".into()),
            }
        }
        SmokeKind::Extension => {
            if case.event.is_some() || case.expect.is_some() || case.expect_error.is_some() {
                return Err(
                    "`event`/`expect`/`expect_error` are for functions; an extension case has `telemetry` and `expect_log`".into(),
                );
            }
            let telemetry = case.telemetry.clone().ok_or("`telemetry` is required")?;
            if let Some(bad) = telemetry
                .iter()
                .position(|e| !e.get("type").is_some_and(Value::is_string))
            {
                return Err(format!("telemetry[{bad}] needs a string `type`"));
            }
            Ok(CaseCheck::Telemetry {
                telemetry,
                expect_log: case.expect_log.clone(),
            })
        }
    }
}

/// How to run a smoke test.
#[derive(Debug, Clone)]
pub struct SmokeOptions {
    /// The function zip or extension layer zip.
    pub zip: PathBuf,
    /// The smoke.json.
    pub cases: PathBuf,
    /// Command to run the executable through (e.g. `["qemu-aarch64-static"]`).
    pub runner: Vec<String>,
    /// Limit for each phase: start-up, each case, shutdown. Also the function
    /// timeout the deadline header is computed from.
    pub timeout: Duration,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (default 128).
    pub memory_mb: u32,
    /// Function smoke runs: run every case again at TRACE and search the
    /// output for secrets ([`crate::secrecy`]); on by default.
    pub log_secrecy: bool,
}

impl SmokeOptions {
    /// Options with the defaults: no runner, 30 s per phase, 128 MB, the
    /// log-secrecy check on.
    pub fn new(zip: impl Into<PathBuf>, cases: impl Into<PathBuf>) -> Self {
        Self {
            zip: zip.into(),
            cases: cases.into(),
            runner: Vec::new(),
            timeout: Duration::from_secs(30),
            memory_mb: 128,
            log_secrecy: true,
        }
    }
}

/// Timing of one passed case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseReport {
    /// The case name.
    pub name: String,
    /// Functions: from the event leaving `/next` to the answer. Extensions: from
    /// `INVOKE` to the expected log line (or the telemetry delivery).
    pub duration: Duration,
}

/// The result of a passed smoke run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmokeReport {
    /// Function or extension.
    pub kind: SmokeKind,
    /// Artifact name (the zip's file stem).
    pub artifact: String,
    /// From starting the process to its first `/invocation/next` (functions) or
    /// to its first `/extension/event/next` (extensions): the init duration
    /// cold-start benchmarks want.
    pub startup: Duration,
    /// Every case, in order.
    pub cases: Vec<CaseReport>,
    /// The process's captured output.
    pub log: String,
    /// What the log-secrecy check searched (functions, when enabled).
    pub secrecy: Option<SecrecyReport>,
}

/// Progress notifications while a smoke test runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmokeProgress {
    /// The process finished its init.
    Started {
        /// Process start to the first `next` call.
        startup: Duration,
    },
    /// A case passed.
    CasePassed(CaseReport),
    /// Every case ran again at TRACE and no secret was in the output.
    SecrecyChecked(SecrecyReport),
}

/// Unzips `zip` into `dest`, keeping the archive's unix modes (so `bootstrap`
/// stays executable). Entries escaping `dest` are refused.
pub fn unpack_zip(zip: &Path, dest: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let zip_error = |message: String| Error::Zip {
        path: zip.to_owned(),
        message,
    };
    let file =
        fs::File::open(zip).map_err(|e| Error::io(format!("opening {}", zip.display()), e))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| zip_error(e.to_string()))?;
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|e| zip_error(e.to_string()))?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let relative = entry
            .enclosed_name()
            .ok_or_else(|| zip_error(format!("entry {name:?} escapes the archive root")))?;
        let target = dest.join(relative);
        let io = |e| Error::io(format!("unpacking {name} to {}", target.display()), e);
        if entry.is_dir() {
            fs::create_dir_all(&target).map_err(io)?;
            continue;
        }
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(io)?;
        }
        let mut content = Vec::new();
        entry
            .read_to_end(&mut content)
            .map_err(|e| zip_error(format!("entry {name}: {e}")))?;
        fs::write(&target, content).map_err(io)?;
        let mode = entry.unix_mode().map_or(0o644, |m| m & 0o777);
        fs::set_permissions(&target, fs::Permissions::from_mode(mode)).map_err(io)?;
    }
    Ok(())
}

/// Runs every case of `options.cases` against the artifact in `options.zip`.
/// Stops at the first failure; the error carries the process's output.
///
/// A function is then started again and runs every case once more at
/// TRACE, its whole output searched for the secrets of the cases and the
/// seeded data ([`crate::secrecy`]), unless `options.log_secrecy` is off.
pub async fn run_smoke(
    options: &SmokeOptions,
    mut progress: impl FnMut(&SmokeProgress),
) -> Result<SmokeReport, Error> {
    let spec = SmokeSpec::load(&options.cases)?;
    let first = run_pass(&spec, options, &[], &mut progress).await?;
    let secrecy = if spec.kind == SmokeKind::Function && options.log_secrecy {
        let trace = run_pass(
            &spec,
            options,
            &secrecy::TRACE_ENV,
            &mut |_: &SmokeProgress| {},
        )
        .await
        .map_err(|error| match error {
            Error::CaseFailed { case, reason, log } => Error::CaseFailed {
                case: format!("{case} (at TRACE)"),
                reason,
                log,
            },
            other => other,
        })?;
        let report = search_secrets(&spec, &trace)?;
        progress(&SmokeProgress::SecrecyChecked(report.clone()));
        Some(report)
    } else {
        None
    };
    Ok(SmokeReport {
        kind: spec.kind,
        artifact: first.artifact,
        startup: first.startup,
        cases: first.cases,
        log: first.log,
        secrecy,
    })
}

/// One run of every case against a fresh process (and fresh moto).
struct Pass {
    artifact: String,
    startup: Duration,
    cases: Vec<CaseReport>,
    /// The sequence number of the first output line of each case.
    case_starts: Vec<usize>,
    lines: Vec<crate::LogLine>,
    log: String,
}

async fn run_pass(
    spec: &SmokeSpec,
    options: &SmokeOptions,
    extra_env: &[(&str, &str)],
    progress: &mut impl FnMut(&SmokeProgress),
) -> Result<Pass, Error> {
    let artifact = options.zip.file_stem().map_or_else(
        || "function".to_owned(),
        |s| s.to_string_lossy().into_owned(),
    );
    let unpacked = tempfile::Builder::new()
        .prefix("lambda-emulator-")
        .tempdir()
        .map_err(|e| Error::io("creating a temporary directory", e))?;
    unpack_zip(&options.zip, unpacked.path())?;
    let program = match spec.kind {
        SmokeKind::Function => function_program(&options.zip, unpacked.path())?,
        SmokeKind::Extension => extension_program(&options.zip, unpacked.path())?,
    };

    let static_files = start_static_files(spec).await?;
    let moto = match &spec.moto {
        Some(moto) => Some(SmokeMoto::start(moto).await?),
        None => None,
    };
    let emulator = Emulator::start(EmulatorConfig {
        function_name: artifact.clone(),
        memory_mb: options.memory_mb,
        timeout: options.timeout,
        ..EmulatorConfig::default()
    })
    .await?;
    let mut env = emulator.lambda_env();
    env.push((
        "LAMBDA_TASK_ROOT".into(),
        unpacked.path().display().to_string(),
    ));
    let static_url = static_files
        .as_ref()
        .map(StaticFiles::url)
        .unwrap_or_default();
    let moto_url = moto
        .as_ref()
        .map(SmokeMoto::endpoint_url)
        .unwrap_or_default();
    for (key, value) in &spec.env {
        env.retain(|(k, _)| k != key);
        env.push((
            key.clone(),
            value
                .replace(STATIC_URL_PLACEHOLDER, &static_url)
                .replace(MOTO_URL_PLACEHOLDER, &moto_url),
        ));
    }
    // The pass's own settings win over the spec's (a spec cannot turn the
    // TRACE pass quiet).
    for (key, value) in extra_env {
        env.retain(|(k, _)| k != key);
        env.push(((*key).to_owned(), (*value).to_owned()));
    }
    let mut process = LambdaProcess::spawn(&ProcessSpec {
        program,
        runner: options.runner.clone(),
        args: Vec::new(),
        env,
        cwd: Some(unpacked.path().to_owned()),
    })?;

    let mut case_starts = Vec::new();
    let outcome = match spec.kind {
        SmokeKind::Function => {
            run_function(
                spec,
                options,
                &emulator,
                &mut process,
                progress,
                &mut case_starts,
            )
            .await
        }
        SmokeKind::Extension => {
            run_extension(spec, options, &emulator, &mut process, progress).await
        }
    };
    process.kill().await;
    let (startup, cases) = outcome?;
    Ok(Pass {
        artifact,
        startup,
        cases,
        case_starts,
        lines: process.lines(),
        log: process.log(),
    })
}

/// Searches the TRACE pass's output for the secrets of the seeded data and
/// of the case each line was printed during (or of any case, for lines
/// printed before the first).
fn search_secrets(spec: &SmokeSpec, pass: &Pass) -> Result<SecrecyReport, Error> {
    let mut files = Vec::new();
    for (url, path) in &spec.files {
        let content =
            fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        files.push((url.clone(), content));
    }
    let shared = secrecy::spec_secrets(spec, &files);
    let per_case: Vec<_> = spec.cases.iter().map(secrecy::case_secrets).collect();
    let everything: std::collections::BTreeSet<_> = shared
        .iter()
        .chain(per_case.iter().flatten())
        .cloned()
        .collect();
    if pass.lines.first().is_some_and(|line| line.seq > 0) {
        return Err(Error::Usage(format!(
            "the TRACE pass printed more lines than are kept; {} lines were not searched",
            pass.lines.first().map_or(0, |line| line.seq)
        )));
    }
    for line in &pass.lines {
        // Secrets of every case: a case's value leaking in a later case's
        // output is a leak all the same.
        if let Some(secret) = secrecy::find_in(&line.text, &everything) {
            let case = pass
                .case_starts
                .iter()
                .rposition(|start| *start <= line.seq)
                .and_then(|index| spec.cases.get(index))
                .map_or("(before the first case)", |case| case.name.as_str());
            return Err(Error::SecretLogged {
                case: case.to_owned(),
                kind: secret.kind.to_string(),
                excerpt: secret.value.chars().take(4).collect(),
                line: secrecy::masked(&line.text, &everything),
            });
        }
    }
    let mut counts = BTreeMap::new();
    for secret in &everything {
        *counts.entry(secret.kind).or_insert(0) += 1;
    }
    Ok(SecrecyReport {
        cases: pass.cases.len(),
        secrets: counts.into_iter().collect(),
        lines: pass.lines.len(),
    })
}

/// A moto server started for a smoke run, with the spec's tables; stopped on
/// drop.
#[derive(Debug)]
pub struct SmokeMoto {
    server: moto_harness::MotoServer,
    tables: Vec<String>,
}

impl SmokeMoto {
    /// Starts `moto_server` (failing with the install command when it is
    /// missing), creates every table of `spec.dynamodb_schema` under its
    /// logical name, then puts the spec's items and secrets.
    pub async fn start(spec: &MotoSpec) -> Result<Self, Error> {
        let schema = match &spec.dynamodb_schema {
            Some(path) => Some(
                fs::read_to_string(path)
                    .map_err(|e| Error::io(format!("reading {}", path.display()), e))?,
            ),
            None => None,
        };
        // Waiting for moto to answer blocks for seconds.
        let server = tokio::task::spawn_blocking(moto_harness::MotoServer::start)
            .await
            .map_err(|e| Error::Usage(format!("starting moto: {e}")))??;
        let mut tables = Vec::new();
        if let Some(schema) = schema {
            let client = moto_harness::aws_sdk_dynamodb::Client::new(&server.sdk_config().await);
            tables = moto_harness::create_tables_from_schema(&client, &schema, "").await?;
        }
        let config = server.sdk_config().await;
        if !spec.items.is_empty() {
            let client = moto_harness::aws_sdk_dynamodb::Client::new(&config);
            for (table, items) in &spec.items {
                moto_harness::put_items(&client, table, items).await?;
            }
        }
        if !spec.secrets.is_empty() {
            let client = moto_harness::aws_sdk_secretsmanager::Client::new(&config);
            for (name, value) in &spec.secrets {
                moto_harness::create_secret(&client, name, value).await?;
            }
        }
        Ok(Self { server, tables })
    }

    /// The value of `{{moto_url}}`.
    pub fn endpoint_url(&self) -> String {
        self.server.endpoint_url()
    }

    /// The DynamoDB tables created, in name order.
    pub fn tables(&self) -> &[String] {
        &self.tables
    }
}

pub(crate) fn function_program(zip: &Path, root: &Path) -> Result<PathBuf, Error> {
    let bootstrap = root.join("bootstrap");
    if bootstrap.is_file() {
        Ok(bootstrap)
    } else {
        Err(Error::Layout {
            path: zip.to_owned(),
            message: "a function zip must contain `bootstrap`".into(),
        })
    }
}

pub(crate) fn extension_program(zip: &Path, root: &Path) -> Result<PathBuf, Error> {
    let dir = root.join("extensions");
    let entries: Vec<PathBuf> = fs::read_dir(&dir)
        .map_err(|_| Error::Layout {
            path: zip.to_owned(),
            message: "an extension layer must contain `extensions/`".into(),
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    match entries.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(Error::Layout {
            path: zip.to_owned(),
            message: format!(
                "expected exactly one executable in extensions/, found {}",
                entries.len()
            ),
        }),
    }
}

pub(crate) async fn start_static_files(spec: &SmokeSpec) -> Result<Option<StaticFiles>, Error> {
    let wanted = !spec.files.is_empty()
        || spec
            .env
            .values()
            .any(|v| v.contains(STATIC_URL_PLACEHOLDER));
    if !wanted {
        return Ok(None);
    }
    let mut contents = BTreeMap::new();
    for (url, file) in &spec.files {
        let content =
            fs::read(file).map_err(|e| Error::io(format!("reading {}", file.display()), e))?;
        contents.insert(url.clone(), content);
    }
    Ok(Some(StaticFiles::start(contents).await?))
}

/// Why waiting for something stopped early.
enum Interrupted {
    Exited(String),
    TimedOut,
}

/// Awaits `future`, unless the process exits or `timeout` passes first.
async fn race<T>(
    process: &mut LambdaProcess,
    timeout: Duration,
    future: impl Future<Output = T>,
) -> Result<T, Interrupted> {
    tokio::select! {
        value = future => Ok(value),
        status = process.wait() => Err(Interrupted::Exited(exit_text(status))),
        () = tokio::time::sleep(timeout) => Err(Interrupted::TimedOut),
    }
}

fn exit_text(status: Result<ExitStatus, Error>) -> String {
    match status {
        Ok(status) => describe_exit(status),
        Err(e) => e.to_string(),
    }
}

fn interrupted(
    why: Interrupted,
    during: &str,
    timeout: Duration,
    process: &LambdaProcess,
) -> Error {
    match why {
        Interrupted::Exited(status) => Error::Exited {
            status,
            during: during.to_owned(),
            log: process.log(),
        },
        Interrupted::TimedOut => Error::Timeout {
            what: during.trim_start_matches("while ").to_owned(),
            seconds: timeout.as_secs_f64(),
            log: process.log(),
        },
    }
}

enum InitOutcome {
    Ready(Instant),
    InitError(crate::ReportedError),
}

async fn run_function(
    spec: &SmokeSpec,
    options: &SmokeOptions,
    emulator: &Emulator,
    process: &mut LambdaProcess,
    progress: &mut impl FnMut(&SmokeProgress),
    case_starts: &mut Vec<usize>,
) -> Result<(Duration, Vec<CaseReport>), Error> {
    let timeout = options.timeout;
    let init = race(process, timeout, async {
        tokio::select! {
            at = emulator.wait_first_next() => InitOutcome::Ready(at),
            error = emulator.wait_init_error() => InitOutcome::InitError(error),
        }
    })
    .await;
    let first_next = match init {
        Ok(InitOutcome::Ready(at)) => at,
        Ok(InitOutcome::InitError(error)) => return Err(init_failed(&error, process).await),
        Err(why) => {
            // A runtime that reports /init/error usually exits right after; the
            // report explains more than the exit status.
            if let Some(error) = emulator.init_error() {
                return Err(init_failed(&error, process).await);
            }
            return Err(interrupted(
                why,
                "while starting (before the first /next)",
                timeout,
                process,
            ));
        }
    };
    let startup = first_next.saturating_duration_since(process.started_at());
    progress(&SmokeProgress::Started { startup });

    let mut reports = Vec::new();
    for case in &spec.cases {
        let (event, expected, wants_error) = match &case.check {
            CaseCheck::Response { event, expect } => (event, expect, false),
            CaseCheck::Error {
                event,
                expect_error,
            } => (event, expect_error, true),
            CaseCheck::Telemetry { .. } => {
                return Err(Error::Usage(format!(
                    "case `{}` is an extension case in a function smoke",
                    case.name
                )));
            }
        };
        case_starts.push(process.next_seq());
        let pending = emulator.invoke(event);
        let invocation = match race(process, timeout, pending.outcome()).await {
            Ok(result) => result?,
            Err(why) => {
                let during = format!("while handling case `{}`", case.name);
                return Err(interrupted(why, &during, timeout, process));
            }
        };
        let failure = match (&invocation.result, wants_error) {
            (InvocationResult::Response(body), false) => {
                json_subset_mismatch(expected, body).map(|m| format!("{m}\nresponse: {body}"))
            }
            (InvocationResult::Error(error), true) => json_subset_mismatch(expected, &error.body)
                .map(|m| format!("{m}\nerror: {}", error.body)),
            (InvocationResult::Response(body), true) => Some(format!(
                "expected an error containing {expected}, got a response: {body}"
            )),
            (InvocationResult::Error(error), false) => Some(format!(
                "expected a response containing {expected}, got an error: {}",
                error.body
            )),
        };
        if let Some(reason) = failure {
            return Err(Error::CaseFailed {
                case: case.name.clone(),
                reason,
                log: process.log(),
            });
        }
        let report = CaseReport {
            name: case.name.clone(),
            duration: invocation.duration,
        };
        progress(&SmokeProgress::CasePassed(report.clone()));
        reports.push(report);
    }
    Ok((startup, reports))
}

async fn init_failed(error: &crate::ReportedError, process: &mut LambdaProcess) -> Error {
    // Give the process a moment to print why it failed before collecting
    // output; stopping it then reads what its pipes still hold.
    let _ = tokio::time::timeout(Duration::from_secs(2), process.wait()).await;
    process.kill().await;
    Error::Init {
        error_type: error.error_type(),
        error_message: error.error_message(),
        log: process.log(),
    }
}

async fn run_extension(
    spec: &SmokeSpec,
    options: &SmokeOptions,
    emulator: &Emulator,
    process: &mut LambdaProcess,
    progress: &mut impl FnMut(&SmokeProgress),
) -> Result<(Duration, Vec<CaseReport>), Error> {
    let timeout = options.timeout;
    race(process, timeout, emulator.wait_extensions_ready(1))
        .await
        .map_err(|why| {
            interrupted(
                why,
                "while registering (before the first /extension/event/next)",
                timeout,
                process,
            )
        })?;
    let startup = process.started_at().elapsed();
    check_extension_errors(emulator, process)?;
    progress(&SmokeProgress::Started { startup });

    let mut reports = Vec::new();
    for case in &spec.cases {
        let CaseCheck::Telemetry {
            telemetry,
            expect_log,
        } = &case.check
        else {
            return Err(Error::Usage(format!(
                "case `{}` is a function case in an extension smoke",
                case.name
            )));
        };
        let during = format!("while handling case `{}`", case.name);
        let from_seq = process.next_seq();
        let started = Instant::now();
        let pending = emulator.invoke(&Value::Null);
        race(process, timeout, emulator.wait_extension_events_delivered())
            .await
            .map_err(|why| interrupted(why, &during, timeout, process))?;
        if !telemetry.is_empty() {
            race(process, timeout, emulator.wait_telemetry_subscriptions(1))
                .await
                .map_err(|why| {
                    interrupted(
                        why,
                        &format!("{during} (no Telemetry API subscription)"),
                        timeout,
                        process,
                    )
                })?;
            let batch: Vec<Value> = telemetry
                .iter()
                .map(|event| substitute(event, REQUEST_ID_PLACEHOLDER, pending.request_id()))
                .collect();
            let deliveries = race(process, timeout, emulator.send_telemetry(&batch))
                .await
                .map_err(|why| interrupted(why, &during, timeout, process))??;
            if let Some(bad) = deliveries.iter().find(|d| !(200..300).contains(&d.status)) {
                return Err(Error::CaseFailed {
                    case: case.name.clone(),
                    reason: format!(
                        "the telemetry listener {} answered HTTP {}",
                        bad.url, bad.status
                    ),
                    log: process.log(),
                });
            }
        }
        if let Some(expected) = expect_log {
            let wait = process_line_matching(process, from_seq, expected);
            let matched = tokio::time::timeout(timeout, wait).await;
            if matched.is_err() {
                let exited = process.try_exit().map(describe_exit);
                return Err(Error::CaseFailed {
                    case: case.name.clone(),
                    reason: format!(
                        "no stdout line printed after the batch contains {expected}{}",
                        exited
                            .map(|s| format!(" (the extension exited: {s})"))
                            .unwrap_or_default()
                    ),
                    log: process.log(),
                });
            }
        }
        check_extension_errors(emulator, process)?;
        let report = CaseReport {
            name: case.name.clone(),
            duration: started.elapsed(),
        };
        progress(&SmokeProgress::CasePassed(report.clone()));
        reports.push(report);
    }

    emulator.shutdown_extensions("spindown");
    let status = tokio::time::timeout(timeout, process.wait()).await;
    match status {
        Ok(Ok(status)) if status.success() => {}
        Ok(status) => {
            return Err(Error::Exited {
                status: exit_text(status),
                during: "after SHUTDOWN (an extension must exit 0)".into(),
                log: process.log(),
            });
        }
        Err(_) => {
            return Err(Error::Timeout {
                what: "the extension to exit after SHUTDOWN".into(),
                seconds: timeout.as_secs_f64(),
                log: process.log(),
            });
        }
    }
    check_extension_errors(emulator, process)?;
    Ok((startup, reports))
}

async fn process_line_matching(process: &LambdaProcess, from_seq: usize, expected: &Value) {
    process
        .wait_for_line(from_seq, |line| {
            serde_json::from_str::<Value>(line).is_ok_and(|v| json_contains(expected, &v))
        })
        .await;
}

fn check_extension_errors(emulator: &Emulator, process: &LambdaProcess) -> Result<(), Error> {
    match emulator.extension_errors().first() {
        Some(error) => Err(Error::Exited {
            status: format!(
                "reported {} error {}: {}",
                error.phase, error.error_type, error.body
            ),
            during: "to the Extensions API".into(),
            log: process.log(),
        }),
        None => Ok(()),
    }
}

/// Replaces `placeholder` in every string inside `value`.
fn substitute(value: &Value, placeholder: &str, replacement: &str) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace(placeholder, replacement)),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| substitute(v, placeholder, replacement))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute(v, placeholder, replacement)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Result<SmokeSpec, String> {
        SmokeSpec::parse(text, Path::new("/crate"))
    }

    #[test]
    fn parses_the_documented_function_example() {
        let spec = parse(
            r#"{
              "env": { "CORS_ALLOWED_ORIGINS": "https://app.example.com" },
              "files": { "/.well-known/jwks.json": "smoke/jwks.json" },
              "cases": [
                { "name": "preflight", "event": {"httpMethod": "OPTIONS"},
                  "expect": { "statusCode": 204 } },
                { "name": "expired", "event": {}, "expect_error": { "errorMessage": "Unauthorized" } }
              ]
            }"#,
        )
        .unwrap();
        assert_eq!(spec.kind, SmokeKind::Function);
        assert_eq!(spec.env["CORS_ALLOWED_ORIGINS"], "https://app.example.com");
        assert_eq!(
            spec.files["/.well-known/jwks.json"],
            Path::new("/crate/smoke/jwks.json")
        );
        assert_eq!(
            spec.cases[1].check,
            CaseCheck::Error {
                event: json!({}),
                expect_error: json!({"errorMessage": "Unauthorized"})
            }
        );
    }

    #[test]
    fn a_case_needs_exactly_one_expectation() {
        let both = r#"{"cases": [{"name": "x", "event": {}, "expect": {}, "expect_error": {}}]}"#;
        let neither = r#"{"cases": [{"name": "x", "event": {}}]}"#;
        for text in [both, neither] {
            let err = parse(text).unwrap_err();
            assert!(
                err.contains("exactly one of `expect` and `expect_error`"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_function_case_needs_an_event() {
        let err = parse(r#"{"cases": [{"name": "x", "expect": {}}]}"#).unwrap_err();
        assert!(err.contains("`event` is required"), "{err}");
    }

    #[test]
    fn unknown_keys_are_rejected_so_typos_do_not_pass_silently() {
        let err = parse(r#"{"cases": [{"name": "x", "event": {}, "expected": {}}]}"#).unwrap_err();
        assert!(err.contains("unknown field `expected`"), "{err}");
    }

    #[test]
    fn an_empty_case_list_is_rejected() {
        assert!(
            parse(r#"{"cases": []}"#)
                .unwrap_err()
                .contains("at least one case")
        );
    }

    #[test]
    fn file_urls_must_be_absolute_paths() {
        let err = parse(
            r#"{"files": {"jwks.json": "a"}, "cases": [{"name": "x", "event": {}, "expect": {}}]}"#,
        )
        .unwrap_err();
        assert!(err.contains("must start with '/'"), "{err}");
    }

    #[test]
    fn extension_cases_take_telemetry_and_an_optional_log_expectation() {
        let spec = parse(
            r#"{"kind": "extension", "cases": [
                {"name": "report", "telemetry": [{"type": "platform.report", "record": {}}],
                 "expect_log": {"Duration": 1}}
            ]}"#,
        )
        .unwrap();
        assert_eq!(spec.kind, SmokeKind::Extension);
        assert!(matches!(
            &spec.cases[0].check,
            CaseCheck::Telemetry { telemetry, expect_log: Some(_) } if telemetry.len() == 1
        ));
    }

    #[test]
    fn extension_cases_cannot_carry_function_events() {
        let err = parse(
            r#"{"kind": "extension", "cases": [{"name": "x", "event": {}, "telemetry": []}]}"#,
        )
        .unwrap_err();
        assert!(err.contains("are for functions"), "{err}");
    }

    #[test]
    fn telemetry_events_need_a_type() {
        let err = parse(
            r#"{"kind": "extension", "cases": [{"name": "x", "telemetry": [{"record": {}}]}]}"#,
        )
        .unwrap_err();
        assert!(err.contains("telemetry[0] needs a string `type`"), "{err}");
    }

    #[test]
    fn an_unknown_kind_is_rejected() {
        let err =
            parse(r#"{"kind": "layer", "cases": [{"name": "x", "event": {}, "expect": {}}]}"#)
                .unwrap_err();
        assert!(err.contains("kind"), "{err}");
    }

    #[test]
    fn missing_files_are_reported_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("smoke.json");
        fs::write(
            &path,
            r#"{"files": {"/a.json": "missing.json"}, "cases": [{"name": "x", "event": {}, "expect": {}}]}"#,
        )
        .unwrap();
        let err = SmokeSpec::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("files./a.json") && err.contains("is not a file"),
            "{err}"
        );
    }

    #[test]
    fn request_id_placeholders_are_replaced_in_nested_strings() {
        let event =
            json!({"type": "platform.report", "record": {"requestId": "{{request_id}}", "n": 1}});
        assert_eq!(
            substitute(&event, REQUEST_ID_PLACEHOLDER, "abc"),
            json!({"type": "platform.report", "record": {"requestId": "abc", "n": 1}})
        );
    }

    #[test]
    fn unpacking_refuses_entries_that_escape_the_destination() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let zip_path = dir.path().join("evil.zip");
        let mut writer = zip::ZipWriter::new(fs::File::create(&zip_path).unwrap());
        writer
            .start_file("../escape", zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(b"x").unwrap();
        writer.finish().unwrap();
        let dest = dir.path().join("out");
        fs::create_dir(&dest).unwrap();
        let err = unpack_zip(&zip_path, &dest).unwrap_err().to_string();
        assert!(err.contains("escapes the archive root"), "{err}");
        assert!(!dir.path().join("escape").exists());
    }

    #[test]
    fn unpacking_keeps_the_executable_mode() {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let zip_path = dir.path().join("f.zip");
        let mut writer = zip::ZipWriter::new(fs::File::create(&zip_path).unwrap());
        writer
            .start_file(
                "bootstrap",
                zip::write::SimpleFileOptions::default().unix_permissions(0o755),
            )
            .unwrap();
        writer.write_all(b"#!/bin/sh\n").unwrap();
        writer.finish().unwrap();
        unpack_zip(&zip_path, dir.path()).unwrap();
        let mode = fs::metadata(dir.path().join("bootstrap"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
    }
}
