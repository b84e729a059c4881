//! The message body the function publishes for one file entry: on SNS for confirmed and
//! failed entries, as the `detail` of an EventBridge event for all four events.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The events whose files get a message: confirmed and failed on SNS, all four as the
/// `detail` of EventBridge events (docs/contract.md §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Event {
    /// `extraction.processed`, on the event bus only.
    #[serde(rename = "extraction.processed")]
    Processed,
    /// `extraction.edited`, on the event bus only.
    #[serde(rename = "extraction.edited")]
    Edited,
    /// `extraction.confirmed`, on the confirmed topic.
    #[serde(rename = "extraction.confirmed")]
    Confirmed,
    /// `extraction.failed`, on the failed topic.
    #[serde(rename = "extraction.failed")]
    Failed,
}

impl Event {
    /// The event name as published.
    pub fn name(self) -> &'static str {
        match self {
            Event::Processed => "extraction.processed",
            Event::Edited => "extraction.edited",
            Event::Confirmed => "extraction.confirmed",
            Event::Failed => "extraction.failed",
        }
    }
}

/// Where the full file entry is stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
pub struct S3Pointer {
    /// The results bucket.
    pub bucket: String,
    /// The file object's key, `{prefix}{extractionId}/{batchId}/{fileId}/{event}.json`.
    pub key: String,
}

/// One confirmed or failed message. Entry fields are JSON values as sent (an id may be a
/// number), `null` when the entry lacks them. Unknown members are ignored, so a newer
/// function that adds one does not break this reader.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Which event this file entry came with.
    pub event: Event,
    /// SHA-256 (lowercase hex) of the event name, a newline and the stored bytes: stable
    /// across retries and replays. De-duplicate on it; also the FIFO deduplication id.
    pub event_id: String,
    /// The entry's `extractionId`.
    #[serde(default)]
    pub extraction_id: Value,
    /// The entry's `batchId`.
    #[serde(default)]
    pub batch_id: Value,
    /// The entry's `fileId`.
    #[serde(default)]
    pub file_id: Value,
    /// The entry's `fileName`.
    #[serde(default)]
    pub file_name: Value,
    /// The entry's `status`.
    #[serde(default)]
    pub status: Value,
    /// The entry's `url`.
    #[serde(default)]
    pub url: Value,
    /// The extracted data of a processed, edited or confirmed entry, byte for byte as
    /// sent; `None` when it is `null`, when the event is failed, or when
    /// [`Message::result_omitted`].
    #[serde(default)]
    pub result: Option<Box<RawValue>>,
    /// The `error` of a failed entry, as sent; `None` when `null` or another event.
    #[serde(default)]
    pub error: Option<Box<RawValue>>,
    /// Where the full entry is stored.
    pub s3: S3Pointer,
    /// When the delivery was received: RFC 3339, UTC, milliseconds.
    pub received_at: String,
    /// True when the message was too large for SNS without leaving out `result` (or, for
    /// a bare pointer, every entry field): read the entry from [`Message::s3`].
    #[serde(default)]
    pub result_omitted: bool,
}

impl Message {
    /// Parses a message body as the function publishes it.
    pub fn from_json(body: &str) -> Result<Message, crate::Error> {
        Ok(serde_json::from_str(body)?)
    }

    /// The FIFO deduplication id the function publishes with: the [`Message::event_id`].
    pub fn deduplication_id(&self) -> &str {
        &self.event_id
    }

    /// The FIFO message group the function publishes with, computed from the message:
    /// the `extractionId` when it is a string SNS accepts as a group id (1-128 printable
    /// ASCII characters), its SHA-256 hex when it is another non-empty string, `_none`
    /// otherwise. `None` when the message cannot tell: `extractionId` is `null` and the
    /// message was shrunk (a bare pointer nulls every entry field). On a FIFO queue
    /// [`crate::Fifo::group_id`] is what SQS actually used.
    pub fn group_id(&self) -> Option<String> {
        match &self.extraction_id {
            Value::String(id) if id.is_empty() => Some("_none".to_owned()),
            Value::String(id) if id.len() <= 128 && id.bytes().all(|b| (0x21..=0x7E).contains(&b)) => Some(id.clone()),
            Value::String(id) => Some(hex(&Sha256::digest(id.as_bytes()))),
            Value::Null if self.result_omitted => None,
            _ => Some("_none".to_owned()),
        }
    }
}

/// Lowercase hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
