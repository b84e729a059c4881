//! CPU per invocation of the real release `webhook` binary, with its two floors measured in
//! the same run (`bench/run` runs it as the `invocation` rows).
//!
//! The binary runs as Lambda runs it: a fresh process with only its environment, a Lambda
//! Runtime API (the harness's emulator) and S3/SNS (moto). moto answers every request with
//! `Connection: close`, which AWS's endpoints never do, so the function talks to moto
//! through an HTTP/1.1 keep-alive front (one connection per request on moto's side only);
//! `--no-front` measures without it. The deliveries are signed, made-up
//! `extraction.confirmed` deliveries (1 file of about 2 KB; 50 files, about 1 MiB), each
//! one different (a counter in every entry), sent one at a time.
//!
//! CPU is the function process's CPU time (user + system, every thread, from
//! `/proc/PID/task/*/schedstat` in ns) over a batch of invocations, after warm-up; the
//! same in clock ticks from `/proc/PID/stat` (which keeps exited threads) is reported as a
//! cross-check. Batches of the webhook and of the floors are interleaved, and each figure
//! is the median over the rounds. Beside it:
//! - the invocation floor: `floor-function` (the `lambda_runtime` client reading the same
//!   event as JSON and answering a fixed `200`) and the harness's `echo-function`
//!   (tests/src/bin: parses the event into a `Value` and echoes it back);
//! - the hashing floor: the hashing the contract and AWS make mandatory for the bytes
//!   moved, timed in this process (best of many runs): HMAC-SHA256 over `result`, SHA-256
//!   of the archive copy's `event-id` (the whole body) and of each entry's `eventId`, and a
//!   integrity hash (SHA-256, as a SigV4 payload hash) over every byte PUT to S3 (body +
//!   entries) and published to SNS (counted as the entries once more), with aws-lc-rs as
//!   the function hashes (SHA-NI).
//!
//! With `--event-bus` the same `--bin` is measured a second time in the same rounds with
//! `EVENT_BUS_NAME` set (docs/contract.md §10): a bus on moto with a rule to a queue (the
//! harness's [`e2e::bus::EventBus`]), so every `PutEvents` succeeds and its entries reach
//! the queue. The queue is drained after each batch and its events checked against the
//! schemas and counted by `eventId`: one per file of every delivery, or the bench stops
//! after the warm-up and the row reports the shortfall, so a failing `PutEvents` path is
//! never what is measured (repeats, from a `PutEvents` the SDK retried, are counted
//! apart). The two variants take turns going first in a round, and the bus's
//! cost is the median of the per-round differences.
//!
//! ```text
//! invocation-bench [--bin PATH] [--compare PATH]... [--floor PATH] [--echo PATH]
//!                  [--rounds N] [--small N] [--large N] [--no-front] [--event-bus]
//!                  [--cases LIST] [--out FILE]
//! ```
//! `--compare` measures another build of the webhook in the same rounds (before/after);
//! `--cases` picks `1-file-2KB`, `50-file-1MiB` or both (comma-separated).
//! Paths default to `target/release/{webhook,floor-function,echo-function}`. Prints a
//! table on stderr and JSON (`--out`, else stdout).
#![forbid(unsafe_code)]

use bench_drivers::clock_ticks_per_second;
use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_lc_rs::{digest, hmac};
use bytes::Bytes;
use e2e::bus::EventBus;
use e2e::requests::{entry_text, Delivery};
use e2e::{HttpResponse, Outcome, RuntimeApi, SECRET};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

const EVENT: &str = "extraction.confirmed";
const WARMUP: usize = 3;

struct Case {
    name: &'static str,
    files: usize,
    entry_size: usize,
    per_round: usize,
}

struct Args {
    bin: PathBuf,
    compare: Vec<PathBuf>,
    floor: PathBuf,
    echo: PathBuf,
    rounds: usize,
    small: usize,
    large: usize,
    front: bool,
    event_bus: bool,
    out: Option<PathBuf>,
    cases: Option<String>,
}

fn args() -> Args {
    let target = e2e::target_dir().join("release");
    let mut a = Args {
        bin: target.join("webhook"),
        compare: Vec::new(),
        floor: target.join("floor-function"),
        echo: target.join("echo-function"),
        rounds: 5,
        small: 60,
        large: 6,
        front: true,
        event_bus: false,
        out: None,
        cases: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| die(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--bin" => a.bin = value().into(),
            "--compare" => a.compare.push(value().into()),
            "--floor" => a.floor = value().into(),
            "--echo" => a.echo = value().into(),
            "--rounds" => a.rounds = number(&value()),
            "--small" => a.small = number(&value()),
            "--large" => a.large = number(&value()),
            "--out" => a.out = Some(value().into()),
            "--no-front" => a.front = false,
            "--event-bus" => a.event_bus = true,
            "--cases" => a.cases = Some(value()),
            "-h" | "--help" => {
                eprintln!("invocation-bench [--bin PATH] [--compare PATH]... [--floor PATH] [--echo PATH] [--rounds N] [--small N] [--large N] [--no-front] [--event-bus] [--cases LIST] [--out FILE]");
                std::process::exit(0);
            }
            other => die(&format!("unknown option {other}")),
        }
    }
    for p in [&a.bin, &a.floor, &a.echo].into_iter().chain(&a.compare) {
        if !p.is_file() {
            die(&format!(
                "{} is missing: cargo build --release -p webhook && cargo build --release --workspace --all-features --bin floor-function --bin echo-function",
                p.display()
            ));
        }
    }
    a
}

fn number(s: &str) -> usize {
    s.parse().unwrap_or_else(|_| die(&format!("not a number: {s}")))
}

fn die(message: &str) -> ! {
    eprintln!("invocation-bench: {message}");
    std::process::exit(2)
}

fn say(message: &str) {
    eprintln!("invocation-bench: {message}");
}

/// One made-up entry of about `size` bytes (the shape of `shared::sample`, which this
/// crate deliberately does not depend on), unique through `serial`.
fn entry(serial: usize, index: usize, size: usize) -> String {
    let mut items = String::new();
    let mut line = 0;
    while items.len() + 400 < size {
        items.push_str(&format!(
            r#"{{"description":"Sample item {line} (fake data)","quantity":{},"unitPriceCents":{},"sku":"SKU-{line:05}"}},"#,
            line % 7 + 1,
            line * 1_301 % 50_000,
        ));
        line += 1;
    }
    items.pop();
    let result = format!(
        r#"{{"invoiceNumber":"FAKE-{index:06}","total":{}.5,"currency":"EUR","lineItems":[{items}]}}"#,
        index * 31 % 10_000
    );
    entry_text(
        &format!("bench-extraction-{serial}"),
        "bench-batch",
        &format!("bench-file-{index:04}"),
        "confirmed",
        &result,
    )
}

fn delivery(serial: usize, case: &Case) -> Delivery {
    (0..case.files).fold(Delivery::new(EVENT), |d, i| {
        d.raw_entry(&entry(serial, i, case.entry_size))
    })
}

/// The mandatory hashing of one delivery's bytes, done once, with aws-lc-rs (SHA-NI), as
/// the function hashes.
fn hash_floor(result: &str, body: &[u8], entries: &[String]) -> usize {
    let key = hmac::Key::new(hmac::HMAC_SHA256, b"test-secret-not-real");
    let mut acc = hmac::sign(&key, result.as_bytes()).as_ref()[0] as usize;
    let mut archive_id = digest::Context::new(&digest::SHA256);
    archive_id.update(EVENT.as_bytes());
    archive_id.update(b"\n");
    archive_id.update(body);
    acc += archive_id.finish().as_ref()[0] as usize;
    // The integrity hash of the archive PUT (a SigV4 payload hash, or a checksum as dear).
    acc += digest::digest(&digest::SHA256, body).as_ref()[0] as usize;
    for e in entries {
        // eventId, the file PUT's integrity hash, the SNS message's share of a payload hash.
        for _ in 0..3 {
            acc += digest::digest(&digest::SHA256, e.as_bytes()).as_ref()[0] as usize;
        }
    }
    acc
}

/// Best-of-many time of [`hash_floor`] (pure computation on one thread: its wall time is
/// its CPU time when not preempted, and the minimum is the unpreempted run).
fn time_hash_floor(d: &Delivery) -> f64 {
    let mut best = f64::MAX;
    let mut sink = 0usize;
    let reps = if d.entries().len() > 1 { 30 } else { 3000 };
    let (result, body) = (d.result_text(), d.body());
    for _ in 0..reps {
        let t = Instant::now();
        sink = sink.wrapping_add(hash_floor(&result, &body, d.entries()));
        best = best.min(t.elapsed().as_secs_f64());
    }
    std::hint::black_box(sink);
    best * 1e3
}

/// An HTTP/1.1 keep-alive front for moto: keeps the function's connections open and
/// forwards each request on a new connection to moto, dropping moto's `Connection: close`.
async fn keep_alive_front(upstream: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the front");
    let addr = listener.local_addr().expect("front address");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| forward(upstream, req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

async fn forward(upstream: SocketAddr, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let failed = |why: String| {
        let mut rsp = Response::new(Full::new(Bytes::from(why)));
        *rsp.status_mut() = hyper::StatusCode::BAD_GATEWAY;
        Ok(rsp)
    };
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return failed(format!("request body: {e}")),
    };
    let stream = match TcpStream::connect(upstream).await {
        Ok(s) => s,
        Err(e) => return failed(format!("connect: {e}")),
    };
    let (mut sender, conn) = match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await {
        Ok(x) => x,
        Err(e) => return failed(format!("handshake: {e}")),
    };
    tokio::spawn(conn);
    let rsp = match sender.send_request(Request::from_parts(parts, Full::new(body))).await {
        Ok(r) => r,
        Err(e) => return failed(format!("upstream: {e}")),
    };
    let (mut parts, body) = rsp.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return failed(format!("response body: {e}")),
    };
    parts.headers.remove(hyper::header::CONNECTION);
    Ok(Response::from_parts(parts, Full::new(body)))
}

/// A process's whole environment.
type Env = Vec<(String, String)>;

/// A function process with its own runtime API emulator.
struct Proc {
    name: String,
    api: RuntimeApi,
    child: Child,
    pid: u32,
}

impl Proc {
    async fn start(name: String, bin: &Path, env: &[(String, String)], log: &Path) -> Proc {
        let api = RuntimeApi::start().await;
        let mut cmd = Command::new(bin);
        cmd.env_clear();
        for (k, v) in env {
            cmd.env(k, v);
        }
        let err = std::fs::File::create(log).expect("create the function's log");
        let child = cmd
            .env("AWS_LAMBDA_RUNTIME_API", api.host_port())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(err))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| die(&format!("could not start {}: {e}", bin.display())));
        let pid = child.id().unwrap_or_else(|| die("no pid"));
        if !api.wait_next_call(Duration::from_secs(30)).await {
            die(&format!("{name} did not ask for an event; see {}", log.display()));
        }
        Proc { name, api, child, pid }
    }

    /// CPU time of the process's live threads so far, ns (`/proc/PID/task/*/schedstat`,
    /// exact; a thread that exits takes its share with it, which [`Proc::cpu_ticks`] keeps).
    fn cpu_ns(&self) -> u64 {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.pid)) else {
            return 0;
        };
        tasks
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
            .filter_map(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
            .sum()
    }

    /// Threads of the process now.
    fn threads(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.pid)).map_or(0, |d| d.count())
    }

    /// utime + stime of the whole process so far (all threads, dead ones too), in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, r)| r)
            .unwrap_or("")
            .split_whitespace()
            .collect();
        // Fields 14 and 15 of stat(5); `fields` starts at field 3.
        let f = |i: usize| fields.get(i - 3).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
        f(14) + f(15)
    }

    /// Peak resident set (`VmHWM`), KiB.
    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// One invocation; false when the webhook did not answer 200 (counted, not fatal: a
    /// slow moto can make an S3/SNS call time out).
    async fn invoke(&mut self, event: Value, expect_200: bool) -> bool {
        match self.api.invoke(event, Duration::from_secs(120)).await {
            Some(Outcome::Response(v)) => {
                if !expect_200 {
                    return true;
                }
                let rsp = HttpResponse::from_lambda(&v);
                if rsp.status != 200 {
                    say(&format!("{} answered {}: {}", self.name, rsp.status, rsp.text()));
                    return false;
                }
                true
            }
            other => {
                let exited = self.child.try_wait().ok().flatten();
                die(&format!("{}: no answer ({other:?}), exit {exited:?}", self.name))
            }
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The bus variant's events on its rule's queue since the last call (drained, each
/// checked against the schemas as a consumer would read it), added to `seen` by
/// `detail.eventId`: how many arrived, repeats included.
async fn bus_events(stack: &e2e::Stack, bus: &EventBus, seen: &mut HashSet<String>) -> usize {
    let events = bus.events(stack, &bus.all).await;
    for e in &events {
        match e["detail"]["eventId"].as_str() {
            Some(id) if e["detail-type"] == EVENT => seen.insert(id.to_owned()),
            _ => die(&format!("the bus's rule received an event the bench did not send: {e}")),
        };
    }
    events.len()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let tick_ms = 1000.0 / clock_ticks_per_second();
    let moto = e2e::moto::shared();
    let stack = e2e::Stack::new().await;
    let res = &stack.res;
    let endpoint = if a.front {
        format!("http://{}", keep_alive_front(moto.addr()).await)
    } else {
        moto.endpoint()
    };
    say(&format!(
        "moto on {} (function endpoint {endpoint}, keep-alive front: {})",
        moto.endpoint(),
        a.front
    ));
    let mut env: Env = e2e::function::LAMBDA_ENVIRONMENT
        .iter()
        .chain(&[("AWS_LAMBDA_LOG_LEVEL", "INFO"), ("EXTRACTA_WEBHOOK_SECRET", SECRET)])
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.push(("AWS_ENDPOINT_URL".into(), endpoint.clone()));
    env.push(("RESULTS_BUCKET".into(), res.bucket.clone()));
    env.push(("CONFIRMED_TOPIC_ARN".into(), res.confirmed_topic_arn.clone()));
    env.push(("FAILED_TOPIC_ARN".into(), res.failed_topic_arn.clone()));
    if let Some(path) = std::env::var_os("PATH") {
        env.push(("PATH".into(), path.to_string_lossy().into_owned()));
    }
    // The bus variant: the same environment with EVENT_BUS_NAME naming a bus that exists,
    // with a rule matching every event to a queue.
    let bus = if a.event_bus {
        Some(EventBus::create(&stack).await)
    } else {
        None
    };
    let bus_env = bus.as_ref().map(|b| {
        say(&format!(
            "event bus {} on moto, its rule's target {}",
            b.name, b.all.url
        ));
        let mut e = env.clone();
        e.push(("EVENT_BUS_NAME".into(), b.name.clone()));
        e
    });
    let logs = e2e::workspace_root().join("target/e2e");
    std::fs::create_dir_all(&logs).expect("create target/e2e");

    let cases = [
        Case {
            name: "1-file-2KB",
            files: 1,
            entry_size: 2_000,
            per_round: a.small,
        },
        Case {
            name: "50-file-1MiB",
            files: 50,
            entry_size: 20_900,
            per_round: a.large,
        },
    ];
    let mut serial = 0usize;
    let mut report = Vec::new();
    for case in cases
        .iter()
        .filter(|c| a.cases.as_ref().is_none_or(|only| only.contains(c.name)))
    {
        let sample = delivery(0, case);
        let body_bytes = sample.body().len();
        let hash_ms = median((0..5).map(|_| time_hash_floor(&sample)).collect());
        // The processes, by index: 0 the webhook, 1-2 its floors, then the webhook with
        // the bus (with --event-bus), then the other builds (--compare).
        let mut variants: Vec<(String, &Path, &Env)> = vec![
            ("webhook".to_owned(), a.bin.as_path(), &env),
            ("floor".to_owned(), a.floor.as_path(), &env),
            ("echo".to_owned(), a.echo.as_path(), &env),
        ];
        let with_bus = bus_env.as_ref().map(|e| {
            variants.push(("webhook-bus".to_owned(), a.bin.as_path(), e));
            variants.len() - 1
        });
        let first_compare = variants.len();
        for (k, bin) in a.compare.iter().enumerate() {
            variants.push((format!("compare-{k}"), bin.as_path(), &env));
        }
        let expect_200 = |i: usize| i != 1 && i != 2;
        // Fresh processes per case, so each warms up on its own delivery size.
        let mut procs = Vec::new();
        for (name, bin, venv) in &variants {
            let log = logs.join(format!("invocation-bench-{name}-{}.log", case.name));
            procs.push(Proc::start(name.clone(), bin, venv, &log).await);
        }
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); procs.len()];
        let mut wall: Vec<Vec<f64>> = vec![Vec::new(); procs.len()];
        let (mut ticks, mut counted) = (vec![0u64; procs.len()], vec![0usize; procs.len()]);
        let mut failed = vec![0usize; procs.len()];
        // Entries put on the bus: one per file of every delivery (each a different
        // eventId), the events that arrived, and their distinct eventIds. EventBridge is
        // at least once (an SDK retry of a PutEvents that moto answered too late puts its
        // entries again), so only a missing eventId is a failure.
        let (mut entries_sent, mut events_received) = (0usize, 0usize);
        let mut arrived = HashSet::new();
        for round in 0..=a.rounds {
            let n = if round == 0 { WARMUP } else { case.per_round };
            // The webhook and the webhook with the bus take turns going first.
            let mut order: Vec<usize> = (0..procs.len()).collect();
            if let Some(b) = with_bus.filter(|_| round % 2 == 0) {
                order.swap(0, b);
            }
            for i in order {
                let p = &mut procs[i];
                let events: Vec<Value> = (0..n)
                    .map(|_| {
                        serial += 1;
                        delivery(serial, case).request().event()
                    })
                    .collect();
                let (before, ticks_before) = (p.cpu_ns(), p.cpu_ticks());
                let t = Instant::now();
                for e in events {
                    if !p.invoke(e, expect_200(i)).await {
                        failed[i] += 1;
                    }
                }
                let elapsed = t.elapsed().as_secs_f64() * 1e3 / n as f64;
                let cpu = p.cpu_ns().saturating_sub(before) as f64 / 1e6 / n as f64;
                if round > 0 {
                    samples[i].push(cpu);
                    wall[i].push(elapsed);
                    ticks[i] += p.cpu_ticks() - ticks_before;
                    counted[i] += n;
                }
                if let (Some(b), Some(bus)) = (with_bus.filter(|&b| b == i), &bus) {
                    entries_sent += n * case.files;
                    events_received += bus_events(&stack, bus, &mut arrived).await;
                    let entries_arrived = arrived.len();
                    if round == 0 && entries_arrived != entries_sent {
                        die(&format!(
                            "{}: {entries_arrived} of {entries_sent} entries reached the bus's rule after the warm-up, so PutEvents is not working; see {}",
                            case.name,
                            logs.join(format!("invocation-bench-{}-{}.log", variants[b].0, case.name)).display()
                        ));
                    }
                }
            }
            if round > 0 {
                let bus_now: String = with_bus
                    .map(|b| format!(", with the bus {:.2} ms", samples[b][round - 1]))
                    .unwrap_or_default();
                let compared: String = samples[first_compare..]
                    .iter()
                    .map(|s| format!(", compared {:.2} ms", s[round - 1]))
                    .collect();
                say(&format!(
                    "{} round {round}: webhook {:.2} ms{bus_now}, floor {:.2} ms, echo {:.2} ms{compared} CPU per invocation",
                    case.name,
                    samples[0][round - 1],
                    samples[1][round - 1],
                    samples[2][round - 1]
                ));
            }
        }
        let cpu: Vec<f64> = samples.iter().map(|s| median(s.clone())).collect();
        let floor = cpu[1] + hash_ms;
        let event_bus = with_bus.map(|b| {
            let extra = median(samples[b].iter().zip(&samples[0]).map(|(x, y)| x - y).collect());
            let ratio = median(samples[b].iter().zip(&samples[0]).map(|(x, y)| x / y).collect());
            let entries_arrived = arrived.len();
            let repeated = events_received - entries_arrived;
            if entries_arrived != entries_sent {
                say(&format!(
                    "{}: only {entries_arrived} of {entries_sent} entries reached the bus's rule",
                    case.name
                ));
            }
            if repeated > 0 {
                say(&format!(
                    "{}: {repeated} entries arrived twice (EventBridge is at least once: a PutEvents retried after a late answer puts its entries again)",
                    case.name
                ));
            }
            say(&format!(
                "{}: with the bus {:.2} ms CPU per invocation, {extra:+.2} ms ({:+.1}%) over the same binary without it; {entries_arrived} of {entries_sent} entries arrived",
                case.name,
                cpu[b],
                (ratio - 1.0) * 100.0
            ));
            json!({
                "cpu_ms": cpu[b],
                "samples_ms": samples[b],
                "extra_cpu_ms": extra,
                "ratio_to_without": ratio,
                "wall_ms": median(wall[b].clone()),
                "ticks_cpu_ms": ticks[b] as f64 * tick_ms / counted[b].max(1) as f64,
                "not_200": failed[b],
                "entries_sent": entries_sent,
                "entries_arrived": entries_arrived,
                "entries_repeated": repeated,
                "peak_rss_kib": procs[b].peak_rss_kib(),
            })
        });
        let row = json!({
            "case": case.name,
            "files": case.files,
            "body_bytes": body_bytes,
            "invocations_per_round": case.per_round,
            "rounds": a.rounds,
            "keep_alive_front": a.front,
            "webhook_cpu_ms": cpu[0],
            "floor_function_cpu_ms": cpu[1],
            "echo_function_cpu_ms": cpu[2],
            "hash_floor_ms": hash_ms,
            "floor_ms": floor,
            "ratio_to_floor": cpu[0] / floor,
            "webhook_wall_ms": median(wall[0].clone()),
            "webhook_samples_ms": samples[0],
            "floor_samples_ms": samples[1],
            "echo_samples_ms": samples[2],
            "webhook_ticks_cpu_ms": ticks[0] as f64 * tick_ms / counted[0].max(1) as f64,
            "webhook_threads": procs[0].threads(),
            "webhook_not_200": failed[0],
            "webhook_peak_rss_kib": procs[0].peak_rss_kib(),
            "floor_peak_rss_kib": procs[1].peak_rss_kib(),
            "event_bus": event_bus,
            "compare": a.compare.iter().zip(&samples[first_compare..]).map(|(bin, s)| json!({
                "bin": bin.display().to_string(),
                "cpu_ms": median(s.clone()),
                "samples_ms": s,
            })).collect::<Vec<_>>(),
            "compare_not_200": failed.get(first_compare..).unwrap_or_default(),
        });
        for (bin, s) in a.compare.iter().zip(&samples[first_compare..]) {
            say(&format!(
                "{}: compared {} {:.2} ms CPU per invocation",
                case.name,
                bin.display(),
                median(s.clone())
            ));
        }
        say(&format!(
            "{}: webhook {:.2} ms CPU per invocation; floors: invocation {:.2} ms (echo {:.2} ms), hashing {:.3} ms; {:.2}x (invocation + hashing)",
            case.name, cpu[0], cpu[1], cpu[2], hash_ms, cpu[0] / floor
        ));
        report.push(row);
    }
    let doc = json!({
        "what": "CPU per invocation of the function process (all threads, schedstat ns)",
        "cases": report,
    });
    let text = serde_json::to_string_pretty(&doc).expect("JSON");
    match &a.out {
        Some(path) => std::fs::write(path, text).unwrap_or_else(|e| die(&format!("write {}: {e}", path.display()))),
        None => println!("{text}"),
    }
}
