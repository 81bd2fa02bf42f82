//! What moto holds when the stack starts: the tables of the shared schema,
//! the functions' secrets, a Cognito user pool with its app client and the
//! seeded users (and a profile for the SMS user).

use std::io::Read as _;

use aws_sdk_cognitoidentityprovider::Client as Cognito;
use aws_sdk_cognitoidentityprovider::error::DisplayErrorContext;
use aws_sdk_cognitoidentityprovider::types::{
    AttributeType, ExplicitAuthFlowsType, MessageActionType, OAuthFlowType,
};
use base64::Engine as _;
use local_fakes::TwilioAccount;
use moto_harness::{MotoServer, aws_sdk_dynamodb, aws_sdk_secretsmanager};
use serde_json::json;

use crate::StackError;
use crate::config::{PASSWORD, SeedUser};

/// The shared DynamoDB schema (what Terraform creates).
pub const SCHEMA: &str = include_str!("../../../terraform/schema/dynamodb.json");
/// The sms function's secret.
pub const SMS_SECRET: &str = "lambda-forge-local/sms";
/// The auth function's secret.
pub const AUTH_SECRET: &str = "lambda-forge-local/auth";
/// The user pool's name.
pub const POOL_NAME: &str = "lambda-forge-local";
/// The OAuth scopes of the app client (Terraform's default).
pub const SCOPES: [&str; 3] = ["openid", "email", "profile"];

/// A seeded user as Cognito knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededUser {
    /// The declaration.
    pub user: SeedUser,
    /// Cognito `sub`: the users table's `user_id`.
    pub sub: String,
}

/// What seeding created, for the functions' environment.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// The user pool.
    pub pool_id: String,
    /// The public app client.
    pub client_id: String,
    /// The users.
    pub users: Vec<SeededUser>,
    /// The Twilio account in the sms secret.
    pub twilio: TwilioAccount,
    /// The OpenAI key in the sms secret.
    pub openai_key: String,
    /// The users function's `CURSOR_SECRET`.
    pub cursor_secret: String,
}

/// `n` random bytes.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, StackError> {
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| StackError::io("reading /dev/urandom", e))?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn moto_error(what: &str, err: impl std::fmt::Display) -> StackError {
    StackError::Moto(format!("{what}: {err}"))
}

/// Creates everything in `moto`; `callback` and `signed_out` are the app
/// client's callback and sign-out URLs.
pub async fn seed(
    moto: &MotoServer,
    users: &[SeedUser],
    callback: &str,
    signed_out: &str,
) -> Result<Seeded, StackError> {
    let config = moto.sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    moto_harness::create_tables_from_schema(&dynamodb, SCHEMA, "")
        .await
        .map_err(|e| moto_error("creating the tables", e))?;

    let twilio = TwilioAccount {
        account_sid: format!("AC{}", hex(&random_bytes(16)?)),
        auth_token: hex(&random_bytes(16)?),
    };
    let openai_key = format!("sk-local-{}", hex(&random_bytes(12)?));
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    moto_harness::create_secret(
        &secrets,
        SMS_SECRET,
        &json!({
            "twilio_account_sid": twilio.account_sid,
            "twilio_auth_token": twilio.auth_token,
            "openai_api_key": openai_key,
        }),
    )
    .await
    .map_err(|e| moto_error("creating the sms secret", e))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    moto_harness::create_secret(
        &secrets,
        AUTH_SECRET,
        &json!({ "cookie_key": b64.encode(random_bytes(32)?) }),
    )
    .await
    .map_err(|e| moto_error("creating the auth secret", e))?;

    let cognito = Cognito::new(&config);
    let pool_id = cognito
        .create_user_pool()
        .pool_name(POOL_NAME)
        .send()
        .await
        .map_err(|e| moto_error("creating the user pool", DisplayErrorContext(e)))?
        .user_pool
        .and_then(|p| p.id)
        .ok_or_else(|| StackError::Moto("the user pool has no id".into()))?;
    let client_id = cognito
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("web")
        .generate_secret(false)
        .allowed_o_auth_flows(OAuthFlowType::Code)
        .allowed_o_auth_flows_user_pool_client(true)
        .set_allowed_o_auth_scopes(Some(SCOPES.iter().map(|s| (*s).to_owned()).collect()))
        .callback_urls(callback)
        .logout_urls(signed_out)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .read_attributes("email")
        .read_attributes("name")
        .send()
        .await
        .map_err(|e| moto_error("creating the app client", DisplayErrorContext(e)))?
        .user_pool_client
        .and_then(|c| c.client_id)
        .ok_or_else(|| StackError::Moto("the app client has no id".into()))?;

    let mut groups_created: Vec<String> = Vec::new();
    let mut seeded = Vec::new();
    for user in users {
        let sub = create_user(&cognito, &pool_id, user).await?;
        for group in &user.groups {
            if !groups_created.contains(group) {
                cognito
                    .create_group()
                    .user_pool_id(&pool_id)
                    .group_name(group)
                    .send()
                    .await
                    .map_err(|e| moto_error("creating a group", DisplayErrorContext(e)))?;
                groups_created.push(group.clone());
            }
            cognito
                .admin_add_user_to_group()
                .user_pool_id(&pool_id)
                .username(&user.username)
                .group_name(group)
                .send()
                .await
                .map_err(|e| moto_error("adding a user to a group", DisplayErrorContext(e)))?;
        }
        if let Some(phone) = &user.sms_phone {
            seed_sms_profile(&dynamodb, user, &sub, phone).await?;
        }
        seeded.push(SeededUser {
            user: user.clone(),
            sub,
        });
    }
    Ok(Seeded {
        pool_id,
        client_id,
        users: seeded,
        twilio,
        openai_key,
        cursor_secret: b64.encode(random_bytes(32)?),
    })
}

fn attribute(name: &str, value: &str) -> Result<AttributeType, StackError> {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .map_err(|e| moto_error("building an attribute", e))
}

/// Creates a confirmed user with [`PASSWORD`]; returns its `sub`.
async fn create_user(
    cognito: &Cognito,
    pool_id: &str,
    user: &SeedUser,
) -> Result<String, StackError> {
    cognito
        .admin_create_user()
        .user_pool_id(pool_id)
        .username(&user.username)
        .temporary_password("Temporary-Passw0rd!")
        .message_action(MessageActionType::Suppress)
        .user_attributes(attribute("email", &user.email)?)
        .user_attributes(attribute("email_verified", "true")?)
        .user_attributes(attribute("name", &user.name)?)
        .send()
        .await
        .map_err(|e| moto_error("creating a user", DisplayErrorContext(e)))?;
    cognito
        .admin_set_user_password()
        .user_pool_id(pool_id)
        .username(&user.username)
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .map_err(|e| moto_error("setting a password", DisplayErrorContext(e)))?;
    let found = cognito
        .admin_get_user()
        .user_pool_id(pool_id)
        .username(&user.username)
        .send()
        .await
        .map_err(|e| moto_error("reading a user", DisplayErrorContext(e)))?;
    found
        .user_attributes()
        .iter()
        .find(|a| a.name() == "sub")
        .and_then(|a| a.value())
        .map(str::to_owned)
        .ok_or_else(|| StackError::Moto(format!("user {} has no sub", user.username)))
}

/// A profile in the users function's format with `phone` opted in, and
/// the phone's claim.
async fn seed_sms_profile(
    dynamodb: &aws_sdk_dynamodb::Client,
    user: &SeedUser,
    sub: &str,
    phone: &str,
) -> Result<(), StackError> {
    let now = "2026-01-01T00:00:00Z";
    moto_harness::put_items(
        dynamodb,
        "users",
        &[json!({
            "user_id": {"S": sub},
            "email": {"S": user.email},
            "name": {"S": user.name},
            "phone": {"S": phone},
            "sms_opt_in": {"BOOL": true},
            "created_at": {"S": now},
            "updated_at": {"S": now},
            "version": {"N": "1"},
        })],
    )
    .await
    .map_err(|e| moto_error("seeding the SMS user's profile", e))?;
    moto_harness::put_items(
        dynamodb,
        "phone_claims",
        &[json!({"phone": {"S": phone}, "user_id": {"S": sub}})],
    )
    .await
    .map_err(|e| moto_error("seeding the SMS user's phone claim", e))
}
