//! The Runtime API against a function built on the real `lambda_runtime` client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use lambda_emulator::http_client;
use lambda_emulator::{Emulator, EmulatorConfig, InvocationResult, LambdaProcess, ProcessSpec};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

async fn start_echo(env: &[(&str, &str)]) -> (Emulator, LambdaProcess) {
    let emulator = Emulator::start(EmulatorConfig {
        function_name: "echo".into(),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let mut all = emulator.lambda_env();
    all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let process = LambdaProcess::spawn(&ProcessSpec {
        program: common::ECHO_FUNCTION.into(),
        env: all,
        ..ProcessSpec::default()
    })
    .unwrap();
    (emulator, process)
}

async fn outcome(emulator: &Emulator, event: Value) -> (String, InvocationResult) {
    let pending = emulator.invoke(&event);
    let id = pending.request_id().to_owned();
    let done = tokio::time::timeout(WAIT, pending.outcome())
        .await
        .expect("the function answers")
        .unwrap();
    assert_eq!(done.request_id, id);
    (id, done.result)
}

#[tokio::test]
async fn a_function_receives_the_event_with_request_id_and_arn_and_its_answer_comes_back() {
    let (emulator, mut process) = start_echo(&[]).await;
    let (id, result) = outcome(&emulator, json!({"hello": "world"})).await;
    let InvocationResult::Response(body) = result else {
        panic!("expected a response, got {result:?}")
    };
    assert_eq!(body["event"], json!({"hello": "world"}));
    assert_eq!(body["request_id"], json!(id));
    assert_eq!(
        body["invoked_function_arn"],
        json!("arn:aws:lambda:us-east-1:123456789012:function:echo")
    );
    let first_next = emulator.first_next_at().expect("the runtime polled /next");
    assert!(first_next >= process.started_at());
    process.kill().await;
}

#[tokio::test]
async fn a_warm_process_answers_several_events_in_order() {
    let (emulator, mut process) = start_echo(&[]).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let (id, result) = outcome(&emulator, json!({"n": n})).await;
        let InvocationResult::Response(body) = result else {
            panic!("expected a response, got {result:?}")
        };
        assert_eq!(body["event"], json!({"n": n}));
        ids.push(id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "every invocation has its own request id");
    assert_eq!(process.try_exit(), None, "one process served all three");
    process.kill().await;
}

#[tokio::test]
async fn handler_errors_arrive_on_the_error_endpoint_with_type_and_message() {
    let (emulator, mut process) = start_echo(&[]).await;
    let (_, result) = outcome(&emulator, json!({"error": "no such user"})).await;
    let InvocationResult::Error(error) = result else {
        panic!("expected an error, got {result:?}")
    };
    assert_eq!(error.error_type(), "EchoError");
    assert_eq!(error.error_message(), "no such user");
    assert_eq!(error.header_error_type.as_deref(), Some("unhandled"));
    process.kill().await;
}

#[tokio::test]
async fn the_process_gets_the_lambda_environment_and_nothing_from_the_parent() {
    let (emulator, mut process) = start_echo(&[("EXTRA", "from-test")]).await;
    let names = [
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "EXTRA",
        "CARGO_MANIFEST_DIR",
    ];
    let (_, result) = outcome(&emulator, json!({"env": names})).await;
    let InvocationResult::Response(body) = result else {
        panic!("expected a response, got {result:?}")
    };
    let env = &body["env"];
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "echo");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "128");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(env["AWS_REGION"], "us-east-1");
    assert_eq!(env["AWS_DEFAULT_REGION"], "us-east-1");
    assert!(env["AWS_ACCESS_KEY_ID"].is_string());
    assert_eq!(env["EXTRA"], "from-test");
    // cargo sets this for the test process; the function must not inherit it.
    assert_eq!(env["CARGO_MANIFEST_DIR"], Value::Null);
    process.kill().await;
}

#[tokio::test]
async fn an_init_error_is_recorded_and_the_process_output_captured() {
    let (emulator, mut process) =
        start_echo(&[("ECHO_INIT_ERROR", "CORS_ALLOWED_ORIGINS is empty")]).await;
    let error = tokio::time::timeout(WAIT, emulator.wait_init_error())
        .await
        .unwrap();
    assert_eq!(error.error_type(), "EchoInitError");
    assert_eq!(error.error_message(), "CORS_ALLOWED_ORIGINS is empty");
    assert_eq!(
        error.header_error_type.as_deref(),
        Some("Runtime.InitError")
    );
    let status = tokio::time::timeout(WAIT, process.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(1));
    assert!(
        process
            .stderr()
            .contains("init failed: CORS_ALLOWED_ORIGINS is empty")
    );
    assert!(emulator.first_next_at().is_none());
}

#[tokio::test]
async fn next_hands_out_the_documented_headers() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let pending = emulator.invoke(&json!({"k": 1}));
    let url = format!(
        "http://{}/2018-06-01/runtime/invocation/next",
        emulator.runtime_api()
    );
    let next = http_client::get(&url, WAIT).await.unwrap();
    assert_eq!(next.status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&next.body).unwrap(),
        json!({"k": 1})
    );
    let h = &next.headers;
    assert_eq!(h["lambda-runtime-aws-request-id"], pending.request_id());
    let deadline: u64 = h["lambda-runtime-deadline-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        deadline > 1_700_000_000_000,
        "epoch milliseconds, got {deadline}"
    );
    assert_eq!(
        h["lambda-runtime-invoked-function-arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:function"
    );
    assert!(
        h["lambda-runtime-trace-id"]
            .to_str()
            .unwrap()
            .starts_with("Root=1-")
    );

    let response_url = format!(
        "http://{}/2018-06-01/runtime/invocation/{}/response",
        emulator.runtime_api(),
        pending.request_id()
    );
    let accepted = http_client::post_json(&response_url, &[], &json!({"ok": true}), WAIT)
        .await
        .unwrap();
    assert_eq!(accepted.status, 202);
    let done = pending.outcome().await.unwrap();
    assert_eq!(done.result, InvocationResult::Response(json!({"ok": true})));
}

#[tokio::test]
async fn answers_for_unknown_or_finished_invocations_are_refused() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let api = emulator.runtime_api();
    let unknown = format!("http://{api}/2018-06-01/runtime/invocation/nope/response");
    let refused = http_client::post_json(&unknown, &[], &json!({}), WAIT)
        .await
        .unwrap();
    assert_eq!(refused.status, 400);

    let pending = emulator.invoke(&json!({}));
    http_client::get(
        &format!("http://{api}/2018-06-01/runtime/invocation/next"),
        WAIT,
    )
    .await
    .unwrap();
    let url = format!(
        "http://{api}/2018-06-01/runtime/invocation/{}/error",
        pending.request_id()
    );
    let body = json!({"errorType": "E", "errorMessage": "m"});
    assert_eq!(
        http_client::post_json(&url, &[], &body, WAIT)
            .await
            .unwrap()
            .status,
        202
    );
    assert_eq!(
        http_client::post_json(&url, &[], &body, WAIT)
            .await
            .unwrap()
            .status,
        400
    );
}

#[tokio::test]
async fn unknown_paths_answer_404() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let url = format!(
        "http://{}/2018-06-01/runtime/restore/next",
        emulator.runtime_api()
    );
    assert_eq!(http_client::get(&url, WAIT).await.unwrap().status, 404);
}
