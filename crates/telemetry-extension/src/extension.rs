//! The running extension: registration and the event loop (through
//! `lambda-extension`), the Telemetry API subscription and its listener, and
//! stdout.
//!
//! The telemetry listener is ours rather than `lambda-extension`'s
//! `with_telemetry_processor`: that one answers 400 to a whole batch when a
//! single event fails to parse (so unknown events could be neither counted
//! nor skipped), binds a fixed port with `unwrap`, and re-binds after every
//! connection. Ours parses event by event, limits the body size, and can
//! listen on an ephemeral port for tests.

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use lambda_extension::requests::{ErrorRequest, init_error};
use lambda_extension::{Extension, LambdaEvent, NextEvent, service_fn};
use lambda_runtime_api_client::body::Body;
use lambda_runtime_api_client::{PooledClient, build_request};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::TelemetryError;
use crate::config::{Buffering, Config, Enabled, Mode};
use crate::diag::{self, Level};
use crate::processor::Processor;

/// Telemetry API schema whose records the `lambda-extension` types model
/// (it added `status` to `platform.report`).
const SCHEMA_VERSION: &str = "2022-12-13";
/// Only platform events carry metrics; function and extension logs would
/// only cost memory and bandwidth.
const TELEMETRY_TYPES: [&str; 1] = ["platform"];
/// Lambda caps a batch at 1 MiB (`maxBytes`); allow headroom for framing.
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Kept free before the SHUTDOWN deadline for the final flush and exit.
const SHUTDOWN_MARGIN: Duration = Duration::from_millis(300);
/// Extension name used when the executable's own name cannot be read.
const FALLBACK_NAME: &str = "telemetry";

/// State shared by the listener and the event loop.
struct Shared {
    processor: Mutex<Processor>,
    /// Signalled after every batch, so SHUTDOWN can wait for outstanding reports.
    progressed: Notify,
    /// Signalled once SHUTDOWN has been handled.
    finished: Notify,
    shutdown_drain: Duration,
}

impl Shared {
    fn processor(&self) -> MutexGuard<'_, Processor> {
        // The processor has no invariants a panic elsewhere could break
        // half-way, so a poisoned lock is still usable.
        self.processor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The name Lambda knows the extension by: its file name in /opt/extensions.
pub fn extension_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|arg0| {
            std::path::Path::new(&arg0)
                .file_name()
                .and_then(|name| name.to_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| FALLBACK_NAME.to_owned())
}

/// Runs the extension until SHUTDOWN has been handled.
pub async fn run(config: Config, name: &str) -> Result<(), TelemetryError> {
    let client = runtime_client(&config.runtime_api)?;
    match config.mode {
        Mode::Disabled => run_disabled(name).await,
        Mode::Enabled(enabled) => run_enabled(&client, enabled, name).await,
    }
}

/// Registers, tells Lambda why init failed, and returns; used when the
/// configuration is invalid so the function's init error names the variable.
pub async fn report_init_error(
    runtime_api: &str,
    name: &str,
    message: &str,
) -> Result<(), TelemetryError> {
    let client = runtime_client(runtime_api)?;
    let registered = Extension::new()
        .with_extension_name(name)
        .register()
        .await
        .map_err(|e| TelemetryError::Register(e.to_string()))?;
    let request = init_error(
        &registered.extension_id,
        "Extension.ConfigInvalid",
        Some(ErrorRequest {
            error_message: message,
            error_type: "Extension.ConfigInvalid",
            stack_trace: Vec::new(),
        }),
    )
    .map_err(|e| TelemetryError::Register(e.to_string()))?;
    client
        .call(request)
        .await
        .map_err(|e| TelemetryError::Register(e.to_string()))?;
    Ok(())
}

fn runtime_client(runtime_api: &str) -> Result<PooledClient, TelemetryError> {
    let uri = format!("http://{runtime_api}")
        .parse()
        .map_err(|_| TelemetryError::RuntimeApi(runtime_api.to_owned()))?;
    Ok(PooledClient::builder().with_endpoint(uri).build())
}

async fn run_disabled(name: &str) -> Result<(), TelemetryError> {
    let finished = Arc::new(Notify::new());
    let on_event = Arc::clone(&finished);
    let events = service_fn(move |event: LambdaEvent| {
        let finished = Arc::clone(&on_event);
        async move {
            if matches!(event.next, NextEvent::Shutdown(_)) {
                finished.notify_one();
            }
            Ok::<(), Infallible>(())
        }
    });
    let registered = Extension::new()
        .with_extension_name(name)
        .with_events_processor(events)
        .register()
        .await
        .map_err(|e| TelemetryError::Register(e.to_string()))?;
    diag::log(
        Level::Info,
        "telemetry disabled; idling until SHUTDOWN",
        &[("extension", name.into())],
    );
    until_finished(registered.run(), &finished).await
}

async fn run_enabled(
    client: &PooledClient,
    enabled: Enabled,
    name: &str,
) -> Result<(), TelemetryError> {
    let shared = Arc::new(Shared {
        processor: Mutex::new(Processor::new(enabled.processor)),
        progressed: Notify::new(),
        finished: Notify::new(),
        shutdown_drain: enabled.shutdown_drain,
    });

    // Listen before subscribing: Lambda may deliver as soon as it accepts.
    let listener = TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], enabled.listener_port)))
        .await
        .map_err(|source| TelemetryError::Listen {
            port: enabled.listener_port,
            source,
        })?;
    let port = listener
        .local_addr()
        .map_err(|source| TelemetryError::Listen {
            port: enabled.listener_port,
            source,
        })?
        .port();
    tokio::spawn(serve(listener, Arc::clone(&shared)));

    let on_event = Arc::clone(&shared);
    let events =
        service_fn(move |event: LambdaEvent| on_lambda_event(Arc::clone(&on_event), event));
    let registered = Extension::new()
        .with_extension_name(name)
        .with_events_processor(events)
        .register()
        .await
        .map_err(|e| TelemetryError::Register(e.to_string()))?;

    // Subscriptions are only accepted during init, i.e. before the first next-event call.
    subscribe(client, &registered.extension_id, enabled.buffering, port).await?;
    diag::log(
        Level::Info,
        "subscribed to platform telemetry",
        &[("extension", name.into()), ("port", port.into())],
    );

    until_finished(registered.run(), &shared.finished).await
}

/// `lambda-extension`'s loop never ends by itself (it asks for the next
/// event again after SHUTDOWN); we end once SHUTDOWN was handled, so the
/// extension exits 0 within Lambda's limit.
async fn until_finished(
    event_loop: impl Future<Output = Result<(), lambda_extension::Error>>,
    finished: &Notify,
) -> Result<(), TelemetryError> {
    tokio::select! {
        result = event_loop => match result {
            Ok(()) => Ok(()),
            Err(err) => Err(TelemetryError::EventLoop(err.to_string())),
        },
        () = finished.notified() => Ok(()),
    }
}

async fn subscribe(
    client: &PooledClient,
    extension_id: &str,
    buffering: Buffering,
    port: u16,
) -> Result<(), TelemetryError> {
    let body = serde_json::json!({
        "schemaVersion": SCHEMA_VERSION,
        "types": TELEMETRY_TYPES,
        "buffering": buffering,
        "destination": {
            "protocol": "HTTP",
            "URI": format!("http://sandbox.localdomain:{port}"),
        },
    });
    let request = build_request()
        .method(Method::PUT)
        .uri("/2022-07-01/telemetry")
        .header("Lambda-Extension-Identifier", extension_id)
        .header("Content-Type", "application/json")
        .body(Body::from(body.to_string()))
        .map_err(|e| TelemetryError::Subscribe(e.to_string()))?;
    let response = client
        .call(request)
        .await
        .map_err(|e| TelemetryError::Subscribe(e.to_string()))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default();
        Err(TelemetryError::Subscribe(format!("{status}: {body}")))
    }
}

async fn on_lambda_event(shared: Arc<Shared>, event: LambdaEvent) -> Result<(), Infallible> {
    match event.next {
        NextEvent::Invoke(invoke) => {
            shared.processor().invocation_started(&invoke.request_id);
        }
        NextEvent::Shutdown(shutdown) => {
            let wait = drain_budget(shared.shutdown_drain, shutdown.deadline_ms, now_ms());
            let _ = tokio::time::timeout(wait, reports_settled(&shared)).await;
            let (lines, stats) = {
                let mut processor = shared.processor();
                (processor.flush(), processor.stats())
            };
            write_lines(&lines);
            diag::log(
                Level::Info,
                "flushed on shutdown",
                &[
                    ("reason", shutdown.shutdown_reason.as_str().into()),
                    ("stats", serde_json::to_value(stats).unwrap_or_default()),
                ],
            );
            shared.finished.notify_one();
        }
    }
    Ok(())
}

/// How long SHUTDOWN may wait for reports: the configured drain, but never
/// past the deadline Lambda gave, less a margin for the flush itself.
pub fn drain_budget(configured: Duration, deadline_ms: u64, now_ms: u64) -> Duration {
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    configured.min(left.saturating_sub(SHUTDOWN_MARGIN))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Resolves once no invocation awaits its report.
async fn reports_settled(shared: &Shared) {
    loop {
        let progressed = shared.progressed.notified();
        tokio::pin!(progressed);
        // Register interest before checking, so a batch landing in between is not missed.
        progressed.as_mut().enable();
        if !shared.processor().has_pending() {
            return;
        }
        progressed.await;
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                diag::log(
                    Level::Warn,
                    "telemetry listener: accept failed",
                    &[("error", err.to_string().into())],
                );
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request| receive(Arc::clone(&shared), request));
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                diag::log(
                    Level::Warn,
                    "telemetry listener: connection failed",
                    &[("error", err.to_string().into())],
                );
            }
        });
    }
}

async fn receive(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.method() != Method::POST {
        return Ok(status(StatusCode::METHOD_NOT_ALLOWED));
    }
    let body = match Limited::new(request.into_body(), MAX_BATCH_BYTES)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(err) => {
            diag::log(
                Level::Warn,
                "telemetry batch rejected",
                &[("error", err.to_string().into())],
            );
            return Ok(status(StatusCode::PAYLOAD_TOO_LARGE));
        }
    };
    let lines = shared.processor().handle_batch(&body);
    write_lines(&lines);
    shared.progressed.notify_waiters();
    Ok(status(StatusCode::OK))
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}

/// Writes EMF lines to stdout, which Lambda forwards to CloudWatch Logs,
/// where they become metrics. Flushed at once: the sandbox may freeze any
/// time after.
fn write_lines(lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    let mut out = std::io::stdout().lock();
    let written = lines
        .iter()
        .try_for_each(|line| writeln!(out, "{line}"))
        .and_then(|()| out.flush());
    if let Err(err) = written {
        diag::log(
            Level::Warn,
            "cannot write metrics to stdout",
            &[("error", err.to_string().into())],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drain_budget_is_the_configured_drain_when_the_deadline_is_far() {
        assert_eq!(
            drain_budget(Duration::from_millis(1_000), 10_000, 5_000),
            Duration::from_millis(1_000)
        );
    }

    #[test]
    fn drain_budget_keeps_a_margin_before_the_deadline() {
        assert_eq!(
            drain_budget(Duration::from_millis(1_000), 10_500, 10_000),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn drain_budget_is_zero_once_the_deadline_is_near_or_past() {
        assert_eq!(
            drain_budget(Duration::from_millis(1_000), 10_100, 10_000),
            Duration::ZERO
        );
        assert_eq!(
            drain_budget(Duration::from_millis(1_000), 9_000, 10_000),
            Duration::ZERO
        );
    }
}
