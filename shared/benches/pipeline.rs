//! Throughput of the request path without I/O: verify + classify + plan, beside the
//! hashing the contract makes mandatory (the floor) and the rule (b) re-serialization.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use aws_lc_rs::{digest, hmac};
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use shared::delivery::{Delivery, Route};
use shared::layout::Prefix;
use shared::plan::{Destination, Plan};
use shared::sample;
use shared::signature::{Secret, Verifier};
use std::hint::black_box;

const SECRET: &str = "E_AI_K_bench-secret-not-real";

struct Case {
    name: &'static str,
    body: Bytes,
    pretty: Bytes,
    signature: String,
}

fn cases() -> Vec<Case> {
    [("1-file-2KB", 1, 2_000), ("50-file-1MiB", 50, 20_900)]
        .into_iter()
        .map(|(name, files, size)| {
            let body = sample::body("extraction.confirmed", files, size);
            let signature = Secret::new(SECRET).unwrap().sign(sample::result_of(&body).as_bytes());
            let pretty = sample::indent(&body);
            Case {
                name,
                body: Bytes::from(body),
                pretty: Bytes::from(pretty),
                signature,
            }
        })
        .collect()
}

/// Authenticate, classify and plan: everything the function does before I/O.
fn pipeline(body: &Bytes, signature: &str, verifier: &Verifier, to: &Destination) -> usize {
    let delivery = Delivery::parse(body).unwrap();
    verifier
        .verify(Some(signature.as_bytes()), delivery.result_bytes())
        .unwrap();
    let plan = Plan::new(body, &delivery, to, time::OffsetDateTime::UNIX_EPOCH);
    plan.files.len() + plan.messages.len()
}

/// The contract's mandatory hashing alone: HMAC over result, SHA-256 over the body and
/// over each entry (entry bounds known in advance).
fn floor(body: &[u8], result: &[u8], entries: &[std::ops::Range<usize>]) -> u8 {
    let key = hmac::Key::new(hmac::HMAC_SHA256, b"bench-secret-not-real");
    let sha = |b: &[u8]| digest::digest(&digest::SHA256, b).as_ref()[0];
    let mut acc = hmac::sign(&key, result).as_ref()[0] ^ sha(body);
    for r in entries {
        acc ^= sha(&body[r.clone()]);
    }
    acc
}

fn bench(c: &mut Criterion) {
    let verifier = Verifier::Secrets(Secret::parse_list(SECRET).unwrap());
    let to = Destination {
        bucket: "bench-bucket".into(),
        prefix: Prefix::default(),
    };
    for case in cases() {
        let mut group = c.benchmark_group(case.name);
        group.throughput(Throughput::Bytes(case.body.len() as u64));
        group.bench_function("pipeline", |b| {
            b.iter(|| pipeline(black_box(&case.body), &case.signature, &verifier, &to))
        });
        group.bench_function("authenticate-rule-a", |b| {
            b.iter(|| {
                let d = Delivery::parse(black_box(&case.body)).unwrap();
                verifier
                    .verify(Some(case.signature.as_bytes()), d.result_bytes())
                    .unwrap();
            })
        });
        group.bench_function("authenticate-rule-b-pretty", |b| {
            b.iter(|| {
                let d = Delivery::parse(black_box(&case.pretty)).unwrap();
                verifier
                    .verify(Some(case.signature.as_bytes()), d.result_bytes())
                    .unwrap();
            })
        });
        let delivery = Delivery::parse(&case.body).unwrap();
        let result = delivery.result_bytes().unwrap();
        let base = case.body.as_ptr() as usize;
        let entries: Vec<_> = match delivery.route() {
            Route::Files(_, e) => e
                .iter()
                .map(|e| e.raw.as_ptr() as usize - base..e.raw.as_ptr() as usize - base + e.raw.len())
                .collect(),
            Route::ArchiveOnly => unreachable!(),
        };
        group.bench_function("floor-hashing", |b| {
            b.iter(|| floor(black_box(&case.body), result, &entries))
        });
        group.bench_function("plan-only", |b| {
            b.iter_batched(
                || (),
                |_| Plan::new(&case.body, &delivery, &to, time::OffsetDateTime::UNIX_EPOCH),
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
