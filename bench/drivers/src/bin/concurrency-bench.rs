//! What more S3/SNS requests in flight (`MAX_CONCURRENCY`) cost and gain, measured on the
//! real release `webhook` binary over TLS (`bench/run --only concurrency`; docs/performance.md,
//! "Requests in flight (MAX_CONCURRENCY)").
//!
//! The binary runs as Lambda runs it: a fresh process per value with only its environment,
//! the harness's Lambda Runtime API emulator, and S3 and SNS behind a local TLS endpoint each
//! (two ports of one proxy, as S3 and SNS are two hosts on AWS, so neither reuses the other's
//! connections). The function trusts the proxy's certificate authority through
//! `SSL_CERT_FILE` (rustls-native-certs reads it), so every connection it opens costs the
//! full TLS handshake it costs against AWS: the proxy counts them, full and resumed. The
//! certificates are made at run time with the `openssl` command: a root, an intermediate and
//! a leaf for `127.0.0.1`, RSA 2048 each (S3's chain is RSA 2048: leaf, "Amazon RSA 2048
//! M0x", "Amazon Root CA 1"); the proxy sends the leaf and the intermediate. Before anything
//! is measured one process is started trusting only the system's roots: it must fail its
//! delivery with every handshake refused, which shows the trust comes from `SSL_CERT_FILE`.
//!
//! Behind the proxy, each request is either answered at once by a stand-in (`PutObject`
//! with an `ETag`, `PublishBatch` with no entry failed), after a set delay, so the added
//! time is exactly the round trips on the critical path as on AWS, where S3 serves requests
//! in parallel; or forwarded to moto (one new connection per request: moto closes each),
//! which serves one request at a time and so hides part of any delay in its queue.
//!
//! Per value of `MAX_CONCURRENCY` and per round, one fresh process (no pooled connections)
//! handles, in order:
//! 1. the cold invocation: one signed 50-file (about 1 MiB) `extraction.confirmed`
//!    delivery, every call held `--delay-ms` (20) before the stand-in answers;
//! 2. `--warm` pairs of warm invocations, no delay and `--delay-ms`, interleaved: round
//!    trips = (median delayed - median undelayed) / the delay the proxy applied per call;
//! 3. one warm invocation after the proxy closed every connection, as an endpoint closes
//!    idle ones (with `--delay-ms`): new connections, resuming the TLS sessions the
//!    process holds where it can;
//! 4. one warm invocation forwarded to moto (a real S3/SNS implementation accepts what the
//!    function sends over TLS; its time is moto's, one request at a time).
//!
//! Every delivery is a different one (a serial in its extraction id), so every file key is
//! new and each file is one `PutObject`. The same is done with a 1-file (about 2 KB)
//! delivery in a process of its own. Values are interleaved within a round, their order
//! rotating from round to round; each figure is the median over the rounds.
//!
//! Recorded per value: wall time of the cold and the warm invocations (from queuing the
//! event at the emulator to the arrival of the answer), round trips, TLS handshakes on the
//! cold and on the warm invocations (S3 and SNS), the function's CPU time (user + system of
//! every thread: `/proc/PID/task/*/schedstat` in ns, and `/proc/PID/stat` in clock ticks as
//! a cross-check) for the cold invocation and per warm one, from queuing the event to the
//! function's next `GET /next`, and its peak RSS (`VmHWM`) after the cold invocation and at
//! the end. The bench's own CPU over the cold invocation (the proxy's server side of the
//! handshakes, an RSA signature each, runs on the same cores) is recorded beside it.
//!
//! ```text
//! concurrency-bench [--bin PATH] [--values 8,16,32,50,64,100] [--rounds N] [--warm N]
//!                   [--delay-ms N] [--x25519-only] [--out FILE]
//! ```
//! `--bin` defaults to `target/release/webhook`; 7 rounds of 3 warm pairs take 2-4 minutes
//! with six values on 2 cores, depending on the load. The client (the SDK's rustls) offers
//! the hybrid post-quantum key exchange X25519MLKEM768 first and the proxy takes it;
//! `--x25519-only` has the proxy offer X25519 alone (an endpoint without post-quantum key
//! exchange). Prints a Markdown table on stdout and JSON (`--out`, else after the table);
//! `bench/table.py` reads it as `concurrency.json`. Exits non-zero when `openssl` or
//! moto_server is missing, or when an invocation does not answer `200`.
#![forbid(unsafe_code)]

use bench_drivers::{clock_ticks_per_second, median, ms};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use e2e::requests::{entry_text, Delivery};
use e2e::{HttpResponse, Outcome, RuntimeApi};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

const EVENT: &str = "extraction.confirmed";
/// Lambda gives a function one vCPU at 1,769 MB: at 256 MB, 256/1769 of one.
const FULL_VCPU_MB: f64 = 1769.0;
const LAMBDA_MB: f64 = 256.0;

struct Args {
    bin: PathBuf,
    values: Vec<usize>,
    rounds: usize,
    warm: usize,
    delay: Duration,
    x25519_only: bool,
    out: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        bin: e2e::target_dir().join("release").join("webhook"),
        values: vec![8, 16, 32, 50, 64, 100],
        rounds: 7,
        warm: 3,
        delay: Duration::from_millis(20),
        x25519_only: false,
        out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| die(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--bin" => a.bin = value().into(),
            "--values" => a.values = value().split(',').filter(|v| !v.is_empty()).map(number).collect(),
            "--rounds" => a.rounds = number(&value()),
            "--warm" => a.warm = number(&value()),
            "--delay-ms" => a.delay = Duration::from_millis(number(&value()) as u64),
            "--out" => a.out = Some(value().into()),
            "--x25519-only" => a.x25519_only = true,
            "-h" | "--help" => {
                eprintln!("concurrency-bench [--bin PATH] [--values 8,16,32,50,64,100] [--rounds N] [--warm N] [--delay-ms N] [--x25519-only] [--out FILE]");
                std::process::exit(0);
            }
            other => die(&format!("unknown option {other}")),
        }
    }
    if a.values.is_empty() || a.values.contains(&0) {
        die("--values needs one or more positive numbers");
    }
    if a.rounds == 0 || a.warm == 0 || a.delay.is_zero() {
        die("--rounds, --warm and --delay-ms must be positive");
    }
    if !a.bin.is_file() {
        die(&format!(
            "{} is missing: cargo build --release -p webhook",
            a.bin.display()
        ));
    }
    a.bin = std::path::absolute(&a.bin).unwrap_or(a.bin);
    a
}

fn number(s: &str) -> usize {
    s.parse().unwrap_or_else(|_| die(&format!("not a number: {s}")))
}

fn die(message: &str) -> ! {
    eprintln!("concurrency-bench: {message}");
    std::process::exit(2)
}

fn say(message: &str) {
    eprintln!("concurrency-bench: {message}");
}

// --- Certificates ------------------------------------------------------------------------

/// The proxy's certificates, made with the `openssl` command in `dir`.
struct Pki {
    /// The root alone, plus the system's bundle: the function's `SSL_CERT_FILE`.
    trust_file: PathBuf,
    /// The system's bundle alone (the trust check's `SSL_CERT_FILE`).
    system_only: PathBuf,
    /// An empty directory: the function's `SSL_CERT_DIR`, so nothing else is trusted.
    empty_dir: PathBuf,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            die(&format!(
                "cannot run openssl ({e}): install it (Debian: apt-get install openssl)"
            ))
        });
    if !out.status.success() {
        die(&format!(
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
}

/// A root, an intermediate and a leaf for `127.0.0.1` (subject alternative name
/// `IP:127.0.0.1`), RSA 2048, valid two days.
fn make_pki(dir: &Path) -> Pki {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| die(&format!("create {}: {e}", dir.display())));
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).unwrap_or_else(|e| die(&format!("write {name}: {e}")));
    };
    write(
        "ca.ext",
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    );
    write(
        "leaf.ext",
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    );
    let days = "2";
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "root.key",
            "-out",
            "root.pem",
            "-days",
            days,
            "-subj",
            "/CN=concurrency-bench root (fake)",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    for (name, subject, signer, ext) in [
        ("int", "/CN=concurrency-bench intermediate (fake)", "root", "ca.ext"),
        ("leaf", "/CN=127.0.0.1", "int", "leaf.ext"),
    ] {
        let (key, csr, pem) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.pem"));
        openssl(
            dir,
            &[
                "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj", subject,
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &format!("{signer}.pem"),
                "-CAkey",
                &format!("{signer}.key"),
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                days,
                "-extfile",
                ext,
            ],
        );
    }
    let system = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"]
        .into_iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    let root = std::fs::read_to_string(dir.join("root.pem")).unwrap_or_else(|e| die(&format!("root.pem: {e}")));
    // As on Lambda, the process loads a whole bundle at init; ours is the system's plus the root.
    write("trust.pem", &format!("{system}\n{root}"));
    write("system-only.pem", &system);
    let empty_dir = dir.join("empty");
    std::fs::create_dir_all(&empty_dir).unwrap_or_else(|e| die(&format!("create {}: {e}", empty_dir.display())));
    let mut chain = Vec::new();
    for name in ["leaf.pem", "int.pem"] {
        let cert = CertificateDer::from_pem_file(dir.join(name)).unwrap_or_else(|e| die(&format!("{name}: {e}")));
        chain.push(cert);
    }
    let key = PrivateKeyDer::from_pem_file(dir.join("leaf.key")).unwrap_or_else(|e| die(&format!("leaf.key: {e}")));
    Pki {
        trust_file: dir.join("trust.pem"),
        system_only: dir.join("system-only.pem"),
        empty_dir,
        chain,
        key,
    }
}

// --- The TLS proxy ------------------------------------------------------------------------

/// What one endpoint (S3 or SNS) saw since the last reset.
#[derive(Default)]
struct Counters {
    connections: AtomicUsize,
    full: AtomicUsize,
    resumed: AtomicUsize,
    failed: AtomicUsize,
    requests: AtomicUsize,
    delayed_ns: AtomicU64,
    /// Key exchange group of each completed handshake, by name.
    groups: Mutex<BTreeMap<String, usize>>,
}

impl Counters {
    fn reset(&self) {
        for c in [
            &self.connections,
            &self.full,
            &self.resumed,
            &self.failed,
            &self.requests,
        ] {
            c.store(0, Ordering::SeqCst);
        }
        self.delayed_ns.store(0, Ordering::SeqCst);
        self.groups.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn handshakes(&self) -> usize {
        self.full.load(Ordering::SeqCst) + self.resumed.load(Ordering::SeqCst)
    }

    fn json(&self) -> Value {
        json!({
            "connections": self.connections.load(Ordering::SeqCst),
            "full_handshakes": self.full.load(Ordering::SeqCst),
            "resumed_handshakes": self.resumed.load(Ordering::SeqCst),
            "failed_handshakes": self.failed.load(Ordering::SeqCst),
            "requests": self.requests.load(Ordering::SeqCst),
            "key_exchange": *self.groups.lock().unwrap_or_else(|p| p.into_inner()),
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Service {
    S3,
    Sns,
}

struct ProxyState {
    delay_ns: AtomicU64,
    /// Forward to moto instead of answering at once.
    to_moto: AtomicBool,
    moto: SocketAddr,
    s3: Counters,
    sns: Counters,
    /// Bumped to close every open connection (an endpoint dropping idle connections).
    close_all: tokio::sync::watch::Sender<u64>,
}

impl ProxyState {
    fn counters(&self, service: Service) -> &Counters {
        match service {
            Service::S3 => &self.s3,
            Service::Sns => &self.sns,
        }
    }
}

/// Two TLS endpoints, S3's and SNS's, in front of an instant stand-in or moto.
struct TlsProxy {
    s3: SocketAddr,
    sns: SocketAddr,
    state: Arc<ProxyState>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl TlsProxy {
    async fn start(pki: &Pki, moto: SocketAddr, x25519_only: bool) -> Self {
        let mut provider = rustls::crypto::aws_lc_rs::default_provider();
        if x25519_only {
            provider.kx_groups = vec![rustls::crypto::aws_lc_rs::kx_group::X25519];
        }
        let provider = Arc::new(provider);
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|e| die(&format!("TLS versions: {e}")))
            .with_no_client_auth()
            .with_single_cert(pki.chain.clone(), pki.key.clone_key())
            .unwrap_or_else(|e| die(&format!("the proxy's certificate: {e}")));
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let state = Arc::new(ProxyState {
            delay_ns: AtomicU64::new(0),
            to_moto: AtomicBool::new(false),
            moto,
            s3: Counters::default(),
            sns: Counters::default(),
            close_all: tokio::sync::watch::channel(0).0,
        });
        let mut tasks = Vec::new();
        let mut addrs = Vec::new();
        for service in [Service::S3, Service::Sns] {
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap_or_else(|e| die(&format!("bind the TLS proxy: {e}")));
            addrs.push(
                listener
                    .local_addr()
                    .unwrap_or_else(|e| die(&format!("proxy address: {e}"))),
            );
            let (acceptor, state) = (acceptor.clone(), state.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    state.counters(service).connections.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(serve(acceptor.clone(), stream, service, state.clone()));
                }
            }));
        }
        TlsProxy {
            s3: addrs[0],
            sns: addrs[1],
            state,
            tasks,
        }
    }

    fn url(addr: SocketAddr) -> String {
        format!("https://{addr}")
    }

    /// Sets the delay and the upstream, and zeroes the counters (between invocations).
    fn reset(&self, delay: Duration, to_moto: bool) {
        self.state.delay_ns.store(delay.as_nanos() as u64, Ordering::SeqCst);
        self.state.to_moto.store(to_moto, Ordering::SeqCst);
        self.state.s3.reset();
        self.state.sns.reset();
    }

    /// The delay applied per request since the last reset, ms.
    fn applied_ms(&self) -> f64 {
        let n = self.requests().max(1) as f64;
        let ns = self.state.s3.delayed_ns.load(Ordering::SeqCst) + self.state.sns.delayed_ns.load(Ordering::SeqCst);
        ns as f64 / 1e6 / n
    }

    fn requests(&self) -> usize {
        self.state.s3.requests.load(Ordering::SeqCst) + self.state.sns.requests.load(Ordering::SeqCst)
    }

    fn handshakes(&self) -> (usize, usize) {
        (self.state.s3.handshakes(), self.state.sns.handshakes())
    }

    /// Resumed handshakes since the last reset, S3 and SNS together.
    fn resumed(&self) -> usize {
        self.state.s3.resumed.load(Ordering::SeqCst) + self.state.sns.resumed.load(Ordering::SeqCst)
    }

    /// Closes every open connection, as an endpoint closes idle ones.
    fn close_connections(&self) {
        self.state.close_all.send_modify(|g| *g += 1);
    }
}

/// One TLS connection: the handshake (counted, full or resumed), then HTTP/1.1 keep-alive.
async fn serve(acceptor: TlsAcceptor, stream: TcpStream, service: Service, state: Arc<ProxyState>) {
    let counters = state.counters(service);
    let tls = match acceptor.accept(stream).await {
        Ok(tls) => tls,
        Err(_) => {
            counters.failed.fetch_add(1, Ordering::SeqCst);
            return;
        }
    };
    let conn = tls.get_ref().1;
    match conn.handshake_kind() {
        Some(rustls::HandshakeKind::Resumed) => counters.resumed.fetch_add(1, Ordering::SeqCst),
        _ => counters.full.fetch_add(1, Ordering::SeqCst),
    };
    let group = conn
        .negotiated_key_exchange_group()
        .map_or_else(|| "none".to_owned(), |g| format!("{:?}", g.name()));
    *counters
        .groups
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(group)
        .or_default() += 1;
    let mut closing = state.close_all.subscribe();
    let service_fn = hyper::service::service_fn(move |req| answer(req, service, state.clone()));
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(tls), service_fn);
    tokio::select! {
        _ = connection => {}
        _ = closing.changed() => {}
    }
}

const PUBLISHED: &str = concat!(
    r#"<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishBatchResult>"#,
    "<Successful/><Failed/></PublishBatchResult><ResponseMetadata><RequestId>bench</RequestId>",
    "</ResponseMetadata></PublishBatchResponse>"
);

async fn answer(
    req: Request<Incoming>,
    service: Service,
    state: Arc<ProxyState>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let counters = state.counters(service);
    counters.requests.fetch_add(1, Ordering::SeqCst);
    let delay = Duration::from_nanos(state.delay_ns.load(Ordering::SeqCst));
    if !delay.is_zero() {
        let t = Instant::now();
        tokio::time::sleep(delay).await;
        counters
            .delayed_ns
            .fetch_add(t.elapsed().as_nanos() as u64, Ordering::SeqCst);
    }
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Ok(status(502, format!("request body: {e}"))),
    };
    if state.to_moto.load(Ordering::SeqCst) {
        return Ok(forward(state.moto, Request::from_parts(parts, Full::new(body))).await);
    }
    // The stand-in knows the two calls a new delivery makes; anything else fails the
    // invocation, and so the bench.
    let rsp = match (service, parts.method.as_str()) {
        (Service::S3, "PUT") => Response::builder()
            .header("etag", "\"bench\"")
            .body(Full::new(Bytes::new())),
        (Service::Sns, "POST") => Response::builder()
            .header("content-type", "text/xml")
            .body(Full::new(Bytes::from_static(PUBLISHED.as_bytes()))),
        (_, method) => return Ok(status(501, format!("the stand-in does not answer {method}"))),
    };
    Ok(rsp.unwrap_or_else(|e| status(500, e.to_string())))
}

fn status(code: u16, text: String) -> Response<Full<Bytes>> {
    let mut rsp = Response::new(Full::new(Bytes::from(text)));
    *rsp.status_mut() = hyper::StatusCode::from_u16(code).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
    rsp
}

/// `req` to moto on a connection of its own (moto closes each), its answer without
/// moto's `Connection: close`.
async fn forward(moto: SocketAddr, req: Request<Full<Bytes>>) -> Response<Full<Bytes>> {
    let stream = match TcpStream::connect(moto).await {
        Ok(s) => s,
        Err(e) => return status(502, format!("connect to moto: {e}")),
    };
    let (mut sender, conn) = match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await {
        Ok(x) => x,
        Err(e) => return status(502, format!("moto handshake: {e}")),
    };
    tokio::spawn(conn);
    let rsp = match sender.send_request(req).await {
        Ok(r) => r,
        Err(e) => return status(502, format!("moto: {e}")),
    };
    let (mut parts, body) = rsp.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return status(502, format!("moto's body: {e}")),
    };
    parts.headers.remove(hyper::header::CONNECTION);
    Response::from_parts(parts, Full::new(body))
}

// --- The function process ------------------------------------------------------------------

/// A process's whole environment.
type Env = Vec<(String, String)>;

/// A webhook process with its own Runtime API emulator; killed on drop.
struct Proc {
    name: String,
    api: RuntimeApi,
    child: Child,
    pid: u32,
    log: PathBuf,
}

impl Proc {
    async fn start(name: &str, bin: &Path, env: &Env) -> Proc {
        let api = RuntimeApi::start().await;
        let logs = e2e::workspace_root().join("target/e2e");
        std::fs::create_dir_all(&logs).unwrap_or_else(|e| die(&format!("create {}: {e}", logs.display())));
        let log = logs.join(format!("concurrency-bench-{name}.log"));
        let out = std::fs::File::create(&log).unwrap_or_else(|e| die(&format!("create {}: {e}", log.display())));
        let child = Command::new(bin)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("AWS_LAMBDA_RUNTIME_API", api.host_port())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(out))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| die(&format!("could not start {}: {e}", bin.display())));
        let pid = child.id().unwrap_or_else(|| die("the function has no pid"));
        let p = Proc {
            name: name.to_owned(),
            api,
            child,
            pid,
            log,
        };
        if !p.api.wait_next_call(Duration::from_secs(30)).await {
            p.fail("never asked for an event within 30 s");
        }
        p
    }

    /// One invocation: the status it answered, its wall time (queued at the emulator to
    /// answer received) and the process's CPU (ns, ticks) from queuing to its next `GET
    /// /next`.
    async fn invoke(&mut self, event: Value) -> (u16, Duration, u64, u64) {
        let asked = self.api.next_calls();
        let (ns0, ticks0) = (cpu_ns(self.pid), cpu_ticks(self.pid));
        let t = Instant::now();
        let outcome = self.api.invoke(event, Duration::from_secs(120)).await;
        let wall = t.elapsed();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.api.next_calls() <= asked {
            if Instant::now() > deadline {
                self.fail("answered but never asked for the next event");
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        let (ns1, ticks1) = (cpu_ns(self.pid), cpu_ticks(self.pid));
        let code = match outcome {
            Some(Outcome::Response(v)) => HttpResponse::from_lambda(&v).status,
            Some(Outcome::Error(v)) => self.fail(&format!("reported an invocation error: {v}")),
            None => self.fail("did not answer within 120 s"),
        };
        (code, wall, ns1.saturating_sub(ns0), ticks1.saturating_sub(ticks0))
    }

    /// [`Proc::invoke`] that must answer `200`.
    async fn invoke_200(&mut self, event: Value) -> (Duration, u64, u64) {
        let (code, wall, ns, ticks) = self.invoke(event).await;
        if code != 200 {
            self.fail(&format!("answered {code}"));
        }
        (wall, ns, ticks)
    }

    /// Peak resident set (`VmHWM`) so far, bytes.
    fn peak_rss(&self) -> u64 {
        let path = format!("/proc/{}/status", self.pid);
        std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map(|kib| kib * 1024)
            .unwrap_or_else(|| self.fail(&format!("{path} has no VmHWM")))
    }

    fn fail(&self, message: &str) -> ! {
        let log = std::fs::read(&self.log).unwrap_or_default();
        let tail = String::from_utf8_lossy(&log[log.len().saturating_sub(2000)..]).into_owned();
        let state = match self.child.id() {
            Some(_) => "running",
            None => "exited",
        };
        die(&format!(
            "{} (pid {}, {state}): {message}\n{tail}\n(whole log: {})",
            self.name,
            self.pid,
            self.log.display()
        ))
    }
}

/// CPU time of the live threads of process `pid`, ns (`/proc/PID/task/*/schedstat`).
fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
        .sum()
}

/// utime + stime of process `pid` (every thread, exited ones too), clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    // Fields 14 and 15 of proc(5); `fields` starts at field 3.
    let f = |i: usize| fields.get(i - 3).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    f(14) + f(15)
}

// --- Deliveries ---------------------------------------------------------------------------

/// A signed `extraction.confirmed` delivery of `files` made-up entries of about
/// `entry_bytes` each, all keys new through `serial`, as an HTTP API event.
fn delivery(serial: usize, files: usize, entry_bytes: usize) -> Value {
    let filler = "fake bench text ".repeat(entry_bytes / 16);
    let d = (0..files).fold(Delivery::new(EVENT), |d, i| {
        let result = json!({"note": "made-up data", "index": i, "text": filler}).to_string();
        d.raw_entry(&entry_text(
            &format!("concurrency-bench-{}-{serial}", std::process::id()),
            "bench-batch",
            &format!("bench-file-{i:04}"),
            "confirmed",
            &result,
        ))
    });
    d.request().event()
}

struct Case {
    name: &'static str,
    files: usize,
    entry_bytes: usize,
}

const CASES: [Case; 2] = [
    Case {
        name: "50-file-1MiB",
        files: 50,
        entry_bytes: 20_700,
    },
    Case {
        name: "1-file-2KB",
        files: 1,
        entry_bytes: 1_800,
    },
];

// --- The measurement ---------------------------------------------------------------------

/// One process's figures.
#[derive(Default)]
struct Sample {
    cold_ms: f64,
    cold_cpu_ms: f64,
    cold_cpu_ticks_ms: f64,
    bench_cpu_ms: f64,
    cold_s3_handshakes: usize,
    cold_sns_handshakes: usize,
    cold_requests: usize,
    warm_fast_ms: Vec<f64>,
    warm_slow_ms: Vec<f64>,
    applied_ms: Vec<f64>,
    warm_cpu_ms: Vec<f64>,
    warm_handshakes: usize,
    reconnect_ms: f64,
    reconnect_cpu_ms: f64,
    reconnect_handshakes: usize,
    reconnect_resumed: usize,
    moto_ms: f64,
    rss_cold: u64,
    rss_end: u64,
    cold_detail: Value,
}

struct World<'a> {
    bin: &'a Path,
    env: &'a Env,
    proxy: &'a TlsProxy,
    delay: Duration,
    warm: usize,
    tick_ms: f64,
    serial: usize,
}

impl World<'_> {
    fn next_event(&mut self, case: &Case) -> Value {
        self.serial += 1;
        delivery(self.serial, case.files, case.entry_bytes)
    }

    async fn one_process(&mut self, case: &Case, value: usize, round: usize) -> Sample {
        let mut env = self.env.clone();
        env.push(("MAX_CONCURRENCY".into(), value.to_string()));
        let name = format!("{}-{value}-r{round}", case.name);
        let mut p = Proc::start(&name, self.bin, &env).await;
        let mut s = Sample::default();
        let me = std::process::id();

        // 1. Cold: no pooled connection, every call held `delay`.
        let event = self.next_event(case);
        self.proxy.reset(self.delay, false);
        let bench0 = cpu_ns(me);
        let (wall, ns, ticks) = p.invoke_200(event).await;
        s.bench_cpu_ms = cpu_ns(me).saturating_sub(bench0) as f64 / 1e6;
        s.cold_ms = ms(wall);
        s.cold_cpu_ms = ns as f64 / 1e6;
        s.cold_cpu_ticks_ms = ticks as f64 * self.tick_ms;
        (s.cold_s3_handshakes, s.cold_sns_handshakes) = self.proxy.handshakes();
        s.cold_requests = self.proxy.requests();
        s.cold_detail = json!({"s3": self.proxy.state.s3.json(), "sns": self.proxy.state.sns.json()});
        s.rss_cold = p.peak_rss();

        // 2. Warm pairs, no delay and `delay`, interleaved.
        for _ in 0..self.warm {
            for delay in [Duration::ZERO, self.delay] {
                let event = self.next_event(case);
                self.proxy.reset(delay, false);
                let (wall, ns, _) = p.invoke_200(event).await;
                let (s3, sns) = self.proxy.handshakes();
                s.warm_handshakes += s3 + sns;
                s.warm_cpu_ms.push(ns as f64 / 1e6);
                if delay.is_zero() {
                    s.warm_fast_ms.push(ms(wall));
                } else {
                    s.warm_slow_ms.push(ms(wall));
                    s.applied_ms.push(self.proxy.applied_ms());
                }
            }
        }

        // 3. Warm, after the endpoints closed the idle connections: new connections, with
        //    the TLS sessions the process already holds (resumption).
        self.proxy.close_connections();
        tokio::time::sleep(Duration::from_millis(200)).await; // the client sees them closed
        let event = self.next_event(case);
        self.proxy.reset(self.delay, false);
        let (wall, ns, _) = p.invoke_200(event).await;
        s.reconnect_ms = ms(wall);
        s.reconnect_cpu_ms = ns as f64 / 1e6;
        let (s3, sns) = self.proxy.handshakes();
        s.reconnect_handshakes = s3 + sns;
        s.reconnect_resumed = self.proxy.resumed();

        // 4. Through to moto: a real S3/SNS accepts what the function sends.
        let event = self.next_event(case);
        self.proxy.reset(Duration::ZERO, true);
        let (wall, _, _) = p.invoke_200(event).await;
        s.moto_ms = ms(wall);
        s.rss_end = p.peak_rss();
        drop(p);
        s
    }
}

/// The trust check: trusting only the system's roots, the function must fail the
/// delivery and the proxy must have refused (seen fail) every handshake.
async fn trust_check(bin: &Path, env: &Env, pki: &Pki, proxy: &TlsProxy) -> Value {
    let mut env: Env = env.iter().filter(|(k, _)| k != "SSL_CERT_FILE").cloned().collect();
    env.push(("SSL_CERT_FILE".into(), pki.system_only.to_string_lossy().into_owned()));
    env.push(("AWS_MAX_ATTEMPTS".into(), "1".into()));
    let mut p = Proc::start("trust-check", bin, &env).await;
    proxy.reset(Duration::ZERO, false);
    let (code, _, _, _) = p.invoke(delivery(0, 1, 100)).await;
    let (s3, sns) = (&proxy.state.s3, &proxy.state.sns);
    let failed = s3.failed.load(Ordering::SeqCst) + sns.failed.load(Ordering::SeqCst);
    let completed = s3.handshakes() + sns.handshakes();
    drop(p);
    if code == 200 || failed == 0 || completed != 0 {
        die(&format!(
            "trust check: without the bench's root the function answered {code} with {completed} handshakes completed and {failed} refused; it must fail with every handshake refused, or the measured handshakes are not the function's TLS"
        ));
    }
    say(&format!(
        "trust check passed: without the bench's root in SSL_CERT_FILE the function answered {code}, {failed} handshake(s) refused"
    ));
    json!({"status_without_root": code, "refused_handshakes": failed})
}

fn summarize(samples: &[Sample], value: usize) -> Value {
    let m = |f: &dyn Fn(&Sample) -> f64| median(&samples.iter().map(f).collect::<Vec<_>>());
    let all = |f: &dyn Fn(&Sample) -> &Vec<f64>| samples.iter().flat_map(|s| f(s).iter().copied()).collect::<Vec<_>>();
    let fast = all(&|s| &s.warm_fast_ms);
    let slow = all(&|s| &s.warm_slow_ms);
    let applied = median(&all(&|s| &s.applied_ms));
    let round_trips = (median(&slow) - median(&fast)) / applied;
    let cold_cpu = m(&|s| s.cold_cpu_ms);
    let warm_cpu = median(&all(&|s| &s.warm_cpu_ms));
    let scale = FULL_VCPU_MB / LAMBDA_MB;
    json!({
        "max_concurrency": value,
        "rounds": samples.len(),
        "cold_ms": m(&|s| s.cold_ms),
        "cold_cpu_ms": cold_cpu,
        "cold_cpu_ticks_ms": m(&|s| s.cold_cpu_ticks_ms),
        "cold_cpu_at_256mb_ms": cold_cpu * scale,
        "bench_cpu_during_cold_ms": m(&|s| s.bench_cpu_ms),
        "cold_s3_handshakes": m(&|s| s.cold_s3_handshakes as f64),
        "cold_sns_handshakes": m(&|s| s.cold_sns_handshakes as f64),
        "cold_requests": m(&|s| s.cold_requests as f64),
        "warm_no_delay_ms": median(&fast),
        "warm_delayed_ms": median(&slow),
        "applied_delay_ms": applied,
        "round_trips": round_trips,
        "warm_cpu_ms": warm_cpu,
        "warm_cpu_at_256mb_ms": warm_cpu * scale,
        "warm_handshakes_total": samples.iter().map(|s| s.warm_handshakes).sum::<usize>(),
        "warm_invocations": fast.len() + slow.len(),
        "reconnect_ms": m(&|s| s.reconnect_ms),
        "reconnect_cpu_ms": m(&|s| s.reconnect_cpu_ms),
        "reconnect_cpu_at_256mb_ms": m(&|s| s.reconnect_cpu_ms) * scale,
        "reconnect_handshakes": m(&|s| s.reconnect_handshakes as f64),
        "reconnect_resumed": m(&|s| s.reconnect_resumed as f64),
        "moto_ms": m(&|s| s.moto_ms),
        "peak_rss_after_cold_bytes": m(&|s| s.rss_cold as f64),
        "peak_rss_end_bytes": m(&|s| s.rss_end as f64),
        "samples": {
            "cold_ms": samples.iter().map(|s| s.cold_ms).collect::<Vec<_>>(),
            "cold_cpu_ms": samples.iter().map(|s| s.cold_cpu_ms).collect::<Vec<_>>(),
            "warm_no_delay_ms": fast,
            "warm_delayed_ms": slow,
            "cold_tls": samples.iter().map(|s| s.cold_detail.clone()).collect::<Vec<_>>(),
        },
    })
}

/// Least-squares slope of `y` over `x`.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    points.iter().map(|(x, y)| (x - mx) * (y - my)).sum::<f64>()
        / points.iter().map(|(x, _)| (x - mx) * (x - mx)).sum::<f64>()
}

fn table(doc: &Value) -> String {
    let mut out = String::new();
    let get = |r: &Value, k: &str| r[k].as_f64().unwrap_or(f64::NAN);
    for case in CASES {
        out.push_str(&format!(
            "\n{} ({} ms per S3/SNS call; CPU at 256 MB = CPU x {FULL_VCPU_MB}/{LAMBDA_MB})\n\n",
            case.name, doc["delay_ms"]
        ));
        out.push_str("| MAX_CONCURRENCY | round trips | warm ms (+delay) | warm ms (no delay) | cold ms | TLS handshakes cold (S3+SNS) / warm | CPU cold ms (at 256 MB) | CPU warm ms (at 256 MB) | reconnecting: ms, handshakes (resumed), CPU ms (at 256 MB) | peak RSS MiB |\n");
        out.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
        for r in doc["cases"][case.name].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0}+{:.0} / {} | {:.1} ({:.0}) | {:.1} ({:.0}) | {:.1}, {:.0} ({:.0}), {:.1} ({:.0}) | {:.1} |\n",
                r["max_concurrency"],
                get(r, "round_trips"),
                get(r, "warm_delayed_ms"),
                get(r, "warm_no_delay_ms"),
                get(r, "cold_ms"),
                get(r, "cold_s3_handshakes"),
                get(r, "cold_sns_handshakes"),
                r["warm_handshakes_total"],
                get(r, "cold_cpu_ms"),
                get(r, "cold_cpu_at_256mb_ms"),
                get(r, "warm_cpu_ms"),
                get(r, "warm_cpu_at_256mb_ms"),
                get(r, "reconnect_ms"),
                get(r, "reconnect_handshakes"),
                get(r, "reconnect_resumed"),
                get(r, "reconnect_cpu_ms"),
                get(r, "reconnect_cpu_at_256mb_ms"),
                get(r, "peak_rss_end_bytes") / 1048576.0,
            ));
        }
    }
    out.push_str(&format!(
        "\nCPU per cold handshake (slope over the 50-file cold invocations): {:.2} ms, {:.1} ms at 256 MB; key exchange: {}\n",
        doc["cpu_per_handshake_ms"].as_f64().unwrap_or(f64::NAN),
        doc["cpu_per_handshake_at_256mb_ms"].as_f64().unwrap_or(f64::NAN),
        doc["key_exchange"].as_str().unwrap_or_default(),
    ));
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let tick_ms = 1000.0 / clock_ticks_per_second();
    e2e::moto::find_moto_server(); // panics with how to install it when missing
    let scratch = e2e::workspace_root()
        .join("target/e2e")
        .join(format!("concurrency-bench-pki-{}", std::process::id()));
    let pki = make_pki(&scratch);
    let stack = e2e::Stack::new().await;
    let moto = e2e::moto::shared();
    let proxy = TlsProxy::start(&pki, moto.addr(), a.x25519_only).await;
    let mut env: Env = e2e::function::LAMBDA_ENVIRONMENT
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    for (k, v) in [
        ("AWS_LAMBDA_LOG_LEVEL", "INFO".to_owned()),
        ("EXTRACTA_WEBHOOK_SECRET", e2e::SECRET.to_owned()),
        ("AWS_ENDPOINT_URL", TlsProxy::url(proxy.s3)),
        ("AWS_ENDPOINT_URL_SNS", TlsProxy::url(proxy.sns)),
        ("RESULTS_BUCKET", stack.res.bucket.clone()),
        ("CONFIRMED_TOPIC_ARN", stack.res.confirmed_topic_arn.clone()),
        ("FAILED_TOPIC_ARN", stack.res.failed_topic_arn.clone()),
        ("SSL_CERT_FILE", pki.trust_file.to_string_lossy().into_owned()),
        ("SSL_CERT_DIR", pki.empty_dir.to_string_lossy().into_owned()),
    ] {
        env.push((k.to_owned(), v));
    }
    let trust = trust_check(&a.bin, &env, &pki, &proxy).await;
    say(&format!(
        "S3 at {}, SNS at {} (TLS, in front of an instant stand-in or moto at {}); values {:?}, {} rounds",
        TlsProxy::url(proxy.s3),
        TlsProxy::url(proxy.sns),
        moto.endpoint(),
        a.values,
        a.rounds
    ));
    let mut world = World {
        bin: &a.bin,
        env: &env,
        proxy: &proxy,
        delay: a.delay,
        warm: a.warm,
        tick_ms,
        serial: 0,
    };
    let started = Instant::now();
    let mut samples: BTreeMap<(&str, usize), Vec<Sample>> = BTreeMap::new();
    for round in 0..a.rounds {
        // Interleaved, the order rotating, so every value sees the same machine.
        let mut order = a.values.clone();
        let shift = round % order.len();
        order.rotate_left(shift);
        for &value in &order {
            for case in &CASES {
                let s = world.one_process(case, value, round).await;
                samples.entry((case.name, value)).or_default().push(s);
            }
        }
        say(&format!(
            "round {} of {} done ({:.0} s)",
            round + 1,
            a.rounds,
            started.elapsed().as_secs_f64()
        ));
    }
    let mut cases = Map::new();
    for case in &CASES {
        let rows: Vec<Value> = a
            .values
            .iter()
            .map(|&v| summarize(samples.get(&(case.name, v)).map_or(&[][..], Vec::as_slice), v))
            .collect();
        cases.insert(case.name.into(), Value::Array(rows));
    }
    // What one more connection costs the cold invocation: the least-squares slope of its
    // CPU over its handshakes, every cold 50-file sample of every value.
    let points: Vec<(f64, f64)> = samples
        .iter()
        .filter(|((name, _), _)| *name == CASES[0].name)
        .flat_map(|(_, v)| v.iter())
        .map(|s| ((s.cold_s3_handshakes + s.cold_sns_handshakes) as f64, s.cold_cpu_ms))
        .collect();
    let per_handshake = slope(&points);
    let bench_points: Vec<(f64, f64)> = samples
        .iter()
        .filter(|((name, _), _)| *name == CASES[0].name)
        .flat_map(|(_, v)| v.iter())
        .map(|s| ((s.cold_s3_handshakes + s.cold_sns_handshakes) as f64, s.bench_cpu_ms))
        .collect();
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let doc = json!({
        "delay_ms": a.delay.as_millis() as u64,
        "rounds": a.rounds,
        "warm_pairs": a.warm,
        "values": a.values,
        "lambda_mb": LAMBDA_MB,
        "full_vcpu_mb": FULL_VCPU_MB,
        "certificates": "root -> intermediate -> leaf (IP 127.0.0.1), RSA 2048, by the openssl command",
        "trust_check": trust,
        "load_at_end": load,
        "seconds": started.elapsed().as_secs_f64(),
        "cases": cases,
        "cpu_per_handshake_ms": per_handshake,
        "cpu_per_handshake_at_256mb_ms": per_handshake * FULL_VCPU_MB / LAMBDA_MB,
        "server_cpu_per_handshake_ms": slope(&bench_points),
        "key_exchange": if a.x25519_only { "X25519 (--x25519-only)" } else { "the client's first choice (X25519MLKEM768)" },
    });
    let _ = std::fs::remove_dir_all(&scratch);
    print!("{}", table(&doc));
    let text = serde_json::to_string_pretty(&doc).unwrap_or_else(|e| die(&format!("JSON: {e}")));
    match &a.out {
        Some(path) => {
            std::fs::write(path, text + "\n").unwrap_or_else(|e| die(&format!("write {}: {e}", path.display())))
        }
        None => println!("\n{text}"),
    }
}
