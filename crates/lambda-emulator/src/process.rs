//! Starting a `bootstrap` or extension process the way Lambda does, and
//! capturing what it prints.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::Error;

/// Lines kept per process; older ones are dropped so a chatty process cannot
/// exhaust memory during a long test.
const MAX_LINES: usize = 20_000;

/// How long to wait, after the process exited, for its pipes to drain (a
/// grandchild holding them open must not hang the caller).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// What to start and how.
#[derive(Debug, Clone, Default)]
pub struct ProcessSpec {
    /// The executable (e.g. the unzipped `bootstrap`).
    pub program: PathBuf,
    /// Runs `program` through this command when not empty, e.g.
    /// `["qemu-aarch64-static"]` for an aarch64 binary on x86_64.
    pub runner: Vec<String>,
    /// Arguments for `program`.
    pub args: Vec<String>,
    /// The complete environment (the parent's is not inherited, as on Lambda;
    /// `PATH` is the only variable passed through, so runners can be found).
    pub env: Vec<(String, String)>,
    /// Working directory (Lambda uses the task root).
    pub cwd: Option<PathBuf>,
}

/// Which pipe a captured line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One captured line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Position in the capture, counting every line ever read (also dropped ones).
    pub seq: usize,
    /// The pipe it came from.
    pub stream: Stream,
    /// The text, without the line break.
    pub text: String,
}

#[derive(Default)]
struct Capture {
    lines: Mutex<Vec<LogLine>>,
    next_seq: Mutex<usize>,
    changed: Notify,
}

impl Capture {
    fn lines(&self) -> MutexGuard<'_, Vec<LogLine>> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, stream: Stream, text: String) {
        let seq = {
            let mut next = self.next_seq.lock().unwrap_or_else(|p| p.into_inner());
            let seq = *next;
            *next += 1;
            seq
        };
        {
            let mut lines = self.lines();
            lines.push(LogLine { seq, stream, text });
            if lines.len() > MAX_LINES {
                let excess = lines.len() - MAX_LINES;
                lines.drain(..excess);
            }
        }
        self.changed.notify_waiters();
    }
}

/// A running process with captured stdout/stderr; killed when dropped.
pub struct LambdaProcess {
    label: String,
    child: Child,
    started_at: Instant,
    capture: Arc<Capture>,
    readers: Vec<JoinHandle<()>>,
    exit: Option<ExitStatus>,
}

impl std::fmt::Debug for LambdaProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaProcess")
            .field("label", &self.label)
            .field("pid", &self.child.id())
            .field("exit", &self.exit)
            .finish_non_exhaustive()
    }
}

/// The variables a started process inherits from the emulator's environment.
pub const INHERITED_VARS: &[&str] = &["PATH", "SSL_CERT_FILE", "SSL_CERT_DIR"];

impl LambdaProcess {
    /// Starts the process with piped stdout/stderr and no stdin.
    pub fn spawn(spec: &ProcessSpec) -> Result<Self, Error> {
        let (program, args): (PathBuf, Vec<String>) = match spec.runner.split_first() {
            Some((runner, runner_args)) => {
                let mut args = runner_args.to_vec();
                args.push(spec.program.display().to_string());
                args.extend(spec.args.iter().cloned());
                (PathBuf::from(runner), args)
            }
            None => (spec.program.clone(), spec.args.clone()),
        };
        let label = program_label(&spec.program);
        let mut command = Command::new(&program);
        command
            .args(&args)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // Lambda's environment is not ours: only PATH and where the root
        // certificates are pass through (a Nix build sandbox has no
        // /etc/ssl; a bootstrap that builds an HTTPS client at init needs
        // SSL_CERT_FILE there, as it finds /etc/pki on Lambda).
        for name in INHERITED_VARS {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command.envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if let Some(cwd) = &spec.cwd {
            command.current_dir(cwd);
        }
        let started_at = Instant::now();
        let mut child = command.spawn().map_err(|source| Error::Spawn {
            program: program.display().to_string(),
            source,
        })?;
        let capture = Arc::new(Capture::default());
        let mut readers = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            readers.push(tokio::spawn(read_lines(
                stdout,
                Stream::Stdout,
                Arc::clone(&capture),
            )));
        }
        if let Some(stderr) = child.stderr.take() {
            readers.push(tokio::spawn(read_lines(
                stderr,
                Stream::Stderr,
                Arc::clone(&capture),
            )));
        }
        Ok(Self {
            label,
            child,
            started_at,
            capture,
            readers,
            exit: None,
        })
    }

    /// When the process was started (just before `spawn`).
    pub fn started_at(&self) -> Instant {
        self.started_at
    }

    /// The OS process id while it runs.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Captured lines so far (both pipes, in arrival order).
    pub fn lines(&self) -> Vec<LogLine> {
        self.capture.lines().clone()
    }

    /// Captured standard output so far.
    pub fn stdout(&self) -> String {
        self.joined(Stream::Stdout)
    }

    /// Captured standard error so far.
    pub fn stderr(&self) -> String {
        self.joined(Stream::Stderr)
    }

    /// Sequence number the next captured line will get: pass it to
    /// [`LambdaProcess::wait_for_line`] to look only at later output.
    pub fn next_seq(&self) -> usize {
        *self
            .capture
            .next_seq
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The captured output as one block, each line prefixed with its pipe, for
    /// error messages.
    pub fn log(&self) -> String {
        let lines = self.capture.lines();
        let mut out = format!("--- output of {} ---\n", self.label);
        if lines.is_empty() {
            out.push_str("(no output)\n");
        }
        for line in lines.iter() {
            let tag = match line.stream {
                Stream::Stdout => "stdout",
                Stream::Stderr => "stderr",
            };
            out.push_str(tag);
            out.push_str(" | ");
            out.push_str(&line.text);
            out.push('\n');
        }
        out.push_str("--- end of output ---");
        out
    }

    /// Waits for a captured stdout line with `seq >= from_seq` for which `matches`
    /// is true, and returns it. No timeout: race it against one.
    pub async fn wait_for_line(
        &self,
        from_seq: usize,
        mut matches: impl FnMut(&str) -> bool,
    ) -> LogLine {
        loop {
            let notified = self.capture.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let found = self
                .capture
                .lines()
                .iter()
                .find(|l| l.seq >= from_seq && l.stream == Stream::Stdout && matches(&l.text))
                .cloned();
            if let Some(line) = found {
                return line;
            }
            notified.await;
        }
    }

    /// A handle that follows this process's output from its first line,
    /// usable from another task while this value is waited on or killed.
    pub fn follow_output(&self) -> OutputFollower {
        OutputFollower {
            capture: Arc::clone(&self.capture),
            next_seq: 0,
        }
    }

    /// Waits for the process to exit, then for its output to be read. Calling it
    /// again returns the same status. Cancel-safe.
    pub async fn wait(&mut self) -> Result<ExitStatus, Error> {
        if let Some(status) = self.exit {
            return Ok(status);
        }
        let status = self
            .child
            .wait()
            .await
            .map_err(|e| Error::io(format!("waiting for {}", self.label), e))?;
        self.exit = Some(status);
        self.drain().await;
        Ok(status)
    }

    /// The exit status if the process has already exited.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none()
            && let Ok(Some(status)) = self.child.try_wait()
        {
            self.exit = Some(status);
        }
        self.exit
    }

    /// Kills the process (if still running), reaps it and reads the rest of its
    /// output.
    pub async fn kill(&mut self) {
        if self.exit.is_none() {
            // Already gone is fine: we only need it stopped.
            let _ = self.child.start_kill();
            if let Ok(status) = self.child.wait().await {
                self.exit = Some(status);
            }
        }
        self.drain().await;
    }

    async fn drain(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(DRAIN_TIMEOUT, reader).await;
        }
    }

    fn joined(&self, stream: Stream) -> String {
        self.capture
            .lines()
            .iter()
            .filter(|l| l.stream == stream)
            .map(|l| format!("{}\n", l.text))
            .collect()
    }
}

/// Follows a process's captured output (see [`LambdaProcess::follow_output`]).
#[derive(Clone)]
pub struct OutputFollower {
    capture: Arc<Capture>,
    next_seq: usize,
}

impl std::fmt::Debug for OutputFollower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputFollower")
            .field("next_seq", &self.next_seq)
            .finish_non_exhaustive()
    }
}

impl OutputFollower {
    /// Waits for lines not returned yet (either pipe) and returns them in
    /// order. Lines dropped from the capture before they were read are
    /// skipped. No timeout, and it keeps waiting after the process exited:
    /// race it against [`LambdaProcess::wait`] or end the task that runs it.
    pub async fn next_lines(&mut self) -> Vec<LogLine> {
        loop {
            let notified = self.capture.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let lines: Vec<LogLine> = self
                .capture
                .lines()
                .iter()
                .filter(|l| l.seq >= self.next_seq)
                .cloned()
                .collect();
            if let Some(last) = lines.last() {
                self.next_seq = last.seq + 1;
                return lines;
            }
            notified.await;
        }
    }
}

fn program_label(program: &Path) -> String {
    program.file_name().map_or_else(
        || program.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}

async fn read_lines(pipe: impl AsyncRead + Unpin, stream: Stream, capture: Arc<Capture>) {
    let mut reader = BufReader::new(pipe);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        match reader.read_until(b'\n', &mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                while matches!(buffer.last(), Some(b'\n' | b'\r')) {
                    buffer.pop();
                }
                capture.push(stream, String::from_utf8_lossy(&buffer).into_owned());
            }
        }
    }
}

/// A human-readable exit status (`exit code 3`, `killed by signal 9`).
pub fn describe_exit(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_follower_gets_every_line_once_in_order_from_both_pipes() {
        let mut process = LambdaProcess::spawn(&ProcessSpec {
            program: "sh".into(),
            args: vec![
                "-c".into(),
                "echo one; echo two >&2; sleep 0.2; echo three".into(),
            ],
            ..ProcessSpec::default()
        })
        .unwrap();
        let mut follower = process.follow_output();
        let mut seen = Vec::new();
        while seen.len() < 3 {
            let lines = tokio::time::timeout(Duration::from_secs(5), follower.next_lines())
                .await
                .unwrap();
            seen.extend(lines.into_iter().map(|l| (l.stream, l.text)));
        }
        seen.sort_by_key(|(stream, _)| *stream == Stream::Stderr);
        assert_eq!(
            seen,
            [
                (Stream::Stdout, "one".to_owned()),
                (Stream::Stdout, "three".to_owned()),
                (Stream::Stderr, "two".to_owned()),
            ]
        );
        assert!(process.wait().await.unwrap().success());
        let quiet = tokio::time::timeout(Duration::from_millis(100), follower.next_lines()).await;
        assert!(quiet.is_err(), "no line is handed out twice");
    }
}
