//! The few Cognito Identity Provider calls the stand-in makes to moto, in
//! the service's JSON protocol (moto routes unsigned requests by
//! `X-Amz-Target`).

use serde::Deserialize;
use serde_json::{Value, json};

/// `X-Amz-Target` prefix of the Cognito Identity Provider API.
pub const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";

/// A failed call: Cognito's error type and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct IdpError {
    /// `__type`, e.g. `NotAuthorizedException`.
    pub kind: String,
    /// `message`.
    pub message: String,
}

impl IdpError {
    fn transport(err: impl std::fmt::Display) -> Self {
        Self {
            kind: "Unreachable".into(),
            message: err.to_string(),
        }
    }
}

/// Tokens of a sign-in or refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    /// Access token.
    pub access_token: String,
    /// ID token.
    pub id_token: String,
    /// Refresh token (sign-in only).
    pub refresh_token: Option<String>,
    /// Lifetime in seconds.
    pub expires_in: u64,
}

/// An app client as Cognito describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AppClient {
    /// The id.
    pub client_id: String,
    /// The secret, for confidential clients.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Allowed `redirect_uri`s.
    #[serde(default, rename = "CallbackURLs")]
    pub callback_urls: Vec<String>,
    /// Allowed `logout_uri`s.
    #[serde(default, rename = "LogoutURLs")]
    pub logout_urls: Vec<String>,
}

/// A Cognito Identity Provider endpoint (moto) and the pool.
#[derive(Debug, Clone)]
pub struct Idp {
    http: reqwest::Client,
    endpoint: String,
    pool_id: String,
}

impl Idp {
    /// Calls go to `endpoint`, about pool `pool_id`.
    pub fn new(http: reqwest::Client, endpoint: String, pool_id: String) -> Self {
        Self {
            http,
            endpoint,
            pool_id,
        }
    }

    /// The pool.
    pub fn pool_id(&self) -> &str {
        &self.pool_id
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// One call; the JSON answer or Cognito's error.
    pub async fn call(&self, operation: &str, body: &Value) -> Result<Value, IdpError> {
        let response = self
            .http
            .post(&self.endpoint)
            .header("x-amz-target", format!("{TARGET_PREFIX}{operation}"))
            .header("content-type", "application/x-amz-json-1.1")
            .body(body.to_string())
            .send()
            .await
            .map_err(IdpError::transport)?;
        let status = response.status();
        let text = response.text().await.map_err(IdpError::transport)?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        let kind = value
            .get("__type")
            .and_then(Value::as_str)
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
            .unwrap_or_else(|| format!("HTTP {status}"));
        Err(IdpError {
            kind,
            message: value
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        })
    }

    /// `DescribeUserPoolClient`.
    pub async fn client(&self, client_id: &str) -> Result<AppClient, IdpError> {
        let answer = self
            .call(
                "DescribeUserPoolClient",
                &json!({"UserPoolId": self.pool_id, "ClientId": client_id}),
            )
            .await?;
        serde_json::from_value(answer["UserPoolClient"].clone()).map_err(|err| IdpError {
            kind: "MalformedAnswer".into(),
            message: err.to_string(),
        })
    }

    /// Signs `username` in with `password` (`AdminInitiateAuth`
    /// `ADMIN_USER_PASSWORD_AUTH`, what the hosted UI does server side).
    pub async fn sign_in(
        &self,
        client_id: &str,
        username: &str,
        password: &str,
    ) -> Result<Tokens, IdpError> {
        self.admin_initiate_auth(
            client_id,
            "ADMIN_USER_PASSWORD_AUTH",
            json!({"USERNAME": username, "PASSWORD": password}),
        )
        .await
    }

    /// Fresh access and ID tokens for a refresh token (`AdminInitiateAuth`
    /// `REFRESH_TOKEN_AUTH`).
    pub async fn refresh(&self, client_id: &str, refresh_token: &str) -> Result<Tokens, IdpError> {
        self.admin_initiate_auth(
            client_id,
            "REFRESH_TOKEN_AUTH",
            json!({"REFRESH_TOKEN": refresh_token}),
        )
        .await
    }

    async fn admin_initiate_auth(
        &self,
        client_id: &str,
        flow: &str,
        parameters: Value,
    ) -> Result<Tokens, IdpError> {
        let answer = self
            .call(
                "AdminInitiateAuth",
                &json!({
                    "UserPoolId": self.pool_id,
                    "ClientId": client_id,
                    "AuthFlow": flow,
                    "AuthParameters": parameters,
                }),
            )
            .await?;
        tokens(&answer)
    }
}

fn tokens(answer: &Value) -> Result<Tokens, IdpError> {
    let result = answer.get("AuthenticationResult").ok_or_else(|| IdpError {
        kind: "ChallengeRequired".into(),
        message: format!(
            "the user must answer the {} challenge first",
            answer["ChallengeName"].as_str().unwrap_or("unknown")
        ),
    })?;
    let text = |key: &str| result.get(key).and_then(Value::as_str).map(str::to_owned);
    match (text("AccessToken"), text("IdToken")) {
        (Some(access_token), Some(id_token)) => Ok(Tokens {
            access_token,
            id_token,
            refresh_token: text("RefreshToken"),
            expires_in: result
                .get("ExpiresIn")
                .and_then(Value::as_u64)
                .unwrap_or(3600),
        }),
        _ => Err(IdpError {
            kind: "MalformedAnswer".into(),
            message: "AuthenticationResult lacks AccessToken or IdToken".into(),
        }),
    }
}
