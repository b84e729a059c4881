//! End-to-end tests of the webhook function's contract (docs/contract.md), one per
//! rule and per failure path, against the real binary, moto and the runtime emulator.
//!
//! Every test has its own bucket, topics, queues and `webhook` process; the moto server
//! is shared by the group (see `main.rs`). Build the binaries first: `scripts/build-binaries`.

mod concurrency;
mod erase;
mod failures;
mod logs;
mod newest;
mod redrive;
mod replay;
mod requests;
mod rotation;
mod routing;
mod signature;
mod startup;

use std::collections::BTreeMap;

use e2e::expect::{component, event_id, file_key, Window, DEFAULT_PREFIX};
use e2e::requests::entry_text;
use e2e::{Delivery, Function, FunctionConfig, HttpResponse, Received, Request, Stack};
use serde_json::{json, Value};

/// A stack plus a started function.
pub struct Fixture {
    /// The moto resources of this test.
    pub stack: Stack,
    /// The running binary.
    pub f: Function,
    /// The `RESULTS_PREFIX` in force, normalized (`extracta/` by default).
    pub prefix: String,
}

impl Fixture {
    /// The default configuration.
    pub async fn new() -> Self {
        Self::with(|c| c).await
    }

    /// The default configuration, changed by `tweak`.
    pub async fn with(tweak: impl FnOnce(FunctionConfig) -> FunctionConfig) -> Self {
        Self::on(Stack::new().await, tweak).await
    }

    /// A FIFO confirmed topic, otherwise default.
    pub async fn fifo() -> Self {
        Self::on(Stack::fifo().await, |c| c).await
    }

    /// Starts the function on `stack` with its configuration changed by `tweak`.
    pub async fn on(stack: Stack, tweak: impl FnOnce(FunctionConfig) -> FunctionConfig) -> Self {
        let config = tweak(stack.config());
        let prefix = match config.get("RESULTS_PREFIX") {
            None => DEFAULT_PREFIX.to_owned(),
            Some("") => String::new(),
            Some(p) if p.ends_with('/') => p.to_owned(),
            Some(p) => format!("{p}/"),
        };
        let f = stack.start(config).await;
        Fixture { stack, f, prefix }
    }

    /// Sends `req`; returns the response and the receipt window around it.
    pub async fn send(&self, req: &Request) -> (HttpResponse, Window) {
        let w = Window::open();
        let rsp = self.f.http(req).await;
        (rsp, w.close())
    }

    /// Every key in the bucket.
    pub async fn keys(&self) -> Vec<String> {
        self.stack.all_keys().await
    }

    /// Deletes every object in the bucket (to check deliveries one at a time).
    pub async fn clear(&self) {
        for key in self.keys().await {
            self.stack
                .aws
                .s3
                .delete_object()
                .bucket(&self.stack.res.bucket)
                .key(key)
                .send()
                .await
                .expect("delete");
        }
    }

    /// Asserts nothing at all was written to S3 or published to either topic.
    pub async fn assert_nothing_written(&self) {
        assert_eq!(self.keys().await, Vec::<String>::new(), "S3 must stay empty");
        assert!(self.stack.confirmed_messages().await.is_empty(), "no confirmed message");
        assert!(self.stack.failed_messages().await.is_empty(), "no failed message");
    }
}

/// The archive component of an event name as sent.
pub fn event_component(event: Option<&str>) -> String {
    event.map_or_else(|| "_none".to_owned(), component)
}

/// Checks an accepted delivery end to end and returns the SNS messages it published.
///
/// `d` must be a delivery of `event` whose entries are objects with string ids (expected
/// keys are computed with [`component`]); `routed` says whether the body fits (file
/// objects written) or is only archived.
pub async fn check_accepted(
    fx: &Fixture,
    d: &Delivery,
    event: Option<&str>,
    rsp: &HttpResponse,
    window: Window,
    routed: bool,
) -> Vec<Received> {
    rsp.assert_status(200);
    let body = rsp.json();
    let kind = event.and_then(|e| e.strip_prefix("extraction.")).filter(|_| routed);
    let entries: Vec<Value> = d
        .entries()
        .iter()
        .map(|e| serde_json::from_str(e).expect("entry is JSON"))
        .collect();

    // The expected file keys, in entry order.
    let stored: Vec<String> = match kind {
        Some(kind) => entries
            .iter()
            .map(|e| {
                let c = |k: &str| component(e.get(k).and_then(Value::as_str).unwrap_or(""));
                file_key(&fx.prefix, &c("extractionId"), &c("batchId"), &c("fileId"), kind)
            })
            .collect(),
        None => Vec::new(),
    };
    let publishes = matches!(kind, Some("confirmed" | "failed"));
    let archive_component = event_component(event);
    let archived = body["archived"].as_str().unwrap_or_default().to_owned();
    assert!(
        window
            .archive_keys(&fx.prefix, &archive_component, &d.body())
            .contains(&archived),
        "archived key {archived:?} is not {:?}",
        window.archive_keys(&fx.prefix, &archive_component, &d.body())
    );
    assert_eq!(
        body,
        json!({
            "event": event,
            "files": stored.len(),
            "stored": stored,
            "archived": archived,
            "published": if publishes { stored.len() } else { 0 },
        }),
        "the 200 body"
    );

    // S3: exactly the archive copy and the file objects.
    let mut want_keys = stored.clone();
    want_keys.push(archived.clone());
    want_keys.sort();
    assert_eq!(fx.keys().await, want_keys, "objects in the bucket");

    let archive = fx.stack.object(&archived).await;
    assert_eq!(archive.bytes, d.body(), "the archive copy is the body verbatim");
    assert_eq!(archive.content_type.as_deref(), Some("application/json"));
    assert_eq!(archive.meta("event"), archive_component);
    assert_eq!(archive.meta("event-id"), event_id(event.unwrap_or(""), &d.body()));
    let received_at = archive.meta("received-at").to_owned();
    window.assert_contains(&received_at);

    let mut event_ids = BTreeMap::new();
    for (key, raw) in stored.iter().zip(d.entries()) {
        let o = fx.stack.object(key).await;
        assert_eq!(o.text(), raw, "{key} holds the entry exactly as sent");
        assert_eq!(o.content_type.as_deref(), Some("application/json"), "{key}");
        assert_eq!(o.meta("event"), event.unwrap_or_default(), "{key}");
        assert_eq!(
            o.meta("event-id"),
            event_id(event.unwrap_or(""), raw.as_bytes()),
            "{key}"
        );
        assert_eq!(o.meta("received-at"), received_at, "one receipt time per delivery");
        event_ids.insert(key.clone(), o.meta("event-id").to_owned());
    }

    // SNS: one message per file on the right topic, none on the other.
    let confirmed = fx.stack.confirmed_messages().await;
    let failed = fx.stack.failed_messages().await;
    let (mine, other) = match kind {
        Some("confirmed") => (confirmed, failed),
        Some("failed") => (failed, confirmed),
        _ => {
            assert!(confirmed.is_empty(), "no SNS for this delivery: {confirmed:?}");
            assert!(failed.is_empty(), "no SNS for this delivery: {failed:?}");
            return Vec::new();
        }
    };
    assert!(other.is_empty(), "nothing on the other topic: {other:?}");
    assert_eq!(mine.len(), stored.len(), "one message per file: {mine:?}");
    for (key, (raw, entry)) in stored.iter().zip(d.entries().iter().zip(&entries)) {
        let m = mine
            .iter()
            .find(|m| m.json()["s3"]["key"] == json!(key))
            .unwrap_or_else(|| panic!("no message points at {key}: {mine:?}"));
        check_message(
            fx,
            m,
            event.unwrap_or_default(),
            raw,
            entry,
            key,
            &event_ids[key],
            &received_at,
        );
    }
    mine
}

/// Checks one SNS message against docs/contract.md §4.
#[allow(clippy::too_many_arguments)]
pub fn check_message(
    fx: &Fixture,
    m: &Received,
    event: &str,
    raw_entry: &str,
    entry: &Value,
    key: &str,
    eid: &str,
    received_at: &str,
) {
    let msg = m.json();
    assert_eq!(msg["event"], event);
    assert_eq!(msg["eventId"], eid);
    assert_eq!(msg["eventId"], event_id(event, raw_entry.as_bytes()));
    for field in ["extractionId", "batchId", "fileId", "fileName", "status", "url"] {
        assert_eq!(
            msg.get(field),
            Some(entry.get(field).unwrap_or(&Value::Null)),
            "message field {field} (null when the entry lacks it): {msg}"
        );
    }
    if event == "extraction.failed" {
        assert_eq!(
            msg.get("error"),
            Some(entry.get("error").unwrap_or(&Value::Null)),
            "{msg}"
        );
    }
    if event == "extraction.confirmed" && msg.get("resultOmitted") != Some(&Value::Bool(true)) {
        let result = entry.get("result").unwrap_or(&Value::Null);
        assert_eq!(msg.get("result"), Some(result), "result as sent: {msg}");
    }
    assert_eq!(msg["s3"], json!({"bucket": fx.stack.res.bucket, "key": key}));
    assert_eq!(
        msg["receivedAt"], received_at,
        "receivedAt is the metadata's received-at"
    );
    for attr in ["extractionId", "batchId", "fileId", "status"] {
        let want = entry.get(attr).and_then(Value::as_str).filter(|s| !s.is_empty());
        assert_eq!(
            m.attributes.get(attr).map(String::as_str),
            want,
            "attribute {attr} (left out unless a non-empty string): {:?}",
            m.attributes
        );
    }
    assert_eq!(m.attributes.get("event").map(String::as_str), Some(event));
}

/// A confirmed-style entry with extracted data `result` (raw JSON).
pub fn entry(ext: &str, batch: &str, file: &str, status: &str, result: &str) -> String {
    entry_text(ext, batch, file, status, result)
}
