//! The benchmark runner against the test doubles: every start, every warm
//! invocation and the peak memory are recorded; failures are errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use lambda_emulator::Error;
use lambda_emulator::bench::{BenchOptions, run_bench};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_start_and_warm_invocation_is_recorded_with_the_peak_rss() {
    let dir = tempfile::tempdir().unwrap();
    let zip = common::function_zip(dir.path(), "echo");
    let cases = common::smoke_json(
        dir.path(),
        &json!({
            "cases": [
                { "name": "answers", "event": {"a": 1}, "expect": {"event": {"a": 1}} },
                { "name": "refuses", "event": {"error": "no"}, "expect_error": {"errorMessage": "no"} }
            ]
        }),
    );
    let mut options = BenchOptions::new(&zip, &cases);
    options.starts = 3;
    options.invocations = 7;
    let mut messages = Vec::new();
    let report = run_bench(&options, |m| messages.push(m.to_owned()))
        .await
        .unwrap();
    assert_eq!(report.starts.len(), 3);
    for start in &report.starts {
        let first = start
            .first_response
            .expect("functions answer a first event");
        assert!(
            first >= start.ready,
            "the first answer comes after the first /next"
        );
    }
    assert_eq!(report.warm.len(), 7);
    // Cycling through [answers, refuses]: invocations 2, 4 and 6 are refusals.
    assert_eq!(report.warm_errors, 3);
    let rss = report.peak_rss_kib.expect("Linux has /proc/<pid>/status");
    assert!(rss > 0);
    assert!(report.last_log.contains("echo-function: starting"));
    assert_eq!(
        messages.len(),
        4,
        "one line per start and one for the warm run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_is_timed_to_the_end_of_its_registration() {
    let dir = tempfile::tempdir().unwrap();
    let zip = common::extension_zip(dir.path(), "echo-ext");
    let cases = common::smoke_json(
        dir.path(),
        &json!({
            "kind": "extension",
            "env": { "ECHO_EXTENSION_TELEMETRY_PORT": common::free_port().to_string() },
            "cases": [ { "name": "invoke", "telemetry": [] } ]
        }),
    );
    let mut options = BenchOptions::new(&zip, &cases);
    options.starts = 2;
    let report = run_bench(&options, |_| {}).await.unwrap();
    assert_eq!(report.starts.len(), 2);
    assert!(report.starts.iter().all(|s| s.first_response.is_none()));
    assert!(report.warm.is_empty());
    assert!(report.peak_rss_kib.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_failing_its_init_fails_the_benchmark_with_the_reported_error() {
    let dir = tempfile::tempdir().unwrap();
    let zip = common::function_zip(dir.path(), "echo");
    let cases = common::smoke_json(
        dir.path(),
        &json!({
            "env": { "ECHO_INIT_ERROR": "USER_POOL_ID is required" },
            "cases": [ { "name": "x", "event": {}, "expect": {} } ]
        }),
    );
    let err = run_bench(&BenchOptions::new(&zip, &cases), |_| {})
        .await
        .unwrap_err();
    match err {
        Error::Init { error_message, .. } => {
            assert_eq!(error_message, "USER_POOL_ID is required");
        }
        other => panic!("expected an init error, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_starts_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let zip = common::function_zip(dir.path(), "echo");
    let cases = common::smoke_json(
        dir.path(),
        &json!({ "cases": [ { "name": "x", "event": {}, "expect": {} } ] }),
    );
    let mut options = BenchOptions::new(&zip, &cases);
    options.starts = 0;
    let err = run_bench(&options, |_| {}).await.unwrap_err().to_string();
    assert!(err.contains("at least one start"), "{err}");
}
