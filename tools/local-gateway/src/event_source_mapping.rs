//! Lambda's SQS event source mapping with `ReportBatchItemFailures`, played locally: receive
//! a batch from a queue, invoke the function with it as an SQS event, delete the records it
//! did not list in `batchItemFailures` and leave (or make visible again) the ones it did.
//! `local-gateway` runs it for the redrive queue of `make run`; the end-to-end harness
//! (tests/src/redrive.rs) drives the function under test with it.
use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use aws_sdk_sqs::Client;
use serde_json::{json, Map, Value};

/// A message received from a queue and not yet deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueMessage {
    /// `MessageId`.
    pub message_id: String,
    /// The receipt handle of this receive.
    pub receipt_handle: String,
    /// The body, as sent.
    pub body: String,
    /// `MD5OfBody`, as SQS computed it.
    pub md5_of_body: String,
    /// System attributes (`ApproximateReceiveCount`, `SentTimestamp`, ...).
    pub attributes: BTreeMap<String, String>,
}

impl QueueMessage {
    /// The message as the SDK received it (absent fields empty).
    pub fn from_sdk(m: &aws_sdk_sqs::types::Message) -> Self {
        QueueMessage {
            message_id: m.message_id().unwrap_or_default().to_owned(),
            receipt_handle: m.receipt_handle().unwrap_or_default().to_owned(),
            body: m.body().unwrap_or_default().to_owned(),
            md5_of_body: m.md5_of_body().unwrap_or_default().to_owned(),
            attributes: m
                .attributes()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                .collect(),
        }
    }

    /// `ApproximateReceiveCount` (1 on the first receive).
    pub fn receive_count(&self) -> u32 {
        self.attributes
            .get("ApproximateReceiveCount")
            .and_then(|c| c.parse().ok())
            .unwrap_or(1)
    }

    /// The SQS record Lambda's event source mapping puts in `Records` for this message,
    /// received from the queue `arn` in `region`.
    pub fn record(&self, arn: &str, region: &str) -> Value {
        let attributes: Map<String, Value> = self
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        json!({
            "messageId": self.message_id,
            "receiptHandle": self.receipt_handle,
            "body": self.body,
            "attributes": attributes,
            "messageAttributes": {},
            "md5OfBody": self.md5_of_body,
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": region,
        })
    }
}

/// The SQS event for a batch of `messages` received from the queue `arn` in `region`.
pub fn sqs_event(arn: &str, region: &str, messages: &[QueueMessage]) -> Value {
    json!({ "Records": messages.iter().map(|m| m.record(arn, region)).collect::<Vec<_>>() })
}

/// Why a poll did not complete.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An SQS call failed (the SDK's error with its cause).
    #[error("SQS {call} on {queue} failed: {cause}")]
    Sqs {
        /// The operation (`ReceiveMessage`, `DeleteMessage`, ...).
        call: &'static str,
        /// The queue URL.
        queue: String,
        /// The error and its cause.
        cause: String,
    },
}

fn sqs_error<E: std::error::Error>(call: &'static str, queue: &str, e: E) -> Error {
    Error::Sqs {
        call,
        queue: queue.to_owned(),
        cause: DisplayErrorContext(e).to_string(),
    }
}

/// The `itemIdentifier`s of a partial batch response `{"batchItemFailures": [...]}` to
/// the records `ids`; `Err` (the whole batch failed, as Lambda treats it) when the answer
/// has another shape or lists an id that is not a record of the batch.
pub fn batch_item_failures(answer: &Value, ids: &[&str]) -> Result<Vec<String>, String> {
    let Some(list) = answer.get("batchItemFailures").and_then(Value::as_array) else {
        return Err(format!(
            "an SQS invocation must answer {{\"batchItemFailures\": [..]}}, got {answer}"
        ));
    };
    list.iter()
        .map(|item| match item.get("itemIdentifier").and_then(Value::as_str) {
            Some(id) if ids.contains(&id) => Ok(id.to_owned()),
            Some(id) => Err(format!(
                "batchItemFailures lists {id:?}, not a record of this batch {ids:?}"
            )),
            None => Err(format!("batch item failure without a string itemIdentifier: {answer}")),
        })
        .collect()
}

/// What one poll did.
#[derive(Clone, Debug)]
pub struct Batch {
    /// The messages received and handed to the function, in order.
    pub messages: Vec<QueueMessage>,
    /// The message ids the function listed in `batchItemFailures` (every id when the
    /// invocation failed or its answer was not a batch response).
    pub failures: Vec<String>,
    /// Why the whole batch failed, when it did: the invocation's error, or the answer
    /// that is not a partial batch response.
    pub invalid: Option<String>,
    /// The function's answer, when it answered.
    pub answer: Option<Value>,
    /// Messages given up on at [`EventSourceMapping::max_receives`]: deleted, as the
    /// queue's redrive policy moves them to a dead-letter queue.
    pub dead: Vec<QueueMessage>,
}

impl Batch {
    /// The messages that completed (received and not listed as failed).
    pub fn completed(&self) -> Vec<&QueueMessage> {
        self.messages
            .iter()
            .filter(|m| !self.failures.contains(&m.message_id))
            .collect()
    }
}

/// The mapping of one queue: how it receives and what it does with a failed record.
#[derive(Clone, Debug)]
pub struct EventSourceMapping {
    /// The queue's URL.
    pub queue_url: String,
    /// The queue's ARN (`eventSourceARN` of the records).
    pub arn: String,
    /// The region (`awsRegion` of the records).
    pub region: String,
    /// Records per invocation (at most 10).
    pub batch_size: i32,
    /// Long polling: seconds a receive waits for a message.
    pub wait_seconds: i32,
    /// Visibility timeout of each receive in seconds; `None`: the queue's own.
    pub visibility_seconds: Option<i32>,
    /// Make a failed record visible again at once (a test's retry without waiting);
    /// otherwise it comes back after the visibility timeout, as on Lambda.
    pub retry_at_once: bool,
    /// Receives after which a failed record is deleted and counted as dead (the queue's
    /// `maxReceiveCount`, played here); `None`: the queue's redrive policy does it.
    pub max_receives: Option<u32>,
}

impl EventSourceMapping {
    /// A mapping of `queue_url` as the template configures the redrive queue's: one record
    /// per invocation, long polling, failed records back after the visibility timeout.
    pub fn new(queue_url: &str, arn: &str, region: &str) -> Self {
        EventSourceMapping {
            queue_url: queue_url.to_owned(),
            arn: arn.to_owned(),
            region: region.to_owned(),
            batch_size: 1,
            wait_seconds: 1,
            visibility_seconds: None,
            retry_at_once: false,
            max_receives: None,
        }
    }

    /// Receives up to `max` (at most 10) visible messages, hiding them for `visibility`
    /// seconds (or the queue's timeout); nothing is deleted.
    pub async fn receive(&self, sqs: &Client, max: i32, visibility: Option<i32>) -> Result<Vec<QueueMessage>, Error> {
        let out = sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max)
            .wait_time_seconds(self.wait_seconds)
            .set_visibility_timeout(visibility)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| sqs_error("ReceiveMessage", &self.queue_url, e))?;
        Ok(out.messages().iter().map(QueueMessage::from_sdk).collect())
    }

    /// One poll: receives a batch, hands it to `invoke` as an SQS event (`invoke` answers
    /// the function's answer, or the invocation's error), then deletes the records that
    /// completed and the failed ones at the receive limit, and makes the other failed ones
    /// visible again when [`EventSourceMapping::retry_at_once`]. `None` when the queue had
    /// nothing visible.
    pub async fn poll<F, Fut>(&self, sqs: &Client, invoke: F) -> Result<Option<Batch>, Error>
    where
        F: FnOnce(Value) -> Fut,
        Fut: Future<Output = Result<Value, String>>,
    {
        let messages = self.receive(sqs, self.batch_size, self.visibility_seconds).await?;
        if messages.is_empty() {
            return Ok(None);
        }
        let ids: Vec<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
        let (answer, listed) = match invoke(sqs_event(&self.arn, &self.region, &messages)).await {
            Ok(answer) => {
                let listed = batch_item_failures(&answer, &ids);
                (Some(answer), listed)
            }
            Err(error) => (None, Err(format!("the invocation failed: {error}"))),
        };
        let (failures, invalid) = match listed {
            Ok(failures) => (failures, None),
            Err(why) => (ids.iter().map(|id| (*id).to_owned()).collect(), Some(why)),
        };
        let mut dead = Vec::new();
        for m in &messages {
            let failed = failures.contains(&m.message_id);
            let give_up = failed && self.max_receives.is_some_and(|max| m.receive_count() >= max);
            if !failed || give_up {
                self.delete(sqs, &m.receipt_handle).await?;
                if give_up {
                    dead.push(m.clone());
                }
            } else if self.retry_at_once {
                sqs.change_message_visibility()
                    .queue_url(&self.queue_url)
                    .receipt_handle(&m.receipt_handle)
                    .visibility_timeout(0)
                    .send()
                    .await
                    .map_err(|e| sqs_error("ChangeMessageVisibility", &self.queue_url, e))?;
            }
        }
        Ok(Some(Batch {
            messages,
            failures,
            invalid,
            answer,
            dead,
        }))
    }

    /// Deletes one received message.
    pub async fn delete(&self, sqs: &Client, receipt_handle: &str) -> Result<(), Error> {
        sqs.delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| sqs_error("DeleteMessage", &self.queue_url, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, receives: &str) -> QueueMessage {
        QueueMessage {
            message_id: id.into(),
            receipt_handle: format!("rh-{id}"),
            body: "{\"archived\":\"k\"}".into(),
            md5_of_body: "md5".into(),
            attributes: BTreeMap::from([("ApproximateReceiveCount".into(), receives.into())]),
        }
    }

    #[test]
    fn records_have_the_event_source_mappings_shape() {
        let event = sqs_event(
            "arn:aws:sqs:us-east-1:123456789012:q",
            "us-east-1",
            &[message("m1", "2")],
        );
        let r = &event["Records"][0];
        assert_eq!(r["messageId"], "m1");
        assert_eq!(r["receiptHandle"], "rh-m1");
        assert_eq!(r["eventSource"], "aws:sqs");
        assert_eq!(r["eventSourceARN"], "arn:aws:sqs:us-east-1:123456789012:q");
        assert_eq!(r["awsRegion"], "us-east-1");
        assert_eq!(r["attributes"]["ApproximateReceiveCount"], "2");
        assert_eq!(message("m1", "2").receive_count(), 2);
        assert_eq!(message("m1", "x").receive_count(), 1);
    }

    #[test]
    fn batch_item_failures_are_read_and_checked() {
        let ids = ["a", "b"];
        let listed = json!({"batchItemFailures": [{"itemIdentifier": "b"}]});
        assert_eq!(batch_item_failures(&listed, &ids), Ok(vec!["b".to_owned()]));
        assert_eq!(batch_item_failures(&json!({"batchItemFailures": []}), &ids), Ok(vec![]));
        for bad in [
            json!({}),
            json!({"batchItemFailures": {}}),
            json!({"batchItemFailures": [{"itemIdentifier": 7}]}),
            json!({"batchItemFailures": [{"itemIdentifier": "c"}]}),
        ] {
            assert!(batch_item_failures(&bad, &ids).is_err(), "{bad}");
        }
    }
}
