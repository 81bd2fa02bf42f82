//! Lambda entry point of the users function: configuration, logging, the
//! DynamoDB and Secrets Manager clients and the HTTPS client they share with
//! the Twilio calls, once per cold start. `AWS_ENDPOINT_URL` points the same
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
    let deps = match users::Deps::new(
        config,
        aws.dynamodb_client(),
        aws.secretsmanager_client(),
        aws.http().clone(),
    ) {
        Ok(deps) => deps,
        Err(err) => return Err(function_init::fail("Runtime.InitError", err).await),
    };
    if deps.phone_proof.is_none() {
        tracing::warn!(
            "TWILIO_SECRET_ID and SMS_FROM are not set: nobody can prove a phone number, \
             so only administrators (vouch_for_phone) can set one"
        );
    }
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let budget = function_init::time_budget(&event.context, users::DEADLINE_RESERVE);
        // Boxed: the handler's future is deep enough to overflow the
        // compiler's layout recursion limit when nested in the runtime's.
        Ok::<Value, Infallible>(Box::pin(users::handle_event(deps, event.payload, budget)).await)
    }))
    .await
}
