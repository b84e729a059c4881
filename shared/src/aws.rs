//! AWS adapters of the ports: S3 for result objects, SNS for event messages, SQS for the
//! redrive queue.

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};

use crate::keys::metadata;
use crate::message::{Message, Topic};
use crate::pipeline::{
    Condition, DownstreamError, EventPublisher, ObjectMeta, RedriveQueue, ResultStore, StoredObject, Written,
};
use crate::plan::Put;

/// Stores result objects in one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3ResultStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3ResultStore {
    /// A store writing to `bucket` through `client`.
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        S3ResultStore {
            client,
            bucket: bucket.into(),
        }
    }
}

impl ResultStore for S3ResultStore {
    async fn put(&self, put: &Put, condition: &Condition) -> Result<Written, DownstreamError> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&put.key)
            .body(ByteStream::from(put.body.clone()))
            .content_type("application/json")
            .metadata(metadata::EVENT, &put.event)
            .metadata(metadata::EVENT_ID, &put.event_id)
            .metadata(metadata::RECEIVED_AT, &put.received_at);
        let request = match condition {
            Condition::Absent => request.if_none_match("*"),
            Condition::Matches(etag) => request.if_match(etag),
        };
        match request.send().await {
            Ok(_) => Ok(Written::Stored),
            // 412 PreconditionFailed; 409 ConditionalRequestConflict when another
            // conditional write of the key was in progress: both are decided again.
            Err(e) if matches!(e.raw_response().map(|r| r.status().as_u16()), Some(409 | 412)) => Ok(Written::Refused),
            Err(e) => Err(DownstreamError::Store {
                key: put.key.clone(),
                reason: DisplayErrorContext(&e).to_string(),
            }),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, DownstreamError> {
        let out = match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => return Ok(None),
            Err(e) => {
                return Err(DownstreamError::Read {
                    key: key.to_owned(),
                    reason: DisplayErrorContext(&e).to_string(),
                })
            }
        };
        let meta = |name: &str| out.metadata().and_then(|m| m.get(name)).cloned();
        Ok(Some(ObjectMeta {
            etag: out.e_tag().unwrap_or_default().to_owned(),
            event_id: meta(metadata::EVENT_ID),
            received_at: meta(metadata::RECEIVED_AT),
        }))
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>, DownstreamError> {
        let failed = |reason: String| DownstreamError::Read {
            key: key.to_owned(),
            reason,
        };
        let out = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(failed(DisplayErrorContext(&e).to_string())),
        };
        let received_at = out.metadata().and_then(|m| m.get(metadata::RECEIVED_AT)).cloned();
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| failed(DisplayErrorContext(&e).to_string()))?
            .into_bytes();
        Ok(Some(StoredObject { body, received_at }))
    }
}

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

impl EventPublisher for SnsPublisher {
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
