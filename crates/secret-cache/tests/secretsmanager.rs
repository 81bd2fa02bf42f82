//! The cache against Secrets Manager as moto serves it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use moto_harness::MotoServer;
use secret_cache::{SecretCache, SecretError};

fn client_for(moto: &MotoServer) -> aws_sdk_secretsmanager::Client {
    let env = [
        ("AWS_REGION", moto_harness::REGION),
        ("AWS_ACCESS_KEY_ID", "AKIATESTTESTTESTTEST"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let mut aws = aws_env::AwsEnv::from_env(env.as_slice()).unwrap();
    aws.endpoints
        .insert(aws_env::Service::SecretsManager, moto.endpoint_url());
    aws.secretsmanager_client()
}

#[tokio::test]
async fn reads_a_json_secret_and_picks_up_a_rotation_after_the_ttl() {
    let moto = MotoServer::start().unwrap_or_else(|err| panic!("{err}"));
    let client = client_for(&moto);
    client
        .create_secret()
        .name("app/sms")
        .secret_string(r#"{"twilio_auth_token":"first"}"#)
        .send()
        .await
        .unwrap();

    let cache = SecretCache::new(client.clone(), "app/sms", Duration::ZERO);
    let secret = cache.get().await.unwrap();
    assert_eq!(secret.required("twilio_auth_token").unwrap(), "first");
    assert!(matches!(
        secret.required("openai_api_key"),
        Err(SecretError::MissingKey { key, .. }) if key == "openai_api_key"
    ));

    client
        .put_secret_value()
        .secret_id("app/sms")
        .secret_string(r#"{"twilio_auth_token":"second"}"#)
        .send()
        .await
        .unwrap();
    let secret = cache.get().await.unwrap();
    assert_eq!(secret.required("twilio_auth_token").unwrap(), "second");

    let long_lived = SecretCache::new(client, "app/sms", Duration::from_secs(300));
    assert_eq!(
        long_lived
            .get()
            .await
            .unwrap()
            .required("twilio_auth_token")
            .unwrap(),
        "second"
    );
}

#[tokio::test]
async fn a_missing_secret_is_a_fetch_error_naming_it() {
    let moto = MotoServer::start().unwrap_or_else(|err| panic!("{err}"));
    let cache = SecretCache::new(client_for(&moto), "app/none", Duration::from_secs(60));
    let err = cache.get().await.unwrap_err();
    match &err {
        SecretError::Fetch { secret_id, message } => {
            assert_eq!(secret_id, "app/none");
            assert!(message.contains("ResourceNotFound"), "{message}");
        }
        other => panic!("expected a fetch error, got {other:?}"),
    }
}
