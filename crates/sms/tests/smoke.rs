//! Runs the cases of `smoke.json` through the handler, the way
//! `cargo xtask smoke` runs them through the packaged binary: moto at
//! `{{moto_url}}` with the schema's tables under their logical names and
//! the spec's secrets, each case's `expect` matched as the emulator
//! matches it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use lambda_emulator::json_subset_mismatch;
use serde_json::Value;
use sms::{Config, Deps};

const SMOKE: &str = include_str!("../smoke.json");
const SCHEMA: &str = include_str!("../../../terraform/schema/dynamodb.json");

#[tokio::test]
async fn smoke_cases_pass_against_moto() {
    let moto = moto_harness::SharedMoto::acquire().unwrap();
    let smoke: Value =
        serde_json::from_str(&SMOKE.replace("{{moto_url}}", &moto.endpoint_url())).unwrap();
    assert!(
        smoke.get("files").is_none(),
        "the webhook calls no HTTP API"
    );

    let sdk = moto.sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    assert_eq!(
        smoke["moto"]["dynamodb_schema"],
        "../../terraform/schema/dynamodb.json"
    );
    moto_harness::create_tables_from_schema(&dynamodb, SCHEMA, "")
        .await
        .unwrap();
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
    let deps = Deps::new(config, dynamodb.clone(), secrets);

    let cases = smoke["cases"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let response = sms::handle_event(&deps, case["event"].clone()).await;
        if let Some(mismatch) = json_subset_mismatch(&case["expect"], &response) {
            panic!("{name}: {mismatch}\n got {response}");
        }
    }

    // Two messages recorded for the worker (the retry, the refused and the
    // oversize cases store nothing).
    let recorded = dynamodb
        .scan()
        .table_name("idempotency")
        .send()
        .await
        .unwrap();
    let mut states: Vec<(String, String)> = recorded
        .items()
        .iter()
        .map(|item| {
            (
                item["message_sid"].as_s().unwrap().clone(),
                item["state"].as_s().unwrap().clone(),
            )
        })
        .collect();
    states.sort();
    assert_eq!(
        states,
        [
            (
                "SMsmoke00000000000000000000000001".to_owned(),
                "received".to_owned()
            ),
            (
                "SMsmoke00000000000000000000000003".to_owned(),
                "received".to_owned()
            ),
        ]
    );
}
