//! The time and the S3 requests of `webhook-cli erase` over a large delivery archive on moto
//! (docs/performance.md, Erasure).
//!
//! The archive is the real function's: `--deliveries` signed three-file deliveries go
//! through the debug `webhook` binary on the harness (moto, the Runtime API emulator),
//! then each archive copy is copied server-side (`CopyObject`, metadata kept) under
//! `--days` other days, so the archive holds `deliveries x days` copies whose bodies and
//! `entry-ids` the function wrote. The erase runs through the harness's forwarding proxy,
//! which counts its requests by method and path. Two runs:
//! - `indexed`: one file of one delivery erased; the copies' `entry-ids` settle all
//!   but the copies holding it (read and redacted);
//! - `unindexed`: the same archive with `entry-ids` stripped (copies written before the
//!   metadata existed), another file erased: every copy is read.
//!
//! ```text
//! erase-bench [--deliveries N] [--days N] [--cli PATH] [--concurrency N]
//! ```
//! Defaults: 300 deliveries, 100 days (30,000 copies), `target/debug/webhook-cli` beside
//! the webhook binary (`scripts/build-binaries`), concurrency 16. Prints one JSON document
//! per run. Exits non-zero when an erase fails or leaves what it should have erased.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::time::Instant;

use aws_sdk_s3::types::{BucketVersioningStatus, MetadataDirective, VersioningConfiguration};
use e2e::proxy::FaultProxy;
use e2e::{moto, Delivery, Stack};
use serde_json::json;
use tokio::task::JoinSet;

struct Args {
    deliveries: usize,
    days: u32,
    cli: std::path::PathBuf,
    concurrency: usize,
}

fn args() -> Args {
    let mut a = Args {
        deliveries: 300,
        days: 100,
        cli: e2e::function::webhook_bin().with_file_name("webhook-cli"),
        concurrency: 16,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--deliveries" => a.deliveries = value.parse().expect("--deliveries N"),
            "--days" => a.days = value.parse().expect("--days N"),
            "--cli" => a.cli = value.into(),
            "--concurrency" => a.concurrency = value.parse().expect("--concurrency N"),
            _ => panic!("usage: erase-bench [--deliveries N] [--days N] [--cli PATH] [--concurrency N]"),
        }
    }
    assert!(
        a.cli.is_file(),
        "{} not found: run scripts/build-binaries",
        a.cli.display()
    );
    assert!(
        a.days <= 12 * 28,
        "--days is at most 336 (the copies go under the days of 2025)"
    );
    a
}

fn entry(ext: &str, batch: &str, file: &str, n: usize) -> String {
    format!(
        r#"{{"extractionId":"{ext}","batchId":"{batch}","fileId":"{file}","fileName":"cv-{n}.pdf","status":"confirmed","result":{{"name":"Person {n}","skills":["a","b","c"],"years":{n}}},"url":"https://files.example.invalid/{n}.pdf"}}"#
    )
}

#[tokio::main]
async fn main() {
    let a = args();
    let stack = Stack::new().await;
    let bucket = stack.res.bucket.clone();
    versioned(&stack).await;

    // The function writes the deliveries' archive copies and file objects.
    let f = stack.start(stack.config()).await;
    let started = Instant::now();
    for i in 0..a.deliveries {
        let (ext, batch) = (format!("ext-{}", i % 50), format!("batch-{i}"));
        let mut d = Delivery::new("extraction.confirmed");
        for j in 0..3 {
            d = d.raw_entry(&entry(&ext, &batch, &format!("file-{j}"), i * 3 + j));
        }
        let rsp = f.http(&d.request()).await;
        assert_eq!(rsp.status, 200, "{}", rsp.text());
    }
    eprintln!(
        "{} deliveries through the function in {:.1?}",
        a.deliveries,
        started.elapsed()
    );
    let _ = stack.confirmed_messages().await;
    drop(f);

    let prefix = e2e::expect::DEFAULT_PREFIX;
    let root = format!("{prefix}_deliveries/");
    let originals = stack.aws.list_keys(&bucket, &root).await;
    assert_eq!(originals.len(), a.deliveries);
    let started = Instant::now();
    copy_days(&stack, &stack.res.bucket, &originals, a.days, a.concurrency, true).await;
    let copies = stack.aws.list_keys(&bucket, &root).await.len();
    eprintln!("{copies} archive copies after copying in {:.1?}", started.elapsed());

    // Indexed: erase the second file of delivery 7, in `days` copies.
    let indexed = ["--extraction", "ext-7", "--batch", "batch-7", "--file", "file-1"];
    run(&stack.res.bucket, &a, "indexed", copies, &indexed).await;

    // Unindexed: the same copies in a second bucket without entry-ids, another file.
    let started = Instant::now();
    let legacy = Stack::new().await;
    versioned(&legacy).await;
    let current = stack.aws.list_keys(&bucket, &root).await;
    copy_days(&stack, &legacy.res.bucket, &current, 0, a.concurrency, false).await;
    eprintln!("copied without entry-ids in {:.1?}", started.elapsed());
    let unindexed = ["--extraction", "ext-8", "--batch", "batch-8", "--file", "file-2"];
    run(&legacy.res.bucket, &a, "unindexed", copies, &unindexed).await;
}

/// Versioning on, as the template sets it.
async fn versioned(stack: &Stack) {
    stack
        .aws
        .s3
        .put_bucket_versioning()
        .bucket(&stack.res.bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("versioning");
}

/// With `keep`, copies every key to the same key under `days` other days of `dest`
/// (metadata kept); without, copies every key to the same key of `dest` with its metadata
/// minus `entry-ids`.
async fn copy_days(stack: &Stack, dest: &str, keys: &[String], days: u32, concurrency: usize, keep: bool) {
    let mut jobs: Vec<(String, String)> = Vec::new();
    for key in keys {
        if !keep {
            jobs.push((key.clone(), key.clone()));
            continue;
        }
        // `{prefix}_deliveries/YYYY/MM/DD/...`: the same key under earlier days.
        let (head, tail) = key.split_once("_deliveries/").expect("an archive key");
        let rest = tail.get(11..).expect("YYYY/MM/DD/");
        for d in 1..=days {
            let (month, day) = (1 + (d - 1) / 28, 1 + (d - 1) % 28);
            jobs.push((
                key.clone(),
                format!("{head}_deliveries/2025/{month:02}/{day:02}/{rest}"),
            ));
        }
    }
    let mut set = JoinSet::new();
    let mut jobs = jobs.into_iter();
    loop {
        while set.len() < concurrency {
            let Some((from, to)) = jobs.next() else { break };
            let (s3, bucket, target) = (stack.aws.s3.clone(), stack.res.bucket.clone(), dest.to_owned());
            set.spawn(async move {
                let source = format!("{bucket}/{from}");
                let req = s3.copy_object().bucket(&target).key(&to).copy_source(source);
                let req = if keep {
                    req.metadata_directive(MetadataDirective::Copy)
                } else {
                    let head = s3.head_object().bucket(&bucket).key(&from).send().await.expect("head");
                    let mut meta = head.metadata().cloned().unwrap_or_default();
                    meta.remove("entry-ids");
                    req.metadata_directive(MetadataDirective::Replace)
                        .content_type("application/json")
                        .set_metadata(Some(meta))
                };
                req.send().await.expect("copy");
            });
        }
        match set.join_next().await {
            Some(done) => done.expect("copy task"),
            None => break,
        }
    }
}

/// One erase through a counting proxy: wall time, requests by kind, per 100,000 copies.
async fn run(bucket: &str, a: &Args, name: &str, copies: usize, selection: &[&str]) {
    let proxy = FaultProxy::start(moto::shared().addr()).await;
    let started = Instant::now();
    let out = tokio::process::Command::new(&a.cli)
        .arg("erase")
        .args(["--bucket", bucket, "--endpoint-url", &proxy.url()])
        .args(["--concurrency", &a.concurrency.to_string()])
        .args(selection)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .output()
        .await
        .expect("webhook-cli runs");
    let seconds = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "erase failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut requests: BTreeMap<&str, usize> = BTreeMap::new();
    for r in proxy.requests() {
        let kind = match (r.method.as_str(), r.path.as_str()) {
            (_, p) if p.contains("versions") => "ListObjectVersions",
            ("HEAD", _) => "HeadObject",
            ("GET", _) => "GetObject",
            ("PUT", _) => "PutObject",
            ("POST", p) if p.contains("delete") => "DeleteObjects",
            _ => "other",
        };
        *requests.entry(kind).or_default() += 1;
    }
    let total: usize = requests.values().sum();
    let per_100k = |n: usize| (n as f64) * 100_000.0 / (copies as f64);
    println!(
        "{}",
        json!({
            "run": name,
            "copies": copies,
            "seconds": (seconds * 10.0).round() / 10.0,
            "secondsPer100kCopies": (per_100k(1) * seconds).round(),
            "requests": requests,
            "requestsPer100kCopies": per_100k(total).round(),
            "concurrency": a.concurrency,
            "summary": stdout.lines().collect::<Vec<_>>(),
        })
    );
}
