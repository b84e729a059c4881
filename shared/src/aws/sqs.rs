//! The SQS adapter of the redrive queue port.

use aws_sdk_sqs::error::DisplayErrorContext;

use crate::ports::{DownstreamError, RedriveQueue};

/// Sends redrive messages to one SQS queue.
#[derive(Debug, Clone)]
pub struct SqsRedriveQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsRedriveQueue {
    /// A queue at `url`, reached through `client`.
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        SqsRedriveQueue {
            client,
            url: url.into(),
        }
    }
}

impl RedriveQueue for SqsRedriveQueue {
    async fn send(&self, body: String) -> Result<(), DownstreamError> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| DownstreamError::Queue {
                reason: DisplayErrorContext(&e).to_string(),
            })
    }
}
