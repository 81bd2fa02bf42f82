//! Runs the cases of `smoke.json` through the handler, the way
//! `cargo xtask smoke` runs them through the packaged binary: moto at
//! `{{moto_url}}`, every table of the shared schema created under its
//! logical name, the case's `expect` matched as a JSON subset.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::Value;
use users::{Config, Deps};

const SMOKE: &str = include_str!("../smoke.json");

/// `expected` is a subset of `actual`: objects recursively, anything else
/// (arrays included) equal.
fn is_subset(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(want), Value::Object(have)) => want
            .iter()
            .all(|(key, value)| have.get(key).is_some_and(|got| is_subset(value, got))),
        _ => expected == actual,
    }
}

#[test]
fn subset_matching_follows_the_smoke_format() {
    let actual =
        serde_json::json!({"statusCode": 404, "headers": {"a": "1", "b": "2"}, "list": [1, 2]});
    assert!(is_subset(
        &serde_json::json!({"headers": {"a": "1"}}),
        &actual
    ));
    assert!(!is_subset(
        &serde_json::json!({"headers": {"a": "2"}}),
        &actual
    ));
    assert!(!is_subset(&serde_json::json!({"list": [1]}), &actual));
    assert!(!is_subset(&serde_json::json!({"missing": null}), &actual));
}

#[tokio::test]
async fn smoke_cases_pass_against_moto_with_the_schema_tables() {
    let moto = common::Moto::acquire();
    let url = moto.endpoint_url();
    // Serve `files` like the smoke runner's static file server does.
    let files = wiremock::MockServer::start().await;
    let parsed: Value = serde_json::from_str(SMOKE).unwrap();
    for (url_path, file) in parsed["files"].as_object().unwrap() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file.as_str().unwrap());
        wiremock::Mock::given(wiremock::matchers::path(url_path.as_str()))
            .respond_with(
                wiremock::ResponseTemplate::new(201)
                    .set_body_raw(std::fs::read(path).unwrap(), "application/json"),
            )
            .mount(&files)
            .await;
    }
    let smoke: Value = serde_json::from_str(
        &SMOKE
            .replace("{{moto_url}}", &url)
            .replace("{{static_url}}", &files.uri()),
    )
    .unwrap();
    let env: Vec<(String, String)> = smoke["env"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let var = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(
        var("AWS_ENDPOINT_URL"),
        Some(url.clone()),
        "the SDK must be pointed at moto"
    );

    assert_eq!(
        smoke["moto"]["dynamodb_schema"], "../../terraform/schema/dynamodb.json",
        "the smoke runner must create the schema's tables"
    );

    let client = moto.client().await;
    // The same call the smoke runner makes for the `moto` key.
    moto_harness::create_tables_from_schema(&client, common::SCHEMA, "")
        .await
        .unwrap();
    // ... and its items and secrets.
    for (table, items) in smoke["moto"]["items"].as_object().unwrap() {
        moto_harness::put_items(&client, table, items.as_array().unwrap())
            .await
            .unwrap();
    }
    let secrets = moto.secrets_client().await;
    for (name, value) in smoke["moto"]["secrets"].as_object().unwrap() {
        moto_harness::create_secret(&secrets, name, value)
            .await
            .unwrap();
    }
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let config = Config::from_env(pairs.as_slice()).unwrap();
    let http = aws_env::HttpsClient::new().unwrap().reqwest().clone();
    let deps = Deps::new(config, client, secrets, http).unwrap();

    let cases = smoke["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let response = users::handle_event(
            &deps,
            case["event"].clone(),
            std::time::Duration::from_secs(9),
        )
        .await;
        let expect = case
            .get("expect")
            .expect("the users function never posts an invocation error");
        assert!(
            is_subset(expect, &response),
            "case {name:?}\n expected {expect}\n got {response}"
        );
    }
}
