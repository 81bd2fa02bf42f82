//! The Extensions API and Telemetry API: raw wire shapes, and an extension built
//! on the real `lambda-extension` client driven end to end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use lambda_emulator::http_client;
use lambda_emulator::{
    Emulator, EmulatorConfig, Error, LambdaProcess, ProcessSpec, SmokeKind, SmokeOptions, run_smoke,
};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

async fn register(emulator: &Emulator, name: &str, events: Value) -> (String, Value) {
    let url = format!(
        "http://{}/2020-01-01/extension/register",
        emulator.runtime_api()
    );
    let response = http_client::post_json(
        &url,
        &[
            ("lambda-extension-name", name),
            ("lambda-extension-accept-feature", "accountId"),
        ],
        &json!({ "events": events }),
        WAIT,
    )
    .await
    .unwrap();
    assert_eq!(response.status, 200);
    let id = response.headers["lambda-extension-identifier"]
        .to_str()
        .unwrap()
        .to_owned();
    (id, serde_json::from_slice(&response.body).unwrap())
}

async fn next_event(emulator: &Emulator, id: &str) -> Value {
    let url = format!(
        "http://{}/2020-01-01/extension/event/next",
        emulator.runtime_api()
    );
    let response = tokio::time::timeout(
        WAIT,
        http_client::send(
            http::Method::GET,
            &url,
            &[("lambda-extension-identifier", id)],
            Vec::new(),
            WAIT,
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(response.status, 200);
    serde_json::from_slice(&response.body).unwrap()
}

#[tokio::test]
async fn register_returns_an_identifier_and_the_function_description() {
    let emulator = Emulator::start(EmulatorConfig {
        function_name: "cors".into(),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let (id, body) = register(&emulator, "telemetry", json!(["INVOKE", "SHUTDOWN"])).await;
    assert!(!id.is_empty());
    assert_eq!(
        body,
        json!({
            "functionName": "cors",
            "functionVersion": "$LATEST",
            "handler": "bootstrap",
            "accountId": "123456789012"
        })
    );
    let registered = emulator.extensions();
    assert_eq!(registered.len(), 1);
    assert_eq!(registered[0].name, "telemetry");
    assert!(
        !registered[0].ready,
        "not ready before its first event/next"
    );
}

#[tokio::test]
async fn register_without_a_name_or_with_unknown_events_is_refused() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let url = format!(
        "http://{}/2020-01-01/extension/register",
        emulator.runtime_api()
    );
    let nameless = http_client::post_json(&url, &[], &json!({"events": ["INVOKE"]}), WAIT)
        .await
        .unwrap();
    assert_eq!(nameless.status, 400);
    let unknown = http_client::post_json(
        &url,
        &[("lambda-extension-name", "x")],
        &json!({"events": ["RESTORE"]}),
        WAIT,
    )
    .await
    .unwrap();
    assert_eq!(unknown.status, 400);
    assert!(emulator.extensions().is_empty());
}

#[tokio::test]
async fn invoke_then_shutdown_events_have_the_documented_shapes() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let (id, _) = register(&emulator, "ext", json!(["INVOKE", "SHUTDOWN"])).await;
    let pending = emulator.invoke(&json!({}));
    let invoke = next_event(&emulator, &id).await;
    assert_eq!(invoke["eventType"], "INVOKE");
    assert_eq!(invoke["requestId"], pending.request_id());
    assert!(invoke["deadlineMs"].as_u64().unwrap() > 1_700_000_000_000);
    assert_eq!(
        invoke["invokedFunctionArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:function"
    );
    assert_eq!(invoke["tracing"]["type"], "X-Amzn-Trace-Id");
    assert!(
        invoke["tracing"]["value"]
            .as_str()
            .unwrap()
            .starts_with("Root=1-")
    );
    assert!(emulator.extensions()[0].ready);

    emulator.shutdown_extensions("spindown");
    let shutdown = next_event(&emulator, &id).await;
    assert_eq!(shutdown["eventType"], "SHUTDOWN");
    assert_eq!(shutdown["shutdownReason"], "spindown");
    assert!(shutdown["deadlineMs"].as_u64().is_some());
}

#[tokio::test]
async fn an_extension_registered_only_for_shutdown_gets_no_invoke() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let (id, _) = register(&emulator, "ext", json!(["SHUTDOWN"])).await;
    let _pending = emulator.invoke(&json!({}));
    emulator.shutdown_extensions("spindown");
    assert_eq!(next_event(&emulator, &id).await["eventType"], "SHUTDOWN");
}

#[tokio::test]
async fn unknown_extension_identifiers_are_forbidden() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let api = emulator.runtime_api();
    let next = http_client::send(
        http::Method::GET,
        &format!("http://{api}/2020-01-01/extension/event/next"),
        &[("lambda-extension-identifier", "made-up")],
        Vec::new(),
        WAIT,
    )
    .await
    .unwrap();
    assert_eq!(next.status, 403);
    let subscribe = http_client::send(
        http::Method::PUT,
        &format!("http://{api}/2022-07-01/telemetry"),
        &[],
        b"{}".to_vec(),
        WAIT,
    )
    .await
    .unwrap();
    assert_eq!(subscribe.status, 403);
}

/// A telemetry listener recording every batch it receives.
async fn recording_listener() -> (u16, Arc<Mutex<Vec<Value>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let batches = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&batches);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let recorded = Arc::clone(&recorded);
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let recorded = Arc::clone(&recorded);
                        async move {
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            recorded
                                .lock()
                                .unwrap()
                                .push(serde_json::from_slice(&body).unwrap());
                            Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::new())))
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (port, batches)
}

#[tokio::test]
async fn telemetry_batches_go_to_the_subscribed_destination_filtered_by_type() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let (id, _) = register(&emulator, "telemetry", json!(["INVOKE", "SHUTDOWN"])).await;
    assert!(matches!(
        emulator
            .send_telemetry(&[json!({"type": "platform.report"})])
            .await,
        Err(Error::Usage(_))
    ));

    let (port, batches) = recording_listener().await;
    let subscribe = http_client::send(
        http::Method::PUT,
        &format!("http://{}/2022-07-01/telemetry", emulator.runtime_api()),
        &[
            ("lambda-extension-identifier", &id),
            ("content-type", "application/json"),
        ],
        json!({
            "schemaVersion": "2022-12-13",
            "types": ["platform"],
            "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 100},
            "destination": {"protocol": "HTTP", "URI": format!("http://sandbox.localdomain:{port}")}
        })
        .to_string()
        .into_bytes(),
        WAIT,
    )
    .await
    .unwrap();
    assert_eq!(subscribe.status, 200);
    let subscription = &emulator.telemetry_subscriptions()[0];
    assert_eq!(subscription.extension_name, "telemetry");
    assert_eq!(subscription.types, ["platform"]);
    assert_eq!(subscription.buffering["maxItems"], 1000);
    assert_eq!(subscription.schema_version, "2022-12-13");

    let report = json!({"time": "2026-01-01T00:00:00.000Z", "type": "platform.report",
        "record": {"requestId": "r1", "status": "success",
                   "metrics": {"durationMs": 1.5, "billedDurationMs": 2, "memorySizeMB": 128, "maxMemoryUsedMB": 20}}});
    let function_log =
        json!({"time": "2026-01-01T00:00:00.000Z", "type": "function", "record": "hello"});
    let deliveries = emulator
        .send_telemetry(&[report.clone(), function_log])
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status, 200);
    assert_eq!(deliveries[0].events, 1);
    assert_eq!(deliveries[0].url, format!("http://127.0.0.1:{port}/"));
    assert_eq!(*batches.lock().unwrap(), vec![json!([report])]);
}

#[tokio::test]
async fn a_real_lambda_extension_registers_subscribes_and_receives_invoke_telemetry_and_shutdown() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let port = common::free_port().to_string();
    let mut env = emulator.lambda_env();
    env.push(("ECHO_EXTENSION_TELEMETRY_PORT".into(), port.clone()));
    let mut process = LambdaProcess::spawn(&ProcessSpec {
        program: common::ECHO_EXTENSION.into(),
        env,
        ..ProcessSpec::default()
    })
    .unwrap();
    let ready = tokio::time::timeout(WAIT, emulator.wait_extensions_ready(1))
        .await
        .unwrap();
    assert_eq!(ready[0].name, "echo-extension");
    let subscriptions = emulator.telemetry_subscriptions();
    assert_eq!(
        subscriptions[0].destination_uri,
        format!("http://sandbox.localdomain:{port}")
    );

    let pending = emulator.invoke(&json!({}));
    let from = 0;
    let invoke_line = tokio::time::timeout(
        WAIT,
        process.wait_for_line(from, |l| l.contains("\"INVOKE\"")),
    )
    .await
    .unwrap();
    let invoke: Value = serde_json::from_str(&invoke_line.text).unwrap();
    assert_eq!(invoke["requestId"], pending.request_id());

    let report = json!({"time": "2026-01-01T00:00:00.000Z", "type": "platform.report",
        "record": {"requestId": pending.request_id(), "status": "success",
                   "metrics": {"durationMs": 1.5, "billedDurationMs": 2, "memorySizeMB": 128, "maxMemoryUsedMB": 20}}});
    let deliveries = emulator.send_telemetry(&[report]).await.unwrap();
    assert_eq!(deliveries[0].status, 200);
    let telemetry_line = tokio::time::timeout(
        WAIT,
        process.wait_for_line(from, |l| l.contains("platform.report")),
    )
    .await
    .unwrap();
    let telemetry: Value = serde_json::from_str(&telemetry_line.text).unwrap();
    assert_eq!(
        telemetry["telemetry"]["record"]["requestId"],
        pending.request_id()
    );

    emulator.shutdown_extensions("spindown");
    let status = tokio::time::timeout(WAIT, process.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(process.stdout().contains("\"shutdownReason\":\"spindown\""));
}

fn extension_smoke(dir: &std::path::Path, exit_code: &str) -> SmokeOptions {
    let zip = common::extension_zip(dir, "echo-layer");
    let cases = common::smoke_json(
        dir,
        &json!({
            "kind": "extension",
            "env": {
                "ECHO_EXTENSION_TELEMETRY_PORT": common::free_port().to_string(),
                "ECHO_EXTENSION_EXIT_ON_SHUTDOWN": exit_code
            },
            "cases": [
                { "name": "sees the invoke", "telemetry": [], "expect_log": {"event": "INVOKE"} },
                { "name": "gets the report",
                  "telemetry": [{"time": "2026-01-01T00:00:00.000Z", "type": "platform.report",
                                 "record": {"requestId": "{{request_id}}", "status": "success",
                                            "metrics": {"durationMs": 3.0, "billedDurationMs": 3,
                                                        "memorySizeMB": 128, "maxMemoryUsedMB": 21}}}],
                  "expect_log": {"telemetry": {"type": "platform.report", "record": {"status": "success"}}} }
            ]
        }),
    );
    SmokeOptions::new(zip, cases)
}

#[tokio::test]
async fn an_extension_layer_smoke_passes_when_logs_match_and_it_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let report = run_smoke(&extension_smoke(dir.path(), "0"), |_| {})
        .await
        .unwrap();
    assert_eq!(report.kind, SmokeKind::Extension);
    assert_eq!(report.cases.len(), 2);
    assert!(report.log.contains("platform.report"), "{}", report.log);
}

#[tokio::test]
async fn an_extension_exiting_non_zero_after_shutdown_fails_the_smoke() {
    let dir = tempfile::tempdir().unwrap();
    let err = run_smoke(&extension_smoke(dir.path(), "4"), |_| {})
        .await
        .unwrap_err();
    let Error::Exited { status, during, .. } = &err else {
        panic!("expected Exited, got {err}")
    };
    assert_eq!(status, "exit code 4");
    assert!(during.contains("after SHUTDOWN"), "{during}");
}

#[tokio::test]
async fn an_unmatched_expect_log_fails_the_case_with_the_extension_log() {
    let dir = tempfile::tempdir().unwrap();
    let zip = common::extension_zip(dir.path(), "echo-layer");
    let cases = common::smoke_json(
        dir.path(),
        &json!({
            "kind": "extension",
            "env": { "ECHO_EXTENSION_TELEMETRY_PORT": common::free_port().to_string() },
            "cases": [{ "name": "wants metrics", "telemetry": [], "expect_log": {"_aws": {}} }]
        }),
    );
    let mut options = SmokeOptions::new(zip, cases);
    options.timeout = Duration::from_secs(1);
    let err = run_smoke(&options, |_| {}).await.unwrap_err();
    let Error::CaseFailed { case, reason, log } = &err else {
        panic!("expected CaseFailed, got {err}")
    };
    assert_eq!(case, "wants metrics");
    assert!(reason.contains("no stdout line"), "{reason}");
    assert!(log.contains("\"INVOKE\""), "{log}");
}
