//! The example subscriber's Lambda binary: logging, configuration and the S3 client once,
//! then the runtime loop.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_lambda_events::sqs::SqsBatchResponse;
use extracta_consumer::LambdaEvent;
use subscriber::{LogSink, Subscriber};
use tracing::error;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    lambda_runtime::tracing::init_default_subscriber();
    let Some(dedup_bucket) = std::env::var("DEDUP_BUCKET").ok().filter(|b| !b.is_empty()) else {
        error!("DEDUP_BUCKET is not set: the bucket for the de-duplication markers");
        return ExitCode::FAILURE;
    };
    let dedup_prefix = std::env::var("DEDUP_PREFIX").unwrap_or_else(|_| "seen/".to_owned());
    let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
    // A local emulator (AWS_ENDPOINT_URL) needs path-style addressing; AWS does not.
    let local = std::env::var_os("AWS_ENDPOINT_URL").is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(local)
            .build(),
    );
    let subscriber = Arc::new(Subscriber {
        s3,
        dedup_bucket,
        dedup_prefix,
        sink: LogSink,
    });
    let served = lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<LambdaEvent>| {
            let subscriber = Arc::clone(&subscriber);
            async move { Ok::<SqsBatchResponse, std::convert::Infallible>(subscriber.handle(&event.payload).await) }
        },
    ))
    .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error = %e, "the Lambda runtime loop stopped");
            ExitCode::FAILURE
        }
    }
}
