//! The Lambda function: logging, configuration and clients once, then the runtime loop
//! (the library does the rest).
#![forbid(unsafe_code)]
// The runtime loop's future nests the whole handler (S3, SNS, EventBridge and SQS SDK
// calls) deeply.
#![recursion_limit = "256"]

use std::convert::Infallible;
use std::process::ExitCode;
use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use tracing::{error, info};
use webhook::lambda::{serve, Invocation};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    webhook::logging::init(&webhook::config::Logging::from_env());
    let handler = match webhook::app::start().await {
        Ok(handler) => {
            // The start line: which release runs (docs/contract.md §7).
            info!(version = env!("CARGO_PKG_VERSION"), "started");
            Arc::new(handler)
        }
        Err(e) => {
            error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let served = lambda_runtime::run(service_fn(move |event: LambdaEvent<Invocation>| {
        let handler = Arc::clone(&handler);
        async move { Ok::<_, Infallible>(serve(&handler, event.payload).await) }
    }))
    .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error = %e, "the Lambda runtime loop stopped");
            ExitCode::FAILURE
        }
    }
}
