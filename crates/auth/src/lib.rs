//! The auth function: the server side of the Cognito hosted-UI sign-in, so
//! that tokens live in HttpOnly cookies and never in JavaScript.
//!
//! Routes (REST API v1 and HTTP API v2 proxy events alike):
//!
//! | route | |
//! | --- | --- |
//! | `GET /auth/login[?return_to=/path]` | 302 to the hosted UI's `/oauth2/authorize` (code flow, PKCE S256, random `state`); the state travels in the signed `auth_state` cookie |
//! | `GET /auth/callback?code&state` | checks the state, exchanges the code, verifies the ID token, creates or refreshes the profile, sets the token cookies, 302 to the app |
//! | `POST /auth/refresh` | `InitiateAuth` `REFRESH_TOKEN_AUTH` with the `refresh_token` cookie (or `{"refresh_token", "username"}`), fresh cookies; 401 and cookies cleared when refused |
//! | `POST /auth/logout` | `RevokeToken`, `GlobalSignOut` (when an access token is present and `GLOBAL_SIGN_OUT`), every cookie cleared, `{"logout_url"}` of the hosted UI |
//!
//! Sign-in errors (login and callback) redirect to `APP_URL` with
//! `auth_error=<code>`, or answer the JSON error with `ERROR_MODE=json`;
//! they are never a 500 for anything the browser or Cognito did, and no
//! token, code or state reaches a URL or a log line. See [`cookies`] for
//! the cookies and [`profile`] for the profile rule.

pub mod cognito;
pub mod config;
pub mod cookies;
mod error;
pub mod oauth;
pub mod profile;
pub mod state;

pub use config::{Config, ErrorMode};
pub use error::{Error, RETRY_AFTER_SECS};

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use api_gateway::{ApiError, GatewayRequest, GatewayResponse};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cognito_jwt::Verifier;
use http::Method;
use lambda_logging::Redacted;
use secret_cache::SecretCache;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::cognito::CallError;
use crate::oauth::ExchangeError;
use crate::profile::TokenProfile;
use crate::state::{LoginState, Refusal, StateSealer};

/// Secret key: base64 of the state cookie's HMAC key (at least 32 bytes).
pub const SECRET_COOKIE_KEY: &str = "cookie_key";
/// Secret key: the app client's secret, when it has one.
pub const SECRET_CLIENT_SECRET: &str = "client_secret";
/// Largest JSON body accepted by refresh and logout.
pub const MAX_BODY_BYTES: usize = 8 * 1024;
/// Longest `return_to` accepted (it travels in the state cookie).
pub const MAX_RETURN_TO: usize = 512;
/// Longest refresh token passed on to Cognito (theirs are about 1.8 KB).
const MAX_REFRESH_TOKEN: usize = 8 * 1024;

/// What the handler needs, built once per cold start.
#[derive(Debug)]
pub struct Deps {
    /// The configuration.
    pub config: Config,
    /// Verifies ID tokens (JWKS cached across invocations).
    pub verifier: Verifier,
    /// The secret with `cookie_key` and `client_secret`, cached with a TTL.
    pub secrets: SecretCache,
    /// Cognito Identity Provider (refresh, revoke, global sign-out).
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    /// DynamoDB (profiles).
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// HTTP client for the token endpoint and the JWKS.
    pub http: reqwest::Client,
}

impl Deps {
    /// Builds the clients from `aws` (endpoint overrides included).
    pub fn new(config: Config, aws: &aws_env::AwsEnv) -> Result<Self, Error> {
        // The process's one HTTPS client (the AWS clients send through it
        // too): the TLS root certificates load once at start-up. It follows
        // no redirects; every call sets its own timeout (the token endpoint
        // `oauth::TOKEN_TIMEOUT`, the JWKS its fetch timeout).
        let http = aws.http().clone();
        let verifier = Verifier::with_http_client(config.jwt.clone(), http.clone());
        Ok(Self {
            secrets: SecretCache::new(
                aws.secretsmanager_client(),
                config.secret_id.clone(),
                config.secret_ttl,
            ),
            verifier,
            cognito: aws.cognito_idp_client(),
            dynamodb: aws.dynamodb_client(),
            http,
            config,
        })
    }

    /// The keys of the secret, read through the cache.
    async fn keys(&self) -> Result<Keys, Error> {
        let secret = self.secrets.get().await?;
        let raw = secret.required(SECRET_COOKIE_KEY)?;
        // Neither the value nor decoding details appear in errors.
        let key = STANDARD
            .decode(raw.trim())
            .map_err(|_| Error::CookieKey("is not valid base64".into()))?;
        let sealer = StateSealer::new(&key).ok_or_else(|| {
            Error::CookieKey(format!(
                "decodes to {} bytes; at least {} random bytes are required",
                key.len(),
                state::MIN_KEY_BYTES
            ))
        })?;
        let client_secret = secret
            .optional(SECRET_CLIENT_SECRET)?
            .map(|value| Redacted(value.to_owned()));
        Ok(Keys {
            sealer,
            client_secret,
        })
    }
}

struct Keys {
    sealer: StateSealer,
    client_secret: Option<Redacted<String>>,
}

impl Keys {
    fn client_secret(&self) -> Option<&str> {
        self.client_secret.as_ref().map(|s| s.expose().as_str())
    }
}

/// What each invocation keeps back from Lambda's deadline to answer: the
/// error redirect or JSON must leave before Lambda kills the invocation,
/// or API Gateway answers 502 in its place.
pub const DEADLINE_RESERVE: Duration = Duration::from_millis(500);

/// Handles one raw API Gateway event (parsing, JSON errors and CORS
/// through `api_gateway::handle`) within `budget` (see
/// `function_init::time_budget`).
pub async fn handle_event(deps: &Deps, event: Value, budget: Duration) -> Value {
    api_gateway::handle(event, &deps.config.cors, |request| {
        handle(deps, request, budget)
    })
    .await
}

/// Handles one request. Every route gets `budget`: the secret, the token
/// endpoint, the JWKS, DynamoDB and Cognito each have timeouts of their
/// own, but together they can outlast the Lambda timeout; when the budget
/// runs out the route answers what a dependency failure answers
/// (`temporarily_unavailable`), and logout still signs out locally.
pub async fn handle(
    deps: &Deps,
    request: GatewayRequest,
    budget: Duration,
) -> Result<GatewayResponse, ApiError> {
    let path = request.path.trim_end_matches('/');
    let method = request.method.clone();
    let within = |route: &'static str| {
        move |_: tokio::time::error::Elapsed| {
            let budget_ms = u64::try_from(budget.as_millis()).unwrap_or(u64::MAX);
            tracing::error!(route, budget_ms, "time budget exhausted");
            Error::Unavailable(format!(
                "{route}: the time budget of {budget_ms} ms ran out"
            ))
        }
    };
    let response = match (path, method) {
        ("/auth/login", Method::GET) => {
            match tokio::time::timeout(budget, login(deps, &request)).await {
                Ok(response) => response,
                Err(elapsed) => browser_error(deps, within("login")(elapsed)),
            }
        }
        ("/auth/callback", Method::GET) => {
            match tokio::time::timeout(budget, callback(deps, &request)).await {
                Ok(response) => response,
                Err(elapsed) => browser_error(deps, within("callback")(elapsed)),
            }
        }
        ("/auth/refresh", Method::POST) => {
            match tokio::time::timeout(budget, refresh(deps, &request)).await {
                Ok(response) => response?,
                Err(elapsed) => return Err(ApiError::from(within("refresh")(elapsed))),
            }
        }
        ("/auth/logout", Method::POST) => logout(deps, &request, budget).await?,
        ("/auth/login" | "/auth/callback", method) => {
            return Err(ApiError::method_not_allowed(method.as_str(), &["GET"]));
        }
        ("/auth/refresh" | "/auth/logout", method) => {
            return Err(ApiError::method_not_allowed(method.as_str(), &["POST"]));
        }
        _ => {
            return Err(ApiError::not_found("route_not_found", "no such auth route"));
        }
    };
    // Every answer either sets or clears credentials: no cache may keep it.
    Ok(response.with_header("cache-control", "no-store"))
}

// ---------------------------------------------------------------- login

async fn login(deps: &Deps, request: &GatewayRequest) -> GatewayResponse {
    match start_login(deps, request).await {
        Ok(response) => response,
        Err(err) => browser_error(deps, err),
    }
}

async fn start_login(deps: &Deps, request: &GatewayRequest) -> Result<GatewayResponse, Error> {
    let return_to = request
        .query_first("return_to")
        .map(valid_return_to)
        .transpose()?;
    let keys = deps.keys().await?;
    let login = LoginState::generate(return_to, now_secs())?;
    let config = &deps.config;
    let location = config.hosted_ui.authorize_url(
        &config.client_id,
        &config.redirect_uri,
        &config.scopes,
        &login.state,
        &state::code_challenge(&login.verifier),
    );
    tracing::info!(return_to = login.return_to.is_some(), "sign-in started");
    Ok(GatewayResponse::redirect(&location)
        .with_cookie(config.cookies.state(&keys.sealer.seal(&login)?)))
}

/// A path on the app: one leading `/`, printable ASCII, no backslash (some
/// browsers read `/\host` as `//host`).
fn valid_return_to(raw: &str) -> Result<String, Error> {
    let valid = raw.starts_with('/')
        && !raw.starts_with("//")
        && raw.len() <= MAX_RETURN_TO
        && raw.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(Error::InvalidReturnTo)
    }
}

// ------------------------------------------------------------- callback

async fn callback(deps: &Deps, request: &GatewayRequest) -> GatewayResponse {
    match finish_login(deps, request).await {
        Ok(response) => response,
        Err(err) => browser_error(deps, err),
    }
}

/// OAuth error codes (RFC 6749 4.1.2.1) passed on to the app as they are;
/// anything else becomes `provider_error`, so no free text is reflected.
const PROVIDER_ERRORS: &[&str] = &[
    "access_denied",
    "invalid_request",
    "unauthorized_client",
    "unsupported_response_type",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
];

async fn finish_login(deps: &Deps, request: &GatewayRequest) -> Result<GatewayResponse, Error> {
    if let Some(error) = request.query_first("error") {
        let code = PROVIDER_ERRORS
            .iter()
            .find(|known| **known == error)
            .unwrap_or(&"provider_error");
        return Err(Error::Provider((*code).to_owned()));
    }
    let non_empty = |name: &str| request.query_first(name).filter(|v| !v.is_empty());
    let code = non_empty("code").ok_or(Error::MissingCode)?;
    let returned_state = non_empty("state").ok_or(Error::MissingState)?;
    let cookie = request
        .cookie(cookies::STATE)
        .filter(|v| !v.is_empty())
        .ok_or(Error::MissingStateCookie)?;
    let keys = deps.keys().await?;
    let login = keys
        .sealer
        .open(cookie, now_secs())
        .map_err(|refusal| match refusal {
            Refusal::Invalid => Error::InvalidState,
            Refusal::Expired => Error::StateExpired,
        })?;
    if !state::constant_time_eq(returned_state, &login.state) {
        return Err(Error::StateMismatch);
    }
    let config = &deps.config;
    let tokens = oauth::exchange_code(
        &deps.http,
        &config.hosted_ui.token_url(),
        &config.client_id,
        keys.client_secret(),
        code,
        &config.redirect_uri,
        &login.verifier,
    )
    .await
    .map_err(|err| match err {
        ExchangeError::Rejected { status, error } => Error::TokenExchange { status, error },
        ExchangeError::Unavailable(why) | ExchangeError::Invalid(why) => {
            Error::Unavailable(format!("token endpoint: {why}"))
        }
    })?;
    let claims = deps
        .verifier
        .verify(tokens.id_token.expose())
        .await
        .map_err(|err| match err {
            cognito_jwt::Error::NoKeys(_)
            | cognito_jwt::Error::JwksFetch(_)
            | cognito_jwt::Error::HttpClient(_) => Error::Unavailable(format!("JWKS: {err}")),
            other => Error::InvalidIdToken(other.to_string()),
        })?;
    let token_profile = profile_from(&claims);
    let outcome = profile::upsert(&deps.dynamodb, &config.users_table, &token_profile).await?;
    tracing::info!(user_id = %claims.sub, profile = ?outcome, "signed in");

    let location = match &login.return_to {
        Some(path) => format!("{}{path}", config.app_origin()),
        None => config.app_url.clone(),
    };
    let jar = &config.cookies;
    let mut response = GatewayResponse::redirect(&location)
        .with_cookie(jar.access_token(tokens.access_token.expose(), tokens.expires_in))
        .with_cookie(jar.id_token(tokens.id_token.expose(), tokens.expires_in));
    if let Some(refresh_token) = &tokens.refresh_token {
        response = response
            .with_cookie(jar.refresh_token(refresh_token.expose()))
            .with_cookie(jar.username(&claims.username));
    }
    Ok(response.with_cookie(jar.clear_state()))
}

/// What the ID token says about the profile, made to obey the profile
/// rules the users function enforces (`user_record::rules`): the name
/// cleaned of control characters and cut to length, an e-mail address that
/// breaks the rules left out. The identity provider's data is not trusted
/// more than a user's own input.
fn profile_from(claims: &cognito_jwt::Claims) -> TokenProfile {
    let email = claims
        .email
        .as_deref()
        .and_then(|email| user_record::rules::email(email).ok());
    if claims.email.is_some() && email.is_none() {
        tracing::info!(user_id = %claims.sub, "ID token email breaks the profile rules; not stored");
    }
    TokenProfile {
        user_id: claims.sub.clone(),
        email,
        name: claims
            .name
            .as_deref()
            .and_then(user_record::rules::name_from_provider),
    }
}

/// A sign-in error as the browser gets it: redirect with `auth_error`, or
/// the JSON error; the state cookie is cleared either way.
fn browser_error(deps: &Deps, err: Error) -> GatewayResponse {
    let code = err.code().to_owned();
    if err.status().is_server_error() {
        tracing::error!(code, error = %err, "sign-in failed");
    } else {
        tracing::info!(code, error = %err, "sign-in refused");
    }
    let response = match deps.config.error_mode {
        ErrorMode::Redirect => {
            let app = &deps.config.app_url;
            let separator = if app.contains('?') { '&' } else { '?' };
            let query = oauth::form(&[("auth_error", &code)]);
            GatewayResponse::redirect(&format!("{app}{separator}{query}"))
        }
        ErrorMode::Json => GatewayResponse::from(ApiError::from(err)),
    };
    response.with_cookie(deps.config.cookies.clear_state())
}

// -------------------------------------------------------------- refresh

/// Optional JSON body of refresh and logout, for clients without cookies.
/// Not `Debug`: it holds a refresh token.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    refresh_token: Option<String>,
    username: Option<String>,
}

fn token_body(request: &GatewayRequest) -> Result<TokenBody, ApiError> {
    if request.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(TokenBody::default());
    }
    request.json_body(MAX_BODY_BYTES)
}

async fn refresh(deps: &Deps, request: &GatewayRequest) -> Result<GatewayResponse, ApiError> {
    check_origin(deps, request)?;
    if sends_credential_cookies(request) {
        check_cookie_request(deps, request)?;
    }
    let body = token_body(request)?;
    let token = body
        .refresh_token
        .or_else(|| request.cookie(cookies::REFRESH_TOKEN).map(str::to_owned))
        .filter(|t| !t.is_empty());
    let Some(token) = token.map(Redacted) else {
        return Ok(refused(deps, Error::MissingRefreshToken));
    };
    if token.expose().len() > MAX_REFRESH_TOKEN {
        return Ok(refused(deps, Error::RefreshRejected("oversized".into())));
    }
    let keys = deps.keys().await.map_err(fail)?;
    let username = body.username.filter(|u| !u.is_empty()).or_else(|| {
        request
            .cookie(cookies::USERNAME)
            .and_then(cookies::decode_username)
    });
    let secret = match (keys.client_secret(), username.as_deref()) {
        (None, _) => None,
        (Some(secret), Some(username)) => Some((secret, username)),
        (Some(_), None) => return Ok(refused(deps, Error::MissingUsername)),
    };
    let config = &deps.config;
    match cognito::refresh(&deps.cognito, &config.client_id, token.expose(), secret).await {
        Ok(fresh) => {
            tracing::info!(rotated = fresh.refresh_token.is_some(), "tokens refreshed");
            let jar = &config.cookies;
            let mut response =
                GatewayResponse::json(200, &json!({ "expires_in": fresh.expires_in }))?
                    .with_cookie(jar.access_token(fresh.access_token.expose(), fresh.expires_in))
                    .with_cookie(jar.id_token(fresh.id_token.expose(), fresh.expires_in));
            if let Some(rotated) = &fresh.refresh_token {
                response = response.with_cookie(jar.refresh_token(rotated.expose()));
            }
            Ok(response)
        }
        Err(CallError::Rejected(code)) => Ok(refused(deps, Error::RefreshRejected(code))),
        Err(CallError::Unavailable(code)) => Err(fail(Error::Unavailable(format!(
            "Cognito InitiateAuth: {code}"
        )))),
        Err(CallError::Other(code)) => Err(fail(Error::Internal(format!(
            "Cognito InitiateAuth: {code}"
        )))),
    }
}

/// 401 with every token cookie cleared: the browser's session is over.
fn refused(deps: &Deps, err: Error) -> GatewayResponse {
    tracing::info!(code = err.code(), error = %err, "refresh refused");
    deps.config.cookies.clear_tokens().into_iter().fold(
        GatewayResponse::from(ApiError::from(err)),
        |response, cookie| response.with_cookie(cookie),
    )
}

/// Logs `err` with its detail and turns it into the client's error.
fn fail(err: Error) -> ApiError {
    if err.status().is_server_error() {
        tracing::error!(code = err.code(), error = %err, "request failed");
    }
    ApiError::from(err)
}

/// The origins a browser may post to auth from: the app's, the API's
/// own, and the CORS allow-list (never `*`).
fn allowed_origin(deps: &Deps, origin: &str) -> bool {
    let config = &deps.config;
    origin == config.app_origin()
        || origin == config.api_origin()
        || config.cors.allows_origin_explicitly(origin)
}

/// Any POST carrying an `Origin` from elsewhere is refused (cross-site
/// request forgery of logout or refresh).
fn check_origin(deps: &Deps, request: &GatewayRequest) -> Result<(), ApiError> {
    match request.header("origin") {
        Some(origin) if !allowed_origin(deps, origin) => {
            Err(ApiError::from(Error::OriginNotAllowed))
        }
        _ => Ok(()),
    }
}

/// Whether the browser sent a token cookie (refresh or access), which makes
/// the request forgeable cross-site.
fn sends_credential_cookies(request: &GatewayRequest) -> bool {
    [cookies::REFRESH_TOKEN, cookies::ACCESS_TOKEN]
        .iter()
        .any(|name| request.cookie(name).is_some_and(|value| !value.is_empty()))
}

/// A POST whose credential is a cookie must pass the shared CSRF checks:
/// an allowed `Origin` present, and a JSON body if any.
fn check_cookie_request(deps: &Deps, request: &GatewayRequest) -> Result<(), ApiError> {
    api_gateway::csrf::check(request, |origin| allowed_origin(deps, origin))
}

// --------------------------------------------------------------- logout

async fn logout(
    deps: &Deps,
    request: &GatewayRequest,
    budget: Duration,
) -> Result<GatewayResponse, ApiError> {
    let started = tokio::time::Instant::now();
    check_origin(deps, request)?;
    if sends_credential_cookies(request) {
        check_cookie_request(deps, request)?;
    }
    // A sign-out is never refused over its body: an unreadable one is
    // ignored and the cookies' tokens are revoked and cleared all the same.
    let body = token_body(request).unwrap_or_else(|err| {
        // Only the code: the parser's message may quote the body.
        tracing::info!(code = err.code(), "logout body ignored");
        TokenBody::default()
    });
    let config = &deps.config;
    let refresh_token = body
        .refresh_token
        .or_else(|| request.cookie(cookies::REFRESH_TOKEN).map(str::to_owned))
        .filter(|t| !t.is_empty() && t.len() <= MAX_REFRESH_TOKEN)
        .map(Redacted);
    let access_token = request
        .cookie(cookies::ACCESS_TOKEN)
        .or_else(|| {
            request
                .header("authorization")
                .and_then(|h| h.strip_prefix("Bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= cognito_jwt::MAX_TOKEN_BYTES)
        .map(|t| Redacted(t.to_owned()));

    // Local sign-out always succeeds; what Cognito did is reported.
    // GlobalSignOut goes first: revoking the refresh token also invalidates
    // the access tokens issued from it, after which Cognito would refuse
    // the sign-out with NotAuthorized.
    // Cognito gets what is left of the budget; when it runs out the
    // sign-out is still local (cookies cleared), reported as not global.
    let deadline = started + budget;
    let mut signed_out = false;
    if config.global_sign_out
        && let Some(token) = &access_token
    {
        let call = cognito::global_sign_out(&deps.cognito, token.expose());
        match tokio::time::timeout_at(deadline, call).await {
            Ok(Ok(())) => signed_out = true,
            Ok(Err(err)) => tracing::info!(code = err.code(), "GlobalSignOut failed"),
            Err(_) => tracing::warn!("GlobalSignOut cut off by the time budget"),
        }
    }
    let mut revoked = false;
    if let Some(token) = &refresh_token {
        let revoke = async {
            let keys = deps.keys().await?;
            cognito::revoke(
                &deps.cognito,
                &config.client_id,
                keys.client_secret(),
                token.expose(),
            )
            .await
            .map_err(|err| Error::Unavailable(format!("RevokeToken: {}", err.code())))
        };
        match tokio::time::timeout_at(deadline, revoke).await {
            Ok(Ok(())) => revoked = true,
            Ok(Err(err)) => tracing::warn!(code = err.code(), error = %err, "RevokeToken failed"),
            Err(_) => tracing::warn!("RevokeToken cut off by the time budget"),
        }
    }
    tracing::info!(revoked, signed_out, "signed out");
    let logout_url = config
        .hosted_ui
        .logout_url(&config.client_id, &config.logout_uri);
    let response = GatewayResponse::json(
        200,
        &json!({
            "logout_url": logout_url,
            "revoked": revoked,
            "signed_out_globally": signed_out,
        }),
    )?;
    Ok(config
        .cookies
        .clear_all()
        .into_iter()
        .fold(response, |response, cookie| response.with_cookie(cookie)))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_must_be_a_path_on_the_app() {
        for good in ["/", "/settings", "/a/b?tab=2&x=%20", "/x#frag"] {
            assert_eq!(valid_return_to(good).unwrap(), good);
        }
        for bad in [
            "",
            "settings",
            "//evil.example.com",
            "/\\evil.example.com",
            "https://evil.example.com",
            "/a b",
            "/a\tb",
            "/\u{e9}",
            &format!("/{}", "a".repeat(MAX_RETURN_TO)),
        ] {
            assert!(valid_return_to(bad).is_err(), "{bad:?}");
        }
    }
}
