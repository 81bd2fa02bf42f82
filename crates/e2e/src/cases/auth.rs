//! Item 2: the auth flow, as a browser walks it (login redirect, hosted
//! UI, callback, cookies, refresh, logout).

use reqwest::Method;
use serde_json::json;

use crate::cases::{query_param, send_api, sign_in};
use crate::client::Cookie;
use crate::{Call, CaseFuture, Ctx, Jar, ensure};

/// `HttpOnly; Secure; SameSite=Lax`, on `path`, host-only (no `Domain`:
/// the stack sets no `COOKIE_DOMAIN`, like the module's default).
fn check_cookie(cookie: Option<Cookie>, name: &str, path: &str) -> Result<Cookie, String> {
    let cookie = cookie.ok_or_else(|| format!("{name} was not set"))?;
    ensure!(
        cookie.attribute("httponly").is_some()
            && cookie.attribute("secure").is_some()
            && cookie
                .attribute("samesite")
                .map(str::to_ascii_lowercase)
                .as_deref()
                == Some("lax")
            && cookie.path() == path
            && cookie.attribute("domain").is_none(),
        "{name} should be HttpOnly, Secure, SameSite=Lax, Path={path}, host-only; it is {:?}",
        cookie.attributes
    );
    Ok(cookie)
}

/// The case.
pub fn flow<'a>(ctx: &'a Ctx<'a>) -> CaseFuture<'a> {
    Box::pin(async move {
        let stack = ctx.stack;
        let signed_in = sign_in(ctx, "alice").await?;
        let authorize = &signed_in.authorize_url;
        ensure!(
            query_param(authorize, "code_challenge_method").as_deref() == Some("S256")
                && query_param(authorize, "code_challenge").is_some_and(|c| c.len() == 43)
                && query_param(authorize, "state").is_some_and(|s| s.len() >= 16)
                && query_param(authorize, "client_id").as_deref()
                    == Some(stack.seeded().client_id.as_str())
                && query_param(authorize, "redirect_uri") == Some(ctx.api("/auth/callback")),
            "the authorize URL lacks PKCE S256, a state, the client or the callback: {authorize}"
        );
        check_cookie(
            signed_in.login.set_cookie("auth_state"),
            "auth_state",
            "/auth/callback",
        )?;
        let callback = &signed_in.callback;
        check_cookie(callback.set_cookie("access_token"), "access_token", "/")?;
        check_cookie(callback.set_cookie("id_token"), "id_token", "/")?;
        check_cookie(
            callback.set_cookie("refresh_token"),
            "refresh_token",
            "/auth",
        )?;
        ensure!(
            callback
                .set_cookie("auth_state")
                .is_some_and(|c| c.clears()),
            "the callback did not clear auth_state"
        );
        let mut jar: Jar = signed_in.jar;

        let me = send_api(ctx, &mut jar, Method::GET, "/users/me", None, None).await?;
        ensure!(
            me.status == 200 && me.json()["email"] == "alice@example.com",
            "GET /users/me after sign-in: {}",
            me.describe()
        );

        let old_access = jar
            .get("access_token")
            .map(|c| c.value.clone())
            .unwrap_or_default();
        let refreshed = send_api(
            ctx,
            &mut jar,
            Method::POST,
            "/auth/refresh",
            Some(&json!({})),
            None,
        )
        .await?;
        ensure!(
            refreshed.status == 200 && refreshed.json()["expires_in"].as_u64().unwrap_or(0) > 0,
            "POST /auth/refresh: {}",
            refreshed.describe()
        );
        check_cookie(
            refreshed.set_cookie("access_token"),
            "the refreshed access_token",
            "/",
        )?;
        let new_access = jar
            .get("access_token")
            .map(|c| c.value.clone())
            .unwrap_or_default();
        ensure!(
            new_access != old_access,
            "the refresh gave back the same access token"
        );
        let me = send_api(ctx, &mut jar, Method::GET, "/users/me", None, None).await?;
        ensure!(
            me.status == 200,
            "GET /users/me with the refreshed token: {}",
            me.describe()
        );

        let refresh_token = jar
            .get("refresh_token")
            .map(|c| c.value.clone())
            .ok_or("no refresh_token cookie before logout")?;
        let operations_before = stack.cognito().operations().len();
        let out = send_api(
            ctx,
            &mut jar,
            Method::POST,
            "/auth/logout",
            Some(&json!({})),
            None,
        )
        .await?;
        let body = out.json();
        ensure!(
            out.status == 200 && body["revoked"] == true && body["signed_out_globally"] == true,
            "POST /auth/logout: {}",
            out.describe()
        );
        for name in ["access_token", "id_token", "refresh_token", "auth_user"] {
            ensure!(
                out.set_cookie(name).is_some_and(|c| c.clears()),
                "logout did not clear {name}"
            );
        }
        let operations = stack.cognito().operations()[operations_before..].to_vec();
        ensure!(
            operations.iter().any(|o| o == "RevokeToken")
                && operations.iter().any(|o| o == "GlobalSignOut"),
            "logout called {operations:?} on Cognito, expected RevokeToken and GlobalSignOut"
        );
        ensure!(
            stack.cognito().is_revoked(&refresh_token),
            "the refresh token was not revoked"
        );

        // The revoked refresh token, presented again, is refused.
        let mut stale = Jar::default();
        stale.set("refresh_token", &refresh_token);
        let again = send_api(
            ctx,
            &mut stale,
            Method::POST,
            "/auth/refresh",
            Some(&json!({})),
            None,
        )
        .await?;
        ensure!(
            again.status == 401 && again.json()["error"]["code"] == "invalid_refresh_token",
            "refreshing with the revoked token: {}",
            again.describe()
        );
        let me = send_api(ctx, &mut jar, Method::GET, "/users/me", None, None).await?;
        ensure!(
            me.status == 401,
            "GET /users/me after logout: {}",
            me.describe()
        );

        let logout_url = body["logout_url"].as_str().unwrap_or_default().to_owned();
        ensure!(
            logout_url.starts_with(&format!("{}/logout?", stack.cognito().url())),
            "logout_url {logout_url:?} is not the hosted UI's /logout"
        );
        let back = ctx.client.send(Call::get(&logout_url), None).await?;
        ensure!(
            back.status == 302
                && back.header("location") == Some(&format!("{}/", stack.app_origin())),
            "the hosted UI's /logout: {} (location {:?})",
            back.describe(),
            back.header("location")
        );
        Ok(())
    })
}
