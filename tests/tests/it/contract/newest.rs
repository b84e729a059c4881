//! docs/contract.md §9: newest wins. Whatever order deliveries, sender repeats, redrives and
//! replays arrive in, a file object holds the newest delivery of its key, and no message
//! of an older delivery follows a newer one's.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
use e2e::expect::{as_num, summaries};
use e2e::proxy::Mode;
use e2e::{moto, Delivery, FaultProxy, Stack};
use serde_json::{json, Value};

use super::{entry, Fixture};

const EDITED: &str = "extraction.edited";
const CONFIRMED: &str = "extraction.confirmed";

/// Version `v` of one file of `event` (file `file`), whose extracted data says which.
fn version(event: &str, file: &str, v: u32) -> Delivery {
    let status = event.trim_start_matches("extraction.");
    Delivery::new(event).raw_entry(&entry("ext-n", "batch-n", file, status, &format!(r#"{{"v":{v}}}"#)))
}

fn key(fx: &Fixture, event: &str, file: &str) -> String {
    let kind = event.trim_start_matches("extraction.");
    format!("{}ext-n/batch-n/{file}/{kind}.json", fx.prefix)
}

/// The version number the object at `key` holds.
async fn held(fx: &Fixture, key: &str) -> u64 {
    fx.stack.object(key).await.json()["result"]["v"].as_u64().unwrap()
}

/// Turns on versioning for the test's bucket, as the template does, so that every write
/// of a key leaves a version of its own: a rewrite with the same bytes and metadata shows.
pub(crate) async fn versioned(fx: &Fixture) {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let on = VersioningConfiguration::builder()
        .status(BucketVersioningStatus::Enabled)
        .build();
    fx.stack
        .aws
        .s3
        .put_bucket_versioning()
        .bucket(&fx.stack.res.bucket)
        .versioning_configuration(on)
        .send()
        .await
        .unwrap();
}

/// The version ids S3 keeps of `key` (one per write), newest first.
pub(crate) async fn versions(fx: &Fixture, key: &str) -> Vec<String> {
    let listed = fx
        .stack
        .aws
        .s3
        .list_object_versions()
        .bucket(&fx.stack.res.bucket)
        .prefix(key)
        .send()
        .await
        .unwrap();
    listed
        .versions()
        .iter()
        .filter(|v| v.key() == Some(key))
        .map(|v| v.version_id().unwrap().to_owned())
        .collect()
}

/// Sends `d` live; asserts `200` and returns the archive key.
async fn send_ok(fx: &Fixture, d: &Delivery) -> String {
    let (rsp, _) = fx.send(&d.request()).await;
    rsp.assert_status(200);
    rsp.json()["archived"].as_str().unwrap().to_owned()
}

/// Sends `{"archived": key}` to the redrive queue, as an operator would, and lets the
/// event source mapping deliver it; asserts it completed.
async fn redrive(fx: &Fixture, archived: &str) {
    let queue = &fx.stack.res.redrive_queue;
    fx.stack
        .aws
        .send_message(queue, &json!({ "archived": archived }).to_string())
        .await;
    let drained = fx.stack.mapping().drain(&fx.stack.aws, &fx.f).await;
    assert!(
        drained.failures().is_empty(),
        "a superseded file is complete: {drained:?}"
    );
    assert_eq!(drained.completed().len(), 1, "{drained:?}");
}

/// Per summary line (live `request` and `redrive`), whether it is a redrive and its
/// `superseded` count.
fn superseded_counts(output: &str) -> Vec<(bool, f64)> {
    summaries(output)
        .iter()
        .map(|s| {
            let redrive = s.get("redrive") == Some(&Value::Bool(true));
            (redrive, s.get("superseded").and_then(as_num).unwrap_or(-1.0))
        })
        .collect()
}

#[tokio::test]
async fn a_redriven_older_edit_never_replaces_a_newer_one() {
    let stack = Stack::new().await;
    let url = stack.res.redrive_queue.url.clone();
    let fx = Fixture::on(stack, |c| c.redrive_queue(&url)).await;
    let file = key(&fx, EDITED, "file-1");

    // GIVEN edit v1 then edit v2 of one file, both 200
    let v1 = send_ok(&fx, &version(EDITED, "file-1", 1)).await;
    send_ok(&fx, &version(EDITED, "file-1", 2)).await;
    assert_eq!(held(&fx, &file).await, 2);

    // WHEN v1's archive copy is redriven (an SQS duplicate, a dead-letter queue moved back)
    redrive(&fx, &v1).await;

    // THEN the object still holds v2, and the redrive's line counts one superseded file
    assert_eq!(held(&fx, &file).await, 2, "edited.json went back to an older edit");
    let output = fx.f.stop().await;
    let counts = superseded_counts(&output);
    assert_eq!(counts, [(false, 0.0), (false, 0.0), (true, 1.0)], "{output}");
}

#[tokio::test]
async fn an_exact_repeat_of_an_older_delivery_keeps_its_first_receipt_and_is_superseded() {
    let fx = Fixture::new().await;
    let file = key(&fx, EDITED, "file-1");
    let v1 = version(EDITED, "file-1", 1);

    // GIVEN v1 then v2
    let archived = send_ok(&fx, &v1).await;
    let first_receipt = fx.stack.object(&archived).await.meta("received-at").to_owned();
    send_ok(&fx, &version(EDITED, "file-1", 2)).await;

    // WHEN Extracta repeats v1 byte for byte (a retry of a delivery it thought failed)
    let (rsp, _) = fx.send(&v1.request()).await;

    // THEN the answer is v1's 200, unchanged; the object keeps v2; the archive copy
    // keeps v1's first receipt time
    rsp.assert_status(200);
    assert_eq!(
        rsp.json(),
        json!({"event": EDITED, "files": 1, "stored": [file], "archived": archived, "published": 0})
    );
    assert_eq!(held(&fx, &file).await, 2, "a repeat of v1 replaced v2");
    let archive = fx.stack.object(&archived).await;
    assert_eq!(archive.meta("received-at"), first_receipt);
    let output = fx.f.stop().await;
    assert_eq!(superseded_counts(&output).last().map(|c| c.1), Some(1.0), "{output}");
}

#[tokio::test]
async fn a_repeat_of_the_newest_delivery_changes_nothing() {
    let fx = Fixture::new().await;
    versioned(&fx).await;
    let file = key(&fx, CONFIRMED, "file-1");
    let v1 = version(CONFIRMED, "file-1", 1);
    let archived = send_ok(&fx, &v1).await;
    let before = fx.stack.object(&file).await;
    let (file_versions, archive_versions) = (versions(&fx, &file).await, versions(&fx, &archived).await);
    assert_eq!((file_versions.len(), archive_versions.len()), (1, 1));
    assert_eq!(fx.stack.confirmed_messages().await.len(), 1);

    // A repeat of the newest delivery: the object is left as it is (same order), and its
    // message is published again with the same eventId and receivedAt (SNS at least once).
    send_ok(&fx, &v1).await;
    let after = fx.stack.object(&file).await;
    assert_eq!((&after.bytes, &after.metadata), (&before.bytes, &before.metadata));
    // Not rewritten either (the same bytes written again would be a new version).
    assert_eq!(
        versions(&fx, &file).await,
        file_versions,
        "the object was written again"
    );
    assert_eq!(
        versions(&fx, &archived).await,
        archive_versions,
        "the archive copy was written again"
    );
    let again = fx.stack.confirmed_messages().await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].json()["receivedAt"], json!(before.metadata["received-at"]));
}

#[tokio::test]
async fn a_queued_older_confirmation_redriven_after_a_newer_one_publishes_nothing() {
    let sns = FaultProxy::start(moto::shared().addr()).await;
    let stack = Stack::fifo().await;
    let url = stack.res.redrive_queue.url.clone();
    let fx = Fixture::on(stack, |c| c.redrive_queue(&url).sns_endpoint(&sns.url())).await;
    let file = key(&fx, CONFIRMED, "file-1");

    // GIVEN confirmation v1 queued by a failed publish (202),
    sns.set(Mode::Refuse);
    let (rsp, _) = fx.send(&version(CONFIRMED, "file-1", 1).request()).await;
    rsp.assert_status(202);
    // AND a newer confirmation v2 that completed (200) once SNS was back,
    sns.forward();
    send_ok(&fx, &version(CONFIRMED, "file-1", 2)).await;

    // WHEN v1 is redriven from the queue
    let drained = fx.stack.mapping().drain(&fx.stack.aws, &fx.f).await;
    assert!(drained.failures().is_empty(), "{drained:?}");
    assert_eq!(drained.completed().len(), 1, "{drained:?}");

    // THEN confirmed.json holds v2, and subscribers got v2's message only: never the
    // old confirmation after the new one (a FIFO topic, so order is what was published)
    assert_eq!(held(&fx, &file).await, 2);
    let messages = fx.stack.confirmed_messages().await;
    let versions: Vec<Value> = messages.iter().map(|m| m.json()["result"]["v"].clone()).collect();
    assert_eq!(versions, [json!(2)], "{messages:?}");
}

#[tokio::test]
async fn replaying_a_day_with_two_edits_of_one_file_ends_on_the_newer() {
    let fx = Fixture::new().await;
    versioned(&fx).await;

    // GIVEN two files, each edited twice on one day. Replay walks archive keys in key
    // order (the bodies' SHA-256), so the edits are picked for both orders: file-1's
    // older edit sorts first, file-2's older edit sorts last (replayed after the newer).
    let sha = |d: &Delivery| e2e::expect::sha256_hex(&d.body());
    let (mut files, mut archived) = (Vec::new(), Vec::new());
    for (file, older_first) in [("file-1", true), ("file-2", false)] {
        let (older, newer) = (1..)
            .step_by(2)
            .map(|v| (v, v + 1))
            .find(|&(o, n)| (sha(&version(EDITED, file, o)) < sha(&version(EDITED, file, n))) == older_first)
            .unwrap();
        let a = send_ok(&fx, &version(EDITED, file, older)).await;
        let b = send_ok(&fx, &version(EDITED, file, newer)).await;
        assert_eq!(a < b, older_first, "{a} {b}");
        let object = key(&fx, EDITED, file);
        assert_eq!(held(&fx, &object).await, u64::from(newer));
        files.push((object.clone(), newer, versions(&fx, &object).await));
        archived.extend([a, b]);
    }
    let day = archived[0].split('/').skip(2).take(3).collect::<Vec<_>>().join("-");

    // WHEN the day is replayed
    let out = super::replay::replay(&fx, &["--from", &day, "--to", &day]);

    // THEN each object holds its newer edit, in either order, and was not written again
    // (two versions each: the live writes); replay reports each older edit superseded
    for (object, newer, _) in &files {
        assert_eq!(held(&fx, object).await, u64::from(*newer), "{object}: {out}");
    }
    for (object, _, live_versions) in &files {
        assert_eq!(
            &versions(&fx, object).await,
            live_versions,
            "{object} written again: {out}"
        );
        assert_eq!(live_versions.len(), 2);
    }
    assert!(
        out.contains("replayed 4 deliveries: 0 objects written, 2 superseded by a newer delivery, 0 messages published, 0 failed"),
        "{out}"
    );
}

#[tokio::test]
async fn two_versions_sent_concurrently_the_later_received_wins_every_time() {
    // Two function processes, as two Lambda instances: each takes one version at once.
    let fx = Fixture::fifo().await;
    let other = fx.stack.start(fx.stack.config()).await;
    let mut published_out_of_order = 0;
    for round in 0..50 {
        let file = format!("file-{round:02}");
        let (a, b) = (version(CONFIRMED, &file, 1), version(CONFIRMED, &file, 2));
        let (qa, qb) = (a.request(), b.request());
        let (ra, rb) = tokio::join!(fx.f.http(&qa), other.http(&qb));
        ra.assert_status(200);
        rb.assert_status(200);

        // The later received is the one whose archive copy has the greater
        // (received-at, event-id): the order every writer decided by.
        let (at_a, at_b) = (received_at(&fx, &ra).await, received_at(&fx, &rb).await);
        let object = fx.stack.object(&key(&fx, CONFIRMED, &file)).await;
        let winner = object.json()["result"]["v"].as_u64().unwrap();
        let want = if (at_a.as_str(), entry_id(&a)) > (at_b.as_str(), entry_id(&b)) {
            1
        } else {
            2
        };
        assert_eq!(winner, want, "round {round}: received at {at_a} (v1) and {at_b} (v2)");
        assert_eq!(object.meta("received-at"), if want == 1 { at_a } else { at_b });

        // The newest is always published, and a consumer ordering messages by
        // (receivedAt, eventId) ends on it. Arrival order is not promised (docs/contract.md
        // §9): an older delivery's publish already in flight when the newer one is stored
        // can land after the newer one's message; such rounds are counted, not failed.
        let messages: Vec<(String, String, u64)> = fx
            .stack
            .confirmed_messages()
            .await
            .iter()
            .map(|m| {
                let j = m.json();
                let text = |k: &str| j[k].as_str().unwrap_or_default().to_owned();
                (text("receivedAt"), text("eventId"), j["result"]["v"].as_u64().unwrap())
            })
            .collect();
        let versions: Vec<u64> = messages.iter().map(|m| m.2).collect();
        assert!(
            versions.contains(&want),
            "round {round}: the newest is always published: {versions:?}"
        );
        let by_order = messages
            .iter()
            .max_by(|x, y| (&x.0, &x.1).cmp(&(&y.0, &y.1)))
            .map(|m| m.2);
        assert_eq!(
            by_order,
            Some(want),
            "round {round}: ordered by (receivedAt, eventId), the messages end on the newest: {messages:?}"
        );
        if versions.last() != Some(&want) {
            published_out_of_order += 1;
        }
    }
    eprintln!("rounds where an older message arrived after the newer one: {published_out_of_order} of 50");
}

/// The receipt time of the delivery `rsp` answered: its archive copy's `received-at`.
async fn received_at(fx: &Fixture, rsp: &e2e::HttpResponse) -> String {
    let archived = rsp.json()["archived"].as_str().unwrap().to_owned();
    fx.stack.object(&archived).await.meta("received-at").to_owned()
}

/// The `eventId` of `d`'s one file entry.
fn entry_id(d: &Delivery) -> String {
    e2e::expect::event_id(CONFIRMED, d.entries()[0].as_bytes())
}

/// The S3 requests `s3` has seen since `from`, as `(method, count)`, sorted.
fn s3_requests(s3: &FaultProxy, from: usize) -> Vec<(String, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    for r in &s3.requests()[from..] {
        *counts.entry(r.method.clone()).or_insert(0) += 1;
    }
    counts.into_iter().collect()
}

#[tokio::test]
async fn a_first_write_costs_no_request_more_and_an_overwrite_at_most_two_per_file() {
    let s3 = FaultProxy::start(moto::shared().addr()).await;
    let fx = Fixture::on(Stack::new().await, |c| c.s3_endpoint(&s3.url())).await;
    let three = |v: u32| {
        let mut d = Delivery::new(EDITED);
        for f in ["file-1", "file-2", "file-3"] {
            d = d.raw_entry(&entry("ext-n", "batch-n", f, "edited", &format!(r#"{{"v":{v}}}"#)));
        }
        d
    };
    let put = |n: usize| ("PUT".to_owned(), n);
    let head = |n: usize| ("HEAD".to_owned(), n);

    // A first delivery of three files: the archive copy and three objects, one PUT each.
    let mark = s3.requests().len();
    send_ok(&fx, &three(1)).await;
    assert_eq!(s3_requests(&s3, mark), [put(4)]);

    // A newer version: per file, the refused write, a HEAD and the write over it.
    let mark = s3.requests().len();
    send_ok(&fx, &three(2)).await;
    assert_eq!(s3_requests(&s3, mark), [head(3), put(1 + 3 * 2)]);

    // An exact repeat of the older one: the archive copy's refusal and HEAD (its first
    // receipt time), then per file a refusal and a HEAD: superseded, nothing written.
    let mark = s3.requests().len();
    send_ok(&fx, &three(1)).await;
    assert_eq!(s3_requests(&s3, mark), [head(1 + 3), put(1 + 3)]);
    for f in ["file-1", "file-2", "file-3"] {
        assert_eq!(held(&fx, &key(&fx, EDITED, f)).await, 2);
    }
}
