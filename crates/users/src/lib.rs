//! The users function: user profiles on DynamoDB, behind the authorizer.
//!
//! Routes (REST API v1 and HTTP API v2 proxy events alike):
//!
//! | route | who | |
//! | --- | --- | --- |
//! | `GET /users/me` | any user | own profile; 404 `profile_not_found` before one exists |
//! | `PATCH /users/me` | any user | name, phone, sms_opt_in |
//! | `GET /users` | admin | `limit` 1..=100 (25), opaque signed `next` cursor |
//! | `POST /users` | admin | 201; 409 `user_exists` |
//! | `GET /users/{id}` | admin or the user | |
//! | `PUT`/`PATCH /users/{id}` | admin | |
//! | `DELETE /users/{id}` | admin | 204; releases the phone |
//! | `POST /users/me/phone-verification` | any user | `{"phone"}`: texts a code to the number; 202 |
//! | `POST /users/me/phone-verification/confirm` | any user | `{"code"}`: proves the number and sets it as the profile's phone |
//!
//! A phone is claimed only when proven ([`phone_proof`]): a user's own
//! PATCH may keep or remove the phone but not set a new one, and may opt in
//! to SMS only for a proven number; an administrator may set a number
//! nobody proved only explicitly, with `"vouch_for_phone": true` (recorded
//! as `phone_verified_by: "admin:<sub>"`). Writes authenticated by a cookie
//! pass the CSRF checks of `api_gateway::csrf` (an allowed `Origin`, a JSON
//! body); bearer-authenticated clients are not CSRF-prone.
//!
//! Updates carry the version they read (`If-Match: "3"` or `"version": 3`);
//! a stale one gets 412 `version_mismatch` and changes nothing, a missing
//! one 428 `version_required`. Responses carry the profile's `ETag`.
//! Phone numbers are unique across users (see [`store`]).
//!
//! Configuration ([`Config`]): `USERS_TABLE`, `PHONE_CLAIMS_TABLE`,
//! `CURSOR_SECRET`, `ADMIN_GROUP` (default `admin`) and the shared `CORS_*`
//! variables. The cursor key is a plain (KMS-encrypted at rest) environment
//! variable rather than a Secrets Manager read: it only authenticates
//! pagination positions, a cold start stays one network call lighter, and
//! rotating it merely makes outstanding cursors fail with 400
//! `invalid_cursor`, after which clients list from the start.

pub mod config;
pub mod cursor;
mod error;
pub mod input;
pub mod phone_proof;
pub mod profile;
pub mod routes;
pub mod store;
pub mod validate;

pub use config::Config;
pub use error::{Error, RETRY_AFTER_SECS};

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use api_gateway::{ApiError, CorsConfig, GatewayRequest, GatewayResponse, Identity};
use secret_cache::SecretCache;
use serde_json::{Value, json};
use twilio_messages::MessagesClient;

use crate::config::PhoneProofConfig;
use crate::cursor::CursorSigner;
use crate::input::UpdateKind;
use crate::phone_proof::{Challenge, CodeSigner, MAX_ATTEMPTS, RESEND_AFTER};
use crate::profile::{Profile, now_rfc3339};
use crate::routes::Route;
use crate::store::Store;

/// What each invocation keeps back from Lambda's deadline to answer.
pub const DEADLINE_RESERVE: Duration = Duration::from_millis(500);
/// The longest a Twilio send may take.
const SMS_TIMEOUT: Duration = Duration::from_secs(5);

/// What the handler needs, built once per cold start.
#[derive(Debug, Clone)]
pub struct Deps {
    /// The profile store.
    pub store: Store,
    /// Signs and checks list cursors.
    pub cursors: CursorSigner,
    /// Cognito group of administrators.
    pub admin_group: String,
    /// CORS policy applied to every response.
    pub cors: CorsConfig,
    /// Seals phone verification codes.
    pub phone_codes: CodeSigner,
    /// Texting codes, when configured.
    pub phone_proof: Option<Arc<PhoneProof>>,
}

/// What texting a verification code needs.
#[derive(Debug)]
pub struct PhoneProof {
    /// Sender, code lifetime, secret id.
    pub config: PhoneProofConfig,
    /// The Twilio credentials, cached.
    pub secrets: SecretCache,
    /// The Messages API client.
    pub twilio: MessagesClient,
}

impl Deps {
    /// Dependencies from the configuration, the AWS clients and the
    /// process's HTTPS client (`aws_env::AwsEnv::http`, the one the AWS
    /// clients send through), which Twilio is called with when phone proofs
    /// are configured (each send bounded by `SMS_TIMEOUT` and the
    /// deadline).
    pub fn new(
        config: Config,
        dynamodb: aws_sdk_dynamodb::Client,
        secretsmanager: aws_sdk_secretsmanager::Client,
        http: reqwest::Client,
    ) -> Result<Self, Error> {
        let phone_proof = match config.phone_proof {
            Some(proof) => Some(Arc::new(PhoneProof {
                secrets: SecretCache::new(
                    secretsmanager,
                    proof.secret_id.clone(),
                    proof.secret_ttl,
                ),
                twilio: MessagesClient::new(http, proof.base_url.clone()),
                config: proof,
            })),
            None => None,
        };
        Ok(Self {
            store: Store::new(dynamodb, config.users_table, config.phone_claims_table),
            cursors: config.cursors,
            admin_group: config.admin_group,
            cors: config.cors,
            phone_codes: config.phone_codes,
            phone_proof,
        })
    }
}

/// Handles one raw API Gateway event: parsing, errors as JSON and CORS are
/// `api_gateway::handle`'s job; the rest is [`handle`], within `budget`
/// (see `function_init::time_budget`).
pub async fn handle_event(deps: &Deps, event: Value, budget: Duration) -> Value {
    api_gateway::handle(event, &deps.cors, |request| handle(deps, request, budget)).await
}

/// Handles one request; when `budget` runs out (a slow DynamoDB or
/// Twilio) it answers 503 instead of letting Lambda time out.
pub async fn handle(
    deps: &Deps,
    request: GatewayRequest,
    budget: Duration,
) -> Result<GatewayResponse, ApiError> {
    if api_gateway::csrf::authenticated_by_cookie(&request) {
        api_gateway::csrf::check_against_cors(&request, &deps.cors)?;
    }
    match tokio::time::timeout(budget, dispatch(deps, &request, budget)).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(_) => {
            let budget_ms = u64::try_from(budget.as_millis()).unwrap_or(u64::MAX);
            Err(ApiError::from(Error::Unavailable(format!(
                "the time budget of {budget_ms} ms ran out"
            ))))
        }
    }
}

async fn dispatch(
    deps: &Deps,
    request: &GatewayRequest,
    budget: Duration,
) -> Result<GatewayResponse, Error> {
    let started = tokio::time::Instant::now();
    // Defence in depth: API Gateway should never invoke us without an
    // authorizer identity, but if it does, nobody is trusted.
    let caller = request.identity.as_ref().ok_or(Error::Unauthenticated)?;
    let route = Route::parse(&request.method, &request.path)?;
    let is_admin = caller.is_in_group(&deps.admin_group);
    if route.admin_only() && !is_admin {
        return Err(Error::Forbidden(
            "this operation is for administrators".into(),
        ));
    }
    match route {
        Route::GetMe => {
            let profile = deps
                .store
                .get(&caller.sub)
                .await?
                .ok_or(Error::ProfileNotFound)?;
            profile_response(200, &profile)
        }
        Route::PatchMe => update(deps, request, caller, UpdateKind::OwnPatch, None).await,
        Route::StartPhoneVerification => {
            let deadline = started + budget;
            start_verification(deps, request, &caller.sub, deadline).await
        }
        Route::ConfirmPhoneVerification => confirm_verification(deps, request, &caller.sub).await,
        Route::Get(id) => {
            if id != caller.sub && !is_admin {
                return Err(Error::Forbidden(
                    "you may only read your own profile".into(),
                ));
            }
            let profile = deps.store.get(&id).await?.ok_or(Error::UserNotFound(id))?;
            profile_response(200, &profile)
        }
        Route::List => list(deps, request).await,
        Route::Create => create(deps, request, caller).await,
        Route::Put(id) => update(deps, request, caller, UpdateKind::AdminPut, Some(&id)).await,
        Route::Patch(id) => update(deps, request, caller, UpdateKind::AdminPatch, Some(&id)).await,
        Route::Delete(id) => delete(deps, request, &id).await,
    }
}

/// `user_id`: the profile an administrator updates; `None` for the
/// caller's own.
async fn update(
    deps: &Deps,
    request: &GatewayRequest,
    caller: &Identity,
    kind: UpdateKind,
    user_id: Option<&str>,
) -> Result<GatewayResponse, Error> {
    let own = user_id.is_none();
    let user_id = user_id.unwrap_or(&caller.sub);
    let not_found = || {
        if own {
            Error::ProfileNotFound
        } else {
            Error::UserNotFound(user_id.to_owned())
        }
    };
    let (changes, body_version) = input::update(&request.body, kind)?;
    let expected = input::expected_version(request.header("if-match"), body_version)?;
    let current = deps.store.get(user_id).await?.ok_or_else(not_found)?;
    if current.version != expected {
        return Err(Error::VersionMismatch(expected));
    }
    let next = changes.apply(&current, &now_rfc3339()?, &voucher(caller));
    check_phone_proof(&current, &next, own, changes.vouch_for_phone)?;
    match deps.store.replace(&current, &next).await {
        Ok(()) => {}
        // Changed or deleted between our read and our write.
        Err(Error::VersionMismatch(_)) => {
            return Err(match deps.store.get(user_id).await? {
                Some(_) => Error::VersionMismatch(expected),
                None => not_found(),
            });
        }
        Err(err) => return Err(err),
    }
    tracing::info!(
        user_id,
        version = next.version,
        phone_changed = next.phone != current.phone,
        "profile updated"
    );
    profile_response(200, &next)
}

async fn create(
    deps: &Deps,
    request: &GatewayRequest,
    caller: &Identity,
) -> Result<GatewayResponse, Error> {
    let new = input::create(&request.body)?;
    let vouched = new.vouch_for_phone;
    let profile = new.into_profile(&now_rfc3339()?, &voucher(caller));
    check_new_profile_phone(&profile, vouched)?;
    deps.store.create(&profile).await?;
    tracing::info!(user_id = %profile.user_id, by = %caller.sub, "profile created");
    Ok(profile_response(201, &profile)?
        .with_header("location", format!("/users/{}", profile.user_id)))
}

async fn delete(
    deps: &Deps,
    request: &GatewayRequest,
    user_id: &str,
) -> Result<GatewayResponse, Error> {
    if request.body.len() > input::MAX_BODY_BYTES {
        return Err(Error::PayloadTooLarge(input::MAX_BODY_BYTES));
    }
    let expected = request
        .header("if-match")
        .map(validate::if_match)
        .transpose()?;
    // Without If-Match a delete is unconditional; a concurrent update only
    // means the version we read is stale, so read again and retry.
    const ATTEMPTS: usize = 3;
    for _ in 0..ATTEMPTS {
        let current = deps
            .store
            .get(user_id)
            .await?
            .ok_or_else(|| Error::UserNotFound(user_id.to_owned()))?;
        if let Some(expected) = expected.filter(|v| *v != current.version) {
            return Err(Error::VersionMismatch(expected));
        }
        match deps.store.delete(&current).await {
            Ok(()) => {
                tracing::info!(user_id, "profile deleted");
                return Ok(GatewayResponse::empty(204));
            }
            Err(Error::VersionMismatch(_)) if expected.is_none() => continue,
            Err(err) => return Err(err),
        }
    }
    Err(Error::WriteConflict)
}

async fn list(deps: &Deps, request: &GatewayRequest) -> Result<GatewayResponse, Error> {
    let limit = validate::limit(request.query_first("limit"))?;
    let resume_after = request
        .query_first("next")
        .map(|cursor| deps.cursors.decode(cursor))
        .transpose()?;
    let page = deps.store.list(limit, resume_after.as_deref()).await?;
    let next = page.resume_after.map(|id| deps.cursors.encode(&id));
    json_response(200, &json!({ "users": page.profiles, "next": next }))
}

/// How an administrator's vouch is recorded.
fn voucher(caller: &Identity) -> String {
    format!("admin:{}", caller.sub)
}

/// What to do to claim a phone, for the 403s.
const HOW_TO_PROVE: &str = "prove you own it first: POST /users/me/phone-verification with \
     {\"phone\": \"+...\"}, then POST /users/me/phone-verification/confirm with the \
     {\"code\"} we text you";

/// A phone reaches a profile only proven: by the owner's code (the confirm
/// route, never PATCH), or by an administrator who says so. The same goes
/// for an SMS opt-in: replies only ever go to a proven number.
fn check_phone_proof(
    current: &Profile,
    next: &Profile,
    own: bool,
    vouched: bool,
) -> Result<(), Error> {
    let new_number = next.phone.is_some() && next.phone != current.phone;
    if new_number && !next.phone_is_verified() {
        return Err(Error::PhoneNotVerified(if own {
            format!("a new phone number is set only once proven: {HOW_TO_PROVE}")
        } else {
            "an administrator sets a phone number its owner did not prove only by sending \
             \"vouch_for_phone\": true with it"
                .to_owned()
        }));
    }
    if vouched && next.phone.is_none() {
        return Err(Error::InvalidJson(
            "vouch_for_phone needs a phone number to vouch for".into(),
        ));
    }
    // Opting in: turning it on, or keeping it on while the number changes.
    let opts_in = next.sms_opt_in && (!current.sms_opt_in || new_number);
    if opts_in && next.phone.is_some() && !next.phone_is_verified() {
        return Err(Error::PhoneNotVerified(if own {
            format!("SMS replies go only to a proven number: {HOW_TO_PROVE}")
        } else {
            "SMS replies go only to a proven number: send \"vouch_for_phone\": true to vouch \
             for it"
                .to_owned()
        }));
    }
    Ok(())
}

/// [`check_phone_proof`] for a profile an administrator creates.
fn check_new_profile_phone(profile: &Profile, vouched: bool) -> Result<(), Error> {
    let empty = Profile {
        phone: None,
        phone_verified_at: None,
        phone_verified_by: None,
        sms_opt_in: false,
        ..profile.clone()
    };
    check_phone_proof(&empty, profile, false, vouched)
}

// ------------------------------------------------------ phone proofs

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

fn phone_proof(deps: &Deps) -> Result<&PhoneProof, Error> {
    deps.phone_proof.as_deref().ok_or_else(|| {
        Error::VerificationUnavailable(
            "phone verification is not configured (TWILIO_SECRET_ID and SMS_FROM)".into(),
        )
    })
}

/// `POST /users/me/phone-verification`: texts a code to the number.
async fn start_verification(
    deps: &Deps,
    request: &GatewayRequest,
    user_id: &str,
    deadline: tokio::time::Instant,
) -> Result<GatewayResponse, Error> {
    let proof = phone_proof(deps)?;
    let phone = input::verification_request(&request.body)?;
    let (profile, state) = deps
        .store
        .get_with_proof(user_id)
        .await?
        .ok_or(Error::ProfileNotFound)?;
    if profile.phone.as_deref() == Some(phone.as_str()) && profile.phone_is_verified() {
        return Err(Error::PhoneAlreadyVerified);
    }
    if deps
        .store
        .phone_owner(&phone)
        .await?
        .is_some_and(|owner| owner != user_id)
    {
        return Err(Error::PhoneTaken);
    }
    let now = now_secs();
    let counters = state.next_send(now)?;
    let (code, id) = phone_proof::new_code()?;
    let ttl = proof.config.code_ttl;
    let challenge = Challenge {
        mac: deps.phone_codes.seal(user_id, &id, &phone, &code),
        id,
        phone: phone.clone(),
        expires_at: now + ttl.as_secs(),
        sent_at: now,
        attempts: 0,
    };
    let credentials = proof
        .secrets
        .get()
        .await
        .map_err(|err| Error::VerificationUnavailable(format!("the SMS credentials: {err}")))
        .and_then(|secret| {
            twilio_messages::Credentials::from_secret(&secret)
                .map_err(|err| Error::Internal(err.to_string()))
        })?;
    // Recorded before it is sent: a failing send still counts against the
    // limits, so retries cannot hammer Twilio.
    deps.store
        .start_challenge(user_id, &challenge, counters, &state)
        .await?;
    let timeout = deadline
        .saturating_duration_since(tokio::time::Instant::now())
        .saturating_sub(DEADLINE_RESERVE)
        .min(SMS_TIMEOUT);
    let sent = proof
        .twilio
        .send(
            &credentials,
            &phone,
            &proof.config.from,
            &phone_proof::message(&code, ttl),
            timeout,
        )
        .await;
    match sent {
        Ok(_) => {}
        Err(err) if err.is_temporary() => {
            tracing::warn!(user_id, error = %err, "verification code not sent");
            return Err(Error::VerificationUnavailable(
                "the SMS could not be sent; try again in a minute".into(),
            ));
        }
        Err(err) => {
            tracing::info!(user_id, error = %err, "Twilio refused the number");
            return Err(Error::PhoneUnreachable(err.code()));
        }
    }
    tracing::info!(user_id, "verification code sent");
    json_response(
        202,
        &json!({
            "phone": phone,
            "expires_in": ttl.as_secs(),
            "resend_after": RESEND_AFTER.as_secs(),
            "attempts": MAX_ATTEMPTS,
        }),
    )
}

/// `POST /users/me/phone-verification/confirm`: the code proves the number,
/// which becomes the profile's phone (claimed, the previous one released).
async fn confirm_verification(
    deps: &Deps,
    request: &GatewayRequest,
    user_id: &str,
) -> Result<GatewayResponse, Error> {
    let code = input::verification_code(&request.body)?;
    let (current, state) = deps
        .store
        .get_with_proof(user_id)
        .await?
        .ok_or(Error::ProfileNotFound)?;
    let challenge = state.challenge.ok_or(Error::NoPendingVerification)?;
    if now_secs() >= challenge.expires_at {
        deps.store.clear_challenge(user_id, &challenge.id).await?;
        return Err(Error::VerificationExpired);
    }
    if !deps.phone_codes.verify(user_id, &challenge, &code) {
        let left = deps.store.fail_attempt(user_id, &challenge).await?;
        tracing::info!(user_id, attempts_left = left, "wrong verification code");
        return Err(Error::InvalidCode {
            message: if left == 0 {
                "wrong code, and the last attempt: request a new code".into()
            } else {
                "wrong code".into()
            },
            attempts_left: (left > 0).then_some(left),
        });
    }
    let now = now_rfc3339()?;
    let next = Profile {
        phone: Some(challenge.phone.clone()),
        phone_verified_at: Some(now.clone()),
        phone_verified_by: Some("sms_code".into()),
        updated_at: now,
        version: current.version + 1,
        ..current.clone()
    };
    match deps
        .store
        .replace_proving(&current, &next, Some(&challenge.id))
        .await
    {
        Ok(()) => {}
        // Changed meanwhile (a PATCH, or this very code used twice).
        Err(Error::VersionMismatch(_)) => return Err(Error::WriteConflict),
        Err(err) => return Err(err),
    }
    tracing::info!(user_id, version = next.version, "phone proven");
    profile_response(200, &next)
}

fn profile_response(status: u16, profile: &Profile) -> Result<GatewayResponse, Error> {
    Ok(json_response(status, profile)?.with_header("etag", profile.etag()))
}

fn json_response(status: u16, body: &impl serde::Serialize) -> Result<GatewayResponse, Error> {
    let body = serde_json::to_string(body)
        .map_err(|err| Error::Internal(format!("serialising a response: {err}")))?;
    // Profiles are personal data: no shared cache may keep them.
    Ok(GatewayResponse::text(status, "application/json", body)
        .with_header("cache-control", "no-store"))
}
