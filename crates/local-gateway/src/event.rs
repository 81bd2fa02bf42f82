//! The events API Gateway (REST API) sends: the Lambda proxy integration's
//! request (payload 1.0, `aws_lambda_events::apigw::ApiGatewayProxyRequest`)
//! and the REQUEST authorizer's
//! (`ApiGatewayCustomAuthorizerRequestTypeRequest`).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use http::HeaderMap;
use serde_json::{Map, Value, json};

use crate::policy::AuthorizerAnswer;
use crate::routes::{Matched, percent_decode};

/// Where the API lives: what ARNs and `requestContext` name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiIdentity {
    /// Region in ARNs (`us-east-1`).
    pub region: String,
    /// Account id in ARNs.
    pub account_id: String,
    /// The REST API id (`requestContext.apiId`).
    pub api_id: String,
    /// The stage (`requestContext.stage`).
    pub stage: String,
}

impl Default for ApiIdentity {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            api_id: "local".into(),
            stage: "v1".into(),
        }
    }
}

impl ApiIdentity {
    /// The method ARN the authorizer sees and its policy is matched
    /// against: `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}`
    /// with the path as requested (variables filled in).
    pub fn method_arn(&self, method: &str, path: &str) -> String {
        format!(
            "arn:aws:execute-api:{}:{}:{}/{}/{}/{}",
            self.region,
            self.account_id,
            self.api_id,
            self.stage,
            method,
            path.trim_start_matches('/')
        )
    }
}

/// One request as the gateway received it, after routing.
#[derive(Debug, Clone)]
pub struct IncomingRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path as requested (percent-encoding kept), without the query.
    pub path: &'a str,
    /// Raw query string, without `?`.
    pub query: Option<&'a str>,
    /// Headers (names lower case).
    pub headers: &'a HeaderMap,
    /// Body bytes.
    pub body: &'a [u8],
    /// The client's address.
    pub source_ip: &'a str,
    /// The route it matched.
    pub matched: &'a Matched,
    /// This request's id (`requestContext.requestId`, `x-amzn-RequestId`).
    pub request_id: &'a str,
    /// When it arrived.
    pub received_at: SystemTime,
}

impl IncomingRequest<'_> {
    /// Header name -> its last value, and name -> every value, as REST API
    /// events carry them.
    fn headers_maps(&self) -> (Map<String, Value>, Map<String, Value>) {
        let mut single = Map::new();
        let mut multi: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for (name, value) in self.headers {
            let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
            single.insert(name.as_str().to_owned(), Value::String(text.clone()));
            multi
                .entry(name.as_str().to_owned())
                .or_default()
                .push(Value::String(text));
        }
        let multi = multi
            .into_iter()
            .map(|(k, v)| (k, Value::Array(v)))
            .collect();
        (single, multi)
    }

    /// Query parameter -> its last value, and -> every value (decoded).
    fn query_maps(&self) -> (Map<String, Value>, Map<String, Value>) {
        let mut single = Map::new();
        let mut multi: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for pair in self.query.unwrap_or_default().split('&') {
            if pair.is_empty() {
                continue;
            }
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (key, value) = (percent_decode(key), percent_decode(value));
            single.insert(key.clone(), Value::String(value.clone()));
            multi.entry(key).or_default().push(Value::String(value));
        }
        let multi = multi
            .into_iter()
            .map(|(k, v)| (k, Value::Array(v)))
            .collect();
        (single, multi)
    }

    fn path_parameters(&self) -> Value {
        if self.matched.path_parameters.is_empty() {
            return Value::Null;
        }
        Value::Object(
            self.matched
                .path_parameters
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }

    fn identity(&self) -> Value {
        json!({
            "sourceIp": self.source_ip,
            "userAgent": self.header("user-agent"),
            "accessKey": null, "accountId": null, "apiKey": null, "apiKeyId": null,
            "caller": null, "cognitoAuthenticationProvider": null,
            "cognitoAuthenticationType": null, "cognitoIdentityId": null,
            "cognitoIdentityPoolId": null, "principalOrgId": null, "user": null, "userArn": null
        })
    }

    fn request_context(&self, api: &ApiIdentity) -> Value {
        let millis = self
            .received_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let host = self.header("host").unwrap_or_default();
        let domain = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
        json!({
            "accountId": api.account_id,
            "apiId": api.api_id,
            "domainName": domain,
            "domainPrefix": domain.split('.').next().unwrap_or_default(),
            "extendedRequestId": self.request_id,
            "httpMethod": self.method,
            "identity": self.identity(),
            // A custom domain with an empty base path: the path as called.
            "path": self.path,
            "protocol": "HTTP/1.1",
            "requestId": self.request_id,
            "requestTime": request_time(millis / 1000),
            "requestTimeEpoch": millis,
            "resourceId": resource_id(&self.matched.resource),
            "resourcePath": self.matched.resource,
            "stage": api.stage,
        })
    }
}

/// The Lambda proxy integration's event (REST API, payload 1.0).
pub fn proxy_event(
    request: &IncomingRequest<'_>,
    api: &ApiIdentity,
    authorizer: Option<(&AuthorizerAnswer, u64)>,
) -> Value {
    let (headers, multi_headers) = request.headers_maps();
    let (query, multi_query) = request.query_maps();
    let mut context = request.request_context(api);
    if let Some((answer, latency_ms)) = authorizer {
        let mut fields = answer.context.clone();
        fields.insert("principalId".into(), json!(answer.principal_id));
        fields.insert("integrationLatency".into(), json!(latency_ms));
        context["authorizer"] = Value::Object(fields);
    }
    let (body, base64) = match request.body {
        [] => (Value::Null, false),
        bytes => match std::str::from_utf8(bytes) {
            Ok(text) => (Value::String(text.to_owned()), false),
            // REST APIs without binary media types mangle such bodies; we
            // pass them on intact, flagged.
            Err(_) => (
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
                true,
            ),
        },
    };
    let or_null = |map: Map<String, Value>| {
        if map.is_empty() {
            Value::Null
        } else {
            Value::Object(map)
        }
    };
    json!({
        "resource": request.matched.resource,
        "path": request.path,
        "httpMethod": request.method,
        "headers": or_null(headers),
        "multiValueHeaders": or_null(multi_headers),
        "queryStringParameters": or_null(query),
        "multiValueQueryStringParameters": or_null(multi_query),
        "pathParameters": request.path_parameters(),
        "stageVariables": null,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": base64,
    })
}

/// The REQUEST authorizer's event.
pub fn authorizer_event(request: &IncomingRequest<'_>, api: &ApiIdentity) -> Value {
    let (headers, multi_headers) = request.headers_maps();
    let (query, multi_query) = request.query_maps();
    json!({
        "type": "REQUEST",
        "methodArn": api.method_arn(request.method, request.path),
        "resource": request.matched.resource,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": request.path_parameters(),
        "stageVariables": {},
        "requestContext": request.request_context(api),
    })
}

/// A short stable id per resource path, like API Gateway's resource ids.
fn resource_id(resource: &str) -> String {
    // FNV-1a: only needs to be stable and distinct, not secure.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in resource.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:06x}", hash & 0xff_ffff)
}

/// `dd/Mon/yyyy:HH:mm:ss +0000`, as in `requestContext.requestTime`.
pub fn request_time(epoch_seconds: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = i64::try_from(epoch_seconds / 86_400).unwrap_or(0);
    let secs = epoch_seconds % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let month_name = MONTHS[usize::try_from(month - 1).unwrap_or(0)];
    format!(
        "{day:02}/{month_name}/{year}:{:02}:{:02}:{:02} +0000",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::Target;
    use aws_lambda_events::apigw::{
        ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayProxyRequest,
    };

    fn matched() -> Matched {
        Matched {
            resource: "/users/{id}".into(),
            path_parameters: [("id".to_owned(), "u 1".to_owned())].into(),
            target: Target {
                function: "users".into(),
                authorized: true,
            },
        }
    }

    fn headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("host", "api.example.localhost:8080".parse().unwrap());
        headers.insert("cookie", "access_token=abc".parse().unwrap());
        headers.append("x-many", "one".parse().unwrap());
        headers.append("x-many", "two".parse().unwrap());
        headers
    }

    fn with_request<T>(body: &[u8], f: impl FnOnce(&IncomingRequest<'_>) -> T) -> T {
        let headers = headers();
        let matched = matched();
        let request = IncomingRequest {
            method: "PATCH",
            path: "/users/u%201",
            query: Some("a=1&a=2&b=x%2By&flag"),
            headers: &headers,
            body,
            source_ip: "127.0.0.1",
            matched: &matched,
            request_id: "req-1",
            received_at: UNIX_EPOCH + std::time::Duration::from_secs(1_428_582_896),
        };
        f(&request)
    }

    #[test]
    fn the_proxy_event_is_an_api_gateway_proxy_request() {
        let answer = AuthorizerAnswer::parse(&json!({
            "principalId": "sub-1",
            "policyDocument": {"Version": "2012-10-17", "Statement": []},
            "context": {"sub": "sub-1", "groups": "admin"}
        }))
        .unwrap();
        let event = with_request(br#"{"name":"Ada"}"#, |r| {
            proxy_event(r, &ApiIdentity::default(), Some((&answer, 7)))
        });
        let parsed: ApiGatewayProxyRequest = serde_json::from_value(event.clone()).unwrap();
        assert_eq!(parsed.resource.as_deref(), Some("/users/{id}"));
        assert_eq!(parsed.path.as_deref(), Some("/users/u%201"));
        assert_eq!(parsed.http_method, http::Method::PATCH);
        assert_eq!(parsed.path_parameters["id"], "u 1");
        assert_eq!(
            parsed.multi_value_headers.get_all("x-many").iter().count(),
            2
        );
        assert_eq!(parsed.headers["x-many"], "two");
        assert_eq!(
            parsed
                .multi_value_query_string_parameters
                .all("a")
                .unwrap_or_default(),
            ["1", "2"]
        );
        assert_eq!(parsed.query_string_parameters.first("b"), Some("x+y"));
        assert_eq!(parsed.query_string_parameters.first("flag"), Some(""));
        assert_eq!(parsed.body.as_deref(), Some(r#"{"name":"Ada"}"#));
        assert!(!parsed.is_base64_encoded);
        let context = &parsed.request_context;
        assert_eq!(context.stage.as_deref(), Some("v1"));
        assert_eq!(context.resource_path.as_deref(), Some("/users/{id}"));
        assert_eq!(
            context.domain_name.as_deref(),
            Some("api.example.localhost")
        );
        assert_eq!(context.authorizer.fields["sub"], json!("sub-1"));
        assert_eq!(context.authorizer.fields["principalId"], json!("sub-1"));
        assert_eq!(
            event["requestContext"]["requestTime"],
            "09/Apr/2015:12:34:56 +0000"
        );
    }

    #[test]
    fn a_body_that_is_not_utf8_is_passed_base64_encoded_and_none_is_null() {
        let event = with_request(&[0xff, 0x00], |r| {
            proxy_event(r, &ApiIdentity::default(), None)
        });
        assert_eq!(event["body"], "/wA=");
        assert_eq!(event["isBase64Encoded"], true);
        assert!(event["requestContext"].get("authorizer").is_none());
        let event = with_request(b"", |r| proxy_event(r, &ApiIdentity::default(), None));
        assert_eq!(event["body"], Value::Null);
    }

    #[test]
    fn the_authorizer_event_is_a_request_authorizer_request_with_the_method_arn() {
        let event = with_request(b"", |r| authorizer_event(r, &ApiIdentity::default()));
        let parsed: ApiGatewayCustomAuthorizerRequestTypeRequest =
            serde_json::from_value(event).unwrap();
        assert_eq!(
            parsed.method_arn.as_deref(),
            Some("arn:aws:execute-api:us-east-1:123456789012:local/v1/PATCH/users/u%201")
        );
        assert_eq!(parsed.headers["cookie"], "access_token=abc");
        assert_eq!(parsed.path_parameters["id"], "u 1");
    }

    #[test]
    fn request_times_are_in_api_gateway_format() {
        assert_eq!(request_time(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(request_time(951_782_400), "29/Feb/2000:00:00:00 +0000");
        assert_eq!(request_time(1_767_225_599), "31/Dec/2025:23:59:59 +0000");
    }
}
