//! A minimal HTTP/1.1 client for loopback exchanges (telemetry delivery, test
//! functions fetching static files). One connection per request; no TLS.

use std::time::Duration;

use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::Error;

/// Hosts the Lambda sandbox resolves to the execution environment itself.
/// Extensions subscribe with `http://sandbox.localdomain:<port>`, which does not
/// resolve outside Lambda, so the emulator delivers to loopback instead.
const SANDBOX_HOSTS: [&str; 2] = ["sandbox.localdomain", "sandbox"];

/// A response read in full.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Response body.
    pub body: Vec<u8>,
}

/// Sends one request and reads the whole response.
///
/// Connection refusals are retried until `connect_timeout` passes, because a
/// listener that subscribed a moment ago may not have bound its port yet (the
/// `lambda-extension` crate binds in a spawned task, and re-binds per connection).
pub async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    connect_timeout: Duration,
) -> Result<HttpResponse, Error> {
    let fail = |message: String| Error::Http {
        method: method.to_string(),
        url: url.to_owned(),
        message,
    };
    let uri: Uri = url.parse().map_err(|e| fail(format!("bad URL: {e}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(fail("only http:// URLs are supported".into()));
    }
    let host = uri
        .host()
        .ok_or_else(|| fail("URL has no host".into()))?
        .to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let connect_host = loopback_for(&host);

    let stream = connect_with_retry(connect_host, port, connect_timeout)
        .await
        .map_err(|e| fail(format!("connect to {connect_host}:{port}: {e}")))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| fail(format!("handshake: {e}")))?;
    let driver = tokio::spawn(connection);

    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut builder = Request::builder()
        .method(method.clone())
        .uri(path)
        .header(http::header::HOST, host_header(&host, uri.port_u16()));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| fail(format!("cannot build request: {e}")))?;

    let response = sender
        .send_request(request)
        .await
        .map_err(|e| fail(format!("request failed: {e}")))?;
    let (parts, incoming) = response.into_parts();
    let body = incoming
        .collect()
        .await
        .map_err(|e| fail(format!("reading the body: {e}")))?
        .to_bytes()
        .to_vec();
    driver.abort();
    Ok(HttpResponse {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// `GET url`, returning the response.
pub async fn get(url: &str, connect_timeout: Duration) -> Result<HttpResponse, Error> {
    send(Method::GET, url, &[], Vec::new(), connect_timeout).await
}

/// `POST url` with a JSON body.
pub async fn post_json(
    url: &str,
    headers: &[(&str, &str)],
    body: &serde_json::Value,
    connect_timeout: Duration,
) -> Result<HttpResponse, Error> {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    send(
        Method::POST,
        url,
        &all,
        body.to_string().into_bytes(),
        connect_timeout,
    )
    .await
}

/// Maps the sandbox's own host names to loopback; other hosts are used as given.
pub fn loopback_for(host: &str) -> &str {
    if SANDBOX_HOSTS.contains(&host) {
        "127.0.0.1"
    } else {
        host
    }
}

fn host_header(host: &str, port: Option<u16>) -> String {
    match port {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

async fn connect_with_retry(
    host: &str,
    port: u16,
    timeout: Duration,
) -> std::io::Result<TcpStream> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match TcpStream::connect((host, port)).await {
            Ok(stream) => return Ok(stream),
            Err(e)
                if e.kind() == std::io::ErrorKind::ConnectionRefused
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_hosts_are_delivered_to_loopback() {
        assert_eq!(loopback_for("sandbox.localdomain"), "127.0.0.1");
        assert_eq!(loopback_for("sandbox"), "127.0.0.1");
        assert_eq!(loopback_for("127.0.0.2"), "127.0.0.2");
    }

    #[tokio::test]
    async fn a_non_http_url_is_rejected_without_connecting() {
        let err = get("https://127.0.0.1:1/", Duration::ZERO).await.err();
        assert!(
            matches!(err, Some(Error::Http { ref message, .. }) if message.contains("only http://")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_closed_port_fails_after_the_connect_timeout() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = get(
            &format!("http://127.0.0.1:{port}/"),
            Duration::from_millis(100),
        )
        .await
        .err();
        assert!(matches!(err, Some(Error::Http { .. })), "{err:?}");
    }
}
