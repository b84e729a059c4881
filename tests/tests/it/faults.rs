//! Faults while deliveries are in flight: S3 and SNS (each behind its own FaultProxy)
//! reset or refuse connections, or answer HTTP 500/503, on a schedule while concurrent
//! senders deliver. Then:
//! every delivery answered 200 is complete in S3 and SNS; every 502 completes when
//! re-sent; no partial state is left that a retry cannot finish; an SNS duplicate
//! carries the same eventId as the original. With the redrive queue, the event bus is
//! behind the SNS proxy too, and every file's event reaches a rule's target.
//!
//! Build the binaries first: `scripts/build-binaries`.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e::bus::EventBus;
use e2e::expect::{event_id, file_key, DEFAULT_PREFIX};
use e2e::proxy::Mode;
use e2e::requests::entry_text;
use e2e::{moto, Delivery, FaultProxy, Function, Stack};
use serde_json::Value;

const DELIVERIES: usize = 240;
const FUNCTIONS: usize = 3;
const SENDERS: usize = 6;
const EVENTS: [&str; 3] = ["extraction.confirmed", "extraction.failed", "extraction.processed"];

struct Planned {
    delivery: Delivery,
    event: &'static str,
    /// `(key, bytes)` of each file object.
    files: Vec<(String, String)>,
    /// `s3 key -> eventId` of each message it must publish.
    messages: BTreeMap<String, String>,
}

fn plan(n: usize) -> Planned {
    let event = EVENTS[n % EVENTS.len()];
    let kind = event.strip_prefix("extraction.").unwrap_or_default();
    let mut d = Delivery::new(event);
    let mut files = Vec::new();
    let mut messages = BTreeMap::new();
    for i in 0..(1 + n % 5) {
        let ext = format!("fault-{n:04}");
        let file = format!("file-{i}");
        let raw = entry_text(
            &ext,
            "batch",
            &file,
            kind,
            &format!(r#"{{"n":{n},"i":{i},"pad":"{}"}}"#, "x".repeat(n % 3 * 500)),
        );
        d = d.raw_entry(&raw);
        let key = file_key(DEFAULT_PREFIX, &ext, "batch", &file, kind);
        if kind != "processed" {
            messages.insert(key.clone(), event_id(event, raw.as_bytes()));
        }
        files.push((key, raw));
    }
    Planned {
        delivery: d,
        event,
        files,
        messages,
    }
}

/// Drains a queue; returns the message bodies, each checked to be on its own topic (the
/// callers look messages up by object key, which says nothing of the topic).
async fn drain(stack: &Stack, confirmed: bool) -> Vec<Value> {
    let (got, kind) = if confirmed {
        (stack.confirmed_messages().await, "/confirmed.json")
    } else {
        (stack.failed_messages().await, "/failed.json")
    };
    let bodies: Vec<Value> = got.iter().map(|m| m.json()).collect();
    for m in &bodies {
        let key = m["s3"]["key"].as_str().unwrap_or_default();
        assert!(key.ends_with(kind), "a message for {key} on the {kind} topic");
    }
    bodies
}

/// Asserts that delivery `p` is complete: every file object with its exact bytes, and
/// every message it owes among `messages` (s3 key -> eventIds seen).
/// Every planned delivery complete (see [`assert_complete`]), and nothing but what was
/// planned: every key is a file object or an archive copy, and every message points at a
/// planned object with its eventId. Returns the number of messages expected.
async fn assert_all_complete(stack: &Stack, planned: &[Planned], by_key: &BTreeMap<String, Vec<String>>) -> usize {
    let keys: BTreeSet<String> = stack.all_keys().await.into_iter().collect();
    for (n, p) in planned.iter().enumerate() {
        assert_complete(stack, &keys, by_key, n, p).await;
    }
    let planned_keys: BTreeSet<&String> = planned.iter().flat_map(|p| p.files.iter().map(|(k, _)| k)).collect();
    for k in &keys {
        assert!(
            planned_keys.contains(k) || k.starts_with("extracta/_deliveries/"),
            "unexpected object {k}"
        );
    }
    let expected_messages: usize = planned.iter().map(|p| p.messages.len()).sum();
    assert_eq!(
        by_key.len(),
        expected_messages,
        "every expected message, and no stray one"
    );
    expected_messages
}

async fn assert_complete(
    stack: &Stack,
    keys: &BTreeSet<String>,
    messages: &BTreeMap<String, Vec<String>>,
    n: usize,
    p: &Planned,
) {
    for (key, raw) in &p.files {
        assert!(keys.contains(key), "delivery {n} ({}): {key} missing", p.event);
        assert_eq!(stack.object(key).await.text(), raw, "delivery {n}: {key} bytes");
    }
    for (key, id) in &p.messages {
        let seen = messages.get(key).map(Vec::as_slice).unwrap_or_default();
        assert!(!seen.is_empty(), "delivery {n}: no message for {key}");
        assert!(
            seen.iter().all(|s| s == id),
            "delivery {n}: a message for {key} has another eventId: {seen:?} vs {id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outages_mid_run_lose_nothing_and_retries_complete() {
    let started = Instant::now();
    let s3 = Arc::new(FaultProxy::start(moto::shared().addr()).await);
    let sns = Arc::new(FaultProxy::start(moto::shared().addr()).await);
    let stack = Arc::new(Stack::new().await);
    let mut functions = Vec::new();
    for _ in 0..FUNCTIONS {
        let config = stack.config().s3_endpoint(&s3.url()).sns_endpoint(&sns.url());
        functions.push(Arc::new(Function::start(config).await));
    }
    let planned: Arc<Vec<Planned>> = Arc::new((0..DELIVERIES).map(plan).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let first: Arc<Mutex<BTreeMap<usize, u16>>> = Arc::new(Mutex::new(BTreeMap::new()));

    // Chaos: cycle through outages of S3, SNS and both (reset, refused, HTTP 500/503), with
    // forwarding in between, until the senders are done.
    let done = Arc::new(AtomicBool::new(false));
    let chaos = {
        let (s3, sns, done) = (s3.clone(), sns.clone(), done.clone());
        tokio::spawn(async move {
            let schedule = [
                (Mode::Reset, Mode::Forward),
                (Mode::Forward, Mode::Reset),
                (Mode::Status(503), Mode::Forward),
                (Mode::Refuse, Mode::Forward),
                (Mode::Forward, Mode::Refuse),
                (Mode::Forward, Mode::Status(500)),
                (Mode::Reset, Mode::Refuse),
                (Mode::Status(500), Mode::Status(503)),
            ];
            let mut switches = 0;
            for step in 0.. {
                if done.load(Ordering::SeqCst) {
                    break;
                }
                let (a, b) = schedule[step % schedule.len()];
                s3.set(a);
                sns.set(b);
                tokio::time::sleep(Duration::from_millis(150 + (step as u64 * 37) % 200)).await;
                s3.forward();
                sns.forward();
                switches += 2;
                tokio::time::sleep(Duration::from_millis(250 + (step as u64 * 53) % 300)).await;
            }
            switches
        })
    };

    let mut senders = Vec::new();
    for s in 0..SENDERS {
        let f = functions[s % FUNCTIONS].clone();
        let (planned, next, first) = (planned.clone(), next.clone(), first.clone());
        senders.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                let Some(p) = planned.get(n) else { return };
                let rsp = f.http(&p.delivery.request()).await;
                if rsp.status == 502 {
                    rsp.assert_error(502);
                }
                first.lock().unwrap().insert(n, rsp.status);
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let switches = chaos.await.unwrap();
    s3.forward();
    sns.forward();

    let first = first.lock().unwrap().clone();
    let other: Vec<_> = first.iter().filter(|(_, s)| **s != 200 && **s != 502).collect();
    assert!(other.is_empty(), "only 200 or 502 under faults: {other:?}");
    let ok: Vec<usize> = first.iter().filter(|(_, s)| **s == 200).map(|(n, _)| *n).collect();
    let failed: Vec<usize> = first.iter().filter(|(_, s)| **s == 502).map(|(n, _)| *n).collect();

    // Every message so far, by the key it points at.
    let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut total_messages = 0;
    let mut collect = |msgs: Vec<Value>, by_key: &mut BTreeMap<String, Vec<String>>| {
        for m in msgs {
            total_messages += 1;
            let key = m["s3"]["key"].as_str().unwrap_or_default().to_owned();
            by_key
                .entry(key)
                .or_default()
                .push(m["eventId"].as_str().unwrap_or_default().to_owned());
        }
    };
    collect(drain(&stack, true).await, &mut by_key);
    collect(drain(&stack, false).await, &mut by_key);

    // Every 200 is already complete, before any re-send.
    let keys: BTreeSet<String> = stack.all_keys().await.into_iter().collect();
    for &n in &ok {
        assert_complete(&stack, &keys, &by_key, n, &planned[n]).await;
    }

    // Every 502 completes when re-sent (with the services back).
    let mut resent = 0;
    for &n in &failed {
        let f = &functions[n % FUNCTIONS];
        let mut status = 0;
        for _ in 0..3 {
            resent += 1;
            status = f.http(&planned[n].delivery.request()).await.status;
            if status == 200 {
                break;
            }
        }
        assert_eq!(status, 200, "delivery {n} did not complete when re-sent");
    }
    collect(drain(&stack, true).await, &mut by_key);
    collect(drain(&stack, false).await, &mut by_key);
    let expected_messages = assert_all_complete(&stack, &planned, &by_key).await;
    let duplicates = total_messages - expected_messages;
    eprintln!(
        "faults: {DELIVERIES} deliveries, {switches} proxy switches: {} answered 200, {} answered 502; {resent} re-sends; \
         {expected_messages} messages expected, {total_messages} received ({duplicates} duplicates, same eventId); \
         S3 accepted {} connections, SNS {}; {:.1}s",
        ok.len(),
        failed.len(),
        s3.accepted(),
        sns.accepted(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        !failed.is_empty(),
        "the outages must have failed some deliveries (else this test proves nothing)"
    );
    assert!(!ok.is_empty(), "some deliveries must have gone through between outages");
}

/// The control for the HTTP-error outages above: in `Mode::Status` the proxy answers with
/// that status (not a reset), and forwards again afterwards.
#[tokio::test]
async fn status_mode_answers_with_the_status() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let proxy = FaultProxy::start(moto::shared().addr()).await;
    let addr = proxy.url().trim_start_matches("http://").to_owned();
    for (mode, want) in [
        (Mode::Status(503), "HTTP/1.1 503"),
        (Mode::Status(500), "HTTP/1.1 500"),
        (Mode::Forward, "HTTP/1.1 200"),
    ] {
        proxy.set(mode);
        let mut c = tokio::net::TcpStream::connect(&addr).await.unwrap();
        c.write_all(b"GET /moto-api/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let _ = c.read_to_end(&mut answer).await;
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with(want), "{mode:?}: {text:.80}");
    }
}

/// The same chaos with the redrive queue configured (docs/contract.md §8): S3 fails or
/// stalls the file objects (never the archive copy, so every delivery is durable) and SNS
/// resets, refuses or errs, while the test plays the event source mapping and drains the
/// queue into the functions as it fills. Every delivery is answered 200 or 202, none is
/// ever re-sent, and once the queue is empty every one is complete with every eventId.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outages_with_a_queue_complete_every_delivery_without_a_resend() {
    use e2e::proxy::{Action, PathFilter, Rule};
    use e2e::EventSourceMapping;

    let started = Instant::now();
    let s3 = Arc::new(FaultProxy::start(moto::shared().addr()).await);
    let sns = Arc::new(FaultProxy::start(moto::shared().addr()).await);
    let stack = Arc::new(Stack::new().await);
    // The event bus too (docs/contract.md §10), behind the SNS proxy: its outages are the bus's.
    let bus = EventBus::create(&stack).await;
    let mut functions = Vec::new();
    for _ in 0..FUNCTIONS {
        let config = stack
            .redrive_config()
            .ack_deadline_ms(1500)
            .s3_endpoint(&s3.url())
            .sns_endpoint(&sns.url())
            .set("EVENT_BUS_NAME", &bus.name)
            .set("AWS_ENDPOINT_URL_EVENTBRIDGE", &sns.url());
        functions.push(Arc::new(Function::start(config).await));
    }
    let planned: Arc<Vec<Planned>> = Arc::new((0..DELIVERIES).map(plan).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let first: Arc<Mutex<BTreeMap<usize, u16>>> = Arc::new(Mutex::new(BTreeMap::new()));
    let done = Arc::new(AtomicBool::new(false));

    // Chaos on the file objects and on SNS; the archive copy always goes through.
    let chaos = {
        let (s3, sns, done) = (s3.clone(), sns.clone(), done.clone());
        tokio::spawn(async move {
            let files = || PathFilter::NotContaining("/_deliveries/".into());
            let schedule = [
                (Some(Action::Reset), Mode::Forward),
                (None, Mode::Reset),
                (Some(Action::Status(503)), Mode::Forward),
                (None, Mode::Refuse),
                (Some(Action::Delay(Duration::from_millis(2500))), Mode::Forward),
                (Some(Action::Status(500)), Mode::Status(500)),
                (None, Mode::Status(503)),
                (Some(Action::Reset), Mode::Refuse),
            ];
            let mut switches = 0;
            for step in 0.. {
                if done.load(Ordering::SeqCst) {
                    break;
                }
                let (a, b) = schedule[step % schedule.len()];
                s3.set_rules(a.map(|a| Rule::new(files(), a)).into_iter().collect());
                sns.set(b);
                tokio::time::sleep(Duration::from_millis(150 + (step as u64 * 37) % 200)).await;
                s3.clear_rules();
                sns.forward();
                switches += 2;
                tokio::time::sleep(Duration::from_millis(250 + (step as u64 * 53) % 300)).await;
            }
            switches
        })
    };

    // The topics' queues and the bus rule's target are read as they fill (retries and
    // redrives put thousands of events under a busy machine's longer chaos; moto reads a
    // long queue slowly).
    let collecting = [
        stack.aws.collect(&stack.res.confirmed_queue),
        stack.aws.collect(&stack.res.failed_queue),
        stack.aws.collect(&bus.all),
    ];

    // The event source mapping: polls while the senders send, into the same processes
    // (one invocation at a time each), until the senders are done and the queue is empty.
    let poller = EventSourceMapping::new(&stack.res.redrive_queue)
        .max_receives(1000)
        .spawn(stack.aws.clone(), functions.clone());

    let mut senders = Vec::new();
    for s in 0..SENDERS {
        let f = functions[s % FUNCTIONS].clone();
        let (planned, next, first) = (planned.clone(), next.clone(), first.clone());
        senders.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                let Some(p) = planned.get(n) else { return };
                let rsp = f.http(&p.delivery.request()).await;
                if rsp.status == 202 {
                    assert_eq!(rsp.json()["queued"], Value::Bool(true), "{}", rsp.text());
                }
                first.lock().unwrap().insert(n, rsp.status);
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    // The faults go on a while, so the mapping's redrives meet them too.
    tokio::time::sleep(Duration::from_secs(4)).await;
    done.store(true, Ordering::SeqCst);
    let switches = chaos.await.unwrap();
    s3.clear_rules();
    sns.forward();
    let polled = poller.finish().await;
    assert_eq!(polled.dead, 0, "nothing reached the receive limit");

    // Only 200 or 202: every delivery was durable, no sender has anything to re-send.
    let first = first.lock().unwrap().clone();
    assert_eq!(first.len(), DELIVERIES);
    let other: Vec<_> = first.iter().filter(|(_, s)| **s != 200 && **s != 202).collect();
    assert!(other.is_empty(), "only 200 or 202 with a queue: {other:?}");
    let queued = first.values().filter(|s| **s == 202).count();
    let [confirmed, failed, bus_events] = collecting;
    let confirmed = e2e::checked(confirmed.finish(&stack.aws, &stack.res.confirmed_queue).await);
    let failed = e2e::checked(failed.finish(&stack.aws, &stack.res.failed_queue).await);
    let bus_events = bus_events.finish(&stack.aws, &bus.all).await;

    // Every delivery is complete, every message there with its eventId, nothing else.
    let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut total_messages = 0;
    for received in [confirmed, failed] {
        for m in received.iter().map(|m| m.json()) {
            total_messages += 1;
            let key = m["s3"]["key"].as_str().unwrap_or_default().to_owned();
            by_key
                .entry(key)
                .or_default()
                .push(m["eventId"].as_str().unwrap_or_default().to_owned());
        }
    }
    let expected_messages = assert_all_complete(&stack, &planned, &by_key).await;
    assert_eq!(polled.completed, queued, "one completed record per 202");

    // The bus: every file's event arrived through the rule, with its eventId, and no
    // other (a redrive may put one again: the same eventId).
    let expected_events: BTreeSet<String> = planned
        .iter()
        .flat_map(|p| p.files.iter().map(|(_, raw)| event_id(p.event, raw.as_bytes())))
        .collect();
    let events = e2e::bus::checked_events(&bus_events);
    let event_ids: BTreeSet<String> = events
        .iter()
        .map(|e| e["detail"]["eventId"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        event_ids, expected_events,
        "the bus: every file's event, and nothing else"
    );
    eprintln!(
        "faults with a queue: {DELIVERIES} deliveries, {switches} switches: {} answered 200, {queued} answered 202, \
         0 re-sent; the mapping ran {} batches, {} records completed, {} listed for retry; \
         {expected_messages} messages expected, {total_messages} received; {} events for {} files; {:.1}s",
        DELIVERIES - queued,
        polled.batches,
        polled.completed,
        polled.failures,
        events.len(),
        expected_events.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        queued > 0,
        "the faults must have queued some deliveries (else this proves nothing)"
    );
    assert!(queued < DELIVERIES, "some deliveries must have completed live");
}
