//! docs/contract.md §3 and §4: what each delivery writes to S3 and publishes to SNS.
use e2e::expect::{event_id, file_key, Window};
use e2e::Delivery;
use serde_json::{json, Value};

use super::{check_accepted, entry, Fixture};

/// Extracted data with a number too big for f64 and keys out of order, so a
/// re-serialization would show.
const DATA: &str = r#"{"zeta":"last","total":123456789012345678901234567890,"alpha":1.50,"items":[{"b":2,"a":1}]}"#;

#[tokio::test]
async fn processed_is_stored_without_sns() {
    let fx = Fixture::new().await;
    let d = Delivery::new("extraction.processed").raw_entry(&entry("ext-1", "batch-1", "file-1", "processed", DATA));
    let (rsp, w) = fx.send(&d.request()).await;
    check_accepted(&fx, &d, Some("extraction.processed"), &rsp, w, true).await;
    assert_eq!(
        rsp.json()["stored"],
        json!(["extracta/ext-1/batch-1/file-1/processed.json"])
    );
}

#[tokio::test]
async fn edited_is_stored_without_sns_and_the_latest_edit_wins() {
    let fx = Fixture::new().await;
    let first =
        Delivery::new("extraction.edited").raw_entry(&entry("ext-1", "batch-1", "file-1", "edited", r#"{"v":1}"#));
    let (rsp, w) = fx.send(&first.request()).await;
    check_accepted(&fx, &first, Some("extraction.edited"), &rsp, w, true).await;

    let second =
        Delivery::new("extraction.edited").raw_entry(&entry("ext-1", "batch-1", "file-1", "edited", r#"{"v":2}"#));
    let (rsp, _) = fx.send(&second.request()).await;
    rsp.assert_status(200);
    let key = "extracta/ext-1/batch-1/file-1/edited.json";
    assert_eq!(rsp.json()["stored"], json!([key]));
    assert_eq!(fx.stack.object(key).await.text(), second.entries()[0]);
    assert!(fx.stack.confirmed_messages().await.is_empty());
    assert!(fx.stack.failed_messages().await.is_empty());
}

#[tokio::test]
async fn confirmed_is_stored_and_published_with_exact_result_bytes() {
    let fx = Fixture::new().await;
    let d = Delivery::new("extraction.confirmed").raw_entry(&entry("ext-1", "batch-1", "file-1", "confirmed", DATA));
    let (rsp, w) = fx.send(&d.request()).await;
    let msgs = check_accepted(&fx, &d, Some("extraction.confirmed"), &rsp, w, true).await;
    assert_eq!(msgs.len(), 1);
    // The message's `result` is the entry's result bytes as sent, not re-serialized.
    assert!(
        msgs[0].body.contains(&format!("\"result\":{DATA}")),
        "result bytes as sent: {}",
        msgs[0].body
    );
    assert_ne!(msgs[0].json().get("resultOmitted"), Some(&Value::Bool(true)));
}

#[tokio::test]
async fn failed_is_stored_and_published_with_the_error() {
    let fx = Fixture::new().await;
    let raw = r#"{"extractionId":"ext-9","batchId":"batch-9","fileId":"file-9","fileName":"scan.pdf","status":"failed","error":"Could not read the document","url":"https://files.example.invalid/scan.pdf","result":{}}"#;
    let d = Delivery::new("extraction.failed").raw_entry(raw);
    let (rsp, w) = fx.send(&d.request()).await;
    let msgs = check_accepted(&fx, &d, Some("extraction.failed"), &rsp, w, true).await;
    assert_eq!(msgs[0].json()["error"], "Could not read the document");
    assert_eq!(
        rsp.json()["stored"],
        json!(["extracta/ext-9/batch-9/file-9/failed.json"])
    );
}

#[tokio::test]
async fn event_id_is_sha256_of_name_newline_bytes() {
    // GIVEN a stored object, WHEN its bytes are hashed as the contract says, THEN the
    // metadata and the message carry that hash (checked here on known bytes).
    let fx = Fixture::new().await;
    let raw = r#"{"extractionId":"e","batchId":"b","fileId":"f","status":"confirmed","result":{"x":1}}"#;
    let d = Delivery::new("extraction.confirmed").raw_entry(raw);
    let (rsp, _) = fx.send(&d.request()).await;
    rsp.assert_status(200);
    let want = event_id("extraction.confirmed", raw.as_bytes());
    let o = fx.stack.object("extracta/e/b/f/confirmed.json").await;
    assert_eq!(o.meta("event-id"), want);
    let msgs = fx.stack.confirmed_messages().await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].json()["eventId"], want);
    // Stable across retries.
    let (rsp, _) = fx.send(&d.request()).await;
    rsp.assert_status(200);
    let again = fx.stack.confirmed_messages().await;
    assert_eq!(again.len(), 1, "SNS is at least once: the retry publishes again");
    assert_eq!(again[0].json()["eventId"], want);
}

#[tokio::test]
async fn missing_entry_fields_are_null_and_attributes_left_out() {
    let fx = Fixture::new().await;
    // No fileName, url, status; a numeric batchId; an empty fileId; a null extractionId.
    let raw = r#"{"extractionId":null,"batchId":42,"fileId":"","result":{"k":"v"},"extra":"kept"}"#;
    let d = Delivery::new("extraction.confirmed").raw_entry(raw);
    let (rsp, _) = fx.send(&d.request()).await;
    rsp.assert_status(200);
    let key = "extracta/_none/42/_none/confirmed.json";
    assert_eq!(rsp.json()["stored"], json!([key]));
    assert_eq!(fx.stack.object(key).await.text(), raw, "unknown fields are kept");
    let msgs = fx.stack.confirmed_messages().await;
    assert_eq!(msgs.len(), 1);
    let m = msgs[0].json();
    for field in ["extractionId", "fileName", "status", "url"] {
        assert_eq!(m.get(field), Some(&Value::Null), "{field} is null: {m}");
    }
    assert_eq!(m["batchId"], 42, "the value as sent: {m}");
    assert_eq!(m["fileId"], "", "the value as sent: {m}");
    assert_eq!(
        msgs[0].attributes.keys().collect::<Vec<_>>(),
        vec!["event"],
        "only non-empty string attributes: {:?}",
        msgs[0].attributes
    );
}

#[tokio::test]
async fn unknown_event_is_archived_only_with_200() {
    let fx = Fixture::new().await;
    let d = Delivery::new("classification.done").raw_entry(&entry("ext-1", "batch-1", "file-1", "done", DATA));
    let (rsp, w) = fx.send(&d.request()).await;
    check_accepted(&fx, &d, Some("classification.done"), &rsp, w, false).await;
}

#[tokio::test]
async fn body_that_does_not_fit_is_archived_only() {
    let fx = Fixture::new().await;
    // result is an object, not an array.
    let d = Delivery::new("extraction.confirmed").raw_result(r#"{"extractionId":"e","batchId":"b","fileId":"f"}"#);
    let (rsp, w) = fx.send(&d.request()).await;
    check_accepted(&fx, &d, Some("extraction.confirmed"), &rsp, w, false).await;
    // An array with a non-object element.
    let d = Delivery::new("extraction.processed")
        .raw_result(r#"[{"extractionId":"e","batchId":"b","fileId":"f","result":{}},7]"#);
    let (rsp, _) = fx.send(&d.request()).await;
    rsp.assert_status(200);
    let body = rsp.json();
    assert_eq!(body["files"], 0, "{body}");
    assert_eq!(body["stored"], json!([]), "{body}");
    assert_eq!(body["published"], 0, "{body}");
    let keys = fx.keys().await;
    assert!(keys.iter().all(|k| k.starts_with("extracta/_deliveries/")), "{keys:?}");
    assert_eq!(keys.len(), 2, "two archive copies: {keys:?}");
}

#[tokio::test]
async fn empty_result_array_stores_only_the_archive() {
    let fx = Fixture::new().await;
    let d = Delivery::new("extraction.confirmed");
    let (rsp, w) = fx.send(&d.request()).await;
    check_accepted(&fx, &d, Some("extraction.confirmed"), &rsp, w, true).await;
    assert_eq!(rsp.json()["files"], 0);
}

#[tokio::test]
async fn three_files_in_one_delivery_are_stored_in_entry_order() {
    let fx = Fixture::new().await;
    let d = Delivery::new("extraction.confirmed")
        .raw_entry(&entry("ext-1", "batch-1", "file-c", "confirmed", r#"{"n":3}"#))
        .raw_entry(&entry("ext-1", "batch-1", "file-a", "confirmed", r#"{"n":1}"#))
        .raw_entry(&entry("ext-2", "batch-1", "file-b", "confirmed", r#"{"n":2}"#));
    let (rsp, w) = fx.send(&d.request()).await;
    check_accepted(&fx, &d, Some("extraction.confirmed"), &rsp, w, true).await;
    assert_eq!(
        rsp.json()["stored"],
        json!([
            "extracta/ext-1/batch-1/file-c/confirmed.json",
            "extracta/ext-1/batch-1/file-a/confirmed.json",
            "extracta/ext-2/batch-1/file-b/confirmed.json"
        ])
    );
    assert_eq!(rsp.json()["published"], 3);
}

#[tokio::test]
async fn unsafe_ids_become_safe_key_components() {
    let fx = Fixture::new().await;
    let entries = [
        (
            r#"{"extractionId":"../../x","batchId":"a/b","fileId":".","result":{}}"#,
            "extracta/..%2F..%2Fx/a%2Fb/%2E/processed.json",
        ),
        (
            r#"{"extractionId":"..","batchId":"","fileId":null,"result":{}}"#,
            "extracta/%2E%2E/_none/_none/processed.json",
        ),
        (
            r#"{"batchId":42,"fileId":-7,"result":{}}"#,
            "extracta/_none/42/-7/processed.json",
        ),
        (
            r#"{"extractionId":"é~ z","batchId":true,"fileId":{"a":1},"result":{}}"#,
            "extracta/%C3%A9%7E%20z/_none/_none/processed.json",
        ),
        (
            r#"{"extractionId":"ok","batchId":3.25,"fileId":"日本?#%","result":{}}"#,
            "extracta/ok/3.25/%E6%97%A5%E6%9C%AC%3F%23%25/processed.json",
        ),
        (
            r#"{"extractionId":"...","batchId":"a.b","fileId":["x"],"result":{}}"#,
            "extracta/.../a.b/_none/processed.json",
        ),
    ];
    let mut d = Delivery::new("extraction.processed");
    for (raw, _) in &entries {
        d = d.raw_entry(raw);
    }
    let (rsp, _) = fx.send(&d.request()).await;
    rsp.assert_status(200);
    let want: Vec<&str> = entries.iter().map(|(_, k)| *k).collect();
    assert_eq!(rsp.json()["stored"], json!(want));
    for (raw, key) in &entries {
        assert_eq!(fx.stack.object(key).await.text(), *raw, "{key}");
    }
    // Deterministic: a retry writes the same keys, nothing more.
    let before = fx.keys().await;
    let (rsp, _) = fx.send(&d.request()).await;
    assert_eq!(rsp.json()["stored"], json!(want));
    assert_eq!(fx.keys().await, before);
}

#[tokio::test]
async fn archive_key_layout_and_metadata() {
    let fx = Fixture::new().await;
    let d = Delivery::new("classification.done");
    let (rsp, w) = fx.send(&d.request()).await;
    rsp.assert_status(200);
    let archived = rsp.json()["archived"].as_str().expect("archived").to_owned();
    assert!(w
        .archive_keys("extracta/", "classification.done", &d.body())
        .contains(&archived));
    let re_date = archived
        .strip_prefix("extracta/_deliveries/")
        .expect("prefix")
        .split('/')
        .take(3)
        .collect::<Vec<_>>();
    assert!(
        re_date.len() == 3 && re_date[0].len() == 4 && re_date[1].len() == 2 && re_date[2].len() == 2,
        "{archived}"
    );
    let o = fx.stack.object(&archived).await;
    assert_eq!(o.bytes, d.body());
    assert_eq!(o.meta("event"), "classification.done");
    assert_eq!(o.meta("event-id"), event_id("classification.done", &d.body()));
}

#[tokio::test]
async fn archive_of_a_body_without_string_event() {
    let fx = Fixture::new().await;
    for (d, sent) in [
        (Delivery::without_event(), Value::Null),
        (Delivery::with_raw_event("5"), json!(5)),
        (Delivery::with_raw_event("null"), Value::Null),
    ] {
        let (rsp, w) = fx.send(&d.request()).await;
        rsp.assert_status(200);
        let body = rsp.json();
        assert_eq!(body["event"], sent, "event as sent, null when absent: {body}");
        assert_eq!(body["files"], 0);
        let archived = body["archived"].as_str().expect("archived").to_owned();
        assert!(
            w.archive_keys("extracta/", "_none", &d.body()).contains(&archived),
            "{archived}"
        );
        let o = fx.stack.object(&archived).await;
        assert_eq!(o.bytes, d.body());
        assert_eq!(o.meta("event"), "_none");
        assert_eq!(o.meta("event-id"), event_id("", &d.body()), "the empty name");
    }
}

#[tokio::test]
async fn archive_of_an_event_with_unsafe_characters() {
    let fx = Fixture::new().await;
    let d = Delivery::new("../future/event x");
    let (rsp, w) = fx.send(&d.request()).await;
    rsp.assert_status(200);
    let archived = rsp.json()["archived"].as_str().expect("archived").to_owned();
    let safe = "..%2Ffuture%2Fevent%20x";
    assert!(
        w.archive_keys("extracta/", safe, &d.body()).contains(&archived),
        "{archived}"
    );
    let o = fx.stack.object(&archived).await;
    assert_eq!(o.meta("event"), safe);
    // The id hashes the event as sent, not its key-safe form (docs/contract.md §3,
    // Decisions): it equals the `eventId` a consumer computes from the body.
    assert_eq!(o.meta("event-id"), event_id("../future/event x", &d.body()));
}

#[tokio::test]
async fn prefix_is_normalized_and_may_be_empty() {
    for (prefix, want) in [("", ""), ("custom", "custom/"), ("a/b/", "a/b/")] {
        let fx = Fixture::with(|c| c.set("RESULTS_PREFIX", prefix)).await;
        let d = Delivery::new("extraction.processed").raw_entry(&entry("e", "b", "f", "processed", "{}"));
        let (rsp, w) = fx.send(&d.request()).await;
        assert_eq!(fx.prefix, want);
        check_accepted(&fx, &d, Some("extraction.processed"), &rsp, w, true).await;
        assert_eq!(
            rsp.json()["stored"],
            json!([file_key(want, "e", "b", "f", "processed")])
        );
    }
}

#[tokio::test]
async fn large_confirmed_result_is_omitted_from_the_message() {
    let fx = Fixture::new().await;
    let big = format!(r#"{{"text":"{}"}}"#, "x".repeat(300 * 1024));
    let small = format!(r#"{{"text":"{}"}}"#, "y".repeat(200 * 1024));
    let d = Delivery::new("extraction.confirmed")
        .raw_entry(&entry("ext-big", "b", "big", "confirmed", &big))
        .raw_entry(&entry("ext-small", "b", "small", "confirmed", &small));
    let (rsp, w) = fx.send(&d.request()).await;
    let msgs = check_accepted(&fx, &d, Some("extraction.confirmed"), &rsp, w, true).await;
    let by_file = |f: &str| {
        msgs.iter()
            .map(|m| m.json())
            .find(|m| m["fileId"] == f)
            .unwrap_or_else(|| panic!("no message for {f}"))
    };
    let m = by_file("big");
    assert_eq!(
        m.get("resultOmitted"),
        Some(&Value::Bool(true)),
        "over 256 KiB: omitted"
    );
    assert_eq!(m.get("result"), None, "no result when omitted");
    assert_eq!(
        fx.stack.object("extracta/ext-big/b/big/confirmed.json").await.text(),
        d.entries()[0],
        "the full entry is in S3"
    );
    let m = by_file("small");
    assert_ne!(m.get("resultOmitted"), Some(&Value::Bool(true)), "200 KiB fits");
    assert_eq!(m["result"]["text"].as_str().map(str::len), Some(200 * 1024));
}

#[tokio::test]
async fn fifo_confirmed_topic_gets_group_and_dedup_ids() {
    let fx = Fixture::fifo().await;
    let d = Delivery::new("extraction.confirmed")
        .raw_entry(&entry("ext-a", "b", "f1", "confirmed", r#"{"n":1}"#))
        .raw_entry(&entry("ext-b", "b", "f2", "confirmed", r#"{"n":2}"#))
        .raw_entry(r#"{"batchId":"b","fileId":"f3","status":"confirmed","result":{"n":3}}"#);
    // A retry of the same delivery is de-duplicated by the FIFO topic on the eventId.
    // (moto forgets a deduplication id once its message is deleted, so both are sent
    // before the queue is read.)
    for _ in 0..2 {
        let (rsp, _) = fx.send(&d.request()).await;
        rsp.assert_status(200);
        assert_eq!(rsp.json()["published"], 3);
    }
    let msgs = fx.stack.confirmed_messages().await;
    assert_eq!(msgs.len(), 3, "one message per file, the retry deduplicated: {msgs:?}");
    for (raw, file) in d.entries().iter().zip(["f1", "f2", "f3"]) {
        let m = msgs
            .iter()
            .find(|m| m.json()["fileId"] == file)
            .unwrap_or_else(|| panic!("no message for {file}: {msgs:?}"));
        let body = m.json();
        let eid = event_id("extraction.confirmed", raw.as_bytes());
        assert_eq!(body["eventId"], eid.as_str());
        let group = body["extractionId"].as_str().unwrap_or("_none");
        assert_eq!(m.group_id.as_deref(), Some(group), "MessageGroupId: {m:?}");
        assert_eq!(
            m.dedup_id.as_deref(),
            Some(eid.as_str()),
            "MessageDeduplicationId: {m:?}"
        );
    }
    assert!(msgs.iter().any(|m| m.group_id.as_deref() == Some("_none")));
}

#[tokio::test]
async fn received_at_is_one_time_per_delivery() {
    let fx = Fixture::new().await;
    let d = Delivery::new("extraction.failed")
        .raw_entry(&entry("e", "b", "f1", "failed", "{}"))
        .raw_entry(&entry("e", "b", "f2", "failed", "{}"));
    let w = Window::open();
    let (rsp, _) = fx.send(&d.request()).await;
    let w = w.close();
    rsp.assert_status(200);
    let msgs = fx.stack.failed_messages().await;
    assert_eq!(msgs.len(), 2);
    let t0 = msgs[0].json()["receivedAt"].as_str().expect("receivedAt").to_owned();
    w.assert_contains(&t0);
    assert_eq!(msgs[1].json()["receivedAt"], t0.as_str());
    for key in fx.keys().await {
        assert_eq!(fx.stack.object(&key).await.meta("received-at"), t0, "{key}");
    }
}
