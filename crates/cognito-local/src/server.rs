//! The stand-in's HTTP server: hosted-UI endpoints, and the Cognito
//! Identity Provider API passed through to moto with `RevokeToken` added.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::io::Read as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::net::TcpListener;

use crate::idp::{Idp, IdpError, TARGET_PREFIX, Tokens};
use crate::pages::{AuthorizeParams, error_page, login_form};

/// How long an authorization code may be exchanged (Cognito: 5 minutes).
pub const CODE_LIFETIME: Duration = Duration::from_secs(300);

/// A code waiting for its exchange.
struct Grant {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    tokens: Tokens,
    issued: Instant,
}

/// The stand-in's state.
pub(crate) struct State {
    pub(crate) idp: Idp,
    http: reqwest::Client,
    codes: Mutex<HashMap<String, Grant>>,
    revoked: Mutex<HashSet<String>>,
    operations: Mutex<Vec<String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl State {
    pub(crate) fn new(idp: Idp, http: reqwest::Client) -> Self {
        Self {
            idp,
            http,
            codes: Mutex::new(HashMap::new()),
            revoked: Mutex::new(HashSet::new()),
            operations: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn operations(&self) -> Vec<String> {
        lock(&self.operations).clone()
    }

    pub(crate) fn is_revoked(&self, refresh_token: &str) -> bool {
        lock(&self.revoked).contains(refresh_token)
    }
}

type HttpResponse = Response<Full<Bytes>>;

fn reply(status: u16, content_type: &str, body: impl Into<Bytes>) -> HttpResponse {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    response
}

fn html(status: u16, page: String) -> HttpResponse {
    let mut response = reply(status, "text/html; charset=utf-8", page);
    no_store(&mut response);
    response
}

fn no_store(response: &mut HttpResponse) {
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
}

fn redirect(location: &str) -> HttpResponse {
    let mut response = reply(302, "text/plain", "");
    if let Ok(value) = http::HeaderValue::from_str(location) {
        response.headers_mut().insert(http::header::LOCATION, value);
    }
    no_store(&mut response);
    response
}

/// `location?key=value&...`, form-encoded, keeping an existing query.
fn with_query(location: &str, pairs: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
    let separator = if location.contains('?') { '&' } else { '?' };
    format!("{location}{separator}{query}")
}

/// 32 random bytes, base64url: codes.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        // Never without randomness: a predictable code would be a bug.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let digest = Sha256::digest(format!("{nanos}:{}", std::process::id()));
        bytes.copy_from_slice(&digest);
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Serves until the task is aborted.
pub(crate) async fn serve(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let state = Arc::clone(&state);
                async move { Ok::<_, Infallible>(route(&state, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn route(state: &State, request: Request<Incoming>) -> HttpResponse {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => Vec::new(),
    };
    let query = parts.uri.query().unwrap_or_default().to_owned();
    if let Some(target) = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    {
        return identity_provider(state, &parts.headers, &target, body).await;
    }
    match (&parts.method, parts.uri.path()) {
        (&Method::GET, "/oauth2/authorize") => authorize(state, &query).await,
        (&Method::GET, "/login") => login_page(state, &query).await,
        (&Method::POST, "/login") => login(state, &body).await,
        (&Method::POST, "/oauth2/token") => token(state, &parts.headers, &body).await,
        (&Method::GET, "/logout") => logout(state, &query).await,
        (&Method::GET, "/") => html(
            200,
            error_page("This is the local Cognito stand-in: start a sign-in from the app."),
        ),
        (method, path) => html(
            404,
            error_page(&format!("{method} {path} is not served here")),
        ),
    }
}

/// Why a hosted-UI request cannot go on.
enum Refused {
    /// Shown as a page: the redirect URI cannot be trusted.
    Page(u16, String),
    /// Sent back to the (registered) redirect URI as `error=`.
    Redirect(String, &'static str),
}

impl Refused {
    fn into_response(self, state_param: Option<&str>) -> HttpResponse {
        match self {
            Self::Page(status, message) => html(status, error_page(&message)),
            Self::Redirect(redirect_uri, error) => {
                let mut pairs = vec![("error", error)];
                if let Some(state) = state_param {
                    pairs.push(("state", state));
                }
                redirect(&with_query(&redirect_uri, &pairs))
            }
        }
    }
}

/// Checks the client, the redirect URI and the request the way Cognito's
/// `/oauth2/authorize` does; PKCE S256 is required here.
async fn check_authorize(state: &State, params: &AuthorizeParams) -> Result<(), Refused> {
    if params.client_id.is_empty() {
        return Err(Refused::Page(400, "client_id is required".into()));
    }
    let client = match state.idp.client(&params.client_id).await {
        Ok(client) => client,
        Err(IdpError { kind, .. }) if kind == "ResourceNotFoundException" => {
            return Err(Refused::Page(400, "invalid client_id".into()));
        }
        Err(err) => {
            return Err(Refused::Page(
                502,
                format!("the user pool is unavailable: {err}"),
            ));
        }
    };
    if !client.callback_urls.contains(&params.redirect_uri) {
        return Err(Refused::Page(
            400,
            "redirect_mismatch: redirect_uri is not a callback URL of this app client".into(),
        ));
    }
    let back = || params.redirect_uri.clone();
    if params.response_type != "code" {
        return Err(Refused::Redirect(back(), "unsupported_response_type"));
    }
    let scopes: Vec<&str> = params
        .scope
        .as_deref()
        .unwrap_or("openid")
        .split(' ')
        .collect();
    if !scopes.contains(&"openid") {
        return Err(Refused::Redirect(back(), "invalid_scope"));
    }
    let challenge_ok = params
        .code_challenge
        .as_deref()
        .is_some_and(|c| c.len() == 43 && URL_SAFE_NO_PAD.decode(c).is_ok());
    if params.code_challenge_method.as_deref() != Some("S256") || !challenge_ok {
        return Err(Refused::Redirect(back(), "invalid_request"));
    }
    Ok(())
}

fn parse_params(query: &str) -> AuthorizeParams {
    serde_urlencoded::from_str(query).unwrap_or_default()
}

async fn authorize(state: &State, query: &str) -> HttpResponse {
    let params = parse_params(query);
    match check_authorize(state, &params).await {
        // Cognito's hosted UI moves the request to its login page.
        Ok(()) => redirect(&format!("/login?{query}")),
        Err(refused) => refused.into_response(params.state.as_deref()),
    }
}

async fn login_page(state: &State, query: &str) -> HttpResponse {
    let params = parse_params(query);
    match check_authorize(state, &params).await {
        Ok(()) => html(200, login_form(&params, None)),
        Err(refused) => refused.into_response(params.state.as_deref()),
    }
}

async fn login(state: &State, body: &[u8]) -> HttpResponse {
    let fields: HashMap<String, String> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let params: AuthorizeParams = serde_urlencoded::from_bytes(body).unwrap_or_default();
    if let Err(refused) = check_authorize(state, &params).await {
        return refused.into_response(params.state.as_deref());
    }
    let username = fields.get("username").map(|u| u.trim()).unwrap_or_default();
    let password = fields
        .get("password")
        .map(String::as_str)
        .unwrap_or_default();
    if username.is_empty() || password.is_empty() {
        return html(
            200,
            login_form(&params, Some("Enter your username and password.")),
        );
    }
    let tokens = match state
        .idp
        .sign_in(&params.client_id, username, password)
        .await
    {
        Ok(tokens) => tokens,
        Err(IdpError { kind, .. })
            if kind == "NotAuthorizedException" || kind == "UserNotFoundException" =>
        {
            return html(
                200,
                login_form(&params, Some("Incorrect username or password.")),
            );
        }
        Err(err) => {
            return html(
                502,
                login_form(&params, Some(&format!("Sign-in failed: {}", err.kind))),
            );
        }
    };
    let code = random_token();
    {
        let mut codes = lock(&state.codes);
        codes.retain(|_, grant| grant.issued.elapsed() < CODE_LIFETIME);
        codes.insert(
            code.clone(),
            Grant {
                client_id: params.client_id.clone(),
                redirect_uri: params.redirect_uri.clone(),
                code_challenge: params.code_challenge.clone().unwrap_or_default(),
                tokens,
                issued: Instant::now(),
            },
        );
    }
    let mut pairs = vec![("code", code.as_str())];
    if let Some(state_param) = params.state.as_deref() {
        pairs.push(("state", state_param));
    }
    redirect(&with_query(&params.redirect_uri, &pairs))
}

fn token_error(status: u16, error: &str) -> HttpResponse {
    let mut response = reply(
        status,
        "application/json",
        json!({ "error": error }).to_string(),
    );
    no_store(&mut response);
    response
}

fn token_answer(tokens: &Tokens) -> HttpResponse {
    let mut body = json!({
        "access_token": tokens.access_token,
        "id_token": tokens.id_token,
        "token_type": "Bearer",
        "expires_in": tokens.expires_in,
    });
    if let Some(refresh) = &tokens.refresh_token {
        body["refresh_token"] = json!(refresh);
    }
    let mut response = reply(200, "application/json", body.to_string());
    no_store(&mut response);
    response
}

/// `/oauth2/token`: `authorization_code` (PKCE S256 checked) and
/// `refresh_token`, with the client authenticated by HTTP Basic (or
/// `client_secret` in the form) when it has a secret.
async fn token(state: &State, headers: &http::HeaderMap, body: &[u8]) -> HttpResponse {
    let form_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return token_error(400, "invalid_request");
    }
    let form: HashMap<String, String> = match serde_urlencoded::from_bytes(body) {
        Ok(form) => form,
        Err(_) => return token_error(400, "invalid_request"),
    };
    let basic = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| STANDARD.decode(v.trim()).ok())
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| {
            v.split_once(':')
                .map(|(id, s)| (id.to_owned(), s.to_owned()))
        });
    let client_id = match (&basic, form.get("client_id")) {
        (Some((id, _)), Some(form_id)) if id != form_id => {
            return token_error(401, "invalid_client");
        }
        (Some((id, _)), _) => id.clone(),
        (None, Some(id)) => id.clone(),
        (None, None) => return token_error(401, "invalid_client"),
    };
    let client = match state.idp.client(&client_id).await {
        Ok(client) => client,
        Err(_) => return token_error(401, "invalid_client"),
    };
    if let Some(secret) = &client.client_secret {
        let presented = basic
            .as_ref()
            .map(|(_, s)| s.as_str())
            .or(form.get("client_secret").map(String::as_str));
        if presented != Some(secret.as_str()) {
            return token_error(401, "invalid_client");
        }
    }
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => exchange_code(state, &client_id, &form),
        Some("refresh_token") => {
            let Some(refresh_token) = form.get("refresh_token") else {
                return token_error(400, "invalid_request");
            };
            if state.is_revoked(refresh_token) {
                return token_error(400, "invalid_grant");
            }
            match state.idp.refresh(&client_id, refresh_token).await {
                Ok(tokens) => token_answer(&tokens),
                Err(IdpError { kind, .. }) if kind == "NotAuthorizedException" => {
                    token_error(400, "invalid_grant")
                }
                Err(_) => token_error(500, "server_error"),
            }
        }
        Some(_) => token_error(400, "unsupported_grant_type"),
        None => token_error(400, "invalid_request"),
    }
}

fn exchange_code(state: &State, client_id: &str, form: &HashMap<String, String>) -> HttpResponse {
    let (Some(code), Some(redirect_uri)) = (form.get("code"), form.get("redirect_uri")) else {
        return token_error(400, "invalid_request");
    };
    // Single use: the code is gone whatever happens next.
    let Some(grant) = lock(&state.codes).remove(code) else {
        return token_error(400, "invalid_grant");
    };
    if grant.issued.elapsed() >= CODE_LIFETIME
        || grant.client_id != client_id
        || grant.redirect_uri != *redirect_uri
    {
        return token_error(400, "invalid_grant");
    }
    let Some(verifier) = form.get("code_verifier") else {
        return token_error(400, "invalid_request");
    };
    let verifier_ok = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if !verifier_ok || computed != grant.code_challenge {
        return token_error(400, "invalid_grant");
    }
    token_answer(&grant.tokens)
}

/// `/logout?client_id&logout_uri`: back to a registered sign-out URL.
async fn logout(state: &State, query: &str) -> HttpResponse {
    let params: HashMap<String, String> = serde_urlencoded::from_str(query).unwrap_or_default();
    let (Some(client_id), Some(logout_uri)) = (params.get("client_id"), params.get("logout_uri"))
    else {
        return html(400, error_page("client_id and logout_uri are required"));
    };
    match state.idp.client(client_id).await {
        Ok(client) if client.logout_urls.contains(logout_uri) => redirect(logout_uri),
        Ok(_) => html(
            400,
            error_page("logout_uri is not a sign-out URL of this app client"),
        ),
        Err(_) => html(400, error_page("invalid client_id")),
    }
}

fn idp_error(status: u16, kind: &str, message: &str) -> HttpResponse {
    reply(
        status,
        "application/x-amz-json-1.1",
        json!({ "__type": kind, "message": message }).to_string(),
    )
}

/// The Cognito Identity Provider API: `RevokeToken` answered here (moto
/// answers 500), refreshes with a revoked token refused, everything else
/// passed to moto untouched.
async fn identity_provider(
    state: &State,
    headers: &http::HeaderMap,
    target: &str,
    body: Vec<u8>,
) -> HttpResponse {
    let operation = target
        .strip_prefix(TARGET_PREFIX)
        .unwrap_or(target)
        .to_owned();
    lock(&state.operations).push(operation.clone());
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match operation.as_str() {
        "RevokeToken" => return revoke(state, &request).await,
        "InitiateAuth" | "AdminInitiateAuth" => {
            let flow = request["AuthFlow"].as_str().unwrap_or_default();
            let token = request["AuthParameters"]["REFRESH_TOKEN"]
                .as_str()
                .unwrap_or_default();
            if matches!(flow, "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN") && state.is_revoked(token) {
                return idp_error(
                    400,
                    "NotAuthorizedException",
                    "Refresh Token has been revoked",
                );
            }
        }
        _ => {}
    }
    let mut forward = state.http.post(state.idp.endpoint()).body(body);
    for (name, value) in headers {
        if !matches!(
            name.as_str(),
            "host" | "content-length" | "connection" | "transfer-encoding"
        ) {
            forward = forward.header(name, value);
        }
    }
    match forward.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/x-amz-json-1.1")
                .to_owned();
            match response.bytes().await {
                Ok(bytes) => reply(status, &content_type, bytes),
                Err(err) => idp_error(503, "ServiceUnavailableException", &err.to_string()),
            }
        }
        Err(err) => idp_error(503, "ServiceUnavailableException", &err.to_string()),
    }
}

/// `RevokeToken {Token, ClientId, ClientSecret}`: the refresh token stops
/// working (refresh through the API or the token endpoint).
async fn revoke(state: &State, request: &Value) -> HttpResponse {
    let (Some(token), Some(client_id)) = (request["Token"].as_str(), request["ClientId"].as_str())
    else {
        return idp_error(
            400,
            "InvalidParameterException",
            "Token and ClientId are required",
        );
    };
    let client = match state.idp.client(client_id).await {
        Ok(client) => client,
        Err(_) => return idp_error(400, "UnauthorizedException", "invalid client"),
    };
    if let Some(secret) = &client.client_secret
        && request["ClientSecret"].as_str() != Some(secret.as_str())
    {
        return idp_error(400, "UnauthorizedException", "Client secret is wrong");
    }
    lock(&state.revoked).insert(token.to_owned());
    reply(200, "application/x-amz-json-1.1", "{}")
}
