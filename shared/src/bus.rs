//! The EventBridge side of a delivery (docs/contract.md §10): one entry per routed file,
//! one archive pointer for any other authenticated delivery, the claim check that keeps
//! each within EventBridge's size rule, and the batches they are put in. The entries and
//! the port that puts them are [`crate::ports::bus`]'s.

use futures::stream::{self, StreamExt, TryStreamExt};

use crate::delivery::{Delivery, EventKind, FileEntry, Route};
use crate::json::{write_string, Kind, Scanner};
use crate::layout::NONE;
use crate::message::{render, write_object_pointer, Message, Omit, Pointer};
use crate::ports::bus::{size_of, BusEntry, EventBus, MAX_BATCH_ENTRIES, MAX_ENTRY_BYTES};
use crate::ports::{DownstreamError, Put};

/// The most characters a `DetailType` taken from the body may have; a longer (or empty,
/// or non-string) event puts its archive pointer under `_none`.
pub const MAX_DETAIL_TYPE_CHARS: usize = 128;

/// The entry of one routed file: `Detail` is the file's section-4 message, `result` for
/// processed, edited and confirmed entries, `error` for failed ones; over the size limit
/// without `result`, and if still over, with only `event`, `eventId`, `s3`, `receivedAt`
/// and `resultOmitted` left. `full` is the message already rendered with nothing left
/// out, when there is one (the file's SNS message): the same bytes, not rendered again.
pub fn file_entry(
    kind: EventKind,
    entry: &FileEntry<'_>,
    event_id: &str,
    at: Pointer<'_>,
    full: Option<&str>,
) -> BusEntry {
    let mut omitted = false;
    let mut detail = String::new();
    for omit in [Omit::Nothing, Omit::Result, Omit::Everything] {
        detail = match (omit, full) {
            (Omit::Nothing, Some(full)) => full.to_owned(),
            _ => render(kind, event_id, entry, at, omit),
        };
        omitted = omit != Omit::Nothing;
        if size_of(kind.name(), &detail) <= MAX_ENTRY_BYTES {
            break;
        }
    }
    new_entry(kind.name(), detail, at.received_at, event_id, omitted)
}

/// Where the archive copy of a delivery is, and what its metadata says.
#[derive(Debug, Clone, Copy)]
pub struct Archived<'p> {
    /// `RESULTS_BUCKET`
    pub bucket: &'p str,
    /// The archive copy's key.
    pub key: &'p str,
    /// The archive copy's `event-id`.
    pub event_id: &'p str,
    /// RFC 3339 UTC time of receipt.
    pub received_at: &'p str,
}

/// The archive pointer of a delivery that routes no files (a future namespace, a body
/// that does not fit): `DetailType` the event when it is a non-empty string of at most
/// 128 characters, else `_none`; `Detail` `{"event", "eventId", "archived", "files",
/// "receivedAt"}`. Over the size limit (only an `event` that is not a string can take it
/// there) `event` and `files` are `null` and `"resultOmitted": true` is added.
pub fn pointer_entry(delivery: &Delivery<'_>, archived: Archived<'_>) -> BusEntry {
    let event = delivery.event_raw();
    let detail_type = event
        .and_then(|e| e.as_str())
        .filter(|name| !name.is_empty() && name.chars().count() <= MAX_DETAIL_TYPE_CHARS);
    let detail_type = detail_type.as_deref().unwrap_or(NONE);
    let files = delivery.result_bytes().map(count_elements).unwrap_or(0);
    let render = |omit: bool| {
        let mut out = Vec::with_capacity(256 + event.map_or(0, |e| e.bytes().len()));
        out.extend_from_slice(b"{\"event\":");
        match event {
            Some(e) if !omit => out.extend_from_slice(e.bytes()),
            _ => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"eventId\":");
        write_string(&mut out, archived.event_id.as_bytes());
        out.extend_from_slice(b",\"archived\":");
        write_object_pointer(&mut out, archived.bucket, archived.key);
        out.extend_from_slice(b",\"files\":");
        if omit {
            out.extend_from_slice(b"null");
        } else {
            out.extend_from_slice(files.to_string().as_bytes());
        }
        out.extend_from_slice(b",\"receivedAt\":");
        write_string(&mut out, archived.received_at.as_bytes());
        if omit {
            out.extend_from_slice(b",\"resultOmitted\":true");
        }
        out.push(b'}');
        // Slices of a UTF-8 body cut at token boundaries, and escaped strings: UTF-8.
        String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    };
    let full = render(false);
    let (detail, omitted) = if size_of(detail_type, &full) <= MAX_ENTRY_BYTES {
        (full, false)
    } else {
        (render(true), true)
    };
    new_entry(detail_type, detail, archived.received_at, archived.event_id, omitted)
}

/// The number of elements of `result` when it is an array, else 0.
fn count_elements(result: &[u8]) -> usize {
    let mut sc = Scanner::new(result).ok();
    let Some(sc) = sc.as_mut() else { return 0 };
    if sc.peek().ok() != Some(Kind::Array) {
        return 0;
    }
    let Ok(mut array) = sc.array_start() else { return 0 };
    let mut n = 0;
    while let Ok(true) = sc.next_element(&mut array) {
        if sc.skip_value(1).is_err() {
            break;
        }
        n += 1;
    }
    n
}

/// Every entry a planned delivery puts: one per file of a routed delivery (none for
/// `result: []`), in entry order, or one archive pointer for any other delivery.
///
/// `archive` and `files` are the delivery's planned writes, its file objects in entry
/// order; `messages` its planned messages (one per file, or none); `bucket` is the bucket
/// they go to. A message that left nothing out is the `Detail` of its file's entry.
pub fn entries(
    delivery: &Delivery<'_>,
    archive: &Put,
    files: &[Put],
    messages: &[Message],
    bucket: &str,
) -> Vec<BusEntry> {
    match delivery.route() {
        Route::Files(kind, entries) => entries
            .iter()
            .zip(files)
            .enumerate()
            .map(|(i, (entry, put))| {
                let at = Pointer {
                    bucket,
                    key: &put.key,
                    received_at: &put.received_at,
                };
                let full = match messages.get(i) {
                    Some(m) if messages.len() == files.len() && !m.result_omitted => Some(m.body.as_str()),
                    _ => None,
                };
                file_entry(kind, entry, &put.event_id, at, full)
            })
            .collect(),
        Route::ArchiveOnly => {
            let archived = Archived {
                bucket,
                key: &archive.key,
                event_id: &archive.event_id,
                received_at: &archive.received_at,
            };
            vec![pointer_entry(delivery, archived)]
        }
    }
}

/// Groups entries into `PutEvents` calls, in order: at most [`MAX_BATCH_ENTRIES`] each
/// and [`MAX_ENTRY_BYTES`] in all.
pub fn batches(entries: &[BusEntry]) -> Vec<Vec<&BusEntry>> {
    crate::batch::greedy(entries, MAX_BATCH_ENTRIES, MAX_ENTRY_BYTES, BusEntry::size, |_| ())
}

fn new_entry(detail_type: &str, detail: String, time: &str, event_id: &str, result_omitted: bool) -> BusEntry {
    BusEntry {
        detail_type: detail_type.to_owned(),
        detail,
        time: time.to_owned(),
        event_id: event_id.to_owned(),
        result_omitted,
    }
}

/// Puts every entry, in [`batches`], at most `max_in_flight` calls at once; the number of
/// entries put, or the first failure.
pub async fn put_all<B: EventBus>(
    bus: &B,
    entries: &[BusEntry],
    max_in_flight: usize,
) -> Result<usize, DownstreamError> {
    let batches = batches(entries);
    stream::iter(batches.iter().map(|batch| bus.put(batch)))
        .buffer_unordered(max_in_flight.max(1))
        .try_collect::<()>()
        .await?;
    Ok(entries.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Prefix;
    use crate::memory::{BusFaults, MemoryBus};
    use crate::message::{build, Topic, MAX_MESSAGE_BYTES};
    use crate::plan::Destination;
    use crate::plan::Plan;
    use bytes::Bytes;
    use proptest::prelude::*;

    fn plan_of(body: &str) -> (Bytes, Plan) {
        let body = Bytes::from(body.to_owned());
        let d = Delivery::parse(&body).unwrap();
        let to = Destination {
            bucket: "bkt".into(),
            prefix: Prefix::default(),
        };
        let plan = Plan::new(&body, &d, &to, time::OffsetDateTime::UNIX_EPOCH);
        (body, plan)
    }

    fn entries_of(body: &str) -> Vec<BusEntry> {
        let (bytes, plan) = plan_of(body);
        let d = Delivery::parse(&bytes).unwrap();
        entries(&d, &plan.archive, &plan.files, &plan.messages, "bkt")
    }

    fn json(s: &str) -> serde_json::Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn every_routed_event_puts_one_entry_per_file_with_its_message() {
        for kind in EventKind::ALL {
            let body = format!(
                r#"{{"event":"{}","result":[{{"extractionId":"e","fileId":"f1","result":{{"n":1.50}},"error":"bad"}},{{"fileId":"f2"}}]}}"#,
                kind.name()
            );
            let (bytes, plan) = plan_of(&body);
            let d = Delivery::parse(&bytes).unwrap();
            let got = entries(&d, &plan.archive, &plan.files, &plan.messages, "bkt");
            assert_eq!(got.len(), 2, "{kind:?}");
            let first = &got[0];
            assert_eq!(first.detail_type, kind.name());
            assert_eq!(first.time, "1970-01-01T00:00:00.000Z");
            assert_eq!(first.event_id, plan.files[0].event_id);
            assert!(!first.result_omitted);
            let v = json(&first.detail);
            assert_eq!(v["eventId"], plan.files[0].event_id.as_str());
            assert_eq!(v["s3"]["key"], plan.files[0].key.as_str());
            assert_eq!(v["receivedAt"], "1970-01-01T00:00:00.000Z");
            if kind == EventKind::Failed {
                assert_eq!(v["error"], "bad");
                assert!(v.get("result").is_none());
            } else {
                // The result's bytes as sent: 1.50 stays 1.50.
                assert!(first.detail.contains(r#""result":{"n":1.50}"#), "{}", first.detail);
                assert!(v.get("error").is_none());
            }
            assert!(v["fileName"].is_null());
        }
    }

    #[test]
    fn the_detail_is_byte_equal_to_the_sns_message_where_both_exist() {
        for event in ["extraction.confirmed", "extraction.failed"] {
            let body = format!(
                r#"{{"event":"{event}","result":[{{"extractionId":"e","batchId":7,"fileId":"f","status":"s","result":{{"a":[1,2]}},"error":"x","url":"u","fileName":"n"}}]}}"#
            );
            let (bytes, plan) = plan_of(&body);
            let d = Delivery::parse(&bytes).unwrap();
            assert_eq!(
                entries(&d, &plan.archive, &plan.files, &plan.messages, "bkt")[0].detail,
                plan.messages[0].body
            );
        }
    }

    #[test]
    fn an_empty_routed_delivery_puts_nothing() {
        assert!(entries_of(r#"{"event":"extraction.confirmed","result":[]}"#).is_empty());
    }

    #[test]
    fn other_deliveries_put_one_archive_pointer() {
        let (bytes, plan) = plan_of(r#"{"event":"classification.processed","result":[{"a":1},2,[3]]}"#);
        let d = Delivery::parse(&bytes).unwrap();
        let got = entries(&d, &plan.archive, &plan.files, &plan.messages, "bkt");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].detail_type, "classification.processed");
        assert_eq!(got[0].event_id, plan.archive.event_id);
        assert_eq!(
            got[0].detail,
            format!(
                r#"{{"event":"classification.processed","eventId":"{}","archived":{{"bucket":"bkt","key":"{}"}},"files":3,"receivedAt":"1970-01-01T00:00:00.000Z"}}"#,
                plan.archive.event_id, plan.archive.key
            )
        );
        // A routed event whose body does not fit points at the archive too.
        let unfit = &entries_of(r#"{"event":"extraction.confirmed","result":[{"a":1},"x"]}"#)[0];
        assert_eq!(unfit.detail_type, "extraction.confirmed");
        assert_eq!(json(&unfit.detail)["files"], 2);
    }

    #[test]
    fn a_pointer_detail_type_is_the_event_only_when_eventbridge_can_carry_it() {
        let long = "é".repeat(MAX_DETAIL_TYPE_CHARS);
        let longer = "é".repeat(MAX_DETAIL_TYPE_CHARS + 1);
        for (event, detail_type, files) in [
            (format!(r#""{long}""#), long.as_str(), 0),
            (format!(r#""{longer}""#), NONE, 0),
            (r#""""#.to_owned(), NONE, 0),
            ("7".to_owned(), NONE, 0),
            (r#""a\ud800""#.to_owned(), NONE, 0),
            (r#"{"x":[1]}"#.to_owned(), NONE, 0),
        ] {
            let got = &entries_of(&format!(r#"{{"event":{event},"result":{{}}}}"#))[0];
            assert_eq!(got.detail_type, detail_type, "{event}");
            // The event as sent, whatever its kind (a lone surrogate's escape included).
            assert!(
                got.detail.starts_with(&format!(r#"{{"event":{event},"#)),
                "{}",
                got.detail
            );
            assert!(got.detail.contains(&format!(r#""files":{files},"#)), "{}", got.detail);
        }
        let none = &entries_of(r#"{"result":[{}]}"#)[0];
        assert_eq!(none.detail_type, NONE);
        assert!(json(&none.detail)["event"].is_null());
    }

    #[test]
    fn an_oversized_result_is_claim_checked_and_the_sns_limit_is_not_the_entry_limit() {
        // GIVEN a processed entry whose result alone passes the entry limit
        let big = format!(
            r#"{{"event":"extraction.processed","result":[{{"extractionId":"e","result":{{"t":"{}"}}}}]}}"#,
            "x".repeat(MAX_ENTRY_BYTES)
        );
        let e = &entries_of(&big)[0];
        // THEN the entry carries no result and says so, within the limit
        assert!(e.result_omitted && e.size() <= MAX_ENTRY_BYTES);
        let v = json(&e.detail);
        assert_eq!(v["resultOmitted"], true);
        assert!(v.get("result").is_none());
        assert_eq!(v["extractionId"], "e");
    }

    /// EventBridge's size rule, counted by hand here and not by [`BusEntry::size`]: 14 bytes
    /// for the `Time` (always set), the 11 bytes of `Source` "extracta.ai", then the UTF-8
    /// bytes of `DetailType` and `Detail` (no resources are sent).
    const TIME_AND_SOURCE: usize = 14 + 11;

    /// A confirmed entry whose `result` is the string `pad`, and the bytes its `Detail`
    /// has besides `pad` (measured on the same entry with an empty `result`).
    fn confirmed_with(pad: &str) -> (BusEntry, usize) {
        let body = |r: &str| format!(r#"{{"event":"extraction.confirmed","result":[{{"result":"{r}"}}]}}"#);
        let probe = &entries_of(&body(""))[0];
        let e = entries_of(&body(pad)).remove(0);
        (e, probe.detail.len())
    }

    #[test]
    fn an_entry_of_exactly_the_limit_keeps_its_result_and_one_byte_more_omits_it() {
        // "extraction.confirmed" is 20 bytes; the result's bytes go into Detail as sent.
        let frame = |pad: usize| TIME_AND_SOURCE + 20 + pad;
        let (_, rest) = confirmed_with("");
        let fit = MAX_ENTRY_BYTES - frame(rest);
        // ASCII: fit one-byte characters, then one more.
        let (e, _) = confirmed_with(&"y".repeat(fit));
        assert_eq!(e.detail.len(), rest + fit, "the result goes into Detail verbatim");
        assert_eq!(frame(rest + fit), 262_144);
        assert_eq!(e.size(), 262_144);
        assert!(!e.result_omitted);
        let (e, _) = confirmed_with(&"y".repeat(fit + 1));
        assert!(e.result_omitted, "262,145 bytes as EventBridge counts them");
        // Multi-byte: "é" is 2 bytes and "€" 3, so the limit is a count of bytes, not of
        // characters.
        for (ch, width) in [("é", 2), ("€", 3)] {
            let chars = fit / width;
            let pad = format!("{}{}", ch.repeat(chars), "y".repeat(fit - chars * width));
            let (e, _) = confirmed_with(&pad);
            assert_eq!(e.detail.len(), rest + fit, "{ch}");
            assert_eq!(e.size(), 262_144, "{ch}");
            assert!(!e.result_omitted, "{ch}: exactly the limit");
            let (e, _) = confirmed_with(&format!("{pad}{ch}"));
            assert!(e.result_omitted, "{ch}: {width} bytes over");
            let (e, _) = confirmed_with(&format!("{pad}y"));
            assert!(e.result_omitted, "{ch}: one byte over");
        }
    }

    #[test]
    fn the_size_rule_counts_time_source_and_the_utf8_bytes_of_detail_type_and_detail() {
        // 128 "é" (the longest DetailType a pointer may carry) are 256 bytes.
        let detail_type = "é".repeat(MAX_DETAIL_TYPE_CHARS);
        let entry = |detail: String| new_entry(&detail_type, detail, "1970-01-01T00:00:00.000Z", "id", false);
        // `{"d":"` and `"}` are 8 bytes around the text.
        let fit = 262_144 - (TIME_AND_SOURCE + 256 + 8);
        assert_eq!(fit, 261_855);
        // 87,285 "€" of 3 bytes: 261,855 bytes, the entry exactly at the limit.
        let at_limit = entry(format!(r#"{{"d":"{}"}}"#, "€".repeat(87_285)));
        assert_eq!(at_limit.size(), 262_144);
        let over = entry(format!(r#"{{"d":"{}y"}}"#, "€".repeat(87_285)));
        assert_eq!(over.size(), 262_145);
        // ASCII throughout: a 20-byte DetailType and a Detail of 100 bytes.
        let small = new_entry("extraction.confirmed", "x".repeat(100), "t", "id", false);
        assert_eq!(small.size(), 14 + 11 + 20 + 100);
        // Two entries of exactly half the limit each go in one call; a byte more, in two.
        let half = |extra: usize| new_entry("t", "d".repeat(131_072 - 26 + extra), "t", "id", false);
        assert_eq!(half(0).size(), 131_072);
        let pair = [half(0), half(0)];
        assert_eq!(batches(&pair).len(), 1);
        let pair = [half(0), half(1)];
        assert_eq!(batches(&pair).len(), 2);
    }

    #[test]
    fn huge_ids_fall_back_to_nulls() {
        let big = format!(
            r#"{{"event":"extraction.failed","result":[{{"fileName":"{}","error":"e"}}]}}"#,
            "n".repeat(MAX_ENTRY_BYTES)
        );
        let e = &entries_of(&big)[0];
        assert!(e.result_omitted && e.size() <= MAX_ENTRY_BYTES);
        let v = json(&e.detail);
        assert!(v["fileName"].is_null() && v["error"].is_null());
        assert_eq!(v["event"], "extraction.failed");
        assert!(v["s3"]["key"].is_string() && v["receivedAt"].is_string());
    }

    #[test]
    fn an_oversized_event_in_a_pointer_is_nulled() {
        let body = format!(r#"{{"event":["{}"]}}"#, "z".repeat(MAX_ENTRY_BYTES));
        let e = &entries_of(&body)[0];
        assert!(e.result_omitted && e.size() <= MAX_ENTRY_BYTES);
        let v = json(&e.detail);
        assert!(v["event"].is_null() && v["files"].is_null());
        assert_eq!(v["resultOmitted"], true);
        assert!(v["archived"]["key"].is_string());
    }

    #[test]
    fn a_large_confirmed_entry_is_the_same_text_on_both_sides() {
        // The SNS limit counts attributes, the entry limit does not: within a few hundred
        // bytes of the limit the two may differ, each following its own rule; below, equal.
        let body = format!(
            r#"{{"event":"extraction.confirmed","result":[{{"extractionId":"e","result":"{}"}}]}}"#,
            "q".repeat(MAX_MESSAGE_BYTES - 1_000)
        );
        let (bytes, plan) = plan_of(&body);
        let d = Delivery::parse(&bytes).unwrap();
        let Route::Files(kind, files) = d.route() else {
            panic!("not routed")
        };
        let at = Pointer {
            bucket: "bkt",
            key: &plan.files[0].key,
            received_at: &plan.files[0].received_at,
        };
        let m = build(kind, Topic::Confirmed, &files[0], &plan.files[0].event_id, at);
        let e = file_entry(kind, &files[0], &plan.files[0].event_id, at, None);
        assert!(!m.result_omitted && !e.result_omitted);
        assert_eq!(m.body, e.detail);
    }

    fn sized(n: usize) -> BusEntry {
        let mut e = new_entry("t", String::new(), "x", &format!("id{n}"), false);
        e.detail = "d".repeat(n.saturating_sub(e.size()));
        e
    }

    proptest! {
        #[test]
        fn batches_keep_order_count_and_total_size(sizes in prop::collection::vec(40usize..=MAX_ENTRY_BYTES, 0..40)) {
            let entries: Vec<BusEntry> = sizes.iter().map(|&n| sized(n)).collect();
            let got = batches(&entries);
            // Every entry once, in order.
            let flat: Vec<*const BusEntry> = got.iter().flatten().map(|e| *e as *const BusEntry).collect();
            let want: Vec<*const BusEntry> = entries.iter().map(|e| e as *const BusEntry).collect();
            prop_assert_eq!(flat, want);
            for batch in &got {
                prop_assert!(!batch.is_empty() && batch.len() <= MAX_BATCH_ENTRIES);
                prop_assert!(batch.iter().map(|e| e.size()).sum::<usize>() <= MAX_ENTRY_BYTES);
            }
            // Greedy: a batch closed early could not have taken the next entry.
            for pair in got.windows(2) {
                let total: usize = pair[0].iter().map(|e| e.size()).sum();
                prop_assert!(pair[0].len() == MAX_BATCH_ENTRIES || total + pair[1][0].size() > MAX_ENTRY_BYTES);
            }
        }

        #[test]
        fn every_entry_fits_and_keeps_what_fits(
            pad in 0usize..(MAX_ENTRY_BYTES + 400),
            name_pad in 0usize..300,
            failed in any::<bool>(),
        ) {
            let event = if failed { "extraction.failed" } else { "extraction.edited" };
            let body = format!(
                r#"{{"event":"{event}","result":[{{"fileName":"{}","result":"{}","error":"{}"}}]}}"#,
                "n".repeat(name_pad),
                "r".repeat(pad),
                "r".repeat(pad),
            );
            let e = &entries_of(&body)[0];
            prop_assert!(e.size() <= MAX_ENTRY_BYTES);
            let v = json(&e.detail);
            prop_assert_eq!(v["resultOmitted"] == true, e.result_omitted);
            // The full message is only left out when it would not fit.
            let (bytes, plan) = plan_of(&body);
            let d = Delivery::parse(&bytes).unwrap();
            let Route::Files(kind, files) = d.route() else { panic!("not routed") };
            let at = Pointer { bucket: "bkt", key: &plan.files[0].key, received_at: &plan.files[0].received_at };
            let full = render(kind, &plan.files[0].event_id, &files[0], at, Omit::Nothing);
            prop_assert_eq!(e.result_omitted, size_of(event, &full) > MAX_ENTRY_BYTES);
            if !e.result_omitted {
                prop_assert_eq!(&e.detail, &full);
            }
        }
    }

    mod carried_out {
        //! Entries put by the pipeline itself: live, superseded, failed, retried, redriven.
        use super::*;
        use crate::memory::Memory;
        use crate::memory::{BusFaults, MemoryBus};
        use crate::pipeline::{deliver, execute, Announcers, Incomplete, Outcome};
        use std::future::pending;
        use std::sync::Arc;

        type Publisher = Announcers<Arc<Memory>, Arc<MemoryBus>>;

        fn dest() -> Destination {
            Destination {
                bucket: "bkt".into(),
                prefix: Prefix::default(),
            }
        }

        fn planned(body: &str, secs: i64) -> (Bytes, Plan) {
            let body = Bytes::from(body.to_owned());
            let d = Delivery::parse(&body).unwrap();
            let at = time::OffsetDateTime::from_unix_timestamp(1_772_920_000 + secs).unwrap();
            let plan = Plan::new(&body, &d, &dest(), at);
            (body, plan)
        }

        fn with_bus(memory: &Arc<Memory>, bus: &Arc<MemoryBus>) -> Publisher {
            Announcers {
                topics: Arc::clone(memory),
                bus: Some(Arc::clone(bus)),
            }
        }

        async fn live(
            body: &str,
            secs: i64,
            store: &Memory,
            publisher: &Announcers<Arc<Memory>, impl EventBus>,
        ) -> Result<(Plan, Outcome), Incomplete> {
            let (bytes, mut plan) = planned(body, secs);
            let outcome = deliver(&mut plan, bytes, &dest(), store, publisher, 4, pending()).await?;
            Ok((plan, outcome))
        }

        const CONFIRMED: &str =
            r#"{"event":"extraction.confirmed","result":[{"fileId":"a","result":1},{"fileId":"b"},{"fileId":"c"}]}"#;

        #[tokio::test]
        async fn a_live_delivery_puts_one_entry_per_file_beside_its_messages() {
            let (memory, bus) = (Arc::new(Memory::default()), Arc::new(MemoryBus::default()));
            let (plan, outcome) = live(CONFIRMED, 0, &memory, &with_bus(&memory, &bus)).await.unwrap();
            assert_eq!((outcome.published, outcome.bus_entries), (3, 3));
            let put = bus.entries();
            let details: Vec<&str> = put.iter().map(|e| e.detail.as_str()).collect();
            let bodies: Vec<String> = memory.messages().into_iter().map(|(_, m)| m.body).collect();
            assert_eq!(details, bodies, "the detail is the SNS message, byte for byte");
            assert!(put
                .iter()
                .all(|e| e.detail_type == "extraction.confirmed" && e.time == plan.archive.received_at));
        }

        #[tokio::test]
        async fn without_a_bus_a_plan_makes_no_entries() {
            let memory = Arc::new(Memory::default());
            let publisher = Announcers::topics(Arc::clone(&memory));
            let (plan, outcome) = live(CONFIRMED, 0, &memory, &publisher).await.unwrap();
            assert_eq!((outcome.published, outcome.bus_entries), (3, 0));
            assert!(plan.bus_entries.is_empty());
        }

        #[tokio::test]
        async fn a_superseded_file_puts_nothing() {
            // GIVEN file a delivered at t=10, WHEN an older delivery (t=0) of a and d arrives,
            let (memory, bus) = (Arc::new(Memory::default()), Arc::new(MemoryBus::default()));
            let publisher = with_bus(&memory, &bus);
            let newer = r#"{"event":"extraction.edited","result":[{"fileId":"a","result":2}]}"#;
            live(newer, 10, &memory, &publisher).await.unwrap();
            let older = r#"{"event":"extraction.edited","result":[{"fileId":"a","result":1},{"fileId":"d"}]}"#;
            let (_, outcome) = live(older, 0, &memory, &publisher).await.unwrap();
            // THEN only d gets an entry.
            assert_eq!((outcome.superseded, outcome.bus_entries), (1, 1));
            let put = bus.entries();
            assert_eq!(put.len(), 2);
            assert!(put[1].detail.contains(r#""fileId":"d""#), "{}", put[1].detail);
        }

        #[tokio::test]
        async fn other_deliveries_and_empty_ones() {
            let (memory, bus) = (Arc::new(Memory::default()), Arc::new(MemoryBus::default()));
            let publisher = with_bus(&memory, &bus);
            let (_, outcome) = live(
                r#"{"event":"classification.processed","result":[{}]}"#,
                0,
                &memory,
                &publisher,
            )
            .await
            .unwrap();
            assert_eq!(outcome.bus_entries, 1);
            assert_eq!(bus.entries()[0].detail_type, "classification.processed");
            let (_, outcome) = live(r#"{"event":"extraction.failed","result":[]}"#, 0, &memory, &publisher)
                .await
                .unwrap();
            assert_eq!(outcome.bus_entries, 0);
            assert_eq!(bus.entries().len(), 1);
        }

        #[tokio::test]
        async fn a_failed_entry_fails_the_publish_step_and_a_retry_puts_the_entries_again() {
            // GIVEN a bus that refuses file b's entry
            let (memory, bus) = (Arc::new(Memory::default()), Arc::new(MemoryBus::default()));
            let (_, probe) = planned(CONFIRMED, 0);
            bus.set_faults(BusFaults {
                fail_event_id: Some(probe.files[1].event_id.clone()),
                ..BusFaults::default()
            });
            let publisher = with_bus(&memory, &bus);
            let (bytes, mut plan) = planned(CONFIRMED, 0);
            let err = deliver(&mut plan, bytes, &dest(), &*memory, &publisher, 4, pending())
                .await
                .unwrap_err();
            // THEN the delivery is durable, stopped at "publish", its objects stored
            assert_stopped_at_publish(&err);
            assert!(plan.is_stored());
            // AND carrying the stored plan out again, the bus healthy, puts all three.
            bus.set_faults(BusFaults::default());
            let outcome = execute(&mut plan, &*memory, &publisher, 4, pending()).await.unwrap();
            assert_eq!(outcome.bus_entries, 3);
            assert_eq!(bus.entries().len(), 2 + 3);

            // A bus that is down (the whole call fails) stops the delivery the same way.
            bus.set_faults(BusFaults {
                put: true,
                ..BusFaults::default()
            });
            let (bytes, mut plan) = planned(CONFIRMED, 1);
            let err = deliver(&mut plan, bytes, &dest(), &*memory, &publisher, 4, pending())
                .await
                .unwrap_err();
            assert_stopped_at_publish(&err);
        }

        #[track_caller]
        fn assert_stopped_at_publish(err: &Incomplete) {
            assert!(
                matches!(err, Incomplete::Durable(s) if s.reason() == "publish"),
                "{err:?}"
            );
        }

        #[tokio::test]
        async fn a_redrive_puts_the_entries_of_the_delivery_again() {
            let (memory, bus) = (Arc::new(Memory::default()), Arc::new(MemoryBus::default()));
            let publisher = with_bus(&memory, &bus);
            let (plan, _) = live(CONFIRMED, 0, &memory, &publisher).await.unwrap();
            let done = crate::redrive::complete(&plan.archive.key, &dest(), &*memory, &publisher, 4)
                .await
                .unwrap();
            assert_eq!(done.outcome.bus_entries, 3);
            let put = bus.entries();
            assert_eq!(put.len(), 6);
            assert_eq!(put[..3], put[3..], "the same entries, eventIds included");
        }
    }

    #[tokio::test]
    async fn put_all_puts_every_entry_in_batches_and_reports_a_failed_entry() {
        let entries: Vec<BusEntry> = (0..23).map(|i| sized(100 + i)).collect();
        let bus = MemoryBus::default();
        assert_eq!(put_all(&bus, &entries, 4).await.unwrap(), 23);
        assert_eq!(bus.entries(), entries);
        assert_eq!(bus.calls(), 3);

        // One failed entry fails the put, with a count of one; the rest of its call is put,
        // as EventBridge does.
        let bus = MemoryBus::with_faults(BusFaults {
            fail_event_id: Some("id115".into()),
            ..BusFaults::default()
        });
        let err = put_all(&bus, &entries, 1).await.unwrap_err();
        assert!(matches!(err, DownstreamError::PutEvents { count: 1, .. }), "{err:?}");
        assert_eq!(bus.entries().len(), 19, "the first call's 10 and the second's other 9");

        // A whole call failing is a failure too; nothing is recorded.
        let bus = MemoryBus::with_faults(BusFaults {
            put: true,
            ..BusFaults::default()
        });
        let err = put_all(&bus, &entries[..3], 4).await.unwrap_err();
        assert!(matches!(err, DownstreamError::PutEvents { count: 3, .. }), "{err:?}");
        assert!(bus.entries().is_empty());
    }
}
