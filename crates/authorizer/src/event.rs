//! The three authorizer payloads API Gateway sends, and where the token is
//! in each.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequest, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayV2CustomAuthorizerV2Request,
};
use aws_lambda_events::http::HeaderMap;
use lambda_logging::Redacted;
use serde_json::Value;

use crate::Deny;
use crate::config::PayloadFormat;

/// An authorizer event, reduced to what the decision needs.
#[derive(Debug)]
pub(crate) enum Event {
    /// REST API `TOKEN` authorizer.
    RestToken {
        token: Result<Redacted<String>, Deny>,
        method_arn: Option<String>,
    },
    /// REST API `REQUEST` authorizer.
    RestRequest {
        token: Result<Redacted<String>, Deny>,
        method_arn: Option<String>,
    },
    /// HTTP API payload 2.0 (simple response).
    Http {
        token: Result<Redacted<String>, Deny>,
    },
}

impl Event {
    /// The payload kind, for logs.
    pub(crate) fn kind(&self) -> PayloadFormat {
        match self {
            Self::RestToken { .. } => PayloadFormat::Token,
            Self::RestRequest { .. } => PayloadFormat::Request,
            Self::Http { .. } => PayloadFormat::Http,
        }
    }
}

/// Recognises the payload; anything that is not one of the three known
/// shapes is an error (and so a denial).
pub(crate) fn classify(raw: Value, cookie_name: &str) -> Result<Event, Deny> {
    let kind = raw.get("type").and_then(Value::as_str);
    let version = raw.get("version").and_then(Value::as_str);
    match (kind, version) {
        (Some("TOKEN"), _) => {
            let event: ApiGatewayCustomAuthorizerRequest =
                serde_json::from_value(raw).map_err(malformed)?;
            let token = match event.authorization_token.as_deref() {
                Some(value) => bearer_token(value),
                None => Err(Deny::MissingToken),
            };
            Ok(Event::RestToken {
                token,
                method_arn: event.method_arn,
            })
        }
        (Some("REQUEST"), Some("2.0")) => {
            let event: ApiGatewayV2CustomAuthorizerV2Request =
                serde_json::from_value(raw).map_err(malformed)?;
            let token = match header(&event.headers, "authorization") {
                Some(value) => value.and_then(|value| bearer_token(&value)),
                None => event
                    .cookies
                    .iter()
                    .find_map(|pair| cookie_value(pair, cookie_name))
                    .or_else(|| cookie_from_headers(&event.headers, cookie_name))
                    .ok_or(Deny::MissingToken),
            };
            Ok(Event::Http { token })
        }
        // REST REQUEST events carry no version; HTTP API payload 1.0 ones
        // say "1.0" and expect the same IAM policy answer.
        (Some("REQUEST"), None | Some("1.0")) => {
            let event: ApiGatewayCustomAuthorizerRequestTypeRequest =
                serde_json::from_value(raw).map_err(malformed)?;
            // The multi-value map shows a repeated header that the
            // single-value map silently reduces to its last value.
            let token = match header(&event.multi_value_headers, "authorization")
                .or_else(|| header(&event.headers, "authorization"))
            {
                Some(value) => value.and_then(|value| bearer_token(&value)),
                None => cookie_from_headers(&event.headers, cookie_name)
                    .or_else(|| cookie_from_headers(&event.multi_value_headers, cookie_name))
                    .ok_or(Deny::MissingToken),
            };
            Ok(Event::RestRequest {
                token,
                method_arn: event.method_arn,
            })
        }
        _ => Err(Deny::UnknownEvent),
    }
}

/// serde's messages quote the offending value, which may be a credential,
/// so only the category and position are kept.
fn malformed(err: serde_json::Error) -> Deny {
    Deny::MalformedEvent(format!(
        "{:?} error at line {} column {}",
        err.classify(),
        err.line(),
        err.column()
    ))
}

/// The single value of header `name`, if present; a repeated header is
/// ambiguous, so it is refused rather than picking either value.
fn header(headers: &HeaderMap, name: &str) -> Option<Result<String, Deny>> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return Some(Err(Deny::RepeatedHeader));
    }
    Some(Ok(String::from_utf8_lossy(first.as_bytes()).into_owned()))
}

/// The credentials of `Authorization: Bearer <token>`. The scheme is
/// case-insensitive (RFC 7235); the token is one token68 with nothing after it.
pub(crate) fn bearer_token(value: &str) -> Result<Redacted<String>, Deny> {
    let value = value.trim_matches([' ', '\t']);
    if value.is_empty() {
        return Err(Deny::MissingToken);
    }
    let Some((scheme, rest)) = value.split_once([' ', '\t']) else {
        return Err(Deny::NotBearer);
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Deny::NotBearer);
    }
    let token = rest.trim_start_matches([' ', '\t']);
    if token.is_empty() {
        return Err(Deny::MissingToken);
    }
    if token.contains([' ', '\t', ',']) {
        // "Bearer Bearer x", "Bearer a b" or two credentials in one header.
        return Err(Deny::MalformedBearer);
    }
    Ok(Redacted(token.to_owned()))
}

/// `name`'s value from a `name=value` cookie pair.
fn cookie_value(pair: &str, name: &str) -> Option<Redacted<String>> {
    let (key, value) = pair.trim().split_once('=')?;
    let value = value.trim().trim_matches('"');
    (key.trim() == name && !value.is_empty()).then(|| Redacted(value.to_owned()))
}

/// `name`'s value from the `Cookie` header(s).
fn cookie_from_headers(headers: &HeaderMap, name: &str) -> Option<Redacted<String>> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| cookie_value(pair, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn token_of(event: Value) -> Result<String, Deny> {
        let token = match classify(event, "access_token")? {
            Event::RestToken { token, .. }
            | Event::RestRequest { token, .. }
            | Event::Http { token } => token,
        };
        token.map(|t| t.0)
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        for value in ["Bearer abc", "bearer abc", "BEARER abc", "  Bearer   abc  "] {
            assert_eq!(bearer_token(value).unwrap().0, "abc", "{value}");
        }
    }

    #[test]
    fn bearer_missing_doubled_or_other_scheme_is_refused() {
        assert!(matches!(bearer_token("abc.def.ghi"), Err(Deny::NotBearer)));
        assert!(matches!(
            bearer_token("Basic YWxhZGRpbjpvcGVu"),
            Err(Deny::NotBearer)
        ));
        assert!(matches!(
            bearer_token("Bearer Bearer abc"),
            Err(Deny::MalformedBearer)
        ));
        assert!(matches!(
            bearer_token("Bearer a, Bearer b"),
            Err(Deny::MalformedBearer)
        ));
        assert!(matches!(bearer_token("Bearer"), Err(Deny::NotBearer)));
        assert!(matches!(bearer_token("Bearer   "), Err(Deny::NotBearer)));
        assert!(matches!(bearer_token(""), Err(Deny::MissingToken)));
    }

    #[test]
    fn rest_request_reads_the_authorization_header_in_any_case() {
        let event = json!({
            "type": "REQUEST",
            "methodArn": "arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/x",
            "headers": {"AUTHORIZATION": "Bearer tok"},
            "requestContext": {}
        });
        assert_eq!(token_of(event).unwrap(), "tok");
    }

    #[test]
    fn rest_request_falls_back_to_the_access_token_cookie() {
        let event = json!({
            "type": "REQUEST",
            "headers": {"Cookie": "theme=dark; access_token=tok; other=1"},
            "requestContext": {}
        });
        assert_eq!(token_of(event).unwrap(), "tok");
    }

    #[test]
    fn authorization_header_wins_over_the_cookie() {
        let event = json!({
            "type": "REQUEST",
            "headers": {"Authorization": "Basic x", "Cookie": "access_token=tok"},
            "requestContext": {}
        });
        assert!(matches!(token_of(event), Err(Deny::NotBearer)));
    }

    #[test]
    fn http_api_reads_the_cookies_array() {
        let event = json!({
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": "arn:aws:execute-api:us-east-1:123456789012:api/$default/GET/x",
            "cookies": ["a=1", "access_token=tok"],
            "headers": {},
            "requestContext": {"http": {"method": "GET", "path": "/x", "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4", "userAgent": "t"}}
        });
        assert_eq!(token_of(event).unwrap(), "tok");
    }

    #[test]
    fn a_cookie_with_a_similar_name_is_not_the_token() {
        let event = json!({
            "type": "REQUEST",
            "headers": {"cookie": "xaccess_token=tok; access_token_old=tok"},
            "requestContext": {}
        });
        assert!(matches!(token_of(event), Err(Deny::MissingToken)));
    }

    #[test]
    fn repeated_authorization_header_is_refused() {
        let event = json!({
            "type": "REQUEST",
            "headers": {"Authorization": "Bearer b"},
            "multiValueHeaders": {"Authorization": ["Bearer a", "Bearer b"]},
            "requestContext": {}
        });
        assert!(matches!(token_of(event), Err(Deny::RepeatedHeader)));
    }

    #[test]
    fn request_without_credentials_is_missing_token() {
        let event = json!({"type": "REQUEST", "headers": {}, "requestContext": {}});
        assert!(matches!(token_of(event), Err(Deny::MissingToken)));
    }

    #[test]
    fn malformed_event_errors_do_not_quote_the_event() {
        let event = json!({
            "type": "REQUEST",
            "headers": {},
            "requestContext": "Bearer secret.tok.en"
        });
        let err = classify(event, "c").unwrap_err();
        assert!(matches!(err, Deny::MalformedEvent(_)), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn unknown_shapes_are_refused() {
        for event in [
            json!({}),
            json!({"type": "WEBSOCKET"}),
            json!({"type": "REQUEST", "version": "3.0"}),
            json!({"httpMethod": "GET", "path": "/"}),
            json!([1, 2]),
            json!("TOKEN"),
        ] {
            assert!(
                matches!(classify(event.clone(), "c"), Err(Deny::UnknownEvent)),
                "{event}"
            );
        }
    }
}
