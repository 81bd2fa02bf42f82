//! Entry point: config, then the extension until SHUTDOWN. Diagnostics go
//! to stderr; stdout carries only metrics.

use std::process::ExitCode;

use env_config::ProcessEnv;
use telemetry_extension::config::{Config, RUNTIME_API};
use telemetry_extension::diag::{self, Level};
use telemetry_extension::extension;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let name = extension::extension_name();
    let config = match Config::from_env(&ProcessEnv) {
        Ok(config) => config,
        Err(err) => {
            diag::log(
                Level::Error,
                "invalid configuration",
                &[("error", err.to_string().into())],
            );
            // Without the Runtime API there is nobody to tell; otherwise the
            // function's init error then names the bad variable.
            if err.variable != RUNTIME_API
                && let Ok(runtime_api) = std::env::var(RUNTIME_API)
                && let Err(report) =
                    extension::report_init_error(&runtime_api, &name, &err.to_string()).await
            {
                diag::log(
                    Level::Error,
                    "cannot report the init error",
                    &[("error", report.to_string().into())],
                );
            }
            return ExitCode::FAILURE;
        }
    };
    match extension::run(config, &name).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            diag::log(
                Level::Error,
                "telemetry extension stopped",
                &[("error", err.to_string().into())],
            );
            ExitCode::FAILURE
        }
    }
}
