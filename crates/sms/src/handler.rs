//! One inbound message: verify, record, acknowledge.
//!
//! The webhook does no more than Twilio's 15 s window safely allows; the
//! answer comes later from the worker, fed by the table's stream.
//!
//! 1. Bounds first, before any AWS call: a body or a field beyond what
//!    Twilio sends is 413 (nothing read, nothing stored).
//! 2. The signature, against the auth token from the cached secret; a bad
//!    one is 403 and nothing is stored. Missing fields are 400.
//! 3. The message is recorded with a conditional write on its `MessageSid`:
//!    Twilio's retries and duplicates end there. `200` empty TwiML.
//! 4. Never a 5xx for a validly signed request: Twilio does not retry one,
//!    so it would mean silence. If the message cannot be recorded (or the
//!    secret cannot be read to check it), the answer is `200` with the
//!    apology as TwiML, which Twilio sends to the texter, and the
//!    `MessageSid` is logged at ERROR. TwiML only acts on requests Twilio
//!    made, so answering an unverified request this way gives nothing away.

use std::future::Future;
use std::time::{Instant, SystemTime};

use api_gateway::{ApiError, GatewayRequest, GatewayResponse};
use http::Method;
use sms_record::{Recorded, epoch_ms};

use crate::{Deps, Error, form, signature, twiml};

/// The secret's key holding the Twilio auth token (the signature key).
pub const TWILIO_AUTH_TOKEN: &str = "twilio_auth_token";

/// Why a request could be neither recorded nor refused.
enum Trouble {
    /// The auth token could not be read: the signature cannot be checked.
    Secret(String),
    /// The message could not be recorded.
    Store { detail: String, permanent: bool },
    /// A call did not finish within the time budget.
    OutOfTime(&'static str),
}

impl Trouble {
    fn code(&self) -> &'static str {
        match self {
            Self::Secret(_) => "secret_unavailable",
            Self::Store {
                permanent: true, ..
            } => "store_rejected",
            Self::Store { .. } => "store_unavailable",
            Self::OutOfTime(_) => "time_budget_exceeded",
        }
    }
}

impl std::fmt::Display for Trouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret(detail) | Self::Store { detail, .. } => f.write_str(detail),
            Self::OutOfTime(what) => write!(f, "{what} outlasted the time budget"),
        }
    }
}

/// Runs `call` within what is left until `end`.
async fn within<T>(
    end: Instant,
    what: &'static str,
    call: impl Future<Output = Result<T, Trouble>>,
) -> Result<T, Trouble> {
    let left = end.saturating_duration_since(Instant::now());
    tokio::time::timeout(left, call)
        .await
        .unwrap_or(Err(Trouble::OutOfTime(what)))
}

/// Handles one request; refusals become JSON error responses.
pub async fn handle(deps: &Deps, request: GatewayRequest) -> Result<GatewayResponse, ApiError> {
    inbound(deps, &request).await.map_err(ApiError::from)
}

async fn inbound(deps: &Deps, request: &GatewayRequest) -> Result<GatewayResponse, Error> {
    let end = Instant::now() + deps.time_budget;
    if request.method != Method::POST {
        return Err(Error::MethodNotAllowed(request.method.to_string()));
    }
    form::check_size(&request.body)?;
    // A body that is not a form cannot carry Twilio's signature: 403 like
    // any other unsigned request.
    let params = form::parse(&request.body).map_err(|err| {
        tracing::warn!(error = %err, "webhook rejected: body is not a form");
        Error::BadSignature
    })?;
    form::check_bounds(&params, deps.max_body_chars).inspect_err(|err| {
        tracing::warn!(code = err.code(), error = %err, "webhook rejected: beyond Twilio's limits");
    })?;
    let claimed_sid = form::first(&params, "MessageSid").unwrap_or_default();

    let token = within(end, "reading the secret", async {
        let secret = deps
            .secrets
            .get()
            .await
            .map_err(|err| Trouble::Secret(err.to_string()))?;
        secret
            .required(TWILIO_AUTH_TOKEN)
            .map(|token| lambda_logging::Redacted(token.to_owned()))
            .map_err(|err| Trouble::Secret(err.to_string()))
    })
    .await;
    let token = match token {
        Ok(token) => token,
        Err(trouble) => {
            tracing::error!(
                message_sid = %claimed_sid,
                signature_checked = false,
                code = trouble.code(),
                error = %trouble,
                "cannot check the signature; answering with the apology, nothing recorded"
            );
            return Ok(apology(deps));
        }
    };
    let signature = request.header("x-twilio-signature").unwrap_or_default();
    if !signature::validate(token.expose(), &deps.public_webhook_url, &params, signature) {
        tracing::warn!(
            signature_present = !signature.is_empty(),
            "webhook rejected: Twilio signature missing or wrong"
        );
        return Err(Error::BadSignature);
    }

    let message = form::message(&params, epoch_ms(SystemTime::now()))?;
    let recorded = within(end, "recording the message", async {
        deps.inbox
            .record(&message, deps.inbound_ttl)
            .await
            .map_err(|err| Trouble::Store {
                permanent: err.is_permanent(),
                detail: err.to_string(),
            })
    })
    .await;
    match recorded {
        Ok(Recorded::New) => {
            tracing::info!(message_sid = %message.message_sid, outcome = "recorded", "message recorded");
            Ok(twiml::response(twiml::EMPTY))
        }
        Ok(Recorded::Duplicate) => {
            tracing::info!(message_sid = %message.message_sid, outcome = "duplicate", "message already recorded");
            Ok(twiml::response(twiml::EMPTY))
        }
        Err(trouble) => {
            tracing::error!(
                message_sid = %message.message_sid,
                signature_checked = true,
                code = trouble.code(),
                error = %trouble,
                "message NOT recorded; answering with the apology"
            );
            Ok(apology(deps))
        }
    }
}

/// `200` with the apology for Twilio to send.
fn apology(deps: &Deps) -> GatewayResponse {
    twiml::response(twiml::messages(std::slice::from_ref(&deps.apology_text)))
}
