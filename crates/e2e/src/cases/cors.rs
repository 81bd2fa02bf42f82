//! Item 5: CORS as a browser sees it: preflights and the headers on
//! errors.

use reqwest::Method;

use crate::{Answer, Call, CaseFuture, Ctx, ensure};

/// An origin that is not allowed.
const OTHER_ORIGIN: &str = "https://evil.example";

async fn preflight(
    ctx: &Ctx<'_>,
    path: &str,
    origin: &str,
    method: &str,
) -> Result<Answer, String> {
    ctx.client
        .send(
            Call::new(Method::OPTIONS, ctx.api(path))
                .header("origin", origin)
                .header("access-control-request-method", method)
                .header("access-control-request-headers", "content-type,if-match"),
            None,
        )
        .await
}

fn allows(answer: &Answer, origin: &str) -> bool {
    answer.header("access-control-allow-origin") == Some(origin)
        && answer.header("access-control-allow-credentials") == Some("true")
}

/// The case.
pub fn preflights_and_errors<'a>(ctx: &'a Ctx<'a>) -> CaseFuture<'a> {
    Box::pin(async move {
        let stack = ctx.stack;
        let app = stack.app_origin();
        let ok = preflight(ctx, "/users/me", &app, "PATCH").await?;
        let methods = ok
            .header("access-control-allow-methods")
            .unwrap_or_default()
            .to_ascii_uppercase();
        let headers = ok
            .header("access-control-allow-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        ensure!(
            ok.status == 204
                && allows(&ok, &app)
                && methods.contains("PATCH")
                && headers.contains("if-match"),
            "a preflight from the app's origin: {} {:?}",
            ok.status,
            ok.headers
        );
        // Every declared path answers its preflight, authorized or not.
        for declared in stack.gateway().config().routes.routes() {
            let method = declared.route.method.to_string().replace("ANY", "GET");
            let path = declared.route.path.replace("{id}", "some-user");
            let answer = preflight(ctx, &path, &app, &method).await?;
            ensure!(
                answer.status == 204 && allows(&answer, &app),
                "the preflight of {method} {path}: {}",
                answer.describe()
            );
        }
        let refused = preflight(ctx, "/users/me", OTHER_ORIGIN, "PATCH").await?;
        ensure!(
            refused.status == 403 && refused.header("access-control-allow-origin").is_none(),
            "a preflight from {OTHER_ORIGIN}: {} {:?}",
            refused.status,
            refused.headers
        );

        // The gateway's own 401 carries them (the browser can read it).
        let unauthenticated = ctx
            .client
            .send(Call::get(ctx.api("/users/me")).header("origin", &app), None)
            .await?;
        ensure!(
            unauthenticated.status == 401 && allows(&unauthenticated, &app),
            "the gateway's 401: {} {:?}",
            unauthenticated.status,
            unauthenticated.headers
        );

        // A function's error carries them too, for the app's origin only.
        let bob = stack.sign_in("bob").await.map_err(|e| e.to_string())?;
        let cookie = format!("access_token={}", bob.access_token);
        let forbidden = ctx
            .client
            .send(
                Call::get(ctx.api("/users"))
                    .header("origin", &app)
                    .header("cookie", &cookie),
                None,
            )
            .await?;
        ensure!(
            forbidden.status == 403 && allows(&forbidden, &app),
            "the users function's 403: {} {:?}",
            forbidden.status,
            forbidden.headers
        );
        let foreign = ctx
            .client
            .send(
                Call::get(ctx.api("/users"))
                    .header("origin", OTHER_ORIGIN)
                    .header("cookie", &cookie),
                None,
            )
            .await?;
        ensure!(
            foreign.header("access-control-allow-origin").is_none(),
            "a response to {OTHER_ORIGIN} carries CORS headers: {:?}",
            foreign.headers
        );
        Ok(())
    })
}
