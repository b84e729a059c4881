//! End to end on moto: messages built by the function's own routing code, published to
//! SNS, delivered to a filtered SQS queue (each twice), handled by the subscriber:
//! every entry reaches the sink exactly once, the omitted one read from S3, and a failed
//! record is listed for redelivery and then completes.
// The helpers (moto, the recording sink) panic on setup failures, like the tests.
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use bytes::Bytes;
use extracta_consumer::{FileEntry, LambdaEvent, Message, Source};
use serde_json::{json, Value};
use shared::delivery::Delivery;
use shared::layout::Prefix;
use shared::plan::{Destination, Plan};
use subscriber::{Sink, Subscriber};

/// moto_server on a free port, killed on drop.
struct Moto(Child, String);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn moto() -> Moto {
    let bin = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv/bin/moto_server");
    assert!(
        std::path::Path::new(bin).exists(),
        "{bin} is missing: run scripts/dev-setup (installs requirements-dev.txt into .venv)"
    );
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto(child, format!("http://127.0.0.1:{port}"))
}

/// Records what it is given; fails each event id in `fail_once` the first time.
#[derive(Default)]
struct Recording {
    got: Mutex<Vec<(String, String, Source)>>,
    fail_once: Mutex<Vec<String>>,
}

impl Sink for Recording {
    async fn deliver(&self, message: &Message, entry: &FileEntry) -> Result<(), String> {
        let mut fail = self.fail_once.lock().unwrap();
        if let Some(i) = fail.iter().position(|id| *id == message.event_id) {
            fail.remove(i);
            return Err("downstream unavailable".into());
        }
        self.got
            .lock()
            .unwrap()
            .push((message.event_id.clone(), entry.json.get().to_owned(), entry.source));
        Ok(())
    }
}

fn entry(extraction: &str, file: &str, result: Value) -> Value {
    json!({"extractionId": extraction, "batchId": "-NxBatch", "fileId": file, "fileName": format!("{file}.pdf"),
           "status": "confirmed", "result": result, "url": null})
}

#[tokio::test(flavor = "current_thread")]
async fn each_entry_reaches_the_sink_exactly_once() {
    let moto = moto();
    let creds = Credentials::new("testing", "testing", None, None, "test");
    let config = |b: aws_sdk_s3::config::Builder| {
        b.behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(creds.clone())
            .endpoint_url(&moto.1)
    };
    let s3 = aws_sdk_s3::Client::from_conf(
        config(aws_sdk_s3::config::Builder::new())
            .force_path_style(true)
            .build(),
    );
    let sns = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_sdk_sns::config::Region::new("us-east-1"))
            .credentials_provider(creds.clone())
            .endpoint_url(&moto.1)
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new("us-east-1"))
            .credentials_provider(creds.clone())
            .endpoint_url(&moto.1)
            .build(),
    );
    for bucket in ["results", "subscriber-state"] {
        s3.create_bucket().bucket(bucket).send().await.unwrap();
    }
    let topic = sns
        .create_topic()
        .name("confirmed")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let queue = sqs
        .create_queue()
        .queue_name("subscriber")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = "arn:aws:sqs:us-east-1:123456789012:subscriber".to_owned();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .attributes("RawMessageDelivery", "true")
        .attributes("FilterPolicy", r#"{"extractionId": ["-NxE2E"]}"#)
        .send()
        .await
        .unwrap();

    // GIVEN a confirmed delivery: a small entry, one too large for SNS, one of another extraction
    let big = json!({"pages": "x".repeat(270_000)});
    let body = json!({"event": "extraction.confirmed", "result": [
        entry("-NxE2E", "-NxF1", json!({"total": 12.5})),
        entry("-NxE2E", "-NxF2", big),
        entry("-NxOther", "-NxF3", json!({})),
    ]})
    .to_string();
    let body = Bytes::from(body);
    let delivery = Delivery::parse(&body).unwrap();
    let destination = Destination {
        bucket: "results".into(),
        prefix: Prefix::default(),
    };
    let plan = Plan::new(&body, &delivery, &destination, time::OffsetDateTime::now_utc());
    // WHEN the function's objects are stored and its messages published, twice (a retry)
    for put in &plan.files {
        s3.put_object()
            .bucket("results")
            .key(&put.key)
            .body(put.body.to_vec().into())
            .content_type("application/json")
            .metadata("event", &put.event)
            .metadata("event-id", &put.event_id)
            .metadata("received-at", &put.received_at)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(plan.messages.len(), 3);
    assert!(
        plan.messages[1].result_omitted,
        "the large entry's message points to S3"
    );
    for _ in 0..2 {
        for m in &plan.messages {
            let mut publish = sns.publish().topic_arn(&topic).message(&m.body);
            for (name, value) in &m.attributes {
                publish = publish.message_attributes(
                    *name,
                    aws_sdk_sns::types::MessageAttributeValue::builder()
                        .data_type("String")
                        .string_value(value)
                        .build()
                        .unwrap(),
                );
            }
            publish.send().await.unwrap();
        }
    }

    // ... and SQS hands the subscriber what the queue holds, as Lambda's SQS event records
    let mut records = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        let batch = out.messages.unwrap_or_default();
        if batch.is_empty() {
            break;
        }
        for m in batch {
            let attributes: serde_json::Map<String, Value> = m
                .message_attributes
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, json!({"stringValue": v.string_value, "dataType": v.data_type})))
                .collect();
            records.push(json!({
                "messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body,
                "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": attributes,
                "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": "us-east-1"
            }));
        }
    }
    assert_eq!(
        records.len(),
        4,
        "the filter keeps -NxOther out; each message arrives twice"
    );

    let sink = Recording::default();
    let wanted: Vec<String> = plan.messages[..2].iter().map(|m| m.event_id.clone()).collect();
    sink.fail_once.lock().unwrap().push(wanted[0].clone());
    let subscriber = Subscriber {
        s3: s3.clone(),
        dedup_bucket: "subscriber-state".into(),
        dedup_prefix: "seen/".into(),
        sink,
    };
    let event = |records: &[Value]| -> LambdaEvent { serde_json::from_value(json!({"Records": records})).unwrap() };

    // THEN a batch of one record per message fails exactly the record whose sink call failed
    let first_of = |id: &str| {
        records
            .iter()
            .find(|r| r["body"].as_str().unwrap().contains(id))
            .unwrap()
            .clone()
    };
    let (r0, r1) = (first_of(&wanted[0]), first_of(&wanted[1]));
    let first = subscriber.handle(&event(&[r0.clone(), r1])).await;
    let r0_id = r0["messageId"].as_str().unwrap().to_owned();
    let failed: Vec<&str> = first
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, [r0_id.as_str()]);
    // ... and released its claim, so that the redelivery is not taken for a duplicate
    let marker = s3
        .head_object()
        .bucket("subscriber-state")
        .key(format!("seen/{}", wanted[0]));
    assert!(marker.send().await.is_err(), "the failed record's marker is released");
    assert_eq!(subscriber.sink.got.lock().unwrap().len(), 1);
    // WHEN SQS then delivers everything again: the failed record and every duplicate
    let second = subscriber.handle(&event(&records)).await;
    assert!(
        second.batch_item_failures.is_empty(),
        "{:?}",
        second.batch_item_failures
    );
    let got = subscriber.sink.got.lock().unwrap().clone();
    let mut ids: Vec<String> = got.iter().map(|(id, _, _)| id.clone()).collect();
    ids.sort();
    let mut want = wanted.clone();
    want.sort();
    assert_eq!(ids, want, "each eventId exactly once");
    for (id, json, source) in &got {
        if *id == wanted[1] {
            // The omitted result came from S3, byte for byte, and matches its eventId.
            assert_eq!(*source, Source::S3 { matches_event_id: true });
            assert_eq!(json.as_bytes(), &plan.files[1].body[..]);
        } else {
            assert_eq!(*source, Source::Message);
            assert!(json.contains(r#""result":{"total":12.5}"#), "{json}");
        }
    }
    // The markers are there, one per eventId.
    for id in &wanted {
        s3.head_object()
            .bucket("subscriber-state")
            .key(format!("seen/{id}"))
            .send()
            .await
            .unwrap();
    }
}
