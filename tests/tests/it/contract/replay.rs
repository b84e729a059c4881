//! `webhook-cli replay` after a fan-out failure: the archived delivery completes the S3
//! objects and SNS messages exactly as the live delivery would have, byte for byte (the
//! receipt time being the original one, from the archive's metadata).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
use std::process::Command;

use e2e::proxy::Mode;
use e2e::{moto, Delivery, FaultProxy, Stack};

use super::{entry, Fixture};

/// `target/debug/webhook-cli`, built by scripts/test beside the webhook binary.
fn cli_bin() -> std::path::PathBuf {
    let bin = e2e::function::webhook_bin().with_file_name("webhook-cli");
    assert!(
        bin.is_file(),
        "webhook-cli not found at {}: run `cargo build -p webhook-cli` first (scripts/test does)",
        bin.display()
    );
    bin
}

/// Runs `webhook-cli replay` on `fx`'s stack with `args`; its stdout (fails the test on a
/// non-zero exit).
pub(crate) fn replay(fx: &Fixture, args: &[&str]) -> String {
    let out = Command::new(cli_bin())
        .arg("replay")
        .args(["--bucket", &fx.stack.res.bucket, "--prefix", &fx.prefix])
        .args(["--confirmed-topic-arn", &fx.stack.res.confirmed_topic_arn])
        .args(["--failed-topic-arn", &fx.stack.res.failed_topic_arn])
        .args(["--endpoint-url", &fx.stack.endpoint])
        .args(args)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("webhook-cli runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "replay failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn with_received_at(body: &str, received_at: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(body).unwrap();
    v["receivedAt"] = received_at.into();
    v.to_string()
}

#[tokio::test]
async fn replay_completes_a_delivery_whose_publishing_failed() {
    let proxy = FaultProxy::start(moto::shared().addr()).await;
    let fx = Fixture::on(Stack::new().await, |c| c.sns_endpoint(&proxy.url())).await;
    let d = Delivery::new("extraction.failed")
        .raw_entry(&entry("ext-r", "batch-r", "file-1", "failed", r#"{"n":1.50}"#))
        .raw_entry(&entry("ext-r", "batch-r", "file-2", "failed", r#"{"n":2}"#));

    // GIVEN a delivery whose objects were stored but whose messages never went out
    proxy.set(Mode::Refuse);
    let (rsp, _) = fx.send(&d.request()).await;
    rsp.assert_error(502);
    let keys = fx.keys().await;
    let archive = keys
        .iter()
        .find(|k| k.contains("/_deliveries/"))
        .expect("archive copy stored")
        .clone();
    let files: Vec<&String> = keys.iter().filter(|k| !k.contains("/_deliveries/")).collect();
    assert_eq!(files.len(), 2);
    let before_file = fx.stack.object(files[0]).await;
    let received_at = fx.stack.object(&archive).await.meta("received-at").to_owned();
    // ...and one object went missing too (a partial write).
    fx.stack
        .aws
        .s3
        .delete_object()
        .bucket(&fx.stack.res.bucket)
        .key(files[1])
        .send()
        .await
        .unwrap();
    assert!(fx.stack.failed_messages().await.is_empty());
    // From here on every write of a key leaves a version (S3 versioning, as the template
    // has it), so "left as it is" can be told from "written again with the same bytes".
    super::newest::versioned(&fx).await;
    let untouched = [files[0].as_str(), archive.as_str()];
    let mut kept = Vec::new();
    for key in untouched {
        kept.push(super::newest::versions(&fx, key).await);
    }

    // WHEN it is dry-run, nothing changes; WHEN it is replayed from the archive
    let dry = replay(&fx, &["--key", &archive, "--dry-run"]);
    assert!(dry.contains("would replay 1 deliveries"), "{dry}");
    assert_eq!(fx.keys().await.len(), 2);
    let out = replay(
        &fx,
        &[
            "--under",
            &format!("{}_deliveries/", fx.prefix),
            "--event",
            "extraction.failed",
        ],
    );
    assert!(
        // The missing file object; the other already holds this very delivery and the
        // archive copy it was read from is left as it is (docs/contract.md §9).
        out.contains("replayed 1 deliveries: 1 objects written, 0 superseded by a newer delivery, 2 messages published, 0 failed"),
        "{out}"
    );

    // THEN the objects are back with the same bytes and metadata, and the object that
    // held this delivery and the archive copy were not written again
    assert_eq!(fx.keys().await, keys);
    for (key, kept) in untouched.iter().zip(&kept) {
        assert_eq!(kept.len(), 1, "{key}: {kept:?}");
        assert_eq!(
            &super::newest::versions(&fx, key).await,
            kept,
            "{key} was written again"
        );
    }
    assert_eq!(fx.stack.object(files[0]).await.bytes, before_file.bytes);
    assert_eq!(fx.stack.object(files[0]).await.metadata, before_file.metadata);
    let restored = fx.stack.object(files[1]).await;
    assert_eq!(restored.meta("received-at"), received_at);
    assert!(d.entries().iter().any(|e| e.as_bytes() == restored.bytes.as_slice()));
    let mut replayed: Vec<String> = fx.stack.failed_messages().await.into_iter().map(|m| m.body).collect();
    assert_eq!(replayed.len(), 2);

    // AND the messages are byte for byte those of a live delivery of the same body
    proxy.forward();
    let (rsp, _) = fx.send(&d.request()).await;
    assert_eq!(rsp.status, 200);
    let mut live: Vec<String> = fx.stack.failed_messages().await.into_iter().map(|m| m.body).collect();
    replayed.sort();
    live.sort();
    for (r, l) in replayed.iter().zip(&live) {
        let live_received_at = serde_json::from_str::<serde_json::Value>(l).unwrap()["receivedAt"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(r).unwrap()["receivedAt"],
            received_at.as_str()
        );
        assert_eq!(
            with_received_at(r, &live_received_at),
            with_received_at(l, &live_received_at)
        );
        // Not just equal as JSON: the same bytes once the receipt time is the same.
        assert_eq!(r.replace(&received_at, &live_received_at), *l);
    }
}
