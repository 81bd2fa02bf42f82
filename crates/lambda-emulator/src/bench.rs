//! The benchmark runner behind `cargo xtask bench`: starts a packaged
//! artifact many times against fresh emulators (cold starts), then drives one
//! process through many warm invocations of its smoke.json events, recording
//! latencies and the process's peak resident memory.
//!
//! It reuses a smoke.json as its workload (env, static files, moto), so every
//! artifact that can be smoke-tested can be benchmarked with nothing else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Error;
use crate::process::{LambdaProcess, ProcessSpec, describe_exit};
use crate::server::{Emulator, EmulatorConfig, InvocationResult};
use crate::smoke::{
    CaseCheck, MOTO_URL_PLACEHOLDER, STATIC_URL_PLACEHOLDER, SmokeKind, SmokeMoto, SmokeSpec,
    unpack_zip,
};
use crate::static_files::StaticFiles;

/// How to benchmark one artifact.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The function zip or extension layer zip.
    pub zip: PathBuf,
    /// The crate's smoke.json: environment, fakes and the events to send.
    pub cases: PathBuf,
    /// Command to run the executable through (e.g. `["qemu-aarch64-static"]`).
    pub runner: Vec<String>,
    /// Fresh processes to start, each against a fresh emulator.
    pub starts: usize,
    /// Warm invocations sent to one process, cycling through the events.
    pub invocations: usize,
    /// Limit for each start and each invocation.
    pub timeout: Duration,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`.
    pub memory_mb: u32,
}

impl BenchOptions {
    /// Options with the defaults: 20 starts, 1,000 warm invocations, no
    /// runner, 30 s per phase, 128 MB.
    pub fn new(zip: impl Into<PathBuf>, cases: impl Into<PathBuf>) -> Self {
        Self {
            zip: zip.into(),
            cases: cases.into(),
            runner: Vec::new(),
            starts: 20,
            invocations: 1000,
            timeout: Duration::from_secs(30),
            memory_mb: 128,
        }
    }
}

/// One cold start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartSample {
    /// From spawning the process to its first `/invocation/next` (functions)
    /// or to the end of its registration, its first `/extension/event/next`
    /// (extensions).
    pub ready: Duration,
    /// Functions: from spawning the process to the first invocation's answer
    /// (the first event was queued before the spawn). `None` for extensions.
    pub first_response: Option<Duration>,
}

/// What a benchmark run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    /// Function or extension.
    pub kind: SmokeKind,
    /// Every cold start, in order.
    pub starts: Vec<StartSample>,
    /// Functions: the duration of every warm invocation (from the event
    /// leaving `/next` to the answer), in order. Empty for extensions.
    pub warm: Vec<Duration>,
    /// Warm invocations answered with an error document (expected for the
    /// smoke cases that test refusals).
    pub warm_errors: usize,
    /// `VmHWM` of the process (KiB) after the warm invocations (functions) or
    /// after its init (extensions); `None` where `/proc` does not have it
    /// (not Linux) or the process ran under a runner, whose memory it would be.
    pub peak_rss_kib: Option<u64>,
    /// The captured output of the last process, to find slow init steps.
    pub last_log: String,
}

/// Reads `VmHWM` (peak resident set size, KiB) from the text of
/// `/proc/<pid>/status`.
pub fn parse_vm_hwm(status: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix("VmHWM:")?;
        let mut parts = rest.split_whitespace();
        let value = parts.next()?.parse().ok()?;
        match parts.next() {
            Some("kB") | None => Some(value),
            Some(_) => None,
        }
    })
}

fn peak_rss_kib(process: &LambdaProcess, runner: &[String]) -> Option<u64> {
    if !runner.is_empty() {
        return None;
    }
    let pid = process.id()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_hwm(&status)
}

/// The events the function cases of a spec send, in order.
fn events(spec: &SmokeSpec) -> Vec<Value> {
    spec.cases
        .iter()
        .filter_map(|case| match &case.check {
            CaseCheck::Response { event, .. } | CaseCheck::Error { event, .. } => {
                Some(event.clone())
            }
            CaseCheck::Telemetry { .. } => None,
        })
        .collect()
}

/// The process environment: the emulator's Lambda variables, the task root,
/// then the spec's `env` with the placeholders replaced.
fn process_env(
    emulator: &Emulator,
    spec_env: &BTreeMap<String, String>,
    task_root: &Path,
    static_url: &str,
    moto_url: &str,
) -> Vec<(String, String)> {
    let mut env = emulator.lambda_env();
    env.push(("LAMBDA_TASK_ROOT".into(), task_root.display().to_string()));
    for (key, value) in spec_env {
        env.retain(|(k, _)| k != key);
        env.push((
            key.clone(),
            value
                .replace(STATIC_URL_PLACEHOLDER, static_url)
                .replace(MOTO_URL_PLACEHOLDER, moto_url),
        ));
    }
    env
}

/// What stays the same across the starts of one artifact.
struct Setup {
    spec: SmokeSpec,
    artifact: String,
    program: PathBuf,
    task_root: tempfile::TempDir,
    static_url: String,
    moto_url: String,
    // Kept alive for the whole run.
    _static_files: Option<StaticFiles>,
    _moto: Option<SmokeMoto>,
}

impl Setup {
    async fn new(options: &BenchOptions) -> Result<Self, Error> {
        let spec = SmokeSpec::load(&options.cases)?;
        let artifact = options.zip.file_stem().map_or_else(
            || "function".to_owned(),
            |s| s.to_string_lossy().into_owned(),
        );
        let task_root = tempfile::Builder::new()
            .prefix("lambda-bench-")
            .tempdir()
            .map_err(|e| Error::io("creating a temporary directory", e))?;
        unpack_zip(&options.zip, task_root.path())?;
        let program = match spec.kind {
            SmokeKind::Function => crate::smoke::function_program(&options.zip, task_root.path())?,
            SmokeKind::Extension => {
                crate::smoke::extension_program(&options.zip, task_root.path())?
            }
        };
        let static_files = crate::smoke::start_static_files(&spec).await?;
        let moto = match &spec.moto {
            Some(moto) => Some(SmokeMoto::start(moto).await?),
            None => None,
        };
        Ok(Self {
            static_url: static_files
                .as_ref()
                .map(StaticFiles::url)
                .unwrap_or_default(),
            moto_url: moto
                .as_ref()
                .map(SmokeMoto::endpoint_url)
                .unwrap_or_default(),
            spec,
            artifact,
            program,
            task_root,
            _static_files: static_files,
            _moto: moto,
        })
    }

    async fn emulator(&self, options: &BenchOptions) -> Result<Emulator, Error> {
        Emulator::start(EmulatorConfig {
            function_name: self.artifact.clone(),
            memory_mb: options.memory_mb,
            timeout: options.timeout,
            ..EmulatorConfig::default()
        })
        .await
    }

    fn spawn(&self, emulator: &Emulator, options: &BenchOptions) -> Result<LambdaProcess, Error> {
        LambdaProcess::spawn(&ProcessSpec {
            program: self.program.clone(),
            runner: options.runner.clone(),
            args: Vec::new(),
            env: process_env(
                emulator,
                &self.spec.env,
                self.task_root.path(),
                &self.static_url,
                &self.moto_url,
            ),
            cwd: Some(self.task_root.path().to_owned()),
        })
    }
}

/// Awaits `future` unless the process exits or `timeout` passes first.
async fn guarded<T>(
    process: &mut LambdaProcess,
    timeout: Duration,
    what: &str,
    future: impl Future<Output = T>,
) -> Result<T, Error> {
    tokio::select! {
        value = future => Ok(value),
        status = process.wait() => Err(Error::Exited {
            status: match status {
                Ok(status) => describe_exit(status),
                Err(e) => e.to_string(),
            },
            during: format!("while {what}"),
            log: process.log(),
        }),
        () = tokio::time::sleep(timeout) => Err(Error::Timeout {
            what: what.to_owned(),
            seconds: timeout.as_secs_f64(),
            log: process.log(),
        }),
    }
}

/// Benchmarks the artifact of `options`: `options.starts` cold starts, then
/// (functions) `options.invocations` warm invocations of one process. The
/// answers are not checked against the cases' expectations (that is what the
/// smoke test does); a failed start or a missing answer is an error.
pub async fn run_bench(
    options: &BenchOptions,
    mut progress: impl FnMut(&str),
) -> Result<BenchReport, Error> {
    if options.starts == 0 {
        return Err(Error::Usage("a benchmark needs at least one start".into()));
    }
    let setup = Setup::new(options).await?;
    match setup.spec.kind {
        SmokeKind::Function => bench_function(&setup, options, &mut progress).await,
        SmokeKind::Extension => bench_extension(&setup, options, &mut progress).await,
    }
}

async fn bench_function(
    setup: &Setup,
    options: &BenchOptions,
    progress: &mut impl FnMut(&str),
) -> Result<BenchReport, Error> {
    let events = events(&setup.spec);
    let Some(first_event) = events.first() else {
        return Err(Error::Usage(format!(
            "{}: no function cases to send",
            options.cases.display()
        )));
    };
    let mut starts = Vec::with_capacity(options.starts);
    let mut last: Option<(Emulator, LambdaProcess)> = None;
    for index in 0..options.starts {
        if let Some((_, mut previous)) = last.take() {
            previous.kill().await;
        }
        let emulator = setup.emulator(options).await?;
        // Queued before the spawn, so the first /next returns at once and the
        // first response measures init plus one invocation, as a cold start
        // on Lambda does.
        let pending = emulator.invoke(first_event);
        let mut process = setup.spawn(&emulator, options)?;
        let started_at = process.started_at();
        let outcome = guarded(
            &mut process,
            options.timeout,
            "starting and answering the first event",
            pending.outcome(),
        )
        .await;
        let answered_at = Instant::now();
        if let Some(error) = emulator.init_error() {
            let _ = tokio::time::timeout(Duration::from_secs(2), process.wait()).await;
            return Err(Error::Init {
                error_type: error.error_type(),
                error_message: error.error_message(),
                log: process.log(),
            });
        }
        outcome??;
        let ready = emulator
            .first_next_at()
            .map(|at| at.saturating_duration_since(started_at))
            .ok_or_else(|| Error::Usage("answered without calling /next".into()))?;
        starts.push(StartSample {
            ready,
            first_response: Some(answered_at.saturating_duration_since(started_at)),
        });
        progress(&format!(
            "start {}/{}: ready {:.2} ms",
            index + 1,
            options.starts,
            ready.as_secs_f64() * 1000.0
        ));
        last = Some((emulator, process));
    }
    let Some((emulator, mut process)) = last else {
        return Err(Error::Usage("no start was made".into()));
    };
    let mut warm = Vec::with_capacity(options.invocations);
    let mut warm_errors = 0;
    for (index, event) in events.iter().cycle().take(options.invocations).enumerate() {
        let invocation = guarded(
            &mut process,
            options.timeout,
            &format!("answering warm invocation {}", index + 1),
            emulator.invoke(event).outcome(),
        )
        .await??;
        if matches!(invocation.result, InvocationResult::Error(_)) {
            warm_errors += 1;
        }
        warm.push(invocation.duration);
    }
    progress(&format!("{} warm invocations", warm.len()));
    let peak_rss_kib = peak_rss_kib(&process, &options.runner);
    process.kill().await;
    Ok(BenchReport {
        kind: SmokeKind::Function,
        starts,
        warm,
        warm_errors,
        peak_rss_kib,
        last_log: process.log(),
    })
}

async fn bench_extension(
    setup: &Setup,
    options: &BenchOptions,
    progress: &mut impl FnMut(&str),
) -> Result<BenchReport, Error> {
    let mut starts = Vec::with_capacity(options.starts);
    let mut peak = None;
    let mut last_log = String::new();
    for index in 0..options.starts {
        let emulator = setup.emulator(options).await?;
        let mut process = setup.spawn(&emulator, options)?;
        guarded(
            &mut process,
            options.timeout,
            "registering (before the first /extension/event/next)",
            emulator.wait_extensions_ready(1),
        )
        .await?;
        let ready = process.started_at().elapsed();
        starts.push(StartSample {
            ready,
            first_response: None,
        });
        peak = peak_rss_kib(&process, &options.runner);
        emulator.shutdown_extensions("spindown");
        let _ = tokio::time::timeout(options.timeout, process.wait()).await;
        process.kill().await;
        last_log = process.log();
        progress(&format!(
            "start {}/{}: registered in {:.2} ms",
            index + 1,
            options.starts,
            ready.as_secs_f64() * 1000.0
        ));
    }
    Ok(BenchReport {
        kind: SmokeKind::Extension,
        starts,
        warm: Vec::new(),
        warm_errors: 0,
        peak_rss_kib: peak,
        last_log,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_is_read_in_kib_from_proc_status() {
        let status =
            "Name:\tbootstrap\nVmPeak:\t   12000 kB\nVmHWM:\t    4321 kB\nVmRSS:\t    4000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(4321));
    }

    #[test]
    fn a_status_without_vm_hwm_or_with_an_odd_unit_gives_nothing() {
        assert_eq!(parse_vm_hwm("Name:\tx\nVmRSS:\t10 kB\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\t10 MB\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\tlots kB\n"), None);
    }

    #[test]
    fn only_function_cases_become_events() {
        let spec = SmokeSpec::parse(
            r#"{"cases": [
                {"name": "a", "event": {"n": 1}, "expect": {}},
                {"name": "b", "event": {"n": 2}, "expect_error": {}}
            ]}"#,
            Path::new("/crate"),
        )
        .unwrap();
        assert_eq!(
            events(&spec),
            vec![serde_json::json!({"n": 1}), serde_json::json!({"n": 2})]
        );
    }

    #[test]
    fn spec_env_overrides_lambda_variables_and_fills_placeholders() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
            let spec_env = BTreeMap::from([
                ("AWS_REGION".to_owned(), "eu-west-1".to_owned()),
                ("JWKS_URL".to_owned(), "{{static_url}}/jwks.json".to_owned()),
                ("AWS_ENDPOINT_URL".to_owned(), "{{moto_url}}".to_owned()),
            ]);
            let env = process_env(
                &emulator,
                &spec_env,
                Path::new("/task"),
                "http://127.0.0.1:1",
                "http://127.0.0.1:2",
            );
            let get = |key: &str| {
                env.iter()
                    .filter(|(k, _)| k == key)
                    .map(|(_, v)| v.as_str())
                    .collect::<Vec<_>>()
            };
            assert_eq!(get("AWS_REGION"), ["eu-west-1"]);
            assert_eq!(get("JWKS_URL"), ["http://127.0.0.1:1/jwks.json"]);
            assert_eq!(get("AWS_ENDPOINT_URL"), ["http://127.0.0.1:2"]);
            assert_eq!(get("LAMBDA_TASK_ROOT"), ["/task"]);
            assert_eq!(get("AWS_LAMBDA_RUNTIME_API"), [emulator.runtime_api()]);
        });
    }
}
