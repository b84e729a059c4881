//! Nothing acknowledged is lost under throttling (docs/capacity.md, the short version of
//! `bench/capacity/simulate`): eight `webhook` processes (the function's concurrency
//! limit) take 40 deliveries per second, while S3 answers `503 SlowDown` above 30 requests
//! per second on the bucket and SNS `Throttling` above 2 per second. Throttled requests hold
//! the instances, so most deliveries are refused (`500`, as API Gateway answers a throttled
//! Lambda) and some are queued (`202`); once the redrive queue is drained, every delivery
//! answered `200` or `202` has its archive copy, every file object with its exact bytes,
//! and every SNS message. About 10-15 s.
//!
//! Build the binaries first: `scripts/build-binaries`.
use e2e::overload::{run, Scenario};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_acknowledged_is_lost_under_throttling() {
    let s = Scenario {
        deliveries: 160,
        rate: 40.0,
        max_files: 4,
        instances: 8,
        api_throttle: None,
        s3_limit: (30, 2),
        sns_limit: 2,
        redrive_instances: 2,
        retry_mode: "standard".into(),
        max_attempts: 3,
        // Short, so that throttled deliveries are queued within the test's time.
        ack_deadline_ms: 1_500,
    };
    let r = run(&s).await;
    eprintln!("throttling: {}", r.summary(&s));
    assert!(
        r.lost.is_empty(),
        "{} acknowledged deliveries incomplete after the drain, e.g. {:?}",
        r.lost.len(),
        &r.lost[..r.lost.len().min(5)]
    );
    // The function itself answers 200, 202 or 502, never 500 (a panic, docs/contract.md
    // §5): a 500 is only ever the harness's, for an invocation that found every instance
    // busy.
    let unexpected: Vec<_> = r
        .statuses
        .keys()
        .filter(|s| r.from_function(**s) > 0 && ![200, 202, 502].contains(*s))
        .collect();
    assert!(
        unexpected.is_empty(),
        "the function answered other than 200/202/502: {unexpected:?} ({:?} of {:?} the harness's)",
        r.front,
        r.statuses
    );
    assert!(
        r.front.keys().all(|s| *s == 500),
        "the harness made only 500s: {:?}",
        r.front
    );
    assert_eq!(
        r.statuses.values().sum::<usize>(),
        s.deliveries,
        "every delivery answered"
    );
    // The run proves nothing unless the limits were met: the instances refused some,
    // S3 and SNS throttled some requests, and some deliveries went through the queue
    // (202s, which only the function answers).
    assert!(
        r.front.get(&500).is_some_and(|n| *n > 0),
        "the concurrency limit never refused a delivery"
    );
    assert!(r.from_function(200) > 0, "no delivery completed live");
    assert!(r.s3_requests.1 > 0 && r.sns_requests.1 > 0, "S3 or SNS never throttled");
    assert!(r.count(202) > 0, "no delivery was queued");
    assert_eq!(r.redrive.2, 0, "no queued delivery reached the receive limit");
    assert!(r.redrive.0 >= r.count(202), "every 202 completed from the queue");
    assert!(r.objects_checked > 0 && r.messages.0 > 0);
}
