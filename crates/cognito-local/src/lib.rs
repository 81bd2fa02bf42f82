//! The Cognito pieces moto does not serve, on one loopback port, in front
//! of moto's user pool:
//!
//! - the hosted UI: `GET /oauth2/authorize` (client, registered
//!   `redirect_uri`, `response_type=code`, `openid` scope and a PKCE S256
//!   challenge checked; stricter than Cognito, which lets PKCE be left
//!   out), the sign-in form at `/login` (the user is signed in against
//!   moto with `AdminInitiateAuth`, so the tokens are the ones moto's pool
//!   signs and serves the JWKS for), `POST /oauth2/token` with
//!   `authorization_code` (single use, five minutes, `redirect_uri` and
//!   `code_verifier` checked) and `refresh_token`, and `GET /logout`
//!   (registered `logout_uri` only). There is no hosted-UI session: every
//!   authorize shows the form, so logout is only the redirect.
//! - the Cognito Identity Provider API (`POST /` with `X-Amz-Target`):
//!   passed through to moto, except `RevokeToken`, which moto answers with
//!   500 and which is done here (the refresh token stops working for
//!   `InitiateAuth`, `AdminInitiateAuth` and the token endpoint).
//!
//! Point the auth function's `COGNITO_DOMAIN` and
//! `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER` at [`CognitoLocal::url`].

mod idp;
pub mod pages;
mod server;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use idp::{AppClient, Idp, IdpError, Tokens};
pub use server::CODE_LIFETIME;

/// What the stand-in fronts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoLocalConfig {
    /// moto's endpoint, e.g. `http://127.0.0.1:5000`.
    pub moto_url: String,
    /// The user pool whose clients and users sign in.
    pub user_pool_id: String,
    /// Port on 127.0.0.1 (0: any free port).
    pub port: u16,
}

/// A running stand-in; stops when dropped.
pub struct CognitoLocal {
    addr: SocketAddr,
    state: Arc<server::State>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for CognitoLocal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CognitoLocal")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for CognitoLocal {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CognitoLocal {
    /// Binds and starts serving.
    pub async fn start(config: CognitoLocalConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(std::io::Error::other)?;
        let idp = Idp::new(
            http.clone(),
            config.moto_url.trim_end_matches('/').to_owned() + "/",
            config.user_pool_id,
        );
        let state = Arc::new(server::State::new(idp, http));
        let task = tokio::spawn(server::serve(listener, Arc::clone(&state)));
        Ok(Self { addr, state, task })
    }

    /// `http://127.0.0.1:<port>`: the hosted-UI domain and the Cognito
    /// Identity Provider endpoint.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Cognito Identity Provider operations received so far, in order
    /// (`RevokeToken`, `GlobalSignOut`, `InitiateAuth`, ...).
    pub fn operations(&self) -> Vec<String> {
        self.state.operations()
    }

    /// Whether `refresh_token` was revoked.
    pub fn is_revoked(&self, refresh_token: &str) -> bool {
        self.state.is_revoked(refresh_token)
    }

    /// The client to moto the stand-in uses.
    pub fn idp(&self) -> &Idp {
        &self.state.idp
    }
}
