//! CORS preflight handling: the policy check alone, and the whole cors
//! function on an API Gateway REST event (parse, check, build the response).
#![allow(missing_docs, clippy::expect_used)]

use api_gateway::CorsConfig;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

fn config() -> CorsConfig {
    CorsConfig::from_env(
        [(
            "CORS_ALLOWED_ORIGINS",
            "https://app.example.com,https://*.preview.example.com",
        )]
        .as_slice(),
    )
    .expect("CORS config")
}

fn preflight(c: &mut Criterion) {
    let cors = config();
    let mut group = c.benchmark_group("cors");
    group.bench_function("policy_preflight", |b| {
        b.iter(|| {
            cors.preflight(
                std::hint::black_box(Some("https://pr-42.preview.example.com")),
                Some("PUT"),
                Some("content-type, authorization"),
            )
            .expect("allowed")
        });
    });
    let event = json!({
        "resource": "/{proxy+}",
        "path": "/users/me",
        "httpMethod": "OPTIONS",
        "headers": {
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type, authorization"
        },
        "multiValueHeaders": {},
        "queryStringParameters": null,
        "pathParameters": { "proxy": "users/me" },
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": "OPTIONS",
            "path": "/prod/users/me",
            "stage": "prod",
            "requestId": "bench",
            "identity": { "sourceIp": "203.0.113.7" }
        },
        "body": null,
        "isBase64Encoded": false
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    // Check once, outside the measurement, that the event is a real allowed
    // preflight and not a fast refusal.
    let answer = runtime.block_on(cors::handle_event(event.clone(), &cors));
    assert_eq!(answer["statusCode"], 204, "{answer}");
    group.bench_function("handler_rest_event", |b| {
        b.iter(|| runtime.block_on(cors::handle_event(event.clone(), &cors)));
    });
    group.finish();
}

criterion_group!(benches, preflight);
criterion_main!(benches);
