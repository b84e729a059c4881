//! Events from the function's EventBridge bus (docs/contract.md §10), as a rule's target
//! receives them: the SQS body of a queue target, or the event a Lambda target is invoked
//! with. Both are EventBridge's envelope, `detail-type` and `detail` among its members.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::message::{Message, S3Pointer};
use crate::Error;

/// The `source` of every event the function puts.
pub const SOURCE: &str = "extracta.ai";

/// An EventBridge event of the function: a file's message, or an archive pointer.
#[derive(Debug, Clone)]
pub struct BusEvent {
    /// EventBridge's id of this event (not stable across puts: de-duplicate on
    /// [`BusEvent::event_id`]).
    pub id: Option<String>,
    /// `detail-type`: the Extracta event (`extraction.confirmed`, a future
    /// `classification.processed`, ...), or `_none`.
    pub detail_type: String,
    /// `source`: always [`SOURCE`].
    pub source: String,
    /// `time`: the delivery's receipt time, to the second.
    pub time: Option<String>,
    /// What the event carries.
    pub detail: Detail,
}

/// The `detail` of an event.
#[derive(Debug, Clone)]
pub enum Detail {
    /// One file entry's message, for any of the four routed events (the SNS message of
    /// confirmed and failed files).
    File(Message),
    /// Any other delivery (a future namespace, a body that does not fit): where its
    /// archive copy is.
    Pointer(ArchivePointer),
}

/// The `detail` of an event for a delivery that routes no files.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchivePointer {
    /// The body's `event` as sent (`null` when absent, or when the event was too large).
    #[serde(default)]
    pub event: Value,
    /// The archive copy's event-id: de-duplicate on it.
    pub event_id: String,
    /// The archive copy: the delivery's body byte for byte.
    pub archived: S3Pointer,
    /// Elements of the body's `result` when it is an array, else 0; `None` when shrunk.
    #[serde(default)]
    pub files: Option<u64>,
    /// When the delivery was received: RFC 3339, UTC, milliseconds.
    pub received_at: String,
    /// True when the entry was shrunk to fit EventBridge's size limit.
    #[serde(default)]
    pub result_omitted: bool,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default)]
    id: Option<String>,
    #[serde(rename = "detail-type")]
    detail_type: String,
    source: String,
    #[serde(default)]
    time: Option<String>,
    #[serde(borrow)]
    detail: &'a RawValue,
}

/// Only what tells a pointer from a file's message.
#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    archived: Option<serde::de::IgnoredAny>,
}

impl BusEvent {
    /// Parses an EventBridge event: the SQS body a queue target receives, or the event a
    /// Lambda target is invoked with (the same JSON).
    pub fn from_json(event: &str) -> Result<BusEvent, Error> {
        let envelope: Envelope<'_> = serde_json::from_str(event)?;
        let probe: Probe = serde_json::from_str(envelope.detail.get())?;
        let detail = if probe.archived.is_some() {
            Detail::Pointer(serde_json::from_str(envelope.detail.get())?)
        } else {
            Detail::File(Message::from_json(envelope.detail.get())?)
        };
        Ok(BusEvent {
            id: envelope.id,
            detail_type: envelope.detail_type,
            source: envelope.source,
            time: envelope.time,
            detail,
        })
    }

    /// Parses a Lambda target's payload (as `serde_json::Value`, e.g. from
    /// `lambda_runtime::LambdaEvent<Value>`).
    pub fn from_value(event: &Value) -> Result<BusEvent, Error> {
        BusEvent::from_json(&event.to_string())
    }

    /// The id to de-duplicate on: the message's `eventId`, or the pointer's.
    pub fn event_id(&self) -> &str {
        match &self.detail {
            Detail::File(m) => &m.event_id,
            Detail::Pointer(p) => &p.event_id,
        }
    }

    /// The file's message, when the event carries one.
    pub fn message(&self) -> Option<&Message> {
        match &self.detail {
            Detail::File(m) => Some(m),
            Detail::Pointer(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;

    const ID: &str = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

    fn envelope(detail_type: &str, detail: &str) -> String {
        format!(
            r#"{{"version":"0","id":"e-1","detail-type":"{detail_type}","source":"extracta.ai","account":"123456789012","time":"2026-11-26T18:19:08Z","region":"us-east-1","resources":[],"detail":{detail}}}"#
        )
    }

    #[test]
    fn a_file_message_of_each_event() {
        for (event, kind) in [
            ("extraction.processed", Event::Processed),
            ("extraction.edited", Event::Edited),
            ("extraction.confirmed", Event::Confirmed),
            ("extraction.failed", Event::Failed),
        ] {
            let last = if kind == Event::Failed {
                r#""error":"bad""#
            } else {
                r#""result":{"n":1.50}"#
            };
            let detail = format!(
                r#"{{"event":"{event}","eventId":"{ID}","extractionId":"x","batchId":7,"fileId":"f","fileName":null,"status":"s","url":null,{last},"s3":{{"bucket":"b","key":"k"}},"receivedAt":"2026-11-26T18:19:08.123Z"}}"#
            );
            let e = BusEvent::from_json(&envelope(event, &detail)).unwrap();
            assert_eq!(e.detail_type, event);
            assert_eq!(e.source, SOURCE);
            assert_eq!(e.id.as_deref(), Some("e-1"));
            assert_eq!(e.event_id(), ID);
            let m = e.message().unwrap();
            assert_eq!(m.event, kind);
            let entry = m.entry().unwrap();
            if kind == Event::Failed {
                assert!(entry.json.get().contains(r#""error":"bad""#));
            } else {
                // The result's text as it stands in the event.
                assert!(
                    entry.json.get().contains(r#""result":{"n":1.50}"#),
                    "{}",
                    entry.json.get()
                );
            }
        }
    }

    #[test]
    fn an_archive_pointer_under_any_detail_type() {
        for detail_type in ["classification.processed", "extraction.confirmed", "_none"] {
            let detail = format!(
                r#"{{"event":"{detail_type}","eventId":"{ID}","archived":{{"bucket":"b","key":"extracta/_deliveries/2026/11/26/x/{ID}.json"}},"files":2,"receivedAt":"2026-11-26T18:19:08.123Z"}}"#
            );
            let e = BusEvent::from_json(&envelope(detail_type, &detail)).unwrap();
            let Detail::Pointer(p) = &e.detail else {
                panic!("{detail_type}: not a pointer")
            };
            assert_eq!((p.files, p.result_omitted), (Some(2), false));
            assert!(p.archived.key.contains("_deliveries/"));
            assert!(e.message().is_none());
            assert_eq!(e.event_id(), ID);
        }
    }

    #[test]
    fn every_schema_example_parses_as_the_bus_delivers_it() {
        for (schema, file) in [
            (
                include_str!("../../schemas/processed-message.json"),
                Some(Event::Processed),
            ),
            (include_str!("../../schemas/edited-message.json"), Some(Event::Edited)),
            (
                include_str!("../../schemas/confirmed-message.json"),
                Some(Event::Confirmed),
            ),
            (include_str!("../../schemas/failed-message.json"), Some(Event::Failed)),
            (include_str!("../../schemas/archive-pointer.json"), None),
        ] {
            let schema: Value = serde_json::from_str(schema).unwrap();
            let examples = schema["examples"].as_array().unwrap();
            assert!(!examples.is_empty());
            for example in examples {
                let detail_type = example["event"].as_str().unwrap();
                let e = BusEvent::from_json(&envelope(detail_type, &example.to_string())).unwrap();
                assert_eq!(e.event_id(), example["eventId"]);
                match (&e.detail, file) {
                    (Detail::File(m), Some(kind)) => assert_eq!(m.event, kind),
                    (Detail::Pointer(p), None) => assert_eq!(p.files, example["files"].as_u64()),
                    (other, want) => panic!("{other:?} is not {want:?}"),
                }
            }
        }
    }

    #[test]
    fn not_an_event_of_the_function() {
        for bad in [
            r#"{"Type":"Notification","Message":"{}"}"#,
            r#"{"detail-type":"x","source":"extracta.ai","detail":{"event":"extraction.confirmed"}}"#,
            "[]",
        ] {
            assert!(BusEvent::from_json(bad).is_err(), "{bad}");
        }
    }
}
