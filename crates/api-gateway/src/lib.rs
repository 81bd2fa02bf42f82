//! API Gateway plumbing shared by every HTTP function.
//!
//! - [`GatewayRequest`]: one request type for REST API (payload 1.0) and
//!   HTTP API (payload 2.0) proxy events, body already base64-decoded.
//! - [`GatewayResponse`]: serialised back in the payload version the
//!   request came in.
//! - [`ApiError`]: the JSON error body `{"error": {"code", "message"}}` and
//!   its status; client mistakes are 4xx, never 500.
//! - [`CorsConfig`]: one CORS configuration applied to every response.
//! - [`Identity`]: the caller as the Lambda authorizer described it.
//! - [`csrf`]: the cross-site request forgery checks of cookie-authenticated
//!   writes, shared by every function that accepts them.
//! - [`handle`]: the one place that ties these together for a handler.

mod cors;
pub mod csrf;
mod error;
mod identity;
mod request;
mod response;

pub use cors::{CorsConfig, OriginRule, PreflightError};

/// Names of the `CORS_*` variables [`CorsConfig::from_env`] reads.
pub mod cors_vars {
    pub use crate::cors::{
        CREDENTIALS_VAR as CREDENTIALS, HEADERS_VAR as HEADERS, MAX_AGE_VAR as MAX_AGE,
        METHODS_VAR as METHODS, ORIGINS_VAR as ORIGINS,
    };
}
pub use authorizer_context::CredentialSource;
pub use error::ApiError;
pub use identity::Identity;
pub use request::{GatewayRequest, PayloadVersion};
pub use response::GatewayResponse;

use std::future::Future;
use std::time::Instant;

use serde_json::Value;

/// How much of a client-chosen string (path, `Origin`) a log line keeps.
const LOGGED_CHARS: usize = 128;

/// Runs `handler` on an API Gateway event and returns the response event.
///
/// Parsing failures and handler errors become JSON error responses; CORS
/// headers are added for an allowed `Origin`, errors included. It never
/// fails: whatever happens, API Gateway gets a well-formed response.
pub async fn handle<F, Fut>(event: Value, cors: &CorsConfig, handler: F) -> Value
where
    F: FnOnce(GatewayRequest) -> Fut,
    Fut: Future<Output = Result<GatewayResponse, ApiError>>,
{
    let started = Instant::now();
    let version = PayloadVersion::of_event(&event);
    let request = match GatewayRequest::from_event(event) {
        Ok(request) => request,
        Err(err) => {
            tracing::info!(
                status = err.status().as_u16(),
                code = err.code(),
                "request rejected before routing"
            );
            return GatewayResponse::from(err).into_event(version);
        }
    };
    let origin = request.header("origin").map(str::to_owned);
    let method = request.method.clone();
    let path = request.path.clone();
    let response = match handler(request).await {
        Ok(response) => response,
        Err(err) => {
            if err.status().is_server_error() {
                tracing::error!(
                    code = err.code(),
                    detail = err.internal_detail(),
                    "request failed"
                );
            }
            GatewayResponse::from(err)
        }
    };
    let response = response.with_cors(cors, origin.as_deref());
    // Both are the client's to choose, up to kilobytes long.
    tracing::info!(
        method = %method,
        path = %lambda_logging::excerpt(&path, LOGGED_CHARS),
        status = response.status,
        origin = %lambda_logging::excerpt(origin.as_deref().unwrap_or(""), LOGGED_CHARS),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request handled"
    );
    response.into_event(version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_logging::CapturedLogs;
    use serde_json::json;

    fn event(origin: &str) -> Value {
        json!({
            "version": "2.0",
            "rawPath": "/users/me",
            "rawQueryString": "code=one-time-code",
            "cookies": ["access_token=cookie-secret"],
            "headers": {"origin": origin, "authorization": "Bearer header-secret"},
            "requestContext": {
                "http": {"method": "GET", "path": "/users/me", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1", "userAgent": "t"},
                "requestId": "req-9", "routeKey": "GET /users/me", "stage": "$default", "timeEpoch": 0
            },
            "isBase64Encoded": false
        })
    }

    fn cors() -> CorsConfig {
        CorsConfig::from_env(&[("CORS_ALLOWED_ORIGINS", "https://app.example.com")]).unwrap()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn errors_carry_cors_headers_for_an_allowed_origin_only() {
        let failing = |_req: GatewayRequest| async {
            Err::<GatewayResponse, _>(ApiError::not_found("user_not_found", "no profile yet"))
        };
        let allowed = handle(event("https://app.example.com"), &cors(), failing).await;
        assert_eq!(allowed["statusCode"], 404);
        assert_eq!(
            allowed["headers"]["access-control-allow-origin"],
            "https://app.example.com"
        );
        let body: Value = serde_json::from_str(allowed["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"error": {"code": "user_not_found", "message": "no profile yet"}})
        );

        let refused = handle(event("https://evil.example.net"), &cors(), failing).await;
        assert_eq!(refused["statusCode"], 404);
        assert!(
            refused["headers"]
                .get("access-control-allow-origin")
                .is_none()
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn unparseable_events_get_a_json_400() {
        let response = handle(json!([1, 2, 3]), &cors(), |_req| async {
            Ok(GatewayResponse::empty(200))
        })
        .await;
        assert_eq!(response["statusCode"], 400);
        assert_eq!(response["headers"]["content-type"], "application/json");
    }

    /// One process-wide capturing subscriber: a scoped (`with_default`)
    /// subscriber misses events whose callsites other test threads
    /// registered first, which made this test flaky.
    fn global_logs() -> &'static CapturedLogs {
        static LOGS: std::sync::OnceLock<CapturedLogs> = std::sync::OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = CapturedLogs::default();
            let subscriber = lambda_logging::json_subscriber(
                lambda_logging::level_filter(Some("info"), None),
                logs.clone(),
            );
            tracing::subscriber::set_global_default(subscriber).unwrap();
            logs
        })
    }

    #[tokio::test(flavor = "current_thread")]
    async fn request_log_lines_hold_no_token_cookie_or_code() {
        let logs = global_logs();
        handle(event("https://app.example.com"), &cors(), |_req| async {
            Err::<GatewayResponse, _>(ApiError::internal("store failed"))
        })
        .await;
        let out = logs.contents();
        assert!(out.contains("request handled"), "{out}");
        assert!(
            out.contains("store failed"),
            "internal detail is logged: {out}"
        );
        for secret in ["header-secret", "cookie-secret", "one-time-code"] {
            assert!(!out.contains(secret), "{secret} leaked: {out}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn client_chosen_paths_and_origins_are_logged_as_short_excerpts() {
        let logs = global_logs();
        let long_origin = format!("https://{}.example", "o".repeat(6000));
        let mut long = event(&long_origin);
        long["rawPath"] = json!(format!("/users/{}", "p".repeat(6000)));
        long["requestContext"]["http"]["path"] = long["rawPath"].clone();
        handle(long, &cors(), |_req| async {
            Ok(GatewayResponse::empty(204))
        })
        .await;
        let out = logs.contents();
        let line = out
            .lines()
            .find(|line| line.contains("request handled") && line.contains("ppp"))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(line.len() < 1000, "{} bytes: {line}", line.len());
        assert!(line.contains("bytes)"), "{line}");
    }
}
