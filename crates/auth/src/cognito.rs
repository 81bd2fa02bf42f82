//! Cognito Identity Provider calls: refresh, revoke, global sign-out.
//!
//! Cognito's error messages can quote the token or the expected
//! `SECRET_HASH` (moto's do), so only error codes ever leave this module.

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use lambda_logging::Redacted;
use sha2::Sha256;

/// `SECRET_HASH`: Base64(HMAC-SHA256(key = client secret, message =
/// username + client id)).
pub fn secret_hash(client_secret: &str, username: &str, client_id: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match hmac::Hmac::<Sha256>::new_from_slice(client_secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(username.as_bytes());
    mac.update(client_id.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Fresh tokens from a refresh.
#[derive(Debug, Clone)]
pub struct Refreshed {
    /// New access token.
    pub access_token: Redacted<String>,
    /// New ID token.
    pub id_token: Redacted<String>,
    /// A new refresh token, when the app client rotates them.
    pub refresh_token: Option<Redacted<String>>,
    /// Lifetime of the new tokens, seconds.
    pub expires_in: u64,
}

/// How a Cognito call failed, by error code only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The token (or secret hash) is not accepted: `NotAuthorizedException` and kin.
    Rejected(String),
    /// Throttled, Cognito failing, or unreachable.
    Unavailable(String),
    /// Anything else (misconfiguration).
    Other(String),
}

impl CallError {
    fn from_sdk<E: ProvideErrorMetadata>(err: &SdkError<E>) -> Self {
        let code = err.code().unwrap_or("").to_owned();
        let status = err.raw_response().map(|raw| raw.status().as_u16());
        match (code.as_str(), status) {
            (
                "NotAuthorizedException"
                | "UserNotFoundException"
                | "UserNotConfirmedException"
                | "PasswordResetRequiredException"
                | "UnauthorizedException",
                _,
            ) => Self::Rejected(code),
            ("TooManyRequestsException" | "InternalErrorException", _) => Self::Unavailable(code),
            (_, Some(status)) if status >= 500 => Self::Unavailable(format!("HTTP {status}")),
            ("", None) => Self::Unavailable(dispatch_kind(err).to_owned()),
            _ => Self::Other(code),
        }
    }

    /// The error code for logs.
    pub fn code(&self) -> &str {
        match self {
            Self::Rejected(code) | Self::Unavailable(code) | Self::Other(code) => code,
        }
    }
}

fn dispatch_kind<E>(err: &SdkError<E>) -> &'static str {
    match err {
        SdkError::TimeoutError(_) => "timeout",
        SdkError::DispatchFailure(_) => "dispatch failure",
        SdkError::ResponseError(_) => "unreadable response",
        SdkError::ConstructionFailure(_) => "request construction failed",
        _ => "service error",
    }
}

/// `InitiateAuth` with `REFRESH_TOKEN_AUTH`; `secret` is the client secret
/// and the username its `SECRET_HASH` is computed with.
pub async fn refresh(
    client: &Client,
    client_id: &str,
    refresh_token: &str,
    secret: Option<(&str, &str)>,
) -> Result<Refreshed, CallError> {
    let mut request = client
        .initiate_auth()
        .client_id(client_id)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", refresh_token);
    if let Some((client_secret, username)) = secret {
        request = request.auth_parameters(
            "SECRET_HASH",
            secret_hash(client_secret, username, client_id),
        );
    }
    let output = request
        .send()
        .await
        .map_err(|err| CallError::from_sdk(&err))?;
    let result = output
        .authentication_result
        .ok_or_else(|| CallError::Other("no AuthenticationResult (a challenge?)".into()))?;
    let (Some(access_token), Some(id_token)) = (result.access_token, result.id_token) else {
        return Err(CallError::Other(
            "AuthenticationResult without tokens".into(),
        ));
    };
    Ok(Refreshed {
        access_token: Redacted(access_token),
        id_token: Redacted(id_token),
        refresh_token: result.refresh_token.map(Redacted),
        expires_in: u64::try_from(result.expires_in).unwrap_or(0),
    })
}

/// `RevokeToken`: invalidates the refresh token and the tokens issued from it.
pub async fn revoke(
    client: &Client,
    client_id: &str,
    client_secret: Option<&str>,
    refresh_token: &str,
) -> Result<(), CallError> {
    client
        .revoke_token()
        .token(refresh_token)
        .client_id(client_id)
        .set_client_secret(client_secret.map(str::to_owned))
        .send()
        .await
        .map(|_| ())
        .map_err(|err| CallError::from_sdk(&err))
}

/// `GlobalSignOut`: invalidates every refresh token of the user.
pub async fn global_sign_out(client: &Client, access_token: &str) -> Result<(), CallError> {
    client
        .global_sign_out()
        .access_token(access_token)
        .send()
        .await
        .map(|_| ())
        .map_err(|err| CallError::from_sdk(&err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_hash_matches_an_independently_computed_vector() {
        // python3 -c "import hmac,hashlib,base64;print(base64.b64encode(hmac.new(
        //   b'client-secret-123', b'alice' + b'client1', hashlib.sha256).digest()).decode())"
        assert_eq!(
            secret_hash("client-secret-123", "alice", "client1"),
            "LhL0zq/NuNtKz8+IGJoBLPXx52l8cSjZWrP+M/zqGf0="
        );
    }
}
