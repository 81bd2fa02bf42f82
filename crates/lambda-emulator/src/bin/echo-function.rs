//! Test double for the emulator's own tests: a Lambda function on the real
//! `lambda_runtime` client, steered by its environment and events.
//!
//! Environment (read at start):
//! - `ECHO_CRASH_AT_INIT=<message>`: print the message to stderr, exit 3.
//! - `ECHO_INIT_ERROR=<message>`: post it to `/runtime/init/error`, exit 1.
//! - `ECHO_HANG_AT_INIT=1`: never reach the first `/next`.
//!
//! Event fields (any combination):
//! - `"error": "<message>"`: answer with an error (`errorType` `EchoError`);
//! - `"crash": "<message>"`: print the message to stderr and exit 7;
//! - `"print_at_trace": "<text>"`: print the text to stdout, only when
//!   `RUST_LOG` is `trace` (a function that leaks only at TRACE);
//! - `"sleep_ms": N`: wait before answering;
//! - `"env": ["NAME", ...]`: include those variables in the answer;
//! - `"fetch": "<url>"`: GET the URL and include the body;
//! - `"fetch_env": "NAME"`: the same with the URL taken from variable `NAME`;
//! - `"post_env": "NAME"`, `"post_headers": {...}`, `"post_body": <json>`:
//!   POST the body as JSON to the URL in variable `NAME` (e.g. a DynamoDB
//!   call to moto) and include the JSON answer.
//!
//! The answer is `{"event": <event>, "env": {...}, "fetched": "...", "posted": <json>}`.

use std::collections::BTreeMap;
use std::time::Duration;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    eprintln!("echo-function: starting");
    if let Ok(message) = std::env::var("ECHO_CRASH_AT_INIT") {
        eprintln!("echo-function: {message}");
        std::process::exit(3);
    }
    if let Ok(message) = std::env::var("ECHO_INIT_ERROR") {
        report_init_error(&message).await;
        eprintln!("echo-function: init failed: {message}");
        std::process::exit(1);
    }
    if std::env::var_os("ECHO_HANG_AT_INIT").is_some() {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    lambda_runtime::run(service_fn(handle)).await
}

async fn report_init_error(message: &str) {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap_or_default();
    let body = json!({ "errorType": "EchoInitError", "errorMessage": message });
    let url = format!("http://{api}/2018-06-01/runtime/init/error");
    let headers = [("lambda-runtime-function-error-type", "Runtime.InitError")];
    if let Err(e) =
        lambda_emulator::http_client::post_json(&url, &headers, &body, Duration::from_secs(2)).await
    {
        eprintln!("echo-function: could not report the init error: {e}");
    }
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let payload = event.payload;
    if let Some(message) = payload.get("crash").and_then(Value::as_str) {
        eprintln!("echo-function: {message}");
        std::process::exit(7);
    }
    if let Some(text) = payload.get("print_at_trace").and_then(Value::as_str)
        && std::env::var("RUST_LOG").is_ok_and(|level| level == "trace")
    {
        eprintln!("echo-function trace: {text}");
    }
    if let Some(ms) = payload.get("sleep_ms").and_then(Value::as_u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Some(message) = payload.get("error").and_then(Value::as_str) {
        return Err(Diagnostic {
            error_type: "EchoError".into(),
            error_message: message.into(),
        });
    }
    let env: BTreeMap<String, Option<String>> = payload
        .get("env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|name| (name.to_owned(), std::env::var(name).ok()))
        .collect();
    let url = payload
        .get("fetch")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            let name = payload.get("fetch_env").and_then(Value::as_str)?;
            std::env::var(name).ok()
        });
    let fetched = match url.as_deref() {
        Some(url) => {
            let response = lambda_emulator::http_client::get(url, Duration::from_secs(2))
                .await
                .map_err(|e| Diagnostic {
                    error_type: "EchoFetchError".into(),
                    error_message: e.to_string(),
                })?;
            Value::String(String::from_utf8_lossy(&response.body).into_owned())
        }
        None => Value::Null,
    };
    let posted = match payload
        .get("post_env")
        .and_then(Value::as_str)
        .and_then(|name| std::env::var(name).ok())
    {
        Some(url) => post(&url, &payload).await?,
        None => Value::Null,
    };
    Ok(json!({
        "event": payload,
        "env": env,
        "fetched": fetched,
        "posted": posted,
        "request_id": event.context.request_id,
        "invoked_function_arn": event.context.invoked_function_arn,
    }))
}

async fn post(url: &str, payload: &Value) -> Result<Value, Diagnostic> {
    let failed = |message: String| Diagnostic {
        error_type: "EchoPostError".into(),
        error_message: message,
    };
    let headers: Vec<(&str, &str)> = payload
        .get("post_headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(name, value)| Some((name.as_str(), value.as_str()?)))
        .collect();
    let body = payload.get("post_body").cloned().unwrap_or(Value::Null);
    // `send`, not `post_json`: AWS JSON protocols want their own content type.
    let response = lambda_emulator::http_client::send(
        http::Method::POST,
        url,
        &headers,
        body.to_string().into_bytes(),
        Duration::from_secs(2),
    )
    .await
    .map_err(|e| failed(e.to_string()))?;
    serde_json::from_slice(&response.body)
        .map_err(|e| failed(format!("{e}: {}", String::from_utf8_lossy(&response.body))))
}
