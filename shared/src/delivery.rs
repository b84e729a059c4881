//! A delivery read from the body bytes, and its classification (docs/contract.md §3).
//!
//! Members are looked up as `JSON.parse` would see them (escaped keys decoded, the last
//! of duplicate keys wins) but kept as the exact bytes that stand in the body.

use std::borrow::Cow;

use crate::json::{JsonError, Kind, Raw, Scanner};

/// Why a body is not a delivery at all (`400`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedBody {
    /// Not valid JSON (or nested too deeply).
    #[error(transparent)]
    Json(#[from] JsonError),
    /// Valid JSON, but not an object.
    #[error("body is not a JSON object")]
    NotAnObject,
}

/// The four extraction events the function routes (docs/contract.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `extraction.processed`
    Processed,
    /// `extraction.edited`
    Edited,
    /// `extraction.confirmed`
    Confirmed,
    /// `extraction.failed`
    Failed,
}

impl EventKind {
    /// Every routed event.
    pub const ALL: [EventKind; 4] = [
        EventKind::Processed,
        EventKind::Edited,
        EventKind::Confirmed,
        EventKind::Failed,
    ];

    /// The event's name as Extracta sends it.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Processed => "extraction.processed",
            EventKind::Edited => "extraction.edited",
            EventKind::Confirmed => "extraction.confirmed",
            EventKind::Failed => "extraction.failed",
        }
    }

    /// The routed event with this name, if any.
    pub fn from_name(name: &[u8]) -> Option<Self> {
        EventKind::ALL.into_iter().find(|k| k.name().as_bytes() == name)
    }

    /// The last component of each file object's key.
    pub fn object_name(self) -> &'static str {
        match self {
            EventKind::Processed => "processed.json",
            EventKind::Edited => "edited.json",
            EventKind::Confirmed => "confirmed.json",
            EventKind::Failed => "failed.json",
        }
    }
}

/// The members of a file entry the function reads; each the last occurrence, as sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EntryFields<'a> {
    /// `extractionId`
    pub extraction_id: Option<Raw<'a>>,
    /// `batchId`
    pub batch_id: Option<Raw<'a>>,
    /// `fileId`
    pub file_id: Option<Raw<'a>>,
    /// `fileName`
    pub file_name: Option<Raw<'a>>,
    /// `status`
    pub status: Option<Raw<'a>>,
    /// `result`: the extracted data
    pub result: Option<Raw<'a>>,
    /// `url`
    pub url: Option<Raw<'a>>,
    /// `error`
    pub error: Option<Raw<'a>>,
}

impl<'a> EntryFields<'a> {
    fn slot(&mut self, key: &Raw<'a>) -> Option<&mut Option<Raw<'a>>> {
        // Borrowed, not copied, for a key written without escapes (almost every key).
        let name: Cow<'_, [u8]> = key.string_value()?;
        Some(match &*name {
            b"extractionId" => &mut self.extraction_id,
            b"batchId" => &mut self.batch_id,
            b"fileId" => &mut self.file_id,
            b"fileName" => &mut self.file_name,
            b"status" => &mut self.status,
            b"result" => &mut self.result,
            b"url" => &mut self.url,
            b"error" => &mut self.error,
            _ => return None,
        })
    }
}

/// One element of `result` that is an object: its exact text and the members we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileEntry<'a> {
    /// The entry's JSON exactly as it stands in the body: the bytes stored in S3.
    pub raw: &'a [u8],
    /// The members the key layout and the SNS message need.
    pub fields: EntryFields<'a>,
}

/// A parsed body: the top-level members that matter, as the bytes that stand there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery<'a> {
    body: &'a [u8],
    event: Option<Raw<'a>>,
    result: Option<Raw<'a>>,
    /// `Some` when `result` is an array whose every element is an object.
    entries: Option<Vec<FileEntry<'a>>>,
}

/// What a delivery asks of the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    /// A routed event: one S3 object per entry (and one message each for
    /// confirmed and failed).
    Files(EventKind, &'a [FileEntry<'a>]),
    /// Any other event, or a body that does not fit: the archive copy only.
    ArchiveOnly,
}

impl<'a> Delivery<'a> {
    /// Reads a body: it must be one JSON object (else `400`).
    pub fn parse(body: &'a [u8]) -> Result<Self, MalformedBody> {
        let mut sc = Scanner::new(body)?;
        if sc.peek()? != Kind::Object {
            // Validate the rest so that garbage reports as invalid JSON, not as "not an object".
            sc.skip_value(0)?;
            sc.finish()?;
            return Err(MalformedBody::NotAnObject);
        }
        let mut delivery = Delivery {
            body,
            event: None,
            result: None,
            entries: None,
        };
        let mut top = sc.object_start()?;
        while let Some(key) = sc.next_key(&mut top)? {
            if key.is_string("result") {
                let (raw, entries) = read_result(&mut sc)?;
                delivery.result = Some(raw);
                delivery.entries = entries;
            } else if key.is_string("event") {
                delivery.event = Some(sc.skip_value(1)?);
            } else {
                sc.skip_value(1)?;
            }
        }
        sc.finish()?;
        Ok(delivery)
    }

    /// The exact text of the `result` member, which the signature covers.
    pub fn result_bytes(&self) -> Option<&'a [u8]> {
        self.result.map(|r| r.bytes())
    }

    /// The `event` member, when it is a string, decoded (WTF-8).
    pub fn event_name(&self) -> Option<Cow<'a, [u8]>> {
        self.event.and_then(|e| e.string_value())
    }

    /// The `event` member as it stands in the body, whatever its kind.
    pub fn event_raw(&self) -> Option<Raw<'a>> {
        self.event
    }

    /// Classifies the delivery (docs/contract.md §3).
    pub fn route(&self) -> Route<'_> {
        let kind = self.event_name().and_then(|n| EventKind::from_name(&n));
        match (kind, &self.entries) {
            (Some(kind), Some(entries)) => Route::Files(kind, entries),
            _ => Route::ArchiveOnly,
        }
    }
}

/// Reads the value of a `result` member: its exact text, and its entries when it is an
/// array of objects.
fn read_result<'a>(sc: &mut Scanner<'a>) -> Result<(Raw<'a>, Option<Vec<FileEntry<'a>>>), JsonError> {
    if sc.peek()? != Kind::Array {
        return Ok((sc.skip_value(1)?, None));
    }
    let start = sc.position();
    let mut entries = Some(Vec::new());
    let mut array = sc.array_start()?;
    while sc.next_element(&mut array)? {
        if sc.peek()? != Kind::Object {
            sc.skip_value(2)?;
            entries = None;
            continue;
        }
        let entry_start = sc.position();
        let mut fields = EntryFields::default();
        let mut object = sc.object_start()?;
        while let Some(key) = sc.next_key(&mut object)? {
            let value = sc.skip_value(3)?;
            if let Some(slot) = fields.slot(&key) {
                *slot = Some(value);
            }
        }
        if let Some(list) = entries.as_mut() {
            list.push(FileEntry {
                raw: sc.since(entry_start),
                fields,
            });
        }
    }
    Ok((sc.raw_since(start, Kind::Array), entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_members_as_json_parse_would() {
        let body = br#"{"event":"x","res\u0075lt":[{"fileId":"a","fileId":"b"}],"event":"extraction.edited"}"#;
        let d = Delivery::parse(body).unwrap();
        assert_eq!(d.event_name().as_deref(), Some(&b"extraction.edited"[..]));
        assert_eq!(d.result_bytes(), Some(&br#"[{"fileId":"a","fileId":"b"}]"#[..]));
        let Route::Files(EventKind::Edited, [entry]) = d.route() else {
            panic!("{:?}", d.route())
        };
        assert_eq!(entry.fields.file_id.unwrap().bytes(), br#""b""#);
        assert_eq!(entry.raw, br#"{"fileId":"a","fileId":"b"}"#);
    }

    #[test]
    fn the_last_result_member_wins() {
        let d = Delivery::parse(br#"{"event":"extraction.processed","result":[{}],"result":"x"}"#).unwrap();
        assert_eq!(d.result_bytes(), Some(&br#""x""#[..]));
        assert_eq!(d.route(), Route::ArchiveOnly);
    }

    #[test]
    fn entries_keep_exact_bytes_and_unknown_fields() {
        let body = b"{\"event\": \"extraction.confirmed\", \"result\": [ {\"fileId\": 1.50, \"new\": {\"n\": 12345678901234567890} } , {} ] }";
        let d = Delivery::parse(body).unwrap();
        let Route::Files(EventKind::Confirmed, entries) = d.route() else {
            panic!()
        };
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0].raw,
            &b"{\"fileId\": 1.50, \"new\": {\"n\": 12345678901234567890} }"[..]
        );
        assert_eq!(entries[0].fields.file_id.unwrap().bytes(), b"1.50");
        assert_eq!(entries[1].raw, b"{}");
        assert_eq!(d.result_bytes().unwrap(), &body[44..body.len() - 2]);
    }

    #[test]
    fn what_does_not_fit_is_archive_only() {
        for body in [
            r#"{"event":"classification.completed","result":[{}]}"#,
            r#"{"event":"extraction.confirmed","result":[{}, 1]}"#,
            r#"{"event":"extraction.confirmed","result":{}}"#,
            r#"{"event":"extraction.confirmed"}"#,
            r#"{"event":7,"result":[]}"#,
            r#"{"result":[{}]}"#,
        ] {
            assert_eq!(
                Delivery::parse(body.as_bytes()).unwrap().route(),
                Route::ArchiveOnly,
                "{body}"
            );
        }
        let empty = Delivery::parse(br#"{"event":"extraction.failed","result":[]}"#).unwrap();
        assert_eq!(empty.route(), Route::Files(EventKind::Failed, &[]));
    }

    #[test]
    fn malformed_bodies() {
        assert_eq!(Delivery::parse(b"[]"), Err(MalformedBody::NotAnObject));
        assert_eq!(Delivery::parse(b"\"x\""), Err(MalformedBody::NotAnObject));
        assert!(matches!(
            Delivery::parse(b"[}"),
            Err(MalformedBody::Json(JsonError::Syntax { .. }))
        ));
        assert!(matches!(Delivery::parse(b"{} x"), Err(MalformedBody::Json(_))));
        assert!(matches!(Delivery::parse(b""), Err(MalformedBody::Json(_))));
        assert_eq!(
            Delivery::parse(b"{\"a\":\"\xff\"}"),
            Err(MalformedBody::Json(JsonError::InvalidUtf8))
        );
    }
}
