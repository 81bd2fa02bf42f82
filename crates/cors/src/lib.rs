//! The cors function: answers CORS preflight (`OPTIONS`) requests for the
//! whole API from one origin allow-list.
//!
//! An allowed preflight gets 204 with the `Access-Control-*` headers; a
//! missing or unknown origin, or a method or header outside the policy, gets
//! 403 with a JSON error and no CORS headers, so the browser blocks the
//! actual request. Any other method is 405.

use api_gateway::{ApiError, CorsConfig, GatewayRequest, GatewayResponse};
use env_config::ConfigError;
use http::Method;
use serde_json::Value;

/// The methods this function answers.
const ALLOWED_METHODS: &[&str] = &["OPTIONS"];

/// A cors function without origins would refuse every preflight: that is a
/// configuration mistake, reported at init.
pub fn require_origins(config: CorsConfig) -> Result<CorsConfig, ConfigError> {
    if config.origins.is_empty() {
        Err(ConfigError::new(
            api_gateway::cors_vars::ORIGINS,
            "is required: list at least one allowed origin",
        ))
    } else {
        Ok(config)
    }
}

/// Handles one API Gateway event (REST v1 or HTTP API v2).
pub async fn handle_event(event: Value, cors: &CorsConfig) -> Value {
    // The 204 carries exactly the preflight headers computed below, and a
    // refused preflight must carry none, so the shared decorator is given a
    // policy that adds nothing.
    api_gateway::handle(event, &CorsConfig::disabled(), |request| async move {
        preflight(&request, cors)
    })
    .await
}

/// Answers one preflight.
pub fn preflight(request: &GatewayRequest, cors: &CorsConfig) -> Result<GatewayResponse, ApiError> {
    if request.method != Method::OPTIONS {
        return Err(ApiError::method_not_allowed(
            request.method.as_str(),
            ALLOWED_METHODS,
        ));
    }
    let headers = cors
        .preflight(
            request.header("origin"),
            request.header("access-control-request-method"),
            request.header("access-control-request-headers"),
        )
        .map_err(|refusal| ApiError::forbidden(refusal.code(), refusal.to_string()))?;
    Ok(headers
        .into_iter()
        .fold(GatewayResponse::empty(204), |response, (name, value)| {
            response.with_header(name, value)
        }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const APP: &str = "https://app.example.com";

    fn cors(extra: &[(&str, &str)]) -> CorsConfig {
        let mut vars = vec![(
            "CORS_ALLOWED_ORIGINS",
            "https://app.example.com,https://*.preview.example.com",
        )];
        vars.extend_from_slice(extra);
        CorsConfig::from_env(vars.as_slice()).unwrap()
    }

    fn rest_preflight(method: &str, headers: Value) -> Value {
        json!({
            "resource": "/users/{id}",
            "path": "/users/42",
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {},
            "queryStringParameters": null,
            "multiValueQueryStringParameters": null,
            "pathParameters": {"id": "42"},
            "stageVariables": null,
            "requestContext": {"httpMethod": method, "stage": "prod", "requestId": "r1", "identity": {}},
            "body": null,
            "isBase64Encoded": false
        })
    }

    fn http_preflight(method: &str, headers: Value) -> Value {
        json!({
            "version": "2.0",
            "routeKey": "OPTIONS /users/{id}",
            "rawPath": "/users/42",
            "rawQueryString": "",
            "headers": headers,
            "requestContext": {
                "http": {"method": method, "path": "/users/42", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "t"},
                "requestId": "r2", "routeKey": "OPTIONS /users/{id}", "stage": "$default", "timeEpoch": 0
            },
            "isBase64Encoded": false
        })
    }

    fn cors_headers(response: &Value) -> Vec<String> {
        response["headers"]
            .as_object()
            .map(|h| {
                h.keys()
                    .filter(|k| k.starts_with("access-control-"))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn allowed_origin_gets_204_with_every_preflight_header_rest() {
        let response = handle_event(
            rest_preflight(
                "OPTIONS",
                json!({"Origin": APP, "Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "content-type,authorization"}),
            ),
            &cors(&[("CORS_MAX_AGE", "120")]),
        )
        .await;
        assert_eq!(response["statusCode"], 204);
        let headers = &response["headers"];
        assert_eq!(headers["access-control-allow-origin"], APP);
        assert_eq!(headers["vary"], "Origin");
        assert_eq!(
            headers["access-control-allow-methods"],
            "GET, POST, PUT, PATCH, DELETE, OPTIONS"
        );
        assert_eq!(
            headers["access-control-allow-headers"],
            "content-type, authorization"
        );
        assert_eq!(headers["access-control-max-age"], "120");
        assert!(headers.get("access-control-allow-credentials").is_none());
        assert!(
            response.get("cookies").is_none(),
            "REST responses have no cookies array"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn allowed_origin_gets_204_over_http_api_with_credentials_when_configured() {
        let response = handle_event(
            http_preflight(
                "OPTIONS",
                json!({"origin": "https://pr-7.preview.example.com", "access-control-request-method": "GET"}),
            ),
            &cors(&[("CORS_ALLOW_CREDENTIALS", "true")]),
        )
        .await;
        assert_eq!(response["statusCode"], 204);
        assert_eq!(
            response["headers"]["access-control-allow-origin"],
            "https://pr-7.preview.example.com"
        );
        assert_eq!(
            response["headers"]["access-control-allow-credentials"],
            "true"
        );
        assert_eq!(
            response["headers"]["access-control-allow-headers"],
            "authorization, content-type, if-match"
        );
        assert_eq!(response["cookies"], json!([]));
    }

    async fn assert_refused(event: Value, code: &str) {
        let response = handle_event(event, &cors(&[])).await;
        assert_eq!(response["statusCode"], 403, "{response}");
        assert!(
            cors_headers(&response).is_empty(),
            "no CORS headers on a refusal: {response}"
        );
        let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["error"]["code"], code);
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        assert_eq!(response["headers"]["content-type"], "application/json");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn disallowed_origin_gets_403_without_cors_headers() {
        assert_refused(
            rest_preflight("OPTIONS", json!({"Origin": "https://evil.example.net", "Access-Control-Request-Method": "GET"})),
            "cors_origin_not_allowed",
        )
        .await;
        assert_refused(
            http_preflight("OPTIONS", json!({"origin": "https://preview.example.com", "access-control-request-method": "GET"})),
            "cors_origin_not_allowed",
        )
        .await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn missing_origin_gets_403() {
        assert_refused(
            http_preflight("OPTIONS", json!({"access-control-request-method": "GET"})),
            "cors_missing_origin",
        )
        .await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn method_or_header_outside_the_policy_gets_403() {
        assert_refused(
            rest_preflight(
                "OPTIONS",
                json!({"Origin": APP, "Access-Control-Request-Method": "TRACE"}),
            ),
            "cors_method_not_allowed",
        )
        .await;
        assert_refused(
            rest_preflight(
                "OPTIONS",
                json!({"Origin": APP, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-debug"}),
            ),
            "cors_header_not_allowed",
        )
        .await;
        assert_refused(
            rest_preflight("OPTIONS", json!({"Origin": APP})),
            "cors_missing_method",
        )
        .await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn other_methods_get_405_with_allow_header() {
        for event in [
            rest_preflight("GET", json!({"Origin": APP})),
            http_preflight("POST", json!({"origin": APP})),
        ] {
            let response = handle_event(event, &cors(&[])).await;
            assert_eq!(response["statusCode"], 405);
            assert_eq!(response["headers"]["allow"], "OPTIONS");
            let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
            assert_eq!(body["error"]["code"], "method_not_allowed");
        }
    }

    #[test]
    fn no_origins_is_an_init_error_naming_the_variable() {
        let err =
            require_origins(CorsConfig::from_env(&[("CORS_MAX_AGE", "10")]).unwrap()).unwrap_err();
        assert_eq!(err.variable, "CORS_ALLOWED_ORIGINS");
    }

    #[test]
    fn malformed_origin_or_star_with_credentials_fail_init() {
        let bad = CorsConfig::from_env(&[("CORS_ALLOWED_ORIGINS", "https://app.example.com/")]);
        assert_eq!(bad.unwrap_err().variable, "CORS_ALLOWED_ORIGINS");
        let star = CorsConfig::from_env(&[
            ("CORS_ALLOWED_ORIGINS", "*"),
            ("CORS_ALLOW_CREDENTIALS", "true"),
        ]);
        assert_eq!(star.unwrap_err().variable, "CORS_ALLOWED_ORIGINS");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_malformed_event_is_a_400_not_a_crash() {
        let response = handle_event(json!({"unexpected": true}), &cors(&[])).await;
        assert_eq!(response["statusCode"], 400);
    }
}
