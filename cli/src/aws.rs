//! AWS configuration for the commands: the SDK's defaults, optionally a local endpoint.

use aws_sdk_s3::error::DisplayErrorContext;

use crate::send::CliError;

/// The SDK configuration and an S3 client; a custom endpoint (moto) gets path-style S3.
pub async fn connect(endpoint_url: Option<&str>) -> (aws_config::SdkConfig, aws_sdk_s3::Client) {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let sdk = loader.load().await;
    let s3 = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(endpoint_url.is_some())
        .build();
    (sdk, aws_sdk_s3::Client::from_conf(s3))
}

/// An SDK error with its cause chain, for the command's error message.
pub fn error<E: std::error::Error>(what: &str, e: E) -> CliError {
    CliError::Aws(format!("{what}: {}", DisplayErrorContext(e)))
}
