//! Start-up with the AWS SDK: configuration, the secrets, and the S3, SNS, EventBridge and SQS clients,
//! built once per process (docs/contract.md §6).

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use shared::aws::{EventBridgeBus, S3ResultStore, SnsPublisher, SqsRedriveQueue};
use shared::pipeline::Announcers;
use shared::plan::Destination;
use shared::signature::Verifier;
use tracing::warn;

use crate::config::{Config, ConfigError, SecretSource};
use crate::handler::{Handler, Redrive};
use crate::secrets::{Keys, ReadSecret};

/// The function as deployed: S3, SNS (with EventBridge beside it when `EVENT_BUS_NAME` is
/// set) and SQS behind the ports.
pub type Webhook = Handler<S3ResultStore, SnsPublisher, EventBridgeBus, SqsRedriveQueue>;

/// Why the function could not start: the one line it logs before exiting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A configuration problem.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The secret could not be read from Secrets Manager (the reason, never the value).
    #[error("EXTRACTA_WEBHOOK_SECRET_ARN {0}")]
    ReadSecret(String),
    /// The secret was read but is not a usable list of secrets.
    #[error("EXTRACTA_WEBHOOK_SECRET_ARN is invalid: {0}")]
    InvalidSecret(String),
}

/// Reads configuration and builds the clients.
pub async fn start() -> Result<Webhook, StartError> {
    let config = Config::from_env()?;
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(8))
        // Answer well before an HTTP API's 30-second integration timeout.
        .operation_timeout(Duration::from_secs(20))
        .build();
    let mut sdk = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts);
    // Retries: standard mode, 3 attempts, chosen by the overload simulation
    // (docs/capacity.md). Against S3 SlowDown and SNS Throttling, 2 attempts left archive
    // copies unstored (502: 1-2% of deliveries); 5 attempts held throttled deliveries to
    // the 5 s ACK_DEADLINE_MS and adaptive mode past it (its client-side rate limit is per
    // process, so it only slows this one delivery, the archive copy's write included), and
    // both took fewer deliveries with the same instances. With 3 none was left undurable,
    // the backoff (at most 1 s + 2 s) ends within the deadline, and the redrive completes
    // the rest. The SDK's own AWS_RETRY_MODE and AWS_MAX_ATTEMPTS still override it.
    if !config.sdk_retries_set {
        sdk = sdk.retry_config(RetryConfig::standard().with_max_attempts(3));
    }
    let sdk = sdk.load().await;

    let keys = match config.secret {
        SecretSource::Inline(secrets) => Keys::fixed(Verifier::Secrets(secrets)),
        SecretSource::SecretsManager(arn) => {
            let read = secret_reader(aws_sdk_secretsmanager::Client::new(&sdk), arn);
            let text = read().await.map_err(StartError::ReadSecret)?;
            Keys::rereadable(text, read, config.secret_refresh_interval).map_err(StartError::InvalidSecret)?
        }
        SecretSource::Unsigned => {
            warn!("ALLOW_UNSIGNED=true and no secret: every delivery is accepted unchecked; local development only");
            Keys::fixed(Verifier::Unsigned)
        }
    };
    if config.allow_unsigned_ignored {
        warn!("ALLOW_UNSIGNED=true is ignored because a secret is configured: signatures are checked");
    }

    // Every request body is already in memory and signed with its SHA-256 (SigV4), so
    // S3 checks its integrity: no extra CRC32 per PutObject, and no stalled-stream
    // monitor (the timeouts above bound a stalled request). Measured in
    // docs/performance.md §7: both are per-request CPU the function need not spend.
    let s3_config = aws_sdk_s3::config::Builder::from(&sdk)
        // A local endpoint (moto, MinIO) needs path-style S3 addressing.
        .force_path_style(config.custom_endpoint)
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .build();
    let sns_config = aws_sdk_sns::config::Builder::from(&sdk)
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .build();
    // The same settings as SNS: the shared timeouts and retries, no stalled-stream monitor.
    let bus = config.event_bus.map(|bus| {
        let events_config = aws_sdk_eventbridge::config::Builder::from(&sdk)
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .build();
        EventBridgeBus::new(aws_sdk_eventbridge::Client::from_conf(events_config), bus)
    });
    Ok(Handler {
        keys,
        destination: Destination {
            bucket: config.bucket.clone(),
            prefix: config.prefix,
        },
        max_body_bytes: config.max_body_bytes,
        max_concurrency: config.max_concurrency,
        store: S3ResultStore::new(aws_sdk_s3::Client::from_conf(s3_config), config.bucket),
        announcers: Announcers {
            topics: SnsPublisher::new(
                aws_sdk_sns::Client::from_conf(sns_config),
                config.confirmed_topic_arn,
                config.failed_topic_arn,
            ),
            bus,
        },
        redrive: config.redrive_queue_url.map(|url| Redrive {
            queue: SqsRedriveQueue::new(aws_sdk_sqs::Client::new(&sdk), url),
            ack_deadline: config.ack_deadline,
        }),
        function_name: config.function_name,
    })
}

/// Reads the secret's `SecretString` from Secrets Manager (`EXTRACTA_WEBHOOK_SECRET_ARN`).
fn secret_reader(client: aws_sdk_secretsmanager::Client, arn: String) -> ReadSecret {
    let (client, arn) = (Arc::new(client), Arc::new(arn));
    Box::new(move || {
        let (client, arn) = (Arc::clone(&client), Arc::clone(&arn));
        Box::pin(async move {
            let out = client
                .get_secret_value()
                .secret_id(arn.as_str())
                .send()
                .await
                .map_err(|e| {
                    let cause = aws_sdk_secretsmanager::error::DisplayErrorContext(&e);
                    format!("could not be read: {cause}")
                })?;
            out.secret_string()
                .map(str::to_owned)
                .ok_or_else(|| "is invalid: the secret has no SecretString".to_owned())
        })
    })
}
