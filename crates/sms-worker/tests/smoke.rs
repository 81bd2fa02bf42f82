//! Runs the cases of `smoke.json` through the worker, the way
//! `cargo xtask smoke` runs them through the packaged binary: moto at
//! `{{moto_url}}` with the schema's tables under their logical names, the
//! spec's secrets and items, `files` served for any method at
//! `{{static_url}}`, each case's `expect` matched as the emulator matches it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lambda_emulator::json_subset_mismatch;
use serde_json::Value;
use sms_worker::{Config, Deps, Invocation};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const SMOKE: &str = include_str!("../smoke.json");
const SCHEMA: &str = include_str!("../../../terraform/schema/dynamodb.json");

#[tokio::test]
async fn smoke_cases_pass_against_moto_and_the_canned_apis() {
    let moto = moto_harness::SharedMoto::acquire().unwrap();
    let statics = MockServer::start().await;
    let raw: Value = serde_json::from_str(SMOKE).unwrap();
    for (url_path, file) in raw["files"].as_object().unwrap() {
        let content = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file.as_str().unwrap()),
        )
        .unwrap();
        Mock::given(path(url_path.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_raw(content, "application/json"))
            .mount(&statics)
            .await;
    }
    let smoke: Value = serde_json::from_str(
        &SMOKE
            .replace("{{moto_url}}", &moto.endpoint_url())
            .replace("{{static_url}}", &statics.uri()),
    )
    .unwrap();

    let sdk = moto.sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    moto_harness::create_tables_from_schema(&dynamodb, SCHEMA, "")
        .await
        .unwrap();
    for (table, items) in smoke["moto"]["items"].as_object().unwrap() {
        moto_harness::put_items(&dynamodb, table, items.as_array().unwrap())
            .await
            .unwrap();
    }
    for (name, value) in smoke["moto"]["secrets"].as_object().unwrap() {
        moto_harness::create_secret(&secrets, name, value)
            .await
            .unwrap();
    }
    let env: Vec<(String, String)> = smoke["env"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let aws = aws_env::AwsEnv::from_env(pairs.as_slice()).unwrap();
    assert_eq!(aws.endpoints.len(), 3, "every client points at moto");
    let config = Config::from_env(pairs.as_slice()).unwrap();
    let deps =
        Arc::new(Deps::new(config, dynamodb.clone(), secrets, reqwest::Client::new()).unwrap());

    for (i, case) in smoke["cases"].as_array().unwrap().iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        let invocation = Invocation {
            request_id: format!("smoke-{i}"),
            // What `cargo xtask smoke` gives an invocation.
            deadline: SystemTime::now() + Duration::from_secs(60),
        };
        let response = sms_worker::handle_batch(&deps, case["event"].clone(), &invocation)
            .await
            .unwrap();
        if let Some(mismatch) = json_subset_mismatch(&case["expect"], &response) {
            panic!("{name}: {mismatch}\n got {response}");
        }
    }

    // One completion and two sends: the answer and the unknown sender's
    // reply; the redelivered record sent nothing.
    let requests = statics.received_requests().await.unwrap();
    let count = |suffix: &str| {
        requests
            .iter()
            .filter(|r| r.url.path().ends_with(suffix))
            .count()
    };
    assert_eq!(
        (count("/chat/completions"), count("/Messages.json")),
        (1, 2)
    );
    let history = dynamodb
        .scan()
        .table_name("sms_history")
        .send()
        .await
        .unwrap();
    assert_eq!(history.items().len(), 2, "the user and the assistant turn");
    let inbox = sms_inbox::Inbox::new(dynamodb.clone(), "idempotency".to_owned());
    for sid in [
        "SMsmoke00000000000000000000000011",
        "SMsmoke00000000000000000000000012",
    ] {
        let record = inbox.get(sid).await.unwrap().unwrap();
        assert_eq!(record.state, sms_inbox::State::Sent, "{sid}");
    }
}
