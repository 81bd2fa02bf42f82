//! Lambda entry point of the cors function: wiring only.

use std::sync::Arc;

use api_gateway::CorsConfig;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

/// Reads the CORS policy and serves preflights until Lambda stops us.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let cors =
        function_init::start(|env| CorsConfig::from_env(env).and_then(cors::require_origins))
            .await?;
    let cors = Arc::new(cors);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let cors = Arc::clone(&cors);
        async move { Ok::<Value, lambda_runtime::Error>(cors::handle_event(event.payload, &cors).await) }
    }))
    .await
}
