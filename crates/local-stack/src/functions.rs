//! Every function as Lambda runs it: its `bootstrap` (from the zip, under
//! qemu-user when it is aarch64 on another host, or a host build) started
//! against its own Runtime API emulator, one invocation at a time, with the
//! function's timeout; a crash or timeout ends the sandbox and the next
//! invocation is a cold start.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lambda_emulator::process::describe_exit;
use lambda_emulator::{
    Emulator, EmulatorConfig, InvocationResult, LambdaProcess, ProcessSpec, Stream,
};
use lambda_pack::elf::{self, Machine};
use lambda_pack::manifest::{self, Manifest};
use lambda_pack::spec::{ArtifactSet, Kind};
use local_gateway::{InvokeError, InvokeFuture, Invoker};
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::StackError;
use crate::config::Artifacts;
use crate::log::{LogSink, readable};

/// How long a function may take to initialise (Lambda allows 10 s; qemu
/// and a busy two-core machine need more).
pub const INIT_TIMEOUT: Duration = Duration::from_secs(60);

/// One function's executable and settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionArtifact {
    /// Function name.
    pub name: String,
    /// The executable.
    pub program: PathBuf,
    /// Runs it through this (`qemu-aarch64-static`) when not empty.
    pub runner: Vec<String>,
    /// The function's timeout.
    pub timeout: Duration,
    /// Its memory size.
    pub memory_mb: u32,
}

/// The emulator for `machine` on this host, if one is needed.
fn runner_for(machine: Machine) -> Result<Vec<String>, StackError> {
    let host = Machine::from_name(std::env::consts::ARCH);
    if host == Some(machine) {
        return Ok(Vec::new());
    }
    let wanted = [
        format!("qemu-{}-static", machine.name()),
        format!("qemu-{}", machine.name()),
    ];
    let path = std::env::var_os("PATH").unwrap_or_default();
    wanted
        .iter()
        .find(|program| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
        .map(|program| vec![program.clone()])
        .ok_or_else(|| {
            StackError::Artifacts(format!(
                "{} binaries need {} on this host: apt-get install -y qemu-user-static (or cargo xtask setup)",
                machine.name(),
                wanted[0]
            ))
        })
}

/// Resolves the functions of `artifacts`, unpacking zips into `work_dir`.
pub fn resolve(
    artifacts: &Artifacts,
    work_dir: &Path,
) -> Result<Vec<FunctionArtifact>, StackError> {
    match artifacts {
        Artifacts::Dist(dist) => {
            let manifest = Manifest::read(&dist.join(manifest::FILE_NAME)).map_err(|e| {
                StackError::Artifacts(format!(
                    "{e} (build the zips with `cargo xtask dist`, or run host builds)"
                ))
            })?;
            let mut functions = Vec::new();
            for (name, entry) in &manifest.functions {
                let dir = work_dir.join(name);
                lambda_emulator::unpack_zip(&dist.join(&entry.file), &dir)
                    .map_err(|e| StackError::Artifacts(e.to_string()))?;
                let program = dir.join("bootstrap");
                let bytes = std::fs::read(&program)
                    .map_err(|e| StackError::io(format!("reading {}", program.display()), e))?;
                let info = elf::inspect(&bytes, &program.display().to_string())
                    .map_err(|e| StackError::Artifacts(e.to_string()))?;
                let machine = [Machine::Aarch64, Machine::X86_64]
                    .into_iter()
                    .find(|m| m.e_machine() == info.machine)
                    .ok_or_else(|| {
                        StackError::Artifacts(format!(
                            "{name}: cannot run {}",
                            elf::machine_name(info.machine)
                        ))
                    })?;
                functions.push(FunctionArtifact {
                    name: name.clone(),
                    runner: runner_for(machine)?,
                    program,
                    timeout: Duration::from_secs(entry.timeout_s),
                    memory_mb: u32::try_from(entry.memory_mb).unwrap_or(u32::MAX),
                });
            }
            Ok(functions)
        }
        Artifacts::Host { root, bin_dir } => {
            let set = ArtifactSet::load(root).map_err(|e| StackError::Artifacts(e.to_string()))?;
            set.artifacts
                .iter()
                .filter(|a| a.kind == Kind::Function)
                .map(|a| {
                    let program = bin_dir.join(&a.binary);
                    if !program.is_file() {
                        return Err(StackError::Artifacts(format!(
                            "{} is missing: cargo build -p {}",
                            program.display(),
                            a.package
                        )));
                    }
                    Ok(FunctionArtifact {
                        name: a.name.clone(),
                        program,
                        runner: Vec::new(),
                        timeout: Duration::from_secs(a.timeout_s.unwrap_or(3)),
                        memory_mb: a
                            .memory_mb
                            .map_or(128, |m| u32::try_from(m).unwrap_or(u32::MAX)),
                    })
                })
                .collect()
        }
    }
}

/// A running sandbox: emulator, process, log forwarding.
struct Instance {
    emulator: Emulator,
    process: LambdaProcess,
    forwarder: JoinHandle<()>,
}

impl Instance {
    async fn stop(mut self) {
        self.process.kill().await;
        // Let the forwarder print the last lines before it goes.
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.forwarder.abort();
    }
}

/// Counters of one function.
#[derive(Debug, Default)]
pub struct FunctionStats {
    invocations: AtomicU64,
    cold_starts: AtomicU64,
}

/// Sandboxes waiting for an invocation, and the generation they belong to
/// (a restart starts a new one; older sandboxes are stopped when they come
/// back).
#[derive(Default)]
struct Pool {
    idle: Vec<Instance>,
    generation: u64,
    stopped: bool,
}

/// One function: its settings and its sandboxes. Like Lambda, each sandbox
/// runs one invocation at a time and more are started, up to the
/// function's concurrency, while all are busy.
pub struct FunctionHost {
    artifact: FunctionArtifact,
    env: Mutex<BTreeMap<String, String>>,
    pool: Mutex<Pool>,
    concurrency: tokio::sync::Semaphore,
    stats: FunctionStats,
    log: LogSink,
}

impl std::fmt::Debug for FunctionHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionHost")
            .field("artifact", &self.artifact)
            .finish_non_exhaustive()
    }
}

impl FunctionHost {
    /// A host for `artifact` with `env` on top of Lambda's variables, and
    /// at most `concurrency` sandboxes (at least one).
    pub fn new(
        artifact: FunctionArtifact,
        env: BTreeMap<String, String>,
        concurrency: usize,
        log: LogSink,
    ) -> Self {
        Self {
            artifact,
            env: Mutex::new(env),
            pool: Mutex::new(Pool::default()),
            concurrency: tokio::sync::Semaphore::new(concurrency.max(1)),
            stats: FunctionStats::default(),
            log,
        }
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.artifact.name
    }

    /// Invocations so far.
    pub fn invocations(&self) -> u64 {
        self.stats.invocations.load(Ordering::Relaxed)
    }

    /// Sandboxes started so far.
    pub fn cold_starts(&self) -> u64 {
        self.stats.cold_starts.load(Ordering::Relaxed)
    }

    /// The environment on top of Lambda's.
    pub fn env(&self) -> BTreeMap<String, String> {
        self.env.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn start_instance(&self) -> Result<Instance, String> {
        let a = &self.artifact;
        let emulator = Emulator::start(EmulatorConfig {
            function_name: a.name.clone(),
            memory_mb: a.memory_mb,
            timeout: a.timeout,
            ..EmulatorConfig::default()
        })
        .await
        .map_err(|e| e.to_string())?;
        let mut env = emulator.lambda_env();
        for (name, value) in self.env() {
            env.retain(|(existing, _)| *existing != name);
            env.push((name, value));
        }
        let mut process = LambdaProcess::spawn(&ProcessSpec {
            program: a.program.clone(),
            runner: a.runner.clone(),
            args: Vec::new(),
            env,
            cwd: a.program.parent().map(Path::to_path_buf),
        })
        .map_err(|e| e.to_string())?;
        self.stats.cold_starts.fetch_add(1, Ordering::Relaxed);
        let mut follower = process.follow_output();
        let log = self.log.clone();
        let source = a.name.clone();
        let forwarder = tokio::spawn(async move {
            loop {
                for line in follower.next_lines().await {
                    let text = match line.stream {
                        Stream::Stdout => readable(&line.text),
                        Stream::Stderr => format!("stderr: {}", line.text),
                    };
                    log.line(&source, &text);
                }
            }
        });
        let ready = tokio::select! {
            _ = emulator.wait_first_next() => Ok(()),
            error = emulator.wait_init_error() => Err(format!(
                "init error {}: {}", error.error_type(), error.error_message()
            )),
            status = process.wait() => Err(match status {
                Ok(status) => format!("exited during init ({})", describe_exit(status)),
                Err(e) => e.to_string(),
            }),
            () = tokio::time::sleep(INIT_TIMEOUT) => Err(format!("no /invocation/next within {INIT_TIMEOUT:?}")),
        };
        let instance = Instance {
            emulator,
            process,
            forwarder,
        };
        match ready {
            Ok(()) => Ok(instance),
            Err(why) => {
                let output = instance.process.log();
                instance.stop().await;
                Err(format!("{why}\n{output}"))
            }
        }
    }

    /// An idle sandbox of the current generation, or a new one.
    async fn take_instance(&self) -> Result<(Instance, u64), String> {
        loop {
            let (candidate, generation) = {
                let mut pool = self.pool();
                (pool.idle.pop(), pool.generation)
            };
            match candidate {
                Some(mut instance) => {
                    if instance.process.try_exit().is_none() {
                        return Ok((instance, generation));
                    }
                    // Its runtime died while idle: Lambda would start anew.
                    instance.stop().await;
                }
                None => return Ok((self.start_instance().await?, generation)),
            }
        }
    }

    /// Puts a sandbox back, unless it belongs to an older generation or
    /// the host is stopped.
    async fn give_back(&self, instance: Instance, generation: u64) {
        let leftover = {
            let mut pool = self.pool();
            if pool.stopped || pool.generation != generation {
                Some(instance)
            } else {
                pool.idle.push(instance);
                None
            }
        };
        if let Some(instance) = leftover {
            instance.stop().await;
        }
    }

    /// Starts a sandbox now (so that a bad configuration fails at once).
    pub async fn warm(&self) -> Result<(), StackError> {
        let instance =
            self.start_instance()
                .await
                .map_err(|message| StackError::FunctionStart {
                    name: self.artifact.name.clone(),
                    message,
                })?;
        let generation = self.pool().generation;
        self.give_back(instance, generation).await;
        Ok(())
    }

    /// Invokes the function with `event`, in an idle sandbox or a new one
    /// (up to the function's concurrency; further invocations wait).
    pub async fn invoke(&self, event: &Value) -> Result<Value, InvokeError> {
        self.stats.invocations.fetch_add(1, Ordering::Relaxed);
        let _permit = self
            .concurrency
            .acquire()
            .await
            .map_err(|_| InvokeError::Unavailable("the function is stopped".into()))?;
        let (mut instance, generation) =
            self.take_instance()
                .await
                .map_err(|why| InvokeError::Function {
                    error_type: "Runtime.InitError".into(),
                    message: why,
                })?;
        let pending = instance.emulator.invoke(event);
        let timeout = self.artifact.timeout;
        let result = tokio::select! {
            outcome = pending.outcome() => match outcome {
                Ok(invocation) => match invocation.result {
                    InvocationResult::Response(value) => Ok(value),
                    InvocationResult::Error(error) => Err(InvokeError::Function {
                        error_type: error.error_type(),
                        message: error.error_message(),
                    }),
                },
                Err(e) => Err(InvokeError::Unavailable(e.to_string())),
            },
            status = instance.process.wait() => Err(InvokeError::Function {
                error_type: "Runtime.ExitError".into(),
                message: match status {
                    Ok(status) => format!("the runtime exited ({})", describe_exit(status)),
                    Err(e) => e.to_string(),
                },
            }),
            () = tokio::time::sleep(timeout) => Err(InvokeError::Timeout(timeout)),
        };
        let ended = match &result {
            Err(InvokeError::Timeout(_)) => true,
            Err(InvokeError::Function { .. }) => instance.process.try_exit().is_some(),
            _ => false,
        };
        if ended {
            // Lambda ends a sandbox that timed out or whose runtime died.
            self.log.line(
                &self.artifact.name,
                "sandbox ended (timeout or crash); the next invocation is a cold start",
            );
            instance.stop().await;
        } else {
            self.give_back(instance, generation).await;
        }
        result
    }

    /// Stops every idle sandbox (busy ones stop when they finish), replaces
    /// the environment variables given (an empty value removes one) and
    /// starts a new sandbox.
    pub async fn restart(&self, changes: &BTreeMap<String, String>) -> Result<(), StackError> {
        let idle = {
            let mut pool = self.pool();
            pool.generation += 1;
            std::mem::take(&mut pool.idle)
        };
        for instance in idle {
            instance.stop().await;
        }
        apply_changes(
            &mut self.env.lock().unwrap_or_else(|p| p.into_inner()),
            changes,
        );
        self.warm().await
    }

    /// Stops every idle sandbox; busy ones stop when they finish.
    pub async fn stop(&self) {
        let idle = {
            let mut pool = self.pool();
            pool.stopped = true;
            std::mem::take(&mut pool.idle)
        };
        for instance in idle {
            instance.stop().await;
        }
    }
}

/// Sets each variable of `changes`, removing those with an empty value.
pub fn apply_changes(env: &mut BTreeMap<String, String>, changes: &BTreeMap<String, String>) {
    for (name, value) in changes {
        if value.is_empty() {
            env.remove(name);
        } else {
            env.insert(name.clone(), value.clone());
        }
    }
}

/// Every function, by name: the gateway's [`Invoker`].
#[derive(Debug, Clone, Default)]
pub struct Functions {
    hosts: BTreeMap<String, Arc<FunctionHost>>,
}

impl Functions {
    /// Adds a function.
    pub fn insert(&mut self, host: FunctionHost) {
        self.hosts.insert(host.name().to_owned(), Arc::new(host));
    }

    /// A function by name.
    pub fn get(&self, name: &str) -> Option<&Arc<FunctionHost>> {
        self.hosts.get(name)
    }

    /// Every function.
    pub fn all(&self) -> impl Iterator<Item = &Arc<FunctionHost>> {
        self.hosts.values()
    }
}

impl Invoker for Functions {
    fn invoke<'a>(&'a self, function: &'a str, event: Value) -> InvokeFuture<'a> {
        Box::pin(async move {
            match self.hosts.get(function) {
                Some(host) => host.invoke(&event).await,
                None => Err(InvokeError::Unavailable(format!(
                    "no function {function} in the stack"
                ))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_remove_variables() {
        let mut env: BTreeMap<String, String> = [
            ("A".to_owned(), "1".to_owned()),
            ("B".to_owned(), "2".to_owned()),
        ]
        .into();
        apply_changes(
            &mut env,
            &[
                ("A".to_owned(), String::new()),
                ("C".to_owned(), "3".to_owned()),
            ]
            .into(),
        );
        assert_eq!(
            env,
            [
                ("B".to_owned(), "2".to_owned()),
                ("C".to_owned(), "3".to_owned())
            ]
            .into()
        );
    }
}
