//! Item 4: credentials the gateway's authorizer must refuse, before the
//! users function ever runs.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cognitoidentityprovider::Client as Cognito;
use reqwest::Method;
use serde_json::json;

use crate::tokens::{claims, sign_with_pool_key, unsigned, with_claims};
use crate::{Call, CaseFuture, Ctx, ensure};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `GET /users/me` with `cookie` as the `Cookie` header (or none).
async fn me_with(ctx: &Ctx<'_>, cookie: Option<&str>) -> Result<crate::Answer, String> {
    let mut call =
        Call::new(Method::GET, ctx.api("/users/me")).header("origin", ctx.stack.app_origin());
    if let Some(cookie) = cookie {
        call = call.header("cookie", cookie);
    }
    ctx.client.send(call, None).await
}

/// A token for alice from another app client of the same pool.
async fn other_client_token(ctx: &Ctx<'_>) -> Result<String, String> {
    let stack = ctx.stack;
    let cognito = Cognito::new(&stack.moto().sdk_config().await);
    let other = cognito
        .create_user_pool_client()
        .user_pool_id(&stack.seeded().pool_id)
        .client_name(format!("another-app-{}", now()))
        .send()
        .await
        .map_err(|e| format!("creating another app client: {e}"))?
        .user_pool_client
        .and_then(|c| c.client_id)
        .ok_or("the other app client has no id")?;
    let tokens = stack
        .cognito()
        .idp()
        .sign_in(&other, "alice", local_stack::PASSWORD)
        .await
        .map_err(|e| format!("signing alice in to the other client: {e}"))?;
    Ok(tokens.access_token)
}

/// The case.
pub fn refusals<'a>(ctx: &'a Ctx<'a>) -> CaseFuture<'a> {
    Box::pin(async move {
        let stack = ctx.stack;
        let tokens = stack.sign_in("alice").await.map_err(|e| e.to_string())?;
        let valid = tokens.access_token.clone();
        let good = me_with(ctx, Some(&format!("access_token={valid}"))).await?;
        ensure!(
            good.status != 401 && good.status != 403,
            "alice's own access token is refused: {}",
            good.describe()
        );
        let valid_claims = claims(&valid)?;

        // Proves moto's key is what signs: the same claims, freshly dated, pass.
        let mut fresh = valid_claims.clone();
        fresh["iat"] = json!(now() - 5);
        fresh["exp"] = json!(now() + 600);
        let resigned = sign_with_pool_key(&fresh).await?;
        let control = me_with(ctx, Some(&format!("access_token={resigned}"))).await?;
        ensure!(
            control.status != 401 && control.status != 403,
            "a token re-signed with the pool's key is refused, so the expired case would prove nothing: {}",
            control.describe()
        );

        let mut expired = valid_claims.clone();
        expired["iat"] = json!(now() - 7200);
        expired["auth_time"] = json!(now() - 7200);
        expired["exp"] = json!(now() - 3600);
        let mut escalated = valid_claims.clone();
        escalated["username"] = json!("admin");
        escalated["cognito:groups"] = json!(["admin"]);
        let cases: Vec<(&str, String)> = vec![
            (
                "a cookie header without the access token",
                format!("id_token={}", tokens.id_token),
            ),
            (
                "an expired token signed by the pool",
                format!("access_token={}", sign_with_pool_key(&expired).await?),
            ),
            (
                "a tampered token (claims changed, signature kept)",
                format!("access_token={}", with_claims(&valid, &escalated)),
            ),
            (
                "an unsigned token (alg none)",
                format!("access_token={}", unsigned(&valid_claims)),
            ),
            (
                "a token of another app client (wrong audience)",
                format!("access_token={}", other_client_token(ctx).await?),
            ),
            (
                "an ID token where an access token belongs",
                format!("access_token={}", tokens.id_token),
            ),
            (
                "a token that is not a JWT",
                "access_token=not.a.jwt".to_owned(),
            ),
        ];

        let users_before = stack.invocations("users");
        let authorizer_before = stack.invocations("authorizer");
        let none = me_with(ctx, None).await?;
        ensure!(
            none.status == 401 && none.json() == json!({"message": "Unauthorized"}),
            "no credential at all: {}",
            none.describe()
        );
        ensure!(
            stack.invocations("authorizer") == authorizer_before,
            "the authorizer ran for a request without its identity source"
        );
        for (what, cookie) in &cases {
            let refused = me_with(ctx, Some(cookie)).await?;
            ensure!(
                refused.status == 401 && refused.json() == json!({"message": "Unauthorized"}),
                "{what}: {}",
                refused.describe()
            );
        }
        let asked = stack.invocations("authorizer") - authorizer_before;
        ensure!(
            asked == cases.len() as u64,
            "the authorizer decided {asked} of {} refusals",
            cases.len()
        );
        ensure!(
            stack.invocations("users") == users_before,
            "the users function ran for a refused request"
        );
        Ok(())
    })
}
