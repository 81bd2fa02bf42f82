//! Test double for the emulator's own tests: an external extension on the real
//! `lambda-extension` client. It subscribes to platform telemetry on the port in
//! `ECHO_EXTENSION_TELEMETRY_PORT`, prints every event and telemetry record as
//! one JSON line, and exits 0 on `SHUTDOWN`.
//!
//! `ECHO_EXTENSION_EXIT_ON_SHUTDOWN=<code>` makes it exit with that code instead.

use std::io::Write;

use lambda_extension::{
    Error, Extension, LambdaEvent, LambdaTelemetry, NextEvent, SharedService, service_fn,
};
use serde_json::json;

fn emit(line: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    // stdout is the test's only channel; nothing useful can be done if it is gone.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn on_event(event: LambdaEvent) -> Result<(), Error> {
    match event.next {
        NextEvent::Invoke(invoke) => emit(&json!({
            "event": "INVOKE",
            "requestId": invoke.request_id,
            "invokedFunctionArn": invoke.invoked_function_arn,
            "deadlineMs": invoke.deadline_ms,
        })),
        NextEvent::Shutdown(shutdown) => {
            emit(&json!({ "event": "SHUTDOWN", "shutdownReason": shutdown.shutdown_reason }));
            let code = std::env::var("ECHO_EXTENSION_EXIT_ON_SHUTDOWN")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            std::process::exit(code);
        }
    }
    Ok(())
}

async fn on_telemetry(batch: Vec<LambdaTelemetry>) -> Result<(), Error> {
    for telemetry in batch {
        emit(&json!({ "telemetry": telemetry }));
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let port: u16 = std::env::var("ECHO_EXTENSION_TELEMETRY_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .ok_or("ECHO_EXTENSION_TELEMETRY_PORT must be a port number")?;
    Extension::new()
        .with_extension_name("echo-extension")
        .with_events(&["INVOKE", "SHUTDOWN"])
        .with_events_processor(service_fn(on_event))
        .with_telemetry_types(&["platform"])
        .with_telemetry_port_number(port)
        .with_telemetry_processor(SharedService::new(service_fn(on_telemetry)))
        .run()
        .await
}
