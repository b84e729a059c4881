//! A TCP proxy in front of moto that a test can switch between forwarding, resetting
//! and refusing connections, or answering with an HTTP error status, to make S3 or SNS
//! unreachable or failing on its own. While forwarding, a [`Rule`] can delay or fail only
//! the requests whose path matches (e.g. S3 file objects but not the archive copy), and
//! every request's line is logged (see [`FaultProxy::requests`]). A [`Throttle`] rule answers
//! the requests above a rate the way AWS does (S3 `503 SlowDown` per prefix, SNS `Throttling`).
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;

/// What the proxy does with connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Forward bytes both ways to the upstream.
    Forward,
    /// Accept, then reset the connection at once (RST); open connections are reset too.
    Reset,
    /// Stop listening: connections are refused (ECONNREFUSED); open ones are reset.
    Refuse,
    /// Answer every request with this HTTP status (e.g. 500, 503) and an empty body,
    /// then close the connection; open ones are reset.
    Status(u16),
}

/// Which requests a [`Rule`] applies to, by the path of the request line (with its query
/// string, as sent: percent-encoded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathFilter {
    /// Every request.
    Any,
    /// Requests whose path contains this text.
    Containing(String),
    /// Requests whose path does not contain this text.
    NotContaining(String),
}

impl PathFilter {
    fn matches(&self, path: &str) -> bool {
        match self {
            PathFilter::Any => true,
            PathFilter::Containing(t) => path.contains(t.as_str()),
            PathFilter::NotContaining(t) => !path.contains(t.as_str()),
        }
    }
}

/// What a [`Rule`] does to a matching request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Hold the request this long, then forward it.
    Delay(Duration),
    /// Answer with this HTTP status and an empty body, without forwarding.
    Status(u16),
    /// Reset the connection without forwarding.
    Reset,
    /// Answer `200` with this JSON body (`application/x-amz-json-1.1`) without
    /// forwarding: a JSON-protocol API's answer of a test's choosing, e.g. EventBridge's
    /// `PutEvents` with a failed entry.
    Json(&'static str),
    /// Forward while the request's key is under its rate, else answer as AWS does when it
    /// throttles (see [`Throttle`]).
    Throttle(Throttle),
}

/// A request rate limit, as a token bucket per key: each key may make `burst` requests at
/// once, refilled at `per_second`. A request over it is answered at once, not forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttle {
    /// Requests per second each key may make.
    pub per_second: u32,
    /// Requests a key may make at once after a quiet spell.
    pub burst: u32,
    /// What a key is, and how a request over the limit is answered.
    pub kind: Throttled,
}

/// Which limit a [`Throttle`] plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Throttled {
    /// S3's request rate per partitioned prefix: the key is the method's class (writes:
    /// PUT, POST, DELETE; reads: GET, HEAD) and the path's first `depth` segments (the
    /// bucket is the first, path-style), or with `depth` 0 the object key up to its last `/`
    /// (every archive copy of one day and event shares one). 2 plays a new bucket, which S3
    /// serves as one partition until it splits it. Answered `503 SlowDown` with S3's XML
    /// error body (no body for a HEAD).
    S3SlowDown {
        /// Path segments that make a prefix; 0: the key's parent.
        depth: u8,
    },
    /// SNS's per-account publish quota: one key. Answered `400` with the query protocol's
    /// `<ErrorResponse>` whose code is `Throttling`.
    SnsThrottling,
}

impl Throttle {
    /// S3's limit of `per_second` requests per prefix of `depth` path segments (see
    /// [`Throttled::S3SlowDown`]), with a burst of as many.
    pub fn s3(per_second: u32, depth: u8) -> Self {
        Throttle {
            per_second,
            burst: per_second.max(1),
            kind: Throttled::S3SlowDown { depth },
        }
    }

    /// SNS's limit of `per_second` requests, with a burst of as many.
    pub fn sns(per_second: u32) -> Self {
        Throttle {
            per_second,
            burst: per_second.max(1),
            kind: Throttled::SnsThrottling,
        }
    }

    fn key(&self, method: &str, path: &str) -> String {
        match self.kind {
            Throttled::SnsThrottling => String::new(),
            Throttled::S3SlowDown { depth } => {
                let class = if matches!(method, "GET" | "HEAD") {
                    "read"
                } else {
                    "write"
                };
                let path = path.split('?').next().unwrap_or_default();
                let prefix = if depth == 0 {
                    path.rsplit_once('/').map(|(p, _)| p).unwrap_or_default().to_owned()
                } else {
                    path.split('/')
                        .take(usize::from(depth) + 1)
                        .collect::<Vec<_>>()
                        .join("/")
                };
                format!("{class} {prefix}/")
            }
        }
    }

    /// The answer to a request over the limit: status line, headers and body.
    fn answer(&self, method: &str) -> String {
        let (status, content_type, body) = match self.kind {
            Throttled::S3SlowDown { .. } => (
                "503 Slow Down",
                "application/xml",
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>FAULTPROXY</RequestId><HostId>faultproxy</HostId></Error>",
            ),
            Throttled::SnsThrottling => (
                "400 Bad Request",
                "text/xml",
                "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>FAULTPROXY</RequestId></ErrorResponse>",
            ),
        };
        let body = if method == "HEAD" { "" } else { body };
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    }
}

/// Token buckets of the [`Throttle`] rules, by key.
#[derive(Default)]
struct Buckets {
    tokens: HashMap<String, (f64, Instant)>,
}

impl Buckets {
    /// Takes a token for `key` under `limit`; false when the key is over its rate.
    fn take(&mut self, limit: &Throttle, key: String) -> bool {
        let now = Instant::now();
        let burst = f64::from(limit.burst);
        let (tokens, last) = self.tokens.entry(key).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * f64::from(limit.per_second)).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A per-request fault applied while the proxy is in [`Mode::Forward`].
///
/// The rule is chosen when a connection's first request line arrives. moto closes every
/// connection after one answer (`Connection: close`), so a connection carries one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The requests it applies to.
    pub paths: PathFilter,
    /// What happens to them.
    pub action: Action,
}

impl Rule {
    /// `action` for the requests whose path matches `paths`.
    pub fn new(paths: PathFilter, action: Action) -> Self {
        Rule { paths, action }
    }
}

/// One request seen by the proxy (while forwarding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenRequest {
    /// The HTTP method.
    pub method: String,
    /// The path with its query string, as sent.
    pub path: String,
    /// The `X-Amz-Target` header (JSON-protocol APIs such as Secrets Manager and SQS), if any.
    pub target: Option<String>,
    /// What the proxy did with it: `None` forwarded at once, else the rule's action.
    pub action: Option<Action>,
}

/// A fault-injecting proxy on 127.0.0.1. Stops when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    stats: Arc<Stats>,
    task: tokio::task::JoinHandle<()>,
}

/// Counters and rules shared by the proxy's connections.
#[derive(Default)]
struct Stats {
    accepted: AtomicUsize,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
    rules: Mutex<Vec<Rule>>,
    seen: Mutex<Vec<SeenRequest>>,
    buckets: Mutex<Buckets>,
    throttled: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Stats {
    fn request_started(&self) {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::SeqCst);
    }

    fn request_answered(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Starts forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the fault proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (mode, mode_rx) = watch::channel(Mode::Forward);
        let stats = Arc::new(Stats::default());
        let task = tokio::spawn(serve(listener, addr, upstream, mode_rx, stats.clone()));
        FaultProxy {
            addr,
            mode,
            stats,
            task,
        }
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL_SNS`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Switches the mode; open connections are cut when leaving [`Mode::Forward`].
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Forward again (restore the service).
    pub fn forward(&self) {
        self.set(Mode::Forward);
    }

    /// How many connections the proxy has accepted (in any mode).
    pub fn accepted(&self) -> usize {
        self.stats.accepted.load(Ordering::SeqCst)
    }

    /// The most requests that were in flight through the proxy at once: a request is in
    /// flight from its first byte until the first byte of its answer.
    pub fn peak_in_flight(&self) -> usize {
        self.stats.peak_in_flight.load(Ordering::SeqCst)
    }

    /// Replaces the per-request rules (the first matching one applies; none: forward).
    /// They act only in [`Mode::Forward`], on connections accepted from now on.
    pub fn set_rules(&self, rules: Vec<Rule>) {
        *lock(&self.stats.rules) = rules;
    }

    /// Removes every per-request rule.
    pub fn clear_rules(&self) {
        self.set_rules(Vec::new());
    }

    /// Every request the proxy has seen while forwarding, in arrival order.
    pub fn requests(&self) -> Vec<SeenRequest> {
        lock(&self.stats.seen).clone()
    }

    /// How many requests a [`Throttle`] rule has answered instead of forwarding.
    pub fn throttled(&self) -> usize {
        self.stats.throttled.load(Ordering::SeqCst)
    }

    /// How many requests seen so far carried `X-Amz-Target: <target>` (any case), e.g.
    /// `secretsmanager.GetSecretValue`.
    pub fn count_target(&self, target: &str) -> usize {
        lock(&self.stats.seen)
            .iter()
            .filter(|r| r.target.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(target)))
            .count()
    }
}

async fn serve(
    listener: TcpListener,
    addr: SocketAddr,
    upstream: SocketAddr,
    mut mode: watch::Receiver<Mode>,
    stats: Arc<Stats>,
) {
    let mut listener = Some(listener);
    loop {
        let current = *mode.borrow_and_update();
        if current == Mode::Refuse {
            listener = None;
            if mode.changed().await.is_err() {
                return;
            }
            continue;
        }
        let l = match &listener {
            Some(l) => l,
            None => match rebind(addr) {
                Some(l) => listener.insert(l),
                None => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        tokio::select! {
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            conn = l.accept() => {
                let Ok((client, _)) = conn else { continue };
                stats.accepted.fetch_add(1, Ordering::SeqCst);
                if current == Mode::Reset {
                    reset(client);
                    continue;
                }
                if let Mode::Status(status) = current {
                    tokio::spawn(answer_with(client, status));
                    continue;
                }
                tokio::spawn(apply_rules(client, upstream, mode.clone(), stats.clone()));
            }
        }
    }
}

fn rebind(addr: SocketAddr) -> Option<TcpListener> {
    let socket = TcpSocket::new_v4().ok()?;
    socket.set_reuseaddr(true).ok()?;
    socket.bind(addr).ok()?;
    socket.listen(128).ok()
}

/// Reads one request (head and `Content-Length` body, for at most 2 s), answers it with
/// `status` and closes the connection.
async fn answer_with(client: TcpStream, status: u16) {
    let answer = format!("HTTP/1.1 {status} Injected\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    answer_raw(client, answer).await;
}

/// Reads one request (head and `Content-Length` body, for at most 2 s), answers it with
/// `answer` (a whole HTTP response) and closes the connection.
async fn answer_raw(mut client: TcpStream, answer: String) {
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let read_request = async {
        loop {
            let n = match client.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            seen.extend_from_slice(&buf[..n]);
            let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if seen.len() >= end + 4 + length {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), read_request).await;
    let _ = client.write_all(answer.as_bytes()).await;
    let _ = client.shutdown().await;
}

/// The head of a request line and headers, peeked (not consumed) from `client`: waits up
/// to 2 s for the end of the request line (and, when it comes soon, of the headers).
async fn peek_head(client: &TcpStream) -> String {
    let mut buf = vec![0u8; 8 * 1024];
    let started = tokio::time::Instant::now();
    loop {
        let n = match tokio::time::timeout(Duration::from_secs(2), client.peek(&mut buf)).await {
            Ok(Ok(n)) => n,
            _ => return String::new(),
        };
        let seen = &buf[..n];
        let has_line = seen.windows(2).any(|w| w == b"\r\n");
        let has_head = seen.windows(4).any(|w| w == b"\r\n\r\n");
        let waited = started.elapsed();
        if n == 0 || has_head || n == buf.len() || (has_line && waited > Duration::from_millis(50)) {
            return String::from_utf8_lossy(seen).into_owned();
        }
        if waited > Duration::from_secs(2) {
            return String::from_utf8_lossy(seen).into_owned();
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Logs the connection's request, applies the first matching rule, and forwards it unless
/// the rule answers instead.
async fn apply_rules(client: TcpStream, upstream: SocketAddr, mode: watch::Receiver<Mode>, stats: Arc<Stats>) {
    let head = peek_head(&client).await;
    let mut line = head.lines().next().unwrap_or_default().split(' ');
    let method = line.next().unwrap_or_default().to_owned();
    let path = line.next().unwrap_or_default().to_owned();
    let target = head.lines().skip(1).find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("x-amz-target")
            .then(|| value.trim().to_owned())
    });
    let mut action = lock(&stats.rules)
        .iter()
        .find(|r| r.paths.matches(&path))
        .map(|r| r.action);
    if let Some(Action::Throttle(limit)) = action {
        if lock(&stats.buckets).take(&limit, limit.key(&method, &path)) {
            action = None;
        } else {
            stats.throttled.fetch_add(1, Ordering::SeqCst);
        }
    }
    lock(&stats.seen).push(SeenRequest {
        method: method.clone(),
        path,
        target,
        action,
    });
    match action {
        None => forward(client, upstream, mode, stats).await,
        Some(Action::Delay(d)) => {
            tokio::time::sleep(d).await;
            forward(client, upstream, mode, stats).await;
        }
        Some(Action::Status(status)) => answer_with(client, status).await,
        Some(Action::Reset) => reset(client),
        Some(Action::Json(body)) => {
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            answer_raw(client, answer).await;
        }
        Some(Action::Throttle(limit)) => answer_raw(client, limit.answer(&method)).await,
    }
}

fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

async fn forward(client: TcpStream, upstream: SocketAddr, mut mode: watch::Receiver<Mode>, stats: Arc<Stats>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        reset(client);
        return;
    };
    let cut = async {
        loop {
            if *mode.borrow_and_update() != Mode::Forward {
                return;
            }
            if mode.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    };
    // Whether a request on this connection waits for its answer.
    let waiting = AtomicBool::new(false);
    let (mut client_rd, mut client_wr) = client.into_split();
    let (mut server_rd, mut server_wr) = server.into_split();
    let upstream_leg = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match client_rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if !waiting.swap(true, Ordering::SeqCst) {
                stats.request_started();
            }
            if server_wr.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = server_wr.shutdown().await;
    };
    let downstream_leg = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match server_rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if waiting.swap(false, Ordering::SeqCst) {
                stats.request_answered();
            }
            if client_wr.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = client_wr.shutdown().await;
    };
    let both = async { tokio::join!(upstream_leg, downstream_leg) };
    let was_cut = tokio::select! {
        _ = both => false,
        _ = cut => true,
    };
    if waiting.swap(false, Ordering::SeqCst) {
        stats.request_answered();
    }
    if was_cut {
        if let Ok(client) = client_rd.reunite(client_wr) {
            reset(client);
        }
    }
}
