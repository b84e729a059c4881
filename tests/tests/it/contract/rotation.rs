//! docs/contract.md §2 and §6: secret rotation without a cold start. With
//! `EXTRACTA_WEBHOOK_SECRET_ARN`, a signature mismatch re-reads the secret from Secrets
//! Manager when the last read is at least the refresh interval old (30 s; the tests
//! shorten it with `SECRET_REFRESH_INTERVAL_MS`), then verifies again; a flood of forged
//! requests cannot make the function read it more often. Reads are counted by a proxy in
//! front of moto's Secrets Manager (`X-Amz-Target: secretsmanager.GetSecretValue`).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
use std::time::{Duration, Instant};

use e2e::{moto, Delivery, FaultProxy, Stack};

use super::{entry, Fixture};

const GET_SECRET: &str = "secretsmanager.GetSecretValue";
const OLD: &str = "E_AI_K_rotation-old-not-real";
const NEW: &str = "E_AI_K_rotation-new-not-real";
const FORGED: &str = "E_AI_K_rotation-forged-not-real";

fn delivery(n: usize) -> Delivery {
    Delivery::new("extraction.processed").raw_entry(&entry("ext-rot", "b", &format!("f{n}"), "processed", "{}"))
}

/// A function reading its secret (initially `OLD`) through a counting proxy, with
/// `interval_ms` as `SECRET_REFRESH_INTERVAL_MS` when given. Returns once it has started
/// (asked for its first event).
async fn start(interval_ms: Option<u64>) -> (Fixture, FaultProxy, String) {
    let proxy = FaultProxy::start(moto::shared().addr()).await;
    let stack = Stack::new().await;
    let arn = stack.aws.create_secret(OLD).await;
    let fx = Fixture::on(stack, |c| {
        let c = c
            .unset("EXTRACTA_WEBHOOK_SECRET")
            .set("EXTRACTA_WEBHOOK_SECRET_ARN", &arn)
            .secrets_endpoint(&proxy.url());
        match interval_ms {
            Some(ms) => c.set("SECRET_REFRESH_INTERVAL_MS", &ms.to_string()),
            None => c,
        }
    })
    .await;
    assert!(
        fx.f.api().wait_next_call(Duration::from_secs(20)).await,
        "the function did not start:\n{}",
        fx.f.output()
    );
    assert_eq!(
        proxy.count_target(GET_SECRET),
        1,
        "one read at start: {:?}",
        proxy.requests()
    );
    (fx, proxy, arn)
}

async fn rotate(fx: &Fixture, arn: &str, value: &str) {
    fx.stack
        .aws
        .secrets
        .put_secret_value()
        .secret_id(arn)
        .secret_string(value)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_rotated_secret_is_read_again_without_a_restart() {
    const INTERVAL: Duration = Duration::from_millis(2000);
    let (fx, proxy, arn) = start(Some(INTERVAL.as_millis() as u64)).await;
    let started = Instant::now();
    let (rsp, _) = fx.send(&delivery(0).signed(OLD)).await;
    rsp.assert_status(200);

    // GIVEN the secret is rotated to `new,old` while the function runs
    rotate(&fx, &arn, &format!("{NEW},{OLD}")).await;
    tokio::time::sleep(INTERVAL.saturating_sub(started.elapsed()) + Duration::from_millis(200)).await;

    // WHEN a delivery signed with the new key arrives, THEN it is a 200 (one more read)
    let (rsp, _) = fx.send(&delivery(1).signed(NEW)).await;
    rsp.assert_status(200);
    assert_eq!(proxy.count_target(GET_SECRET), 2, "one re-read");
    // The old key still works, and a match needs no read.
    let (rsp, _) = fx.send(&delivery(2).signed(OLD)).await;
    rsp.assert_status(200);
    let (rsp, _) = fx.send(&delivery(3).signed(NEW)).await;
    rsp.assert_status(200);
    assert_eq!(proxy.count_target(GET_SECRET), 2, "a match reads nothing");

    // AND a flood of forged signatures reads the secret at most once per interval
    let flood_start = Instant::now();
    let mut forged = 0;
    while flood_start.elapsed() < INTERVAL * 2 + INTERVAL / 2 {
        let (rsp, _) = fx.send(&delivery(100 + forged).signed(FORGED)).await;
        rsp.assert_error(401);
        forged += 1;
    }
    let flood_time = flood_start.elapsed();
    let reads = proxy.count_target(GET_SECRET) - 2;
    // The last read was just before the flood: one per whole interval at most.
    let allowed = (flood_time.as_millis() / INTERVAL.as_millis()) as usize;
    assert!(
        reads <= allowed,
        "{forged} forged requests in {flood_time:?} read the secret {reads} times (at most {allowed})"
    );
    assert!(forged > 20, "the flood was a flood: {forged}");
    // A forged signature is never accepted, however often the secret is read.
    fx.assert_no_forged_writes(forged).await;
}

#[tokio::test]
async fn forged_signatures_right_after_start_read_nothing_in_30_s() {
    // The default interval (30 s): a flood during the first seconds reads nothing more.
    let (fx, proxy, arn) = start(None).await;
    rotate(&fx, &arn, &format!("{NEW},{OLD}")).await;
    let flood_start = Instant::now();
    let mut forged = 0;
    while flood_start.elapsed() < Duration::from_secs(3) {
        let (rsp, _) = fx.send(&delivery(forged).signed(FORGED)).await;
        rsp.assert_error(401);
        forged += 1;
    }
    assert_eq!(
        proxy.count_target(GET_SECRET),
        1,
        "{forged} forged requests within 30 s of the start read nothing"
    );
    // The rotated key is not known yet (the last read is under 30 s old): 401, no read.
    let (rsp, _) = fx.send(&delivery(1000).signed(NEW)).await;
    rsp.assert_error(401);
    assert_eq!(proxy.count_target(GET_SECRET), 1);
    let (rsp, _) = fx.send(&delivery(1001).signed(OLD)).await;
    rsp.assert_status(200);
}

impl Fixture {
    /// Asserts no forged delivery (`f100`.. of `ext-rot`) left an object.
    async fn assert_no_forged_writes(&self, forged: usize) {
        let keys = self.keys().await;
        for n in 100..100 + forged {
            let key = format!("{}ext-rot/b/f{n}/processed.json", self.prefix);
            assert!(!keys.contains(&key), "a forged delivery was stored: {key}");
        }
    }
}
