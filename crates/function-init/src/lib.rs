//! Start-up of a Lambda function.
//!
//! `main.rs` of every function is the same three steps: install logging,
//! parse the configuration, run the handler. A configuration error must not
//! be a panic: Lambda shows a crashed runtime as an opaque `Runtime.ExitError`.
//! [`start`] reports it to the Runtime API's `/runtime/init/error` endpoint,
//! so the error message (which names the variable) reaches the caller and the
//! logs, and then returns it for `main` to exit with.

use std::fmt::Display;
use std::time::{Duration, SystemTime};

use env_config::ProcessEnv;
use lambda_runtime::Diagnostic;
use lambda_runtime_api_client::body::Body;

/// The error `start` returns; `main` returns it so the process exits non-zero.
pub type InitError = lambda_runtime::Error;

/// Installs logging and parses the configuration with `parse`; an error is
/// logged, reported to the Runtime API and returned.
pub async fn start<C, E, F>(parse: F) -> Result<C, InitError>
where
    F: FnOnce(&ProcessEnv) -> Result<C, E>,
    E: Display,
{
    lambda_logging::init();
    match parse(&ProcessEnv) {
        Ok(config) => Ok(config),
        Err(err) => Err(fail("Runtime.ConfigError", err).await),
    }
}

/// Logs `err`, reports it as an init error of type `error_type` when running
/// under a Runtime API, and returns it as the error `main` exits with. Use it
/// for any failure before the handler runs (e.g. building a client).
pub async fn fail(error_type: &str, err: impl Display) -> InitError {
    let message = err.to_string();
    tracing::error!(error_type, error = %message, "function failed to initialise");
    match std::env::var("AWS_LAMBDA_RUNTIME_API") {
        Ok(api) => {
            if let Err(report_err) = report(&api, error_type, &message).await {
                tracing::error!(error = %report_err, "could not report the init error to the Runtime API");
            }
        }
        Err(_) => tracing::warn!("AWS_LAMBDA_RUNTIME_API is not set; init error not reported"),
    }
    message.into()
}

/// How long the handler of an invocation may still take: until Lambda's
/// deadline for it (the function timeout), less `reserve` for answering
/// before Lambda kills the invocation and API Gateway answers 502 instead
/// of our response. Zero once the deadline is that close.
pub fn time_budget(context: &lambda_runtime::Context, reserve: Duration) -> Duration {
    budget_until(context.deadline(), SystemTime::now(), reserve)
}

fn budget_until(deadline: SystemTime, now: SystemTime, reserve: Duration) -> Duration {
    deadline
        .duration_since(now)
        .unwrap_or(Duration::ZERO)
        .saturating_sub(reserve)
}

/// Posts a diagnostic to `http://{api}/2018-06-01/runtime/init/error`.
async fn report(api: &str, error_type: &str, message: &str) -> Result<(), InitError> {
    let endpoint: http::Uri = format!("http://{api}").parse()?;
    let client = lambda_runtime_api_client::PooledClient::builder()
        .with_endpoint(endpoint)
        .build();
    let diagnostic = Diagnostic {
        error_type: error_type.to_owned(),
        error_message: message.to_owned(),
    };
    let request = lambda_runtime_api_client::build_request()
        .method(http::Method::POST)
        .uri("/2018-06-01/runtime/init/error")
        .header("lambda-runtime-function-error-type", error_type)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&diagnostic)?))?;
    let response = client.call(request).await?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("Runtime API answered {}", response.status()).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use tokio::sync::mpsc;

    /// A one-request Runtime API that hands back what it received.
    async fn fake_runtime_api() -> (String, mpsc::Receiver<(String, String, String)>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let tx = tx.clone();
                async move {
                    let path = req.uri().path().to_owned();
                    let kind = req
                        .headers()
                        .get("lambda-runtime-function-error-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let body = req.into_body().collect().await.unwrap().to_bytes();
                    let body = String::from_utf8(body.to_vec()).unwrap();
                    tx.send((path, kind, body)).await.unwrap();
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(String::from("{}")))
                }
            });
            hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
                .unwrap();
        });
        (addr, rx)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn config_error_is_posted_to_init_error_with_the_variable_named() {
        let (addr, mut received) = fake_runtime_api().await;
        report(
            &addr,
            "Runtime.ConfigError",
            "invalid configuration: CORS_ALLOWED_ORIGINS: is required but not set",
        )
        .await
        .unwrap();
        let (path, kind, body) = received.recv().await.unwrap();
        assert_eq!(path, "/2018-06-01/runtime/init/error");
        assert_eq!(kind, "Runtime.ConfigError");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["errorType"], "Runtime.ConfigError");
        assert_eq!(
            body["errorMessage"],
            "invalid configuration: CORS_ALLOWED_ORIGINS: is required but not set"
        );
    }

    #[test]
    fn the_budget_is_what_is_left_before_the_deadline_less_the_reserve() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let reserve = Duration::from_millis(500);
        let budget = |after: Duration| budget_until(now + after, now, reserve);
        assert_eq!(
            budget(Duration::from_secs(10)),
            Duration::from_millis(9_500)
        );
        assert_eq!(budget(Duration::from_millis(300)), Duration::ZERO);
        // A deadline already past (or a clock that jumped) leaves nothing.
        assert_eq!(
            budget_until(now, now + Duration::from_secs(1), reserve),
            Duration::ZERO
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_unreachable_runtime_api_is_an_error_not_a_panic() {
        let err = report("127.0.0.1:1", "Runtime.ConfigError", "x").await;
        assert!(err.is_err());
    }
}
