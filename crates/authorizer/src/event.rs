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
use crate::config::{CredentialSource, PayloadFormat};

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

/// Recognises the payload and takes the token from the one credential
/// `source` names; the other credential is never looked at. Anything that
/// is not one of the three known shapes is an error (and so a denial).
pub(crate) fn classify(
    raw: Value,
    source: CredentialSource,
    cookie_name: &str,
) -> Result<Event, Deny> {
    let kind = raw.get("type").and_then(Value::as_str);
    let version = raw.get("version").and_then(Value::as_str);
    match (kind, version) {
        (Some("TOKEN"), _) => {
            let event: ApiGatewayCustomAuthorizerRequest =
                serde_json::from_value(raw).map_err(malformed)?;
            // A TOKEN authorizer gets the identity source's value as is:
            // the Cookie header or the Authorization header.
            let value = event.authorization_token.as_deref();
            let token = match source {
                CredentialSource::Authorization => match value {
                    Some(value) => bearer_token(value),
                    None => Err(Deny::MissingToken(source)),
                },
                CredentialSource::Cookie => cookie_from(value.into_iter(), cookie_name)
                    .and_then(|token| token.ok_or(Deny::MissingToken(source))),
            };
            Ok(Event::RestToken {
                token,
                method_arn: event.method_arn,
            })
        }
        (Some("REQUEST"), Some("2.0")) => {
            let event: ApiGatewayV2CustomAuthorizerV2Request =
                serde_json::from_value(raw).map_err(malformed)?;
            let token = match source {
                CredentialSource::Authorization => match header(&event.headers, "authorization") {
                    Some(value) => value.and_then(|value| bearer_token(&value)),
                    None => Err(Deny::MissingToken(source)),
                },
                // HTTP API moves the Cookie header into `cookies`.
                CredentialSource::Cookie => {
                    let found = if event.cookies.is_empty() {
                        cookie_from(header_values(&event.headers, "cookie"), cookie_name)
                    } else {
                        cookie_from(event.cookies.iter().map(String::as_str), cookie_name)
                    };
                    found.and_then(|token| token.ok_or(Deny::MissingToken(source)))
                }
            };
            Ok(Event::Http { token })
        }
        // REST REQUEST events carry no version; HTTP API payload 1.0 ones
        // say "1.0" and expect the same IAM policy answer.
        (Some("REQUEST"), None | Some("1.0")) => {
            let event: ApiGatewayCustomAuthorizerRequestTypeRequest =
                serde_json::from_value(raw).map_err(malformed)?;
            let token = match source {
                // The multi-value map shows a repeated header that the
                // single-value map silently reduces to its last value.
                CredentialSource::Authorization => {
                    match header(&event.multi_value_headers, "authorization")
                        .or_else(|| header(&event.headers, "authorization"))
                    {
                        Some(value) => value.and_then(|value| bearer_token(&value)),
                        None => Err(Deny::MissingToken(source)),
                    }
                }
                CredentialSource::Cookie => {
                    let headers = if event.multi_value_headers.contains_key("cookie") {
                        &event.multi_value_headers
                    } else {
                        &event.headers
                    };
                    cookie_from(header_values(headers, "cookie"), cookie_name)
                        .and_then(|token| token.ok_or(Deny::MissingToken(source)))
                }
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
        return Err(Deny::MissingToken(CredentialSource::Authorization));
    }
    let Some((scheme, rest)) = value.split_once([' ', '\t']) else {
        return Err(Deny::NotBearer);
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Deny::NotBearer);
    }
    let token = rest.trim_start_matches([' ', '\t']);
    if token.is_empty() {
        return Err(Deny::MissingToken(CredentialSource::Authorization));
    }
    if token.contains([' ', '\t', ',']) {
        // "Bearer Bearer x", "Bearer a b" or two credentials in one header.
        return Err(Deny::MalformedBearer);
    }
    Ok(Redacted(token.to_owned()))
}

/// The value of cookie `name` in `Cookie` header values (`a=1; b=2`).
/// The name twice is ambiguous (two cookies of one name, set for
/// different paths or domains) and refused rather than picking one.
fn cookie_from<'a>(
    headers: impl Iterator<Item = &'a str>,
    name: &str,
) -> Result<Option<Redacted<String>>, Deny> {
    let mut found = None;
    for pair in headers.flat_map(|value| value.split(';')) {
        let Some((key, value)) = pair.trim().split_once('=') else {
            continue;
        };
        if key.trim() != name {
            continue;
        }
        if found.is_some() {
            return Err(Deny::RepeatedCookie);
        }
        let value = value.trim().trim_matches('"');
        found = Some(Redacted(value.to_owned()));
    }
    Ok(found.filter(|token| !token.expose().is_empty()))
}

/// Every value of header `name`, as text.
fn header_values<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const COOKIE: CredentialSource = CredentialSource::Cookie;
    const AUTHORIZATION: CredentialSource = CredentialSource::Authorization;

    fn token_of(event: Value, source: CredentialSource) -> Result<String, Deny> {
        let token = match classify(event, source, "access_token")? {
            Event::RestToken { token, .. }
            | Event::RestRequest { token, .. }
            | Event::Http { token } => token,
        };
        token.map(|t| t.0)
    }

    fn rest_request(headers: Value) -> Value {
        json!({"type": "REQUEST", "headers": headers, "requestContext": {}})
    }

    fn http_request(headers: Value, cookies: Value) -> Value {
        json!({
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": "arn:aws:execute-api:us-east-1:123456789012:api/$default/GET/x",
            "cookies": cookies,
            "headers": headers,
            "requestContext": {"http": {"method": "GET", "path": "/x", "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4", "userAgent": "t"}}
        })
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
        assert!(matches!(bearer_token(""), Err(Deny::MissingToken(_))));
    }

    #[test]
    fn authorization_source_reads_the_header_in_any_case() {
        let event = rest_request(json!({"AUTHORIZATION": "Bearer tok"}));
        assert_eq!(token_of(event, AUTHORIZATION).unwrap(), "tok");
    }

    #[test]
    fn cookie_source_reads_the_access_token_cookie() {
        let event = rest_request(json!({"Cookie": "theme=dark; access_token=tok; other=1"}));
        assert_eq!(token_of(event, COOKIE).unwrap(), "tok");
    }

    #[test]
    fn cookie_source_never_reads_the_authorization_header() {
        let event = rest_request(json!({"Authorization": "Bearer tok"}));
        assert!(matches!(
            token_of(event, COOKIE),
            Err(Deny::MissingToken(CredentialSource::Cookie))
        ));
        let both =
            rest_request(json!({"Authorization": "Bearer other", "Cookie": "access_token=tok"}));
        assert_eq!(token_of(both, COOKIE).unwrap(), "tok");
    }

    #[test]
    fn authorization_source_never_reads_the_cookie() {
        let event = rest_request(json!({"Cookie": "access_token=tok"}));
        assert!(matches!(
            token_of(event, AUTHORIZATION),
            Err(Deny::MissingToken(CredentialSource::Authorization))
        ));
        let event = http_request(json!({}), json!(["access_token=tok"]));
        assert!(matches!(
            token_of(event, AUTHORIZATION),
            Err(Deny::MissingToken(_))
        ));
        let both =
            rest_request(json!({"Authorization": "Bearer tok", "Cookie": "access_token=other"}));
        assert_eq!(token_of(both, AUTHORIZATION).unwrap(), "tok");
    }

    #[test]
    fn a_token_event_holds_the_identity_source_value_whichever_it_is() {
        let cookie = json!({"type": "TOKEN", "authorizationToken": "a=1; access_token=tok"});
        assert_eq!(token_of(cookie.clone(), COOKIE).unwrap(), "tok");
        assert!(token_of(cookie, AUTHORIZATION).is_err());
        let bearer = json!({"type": "TOKEN", "authorizationToken": "Bearer tok"});
        assert_eq!(token_of(bearer.clone(), AUTHORIZATION).unwrap(), "tok");
        assert!(token_of(bearer, COOKIE).is_err());
    }

    #[test]
    fn http_api_reads_the_cookies_array_or_the_authorization_header() {
        let event = http_request(
            json!({"authorization": "Bearer hdr"}),
            json!(["a=1", "access_token=tok"]),
        );
        assert_eq!(token_of(event.clone(), COOKIE).unwrap(), "tok");
        assert_eq!(token_of(event, AUTHORIZATION).unwrap(), "hdr");
    }

    #[test]
    fn a_cookie_with_a_similar_name_is_not_the_token() {
        let event = rest_request(json!({"cookie": "xaccess_token=tok; access_token_old=tok"}));
        assert!(matches!(
            token_of(event, COOKIE),
            Err(Deny::MissingToken(_))
        ));
    }

    #[test]
    fn the_token_cookie_twice_is_refused_not_guessed() {
        let event = rest_request(json!({"Cookie": "access_token=a; access_token=b"}));
        assert!(matches!(token_of(event, COOKIE), Err(Deny::RepeatedCookie)));
        let event = http_request(json!({}), json!(["access_token=a", "access_token=b"]));
        assert!(matches!(token_of(event, COOKIE), Err(Deny::RepeatedCookie)));
    }

    #[test]
    fn repeated_authorization_header_is_refused() {
        let event = json!({
            "type": "REQUEST",
            "headers": {"Authorization": "Bearer b"},
            "multiValueHeaders": {"Authorization": ["Bearer a", "Bearer b"]},
            "requestContext": {}
        });
        assert!(matches!(
            token_of(event, AUTHORIZATION),
            Err(Deny::RepeatedHeader)
        ));
    }

    #[test]
    fn request_without_credentials_is_missing_token() {
        for source in [COOKIE, AUTHORIZATION] {
            let event = rest_request(json!({}));
            assert!(matches!(
                token_of(event, source),
                Err(Deny::MissingToken(_))
            ));
        }
    }

    #[test]
    fn malformed_event_errors_do_not_quote_the_event() {
        let event = json!({
            "type": "REQUEST",
            "headers": {},
            "requestContext": "Bearer secret.tok.en"
        });
        let err = classify(event, COOKIE, "c").unwrap_err();
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
                matches!(
                    classify(event.clone(), COOKIE, "c"),
                    Err(Deny::UnknownEvent)
                ),
                "{event}"
            );
        }
    }
}
