//! docs/contract.md §7 and §5: JSON log lines, one summary per request, and no secret, signature
//! or extracted data in logs or error bodies, at any level.
use e2e::expect::{as_num, json_lines, summaries};
use e2e::proxy::Mode;
use e2e::{moto, Delivery, FaultProxy, HttpResponse, Request, Stack};
use serde_json::{json, Value};

use super::Fixture;

const SECRET: &str = "E_AI_K_MarkerSecret-Qx7Zk-not-real";

/// Markers planted in the extracted data: none may be printed.
const DATA_MARKERS: &[&str] = &[
    "MarkerData-Confirmed-8kq",
    "MarkerData-Failed-3jw",
    "MarkerData-Processed-5tv",
    "MarkerData-Unknown-9pd",
    "MarkerData-Invalid-2xc",
    "MarkerData-Outage-6mh",
];

fn entry(id: &str, marker: &str) -> String {
    format!(
        r#"{{"extractionId":"ext-{id}","batchId":"b","fileId":"f-{id}","fileName":"doc.pdf","status":"ok","result":{{"secretField":"{marker}","n":1}},"url":"https://files.example.invalid/x","error":"{marker}-err"}}"#
    )
}

async fn run(level: Option<&str>) {
    let proxy = FaultProxy::start(moto::shared().addr()).await;
    let fx = Fixture::on(Stack::new().await, |c| {
        let c = c.set("EXTRACTA_WEBHOOK_SECRET", SECRET).s3_endpoint(&proxy.url());
        match level {
            Some(l) => c.set("AWS_LAMBDA_LOG_LEVEL", l),
            None => c,
        }
    })
    .await;

    let mut signatures = Vec::new();
    let mut sent: Vec<(HttpResponse, &str)> = Vec::new();
    let deliveries = [
        ("extraction.confirmed", DATA_MARKERS[0]),
        ("extraction.failed", DATA_MARKERS[1]),
        ("extraction.processed", DATA_MARKERS[2]),
        ("classification.done", DATA_MARKERS[3]),
    ];
    for (i, (event, marker)) in deliveries.iter().enumerate() {
        let d = Delivery::new(event).raw_entry(&entry(&i.to_string(), marker));
        let sig = d.signature(SECRET);
        signatures.push(sig.clone());
        let (rsp, _) = fx.send(&d.signed(SECRET)).await;
        rsp.assert_status(200);
        sent.push((rsp, event));
    }
    // Wrong signature carrying a marker, and a valid-looking one for other bytes.
    let d = Delivery::new("extraction.confirmed").raw_entry(&entry("w", DATA_MARKERS[0]));
    let wrong = "MarkerSignature+Wrong/Zz9=";
    let (rsp, _) = fx.send(&d.unsigned().signature(wrong)).await;
    rsp.assert_error(401);
    sent.push((rsp, "extraction.confirmed"));
    let other = e2e::requests::sign(SECRET, b"[other bytes]");
    signatures.push(other.clone());
    let (rsp, _) = fx.send(&d.unsigned().signature(&other)).await;
    rsp.assert_error(401);
    sent.push((rsp, "extraction.confirmed"));
    // Invalid JSON with a marker.
    let bad = format!(
        r#"{{"event":"extraction.confirmed","result":[{{"x":"{}"}}"#,
        DATA_MARKERS[4]
    );
    let (rsp, _) = fx.send(&Request::post(bad.into_bytes())).await;
    rsp.assert_error(400);
    sent.push((rsp, ""));
    // S3 down: a 502 for a delivery with a marker.
    proxy.set(Mode::Reset);
    let d = Delivery::new("extraction.confirmed").raw_entry(&entry("o", DATA_MARKERS[5]));
    signatures.push(d.signature(SECRET));
    let (rsp, _) = fx.send(&d.signed(SECRET)).await;
    rsp.assert_error(502);
    sent.push((rsp, "extraction.confirmed"));
    proxy.forward();

    let output = fx.f.stop().await;
    let secret_key = SECRET.trim_start_matches("E_AI_K_");
    let mut forbidden: Vec<&str> = vec![SECRET, secret_key, "MarkerSecret", wrong, "MarkerSignature"];
    forbidden.extend(DATA_MARKERS);
    forbidden.extend(signatures.iter().map(String::as_str));
    for m in &forbidden {
        assert!(
            !output.contains(m),
            "{m:?} appears in the logs (level {level:?}):\n{output}"
        );
        for (rsp, _) in &sent {
            assert!(
                !rsp.text().contains(m),
                "{m:?} appears in a response body: {}",
                rsp.text()
            );
        }
    }

    // Every line is JSON; one start line naming the release, before any summary (§7).
    let lines = json_lines(&output);
    let started: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i]["fields"]["message"] == "started")
        .collect();
    assert_eq!(started.len(), 1, "one start line (level {level:?}):\n{output}");
    let start = &lines[started[0]];
    assert_eq!(start["level"], "INFO", "{start}");
    assert_eq!(start["fields"]["version"], env!("CARGO_PKG_VERSION"), "{start}");
    let first_summary = lines
        .iter()
        .position(|l| e2e::expect::object_with(l, e2e::expect::SUMMARY_FIELDS).is_some());
    assert!(
        first_summary > Some(started[0]),
        "the start line comes first:\n{output}"
    );
    // One summary per request, matching the response.
    let sums = summaries(&output);
    assert_eq!(
        sums.len(),
        sent.len(),
        "one summary line per request (level {level:?}):\n{output}"
    );
    for (s, (rsp, event)) in sums.iter().zip(&sent) {
        assert_eq!(
            as_num(&s["status"]),
            Some(f64::from(rsp.status)),
            "summary status: {s:?}"
        );
        assert!(as_num(&s["durationMs"]).is_some_and(|d| d >= 0.0), "{s:?}");
        if rsp.status == 200 {
            let body = rsp.json();
            assert_eq!(s["event"].as_str(), Some(*event), "{s:?}");
            assert_eq!(as_num(&s["files"]), body["files"].as_f64(), "{s:?}");
            let stored = body["stored"].as_array().map(|a| a.len() as f64);
            assert_eq!(as_num(&s["stored"]), stored, "stored is a count: {s:?}");
            assert_eq!(as_num(&s["published"]), body["published"].as_f64(), "{s:?}");
        }
    }
}

#[tokio::test]
async fn logs_at_default_level_keep_secrets_and_data_out() {
    run(None).await;
}

#[tokio::test]
async fn logs_at_trace_level_keep_secrets_and_data_out() {
    run(Some("trace")).await;
}

/// docs/contract.md §7: `event` is on every summary line, `null` when the request has
/// none: rejected requests (405, 400, 401) and deliveries without a string event.
#[tokio::test]
async fn event_is_null_when_the_request_has_none() {
    let fx = Fixture::new().await;
    let processed = Delivery::new("extraction.processed").raw_entry(&entry("n", "none"));
    let cases: Vec<(Request, u16, Value)> = vec![
        (processed.unsigned().signature("bm90IGl0"), 401, Value::Null),
        (processed.unsigned(), 401, Value::Null),
        (Request::post(b"{not json".to_vec()), 400, Value::Null),
        (processed.request().method("GET"), 405, Value::Null),
        (
            Delivery::without_event().raw_entry(&entry("a", "none")).request(),
            200,
            Value::Null,
        ),
        (
            Delivery::with_raw_event("5").raw_entry(&entry("b", "none")).request(),
            200,
            Value::Null,
        ),
        (
            Delivery::with_raw_event("null")
                .raw_entry(&entry("c", "none"))
                .request(),
            200,
            Value::Null,
        ),
        (processed.request(), 200, json!("extraction.processed")),
    ];
    for (req, status, _) in &cases {
        let (rsp, _) = fx.send(req).await;
        rsp.assert_status(*status);
    }
    let output = fx.f.stop().await;
    let sums = summaries(&output);
    assert_eq!(sums.len(), cases.len(), "one summary per request:\n{output}");
    for (s, (_, status, event)) in sums.iter().zip(&cases) {
        assert_eq!(as_num(&s["status"]), Some(f64::from(*status)), "{s:?}");
        assert_eq!(s.get("event"), Some(event), "event is present, {event}: {s:?}");
    }
}
