//! Cold start, fan-out latency and peak memory of the real release `webhook` binary
//! (figures 3-5; `bench/run` runs it as the `coldstart`, `fanout` and `memory` rows), and
//! the same beside the listener a customer writes from Extracta's docs (`warm` adds warm
//! latency and CPU per invocation): `bench/node/lambda-listener.js` under Node.js, driven
//! in the same rounds.
//!
//! The binary runs as Lambda runs it: a fresh process with only its environment, a Lambda
//! Runtime API (the harness's emulator, or a bare listening socket for the cold start) and
//! S3/SNS behind a local endpoint (moto, or an instant stand-in behind a delaying proxy for
//! the fan-out). The Node.js listener gets the same environment, emulator, moto and proxy.
//! The deliveries are the signed samples that
//! `FIGURES_DUMP=DIR cargo bench --workspace --all-features --bench figures` writes
//! (`manifest.json` with the secret, `NAME.json` bodies, `NAME.sig` signatures), sent as
//! API Gateway HTTP API (payload 2.0) events. Each figure's method is on its function:
//! [`coldstart`], [`fanout`], [`memory`], [`warm`].
//!
//! ```text
//! lambda-bench --deliveries DIR [--bin PATH] [--only coldstart,fanout,memory,warm]
//!              [--runs N] [--out FILE]
//! ```
//! `--runs` is the number of cold starts (default 21) and of warm latency samples; the
//! fan-out takes `max(3, N/3)` rounds and the memory figure `max(1, N/7)`. `--bin` defaults
//! to `target/release/webhook`; `node` comes from `PATH`, the listener's SDK from
//! `npm ci --prefix bench/node`. Prints one JSON document (`--out`, else stdout);
//! `bench/table.py` reads it as `lambda.json`. Exits non-zero when moto_server, a C
//! compiler, node or the listener's SDK is missing, when any invocation does not answer
//! 200, or when the Node.js listener does not store and publish what it is timed for.
#![forbid(unsafe_code)]

use bench_drivers::{clock_ticks_per_second, median, ms};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use e2e::requests::{entry_text, Delivery};
use e2e::{Outcome, RuntimeApi};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const BUCKET: &str = "bench-results";
/// The delay the fan-out figure adds to every S3 and SNS request.
const DELAY: Duration = Duration::from_millis(20);
const FAKE_TOPICS: Topics<'static> = Topics {
    confirmed: "arn:aws:sns:us-east-1:123456789012:bench-confirmed",
    failed: "arn:aws:sns:us-east-1:123456789012:bench-failed",
};
const PARTS: [&str; 4] = ["coldstart", "fanout", "memory", "warm"];

struct Args {
    bin: PathBuf,
    /// Another build of the function (the previous one), measured beside `bin`.
    compare: Option<PathBuf>,
    deliveries: PathBuf,
    only: Vec<String>,
    runs: usize,
    out: Option<PathBuf>,
}

fn args() -> Args {
    let target = e2e::target_dir().join("release");
    let mut bin = target.join("webhook");
    let mut compare = None;
    let mut deliveries = None;
    let mut only = PARTS.join(",");
    let mut runs = 21;
    let mut out = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| die(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--bin" => bin = value().into(),
            "--compare" => compare = Some(PathBuf::from(value())),
            "--deliveries" => deliveries = Some(PathBuf::from(value())),
            "--only" => only = value(),
            "--runs" => runs = value().parse().unwrap_or_else(|_| die("--runs needs a number")),
            "--out" => out = Some(PathBuf::from(value())),
            "-h" | "--help" => {
                eprintln!("lambda-bench --deliveries DIR [--bin PATH] [--compare PATH] [--only coldstart,fanout,memory,warm] [--runs N] [--out FILE]");
                std::process::exit(0);
            }
            other => die(&format!("unknown option {other}")),
        }
    }
    let only: Vec<String> = only.split(',').filter(|p| !p.is_empty()).map(str::to_owned).collect();
    if let Some(p) = only.iter().find(|p| !PARTS.contains(&p.as_str())) {
        die(&format!("--only: unknown figure {p} (coldstart, fanout, memory, warm)"));
    }
    let bin = std::path::absolute(&bin).unwrap_or(bin);
    if !bin.is_file() {
        die(&format!(
            "{} is not built: cargo build --release -p webhook",
            bin.display()
        ));
    }
    let deliveries = deliveries.unwrap_or_else(|| {
        die("--deliveries DIR is required (FIGURES_DUMP=DIR cargo bench --workspace --all-features --bench figures)")
    });
    let compare = compare.map(|c| std::path::absolute(&c).unwrap_or(c));
    if let Some(c) = compare.as_ref().filter(|c| !c.is_file()) {
        die(&format!("--compare {}: no such file", c.display()));
    }
    Args {
        bin,
        compare,
        deliveries,
        only,
        runs,
        out,
    }
}

fn die(message: &str) -> ! {
    eprintln!("lambda-bench: {message}");
    std::process::exit(1)
}

fn say(message: &str) {
    eprintln!("lambda-bench: {message}");
}

// --- The function's environment ---------------------------------------------------

struct Topics<'a> {
    confirmed: &'a str,
    failed: &'a str,
}

/// A process's whole environment.
type Env = Vec<(String, String)>;

/// Everything the process sees: Lambda's variables, the function's configuration and
/// static credentials; no profile files, no instance metadata, nothing inherited.
/// `AWS_LAMBDA_RUNTIME_API` is added by whoever starts the process.
fn function_env(endpoint: &str, secret: &str, topics: &Topics<'_>) -> Env {
    e2e::function::LAMBDA_ENVIRONMENT
        .iter()
        .chain(&[
            ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
            ("AWS_ENDPOINT_URL", endpoint),
            ("RESULTS_BUCKET", BUCKET),
            ("CONFIRMED_TOPIC_ARN", topics.confirmed),
            ("FAILED_TOPIC_ARN", topics.failed),
            ("EXTRACTA_WEBHOOK_SECRET", secret),
        ])
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// One signed delivery from the dump: its body and its signature.
fn load(deliveries: &Path, name: &str) -> (Vec<u8>, String) {
    let body_path = deliveries.join(format!("{name}.json"));
    let body = std::fs::read(&body_path).unwrap_or_else(|e| die(&format!("{}: {e}", body_path.display())));
    let sig_path = deliveries.join(format!("{name}.sig"));
    let signature = std::fs::read_to_string(&sig_path).unwrap_or_else(|e| die(&format!("{}: {e}", sig_path.display())));
    (body, signature.trim().to_owned())
}

fn manifest(deliveries: &Path) -> Value {
    let path = deliveries.join("manifest.json");
    let text = std::fs::read(&path).unwrap_or_else(|e| {
        die(&format!(
            "{}: {e} (written by FIGURES_DUMP=DIR cargo bench --workspace --all-features --bench figures)",
            path.display()
        ))
    });
    serde_json::from_slice(&text).unwrap_or_else(|e| die(&format!("{}: {e}", path.display())))
}

/// An API Gateway HTTP API (payload 2.0) event carrying `body`.
fn http_api_event(body: &[u8], signature: &str, as_base64: bool) -> Value {
    let text = if as_base64 {
        B64.encode(body)
    } else {
        String::from_utf8(body.to_vec()).unwrap_or_else(|_| die("a delivery body is not UTF-8"))
    };
    json!({
        "version": "2.0",
        "routeKey": "POST /webhook",
        "rawPath": "/webhook",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "content-length": body.len().to_string(),
            "x-webhook-signature": signature,
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "bench",
            "http": {
                "method": "POST",
                "path": "/webhook",
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "bench",
            },
            "requestId": "bench",
            "routeKey": "POST /webhook",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 0,
        },
        "body": text,
        "isBase64Encoded": as_base64,
    })
}

// --- One webhook process on the harness's Runtime API emulator --------------------------

/// What a function process runs: a program and its arguments (the release binary alone,
/// or `node bench/node/lambda-listener.js`).
#[derive(Clone)]
struct Program {
    path: PathBuf,
    args: Vec<String>,
}

impl Program {
    /// A binary run without arguments.
    fn binary(path: &Path) -> Self {
        Program {
            path: path.to_owned(),
            args: Vec::new(),
        }
    }

    /// The customer's Node.js listener (`bench/node/lambda-listener.js`) under `node`, both
    /// checked before anything is measured.
    fn node_listener(node: &Path) -> Self {
        let dir = e2e::workspace_root().join("bench/node");
        for package in ["client-s3", "client-sns"] {
            if !dir.join("node_modules/@aws-sdk").join(package).is_dir() {
                die(&format!(
                    "the Node.js listener's dependencies are not installed: npm ci --prefix {}",
                    dir.display()
                ));
            }
        }
        Program {
            path: node.to_owned(),
            args: vec![dir.join("lambda-listener.js").to_string_lossy().into_owned()],
        }
    }

    fn std_command(&self) -> std::process::Command {
        let mut c = std::process::Command::new(&self.path);
        c.args(&self.args);
        c
    }

    fn display(&self) -> String {
        std::iter::once(self.path.to_string_lossy().into_owned())
            .chain(self.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `node` from `PATH`, as an absolute path (the function processes get no `PATH`).
fn find_node() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("node"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            die("node is not on PATH: the Node.js baseline needs Node.js 20 (apt-get install nodejs npm)")
        })
}

struct Function {
    name: String,
    api: RuntimeApi,
    /// Between the function and `api`, when event hand-outs are timed.
    tap: Option<HandOutTap>,
    child: Child,
    pid: u32,
    log: PathBuf,
}

impl Function {
    /// Starts `program` with `env` (and its own emulator as `AWS_LAMBDA_RUNTIME_API`, behind
    /// a [`HandOutTap`] when `tapped`); returns once it asks for its first event.
    async fn start(name: &str, program: &Program, env: Env, tapped: bool) -> Function {
        let api = RuntimeApi::start().await;
        let tap = if tapped {
            Some(HandOutTap::start(&api.host_port()).await)
        } else {
            None
        };
        let runtime_api = tap.as_ref().map_or_else(|| api.host_port(), HandOutTap::host_port);
        let logs = e2e::workspace_root().join("target/e2e");
        std::fs::create_dir_all(&logs).unwrap_or_else(|e| die(&format!("create {}: {e}", logs.display())));
        let log = logs.join(format!("lambda-bench-{name}.log"));
        let out = std::fs::File::create(&log).unwrap_or_else(|e| die(&format!("create {}: {e}", log.display())));
        let err = out
            .try_clone()
            .unwrap_or_else(|e| die(&format!("{}: {e}", log.display())));
        let child = Command::from(program.std_command())
            .env_clear()
            .envs(env)
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| die(&format!("could not start {}: {e}", program.display())));
        let pid = child.id().unwrap_or_else(|| die("the function has no pid"));
        let f = Function {
            name: name.to_owned(),
            api,
            tap,
            child,
            pid,
            log,
        };
        f.wait_next_calls(1).await;
        f
    }

    /// Waits until the function has asked for its `n`th event (30 s at most).
    async fn wait_next_calls(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.api.next_calls() < n {
            if Instant::now() > deadline {
                self.fail(&format!("never asked for an event (GET /next #{n}) within 30 s"));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Hands `event` out and waits for the answer; dies unless it is a `200`. Returns the
    /// time from the moment the event was written to the function (the [`HandOutTap`]'s
    /// note; without a tap, from queuing it) to the answer's arrival.
    async fn invoke_200(&self, event: Value) -> Duration {
        let (status, body, took) = self.invoke(event).await;
        if status != 200 {
            self.fail(&format!("answered {status}: {body}"));
        }
        took
    }

    /// Hands `event` out and waits for the answer: its `statusCode` and `body`, and the
    /// time as [`Function::invoke_200`] takes it. Dies on an invocation error, an answer
    /// without a status or none within 120 s.
    async fn invoke(&self, event: Value) -> (u64, String, Duration) {
        let queued = Instant::now();
        let outcome = self.api.invoke(event, Duration::from_secs(120)).await;
        let answered = Instant::now();
        let handed_out = match &self.tap {
            Some(tap) => tap
                .take()
                .unwrap_or_else(|| self.fail("answered an event the tap did not see handed out")),
            None => queued,
        };
        let (status, body) = match outcome {
            Some(Outcome::Response(v)) => {
                let body = v.get("body").and_then(Value::as_str).unwrap_or_default().to_owned();
                match v.get("statusCode").and_then(Value::as_u64) {
                    Some(status) => (status, body),
                    None => self.fail(&format!("answered without a statusCode: {v}")),
                }
            }
            Some(Outcome::Error(v)) => self.fail(&format!("reported an invocation error: {v}")),
            None => self.fail("did not answer within 120 s"),
        };
        (status, body, answered.saturating_duration_since(handed_out))
    }

    /// utime + stime of the whole process so far (every thread, exited ones too), in clock
    /// ticks (`/proc/PID/stat`).
    fn cpu_ticks(&self) -> u64 {
        let path = format!("/proc/{}/stat", self.pid);
        let stat = std::fs::read_to_string(&path).unwrap_or_else(|e| die(&format!("{path}: {e}")));
        // The fields after the command name (which may hold spaces), from field 3 (state).
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15, so 11 and 12 of `rest`.
        match (
            fields.get(11).and_then(|v| v.parse::<u64>().ok()),
            fields.get(12).and_then(|v| v.parse::<u64>().ok()),
        ) {
            (Some(u), Some(s)) => u + s,
            _ => die(&format!("{path}: no utime/stime")),
        }
    }

    /// Peak resident set (`VmHWM`) so far, bytes.
    fn peak_rss(&self) -> u64 {
        let path = format!("/proc/{}/status", self.pid);
        let status = std::fs::read_to_string(&path).unwrap_or_else(|e| die(&format!("{path}: {e}")));
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
            .unwrap_or_else(|| die(&format!("{path} has no VmHWM")))
    }

    fn fail(&self, message: &str) -> ! {
        let log = std::fs::read(&self.log).unwrap_or_default();
        let tail = String::from_utf8_lossy(&log[log.len().saturating_sub(2000)..]).into_owned();
        die(&format!(
            "{} ({}): {message}\n{tail}\n(whole log: {})",
            self.name,
            self.child.id().map_or("exited".to_owned(), |p| format!("pid {p}")),
            self.log.display()
        ))
    }
}

/// A byte relay between the function and the Runtime API emulator that notes when the last
/// byte of an event (an answer carrying `Lambda-Runtime-Aws-Request-Id`) has been written to
/// the function's socket, so an invocation is timed from there, as a Runtime API would time
/// it, and not from before the emulator serializes the event (about 3 ms for 1 MiB).
struct HandOutTap {
    addr: SocketAddr,
    handed_out: Arc<Mutex<Option<Instant>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HandOutTap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HandOutTap {
    async fn start(emulator: &str) -> Self {
        let emulator: SocketAddr = emulator
            .parse()
            .unwrap_or_else(|e| die(&format!("emulator address {emulator}: {e}")));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| die(&format!("bind the hand-out tap: {e}")));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| die(&format!("tap address: {e}")));
        let handed_out = Arc::new(Mutex::new(None));
        let noted = handed_out.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((function, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(tap(function, emulator, noted.clone()));
            }
        });
        HandOutTap { addr, handed_out, task }
    }

    /// `127.0.0.1:PORT`, the function's `AWS_LAMBDA_RUNTIME_API`.
    fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// When the last event was handed out, once.
    fn take(&self) -> Option<Instant> {
        self.handed_out.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// One connection of the function: its requests piped to the emulator, the emulator's
/// answers (each framed by `Content-Length`) relayed one by one.
async fn tap(function: TcpStream, emulator: SocketAddr, handed_out: Arc<Mutex<Option<Instant>>>) {
    let Ok(upstream) = TcpStream::connect(emulator).await else {
        return;
    };
    let _ = function.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (mut function_rd, mut function_wr) = function.into_split();
    let (upstream_rd, mut upstream_wr) = upstream.into_split();
    let forth = async {
        let _ = tokio::io::copy(&mut function_rd, &mut upstream_wr).await;
        let _ = upstream_wr.shutdown().await;
    };
    let back = async {
        let mut reader = BufReader::new(upstream_rd);
        loop {
            let Ok(head) = read_head(&mut reader).await else {
                break;
            };
            if head.is_empty() || function_wr.write_all(&head).await.is_err() {
                break;
            }
            let headers = Headers::parse(&head);
            if copy_exactly(&mut reader, &mut function_wr, headers.content_length)
                .await
                .is_err()
            {
                break;
            }
            if headers.event {
                *handed_out.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
            }
        }
        let _ = function_wr.shutdown().await;
    };
    tokio::join!(forth, back);
}

// --- Figure 3: cold start -----------------------------------------------------------------

/// A C compiler from `PATH` (`cc`, else `gcc`).
fn find_cc() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["cc", "gcc"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// One cold start of `program`: from just before spawning it to the arrival of its first
/// request line on `listener`, which must be `GET /next`.
async fn start_once(listener: &TcpListener, program: &Program, env: &[(String, String)]) -> f64 {
    let started = Instant::now();
    let mut child = program
        .std_command()
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| die(&format!("could not start {}: {e}", program.display())));
    let failed = |mut child: std::process::Child, why: String| -> ! {
        let _ = child.kill();
        let stderr = child.wait_with_output().map(|o| o.stderr).unwrap_or_default();
        let tail = String::from_utf8_lossy(&stderr[stderr.len().saturating_sub(500)..]).into_owned();
        die(&format!("{}: {why}: {tail}", program.display()))
    };
    let mut conn = match tokio::time::timeout(Duration::from_secs(30), listener.accept()).await {
        Ok(Ok((conn, _))) => conn,
        Ok(Err(e)) => failed(child, format!("accept: {e}")),
        Err(_) => failed(child, "never connected to the Runtime API within 30 s".to_owned()),
    };
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    while !data.windows(2).any(|w| w == b"\r\n") {
        match tokio::time::timeout(Duration::from_secs(30), conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => data.extend_from_slice(&buf[..n]),
        }
    }
    let took = started.elapsed();
    if !data.starts_with(format!("GET {NEXT}").as_bytes()) {
        let head = String::from_utf8_lossy(&data[..data.len().min(80)]).into_owned();
        failed(child, format!("expected GET {NEXT}, got {head:?}"));
    }
    let _ = child.kill();
    let _ = child.wait();
    drop(conn);
    ms(took)
}

/// Process start (just before fork/exec) to the first `GET /next`, no network at init.
///
/// A raw listening socket stands in for the Runtime API, so the time is taken as soon as
/// the request line arrives. Interleaved with the function's default start, to show what
/// its init spends: the same binary with the root certificates limited to the CA bundle
/// (as on provided.al2023, whose /etc/ssl/certs holds only bundles) and with none at all,
/// the same binary with `EVENT_BUS_NAME` set (its EventBridge client is built at init only
/// then; nothing is sent before the first delivery, so the bus need not exist), and a
/// minimal C program that only connects and sends the request
/// (`bench/coldstart_floor.c`: the floor of fork/exec/connect on this machine); and the
/// customer's Node.js listener (`node bench/node/lambda-listener.js`, `node_*` keys), timed
/// the same way.
async fn coldstart(bin: &Path, compare: Option<&Path>, node: &Program, secret: &str, runs: usize, cc: &Path) -> Value {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| die(&format!("bind the runtime API socket: {e}")));
    let address = listener
        .local_addr()
        .unwrap_or_else(|e| die(&format!("runtime API socket: {e}")))
        .to_string();
    // The S3/SNS endpoint is a closed port: nothing may be fetched at init.
    let mut env = function_env("http://127.0.0.1:9", secret, &FAKE_TOPICS);
    env.push(("AWS_LAMBDA_RUNTIME_API".into(), address));
    let scratch = std::env::temp_dir().join(format!("lambda-bench-coldstart-{}", std::process::id()));
    let empty = scratch.join("empty");
    std::fs::create_dir_all(&empty).unwrap_or_else(|e| die(&format!("create {}: {e}", empty.display())));
    let bundle = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let with = |extra: &[(&str, &str)]| {
        let mut e = env.clone();
        e.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        e
    };
    let empty_dir = empty.to_string_lossy().into_owned();
    let no_file = empty.join("none.pem").to_string_lossy().into_owned();
    let bin = Program::binary(bin);
    let mut variants: Vec<(&str, Program, Env)> = vec![
        ("default", bin.clone(), env.clone()),
        ("event_bus", bin.clone(), with(&[("EVENT_BUS_NAME", "bench-bus")])),
    ];
    if let Some(bundle) = bundle {
        variants.push((
            "bundle_only",
            bin.clone(),
            with(&[("SSL_CERT_FILE", bundle), ("SSL_CERT_DIR", &empty_dir)]),
        ));
    }
    variants.push((
        "no_roots",
        bin.clone(),
        with(&[("SSL_CERT_FILE", &no_file), ("SSL_CERT_DIR", &empty_dir)]),
    ));
    let floor = scratch.join("floor");
    let source = e2e::workspace_root().join("bench/coldstart_floor.c");
    let compiled = std::process::Command::new(cc)
        .arg("-O2")
        .arg("-o")
        .arg(&floor)
        .arg(&source)
        .status()
        .unwrap_or_else(|e| die(&format!("{}: {e}", cc.display())));
    if !compiled.success() {
        die(&format!("{} -O2 {} failed: {compiled}", cc.display(), source.display()));
    }
    variants.push(("exec_floor", Program::binary(&floor), env.clone()));
    // The customer's Node.js listener: its SDK clients are made at module load, as in
    // the Rust function's init; nothing is fetched before the first event either.
    variants.push(("node", node.clone(), env.clone()));
    // The other build (the previous one), as it starts by default.
    if let Some(c) = compare {
        variants.push(("compare", Program::binary(c), env.clone()));
    }

    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for (_, program, venv) in &variants {
        start_once(&listener, program, venv).await; // page cache warm, as on a warm Lambda host
    }
    for _ in 0..runs {
        // Interleaved, so every variant sees the same machine load.
        for ((_, program, venv), s) in variants.iter().zip(&mut samples) {
            s.push(start_once(&listener, program, venv).await);
        }
    }
    drop(listener);
    let _ = std::fs::remove_dir_all(&scratch);
    let mut out = Map::new();
    out.insert("runs".into(), json!(runs));
    out.insert("median_ms".into(), json!(median(&samples[0])));
    out.insert("bundle".into(), json!(bundle));
    for ((name, _, _), s) in variants.iter().zip(&samples) {
        out.insert(format!("{name}_median_ms"), json!(median(s)));
        out.insert(format!("{name}_samples_ms"), json!(s));
    }
    // The bus's share of a start: the median of the per-run differences, each pair of
    // starts taken back to back.
    let bus_extra: Vec<f64> = samples[1].iter().zip(&samples[0]).map(|(b, d)| b - d).collect();
    out.insert("event_bus_extra_ms".into(), json!(median(&bus_extra)));
    Value::Object(out)
}

// --- Figure 4: fan-out ----------------------------------------------------------------------

/// An HTTP/1.1 proxy that holds each request (not each connection: the instant stand-in
/// keeps connections alive) for the current delay before forwarding it.
///
/// Requests are delimited by their headers (`Content-Length` or chunked); responses are
/// piped back as they come. Counts requests and the delay actually applied.
struct DelayProxy {
    addr: SocketAddr,
    state: Arc<DelayState>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct DelayState {
    delay_ns: AtomicU64,
    requests: AtomicUsize,
    delayed_ns: AtomicU64,
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DelayProxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| die(&format!("bind the delaying proxy: {e}")));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| die(&format!("proxy address: {e}")));
        let state = Arc::new(DelayState::default());
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                tokio::spawn(relay(client, upstream, shared.clone()));
            }
        });
        DelayProxy { addr, state, task }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets the delay and zeroes the counters (between invocations).
    fn reset(&self, delay: Duration) {
        self.state.delay_ns.store(delay.as_nanos() as u64, Ordering::SeqCst);
        self.state.requests.store(0, Ordering::SeqCst);
        self.state.delayed_ns.store(0, Ordering::SeqCst);
    }

    fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// The delay applied since the last reset, summed over the requests.
    fn delayed(&self) -> Duration {
        Duration::from_nanos(self.state.delayed_ns.load(Ordering::SeqCst))
    }
}

/// One client connection: its own upstream connection, requests forwarded one by one
/// (each after the delay), the upstream's bytes piped back as they come.
async fn relay(client: TcpStream, upstream: SocketAddr, state: Arc<DelayState>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = server.set_nodelay(true);
    let (client_rd, mut client_wr) = client.into_split();
    let (mut server_rd, mut server_wr) = server.into_split();
    let back = async {
        let _ = tokio::io::copy(&mut server_rd, &mut client_wr).await;
        let _ = client_wr.shutdown().await;
    };
    let mut reader = BufReader::new(client_rd);
    let forth = async {
        let _ = forward_requests(&mut reader, &mut server_wr, &state).await;
        let _ = server_wr.shutdown().await;
    };
    // Either side closing ends the connection (moto closes after every answer).
    tokio::select! {
        () = back => {}
        () = forth => {}
    }
}

async fn forward_requests<R, W>(client: &mut R, server: &mut W, state: &DelayState) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        let head = read_head(client).await?;
        if head.is_empty() {
            return Ok(());
        }
        state.requests.fetch_add(1, Ordering::SeqCst);
        let delay = Duration::from_nanos(state.delay_ns.load(Ordering::SeqCst));
        if !delay.is_zero() {
            let t = Instant::now();
            tokio::time::sleep(delay).await;
            state
                .delayed_ns
                .fetch_add(t.elapsed().as_nanos() as u64, Ordering::SeqCst);
        }
        server.write_all(&head).await?;
        let headers = Headers::parse(&head);
        if headers.chunked {
            loop {
                let line = read_line(client).await?;
                server.write_all(&line).await?;
                let size = chunk_size(&line)?;
                if size == 0 {
                    loop {
                        let trailer = read_line(client).await?;
                        server.write_all(&trailer).await?;
                        if trailer == b"\r\n" {
                            break;
                        }
                    }
                    break;
                }
                copy_exactly(client, server, size + 2).await?;
            }
        } else {
            copy_exactly(client, server, headers.content_length).await?;
        }
        server.flush().await?;
    }
}

/// The request line and headers through the blank line; empty at a clean end of stream.
async fn read_head<R: AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    loop {
        let n = r.read_until(b'\n', &mut head).await?;
        if n == 0 {
            if head.is_empty() {
                return Ok(head);
            }
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if head.ends_with(b"\r\n\r\n") || head == b"\r\n" {
            return Ok(head);
        }
    }
}

async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    if r.read_until(b'\n', &mut line).await? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(line)
}

fn chunk_size(line: &[u8]) -> std::io::Result<usize> {
    let text = String::from_utf8_lossy(line);
    let hex = text.split(';').next().unwrap_or_default().trim();
    usize::from_str_radix(hex, 16).map_err(|_| std::io::ErrorKind::InvalidData.into())
}

async fn copy_exactly<R, W>(r: &mut R, w: &mut W, n: usize) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let copied = tokio::io::copy(&mut r.take(n as u64), w).await?;
    if copied != n as u64 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// What the proxy and the tap need of a message's headers.
struct Headers {
    chunked: bool,
    content_length: usize,
    /// Carries `Lambda-Runtime-Aws-Request-Id`: an event handed out.
    event: bool,
}

impl Headers {
    fn parse(head: &[u8]) -> Self {
        let text = String::from_utf8_lossy(head);
        let mut h = Headers {
            chunked: false,
            content_length: 0,
            event: false,
        };
        for line in text.split("\r\n").skip(1) {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("transfer-encoding") {
                h.chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("content-length") {
                h.content_length = value.parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("lambda-runtime-aws-request-id") {
                h.event = true;
            }
        }
        h
    }
}

const PUBLISHED: &str = concat!(
    r#"<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishBatchResult>"#,
    "<Successful/><Failed/></PublishBatchResult><ResponseMetadata><RequestId>bench</RequestId>",
    "</ResponseMetadata></PublishBatchResponse>"
);

const PUBLISHED_ONE: &str = concat!(
    r#"<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>"#,
    "<MessageId>bench</MessageId></PublishResult><ResponseMetadata><RequestId>bench</RequestId>",
    "</ResponseMetadata></PublishResponse>"
);

/// A stand-in for S3 and SNS that answers at once: `PutObject` with an `ETag`,
/// `PublishBatch` with no entry failed, `Publish` with a message id. moto handles one request at a time, so behind it
/// part of an added delay hides in moto's queue; behind this, the added time is exactly the
/// round trips on the critical path.
async fn instant_aws() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| die(&format!("bind the S3/SNS stand-in: {e}")));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| die(&format!("stand-in address: {e}")));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(instant_answer);
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

async fn instant_answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // SNS's query protocol posts a form; S3's PutObject is a PUT.
    let publish = req.method() == Method::POST;
    let form = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let rsp = if publish {
        // `Publish` (the Node.js listener's, one message a call) or `PublishBatch`.
        let single = form.starts_with(b"Action=Publish&") || form.windows(16).any(|w| w == b"&Action=Publish&");
        Response::builder()
            .header("content-type", "text/xml")
            .body(Full::new(Bytes::from_static(if single {
                PUBLISHED_ONE.as_bytes()
            } else {
                PUBLISHED.as_bytes()
            })))
    } else {
        Response::builder()
            .header("etag", "\"bench\"")
            .body(Full::new(Bytes::new()))
    };
    Ok(rsp.unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))))
}

/// moto with this run's bucket and topics (no subscriptions), emptied first.
async fn moto_resources(moto: &e2e::moto::Moto) -> (String, String) {
    reset_moto(moto).await;
    let aws = e2e::Aws::connect(&moto.endpoint());
    if let Err(e) = aws.s3.create_bucket().bucket(BUCKET).send().await {
        die(&format!("moto: create bucket: {e:?}"));
    }
    let mut arns = Vec::new();
    for name in ["bench-confirmed", "bench-failed"] {
        let created = aws.sns.create_topic().name(name).send().await;
        match created.ok().and_then(|t| t.topic_arn) {
            Some(arn) => arns.push(arn),
            None => die(&format!("moto: could not create topic {name}")),
        }
    }
    let failed = arns.pop().unwrap_or_default();
    let confirmed = arns.pop().unwrap_or_default();
    (confirmed, failed)
}

/// Empties moto (`POST /moto-api/reset`), so each figure starts on a fresh one.
async fn reset_moto(moto: &e2e::moto::Moto) {
    let request = async {
        let mut s = TcpStream::connect(moto.addr()).await?;
        s.write_all(
            b"POST /moto-api/reset HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .await?;
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    match tokio::time::timeout(Duration::from_secs(30), request).await {
        Ok(Ok(answer)) if answer.starts_with(b"HTTP/1.1 200") || answer.starts_with(b"HTTP/1.0 200") => {}
        other => die(&format!("moto did not reset: {other:?}")),
    }
}

/// End-to-end time of a 50-file confirmed delivery with every S3/SNS request held 20 ms,
/// against the same with no delay, interleaved in one warm process.
///
/// Round trips = (delayed - undelayed) / the delay the proxy actually applied. Measured
/// behind the proxy twice: in front of an S3/SNS that answers at once ([`instant_aws`]:
/// the exact count of round trips on the critical path) and in front of moto (what a local
/// stack really takes; moto serves one request at a time, so part of the delay hides in
/// its queue). The same with `MAX_CONCURRENCY=1` is the one-by-one comparison. The time of
/// one invocation runs from the last byte of its event written to the function (a
/// [`HandOutTap`] between the function and the emulator) to the arrival of its answer.
/// Every invocation is a delivery of files no earlier one wrote ([`fresh_event`]).
/// The customer's Node.js listener runs beside the function behind the same proxy (not
/// one by one: it has no such setting), the two taking turns going first in a round; its
/// figures are under `node`. Its two phases (every PutObject, then every Publish) are two
/// round trips on its critical path, but the SDK's own CPU time per call (signing,
/// checksums) spreads its requests over longer than the delay, which then partly hides
/// behind that work: its count comes out lower than the round trips it waits for.
async fn fanout(
    bin: &Path,
    compare: Option<&Path>,
    node: &Program,
    secret: &str,
    deliveries: &Path,
    runs: usize,
) -> Value {
    let (body, _) = load(deliveries, "fanout-50-file-1MiB");
    // Each invocation a delivery of new files, so moto sees first writes (not repeats).
    let mut serial = 1_000_000usize;
    let mut next = || {
        serial += 1;
        fresh_event(&body, secret, Some(serial))
    };
    let moto = e2e::moto::shared();
    let (confirmed, failed) = moto_resources(moto).await;
    let topics = Topics {
        confirmed: &confirmed,
        failed: &failed,
    };
    let instant = instant_aws().await;
    let bin = Program::binary(bin);
    let mut result = Map::new();
    result.insert("delay_ms".into(), json!(DELAY.as_millis() as u64));
    result.insert("runs".into(), json!(runs));
    result.insert("bytes".into(), json!(body.len()));
    let labels = [
        ("instant", instant, None, runs, true),
        ("moto", moto.addr(), None, runs, true),
        ("sequential", instant, Some("1"), (runs / 3).max(2), false),
    ];
    let (mut node_result, mut compare_result) = (Map::new(), Map::new());
    for (label, upstream, max_concurrency, n, with_node) in labels {
        let proxy = DelayProxy::start(upstream).await;
        let mut env = function_env(&proxy.url(), secret, &topics);
        if let Some(c) = max_concurrency {
            env.push(("MAX_CONCURRENCY".into(), c.into()));
        }
        let mut functions = vec![Function::start(&format!("fanout-{label}"), &bin, env.clone(), true).await];
        // Beside the function: Node.js, then the other build, each with its own figures.
        let mut who = vec!["rust"];
        if with_node {
            functions.push(Function::start(&format!("fanout-{label}-node"), node, env.clone(), true).await);
            who.push("node");
        }
        if let Some(c) = compare.filter(|_| with_node) {
            let c = Program::binary(c);
            functions.push(Function::start(&format!("fanout-{label}-compare"), &c, env, true).await);
            who.push("compare");
        }
        proxy.reset(Duration::ZERO);
        for f in &functions {
            for _ in 0..WARM_UPS {
                f.invoke_200(next()).await; // connections, credentials, Node's JIT
            }
        }
        let mut samples: Vec<FanoutSamples> = functions.iter().map(|_| FanoutSamples::default()).collect();
        for round in 0..n {
            for delay in [Duration::ZERO, DELAY] {
                for k in 0..functions.len() {
                    let i = (k + round) % functions.len();
                    let event = next();
                    proxy.reset(delay);
                    let took = ms(functions[i].invoke_200(event).await);
                    let s = &mut samples[i];
                    s.requests.push(proxy.requests() as f64);
                    if delay.is_zero() {
                        s.fast.push(took);
                    } else {
                        s.slow.push(took);
                        s.applied.push(ms(proxy.delayed()) / proxy.requests().max(1) as f64);
                    }
                }
            }
        }
        drop(functions);
        let upstream_name = if upstream == instant { "instant" } else { "moto" };
        for (s, who) in samples.iter().zip(&who) {
            let out = s.summary(upstream_name, max_concurrency.unwrap_or("default"), n);
            say(&format!(
                "fan-out {label} ({who}): {:.1} round trips at 20 ms",
                out["round_trips"].as_f64().unwrap_or(f64::NAN)
            ));
            match *who {
                "rust" => result.insert(label.into(), out),
                "node" => node_result.insert(label.into(), out),
                _ => compare_result.insert(label.into(), out),
            };
        }
    }
    result.insert("node".into(), Value::Object(node_result));
    if compare.is_some() {
        result.insert("compare".into(), Value::Object(compare_result));
    }
    Value::Object(result)
}

/// Invocations each function gets before it is measured: connections, credentials, and
/// Node's JIT on the listener's code.
const WARM_UPS: usize = 3;

/// One function's fan-out samples, ms, and the requests the proxy counted.
#[derive(Default)]
struct FanoutSamples {
    fast: Vec<f64>,
    slow: Vec<f64>,
    applied: Vec<f64>,
    requests: Vec<f64>,
}

impl FanoutSamples {
    fn summary(&self, upstream: &str, max_concurrency: &str, runs: usize) -> Value {
        let (fast_ms, slow_ms, per_request) = (median(&self.fast), median(&self.slow), median(&self.applied));
        let calls = median(&self.requests);
        json!({
            "upstream": upstream,
            "max_concurrency": max_concurrency,
            "runs": runs,
            "requests": calls,
            "no_delay_median_ms": fast_ms,
            "delayed_median_ms": slow_ms,
            "applied_delay_ms": per_request,
            "round_trips": (slow_ms - fast_ms) / per_request,
            "no_delay_samples_ms": self.fast,
            "delayed_samples_ms": self.slow,
            "sequential_estimate_ms": fast_ms + calls * per_request,
        })
    }
}

// --- Figure 5: memory -------------------------------------------------------------------------

/// Whole-process peak RSS (`VmHWM`) of a fresh process that handled one delivery (read
/// once it is back at `GET /next`), for 1 file of 2 KB and 50 files of 1, 2, 4 and 6 MiB,
/// the 6 MiB one also base64-encoded; and the least-squares slope of the peak over the
/// body size (plain 50-file events). The customer's Node.js listener is measured the same
/// way in the same rounds, for 1 file of 2 KB and 50 files of 1 and 6 MiB (under `node`).
async fn memory(
    bin: &Path,
    compare: Option<&Path>,
    node: &Program,
    secret: &str,
    deliveries: &Path,
    runs: usize,
) -> Value {
    let files = manifest(deliveries)
        .get("mem-6MiB")
        .and_then(|m| m.get("files"))
        .cloned()
        .unwrap_or_else(|| die("manifest.json has no mem-6MiB.files"));
    let moto = e2e::moto::shared();
    let (confirmed, failed) = moto_resources(moto).await;
    let topics = Topics {
        confirmed: &confirmed,
        failed: &failed,
    };
    let bin = Program::binary(bin);
    let other = compare.map(Program::binary);
    let mut cases = vec![
        (&bin, "tiny", false),
        (&bin, "mem-1MiB", false),
        (&bin, "mem-2MiB", false),
        (&bin, "mem-4MiB", false),
        (&bin, "mem-6MiB", false),
        (&bin, "mem-6MiB", true),
        (node, "tiny", false),
        (node, "mem-1MiB", false),
        (node, "mem-6MiB", false),
    ];
    if let Some(other) = &other {
        cases.extend([
            (other, "tiny", false),
            (other, "mem-1MiB", false),
            (other, "mem-6MiB", false),
        ]);
    }
    let mut sizes: Vec<PeakSize> = Vec::new();
    let mut node_sizes: Vec<PeakSize> = Vec::new();
    let mut compare_sizes: Vec<PeakSize> = Vec::new();
    for _ in 0..runs {
        for &(program, name, as_base64) in &cases {
            let is_node = std::ptr::eq(program, node);
            let is_compare = other.as_ref().is_some_and(|o| std::ptr::eq(program, o));
            let (body, signature) = load(deliveries, name);
            let event = http_api_event(&body, &signature, as_base64);
            let event_bytes = event.to_string().len();
            let key = format!("{name}{}", if as_base64 { " (base64)" } else { "" });
            let env = function_env(&moto.endpoint(), secret, &topics);
            let label = format!(
                "memory-{name}{}",
                if is_node {
                    "-node"
                } else if is_compare {
                    "-compare"
                } else {
                    ""
                }
            );
            let f = Function::start(&label, program, env, false).await;
            let init = f.peak_rss();
            f.invoke_200(event).await;
            f.wait_next_calls(2).await; // back at /next: the request is over
            let peak = f.peak_rss();
            drop(f);
            let sizes = if is_node {
                &mut node_sizes
            } else if is_compare {
                &mut compare_sizes
            } else {
                &mut sizes
            };
            let i = match sizes.iter().position(|s| s.key == key) {
                Some(i) => i,
                None => {
                    sizes.push(PeakSize {
                        key,
                        bytes: body.len(),
                        event_bytes,
                        peak: Vec::new(),
                        init: Vec::new(),
                    });
                    sizes.len() - 1
                }
            };
            sizes[i].peak.push(peak as f64);
            sizes[i].init.push(init as f64);
        }
        say(&format!(
            "memory: round done ({} sizes, {} for Node.js)",
            sizes.len(),
            node_sizes.len()
        ));
    }
    // Least-squares slope of peak RSS over body size (plain events, 1 to 6 MiB).
    let points: Vec<(f64, f64)> = sizes
        .iter()
        .filter(|s| s.key.starts_with("mem-") && !s.key.contains("base64"))
        .map(|s| (s.bytes as f64, median(&s.peak)))
        .collect();
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let slope = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum::<f64>()
        / points.iter().map(|(x, _)| (x - mx) * (x - mx)).sum::<f64>();
    json!({
        "runs": runs,
        "sizes": PeakSize::summary(&sizes),
        "rss_per_body_byte": slope,
        "intercept_bytes": my - slope * mx,
        "files": files,
        "node": {"sizes": PeakSize::summary(&node_sizes)},
        "compare": {"sizes": PeakSize::summary(&compare_sizes)},
    })
}

/// The peaks of one delivery size over the rounds.
struct PeakSize {
    key: String,
    bytes: usize,
    event_bytes: usize,
    peak: Vec<f64>,
    init: Vec<f64>,
}

impl PeakSize {
    fn summary(sizes: &[PeakSize]) -> Value {
        let mut out = Map::new();
        for s in sizes {
            out.insert(
                s.key.clone(),
                json!({
                    "bytes": s.bytes,
                    "event_bytes": s.event_bytes,
                    "peak_rss_median_bytes": median(&s.peak),
                    "init_rss_median_bytes": median(&s.init),
                    "peak_samples_bytes": s.peak,
                }),
            );
        }
        Value::Object(out)
    }
}

// --- Beside the customer's Node.js listener: warm latency and CPU per invocation ----------

/// The warm figures' deliveries: 1 file of about 2 KB and 50 files of about 1 MiB.
const WARM_CASES: [&str; 2] = ["tiny", "fanout-50-file-1MiB"];

/// Batches of the CPU figure per delivery size (the function and Node taking turns).
const CPU_ROUNDS: usize = 3;

/// Warm latency and CPU per invocation of the function and of the customer's Node.js
/// listener, both against moto with no added delay, in the same rounds.
///
/// First [`check_node`] proves the listener really stores and publishes. Then one warm
/// process of each (after [`WARM_UPS`] invocations of each delivery), every invocation a
/// delivery of files no earlier one wrote ([`fresh_event`]): latency is the
/// median of `runs` invocations per delivery, from the event handed out to the answer (a
/// [`HandOutTap`]), the two taking turns going first; CPU is utime + stime of the whole
/// process (`/proc/PID/stat`, clock ticks) over [`CPU_ROUNDS`] interleaved batches of
/// invocations, divided by their count (`10 x runs` invocations of the 1-file delivery,
/// `2 x runs` of the 50-file one). moto answers every request with `Connection: close`, so
/// both open a connection per S3/SNS call, which AWS's endpoints would keep alive.
async fn warm(bin: &Path, node: &Program, secret: &str, deliveries: &Path, runs: usize) -> Value {
    let check = check_node(node, secret, deliveries).await;
    let moto = e2e::moto::shared();
    let (confirmed, failed) = moto_resources(moto).await;
    let topics = Topics {
        confirmed: &confirmed,
        failed: &failed,
    };
    let env = function_env(&moto.endpoint(), secret, &topics);
    let bin = Program::binary(bin);
    let functions = [
        Function::start("warm", &bin, env.clone(), true).await,
        Function::start("warm-node", node, env, true).await,
    ];
    let manifest = manifest(deliveries);
    let cases: Vec<(&str, Vec<u8>, usize, u64)> = WARM_CASES
        .iter()
        .map(|&name| {
            let (body, signature) = load(deliveries, name);
            // The re-signing below must give back the dumped signature for the dumped body.
            if fresh_event(&body, secret, None) != http_api_event(&body, &signature, false) {
                die(&format!("{name}: signing its result again does not give its signature"));
            }
            let files = manifest
                .get(name)
                .and_then(|m| m.get("files"))
                .and_then(Value::as_u64)
                .unwrap_or_else(|| die(&format!("manifest.json has no {name}.files")));
            let bytes = body.len();
            (name, body, bytes, files)
        })
        .collect();
    // Every invocation gets file ids no other wrote (the first write of each key, as a
    // delivery of new files makes), the function's and Node's alike.
    let mut serial = 0usize;
    let mut next = |body: &[u8]| {
        serial += 1;
        fresh_event(body, secret, Some(serial))
    };
    for f in &functions {
        for (_, body, _, _) in &cases {
            for _ in 0..WARM_UPS {
                f.invoke_200(next(body)).await;
            }
        }
    }
    let tick_ms = 1000.0 / clock_ticks_per_second();
    let mut out = Map::new();
    for (name, body, bytes, files) in &cases {
        let mut latency = [Vec::new(), Vec::new()];
        for round in 0..runs {
            for k in 0..2 {
                let i = (k + round) % 2;
                latency[i].push(ms(functions[i].invoke_200(next(body)).await));
            }
        }
        let batch = if *files == 1 {
            (runs * 10 / CPU_ROUNDS).max(10)
        } else {
            (runs * 2 / CPU_ROUNDS).max(3)
        };
        let (mut ticks, mut count) = ([0u64; 2], [0usize; 2]);
        for round in 0..CPU_ROUNDS {
            for k in 0..2 {
                let i = (k + round) % 2;
                let events: Vec<Value> = (0..batch).map(|_| next(body)).collect();
                let before = functions[i].cpu_ticks();
                for event in events {
                    functions[i].invoke_200(event).await;
                }
                ticks[i] += functions[i].cpu_ticks() - before;
                count[i] += batch;
            }
        }
        let one = |i: usize| {
            json!({
                "latency_median_ms": median(&latency[i]),
                "latency_samples_ms": latency[i],
                "cpu_ms": ticks[i] as f64 * tick_ms / count[i] as f64,
                "cpu_ticks": ticks[i],
                "cpu_invocations": count[i],
            })
        };
        let (rust, node) = (one(0), one(1));
        let ratio = |key: &str| node[key].as_f64().unwrap_or(f64::NAN) / rust[key].as_f64().unwrap_or(f64::NAN);
        say(&format!(
            "warm {name}: latency {:.1} ms vs Node.js {:.1} ms; CPU {:.2} ms vs {:.2} ms per invocation",
            rust["latency_median_ms"].as_f64().unwrap_or(f64::NAN),
            node["latency_median_ms"].as_f64().unwrap_or(f64::NAN),
            rust["cpu_ms"].as_f64().unwrap_or(f64::NAN),
            node["cpu_ms"].as_f64().unwrap_or(f64::NAN),
        ));
        out.insert(
            (*name).to_owned(),
            json!({
                "files": files,
                "bytes": bytes,
                "runs": runs,
                "rust": rust,
                "node": node,
                "node_over_rust_latency": ratio("latency_median_ms"),
                "node_over_rust_cpu": ratio("cpu_ms"),
            }),
        );
    }
    json!({
        "upstream": "moto",
        "tick_ms": tick_ms,
        "cases": out,
        "node_check": check,
    })
}

/// The HTTP API event of `body` with every `fileId` made unique to `serial` (as is without
/// one), signed again over its `result`: a delivery of files no earlier invocation wrote.
fn fresh_event(body: &[u8], secret: &str, serial: Option<usize>) -> Value {
    let text = std::str::from_utf8(body).unwrap_or_else(|_| die("a delivery is not UTF-8"));
    let text = match serial {
        Some(n) => text.replace("\"fileId\":\"", &format!("\"fileId\":\"w{n}-")),
        None => text.to_owned(),
    };
    // `{"event":…,"result":[…]}`: the result runs from its member to the closing brace.
    let start = text
        .find("\"result\":")
        .unwrap_or_else(|| die("a delivery has no result"))
        + "\"result\":".len();
    let end = text
        .rfind('}')
        .unwrap_or_else(|| die("a delivery is not a JSON object"));
    let signature = e2e::requests::sign(secret, &text.as_bytes()[start..end]);
    http_api_event(text.as_bytes(), &signature, false)
}

/// Proves the Node.js listener does the work it is timed for, on moto with a queue
/// subscribed to each topic: a wrong signature gets `401`; the 50-file delivery (as a
/// base64 event) gets `200`, one object per file entry holding that entry, and one message
/// per file on the confirmed topic, none on the failed one; a failed delivery's files
/// each get an object and a message on the failed topic, a processed one's an object and
/// no message. Dies otherwise.
async fn check_node(node: &Program, secret: &str, deliveries: &Path) -> Value {
    let moto = e2e::moto::shared();
    reset_moto(moto).await;
    let aws = e2e::Aws::connect(&moto.endpoint());
    let res = aws.create_resources(false).await;
    let topics = Topics {
        confirmed: &res.confirmed_topic_arn,
        failed: &res.failed_topic_arn,
    };
    let prefix = "node-check/";
    let mut env = function_env(&moto.endpoint(), secret, &topics);
    env.push(("RESULTS_BUCKET".into(), res.bucket.clone()));
    env.push(("RESULTS_PREFIX".into(), prefix.into()));
    let f = Function::start("check-node", node, env, false).await;
    let (body, signature) = load(deliveries, "fanout-50-file-1MiB");
    let wrong = B64.encode([0u8; 32]);
    let (refused, _, _) = f.invoke(http_api_event(&body, &wrong, false)).await;
    if refused != 401 {
        f.fail(&format!("answered {refused} to a wrong signature, not 401"));
    }
    f.invoke_200(http_api_event(&body, &signature, true)).await;
    let parsed: Value = serde_json::from_slice(&body).unwrap_or_else(|e| die(&format!("the 50-file delivery: {e}")));
    let entries = parsed["result"].as_array().cloned().unwrap_or_default();
    let keys = aws.list_keys(&res.bucket, prefix).await;
    if keys.len() != entries.len() {
        f.fail(&format!(
            "stored {} objects for {} file entries",
            keys.len(),
            entries.len()
        ));
    }
    for key in &keys {
        let stored = aws.get_object(&res.bucket, key).await.json();
        if !entries.contains(&stored) {
            f.fail(&format!("{key} does not hold one of the delivery's entries"));
        }
    }
    let mut confirmed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while confirmed.len() < entries.len() && Instant::now() < deadline {
        confirmed.extend(aws.drain(&res.confirmed_queue).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let failed = aws.drain(&res.failed_queue).await;
    if confirmed.len() != entries.len() || !failed.is_empty() {
        f.fail(&format!(
            "published {} confirmed and {} failed messages for {} confirmed files",
            confirmed.len(),
            failed.len(),
            entries.len()
        ));
    }
    // Routing by event: 3 failed files go to the failed topic, 2 processed ones to none.
    let (mut routed_objects, mut routed_failed, mut routed_confirmed) = (0, 0, 0);
    for (event, status, files) in [
        ("extraction.failed", "failed", 3),
        ("extraction.processed", "processed", 2),
    ] {
        let delivery = (0..files).fold(Delivery::new(event), |d, i| {
            d.raw_entry(&entry_text("check", "check", &format!("file-{i}"), status, "{}"))
        });
        f.invoke_200(http_api_event(&delivery.body(), &delivery.signature(secret), false))
            .await;
        let stored = aws.list_keys(&res.bucket, &format!("{prefix}check/")).await;
        let published_failed = aws.drain(&res.failed_queue).await.len();
        let published_confirmed = aws.drain(&res.confirmed_queue).await.len();
        let expected_failed = if status == "failed" { files } else { 0 };
        if stored.len() != routed_objects + files || published_failed != expected_failed || published_confirmed != 0 {
            f.fail(&format!(
                "{event} with {files} files: {} new objects, {published_failed} failed and {published_confirmed} confirmed messages",
                stored.len() - routed_objects
            ));
        }
        routed_objects = stored.len();
        routed_failed += published_failed;
        routed_confirmed += published_confirmed;
    }
    say(&format!(
        "Node.js listener checked: 401 to a wrong signature; {} objects and {} messages for {} confirmed files; \
         failed and processed deliveries routed",
        keys.len(),
        confirmed.len(),
        entries.len()
    ));
    json!({
        "files": entries.len(),
        "objects": keys.len(),
        "confirmed_messages": confirmed.len(),
        "failed_messages": failed.len(),
        "wrong_signature_status": refused,
        "routing": {
            "failed_and_processed_objects": routed_objects,
            "failed_messages": routed_failed,
            "confirmed_messages": routed_confirmed,
        },
    })
}

fn main() {
    let a = args();
    let secret = manifest(&a.deliveries)
        .get("secret")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| die("manifest.json has no secret"));
    let wants = |part: &str| a.only.iter().any(|p| p == part);
    // Missing tools fail before anything is measured.
    let cc = if wants("coldstart") {
        Some(find_cc().unwrap_or_else(|| die("no C compiler (cc or gcc) on PATH: the cold-start floor needs one")))
    } else {
        None
    };
    if wants("fanout") || wants("memory") || wants("warm") {
        // Panics with how to install it when it is missing.
        e2e::moto::find_moto_server();
    }
    // Every part runs the customer's Node.js listener beside the function.
    let node_path = find_node();
    let node = Program::node_listener(&node_path);
    let node_version = std::process::Command::new(&node_path)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| die(&format!("{} --version failed", node_path.display())));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| die(&format!("tokio runtime: {e}")));
    let mut doc = Map::new();
    doc.insert("node_version".into(), json!(node_version));
    if let Some(cc) = &cc {
        let cs = rt.block_on(coldstart(&a.bin, a.compare.as_deref(), &node, &secret, a.runs, cc));
        say(&format!(
            "cold start: median {:.2} ms",
            cs["median_ms"].as_f64().unwrap_or(f64::NAN)
        ));
        doc.insert("coldstart".into(), cs);
    }
    if wants("fanout") {
        let fo = rt.block_on(fanout(
            &a.bin,
            a.compare.as_deref(),
            &node,
            &secret,
            &a.deliveries,
            (a.runs / 3).max(3),
        ));
        doc.insert("fanout".into(), fo);
    }
    if wants("memory") {
        let mem = rt.block_on(memory(
            &a.bin,
            a.compare.as_deref(),
            &node,
            &secret,
            &a.deliveries,
            (a.runs / 7).max(1),
        ));
        doc.insert("memory".into(), mem);
    }
    if wants("warm") {
        let warm = rt.block_on(warm(&a.bin, &node, &secret, &a.deliveries, a.runs));
        doc.insert("warm".into(), warm);
    }
    let text = serde_json::to_string_pretty(&Value::Object(doc)).unwrap_or_else(|e| die(&format!("JSON: {e}")));
    match &a.out {
        Some(path) => {
            std::fs::write(path, text + "\n").unwrap_or_else(|e| die(&format!("write {}: {e}", path.display())))
        }
        None => println!("{text}"),
    }
}
