//! What goes back to the client: the function's proxy response, or one of
//! API Gateway's own "gateway responses" (401, 403, 500, 502, 504, ...).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Value, json};

/// API Gateway's gateway response types the local gateway produces
/// (`aws_api_gateway_gateway_response.response_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResponseType {
    /// 401: identity source missing, or the authorizer said `Unauthorized`.
    Unauthorized,
    /// 403: the policy denies or does not allow the method.
    AccessDenied,
    /// 500: the authorizer failed or answered something malformed.
    AuthorizerConfigurationError,
    /// 500: the authorizer could not be run (timed out, crashed).
    AuthorizerFailure,
    /// 403: no resource or method matches.
    MissingAuthenticationToken,
    /// 413: the body is over API Gateway's 10 MB.
    RequestTooLarge,
    /// 504: the integration did not answer in time.
    IntegrationTimeout,
    /// Every 4xx without a type of its own.
    Default4xx,
    /// Every 5xx without a type of its own (a function error: 502).
    Default5xx,
}

impl ResponseType {
    /// The name Terraform and the API Gateway API use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unauthorized => "UNAUTHORIZED",
            Self::AccessDenied => "ACCESS_DENIED",
            Self::AuthorizerConfigurationError => "AUTHORIZER_CONFIGURATION_ERROR",
            Self::AuthorizerFailure => "AUTHORIZER_FAILURE",
            Self::MissingAuthenticationToken => "MISSING_AUTHENTICATION_TOKEN",
            Self::RequestTooLarge => "REQUEST_TOO_LARGE",
            Self::IntegrationTimeout => "INTEGRATION_TIMEOUT",
            Self::Default4xx => "DEFAULT_4XX",
            Self::Default5xx => "DEFAULT_5XX",
        }
    }

    /// Parses a Terraform `response_type`.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Unauthorized,
            Self::AccessDenied,
            Self::AuthorizerConfigurationError,
            Self::AuthorizerFailure,
            Self::MissingAuthenticationToken,
            Self::RequestTooLarge,
            Self::IntegrationTimeout,
            Self::Default4xx,
            Self::Default5xx,
        ]
        .into_iter()
        .find(|t| t.name() == name)
    }

    /// The family default this type falls back to when it has no
    /// customisation of its own.
    fn family(self, status: u16) -> Self {
        if status >= 500 {
            Self::Default5xx
        } else {
            Self::Default4xx
        }
    }
}

/// Static headers added to gateway responses, per type, like
/// `aws_api_gateway_gateway_response.response_parameters`. A type without
/// an entry takes its family's (`DEFAULT_4XX`/`DEFAULT_5XX`) entry, as in
/// API Gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayResponseHeaders(pub BTreeMap<ResponseType, Vec<(String, String)>>);

impl GatewayResponseHeaders {
    /// The headers for a response of `kind` with `status`.
    pub fn for_response(&self, kind: ResponseType, status: u16) -> &[(String, String)] {
        self.0
            .get(&kind)
            .or_else(|| self.0.get(&kind.family(status)))
            .map_or(&[], Vec::as_slice)
    }
}

/// An HTTP response, ready to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    /// Status code.
    pub status: u16,
    /// Headers in order; names as given, repeated names allowed.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpAnswer {
    /// The first value of a header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A gateway response of `kind`: status, body and `x-amzn-ErrorType` as
/// API Gateway sends them, plus the configured headers.
pub fn gateway_response(
    kind: ResponseType,
    status: u16,
    message: Option<&str>,
    request_id: &str,
    configured: &GatewayResponseHeaders,
) -> HttpAnswer {
    let error_type = match kind {
        ResponseType::Unauthorized => "UnauthorizedException",
        ResponseType::AccessDenied => "AccessDeniedException",
        ResponseType::AuthorizerConfigurationError | ResponseType::AuthorizerFailure => {
            "AuthorizerConfigurationException"
        }
        ResponseType::MissingAuthenticationToken => "MissingAuthenticationTokenException",
        ResponseType::RequestTooLarge => "RequestTooLargeException",
        ResponseType::IntegrationTimeout => "InternalServerErrorException",
        ResponseType::Default4xx => "BadRequestException",
        ResponseType::Default5xx => "InternalServerErrorException",
    };
    let mut headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-amzn-requestid".to_owned(), request_id.to_owned()),
        ("x-amzn-errortype".to_owned(), error_type.to_owned()),
    ];
    headers.extend(configured.for_response(kind, status).iter().cloned());
    HttpAnswer {
        status,
        headers,
        body: json!({ "message": message }).to_string().into_bytes(),
    }
}

/// Reads a function's proxy integration response (`statusCode`,
/// `headers`, `multiValueHeaders`, `body`, `isBase64Encoded`); anything else
/// is API Gateway's "Malformed Lambda proxy response" (a 502).
pub fn proxy_response(response: &Value, request_id: &str) -> Result<HttpAnswer, String> {
    let object = response
        .as_object()
        .ok_or("the function's answer is not a JSON object")?;
    if let Some(unknown) = object.keys().find(|k| {
        !matches!(
            k.as_str(),
            "statusCode" | "headers" | "multiValueHeaders" | "body" | "isBase64Encoded"
        )
    }) {
        return Err(format!(
            "unexpected field {unknown:?} in the proxy response"
        ));
    }
    let status = object
        .get("statusCode")
        .and_then(|s| {
            s.as_u64()
                .or_else(|| s.as_str().and_then(|t| t.parse().ok()))
        })
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (100..=599).contains(s))
        .ok_or("statusCode is missing or not an HTTP status")?;
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(multi) = object.get("multiValueHeaders").filter(|v| !v.is_null()) {
        let multi = multi
            .as_object()
            .ok_or("multiValueHeaders is not an object")?;
        for (name, values) in multi {
            let values = values
                .as_array()
                .ok_or_else(|| format!("multiValueHeaders.{name} is not an array"))?;
            for value in values {
                headers.push((name.clone(), scalar(value, name)?));
            }
        }
    }
    if let Some(single) = object.get("headers").filter(|v| !v.is_null()) {
        let single = single.as_object().ok_or("headers is not an object")?;
        for (name, value) in single {
            // A header given in both maps is sent once, from multiValueHeaders.
            if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                headers.push((name.clone(), scalar(value, name)?));
            }
        }
    }
    let base64 = match object.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(_) => return Err("isBase64Encoded is not a boolean".into()),
    };
    let body = match object.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) if base64 => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| "isBase64Encoded is set but body is not base64")?,
        Some(Value::String(text)) => text.clone().into_bytes(),
        Some(_) => return Err("body is not a string".into()),
    };
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("content-type".into(), "application/json".into()));
    }
    headers.push(("x-amzn-requestid".into(), request_id.to_owned()));
    Ok(HttpAnswer {
        status,
        headers,
        body,
    })
}

fn scalar(value: &Value, name: &str) -> Result<String, String> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(format!("header {name} has a value that is not a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors() -> GatewayResponseHeaders {
        GatewayResponseHeaders(
            [(
                ResponseType::Unauthorized,
                vec![(
                    "Access-Control-Allow-Origin".to_owned(),
                    "http://app".to_owned(),
                )],
            )]
            .into(),
        )
    }

    #[test]
    fn gateway_responses_carry_their_configured_headers_only() {
        let r = gateway_response(
            ResponseType::Unauthorized,
            401,
            Some("Unauthorized"),
            "r1",
            &cors(),
        );
        assert_eq!(r.status, 401);
        assert_eq!(r.body, br#"{"message":"Unauthorized"}"#);
        assert_eq!(r.header("access-control-allow-origin"), Some("http://app"));
        assert_eq!(r.header("x-amzn-errortype"), Some("UnauthorizedException"));
        let r = gateway_response(ResponseType::AccessDenied, 403, Some("x"), "r1", &cors());
        assert_eq!(r.header("access-control-allow-origin"), None);
        let r = gateway_response(
            ResponseType::AuthorizerConfigurationError,
            500,
            None,
            "r1",
            &cors(),
        );
        assert_eq!(r.body, br#"{"message":null}"#);
    }

    #[test]
    fn a_family_default_applies_to_types_without_their_own_headers() {
        let defaults = GatewayResponseHeaders(
            [
                (ResponseType::Default4xx, vec![("x-f".into(), "4".into())]),
                (ResponseType::Default5xx, vec![("x-f".into(), "5".into())]),
                (
                    ResponseType::AccessDenied,
                    vec![("x-own".into(), "1".into())],
                ),
            ]
            .into(),
        );
        let get = |kind, status| {
            gateway_response(kind, status, None, "r", &defaults)
                .headers
                .into_iter()
                .filter(|(n, _)| n.starts_with("x-f") || n.starts_with("x-own"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            get(ResponseType::MissingAuthenticationToken, 403),
            [("x-f".to_owned(), "4".to_owned())]
        );
        assert_eq!(
            get(ResponseType::AccessDenied, 403),
            [("x-own".to_owned(), "1".to_owned())]
        );
        assert_eq!(
            get(ResponseType::IntegrationTimeout, 504),
            [("x-f".to_owned(), "5".to_owned())]
        );
        assert_eq!(
            ResponseType::from_name("ACCESS_DENIED"),
            Some(ResponseType::AccessDenied)
        );
    }

    #[test]
    fn proxy_responses_merge_multi_value_headers_and_decode_base64() {
        let r = proxy_response(
            &json!({
                "statusCode": 302,
                "headers": {"location": "/x", "Set-Cookie": "ignored=1"},
                "multiValueHeaders": {"set-cookie": ["a=1", "b=2"]},
                "body": "aGk=",
                "isBase64Encoded": true
            }),
            "r1",
        )
        .unwrap();
        assert_eq!(r.status, 302);
        let cookies: Vec<&str> = r
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.body, b"hi");
    }

    #[test]
    fn malformed_proxy_responses_are_refused() {
        for bad in [
            json!("text"),
            json!({"body": "x"}),
            json!({"statusCode": 700}),
            json!({"statusCode": 200, "body": 5}),
            json!({"statusCode": 200, "headers": {"a": ["x"]}}),
            json!({"statusCode": 200, "isBase64Encoded": true, "body": "***"}),
            json!({"statusCode": 200, "extra": 1}),
            json!({"statusCode": 200, "cookies": ["a=1"]}),
        ] {
            assert!(proxy_response(&bad, "r").is_err(), "{bad}");
        }
    }
}
