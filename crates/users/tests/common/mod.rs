//! Test support: one moto server shared by the tests of a binary (tables are
//! per test), the tables created from the schema shared with Terraform, and
//! API Gateway events for both payload versions.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::Client;
use moto_harness::SharedMoto;
use serde_json::{Map, Value, json};
use users::{Config, Deps};

/// The one definition of the tables, shared with the Terraform module.
pub const SCHEMA: &str = include_str!("../../../../terraform/schema/dynamodb.json");
/// Base64 of 32 bytes.
pub const CURSOR_SECRET: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
pub const ORIGIN: &str = "https://app.example.com";

pub fn schema() -> Value {
    serde_json::from_str(SCHEMA).expect("terraform/schema/dynamodb.json is valid JSON")
}

pub fn schema_table(logical: &str) -> Value {
    schema()["tables"][logical].clone()
}

/// A use of the test binary's shared (serial) moto server.
pub struct Moto {
    server: SharedMoto,
}

impl Moto {
    pub fn acquire() -> Self {
        Self {
            server: SharedMoto::acquire().unwrap_or_else(|err| panic!("{err}")),
        }
    }

    pub fn endpoint_url(&self) -> String {
        self.server.endpoint_url()
    }

    pub async fn client(&self) -> Client {
        Client::new(&self.server.sdk_config().await)
    }
}

/// A table name no other test uses.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates table `name` as the schema defines `logical`.
pub async fn create_table(client: &Client, logical: &str, name: &str) {
    moto_harness::create_table_from_schema(client, SCHEMA, logical, name)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
}

/// The users function over fresh tables in moto.
pub struct Api {
    pub deps: Deps,
    pub client: Client,
    pub users_table: String,
    pub claims_table: String,
    pub moto: Moto,
}

impl Api {
    pub async fn start() -> Self {
        let moto = Moto::acquire();
        let client = moto.client().await;
        let users_table = unique_name("users");
        let claims_table = unique_name("phone-claims");
        create_table(&client, "users", &users_table).await;
        create_table(&client, "phone_claims", &claims_table).await;
        let env = [
            ("USERS_TABLE", users_table.as_str()),
            ("PHONE_CLAIMS_TABLE", claims_table.as_str()),
            ("CURSOR_SECRET", CURSOR_SECRET),
            ("CORS_ALLOWED_ORIGINS", ORIGIN),
        ];
        let config = Config::from_env(env.as_slice()).unwrap();
        Self {
            deps: Deps::new(config, client.clone()),
            client,
            users_table,
            claims_table,
            moto,
        }
    }

    pub async fn call(&self, request: Req) -> Resp {
        let v2 = request.http_api;
        Resp::from_event(users::handle_event(&self.deps, request.event()).await, v2)
    }

    /// Creates a profile through the admin route.
    pub async fn seed(&self, user_id: &str, phone: Option<&str>) -> Value {
        let mut body = json!({"user_id": user_id, "email": format!("{user_id}@example.com"), "name": format!("User {user_id}")});
        if let Some(phone) = phone {
            body["phone"] = json!(phone);
        }
        let resp = self.call(Req::post("/users").admin().json(body)).await;
        assert_eq!(resp.status, 201, "{resp:?}");
        resp.body
    }

    /// The owner of `phone` in the claims table.
    pub async fn claim_owner(&self, phone: &str) -> Option<String> {
        let out = self
            .client
            .get_item()
            .table_name(&self.claims_table)
            .key(
                "phone",
                aws_sdk_dynamodb::types::AttributeValue::S(phone.to_owned()),
            )
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        out.item
            .and_then(|item| item.get("user_id").and_then(|v| v.as_s().ok()).cloned())
    }

    pub async fn claim_count(&self) -> usize {
        let out = self
            .client
            .scan()
            .table_name(&self.claims_table)
            .send()
            .await
            .unwrap();
        out.items().len()
    }
}

/// A request as API Gateway would deliver it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub caller: Option<(String, Vec<String>)>,
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub body: Option<String>,
    pub http_api: bool,
}

impl Req {
    pub fn new(method: &str, path: &str) -> Self {
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            caller: None,
            headers: vec![("origin".into(), ORIGIN.into())],
            query: Vec::new(),
            body: None,
            http_api: false,
        }
    }
    pub fn get(path: &str) -> Self {
        Self::new("GET", path)
    }
    pub fn post(path: &str) -> Self {
        Self::new("POST", path)
    }
    pub fn patch(path: &str) -> Self {
        Self::new("PATCH", path)
    }
    pub fn put(path: &str) -> Self {
        Self::new("PUT", path)
    }
    pub fn delete(path: &str) -> Self {
        Self::new("DELETE", path)
    }
    /// An authenticated user without groups.
    pub fn user(mut self, sub: &str) -> Self {
        self.caller = Some((sub.to_owned(), Vec::new()));
        self
    }
    /// An authenticated administrator.
    pub fn admin(mut self) -> Self {
        self.caller = Some((
            "admin-1".to_owned(),
            vec!["staff".to_owned(), "admin".to_owned()],
        ));
        self
    }
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body.to_string());
        self
    }
    pub fn raw_body(mut self, body: &str) -> Self {
        self.body = Some(body.to_owned());
        self
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
    pub fn if_match(self, version: u64) -> Self {
        self.header("if-match", &format!("\"{version}\""))
    }
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }
    /// Sends it as an HTTP API (payload 2.0) event instead of REST v1.
    pub fn http_api(mut self) -> Self {
        self.http_api = true;
        self
    }

    pub fn event(&self) -> Value {
        let headers: Map<String, Value> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let fields = self.caller.as_ref().map(|(sub, groups)| {
            json!({"sub": sub, "username": sub, "email": format!("{sub}@example.com"), "groups": groups.join(",")})
        });
        if self.http_api {
            let query: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let mut context = json!({
                "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
                "http": {"method": self.method, "path": format!("/prod{}", self.path), "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "test"},
                "requestId": "req-v2", "routeKey": "ANY /users/{proxy+}", "stage": "prod",
                "time": "28/Nov/2026:05:00:00 +0000", "timeEpoch": 1_795_000_000_000_i64
            });
            if let Some(fields) = fields {
                context["authorizer"] = json!({"lambda": fields});
            }
            json!({
                "version": "2.0", "routeKey": "ANY /users/{proxy+}",
                "rawPath": format!("/prod{}", self.path), "rawQueryString": query.join("&"),
                "headers": headers, "requestContext": context,
                "body": self.body.as_ref().map(|b| base64_encode(b.as_bytes())),
                "isBase64Encoded": self.body.is_some()
            })
        } else {
            let multi_headers: Map<String, Value> = self
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), json!([v])))
                .collect();
            let mut multi_query = Map::new();
            for (k, v) in &self.query {
                multi_query
                    .entry(k.clone())
                    .or_insert_with(|| json!([]))
                    .as_array_mut()
                    .unwrap()
                    .push(json!(v));
            }
            let single_query: Map<String, Value> = self
                .query
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            let mut authorizer = Value::Null;
            if let Some(mut fields) = fields {
                fields["principalId"] = fields["sub"].clone();
                authorizer = fields;
            }
            json!({
                "resource": "/users/{proxy+}", "path": self.path, "httpMethod": self.method,
                "headers": headers, "multiValueHeaders": multi_headers,
                "queryStringParameters": if single_query.is_empty() { Value::Null } else { Value::Object(single_query) },
                "multiValueQueryStringParameters": if multi_query.is_empty() { Value::Null } else { Value::Object(multi_query) },
                "pathParameters": null, "stageVariables": null,
                "requestContext": {
                    "resourcePath": "/users/{proxy+}", "httpMethod": self.method, "path": format!("/prod{}", self.path),
                    "stage": "prod", "requestId": "req-v1", "identity": {"sourceIp": "203.0.113.9"},
                    "authorizer": authorizer
                },
                "body": self.body, "isBase64Encoded": false
            })
        }
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A response event, parsed.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Map<String, Value>,
    pub body: Value,
    pub raw: Value,
}

impl Resp {
    pub fn from_event(event: Value, http_api: bool) -> Self {
        let status = u16::try_from(event["statusCode"].as_u64().unwrap()).unwrap();
        let headers = event["headers"].as_object().cloned().unwrap_or_default();
        let text = event["body"].as_str().unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(text).unwrap()
        };
        if http_api {
            assert!(
                event.get("cookies").is_some(),
                "an HTTP API response: {event}"
            );
        }
        Self {
            status,
            headers,
            body,
            raw: event,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(Value::as_str)
    }

    /// The error code of an error response.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or("<no error code>")
    }

    pub fn version(&self) -> u64 {
        self.body["version"].as_u64().unwrap()
    }
}
