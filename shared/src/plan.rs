//! The routing plan: every S3 object and SNS message one delivery asks for (docs/contract.md §3-4).

use aws_lc_rs::digest::{digest, SHA256};
use bytes::Bytes;
use time::OffsetDateTime;

use crate::delivery::{Delivery, Route};
use crate::hex;
use crate::layout::{archive_key, event_component, file_key, metadata, Prefix};
use crate::message::{self, event_id, Message, Pointer, Topic};
use crate::newest::FileWrite;
use crate::ports::{BusEntry, Put};

/// Where results go: the parts of configuration the plan depends on.
#[derive(Debug, Clone)]
pub struct Destination {
    /// `RESULTS_BUCKET`
    pub bucket: String,
    /// `RESULTS_PREFIX`
    pub prefix: Prefix,
}

/// Everything one delivery writes and publishes, in the order it must happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The verbatim copy of the body under `_deliveries/`.
    pub archive: Put,
    /// One object per routed file entry, in entry order.
    pub files: Vec<Put>,
    /// One message per file of a confirmed or failed delivery, in file order (none for
    /// the other events); each after its object. Once the objects are decided, only the
    /// messages of files that were not superseded are left.
    pub messages: Vec<Message>,
    /// The event bus's entries (docs/contract.md §10), when the delivery has a bus
    /// ([`crate::pipeline::Announcers`]): one per file that was not superseded, or the
    /// archive pointer; put beside the messages. Made with the plan by
    /// [`Plan::make_bus_entries`], from the delivery already parsed, or else when the
    /// objects are decided; those of superseded files are dropped then.
    pub bus_entries: Vec<BusEntry>,
    /// Whether [`Plan::make_bus_entries`] made them already.
    bus_entries_made: bool,
    /// `RESULTS_BUCKET`, which the entries name.
    bucket: String,
    /// Every object is decided and the plan has let go of their bytes
    /// ([`Plan::release_stored`]): only the messages are left to do.
    stored: bool,
    /// Per file, whether its key held a newer delivery (known once stored).
    superseded: Vec<bool>,
    /// Per file, whether its entry was erased ([`Plan::leave_erased`]): complete with
    /// nothing to write or publish. Empty for a live delivery.
    erased: Vec<bool>,
}

/// The receipt time as every object and message of a delivery carries it: RFC 3339,
/// UTC, milliseconds.
pub fn received_at(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let Ok(year) = u32::try_from(at.year()) else {
        return format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            at.millisecond()
        );
    };
    // Written digit by digit: `format!` costs more than the rest of a small plan's strings.
    let mut out = String::with_capacity(24);
    let mut digits = |value: u32, width: u32, after: char| {
        for place in (0..width).rev() {
            out.push(char::from(b'0' + (value / 10u32.pow(place) % 10) as u8));
        }
        out.push(after);
    };
    digits(year, 4, '-');
    digits(u32::from(u8::from(at.month())), 2, '-');
    digits(u32::from(at.day()), 2, 'T');
    digits(u32::from(at.hour()), 2, ':');
    digits(u32::from(at.minute()), 2, ':');
    digits(u32::from(at.second()), 2, '.');
    digits(u32::from(at.millisecond()), 3, 'Z');
    out
}

impl Plan {
    /// Plans a verified delivery. `body` is the buffer `delivery` was parsed from, so
    /// stored objects are zero-copy slices of it.
    pub fn new(body: &Bytes, delivery: &Delivery<'_>, to: &Destination, at: OffsetDateTime) -> Plan {
        let received = received_at(at);
        let name = delivery.event_name();
        let archive_event = event_component(name.as_deref());
        let archive_id = event_id(name.as_deref().unwrap_or_default(), body);
        // The erasure's index of the entries rides on the archive copy's own PutObject.
        let budget = crate::erase::index_budget([
            (metadata::EVENT, archive_event.as_str()),
            (metadata::EVENT_ID, archive_id.as_str()),
            (metadata::RECEIVED_AT, received.as_str()),
        ]);
        let entry_ids = crate::erase::index(body, budget);
        let archive = Put {
            key: archive_key(
                &to.prefix,
                at.to_offset(time::UtcOffset::UTC).date(),
                &archive_event,
                &hex::lower(digest(&SHA256, body).as_ref()),
            ),
            body: body.clone(),
            event_id: archive_id,
            event: archive_event,
            received_at: received.clone(),
            entry_ids,
        };
        let Route::Files(kind, entries) = delivery.route() else {
            return Plan {
                archive,
                files: Vec::new(),
                messages: Vec::new(),
                bus_entries: Vec::new(),
                bus_entries_made: false,
                bucket: to.bucket.clone(),
                stored: false,
                superseded: Vec::new(),
                erased: Vec::new(),
            };
        };
        let topic = Topic::for_event(kind);
        let mut files = Vec::with_capacity(entries.len());
        let mut messages = Vec::with_capacity(if topic.is_some() { entries.len() } else { 0 });
        for entry in entries {
            let f = &entry.fields;
            let key = file_key(&to.prefix, [f.extraction_id, f.batch_id, f.file_id], kind.object_name());
            let id = event_id(kind.name().as_bytes(), entry.raw);
            if let Some(topic) = topic {
                let at = Pointer {
                    bucket: &to.bucket,
                    key: &key,
                    received_at: &received,
                };
                messages.push(message::build(kind, topic, entry, &id, at));
            }
            files.push(Put {
                key,
                body: body.slice_ref(entry.raw),
                event: kind.name().to_owned(),
                event_id: id,
                received_at: received.clone(),
                entry_ids: None,
            });
        }
        Plan {
            archive,
            files,
            messages,
            bus_entries: Vec::new(),
            bus_entries_made: false,
            bucket: to.bucket.clone(),
            stored: false,
            superseded: Vec::new(),
            erased: Vec::new(),
        }
    }

    /// For a redrive or replay of an archive copy an erasure redacted (docs/contract.md
    /// §11): every file whose entry is an erasure stub is complete with nothing to do. It
    /// is not written, gets no message and no bus entry, and counts as superseded. Not for
    /// a live delivery, where `"erased": true` means nothing. The count of such files.
    pub fn leave_erased(&mut self) -> usize {
        self.erased = self.files.iter().map(|f| crate::erase::is_stub(&f.body)).collect();
        self.erased.iter().filter(|e| **e).count()
    }

    /// Whether file `index`'s entry was erased ([`Plan::leave_erased`]).
    pub fn is_erased(&self, index: usize) -> bool {
        self.erased.get(index).copied().unwrap_or(false)
    }

    /// Makes the plan again as of `first`, the `received-at` of the archive copy an
    /// exact repeat found (docs/contract.md §9), from the body it was planned from; true
    /// when it did. Nothing changes when the plan already has that time, or when `first`
    /// is not a time of the same archive key (another UTC day, or not a time: a copy this
    /// function did not write). The plan lets go of its own objects and messages before
    /// it makes the new ones, so a large delivery is never held planned twice.
    pub fn replan_at_first_receipt(&mut self, body: &Bytes, to: &Destination, first: &str) -> bool {
        let rfc3339 = &time::format_description::well_known::Rfc3339;
        let day = |text: &str| {
            OffsetDateTime::parse(text, rfc3339)
                .ok()
                .map(|t| (t, t.to_offset(time::UtcOffset::UTC).date()))
        };
        let (Some((at, first_day)), Some((_, own_day))) = (day(first), day(&self.archive.received_at)) else {
            return false;
        };
        if first == self.archive.received_at || first_day != own_day {
            return false;
        }
        let Ok(delivery) = Delivery::parse(body) else {
            return false;
        };
        let key = std::mem::take(&mut self.archive.key);
        let with_bus = self.bus_entries_made;
        self.files = Vec::new();
        self.messages = Vec::new();
        self.bus_entries = Vec::new();
        *self = Plan::new(body, &delivery, to, at);
        if with_bus {
            self.make_bus_entries(&delivery);
        }
        debug_assert_eq!(
            self.archive.key, key,
            "same body, destination and day: same archive key"
        );
        true
    }

    /// Makes the event bus's entries now, from `delivery`, the parse this plan was made
    /// from: a delivery with a bus then needs no second parse of its body once its objects
    /// are decided, and a file whose SNS message is its `Detail` is not rendered twice.
    pub fn make_bus_entries(&mut self, delivery: &Delivery<'_>) {
        self.bus_entries = crate::bus::entries(delivery, &self.archive, &self.files, &self.messages, &self.bucket);
        self.bus_entries_made = true;
    }

    /// Whether every object is decided and its bytes released; carrying the plan out
    /// again then only publishes its messages.
    pub fn is_stored(&self) -> bool {
        self.stored
    }

    /// Whether file `index`'s key held a newer delivery, so it was not written and gets
    /// no message (known once the plan [`is_stored`](Plan::is_stored)).
    pub fn is_superseded(&self, index: usize) -> bool {
        self.superseded.get(index).copied().unwrap_or(false)
    }

    /// How many files were superseded.
    pub fn superseded(&self) -> usize {
        self.superseded.iter().filter(|s| **s).count()
    }

    /// Records what each file's write came to, drops the messages of superseded files,
    /// makes the bus entries of the others when `with_bus` (from the body, while
    /// the plan still holds it), and lets go of the objects' bytes (slices of the body), so
    /// nothing holds a large body while the messages go out.
    pub(crate) fn release_stored(&mut self, writes: &[FileWrite], with_bus: bool) {
        self.superseded = writes.iter().map(|w| *w == FileWrite::Superseded).collect();
        if self.messages.len() == self.files.len() {
            let mut superseded = self.superseded.iter();
            self.messages.retain(|_| !superseded.next().copied().unwrap_or(false));
        }
        if with_bus && !self.bus_entries_made {
            // Planned without them: the body parsed when the plan was made, so it parses again.
            let body = self.archive.body.clone();
            if let Ok(delivery) = Delivery::parse(&body) {
                self.make_bus_entries(&delivery);
            }
        }
        if with_bus && self.bus_entries.len() == self.files.len() {
            let mut superseded = self.superseded.iter();
            self.bus_entries
                .retain(|_| !superseded.next().copied().unwrap_or(false));
        }
        if !with_bus {
            self.bus_entries = Vec::new();
        }
        self.archive.body = Bytes::new();
        for put in &mut self.files {
            put.body = Bytes::new();
        }
        self.stored = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// 2026-03-07T23:59:59.5+02:00, which is 21:59:59.500 UTC the same day.
    fn at() -> OffsetDateTime {
        let date = time::Date::from_calendar_date(2026, time::Month::March, 7).unwrap();
        let t = time::Time::from_hms_milli(23, 59, 59, 500).unwrap();
        time::PrimitiveDateTime::new(date, t).assume_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap())
    }

    fn dest() -> Destination {
        Destination {
            bucket: "bkt".into(),
            prefix: Prefix::new("p"),
        }
    }

    #[test]
    fn bus_entries_made_with_the_plan_are_those_made_once_the_objects_are_decided() {
        // GIVEN every event (two routed with messages, two without, one archive-only), a
        // file whose message must leave its result out for SNS but whose entry need not
        // (SNS counts attributes, EventBridge does not), and each file in turn superseded
        let status = "s".repeat(10_000);
        let big = "x".repeat(crate::message::MAX_MESSAGE_BYTES - 15_000);
        let events = [
            "extraction.confirmed",
            "extraction.failed",
            "extraction.processed",
            "extraction.edited",
            "classification.done",
        ];
        for event in events {
            let body = Bytes::from(format!(
                r#"{{"event":"{event}","result":[{{"extractionId":"e","fileId":"f1","result":{{"n":1}},"error":"bad"}},{{"extractionId":"e","fileId":"f2","status":"{status}","result":{{"s":"{big}"}}}},{{"fileId":"f3"}}]}}"#
            ));
            let d = Delivery::parse(&body).unwrap();
            let n = Plan::new(&body, &d, &dest(), at()).files.len();
            for superseded in (0..n).map(Some).chain([None]) {
                let writes: Vec<FileWrite> = (0..n)
                    .map(|i| match Some(i) == superseded {
                        true => FileWrite::Superseded,
                        false => FileWrite::Written,
                    })
                    .collect();
                // WHEN one plan makes its entries up front and the other when decided
                let mut early = Plan::new(&body, &d, &dest(), at());
                early.make_bus_entries(&d);
                let mut late = Plan::new(&body, &d, &dest(), at());
                early.release_stored(&writes, true);
                late.release_stored(&writes, true);
                // THEN they put the same entries, none for the superseded file
                assert_eq!(
                    early.bus_entries, late.bus_entries,
                    "{event}, superseded {superseded:?}"
                );
                let expected = if n == 0 {
                    1
                } else {
                    n - usize::from(superseded.is_some())
                };
                assert_eq!(early.bus_entries.len(), expected, "{event}");
            }
            if event == "extraction.confirmed" {
                // (the case above holds: f2's message leaves its result out, its entry not)
                let plan = Plan::new(&body, &d, &dest(), at());
                assert!(plan.messages[1].result_omitted);
                let mut early = Plan::new(&body, &d, &dest(), at());
                early.make_bus_entries(&d);
                assert!(!early.bus_entries[1].result_omitted);
                assert!(
                    early.bus_entries[1].detail.contains(&big)
                        && !early.bus_entries[1].detail.contains("resultOmitted")
                );
                assert_eq!(early.bus_entries[0].detail, plan.messages[0].body);
            }
        }
    }

    #[test]
    fn a_repeat_planned_again_makes_its_bus_entries_at_the_first_receipt() {
        let body = Bytes::from_static(br#"{"event":"extraction.processed","result":[{"fileId":"f"}]}"#);
        let d = Delivery::parse(&body).unwrap();
        let mut plan = Plan::new(&body, &d, &dest(), at());
        plan.make_bus_entries(&d);
        let earlier = "2026-03-07T08:00:00.000Z";
        assert!(plan.replan_at_first_receipt(&body, &dest(), earlier));
        assert_eq!(plan.bus_entries.len(), 1);
        assert_eq!(plan.bus_entries[0].time, earlier);
        assert!(plan.bus_entries[0].detail.contains(earlier));
        // Without a bus, the plan made again makes none either.
        let mut plain = Plan::new(&body, &d, &dest(), at());
        assert!(plain.replan_at_first_receipt(&body, &dest(), earlier));
        assert!(plain.bus_entries.is_empty());
    }

    #[test]
    fn an_exact_repeat_is_planned_again_at_the_first_receipt_of_the_same_day() {
        let body = Bytes::from_static(br#"{"event":"extraction.confirmed","result":[{"fileId":"f"}]}"#);
        let d = Delivery::parse(&body).unwrap();
        let repeat = || Plan::new(&body, &d, &dest(), at());
        let earlier = "2026-03-07T08:00:00.000Z";
        let mut plan = repeat();
        assert!(plan.replan_at_first_receipt(&body, &dest(), earlier));
        assert_eq!(plan.archive.received_at, earlier);
        assert_eq!(plan.archive.key, repeat().archive.key);
        assert!(plan.files.iter().all(|f| f.received_at == earlier));
        assert!(plan.messages.iter().all(|m| m.body.contains(earlier)));
        // Nothing changes for its own time, a time of another UTC day (another key), or no time.
        for first in [
            "2026-03-07T21:59:59.500Z",
            "2026-03-06T23:00:00.000Z",
            "2026-03-08T00:30:00.000Z",
            "yesterday",
        ] {
            let mut plan = repeat();
            assert!(!plan.replan_at_first_receipt(&body, &dest(), first), "{first}");
            assert_eq!(plan.archive.received_at, "2026-03-07T21:59:59.500Z");
        }
        // The same day in another offset is the same day in UTC: planned again, in UTC.
        let mut plan = repeat();
        assert!(plan.replan_at_first_receipt(&body, &dest(), "2026-03-08T01:00:00+02:00"));
        assert_eq!(plan.archive.received_at, "2026-03-07T23:00:00.000Z");
    }

    #[test]
    fn receipt_time_is_utc_rfc3339_millis() {
        assert_eq!(received_at(at()), "2026-03-07T21:59:59.500Z");
    }

    #[test]
    fn confirmed_delivery_plans_objects_then_messages() {
        let body = Bytes::from_static(
            br#"{"event":"extraction.confirmed","result":[{"extractionId":"e","batchId":"b","fileId":"../../x"},{"fileId":"."}]}"#,
        );
        let d = Delivery::parse(&body).unwrap();
        let plan = Plan::new(&body, &d, &dest(), at());
        let keys: Vec<_> = plan.files.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            ["p/e/b/..%2F..%2Fx/confirmed.json", "p/_none/_none/%2E/confirmed.json"]
        );
        assert_eq!(&plan.files[1].body[..], br#"{"fileId":"."}"#);
        assert_eq!(
            plan.files[1].event_id,
            event_id(b"extraction.confirmed", br#"{"fileId":"."}"#)
        );
        assert_eq!(plan.messages.len(), 2);
        assert!(plan.messages[0]
            .body
            .contains(r#""s3":{"bucket":"bkt","key":"p/e/b/..%2F..%2Fx/confirmed.json"}"#));
        assert_eq!(plan.messages[0].event_id, plan.files[0].event_id);
        let sha = hex::lower(&Sha256::digest(&body));
        assert_eq!(
            plan.archive.key,
            format!("p/_deliveries/2026/03/07/extraction.confirmed/{sha}.json")
        );
        assert_eq!(plan.archive.body, body);
        assert_eq!(plan.archive.event, "extraction.confirmed");
        assert_eq!(plan.archive.event_id, event_id(b"extraction.confirmed", &body));
        assert!(plan
            .files
            .iter()
            .chain([&plan.archive])
            .all(|p| p.received_at == "2026-03-07T21:59:59.500Z"));
    }

    #[test]
    fn processed_and_edited_publish_nothing() {
        for event in ["extraction.processed", "extraction.edited"] {
            let body = Bytes::from(format!(r#"{{"event":"{event}","result":[{{"fileId":"f"}}]}}"#));
            let d = Delivery::parse(&body).unwrap();
            let plan = Plan::new(&body, &d, &dest(), at());
            assert_eq!(plan.files.len(), 1);
            assert!(plan.messages.is_empty());
            assert!(plan.files[0].key.ends_with(&format!("/f/{}.json", &event[11..])));
        }
    }

    #[test]
    fn unknown_or_unfit_bodies_are_archived_only() {
        for (body, component, id_name) in [
            (
                &br#"{"event":"classification.done","result":[{}]}"#[..],
                "classification.done",
                &b"classification.done"[..],
            ),
            (br#"{"result":[{}]}"#, "_none", b""),
            (br#"{"event":"a/b"}"#, "a%2Fb", b"a/b"),
        ] {
            let body = Bytes::copy_from_slice(body);
            let d = Delivery::parse(&body).unwrap();
            let plan = Plan::new(&body, &d, &dest(), at());
            assert!(plan.files.is_empty() && plan.messages.is_empty());
            assert!(
                plan.archive.key.contains(&format!("/2026/03/07/{component}/")),
                "{}",
                plan.archive.key
            );
            assert_eq!(plan.archive.event, component);
            assert_eq!(plan.archive.event_id, event_id(id_name, &body));
        }
    }
}
