//! The SDK clients over the shared HTTPS client: real calls to moto, and
//! loopback endpoints that misbehave the way networks do.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_env::{AwsEnv, Service};
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

fn env_at(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "AKIATEST".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test-secret".to_owned()),
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
    ]
}

fn aws_at(endpoint: &str) -> AwsEnv {
    let env = env_at(endpoint);
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    AwsEnv::from_env(pairs.as_slice()).unwrap()
}

/// What a loopback endpoint does with each connection.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Reads the request, then closes the connection without answering.
    Hangs,
    /// Reads the request and closes the connection.
    Drops,
    /// Answers every request with this raw response.
    Answers(&'static str),
}

/// A loopback endpoint: its URL, the connections it accepted and the raw
/// requests it read.
struct Endpoint {
    url: String,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
}

async fn endpoint(behaviour: Behaviour) -> Endpoint {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (count, seen) = (connections.clone(), requests.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            let seen = seen.clone();
            tokio::spawn(async move {
                let request = read_request(&mut socket).await;
                seen.lock().await.push(request);
                match behaviour {
                    Behaviour::Hangs => tokio::time::sleep(Duration::from_secs(30)).await,
                    Behaviour::Drops => {}
                    Behaviour::Answers(raw) => {
                        let _ = socket.write_all(raw.as_bytes()).await;
                        let _ = socket.shutdown().await;
                    }
                }
            });
        }
    });
    Endpoint {
        url,
        connections,
        requests,
    }
}

/// Reads one HTTP request (headers and a `content-length` body), or what
/// arrived first when it is not HTTP (a TLS handshake).
async fn read_request(socket: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = socket.read(&mut chunk).await.unwrap_or(0);
        buf.extend_from_slice(&chunk[..n]);
        if n == 0 || !buf[0].is_ascii_uppercase() {
            break;
        }
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                break;
            }
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn the_sdk_clients_sign_and_send_through_the_shared_client_to_moto() {
    let moto = moto_harness::MotoServer::start().unwrap();
    let aws = aws_at(&moto.endpoint_url());
    assert_eq!(
        aws.endpoint_url(Service::DynamoDb),
        Some(moto.endpoint_url().as_str())
    );
    // moto loads each service on its first request, which can take longer
    // than the functions' 5 s on a busy machine: the transport is under
    // test here, the timeouts in the tests below.
    let patient = TimeoutConfig::builder()
        .operation_attempt_timeout(Duration::from_secs(60))
        .operation_timeout(Duration::from_secs(60))
        .build();
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws.dynamodb_config()
            .timeout_config(patient.clone())
            .build(),
    );
    dynamodb
        .create_table()
        .table_name("things")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    dynamodb
        .put_item()
        .table_name("things")
        .item("id", AttributeValue::S("a".into()))
        .item("text", AttributeValue::S("héllo ✓".into()))
        .send()
        .await
        .unwrap();
    let item = dynamodb
        .get_item()
        .table_name("things")
        .key("id", AttributeValue::S("a".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["text"], AttributeValue::S("héllo ✓".into()));

    let secrets = aws_sdk_secretsmanager::Client::from_conf(
        aws.secretsmanager_config()
            .timeout_config(patient.clone())
            .build(),
    );
    secrets
        .create_secret()
        .name("s")
        .secret_string(r#"{"k":"v"}"#)
        .send()
        .await
        .unwrap();
    let value = secrets
        .get_secret_value()
        .secret_id("s")
        .send()
        .await
        .unwrap();
    assert_eq!(value.secret_string(), Some(r#"{"k":"v"}"#));

    // A service error is the SDK's typed error, not a transport failure.
    let missing = aws_sdk_cognitoidentityprovider::Client::from_conf(
        aws.cognito_idp_config().timeout_config(patient).build(),
    )
    .describe_user_pool()
    .user_pool_id("us-east-1_missing")
    .send()
    .await
    .unwrap_err();
    assert!(matches!(missing, SdkError::ServiceError(_)), "{missing:?}");
}

#[tokio::test]
async fn every_sdk_request_goes_out_on_the_shared_client() {
    let server = endpoint(Behaviour::Answers(
        "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 17\r\n\r\n{\"TableNames\":[]}",
    ))
    .await;
    let aws = aws_at(&server.url);
    let tables = aws.dynamodb_client().list_tables().send().await.unwrap();
    assert!(tables.table_names().is_empty());
    let requests = server.requests.lock().await;
    let request = requests[0].to_ascii_lowercase();
    assert!(request.starts_with("post / http/1.1\r\n"), "{request}");
    assert!(
        request.contains("x-amz-target: dynamodb_20120810.listtables"),
        "{request}"
    );
    assert!(
        request.contains("authorization: aws4-hmac-sha256 credential=akiatest/"),
        "{request}"
    );
    // The SDK names the client that sent it: ours, not its default.
    assert!(request.contains("md/http#reqwest"), "{request}");
}

#[tokio::test]
async fn a_dropped_connection_is_retried_like_the_sdk_s_own_client_retries_it() {
    let server = endpoint(Behaviour::Drops).await;
    let aws = aws_at(&server.url);
    let config = aws
        .dynamodb_config()
        .retry_config(RetryConfig::standard().with_initial_backoff(Duration::from_millis(1)))
        .build();
    let err = aws_sdk_dynamodb::Client::from_conf(config)
        .list_tables()
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, SdkError::DispatchFailure(_)), "{err:?}");
    // Standard retries: three attempts, each on a new connection.
    assert_eq!(server.connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_hung_endpoint_is_cut_off_by_the_sdk_timeouts() {
    let server = endpoint(Behaviour::Hangs).await;
    let aws = aws_at(&server.url);
    let started = Instant::now();
    let err = aws
        .dynamodb_client()
        .list_tables()
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, SdkError::TimeoutError(_)), "{err:?}");
    // The operation timeout bounds it, retries included (the endpoint
    // would hang for 30 s).
    assert!(
        started.elapsed() < aws_env::OPERATION_TIMEOUT + Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(server.connections.load(Ordering::SeqCst) >= 1);
}

#[tokio::test]
async fn third_party_calls_share_the_client_and_never_follow_redirects() {
    let server = endpoint(Behaviour::Answers(
        "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:9/elsewhere\r\ncontent-length: 0\r\n\r\n",
    ))
    .await;
    let aws = aws_at(&server.url);
    let response = aws
        .http()
        .get(format!("{}/token", server.url))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_server_that_does_not_speak_tls_fails_an_https_call() {
    // Plain HTTP behind an https:// URL: the handshake fails, nothing is
    // sent in the clear and the SDK reports a dispatch failure.
    let server = endpoint(Behaviour::Answers(
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}",
    ))
    .await;
    let url = server.url.replace("http://", "https://");
    let aws = aws_at(&url);
    let config = aws
        .dynamodb_config()
        .retry_config(RetryConfig::disabled())
        .build();
    let err = aws_sdk_dynamodb::Client::from_conf(config)
        .list_tables()
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, SdkError::DispatchFailure(_)), "{err:?}");
    let requests = server.requests.lock().await;
    assert!(
        requests.iter().all(|r| !r.contains("ListTables")),
        "the request went out in the clear: {requests:?}"
    );
}
