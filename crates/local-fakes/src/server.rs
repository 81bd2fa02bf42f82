//! What both fakes share: the HTTP server, the request log, the faults and
//! the control endpoint under `/_fake/`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Where the control endpoint lives on every fake.
pub const CONTROL_PREFIX: &str = "/_fake";

/// A request the fake received (control requests are not recorded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    /// Position in the log, from 0.
    pub seq: u64,
    /// Milliseconds since the epoch when it arrived.
    pub received_at_ms: u64,
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Query string, without `?`.
    pub query: Option<String>,
    /// Headers (lower-case names); `authorization` is replaced by
    /// `<valid>` or `<invalid>`, never recorded.
    pub headers: BTreeMap<String, String>,
    /// The body as text (lossy UTF-8).
    pub body: String,
    /// The status the fake answered.
    pub status: u16,
}

/// A fault applied to the next API requests (not to the control endpoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Answer this status instead of the normal one (`None`: normal answer).
    #[serde(default)]
    pub status: Option<u16>,
    /// Wait this long before answering.
    #[serde(default)]
    pub delay_ms: u64,
    /// The body sent with `status` (default: the service's error format).
    #[serde(default)]
    pub body: Option<Value>,
    /// Extra headers sent with `status` (e.g. `retry-after`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// How many requests it applies to; `None` until cleared.
    #[serde(default)]
    pub times: Option<u32>,
}

/// One API request as a fake's handler sees it.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// Method.
    pub method: Method,
    /// Path.
    pub path: String,
    /// Query string.
    pub query: Option<String>,
    /// Headers.
    pub headers: http::HeaderMap,
    /// Body.
    pub body: Vec<u8>,
}

impl Exchange {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A handler's answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status.
    pub status: u16,
    /// JSON body.
    pub body: Value,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Whether the request carried valid credentials (for the log).
    pub authorized: bool,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, body: Value, authorized: bool) -> Self {
        Self {
            status,
            body,
            headers: Vec::new(),
            authorized,
        }
    }
}

/// A fake service: answers API requests, and says how its errors look.
pub trait Service: Send + Sync + 'static {
    /// The name in logs and errors (`twilio`, `openai`).
    fn name(&self) -> &'static str;
    /// Whether the request carries the service's credentials.
    fn authorized(&self, exchange: &Exchange) -> bool;
    /// Answers one API request.
    fn answer(&self, exchange: &Exchange) -> Reply;
    /// The body of an injected error status, in the service's format.
    fn error_body(&self, status: u16) -> Value;
    /// Service-specific control requests (`/_fake/<rest>`); `None` when
    /// `rest` is not one of them.
    fn control(&self, method: &Method, rest: &str, body: &[u8]) -> Option<Reply> {
        let _ = (method, rest, body);
        None
    }
    /// Forgets the service's own state (`DELETE /_fake/requests`).
    fn reset(&self) {}
}

#[derive(Default)]
struct Log {
    requests: Vec<Recorded>,
    next_seq: u64,
}

/// The state every fake keeps besides its own.
#[derive(Default)]
pub(crate) struct Core {
    log: Mutex<Log>,
    fault: Mutex<Option<Fault>>,
    changed: Notify,
}

impl Core {
    fn log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fault(&self) -> MutexGuard<'_, Option<Fault>> {
        self.fault.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn requests(&self) -> Vec<Recorded> {
        self.log().requests.clone()
    }

    fn clear(&self) {
        self.log().requests.clear();
        *self.fault() = None;
    }

    fn set_fault(&self, fault: Option<Fault>) {
        *self.fault() = fault;
    }

    /// Takes one use of the current fault.
    fn take_fault(&self) -> Option<Fault> {
        let mut slot = self.fault();
        let fault = slot.clone()?;
        match fault.times {
            Some(0) => {
                *slot = None;
                return None;
            }
            Some(1) => *slot = None,
            Some(n) => {
                if let Some(f) = slot.as_mut() {
                    f.times = Some(n - 1);
                }
            }
            None => {}
        }
        Some(fault)
    }

    fn record(&self, exchange: &Exchange, status: u16, authorized: bool) {
        let headers = exchange
            .headers
            .iter()
            .map(|(name, value)| {
                let value = if name == http::header::AUTHORIZATION {
                    if authorized { "<valid>" } else { "<invalid>" }.to_owned()
                } else {
                    String::from_utf8_lossy(value.as_bytes()).into_owned()
                };
                (name.as_str().to_owned(), value)
            })
            .collect();
        {
            let mut log = self.log();
            let seq = log.next_seq;
            log.next_seq += 1;
            log.requests.push(Recorded {
                seq,
                received_at_ms: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                method: exchange.method.to_string(),
                path: exchange.path.clone(),
                query: exchange.query.clone(),
                headers,
                body: String::from_utf8_lossy(&exchange.body).into_owned(),
                status,
            });
        }
        self.changed.notify_waiters();
    }

    /// Waits until `count` requests are recorded or `timeout` passes;
    /// returns what is recorded then.
    async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Recorded> {
        let wait = async {
            loop {
                let notified = self.changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.log().requests.len() >= count {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(timeout, wait).await;
        self.requests()
    }
}

/// What every running fake has: its address, request log and fault, and
/// the server task (stopped on drop). [`crate::FakeTwilio`] and
/// [`crate::FakeOpenAi`] dereference to it.
pub struct FakeServer {
    addr: SocketAddr,
    core: Arc<Core>,
    service: Arc<dyn Service>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer")
            .field("service", &self.service.name())
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    /// Binds `127.0.0.1:port` (0 for any) and serves `service`.
    pub(crate) async fn start<S: Service>(service: Arc<S>, port: u16) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let core = Arc::new(Core::default());
        let task = tokio::spawn(accept(listener, Arc::clone(&core), Arc::clone(&service)));
        Ok(Self {
            addr,
            core,
            service,
            task,
        })
    }

    /// `http://127.0.0.1:<port>`, where the control endpoint is.
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every API request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.core.requests()
    }

    /// Waits until `count` API requests arrived (or `timeout`).
    pub async fn wait_for_requests(&self, count: usize, timeout: Duration) -> Vec<Recorded> {
        self.core.wait_for(count, timeout).await
    }

    /// Sets or clears the fault applied to the next API requests.
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.core.set_fault(fault);
    }

    /// Forgets the request log, the fault and the fake's own state.
    pub fn clear(&self) {
        self.core.clear();
        self.service.reset();
    }
}

async fn accept<S: Service>(listener: TcpListener, core: Arc<Core>, service: Arc<S>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let core = Arc::clone(&core);
        let service = Arc::clone(&service);
        tokio::spawn(async move {
            let handler = service_fn(move |request| {
                let core = Arc::clone(&core);
                let service = Arc::clone(&service);
                async move { Ok::<_, Infallible>(handle(&core, &*service, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), handler)
                .await;
        });
    }
}

fn respond(status: u16, headers: &[(String, String)], body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

async fn handle<S: Service>(
    core: &Core,
    service: &S,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => Vec::new(),
    };
    let path = parts.uri.path().to_owned();
    if let Some(rest) = path.strip_prefix(CONTROL_PREFIX) {
        let reply = control(
            core,
            service,
            &parts.method,
            rest.trim_start_matches('/'),
            &body,
        );
        return respond(reply.status, &reply.headers, &reply.body);
    }
    let exchange = Exchange {
        method: parts.method,
        path,
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    };
    let fault = core.take_fault();
    if let Some(fault) = &fault
        && fault.delay_ms > 0
    {
        tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
    }
    let reply = match fault.as_ref().and_then(|f| f.status.map(|s| (f, s))) {
        // An injected status replaces the answer: nothing is created.
        Some((fault, status)) => Reply {
            status,
            body: fault
                .body
                .clone()
                .unwrap_or_else(|| service.error_body(status)),
            headers: fault
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            authorized: service.authorized(&exchange),
        },
        None => service.answer(&exchange),
    };
    core.record(&exchange, reply.status, reply.authorized);
    respond(reply.status, &reply.headers, &reply.body)
}

/// `GET requests`, `DELETE requests` (also clears the fault), `PUT fault`,
/// `DELETE fault`, then the service's own.
fn control<S: Service>(
    core: &Core,
    service: &S,
    method: &Method,
    rest: &str,
    body: &[u8],
) -> Reply {
    match (method, rest) {
        (&Method::GET, "requests") => Reply::json(200, json!(core.requests()), true),
        (&Method::DELETE, "requests") => {
            core.clear();
            service.reset();
            Reply::json(200, json!({"cleared": true}), true)
        }
        (&Method::PUT, "fault") => match serde_json::from_slice::<Fault>(body) {
            Ok(fault) => {
                if let Some(status) = fault.status
                    && !(100..=599).contains(&status)
                {
                    return Reply::json(
                        400,
                        json!({"error": format!("status {status} is not an HTTP status")}),
                        true,
                    );
                }
                core.set_fault(Some(fault.clone()));
                Reply::json(200, json!({"fault": fault}), true)
            }
            Err(err) => Reply::json(
                400,
                json!({"error": format!("expected {{\"status\", \"delay_ms\", \"body\", \"headers\", \"times\"}}: {err}")}),
                true,
            ),
        },
        (&Method::DELETE, "fault") => {
            core.set_fault(None);
            Reply::json(200, json!({"fault": null}), true)
        }
        _ => service.control(method, rest, body).unwrap_or_else(|| {
            Reply::json(
                404,
                json!({"error": format!("the {} fake has no control endpoint {method} {CONTROL_PREFIX}/{rest}", service.name())}),
                true,
            )
        }),
    }
}
