//! An HTTP client that talks to the stack as a browser-less client would:
//! `*.localhost` resolved to loopback, no automatic redirects, and a small
//! cookie jar that keeps each cookie's attributes so the suite can check
//! them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

/// One cookie as a `Set-Cookie` header set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    /// Name.
    pub name: String,
    /// Value (empty when cleared).
    pub value: String,
    /// Attributes, names lower case (`path`, `max-age`, `domain`,
    /// `samesite`, `httponly`, `secure`); flags have an empty value.
    pub attributes: BTreeMap<String, String>,
}

impl Cookie {
    /// Parses one `Set-Cookie` value.
    pub fn parse(header: &str) -> Option<Self> {
        let mut parts = header.split(';');
        let (name, value) = parts.next()?.trim().split_once('=')?;
        let attributes = parts
            .map(|part| {
                let part = part.trim();
                match part.split_once('=') {
                    Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim().to_owned()),
                    None => (part.to_ascii_lowercase(), String::new()),
                }
            })
            .collect();
        Some(Self {
            name: name.trim().to_owned(),
            value: value.trim().to_owned(),
            attributes,
        })
    }

    /// An attribute's value.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }

    /// Whether this `Set-Cookie` deletes the cookie.
    pub fn clears(&self) -> bool {
        self.attribute("max-age") == Some("0") || self.value.is_empty()
    }

    /// The cookie's path (`/` when unset).
    pub fn path(&self) -> &str {
        self.attribute("path").unwrap_or("/")
    }
}

/// What a client holds between requests, by name (one host, as the suite
/// only talks to the API).
#[derive(Debug, Clone, Default)]
pub struct Jar {
    cookies: BTreeMap<String, Cookie>,
}

impl Jar {
    /// Applies a response's `Set-Cookie` headers.
    pub fn store(&mut self, set_cookies: &[Cookie]) {
        for cookie in set_cookies {
            if cookie.clears() {
                self.cookies.remove(&cookie.name);
            } else {
                self.cookies.insert(cookie.name.clone(), cookie.clone());
            }
        }
    }

    /// A cookie by name.
    pub fn get(&self, name: &str) -> Option<&Cookie> {
        self.cookies.get(name)
    }

    /// Sets a cookie by hand (path `/`).
    pub fn set(&mut self, name: &str, value: &str) {
        self.cookies.insert(
            name.to_owned(),
            Cookie {
                name: name.to_owned(),
                value: value.to_owned(),
                attributes: BTreeMap::new(),
            },
        );
    }

    /// The `Cookie` header for a request to `path`, or `None`.
    pub fn header_for(&self, path: &str) -> Option<String> {
        let pairs: Vec<String> = self
            .cookies
            .values()
            .filter(|c| path_matches(c.path(), path))
            .map(|c| format!("{}={}", c.name, c.value))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }
}

/// RFC 6265 path matching.
fn path_matches(cookie_path: &str, request_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || request_path[cookie_path.len()..].starts_with('/')))
}

/// A response read in full.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status.
    pub status: u16,
    /// Headers (names lower case; repeated ones in order).
    pub headers: Vec<(String, String)>,
    /// Body text.
    pub text: String,
}

impl Answer {
    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// A header's first value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every `Set-Cookie`, parsed.
    pub fn set_cookies(&self) -> Vec<Cookie> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .filter_map(|(_, v)| Cookie::parse(v))
            .collect()
    }

    /// The `Set-Cookie` of `name`.
    pub fn set_cookie(&self, name: &str) -> Option<Cookie> {
        self.set_cookies().into_iter().find(|c| c.name == name)
    }

    /// `status body` for messages.
    pub fn describe(&self) -> String {
        let text: String = self.text.chars().take(300).collect();
        format!("{} {text}", self.status)
    }
}

/// A request being built.
#[derive(Debug, Clone)]
pub struct Call {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Call {
    /// A request.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// GET.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::GET, url)
    }

    /// A header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// A JSON body (with its content type).
    pub fn json(mut self, body: &Value) -> Self {
        self.body = Some(body.to_string().into_bytes());
        self.header("content-type", "application/json")
    }

    /// A raw body with the given content type.
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self.header("content-type", content_type)
    }

    /// A form body (with its content type).
    pub fn form(mut self, pairs: &[(&str, &str)]) -> Self {
        self.body = Some(
            serde_urlencoded::to_string(pairs)
                .unwrap_or_default()
                .into_bytes(),
        );
        self.header("content-type", "application/x-www-form-urlencoded")
    }

    /// The path of the URL (for cookie matching).
    fn path(&self) -> String {
        let after_scheme = self
            .url
            .split_once("://")
            .map_or(self.url.as_str(), |(_, r)| r);
        let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
        path.split(['?', '#']).next().unwrap_or("/").to_owned()
    }
}

/// The suite's HTTP client.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
}

impl Client {
    /// A client resolving `hosts` (on the stack's port) to 127.0.0.1.
    pub fn new(hosts: &[String], port: u16) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .no_proxy();
        for host in hosts {
            builder = builder.resolve(host, SocketAddr::from(([127, 0, 0, 1], port)));
        }
        Ok(Self {
            http: builder.build().map_err(|e| e.to_string())?,
        })
    }

    /// Sends `call`, with `jar`'s cookies when given, storing what the
    /// response sets back into it.
    pub async fn send(&self, call: Call, jar: Option<&mut Jar>) -> Result<Answer, String> {
        let path = call.path();
        let mut request = self.http.request(call.method.clone(), &call.url);
        for (name, value) in &call.headers {
            request = request.header(name, value);
        }
        let cookie = jar.as_ref().and_then(|j| j.header_for(&path));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(body) = call.body {
            request = request.body(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("{} {}: {e}", call.method, call.url))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let text = response
            .text()
            .await
            .map_err(|e| format!("{} {}: reading the body: {e}", call.method, call.url))?;
        let answer = Answer {
            status,
            headers,
            text,
        };
        if let Some(jar) = jar {
            jar.store(&answer.set_cookies());
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_cookie_attributes_are_kept() {
        let c = Cookie::parse(
            "access_token=a.b.c; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax",
        )
        .unwrap();
        assert_eq!(
            (c.name.as_str(), c.value.as_str()),
            ("access_token", "a.b.c")
        );
        assert_eq!(c.attribute("samesite"), Some("Lax"));
        assert_eq!(c.attribute("httponly"), Some(""));
        assert!(!c.clears());
        assert!(Cookie::parse("x=; Max-Age=0").unwrap().clears());
    }

    #[test]
    fn the_jar_sends_cookies_on_their_path_only_and_forgets_cleared_ones() {
        let mut jar = Jar::default();
        jar.store(&[
            Cookie::parse("a=1; Path=/").unwrap(),
            Cookie::parse("r=2; Path=/auth").unwrap(),
        ]);
        assert_eq!(jar.header_for("/users/me").as_deref(), Some("a=1"));
        assert_eq!(jar.header_for("/auth/refresh").as_deref(), Some("a=1; r=2"));
        assert_eq!(jar.header_for("/authx").as_deref(), Some("a=1"));
        jar.store(&[Cookie::parse("a=; Path=/; Max-Age=0").unwrap()]);
        assert_eq!(jar.header_for("/auth").as_deref(), Some("r=2"));
    }

    #[test]
    fn the_path_of_a_call_ignores_host_and_query() {
        assert_eq!(
            Call::get("http://h:1/auth/refresh?x=1").path(),
            "/auth/refresh"
        );
        assert_eq!(Call::get("http://h:1").path(), "/");
    }
}
