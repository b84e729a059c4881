//! Overload: the real `webhook` binary behind the limits AWS puts around it, driven above
//! them (docs/capacity.md). A fixed number of processes plays the function's reserved
//! concurrency (an invocation that finds them all busy is answered `500`, as API Gateway
//! answers a throttled Lambda), an optional token bucket plays the HTTP API stage throttle
//! (`429`), S3 and SNS sit behind [`FaultProxy`]s whose [`Throttle`] rules answer `503
//! SlowDown` and `Throttling` above their rates, and the redrive queue is drained by an
//! [`crate::EventSourceMapping`] with its own processes (`MaximumConcurrency`). Deliveries
//! arrive at a fixed rate whatever the answers (open loop), as Extracta sends them.
//!
//! [`run`] returns what the sender saw, what the SDK's retries did at the proxies, what the
//! queue completed, and every acknowledged delivery (`200` or `202`) that is not complete
//! once the queue is drained: the list that must be empty.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::expect::{component, event_id, file_key, DEFAULT_PREFIX};
use crate::proxy::{Action, FaultProxy, PathFilter, Rule, Throttle};
use crate::requests::entry_text;
use crate::{moto, Delivery, EventSourceMapping, Function, Stack};

/// The events a run cycles through: two that publish, two that do not.
const EVENTS: [&str; 4] = [
    "extraction.confirmed",
    "extraction.processed",
    "extraction.failed",
    "extraction.edited",
];

/// One overload run's limits and load.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Deliveries sent.
    pub deliveries: usize,
    /// Deliveries offered per second, whatever the answers.
    pub rate: f64,
    /// Files per delivery cycle through 1..=`max_files`.
    pub max_files: usize,
    /// `webhook` processes for live requests: the function's concurrency limit.
    pub instances: usize,
    /// The HTTP API stage throttle (rate per second, burst); `None`: no stage throttle.
    pub api_throttle: Option<(u32, u32)>,
    /// S3 requests per second per prefix, and the prefix depth ([`Throttle::s3`]).
    pub s3_limit: (u32, u8),
    /// SNS requests per second.
    pub sns_limit: u32,
    /// `webhook` processes the redrive's event source mapping invokes (`MaximumConcurrency`).
    pub redrive_instances: usize,
    /// `AWS_RETRY_MODE` of the function (`standard` or `adaptive`).
    pub retry_mode: String,
    /// `AWS_MAX_ATTEMPTS` of the function.
    pub max_attempts: u32,
    /// `ACK_DEADLINE_MS`.
    pub ack_deadline_ms: u64,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            deliveries: 600,
            rate: 40.0,
            max_files: 5,
            instances: 4,
            api_throttle: None,
            s3_limit: (120, 2),
            sns_limit: 10,
            redrive_instances: 2,
            retry_mode: "standard".into(),
            max_attempts: 3,
            ack_deadline_ms: 5_000,
        }
    }
}

/// What one delivery looked like to its sender.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The delivery's number.
    pub n: usize,
    /// The HTTP status the sender got.
    pub status: u16,
    /// From sending to the answer.
    pub latency: Duration,
    /// The answer's body (`null` for the front's own 429 and 500).
    pub body: Value,
    /// Whether the harness in front of the function made the answer (429, 500).
    pub front: bool,
}

/// Everything [`run`] measured.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Answers by status.
    pub statuses: BTreeMap<u16, usize>,
    /// Of those, the answers the harness made in front of the function, by status: `500`
    /// when every instance was busy, `429` from the stage throttle. The rest are the
    /// function's own.
    pub front: BTreeMap<u16, usize>,
    /// Median and 99th percentile latency of the `200` answers, in ms.
    pub latency_200_ms: (f64, f64),
    /// Median and 99th percentile latency of the `202` answers, in ms.
    pub latency_202_ms: (f64, f64),
    /// Seconds the sending took (deliveries / this = the rate achieved).
    pub send_s: f64,
    /// Seconds from the last answer until the redrive queue was drained.
    pub drain_s: f64,
    /// Requests that reached the S3 proxy, and how many it answered `503 SlowDown`.
    pub s3_requests: (usize, usize),
    /// Requests that reached the SNS proxy, and how many it answered `Throttling`.
    pub sns_requests: (usize, usize),
    /// The most S3 requests one object key received (the SDK's attempts, newest wins' second
    /// write and a redrive's rewrite together).
    pub s3_most_attempts_per_key: usize,
    /// S3 requests per distinct object key.
    pub s3_attempts_per_key: f64,
    /// Redrive records completed, listed for retry (once per failed attempt), dead-lettered.
    pub redrive: (usize, usize, usize),
    /// Acknowledged deliveries (`200` or `202`) with something missing after the drain.
    pub lost: Vec<String>,
    /// Messages expected for acknowledged deliveries, and messages received.
    pub messages: (usize, usize),
    /// Files objects of acknowledged deliveries read back and compared.
    pub objects_checked: usize,
}

impl Report {
    /// How many answers had `status`.
    pub fn count(&self, status: u16) -> usize {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    /// How many answers the function itself gave with `status` (not the harness's).
    pub fn from_function(&self, status: u16) -> usize {
        self.count(status) - self.front.get(&status).copied().unwrap_or(0)
    }

    /// The report as JSON (bench/capacity/simulate keeps it).
    pub fn json(&self, s: &Scenario) -> Value {
        json!({
            "scenario": {
                "deliveries": s.deliveries, "rate": s.rate, "max_files": s.max_files,
                "instances": s.instances, "api_throttle": s.api_throttle,
                "s3_per_prefix_per_s": s.s3_limit.0, "s3_prefix_depth": s.s3_limit.1,
                "sns_per_s": s.sns_limit, "redrive_instances": s.redrive_instances,
                "retry_mode": s.retry_mode, "max_attempts": s.max_attempts,
                "ack_deadline_ms": s.ack_deadline_ms,
            },
            "statuses": self.statuses.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "front": self.front.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "latency_200_ms": [self.latency_200_ms.0, self.latency_200_ms.1],
            "latency_202_ms": [self.latency_202_ms.0, self.latency_202_ms.1],
            "send_s": self.send_s,
            "drain_s": self.drain_s,
            "s3_requests": self.s3_requests.0, "s3_throttled": self.s3_requests.1,
            "sns_requests": self.sns_requests.0, "sns_throttled": self.sns_requests.1,
            "s3_attempts_per_key": self.s3_attempts_per_key,
            "s3_most_attempts_per_key": self.s3_most_attempts_per_key,
            "redrive_completed": self.redrive.0, "redrive_failures": self.redrive.1, "redrive_dead": self.redrive.2,
            "messages_expected": self.messages.0, "messages_received": self.messages.1,
            "objects_checked": self.objects_checked,
            "lost": self.lost,
        })
    }

    /// One line for a person.
    pub fn summary(&self, s: &Scenario) -> String {
        let statuses: Vec<String> = self.statuses.iter().map(|(k, v)| format!("{v}x{k}")).collect();
        format!(
            "{} deliveries at {}/s ({} files max) through {} instances, S3 {}/s per prefix (depth {}), SNS {}/s, \
             retry {} x{}: answers {}; 200 p50/p99 {:.0}/{:.0} ms, 202 p50/p99 {:.0}/{:.0} ms; \
             S3 {} requests ({} SlowDown, {:.2} per key, at most {}), SNS {} ({} Throttling); \
             redrive {} completed, {} retried, {} dead, drained in {:.1} s; {} objects and {}/{} messages checked; lost: {}",
            s.deliveries,
            s.rate,
            s.max_files,
            s.instances,
            s.s3_limit.0,
            s.s3_limit.1,
            s.sns_limit,
            s.retry_mode,
            s.max_attempts,
            statuses.join(", "),
            self.latency_200_ms.0,
            self.latency_200_ms.1,
            self.latency_202_ms.0,
            self.latency_202_ms.1,
            self.s3_requests.0,
            self.s3_requests.1,
            self.s3_attempts_per_key,
            self.s3_most_attempts_per_key,
            self.sns_requests.0,
            self.sns_requests.1,
            self.redrive.0,
            self.redrive.1,
            self.redrive.2,
            self.drain_s,
            self.objects_checked,
            self.messages.1,
            self.messages.0,
            self.lost.len(),
        )
    }
}

/// One planned delivery and what it must leave behind once acknowledged.
struct Planned {
    delivery: Delivery,
    /// `(key, exact bytes)` of each file object.
    files: Vec<(String, String)>,
    /// eventIds of the SNS messages it owes.
    event_ids: Vec<String>,
    /// Whether they are owed on the confirmed topic (else the failed one).
    confirmed: bool,
}

fn plan(run: &str, n: usize, max_files: usize) -> Planned {
    let event = EVENTS[n % EVENTS.len()];
    let kind = event.strip_prefix("extraction.").unwrap_or_default();
    let mut d = Delivery::new(event);
    let (mut files, mut ids) = (Vec::new(), Vec::new());
    let extraction = format!("{run}-{n:05}");
    for i in 0..(1 + n % max_files.max(1)) {
        let file = format!("file-{i}");
        let mut raw = entry_text(&extraction, "batch", &file, kind, &format!(r#"{{"n":{n},"i":{i}}}"#));
        if kind == "failed" {
            raw.insert_str(raw.len() - 1, r#","error":"made-up failure""#);
        }
        d = d.raw_entry(&raw);
        if matches!(kind, "confirmed" | "failed") {
            ids.push(event_id(event, raw.as_bytes()));
        }
        files.push((
            file_key(DEFAULT_PREFIX, &component(&extraction), "batch", &file, kind),
            raw,
        ));
    }
    Planned {
        delivery: d,
        files,
        event_ids: ids,
        confirmed: kind == "confirmed",
    }
}

/// The stage throttle: a token bucket shared by every request.
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn latencies(answers: &[Answer], status: u16) -> (f64, f64) {
    let mut ms: Vec<f64> = answers
        .iter()
        .filter(|a| a.status == status)
        .map(|a| a.latency.as_secs_f64() * 1000.0)
        .collect();
    ms.sort_by(|a, b| a.total_cmp(b));
    (percentile(&ms, 0.5), percentile(&ms, 0.99))
}

/// Runs `s` on a stack of its own and checks every acknowledged delivery once the redrive
/// queue is drained.
pub async fn run(s: &Scenario) -> Report {
    let stack = Arc::new(Stack::new().await);
    let s3 = FaultProxy::start(moto::shared().addr()).await;
    s3.set_rules(vec![Rule::new(
        PathFilter::Any,
        Action::Throttle(Throttle::s3(s.s3_limit.0, s.s3_limit.1)),
    )]);
    let sns = FaultProxy::start(moto::shared().addr()).await;
    sns.set_rules(vec![Rule::new(
        PathFilter::Any,
        Action::Throttle(Throttle::sns(s.sns_limit)),
    )]);
    let config = stack
        .redrive_config()
        .ack_deadline_ms(s.ack_deadline_ms)
        .s3_endpoint(&s3.url())
        .sns_endpoint(&sns.url())
        .set("AWS_RETRY_MODE", &s.retry_mode)
        .set("AWS_MAX_ATTEMPTS", &s.max_attempts.to_string());
    let mut live = Vec::new();
    for _ in 0..s.instances {
        live.push(Arc::new(Function::start(config.clone()).await));
    }
    let mut redrivers = Vec::new();
    for _ in 0..s.redrive_instances {
        redrivers.push(Arc::new(Function::start(config.clone()).await));
    }
    // Lambda's mapping of the template: one record per invocation, 10 receives.
    let poller = EventSourceMapping::new(&stack.res.redrive_queue)
        .batch_size(1)
        .max_receives(10)
        .spawn(stack.aws.clone(), redrivers);

    let run_tag = crate::unique_name("ovl");
    let planned: Arc<Vec<Planned>> = Arc::new((0..s.deliveries).map(|n| plan(&run_tag, n, s.max_files)).collect());
    let idle = Arc::new(Mutex::new(live.clone()));
    let stage = s.api_throttle.map(|(rate, burst)| {
        Arc::new(Mutex::new(Bucket {
            rate: f64::from(rate),
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: Instant::now(),
        }))
    });
    let answers = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..s.deliveries {
        let due = started + Duration::from_secs_f64(n as f64 / s.rate);
        tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
        let (planned, idle, stage, answers) = (planned.clone(), idle.clone(), stage.clone(), answers.clone());
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let throttled = stage.is_some_and(|b| !b.lock().unwrap_or_else(|p| p.into_inner()).take());
            let (status, body, front) = if throttled {
                (429, Value::Null, true)
            } else {
                let instance = idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
                match instance {
                    None => (500, Value::Null, true),
                    Some(f) => {
                        let rsp = f.http(&planned[n].delivery.request()).await;
                        idle.lock().unwrap_or_else(|p| p.into_inner()).push(f);
                        (rsp.status, rsp.json(), false)
                    }
                }
            };
            answers.lock().unwrap_or_else(|p| p.into_inner()).push(Answer {
                n,
                status,
                latency: sent.elapsed(),
                body,
                front,
            });
        }));
    }
    for t in tasks {
        if let Err(e) = t.await {
            std::panic::resume_unwind(e.into_panic());
        }
    }
    let send_s = started.elapsed().as_secs_f64();
    let drained_from = Instant::now();
    let polled = poller.finish().await;
    let drain_s = drained_from.elapsed().as_secs_f64();

    let mut answers = answers.lock().unwrap_or_else(|p| p.into_inner()).clone();
    answers.sort_by_key(|a| a.n);
    let mut report = Report {
        send_s,
        drain_s,
        latency_200_ms: latencies(&answers, 200),
        latency_202_ms: latencies(&answers, 202),
        redrive: (polled.completed, polled.failures, polled.dead),
        ..Report::default()
    };
    for a in &answers {
        *report.statuses.entry(a.status).or_default() += 1;
        if a.front {
            *report.front.entry(a.status).or_default() += 1;
        }
    }
    let seen = s3.requests();
    report.s3_requests = (seen.len(), s3.throttled());
    report.sns_requests = (sns.requests().len(), sns.throttled());
    let mut per_key: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &seen {
        *per_key.entry(r.path.split('?').next().unwrap_or_default()).or_default() += 1;
    }
    report.s3_most_attempts_per_key = per_key.values().copied().max().unwrap_or(0);
    report.s3_attempts_per_key = seen.len() as f64 / per_key.len().max(1) as f64;

    // Nothing acknowledged is lost: every 200 and 202 has its archive copy, every file
    // object with its exact bytes, and every message it owes on its own topic (read
    // through moto directly).
    let keys: BTreeSet<String> = stack.all_keys().await.into_iter().collect();
    let mut messages = 0;
    let mut on_topic = |received: Vec<crate::aws::Received>| {
        messages += received.len();
        received
            .iter()
            .map(|m| m.json()["eventId"].as_str().unwrap_or_default().to_owned())
            .collect::<BTreeSet<String>>()
    };
    let confirmed = on_topic(stack.confirmed_messages().await);
    let failed = on_topic(stack.failed_messages().await);
    let mut expected_messages = 0;
    for a in answers.iter().filter(|a| matches!(a.status, 200 | 202)) {
        let p = &planned[a.n];
        match a.body["archived"].as_str() {
            Some(k) if keys.contains(k) => {}
            other => report.lost.push(format!(
                "delivery {} ({}): archive copy {other:?} missing",
                a.n, a.status
            )),
        }
        for (key, raw) in &p.files {
            if !keys.contains(key) {
                report
                    .lost
                    .push(format!("delivery {} ({}): {key} missing", a.n, a.status));
            } else if stack.object(key).await.bytes != raw.as_bytes() {
                report
                    .lost
                    .push(format!("delivery {} ({}): {key} holds other bytes", a.n, a.status));
            }
            report.objects_checked += 1;
        }
        let (received, topic) = if p.confirmed {
            (&confirmed, "confirmed")
        } else {
            (&failed, "failed")
        };
        for id in &p.event_ids {
            expected_messages += 1;
            if !received.contains(id) {
                report.lost.push(format!(
                    "delivery {} ({}): no message {id} on the {topic} topic",
                    a.n, a.status
                ));
            }
        }
    }
    report.messages = (expected_messages, messages);
    for f in live {
        if let Ok(f) = Arc::try_unwrap(f) {
            f.stop().await;
        }
    }
    report
}
