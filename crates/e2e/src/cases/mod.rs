//! The HTTP cases, and the sign-in every case that needs a user shares.

pub mod auth;
pub mod burst;
pub mod cors;
pub mod jwt;
pub mod shutdown;
pub mod sms;
pub mod users;

use reqwest::Method;
use serde_json::Value;

use crate::{Answer, Call, Ctx, Jar, ensure};

/// A finished sign-in: the browser-side cookies and the answers on the way.
#[derive(Debug)]
pub struct SignIn {
    /// The API's cookies after the callback.
    pub jar: Jar,
    /// `GET /auth/login`'s answer.
    pub login: Answer,
    /// The hosted UI's authorize URL it redirected to.
    pub authorize_url: String,
    /// `GET /auth/callback`'s answer.
    pub callback: Answer,
}

/// The query parameters of `url`.
pub fn query_pairs(url: &str) -> Vec<(String, String)> {
    url.split_once('?')
        .and_then(|(_, query)| serde_urlencoded::from_str(query).ok())
        .unwrap_or_default()
}

/// One query parameter of `url`.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    query_pairs(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Signs `username` in the way a browser does, over HTTP: the API's login
/// redirect, the hosted UI's form, the callback.
pub async fn sign_in(ctx: &Ctx<'_>, username: &str) -> Result<SignIn, String> {
    let stack = ctx.stack;
    let hosted_ui = stack.cognito().url();
    let mut jar = Jar::default();
    let login = ctx
        .client
        .send(
            Call::get(ctx.api("/auth/login?return_to=/")),
            Some(&mut jar),
        )
        .await?;
    ensure!(login.status == 302, "GET /auth/login: {}", login.describe());
    let authorize_url = login.header("location").unwrap_or_default().to_owned();
    ensure!(
        authorize_url.starts_with(&format!("{hosted_ui}/oauth2/authorize?")),
        "GET /auth/login redirected to {authorize_url:?}, not the hosted UI"
    );
    let to_form = ctx.client.send(Call::get(&authorize_url), None).await?;
    ensure!(
        to_form.status == 302,
        "GET /oauth2/authorize: {}",
        to_form.describe()
    );
    let form_path = to_form.header("location").unwrap_or_default().to_owned();
    let page = ctx
        .client
        .send(Call::get(format!("{hosted_ui}{form_path}")), None)
        .await?;
    ensure!(
        page.status == 200 && page.text.contains("id=\"username\""),
        "the hosted UI's sign-in page: {}",
        page.describe()
    );
    let mut fields = query_pairs(&form_path);
    fields.push(("username".into(), username.into()));
    fields.push(("password".into(), local_stack::PASSWORD.into()));
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let posted = ctx
        .client
        .send(
            Call::new(Method::POST, format!("{hosted_ui}/login")).form(&pairs),
            None,
        )
        .await?;
    ensure!(
        posted.status == 302,
        "signing {username} in on the hosted UI: {}",
        posted.describe()
    );
    let callback_url = posted.header("location").unwrap_or_default().to_owned();
    ensure!(
        callback_url.starts_with(&ctx.api("/auth/callback?")),
        "the hosted UI sent the browser to {callback_url:?}, not the API's callback"
    );
    let callback = ctx
        .client
        .send(Call::get(&callback_url), Some(&mut jar))
        .await?;
    ensure!(
        callback.status == 302
            && callback.header("location") == Some(&format!("{}/", stack.app_origin())),
        "GET /auth/callback: {} (location {:?})",
        callback.describe(),
        callback.header("location")
    );
    ensure!(
        jar.get("access_token").is_some(),
        "the callback set no access_token cookie"
    );
    Ok(SignIn {
        jar,
        login,
        authorize_url,
        callback,
    })
}

/// A JSON request to the API with the app's `Origin` (what the web app
/// sends; cookie-authenticated writes need it).
pub fn api_call(ctx: &Ctx<'_>, method: Method, path: &str, body: Option<&Value>) -> Call {
    let call = Call::new(method, ctx.api(path)).header("origin", ctx.stack.app_origin());
    match body {
        Some(body) => call.json(body),
        None => call,
    }
}

/// Sends [`api_call`] with `jar`'s cookies (and `If-Match` when given).
pub async fn send_api(
    ctx: &Ctx<'_>,
    jar: &mut Jar,
    method: Method,
    path: &str,
    body: Option<&Value>,
    if_match: Option<u64>,
) -> Result<Answer, String> {
    let mut request = api_call(ctx, method, path, body);
    if let Some(version) = if_match {
        request = request.header("if-match", format!("\"{version}\""));
    }
    ctx.client.send(request, Some(jar)).await
}

/// A `MessageSid`-shaped id, unique in this run.
pub fn unique_sid() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("SM{nanos:032x}")
}
