//! docs/contract.md §10 end to end: the real binary with `EVENT_BUS_NAME`, moto's
//! EventBridge with rules to SQS queues (what a rule's target receives), and the runtime
//! API emulator. Every event read back is checked against `schemas/` (its `detail`) and
//! the schema registry's generated schema (the whole event).
//!
//! EventBridge parses `Detail` and serialises the event again, so a target receives the
//! detail's *value*: the tests compare it with the SNS message's value. The byte-for-byte
//! equality of the two texts, as put, is asserted where the entries are made
//! (shared/src/bus.rs, `the_detail_is_byte_equal_to_the_sns_message_where_both_exist`).

use e2e::aws::{Queue, ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY};
use e2e::bus::EventBus;
use e2e::proxy::{Action, Mode, PathFilter, Rule};
use e2e::requests::entry_text;
use e2e::{Delivery, FaultProxy, FunctionConfig, JsonBody as _, Stack};
use serde_json::{json, Value};

/// A stack plus an event bus with two rules (see [`EventBus`]).
struct Bus {
    stack: Stack,
    name: String,
    all: Queue,
    classification: Queue,
}

impl Bus {
    async fn new() -> Bus {
        let stack = Stack::new().await;
        let EventBus {
            name,
            all,
            classification,
        } = EventBus::create(&stack).await;
        Bus {
            stack,
            name,
            all,
            classification,
        }
    }

    /// The function's configuration with this bus as `EVENT_BUS_NAME`.
    fn config(&self) -> FunctionConfig {
        self.stack.config().set("EVENT_BUS_NAME", &self.name)
    }

    /// Every event the queue received so far (removes them), schema-checked, in order.
    async fn events(&self, queue: &Queue) -> Vec<Value> {
        e2e::bus::events(&self.stack, queue).await
    }
}

fn entry(file: &str, status: &str, result: &str) -> String {
    entry_text("ext-1", "batch-1", file, status, result)
}

/// The events of `detail-type` `event`, by `detail.fileId`.
fn by_file(events: &[Value]) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = events
        .iter()
        .map(|e| (e["detail"]["fileId"].as_str().unwrap_or_default().to_owned(), e.clone()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test]
async fn the_four_events_arrive_with_their_message_as_detail() {
    let bus = Bus::new().await;
    let f = bus.stack.start(bus.config()).await;
    for (event, status) in [
        ("extraction.processed", "processed"),
        ("extraction.edited", "edited"),
        ("extraction.confirmed", "confirmed"),
        ("extraction.failed", "failed"),
    ] {
        let d = Delivery::new(event)
            .raw_entry(&entry(
                "f1",
                status,
                r#"{"total":1.50,"big":123456789012345678901234567890}"#,
            ))
            .raw_entry(&entry("f2", status, r#"{"n":2}"#));
        let rsp = f.http(&d.request()).await;
        rsp.assert_status(200);
        let events = by_file(&bus.events(&bus.all).await);
        assert_eq!(events.len(), 2, "{event}: one event per file: {events:?}");
        let sns = match event {
            "extraction.confirmed" => bus.stack.confirmed_messages().await,
            "extraction.failed" => bus.stack.failed_messages().await,
            _ => Vec::new(),
        };
        let stored: Vec<Value> = rsp.json()["stored"].as_array().cloned().unwrap_or_default();
        for (i, (file, e)) in events.iter().enumerate() {
            assert_eq!(e["detail-type"], event);
            let detail = &e["detail"];
            assert_eq!(detail["event"], event);
            assert_eq!(detail["s3"]["key"], stored[i], "{file}");
            let object = bus.stack.object(stored[i].as_str().unwrap_or_default()).await;
            assert_eq!(detail["eventId"], object.meta("event-id"), "{file}");
            assert_eq!(detail["receivedAt"], object.meta("received-at"), "{file}");
            if event == "extraction.failed" {
                assert!(detail.get("result").is_none() && detail.get("error").is_some());
            } else {
                assert!(detail.get("result").is_some(), "{event} carries the result");
            }
        }
        // Confirmed and failed also go to SNS: each detail is that file's message.
        let on_sns = matches!(event, "extraction.confirmed" | "extraction.failed");
        assert_eq!(sns.len(), if on_sns { 2 } else { 0 }, "{event}: SNS messages");
        let mut messages: Vec<Value> = sns.iter().map(|m| m.json()).collect();
        messages.sort_by(|a, b| a["fileId"].as_str().cmp(&b["fileId"].as_str()));
        if on_sns {
            let details: Vec<&Value> = events.iter().map(|(_, e)| &e["detail"]).collect();
            assert_eq!(
                details,
                messages.iter().collect::<Vec<_>>(),
                "{event}: detail == SNS message"
            );
        }
        assert!(bus.events(&bus.classification).await.is_empty());
    }
    // The log line counts the entries put.
    let line = f
        .wait_for_line(std::time::Duration::from_secs(5), |l| {
            l.contains("\"request\"") && l.contains("extraction.failed")
        })
        .await
        .expect("a request line");
    assert!(line.contains("\"events\":2"), "{line}");
}

#[tokio::test]
async fn other_deliveries_arrive_as_archive_pointers() {
    let bus = Bus::new().await;
    let f = bus.stack.start(bus.config()).await;
    // A namespace that does not exist yet reaches the rule written for it today.
    let future = Delivery::new("classification.processed")
        .raw_entry(r#"{"documentType":"invoice"}"#)
        .raw_entry(r#"{"documentType":"receipt"}"#);
    let rsp = f.http(&future.request()).await;
    rsp.assert_status(200);
    let archived = rsp.json()["archived"].as_str().unwrap_or_default().to_owned();
    let [pointer] = bus.events(&bus.classification).await.try_into().expect("one event");
    assert_eq!(pointer["detail-type"], "classification.processed");
    let archive = bus.stack.object(&archived).await;
    assert_eq!(
        pointer["detail"],
        json!({
            "event": "classification.processed",
            "eventId": archive.meta("event-id"),
            "archived": {"bucket": bus.stack.res.bucket, "key": archived},
            "files": 2,
            "receivedAt": archive.meta("received-at"),
        })
    );
    assert_eq!(bus.events(&bus.all).await.len(), 1, "the catch-all rule sees it too");

    // A routed event whose body does not fit: a pointer under the event's name.
    let unfit = Delivery::new("extraction.confirmed").raw_result(r#"[{"fileId":"a"},"not an object"]"#);
    let rsp = f.http(&unfit.request()).await;
    rsp.assert_status(200);
    let [pointer] = bus.events(&bus.all).await.try_into().expect("one event");
    assert_eq!(pointer["detail-type"], "extraction.confirmed");
    assert_eq!(pointer["detail"]["files"], 2);
    assert_eq!(pointer["detail"]["archived"]["key"], rsp.json()["archived"]);
    assert!(bus.stack.confirmed_messages().await.is_empty());

    // No string event at all: `_none`, and the event as sent (null).
    let none = Delivery::without_event().raw_entry(r#"{"a":1}"#);
    f.http(&none.request()).await.assert_status(200);
    let [pointer] = bus.events(&bus.all).await.try_into().expect("one event");
    assert_eq!(pointer["detail-type"], "_none");
    assert_eq!(pointer["detail"]["event"], Value::Null);

    // An empty routed delivery puts nothing.
    let empty = Delivery::new("extraction.processed");
    f.http(&empty.request()).await.assert_status(200);
    assert!(bus.events(&bus.all).await.is_empty());
}

#[tokio::test]
async fn an_oversized_result_is_claim_checked() {
    let bus = Bus::new().await;
    let f = bus.stack.start(bus.config()).await;
    let big = format!(r#"{{"text":"{}"}}"#, "x".repeat(300_000));
    let d = Delivery::new("extraction.processed")
        .raw_entry(&entry("big", "processed", &big))
        .raw_entry(&entry("small", "processed", r#"{"n":1}"#));
    let rsp = f.http(&d.request()).await;
    rsp.assert_status(200);
    let events = by_file(&bus.events(&bus.all).await);
    assert_eq!(events.len(), 2);
    let (big_detail, small_detail) = (&events[0].1["detail"], &events[1].1["detail"]);
    assert_eq!(big_detail["resultOmitted"], true);
    assert!(big_detail.get("result").is_none());
    // The full entry is where the pointer says.
    let key = big_detail["s3"]["key"].as_str().unwrap_or_default();
    assert_eq!(bus.stack.object(key).await.text(), d.entries()[0]);
    assert_eq!(small_detail["result"], json!({"n": 1}));
    assert!(small_detail.get("resultOmitted").is_none());
}

/// `EVENT_BUS_NAME` set, EventBridge reached through a fault proxy (everything else
/// straight to moto).
async fn behind_proxy(bus: &Bus, queue: bool) -> (FaultProxy, e2e::Function) {
    let proxy = FaultProxy::start(e2e::moto::shared().addr()).await;
    let mut config = bus.config().set("AWS_ENDPOINT_URL_EVENTBRIDGE", &proxy.url());
    if queue {
        config = config.redrive_queue(&bus.stack.res.redrive_queue.url);
    }
    (proxy, bus.stack.start(config).await)
}

const ONE_FAILED_ENTRY: &str = r#"{"FailedEntryCount":1,"Entries":[{"EventId":"11111111-1111-1111-1111-111111111111"},{"ErrorCode":"InternalFailure","ErrorMessage":"injected by the test"}]}"#;

#[tokio::test]
async fn a_failed_put_with_a_queue_is_202_and_the_redrive_completes_it() {
    for fault in ["endpoint down", "one failed entry"] {
        let bus = Bus::new().await;
        let (proxy, f) = behind_proxy(&bus, true).await;
        match fault {
            "endpoint down" => proxy.set(Mode::Refuse),
            _ => proxy.set_rules(vec![Rule::new(PathFilter::Any, Action::Json(ONE_FAILED_ENTRY))]),
        }
        let d = Delivery::new("extraction.confirmed")
            .raw_entry(&entry("f1", "confirmed", r#"{"a":1}"#))
            .raw_entry(&entry("f2", "confirmed", r#"{"a":2}"#));
        let rsp = f.http(&d.request()).await;
        rsp.assert_status(202);
        assert_eq!(rsp.json()["queued"], true, "{fault}");
        let queued = bus.stack.queued().await;
        assert_eq!(queued.len(), 1, "{fault}");
        assert_eq!(queued[0].json()["reason"], "publish", "{fault}");
        // The objects are stored; SNS got its messages; nothing reached the bus.
        assert_eq!(bus.stack.confirmed_messages().await.len(), 2, "{fault}");
        assert!(bus.events(&bus.all).await.is_empty(), "{fault}");

        // EventBridge is back: the redrive of the queued message completes the delivery.
        proxy.forward();
        proxy.clear_rules();
        let redriven =
            e2e::redrive::invoke_sqs(&f, e2e::redrive::sqs_event(&bus.stack.res.redrive_queue, &queued)).await;
        assert!(redriven.failures.is_empty(), "{fault}: {:?}", redriven.failures);
        let events = by_file(&bus.events(&bus.all).await);
        assert_eq!(events.len(), 2, "{fault}: every file's event after the redrive");
        assert_eq!(events[0].1["detail"]["fileId"], "f1");
        let line = f
            .wait_for_line(std::time::Duration::from_secs(5), |l| l.contains("\"redrive\""))
            .await
            .expect("a redrive line");
        assert!(line.contains("\"events\":2"), "{fault}: {line}");
    }
}

#[tokio::test]
async fn a_failed_put_without_a_queue_is_502() {
    for fault in ["endpoint down", "one failed entry"] {
        let bus = Bus::new().await;
        let (proxy, f) = behind_proxy(&bus, false).await;
        match fault {
            "endpoint down" => proxy.set(Mode::Refuse),
            _ => proxy.set_rules(vec![Rule::new(PathFilter::Any, Action::Json(ONE_FAILED_ENTRY))]),
        }
        let d = Delivery::new("extraction.edited").raw_entry(&entry("f1", "edited", r#"{"v":1}"#));
        let rsp = f.http(&d.request()).await;
        let body = rsp.assert_error(502);
        assert_eq!(body["retryable"], true, "{fault}");
        // The metrics line counts the entries not put (the template's EventsFailed alarm).
        let line = f
            .wait_for_line(std::time::Duration::from_secs(5), |l| l.contains("\"EventsFailed\":1"))
            .await;
        assert!(
            line.is_some(),
            "{fault}: an EMF line with EventsFailed 1:\n{}",
            f.output()
        );
        // Sent again once EventBridge is back, it completes.
        proxy.forward();
        proxy.clear_rules();
        f.http(&d.request()).await.assert_status(200);
        assert_eq!(bus.events(&bus.all).await.len(), 1, "{fault}");
    }
}

#[tokio::test]
async fn without_event_bus_name_nothing_goes_to_eventbridge() {
    let bus = Bus::new().await;
    let f = bus.stack.start(bus.stack.config()).await;
    let d = Delivery::new("extraction.confirmed").raw_entry(&entry("f1", "confirmed", r#"{"a":1}"#));
    f.http(&d.request()).await.assert_status(200);
    let future = Delivery::new("classification.processed").raw_entry(r#"{"a":1}"#);
    f.http(&future.request()).await.assert_status(200);
    assert_eq!(bus.stack.confirmed_messages().await.len(), 1);
    assert!(bus.events(&bus.all).await.is_empty());
    assert!(bus.events(&bus.classification).await.is_empty());
    let line = f
        .wait_for_line(std::time::Duration::from_secs(5), |l| l.contains("\"request\""))
        .await
        .expect("a request line");
    assert!(line.contains("\"events\":0"), "{line}");
}

#[tokio::test]
async fn a_superseded_file_puts_nothing() {
    // GIVEN two edits of one file, the older one redriven after the newer one was stored
    let bus = Bus::new().await;
    let f = bus.stack.start(bus.config()).await;
    let older = Delivery::new("extraction.edited").raw_entry(&entry("f1", "edited", r#"{"v":1}"#));
    let rsp = f.http(&older.request()).await;
    rsp.assert_status(200);
    let archived = rsp.json()["archived"].as_str().unwrap_or_default().to_owned();
    let newer = Delivery::new("extraction.edited").raw_entry(&entry("f1", "edited", r#"{"v":2}"#));
    f.http(&newer.request()).await.assert_status(200);
    assert_eq!(bus.events(&bus.all).await.len(), 2);
    // WHEN the older delivery is redriven
    let message_id = bus
        .stack
        .aws
        .send_message(
            &bus.stack.res.redrive_queue,
            &json!({ "archived": archived }).to_string(),
        )
        .await;
    let queued = bus.stack.queued().await;
    assert_eq!(queued.len(), 1, "{message_id}");
    let redriven = e2e::redrive::invoke_sqs(&f, e2e::redrive::sqs_event(&bus.stack.res.redrive_queue, &queued)).await;
    assert!(redriven.failures.is_empty(), "{:?}", redriven.failures);
    // THEN the file is superseded: no event, and the object still holds the newer edit.
    assert!(bus.events(&bus.all).await.is_empty());
    let key = "extracta/ext-1/batch-1/f1/edited.json";
    assert_eq!(bus.stack.object(key).await.text(), newer.entries()[0]);
    let line = f
        .wait_for_line(std::time::Duration::from_secs(5), |l| l.contains("\"redrive\""))
        .await
        .expect("a redrive line");
    assert!(
        line.contains("\"superseded\":1") && line.contains("\"events\":0"),
        "{line}"
    );
}

#[tokio::test]
async fn webhook_cli_replay_puts_the_entries_again() {
    // GIVEN a delivery completed live, its two events on the bus
    let bus = Bus::new().await;
    let f = bus.stack.start(bus.config()).await;
    let d = Delivery::new("extraction.processed")
        .raw_entry(&entry("f1", "processed", r#"{"a":1}"#))
        .raw_entry(&entry("f2", "processed", r#"{"a":2}"#));
    let rsp = f.http(&d.request()).await;
    rsp.assert_status(200);
    let archived = rsp.json()["archived"].as_str().unwrap_or_default().to_owned();
    let live = bus.events(&bus.all).await;
    assert_eq!(live.len(), 2);

    // WHEN an operator replays it with the deployment's EVENT_BUS_NAME
    let cli = e2e::function::webhook_bin().with_file_name("webhook-cli");
    let out = std::process::Command::new(cli)
        .arg("replay")
        .args(["--bucket", &bus.stack.res.bucket])
        .args(["--confirmed-topic-arn", &bus.stack.res.confirmed_topic_arn])
        .args(["--failed-topic-arn", &bus.stack.res.failed_topic_arn])
        .args(["--endpoint-url", &bus.stack.endpoint])
        .args(["--event-bus", &bus.name, "--key", &archived])
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env_remove("AWS_PROFILE")
        .output()
        .expect("webhook-cli runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // THEN the same two entries arrive again (consumers de-duplicate on detail.eventId)
    assert!(stdout.contains("put 2 EventBridge entries"), "{stdout}");
    let again = bus.events(&bus.all).await;
    let ids = |events: &[Value]| {
        let mut ids: Vec<Value> = events.iter().map(|e| e["detail"]["eventId"].clone()).collect();
        ids.sort_by_key(Value::to_string);
        ids
    };
    assert_eq!(ids(&again), ids(&live));
}
