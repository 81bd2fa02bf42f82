//! The gateway's pipeline with in-process functions: API Gateway's
//! authorizer semantics (identity sources, cache, TTL, deny, errors), the
//! proxy integration and the gateway responses, over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use local_gateway::{
    AuthorizerConfig, Gateway, GatewayConfig, GatewayResponseHeaders, IdentitySource, InvokeError,
    InvokeFuture, Invoker, ResponseType, Route, RouteMethod, RouteTable,
};
use serde_json::{Value, json};

type Handler = Box<dyn Fn(&Value) -> Result<Value, InvokeError> + Send + Sync>;

/// Functions as closures, recording every event they get.
#[derive(Default)]
struct Functions {
    handlers: HashMap<String, Handler>,
    calls: Mutex<Vec<(String, Value)>>,
}

impl Functions {
    fn with(
        mut self,
        name: &str,
        f: impl Fn(&Value) -> Result<Value, InvokeError> + Send + Sync + 'static,
    ) -> Self {
        self.handlers.insert(name.to_owned(), Box::new(f));
        self
    }

    fn calls_of(&self, name: &str) -> Vec<Value> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, e)| e.clone())
            .collect()
    }
}

impl Invoker for Functions {
    fn invoke<'a>(&'a self, function: &'a str, event: Value) -> InvokeFuture<'a> {
        Box::pin(async move {
            self.calls
                .lock()
                .unwrap()
                .push((function.to_owned(), event.clone()));
            if event["headers"]["x-slow"] == "yes" {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            match self.handlers.get(function) {
                Some(handler) => handler(&event),
                None => Err(InvokeError::Unavailable(format!("no function {function}"))),
            }
        })
    }
}

/// The authorizer: the cookie `access_token=<user>` allows that user,
/// `deny` gets an explicit deny, `bad` the `Unauthorized` error, `boom`
/// another error, `weird` a malformed answer.
fn authorizer(event: &Value) -> Result<Value, InvokeError> {
    let cookie = event["headers"]["cookie"].as_str().unwrap_or_default();
    let token = cookie
        .split(';')
        .find_map(|p| p.trim().strip_prefix("access_token="))
        .unwrap_or_default();
    let arn = event["methodArn"].as_str().unwrap();
    let stage_wide = format!(
        "{}/*/*",
        arn.splitn(3, '/').take(2).collect::<Vec<_>>().join("/")
    );
    let policy = |effect: &str| {
        json!({
            "principalId": token,
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": effect, "Action": "execute-api:Invoke", "Resource": stage_wide}
            ]},
            "context": {"sub": token, "groups": ""}
        })
    };
    match token {
        "deny" => Ok(policy("Deny")),
        "bad" => Err(InvokeError::Function {
            error_type: "Unauthorized".into(),
            message: "Unauthorized".into(),
        }),
        "boom" => Err(InvokeError::Function {
            error_type: "Runtime.Panic".into(),
            message: "boom".into(),
        }),
        "weird" => Ok(json!({"principalId": "x"})),
        _ => Ok(policy("Allow")),
    }
}

fn echo(event: &Value) -> Result<Value, InvokeError> {
    Ok(json!({
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "multiValueHeaders": {"set-cookie": ["a=1; Path=/", "b=2; Path=/"]},
        "body": json!({
            "sub": event["requestContext"]["authorizer"]["sub"],
            "principal": event["requestContext"]["authorizer"]["principalId"],
            "resource": event["resource"],
            "id": event["pathParameters"]["id"],
        }).to_string(),
    }))
}

fn routes() -> RouteTable {
    let route = |function: &str, method: &str, path: &str, authorized| {
        Route::new(
            function,
            RouteMethod::parse(method).unwrap(),
            path,
            authorized,
        )
    };
    RouteTable::new(
        vec![
            route("users", "GET", "/users/me", true),
            route("users", "GET", "/users/{id}", true),
            route("broken", "GET", "/broken", false),
            route("malformed", "GET", "/malformed", false),
            route("users", "POST", "/open", false),
        ],
        Some("cors".into()),
    )
    .unwrap()
}

struct Api {
    url: String,
    functions: Arc<Functions>,
    client: reqwest::Client,
}

impl Api {
    async fn start(ttl: Duration) -> Self {
        let functions = Arc::new(
            Functions::default()
                .with("authorizer", authorizer)
                .with("users", echo)
                .with("cors", |_| {
                    Ok(json!({"statusCode": 204, "headers": {"x-preflight": "1"}}))
                })
                .with("broken", |_| {
                    Err(InvokeError::Function {
                        error_type: "Panic".into(),
                        message: "oops".into(),
                    })
                })
                .with("malformed", |_| Ok(json!({"status": 200}))),
        );
        let mut config = GatewayConfig::new(routes());
        config.authorizer = Some(AuthorizerConfig {
            function: "authorizer".into(),
            identity_sources: vec![IdentitySource::parse("method.request.header.Cookie").unwrap()],
            ttl,
        });
        config.integration_timeout = Duration::from_millis(200);
        config.gateway_responses = GatewayResponseHeaders(
            [ResponseType::Unauthorized, ResponseType::AccessDenied]
                .into_iter()
                .map(|t| {
                    (
                        t,
                        vec![(
                            "Access-Control-Allow-Origin".to_owned(),
                            "http://app.test.localhost".to_owned(),
                        )],
                    )
                })
                .collect(),
        );
        let gateway = Arc::new(Gateway::new(config, functions.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        gateway.serve(listener);
        Self {
            url,
            functions,
            client: reqwest::Client::new(),
        }
    }

    async fn get(
        &self,
        path: &str,
        cookie: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut request = self.client.get(format!("{}{path}", self.url));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, headers, body)
    }
}

#[tokio::test]
async fn a_missing_identity_source_is_401_without_invoking_the_authorizer() {
    let api = Api::start(Duration::from_secs(300)).await;
    let (status, headers, body) = api.get("/users/me", None).await;
    assert_eq!(status, 401);
    assert_eq!(body, json!({"message": "Unauthorized"}));
    assert_eq!(
        headers["access-control-allow-origin"],
        "http://app.test.localhost"
    );
    assert_eq!(headers["x-amzn-errortype"], "UnauthorizedException");
    assert!(api.functions.calls_of("authorizer").is_empty());
    assert!(api.functions.calls_of("users").is_empty());
}

#[tokio::test]
async fn decisions_are_cached_on_the_identity_source_value_for_the_ttl() {
    let api = Api::start(Duration::from_millis(400)).await;
    let (status, _, body) = api.get("/users/me", Some("access_token=alice")).await;
    assert_eq!(status, 200);
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["principal"], "alice");
    // Another route, same identity: the cached stage-wide policy covers it.
    let (status, _, body) = api.get("/users/42", Some("access_token=alice")).await;
    assert_eq!((status, body["id"].as_str()), (200, Some("42")));
    assert_eq!(body["resource"], "/users/{id}");
    assert_eq!(api.functions.calls_of("authorizer").len(), 1);
    // A different value is a different cache key.
    let (_, _, body) = api.get("/users/me", Some("access_token=bob")).await;
    assert_eq!(body["sub"], "bob");
    assert_eq!(api.functions.calls_of("authorizer").len(), 2);
    // After the TTL the authorizer runs again.
    tokio::time::sleep(Duration::from_millis(450)).await;
    api.get("/users/me", Some("access_token=alice")).await;
    assert_eq!(api.functions.calls_of("authorizer").len(), 3);
    let event = &api.functions.calls_of("authorizer")[0];
    assert_eq!(event["type"], "REQUEST");
    assert_eq!(
        event["methodArn"],
        "arn:aws:execute-api:us-east-1:123456789012:local/v1/GET/users/me"
    );
}

#[tokio::test]
async fn a_zero_ttl_invokes_the_authorizer_every_time() {
    let api = Api::start(Duration::ZERO).await;
    for _ in 0..3 {
        api.get("/users/me", Some("access_token=alice")).await;
    }
    assert_eq!(api.functions.calls_of("authorizer").len(), 3);
}

#[tokio::test]
async fn an_explicit_deny_is_403_and_is_cached_too() {
    let api = Api::start(Duration::from_secs(300)).await;
    for _ in 0..2 {
        let (status, headers, body) = api.get("/users/me", Some("access_token=deny")).await;
        assert_eq!(status, 403);
        assert_eq!(
            body["message"],
            "User is not authorized to access this resource with an explicit deny"
        );
        assert_eq!(
            headers["access-control-allow-origin"],
            "http://app.test.localhost"
        );
    }
    assert_eq!(api.functions.calls_of("authorizer").len(), 1);
    assert!(api.functions.calls_of("users").is_empty());
}

#[tokio::test]
async fn unauthorized_is_401_and_other_authorizer_failures_are_500() {
    let api = Api::start(Duration::from_secs(300)).await;
    let (status, _, body) = api.get("/users/me", Some("access_token=bad")).await;
    assert_eq!((status, body), (401, json!({"message": "Unauthorized"})));
    for token in ["boom", "weird"] {
        let (status, headers, body) = api
            .get("/users/me", Some(&format!("access_token={token}")))
            .await;
        assert_eq!(status, 500, "{token}");
        assert_eq!(body, json!({"message": null}));
        assert_eq!(
            headers["x-amzn-errortype"],
            "AuthorizerConfigurationException"
        );
        // The Terraform module adds CORS headers to 401 and 403 only.
        assert!(headers.get("access-control-allow-origin").is_none());
    }
    assert!(api.functions.calls_of("users").is_empty());
}

#[tokio::test]
async fn preflights_go_to_the_preflight_function_without_the_authorizer() {
    let api = Api::start(Duration::from_secs(300)).await;
    let response = api
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/users/me", api.url))
        .header("origin", "http://app.test.localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(response.headers()["x-preflight"], "1");
    assert!(api.functions.calls_of("authorizer").is_empty());
    let event = &api.functions.calls_of("cors")[0];
    assert_eq!(event["httpMethod"], "OPTIONS");
    assert_eq!(event["resource"], "/users/me");
}

#[tokio::test]
async fn unknown_routes_are_missing_authentication_token() {
    let api = Api::start(Duration::from_secs(300)).await;
    for path in ["/nowhere", "/users/me/deeper"] {
        let (status, headers, body) = api.get(path, Some("access_token=alice")).await;
        assert_eq!(status, 403, "{path}");
        assert_eq!(body, json!({"message": "Missing Authentication Token"}));
        assert_eq!(
            headers["x-amzn-errortype"],
            "MissingAuthenticationTokenException"
        );
    }
    assert!(api.functions.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn function_errors_and_malformed_answers_are_502_and_slow_ones_504() {
    let api = Api::start(Duration::from_secs(300)).await;
    for path in ["/broken", "/malformed"] {
        let (status, _, body) = api.get(path, None).await;
        assert_eq!(status, 502, "{path}");
        assert_eq!(body, json!({"message": "Internal server error"}));
    }
    let response = api
        .client
        .post(format!("{}/open", api.url))
        .header("x-slow", "yes")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 504);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["message"], "Endpoint request timed out");
}

#[tokio::test]
async fn every_set_cookie_value_reaches_the_client() {
    let api = Api::start(Duration::from_secs(300)).await;
    let response = api
        .client
        .post(format!("{}/open?x=1", api.url))
        .body("hello")
        .send()
        .await
        .unwrap();
    let cookies: Vec<&str> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies, ["a=1; Path=/", "b=2; Path=/"]);
    let event = &api.functions.calls_of("users")[0];
    assert_eq!(event["body"], "hello");
    assert_eq!(event["queryStringParameters"]["x"], "1");
    assert_eq!(event["headers"]["x-forwarded-for"], "127.0.0.1");
    assert_eq!(event["headers"]["x-forwarded-proto"], "http");
    assert!(
        event["headers"]["x-amzn-trace-id"]
            .as_str()
            .unwrap()
            .starts_with("Root=1-")
    );
    assert!(event["requestContext"].get("authorizer").is_none());
}

#[tokio::test]
async fn a_body_over_ten_megabytes_is_413() {
    let api = Api::start(Duration::from_secs(300)).await;
    let response = api
        .client
        .post(format!("{}/open", api.url))
        .body(vec![b'x'; local_gateway::MAX_BODY_BYTES + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert!(api.functions.calls.lock().unwrap().is_empty());
}
