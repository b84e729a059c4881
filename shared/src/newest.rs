//! Newest wins (docs/contract.md §9): the order of deliveries, and the conditional writes
//! that keep each file object on the newest one whatever order deliveries, sender
//! repeats, redrives and replays arrive in.
//!
//! A delivery's order is (receipt time, `eventId`). A write is conditional: `If-None-Match:
//! *` where no object is known, `If-Match: <ETag>` of the object just read otherwise; a
//! refused write (`412`, or S3's `409` under concurrent writers) is decided again against
//! what the key holds now, so of any number of concurrent writers the newest ends stored.

use std::cmp::Ordering;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::ports::{Condition, DownstreamError, ObjectMeta, Put, ResultStore, Written};

/// How many conditional writes one object gets before the write counts as failed. Each
/// refusal means another writer stored a newer object in between, so this is only
/// reached under a storm of concurrent versions of one file (or a store that refuses
/// without cause); the failure is retryable like any store failure.
pub const MAX_CONDITIONAL_WRITES: usize = 8;

/// Where a delivery stands among the deliveries of one key: its receipt time, then the
/// `eventId` of the bytes it stores, so every process decides a tie the same way.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Order {
    /// The receipt time.
    pub received_at: OffsetDateTime,
    /// The `eventId` of the stored bytes.
    pub event_id: String,
}

impl Order {
    /// The order of `received_at` (RFC 3339) and `event_id`; `None` unless the time parses.
    pub fn new(received_at: &str, event_id: &str) -> Option<Order> {
        let received_at = OffsetDateTime::parse(received_at, &Rfc3339).ok()?;
        Some(Order {
            received_at,
            event_id: event_id.to_owned(),
        })
    }

    /// The order a write carries.
    pub fn of_put(put: &Put) -> Option<Order> {
        Order::new(&put.received_at, &put.event_id)
    }

    /// The order a stored object carries in its metadata. An object without a usable
    /// `received-at` (written by something other than this function) is older than any
    /// delivery: `None` sorts first.
    pub fn of_stored(meta: &ObjectMeta) -> Option<Order> {
        Order::new(
            meta.received_at.as_deref()?,
            meta.event_id.as_deref().unwrap_or_default(),
        )
    }
}

/// What writing one file object came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileWrite {
    /// The key held nothing, or an older delivery: the object is written.
    Written,
    /// The key already holds this very delivery (a repeat, a redrive): left as it is.
    AlreadyHeld,
    /// The key holds a newer delivery: nothing written, and the file gets no message.
    Superseded,
}

/// Writes a file object only over an older order (docs/contract.md §9, write rule).
pub async fn write_file<S: ResultStore>(store: &S, put: &Put) -> Result<FileWrite, DownstreamError> {
    let mine = Order::of_put(put);
    let mut condition = Condition::Absent;
    for _ in 0..MAX_CONDITIONAL_WRITES {
        if store.put(put, &condition).await? == Written::Stored {
            return Ok(FileWrite::Written);
        }
        let Some(held) = store.head(&put.key).await? else {
            // Deleted since the refusal: write where nothing is.
            condition = Condition::Absent;
            continue;
        };
        match Order::of_stored(&held).cmp(&mine) {
            Ordering::Equal => return Ok(FileWrite::AlreadyHeld),
            Ordering::Greater => return Ok(FileWrite::Superseded),
            Ordering::Less => condition = Condition::Matches(held.etag),
        }
    }
    Err(contended(&put.key))
}

/// Writes a delivery's archive copy unless the key already holds one, and answers the
/// delivery's receipt time (docs/contract.md §9): `None` when this write stored the copy
/// (the receipt time is the plan's own), or the `received-at` of the copy already there
/// (an exact repeat the same UTC day). A copy without a usable `received-at` was not
/// written by this function; it is replaced, conditionally, by this one.
pub async fn write_archive<S: ResultStore>(store: &S, put: &Put) -> Result<Option<String>, DownstreamError> {
    let mut condition = Condition::Absent;
    for _ in 0..MAX_CONDITIONAL_WRITES {
        if store.put(put, &condition).await? == Written::Stored {
            return Ok(None);
        }
        match store.head(&put.key).await? {
            None => condition = Condition::Absent,
            Some(held) => match held.received_at {
                Some(at) if OffsetDateTime::parse(&at, &Rfc3339).is_ok() => return Ok(Some(at)),
                _ => condition = Condition::Matches(held.etag),
            },
        }
    }
    Err(contended(&put.key))
}

fn contended(key: &str) -> DownstreamError {
    DownstreamError::Store {
        key: key.to_owned(),
        reason: format!("refused {MAX_CONDITIONAL_WRITES} conditional writes in a row"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Faults, Memory};
    use bytes::Bytes;

    fn put(key: &str, received_at: &str, body: &'static str) -> Put {
        Put {
            key: key.into(),
            body: Bytes::from_static(body.as_bytes()),
            event: "extraction.edited".into(),
            event_id: crate::message::event_id(b"extraction.edited", body.as_bytes()),
            received_at: received_at.into(),
            entry_ids: None,
        }
    }

    const T1: &str = "2026-12-02T10:00:00.000Z";
    const T2: &str = "2026-12-02T10:00:00.001Z";

    #[test]
    fn order_is_time_then_event_id_and_unknown_is_oldest() {
        let a = Order::new(T1, "ff").unwrap();
        let b = Order::new(T2, "00").unwrap();
        assert!(a < b, "a later time wins whatever the eventId");
        assert!(Order::new(T1, "00").unwrap() < a, "a tie goes to the larger eventId");
        assert!(None < Some(a.clone()));
        assert_eq!(Order::new("yesterday", "ff"), None);
        // The same instant written with another offset or precision is the same time.
        assert_eq!(
            Order::new("2026-12-02T11:00:00+01:00", "ff"),
            Order::new("2026-12-02T10:00:00.000Z", "ff")
        );
        let meta = |at: Option<&str>| ObjectMeta {
            etag: "\"e\"".into(),
            event_id: Some("ff".into()),
            received_at: at.map(str::to_owned),
        };
        assert_eq!(Order::of_stored(&meta(Some(T1))), Some(a));
        assert_eq!(Order::of_stored(&meta(None)), None);
        assert_eq!(Order::of_stored(&meta(Some("not a time"))), None);
    }

    #[tokio::test]
    async fn a_newer_write_replaces_an_older_one_and_never_the_reverse() {
        let store = Memory::default();
        let old = put("k", T1, r#"{"v":1}"#);
        let new = put("k", T2, r#"{"v":2}"#);
        assert_eq!(write_file(&store, &old).await.unwrap(), FileWrite::Written);
        assert_eq!(write_file(&store, &new).await.unwrap(), FileWrite::Written);
        assert_eq!(write_file(&store, &old).await.unwrap(), FileWrite::Superseded);
        assert_eq!(write_file(&store, &new).await.unwrap(), FileWrite::AlreadyHeld);
        assert_eq!(&store.objects()["k"].body[..], br#"{"v":2}"#);
        assert_eq!(store.puts(), 2, "superseded and repeated writes store nothing");
    }

    #[tokio::test]
    async fn an_object_without_an_order_is_replaced() {
        let store = Memory::default();
        let mut foreign = put("k", "", "{}");
        foreign.event_id = String::new();
        store.put(&foreign, &Condition::Absent).await.unwrap();
        assert_eq!(
            write_file(&store, &put("k", T1, "[]")).await.unwrap(),
            FileWrite::Written
        );
        assert_eq!(store.objects()["k"].received_at, T1);
    }

    #[tokio::test]
    async fn refusals_without_a_newer_object_are_decided_again_until_the_limit() {
        // GIVEN a store that refuses the next writes as if another writer had won,
        let store = Memory::with_faults(Faults {
            conflicts: MAX_CONDITIONAL_WRITES - 1,
            ..Faults::default()
        });
        // THEN the write is decided again each time and finally stored;
        assert_eq!(
            write_file(&store, &put("k", T1, "1")).await.unwrap(),
            FileWrite::Written
        );
        // AND a store that keeps refusing fails retryably, writing nothing.
        store.set_faults(Faults {
            conflicts: MAX_CONDITIONAL_WRITES,
            ..Faults::default()
        });
        let err = write_file(&store, &put("k", T2, "2")).await.unwrap_err();
        assert!(matches!(err, DownstreamError::Store { .. }), "{err:?}");
        assert_eq!(store.objects()["k"].received_at, T1);
    }

    #[tokio::test]
    async fn a_failing_metadata_read_fails_the_write() {
        let store = Memory::default();
        write_file(&store, &put("k", T1, "1")).await.unwrap();
        store.set_faults(Faults {
            get: true,
            ..Faults::default()
        });
        let err = write_file(&store, &put("k", T2, "2")).await.unwrap_err();
        assert!(matches!(err, DownstreamError::Read { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn the_archive_copy_keeps_its_first_receipt_time() {
        let store = Memory::default();
        assert_eq!(write_archive(&store, &put("a", T1, "body")).await.unwrap(), None);
        let repeat = put("a", T2, "body");
        assert_eq!(write_archive(&store, &repeat).await.unwrap(), Some(T1.to_owned()));
        assert_eq!(store.objects()["a"].received_at, T1);
        // A copy with no usable receipt time is replaced by this one.
        let mut foreign = put("b", "", "body");
        foreign.event_id = String::new();
        store.put(&foreign, &Condition::Absent).await.unwrap();
        assert_eq!(write_archive(&store, &repeat_at("b", T2)).await.unwrap(), None);
        assert_eq!(store.objects()["b"].received_at, T2);
    }

    fn repeat_at(key: &str, at: &str) -> Put {
        put(key, at, "body")
    }

    /// Any interleaving of sends, exact repeats, redrives and replays of versions of one
    /// file, sequential or concurrent, with refused writes injected.
    mod interleavings {
        use super::*;
        use crate::delivery::Delivery;
        use crate::layout::Prefix;
        use crate::pipeline::{deliver, execute, Announcers, Outcome};
        use crate::plan::{Destination, Plan};
        use proptest::prelude::*;
        use std::future::pending;

        #[derive(Debug, Clone)]
        enum Op {
            /// Extracta sends version `v` (a repeat, byte for byte, if it was sent before).
            Send(usize),
            /// Its archive copy is redriven or replayed (if it was sent).
            Redrive(usize),
        }

        fn to() -> Destination {
            Destination {
                bucket: "b".into(),
                prefix: Prefix::default(),
            }
        }

        fn body(v: usize) -> Bytes {
            Bytes::from(format!(
                r#"{{"event":"extraction.confirmed","result":[{{"extractionId":"e","fileId":"f","v":{v}}}]}}"#
            ))
        }

        fn at(ms: i64) -> OffsetDateTime {
            OffsetDateTime::from_unix_timestamp(1_796_000_000).unwrap() + time::Duration::milliseconds(ms)
        }

        /// Carries out one operation received at `ms`; the order it brings, if any.
        async fn run(op: &Op, ms: i64, sent: &[Option<Plan>], store: &Memory) -> Option<Outcome> {
            match *op {
                Op::Send(v) => {
                    let body = body(v);
                    let mut plan = Plan::new(&body, &Delivery::parse(&body).unwrap(), &to(), at(ms));
                    deliver(&mut plan, body, &to(), store, &Announcers::topics(store), 4, pending())
                        .await
                        .ok()
                }
                Op::Redrive(v) => {
                    let key = &sent[v].as_ref()?.archive.key;
                    crate::redrive::complete(key, &to(), store, &Announcers::topics(store), 4)
                        .await
                        .ok()
                        .map(|c| c.outcome)
                }
            }
        }

        fn ops() -> impl Strategy<Value = Vec<(Op, i64, bool)>> {
            let op = prop_oneof![(0..4usize).prop_map(Op::Send), (0..4usize).prop_map(Op::Redrive)];
            // (operation, milliseconds the clock moves before it (0: a tie), joins the next).
            prop::collection::vec((op, 0..3i64, any::<bool>()), 1..14)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            #[test]
            fn the_newest_delivery_is_stored_and_no_older_message_follows_a_newer_one(
                ops in ops(),
                conflicts in 0..3usize,
            ) {
                let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
                rt.block_on(async {
                    let store = Memory::with_faults(Faults { conflicts, ..Faults::default() });
                    // The plan each version was first received with (what the archive holds).
                    let mut first: Vec<Option<Plan>> = vec![None; 4];
                    let mut ms = 0;
                    let mut i = 0;
                    while i < ops.len() {
                        // A group of operations joined together runs concurrently.
                        let mut group = vec![i];
                        while ops[i].2 && i + 1 < ops.len() {
                            i += 1;
                            group.push(i);
                        }
                        i += 1;
                        let mut received = Vec::new();
                        for &g in &group {
                            let (op, tick, _) = &ops[g];
                            ms += tick;
                            if let Op::Send(v) = op {
                                if first[*v].is_none() {
                                    let b = body(*v);
                                    first[*v] = Some(Plan::new(&b, &Delivery::parse(&b).unwrap(), &to(), at(ms)));
                                }
                            }
                            received.push((op, ms));
                        }
                        let runs = received.iter().map(|(op, ms)| run(op, *ms, &first, &store));
                        for outcome in futures::future::join_all(runs).await {
                            prop_assert!(outcome.is_some() || group.iter().any(|g| matches!(ops[*g].0, Op::Redrive(_))));
                        }
                    }
                    // THEN the object holds the newest version first received: the receipt
                    // time of each is its archive copy's (of concurrent exact repeats, the
                    // one whose archive write won),
                    let objects = store.objects();
                    let newest = first
                        .iter()
                        .flatten()
                        .map(|p| {
                            let archived = &objects[&p.archive.key].received_at;
                            (Order::new(archived, &p.files[0].event_id), p.files[0].body.clone())
                        })
                        .max_by(|a, b| a.0.cmp(&b.0));
                    let stored = store.objects().get("extracta/e/_none/f/confirmed.json").cloned();
                    match (newest, stored) {
                        (Some((order, body)), Some(object)) => {
                            prop_assert_eq!(&object.body, &body);
                            prop_assert_eq!(Order::new(&object.received_at, &object.event_id), order);
                        }
                        (None, None) => {}
                        (newest, stored) => prop_assert!(false, "{newest:?} against {stored:?}"),
                    }
                    // AND the messages never go back to an older delivery.
                    let orders: Vec<Option<Order>> = store
                        .messages()
                        .iter()
                        .map(|(_, m)| {
                            let v: serde_json::Value = serde_json::from_str(&m.body).unwrap();
                            Order::new(v["receivedAt"].as_str().unwrap(), &m.event_id)
                        })
                        .collect();
                    prop_assert!(orders.windows(2).all(|w| w[0] <= w[1]), "{orders:?}");
                    prop_assert_eq!(store.published_before_stored(), 0);
                    Ok(())
                })?;
            }
        }

        #[tokio::test]
        async fn an_exact_repeat_of_an_older_delivery_after_a_newer_one_is_superseded() {
            // GIVEN edits v1 then v2 of one file, received in that order,
            let store = Memory::default();
            let send = |v: usize, ms: i64| {
                let body = body(v);
                let mut plan = Plan::new(&body, &Delivery::parse(&body).unwrap(), &to(), at(ms));
                let store = &store;
                async move {
                    let outcome = deliver(&mut plan, body, &to(), store, &Announcers::topics(store), 4, pending())
                        .await
                        .unwrap();
                    (plan, outcome)
                }
            };
            send(1, 0).await;
            send(2, 10).await;
            // WHEN Extracta repeats v1 byte for byte, later the same day,
            let (plan, outcome) = send(1, 20).await;
            // THEN it carries v1's first receipt time, is superseded and publishes nothing,
            assert_eq!(plan.files[0].received_at, crate::plan::received_at(at(0)));
            assert_eq!((outcome.objects, outcome.superseded, outcome.published), (0, 1, 0));
            assert_eq!(store.messages().len(), 2);
            let held = &store.objects()["extracta/e/_none/f/confirmed.json"];
            assert_eq!(&held.body[..], br#"{"extractionId":"e","fileId":"f","v":2}"#);
            // AND carrying the superseded plan out again still publishes nothing.
            let mut plan = plan;
            let again = execute(&mut plan, &store, &Announcers::topics(&store), 4, pending())
                .await
                .unwrap();
            assert_eq!(again.published, 0);
        }
    }
}
