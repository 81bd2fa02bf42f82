//! Warm verification throughput and latency with a cached JWKS.
//!
//! Run: `cargo run --release -p authorizer --example verify_bench [iterations]`
//!
//! Serves a JWKS holding the test key from a loopback listener, lets the
//! verifier fetch it once (the cold path), then measures two warm loops:
//! `Verifier::verify` on a valid access token, and the whole handler on a
//! REST TOKEN event (parse, verify, build the policy, serialise it). Prints
//! operations per second and p50/p99 of one operation. Not a test: nothing
//! is asserted beyond the token being accepted.
#![allow(clippy::print_stdout, clippy::expect_used, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use authorizer::{Config, State};
use cognito_jwt::testing::{TestKey, access_claims, jwks};
use serde_json::json;

fn serve_jwks_once(body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().expect("addr")
    );
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    url
}

fn report(label: &str, iterations: usize, total: Duration, mut samples: Vec<Duration>) {
    samples.sort();
    let percentile = |p: f64| -> Duration {
        let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples[index]
    };
    println!(
        "{label:<22} {:>8.0}/s   p50 {:>9.1?}   p99 {:>9.1?}",
        iterations as f64 / total.as_secs_f64(),
        percentile(0.50),
        percentile(0.99)
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(20_000);
    let key = TestKey::primary();
    let jwks_url = serve_jwks_once(jwks(&[&key]).to_string());
    let env = [
        ("USER_POOL_ID", "us-east-1_Bench1"),
        ("AWS_REGION", "us-east-1"),
        ("APP_CLIENT_IDS", "benchclient"),
        ("JWKS_URL", jwks_url.as_str()),
    ];
    let state = State::new(Config::from_env(env.as_slice()).expect("config")).expect("state");
    let token = key.sign(&access_claims(
        &state.verifier.config().issuer,
        "benchclient",
    ));

    let cold = Instant::now();
    state
        .verifier
        .verify(&token)
        .await
        .expect("first verification");
    let cold = cold.elapsed();
    println!(
        "token {} bytes; first verification incl. JWKS fetch {cold:.1?}; {iterations} warm iterations each",
        token.len()
    );

    let mut samples = Vec::with_capacity(iterations);
    let total = Instant::now();
    for _ in 0..iterations {
        let start = Instant::now();
        let claims = state
            .verifier
            .verify(&token)
            .await
            .expect("warm verification");
        samples.push(start.elapsed());
        std::hint::black_box(claims);
    }
    report("Verifier::verify", iterations, total.elapsed(), samples);

    let event = json!({
        "type": "TOKEN",
        "authorizationToken": format!("Bearer {token}"),
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/users/me"
    });
    let mut samples = Vec::with_capacity(iterations);
    let total = Instant::now();
    for _ in 0..iterations {
        let event = event.clone();
        let start = Instant::now();
        let response = authorizer::handle(&state, event).await.expect("allowed");
        let body = serde_json::to_vec(&response).expect("serialises");
        samples.push(start.elapsed());
        std::hint::black_box(body);
    }
    report(
        "handler (TOKEN event)",
        iterations,
        total.elapsed(),
        samples,
    );
}
