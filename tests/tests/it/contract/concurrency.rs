//! docs/contract.md §5: never more than `MAX_CONCURRENCY` S3/SNS requests in flight, measured at
//! a proxy that both services go through.
use e2e::{moto, Delivery, FaultProxy, Stack};

use super::{check_accepted, entry, Fixture};

/// Sends one confirmed delivery of `files` files and returns the peak number of
/// requests in flight to S3 and SNS together.
async fn peak(max_concurrency: Option<&str>, files: usize) -> usize {
    let proxy = FaultProxy::start(moto::shared().addr()).await;
    let fx = Fixture::on(Stack::new().await, |c| {
        let c = c.s3_endpoint(&proxy.url()).sns_endpoint(&proxy.url());
        match max_concurrency {
            Some(m) => c.set("MAX_CONCURRENCY", m),
            None => c,
        }
    })
    .await;
    let mut d = Delivery::new("extraction.confirmed");
    for i in 0..files {
        d = d.raw_entry(&entry(
            "ext",
            "batch",
            &format!("file-{i:02}"),
            "confirmed",
            r#"{"n":1}"#,
        ));
    }
    let (rsp, w) = fx.send(&d.request()).await;
    check_accepted(&fx, &d, Some("extraction.confirmed"), &rsp, w, true).await;
    let p = proxy.peak_in_flight();
    eprintln!("peak in flight: {p} (MAX_CONCURRENCY {max_concurrency:?}, {files} files)");
    p
}

#[tokio::test]
async fn max_concurrency_bounds_requests_in_flight() {
    let one = peak(Some("1"), 6).await;
    assert_eq!(one, 1, "MAX_CONCURRENCY=1: one request at a time");
    let two = peak(Some("2"), 12).await;
    assert!((1..=2).contains(&two), "MAX_CONCURRENCY=2: peak {two}");
}

#[tokio::test]
async fn writes_run_concurrently_by_default() {
    // The control for the test above: the proxy does see concurrency when it is allowed.
    let peak = peak(None, 12).await;
    assert!(peak > 2, "12 files with the default MAX_CONCURRENCY=50: peak {peak}");
}
