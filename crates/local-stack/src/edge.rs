//! The one port the browser talks to, dispatched by `Host` like a custom
//! domain: `api.<site>` is the API Gateway, `app.<site>` the test app.
//! Both on one site, as in production (the API on the web app's site), so
//! the auth cookies (`SameSite=Lax`) reach the API from the app.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Method, Request, Response};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use local_gateway::Gateway;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The test app's page.
pub const APP_PAGE: &str = include_str!("app.html");

/// How the edge dispatches.
#[derive(Debug, Clone)]
pub struct EdgeRoutes {
    /// The API's host (`api.<site>`).
    pub api_host: String,
    /// Hosts serving the test app.
    pub app_hosts: Vec<String>,
    /// The API's origin, written into the app page.
    pub api_origin: String,
    /// The page for any other host (what runs where).
    pub index: String,
    /// Replaces text in every API `Set-Cookie` (negative controls only).
    pub set_cookie_rewrite: Option<(String, String)>,
}

fn text(status: u16, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

/// The host a request is for, lower case, without the port.
fn host_of(request: &Request<Incoming>) -> String {
    let raw = request
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().host())
        .unwrap_or_default();
    let host = match raw.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => raw,
    };
    host.to_ascii_lowercase()
}

async fn dispatch(
    routes: &EdgeRoutes,
    gateway: &Gateway,
    request: Request<Incoming>,
    remote: SocketAddr,
) -> Response<Full<Bytes>> {
    let host = host_of(&request);
    if host == routes.api_host {
        let mut response = gateway.handle(request, remote).await;
        if let Some((from, to)) = &routes.set_cookie_rewrite {
            rewrite_set_cookie(response.headers_mut(), from, to);
        }
        return response;
    }
    if routes.app_hosts.contains(&host) {
        return match (request.method(), request.uri().path()) {
            (&Method::GET, "/" | "/index.html") => text(
                200,
                "text/html; charset=utf-8",
                APP_PAGE.replace("{{API_ORIGIN}}", &routes.api_origin),
            ),
            (&Method::GET, "/favicon.ico") => text(204, "text/plain", String::new()),
            (method, path) => text(
                404,
                "text/plain",
                format!("the test app has no {method} {path}\n"),
            ),
        };
    }
    text(200, "text/plain; charset=utf-8", routes.index.clone())
}

fn rewrite_set_cookie(headers: &mut http::HeaderMap, from: &str, to: &str) {
    let rewritten: Vec<http::HeaderValue> = headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| http::HeaderValue::from_str(&v.replace(from, to)).ok())
        .collect();
    if rewritten.is_empty() {
        return;
    }
    headers.remove(http::header::SET_COOKIE);
    for value in rewritten {
        headers.append(http::header::SET_COOKIE, value);
    }
}

/// Serves until `stop` turns true; open connections are closed then.
pub async fn serve(
    listener: TcpListener,
    routes: Arc<EdgeRoutes>,
    gateway: Arc<Gateway>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let Ok((stream, remote)) = accepted else {
            continue;
        };
        let routes = Arc::clone(&routes);
        let gateway = Arc::clone(&gateway);
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let routes = Arc::clone(&routes);
                let gateway = Arc::clone(&gateway);
                async move { Ok::<_, Infallible>(dispatch(&routes, &gateway, request, remote).await) }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rewrite_touches_every_set_cookie_and_nothing_else() {
        let mut headers = http::HeaderMap::new();
        headers.append(
            http::header::SET_COOKIE,
            "a=1; SameSite=Lax".parse().unwrap(),
        );
        headers.append(
            http::header::SET_COOKIE,
            "b=2; SameSite=Lax".parse().unwrap(),
        );
        headers.insert(http::header::LOCATION, "/SameSite=Lax".parse().unwrap());
        rewrite_set_cookie(&mut headers, "SameSite=Lax", "SameSite=Strict");
        let cookies: Vec<&str> = headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(cookies, ["a=1; SameSite=Strict", "b=2; SameSite=Strict"]);
        assert_eq!(headers[http::header::LOCATION], "/SameSite=Lax");
    }
}
