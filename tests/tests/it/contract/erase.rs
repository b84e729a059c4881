//! docs/contract.md "Erasure and retention": `webhook-cli erase` on the real CLI, the real
//! function and moto. A unique marker is planted in each file's content, and afterwards
//! every version of every object in the (versioned) bucket is read back: the erased
//! file's marker is nowhere, every other file's bytes are where they were.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
use std::collections::BTreeMap;
use std::process::Output;

use tokio::process::Command;

use e2e::bus::EventBus;
use e2e::expect::{json_lines, now};
use e2e::proxy::{Action, PathFilter, Rule};
use e2e::{moto, Delivery, FaultProxy, Stack};
use serde_json::Value;

use super::Fixture;

/// One version (or delete marker) of one object, read back.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Version {
    key: String,
    id: String,
    marker: bool,
    bytes: Vec<u8>,
    metadata: BTreeMap<String, String>,
}

impl Version {
    fn holds(&self, text: &str) -> bool {
        contains(&self.bytes, text) || self.metadata.values().any(|v| v.contains(text))
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Every version and delete marker of every object in the bucket, with its bytes.
async fn every_version(fx: &Fixture) -> Vec<Version> {
    let s3 = &fx.stack.aws.s3;
    let bucket = &fx.stack.res.bucket;
    let mut out = Vec::new();
    let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(id_marker.take())
            .send()
            .await
            .unwrap();
        for v in page.versions() {
            let (key, id) = (v.key().unwrap().to_owned(), v.version_id().unwrap().to_owned());
            let got = s3
                .get_object()
                .bucket(bucket)
                .key(&key)
                .version_id(&id)
                .send()
                .await
                .unwrap();
            let metadata = got.metadata().cloned().unwrap_or_default().into_iter().collect();
            let bytes = got.body.collect().await.unwrap().into_bytes().to_vec();
            out.push(Version {
                key,
                id,
                marker: false,
                bytes,
                metadata,
            });
        }
        for m in page.delete_markers() {
            out.push(Version {
                key: m.key().unwrap().to_owned(),
                id: m.version_id().unwrap().to_owned(),
                marker: true,
                bytes: Vec::new(),
                metadata: BTreeMap::new(),
            });
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        id_marker = page.next_version_id_marker().map(str::to_owned);
    }
    out.sort();
    out
}

async fn versioned(stack: &Stack) {
    stack
        .aws
        .s3
        .put_bucket_versioning()
        .bucket(&stack.res.bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// A fixture on a versioned bucket, with the redrive queue configured.
async fn fixture() -> Fixture {
    let stack = Stack::new().await;
    versioned(&stack).await;
    let queue = stack.res.redrive_queue.url.clone();
    Fixture::on(stack, move |c| c.redrive_queue(&queue)).await
}

/// `webhook-cli erase` against `endpoint` (moto, or a proxy in front of it), awaited so
/// that a proxy on this test's runtime keeps serving.
async fn erase_at(fx: &Fixture, endpoint: &str, args: &[&str]) -> Output {
    let bin = e2e::function::webhook_bin().with_file_name("webhook-cli");
    assert!(
        bin.is_file(),
        "webhook-cli not found at {}: run `cargo build -p webhook-cli` first (scripts/test does)",
        bin.display()
    );
    Command::new(bin)
        .arg("erase")
        .args(["--bucket", &fx.stack.res.bucket, "--prefix", &fx.prefix])
        .args(["--endpoint-url", endpoint])
        .args(args)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .env_remove("RESULTS_BUCKET")
        .env_remove("RESULTS_PREFIX")
        .output()
        .await
        .expect("webhook-cli runs")
}

/// `webhook-cli erase`; its stdout, once it exited `0`.
async fn erase(fx: &Fixture, args: &[&str]) -> String {
    let out = erase_at(fx, &fx.stack.endpoint, args).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "erase {args:?} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A file entry whose file name, url, result and error all carry `marker`.
fn marked(ext: &str, batch: &str, file: &str, marker: &str, n: u32) -> String {
    format!(
        r#"{{"extractionId":"{ext}","batchId":"{batch}","fileId":"{file}","fileName":"{marker}.pdf","status":"ok","result":{{"holder":"{marker}","n":{n}}},"url":"https://files.example.invalid/{marker}"}}"#
    )
}

fn stub(ext: &str, batch: &str, file: &str) -> String {
    format!(r#"{{"extractionId":"{ext}","batchId":"{batch}","fileId":"{file}","erased":true}}"#)
}

async fn send(fx: &Fixture, d: &Delivery) {
    let (rsp, _) = fx.send(&d.request()).await;
    rsp.assert_status(200);
}

fn is_archive(fx: &Fixture, key: &str) -> bool {
    key.starts_with(&format!("{}_deliveries/", fx.prefix))
}

fn today() -> String {
    let t = now();
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

#[tokio::test]
async fn erasing_one_file_of_a_batch_leaves_its_marker_nowhere_and_everything_else_in_place() {
    let fx = fixture().await;
    let (e, b) = ("ext-Erase", "batch-B");
    let gone = "MarkerGone-f1-7qz";
    let kept = ["MarkerKept-f2-3kd", "MarkerKept-f3-9wp", "MarkerKept-other-5tn"];
    let files = |n: u32| {
        [
            marked(e, b, "f1", gone, n),
            marked(e, b, "f2", kept[0], n),
            marked(e, b, "f3", kept[1], n),
        ]
    };
    // GIVEN a three-file batch edited twice and confirmed, an unrouted delivery naming f1
    // too, and a file of another extraction with the same file id
    let mut sent = Vec::new();
    for (event, n) in [
        ("extraction.edited", 1),
        ("extraction.edited", 2),
        ("extraction.confirmed", 3),
    ] {
        let [f1, f2, f3] = files(n);
        sent.push(Delivery::new(event).raw_entry(&f1).raw_entry(&f2).raw_entry(&f3));
    }
    sent.push(
        Delivery::new("classification.done")
            .raw_entry(&files(4)[0])
            .raw_entry(&files(4)[1]),
    );
    sent.push(Delivery::new("extraction.processed").raw_entry(&marked("ext-Keep", b, "f1", kept[2], 5)));
    for d in &sent {
        send(&fx, d).await;
    }
    let _ = fx.stack.confirmed_messages().await;
    let before = every_version(&fx).await;
    assert!(before.iter().any(|v| v.holds(gone)));

    // WHEN it is erased dry, nothing changes
    let dry = erase(&fx, &["--extraction", e, "--batch", b, "--file", "f1", "--dry-run"]).await;
    assert!(dry.contains("would delete 3 versions"), "{dry}");
    assert!(dry.contains("5 examined"), "{dry}");
    assert!(dry.contains("would redact 4"), "{dry}");
    assert_eq!(every_version(&fx).await, before, "--dry-run changes nothing");

    // WHEN it is erased
    let out = erase(&fx, &["--extraction", e, "--batch", b, "--file", "f1"]).await;
    // Two edits and a confirmation: three versions of two keys. The copy of the other
    // extraction is settled by its metadata, unread.
    assert!(out.contains("deleted 3 versions and delete markers"), "{out}");
    assert!(out.contains("5 examined"), "{out}");
    assert!(out.contains("4 read, redacted 4, deleted 4 older versions"), "{out}");
    for m in [gone].iter().chain(&kept) {
        assert!(!out.contains(m), "erase prints no entry content: {out}");
    }

    // THEN the marker is in no version of any object, and everything else is as it was
    let after = every_version(&fx).await;
    check_erased(&fx, &before, &after, gone, &stub(e, b, "f1"));
    for m in kept {
        assert!(after.iter().any(|v| v.holds(m)), "{m} is kept");
    }

    // WHEN the day is replayed and every archive copy redriven
    let replayed = super::replay::replay(&fx, &["--from", &today()]);
    assert!(replayed.contains("0 failed"), "{replayed}");
    let archive: Vec<String> = after
        .iter()
        .filter(|v| is_archive(&fx, &v.key))
        .map(|v| v.key.clone())
        .collect();
    for key in &archive {
        let body = serde_json::json!({ "archived": key }).to_string();
        fx.stack.aws.send_message(&fx.stack.res.redrive_queue, &body).await;
    }
    let drained = fx.stack.mapping().drain(&fx.stack.aws, &fx.f).await;
    assert_eq!(drained.completed().len(), archive.len(), "every copy redrives");
    assert!(drained.failures().is_empty(), "{:?}", drained.failures());

    // THEN nothing is brought back: no object, no message of the erased file
    let again = every_version(&fx).await;
    assert!(
        !again.iter().any(|v| v.holds(gone)),
        "a replay or redrive resurrected it"
    );
    let confirmed = fx.stack.confirmed_messages().await;
    assert!(!confirmed.iter().any(|m| m.body.contains(gone)));
    assert!(
        confirmed.iter().any(|m| m.body.contains(kept[0])),
        "the others are published"
    );

    // WHEN erased a second time: nothing to do, exit 0, nothing changes
    let before_second = every_version(&fx).await;
    let second = erase(&fx, &["--extraction", e, "--batch", b, "--file", "f1"]).await;
    assert!(second.contains("deleted 0 versions"), "{second}");
    assert!(second.contains("redacted 0, deleted 0 older versions"), "{second}");
    assert!(
        second.contains("0 read"),
        "the redacted copies' metadata settles them: {second}"
    );
    assert_eq!(every_version(&fx).await, before_second);
}

/// After an erasure of the entries stubbed as `stub`: no version holds `gone`; each
/// archive copy that held it is one version, its old body with the entry stubbed; every
/// other version is unchanged, byte for byte.
fn check_erased(fx: &Fixture, before: &[Version], after: &[Version], gone: &str, stub: &str) {
    for v in after {
        assert!(!v.holds(gone), "{} version {} still holds {gone}", v.key, v.id);
    }
    for old in before {
        let now: Vec<&Version> = after.iter().filter(|v| v.key == old.key).collect();
        if !old.holds(gone) {
            assert!(now.contains(&old), "{} version {} is unchanged", old.key, old.id);
            continue;
        }
        if !is_archive(fx, &old.key) {
            assert!(now.is_empty(), "every version of {} is deleted", old.key);
            continue;
        }
        let [redacted] = now[..] else {
            panic!("{} is one redacted version: {now:?}", old.key)
        };
        // The old body with each entry holding `gone` as its stub: the entry starts at
        // the `{` before the marker's extractionId and ends at the entry's last `}`.
        let text = String::from_utf8(old.bytes.clone()).unwrap();
        let mut expected = text.clone();
        for entry in entries_holding(&text, gone) {
            expected = expected.replace(&entry, stub);
        }
        assert_eq!(String::from_utf8(redacted.bytes.clone()).unwrap(), expected);
        for name in ["event", "event-id", "received-at"] {
            assert_eq!(redacted.metadata.get(name), old.metadata.get(name), "{name} kept");
        }
        let erased_at = redacted.metadata.get("erased-at").expect("erased-at");
        assert!(erased_at.ends_with('Z') && erased_at.len() == 24, "{erased_at}");
        e2e::schema::metadata(&redacted.metadata);
    }
}

/// The exact text of each entry of `body` holding `marker`: from the `{"extractionId"`
/// before the marker to its matching `}` (the fixtures hold no braces inside strings).
fn entries_holding(body: &str, marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = body[from..].find(marker).map(|i| i + from) {
        let start = body[..at].rfind(r#"{"extractionId""#).expect("an entry starts before");
        let mut depth = 0;
        let mut end = start;
        for (i, c) in body[start..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = start + i + 1;
                break;
            }
        }
        let entry = body[start..end].to_owned();
        if !found.contains(&entry) {
            found.push(entry);
        }
        from = end;
    }
    found
}

#[tokio::test]
async fn a_whole_extraction_with_numeric_ids_is_erased_and_the_bus_told() {
    let fx = fixture().await;
    let bus = EventBus::create(&fx.stack).await;
    let gone = ["MarkerNum-a-2kq", "MarkerNum-b-8vx"];
    let kept = "MarkerNum-kept-4hz";
    let numeric = |batch: &str, file: u32, marker: &str| {
        format!(
            r#"{{"extractionId":12,"batchId":{batch},"fileId":{file},"fileName":"{marker}","result":{{"m":"{marker}"}}}}"#
        )
    };
    let d = Delivery::new("extraction.confirmed")
        .raw_entry(&numeric("3.50", 1, gone[0]))
        .raw_entry(&numeric("4", 2, gone[1]))
        .raw_entry(&marked("120", "4", "2", kept, 1));
    send(&fx, &d).await;
    let before = every_version(&fx).await;
    assert_eq!(
        before
            .iter()
            .filter(|v| v.key.starts_with(&format!("{}12/", fx.prefix)))
            .count(),
        2,
        "{before:?}"
    );

    // A dry run puts no notice.
    erase(&fx, &["--extraction", "12", "--dry-run", "--event-bus", &bus.name]).await;
    assert!(bus.events(&fx.stack, &bus.all).await.is_empty());

    let out = erase(&fx, &["--extraction", "12", "--event-bus", &bus.name]).await;
    assert!(out.contains("deleted 2 versions"), "{out}");
    let after = every_version(&fx).await;
    for g in gone {
        assert!(!after.iter().any(|v| v.holds(g)), "{g}");
    }
    let [copy] = &after.iter().filter(|v| is_archive(&fx, &v.key)).collect::<Vec<_>>()[..] else {
        panic!("{after:?}")
    };
    let text = String::from_utf8(copy.bytes.clone()).unwrap();
    assert!(
        text.contains(r#"{"extractionId":12,"batchId":3.50,"fileId":1,"erased":true}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"{"extractionId":12,"batchId":4,"fileId":2,"erased":true}"#),
        "{text}"
    );
    assert!(
        after.iter().any(|v| v.holds(kept) && !is_archive(&fx, &v.key)),
        "120 is another extraction"
    );

    // The notice, checked against schemas/erasure-notice.json and its registry schema.
    let events = bus.events(&fx.stack, &bus.all).await;
    let [notice] = &events[..] else { panic!("{events:?}") };
    assert_eq!(notice["detail-type"], "receiver.erased");
    let detail = &notice["detail"];
    assert_eq!(detail["extractionId"], "12");
    assert_eq!(detail["batchId"], Value::Null);
    assert_eq!(detail["fileId"], Value::Null);
    assert_eq!(detail["objectVersionsDeleted"], 2);
    assert_eq!(detail["archiveCopiesRedacted"], 1);
    assert_eq!(
        copy.metadata.get("erased-at").map(String::as_str),
        detail["erasedAt"].as_str()
    );
}

#[tokio::test]
async fn a_live_entry_that_says_erased_is_stored_as_sent() {
    let fx = Fixture::new().await;
    let entry = r#"{"extractionId":"e","batchId":"b","fileId":"f","erased":true}"#;
    let d = Delivery::new("extraction.confirmed").raw_entry(entry);
    send(&fx, &d).await;
    let key = format!("{}e/b/f/confirmed.json", fx.prefix);
    assert_eq!(fx.stack.object(&key).await.text(), entry);
    let messages = fx.stack.confirmed_messages().await;
    assert_eq!(messages.len(), 1, "published as any file");

    // --since bounds the archive copies examined, never the file objects.
    let out = erase(&fx, &["--extraction", "e", "--since", "2099-01-01", "--dry-run"]).await;
    assert!(out.contains("would delete 1 versions"), "{out}");
    assert!(out.contains("archive copies: 0 examined"), "{out}");
    let out = erase(&fx, &["--extraction", "e", "--since", &today(), "--dry-run"]).await;
    assert!(out.contains("archive copies: 1 examined"), "{out}");
}

#[tokio::test]
async fn an_s3_failure_mid_erase_exits_non_zero_and_the_next_run_finishes() {
    let fx = fixture().await;
    let gone = "MarkerFault-f1-6yd";
    let d = |n| {
        Delivery::new("extraction.edited")
            .raw_entry(&marked("ext-F", "b", "f1", gone, n))
            .raw_entry(&marked("ext-F", "b", "f2", "MarkerFault-kept-1xa", n))
    };
    send(&fx, &d(1)).await;
    send(&fx, &d(2)).await;
    let proxy = FaultProxy::start(moto::shared().addr()).await;

    // GIVEN S3 refuses every DeleteObjects (the redaction itself goes through)
    proxy.set_rules(vec![Rule::new(
        PathFilter::Containing("delete".into()),
        Action::Status(500),
    )]);
    let out = erase_at(
        &fx,
        &proxy.url(),
        &["--extraction", "ext-F", "--batch", "b", "--file", "f1"],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a failed step fails the run: {stderr}");
    assert!(stderr.contains("run the same command again"), "{stderr}");
    assert!(
        stderr.contains("ext-F/b/f1/edited.json"),
        "names what it could not delete: {stderr}"
    );
    assert!(
        every_version(&fx).await.iter().any(|v| v.holds(gone)),
        "the failure left versions behind, and said so"
    );

    // WHEN it runs again with S3 working
    proxy.clear_rules();
    let again = erase_at(
        &fx,
        &proxy.url(),
        &["--extraction", "ext-F", "--batch", "b", "--file", "f1"],
    )
    .await;
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert!(!every_version(&fx).await.iter().any(|v| v.holds(gone)), "finished");

    // AND a redaction refused by S3 (PutObject failing) fails the run too
    send(&fx, &d(3)).await;
    proxy.set_rules(vec![Rule::new(
        PathFilter::Containing("x-id=PutObject".into()),
        Action::Status(500),
    )]);
    let failed = erase_at(&fx, &proxy.url(), &["--extraction", "ext-F"]).await;
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stderr).contains("_deliveries/"));
    proxy.clear_rules();
    erase(&fx, &["--extraction", "ext-F"]).await;
    let left = every_version(&fx).await;
    assert!(
        !left.iter().any(|v| v.holds(gone) || v.holds("MarkerFault-kept")),
        "{left:?}"
    );
}

#[tokio::test]
async fn no_log_line_at_info_or_above_carries_entry_content() {
    let stack = Stack::new().await;
    let queue = stack.res.redrive_queue.url.clone();
    let fx = Fixture::on(stack, move |c| {
        c.redrive_queue(&queue).set("AWS_LAMBDA_LOG_LEVEL", "INFO")
    })
    .await;
    let markers = [
        "MarkerLogName-1",
        "MarkerLogUrl-2",
        "MarkerLogResult-3",
        "MarkerLogError-4",
    ];
    let entry = format!(
        r#"{{"extractionId":"e","batchId":"b","fileId":"f","fileName":"{}","url":"https://x.invalid/{}","result":{{"v":"{}"}},"error":"{}"}}"#,
        markers[0], markers[1], markers[2], markers[3]
    );
    for event in [
        "extraction.confirmed",
        "extraction.failed",
        "extraction.edited",
        "other.event",
    ] {
        send(&fx, &Delivery::new(event).raw_entry(&entry)).await;
    }
    // A redrive of one of them too.
    let key = fx.keys().await.into_iter().find(|k| is_archive(&fx, k)).unwrap();
    let body = serde_json::json!({ "archived": key }).to_string();
    fx.stack.aws.send_message(&fx.stack.res.redrive_queue, &body).await;
    let drained = fx.stack.mapping().drain(&fx.stack.aws, &fx.f).await;
    assert_eq!(drained.completed().len(), 1);
    let output = fx.f.stop().await;
    let lines = json_lines(&output);
    assert!(lines.len() >= 5, "one line per request at least:\n{output}");
    for line in &lines {
        let level = line["level"].as_str().unwrap_or("INFO").to_ascii_uppercase();
        if matches!(level.as_str(), "TRACE" | "DEBUG") {
            continue;
        }
        for m in markers {
            assert!(!line.to_string().contains(m), "{m} logged at {level}: {line}");
        }
    }
}
