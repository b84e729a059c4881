//! The section-4 message of a file entry (docs/contract.md §4): the SNS message of a
//! confirmed or failed entry, and the body that EventBridge entries carry too (§10).

use aws_lc_rs::digest::{self, SHA256};

use crate::delivery::{EventKind, FileEntry};
use crate::json::{write_string, Raw};
use crate::layout::NONE;

/// SNS's limit for one message: body plus attribute names, types and values.
pub const MAX_MESSAGE_BYTES: usize = 262_144;

/// The topic a message goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// `CONFIRMED_TOPIC_ARN`
    Confirmed,
    /// `FAILED_TOPIC_ARN`
    Failed,
}

impl Topic {
    /// The topic an event publishes to, if any.
    pub fn for_event(kind: EventKind) -> Option<Topic> {
        match kind {
            EventKind::Confirmed => Some(Topic::Confirmed),
            EventKind::Failed => Some(Topic::Failed),
            EventKind::Processed | EventKind::Edited => None,
        }
    }
}

/// Lowercase hex SHA-256 of the event name, a newline, then the stored bytes.
pub fn event_id(event: &[u8], stored: &[u8]) -> String {
    let mut h = digest::Context::new(&SHA256);
    h.update(event);
    h.update(b"\n");
    h.update(stored);
    crate::hex::lower(h.finish().as_ref())
}

/// One SNS message, ready to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Where it goes.
    pub topic: Topic,
    /// The JSON body.
    pub body: String,
    /// String message attributes, in a fixed order; absent values left out.
    pub attributes: Vec<(&'static str, String)>,
    /// The `eventId`, also the FIFO deduplication id.
    pub event_id: String,
    /// The FIFO message group: the extraction id, or `_none`.
    pub group_id: String,
    /// Whether `result` was left out to fit SNS's size limit.
    pub result_omitted: bool,
}

impl Message {
    /// The size SNS counts against [`MAX_MESSAGE_BYTES`].
    pub fn size(&self) -> usize {
        self.body.len() + attributes_size(&self.attributes)
    }
}

fn attributes_size(attributes: &[(&'static str, String)]) -> usize {
    attributes
        .iter()
        .map(|(name, value)| name.len() + "String".len() + value.len())
        .sum()
}

/// Where the message says its entry is stored, and when it arrived.
#[derive(Debug, Clone, Copy)]
pub struct Pointer<'p> {
    /// `RESULTS_BUCKET`
    pub bucket: &'p str,
    /// The file object's key.
    pub key: &'p str,
    /// RFC 3339 UTC time of receipt.
    pub received_at: &'p str,
}

/// Builds the message for one entry of a confirmed or failed delivery.
pub fn build(kind: EventKind, topic: Topic, entry: &FileEntry<'_>, event_id: &str, at: Pointer<'_>) -> Message {
    let f = &entry.fields;
    let attributes: Vec<(&'static str, String)> = [
        ("event", Some(kind.name().to_owned())),
        ("extractionId", attribute_value(f.extraction_id)),
        ("batchId", attribute_value(f.batch_id)),
        ("fileId", attribute_value(f.file_id)),
        ("status", attribute_value(f.status)),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.map(|v| (name, v)))
    .collect();
    let group_id = group_id(f.extraction_id);
    let full = render(kind, event_id, entry, at, Omit::Nothing);
    let mut message = Message {
        topic,
        body: full,
        attributes,
        event_id: event_id.to_owned(),
        group_id,
        result_omitted: false,
    };
    if message.size() <= MAX_MESSAGE_BYTES {
        return message;
    }
    message.result_omitted = true;
    message.body = render(kind, event_id, entry, at, Omit::Result);
    if message.size() > MAX_MESSAGE_BYTES {
        // Even the entry's ids and names are too large: send a bare pointer to S3.
        message.attributes.truncate(1);
        message.body = render(kind, event_id, entry, at, Omit::Everything);
    }
    message
}

/// What to leave out of a message body, as its size limit demands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Omit {
    /// The whole message.
    Nothing,
    /// `result` (and `"resultOmitted": true` added).
    Result,
    /// `result`, and every field but `event`, `eventId`, `s3` and `receivedAt` is `null`.
    Everything,
}

/// Renders the section-4 message body of one file entry, for any of the four events:
/// `error` for a failed entry, `result` for the others (unless omitted). The SNS message
/// and the EventBridge entry's `Detail` both come from here, so they are byte-equal when
/// neither leaves anything out.
pub fn render(kind: EventKind, event_id: &str, entry: &FileEntry<'_>, at: Pointer<'_>, omit: Omit) -> String {
    let f = &entry.fields;
    let last = match kind {
        EventKind::Failed => Some(("error", f.error)),
        _ if omit == Omit::Nothing => Some(("result", f.result)),
        _ => None,
    };
    let capacity = match last {
        Some(("result", result)) => result.map(|r| r.bytes().len()).unwrap_or(4),
        _ => 0,
    };
    let mut out = Vec::with_capacity(512 + capacity);
    out.extend_from_slice(b"{\"event\":");
    write_string(&mut out, kind.name().as_bytes());
    out.extend_from_slice(b",\"eventId\":");
    write_string(&mut out, event_id.as_bytes());
    let fields = [
        Some(("extractionId", f.extraction_id)),
        Some(("batchId", f.batch_id)),
        Some(("fileId", f.file_id)),
        Some(("fileName", f.file_name)),
        Some(("status", f.status)),
        Some(("url", f.url)),
        last,
    ];
    for (name, value) in fields.into_iter().flatten() {
        out.push(b',');
        write_string(&mut out, name.as_bytes());
        out.push(b':');
        match value {
            Some(v) if omit != Omit::Everything => out.extend_from_slice(v.bytes()),
            _ => out.extend_from_slice(b"null"),
        }
    }
    out.extend_from_slice(b",\"s3\":");
    write_object_pointer(&mut out, at.bucket, at.key);
    out.extend_from_slice(b",\"receivedAt\":");
    write_string(&mut out, at.received_at.as_bytes());
    if omit != Omit::Nothing {
        out.extend_from_slice(b",\"resultOmitted\":true");
    }
    out.push(b'}');
    // Raw slices of a UTF-8 body cut at token boundaries, and escaped strings: UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Writes where an object is stored, `{"bucket":"…","key":"…"}`: the `s3` of a message
/// and the `archived` of an archive pointer (docs/contract.md §4, §10).
pub(crate) fn write_object_pointer(out: &mut Vec<u8>, bucket: &str, key: &str) {
    out.extend_from_slice(b"{\"bucket\":");
    write_string(out, bucket.as_bytes());
    out.extend_from_slice(b",\"key\":");
    write_string(out, key.as_bytes());
    out.push(b'}');
}

/// An attribute's value: a non-empty string SNS can carry, else left out.
fn attribute_value(value: Option<Raw<'_>>) -> Option<String> {
    let s = value?.as_str()?;
    (!s.is_empty() && s.chars().all(sns_allows)).then(|| s.into_owned())
}

/// The characters SNS accepts in messages and attributes (XML 1.0's).
fn sns_allows(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The FIFO message group for an entry: its extraction id when that is a string SNS
/// accepts as a group id (1-128 printable ASCII characters), the id's SHA-256 hex when
/// it is a string SNS would refuse, else `_none`.
fn group_id(extraction_id: Option<Raw<'_>>) -> String {
    match extraction_id.and_then(|v| v.string_value()) {
        Some(id) if id.is_empty() => NONE.to_owned(),
        Some(id) if id.len() <= 128 && id.iter().all(|b| (0x21..=0x7E).contains(b)) => {
            String::from_utf8_lossy(&id).into_owned()
        }
        Some(id) => crate::hex::lower(digest::digest(&SHA256, &id).as_ref()),
        None => NONE.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::{Delivery, Route};
    use sha2::{Digest, Sha256};

    const AT: Pointer<'static> = Pointer {
        bucket: "b",
        key: "k/confirmed.json",
        received_at: "2026-01-02T03:04:05.678Z",
    };

    fn with_entry<T>(event: &str, entry: &str, f: impl FnOnce(EventKind, &FileEntry<'_>) -> T) -> T {
        let body = format!(r#"{{"event":"{event}","result":[{entry}]}}"#);
        let d = Delivery::parse(body.as_bytes()).unwrap();
        let Route::Files(kind, [e]) = d.route() else {
            panic!("not routed")
        };
        f(kind, e)
    }

    #[test]
    fn event_id_is_sha256_of_name_newline_bytes() {
        // echo -n $'extraction.confirmed\n{}' | sha256sum
        assert_eq!(
            event_id(b"extraction.confirmed", b"{}"),
            crate::hex::lower(&Sha256::digest(b"extraction.confirmed\n{}"))
        );
    }

    #[test]
    fn confirmed_body_carries_fields_as_sent() {
        let entry = r#"{"extractionId":"e1","batchId":7,"fileId":"f","fileName":"a.pdf","status":"confirmed","result":{"n":1.50},"url":"u","x":1}"#;
        let m = with_entry("extraction.confirmed", entry, |k, e| {
            build(k, Topic::Confirmed, e, "id", AT)
        });
        assert_eq!(
            m.body,
            r#"{"event":"extraction.confirmed","eventId":"id","extractionId":"e1","batchId":7,"fileId":"f","fileName":"a.pdf","status":"confirmed","url":"u","result":{"n":1.50},"s3":{"bucket":"b","key":"k/confirmed.json"},"receivedAt":"2026-01-02T03:04:05.678Z"}"#
        );
        // batchId is a number: not a string attribute.
        let names: Vec<_> = m.attributes.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["event", "extractionId", "fileId", "status"]);
        assert_eq!(m.group_id, "e1");
        assert!(!m.result_omitted);
        serde_json::from_str::<serde_json::Value>(&m.body).unwrap();
    }

    #[test]
    fn failed_body_has_error_and_no_result_and_nulls_for_missing() {
        let m = with_entry(
            "extraction.failed",
            r#"{"error":"bad scan","result":{"x":1},"status":""}"#,
            |k, e| build(k, Topic::Failed, e, "id", AT),
        );
        let v: serde_json::Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(v["error"], "bad scan");
        assert!(v.get("result").is_none());
        assert!(v["extractionId"].is_null() && v["url"].is_null() && v["fileName"].is_null());
        // Empty status and missing ids are left out of the attributes.
        assert_eq!(m.attributes, vec![("event", "extraction.failed".to_owned())]);
        assert_eq!(m.group_id, NONE);
    }

    #[test]
    fn oversized_results_are_omitted() {
        // GIVEN a confirmed entry whose result alone passes SNS's limit
        let big = format!(
            r#"{{"extractionId":"e","result":{{"t":"{}"}}}}"#,
            "x".repeat(MAX_MESSAGE_BYTES)
        );
        let m = with_entry("extraction.confirmed", &big, |k, e| {
            build(k, Topic::Confirmed, e, "id", AT)
        });
        // THEN the message points to S3 without the result
        assert!(m.result_omitted);
        assert!(m.size() <= MAX_MESSAGE_BYTES);
        let v: serde_json::Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(v["resultOmitted"], true);
        assert!(v.get("result").is_none());
        assert_eq!(v["extractionId"], "e");
    }

    #[test]
    fn the_limit_counts_attributes_too() {
        // GIVEN a body just under the limit on its own
        let probe = with_entry("extraction.confirmed", r#"{"fileId":"f","result":""}"#, |k, e| {
            build(k, Topic::Confirmed, e, "id", AT)
        });
        let pad = MAX_MESSAGE_BYTES - probe.body.len() - 1;
        let entry = format!(r#"{{"fileId":"f","result":"{}"}}"#, "y".repeat(pad));
        let m = with_entry("extraction.confirmed", &entry, |k, e| {
            build(k, Topic::Confirmed, e, "id", AT)
        });
        // THEN the attributes tip it over and the result is omitted
        assert!(m.result_omitted, "size {}", m.size());
    }

    #[test]
    fn the_limit_is_body_and_attribute_bytes_counted_by_hand() {
        // SNS counts the body's UTF-8 bytes and, per attribute, its name, its data type
        // ("String", 6 bytes) and its value: here "event" + "String" + "extraction.confirmed"
        // (5 + 6 + 20) and "fileId" + "String" + "f" (6 + 6 + 1), 44 bytes. Counted here,
        // not by `Message::size`.
        let confirmed = |pad: &str| {
            let entry = format!(r#"{{"fileId":"f","result":"{pad}"}}"#);
            with_entry("extraction.confirmed", &entry, |k, e| {
                build(k, Topic::Confirmed, e, "id", AT)
            })
        };
        let probe = confirmed("");
        let attributes = vec![("event", "extraction.confirmed".to_owned()), ("fileId", "f".to_owned())];
        assert_eq!(probe.attributes, attributes);
        let fit = 262_144 - 44 - probe.body.len();
        // ASCII, then "é" (2 bytes) with one ASCII byte if the count is odd.
        for pad in [
            "y".repeat(fit),
            format!("{}{}", "é".repeat(fit / 2), "y".repeat(fit % 2)),
        ] {
            let m = confirmed(&pad);
            assert_eq!(m.body.len() + 44, 262_144, "the result goes into the body verbatim");
            assert!(!m.result_omitted, "exactly the limit");
            assert_eq!(m.size(), 262_144);
            assert!(confirmed(&format!("{pad}y")).result_omitted, "one byte over");
        }
    }

    #[test]
    fn huge_ids_fall_back_to_a_bare_pointer() {
        let big = format!(
            r#"{{"fileName":"{}","extractionId":"{}"}}"#,
            "n".repeat(MAX_MESSAGE_BYTES),
            "e".repeat(200)
        );
        let m = with_entry("extraction.failed", &big, |k, e| build(k, Topic::Failed, e, "id", AT));
        assert!(m.result_omitted && m.size() <= MAX_MESSAGE_BYTES);
        assert_eq!(m.attributes.len(), 1);
        // A 200-character id is not a valid group id: its hash groups it instead.
        assert_eq!(m.group_id, crate::hex::lower(&Sha256::digest("e".repeat(200))));
    }

    #[test]
    fn attributes_sns_cannot_carry_are_left_out() {
        let m = with_entry(
            "extraction.failed",
            r#"{"fileId":"a\u0001b","batchId":"\ud800","status":"ok"}"#,
            |k, e| build(k, Topic::Failed, e, "id", AT),
        );
        let names: Vec<_> = m.attributes.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["event", "status"]);
    }
}
