//! Headless Chromium through chromedriver, with the few W3C WebDriver
//! commands the browser test needs (new session, navigate, find, type,
//! click, execute script, cookies), over the HTTP client already in the
//! workspace.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// The key W3C WebDriver uses for element references.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Debian's programs; `E2E_CHROMIUM` / `E2E_CHROMEDRIVER` override them.
const CHROMIUM: &str = "chromium";
const CHROMEDRIVER: &str = "chromedriver";
/// How to install them (what `cargo xtask setup` runs).
pub const INSTALL_HINT: &str = "apt-get install -y chromium chromium-driver (or cargo xtask setup)";

fn find(program: &str, variable: &str) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(variable) {
        return Ok(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| format!("`{program}` was not found: {INSTALL_HINT}"))
}

/// A running chromedriver; killed when dropped.
#[derive(Debug)]
pub struct Driver {
    url: String,
    chromium: PathBuf,
    child: Child,
    http: reqwest::Client,
}

impl Driver {
    /// Starts chromedriver on a free loopback port and waits until it is
    /// ready.
    pub async fn start() -> Result<Self, String> {
        let chromium = find(CHROMIUM, "E2E_CHROMIUM")?;
        let chromedriver = find(CHROMEDRIVER, "E2E_CHROMEDRIVER")?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("finding a port for chromedriver: {e}"))?
            .port();
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", chromedriver.display()))?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?;
        let mut driver = Self {
            url: format!("http://127.0.0.1:{port}"),
            chromium,
            child,
            http,
        };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = driver.child.try_wait() {
                return Err(format!("chromedriver exited at start ({status})"));
            }
            let ready = driver
                .http
                .get(format!("{}/status", driver.url))
                .send()
                .await
                .ok()
                .and_then(|r| r.status().is_success().then_some(r));
            if let Some(response) = ready
                && let Ok(body) = response.json::<Value>().await
                && body["value"]["ready"] == true
            {
                return Ok(driver);
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err("chromedriver did not become ready within 30 s".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A new headless Chromium with a fresh profile in `profile_dir`.
    pub async fn session(&self, profile_dir: &Path) -> Result<Session, String> {
        let args = [
            "--headless=new".to_owned(),
            // As root in a container there is no sandbox to use.
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--no-default-browser-check".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-proxy-server".to_owned(),
            format!("--user-data-dir={}", profile_dir.display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {"binary": self.chromium, "args": args}
        }}});
        let value = command(
            &self.http,
            reqwest::Method::POST,
            &format!("{}/session", self.url),
            Some(capabilities),
        )
        .await?;
        let id = value["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session id in {value}"))?
            .to_owned();
        let session = Session {
            base: format!("{}/session/{id}", self.url),
            http: self.http.clone(),
        };
        session
            .post(
                "/timeouts",
                json!({"script": 30_000, "pageLoad": 30_000, "implicit": 0}),
            )
            .await?;
        Ok(session)
    }
}

async fn command(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let mut request = http.request(method.clone(), url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("WebDriver {method} {url}: {e}"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|e| format!("WebDriver {method} {url}: unreadable answer: {e}"))?;
    if status.is_success() {
        Ok(body["value"].clone())
    } else {
        Err(format!(
            "WebDriver {method} {url}: {} {}",
            body["value"]["error"].as_str().unwrap_or("error"),
            body["value"]["message"]
                .as_str()
                .unwrap_or_default()
                .lines()
                .next()
                .unwrap_or_default()
        ))
    }
}

/// One browser session.
#[derive(Debug, Clone)]
pub struct Session {
    base: String,
    http: reqwest::Client,
}

impl Session {
    async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        command(
            &self.http,
            reqwest::Method::POST,
            &format!("{}{path}", self.base),
            Some(body),
        )
        .await
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        command(
            &self.http,
            reqwest::Method::GET,
            &format!("{}{path}", self.base),
            None,
        )
        .await
    }

    /// Loads `url` and waits for the page.
    pub async fn navigate(&self, url: &str) -> Result<(), String> {
        self.post("/url", json!({ "url": url })).await.map(|_| ())
    }

    /// The current page's URL.
    pub async fn current_url(&self) -> Result<String, String> {
        self.get("/url")
            .await?
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "no URL".into())
    }

    /// The element matching a CSS selector.
    pub async fn find(&self, css: &str) -> Result<String, String> {
        let value = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await?;
        value[ELEMENT_KEY]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no element reference for {css} in {value}"))
    }

    /// Types `text` into an element.
    pub async fn type_into(&self, element: &str, text: &str) -> Result<(), String> {
        self.post(
            &format!("/element/{element}/value"),
            json!({ "text": text }),
        )
        .await
        .map(|_| ())
    }

    /// Clicks an element.
    pub async fn click(&self, element: &str) -> Result<(), String> {
        self.post(&format!("/element/{element}/click"), json!({}))
            .await
            .map(|_| ())
    }

    /// Runs `script` (its `return` value comes back).
    pub async fn execute(&self, script: &str, args: Value) -> Result<Value, String> {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// Runs `script`, whose last argument is the callback to call with the
    /// result (use it to await a promise).
    pub async fn execute_async(&self, script: &str, args: Value) -> Result<Value, String> {
        self.post("/execute/async", json!({ "script": script, "args": args }))
            .await
    }

    /// Awaits `expression` (a promise) in the page and returns its value.
    pub async fn eval_promise(&self, expression: &str) -> Result<Value, String> {
        let script = format!(
            "const done = arguments[arguments.length - 1];\
             Promise.resolve().then(() => {expression}).then(done, (e) => done({{__error: String(e)}}));"
        );
        let value = self.execute_async(&script, json!([])).await?;
        match value.get("__error") {
            Some(error) => Err(format!("{expression} threw {error}")),
            None => Ok(value),
        }
    }

    /// Polls `expression` until it is truthy or `timeout` passes.
    pub async fn wait_for(&self, expression: &str, timeout: Duration) -> Result<Value, String> {
        let started = Instant::now();
        loop {
            let value = self
                .execute(&format!("return {expression};"), json!([]))
                .await
                .unwrap_or(Value::Null);
            if !matches!(value, Value::Null | Value::Bool(false)) {
                return Ok(value);
            }
            if started.elapsed() > timeout {
                let url = self.current_url().await.unwrap_or_default();
                return Err(format!(
                    "{expression} still false after {timeout:?} (page {url})"
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The cookies the browser holds for the current page's host.
    pub async fn cookies(&self) -> Result<Vec<Value>, String> {
        Ok(self
            .get("/cookie")
            .await?
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// Ends the session (and closes Chromium).
    pub async fn quit(self) {
        let _ = command(&self.http, reqwest::Method::DELETE, &self.base, None).await;
    }
}
