//! Bounded load: signed deliveries of every kind and size, from concurrent senders,
//! through four `webhook` processes (each with its own runtime API emulator) into one
//! moto. Nothing may be lost: every answer 200, every object stored with the exact bytes,
//! every SNS message delivered once per file (the set of eventIds checked through SQS).
//! Without the queue, every delivery goes to an event bus too, and every event must reach
//! a rule's target. Some deliveries are a second version of an earlier one's files: each such file must
//! end on the version received later (docs/contract.md §9), and the older version's
//! messages may only be missing, never wrong.
//!
//! The second test runs the same load with the redrive queue configured and a short
//! `ACK_DEADLINE_MS`, and drains the queue as Lambda's event source mapping would.
//!
//! Size: [`DELIVERIES`] by default (`make test`, `make e2e`), which already holds every
//! shape of [`layout`] (every event with every size class, every file count 1-20, versions of
//! every event, all 16 senders on all 4 processes: [`the_default_size_holds_every_shape`]);
//! `make soak` (`LOAD_DELIVERIES=soak`) runs [`SOAK_DELIVERIES`], five times as many of
//! each shape, and `LOAD_DELIVERIES=N` any size from [`DELIVERIES`] up.
//! How long each takes here: docs/reliability.md (Load).
//!
//! Build the binaries first: `scripts/build-binaries`.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use e2e::aws::Queue;
use e2e::bus::EventBus;
use e2e::expect::{component, event_id, file_key, Window, DEFAULT_PREFIX};
use e2e::redrive::PollerStats;
use e2e::requests::entry_text;
use e2e::{Delivery, EventSourceMapping, Function, Stack};
use serde_json::{json, Value};

/// Deliveries sent by default: four rounds of the 100-delivery cycle of sizes in [`plan`].
const DELIVERIES: usize = 400;
/// Deliveries sent by `make soak` (`LOAD_DELIVERIES=soak`): twenty rounds of the cycle.
const SOAK_DELIVERIES: usize = 2_000;

/// `LOAD_DELIVERIES` when set: `soak` ([`SOAK_DELIVERIES`]) or a number of at least
/// [`DELIVERIES`] (else a panic: a smaller run would not hold every shape); else
/// [`DELIVERIES`].
fn deliveries() -> usize {
    match std::env::var("LOAD_DELIVERIES") {
        Ok(v) if v == "soak" => SOAK_DELIVERIES,
        Ok(v) => match v.parse::<usize>() {
            Ok(n) if n >= DELIVERIES => n,
            _ => panic!("LOAD_DELIVERIES={v:?}: `soak` or a number of at least {DELIVERIES}"),
        },
        Err(_) => DELIVERIES,
    }
}
/// `webhook` processes, each with its own runtime API.
const FUNCTIONS: usize = 4;
/// Concurrent senders, spread over the processes.
const SENDERS: usize = 16;
/// The five kinds of delivery, in turn.
const EVENTS: [&str; 5] = [
    "extraction.processed",
    "extraction.edited",
    "extraction.confirmed",
    "extraction.failed",
    "classification.completed",
];

/// Every `VERSION_EVERY`-th delivery is a second version of the files of the delivery
/// `EVENTS.len()` before it (the same event), with other extracted data. Not a multiple of
/// `EVENTS.len()`, so every event gets versions.
const VERSION_EVERY: usize = 23;

/// The delivery whose files (event, ids, count, size) delivery `n` writes: itself, or
/// the one it is a second version of.
fn shape_of(n: usize) -> usize {
    if n % VERSION_EVERY == VERSION_EVERY - 1 && n >= EVENTS.len() {
        n - EVENTS.len()
    } else {
        n
    }
}

/// Delivery number, status, JSON body and receipt window of one answer.
type Answer = (usize, u16, Value, Window);

/// One planned delivery and what it must leave behind.
struct Planned {
    delivery: Delivery,
    event: &'static str,
    /// `(key, exact bytes)` of each file object, in entry order.
    files: Vec<(String, String)>,
    /// eventIds of the SNS messages it must publish.
    event_ids: Vec<String>,
}

/// Extracted data of about `size` bytes (made-up line items).
fn result_of(n: usize, size: usize) -> String {
    let mut items = Vec::new();
    let mut len = 0;
    let mut i = 0;
    while len + 80 < size {
        let item = format!(
            r#"{{"description":"Item {i} of {n} (fake)","quantity":{},"cents":{}}}"#,
            i % 7 + 1,
            i * 1301 % 50_000
        );
        len += item.len() + 1;
        items.push(item);
        i += 1;
    }
    format!(
        r#"{{"invoice":"FAKE-{n:06}","total":{n}.50,"items":[{}]}}"#,
        items.join(",")
    )
}

/// The shape of delivery `shape` (see [`shape_of`]): its event (an index into [`EVENTS`]),
/// its number of entries and their size. The event cycles through [`EVENTS`]; per event,
/// mostly one file, one in ten 2 to 5, one in twenty 1 to 20, one in twenty with ~50 KB
/// entries.
fn layout(shape: usize) -> (usize, usize, usize) {
    let kind = shape % EVENTS.len();
    // Sizes vary per round of the five events, so every event gets every size. The file
    // counts 1-20 of the one-in-twenty rounds: the four first such rounds (the default
    // size) give each event four counts of its own, all twenty between them; twenty rounds
    // (`make soak`) give each event (nearly) every count, some rounds being second versions.
    let round = shape / EVENTS.len();
    let files = match round % 20 {
        0 => 1 + (round / 20 + 4 * kind) % 20,
        5 | 15 => 2 + round % 4,
        _ => 1,
    };
    if round % 20 == 3 {
        (kind, 1 + round % 3, 50_000)
    } else {
        (kind, files, 200)
    }
}

/// Delivery `n`, planned from its [`layout`].
fn plan(n: usize) -> Planned {
    let shape = shape_of(n);
    let (kind, files, size) = layout(shape);
    let event = EVENTS[kind];
    let status = event.strip_prefix("extraction.").unwrap_or("processed");
    let mut d = Delivery::new(event);
    let mut stored = Vec::new();
    let mut ids = Vec::new();
    for i in 0..files {
        let mut raw = entry_text(
            &format!("load-{shape:05}"),
            "batch",
            &format!("file-{i:02}"),
            status,
            &result_of(n, size),
        );
        if event == "extraction.failed" {
            raw.insert_str(raw.len() - 1, r#","error":"fake failure""#);
        }
        d = d.raw_entry(&raw);
        if let Some(kind) = event.strip_prefix("extraction.") {
            let key = file_key(
                DEFAULT_PREFIX,
                &component(&format!("load-{shape:05}")),
                "batch",
                &format!("file-{i:02}"),
                kind,
            );
            if matches!(kind, "confirmed" | "failed") {
                ids.push(event_id(event, raw.as_bytes()));
            }
            stored.push((key, raw));
        }
    }
    Planned {
        delivery: d,
        event,
        files: stored,
        event_ids: ids,
    }
}

/// Receives and deletes (in batches) every message on `queue` until `want` have arrived
/// or nothing new comes for a few seconds.
async fn receive_all(stack: &Stack, queue: &Queue, want: usize) -> Vec<Value> {
    let mut all = Vec::new();
    let mut idle_since = Instant::now();
    while all.len() < want || idle_since.elapsed() < Duration::from_millis(500) {
        let out = stack
            .aws
            .sqs
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .visibility_timeout(60)
            .send()
            .await
            .unwrap();
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            if idle_since.elapsed() > Duration::from_secs(5) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        idle_since = Instant::now();
        let mut batch = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            all.push(serde_json::from_str(m.body().unwrap_or_default()).unwrap());
            if let Some(h) = m.receipt_handle() {
                batch.push(
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(h)
                        .build()
                        .unwrap(),
                );
            }
        }
        stack
            .aws
            .sqs
            .delete_message_batch()
            .queue_url(&queue.url)
            .set_entries(Some(batch))
            .send()
            .await
            .unwrap();
    }
    all
}

/// Every key in the bucket with its size.
async fn sizes(stack: &Stack) -> BTreeMap<String, i64> {
    let mut all = BTreeMap::new();
    let mut token = None;
    loop {
        let out = stack
            .aws
            .s3
            .list_objects_v2()
            .bucket(&stack.res.bucket)
            .set_continuation_token(token.take())
            .send()
            .await
            .unwrap();
        for o in out.contents() {
            all.insert(o.key().unwrap_or_default().to_owned(), o.size().unwrap_or(-1));
        }
        match out.next_continuation_token {
            Some(t) if out.is_truncated == Some(true) => token = Some(t),
            _ => return all,
        }
    }
}

/// Reads every `(key, bytes)` back with `workers` concurrent GETs; returns the mismatches.
async fn mismatches(stack: &Arc<Stack>, expected: Vec<(String, Vec<u8>)>, workers: usize) -> Vec<String> {
    let queue = Arc::new(Mutex::new(expected));
    let bad = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (queue, bad, stack) = (queue.clone(), bad.clone(), stack.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some((key, bytes)) = queue.lock().unwrap().pop() else {
                    return;
                };
                let got = stack.object(&key).await;
                if got.bytes != bytes {
                    bad.lock().unwrap().push(key);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let bad = bad.lock().unwrap().clone();
    bad
}

/// What the module's documentation promises of the default size (and of `make soak`'s):
/// checked on the plan itself, so a change of [`DELIVERIES`] or [`layout`] that loses a
/// shape fails here, before any delivery is sent.
#[test]
fn the_default_size_holds_every_shape() {
    let shapes = |n: usize| -> Vec<(usize, usize, usize, bool)> {
        (0..n)
            .map(|i| {
                let (kind, files, size) = layout(shape_of(i));
                (kind, files, size, shape_of(i) != i)
            })
            .collect()
    };
    for n in [DELIVERIES, SOAK_DELIVERIES] {
        let all = shapes(n);
        let counts: BTreeSet<usize> = all.iter().map(|s| s.1).collect();
        assert_eq!(counts, (1..=20).collect(), "{n} deliveries: every file count 1-20");
        for (kind, event) in EVENTS.iter().enumerate() {
            let mine: Vec<_> = all.iter().filter(|s| s.0 == kind).collect();
            let sizes: BTreeSet<usize> = mine.iter().map(|s| s.2).collect();
            assert_eq!(sizes, BTreeSet::from([200, 50_000]), "{n}: {event} gets every size");
            assert!(mine.iter().any(|s| s.3), "{n}: {event} gets second versions");
            assert!(mine.iter().any(|s| s.1 > 1), "{n}: {event} gets several files");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_deliveries_lose_nothing() {
    run(None).await;
}

/// The same load with the redrive queue configured (docs/contract.md §8) and a deadline
/// short enough that the slower deliveries answer 202: the test plays the event source
/// mapping beside the senders, and once the queue is drained nothing is missing either.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_deliveries_with_a_queue_lose_nothing() {
    run(Some(QUEUE_DEADLINE_MS)).await;
}

/// `ACK_DEADLINE_MS` of the queue variant: about the median latency under this load on
/// two cores, so both answers occur.
const QUEUE_DEADLINE_MS: u64 = 150;

/// Sends every planned delivery; with `deadline_ms`, through functions with the redrive
/// queue and that deadline, drained by an event source mapping as the queue fills.
async fn run(deadline_ms: Option<u64>) {
    let deliveries = deliveries();
    let started = Instant::now();
    let stack = Arc::new(Stack::new().await);
    // Without the queue, every delivery also goes to an event bus (docs/contract.md §10).
    let bus = match deadline_ms {
        Some(_) => None,
        None => Some(EventBus::create(&stack).await),
    };
    let mut functions = Vec::new();
    for _ in 0..FUNCTIONS {
        let config = match (deadline_ms, &bus) {
            (Some(ms), _) => stack.redrive_config().ack_deadline_ms(ms),
            (None, Some(bus)) => stack.config().set("EVENT_BUS_NAME", &bus.name),
            (None, None) => stack.config(),
        };
        functions.push(Arc::new(Function::start(config).await));
    }
    let poller = deadline_ms
        .map(|_| EventSourceMapping::new(&stack.res.redrive_queue).spawn(stack.aws.clone(), functions.clone()));
    let planned: Arc<Vec<Planned>> = Arc::new((0..deliveries).map(plan).collect());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let answers: Arc<Mutex<Vec<Answer>>> = Arc::new(Mutex::new(Vec::new()));

    // Senders pull the next delivery and send it to "their" process.
    let sending = Instant::now();
    let mut senders = Vec::new();
    for s in 0..SENDERS {
        let f = functions[s % FUNCTIONS].clone();
        let (planned, next, answers) = (planned.clone(), next.clone(), answers.clone());
        senders.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(p) = planned.get(n) else { return };
                let w = Window::open();
                let rsp = f.http(&p.delivery.request()).await;
                let body = serde_json::from_slice(&rsp.body).unwrap_or(Value::Null);
                answers.lock().unwrap().push((n, rsp.status, body, w.close()));
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    let send_time = sending.elapsed();
    let polled = match poller {
        Some(p) => p.finish().await,
        None => PollerStats::default(),
    };
    assert_eq!(polled.dead, 0, "nothing reached the receive limit");

    // Every answer is a 200 with the contract's body.
    let answers = answers.lock().unwrap().clone();
    assert_eq!(answers.len(), deliveries);
    let non_2xx: Vec<_> = answers.iter().filter(|a| !(200..300).contains(&a.1)).collect();
    assert!(
        non_2xx.is_empty(),
        "{} non-2xx answers, e.g. {:?}",
        non_2xx.len(),
        non_2xx.first()
    );
    let mut expected: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    // Per file key, every delivery that wrote it: `(n, archive key, bytes)`.
    let mut versions: BTreeMap<String, Vec<(usize, String, String)>> = BTreeMap::new();
    let mut confirmed_ids = BTreeSet::new();
    let mut failed_ids = BTreeSet::new();
    let mut files_total = 0;
    // eventIds of deliveries answered 202: their messages may come twice (the live request
    // may have published some before the deadline), with the same eventId.
    let mut queued_ids = BTreeSet::new();
    // The `published` of each answered version of two files, checked once it is known
    // which version is the newer (below).
    let mut published_by_version: BTreeMap<usize, u64> = BTreeMap::new();
    for (n, status, body, w) in &answers {
        let p = &planned[*n];
        let archived = body["archived"].as_str().unwrap_or_default().to_owned();
        let d_body = p.delivery.body();
        assert!(
            w.archive_keys(DEFAULT_PREFIX, &component(p.event), &d_body)
                .contains(&archived),
            "delivery {n}: archived {archived:?}"
        );
        let keys: Vec<&str> = p.files.iter().map(|(k, _)| k.as_str()).collect();
        let mut published = if p.event_ids.is_empty() { 0 } else { keys.len() };
        let versioned = shape_of(*n) != *n || shape_of(n + EVENTS.len()) == *n;
        if versioned && *status == 200 {
            // One version of two: its count is checked exactly once the order is known.
            let claimed = body["published"].as_u64().unwrap_or(u64::MAX);
            published_by_version.insert(*n, claimed);
            published = claimed as usize;
        }
        if *status == 202 && deadline_ms.is_some() {
            assert_eq!(
                body,
                &json!({"event": p.event, "files": keys.len(), "archived": archived, "queued": true}),
                "delivery {n}"
            );
            queued_ids.extend(p.event_ids.iter().cloned());
        } else {
            assert_eq!(
                body,
                &json!({"event": p.event, "files": keys.len(), "stored": keys, "archived": archived, "published": published}),
                "delivery {n}"
            );
        }
        expected.insert(archived.clone(), d_body);
        for (k, raw) in &p.files {
            versions
                .entry(k.clone())
                .or_default()
                .push((*n, archived.clone(), raw.clone()));
        }
        files_total += p.files.len();
    }

    // Each file ends on the version received later: the greater (received-at of its
    // archive copy, eventId). The older version's messages may be missing (superseded)
    // but never anything else.
    let mut optional_ids = BTreeSet::new();
    // The eventIds of the older versions' files: superseded or not, by timing.
    let mut superseded_files = BTreeSet::new();
    let mut two_versions = 0;
    // Per version of two: whether it is the newer.
    let mut newer_version: BTreeMap<usize, bool> = BTreeMap::new();
    for (key, mut writers) in versions {
        if writers.len() > 1 {
            two_versions += 1;
            let mut ordered = Vec::new();
            for (n, archived, raw) in writers.drain(..) {
                let at = stack.object(&archived).await.meta("received-at").to_owned();
                let id = event_id(planned[n].event, raw.as_bytes());
                ordered.push(((at, id), n, raw));
            }
            ordered.sort();
            let (_, newer, newest) = ordered.pop().unwrap();
            newer_version.insert(newer, true);
            for ((_, id), older, _) in ordered {
                newer_version.insert(older, false);
                optional_ids.extend(planned[older].event_ids.iter().cloned());
                superseded_files.insert(id);
            }
            writers.push((0, String::new(), newest));
        }
        let (_, _, raw) = writers.pop().unwrap();
        assert!(
            expected.insert(key.clone(), raw.into_bytes()).is_none(),
            "{key} planned twice"
        );
    }
    assert!(
        two_versions > 0,
        "some files must have two versions (else this proves nothing)"
    );
    for p in planned.iter() {
        let ids = if p.event == "extraction.confirmed" {
            &mut confirmed_ids
        } else {
            &mut failed_ids
        };
        ids.extend(p.event_ids.iter().filter(|id| !optional_ids.contains(*id)).cloned());
    }

    // S3: exactly the expected keys with the expected sizes. File objects are all read
    // back and compared byte for byte; archive copies are named by the SHA-256 of the
    // body sent (checked above), have its size, and one in ten is read back too (moto
    // serves a few hundred GETs a second: reading all 2,000 would double the run).
    let listed = sizes(&stack).await;
    let want: BTreeMap<String, i64> = expected.iter().map(|(k, b)| (k.clone(), b.len() as i64)).collect();
    assert_eq!(listed.len(), want.len(), "object count");
    assert!(
        listed == want,
        "the bucket holds exactly the archive copies and file objects, with their sizes"
    );
    let to_read: Vec<(String, Vec<u8>)> = expected
        .into_iter()
        .enumerate()
        .filter(|(i, (k, _))| !k.contains("/_deliveries/") || i % 10 == 0)
        .map(|(_, kv)| kv)
        .collect();
    let read_back = to_read.len();
    let bad = mismatches(&stack, to_read, 16).await;
    assert!(
        bad.is_empty(),
        "{} objects differ from what was sent: {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );

    // SNS: every message delivered, once, with the expected eventIds.
    // Per topic, the eventIds that arrived on it.
    let mut arrived: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (queue, ids, name) in [
        (&stack.res.confirmed_queue, &confirmed_ids, "confirmed"),
        (&stack.res.failed_queue, &failed_ids, "failed"),
    ] {
        let got = receive_all(&stack, queue, ids.len()).await;
        let got_ids: Vec<String> = got
            .iter()
            .map(|m| m["eventId"].as_str().unwrap_or_default().to_owned())
            .collect();
        let unique: BTreeSet<String> = got_ids.iter().cloned().collect();
        arrived.insert(name, unique.clone());
        let missing: Vec<_> = ids.difference(&unique).collect();
        assert!(missing.is_empty(), "{name}: eventIds never delivered: {missing:?}");
        let unknown: Vec<_> = unique
            .difference(ids)
            .filter(|id| !optional_ids.contains(*id))
            .collect();
        assert!(unknown.is_empty(), "{name}: eventIds of no delivery: {unknown:?}");
        let mut seen = BTreeSet::new();
        let again: Vec<&String> = got_ids.iter().filter(|id| !seen.insert(*id)).collect();
        assert!(
            again.iter().all(|id| queued_ids.contains(*id)),
            "{name}: only a queued delivery's message may come twice: {again:?}"
        );
        if deadline_ms.is_none() {
            assert_eq!(got_ids.len(), unique.len(), "{name}: each message once");
        }
    }
    // Each answered version of two published exactly: the newer every file's message, the
    // older the messages of the files it was not superseded on, which are the ones that
    // arrived on its topic (a count too low or too high both fail).
    for (n, claimed) in &published_by_version {
        let p = &planned[*n];
        let topic = p.event.strip_prefix("extraction.").unwrap_or_default();
        let newer = newer_version.get(n).copied();
        let want = match (p.event_ids.is_empty(), newer) {
            (true, _) => 0,
            (false, Some(true)) => p.files.len(),
            (false, Some(false)) => p.event_ids.iter().filter(|id| arrived[topic].contains(*id)).count(),
            (false, None) => panic!("delivery {n}: a version of no file"),
        };
        assert_eq!(*claimed, want as u64, "delivery {n} (newer: {newer:?}): published");
    }
    // The bus: one event per file of a routed delivery, one archive pointer per other
    // delivery, at least once; an older version's file may be missing (superseded).
    let mut bus_events = 0;
    if let Some(bus) = &bus {
        let mut want = BTreeSet::new();
        for p in planned.iter() {
            if p.files.is_empty() {
                want.insert(event_id(p.event, &p.delivery.body()));
            }
            want.extend(p.files.iter().map(|(_, raw)| event_id(p.event, raw.as_bytes())));
        }
        let got = bus.events(&stack, &bus.all).await;
        bus_events = got.len();
        let ids: Vec<String> = got
            .iter()
            .map(|e| e["detail"]["eventId"].as_str().unwrap_or_default().to_owned())
            .collect();
        // EventBridge does not de-duplicate: an SDK retry of a PutEvents whose answer was
        // slow puts its entries again (seen under this load), with the same eventId.
        let unique: BTreeSet<String> = ids.iter().cloned().collect();
        let missing: Vec<_> = want
            .difference(&unique)
            .filter(|id| !superseded_files.contains(*id))
            .collect();
        assert!(missing.is_empty(), "the bus: events never put: {missing:?}");
        let unknown: Vec<_> = unique.difference(&want).collect();
        assert!(unknown.is_empty(), "the bus: events of no delivery: {unknown:?}");
    }
    let queued = answers.iter().filter(|a| a.1 == 202).count();
    if deadline_ms.is_some() {
        assert_eq!(polled.completed, queued, "one completed record per 202");
        eprintln!(
            "load with a queue (ACK_DEADLINE_MS={QUEUE_DEADLINE_MS}): {queued} of {deliveries} answered 202; the mapping ran {} batches, {} records completed, {} listed for retry",
            polled.batches, polled.completed, polled.failures
        );
        assert!(
            queued > 0,
            "the deadline must have queued some deliveries (else this proves nothing)"
        );
        assert!(
            queued < DELIVERIES,
            "the deadline must have let some deliveries answer 200 (else their counts go unchecked)"
        );
    } else {
        assert_eq!(queued, 0, "no 202 without a queue");
    }
    eprintln!(
        "load: {deliveries} deliveries ({files_total} file objects, {two_versions} keys written by two versions, {} confirmed + {} failed messages, {bus_events} bus events) from {SENDERS} senders over {FUNCTIONS} processes: sent in {:.1}s ({:.0}/s), {read_back} objects read back, whole test {:.1}s",
        confirmed_ids.len(),
        failed_ids.len(),
        send_time.as_secs_f64(),
        deliveries as f64 / send_time.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    for f in functions {
        if let Ok(f) = Arc::try_unwrap(f) {
            f.stop().await;
        }
    }
}
