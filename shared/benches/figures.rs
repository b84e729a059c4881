//! The in-process performance figures (1 and 2 of the README's Performance table) as
//! medians of repeated rounds, printed as JSON for `bench/run` to tabulate.
//!
//! Each round times, on the same bytes and one right after the other: authentication
//! (rule (a) on the compact body, rule (b) on a pretty-printed copy), the documented Node.js
//! listener's work on those same bytes (through `bench/node/listener.js`, a child process
//! driven over a pipe, so Rust and Node samples alternate in one run), the whole pipeline
//! (check + classify + plan) and the contract's mandatory hashing alone (the floor).
//! Ratios are the median of the per-round ratios.
//!
//! Environment: `FIGURES_ROUNDS` (default 11, plus one discarded warm-up round),
//! `FIGURES_SAMPLE_MS` (default 150), `FIGURES_OUT` (write the JSON there, else stdout),
//! `NODE` (default `node`), and for profiling `FIGURES_ONLY` (comma-separated figure
//! names) and `FIGURES_CASES` (case names). `FIGURES_DUMP=DIR` instead writes the signed
//! sample deliveries `lambda-bench` (bench/drivers) sends, and exits.

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use aws_lc_rs::{digest, hmac};
use bytes::Bytes;
use serde_json::{json, Value};
use shared::delivery::{Delivery, Route};
use shared::layout::Prefix;
use shared::plan::{Destination, Plan};
use shared::sample;
use shared::signature::{Secret, Verifier};

/// A fake secret with Extracta's key prefix, so the listener's `replace` does work too.
const SECRET: &str = "E_AI_K_bench-secret-not-real";
/// The largest body the function accepts by default (`MAX_BODY_BYTES`).
const MAX_BODY_BYTES: usize = 6_291_456;

/// One delivery, compact as Extracta sends it and pretty-printed (rule (b)).
struct Case {
    name: &'static str,
    files: usize,
    body: Bytes,
    pretty: Bytes,
    signature: String,
    /// Entry bounds in `body`, for the floor (known in advance: the floor does no parsing).
    entries: Vec<std::ops::Range<usize>>,
    /// Bounds of `result` in `body`.
    result: std::ops::Range<usize>,
}

fn case(name: &'static str, files: usize, entry_size: usize) -> Case {
    let body = sample::body("extraction.confirmed", files, entry_size);
    let secret = Secret::new(SECRET).expect("the bench secret is valid");
    let signature = secret.sign(sample::result_of(&body).as_bytes());
    let pretty = Bytes::from(sample::indent(&body));
    let body = Bytes::from(body);
    let delivery = Delivery::parse(&body).expect("sample bodies parse");
    let base = body.as_ptr() as usize;
    let span = |s: &[u8]| {
        let start = s.as_ptr() as usize - base;
        start..start + s.len()
    };
    let Route::Files(_, entries) = delivery.route() else {
        panic!("sample deliveries are routed")
    };
    let entries = entries.iter().map(|e| span(e.raw)).collect();
    let result = span(delivery.result_bytes().expect("sample bodies have a result"));
    Case {
        name,
        files,
        body,
        pretty,
        signature,
        entries,
        result,
    }
}

/// Authenticate, classify and plan: everything the function does with a body before I/O.
fn pipeline(body: &Bytes, signature: &str, verifier: &Verifier, to: &Destination) -> usize {
    let Ok(delivery) = Delivery::parse(body) else { return 0 };
    if verifier
        .verify(Some(signature.as_bytes()), delivery.result_bytes())
        .is_err()
    {
        return 0;
    }
    let plan = Plan::new(body, &delivery, to, time::OffsetDateTime::UNIX_EPOCH);
    plan.files.len() + plan.messages.len() + plan.messages.iter().map(|m| m.body.len()).sum::<usize>()
}

/// Parse and signature check: what authenticating a delivery costs.
fn authenticate(body: &[u8], signature: &str, verifier: &Verifier) -> bool {
    Delivery::parse(body).is_ok_and(|d| verifier.verify(Some(signature.as_bytes()), d.result_bytes()).is_ok())
}

/// The hashing floor: HMAC over `result`, SHA-256 over the body and over each entry,
/// with every bound known in advance.
fn floor(key: &hmac::Key, case: &Case) -> u8 {
    let body = &case.body[..];
    let sha = |b: &[u8]| digest::digest(&digest::SHA256, b).as_ref()[0];
    let mut acc = hmac::sign(key, &body[case.result.clone()]).as_ref()[0] ^ sha(body);
    for r in &case.entries {
        acc ^= sha(&body[r.clone()]);
    }
    acc
}

/// All the hashing the contract makes mandatory: the hashing floor plus the archive
/// copy's `event-id`, a second SHA-256 over the whole body (`event`, a newline, the body).
fn floor_contract(key: &hmac::Key, case: &Case) -> u8 {
    let mut archive_id = digest::Context::new(&digest::SHA256);
    archive_id.update(b"extraction.confirmed\n");
    archive_id.update(&case.body);
    floor(key, case) ^ archive_id.finish().as_ref()[0]
}

/// Nanoseconds per call of `f`, over batches that fill about `budget`.
fn time_ns<T>(budget: Duration, mut f: impl FnMut() -> T) -> f64 {
    let start = Instant::now();
    let (mut iters, mut batch) = (0u64, 1u64);
    loop {
        for _ in 0..batch {
            black_box(f());
        }
        iters += batch;
        let spent = start.elapsed();
        if spent >= budget {
            return spent.as_nanos() as f64 / iters as f64;
        }
        if spent < Duration::from_millis(10) {
            batch *= 2;
        }
    }
}

/// The Node.js listener as a child process, one JSON command per line.
struct Node {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Node {
    fn start() -> Node {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/node/listener.js");
        let node = std::env::var("NODE").unwrap_or_else(|_| "node".into());
        let mut child = Command::new(&node)
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{node} {}`: {e}; install Node.js 20", script.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Node { child, stdin, stdout }
    }

    fn ask(&mut self, command: Value) -> Value {
        writeln!(self.stdin, "{command}").expect("write to node");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read from node");
        let reply: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("node said {line:?}: {e}"));
        if let Some(err) = reply.get("error") {
            panic!("node: {err}");
        }
        reply
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The figures each round records, in the order they run (reversed on odd rounds).
const FIGURES: [&str; 9] = [
    "auth_a",
    "node_a",
    "auth_b",
    "node_b",
    "pipeline",
    "floor",
    "floor_contract",
    "parse",
    "plan",
];

fn measure(out: Option<PathBuf>) {
    let rounds = env_number("FIGURES_ROUNDS", 11).max(1) as usize;
    let budget = Duration::from_millis(env_number("FIGURES_SAMPLE_MS", 150));
    let selected =
        |var: &str, name: &str| std::env::var(var).map_or(true, |list| list.split(',').any(|item| item.trim() == name));
    let cases: Vec<Case> = [("1-file-2KB", 1, 2_000), ("50-file-1MiB", 50, 20_900)]
        .into_iter()
        .filter(|(name, _, _)| selected("FIGURES_CASES", name))
        .map(|(name, files, size)| case(name, files, size))
        .collect();
    let figures: Vec<usize> = (0..FIGURES.len())
        .filter(|&fi| selected("FIGURES_ONLY", FIGURES[fi]))
        .collect();
    let verifier = Verifier::Secrets(Secret::parse_list(SECRET).expect("the bench secret is valid"));
    let key = hmac::Key::new(hmac::HMAC_SHA256, &SECRET.as_bytes()["E_AI_K_".len()..]);
    let to = Destination {
        bucket: "bench-bucket".into(),
        prefix: Prefix::default(),
    };
    let dir = std::env::temp_dir().join(format!("figures-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut node = figures
        .iter()
        .any(|&fi| FIGURES[fi].starts_with("node"))
        .then(Node::start);
    let mut node_version = Value::Null;
    for c in &cases {
        assert!(
            authenticate(&c.body, &c.signature, &verifier),
            "{}: rule (a) fails",
            c.name
        );
        assert!(
            authenticate(&c.pretty, &c.signature, &verifier),
            "{}: rule (b) fails",
            c.name
        );
        let Some(node) = node.as_mut() else { continue };
        for (suffix, bytes) in [("a", &c.body), ("b", &c.pretty)] {
            let path = dir.join(format!("{}-{suffix}.json", c.name));
            std::fs::write(&path, bytes).expect("write the sample body");
            let reply = node.ask(json!({"cmd": "load", "name": format!("{}-{suffix}", c.name),
                "path": path, "signature": c.signature, "secret": SECRET}));
            node_version = reply["node"].clone();
        }
    }
    // samples[case][figure][round], in nanoseconds per delivery.
    let mut samples = vec![vec![Vec::with_capacity(rounds); FIGURES.len()]; cases.len()];
    let sample_ms = budget.as_millis() as u64;
    for round in 0..=rounds {
        for (ci, c) in cases.iter().enumerate() {
            let plan_delivery = Delivery::parse(&c.body).expect("sample bodies parse");
            let mut order = figures.clone();
            if round % 2 == 1 {
                order.reverse();
            }
            for fi in order {
                let ns = match FIGURES[fi] {
                    "auth_a" => time_ns(budget, || authenticate(black_box(&c.body), &c.signature, &verifier)),
                    "auth_b" => time_ns(budget, || authenticate(black_box(&c.pretty), &c.signature, &verifier)),
                    "pipeline" => time_ns(budget, || pipeline(black_box(&c.body), &c.signature, &verifier, &to)),
                    "floor" => time_ns(budget, || floor(&key, black_box(c))),
                    "floor_contract" => time_ns(budget, || floor_contract(&key, black_box(c))),
                    "parse" => time_ns(budget, || Delivery::parse(black_box(&c.body)).is_ok()),
                    "plan" => time_ns(budget, || {
                        Plan::new(&c.body, &plan_delivery, &to, time::OffsetDateTime::UNIX_EPOCH)
                    }),
                    figure => {
                        let suffix = &figure[figure.len() - 1..];
                        let node = node.as_mut().expect("started for node figures");
                        let reply =
                            node.ask(json!({"cmd": "run", "name": format!("{}-{suffix}", c.name), "ms": sample_ms}));
                        reply["ns"].as_f64().expect("node reports ns")
                    }
                };
                // Round 0 warms caches, the allocator and V8's JIT: discarded.
                if round > 0 {
                    samples[ci][fi].push(ns);
                }
            }
        }
        if round > 0 {
            eprintln!("figures: round {round}/{rounds} done");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);

    let idx = |name: &str| FIGURES.iter().position(|f| *f == name).expect("known figure");
    let report: Vec<Value> = cases
        .iter()
        .zip(&samples)
        .map(|(c, s)| {
            let ratio = |num: &str, den: &str| {
                let per_round: Vec<f64> = s[idx(num)].iter().zip(&s[idx(den)]).map(|(n, d)| n / d).collect();
                median(&per_round)
            };
            let figures: serde_json::Map<String, Value> = FIGURES
                .iter()
                .enumerate()
                .map(|(fi, f)| (f.to_string(), json!({"median_ns": median(&s[fi]), "samples_ns": s[fi]})))
                .collect();
            json!({
                "name": c.name,
                "files": c.files,
                "bytes": c.body.len(),
                "pretty_bytes": c.pretty.len(),
                "figures": figures,
                "ratios": {
                    "node_a_over_auth_a": ratio("node_a", "auth_a"),
                    "node_b_over_auth_b": ratio("node_b", "auth_b"),
                    "pipeline_over_floor": ratio("pipeline", "floor"),
                    "pipeline_over_floor_contract": ratio("pipeline", "floor_contract"),
                },
            })
        })
        .collect();
    let doc = json!({
        "rounds": rounds,
        "sample_ms": sample_ms,
        "node": node_version,
        "cases": report,
    });
    match out {
        Some(path) => std::fs::write(&path, format!("{doc:#}\n")).expect("write FIGURES_OUT"),
        None => println!("{doc:#}"),
    }
}

/// The body of a confirmed delivery of `files` entries, as large as fits in `limit` bytes.
fn body_up_to(files: usize, limit: usize) -> String {
    let mut entry_size = limit / files;
    loop {
        let body = sample::body("extraction.confirmed", files, entry_size);
        if body.len() <= limit {
            return body;
        }
        entry_size -= (body.len() - limit) / files + 64;
    }
}

/// Writes `NAME.json` and `NAME.sig` for each delivery `lambda-bench` sends.
fn dump(dir: &Path) {
    std::fs::create_dir_all(dir).expect("create the dump dir");
    let secret = Secret::new(SECRET).expect("the bench secret is valid");
    let mut bodies = vec![
        ("tiny".to_owned(), 1, sample::body("extraction.confirmed", 1, 2_000)),
        (
            "fanout-50-file-1MiB".to_owned(),
            50,
            sample::body("extraction.confirmed", 50, 20_900),
        ),
    ];
    for mib in [1, 2, 4, 6] {
        let limit = (mib * 1_048_576).min(MAX_BODY_BYTES);
        bodies.push((format!("mem-{mib}MiB"), 50, body_up_to(50, limit)));
    }
    let mut manifest = serde_json::Map::new();
    for (name, files, body) in bodies {
        std::fs::write(dir.join(format!("{name}.json")), &body).expect("write a body");
        std::fs::write(
            dir.join(format!("{name}.sig")),
            secret.sign(sample::result_of(&body).as_bytes()),
        )
        .expect("write a signature");
        manifest.insert(name, json!({"bytes": body.len(), "files": files}));
    }
    manifest.insert("secret".into(), json!(SECRET));
    std::fs::write(dir.join("manifest.json"), Value::Object(manifest).to_string()).expect("write the manifest");
}

fn main() {
    // `cargo bench` passes `--bench` (and any filter); this harness takes its settings
    // from the environment instead.
    if let Some(dir) = std::env::var_os("FIGURES_DUMP") {
        dump(Path::new(&dir));
        return;
    }
    measure(std::env::var_os("FIGURES_OUT").map(PathBuf::from));
}
