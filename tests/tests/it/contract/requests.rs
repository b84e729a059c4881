//! docs/contract.md §1: the inbound request: method, size, JSON, the four front ends and base64
//! bodies, and the order of the checks.
use e2e::requests::Source;
use e2e::{Delivery, Request};
use serde_json::json;

use super::{check_accepted, entry, Fixture};

fn confirmed() -> Delivery {
    Delivery::new("extraction.confirmed").raw_entry(&entry("ext-1", "batch-1", "file-1", "confirmed", r#"{"a":"b"}"#))
}

#[tokio::test]
async fn other_methods_are_405_with_allow_post() {
    let fx = Fixture::new().await;
    for source in [Source::HttpApiV2, Source::RestV1, Source::FunctionUrl, Source::Alb] {
        for method in ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"] {
            // Even a validly signed delivery.
            let req = confirmed().request().method(method).source(source);
            let (rsp, _) = fx.send(&req).await;
            assert_eq!(rsp.status, 405, "{source:?} {method}: {}", rsp.raw);
            assert_eq!(rsp.header("allow").as_deref(), Some("POST"), "{source:?} {method}");
            if method != "HEAD" {
                rsp.assert_error(405);
            }
        }
    }
    fx.assert_nothing_written().await;
}

#[tokio::test]
async fn body_over_max_body_bytes_is_413_and_exact_size_is_accepted() {
    let d = confirmed();
    let n = d.body().len();
    let fx = Fixture::with(|c| c.set("MAX_BODY_BYTES", &n.to_string())).await;

    // One byte over (a trailing space keeps the JSON and signature valid).
    let mut over = d.body();
    over.push(b' ');
    let sig = d.signature(e2e::SECRET);
    for b64 in [false, true] {
        let mut req = Request::post(over.clone()).signature(&sig);
        if b64 {
            req = req.base64();
        }
        let (rsp, _) = fx.send(&req).await;
        rsp.assert_error(413);
    }
    // 413 comes before the JSON and signature checks.
    let (rsp, _) = fx.send(&Request::post(vec![b'x'; n + 1])).await;
    rsp.assert_error(413);
    fx.assert_nothing_written().await;

    // Exactly MAX_BODY_BYTES: accepted, plain and base64 (the decoded length counts).
    let (rsp, w) = fx.send(&d.request()).await;
    check_accepted(&fx, &d, Some("extraction.confirmed"), &rsp, w, true).await;
    let (rsp, _) = fx.send(&d.request().base64()).await;
    rsp.assert_status(200);
}

#[tokio::test]
async fn non_objects_and_invalid_json_are_400_whatever_the_signature() {
    let fx = Fixture::new().await;
    let bodies: [&[u8]; 10] = [
        b"[1,2]",
        b"\"just a string\"",
        b"null",
        b"42",
        b"not json",
        b"{\"event\":\"extraction.confirmed\",\"result\":[",
        b"{\"event\":\"extraction.confirmed\",\"result\":[]} trailing",
        b"",
        b"   ",
        b"\xff\xfe{}",
    ];
    for body in bodies {
        for signed in [false, true] {
            let mut req = Request::post(body.to_vec()).base64();
            if signed {
                req = req.signature(&e2e::requests::sign(e2e::SECRET, body));
            }
            let (rsp, _) = fx.send(&req).await;
            assert_eq!(
                rsp.status,
                400,
                "{:?} signed={signed}: {}",
                String::from_utf8_lossy(body),
                rsp.raw
            );
            rsp.assert_error(400);
        }
    }
    // No body at all.
    let (rsp, _) = fx.send(&Request::post(Vec::new()).no_body()).await;
    rsp.assert_error(400);
    fx.assert_nothing_written().await;
}

#[tokio::test]
async fn base64_that_does_not_decode_is_400() {
    let fx = Fixture::new().await;
    let d = confirmed();
    for text in ["%%%not-base64%%%", "eyJldmVudCI6"] {
        let req = d.request().raw_base64_body(text);
        let (rsp, _) = fx.send(&req).await;
        rsp.assert_error(400);
    }
    fx.assert_nothing_written().await;
}

#[tokio::test]
async fn checks_run_in_order_method_size_json_signature() {
    let fx = Fixture::with(|c| c.set("MAX_BODY_BYTES", "16")).await;
    let big_bad = Request::post(b"this is not json and longer than 16".to_vec());
    // Method before size.
    let (rsp, _) = fx.send(&big_bad.clone().method("GET")).await;
    assert_eq!(rsp.status, 405, "{}", rsp.raw);
    // Size before JSON and signature.
    let (rsp, _) = fx.send(&big_bad).await;
    rsp.assert_error(413);
    // JSON before signature.
    let (rsp, _) = fx.send(&Request::post(b"nope".to_vec())).await;
    rsp.assert_error(400);
    // Then the signature.
    let (rsp, _) = fx.send(&Request::post(br#"{"result":[]}"#.to_vec())).await;
    rsp.assert_error(401);
    fx.assert_nothing_written().await;
}

#[tokio::test]
async fn every_front_end_and_base64_body_is_handled_the_same() {
    let fx = Fixture::new().await;
    let mut n = 0;
    for source in [Source::HttpApiV2, Source::RestV1, Source::FunctionUrl, Source::Alb] {
        for b64 in [false, true] {
            n += 1;
            let d = Delivery::new("extraction.confirmed").raw_entry(&entry(
                "ext-1",
                &format!("{source:?}").to_lowercase(),
                &format!("file-{b64}"),
                "confirmed",
                r#"{"total":1.50}"#,
            ));
            let mut req = d.request().source(source);
            if b64 {
                req = req.base64();
            }
            let (rsp, w) = fx.send(&req).await;
            assert_eq!(
                rsp.header("content-type").as_deref(),
                Some("application/json"),
                "{source:?}: {}",
                rsp.raw
            );
            check_accepted(&fx, &d, Some("extraction.confirmed"), &rsp, w, true).await;
            // check_accepted looks at the whole bucket: start clean for the next one.
            fx.clear().await;
        }
    }
    assert_eq!(n, 8);
}

#[tokio::test]
async fn content_type_does_not_matter() {
    let fx = Fixture::new().await;
    for (i, ct) in [
        "text/plain",
        "application/octet-stream",
        "application/x-www-form-urlencoded",
    ]
    .iter()
    .enumerate()
    {
        let d = Delivery::new("extraction.processed").raw_entry(&entry("e", "b", &format!("f{i}"), "processed", "{}"));
        let req = d.request().without_header("content-type").header("Content-Type", ct);
        let (rsp, _) = fx.send(&req.base64()).await;
        rsp.assert_status(200);
        assert_eq!(rsp.json()["files"], json!(1));
    }
    // And with no Content-Type at all.
    let d = Delivery::new("extraction.processed").raw_entry(&entry("e", "b", "f9", "processed", "{}"));
    let (rsp, _) = fx.send(&d.request().without_header("content-type")).await;
    rsp.assert_status(200);
}
