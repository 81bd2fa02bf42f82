//! The JWKS cache: cold-start failures, outages after caching, rotation,
//! and the refetch rate limit under a flood of forged kids.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use cognito_jwt::testing::{TestKey, access_claims, jwks};
use cognito_jwt::{Error, Verifier, VerifierConfig};
use jsonwebtoken::{Algorithm, Header};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const JWKS_PATH: &str = "/.well-known/jwks.json";
const CLIENT: &str = "client1";

fn verifier(server_uri: &str, refetch_interval: Duration) -> Verifier {
    let mut config =
        VerifierConfig::for_user_pool("us-east-1", "us-east-1_CachePool", vec![CLIENT.into()]);
    config.jwks_url = format!("{server_uri}{JWKS_PATH}");
    config.refetch_interval = refetch_interval;
    Verifier::new(config).unwrap()
}

fn token(verifier: &Verifier, key: &TestKey) -> String {
    key.sign(&access_claims(&verifier.config().issuer, CLIENT))
}

fn token_with_kid(verifier: &Verifier, key: &TestKey, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    key.sign_with_header(&header, &access_claims(&verifier.config().issuer, CLIENT))
}

async fn serve(server: &MockServer, template: ResponseTemplate) {
    server.reset().await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(template)
        .mount(server)
        .await;
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn jwks_down_at_cold_start_denies_with_no_keys() {
    let server = MockServer::start().await;
    serve(&server, ResponseTemplate::new(503)).await;
    let v = verifier(&server.uri(), Duration::from_secs(60));
    let err = v.verify(&token(&v, &TestKey::primary())).await.unwrap_err();
    assert!(matches!(err, Error::NoKeys(_)), "{err:?}");
    assert!(v.jwks().cached_kids().is_empty());
}

#[tokio::test]
async fn jwks_unreachable_at_cold_start_denies_with_no_keys() {
    // Bind then drop a listener so the port is (almost certainly) closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let v = verifier(&uri, Duration::from_secs(60));
    let err = v.verify(&token(&v, &TestKey::primary())).await.unwrap_err();
    assert!(matches!(err, Error::NoKeys(_)), "{err:?}");
}

#[tokio::test]
async fn jwks_that_is_not_json_denies_with_no_keys() {
    let server = MockServer::start().await;
    serve(
        &server,
        ResponseTemplate::new(200).set_body_string("<html>login</html>"),
    )
    .await;
    let v = verifier(&server.uri(), Duration::from_secs(60));
    let err = v.verify(&token(&v, &TestKey::primary())).await.unwrap_err();
    assert!(matches!(err, Error::NoKeys(_)), "{err:?}");
}

#[tokio::test]
async fn oversized_jwks_is_refused() {
    let server = MockServer::start().await;
    let body = format!(
        r#"{{"keys":[],"padding":"{}"}}"#,
        "x".repeat(cognito_jwt::MAX_JWKS_BYTES)
    );
    serve(&server, ResponseTemplate::new(200).set_body_string(body)).await;
    let v = verifier(&server.uri(), Duration::from_secs(60));
    let err = v.prefetch().await.unwrap_err();
    assert!(matches!(err, Error::JwksInvalid(_)), "{err:?}");
}

#[tokio::test]
async fn a_flood_during_a_cold_start_outage_makes_one_fetch_per_backoff() {
    let server = MockServer::start().await;
    serve(&server, ResponseTemplate::new(500)).await;
    let v = verifier(&server.uri(), Duration::from_secs(3600));
    let key = TestKey::primary();
    for _ in 0..10 {
        assert!(matches!(
            v.verify(&token(&v, &key)).await,
            Err(Error::NoKeys(_))
        ));
    }
    // Ten requests well inside the first second of backoff: one fetch.
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn valid_tokens_are_accepted_seconds_after_a_cold_start_outage_ends() {
    let server = MockServer::start().await;
    serve(&server, ResponseTemplate::new(503)).await;
    // The rate limit for unknown kids stays long: the outage must not be
    // waited out for a whole interval.
    let v = verifier(&server.uri(), Duration::from_secs(60));
    let key = TestKey::primary();
    assert!(matches!(
        v.verify(&token(&v, &key)).await,
        Err(Error::NoKeys(_))
    ));
    serve(
        &server,
        ResponseTemplate::new(200).set_body_json(jwks(&[&key])),
    )
    .await;
    // Within the backoff: still denied, without a fetch.
    assert!(matches!(
        v.verify(&token(&v, &key)).await,
        Err(Error::NoKeys(_))
    ));
    assert_eq!(requests(&server).await, 0, "no fetch within the backoff");
    tokio::time::sleep(cognito_jwt::EMPTY_CACHE_BACKOFF + Duration::from_millis(200)).await;
    v.verify(&token(&v, &key)).await.unwrap();
    assert_eq!(requests(&server).await, 1);

    // With keys cached, unknown kids are rate limited by the interval again.
    for i in 0..5 {
        let forged = token_with_kid(&v, &key, &format!("forged-{i}"));
        assert!(matches!(v.verify(&forged).await, Err(Error::UnknownKid(_))));
    }
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn jwks_down_after_keys_are_cached_still_verifies_with_cached_keys() {
    let server = MockServer::start().await;
    let key = TestKey::primary();
    serve(
        &server,
        ResponseTemplate::new(200).set_body_json(jwks(&[&key])),
    )
    .await;
    // A zero interval allows a refetch on every unknown kid, so the outage
    // below is really exercised.
    let v = verifier(&server.uri(), Duration::ZERO);
    v.verify(&token(&v, &key)).await.unwrap();

    serve(&server, ResponseTemplate::new(500)).await;
    // An unknown kid makes the cache refetch, which fails...
    let forged = token_with_kid(&v, &key, "rotated-in");
    assert!(matches!(v.verify(&forged).await, Err(Error::UnknownKid(_))));
    assert_eq!(requests(&server).await, 1, "the refetch did happen");
    // ...and the keys already cached keep working.
    v.verify(&token(&v, &key)).await.unwrap();
    assert_eq!(v.jwks().cached_kids(), vec!["test-key-1"]);
}

#[tokio::test]
async fn failed_refetch_with_an_unusable_set_keeps_the_cached_keys() {
    let server = MockServer::start().await;
    let key = TestKey::primary();
    serve(
        &server,
        ResponseTemplate::new(200).set_body_json(jwks(&[&key])),
    )
    .await;
    let v = verifier(&server.uri(), Duration::ZERO);
    v.prefetch().await.unwrap();

    serve(
        &server,
        ResponseTemplate::new(200).set_body_string(r#"{"keys":[]}"#),
    )
    .await;
    let forged = token_with_kid(&v, &key, "other");
    assert!(matches!(v.verify(&forged).await, Err(Error::UnknownKid(_))));
    v.verify(&token(&v, &key)).await.unwrap();
}

#[tokio::test]
async fn rotated_key_is_picked_up_by_a_refetch() {
    let server = MockServer::start().await;
    let old = TestKey::primary();
    let new = TestKey::secondary();
    serve(
        &server,
        ResponseTemplate::new(200).set_body_json(jwks(&[&old])),
    )
    .await;
    let v = verifier(&server.uri(), Duration::ZERO);
    v.verify(&token(&v, &old)).await.unwrap();

    serve(
        &server,
        ResponseTemplate::new(200).set_body_json(jwks(&[&old, &new])),
    )
    .await;
    v.verify(&token(&v, &new)).await.unwrap();
    assert_eq!(v.jwks().cached_kids(), vec!["test-key-1", "test-key-2"]);
}

#[tokio::test]
async fn refetch_rate_limit_holds_under_100_unknown_kid_tokens() {
    let server = MockServer::start().await;
    let key = TestKey::primary();
    serve(
        &server,
        ResponseTemplate::new(200).set_body_json(jwks(&[&key])),
    )
    .await;
    let v = verifier(&server.uri(), Duration::from_secs(60));
    v.verify(&token(&v, &key)).await.unwrap();
    assert_eq!(requests(&server).await, 1);

    for i in 0..100 {
        let forged = token_with_kid(&v, &key, &format!("forged-{i}"));
        assert!(matches!(v.verify(&forged).await, Err(Error::UnknownKid(_))));
    }
    // The initial fetch plus none: the first fetch started the interval.
    assert_eq!(requests(&server).await, 1);
    v.verify(&token(&v, &key)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refetch_rate_limit_holds_for_concurrent_unknown_kid_tokens() {
    let server = MockServer::start().await;
    let key = TestKey::primary();
    serve(
        &server,
        ResponseTemplate::new(200).set_body_json(jwks(&[&key])),
    )
    .await;
    let v = std::sync::Arc::new(verifier(&server.uri(), Duration::from_secs(60)));

    let mut tasks = Vec::new();
    for i in 0..100 {
        let v = std::sync::Arc::clone(&v);
        let forged = token_with_kid(&v, &key, &format!("forged-{i}"));
        tasks.push(tokio::spawn(async move { v.verify(&forged).await }));
    }
    for task in tasks {
        assert!(task.await.unwrap().is_err());
    }
    // A cold cache: exactly one fetch for all 100, however they interleave.
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn prefetch_loads_the_keys_so_the_first_token_needs_no_fetch() {
    let server = MockServer::start().await;
    let key = TestKey::primary();
    serve(
        &server,
        ResponseTemplate::new(200).set_body_json(jwks(&[&key])),
    )
    .await;
    let v = verifier(&server.uri(), Duration::from_secs(60));
    assert_eq!(v.prefetch().await.unwrap(), 1);
    v.verify(&token(&v, &key)).await.unwrap();
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn failed_prefetch_does_not_delay_the_first_request() {
    let server = MockServer::start().await;
    serve(&server, ResponseTemplate::new(503)).await;
    let v = verifier(&server.uri(), Duration::from_secs(3600));
    assert!(v.prefetch().await.is_err());

    let key = TestKey::primary();
    serve(
        &server,
        ResponseTemplate::new(200).set_body_json(jwks(&[&key])),
    )
    .await;
    v.verify(&token(&v, &key)).await.unwrap();
}

#[tokio::test]
async fn a_shared_client_without_timeouts_still_bounds_the_jwks_fetch() {
    let server = MockServer::start().await;
    let key = TestKey::primary();
    serve(
        &server,
        ResponseTemplate::new(200)
            .set_body_json(jwks(&[&key]))
            .set_delay(Duration::from_secs(30)),
    )
    .await;
    let mut config =
        VerifierConfig::for_user_pool("us-east-1", "us-east-1_CachePool", vec![CLIENT.into()]);
    config.jwks_url = format!("{}{JWKS_PATH}", server.uri());
    // A client as a function might share it: no timeout of its own.
    let v = Verifier::with_http_client(config, reqwest::Client::new());
    let outcome = tokio::time::timeout(Duration::from_secs(15), v.verify(&token(&v, &key)))
        .await
        .expect("the fetch is bounded by the cache, not by the client");
    let err = outcome.unwrap_err();
    assert!(matches!(err, Error::NoKeys(_)), "{err:?}");
    assert_eq!(requests(&server).await, 1);
}
