//! Lambda entry point of the auth function: configuration, logging and the
//! AWS clients (DynamoDB, Secrets Manager, Cognito), once per cold start.
//! `AWS_ENDPOINT_URL*` point the same binary at moto for smoke runs.

use std::convert::Infallible;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let started = std::time::Instant::now();
    let (config, aws) = function_init::start(|env| {
        Ok::<_, env_config::ConfigError>((
            auth::Config::from_env(env)?,
            aws_env::AwsEnv::from_env(env)?,
        ))
    })
    .await?;
    let deps = match auth::Deps::new(config, &aws) {
        Ok(deps) => deps,
        Err(err) => return Err(function_init::fail("Runtime.InitError", err).await),
    };
    // Init runs with a full CPU and is not billed to the first request;
    // a failure here is retried on demand.
    // `cargo xtask bench` reads the init steps' `elapsed_ms` to say where
    // a cold start goes.
    let ms = |since: std::time::Instant| since.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        elapsed_ms = ms(started),
        "configuration read and clients built"
    );
    let prefetch = std::time::Instant::now();
    let (keys, secret) = tokio::join!(deps.verifier.prefetch(), deps.secrets.get());
    let elapsed_ms = ms(prefetch);
    match keys {
        Ok(keys) => tracing::info!(keys, elapsed_ms, "JWKS and secret prefetched at init"),
        Err(err) => tracing::warn!(
            error = %err,
            elapsed_ms,
            "JWKS not loaded at init; will retry on demand"
        ),
    }
    if let Err(err) = secret {
        tracing::warn!(error = %err, "secret not loaded at init; will retry on demand");
    }
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let budget = function_init::time_budget(&event.context, auth::DEADLINE_RESERVE);
        Ok::<Value, Infallible>(auth::handle_event(deps, event.payload, budget).await)
    }))
    .await
}
