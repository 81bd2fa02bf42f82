//! Lambda entry point of the users function: configuration, logging and the
//! DynamoDB client, once per cold start. `AWS_ENDPOINT_URL` points the same
//! binary at moto for smoke tests (see the `aws-env` crate for why not aws-config).

use std::convert::Infallible;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, aws) = function_init::start(|env| {
        Ok::<_, env_config::ConfigError>((
            users::Config::from_env(env)?,
            aws_env::AwsEnv::from_env(env)?,
        ))
    })
    .await?;
    let deps = users::Deps::new(config, aws.dynamodb_client());
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<Value, Infallible>(users::handle_event(deps, event.payload).await)
    }))
    .await
}
