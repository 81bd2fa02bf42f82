//! The in-process Lambda Runtime API, Extensions API and Telemetry API.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot, watch};

use crate::{Error, http_client};

const RUNTIME_NEXT: &str = "/2018-06-01/runtime/invocation/next";
const RUNTIME_INVOCATION_PREFIX: &str = "/2018-06-01/runtime/invocation/";
const RUNTIME_INIT_ERROR: &str = "/2018-06-01/runtime/init/error";
const EXTENSION_REGISTER: &str = "/2020-01-01/extension/register";
const EXTENSION_NEXT: &str = "/2020-01-01/extension/event/next";
const EXTENSION_INIT_ERROR: &str = "/2020-01-01/extension/init/error";
const EXTENSION_EXIT_ERROR: &str = "/2020-01-01/extension/exit/error";
const TELEMETRY_SUBSCRIBE: &str = "/2022-07-01/telemetry";

const EXTENSION_NAME_HEADER: &str = "lambda-extension-name";
const EXTENSION_ID_HEADER: &str = "lambda-extension-identifier";
const EXTENSION_ACCEPT_FEATURE_HEADER: &str = "lambda-extension-accept-feature";
const FUNCTION_ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";
const EXTENSION_ERROR_TYPE_HEADER: &str = "lambda-extension-function-error-type";

/// How long [`Emulator::send_telemetry`] keeps retrying a refused connection.
const TELEMETRY_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The function configuration the emulator presents (environment variables,
/// deadlines, ARNs, the register response of the Extensions API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatorConfig {
    /// `AWS_LAMBDA_FUNCTION_NAME`. Default `function`.
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_VERSION`. Default `$LATEST`.
    pub function_version: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`. Default 128.
    pub memory_mb: u32,
    /// Function timeout, used for `Lambda-Runtime-Deadline-Ms`. Default 3 s.
    pub timeout: Duration,
    /// `AWS_REGION` and `AWS_DEFAULT_REGION`. Default `us-east-1`.
    pub region: String,
    /// Account id in ARNs and the register response. Default `123456789012`.
    pub account_id: String,
    /// `_HANDLER` and the register response's `handler`. Default `bootstrap`.
    pub handler: String,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            function_name: "function".into(),
            function_version: "$LATEST".into(),
            memory_mb: 128,
            timeout: Duration::from_secs(3),
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            handler: "bootstrap".into(),
        }
    }
}

impl EmulatorConfig {
    /// The ARN sent in `Lambda-Runtime-Invoked-Function-Arn`.
    pub fn function_arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account_id, self.function_name
        )
    }
}

/// An error document a process posted (`/invocation/{id}/error`, `/init/error`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedError {
    /// The `Lambda-Runtime-Function-Error-Type` header, when sent.
    pub header_error_type: Option<String>,
    /// The posted body, parsed as JSON (a string when it was not JSON).
    pub body: Value,
}

impl ReportedError {
    /// `errorType` of the body, else the header's error type, else empty.
    pub fn error_type(&self) -> String {
        self.body
            .get("errorType")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| self.header_error_type.clone())
            .unwrap_or_default()
    }

    /// `errorMessage` of the body, or the whole body when it has none.
    pub fn error_message(&self) -> String {
        match self.body.get("errorMessage").and_then(Value::as_str) {
            Some(message) => message.to_owned(),
            None => self.body.to_string(),
        }
    }
}

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum InvocationResult {
    /// The function posted to `/invocation/{id}/response`: the body as JSON
    /// (a string when it was not JSON).
    Response(Value),
    /// The function posted to `/invocation/{id}/error`.
    Error(ReportedError),
}

/// A completed invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// `Lambda-Runtime-Aws-Request-Id` of the invocation.
    pub request_id: String,
    /// What the function answered.
    pub result: InvocationResult,
    /// From handing the event out on `/next` to the function's answer.
    pub duration: Duration,
}

/// An event queued with [`Emulator::invoke`], awaiting the function's answer.
#[derive(Debug)]
pub struct PendingInvocation {
    request_id: String,
    receiver: oneshot::Receiver<Invocation>,
}

impl PendingInvocation {
    /// The request id the function will see.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// Waits for the function's answer (no timeout: wrap it in
    /// `tokio::time::timeout` or race it against the process exiting).
    pub async fn outcome(self) -> Result<Invocation, Error> {
        self.receiver.await.map_err(|_| {
            Error::Usage("the emulator stopped before the invocation completed".into())
        })
    }
}

/// An extension that called `/extension/register`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredExtension {
    /// `Lambda-Extension-Identifier` handed out.
    pub id: String,
    /// `Lambda-Extension-Name` it registered with.
    pub name: String,
    /// Events it registered for (`INVOKE`, `SHUTDOWN`).
    pub events: Vec<String>,
    /// `true` once it called `/extension/event/next`, i.e. finished its init.
    pub ready: bool,
    /// Events handed out on `/extension/event/next` so far.
    pub events_delivered: usize,
}

/// A `PUT /2022-07-01/telemetry` subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetrySubscription {
    /// The subscribing extension's id.
    pub extension_id: String,
    /// The subscribing extension's name.
    pub extension_name: String,
    /// `schemaVersion` requested.
    pub schema_version: String,
    /// `types` requested (`platform`, `function`, `extension`).
    pub types: Vec<String>,
    /// `buffering` as sent (`maxItems`, `maxBytes`, `timeoutMs`).
    pub buffering: Value,
    /// `destination.URI` as sent (e.g. `http://sandbox.localdomain:9003`).
    pub destination_uri: String,
}

impl TelemetrySubscription {
    /// The URL the emulator posts batches to: the destination with the sandbox
    /// host name replaced by loopback.
    pub fn delivery_url(&self) -> String {
        match self.destination_uri.parse::<http::Uri>() {
            Ok(uri) => match uri.host() {
                Some(host) if http_client::loopback_for(host) != host => {
                    let port = uri.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
                    let path = uri.path_and_query().map_or("/", |p| p.as_str());
                    format!("http://127.0.0.1{port}{path}")
                }
                _ => self.destination_uri.clone(),
            },
            Err(_) => self.destination_uri.clone(),
        }
    }

    /// Whether a telemetry event of this `type` goes to this subscriber.
    pub fn wants(&self, event_type: &str) -> bool {
        let category = event_type.split('.').next().unwrap_or(event_type);
        self.types.iter().any(|t| t == category)
    }
}

/// One telemetry batch delivered by [`Emulator::send_telemetry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryDelivery {
    /// The receiving extension.
    pub extension_name: String,
    /// Where it was posted.
    pub url: String,
    /// Events in the batch after filtering by the subscription's types.
    pub events: usize,
    /// HTTP status the subscriber answered.
    pub status: u16,
}

/// An error an extension posted to `/extension/init/error` or `/exit/error`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtensionError {
    /// The reporting extension's id.
    pub extension_id: String,
    /// `init` or `exit`.
    pub phase: String,
    /// The `Lambda-Extension-Function-Error-Type` header.
    pub error_type: String,
    /// The posted body (JSON, or a string, or null when empty).
    pub body: Value,
}

struct Queued {
    request_id: String,
    event: Vec<u8>,
    deadline_ms: u64,
    trace_id: String,
    sender: oneshot::Sender<Invocation>,
}

struct InFlight {
    delivered_at: Instant,
    sender: oneshot::Sender<Invocation>,
}

struct ExtensionState {
    info: RegisteredExtension,
    queue: VecDeque<Value>,
}

#[derive(Default)]
struct Inner {
    runtime_queue: VecDeque<Queued>,
    in_flight: HashMap<String, InFlight>,
    first_next_at: Option<Instant>,
    init_error: Option<ReportedError>,
    extensions: Vec<ExtensionState>,
    subscriptions: Vec<TelemetrySubscription>,
    extension_errors: Vec<ExtensionError>,
}

struct State {
    config: EmulatorConfig,
    inner: Mutex<Inner>,
    /// Woken on every state change; waiters re-check their condition.
    changed: Notify,
    ids: AtomicU64,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock only means a handler panicked mid-update; the queues
        // are still structurally valid, so keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let out = f(&mut self.lock());
        self.changed.notify_waiters();
        out
    }

    /// Waits until `f` returns `Some`, re-checking after every state change.
    async fn wait_for<T>(&self, mut f: impl FnMut(&mut Inner) -> Option<T>) -> T {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let found = {
                let mut inner = self.lock();
                f(&mut inner)
            };
            if let Some(value) = found {
                // Taking something off a queue is a change other waiters may need.
                self.changed.notify_waiters();
                return value;
            }
            notified.await;
        }
    }

    /// A UUID-shaped id, unique within this process.
    fn new_id(&self) -> String {
        let n = self.ids.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let pid = u128::from(std::process::id());
        let v = (nanos << 32) ^ (pid << 96) ^ u128::from(n);
        let hex = format!("{v:032x}");
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }
}

/// A running emulator: the Runtime API, Extensions API and Telemetry API on
/// `127.0.0.1` at an ephemeral port. Stops serving when dropped.
pub struct Emulator {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .field("config", &self.state.config)
            .finish_non_exhaustive()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

impl Emulator {
    /// Binds `127.0.0.1:0` and starts serving on the current tokio runtime.
    pub async fn start(config: EmulatorConfig) -> Result<Self, Error> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| Error::io("binding the emulator on 127.0.0.1", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("reading the emulator's address", e))?;
        let state = Arc::new(State {
            config,
            inner: Mutex::new(Inner::default()),
            changed: Notify::new(),
            ids: AtomicU64::new(0),
        });
        let (shutdown, stop) = watch::channel(false);
        tokio::spawn(accept_loop(listener, Arc::clone(&state), stop));
        Ok(Self {
            addr,
            state,
            shutdown,
        })
    }

    /// The socket address the APIs listen on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API` (`127.0.0.1:<port>`).
    pub fn runtime_api(&self) -> String {
        self.addr.to_string()
    }

    /// The configuration the emulator presents.
    pub fn config(&self) -> &EmulatorConfig {
        &self.state.config
    }

    /// The environment Lambda gives a runtime or extension process: Runtime API
    /// address, function name/memory/version, log group, region and dummy
    /// credentials (so SDK clients start without a real account).
    pub fn lambda_env(&self) -> Vec<(String, String)> {
        let c = &self.state.config;
        [
            ("AWS_LAMBDA_RUNTIME_API", self.runtime_api()),
            ("AWS_LAMBDA_FUNCTION_NAME", c.function_name.clone()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", c.memory_mb.to_string()),
            ("AWS_LAMBDA_FUNCTION_VERSION", c.function_version.clone()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", c.function_name),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "1980/01/01/[$LATEST]00000000000000000000000000000000".into(),
            ),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
            ("AWS_REGION", c.region.clone()),
            ("AWS_DEFAULT_REGION", c.region.clone()),
            ("AWS_ACCESS_KEY_ID", "AKIAEMULATOR00000000".into()),
            ("AWS_SECRET_ACCESS_KEY", "emulator-dummy-secret".into()),
            ("AWS_SESSION_TOKEN", "emulator-dummy-session-token".into()),
            ("_HANDLER", c.handler.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Queues `event` for the runtime's next `/invocation/next` and sends an
    /// `INVOKE` event to every extension registered for it. Await
    /// [`PendingInvocation::outcome`] for the answer; with no runtime process
    /// (extension-only tests) the event simply stays queued.
    pub fn invoke(&self, event: &Value) -> PendingInvocation {
        let request_id = self.state.new_id();
        let deadline_ms = epoch_millis() + duration_millis(self.state.config.timeout);
        let trace_id = format!(
            "Root=1-{:08x}-{};Parent={};Sampled=0",
            epoch_millis() / 1000,
            &request_id.replace('-', "")[..24],
            &request_id.replace('-', "")[16..32]
        );
        let (sender, receiver) = oneshot::channel();
        let invoke_event = json!({
            "eventType": "INVOKE",
            "deadlineMs": deadline_ms,
            "requestId": request_id,
            "invokedFunctionArn": self.state.config.function_arn(),
            "tracing": { "type": "X-Amzn-Trace-Id", "value": trace_id },
        });
        self.state.update(|inner| {
            for ext in &mut inner.extensions {
                if ext.info.events.iter().any(|e| e == "INVOKE") {
                    ext.queue.push_back(invoke_event.clone());
                }
            }
            inner.runtime_queue.push_back(Queued {
                request_id: request_id.clone(),
                event: event.to_string().into_bytes(),
                deadline_ms,
                trace_id,
                sender,
            });
        });
        PendingInvocation {
            request_id,
            receiver,
        }
    }

    /// When the runtime first called `/invocation/next` (its init is done).
    pub fn first_next_at(&self) -> Option<Instant> {
        self.state.lock().first_next_at
    }

    /// Waits for the runtime's first `/invocation/next` and returns when it came.
    pub async fn wait_first_next(&self) -> Instant {
        self.state.wait_for(|inner| inner.first_next_at).await
    }

    /// The error posted to `/runtime/init/error`, if any.
    pub fn init_error(&self) -> Option<ReportedError> {
        self.state.lock().init_error.clone()
    }

    /// Waits for an error on `/runtime/init/error`.
    pub async fn wait_init_error(&self) -> ReportedError {
        self.state.wait_for(|inner| inner.init_error.clone()).await
    }

    /// Extensions registered so far.
    pub fn extensions(&self) -> Vec<RegisteredExtension> {
        self.state
            .lock()
            .extensions
            .iter()
            .map(|e| e.info.clone())
            .collect()
    }

    /// Waits until at least `count` extensions have registered and each of
    /// them called `/extension/event/next` (the end of their init phase).
    pub async fn wait_extensions_ready(&self, count: usize) -> Vec<RegisteredExtension> {
        self.state
            .wait_for(|inner| {
                let ready = inner.extensions.len() >= count
                    && inner.extensions.iter().all(|e| e.info.ready);
                ready.then(|| inner.extensions.iter().map(|e| e.info.clone()).collect())
            })
            .await
    }

    /// Waits until every extension has taken all queued events off
    /// `/extension/event/next` (e.g. an `INVOKE` was handed out).
    pub async fn wait_extension_events_delivered(&self) {
        self.state
            .wait_for(|inner| {
                inner
                    .extensions
                    .iter()
                    .all(|e| e.queue.is_empty())
                    .then_some(())
            })
            .await;
    }

    /// Telemetry API subscriptions made so far.
    pub fn telemetry_subscriptions(&self) -> Vec<TelemetrySubscription> {
        self.state.lock().subscriptions.clone()
    }

    /// Waits for at least `count` Telemetry API subscriptions.
    pub async fn wait_telemetry_subscriptions(&self, count: usize) -> Vec<TelemetrySubscription> {
        self.state
            .wait_for(|inner| {
                (inner.subscriptions.len() >= count).then(|| inner.subscriptions.clone())
            })
            .await
    }

    /// Errors extensions posted to `/extension/init/error` or `/exit/error`.
    pub fn extension_errors(&self) -> Vec<ExtensionError> {
        self.state.lock().extension_errors.clone()
    }

    /// Posts `events` (Telemetry API records such as
    /// `{"time": ..., "type": "platform.report", "record": {...}}`) as one JSON
    /// array to every subscriber whose `types` include the event's category, as
    /// Lambda does. Fails when there is no subscription or a delivery cannot be
    /// made; the subscriber's status is returned, not judged.
    pub async fn send_telemetry(&self, events: &[Value]) -> Result<Vec<TelemetryDelivery>, Error> {
        let subscriptions = self.telemetry_subscriptions();
        if subscriptions.is_empty() {
            return Err(Error::Usage(
                "no extension has subscribed to the Telemetry API".into(),
            ));
        }
        let mut deliveries = Vec::new();
        for subscription in subscriptions {
            let batch: Vec<Value> = events
                .iter()
                .filter(|e| {
                    e.get("type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| subscription.wants(t))
                })
                .cloned()
                .collect();
            if batch.is_empty() {
                continue;
            }
            let url = subscription.delivery_url();
            let response = http_client::post_json(
                &url,
                &[],
                &Value::Array(batch.clone()),
                TELEMETRY_CONNECT_TIMEOUT,
            )
            .await?;
            deliveries.push(TelemetryDelivery {
                extension_name: subscription.extension_name.clone(),
                url,
                events: batch.len(),
                status: response.status.as_u16(),
            });
        }
        Ok(deliveries)
    }

    /// Sends `SHUTDOWN` (with `shutdownReason`, e.g. `spindown`) to every
    /// extension registered for it.
    pub fn shutdown_extensions(&self, reason: &str) {
        let event = json!({
            "eventType": "SHUTDOWN",
            "shutdownReason": reason,
            "deadlineMs": epoch_millis() + 2000,
        });
        self.state.update(|inner| {
            for ext in &mut inner.extensions {
                if ext.info.events.iter().any(|e| e == "SHUTDOWN") {
                    ext.queue.push_back(event.clone());
                }
            }
        });
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let state = Arc::clone(&state);
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let state = Arc::clone(&state);
                async move { Ok::<_, Infallible>(route(&state, req).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = stop.changed() => {}
            }
        });
    }
}

type HttpResponse = Response<Full<Bytes>>;

fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> HttpResponse {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    response
}

fn json_reply(status: StatusCode, body: &Value) -> HttpResponse {
    reply(status, "application/json", body.to_string())
}

fn api_error(status: StatusCode, error_type: &str, message: &str) -> HttpResponse {
    json_reply(
        status,
        &json!({ "errorType": error_type, "errorMessage": message }),
    )
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn parse_body(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

async fn route(state: &State, req: Request<Incoming>) -> HttpResponse {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    match (&method, path.as_str()) {
        (&Method::GET, RUNTIME_NEXT) => runtime_next(state).await,
        (&Method::POST, RUNTIME_INIT_ERROR) => {
            let header_error_type = header(&req, FUNCTION_ERROR_TYPE_HEADER);
            let body = read_body(req).await;
            state.update(|inner| {
                inner.init_error = Some(ReportedError {
                    header_error_type,
                    body: parse_body(&body),
                });
            });
            json_reply(StatusCode::ACCEPTED, &json!({ "status": "OK" }))
        }
        (&Method::POST, p) if p.starts_with(RUNTIME_INVOCATION_PREFIX) => {
            let rest = &p[RUNTIME_INVOCATION_PREFIX.len()..];
            match rest.split_once('/') {
                Some((id, "response")) => {
                    let id = id.to_owned();
                    let body = read_body(req).await;
                    complete(state, &id, InvocationResult::Response(parse_body(&body)))
                }
                Some((id, "error")) => {
                    let id = id.to_owned();
                    let header_error_type = header(&req, FUNCTION_ERROR_TYPE_HEADER);
                    let body = read_body(req).await;
                    let error = ReportedError {
                        header_error_type,
                        body: parse_body(&body),
                    };
                    complete(state, &id, InvocationResult::Error(error))
                }
                _ => not_found(&method, &path),
            }
        }
        (&Method::POST, EXTENSION_REGISTER) => extension_register(state, req).await,
        (&Method::GET, EXTENSION_NEXT) => extension_next(state, &req).await,
        (&Method::POST, EXTENSION_INIT_ERROR) => extension_error(state, req, "init").await,
        (&Method::POST, EXTENSION_EXIT_ERROR) => extension_error(state, req, "exit").await,
        (&Method::PUT, TELEMETRY_SUBSCRIBE) => telemetry_subscribe(state, req).await,
        _ => not_found(&method, &path),
    }
}

fn not_found(method: &Method, path: &str) -> HttpResponse {
    api_error(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("the emulator does not serve {method} {path}"),
    )
}

async fn read_body(req: Request<Incoming>) -> Vec<u8> {
    // A body cut off mid-way (client died) is treated like an empty one.
    match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => Vec::new(),
    }
}

async fn runtime_next(state: &State) -> HttpResponse {
    state.update(|inner| {
        inner.first_next_at.get_or_insert_with(Instant::now);
    });
    let queued = state
        .wait_for(|inner| {
            let queued = inner.runtime_queue.pop_front()?;
            Some(queued)
        })
        .await;
    let Queued {
        request_id,
        event,
        deadline_ms,
        trace_id,
        sender,
    } = queued;
    state.update(|inner| {
        inner.in_flight.insert(
            request_id.clone(),
            InFlight {
                delivered_at: Instant::now(),
                sender,
            },
        );
    });
    let mut response = reply(StatusCode::OK, "application/json", event);
    let headers = response.headers_mut();
    for (name, value) in [
        ("lambda-runtime-aws-request-id", request_id),
        ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            state.config.function_arn(),
        ),
        ("lambda-runtime-trace-id", trace_id),
    ] {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

fn complete(state: &State, request_id: &str, result: InvocationResult) -> HttpResponse {
    let Some(in_flight) = state.update(|inner| inner.in_flight.remove(request_id)) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            &format!("no invocation {request_id} is in progress"),
        );
    };
    let invocation = Invocation {
        request_id: request_id.to_owned(),
        result,
        duration: in_flight.delivered_at.elapsed(),
    };
    // The caller may have stopped waiting; the answer is still accepted.
    let _ = in_flight.sender.send(invocation);
    json_reply(StatusCode::ACCEPTED, &json!({ "status": "OK" }))
}

async fn extension_register(state: &State, req: Request<Incoming>) -> HttpResponse {
    let Some(name) = header(&req, EXTENSION_NAME_HEADER).filter(|n| !n.is_empty()) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "Extension.InvalidRequest",
            "missing Lambda-Extension-Name header",
        );
    };
    let wants_account_id = header(&req, EXTENSION_ACCEPT_FEATURE_HEADER)
        .is_some_and(|v| v.split(',').any(|f| f.trim() == "accountId"));
    let body = parse_body(&read_body(req).await);
    let events: Option<Vec<String>> = body.get("events").and_then(|events| {
        events
            .as_array()?
            .iter()
            .map(|e| e.as_str().map(str::to_owned))
            .collect()
    });
    let Some(events) = events else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "Extension.InvalidRequest",
            "body must be {\"events\": [\"INVOKE\", \"SHUTDOWN\"]}",
        );
    };
    if let Some(bad) = events.iter().find(|e| *e != "INVOKE" && *e != "SHUTDOWN") {
        return api_error(
            StatusCode::BAD_REQUEST,
            "Extension.InvalidRequest",
            &format!("unknown event type {bad}"),
        );
    }
    let id = state.new_id();
    state.update(|inner| {
        inner.extensions.push(ExtensionState {
            info: RegisteredExtension {
                id: id.clone(),
                name,
                events,
                ready: false,
                events_delivered: 0,
            },
            queue: VecDeque::new(),
        });
    });
    let c = &state.config;
    let mut body = json!({
        "functionName": c.function_name,
        "functionVersion": c.function_version,
        "handler": c.handler,
    });
    if wants_account_id {
        body["accountId"] = json!(c.account_id);
    }
    let mut response = json_reply(StatusCode::OK, &body);
    if let Ok(value) = http::HeaderValue::from_str(&id) {
        response.headers_mut().insert(EXTENSION_ID_HEADER, value);
    }
    response
}

fn known_extension(state: &State, req: &Request<Incoming>) -> Option<String> {
    let id = header(req, EXTENSION_ID_HEADER)?;
    state
        .lock()
        .extensions
        .iter()
        .any(|e| e.info.id == id)
        .then_some(id)
}

fn forbidden() -> HttpResponse {
    api_error(
        StatusCode::FORBIDDEN,
        "Extension.UnknownExtensionIdentifier",
        "missing or unknown Lambda-Extension-Identifier",
    )
}

async fn extension_next(state: &State, req: &Request<Incoming>) -> HttpResponse {
    let Some(id) = known_extension(state, req) else {
        return forbidden();
    };
    state.update(|inner| {
        if let Some(ext) = inner.extensions.iter_mut().find(|e| e.info.id == id) {
            ext.info.ready = true;
        }
    });
    let event = state
        .wait_for(|inner| {
            let ext = inner.extensions.iter_mut().find(|e| e.info.id == id)?;
            let event = ext.queue.pop_front()?;
            ext.info.events_delivered += 1;
            Some(event)
        })
        .await;
    let mut response = json_reply(StatusCode::OK, &event);
    if let Ok(value) = http::HeaderValue::from_str(&state.new_id()) {
        response
            .headers_mut()
            .insert("lambda-extension-event-identifier", value);
    }
    response
}

async fn extension_error(state: &State, req: Request<Incoming>, phase: &str) -> HttpResponse {
    let Some(id) = known_extension(state, &req) else {
        return forbidden();
    };
    let error_type = header(&req, EXTENSION_ERROR_TYPE_HEADER).unwrap_or_default();
    let body = parse_body(&read_body(req).await);
    state.update(|inner| {
        inner.extension_errors.push(ExtensionError {
            extension_id: id,
            phase: phase.to_owned(),
            error_type,
            body,
        });
    });
    json_reply(StatusCode::ACCEPTED, &json!({ "status": "OK" }))
}

async fn telemetry_subscribe(state: &State, req: Request<Incoming>) -> HttpResponse {
    let Some(id) = known_extension(state, &req) else {
        return forbidden();
    };
    let body = parse_body(&read_body(req).await);
    let destination = body
        .pointer("/destination/URI")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let protocol = body
        .pointer("/destination/protocol")
        .and_then(Value::as_str);
    let types: Option<Vec<String>> = body.get("types").and_then(|t| {
        t.as_array()?
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect()
    });
    let (Some(destination_uri), Some(types), Some("HTTP")) = (destination, types, protocol) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "ValidationError",
            "expected {\"schemaVersion\", \"types\": [..], \"buffering\", \"destination\": {\"protocol\": \"HTTP\", \"URI\": ..}}",
        );
    };
    if let Some(bad) = types
        .iter()
        .find(|t| !matches!(t.as_str(), "platform" | "function" | "extension"))
    {
        return api_error(
            StatusCode::BAD_REQUEST,
            "ValidationError",
            &format!("unknown telemetry type {bad}"),
        );
    }
    state.update(|inner| {
        let extension_name = inner
            .extensions
            .iter()
            .find(|e| e.info.id == id)
            .map(|e| e.info.name.clone())
            .unwrap_or_default();
        // A second subscription by the same extension replaces the first.
        inner.subscriptions.retain(|s| s.extension_id != id);
        inner.subscriptions.push(TelemetrySubscription {
            extension_id: id.clone(),
            extension_name,
            schema_version: body
                .get("schemaVersion")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            types,
            buffering: body.get("buffering").cloned().unwrap_or(Value::Null),
            destination_uri,
        });
    });
    reply(StatusCode::OK, "text/plain", "OK")
}

fn epoch_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn duration_millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription(uri: &str, types: &[&str]) -> TelemetrySubscription {
        TelemetrySubscription {
            extension_id: "id".into(),
            extension_name: "ext".into(),
            schema_version: "2022-07-01".into(),
            types: types.iter().map(|t| (*t).to_owned()).collect(),
            buffering: Value::Null,
            destination_uri: uri.into(),
        }
    }

    #[test]
    fn sandbox_destinations_are_delivered_on_loopback() {
        let s = subscription("http://sandbox.localdomain:9003", &["platform"]);
        assert_eq!(s.delivery_url(), "http://127.0.0.1:9003/");
        let s = subscription("http://127.0.0.1:4000/telemetry", &["platform"]);
        assert_eq!(s.delivery_url(), "http://127.0.0.1:4000/telemetry");
    }

    #[test]
    fn subscriptions_receive_only_their_event_categories() {
        let s = subscription("http://sandbox:1", &["platform"]);
        assert!(s.wants("platform.report"));
        assert!(s.wants("platform.initStart"));
        assert!(!s.wants("function"));
        assert!(!s.wants("extension"));
    }

    #[test]
    fn function_arn_names_region_account_and_function() {
        let config = EmulatorConfig {
            function_name: "cors".into(),
            ..EmulatorConfig::default()
        };
        assert_eq!(
            config.function_arn(),
            "arn:aws:lambda:us-east-1:123456789012:function:cors"
        );
    }

    #[test]
    fn reported_errors_fall_back_to_the_header_type_and_raw_body() {
        let e = ReportedError {
            header_error_type: Some("Runtime.InitError".into()),
            body: Value::String("boom".into()),
        };
        assert_eq!(e.error_type(), "Runtime.InitError");
        assert_eq!(e.error_message(), "\"boom\"");
    }

    #[tokio::test]
    async fn ids_are_uuid_shaped_and_unique() {
        let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
        let a = emulator.invoke(&Value::Null);
        let b = emulator.invoke(&Value::Null);
        assert_ne!(a.request_id(), b.request_id());
        let lengths: Vec<usize> = a.request_id().split('-').map(str::len).collect();
        assert_eq!(lengths, vec![8, 4, 4, 4, 12]);
    }
}
