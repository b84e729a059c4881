//! The three shapes a subscriber receives a message in, and what the crate reads from them.

use extracta_consumer::{event_id, Event, FileEntry, LambdaEvent, Message, Received, Shape, Source};
use serde_json::{json, Value};

const EVENT_ID: &str = "33ba5c7e6050be7871bcdd888c9545751a65ce6e7cd6b1ef55357a9dd267afb9";

/// A confirmed message as the function publishes it: numbers as sent, a numeric batchId.
fn confirmed() -> String {
    format!(
        concat!(
            r#"{{"event":"extraction.confirmed","eventId":"{}","extractionId":"-NxA","batchId":7,"fileId":"-NxF1","#,
            r#""fileName":"invoice.pdf","status":"confirmed","url":null,"result":{{"total":1.50,"n":12345678901234567890123}},"#,
            r#""s3":{{"bucket":"b","key":"extracta/-NxA/7/-NxF1/confirmed.json"}},"receivedAt":"2026-11-26T18:19:08.123Z"}}"#
        ),
        EVENT_ID
    )
}

fn failed() -> String {
    concat!(
        r#"{"event":"extraction.failed","eventId":"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae","#,
        r#""extractionId":"-NxA","batchId":"-NxB","fileId":"-NxF2","fileName":null,"status":"failed","url":null,"#,
        r#""error":"unreadable","s3":{"bucket":"b","key":"extracta/-NxA/-NxB/-NxF2/failed.json"},"#,
        r#""receivedAt":"2026-11-26T18:19:08.123Z"}"#
    )
    .to_owned()
}

/// SNS's envelope around a message, as an SQS queue without raw delivery receives it.
fn envelope(message: &str) -> String {
    json!({
        "Type": "Notification",
        "MessageId": "5e2f1c0a-0000-4000-8000-000000000001",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:extracta-failed",
        "Message": message,
        "Timestamp": "2026-11-26T18:19:08.200Z",
        "SignatureVersion": "1",
        "Signature": "c2lnbmF0dXJl",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
        "MessageAttributes": {
            "event": {"Type": "String", "Value": "extraction.failed"},
            "status": {"Type": "String", "Value": "failed"}
        }
    })
    .to_string()
}

#[test]
fn sqs_raw_delivery_body_is_the_message() {
    let r = Received::from_sqs_body(&confirmed()).unwrap();
    assert_eq!(r.shape, Shape::SqsRaw);
    let m = &r.message;
    assert_eq!(m.event, Event::Confirmed);
    assert_eq!(m.event_id, EVENT_ID);
    assert_eq!(m.deduplication_id(), EVENT_ID);
    assert_eq!(m.batch_id, json!(7), "a numeric id stays a number");
    assert!(m.url.is_null());
    assert_eq!(m.s3.key, "extracta/-NxA/7/-NxF1/confirmed.json");
    // The result is kept byte for byte: no float or big-integer rounding.
    assert_eq!(
        m.result.as_ref().unwrap().get(),
        r#"{"total":1.50,"n":12345678901234567890123}"#
    );
    assert!(!m.result_omitted);
    assert!(r.attributes.is_empty() && r.fifo.is_none() && r.message_id.is_none());
}

#[test]
fn sqs_body_with_the_sns_envelope_is_unwrapped() {
    let r = Received::from_sqs_body(&envelope(&failed())).unwrap();
    assert_eq!(r.shape, Shape::SqsEnvelope);
    assert_eq!(r.message.event, Event::Failed);
    assert_eq!(r.message.error.as_ref().unwrap().get(), r#""unreadable""#);
    assert!(r.message.result.is_none());
    assert_eq!(r.attributes.get("status").map(String::as_str), Some("failed"));
    assert_eq!(r.attributes.len(), 2);
}

#[test]
fn sns_to_lambda_event_records() {
    // GIVEN the event Lambda passes to a function subscribed to the topic
    let event = json!({"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:extracta-confirmed:0b5e",
        "Sns": {
            "Type": "Notification",
            "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:extracta-confirmed",
            "Subject": null,
            "Message": confirmed(),
            "Timestamp": "2026-11-26T18:19:08.200Z",
            "MessageAttributes": {"extractionId": {"Type": "String", "Value": "-NxA"}}
        }
    }]});
    // WHEN it is parsed
    let event: LambdaEvent = serde_json::from_value(event).unwrap();
    let [record] = event.records.as_slice() else {
        panic!("one record")
    };
    let r = record.receive().unwrap();
    // THEN the message, its SNS id and attributes are there; it has no SQS id to report
    assert_eq!(r.shape, Shape::SnsLambda);
    assert_eq!(r.message.event_id, EVENT_ID);
    assert_eq!(r.message_id.as_deref(), Some("95df01b4-ee98-5cb9-9903-4c221d41eb5e"));
    assert_eq!(r.attributes.get("extractionId").map(String::as_str), Some("-NxA"));
    assert_eq!(record.sqs_message_id(), None);
}

#[test]
fn sqs_to_lambda_event_records_raw_enveloped_and_fifo() {
    let event = json!({"Records": [
        {
            "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
            "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
            "body": confirmed(),
            "attributes": {
                "ApproximateReceiveCount": "2",
                "SentTimestamp": "1545082649183",
                "MessageGroupId": "-NxA",
                "MessageDeduplicationId": EVENT_ID
            },
            "messageAttributes": {
                "event": {"stringValue": "extraction.confirmed", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
                "fileId": {"stringValue": "-NxF1", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
            },
            "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:results.fifo",
            "awsRegion": "us-east-1"
        },
        {
            "messageId": "2e1424d4-f796-459a-8184-9c92662be6da",
            "receiptHandle": "AQEBzWwaftRI0KuVm4tP+/7q1rGgNqicHq",
            "body": envelope(&failed()),
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:failed",
            "awsRegion": "us-east-1"
        }
    ]});
    let event: LambdaEvent = serde_json::from_value(event).unwrap();
    let received: Vec<Received> = event.records.iter().map(|r| r.receive().unwrap()).collect();

    let raw = &received[0];
    assert_eq!(raw.shape, Shape::SqsRaw);
    assert_eq!(raw.message_id.as_deref(), Some("059f36b4-87a3-44ab-83d2-661975830a7d"));
    assert_eq!(raw.attributes.get("fileId").map(String::as_str), Some("-NxF1"));
    let fifo = raw.fifo.as_ref().unwrap();
    assert_eq!(fifo.group_id, "-NxA");
    assert_eq!(fifo.deduplication_id.as_deref(), Some(EVENT_ID));
    assert_eq!(
        raw.message.group_id().as_deref(),
        Some("-NxA"),
        "the group SNS used, from the message"
    );

    let enveloped = &received[1];
    assert_eq!(enveloped.shape, Shape::SqsEnvelope);
    assert_eq!(enveloped.message.event, Event::Failed);
    assert_eq!(
        enveloped.attributes.get("event").map(String::as_str),
        Some("extraction.failed")
    );
    assert!(enveloped.fifo.is_none());
    assert_eq!(
        event.records[1].sqs_message_id(),
        Some("2e1424d4-f796-459a-8184-9c92662be6da")
    );
}

#[test]
fn the_entry_comes_from_the_message_unless_omitted() {
    let m = Message::from_json(&confirmed()).unwrap();
    let entry = m.entry().unwrap();
    assert_eq!(entry.source, Source::Message);
    // Null fields left out, result verbatim.
    assert_eq!(
        entry.json.get(),
        r#"{"extractionId":"-NxA","batchId":7,"fileId":"-NxF1","fileName":"invoice.pdf","status":"confirmed","result":{"total":1.50,"n":12345678901234567890123}}"#
    );
    let typed: Value = entry.parse().unwrap();
    assert_eq!(typed["fileId"], "-NxF1");

    let failed = Message::from_json(&failed()).unwrap().entry().unwrap();
    assert_eq!(failed.parse::<Value>().unwrap()["error"], "unreadable");

    // GIVEN a message whose result did not fit in SNS
    let omitted = confirmed()
        .replace(r#""result":{"total":1.50,"n":12345678901234567890123},"#, "")
        .replace(
            r#""receivedAt":"2026-11-26T18:19:08.123Z"}"#,
            r#""receivedAt":"2026-11-26T18:19:08.123Z","resultOmitted":true}"#,
        );
    let m = Message::from_json(&omitted).unwrap();
    assert!(m.result_omitted && m.result.is_none());
    // THEN only S3 has the entry, and its bytes are checked against the eventId
    assert!(m.entry().is_none());
    let stored = FileEntry::from_stored(&m, b"{}".to_vec()).unwrap();
    assert_eq!(stored.source, Source::S3 { matches_event_id: true });
    assert_eq!(stored.json.get(), "{}");
    let overwritten = FileEntry::from_stored(&m, br#"{"a":1}"#.to_vec()).unwrap();
    assert_eq!(
        overwritten.source,
        Source::S3 {
            matches_event_id: false
        }
    );
    assert!(FileEntry::from_stored(&m, vec![0xff]).is_err());
}

#[test]
fn event_id_is_sha256_of_name_newline_bytes() {
    // printf 'extraction.confirmed\n{}' | sha256sum
    assert_eq!(event_id("extraction.confirmed", b"{}"), EVENT_ID);
}

#[test]
fn group_id_follows_the_functions_rules() {
    let with = |id: Value, omitted: bool| {
        let mut v: Value = serde_json::from_str(&confirmed()).unwrap();
        v["extractionId"] = id;
        if omitted {
            v["resultOmitted"] = json!(true);
        }
        Message::from_json(&v.to_string()).unwrap().group_id()
    };
    assert_eq!(with(json!("-NxA"), false).as_deref(), Some("-NxA"));
    assert_eq!(with(json!(""), false).as_deref(), Some("_none"));
    assert_eq!(with(json!(12), false).as_deref(), Some("_none"));
    assert_eq!(with(Value::Null, false).as_deref(), Some("_none"));
    // A string SNS refuses as a group id: too long, or not printable ASCII.
    assert_eq!(
        with(json!("e".repeat(200)), false).as_deref(),
        Some("8afd3e3a697de1cc5a00cbe2af0ed27e5a1e173853865334685d068c57ef3d95")
    );
    assert_eq!(with(json!("a b"), false).map(|g| g.len()), Some(64));
    // A shrunk message with a null id may be a bare pointer: the group is unknown.
    assert_eq!(with(Value::Null, true), None);
}

#[test]
fn what_is_not_a_message_is_an_error() {
    for body in [
        "not json",
        "[]",
        // An event no message is made for (processed and edited files have one: on the bus).
        r#"{"event":"extraction.deleted","eventId":"x","s3":{"bucket":"b","key":"k"},"receivedAt":"t"}"#,
        r#"{"event":"extraction.failed","s3":{"bucket":"b","key":"k"},"receivedAt":"t"}"#,
        // SNS's subscription confirmation is an envelope without a function message.
        r#"{"Type":"SubscriptionConfirmation","Message":"You have chosen to subscribe","Token":"t"}"#,
    ] {
        assert!(Received::from_sqs_body(body).is_err(), "{body}");
    }
    // An envelope whose Message is not the function's message.
    assert!(Received::from_sqs_body(&envelope("{}")).is_err());
    // A record from neither SQS nor SNS.
    assert!(serde_json::from_str::<LambdaEvent>(r#"{"Records":[{"eventSource":"aws:s3"}]}"#).is_err());
}

#[test]
fn every_schema_example_parses() {
    for (schema, event) in [
        (include_str!("../../schemas/confirmed-message.json"), Event::Confirmed),
        (include_str!("../../schemas/failed-message.json"), Event::Failed),
    ] {
        let schema: Value = serde_json::from_str(schema).unwrap();
        let examples = schema["examples"].as_array().unwrap();
        assert!(!examples.is_empty());
        for example in examples {
            let m = Message::from_json(&example.to_string()).unwrap();
            assert_eq!(m.event, event);
            assert_eq!(m.entry().is_none(), example.get("resultOmitted").is_some());
        }
    }
}
