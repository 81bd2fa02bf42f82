//! Lambda entry point: logging, configuration, the verifier (with its keys
//! fetched during init), then the runtime loop.

use std::sync::Arc;

use authorizer::{Config, State};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let config = function_init::start(Config::from_env).await?;
    let state = match State::new(config) {
        Ok(state) => Arc::new(state),
        Err(err) => return Err(function_init::fail("Runtime.InitError", err).await),
    };
    // Init runs with a full CPU and is not billed to the first request; a
    // failure here is retried by the first request that needs the keys.
    match state.verifier.prefetch().await {
        Ok(keys) => tracing::info!(keys, "JWKS loaded at init"),
        Err(err) => tracing::warn!(error = %err, "JWKS not loaded at init; will retry on demand"),
    }
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let state = Arc::clone(&state);
        async move { authorizer::handle(&state, event.payload).await }
    }))
    .await
}
