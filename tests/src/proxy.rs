//! A TCP proxy in front of moto that a test can switch between forwarding, resetting
//! and refusing connections, or answering with an HTTP error status, to make S3 or SNS
//! unreachable or failing on its own.
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

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

/// A fault-injecting proxy on 127.0.0.1. Stops when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    stats: Arc<Stats>,
    task: tokio::task::JoinHandle<()>,
}

/// Counters shared by the proxy's connections.
#[derive(Default)]
struct Stats {
    accepted: AtomicUsize,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
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
                tokio::spawn(forward(client, upstream, mode.clone(), stats.clone()));
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
async fn answer_with(mut client: TcpStream, status: u16) {
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
    let answer = format!("HTTP/1.1 {status} Injected\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    let _ = client.write_all(answer.as_bytes()).await;
    let _ = client.shutdown().await;
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
