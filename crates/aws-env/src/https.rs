//! The process's one HTTPS client: reqwest over rustls (aws-lc-rs), with the
//! TLS roots of the platform, used by every AWS SDK client (through the
//! [`HttpClient`] implementation below) and by every third-party call
//! (JWKS, Cognito's token endpoint, Twilio, OpenAI).
//!
//! One client means one HTTP and TLS stack in the binary (the SDK's own
//! hyper-rustls client is not linked: the SDK crates are built without
//! their `default-https-client` feature), one root-certificate load per
//! cold start instead of one per SDK client plus one per reqwest client, and
//! one connection pool.
//!
//! Settings every caller gets:
//! - connections take at most [`CONNECT_TIMEOUT`] (TCP and TLS handshake);
//!   each request sets its own total timeout (the SDK its attempt and
//!   operation timeouts, third-party calls their time budget);
//! - redirects are never followed: the SDK expects the response it asked
//!   for, and no third-party API this project calls redirects an API call;
//! - `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` are honoured by every call,
//!   AWS's included (the SDK's default client ignores them);
//! - HTTP/1.1 only (every endpoint called speaks it; HTTP/2 would link h2).

use std::error::Error as StdError;
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;

use crate::CONNECT_TIMEOUT;

/// The process's HTTPS client; cheap to clone (clones share the connection
/// pool and the TLS configuration). Build it once at init.
#[derive(Debug, Clone)]
pub struct HttpsClient {
    http: reqwest::Client,
}

impl HttpsClient {
    /// Builds the client; this loads the platform's root certificates (the
    /// system store, or `SSL_CERT_FILE`/`SSL_CERT_DIR`) and fails when
    /// there are none.
    pub fn new() -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { http })
    }

    /// The client for third-party calls; give each request its own
    /// `timeout`.
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.http
    }
}

impl HttpClient for HttpsClient {
    /// The connector for one attempt. The connect timeout is the client's
    /// ([`CONNECT_TIMEOUT`], also what this crate configures in the SDK); a
    /// read timeout, if a client configuration sets one, bounds the whole
    /// response.
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(Connector {
            http: self.http.clone(),
            read_timeout: settings.read_timeout(),
        })
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("reqwest", None))
    }
}

/// One SDK attempt over the shared client.
#[derive(Debug)]
struct Connector {
    http: reqwest::Client,
    read_timeout: Option<Duration>,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match to_reqwest(request, self.read_timeout) {
            Ok(request) => request,
            Err(err) => return HttpConnectorFuture::ready(Err(ConnectorError::user(err))),
        };
        let http = self.http.clone();
        HttpConnectorFuture::new(async move {
            let response = http.execute(request).await.map_err(connector_error)?;
            // Streamed, as the SDK's own client does: the deserialiser reads
            // the body, under the attempt timeout.
            let response: http::Response<reqwest::Body> = response.into();
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|err| ConnectorError::other(err.into(), None))
        })
    }
}

/// The SDK's request as a reqwest request: same method, URI, headers (the
/// signature's included) and body.
fn to_reqwest(
    request: HttpRequest,
    read_timeout: Option<Duration>,
) -> Result<reqwest::Request, BoxError> {
    let request = request.try_into_http1x()?.map(|body| {
        // In-memory bodies (every JSON API call) stay replayable.
        match body.bytes().map(<[u8]>::to_vec) {
            Some(bytes) => reqwest::Body::from(bytes),
            None => reqwest::Body::wrap(body),
        }
    });
    let mut request = reqwest::Request::try_from(request)?;
    *request.timeout_mut() = read_timeout;
    Ok(request)
}

/// Classifies a failed attempt the way the SDK's own client does, so the
/// standard retry strategy retries the same failures: timeouts, I/O and
/// connection failures and closed connections (a pooled connection that
/// died while Lambda froze the sandbox) are transient; anything else is
/// not retried.
fn connector_error(err: reqwest::Error) -> ConnectorError {
    if err.is_timeout() {
        return ConnectorError::timeout(err.into());
    }
    if err.is_builder() {
        return ConnectorError::user(err.into());
    }
    if err.is_connect() {
        return ConnectorError::io(err.into());
    }
    if let Some(hyper) = find_source::<hyper::Error>(&err) {
        if hyper.is_timeout() {
            return ConnectorError::timeout(err.into());
        }
        if hyper.is_user() {
            return ConnectorError::user(err.into());
        }
        if hyper.is_closed() || hyper.is_canceled() {
            return ConnectorError::io(err.into());
        }
        if hyper.is_incomplete_message() {
            return ConnectorError::other(err.into(), Some(ErrorKind::TransientError));
        }
    }
    if find_source::<std::io::Error>(&err).is_some() {
        return ConnectorError::io(err.into());
    }
    ConnectorError::other(err.into(), None)
}

/// The first error of type `E` in `err`'s source chain, `err` included.
fn find_source<'a, E: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    let mut next = Some(err);
    while let Some(err) = next {
        if let Some(found) = err.downcast_ref::<E>() {
            return Some(found);
        }
        next = err.source();
    }
    None
}
