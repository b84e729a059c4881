//! The three shapes a subscriber receives a message in, and the Lambda events that carry them.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::message::Message;
use crate::Error;

/// How a message reached the subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// SNS → SQS with `RawMessageDelivery=true`: the SQS body is the message.
    SqsRaw,
    /// SNS → SQS without raw delivery: the SQS body is SNS's envelope.
    SqsEnvelope,
    /// SNS → Lambda: `Records[].Sns.Message`.
    SnsLambda,
}

/// The FIFO fields SQS reports for a message from a FIFO topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fifo {
    /// `MessageGroupId`: the extraction id (see [`Message::group_id`]).
    pub group_id: String,
    /// `MessageDeduplicationId`: the `eventId`, when SQS reports it.
    pub deduplication_id: Option<String>,
}

/// A message with what its transport said about it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The function's message.
    pub message: Message,
    /// How it arrived.
    pub shape: Shape,
    /// The SQS `messageId` (the `itemIdentifier` of a batch item failure), or SNS's
    /// `MessageId` for SNS → Lambda. Not stable across redeliveries: de-duplicate on
    /// [`Message::event_id`] instead.
    pub message_id: Option<String>,
    /// The message attributes (`event`, `extractionId`, `batchId`, `fileId`, `status`,
    /// those that were set), name → value. Empty for an SQS body given without its
    /// attributes.
    pub attributes: BTreeMap<String, String>,
    /// The FIFO fields, on a FIFO queue.
    pub fifo: Option<Fifo>,
}

/// The part of an SNS notification a subscriber needs: the SQS body without raw
/// delivery, and `Records[].Sns` of an SNS → Lambda event.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnsNotification {
    /// `Notification` for a published message.
    #[serde(rename = "Type")]
    pub kind: String,
    /// SNS's id of this notification.
    #[serde(default)]
    pub message_id: Option<String>,
    /// The topic it was published to.
    #[serde(default)]
    pub topic_arn: Option<String>,
    /// The function's message, as a JSON string.
    pub message: String,
    /// The attributes, `{"Type": "String", "Value": ...}` each.
    #[serde(default)]
    pub message_attributes: HashMap<String, SnsAttribute>,
}

/// One attribute in an SNS notification.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnsAttribute {
    /// `String` for every attribute the function sets.
    #[serde(rename = "Type")]
    pub kind: String,
    /// The value.
    pub value: String,
}

impl SnsNotification {
    fn attributes(&self) -> BTreeMap<String, String> {
        self.message_attributes
            .iter()
            .map(|(name, a)| (name.clone(), a.value.clone()))
            .collect()
    }
}

/// Only the envelope's discriminating members, to tell an envelope from a raw message.
#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "Type", default)]
    kind: Option<String>,
    #[serde(rename = "Message", default)]
    message: Option<serde::de::IgnoredAny>,
}

impl Received {
    /// Parses an SQS message body, raw or in the SNS envelope (as `ReceiveMessage` or an
    /// SQS → Lambda record gives it). `message_id`, `attributes` and `fifo` are left for
    /// the caller when the body is raw: they are SQS's, not the body's.
    pub fn from_sqs_body(body: &str) -> Result<Received, Error> {
        let probe: Probe = serde_json::from_str(body)?;
        if probe.kind.as_deref() == Some("Notification") && probe.message.is_some() {
            let envelope: SnsNotification = serde_json::from_str(body)?;
            return Ok(Received {
                message: Message::from_json(&envelope.message)?,
                shape: Shape::SqsEnvelope,
                message_id: None,
                attributes: envelope.attributes(),
                fifo: None,
            });
        }
        Ok(Received {
            message: Message::from_json(body)?,
            shape: Shape::SqsRaw,
            message_id: None,
            attributes: BTreeMap::new(),
            fifo: None,
        })
    }

    /// Parses `Records[].Sns` of an SNS → Lambda event.
    pub fn from_sns(notification: &SnsNotification) -> Result<Received, Error> {
        Ok(Received {
            message: Message::from_json(&notification.message)?,
            shape: Shape::SnsLambda,
            message_id: notification.message_id.clone(),
            attributes: notification.attributes(),
            fifo: None,
        })
    }
}

/// One record of an SQS → Lambda event.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsRecord {
    /// The SQS message id: report it in `batchItemFailures` when the record fails.
    pub message_id: String,
    /// The SQS body.
    pub body: String,
    /// System attributes: `MessageGroupId`, `MessageDeduplicationId` on a FIFO queue, ...
    #[serde(default)]
    pub attributes: HashMap<String, String>,
    /// Message attributes (with raw delivery, the SNS attributes).
    #[serde(default)]
    pub message_attributes: HashMap<String, SqsAttribute>,
    /// `aws:sqs`.
    #[serde(default)]
    pub event_source: Option<String>,
}

/// One message attribute of an SQS → Lambda record.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsAttribute {
    /// `String` for every attribute the function sets.
    pub data_type: String,
    /// The value of a `String` attribute.
    #[serde(default)]
    pub string_value: Option<String>,
}

/// One record of an SNS → Lambda event.
#[derive(Debug, Clone, Deserialize)]
pub struct SnsRecord {
    /// The notification.
    #[serde(rename = "Sns")]
    pub sns: SnsNotification,
    /// `aws:sns`.
    #[serde(rename = "EventSource", default)]
    pub event_source: Option<String>,
}

/// A record of a Lambda event from SQS or from SNS.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Record {
    /// From an SQS event source mapping.
    Sqs(SqsRecord),
    /// From an SNS subscription.
    Sns(SnsRecord),
}

impl Record {
    /// The SQS message id, for `batchItemFailures`; `None` for an SNS record.
    pub fn sqs_message_id(&self) -> Option<&str> {
        match self {
            Record::Sqs(r) => Some(&r.message_id),
            Record::Sns(_) => None,
        }
    }

    /// The function's message in this record, with its attributes and FIFO fields.
    pub fn receive(&self) -> Result<Received, Error> {
        match self {
            Record::Sns(r) => Received::from_sns(&r.sns),
            Record::Sqs(r) => {
                let mut received = Received::from_sqs_body(&r.body)?;
                received.message_id = Some(r.message_id.clone());
                if received.shape == Shape::SqsRaw {
                    received.attributes = r
                        .message_attributes
                        .iter()
                        .filter_map(|(name, a)| Some((name.clone(), a.string_value.clone()?)))
                        .collect();
                }
                received.fifo = r.attributes.get("MessageGroupId").map(|group| Fifo {
                    group_id: group.clone(),
                    deduplication_id: r.attributes.get("MessageDeduplicationId").cloned(),
                });
                Ok(received)
            }
        }
    }
}

/// A Lambda event from SQS or SNS: `{"Records": [...]}`. Usable as the payload type of
/// `lambda_runtime::service_fn`.
#[derive(Debug, Clone, Deserialize)]
pub struct LambdaEvent {
    /// The records, in order.
    #[serde(rename = "Records")]
    pub records: Vec<Record>,
}
