//! The extension binary against the emulated Extensions and Telemetry APIs:
//! register, subscribe, INVOKE, POSTed telemetry batches, SHUTDOWN.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/emf_rules.rs"]
mod emf_rules;

use std::future::Future;
use std::time::Duration;

use lambda_emulator::{Emulator, EmulatorConfig, LambdaProcess, ProcessSpec, Stream};
use serde_json::{Value, json};

const EXTENSION: &str = env!("CARGO_BIN_EXE_telemetry-extension");

/// Only a guard against a hung test; nothing here is expected to come close.
const GUARD: Duration = Duration::from_secs(30);

const DIRECTIVE_ALL: &str = r#"{"Namespace":"LambdaForge","Dimensions":[["FunctionName"]],"Metrics":[{"Name":"Duration","Unit":"Milliseconds"},{"Name":"BilledDuration","Unit":"Milliseconds"},{"Name":"MaxMemoryUsed","Unit":"Megabytes"},{"Name":"InitDuration","Unit":"Milliseconds"},{"Name":"ColdStart","Unit":"Count"},{"Name":"Errors","Unit":"Count"},{"Name":"Timeouts","Unit":"Count"}]}"#;
const DIRECTIVE_WARM: &str = r#"{"Namespace":"LambdaForge","Dimensions":[["FunctionName"]],"Metrics":[{"Name":"Duration","Unit":"Milliseconds"},{"Name":"BilledDuration","Unit":"Milliseconds"},{"Name":"MaxMemoryUsed","Unit":"Megabytes"},{"Name":"ColdStart","Unit":"Count"},{"Name":"Errors","Unit":"Count"},{"Name":"Timeouts","Unit":"Count"}]}"#;

async fn within<T>(what: &str, process: &LambdaProcess, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(GUARD, future).await {
        Ok(value) => value,
        Err(_) => panic!("gave up waiting for {what}\n{}", process.log()),
    }
}

/// Starts the emulator (function `sms`) and the extension with `extra` env,
/// and waits until the extension finished its init.
async fn start(extra: &[(&str, &str)]) -> (Emulator, LambdaProcess) {
    let emulator = Emulator::start(EmulatorConfig {
        function_name: "sms".into(),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let mut env = emulator.lambda_env();
    // Tests run in parallel: let the OS pick each listener's port.
    env.push(("TELEMETRY_LISTENER_PORT".into(), "0".into()));
    for (key, value) in extra {
        env.retain(|(k, _)| k != key);
        env.push(((*key).into(), (*value).into()));
    }
    let process = LambdaProcess::spawn(&ProcessSpec {
        program: EXTENSION.into(),
        env,
        ..ProcessSpec::default()
    })
    .unwrap();
    within("registration", &process, emulator.wait_extensions_ready(1)).await;
    (emulator, process)
}

/// Sends INVOKE and waits until the extension took it; returns the request id.
async fn exit_status(process: &mut LambdaProcess) -> std::process::ExitStatus {
    match tokio::time::timeout(GUARD, process.wait()).await {
        Ok(status) => status.unwrap(),
        Err(_) => panic!("the extension did not exit\n{}", process.log()),
    }
}

async fn invoke(emulator: &Emulator, process: &LambdaProcess) -> String {
    let pending = emulator.invoke(&Value::Null);
    within(
        "INVOKE to be taken",
        process,
        emulator.wait_extension_events_delivered(),
    )
    .await;
    pending.request_id().to_owned()
}

async fn send(emulator: &Emulator, process: &LambdaProcess, events: &[Value]) {
    let deliveries = within(
        "a telemetry delivery",
        process,
        emulator.send_telemetry(events),
    )
    .await
    .unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status, 200, "{}", process.log());
}

async fn shutdown(emulator: &Emulator, process: &mut LambdaProcess) {
    emulator.shutdown_extensions("spindown");
    let status = exit_status(process).await;
    let log = process.log();
    assert!(status.success(), "exit {status:?}\n{log}");
    assert!(emulator.extension_errors().is_empty(), "{log}");
}

/// Stdout lines, each checked against the EMF rules.
fn emf_lines(process: &LambdaProcess) -> Vec<String> {
    let lines: Vec<String> = process
        .lines()
        .into_iter()
        .filter(|l| l.stream == Stream::Stdout)
        .map(|l| l.text)
        .collect();
    for line in &lines {
        emf_rules::validate(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    lines
}

/// The counters the extension logs (to stderr) once it flushed on shutdown.
fn shutdown_stats(process: &LambdaProcess) -> Value {
    let line = process
        .lines()
        .into_iter()
        .filter(|l| l.stream == Stream::Stderr)
        .filter_map(|l| serde_json::from_str::<Value>(&l.text).ok())
        .find(|v| v["message"] == "flushed on shutdown")
        .unwrap_or_else(|| panic!("no shutdown log line\n{}", process.log()));
    line["stats"].clone()
}

fn start_event(time: &str, id: &str) -> Value {
    json!({"time": time, "type": "platform.start", "record": {"requestId": id, "version": "$LATEST"}})
}

fn runtime_done(time: &str, id: &str, status: &str, duration_ms: f64) -> Value {
    json!({"time": time, "type": "platform.runtimeDone", "record": {
        "requestId": id, "status": status,
        "metrics": {"durationMs": duration_ms, "producedBytes": 12}, "spans": []}})
}

fn report(time: &str, id: &str, status: &str, duration_ms: f64, billed: u64, max_mb: u64) -> Value {
    json!({"time": time, "type": "platform.report", "record": {
        "requestId": id, "status": status,
        "metrics": {"durationMs": duration_ms, "billedDurationMs": billed,
                    "memorySizeMB": 128, "maxMemoryUsedMB": max_mb}, "spans": []}})
}

fn init_events() -> Vec<Value> {
    vec![
        json!({"time": "2026-11-28T04:59:59.500Z", "type": "platform.initStart",
               "record": {"initializationType": "on-demand", "phase": "init"}}),
        json!({"time": "2026-11-28T04:59:59.900Z", "type": "platform.initRuntimeDone",
               "record": {"initializationType": "on-demand", "phase": "init", "status": "success"}}),
        json!({"time": "2026-11-28T04:59:59.910Z", "type": "platform.initReport",
               "record": {"initializationType": "on-demand", "phase": "init", "status": "success",
                          "metrics": {"durationMs": 21.5}}}),
    ]
}

#[tokio::test]
async fn cold_then_warm_invocation_become_emf_lines_and_shutdown_exits_cleanly() {
    let (emulator, mut process) = start(&[]).await;

    let extensions = emulator.extensions();
    assert_eq!(extensions[0].name, "telemetry-extension");
    assert_eq!(extensions[0].events, ["INVOKE", "SHUTDOWN"]);
    let subscriptions = emulator.telemetry_subscriptions();
    assert_eq!(subscriptions.len(), 1);
    assert_eq!(subscriptions[0].schema_version, "2022-12-13");
    assert_eq!(subscriptions[0].types, ["platform"]);
    assert_eq!(
        subscriptions[0].buffering,
        json!({"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 1000})
    );
    assert!(
        subscriptions[0]
            .destination_uri
            .starts_with("http://sandbox.localdomain:"),
        "{}",
        subscriptions[0].destination_uri
    );

    let cold = invoke(&emulator, &process).await;
    let mut batch = init_events();
    batch.extend([
        start_event("2026-11-28T04:59:59.950Z", &cold),
        runtime_done("2026-11-28T04:59:59.990Z", &cold, "success", 40.25),
        report("2026-11-28T05:00:00.000Z", &cold, "success", 41.5, 42, 18),
    ]);
    send(&emulator, &process, &batch).await;

    let warm = invoke(&emulator, &process).await;
    send(
        &emulator,
        &process,
        &[
            start_event("2026-11-28T05:00:01.200Z", &warm),
            runtime_done("2026-11-28T05:00:01.240Z", &warm, "success", 3.0),
            report("2026-11-28T05:00:01.250Z", &warm, "success", 3.25, 4, 19),
        ],
    )
    .await;

    shutdown(&emulator, &mut process).await;
    assert_eq!(
        emf_lines(&process),
        [
            format!(
                r#"{{"_aws":{{"Timestamp":1795842000000,"CloudWatchMetrics":[{DIRECTIVE_ALL}]}},"FunctionName":"sms","Duration":41.5,"BilledDuration":42,"MaxMemoryUsed":18,"InitDuration":21.5,"ColdStart":1,"Errors":0,"Timeouts":0}}"#
            ),
            format!(
                r#"{{"_aws":{{"Timestamp":1795842001250,"CloudWatchMetrics":[{DIRECTIVE_WARM}]}},"FunctionName":"sms","Duration":3.25,"BilledDuration":4,"MaxMemoryUsed":19,"ColdStart":0,"Errors":0,"Timeouts":0}}"#
            ),
        ]
    );
    let stats = shutdown_stats(&process);
    assert_eq!(
        (
            stats["events"].as_u64(),
            stats["lines"].as_u64(),
            stats["unreported"].as_u64()
        ),
        (Some(9), Some(2), Some(0))
    );
}

#[tokio::test]
async fn shutdown_flushes_an_invocation_whose_report_never_came() {
    let (emulator, mut process) = start(&[
        ("TELEMETRY_SHUTDOWN_DRAIN_MS", "100"),
        ("TELEMETRY_NAMESPACE", "Forge/Test"),
    ])
    .await;
    let id = invoke(&emulator, &process).await;
    send(
        &emulator,
        &process,
        &[
            start_event("2026-11-28T05:00:58.000Z", &id),
            runtime_done("2026-11-28T05:01:00.500Z", &id, "timeout", 2500.0),
        ],
    )
    .await;
    assert!(
        emf_lines(&process).is_empty(),
        "nothing is published before the flush"
    );

    shutdown(&emulator, &mut process).await;
    assert_eq!(
        emf_lines(&process),
        [
            r#"{"_aws":{"Timestamp":1795842060500,"CloudWatchMetrics":[{"Namespace":"Forge/Test","Dimensions":[["FunctionName"]],"Metrics":[{"Name":"Duration","Unit":"Milliseconds"},{"Name":"ColdStart","Unit":"Count"},{"Name":"Errors","Unit":"Count"},{"Name":"Timeouts","Unit":"Count"}]}]},"FunctionName":"sms","Duration":2500.0,"ColdStart":0,"Errors":1,"Timeouts":1}"#
        ]
    );
}

#[tokio::test]
async fn shutdown_waits_for_a_report_still_on_its_way() {
    let (emulator, mut process) = start(&[("TELEMETRY_SHUTDOWN_DRAIN_MS", "1500")]).await;
    let id = invoke(&emulator, &process).await;
    emulator.shutdown_extensions("spindown");
    within(
        "SHUTDOWN to be taken",
        &process,
        emulator.wait_extension_events_delivered(),
    )
    .await;
    // Lambda may deliver the last report after SHUTDOWN; it must still count.
    send(
        &emulator,
        &process,
        &[
            start_event("2026-11-28T05:00:01.200Z", &id),
            runtime_done("2026-11-28T05:00:01.240Z", &id, "error", 3.0),
            report("2026-11-28T05:00:01.250Z", &id, "error", 3.25, 4, 19),
        ],
    )
    .await;
    let status = exit_status(&mut process).await;
    assert!(status.success(), "{}", process.log());
    assert_eq!(
        emf_lines(&process),
        [format!(
            r#"{{"_aws":{{"Timestamp":1795842001250,"CloudWatchMetrics":[{DIRECTIVE_WARM}]}},"FunctionName":"sms","Duration":3.25,"BilledDuration":4,"MaxMemoryUsed":19,"ColdStart":0,"Errors":1,"Timeouts":0}}"#
        )]
    );
    assert_eq!(shutdown_stats(&process)["unreported"], 0);
}

#[tokio::test]
async fn unknown_and_malformed_events_are_counted_and_the_rest_of_the_batch_is_used() {
    let (emulator, mut process) = start(&[]).await;
    let id = invoke(&emulator, &process).await;
    send(
        &emulator,
        &process,
        &[
            json!({"time": "2026-11-28T05:00:00.000Z", "type": "platform.restoreStart", "record": {}}),
            json!({"time": "2026-11-28T05:00:00.000Z", "type": "platform.report", "record": {"requestId": id}}),
            report("2026-11-28T05:00:01.250Z", &id, "success", 3.25, 4, 19),
        ],
    )
    .await;
    shutdown(&emulator, &mut process).await;
    assert_eq!(emf_lines(&process).len(), 1);
    let stats = shutdown_stats(&process);
    assert_eq!(
        (stats["unknown"].as_u64(), stats["malformed"].as_u64()),
        (Some(1), Some(1))
    );
}

#[tokio::test]
async fn disabled_extension_registers_idles_and_exits_on_shutdown() {
    let (emulator, mut process) = start(&[
        ("TELEMETRY_DISABLED", "1"),
        ("TELEMETRY_NAMESPACE", "AWS/Ignored"),
    ])
    .await;
    assert!(emulator.telemetry_subscriptions().is_empty());
    invoke(&emulator, &process).await;
    invoke(&emulator, &process).await;
    shutdown(&emulator, &mut process).await;
    assert!(emf_lines(&process).is_empty());
}

#[tokio::test]
async fn invalid_configuration_is_reported_as_an_init_error_naming_the_variable() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let mut env = emulator.lambda_env();
    env.push(("TELEMETRY_BUFFER_TIMEOUT_MS".into(), "5".into()));
    let mut process = LambdaProcess::spawn(&ProcessSpec {
        program: EXTENSION.into(),
        env,
        ..ProcessSpec::default()
    })
    .unwrap();
    let status = exit_status(&mut process).await;
    assert!(!status.success(), "{}", process.log());
    let errors = emulator.extension_errors();
    assert_eq!(errors.len(), 1, "{}", process.log());
    assert_eq!(errors[0].phase, "init");
    assert_eq!(errors[0].error_type, "Extension.ConfigInvalid");
    let message = errors[0].body["errorMessage"].as_str().unwrap();
    assert!(message.contains("TELEMETRY_BUFFER_TIMEOUT_MS"), "{message}");
}
