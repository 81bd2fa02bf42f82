//! `local-stack` (what `cargo xtask local` runs) stops every process it
//! started when it gets SIGINT (Ctrl-C) or SIGTERM.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use local_stack::Artifacts;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

use crate::{CaseFuture, Ctx, ensure};

/// The line `local-stack` prints once everything is up.
const READY_LINE: &str = "Ctrl-C stops everything";
const START_TIMEOUT: Duration = Duration::from_secs(180);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// `(parent pid, state)` of every process, by pid, from `/proc`.
fn processes() -> BTreeMap<u32, (u32, char)> {
    let mut table = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return table;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        if let Some(ppid) = fields.next().and_then(|p| p.parse().ok()) {
            table.insert(pid, (ppid, state));
        }
    }
    table
}

/// Every descendant of `root`.
fn descendants(root: u32) -> Vec<u32> {
    let table = processes();
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for (pid, (ppid, _)) in &table {
            if *ppid == parent && !found.contains(pid) {
                found.push(*pid);
                frontier.push(*pid);
            }
        }
    }
    found
}

/// Those of `pids` still running (a zombie counts as not reaped: running).
fn still_there(pids: &[u32]) -> Vec<(u32, char)> {
    let table = processes();
    pids.iter()
        .filter_map(|pid| table.get(pid).map(|(_, state)| (*pid, *state)))
        .collect()
}

async fn stop_with(
    bin: &std::path::Path,
    artifacts: &Artifacts,
    signal: &str,
) -> Result<(), String> {
    let mut command = Command::new(bin);
    command.args(["--port", "0"]);
    match artifacts {
        Artifacts::Dist(dir) => {
            command.arg("--dist").arg(dir);
        }
        Artifacts::Host { root, bin_dir } => {
            command
                .arg("--bin-dir")
                .arg(bin_dir)
                .arg("--root")
                .arg(root);
        }
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", bin.display()))?;
    let pid = child.id().ok_or("local-stack has no pid")?;
    let output = Arc::new(Mutex::new(String::new()));
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(1);
    for pipe in [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let output = Arc::clone(&output);
        let ready_tx = ready_tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains(READY_LINE) {
                    let _ = ready_tx.try_send(());
                }
                let mut text = output.lock().unwrap_or_else(|p| p.into_inner());
                text.push_str(&line);
                text.push('\n');
            }
        });
    }
    drop(ready_tx);
    let tail = |output: &Arc<Mutex<String>>| {
        let text = output.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    };
    let ready = tokio::time::timeout(START_TIMEOUT, ready_rx.recv()).await;
    ensure!(
        matches!(ready, Ok(Some(()))),
        "local-stack did not print {READY_LINE:?} within {START_TIMEOUT:?}:\n{}",
        tail(&output)
    );
    let children = descendants(pid);
    ensure!(
        children.len() >= 6,
        "local-stack runs {} processes, expected moto and every function: {children:?}",
        children.len()
    );
    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .await
        .map_err(|e| format!("kill -{signal}: {e}"))?;
    ensure!(sent.success(), "kill -{signal} {pid} failed");
    let status = tokio::time::timeout(STOP_TIMEOUT, child.wait())
        .await
        .map_err(|_| format!("local-stack did not stop within {STOP_TIMEOUT:?} of SIG{signal}"))?
        .map_err(|e| e.to_string())?;
    ensure!(
        status.success(),
        "local-stack exited with {status} after SIG{signal}:\n{}",
        tail(&output)
    );
    let left = still_there(&children);
    ensure!(
        left.is_empty(),
        "after SIG{signal}, these children of local-stack are still there (pid, state): {left:?}"
    );
    let text = output.lock().unwrap_or_else(|p| p.into_inner()).clone();
    ensure!(
        text.contains("stopped"),
        "local-stack did not report its shutdown:\n{}",
        tail(&output)
    );
    Ok(())
}

/// The case.
pub fn signals<'a>(ctx: &'a Ctx<'a>) -> CaseFuture<'a> {
    Box::pin(async move {
        let bin =
            ctx.options.stack_bin.as_deref().ok_or(
                "no --stack-bin given: the local-stack binary is needed to test its shutdown",
            )?;
        for signal in ["INT", "TERM"] {
            stop_with(bin, &ctx.options.artifacts, signal).await?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_and_its_children_are_found_in_proc() {
        let me = std::process::id();
        let table = processes();
        assert!(table.contains_key(&me));
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let found = descendants(me);
        assert!(found.contains(&child.id()), "{found:?}");
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(still_there(&[child.id()]).is_empty());
    }
}
