//! Cross-site request forgery defence for requests a browser authenticates
//! on its own.
//!
//! A browser attaches cookies to requests other sites make it send: a form
//! posted from `evil.example`, or a `fetch` with a CORS-safelisted content
//! type (`text/plain`, form encodings) from a same-site subdomain, is sent
//! with the user's cookies and without a preflight. So every unsafe request
//! (not GET, HEAD or OPTIONS) whose credential is a cookie must:
//!
//! - carry an `Origin` on the allow-list (browsers send `Origin` with
//!   every such request, same-origin ones included; a missing one means
//!   the browser hid it, which we do not guess about), and
//! - when it has a body, declare it `application/json`, a type a page can
//!   only send cross-origin after a CORS preflight our CORS policy decides.
//!
//! A bearer token is not CSRF-prone: a page can only send one it can read,
//! and a cross-origin `Authorization` header needs a preflight too.

use http::Method;

use crate::{ApiError, CorsConfig, CredentialSource, GatewayRequest};

/// Whether `method` can change state (anything but GET, HEAD, OPTIONS).
pub fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether the authorizer authenticated `request` by a cookie: what its
/// identity says, or, when it does not say (another authorizer), whether
/// the request carries a `Cookie` header at all.
pub fn authenticated_by_cookie(request: &GatewayRequest) -> bool {
    match request
        .identity
        .as_ref()
        .and_then(|identity| identity.credential)
    {
        Some(source) => source == CredentialSource::Cookie,
        None => request.header("cookie").is_some(),
    }
}

/// The CSRF checks of an unsafe request authenticated by a cookie (callers
/// decide that, e.g. with [`authenticated_by_cookie`]); `allowed_origin`
/// says which origins may send it. 403 `origin_required` /
/// `origin_not_allowed`, or 415 `unsupported_media_type`.
pub fn check(
    request: &GatewayRequest,
    allowed_origin: impl Fn(&str) -> bool,
) -> Result<(), ApiError> {
    if !is_unsafe(&request.method) {
        return Ok(());
    }
    match request.header("origin").map(str::trim) {
        None | Some("") | Some("null") => {
            return Err(ApiError::forbidden(
                "origin_required",
                "a request authenticated by a cookie must carry the Origin header a browser sends",
            ));
        }
        Some(origin) if !allowed_origin(origin) => {
            return Err(ApiError::forbidden(
                "origin_not_allowed",
                "requests from this origin are not accepted",
            ));
        }
        Some(_) => {}
    }
    if !request.body.iter().all(u8::is_ascii_whitespace) && !is_json(request.header("content-type"))
    {
        return Err(ApiError::new(
            http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        ));
    }
    Ok(())
}

/// [`check`] with the CORS allow-list as the allowed origins (`*` excluded:
/// it allows reading responses, not forging requests).
pub fn check_against_cors(request: &GatewayRequest, cors: &CorsConfig) -> Result<(), ApiError> {
    check(request, |origin| cors.allows_origin_explicitly(origin))
}

/// `application/json`, parameters (`; charset=utf-8`) allowed.
fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn request(
        method: &str,
        headers: Value,
        body: Option<&str>,
        credential: Option<&str>,
    ) -> GatewayRequest {
        let mut authorizer = json!({"sub": "u-1", "groups": "[]"});
        if let Some(credential) = credential {
            authorizer["credential"] = json!(credential);
        }
        GatewayRequest::from_event(json!({
            "resource": "/users/me", "path": "/users/me", "httpMethod": method,
            "headers": headers, "multiValueHeaders": {},
            "requestContext": {"resourcePath": "/users/me", "httpMethod": method, "stage": "prod",
                               "requestId": "r", "identity": {"sourceIp": "203.0.113.1"},
                               "authorizer": authorizer},
            "body": body, "isBase64Encoded": false
        }))
        .unwrap()
    }

    fn cors() -> CorsConfig {
        CorsConfig::from_env(&[(
            "CORS_ALLOWED_ORIGINS",
            "https://app.example.com,https://*.tools.example.com",
        )])
        .unwrap()
    }

    const APP: &str = "https://app.example.com";

    #[test]
    fn a_json_post_from_an_allowed_origin_passes() {
        for content_type in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
        ] {
            let req = request(
                "POST",
                json!({"origin": APP, "content-type": content_type}),
                Some("{}"),
                Some("cookie"),
            );
            assert_eq!(check_against_cors(&req, &cors()), Ok(()), "{content_type}");
        }
        let sub = request(
            "PATCH",
            json!({"origin": "https://a.tools.example.com", "content-type": "application/json"}),
            Some("{}"),
            Some("cookie"),
        );
        assert_eq!(check_against_cors(&sub, &cors()), Ok(()));
    }

    #[test]
    fn simple_request_content_types_are_415() {
        for content_type in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
        ] {
            let req = request(
                "POST",
                json!({"origin": APP, "content-type": content_type}),
                Some("{\"a\":1}"),
                Some("cookie"),
            );
            let err = check_against_cors(&req, &cors()).unwrap_err();
            assert_eq!(
                err.status(),
                http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{content_type}"
            );
            assert_eq!(err.code(), "unsupported_media_type");
        }
        let no_type = request("POST", json!({"origin": APP}), Some("{}"), Some("cookie"));
        assert_eq!(
            check_against_cors(&no_type, &cors()).unwrap_err().code(),
            "unsupported_media_type"
        );
    }

    #[test]
    fn missing_null_or_foreign_origins_are_403() {
        let json_type = "application/json";
        for (headers, code) in [
            (json!({"content-type": json_type}), "origin_required"),
            (
                json!({"origin": "null", "content-type": json_type}),
                "origin_required",
            ),
            (
                json!({"origin": "https://evil.example", "content-type": json_type}),
                "origin_not_allowed",
            ),
            (
                json!({"origin": "https://app.example.com.evil.example", "content-type": json_type}),
                "origin_not_allowed",
            ),
            (
                json!({"origin": "http://app.example.com", "content-type": json_type}),
                "origin_not_allowed",
            ),
            (
                json!({"origin": "https://tools.example.com", "content-type": json_type}),
                "origin_not_allowed",
            ),
        ] {
            let req = request("DELETE", headers.clone(), None, Some("cookie"));
            let err = check_against_cors(&req, &cors()).unwrap_err();
            assert_eq!(err.status(), http::StatusCode::FORBIDDEN, "{headers}");
            assert_eq!(err.code(), code, "{headers}");
        }
    }

    #[test]
    fn a_wildcard_cors_policy_allows_no_cookie_request() {
        let any = CorsConfig::from_env(&[("CORS_ALLOWED_ORIGINS", "*")]).unwrap();
        let req = request(
            "POST",
            json!({"origin": "https://evil.example", "content-type": "application/json"}),
            Some("{}"),
            Some("cookie"),
        );
        assert_eq!(
            check_against_cors(&req, &any).unwrap_err().code(),
            "origin_not_allowed"
        );
    }

    #[test]
    fn safe_methods_and_empty_bodies_need_no_content_type() {
        let get = request("GET", json!({}), None, Some("cookie"));
        assert_eq!(check_against_cors(&get, &cors()), Ok(()));
        let delete = request("DELETE", json!({"origin": APP}), None, Some("cookie"));
        assert_eq!(check_against_cors(&delete, &cors()), Ok(()));
    }

    #[test]
    fn the_credential_decides_whether_a_request_is_cookie_authenticated() {
        let cookie = request(
            "POST",
            json!({"cookie": "access_token=x"}),
            None,
            Some("cookie"),
        );
        assert!(authenticated_by_cookie(&cookie));
        // A bearer client that also happens to send cookies is not CSRF-prone:
        // the authorizer verified the bearer.
        let bearer = request(
            "POST",
            json!({"cookie": "access_token=x"}),
            None,
            Some("authorization"),
        );
        assert!(!authenticated_by_cookie(&bearer));
        // No word from the authorizer: any Cookie header counts.
        assert!(authenticated_by_cookie(&request(
            "POST",
            json!({"cookie": "a=1"}),
            None,
            None
        )));
        assert!(!authenticated_by_cookie(&request(
            "POST",
            json!({"authorization": "Bearer x"}),
            None,
            None
        )));
    }
}
