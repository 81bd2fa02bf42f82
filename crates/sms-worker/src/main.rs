//! Lambda entry point of the sms worker: configuration, logging, the
//! DynamoDB and Secrets Manager clients and the HTTPS client they share with
//! the OpenAI and Twilio calls, once per cold start. `AWS_ENDPOINT_URL` points the same binary at moto for smoke tests.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, aws) = function_init::start(|env| {
        Ok::<_, env_config::ConfigError>((
            sms_worker::Config::from_env(env)?,
            aws_env::AwsEnv::from_env(env)?,
        ))
    })
    .await?;
    let deps = match sms_worker::Deps::new(
        config,
        aws.dynamodb_client(),
        aws.secretsmanager_client(),
        aws.http().clone(),
    ) {
        Ok(deps) => Arc::new(deps),
        Err(err) => return Err(function_init::fail("Runtime.InitError", err).await),
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let deps = Arc::clone(&deps);
        async move {
            let invocation = sms_worker::Invocation {
                request_id: event.context.request_id.clone(),
                deadline: event.context.deadline(),
            };
            // Boxed: the batch's future is deep enough to overflow the
            // compiler's layout recursion limit when nested in the runtime's.
            Box::pin(sms_worker::handle_batch(&deps, event.payload, &invocation))
                .await
                .map_err(lambda_runtime::Error::from)
        }
    }))
    .await
}
