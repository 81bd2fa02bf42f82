//! Cognito JWT verification with a cached JWKS (RS256, 2048-bit key, access
//! token claims): the authorizer's work per request. The JWKS is fetched once
//! from a loopback server before measuring.
#![allow(missing_docs, clippy::expect_used)]

use std::time::Duration;

use cognito_jwt::testing::{TestKey, access_claims, jwks};
use cognito_jwt::{Verifier, VerifierConfig};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use microbench::serve_json_once;

fn verify(c: &mut Criterion) {
    let key = TestKey::primary();
    let url = serve_json_once(jwks(&[&key]).to_string()).expect("loopback JWKS");
    let mut config =
        VerifierConfig::for_user_pool("us-east-1", "us-east-1_Bench1", vec!["benchclient".into()]);
    config.jwks_url = url;
    let verifier = Verifier::new(config).expect("verifier");
    let token = key.sign(&access_claims(&verifier.config().issuer, "benchclient"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime
        .block_on(verifier.prefetch())
        .expect("JWKS prefetch");
    runtime
        .block_on(verifier.verify(&token))
        .expect("the token verifies");

    let mut group = c.benchmark_group("jwt");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("verify_rs256_cached_jwks", |b| {
        b.iter(|| runtime.block_on(verifier.verify(&token)).expect("valid"));
    });
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
