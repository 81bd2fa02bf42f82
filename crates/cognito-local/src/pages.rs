//! The hosted UI's HTML: the sign-in form and the error page.

/// The OAuth parameters a sign-in carries from `/oauth2/authorize` to the
/// form and back.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct AuthorizeParams {
    /// `response_type` (only `code`).
    #[serde(default)]
    pub response_type: String,
    /// `client_id`.
    #[serde(default)]
    pub client_id: String,
    /// `redirect_uri`.
    #[serde(default)]
    pub redirect_uri: String,
    /// `state`, returned untouched.
    #[serde(default)]
    pub state: Option<String>,
    /// `scope`, space-separated.
    #[serde(default)]
    pub scope: Option<String>,
    /// `code_challenge` (PKCE).
    #[serde(default)]
    pub code_challenge: Option<String>,
    /// `code_challenge_method` (only `S256`).
    #[serde(default)]
    pub code_challenge_method: Option<String>,
}

/// `&`, `<`, `>`, `"` and `'` as entities.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#222}\
label{display:block;margin:.8rem 0 .2rem}input[type=text],input[type=password]{width:100%;padding:.5rem;box-sizing:border-box}\
button{margin-top:1.2rem;padding:.6rem 1.2rem}.error{color:#b00020}.note{color:#666;font-size:.85rem;margin-top:2rem}";

/// The sign-in form; `error` is shown above it.
pub fn login_form(params: &AuthorizeParams, error: Option<&str>) -> String {
    let hidden = [
        ("response_type", Some(params.response_type.as_str())),
        ("client_id", Some(params.client_id.as_str())),
        ("redirect_uri", Some(params.redirect_uri.as_str())),
        ("state", params.state.as_deref()),
        ("scope", params.scope.as_deref()),
        ("code_challenge", params.code_challenge.as_deref()),
        (
            "code_challenge_method",
            params.code_challenge_method.as_deref(),
        ),
    ]
    .iter()
    .filter_map(|(name, value)| {
        value.map(|v| {
            format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                escape(v)
            )
        })
    })
    .collect::<Vec<_>>()
    .join("\n      ");
    let error = error.map_or_else(String::new, |e| {
        format!("<p class=\"error\" id=\"error\">{}</p>", escape(e))
    });
    format!(
        "<!doctype html>
<html lang=\"en\">
  <head><meta charset=\"utf-8\"><title>Sign in</title><style>{STYLE}</style></head>
  <body>
    <h1>Sign in</h1>
    {error}
    <form method=\"post\" action=\"/login\" id=\"login\">
      {hidden}
      <label for=\"username\">Username</label>
      <input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" required>
      <label for=\"password\">Password</label>
      <input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>
      <button type=\"submit\" id=\"signin\">Sign in</button>
    </form>
    <p class=\"note\">Local stand-in for the Cognito hosted UI: users and tokens come from moto's user pool.</p>
  </body>
</html>
"
    )
}

/// The page for a request that cannot be redirected back (unknown client,
/// unregistered redirect or logout URL).
pub fn error_page(message: &str) -> String {
    format!(
        "<!doctype html>
<html lang=\"en\">
  <head><meta charset=\"utf-8\"><title>Error</title><style>{STYLE}</style></head>
  <body>
    <h1>An error was encountered with the requested page.</h1>
    <p class=\"error\" id=\"error\">{}</p>
  </body>
</html>
",
        escape(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_carries_every_parameter_escaped() {
        let page = login_form(
            &AuthorizeParams {
                response_type: "code".into(),
                client_id: "c1".into(),
                redirect_uri: "http://x/cb".into(),
                state: Some("s\"><script>".into()),
                scope: None,
                code_challenge: Some("abc".into()),
                code_challenge_method: Some("S256".into()),
            },
            Some("<b>bad</b>"),
        );
        assert!(page.contains("name=\"state\" value=\"s&quot;&gt;&lt;script&gt;\""));
        assert!(page.contains("name=\"code_challenge\" value=\"abc\""));
        assert!(!page.contains("name=\"scope\""));
        assert!(page.contains("&lt;b&gt;bad&lt;/b&gt;"));
        assert!(!page.contains("<script>"));
    }
}
