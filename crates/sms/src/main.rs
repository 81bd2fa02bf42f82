//! Lambda entry point of the sms webhook: configuration, logging, the
//! DynamoDB and Secrets Manager clients, once per cold start.
//! `AWS_ENDPOINT_URL` points the same binary at moto for smoke tests.

use std::convert::Infallible;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, aws) = function_init::start(|env| {
        Ok::<_, env_config::ConfigError>((
            sms::Config::from_env(env)?,
            aws_env::AwsEnv::from_env(env)?,
        ))
    })
    .await?;
    let deps = sms::Deps::new(config, aws.dynamodb_client(), aws.secretsmanager_client());
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Boxed: the handler's future is deep enough to overflow the
        // compiler's layout recursion limit when nested in the runtime's.
        Ok::<Value, Infallible>(Box::pin(sms::handle_event(deps, event.payload)).await)
    }))
    .await
}
