//! The request pipeline: route, authorize (with the cache), integrate,
//! answer; and the HTTP server around it.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, Method, Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Bytes};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::authorizer::{AuthorizerConfig, DecisionCache};
use crate::event::{ApiIdentity, IncomingRequest, authorizer_event, proxy_event};
use crate::policy::{AuthorizerAnswer, Verdict};
use crate::responses::{
    GatewayResponseHeaders, HttpAnswer, ResponseType, gateway_response, proxy_response,
};
use crate::routes::{Matched, RouteTable};

/// API Gateway's payload limit.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// API Gateway's default (and maximum, for REST APIs) integration timeout.
pub const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);

/// The future [`Invoker::invoke`] returns.
pub type InvokeFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, InvokeError>> + Send + 'a>>;

/// Runs a function synchronously, like Lambda's `RequestResponse` invoke.
pub trait Invoker: Send + Sync {
    /// Invokes `function` with `event` and returns its answer.
    fn invoke<'a>(&'a self, function: &'a str, event: Value) -> InvokeFuture<'a>;
}

/// Why an invocation gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The function reported an error (`/invocation/{id}/error`).
    #[error("{error_type}: {message}")]
    Function {
        /// `errorType`.
        error_type: String,
        /// `errorMessage`.
        message: String,
    },
    /// It ran past its timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// It could not be run (unknown function, crashed, not started).
    #[error("{0}")]
    Unavailable(String),
}

/// Everything the gateway is configured with.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Resources, methods and their functions.
    pub routes: RouteTable,
    /// The REQUEST authorizer of `authorized` routes; `None` refuses
    /// them with 500, as an API without its authorizer would not deploy.
    pub authorizer: Option<AuthorizerConfig>,
    /// Names in ARNs and `requestContext`.
    pub api: ApiIdentity,
    /// Headers added to gateway responses (e.g. CORS on 401/403).
    pub gateway_responses: GatewayResponseHeaders,
    /// How long an integration may take before 504.
    pub integration_timeout: Duration,
}

impl GatewayConfig {
    /// A configuration with API Gateway's defaults around `routes`.
    pub fn new(routes: RouteTable) -> Self {
        Self {
            routes,
            authorizer: None,
            api: ApiIdentity::default(),
            gateway_responses: GatewayResponseHeaders::default(),
            integration_timeout: INTEGRATION_TIMEOUT,
        }
    }
}

/// What the authorizer step did for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizerStep {
    /// The route is not authorized.
    NotRequired,
    /// An identity source was missing: 401 without invoking it.
    MissingIdentity,
    /// A cached decision was used.
    Cached,
    /// The authorizer function was invoked.
    Invoked,
}

/// One line of the access log.
#[derive(Debug, Clone)]
pub struct AccessRecord {
    /// `x-amzn-RequestId`.
    pub request_id: String,
    /// Method.
    pub method: String,
    /// Path as requested.
    pub path: String,
    /// The matched resource, if any.
    pub resource: Option<String>,
    /// The integration's function, if it was invoked.
    pub function: Option<String>,
    /// The authorizer step.
    pub authorizer: AuthorizerStep,
    /// The status sent.
    pub status: u16,
    /// The gateway response type, when the gateway answered itself.
    pub gateway_response: Option<ResponseType>,
    /// Why, when something failed (never a credential).
    pub detail: Option<String>,
    /// Time from receiving the request to the answer.
    pub latency: Duration,
}

type Observer = Arc<dyn Fn(&AccessRecord) + Send + Sync>;

/// The local API Gateway.
pub struct Gateway {
    config: GatewayConfig,
    invoker: Arc<dyn Invoker>,
    cache: DecisionCache,
    observer: Option<Observer>,
    ids: AtomicU64,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A request as received, before routing.
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// Method.
    pub method: Method,
    /// Path (percent-encoding kept).
    pub path: String,
    /// Query string without `?`.
    pub query: Option<String>,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Vec<u8>,
    /// The client's address.
    pub remote: SocketAddr,
}

struct Outcome {
    answer: HttpAnswer,
    resource: Option<String>,
    function: Option<String>,
    authorizer: AuthorizerStep,
    gateway_response: Option<ResponseType>,
    detail: Option<String>,
}

impl Gateway {
    /// A gateway invoking functions through `invoker`.
    pub fn new(config: GatewayConfig, invoker: Arc<dyn Invoker>) -> Self {
        Self {
            config,
            invoker,
            cache: DecisionCache::default(),
            observer: None,
            ids: AtomicU64::new(0),
        }
    }

    /// Calls `observer` with every request's access record.
    pub fn with_observer(
        mut self,
        observer: impl Fn(&AccessRecord) + Send + Sync + 'static,
    ) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// The configuration.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// Forgets every cached authorizer decision.
    pub fn flush_authorizer_cache(&self) {
        self.cache.flush();
    }

    fn next_request_id(&self) -> String {
        let n = self.ids.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        // Distinct per request and not sequential-looking, like AWS's.
        let mixed = nanos.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835) ^ u128::from(n);
        let hex = format!("{mixed:032x}");
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }

    /// Serves one HTTP request.
    pub async fn handle<B>(&self, request: Request<B>, remote: SocketAddr) -> Response<Full<Bytes>>
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = request.into_parts();
        let raw = match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(collected) => RawRequest {
                method: parts.method,
                path: parts.uri.path().to_owned(),
                query: parts.uri.query().map(str::to_owned),
                headers: parts.headers,
                body: collected.to_bytes().to_vec(),
                remote,
            },
            Err(_) => {
                let request_id = self.next_request_id();
                return into_response(gateway_response(
                    ResponseType::RequestTooLarge,
                    413,
                    Some("Request Too Long"),
                    &request_id,
                    &self.config.gateway_responses,
                ));
            }
        };
        into_response(self.answer(raw).await)
    }

    /// Runs the pipeline on a request already read.
    pub async fn answer(&self, request: RawRequest) -> HttpAnswer {
        let started = Instant::now();
        let request_id = self.next_request_id();
        let outcome = self.pipeline(&request, &request_id).await;
        if let Some(observer) = &self.observer {
            observer(&AccessRecord {
                request_id,
                method: request.method.to_string(),
                path: request.path.clone(),
                resource: outcome.resource,
                function: outcome.function,
                authorizer: outcome.authorizer,
                status: outcome.answer.status,
                gateway_response: outcome.gateway_response,
                detail: outcome.detail,
                latency: started.elapsed(),
            });
        }
        outcome.answer
    }

    async fn pipeline(&self, request: &RawRequest, request_id: &str) -> Outcome {
        let gateway = |kind, status, message: Option<&str>| {
            gateway_response(
                kind,
                status,
                message,
                request_id,
                &self.config.gateway_responses,
            )
        };
        let Some(matched) = self.config.routes.resolve(&request.method, &request.path) else {
            return Outcome {
                answer: gateway(
                    ResponseType::MissingAuthenticationToken,
                    403,
                    Some("Missing Authentication Token"),
                ),
                resource: None,
                function: None,
                authorizer: AuthorizerStep::NotRequired,
                gateway_response: Some(ResponseType::MissingAuthenticationToken),
                detail: Some("no resource or method matches".into()),
            };
        };
        let source_ip = request.remote.ip().to_string();
        let headers = forwarding_headers(&request.headers, &source_ip, request_id);
        let incoming = IncomingRequest {
            method: request.method.as_str(),
            path: &request.path,
            query: request.query.as_deref(),
            headers: &headers,
            body: &request.body,
            source_ip: &source_ip,
            matched: &matched,
            request_id,
            received_at: SystemTime::now(),
        };
        let mut outcome = Outcome {
            answer: HttpAnswer {
                status: 500,
                headers: Vec::new(),
                body: Vec::new(),
            },
            resource: Some(matched.resource.clone()),
            function: None,
            authorizer: AuthorizerStep::NotRequired,
            gateway_response: None,
            detail: None,
        };
        let authorization = if matched.target.authorized {
            match self.authorize(&incoming, &matched).await {
                Ok((answer, step, latency)) => {
                    outcome.authorizer = step;
                    Some((answer, latency))
                }
                Err(refusal) => {
                    outcome.authorizer = refusal.step;
                    outcome.gateway_response = Some(refusal.kind);
                    outcome.detail = Some(refusal.detail);
                    outcome.answer = gateway(refusal.kind, refusal.status, refusal.message);
                    return outcome;
                }
            }
        } else {
            None
        };
        let event = proxy_event(
            &incoming,
            &self.config.api,
            authorization.as_ref().map(|(a, ms)| (a, *ms)),
        );
        let function = matched.target.function.clone();
        outcome.function = Some(function.clone());
        let result = tokio::time::timeout(
            self.config.integration_timeout,
            self.invoker.invoke(&function, event),
        )
        .await;
        let failure = match result {
            Ok(Ok(response)) => match proxy_response(&response, request_id) {
                Ok(answer) => {
                    outcome.answer = answer;
                    return outcome;
                }
                Err(why) => (
                    ResponseType::Default5xx,
                    502,
                    "Internal server error",
                    format!("malformed Lambda proxy response: {why}"),
                ),
            },
            Ok(Err(InvokeError::Timeout(after))) => (
                ResponseType::IntegrationTimeout,
                504,
                "Endpoint request timed out",
                format!("{function} timed out after {after:?}"),
            ),
            Err(_) => (
                ResponseType::IntegrationTimeout,
                504,
                "Endpoint request timed out",
                format!(
                    "{function} did not answer within the integration timeout ({:?})",
                    self.config.integration_timeout
                ),
            ),
            Ok(Err(err)) => (
                ResponseType::Default5xx,
                502,
                "Internal server error",
                format!("{function} failed: {err}"),
            ),
        };
        let (kind, status, message, detail) = failure;
        outcome.gateway_response = Some(kind);
        outcome.detail = Some(detail);
        outcome.answer = gateway(kind, status, Some(message));
        outcome
    }

    /// The authorizer step; `Ok` carries the decision to pass on.
    async fn authorize(
        &self,
        request: &IncomingRequest<'_>,
        matched: &Matched,
    ) -> Result<(AuthorizerAnswer, AuthorizerStep, u64), Refusal> {
        let Some(config) = &self.config.authorizer else {
            return Err(Refusal {
                step: AuthorizerStep::NotRequired,
                kind: ResponseType::AuthorizerConfigurationError,
                status: 500,
                message: None,
                detail: format!(
                    "{} is authorized but no authorizer is configured",
                    matched.resource
                ),
            });
        };
        let Some(identity) = config.identity(request.headers, request.query) else {
            return Err(Refusal {
                step: AuthorizerStep::MissingIdentity,
                kind: ResponseType::Unauthorized,
                status: 401,
                message: Some("Unauthorized"),
                detail: "an identity source is missing; the authorizer was not invoked".into(),
            });
        };
        let method_arn = self.config.api.method_arn(request.method, request.path);
        let started = Instant::now();
        let (answer, step) = match self.cache.get(&identity) {
            Some(answer) => (answer, AuthorizerStep::Cached),
            None => {
                let event = authorizer_event(request, &self.config.api);
                let answer = match self.invoker.invoke(&config.function, event).await {
                    Ok(response) => AuthorizerAnswer::parse(&response).map_err(|why| Refusal {
                        step: AuthorizerStep::Invoked,
                        kind: ResponseType::AuthorizerConfigurationError,
                        status: 500,
                        message: None,
                        detail: format!("malformed authorizer response: {why}"),
                    })?,
                    Err(InvokeError::Function { message, .. }) if message == "Unauthorized" => {
                        return Err(Refusal {
                            step: AuthorizerStep::Invoked,
                            kind: ResponseType::Unauthorized,
                            status: 401,
                            message: Some("Unauthorized"),
                            detail: "the authorizer refused the credential".into(),
                        });
                    }
                    Err(err @ InvokeError::Function { .. }) => {
                        return Err(Refusal {
                            step: AuthorizerStep::Invoked,
                            kind: ResponseType::AuthorizerConfigurationError,
                            status: 500,
                            message: None,
                            detail: format!("the authorizer failed: {err}"),
                        });
                    }
                    Err(err) => {
                        return Err(Refusal {
                            step: AuthorizerStep::Invoked,
                            kind: ResponseType::AuthorizerFailure,
                            status: 500,
                            message: None,
                            detail: format!("the authorizer could not run: {err}"),
                        });
                    }
                };
                self.cache.put(identity, answer.clone(), config.ttl);
                (answer, AuthorizerStep::Invoked)
            }
        };
        let latency = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match answer.verdict(&method_arn) {
            Verdict::Allow => Ok((answer, step, latency)),
            Verdict::ExplicitDeny => Err(Refusal {
                step,
                kind: ResponseType::AccessDenied,
                status: 403,
                message: Some(
                    "User is not authorized to access this resource with an explicit deny",
                ),
                detail: format!("the policy denies {method_arn}"),
            }),
            Verdict::NotAllowed => Err(Refusal {
                step,
                kind: ResponseType::AccessDenied,
                status: 403,
                message: Some("User is not authorized to access this resource"),
                detail: format!("the policy does not allow {method_arn}"),
            }),
        }
    }

    /// Serves HTTP/1.1 on `listener` until the returned task is aborted.
    pub fn serve(self: Arc<Self>, listener: TcpListener) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let Ok((stream, remote)) = listener.accept().await else {
                    continue;
                };
                let gateway = Arc::clone(&self);
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let gateway = Arc::clone(&gateway);
                        async move { Ok::<_, Infallible>(gateway.handle(request, remote).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        })
    }
}

/// The request's headers plus what API Gateway adds on the way in:
/// `X-Forwarded-For` (the client appended), `-Port`, `-Proto` and an
/// `X-Amzn-Trace-Id`.
fn forwarding_headers(headers: &HeaderMap, source_ip: &str, request_id: &str) -> HeaderMap {
    let mut headers = headers.clone();
    let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(earlier) => format!("{earlier}, {source_ip}"),
        None => source_ip.to_owned(),
    };
    let port = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(|host| host.rsplit_once(':'))
        .map_or("80".to_owned(), |(_, port)| port.to_owned());
    let trace = format!(
        "Root=1-{:08x}-{}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        request_id.replace('-', "").get(..24).unwrap_or_default()
    );
    for (name, value) in [
        ("x-forwarded-for", forwarded_for),
        ("x-forwarded-port", port),
        ("x-forwarded-proto", "http".to_owned()),
        ("x-amzn-trace-id", trace),
    ] {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    headers
}

struct Refusal {
    step: AuthorizerStep,
    kind: ResponseType,
    status: u16,
    message: Option<&'static str>,
    detail: String,
}

/// Turns an answer into a hyper response (invalid header names or values
/// are dropped rather than failing the whole response).
pub fn into_response(answer: HttpAnswer) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() =
        http::StatusCode::from_u16(answer.status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}
