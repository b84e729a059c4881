//! docs/contract.md §8 (and §5, §7): automatic completion through the redrive queue. With
//! `REDRIVE_QUEUE_URL`, a delivery that cannot complete within `ACK_DEADLINE_MS` is
//! acknowledged `202` once its archive copy is stored, one message goes to the queue, and
//! the same binary, invoked with the queue's SQS event (the test plays Lambda's event
//! source mapping), completes it exactly as a live `200` would have; `502` only when the
//! delivery is not durable. Crafted queue messages make the function read nothing.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use e2e::expect::{as_num, event_id, json_lines, sha256_hex, summaries, Window};
use e2e::proxy::{Action, Mode, PathFilter, Rule};
use e2e::redrive::{invoke_sqs, sqs_event, JsonBody as _};
use e2e::{moto, Delivery, FaultProxy, FunctionConfig, HttpResponse, QueueMessage, Received, Stack, StoredObject};
use serde_json::{json, Value};

use super::{check_accepted, entry, event_component, Fixture};

const CONFIRMED: &str = "extraction.confirmed";
const FAILED: &str = "extraction.failed";

/// A delivery of `event` with two file entries (ids tagged with `tag`), whose extracted
/// data has bytes a re-serialization would change.
fn delivery(event: &str, tag: &str) -> Delivery {
    let status = event.trim_start_matches("extraction.");
    Delivery::new(event)
        .raw_entry(&entry(
            &format!("ext-{tag}"),
            "batch-1",
            "file-1",
            status,
            r#"{"total":1.50,"big":123456789012345678901234567890}"#,
        ))
        .raw_entry(&entry(
            &format!("ext-{tag}"),
            "batch-1",
            "file-2",
            status,
            r#"{"z":1,"a":[2,1]}"#,
        ))
}

/// The file keys of [`delivery`]`(event, tag)` under the default prefix.
fn file_keys(fx: &Fixture, event: &str, tag: &str) -> Vec<String> {
    let kind = event.trim_start_matches("extraction.");
    ["file-1", "file-2"]
        .iter()
        .map(|f| format!("{}ext-{tag}/batch-1/{f}/{kind}.json", fx.prefix))
        .collect()
}

/// A fixture whose function has the stack's redrive queue, configured further by `tweak`.
async fn fixture(tweak: impl FnOnce(FunctionConfig) -> FunctionConfig) -> Fixture {
    let stack = Stack::new().await;
    let url = stack.res.redrive_queue.url.clone();
    Fixture::on(stack, |c| tweak(c.redrive_queue(&url))).await
}

/// Asserts a `202` for `d` and returns its archive key.
#[track_caller]
fn assert_queued(fx: &Fixture, rsp: &HttpResponse, d: &Delivery, event: &str, w: Window) -> String {
    rsp.assert_status(202);
    let body = rsp.json();
    let archived = body["archived"].as_str().unwrap_or_default().to_owned();
    let keys = w.archive_keys(&fx.prefix, &event_component(Some(event)), &d.body());
    assert!(keys.contains(&archived), "archived {archived:?} is not one of {keys:?}");
    assert_eq!(
        body,
        json!({"event": event, "files": d.entries().len(), "archived": archived, "queued": true}),
        "the 202 body"
    );
    archived
}

/// Asserts the redrive queue holds exactly one message, `{"archived": key, "reason":
/// reason}`, and leaves it there (visible).
async fn assert_one_queue_message(fx: &Fixture, archived: &str, reason: &str) -> QueueMessage {
    let q = &fx.stack.res.redrive_queue;
    let got = fx.stack.aws.receive(q, 10, 1).await;
    assert_eq!(got.len(), 1, "exactly one queue message: {got:?}");
    e2e::schema::check("redrive-message", &got[0].json());
    assert_eq!(
        got[0].json(),
        json!({"archived": archived, "reason": reason}),
        "the queue message body"
    );
    fx.stack.aws.release(q, &got[0].receipt_handle).await;
    // Nothing else behind it.
    let again = fx.stack.aws.receive(q, 10, 1).await;
    assert_eq!(again.len(), 1, "still exactly one queue message: {again:?}");
    fx.stack.aws.release(q, &again[0].receipt_handle).await;
    got[0].clone()
}

/// Every object in the bucket, and every SNS message so far (drained).
struct Snapshot {
    objects: BTreeMap<String, StoredObject>,
    confirmed: Vec<Received>,
    failed: Vec<Received>,
}

async fn snapshot(fx: &Fixture) -> Snapshot {
    let mut objects = BTreeMap::new();
    for k in fx.keys().await {
        let o = fx.stack.object(&k).await;
        objects.insert(k, o);
    }
    Snapshot {
        objects,
        confirmed: fx.stack.confirmed_messages().await,
        failed: fx.stack.failed_messages().await,
    }
}

/// A message as comparable text: body and attributes, with the receipt time `at`
/// replaced by `as_at`.
fn message_text(m: &Received, at: &str, as_at: &str) -> String {
    format!("{} {:?}", m.body.replace(at, as_at), m.attributes).replace(at, as_at)
}

/// Asserts `redriven` is byte for byte `live` once each one's receipt time is swapped for
/// the other's: the same keys, bytes, content types, metadata, message bodies and
/// attributes.
fn assert_same_as_live(redriven: &Snapshot, redriven_at: &str, live: &Snapshot, live_at: &str) {
    assert_eq!(
        redriven.objects.keys().collect::<Vec<_>>(),
        live.objects.keys().collect::<Vec<_>>(),
        "the same keys"
    );
    for (key, r) in &redriven.objects {
        let l = &live.objects[key];
        assert_eq!(r.bytes, l.bytes, "{key}: the same bytes");
        assert_eq!(r.content_type, l.content_type, "{key}: the same content type");
        let mut meta = r.metadata.clone();
        assert_eq!(meta.get("received-at").map(String::as_str), Some(redriven_at), "{key}");
        meta.insert("received-at".into(), live_at.to_owned());
        assert_eq!(meta, l.metadata, "{key}: the same metadata");
    }
    for (name, r, l) in [
        ("confirmed", &redriven.confirmed, &live.confirmed),
        ("failed", &redriven.failed, &live.failed),
    ] {
        let mut r: Vec<String> = r.iter().map(|m| message_text(m, redriven_at, live_at)).collect();
        let mut l: Vec<String> = l.iter().map(|m| message_text(m, live_at, live_at)).collect();
        r.sort();
        l.sort();
        assert_eq!(r, l, "{name}: the same messages");
    }
}

/// The sum of an EMF metric over every line of `output` that carries it.
fn metric_sum(output: &str, name: &str) -> f64 {
    json_lines(output)
        .iter()
        .filter(|l| l.get("_aws").is_some())
        .filter_map(|l| l.get(name).and_then(as_num))
        .sum()
}

/// The redrive summary lines (`redrive: true`), by `messageId`.
fn redrive_lines(output: &str) -> BTreeMap<String, Vec<serde_json::Map<String, Value>>> {
    let mut by_id: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for s in summaries(output) {
        if s.get("redrive") == Some(&Value::Bool(true)) {
            let id = s
                .get("messageId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            by_id.entry(id).or_default().push(s);
        }
    }
    by_id
}

/// The receipt time of the archive copy at `key`.
async fn received_at(fx: &Fixture, key: &str) -> String {
    fx.stack.object(key).await.meta("received-at").to_owned()
}

#[tokio::test]
async fn sns_down_is_202_then_the_redrive_completes_byte_for_byte() {
    let sns = FaultProxy::start(moto::shared().addr()).await;
    let fx = fixture(|c| c.sns_endpoint(&sns.url())).await;
    let d = delivery(CONFIRMED, "sns");

    // GIVEN SNS refuses connections: the delivery is acknowledged 202 and queued
    sns.set(Mode::Refuse);
    let (rsp, w) = fx.send(&d.request()).await;
    let archived = assert_queued(&fx, &rsp, &d, CONFIRMED, w);
    let queued = assert_one_queue_message(&fx, &archived, "publish").await;
    let at = received_at(&fx, &archived).await;
    w.assert_contains(&at);
    assert!(fx.stack.confirmed_messages().await.is_empty(), "nothing published");
    // ...and one file object is lost as well, so the redrive has S3 work to do.
    let files = file_keys(&fx, CONFIRMED, "sns");
    fx.stack
        .aws
        .s3
        .delete_object()
        .bucket(&fx.stack.res.bucket)
        .key(&files[1])
        .send()
        .await
        .unwrap();

    // WHEN SNS is back and the event source mapping delivers the queue message
    sns.forward();
    let drained = fx.stack.mapping().drain(&fx.stack.aws, &fx.f).await;
    assert_eq!(drained.batches.len(), 1, "one batch: {drained:?}");
    assert!(drained.failures().is_empty(), "it completed: {drained:?}");
    assert_eq!(drained.completed()[0].message_id, queued.message_id);
    assert!(fx.stack.queued().await.is_empty(), "the queue is empty");
    let redriven = snapshot(&fx).await;

    // THEN S3 and SNS hold what a live 200 of the same delivery leaves, byte for byte,
    // with the original receipt time.
    fx.clear().await;
    let (rsp, w2) = fx.send(&d.request()).await;
    check_accepted(&fx, &d, Some(CONFIRMED), &rsp, w2, true).await;
    // check_accepted drained the messages: send once more for the comparison.
    fx.clear().await;
    let (rsp, _) = fx.send(&d.request()).await;
    rsp.assert_status(200);
    let live = snapshot(&fx).await;
    let live_at = live.objects[&archived].meta("received-at").to_owned();
    assert_eq!(redriven.confirmed.len(), 2, "one message per file");
    assert_same_as_live(&redriven, &at, &live, &live_at);
    assert!(fx.stack.queued().await.is_empty(), "a 200 queues nothing");

    // AND the logs and metrics say so.
    let output = fx.f.stop().await;
    assert_eq!(metric_sum(&output, "Queued"), 1.0, "Queued once:\n{output}");
    assert_eq!(metric_sum(&output, "Redriven"), 1.0, "Redriven once:\n{output}");
    assert_eq!(metric_sum(&output, "RedriveFailures"), 0.0, "{output}");
    let lines = redrive_lines(&output);
    let mine = &lines[&queued.message_id];
    assert_eq!(mine.len(), 1, "one redrive line per record: {lines:?}");
    assert_eq!(as_num(&mine[0]["status"]), Some(200.0), "{mine:?}");
    assert_eq!(mine[0]["event"], json!(CONFIRMED), "{mine:?}");
    let live_202 = summaries(&output)
        .into_iter()
        .find(|s| as_num(&s["status"]) == Some(202.0))
        .unwrap_or_else(|| panic!("a summary line with status 202:\n{output}"));
    assert_eq!(live_202["event"], json!(CONFIRMED));
}

#[tokio::test]
async fn slow_file_writes_pass_the_deadline_then_the_redrive_completes() {
    const DEADLINE_MS: u64 = 400;
    const SLOW: Duration = Duration::from_millis(3000);
    let s3 = FaultProxy::start(moto::shared().addr()).await;
    let fx = fixture(|c| c.ack_deadline_ms(DEADLINE_MS).s3_endpoint(&s3.url())).await;
    let d = delivery(FAILED, "slow");

    // GIVEN S3 holds every request but the archive copy's for 3 s
    s3.set_rules(vec![Rule::new(
        PathFilter::NotContaining("/_deliveries/".into()),
        Action::Delay(SLOW),
    )]);
    let started = Instant::now();
    let (rsp, w) = fx.send(&d.request()).await;
    let took = started.elapsed();

    // THEN the answer is a 202 at the deadline, without waiting for the file objects
    let archived = assert_queued(&fx, &rsp, &d, FAILED, w);
    assert!(
        took >= Duration::from_millis(DEADLINE_MS) && took < SLOW - Duration::from_millis(500),
        "answered after {took:?}: at the deadline ({DEADLINE_MS} ms), not after the slow writes"
    );
    let queued = assert_one_queue_message(&fx, &archived, "deadline").await;
    let at = received_at(&fx, &archived).await;
    w.assert_contains(&at);

    // WHEN the redrive runs, S3 still slow (the deadline is the live request's, not the
    // redrive's)
    s3.set_rules(vec![Rule::new(
        PathFilter::NotContaining("/_deliveries/".into()),
        Action::Delay(Duration::from_millis(500)),
    )]);
    let drained = fx.stack.mapping().drain(&fx.stack.aws, &fx.f).await;
    assert!(drained.failures().is_empty(), "it completed: {drained:?}");
    assert_eq!(drained.completed().len(), 1);
    assert_eq!(drained.completed()[0].message_id, queued.message_id);
    s3.clear_rules();
    // The live request's own writes may still land: wait them out, then look.
    tokio::time::sleep(SLOW).await;

    // THEN every file object and message is there, as the live 200 would have left it
    let files = file_keys(&fx, FAILED, "slow");
    let mut want_keys = files.clone();
    want_keys.push(archived.clone());
    want_keys.sort();
    assert_eq!(fx.keys().await, want_keys);
    let mut want_ids = BTreeSet::new();
    for (key, raw) in files.iter().zip(d.entries()) {
        let o = fx.stack.object(key).await;
        assert_eq!(o.text(), raw, "{key}");
        assert_eq!(o.meta("received-at"), at, "{key}: the original receipt time");
        assert_eq!(o.meta("event-id"), event_id(FAILED, raw.as_bytes()), "{key}");
        want_ids.insert(event_id(FAILED, raw.as_bytes()));
    }
    let msgs = fx.stack.failed_messages().await;
    let ids: BTreeSet<String> = msgs
        .iter()
        .map(|m| m.json()["eventId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, want_ids, "every eventId, no other: {msgs:?}");
    for m in &msgs {
        assert_eq!(m.json()["receivedAt"], json!(at), "{m:?}");
    }
    assert!(fx.stack.confirmed_messages().await.is_empty());
}

#[tokio::test]
async fn file_writes_failing_is_202_store_then_the_redrive_completes() {
    let s3 = FaultProxy::start(moto::shared().addr()).await;
    let fx = fixture(|c| c.s3_endpoint(&s3.url())).await;
    let d = delivery(CONFIRMED, "store");

    // GIVEN S3 fails every file object (HTTP 500 after the SDK's retries), not the archive
    s3.set_rules(vec![Rule::new(
        PathFilter::NotContaining("/_deliveries/".into()),
        Action::Status(500),
    )]);
    let (rsp, w) = fx.send(&d.request()).await;
    let archived = assert_queued(&fx, &rsp, &d, CONFIRMED, w);
    assert_one_queue_message(&fx, &archived, "store").await;
    assert_eq!(fx.keys().await, vec![archived.clone()], "only the archive copy");
    assert!(
        fx.stack.confirmed_messages().await.is_empty(),
        "nothing published before its object"
    );

    // WHEN S3 is back and the queue is drained
    s3.clear_rules();
    let drained = fx.stack.mapping().drain(&fx.stack.aws, &fx.f).await;
    assert!(drained.failures().is_empty(), "{drained:?}");
    assert_eq!(drained.completed().len(), 1);

    // THEN it is what a live 200 leaves, with the original receipt time
    let at = received_at(&fx, &archived).await;
    let redriven = snapshot(&fx).await;
    fx.clear().await;
    let (rsp, _) = fx.send(&d.request()).await;
    rsp.assert_status(200);
    let live = snapshot(&fx).await;
    let live_at = live.objects[&archived].meta("received-at").to_owned();
    assert_same_as_live(&redriven, &at, &live, &live_at);
}

#[tokio::test]
async fn a_slow_archive_copy_is_waited_for_past_the_deadline() {
    // The deadline never cuts the archive copy short: with every S3 write slow, the
    // answer waits for the archive copy and is a 202 (not a 502, not before it is stored).
    const DEADLINE_MS: u64 = 300;
    const SLOW: Duration = Duration::from_millis(1500);
    let s3 = FaultProxy::start(moto::shared().addr()).await;
    let fx = fixture(|c| c.ack_deadline_ms(DEADLINE_MS).s3_endpoint(&s3.url())).await;
    let d = delivery(CONFIRMED, "slowarch");

    s3.set_rules(vec![Rule::new(PathFilter::Any, Action::Delay(SLOW))]);
    let started = Instant::now();
    let (rsp, w) = fx.send(&d.request()).await;
    let took = started.elapsed();
    let archived = assert_queued(&fx, &rsp, &d, CONFIRMED, w);
    assert!(
        took >= SLOW,
        "answered after {took:?}, before the archive copy could be stored"
    );
    s3.clear_rules();
    // The archive copy is there as soon as the 202 is.
    let archive = fx.stack.object(&archived).await;
    assert_eq!(archive.bytes, d.body());
    assert_one_queue_message(&fx, &archived, "deadline").await;
    let drained = fx.stack.mapping().drain(&fx.stack.aws, &fx.f).await;
    assert!(drained.failures().is_empty(), "{drained:?}");
    tokio::time::sleep(SLOW).await;
    let mut want = file_keys(&fx, CONFIRMED, "slowarch");
    want.push(archived);
    want.sort();
    assert_eq!(fx.keys().await, want);
}

/// S3 fails the archive copy (only it, or everything): `502`, nothing queued; the retry,
/// S3 back, is a 200.
async fn archive_failure(rules: Vec<Rule>, mode: Mode) {
    let s3 = FaultProxy::start(moto::shared().addr()).await;
    let fx = fixture(|c| c.s3_endpoint(&s3.url())).await;
    let d = delivery(CONFIRMED, "arch");

    s3.set_rules(rules);
    s3.set(mode);
    let (rsp, w) = fx.send(&d.request()).await;
    rsp.assert_error(502);
    assert!(s3.accepted() > 0 || mode == Mode::Refuse, "S3 went through the proxy");
    let archives = w.archive_keys(&fx.prefix, &event_component(Some(CONFIRMED)), &d.body());
    let keys = fx.keys().await;
    assert!(!keys.iter().any(|k| archives.contains(k)), "no archive copy: {keys:?}");
    assert!(fx.stack.queued().await.is_empty(), "nothing queued for a 502");

    s3.clear_rules();
    s3.forward();
    let (rsp, w) = fx.send(&d.request()).await;
    check_accepted(&fx, &d, Some(CONFIRMED), &rsp, w, true).await;
    assert!(fx.stack.queued().await.is_empty(), "a 200 queues nothing");
}

#[tokio::test]
async fn archive_write_failing_is_502_and_nothing_is_queued() {
    archive_failure(
        vec![Rule::new(
            PathFilter::Containing("/_deliveries/".into()),
            Action::Status(500),
        )],
        Mode::Forward,
    )
    .await;
}

#[tokio::test]
async fn s3_down_is_502_and_nothing_is_queued() {
    archive_failure(Vec::new(), Mode::Reset).await;
}

#[tokio::test]
async fn missing_queue_is_502() {
    let stack = Stack::new().await;
    let gone = stack.aws.create_queue(&e2e::unique_name("e2e-gone")).await;
    stack.aws.delete_queue(&gone).await;
    let sns = FaultProxy::start(moto::shared().addr()).await;
    let fx = Fixture::on(stack, |c| c.redrive_queue(&gone.url).sns_endpoint(&sns.url())).await;
    let d = delivery(CONFIRMED, "gone");

    // GIVEN SNS down, so the delivery needs the queue, which does not exist
    sns.set(Mode::Refuse);
    let (rsp, w) = fx.send(&d.request()).await;
    let body = rsp.assert_error(502);
    assert_eq!(body.get("queued"), None, "{body}");
    // The archive copy was stored (it is written first), but without the queue message
    // nothing would complete it: the sender must retry.
    let archives = w.archive_keys(&fx.prefix, &event_component(Some(CONFIRMED)), &d.body());
    assert!(
        fx.keys().await.iter().any(|k| archives.contains(k)),
        "the archive copy is stored before the queue is needed"
    );

    // WHEN the sender retries with SNS back, the queue is not needed: 200, with the first
    // request's receipt time (an exact repeat, docs/contract.md §9)
    sns.forward();
    let (rsp, retry) = fx.send(&d.request()).await;
    let both = Window {
        before: w.before,
        after: retry.after,
    };
    check_accepted(&fx, &d, Some(CONFIRMED), &rsp, both, true).await;
}

#[tokio::test]
async fn poison_records_are_refused_next_to_a_good_one() {
    let s3 = FaultProxy::start(moto::shared().addr()).await;
    let sns = FaultProxy::start(moto::shared().addr()).await;
    let fx = fixture(|c| c.s3_endpoint(&s3.url()).sns_endpoint(&sns.url())).await;
    let aws = &fx.stack.aws;
    let queue = &fx.stack.res.redrive_queue;
    let bucket = &fx.stack.res.bucket;

    // GIVEN a good queued delivery (SNS was down)...
    let good = delivery(CONFIRMED, "good");
    sns.set(Mode::Refuse);
    let (rsp, w) = fx.send(&good.request()).await;
    let archived = assert_queued(&fx, &rsp, &good, CONFIRMED, w);
    sns.forward();
    let at = received_at(&fx, &archived).await;

    // ...bait objects that hold a valid delivery body, where no record may lead...
    let bait = delivery(CONFIRMED, "bait");
    let date = &archived[fx.prefix.len() + "_deliveries/".len()..][..10];
    let hex = sha256_hex(&bait.body());
    let outside = [
        format!("{}bait.json", fx.prefix),
        format!("{}_deliveries/bait.json", fx.prefix),
        format!("{}_deliveries/{date}/{CONFIRMED}/{hex}.json.bait", fx.prefix),
        format!("other/_deliveries/{date}/{CONFIRMED}/{hex}.json"),
        format!("{}_deliveries/{date}/{CONFIRMED}/{hex}.JSON", fx.prefix),
    ];
    for key in &outside {
        aws.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(bait.body().into())
            .content_type("application/json")
            .metadata("received-at", &at)
            .send()
            .await
            .unwrap();
    }
    let before = fx.keys().await;

    // ...and poison messages on the queue: not JSON, not an object, a non-string
    // `archived`, keys that are not archive keys of this deployment, a missing archive.
    let missing = format!("{}_deliveries/{date}/{CONFIRMED}/{}.json", fx.prefix, "0".repeat(64));
    let poison: Vec<String> = vec![
        "not json".into(),
        json!([archived]).to_string(),
        json!({"archived": 5}).to_string(),
        json!({"archived": null}).to_string(),
        json!({"Archived": archived}).to_string(),
        json!({"archived": outside[0]}).to_string(),
        json!({"archived": outside[1]}).to_string(),
        json!({"archived": outside[3]}).to_string(),
        json!({"archived": format!("{}_deliveries/../bait.json", fx.prefix)}).to_string(),
        json!({"archived": format!("{}_deliveries/{date}/{CONFIRMED}/../../../../../bait.json", fx.prefix)})
            .to_string(),
        json!({"archived": outside[2]}).to_string(),
        json!({"archived": outside[4]}).to_string(),
        json!({"archived": format!("/{archived}")}).to_string(),
        json!({"archived": missing}).to_string(),
    ];
    let mut poison_ids = BTreeSet::new();
    for body in &poison {
        poison_ids.insert(aws.send_message(queue, body).await);
    }

    // WHEN all of them arrive in one batch (the good record among them)
    let mut messages = Vec::new();
    for _ in 0..50 {
        messages.extend(aws.receive(queue, 10, 30).await);
        if messages.len() == poison.len() + 1 {
            break;
        }
    }
    assert_eq!(messages.len(), poison.len() + 1, "every message received");
    let good_id = messages
        .iter()
        .find(|m| !poison_ids.contains(&m.message_id))
        .unwrap()
        .message_id
        .clone();
    let seen_before = s3.requests().len();
    let rsp = invoke_sqs(&fx.f, sqs_event(queue, &messages)).await;

    // THEN exactly the poison records are listed
    let listed: BTreeSet<String> = rsp.failures.iter().cloned().collect();
    assert_eq!(rsp.failures.len(), listed.len(), "each listed once: {:?}", rsp.raw);
    assert_eq!(listed, poison_ids, "exactly the bad records: {:?}", rsp.raw);
    assert!(!listed.contains(&good_id));

    // AND the good one completed, and nothing else was read, written or published
    let files = file_keys(&fx, CONFIRMED, "good");
    let mut after = before.clone();
    after.extend(files.iter().cloned());
    after.sort();
    after.dedup();
    assert_eq!(fx.keys().await, after, "no object but the good delivery's");
    let msgs = fx.stack.confirmed_messages().await;
    let ids: BTreeSet<String> = msgs
        .iter()
        .map(|m| m.json()["eventId"].as_str().unwrap().to_owned())
        .collect();
    let want: BTreeSet<String> = good
        .entries()
        .iter()
        .map(|e| event_id(CONFIRMED, e.as_bytes()))
        .collect();
    assert_eq!(ids, want, "only the good delivery's messages: {msgs:?}");
    assert_eq!(msgs.len(), 2);
    assert!(fx.stack.failed_messages().await.is_empty());
    let allowed: BTreeSet<String> = files
        .iter()
        .chain([&archived, &missing])
        .map(|k| format!("/{bucket}/{k}"))
        .collect();
    for r in &s3.requests()[seen_before..] {
        let path = r.path.split('?').next().unwrap_or_default();
        assert!(
            allowed.contains(path),
            "the redrive touched {} {}: only the good delivery's keys and the missing archive may be",
            r.method,
            r.path
        );
    }

    // AND each record has its log line and metric
    let output = fx.f.stop().await;
    let lines = redrive_lines(&output);
    for id in poison_ids.iter().chain([&good_id]) {
        let want = if *id == good_id { 200.0 } else { 502.0 };
        let got = lines
            .get(id)
            .unwrap_or_else(|| panic!("no redrive line for {id}:\n{output}"));
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(as_num(&got[0]["status"]), Some(want), "{got:?}");
        assert!(got[0].contains_key("event"), "event is always present: {got:?}");
    }
    assert_eq!(metric_sum(&output, "Redriven"), 1.0, "{output}");
    assert_eq!(metric_sum(&output, "RedriveFailures"), poison.len() as f64, "{output}");
}

#[tokio::test]
async fn redriving_a_completed_delivery_is_idempotent() {
    let fx = fixture(|c| c).await;
    let d = delivery(FAILED, "done");

    // GIVEN a delivery that completed live
    let (rsp, w) = fx.send(&d.request()).await;
    let live_msgs = check_accepted(&fx, &d, Some(FAILED), &rsp, w, true).await;
    assert!(fx.stack.queued().await.is_empty(), "a 200 queues nothing");
    let archived = rsp.json()["archived"].as_str().unwrap().to_owned();
    let at = received_at(&fx, &archived).await;
    // check_accepted drained the live messages: keep them for the comparison.
    let live = Snapshot {
        failed: live_msgs,
        ..snapshot(&fx).await
    };

    // WHEN an operator redrives it by hand, twice (`aws sqs send-message` with just the key)
    for round in 0..2 {
        fx.stack
            .aws
            .send_message(&fx.stack.res.redrive_queue, &json!({"archived": archived}).to_string())
            .await;
        let drained = fx.stack.mapping().drain(&fx.stack.aws, &fx.f).await;
        assert!(drained.failures().is_empty(), "round {round}: {drained:?}");
        assert_eq!(drained.completed().len(), 1, "round {round}");

        // THEN the same objects (bytes and metadata) and the same messages, byte for byte
        let redriven = snapshot(&fx).await;
        assert_eq!(redriven.failed.len(), 2, "round {round}: one message per file");
        assert_same_as_live(&redriven, &at, &live, &at);
    }
}

#[tokio::test]
async fn a_record_failing_transiently_is_listed_then_its_retry_completes() {
    let sns = FaultProxy::start(moto::shared().addr()).await;
    let fx = fixture(|c| c.sns_endpoint(&sns.url())).await;
    let d = delivery(CONFIRMED, "retry");
    let mapping = fx.stack.mapping();

    // GIVEN a queued delivery, SNS still down when the event source mapping first
    // delivers it
    sns.set(Mode::Refuse);
    let (rsp, w) = fx.send(&d.request()).await;
    let archived = assert_queued(&fx, &rsp, &d, CONFIRMED, w);
    let first = mapping.poll(&fx.stack.aws, &fx.f).await.expect("a batch");
    assert_eq!(first.messages.len(), 1);
    let id = first.messages[0].message_id.clone();
    assert_eq!(
        first.failures,
        vec![id.clone()],
        "the record is listed: {:?}",
        first.answer
    );
    assert!(fx.stack.confirmed_messages().await.is_empty());

    // WHEN SQS delivers it again with SNS back
    sns.forward();
    let drained = mapping.drain(&fx.stack.aws, &fx.f).await;

    // THEN the same message (received a second time) completes
    assert!(drained.failures().is_empty(), "{drained:?}");
    let done = drained.completed();
    assert_eq!(done.len(), 1, "{drained:?}");
    assert_eq!(done[0].message_id, id);
    assert!(done[0].receive_count() >= 2, "a retry by SQS: {:?}", done[0]);
    let at = received_at(&fx, &archived).await;
    let msgs = fx.stack.confirmed_messages().await;
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    for (raw, key) in d.entries().iter().zip(file_keys(&fx, CONFIRMED, "retry")) {
        let o = fx.stack.object(&key).await;
        assert_eq!(o.text(), raw);
        assert_eq!(o.meta("received-at"), at);
        let eid = event_id(CONFIRMED, raw.as_bytes());
        let m = msgs.iter().find(|m| m.json()["eventId"] == json!(eid)).unwrap();
        assert_eq!(m.json()["s3"]["key"], json!(key));
        assert_eq!(m.json()["receivedAt"], json!(at));
    }

    let output = fx.f.stop().await;
    let lines = &redrive_lines(&output)[&id];
    let statuses: Vec<Option<f64>> = lines.iter().map(|l| as_num(&l["status"])).collect();
    assert_eq!(statuses, [Some(502.0), Some(200.0)], "{lines:?}");
    assert_eq!(metric_sum(&output, "RedriveFailures"), 1.0, "{output}");
    assert_eq!(metric_sum(&output, "Redriven"), 1.0, "{output}");
}

#[tokio::test]
async fn without_a_queue_sns_down_is_502_as_before() {
    // The queue is opt-in: the same outage without REDRIVE_QUEUE_URL is today's 502,
    // nothing goes to SQS.
    let sns = FaultProxy::start(moto::shared().addr()).await;
    let fx = Fixture::on(Stack::new().await, |c| c.sns_endpoint(&sns.url())).await;
    sns.set(Mode::Refuse);
    let (rsp, _) = fx.send(&delivery(CONFIRMED, "noq").request()).await;
    rsp.assert_error(502);
    assert!(fx.stack.queued().await.is_empty());
}
