//! The cookies this function sets, with their attributes in one place.
//!
//! | cookie | holds | Path | Max-Age | Domain |
//! | --- | --- | --- | --- | --- |
//! | `access_token` | Cognito access token (read by the authorizer) | `/` | `expires_in` | `COOKIE_DOMAIN` |
//! | `id_token` | Cognito ID token | `/` | `expires_in` | `COOKIE_DOMAIN` |
//! | `refresh_token` | Cognito refresh token | auth path | `REFRESH_COOKIE_MAX_AGE_SECONDS` | host only |
//! | `auth_user` | base64url Cognito username, for `SECRET_HASH` | auth path | same | host only |
//! | `auth_state` | signed login state and PKCE verifier | callback path | 600 | host only |
//!
//! All are `HttpOnly; Secure; SameSite=Lax`. The auth path is the parent
//! of `REDIRECT_URI`'s path (`/prod/auth` behind a REST API stage), so
//! the refresh token only ever travels to this function. No `__Host-`
//! prefix: it forbids `Domain` and any `Path` but `/`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Access token cookie; the authorizer's default `ACCESS_TOKEN_COOKIE`.
pub const ACCESS_TOKEN: &str = "access_token";
/// ID token cookie.
pub const ID_TOKEN: &str = "id_token";
/// Refresh token cookie.
pub const REFRESH_TOKEN: &str = "refresh_token";
/// Cognito username cookie (base64url), for `SECRET_HASH` on refresh.
pub const USERNAME: &str = "auth_user";
/// Login state cookie.
pub const STATE: &str = "auth_state";
/// Lifetime of the login state: the user has ten minutes to sign in.
pub const STATE_MAX_AGE_SECS: u64 = 600;

/// Where and for how long cookies apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieConfig {
    /// `Domain` of the access and ID token cookies; `None`: host only.
    pub domain: Option<String>,
    /// `Path` of the refresh and username cookies (parent of the callback).
    pub auth_path: String,
    /// `Path` of the state cookie (the callback path).
    pub callback_path: String,
    /// `Max-Age` of the refresh and username cookies.
    pub refresh_max_age: u64,
}

impl CookieConfig {
    fn build(&self, name: &str, value: &str, path: &str, max_age: u64, shared: bool) -> String {
        let mut cookie = format!("{name}={value}; Path={path}; Max-Age={max_age}");
        if shared && let Some(domain) = &self.domain {
            cookie.push_str("; Domain=");
            cookie.push_str(domain);
        }
        cookie.push_str("; HttpOnly; Secure; SameSite=Lax");
        cookie
    }

    /// `access_token` for `max_age` seconds.
    pub fn access_token(&self, token: &str, max_age: u64) -> String {
        self.build(ACCESS_TOKEN, token, "/", max_age, true)
    }

    /// `id_token` for `max_age` seconds.
    pub fn id_token(&self, token: &str, max_age: u64) -> String {
        self.build(ID_TOKEN, token, "/", max_age, true)
    }

    /// `refresh_token`, scoped to the auth routes.
    pub fn refresh_token(&self, token: &str) -> String {
        self.build(
            REFRESH_TOKEN,
            token,
            &self.auth_path,
            self.refresh_max_age,
            false,
        )
    }

    /// `auth_user`: the Cognito username, base64url-encoded because
    /// usernames may hold characters cookies cannot.
    pub fn username(&self, username: &str) -> String {
        self.build(
            USERNAME,
            &URL_SAFE_NO_PAD.encode(username),
            &self.auth_path,
            self.refresh_max_age,
            false,
        )
    }

    /// `auth_state` holding the sealed login state.
    pub fn state(&self, sealed: &str) -> String {
        self.build(
            STATE,
            sealed,
            &self.callback_path,
            STATE_MAX_AGE_SECS,
            false,
        )
    }

    /// Expires the state cookie.
    pub fn clear_state(&self) -> String {
        self.build(STATE, "", &self.callback_path, 0, false)
    }

    /// Expires the token cookies (access, ID, refresh, username).
    pub fn clear_tokens(&self) -> Vec<String> {
        vec![
            self.build(ACCESS_TOKEN, "", "/", 0, true),
            self.build(ID_TOKEN, "", "/", 0, true),
            self.build(REFRESH_TOKEN, "", &self.auth_path, 0, false),
            self.build(USERNAME, "", &self.auth_path, 0, false),
        ]
    }

    /// Expires every cookie of this function.
    pub fn clear_all(&self) -> Vec<String> {
        let mut cookies = self.clear_tokens();
        cookies.push(self.clear_state());
        cookies
    }
}

/// The username from an `auth_user` cookie value.
pub fn decode_username(value: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
    String::from_utf8(bytes)
        .ok()
        .filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(domain: Option<&str>) -> CookieConfig {
        CookieConfig {
            domain: domain.map(str::to_owned),
            auth_path: "/prod/auth".into(),
            callback_path: "/prod/auth/callback".into(),
            refresh_max_age: 2_592_000,
        }
    }

    #[test]
    fn token_cookies_are_http_only_secure_lax_with_their_scope() {
        let c = config(Some("example.com"));
        assert_eq!(
            c.access_token("a.b.c", 3600),
            "access_token=a.b.c; Path=/; Max-Age=3600; Domain=example.com; HttpOnly; Secure; SameSite=Lax"
        );
        assert_eq!(
            c.id_token("i.d.t", 3600),
            "id_token=i.d.t; Path=/; Max-Age=3600; Domain=example.com; HttpOnly; Secure; SameSite=Lax"
        );
        assert_eq!(
            c.refresh_token("r"),
            "refresh_token=r; Path=/prod/auth; Max-Age=2592000; HttpOnly; Secure; SameSite=Lax"
        );
        assert_eq!(
            c.state("s.m"),
            "auth_state=s.m; Path=/prod/auth/callback; Max-Age=600; HttpOnly; Secure; SameSite=Lax"
        );
    }

    #[test]
    fn clearing_uses_the_same_path_and_domain_with_max_age_zero() {
        let c = config(Some("example.com"));
        let cleared = c.clear_all();
        assert_eq!(cleared.len(), 5);
        assert!(cleared.iter().all(|cookie| cookie.contains("=; ")
            && cookie.contains("Max-Age=0")
            && cookie.ends_with("HttpOnly; Secure; SameSite=Lax")));
        assert!(cleared[0].contains("Domain=example.com"));
        assert!(cleared[2].starts_with("refresh_token=; Path=/prod/auth;"));
        assert!(!cleared[2].contains("Domain"));
    }

    #[test]
    fn usernames_round_trip_through_base64url() {
        let cookie = config(None).username("ana maría@example.com");
        let value = cookie
            .strip_prefix("auth_user=")
            .and_then(|rest| rest.split(';').next())
            .unwrap();
        assert!(!value.contains([' ', '@']));
        assert_eq!(
            decode_username(value).as_deref(),
            Some("ana maría@example.com")
        );
        assert_eq!(decode_username("%%%"), None);
    }
}
