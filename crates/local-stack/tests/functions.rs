//! The function host's Lambda semantics with a small Python runtime
//! speaking the Runtime API: one invocation per sandbox, more sandboxes up to
//! the concurrency, timeouts and crashes end a sandbox, restarts take the
//! new environment, init failures are reported with the output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use local_gateway::InvokeError;
use local_stack::LogSink;
use local_stack::functions::{FunctionArtifact, FunctionHost};
use serde_json::{Value, json};

/// Python's standard library only: the Nix check's sandbox has python3
/// (moto's) but no curl.
const RUNTIME: &str = r#"
import json, os, sys, time, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
if os.environ.get("FAIL_INIT"):
    print("bad configuration: FAIL_INIT", flush=True)
    sys.exit(3)
while True:
    with urllib.request.urlopen(api + "/invocation/next") as next_event:
        request_id = next_event.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(next_event.read() or b"null")
    if event.get("sleep"):
        time.sleep(1)
    if event.get("crash"):
        sys.exit(7)
    answer = {"greeting": os.environ.get("GREETING", ""), "pid": os.getpid()}
    response = urllib.request.Request(
        api + "/invocation/" + request_id + "/response",
        data=json.dumps(answer).encode(),
        method="POST",
    )
    urllib.request.urlopen(response).read()
"#;

fn host(
    dir: &tempfile::TempDir,
    timeout: Duration,
    concurrency: usize,
    env: &[(&str, &str)],
) -> Arc<FunctionHost> {
    let program = dir.path().join("bootstrap.py");
    std::fs::write(&program, RUNTIME).unwrap();
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    Arc::new(FunctionHost::new(
        FunctionArtifact {
            name: "shell".into(),
            program,
            runner: vec![std::env::var("MOTO_PYTHON").unwrap_or_else(|_| "python3".into())],
            timeout,
            memory_mb: 128,
        },
        env,
        concurrency,
        LogSink::capture(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_get_their_own_sandboxes_up_to_the_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(&dir, Duration::from_secs(10), 2, &[("GREETING", "hi")]);
    host.warm().await.unwrap();
    assert_eq!(host.cold_starts(), 1);
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let host = Arc::clone(&host);
            tokio::spawn(async move { host.invoke(&json!({"sleep": true})).await })
        })
        .collect();
    let mut pids = Vec::new();
    for call in calls {
        let answer = call.await.unwrap().unwrap();
        assert_eq!(answer["greeting"], "hi");
        pids.push(answer["pid"].as_u64().unwrap());
    }
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), 2, "two sandboxes served three invocations");
    assert_eq!(
        host.cold_starts(),
        2,
        "never more sandboxes than the concurrency"
    );
    assert_eq!(host.invocations(), 3);
    host.stop().await;
}

#[tokio::test]
async fn a_timeout_ends_the_sandbox_and_the_next_invocation_is_a_cold_start() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(&dir, Duration::from_millis(300), 1, &[("GREETING", "hi")]);
    let err = host.invoke(&json!({"sleep": true})).await.unwrap_err();
    assert!(matches!(err, InvokeError::Timeout(_)), "{err:?}");
    let answer = host.invoke(&json!({})).await.unwrap();
    assert_eq!(answer["greeting"], "hi");
    assert_eq!(host.cold_starts(), 2);
}

#[tokio::test]
async fn a_crash_is_an_exit_error_and_the_sandbox_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(&dir, Duration::from_secs(10), 1, &[("GREETING", "hi")]);
    let err = host.invoke(&json!({"crash": true})).await.unwrap_err();
    match err {
        InvokeError::Function {
            error_type,
            message,
        } => {
            assert_eq!(error_type, "Runtime.ExitError");
            assert!(message.contains("exit code 7"), "{message}");
        }
        other => panic!("expected an exit error, got {other:?}"),
    }
    let answer: Value = host.invoke(&json!({})).await.unwrap();
    assert_eq!(answer["greeting"], "hi");
    assert_eq!(host.cold_starts(), 2);
}

#[tokio::test]
async fn a_restart_takes_the_new_environment() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(&dir, Duration::from_secs(10), 1, &[("GREETING", "before")]);
    assert_eq!(host.invoke(&json!({})).await.unwrap()["greeting"], "before");
    host.restart(&[("GREETING".to_owned(), "after".to_owned())].into())
        .await
        .unwrap();
    assert_eq!(host.invoke(&json!({})).await.unwrap()["greeting"], "after");
    assert_eq!(host.env()["GREETING"], "after");
}

#[tokio::test]
async fn an_init_failure_is_reported_with_the_runtime_output() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(&dir, Duration::from_secs(10), 1, &[("FAIL_INIT", "1")]);
    let err = host.warm().await.unwrap_err().to_string();
    assert!(err.contains("exited during init (exit code 3)"), "{err}");
    assert!(err.contains("bad configuration: FAIL_INIT"), "{err}");
    let err = host.invoke(&json!({})).await.unwrap_err();
    assert!(
        matches!(&err, InvokeError::Function { error_type, .. } if error_type == "Runtime.InitError"),
        "{err:?}"
    );
}
