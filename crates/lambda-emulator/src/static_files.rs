//! A loopback HTTP server for the `files` of a smoke.json (e.g. a JWKS document
//! a function fetches at start), so smoke runs need no network.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Method, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::Error;

/// Serves fixed documents on `127.0.0.1` at an ephemeral port until dropped.
#[derive(Debug)]
pub struct StaticFiles {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
}

impl Drop for StaticFiles {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

impl StaticFiles {
    /// Starts serving `files` (URL path such as `/.well-known/jwks.json` to
    /// content). Other paths answer 404.
    pub async fn start(files: BTreeMap<String, Vec<u8>>) -> Result<Self, Error> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| Error::io("binding the static file server", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("reading the static file server's address", e))?;
        let files = Arc::new(files);
        let (shutdown, mut stop) = watch::channel(false);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    _ = stop.changed() => return,
                };
                let Ok((stream, _)) = accepted else { continue };
                let files = Arc::clone(&files);
                let mut stop = stop.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let files = Arc::clone(&files);
                        async move { Ok::<_, Infallible>(serve(&files, req.method(), req.uri().path())) }
                    });
                    let connection = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = connection => {}
                        _ = stop.changed() => {}
                    }
                });
            }
        });
        Ok(Self { addr, shutdown })
    }

    /// The base URL, `http://127.0.0.1:<port>` (no trailing slash): the value of
    /// `{{static_url}}`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn serve(files: &BTreeMap<String, Vec<u8>>, method: &Method, path: &str) -> Response<Full<Bytes>> {
    // Any method: a canned answer can stand in for a POST API (a chat
    // completion, a message send) as well as for a document.
    let found = files.get(path);
    let (status, content_type, body) = match found {
        Some(content) => (StatusCode::OK, content_type(path, content), content.clone()),
        None => (StatusCode::NOT_FOUND, "text/plain", b"not found".to_vec()),
    };
    let body = if method == Method::HEAD {
        Vec::new()
    } else {
        body
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response
}

/// From the URL's extension; an API path without one (`/v1/chat/completions`)
/// that serves a JSON document is JSON.
fn content_type(path: &str, content: &[u8]) -> &'static str {
    let extension = path
        .rsplit('/')
        .next()
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, ext)| ext);
    match extension {
        Some("json") => "application/json",
        Some("html") => "text/html",
        Some("pem") | Some("txt") => "text/plain",
        None if serde_json::from_slice::<serde_json::Value>(content).is_ok() => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_client;
    use std::time::Duration;

    #[tokio::test]
    async fn serves_declared_files_with_a_json_content_type_and_404s_others() {
        let files = BTreeMap::from([(
            "/.well-known/jwks.json".to_owned(),
            br#"{"keys":[]}"#.to_vec(),
        )]);
        let server = StaticFiles::start(files).await.unwrap();
        let ok = http_client::get(
            &format!("{}/.well-known/jwks.json", server.url()),
            Duration::from_secs(1),
        )
        .await
        .unwrap();
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(ok.body, br#"{"keys":[]}"#);
        assert_eq!(ok.headers["content-type"], "application/json");
        let missing = http_client::get(&format!("{}/other", server.url()), Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn answers_any_method_so_files_can_stand_in_for_post_apis() {
        let files = BTreeMap::from([
            ("/v1/chat/completions".to_owned(), br#"{"id":"x"}"#.to_vec()),
            ("/bin".to_owned(), b"\x00\x01".to_vec()),
        ]);
        let post = serve(&files, &Method::POST, "/v1/chat/completions");
        assert_eq!(post.status(), StatusCode::OK);
        assert_eq!(post.headers()["content-type"], "application/json");
        let binary = serve(&files, &Method::PUT, "/bin");
        assert_eq!(binary.headers()["content-type"], "application/octet-stream");
        assert_eq!(
            serve(&files, &Method::POST, "/other").status(),
            StatusCode::NOT_FOUND
        );
    }
}
