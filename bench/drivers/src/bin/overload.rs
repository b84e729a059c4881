//! The overload simulation of docs/capacity.md (`bench/capacity/simulate` runs it): the
//! real `webhook` binary behind a concurrency limit and, at the fault proxy, S3 and SNS
//! throttled as AWS throttles them, driven above those limits by an open-loop load
//! (`e2e::overload`). Each scenario runs on a fresh stack; the table shows what the sender
//! saw, what the SDK's retries did at the proxies, what the redrive queue completed, and
//! how many acknowledged deliveries are incomplete once the queue is drained (must be 0).
//!
//! ```text
//! overload [--only NAME,...] [--deliveries N] [--out FILE]
//! ```
//! The scenarios (`--only` picks some): `concurrency` (a stage throttle and too few
//! instances, S3 and SNS unthrottled), `archive-prefix` (S3 limited per key prefix: every
//! archive copy of one event and day shares one), `new-bucket` (S3 limited on the whole
//! bucket, as a new bucket's one partition), `sns` (SNS publish quota), and `retry-*`, the
//! new-bucket and SNS limits together under each retry setting compared (standard with 2, 3
//! and 5 attempts, adaptive with 3). Prints a Markdown table; `--out` keeps every report as
//! JSON. Exits non-zero when an acknowledged delivery is incomplete.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use e2e::overload::{run, Report, Scenario};
use serde_json::Value;

struct Named {
    name: &'static str,
    what: &'static str,
    scenario: Scenario,
}

fn scenarios(deliveries: usize) -> Vec<Named> {
    let base = Scenario {
        deliveries,
        rate: 40.0,
        max_files: 5,
        instances: 8,
        api_throttle: None,
        // Unthrottled unless a scenario says otherwise (moto serves a few hundred a second).
        s3_limit: (10_000, 2),
        sns_limit: 10_000,
        redrive_instances: 2,
        retry_mode: "standard".into(),
        max_attempts: 3,
        ack_deadline_ms: 5_000,
    };
    let mut out = vec![
        Named {
            name: "concurrency",
            what: "stage throttle 30/s (burst 10), 3 instances; S3, SNS unthrottled",
            scenario: Scenario {
                api_throttle: Some((30, 10)),
                instances: 3,
                ..base.clone()
            },
        },
        Named {
            name: "archive-prefix",
            what: "S3 4/s per key prefix (the archive's day/event prefix is shared)",
            scenario: Scenario {
                s3_limit: (4, 0),
                ..base.clone()
            },
        },
        Named {
            name: "new-bucket",
            what: "S3 40/s on the whole bucket (a new bucket's one partition)",
            scenario: Scenario {
                s3_limit: (40, 2),
                ..base.clone()
            },
        },
        Named {
            name: "sns",
            what: "SNS 3 requests/s",
            scenario: Scenario {
                sns_limit: 3,
                ..base.clone()
            },
        },
    ];
    for (name, mode, attempts) in [
        ("retry-standard-2", "standard", 2),
        ("retry-standard-3", "standard", 3),
        ("retry-standard-5", "standard", 5),
        ("retry-adaptive-3", "adaptive", 3),
    ] {
        out.push(Named {
            name,
            what: "S3 40/s on the bucket and SNS 3/s together",
            scenario: Scenario {
                s3_limit: (40, 2),
                sns_limit: 3,
                retry_mode: mode.into(),
                max_attempts: attempts,
                ..base.clone()
            },
        });
    }
    out
}

fn row(name: &str, what: &str, s: &Scenario, r: &Report) -> String {
    let pct = |status: u16| {
        format!(
            "{} ({:.0}%)",
            r.count(status),
            100.0 * r.count(status) as f64 / s.deliveries as f64
        )
    };
    format!(
        "| {name} | {what} | {} x{} | {} | {} | {} | {} | {} | {:.0} / {:.0} | {:.0} / {:.0} | {} ({}) | {} ({}) | {:.2} (max {}) | {} / {} / {} | {:.1} | {} |",
        s.retry_mode,
        s.max_attempts,
        pct(200),
        pct(202),
        pct(429),
        pct(500),
        pct(502),
        r.latency_200_ms.0,
        r.latency_200_ms.1,
        r.latency_202_ms.0,
        r.latency_202_ms.1,
        r.s3_requests.0,
        r.s3_requests.1,
        r.sns_requests.0,
        r.sns_requests.1,
        r.s3_attempts_per_key,
        r.s3_most_attempts_per_key,
        r.redrive.0,
        r.redrive.1,
        r.redrive.2,
        r.drain_s,
        r.lost.len(),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let mut only: Option<Vec<String>> = None;
    let mut deliveries = 600;
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&format!("{a} needs a value")));
        match a.as_str() {
            "--only" => only = Some(value().split(',').map(str::to_owned).collect()),
            "--deliveries" => deliveries = value().parse().unwrap_or_else(|_| usage("--deliveries takes a number")),
            "--out" => out = Some(PathBuf::from(value())),
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let all = scenarios(deliveries);
    if let Some(names) = &only {
        for n in names {
            if !all.iter().any(|s| s.name == n) {
                usage(&format!("unknown scenario {n}"));
            }
        }
    }
    println!(
        "| scenario | limits | retry | 200 | 202 | 429 | 500 | 502 | 200 p50 / p99 ms | 202 p50 / p99 ms | S3 requests (SlowDown) | SNS requests (Throttling) | S3 requests per key | redrive completed / retried / dead | drain s | lost |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut reports = Vec::new();
    let mut lost = 0;
    for n in all
        .iter()
        .filter(|s| only.as_ref().is_none_or(|o| o.iter().any(|x| x == s.name)))
    {
        eprintln!(
            "overload: {} ({}, {} deliveries at {}/s)...",
            n.name, n.what, deliveries, n.scenario.rate
        );
        let r = run(&n.scenario).await;
        eprintln!("overload: {}: {}", n.name, r.summary(&n.scenario));
        for l in r.lost.iter().take(5) {
            eprintln!("overload: {}: LOST {l}", n.name);
        }
        lost += r.lost.len();
        println!("{}", row(n.name, n.what, &n.scenario, &r));
        let mut j = r.json(&n.scenario);
        j["name"] = Value::from(n.name);
        reports.push(j);
    }
    if let Some(path) = out {
        let text = serde_json::to_string_pretty(&reports).unwrap_or_default();
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("overload: could not write {}: {e}", path.display());
            std::process::exit(1);
        }
    }
    if lost > 0 {
        eprintln!("overload: {lost} acknowledged deliveries incomplete after the drain");
        std::process::exit(1);
    }
}

fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("overload: {problem}");
    }
    eprintln!("usage: overload [--only NAME,...] [--deliveries N] [--out FILE]");
    std::process::exit(2);
}
