//! API Gateway Lambda authorizer for Cognito user pool tokens.
//!
//! Accepts REST API `TOKEN` and `REQUEST` authorizer events and HTTP API
//! payload 2.0 events (detected from the event, or fixed by
//! `AUTHORIZER_PAYLOAD`). The token comes from exactly one credential,
//! `CREDENTIAL_SOURCE`: the access-token cookie the auth function sets
//! (`cookie`, the default) or `Authorization: Bearer <jwt>`
//! (`authorization`). The other one is never read: API Gateway caches the
//! answer on the identity source alone, so reading a second credential
//! would let callers sharing a cookie share an identity.
//!
//! A verified token gets an `Allow` policy for the whole stage (REST) or
//! `isAuthorized: true` (HTTP API), with the caller's claims as context.
//! Anything else is denied, the reason logged at info level without the
//! token: REST gets the `Unauthorized` error (API Gateway's 401), HTTP API
//! `isAuthorized: false`, and an event of unknown shape the error too.

mod config;
mod event;
mod response;

use serde::Serialize;
use serde_json::Value;

use cognito_jwt::Verifier;
pub use config::{Config, CredentialSource, DEFAULT_ACCESS_TOKEN_COOKIE, PayloadFormat};
use event::Event;
pub use response::{PolicyResponse, SimpleResponse};

/// What the handler needs across invocations, built once per cold start.
#[derive(Debug)]
pub struct State {
    /// The token verifier with its JWKS cache.
    pub verifier: Verifier,
    /// The one credential read (`CREDENTIAL_SOURCE`).
    pub credential_source: CredentialSource,
    /// Name of the cookie holding the access token.
    pub access_token_cookie: String,
    /// Which payloads are accepted.
    pub payload: PayloadFormat,
}

impl State {
    /// The state for `config`; the keys are fetched later (or by
    /// [`Verifier::prefetch`]).
    pub fn new(config: Config) -> Result<Self, AuthorizerError> {
        Ok(Self {
            verifier: Verifier::new(config.jwt)?,
            credential_source: config.credential_source,
            access_token_cookie: config.access_token_cookie,
            payload: config.payload,
        })
    }
}

/// The authorizer's errors.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizerError {
    /// The request is denied. REST API turns exactly this message into a
    /// 401, so it must stay `Unauthorized`.
    #[error("Unauthorized")]
    Unauthorized,
    /// The verifier could not be built (init only).
    #[error("cannot build the verifier: {0}")]
    Verifier(#[from] cognito_jwt::Error),
}

impl From<AuthorizerError> for lambda_runtime::Diagnostic {
    fn from(err: AuthorizerError) -> Self {
        let error_type = match err {
            AuthorizerError::Unauthorized => "Unauthorized",
            AuthorizerError::Verifier(_) => "Runtime.InitError",
        };
        Self {
            error_type: error_type.to_owned(),
            error_message: err.to_string(),
        }
    }
}

/// An allowing answer, in the format of the event it answers.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum AuthorizerResponse {
    /// REST API (TOKEN or REQUEST): IAM policy.
    Policy(PolicyResponse),
    /// HTTP API payload 2.0: simple response.
    Simple(SimpleResponse),
}

/// Why a request was denied; logged, never sent to the caller.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Deny {
    #[error("event is not a known authorizer payload")]
    UnknownEvent,
    #[error("event is not a {0} authorizer payload as configured")]
    PayloadNotAccepted(PayloadFormat),
    #[error("event does not parse: {0}")]
    MalformedEvent(String),
    #[error(
        "no token in the configured credential ({0}); CREDENTIAL_SOURCE names the only one read"
    )]
    MissingToken(CredentialSource),
    #[error("the access-token cookie is sent twice")]
    RepeatedCookie,
    #[error("Authorization is not a Bearer credential")]
    NotBearer,
    #[error("Bearer credential is not a single token")]
    MalformedBearer,
    #[error("Authorization header is repeated")]
    RepeatedHeader,
    #[error("methodArn is not an execute-api ARN")]
    BadMethodArn,
    #[error("{0}")]
    Token(#[from] cognito_jwt::Error),
}

impl Deny {
    fn reason(&self) -> &'static str {
        match self {
            Self::UnknownEvent => "unknown_event",
            Self::PayloadNotAccepted(_) => "payload_not_accepted",
            Self::MalformedEvent(_) => "malformed_event",
            Self::MissingToken(_) => "missing_token",
            Self::RepeatedCookie => "repeated_cookie",
            Self::NotBearer => "not_bearer",
            Self::MalformedBearer => "malformed_bearer",
            Self::RepeatedHeader => "repeated_header",
            Self::BadMethodArn => "bad_method_arn",
            Self::Token(err) => err.reason(),
        }
    }
}

/// Decides one authorizer event.
pub async fn handle(state: &State, raw: Value) -> Result<AuthorizerResponse, AuthorizerError> {
    let event = match event::classify(raw, state.credential_source, &state.access_token_cookie) {
        Ok(event) => event,
        Err(deny) => return Err(denied(None, &deny)),
    };
    let kind = event.kind();
    if state.payload != PayloadFormat::Auto && state.payload != kind {
        return Err(denied(Some(kind), &Deny::PayloadNotAccepted(state.payload)));
    }
    match event {
        Event::RestToken { token, method_arn } | Event::RestRequest { token, method_arn } => {
            let decision = async {
                let claims = state.verifier.verify(token?.expose()).await?;
                PolicyResponse::allow(
                    &claims,
                    state.credential_source,
                    method_arn.as_deref().unwrap_or_default(),
                )
            };
            match decision.await {
                Ok(policy) => {
                    allowed(kind);
                    Ok(AuthorizerResponse::Policy(policy))
                }
                Err(deny) => Err(denied(Some(kind), &deny)),
            }
        }
        Event::Http { token } => {
            let decision = async { Ok::<_, Deny>(state.verifier.verify(token?.expose()).await?) };
            match decision.await {
                Ok(claims) => {
                    allowed(kind);
                    Ok(AuthorizerResponse::Simple(SimpleResponse::allow(
                        &claims,
                        state.credential_source,
                    )))
                }
                Err(deny) => {
                    denied(Some(kind), &deny);
                    Ok(AuthorizerResponse::Simple(SimpleResponse::deny()))
                }
            }
        }
    }
}

fn allowed(kind: PayloadFormat) {
    tracing::info!(payload = %kind, decision = "allow", "request allowed");
}

/// Logs the denial and gives the error REST expects.
fn denied(kind: Option<PayloadFormat>, deny: &Deny) -> AuthorizerError {
    let payload = kind.map_or_else(|| "unknown".to_owned(), |kind| kind.to_string());
    tracing::info!(
        payload = %payload,
        decision = "deny",
        reason = deny.reason(),
        detail = %deny,
        "request denied"
    );
    AuthorizerError::Unauthorized
}

#[cfg(test)]
mod tests;
