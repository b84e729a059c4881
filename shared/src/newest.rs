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
    /// file, sequential or concurrent, with refused writes and failed requests injected.
    ///
    /// The answer key is computed from the generated operations alone: each version's
    /// receipt time is the time the generator received its first send at (of concurrent
    /// first sends, any of theirs), and newest is the largest (time, `eventId`); nothing
    /// the store under test holds decides what is expected of it.
    mod interleavings {
        use super::*;
        use crate::delivery::Delivery;
        use crate::layout::Prefix;
        use crate::message::{Message, Topic};
        use crate::pipeline::{deliver, execute, Announcers, Outcome};
        use crate::plan::{Destination, Plan};
        use crate::ports::{MessagePublisher, StoredObject};
        use crate::redrive::RedriveError;
        use proptest::prelude::*;
        use std::future::pending;
        use std::sync::atomic::{AtomicUsize, Ordering as Atomic};

        const VERSIONS: usize = 4;
        const FILE: &str = "extracta/e/_none/f/confirmed.json";

        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Op {
            /// Extracta sends version `v` (a repeat, byte for byte, if it was sent before).
            Send(usize),
            /// Its archive copy is redriven or replayed (if it was sent).
            Redrive(usize),
        }

        /// What goes wrong for one operation; only these operations may fail.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Fault {
            None,
            /// Its first request fails (a send's archive write, a redrive's archive
            /// read): nothing is stored.
            First,
            /// Every publish fails: its objects are written, no message is published.
            Publish,
        }

        #[derive(Debug, Clone)]
        struct Step {
            op: Op,
            /// Milliseconds the clock moves before it is received (0: a tie).
            tick: i64,
            /// Runs concurrently with the next step.
            joins_next: bool,
            fault: Fault,
            /// Yields before each of its requests, in turn: unequal pauses let concurrent
            /// operations overtake each other between their reads and writes.
            pauses: Vec<u8>,
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

        /// The file object's bytes when it holds version `v`: the entry as sent.
        fn file_bytes(v: usize) -> String {
            format!(r#"{{"extractionId":"e","fileId":"f","v":{v}}}"#)
        }

        fn at(ms: i64) -> OffsetDateTime {
            OffsetDateTime::from_unix_timestamp(1_796_000_000).unwrap() + time::Duration::milliseconds(ms)
        }

        fn plan(v: usize, ms: i64) -> Plan {
            let body = body(v);
            Plan::new(&body, &Delivery::parse(&body).unwrap(), &to(), at(ms))
        }

        /// Whether an RFC 3339 text is the instant `ms` (parsed, not formatted).
        fn is_at(text: &str, ms: i64) -> bool {
            OffsetDateTime::parse(text, &Rfc3339).ok() == Some(at(ms))
        }

        /// One operation's view of the shared store and topics: its pauses and its fault.
        struct Paced<'a> {
            store: &'a Memory,
            pauses: &'a [u8],
            fault: Fault,
            requests: AtomicUsize,
        }

        impl Paced<'_> {
            /// Waits out this request's pause; whether it is the one made to fail.
            async fn pace(&self) -> bool {
                let i = self.requests.fetch_add(1, Atomic::SeqCst);
                for _ in 0..self.pauses.get(i % self.pauses.len().max(1)).copied().unwrap_or(0) {
                    tokio::task::yield_now().await;
                }
                i == 0 && self.fault == Fault::First
            }
        }

        fn injected(key: &str) -> String {
            format!("injected fault at {key}")
        }

        impl ResultStore for Paced<'_> {
            async fn put(&self, put: &Put, condition: &Condition) -> Result<Written, DownstreamError> {
                if self.pace().await {
                    let (key, reason) = (put.key.clone(), injected(&put.key));
                    return Err(DownstreamError::Store { key, reason });
                }
                self.store.put(put, condition).await
            }

            async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, DownstreamError> {
                if self.pace().await {
                    let (key, reason) = (key.to_owned(), injected(key));
                    return Err(DownstreamError::Read { key, reason });
                }
                self.store.head(key).await
            }

            async fn get(&self, key: &str) -> Result<Option<StoredObject>, DownstreamError> {
                if self.pace().await {
                    let (key, reason) = (key.to_owned(), injected(key));
                    return Err(DownstreamError::Read { key, reason });
                }
                self.store.get(key).await
            }
        }

        impl MessagePublisher for Paced<'_> {
            async fn publish(&self, topic: Topic, batch: &[&Message]) -> Result<(), DownstreamError> {
                self.pace().await;
                if self.fault == Fault::Publish {
                    let reason = "injected fault".into();
                    return Err(DownstreamError::Publish {
                        topic,
                        count: batch.len(),
                        reason,
                    });
                }
                self.store.publish(topic, batch).await
            }
        }

        /// How one operation ended: its outcome, or whether it failed for want of an
        /// archive copy.
        type Ended = Result<Outcome, (bool, String)>;

        /// Carries out one operation received at `ms`.
        async fn run(step: &Step, ms: i64, store: &Memory) -> Ended {
            let paced = Paced {
                store,
                pauses: &step.pauses,
                fault: step.fault,
                requests: AtomicUsize::new(0),
            };
            let announce = Announcers::topics(&paced);
            match step.op {
                Op::Send(v) => {
                    let mut plan = plan(v, ms);
                    deliver(&mut plan, body(v), &to(), &paced, &announce, 4, pending())
                        .await
                        .map_err(|e| (false, format!("{e:?}")))
                }
                Op::Redrive(v) => {
                    let key = plan(v, 0).archive.key;
                    crate::redrive::complete(&key, &to(), &paced, &announce, 4)
                        .await
                        .map(|c| c.outcome)
                        .map_err(|e| (matches!(e.error, RedriveError::Missing), format!("{e:?}")))
                }
            }
        }

        fn steps() -> impl Strategy<Value = Vec<Step>> {
            let op = prop_oneof![(0..VERSIONS).prop_map(Op::Send), (0..VERSIONS).prop_map(Op::Redrive)];
            let fault = prop_oneof![8 => Just(Fault::None), 1 => Just(Fault::First), 1 => Just(Fault::Publish)];
            // All pauses 0 is lockstep (each request of the store yields once).
            let pauses = prop::collection::vec(0..4u8, 1..5);
            let step =
                (op, 0..3i64, any::<bool>(), fault, pauses).prop_map(|(op, tick, joins_next, fault, pauses)| Step {
                    op,
                    tick,
                    joins_next,
                    fault,
                    pauses,
                });
            prop::collection::vec(step, 1..14)
        }

        /// Whether a step stores an archive copy (of a version not yet archived).
        fn archives(step: &Step) -> Option<usize> {
            match step.op {
                Op::Send(v) if step.fault != Fault::First => Some(v),
                _ => None,
            }
        }

        /// The groups the steps run in, one after the other, each group's steps
        /// concurrently. A redrive of a version whose first archive write is in its own
        /// group would race that write; it runs right after the group instead, so the
        /// generator knows whether the copy it reads exists.
        fn groups(steps: &[Step]) -> Vec<Vec<usize>> {
            let mut out = Vec::new();
            let mut archived = [false; VERSIONS];
            let mut i = 0;
            while i < steps.len() {
                let mut joined = vec![i];
                while steps[i].joins_next && i + 1 < steps.len() {
                    i += 1;
                    joined.push(i);
                }
                i += 1;
                let racing = |g: &usize| match steps[*g].op {
                    Op::Redrive(v) => !archived[v] && joined.iter().any(|h| archives(&steps[*h]) == Some(v)),
                    Op::Send(_) => false,
                };
                let (after, now): (Vec<usize>, Vec<usize>) = joined.iter().partition(|g| racing(g));
                for g in &now {
                    if let Some(v) = archives(&steps[*g]) {
                        archived[v] = true;
                    }
                }
                out.push(now);
                out.extend(after.into_iter().map(|g| vec![g]));
            }
            out
        }

        /// Each version's possible receipt times: those of the sends in the first group
        /// that archives it (any of them may win the archive write).
        fn receipt_times(steps: &[Step], groups: &[Vec<usize>], ms: &[i64]) -> Vec<Vec<i64>> {
            let mut times = vec![Vec::new(); VERSIONS];
            for group in groups {
                let mut here = vec![Vec::new(); VERSIONS];
                for &g in group {
                    if let Some(v) = archives(&steps[g]) {
                        here[v].push(ms[g]);
                    }
                }
                for v in 0..VERSIONS {
                    if times[v].is_empty() {
                        times[v] = std::mem::take(&mut here[v]);
                    }
                }
            }
            times
        }

        /// Every choice of one receipt time per archived version.
        fn choices(times: &[Vec<i64>]) -> Vec<Vec<Option<i64>>> {
            let mut all = vec![Vec::new()];
            for options in times {
                let options: Vec<Option<i64>> = if options.is_empty() {
                    vec![None]
                } else {
                    options.iter().copied().map(Some).collect()
                };
                all = all
                    .into_iter()
                    .flat_map(|prefix: Vec<Option<i64>>| {
                        options.iter().map(move |o| {
                            let mut next = prefix.clone();
                            next.push(*o);
                            next
                        })
                    })
                    .collect();
            }
            all
        }

        /// What the run must have come to if each version `v` was received at
        /// `first[v]`: every step's end, the file object, the archive copies, the
        /// messages. `Err` says what differs.
        fn check(steps: &[Step], groups: &[Vec<usize>], first: &[Option<i64>], run: &Run) -> Result<(), String> {
            let Run { ended, marks, store } = run;
            let messages = store.messages();
            let ids: Vec<String> = (0..VERSIONS).map(|v| plan(v, 0).files[0].event_id.clone()).collect();
            let order = |v: usize| first[v].map(|ms| (ms, ids[v].clone()));
            let mut held: Option<(i64, String)> = None;
            let mut archived = [false; VERSIONS];
            for (n, group) in groups.iter().enumerate() {
                // The versions the group's steps say they published, once per message.
                let mut published = Vec::new();
                // The steps that write the file object, and the order each writes.
                let writes = |g: usize| match (steps[g].op, steps[g].fault) {
                    (_, Fault::First) => None,
                    (Op::Send(v), _) => Some(v),
                    (Op::Redrive(v), _) => archived[v].then_some(v),
                };
                let newest = group.iter().filter_map(|g| writes(*g)).map(order).max().flatten();
                let newest = held.clone().max(newest);
                for &g in group {
                    let step = &steps[g];
                    let got = ended[g].as_ref().ok_or("a step did not run")?;
                    let Some(v) = writes(g) else {
                        // A first request made to fail, or a redrive with no archive copy.
                        let missing = matches!(step.op, Op::Redrive(v) if !archived[v]);
                        match got {
                            Err((was_missing, _)) if step.fault == Fault::First || *was_missing == missing => continue,
                            _ => return Err(format!("step {g} {step:?} must fail, ended {got:?}")),
                        }
                    };
                    let mine = order(v);
                    // (published, superseded) it may end with.
                    let may: &[(usize, usize)] = if mine < held {
                        &[(0, 1)]
                    } else if mine == newest {
                        &[(1, 0)]
                    } else {
                        &[(1, 0), (0, 1)]
                    };
                    match got {
                        Ok(o) if may.contains(&(o.published, o.superseded)) => {
                            published.extend(std::iter::repeat_n(ids[v].clone(), o.published))
                        }
                        Err(_) if step.fault == Fault::Publish && !may.contains(&(0, 1)) => {}
                        Err(_) if step.fault == Fault::Publish && may.len() == 2 => {}
                        _ => return Err(format!("step {g} {step:?} may end {may:?}, ended {got:?}")),
                    }
                }
                // AND the group published just that, each message at its version's first
                // receipt time and none older than what the object held before the group
                // (within a group, concurrent publishes may land in any order).
                let before = if n == 0 { 0 } else { marks[n - 1] };
                let mut got = Vec::new();
                for (_, m) in &messages[before..marks[n]] {
                    let v = ids
                        .iter()
                        .position(|i| *i == m.event_id)
                        .ok_or("a message of no version")?;
                    let json: serde_json::Value = serde_json::from_str(&m.body).map_err(|e| e.to_string())?;
                    let ms = first[v].ok_or("a message of a version never archived")?;
                    if !is_at(json["receivedAt"].as_str().unwrap_or_default(), ms) || order(v) < held {
                        return Err(format!(
                            "group {n}: a message of v{v} ({ms} ms) over {held:?}: {}",
                            m.body
                        ));
                    }
                    got.push(m.event_id.clone());
                }
                got.sort();
                published.sort();
                if got != published {
                    return Err(format!("group {n} published {got:?}, its steps {published:?}"));
                }
                for &g in group {
                    if let Some(v) = archives(&steps[g]) {
                        archived[v] = true;
                    }
                }
                held = newest;
            }
            if messages.len() != marks.last().copied().unwrap_or(0) {
                return Err("messages after the last group".into());
            }
            // THEN the file object holds the newest version, at its first receipt time,
            let objects = store.objects();
            match (&held, objects.get(FILE)) {
                (None, None) => {}
                (Some((ms, id)), Some(o)) => {
                    let v = ids.iter().position(|i| i == id).ok_or("no such version")?;
                    if o.body != file_bytes(v) || !is_at(&o.received_at, *ms) || o.event_id != *id {
                        return Err(format!("the object holds {o:?}, not v{v} at {ms} ms"));
                    }
                }
                (want, got) => return Err(format!("the object is {got:?}, not {want:?}")),
            }
            // AND each archive copy keeps its first receipt time,
            for (v, first) in first.iter().enumerate() {
                let key = plan(v, 0).archive.key;
                match (*first, objects.get(&key)) {
                    (None, None) => {}
                    (Some(ms), Some(o)) if is_at(&o.received_at, ms) => {}
                    (want, got) => return Err(format!("archive of v{v}: {got:?}, not received at {want:?}")),
                }
            }
            Ok(())
        }

        /// What a run left: each step's end, the number of messages published when each
        /// group had ended, and the store.
        struct Run {
            ended: Vec<Option<Ended>>,
            marks: Vec<usize>,
            store: Memory,
        }

        /// Runs the steps on a store that refuses its first `conflicts` writes; the groups,
        /// each step's receipt time, and what the run left.
        async fn carry_out(steps: &[Step], conflicts: usize) -> (Vec<Vec<usize>>, Vec<i64>, Run) {
            let store = Memory::with_faults(Faults {
                conflicts,
                ..Faults::default()
            });
            let ms: Vec<i64> = steps
                .iter()
                .scan(0, |clock, s| {
                    *clock += s.tick;
                    Some(*clock)
                })
                .collect();
            let groups = groups(steps);
            let mut ended: Vec<Option<Ended>> = vec![None; steps.len()];
            let mut marks = Vec::new();
            for group in &groups {
                let runs = group.iter().map(|&g| run(&steps[g], ms[g], &store));
                for (&g, end) in group.iter().zip(futures::future::join_all(runs).await) {
                    ended[g] = Some(end);
                }
                marks.push(store.messages().len());
            }
            (groups, ms, Run { ended, marks, store })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            #[test]
            fn the_newest_delivery_is_stored_and_each_step_publishes_what_its_order_allows(
                steps in steps(),
                conflicts in 0..3usize,
            ) {
                let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
                let (groups, ms, run) = rt.block_on(carry_out(&steps, conflicts));
                let times = receipt_times(&steps, &groups, &ms);
                let verdicts: Vec<Result<(), String>> = choices(&times)
                    .iter()
                    .map(|first| check(&steps, &groups, first, &run))
                    .collect();
                prop_assert!(verdicts.iter().any(Result::is_ok), "groups {groups:?}, receipt times {times:?}: {verdicts:?}");
                prop_assert_eq!(run.store.published_before_stored(), 0);
            }
        }

        /// Two versions sent concurrently, v1 received before v2: which file write lands
        /// first is the schedule's doing, and either way v2 ends stored.
        #[test]
        fn a_schedule_decides_which_concurrent_write_lands_first() {
            // Requests: 0 the archive write, 1 the file write, 2 its re-read if refused.
            let step = |v, pauses: Vec<u8>| Step {
                op: Op::Send(v),
                tick: 1,
                joins_next: true,
                fault: Fault::None,
                pauses,
            };
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            // v1's file write held back: v2 lands first and v1 is superseded;
            let steps = [step(1, vec![0, 6, 0]), step(2, vec![0])];
            let (_, _, run) = rt.block_on(carry_out(&steps, 0));
            let v1 = run.ended[0].clone().unwrap().unwrap();
            assert_eq!((v1.published, v1.superseded), (0, 1));
            assert_eq!(run.store.objects()[FILE].body, file_bytes(2));
            // v2's held back instead: v1 lands first, is published, then replaced.
            let steps = [step(1, vec![0]), step(2, vec![0, 6, 0])];
            let (_, _, run) = rt.block_on(carry_out(&steps, 0));
            let v1 = run.ended[0].clone().unwrap().unwrap();
            assert_eq!((v1.published, v1.superseded), (1, 0));
            assert_eq!(run.store.objects()[FILE].body, file_bytes(2));
            assert_eq!(run.store.messages().len(), 2);
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
