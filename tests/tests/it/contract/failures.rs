//! docs/contract.md §5: S3 or SNS unreachable gives a retryable 502; the retry, once the service
//! is back, gives 200 with nothing missing and nothing duplicated.
use e2e::expect::Window;
use e2e::proxy::Mode;
use e2e::{moto, Delivery, FaultProxy, Stack};

use super::{check_accepted, entry, Fixture};

fn delivery() -> Delivery {
    Delivery::new("extraction.confirmed")
        .raw_entry(&entry("ext-1", "batch-1", "file-1", "confirmed", r#"{"a":1}"#))
        .raw_entry(&entry("ext-1", "batch-1", "file-2", "confirmed", r#"{"a":2}"#))
}

async fn s3_outage(mode: Mode) {
    let proxy = FaultProxy::start(moto::shared().addr()).await;
    let fx = Fixture::on(Stack::new().await, |c| c.s3_endpoint(&proxy.url())).await;
    let d = delivery();

    proxy.set(mode);
    let (rsp, _) = fx.send(&d.request()).await;
    let body = rsp.assert_error(502);
    assert!(
        proxy.accepted() > 0 || mode == Mode::Refuse,
        "S3 went through the proxy"
    );
    assert!(
        !body.to_string().contains("\"a\":1"),
        "no extracted data in the error: {body}"
    );
    fx.assert_nothing_written().await;

    proxy.forward();
    let (rsp, w) = fx.send(&d.request()).await;
    check_accepted(&fx, &d, Some("extraction.confirmed"), &rsp, w, true).await;
    assert!(proxy.accepted() > 0, "S3 went through the proxy");
}

#[tokio::test]
async fn s3_resetting_connections_is_502_then_the_retry_succeeds() {
    s3_outage(Mode::Reset).await;
}

#[tokio::test]
async fn s3_refusing_connections_is_502_then_the_retry_succeeds() {
    s3_outage(Mode::Refuse).await;
}

async fn sns_outage(mode: Mode) {
    let proxy = FaultProxy::start(moto::shared().addr()).await;
    let fx = Fixture::on(Stack::new().await, |c| c.sns_endpoint(&proxy.url())).await;
    let d = delivery();

    proxy.set(mode);
    let (rsp, first) = fx.send(&d.request()).await;
    rsp.assert_error(502);
    // Everything was stored before publishing: the archive copy can be replayed.
    let stored_during_outage = fx.keys().await;
    assert_eq!(
        stored_during_outage.len(),
        3,
        "archive + 2 files: {stored_during_outage:?}"
    );
    assert!(
        stored_during_outage.iter().any(|k| k.contains("/_deliveries/")),
        "{stored_during_outage:?}"
    );
    assert!(fx.stack.confirmed_messages().await.is_empty(), "nothing published");

    proxy.forward();
    let (rsp, w) = fx.send(&d.request()).await;
    // Exactly one message per file, the same three objects. The retry is an exact repeat
    // of a body already archived, so its receipt time is the first request's
    // (docs/contract.md §9): the window spans both requests.
    let both = Window {
        before: first.before,
        after: w.after,
    };
    check_accepted(&fx, &d, Some("extraction.confirmed"), &rsp, both, true).await;
    if w.before.date() == w.after.date() {
        assert_eq!(fx.keys().await, stored_during_outage, "the retry rewrote the same keys");
    }
    assert!(proxy.accepted() > 0, "SNS went through the proxy");
}

#[tokio::test]
async fn sns_resetting_connections_is_502_then_the_retry_succeeds() {
    sns_outage(Mode::Reset).await;
}

#[tokio::test]
async fn sns_refusing_connections_is_502_then_the_retry_succeeds() {
    sns_outage(Mode::Refuse).await;
}

#[tokio::test]
async fn processed_needs_only_s3() {
    // SNS down does not matter for a delivery that publishes nothing.
    let proxy = FaultProxy::start(moto::shared().addr()).await;
    let fx = Fixture::on(Stack::new().await, |c| c.sns_endpoint(&proxy.url())).await;
    proxy.set(Mode::Refuse);
    let d = Delivery::new("extraction.processed").raw_entry(&entry("e", "b", "f", "processed", "{}"));
    let (rsp, w) = fx.send(&d.request()).await;
    check_accepted(&fx, &d, Some("extraction.processed"), &rsp, w, true).await;
}
