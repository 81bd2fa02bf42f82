//! Item 6: a real browser. Headless Chromium loads the test page from the
//! app's origin, signs in through the hosted UI, and drives the page's
//! `fetch(..., {credentials: "include"})` calls: the test that sees what
//! cookies and CORS do in a browser. Its negative controls run it against
//! deliberately broken stacks and require it to fail, at the step where
//! the breakage shows.

use std::io::Write as _;
use std::time::Duration;

use local_stack::{LogSink, Stack, StackConfig};
use serde_json::Value;

use crate::webdriver::{Driver, Session};
use crate::{CaseFuture, Ctx, SuiteOptions, stack_config};

/// Steps of the scenario, in order.
pub const OPEN: &str = "open the app signed out";
/// Step 2.
pub const SIGN_IN: &str = "sign in through the hosted UI";
/// Step 3.
pub const READ: &str = "read /users/me with the cookies";
/// Step 4.
pub const HIDDEN: &str = "tokens stay out of JavaScript";
/// Step 5.
pub const EDIT: &str = "edit the profile";
/// Step 6.
pub const REFRESH: &str = "refresh the session";
/// Step 7.
pub const LOGOUT: &str = "log out";

const PAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and why the scenario stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The step.
    pub step: &'static str,
    /// What went wrong.
    pub detail: String,
}

fn at(step: &'static str) -> impl Fn(String) -> Failure {
    move |detail| Failure { step, detail }
}

fn fail<T>(step: &'static str, detail: String) -> Result<T, Failure> {
    Err(Failure { step, detail })
}

/// `{status, body, error}` of one of the page's calls.
fn status(result: &Value) -> u64 {
    result["status"].as_u64().unwrap_or(0)
}

fn refused_or(result: &Value) -> String {
    if status(result) == 0 {
        format!(
            "the browser refused the API's answer (CORS or network): {}",
            result["error"]
        )
    } else {
        format!("status {} body {}", status(result), result["text"])
    }
}

/// The scenario for `username`, with the app at `app_origin`.
pub async fn scenario(
    session: &Session,
    stack: &Stack,
    app_origin: &str,
    username: &str,
) -> Result<(), Failure> {
    let user = stack
        .user(username)
        .ok_or_else(|| at(OPEN)(format!("{username} is not seeded")))?;
    let hosted_ui = stack.cognito().url();
    let api = stack.api_origin();

    session
        .navigate(&format!("{app_origin}/"))
        .await
        .map_err(at(OPEN))?;
    session
        .wait_for(
            "document.body && document.body.dataset.ready === 'true'",
            PAGE_TIMEOUT,
        )
        .await
        .map_err(at(OPEN))?;
    let me = session
        .execute("return window.lfState.me;", Value::Array(vec![]))
        .await
        .map_err(at(OPEN))?;
    if status(&me) != 401 {
        return fail(
            OPEN,
            format!(
                "signed out, /users/me should be a readable 401; {}",
                refused_or(&me)
            ),
        );
    }

    let link = session.find("#signin").await.map_err(at(SIGN_IN))?;
    session.click(&link).await.map_err(at(SIGN_IN))?;
    session
        .wait_for(
            &format!("location.href.startsWith('{hosted_ui}/login')"),
            PAGE_TIMEOUT,
        )
        .await
        .map_err(at(SIGN_IN))?;
    let name = session.find("#username").await.map_err(at(SIGN_IN))?;
    session
        .type_into(&name, username)
        .await
        .map_err(at(SIGN_IN))?;
    let password = session.find("#password").await.map_err(at(SIGN_IN))?;
    session
        .type_into(&password, local_stack::PASSWORD)
        .await
        .map_err(at(SIGN_IN))?;
    let submit = session.find("#signin").await.map_err(at(SIGN_IN))?;
    session.click(&submit).await.map_err(at(SIGN_IN))?;
    session
        .wait_for(
            &format!(
                "document.readyState === 'complete' && location.origin !== '{hosted_ui}' && !location.href.startsWith('{api}')"
            ),
            PAGE_TIMEOUT,
        )
        .await
        .map_err(at(SIGN_IN))?;
    let landed = session.current_url().await.map_err(at(SIGN_IN))?;
    if landed.contains("auth_error=") {
        return fail(SIGN_IN, format!("the sign-in ended on {landed}"));
    }

    if !landed.starts_with(app_origin) {
        session
            .navigate(&format!("{app_origin}/"))
            .await
            .map_err(at(READ))?;
    }
    session
        .wait_for(
            "document.body && document.body.dataset.ready === 'true'",
            PAGE_TIMEOUT,
        )
        .await
        .map_err(at(READ))?;
    let me = session
        .execute("return window.lfState.me;", Value::Array(vec![]))
        .await
        .map_err(at(READ))?;
    if status(&me) != 200 || me["body"]["email"] != user.user.email.as_str() {
        return fail(
            READ,
            format!(
                "signed in, /users/me should be {}'s profile; {}",
                username,
                refused_or(&me)
            ),
        );
    }

    let visible = session
        .execute("return lf.visibleCookies();", Value::Array(vec![]))
        .await
        .map_err(at(HIDDEN))?;
    let visible = visible.as_str().unwrap_or_default();
    if ["access_token", "id_token", "refresh_token"]
        .iter()
        .any(|n| visible.contains(n))
    {
        return fail(HIDDEN, format!("document.cookie shows {visible:?}"));
    }

    let new_name = format!("Browser {username}");
    let patched = session
        .eval_promise(&format!(
            "lf.patchMe({{name: '{new_name}'}}, window.lfState.me.body.version)"
        ))
        .await
        .map_err(at(EDIT))?;
    if status(&patched) != 200 || patched["body"]["name"] != new_name.as_str() {
        return fail(EDIT, format!("PATCH /users/me: {}", refused_or(&patched)));
    }
    let me = session.eval_promise("lf.me()").await.map_err(at(EDIT))?;
    if me["body"]["name"] != new_name.as_str() {
        return fail(EDIT, format!("the edit did not stick: {}", refused_or(&me)));
    }

    let refreshed = session
        .eval_promise("lf.refresh()")
        .await
        .map_err(at(REFRESH))?;
    if status(&refreshed) != 200 {
        return fail(
            REFRESH,
            format!("POST /auth/refresh: {}", refused_or(&refreshed)),
        );
    }
    let me = session.eval_promise("lf.me()").await.map_err(at(REFRESH))?;
    if status(&me) != 200 {
        return fail(
            REFRESH,
            format!("/users/me after the refresh: {}", refused_or(&me)),
        );
    }

    let out = session
        .eval_promise("lf.logout()")
        .await
        .map_err(at(LOGOUT))?;
    let logout_url = out["body"]["logout_url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if status(&out) != 200 || !logout_url.starts_with(&format!("{hosted_ui}/logout?")) {
        return fail(LOGOUT, format!("POST /auth/logout: {}", refused_or(&out)));
    }
    let me = session.eval_promise("lf.me()").await.map_err(at(LOGOUT))?;
    if status(&me) != 401 {
        return fail(
            LOGOUT,
            format!("/users/me after logout should be 401: {}", refused_or(&me)),
        );
    }
    let again = session
        .eval_promise("lf.refresh()")
        .await
        .map_err(at(LOGOUT))?;
    if status(&again) != 401 {
        return fail(
            LOGOUT,
            format!(
                "a refresh after logout should be 401: {}",
                refused_or(&again)
            ),
        );
    }
    session.navigate(&logout_url).await.map_err(at(LOGOUT))?;
    let back = session.current_url().await.map_err(at(LOGOUT))?;
    if back != format!("{}/", stack.app_origin()) {
        return fail(LOGOUT, format!("the hosted UI's logout ended on {back}"));
    }
    Ok(())
}

/// Runs the scenario in a fresh browser profile.
async fn in_fresh_browser(
    driver: &Driver,
    stack: &Stack,
    app_origin: &str,
    username: &str,
) -> Result<Result<(), Failure>, String> {
    let profile = tempfile::Builder::new()
        .prefix("e2e-chromium-")
        .tempdir()
        .map_err(|e| format!("creating a browser profile: {e}"))?;
    let session = driver.session(profile.path()).await?;
    let outcome = scenario(&session, stack, app_origin, username).await;
    session.quit().await;
    Ok(outcome)
}

/// The `browser` case, on the shared stack.
pub fn case<'a>(ctx: &'a Ctx<'a>) -> CaseFuture<'a> {
    Box::pin(async move {
        let driver = Driver::start().await?;
        let app = ctx.stack.app_origin();
        in_fresh_browser(&driver, ctx.stack, &app, "alice")
            .await?
            .map_err(|f| format!("step \"{}\" failed: {}", f.step, f.detail))
    })
}

/// One deliberately broken stack and where the scenario must notice.
struct Control {
    what: &'static str,
    expected_step: &'static str,
    /// Breaks the configuration; gets the port the stack will use.
    break_it: fn(&mut StackConfig, u16),
    /// Another app origin to run the scenario from (`None`: the app's).
    app_origin: Option<fn(u16) -> String>,
}

const OTHER_SITE_APP: &str = "app.elsewhere.localhost";
/// Functions that read the CORS allow-list (Terraform gives all the same).
const CORS_READERS: [&str; 4] = ["cors", "users", "auth", "sms"];

fn broken_stacks() -> Vec<Control> {
    vec![
        Control {
            what: "a CORS allow-list without the app's origin",
            expected_step: OPEN,
            break_it: |config, _| {
                for f in CORS_READERS {
                    config.env_overrides.entry(f.into()).or_default().insert(
                        "CORS_ALLOWED_ORIGINS".into(),
                        "https://app.example.com".into(),
                    );
                }
            },
            app_origin: None,
        },
        Control {
            what: "a cookie Domain outside the app's site",
            expected_step: READ,
            break_it: |config, _| {
                config
                    .env_overrides
                    .entry("auth".into())
                    .or_default()
                    .insert("COOKIE_DOMAIN".into(), "example.com".into());
            },
            app_origin: None,
        },
        Control {
            what: "SameSite=Strict cookies instead of Lax",
            expected_step: SIGN_IN,
            break_it: |config, _| {
                config.set_cookie_rewrite = Some(("SameSite=Lax".into(), "SameSite=Strict".into()));
            },
            app_origin: None,
        },
        Control {
            what: "the app on another site than the API",
            expected_step: READ,
            break_it: |config, port| {
                config.extra_app_hosts.push(OTHER_SITE_APP.into());
                for f in CORS_READERS {
                    config.env_overrides.entry(f.into()).or_default().insert(
                        "CORS_ALLOWED_ORIGINS".into(),
                        format!("http://{OTHER_SITE_APP}:{port}"),
                    );
                }
            },
            app_origin: Some(|port| format!("http://{OTHER_SITE_APP}:{port}")),
        },
    ]
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

async fn run_control(
    driver: &Driver,
    options: &SuiteOptions,
    control: &Control,
) -> Result<String, String> {
    let mut config = stack_config(options);
    let port = free_port()?;
    config.port = port;
    config.log = LogSink::capture();
    (control.break_it)(&mut config, port);
    let log = config.log.clone();
    let stack = Stack::start(config).await.map_err(|e| {
        format!(
            "{}: the stack did not start: {e}\n{}",
            control.what,
            log.dump()
        )
    })?;
    let app = control
        .app_origin
        .map_or_else(|| stack.app_origin(), |origin| origin(port));
    let outcome = in_fresh_browser(driver, &stack, &app, "alice").await;
    stack.shutdown().await;
    match outcome? {
        Ok(()) => Err(format!(
            "with {}, the browser test still passed: it would not catch that mistake",
            control.what
        )),
        Err(failure) if failure.step == control.expected_step => Ok(format!(
            "{}: caught at \"{}\" ({})",
            control.what, failure.step, failure.detail
        )),
        Err(failure) => Err(format!(
            "with {}, the browser test failed at \"{}\" ({}), not at \"{}\"",
            control.what, failure.step, failure.detail, control.expected_step
        )),
    }
}

/// The `browser-controls` case: each broken stack must fail the scenario.
pub fn controls<'a>(ctx: &'a Ctx<'a>) -> CaseFuture<'a> {
    Box::pin(async move {
        let driver = Driver::start().await?;
        let mut problems = Vec::new();
        for control in broken_stacks() {
            match run_control(&driver, ctx.options, &control).await {
                Ok(caught) => {
                    let _ = writeln!(std::io::stdout(), "  control {caught}");
                }
                Err(problem) => problems.push(problem),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    })
}
