//! The SNS adapter of the message publisher port: one `PublishBatch` per batch, with the
//! message attributes and, for FIFO topics, the group and de-duplication ids.

use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};

use crate::message::{Message, Topic};
use crate::ports::{DownstreamError, MessagePublisher};

/// Publishes messages to the confirmed and failed SNS topics.
#[derive(Debug, Clone)]
pub struct SnsPublisher {
    client: aws_sdk_sns::Client,
    confirmed_arn: String,
    failed_arn: String,
}

impl SnsPublisher {
    /// A publisher for the two topics.
    pub fn new(client: aws_sdk_sns::Client, confirmed_arn: impl Into<String>, failed_arn: impl Into<String>) -> Self {
        SnsPublisher {
            client,
            confirmed_arn: confirmed_arn.into(),
            failed_arn: failed_arn.into(),
        }
    }

    fn arn(&self, topic: Topic) -> &str {
        match topic {
            Topic::Confirmed => &self.confirmed_arn,
            Topic::Failed => &self.failed_arn,
        }
    }
}

/// Whether a topic is FIFO, which needs a group and a deduplication id on every message.
pub fn is_fifo(arn: &str) -> bool {
    arn.ends_with(".fifo")
}

fn entry(id: usize, m: &Message, fifo: bool) -> Result<PublishBatchRequestEntry, DownstreamError> {
    let mut e = PublishBatchRequestEntry::builder().id(id.to_string()).message(&m.body);
    for (name, value) in &m.attributes {
        let value = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .map_err(|e| DownstreamError::Publish {
                topic: m.topic,
                count: 1,
                reason: DisplayErrorContext(&e).to_string(),
            })?;
        e = e.message_attributes(*name, value);
    }
    if fifo {
        e = e.message_group_id(&m.group_id).message_deduplication_id(&m.event_id);
    }
    e.build().map_err(|e| DownstreamError::Publish {
        topic: m.topic,
        count: 1,
        reason: DisplayErrorContext(&e).to_string(),
    })
}

impl MessagePublisher for SnsPublisher {
    async fn publish(&self, topic: Topic, batch: &[&Message]) -> Result<(), DownstreamError> {
        let arn = self.arn(topic);
        let fifo = is_fifo(arn);
        let entries = batch
            .iter()
            .enumerate()
            .map(|(i, m)| entry(i, m, fifo))
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .publish_batch()
            .topic_arn(arn)
            .set_publish_batch_request_entries(Some(entries))
            .send()
            .await
            .map_err(|e| DownstreamError::Publish {
                topic,
                count: batch.len(),
                reason: DisplayErrorContext(&e).to_string(),
            })?;
        match out.failed() {
            [] => Ok(()),
            failed => Err(DownstreamError::Publish {
                topic,
                count: failed.len(),
                reason: failed.iter().map(|f| f.code()).collect::<Vec<_>>().join(", "),
            }),
        }
    }
}
