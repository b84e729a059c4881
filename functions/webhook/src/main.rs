//! The Extracta.ai webhook receiver: configuration and AWS clients once, then one
//! request at a time through [`handler::Handler`].
#![forbid(unsafe_code)]

mod config;
mod handler;
mod http;
mod metrics;

use std::panic::AssertUnwindSafe;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use futures::FutureExt as _;
use lambda_http::http::StatusCode;
use lambda_http::request::LambdaRequest;
use lambda_http::{service_fn, LambdaEvent};
use shared::aws::{S3ResultStore, SnsPublisher};
use shared::plan::Destination;
use shared::signature::{Secret, Verifier};
use tracing::{error, warn};

use crate::config::{Config, SecretSource};
use crate::handler::{Handler, Reply};

type Webhook = Handler<S3ResultStore, SnsPublisher>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    init_tracing();
    let handler = match start().await {
        Ok(handler) => Arc::new(handler),
        Err(message) => {
            error!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let served = lambda_runtime::run(service_fn(move |event: LambdaEvent<LambdaRequest>| {
        let handler = Arc::clone(&handler);
        async move { Ok::<_, std::convert::Infallible>(serve(&handler, event.payload).await) }
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

/// lambda_http's default subscriber (`AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL`,
/// then `RUST_LOG`), except that lambda_runtime's TRACE line carrying the whole raw event
/// (body and signature header) is never enabled, whatever level is asked for.
fn init_tracing() {
    use tracing_subscriber::filter::{EnvFilter, LevelFilter};
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy()
        .add_directive(
            "lambda_runtime::layers::api_response=debug"
                .parse()
                .unwrap_or_else(|_| level.into()),
        );
    let fmt = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(filter);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    if json {
        fmt.json().init();
    } else {
        fmt.init();
    }
}

/// Reads configuration and builds the AWS clients, once per process.
async fn start() -> Result<Webhook, String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(8))
        // Answer 502 well before API Gateway's 29-second limit.
        .operation_timeout(Duration::from_secs(20))
        .build();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .load()
        .await;

    let verifier = match config.secret {
        SecretSource::Inline(secrets) => Verifier::Secrets(secrets),
        SecretSource::SecretsManager(arn) => Verifier::Secrets(fetch_secret(&sdk, &arn).await?),
        SecretSource::Unsigned => {
            warn!("ALLOW_UNSIGNED=true and no secret: every delivery is accepted unchecked; local development only");
            Verifier::Unsigned
        }
    };
    if config.allow_unsigned_ignored {
        warn!("ALLOW_UNSIGNED=true is ignored because a secret is configured: signatures are checked");
    }

    // A local endpoint (moto, MinIO) needs path-style S3 addressing.
    let custom_endpoint = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
    let s3_config = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(custom_endpoint)
        .build();
    Ok(Handler {
        verifier,
        destination: Destination {
            bucket: config.bucket.clone(),
            prefix: config.prefix,
        },
        max_body_bytes: config.max_body_bytes,
        max_concurrency: config.max_concurrency,
        store: S3ResultStore::new(aws_sdk_s3::Client::from_conf(s3_config), config.bucket),
        publisher: SnsPublisher::new(
            aws_sdk_sns::Client::new(&sdk),
            config.confirmed_topic_arn,
            config.failed_topic_arn,
        ),
    })
}

/// Reads the secret list from Secrets Manager (`EXTRACTA_WEBHOOK_SECRET_ARN`).
async fn fetch_secret(sdk: &aws_config::SdkConfig, arn: &str) -> Result<Vec<Secret>, String> {
    let out = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| {
            let cause = aws_sdk_secretsmanager::error::DisplayErrorContext(&e);
            format!("EXTRACTA_WEBHOOK_SECRET_ARN could not be read: {cause}")
        })?;
    let text = out
        .secret_string()
        .ok_or("EXTRACTA_WEBHOOK_SECRET_ARN is invalid: the secret has no SecretString")?;
    Secret::parse_list(text)
        .map_err(|_| "EXTRACTA_WEBHOOK_SECRET_ARN is invalid: its SecretString contains an empty secret".to_owned())
}

/// One event in, one answer out; a panic becomes a 500 rather than a runtime error.
async fn serve(handler: &Webhook, request: LambdaRequest) -> http::LambdaReply {
    let incoming = http::incoming(request);
    let origin = incoming.origin;
    let reply = AssertUnwindSafe(handler.handle(&incoming.method, &incoming.headers, incoming.body))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            error!("the handler panicked; answering 500");
            Reply {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                allow: None,
                body: r#"{"error":"internal error"}"#.into(),
            }
        });
    http::outgoing(origin, reply)
}
