//! Runs the cases of `smoke.json` through the handler the way
//! `cargo xtask smoke` runs them through the packaged binary: moto at
//! `{{moto_url}}` with the schema's tables and the `moto.secrets`, the
//! `files` served at `{{static_url}}`, `expect` matched as the emulator matches it.
//! The login cases are checked further here: the location carries every
//! PKCE parameter, which one matcher per value cannot say.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use auth::{Config, Deps};
use lambda_emulator::json_subset_mismatch;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SMOKE: &str = include_str!("../smoke.json");

#[tokio::test]
async fn smoke_cases_pass_against_moto_with_the_declared_secret() {
    let moto = moto_harness::SharedMoto::acquire().unwrap_or_else(|err| panic!("{err}"));
    let statics = MockServer::start().await;
    let raw: Value = serde_json::from_str(SMOKE).unwrap();
    for (url, file) in raw["files"].as_object().unwrap() {
        let body = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file.as_str().unwrap()),
        )
        .unwrap();
        Mock::given(method("GET"))
            .and(path(url.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_string(body))
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
    moto_harness::create_tables_from_schema(
        &aws_sdk_dynamodb::Client::new(&sdk),
        common::SCHEMA,
        "",
    )
    .await
    .unwrap();
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    for (name, value) in smoke["moto"]["secrets"].as_object().unwrap() {
        moto_harness::create_secret(&secrets, name, value)
            .await
            .unwrap();
    }

    let env: std::collections::HashMap<String, String> = smoke["env"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let config = Config::from_env(&env).unwrap();
    let domain = config.hosted_ui.base_url().to_owned();
    let deps = Deps::new(config, &aws_env::AwsEnv::from_env(&env).unwrap()).unwrap();

    let cases = smoke["cases"].as_array().unwrap();
    assert!(cases.len() >= 2);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let response = auth::handle_event(
            &deps,
            case["event"].clone(),
            std::time::Duration::from_secs(9),
        )
        .await;
        let expect = case
            .get("expect")
            .expect("auth never posts an invocation error");
        if let Some(mismatch) = json_subset_mismatch(expect, &response) {
            panic!("case {name:?}: {mismatch}\n got {response}");
        }
        if case["event"]["path"] == "/auth/login" || case["event"]["rawPath"] == "/auth/login" {
            let location = response["headers"]["location"].as_str().unwrap();
            assert!(
                location.starts_with(&format!("{domain}/oauth2/authorize?")),
                "{location}"
            );
            assert_eq!(domain, "https://smoke.auth.us-east-1.amazoncognito.com");
            for param in ["state=", "code_challenge=", "code_challenge_method=S256"] {
                assert!(location.contains(param), "{param} missing: {location}");
            }
            let cookies = response
                .get("cookies")
                .or_else(|| response["multiValueHeaders"].get("set-cookie"))
                .and_then(Value::as_array)
                .unwrap();
            assert!(cookies[0].as_str().unwrap().starts_with("auth_state="));
        }
    }
}
