//! Responses in the payload version the request came in.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::cors::CorsConfig;
use crate::error::ApiError;
use crate::request::PayloadVersion;

/// An HTTP response for API Gateway. Header names are lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayResponse {
    /// HTTP status code.
    pub status: u16,
    /// Headers other than `set-cookie`.
    pub headers: Vec<(String, String)>,
    /// `Set-Cookie` values, one per cookie.
    pub cookies: Vec<String>,
    /// The body as text (base64 when `base64` is set).
    pub body: String,
    /// Whether `body` is base64-encoded binary.
    pub base64: bool,
}

impl GatewayResponse {
    /// A response with no body.
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            cookies: Vec::new(),
            body: String::new(),
            base64: false,
        }
    }

    /// A JSON response.
    pub fn json(status: u16, body: &impl Serialize) -> Result<Self, ApiError> {
        let body = serde_json::to_string(body)
            .map_err(|err| ApiError::internal(format!("serialising a response: {err}")))?;
        Ok(Self::text(status, "application/json", body))
    }

    /// A text response with the given content type.
    pub fn text(status: u16, content_type: &str, body: impl Into<String>) -> Self {
        Self::empty(status)
            .with_header("content-type", content_type)
            .with_body(body)
    }

    /// A redirect (302) to `location`.
    pub fn redirect(location: &str) -> Self {
        Self::empty(302).with_header("location", location)
    }

    /// Sets a header, replacing an earlier value of the same name.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        let name = name.to_ascii_lowercase();
        self.headers.retain(|(existing, _)| *existing != name);
        self.headers.push((name, value.into()));
        self
    }

    /// Adds a `Set-Cookie` value.
    pub fn with_cookie(mut self, cookie: impl Into<String>) -> Self {
        self.cookies.push(cookie.into());
        self
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(existing, _)| existing.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Adds the CORS headers `cors` grants to `origin` (none for a
    /// disallowed or absent origin).
    pub fn with_cors(mut self, cors: &CorsConfig, origin: Option<&str>) -> Self {
        for (name, value) in cors.response_headers(origin) {
            self = self.with_header(name, value);
        }
        self
    }

    /// The Lambda response event for API Gateway.
    pub fn into_event(self, version: PayloadVersion) -> Value {
        let headers: Map<String, Value> = self
            .headers
            .into_iter()
            .map(|(name, value)| (name, Value::String(value)))
            .collect();
        match version {
            PayloadVersion::RestV1 => {
                let mut event = json!({
                    "statusCode": self.status,
                    "headers": headers,
                    "body": self.body,
                    "isBase64Encoded": self.base64,
                });
                if !self.cookies.is_empty() {
                    event["multiValueHeaders"] = json!({ "set-cookie": self.cookies });
                }
                event
            }
            PayloadVersion::HttpV2 => json!({
                "statusCode": self.status,
                "headers": headers,
                "cookies": self.cookies,
                "body": self.body,
                "isBase64Encoded": self.base64,
            }),
        }
    }
}

impl From<ApiError> for GatewayResponse {
    fn from(err: ApiError) -> Self {
        let mut response = Self::text(
            err.status().as_u16(),
            "application/json",
            err.body().to_string(),
        );
        for (name, value) in err.headers() {
            response = response.with_header(name, value.clone());
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_v1_response_puts_cookies_in_multi_value_headers() {
        let event = GatewayResponse::json(200, &json!({"ok": true}))
            .unwrap()
            .with_cookie("a=1; Secure")
            .with_cookie("b=2; Secure")
            .into_event(PayloadVersion::RestV1);
        assert_eq!(event["statusCode"], 200);
        assert_eq!(event["headers"]["content-type"], "application/json");
        assert_eq!(event["body"], r#"{"ok":true}"#);
        assert_eq!(
            event["multiValueHeaders"]["set-cookie"],
            json!(["a=1; Secure", "b=2; Secure"])
        );
        assert_eq!(event["isBase64Encoded"], false);
    }

    #[test]
    fn http_v2_response_has_a_cookies_array() {
        let event = GatewayResponse::empty(204)
            .with_cookie("a=1")
            .into_event(PayloadVersion::HttpV2);
        assert_eq!(event["statusCode"], 204);
        assert_eq!(event["cookies"], json!(["a=1"]));
        assert_eq!(event["body"], "");
    }

    #[test]
    fn errors_become_json_bodies_with_their_headers() {
        let response = GatewayResponse::from(ApiError::unavailable(3, "try later"));
        assert_eq!(response.status, 503);
        assert_eq!(response.header("retry-after"), Some("3"));
        let body: Value = serde_json::from_str(&response.body).unwrap();
        assert_eq!(body["error"]["code"], "service_unavailable");
    }

    #[test]
    fn with_header_replaces_case_insensitively() {
        let response = GatewayResponse::empty(200)
            .with_header("Content-Type", "text/plain")
            .with_header("content-type", "text/xml");
        assert_eq!(
            response.headers,
            vec![("content-type".to_owned(), "text/xml".to_owned())]
        );
    }
}
