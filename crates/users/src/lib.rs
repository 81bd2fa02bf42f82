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
pub mod profile;
pub mod routes;
pub mod store;
pub mod validate;

pub use config::Config;
pub use error::{Error, RETRY_AFTER_SECS};

use api_gateway::{ApiError, CorsConfig, GatewayRequest, GatewayResponse, Identity};
use serde_json::{Value, json};

use crate::cursor::CursorSigner;
use crate::input::UpdateKind;
use crate::profile::{Profile, now_rfc3339};
use crate::routes::Route;
use crate::store::Store;

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
}

impl Deps {
    /// Dependencies from the configuration and a DynamoDB client.
    pub fn new(config: Config, client: aws_sdk_dynamodb::Client) -> Self {
        Self {
            store: Store::new(client, config.users_table, config.phone_claims_table),
            cursors: config.cursors,
            admin_group: config.admin_group,
            cors: config.cors,
        }
    }
}

/// Handles one raw API Gateway event: parsing, errors as JSON and CORS are
/// `api_gateway::handle`'s job; the rest is [`handle`].
pub async fn handle_event(deps: &Deps, event: Value) -> Value {
    api_gateway::handle(event, &deps.cors, |request| handle(deps, request)).await
}

/// Handles one request.
pub async fn handle(deps: &Deps, request: GatewayRequest) -> Result<GatewayResponse, ApiError> {
    dispatch(deps, &request).await.map_err(ApiError::from)
}

async fn dispatch(deps: &Deps, request: &GatewayRequest) -> Result<GatewayResponse, Error> {
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
        Route::PatchMe => update(deps, request, &caller.sub, UpdateKind::OwnPatch, true).await,
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
        Route::Put(id) => update(deps, request, &id, UpdateKind::AdminPut, false).await,
        Route::Patch(id) => update(deps, request, &id, UpdateKind::AdminPatch, false).await,
        Route::Delete(id) => delete(deps, request, &id).await,
    }
}

async fn update(
    deps: &Deps,
    request: &GatewayRequest,
    user_id: &str,
    kind: UpdateKind,
    own: bool,
) -> Result<GatewayResponse, Error> {
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
    let next = changes.apply(&current, &now_rfc3339()?);
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
    let profile = input::create(&request.body)?.into_profile(&now_rfc3339()?);
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
