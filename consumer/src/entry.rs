//! The full file entry a message stands for: from the message, or from S3.

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::message::{hex, Event, Message};
use crate::Error;

/// The `eventId` of stored bytes: SHA-256 (lowercase hex) of the event name, a newline,
/// then the bytes.
pub fn event_id(event: &str, stored: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(event.as_bytes());
    h.update(b"\n");
    h.update(stored);
    hex(&h.finalize())
}

/// Where a [`FileEntry`] was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Rebuilt from the message's fields (the entry's unknown members are not in it).
    Message,
    /// The S3 object, byte for byte as it stood in the delivery.
    S3 {
        /// Whether the object's bytes are the ones this message's `eventId` was computed
        /// over. False when a later delivery of the same file overwrote the object (the
        /// bucket's versioning keeps the earlier one); a newer message follows then.
        matches_event_id: bool,
    },
}

/// One file entry as JSON: `extractionId`, `batchId`, `fileId`, `fileName`, `status`,
/// `url`, `result` or `error`, and (from S3) any other member Extracta sent.
#[derive(Debug, Clone)]
pub struct FileEntry {
    /// The entry's JSON text.
    pub json: Box<RawValue>,
    /// Where it came from.
    pub source: Source,
}

impl FileEntry {
    /// The entry deserialized into a type of your own.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Error> {
        Ok(serde_json::from_str(self.json.get())?)
    }

    /// The entry read from the bytes of its S3 object.
    pub fn from_stored(message: &Message, stored: Vec<u8>) -> Result<FileEntry, Error> {
        let matches_event_id = event_id(message.event.name(), &stored) == message.event_id;
        let text = String::from_utf8(stored).map_err(|_| Error::NotUtf8)?;
        Ok(FileEntry {
            json: RawValue::from_string(text)?,
            source: Source::S3 { matches_event_id },
        })
    }
}

impl Message {
    /// The file entry rebuilt from the message: its non-null entry fields, `result` or
    /// `error` byte for byte as sent. `None` when [`Message::result_omitted`]: then only
    /// S3 has it (`Message::full_entry` with the `s3` feature, or [`FileEntry::from_stored`]).
    pub fn entry(&self) -> Option<FileEntry> {
        if self.result_omitted {
            return None;
        }
        let mut out = String::from("{");
        let fields = [
            ("extractionId", &self.extraction_id),
            ("batchId", &self.batch_id),
            ("fileId", &self.file_id),
            ("fileName", &self.file_name),
            ("status", &self.status),
            ("url", &self.url),
        ];
        for (name, value) in fields.into_iter().filter(|(_, v)| !v.is_null()) {
            push_member(&mut out, name, &value.to_string());
        }
        let last = match self.event {
            Event::Processed | Event::Edited | Event::Confirmed => ("result", self.result.as_deref()),
            Event::Failed => ("error", self.error.as_deref()),
        };
        if let (name, Some(raw)) = last {
            push_member(&mut out, name, raw.get());
        }
        out.push('}');
        // Built from valid JSON values: it parses.
        let json = RawValue::from_string(out).ok()?;
        Some(FileEntry {
            json,
            source: Source::Message,
        })
    }
}

fn push_member(out: &mut String, name: &str, json: &str) {
    if out.len() > 1 {
        out.push(',');
    }
    out.push_str(&Value::from(name).to_string());
    out.push(':');
    out.push_str(json);
}

#[cfg(feature = "s3")]
impl Message {
    /// The full file entry: from the message, or, when [`Message::result_omitted`], from
    /// the S3 object at [`Message::s3`] (needs `s3:GetObject` on it).
    pub async fn full_entry(&self, s3: &aws_sdk_s3::Client) -> Result<FileEntry, Error> {
        if let Some(entry) = self.entry() {
            return Ok(entry);
        }
        let failed = |reason: String| Error::S3 {
            bucket: self.s3.bucket.clone(),
            key: self.s3.key.clone(),
            reason,
        };
        let object = s3
            .get_object()
            .bucket(&self.s3.bucket)
            .key(&self.s3.key)
            .send()
            .await
            .map_err(|e| failed(aws_sdk_s3::error::DisplayErrorContext(&e).to_string()))?;
        let bytes = object.body.collect().await.map_err(|e| failed(e.to_string()))?;
        FileEntry::from_stored(self, bytes.to_vec())
    }
}
