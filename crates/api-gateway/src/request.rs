//! One request type for both API Gateway payload versions.

use std::collections::HashMap;

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use base64::Engine;
use http::{HeaderMap, HeaderValue, Method};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;
use crate::identity::Identity;

/// Which API Gateway flavour sent the event; responses go back in the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadVersion {
    /// REST API proxy integration (payload format 1.0).
    RestV1,
    /// HTTP API (payload format 2.0).
    HttpV2,
}

impl PayloadVersion {
    /// Detects the version from the raw event: HTTP API events say `"version": "2.0"`.
    pub fn of_event(event: &Value) -> Self {
        match event.get("version").and_then(Value::as_str) {
            Some("2.0") => Self::HttpV2,
            _ => Self::RestV1,
        }
    }
}

/// An API Gateway request, whichever payload version it came in.
#[derive(Debug, Clone)]
pub struct GatewayRequest {
    /// The payload version, so the response can match it.
    pub version: PayloadVersion,
    /// The HTTP method.
    pub method: Method,
    /// The path as the client sent it, without the stage prefix.
    pub path: String,
    /// Path parameters of the matched route (`{id}` -> value).
    pub path_parameters: HashMap<String, String>,
    /// Headers; multi-valued ones and HTTP API cookies included.
    pub headers: HeaderMap,
    /// Query parameters in order, repeated keys kept.
    pub query: Vec<(String, String)>,
    /// The body, base64-decoded when API Gateway had encoded it.
    pub body: Vec<u8>,
    /// The caller, when an authorizer vouched for one.
    pub identity: Option<Identity>,
    /// API Gateway's request id, for correlation.
    pub request_id: Option<String>,
}

impl GatewayRequest {
    /// Parses a REST v1 or HTTP API v2 proxy event.
    pub fn from_event(event: Value) -> Result<Self, ApiError> {
        match PayloadVersion::of_event(&event) {
            PayloadVersion::HttpV2 => {
                let raw: ApiGatewayV2httpRequest =
                    serde_json::from_value(event).map_err(malformed)?;
                Self::from_v2(raw)
            }
            PayloadVersion::RestV1 => {
                let raw: ApiGatewayProxyRequest =
                    serde_json::from_value(event).map_err(malformed)?;
                Self::from_v1(raw)
            }
        }
    }

    fn from_v1(raw: ApiGatewayProxyRequest) -> Result<Self, ApiError> {
        let mut headers = raw.multi_value_headers;
        for (name, value) in raw.headers.iter() {
            if !headers.contains_key(name) {
                headers.insert(name.clone(), value.clone());
            }
        }
        let mut query: Vec<(String, String)> = raw
            .multi_value_query_string_parameters
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        if query.is_empty() {
            query = raw
                .query_string_parameters
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        }
        let identity = Identity::from_authorizer(&raw.request_context.authorizer);
        Ok(Self {
            version: PayloadVersion::RestV1,
            method: raw.http_method,
            path: raw.path.unwrap_or_else(|| "/".to_owned()),
            path_parameters: raw.path_parameters,
            headers,
            query,
            body: decode_body(raw.body, raw.is_base64_encoded)?,
            identity,
            request_id: raw.request_context.request_id,
        })
    }

    fn from_v2(raw: ApiGatewayV2httpRequest) -> Result<Self, ApiError> {
        let mut headers = raw.headers;
        if let Some(cookies) = raw.cookies.filter(|c| !c.is_empty()) {
            let joined = HeaderValue::from_str(&cookies.join("; ")).map_err(|_| {
                ApiError::bad_request("malformed_cookie", "a cookie holds invalid characters")
            })?;
            headers.insert(http::header::COOKIE, joined);
        }
        let query = match raw.raw_query_string.as_deref() {
            Some(raw_query) if !raw_query.is_empty() => serde_urlencoded::from_str(raw_query)
                .map_err(|_| {
                    ApiError::bad_request("malformed_query", "the query string cannot be parsed")
                })?,
            _ => raw
                .query_string_parameters
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        };
        let stage = raw.request_context.stage.clone().unwrap_or_default();
        let raw_path = raw
            .raw_path
            .or(raw.request_context.http.path.clone())
            .unwrap_or_else(|| "/".to_owned());
        let identity = raw
            .request_context
            .authorizer
            .as_ref()
            .and_then(Identity::from_authorizer);
        Ok(Self {
            version: PayloadVersion::HttpV2,
            method: raw.request_context.http.method.clone(),
            path: strip_stage(&raw_path, &stage),
            path_parameters: raw.path_parameters,
            headers,
            query,
            body: decode_body(raw.body, raw.is_base64_encoded)?,
            identity,
            request_id: raw.request_context.request_id,
        })
    }

    /// A header's value as text, if present and valid UTF-8 (all values
    /// joined with `, ` when repeated).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// All values of a header.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    /// The first value of a query parameter.
    pub fn query_first(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// A cookie's value from the `Cookie` header(s).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.header_all("cookie")
            .into_iter()
            .flat_map(|header| header.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }

    /// The caller, or 401 when no authorizer identity is present.
    pub fn require_identity(&self) -> Result<&Identity, ApiError> {
        self.identity
            .as_ref()
            .ok_or_else(|| ApiError::unauthorized("no authenticated identity on this request"))
    }

    /// The body parsed as JSON into `T`: 413 over `limit` bytes, 400 when it
    /// is not JSON or does not fit `T` (serde's message names the field).
    pub fn json_body<T: DeserializeOwned>(&self, limit: usize) -> Result<T, ApiError> {
        if self.body.len() > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        if self.body.is_empty() {
            return Err(ApiError::bad_request(
                "missing_body",
                "a JSON body is required",
            ));
        }
        serde_json::from_slice(&self.body).map_err(|err| {
            let code = if err.is_syntax() || err.is_eof() {
                "invalid_json"
            } else {
                "invalid_body"
            };
            ApiError::bad_request(code, format!("the body is not valid: {err}"))
        })
    }
}

fn malformed(err: serde_json::Error) -> ApiError {
    ApiError::bad_request(
        "malformed_event",
        format!("the API Gateway event cannot be read: {err}"),
    )
}

fn decode_body(body: Option<String>, base64_encoded: bool) -> Result<Vec<u8>, ApiError> {
    let Some(body) = body else {
        return Ok(Vec::new());
    };
    if base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|_| {
                ApiError::bad_request("malformed_body", "the body is marked base64 but is not")
            })
    } else {
        Ok(body.into_bytes())
    }
}

/// HTTP API puts a named stage in `rawPath`; routes never include it.
fn strip_stage(path: &str, stage: &str) -> String {
    if stage.is_empty() || stage == "$default" {
        return path.to_owned();
    }
    let prefix = format!("/{stage}");
    match path.strip_prefix(&prefix) {
        Some("") => "/".to_owned(),
        Some(rest) if rest.starts_with('/') => rest.to_owned(),
        _ => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn rest_event(method: &str, path: &str) -> Value {
        json!({
            "resource": path,
            "path": path,
            "httpMethod": method,
            "headers": {"Origin": "https://app.example.com", "Content-Type": "application/json"},
            "multiValueHeaders": {"Origin": ["https://app.example.com"], "Content-Type": ["application/json"]},
            "queryStringParameters": {"limit": "10"},
            "multiValueQueryStringParameters": {"limit": ["10"], "tag": ["a", "b"]},
            "pathParameters": null,
            "stageVariables": null,
            "requestContext": {
                "resourcePath": path,
                "httpMethod": method,
                "path": format!("/prod{path}"),
                "stage": "prod",
                "requestId": "rest-req-1",
                "identity": {"sourceIp": "203.0.113.1"},
                "authorizer": {"principalId": "user-1", "sub": "user-1", "username": "alice", "groups": "[\"admin\",\"staff\"]", "scopes": "openid email", "token_use": "access"}
            },
            "body": null,
            "isBase64Encoded": false
        })
    }

    pub(crate) fn http_event(method: &str, path: &str) -> Value {
        json!({
            "version": "2.0",
            "routeKey": format!("{method} {path}"),
            "rawPath": format!("/dev{path}"),
            "rawQueryString": "limit=10&tag=a&tag=b",
            "cookies": ["a=1", "access_token=tok"],
            "headers": {"origin": "https://app.example.com", "content-type": "application/json"},
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "api",
                "domainName": "api.example.com",
                "http": {"method": method, "path": format!("/dev{path}"), "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1", "userAgent": "test"},
                "requestId": "http-req-1",
                "routeKey": format!("{method} {path}"),
                "stage": "dev",
                "time": "28/Nov/2026:04:00:00 +0000",
                "timeEpoch": 1_795_000_000_000_i64,
                "authorizer": {"lambda": {"sub": "user-2", "username": "bob", "groups": "[\"staff\"]"}}
            },
            "body": "eyJuYW1lIjoiQm9iIn0=",
            "isBase64Encoded": true
        })
    }

    #[test]
    fn parses_a_rest_v1_event() {
        let req = GatewayRequest::from_event(rest_event("GET", "/users/me")).unwrap();
        assert_eq!(req.version, PayloadVersion::RestV1);
        assert_eq!(req.method, Method::GET);
        assert_eq!(req.path, "/users/me");
        assert_eq!(req.header("origin"), Some("https://app.example.com"));
        assert_eq!(req.query_first("limit"), Some("10"));
        let tags: Vec<_> = req
            .query
            .iter()
            .filter(|(k, _)| k == "tag")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(tags, ["a", "b"]);
        assert_eq!(req.request_id.as_deref(), Some("rest-req-1"));
        let identity = req.identity.unwrap();
        assert_eq!(identity.sub, "user-1");
        assert!(identity.is_in_group("admin"));
    }

    #[test]
    fn parses_an_http_v2_event_decoding_base64_and_stripping_the_stage() {
        let req = GatewayRequest::from_event(http_event("PATCH", "/users/me")).unwrap();
        assert_eq!(req.version, PayloadVersion::HttpV2);
        assert_eq!(req.method, Method::PATCH);
        assert_eq!(req.path, "/users/me");
        assert_eq!(req.body, br#"{"name":"Bob"}"#);
        assert_eq!(req.cookie("access_token"), Some("tok"));
        let tags: Vec<_> = req
            .query
            .iter()
            .filter(|(k, _)| k == "tag")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(tags, ["a", "b"]);
        assert_eq!(req.identity.unwrap().username.as_deref(), Some("bob"));
    }

    #[test]
    fn a_non_event_is_a_400_not_a_panic() {
        let err = GatewayRequest::from_event(json!({"hello": "world"})).unwrap_err();
        assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
        assert_eq!(err.code(), "malformed_event");
    }

    #[test]
    fn bad_base64_body_is_a_400() {
        let mut event = http_event("POST", "/x");
        event["body"] = json!("%%%not base64");
        let err = GatewayRequest::from_event(event).unwrap_err();
        assert_eq!(err.code(), "malformed_body");
    }

    #[test]
    fn missing_identity_is_a_401() {
        let mut event = rest_event("GET", "/users/me");
        event["requestContext"]["authorizer"] = Value::Null;
        let req = GatewayRequest::from_event(event).unwrap();
        assert_eq!(
            req.require_identity().unwrap_err().status(),
            http::StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn json_body_errors_are_400_or_413() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Patch {
            name: String,
        }
        let mut req = GatewayRequest::from_event(http_event("PATCH", "/users/me")).unwrap();
        assert_eq!(req.json_body::<Patch>(1024).unwrap().name, "Bob");
        assert_eq!(
            req.json_body::<Patch>(4).unwrap_err().status(),
            http::StatusCode::PAYLOAD_TOO_LARGE
        );
        req.body = b"{not json".to_vec();
        assert_eq!(
            req.json_body::<Patch>(1024).unwrap_err().code(),
            "invalid_json"
        );
        req.body = br#"{"name":"x","admin":true}"#.to_vec();
        let err = req.json_body::<Patch>(1024).unwrap_err();
        assert_eq!(err.code(), "invalid_body");
        assert!(err.message().contains("admin"), "{}", err.message());
        req.body.clear();
        assert_eq!(
            req.json_body::<Patch>(1024).unwrap_err().code(),
            "missing_body"
        );
    }

    #[test]
    fn stage_is_stripped_only_as_a_whole_segment() {
        assert_eq!(strip_stage("/dev/users", "dev"), "/users");
        assert_eq!(strip_stage("/dev", "dev"), "/");
        assert_eq!(strip_stage("/devices", "dev"), "/devices");
        assert_eq!(strip_stage("/users", "$default"), "/users");
    }
}
