//! Runs the cases of `smoke.json` through the handler, the way
//! `cargo xtask smoke` runs them through the packaged binary: moto at
//! `{{moto_url}}` with the schema's tables under their logical names, the
//! spec's secrets and items, `files` served for any method at
//! `{{static_url}}`, each case's `expect` matched as the emulator matches it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use lambda_emulator::json_subset_mismatch;
use serde_json::Value;
use sms::{Config, Deps};
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
    assert_eq!(
        smoke["moto"]["dynamodb_schema"],
        "../../terraform/schema/dynamodb.json"
    );
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
    // Wired as main.rs wires it: the SDK clients over the shared HTTPS
    // client, which also carries the OpenAI and Twilio calls.
    let deps = Deps::new(
        config,
        aws.dynamodb_client(),
        aws.secretsmanager_client(),
        aws.http().clone(),
    )
    .unwrap();

    let cases = smoke["cases"].as_array().unwrap();
    assert!(cases.len() >= 3);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let response = sms::handle_event(&deps, case["event"].clone()).await;
        if let Some(mismatch) = json_subset_mismatch(&case["expect"], &response) {
            panic!("{name}: {mismatch}\n got {response}");
        }
    }

    // The canned APIs were really called: two answers (the duplicate and the
    // refused cases send nothing), each preceded by one completion.
    let requests = statics.received_requests().await.unwrap();
    let sends = requests
        .iter()
        .filter(|r| r.url.path().ends_with("/Messages.json"))
        .count();
    let completions = requests
        .iter()
        .filter(|r| r.url.path() == "/v1/chat/completions")
        .count();
    assert_eq!((completions, sends), (2, 2));
    let history = dynamodb
        .scan()
        .table_name("sms_history")
        .send()
        .await
        .unwrap();
    assert_eq!(history.items().len(), 4, "two user and two assistant turns");
}
