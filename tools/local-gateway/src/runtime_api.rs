//! A Lambda Runtime API emulator: queues events for `/invocation/next` and collects what
//! the function posts back (responses, invocation errors, init errors).
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Notify};

const PREFIX: &str = "/2018-06-01/runtime";

/// What the function posted for one invocation.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// `POST /invocation/{id}/response`.
    Response(Value),
    /// `POST /invocation/{id}/error`.
    Error(Value),
}

struct Pending {
    id: String,
    event: Value,
}

struct State {
    queue_tx: mpsc::UnboundedSender<Pending>,
    queue_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_errors: Mutex<Vec<Value>>,
    init_error_posted: Notify,
    next_calls: AtomicUsize,
    next_called: Notify,
    unexpected: Mutex<Vec<String>>,
}

/// The emulator, serving on 127.0.0.1 until dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    /// Starts serving on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the runtime API emulator");
        let addr = listener.local_addr().expect("emulator address");
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            queue_tx,
            queue_rx: tokio::sync::Mutex::new(queue_rx),
            waiting: Mutex::new(HashMap::new()),
            init_errors: Mutex::new(Vec::new()),
            init_error_posted: Notify::new(),
            next_calls: AtomicUsize::new(0),
            next_called: Notify::new(),
            unexpected: Mutex::new(Vec::new()),
        });
        let served = state.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = served.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(handle(state, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        RuntimeApi { addr, state, server }
    }

    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// Queues `event` and returns a receiver for its outcome.
    pub fn submit(&self, event: Value) -> oneshot::Receiver<Outcome> {
        static IDS: AtomicU64 = AtomicU64::new(1);
        let id = format!("req-{}-{:08}", std::process::id(), IDS.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        lock(&self.state.waiting).insert(id.clone(), tx);
        let _ = self.state.queue_tx.send(Pending { id, event });
        rx
    }

    /// Queues `event` and waits up to `timeout` for the function's answer.
    pub async fn invoke(&self, event: Value, timeout: Duration) -> Option<Outcome> {
        let rx = self.submit(event);
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(outcome)) => Some(outcome),
            _ => None,
        }
    }

    /// Bodies posted to `/runtime/init/error` so far.
    pub fn init_errors(&self) -> Vec<Value> {
        lock(&self.state.init_errors).clone()
    }

    /// Waits until an init error is posted, or `timeout` passes.
    pub async fn wait_init_error(&self, timeout: Duration) -> bool {
        let notified = self.state.init_error_posted.notified();
        if !self.init_errors().is_empty() {
            return true;
        }
        tokio::time::timeout(timeout, notified).await.is_ok() || !self.init_errors().is_empty()
    }

    /// How many times the function has asked for an event.
    pub fn next_calls(&self) -> usize {
        self.state.next_calls.load(Ordering::SeqCst)
    }

    /// Waits until the function asks for an event, or `timeout` passes.
    pub async fn wait_next_call(&self, timeout: Duration) -> bool {
        let notified = self.state.next_called.notified();
        if self.next_calls() > 0 {
            return true;
        }
        tokio::time::timeout(timeout, notified).await.is_ok() || self.next_calls() > 0
    }

    /// Requests the emulator did not understand (method + path), for diagnostics.
    pub fn unexpected_requests(&self) -> Vec<String> {
        lock(&self.state.unexpected).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn reply(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut rsp = Response::new(Full::new(Bytes::from(body.to_owned())));
    *rsp.status_mut() = status;
    rsp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    rsp
}

async fn body_json(req: Request<Incoming>) -> Value {
    let bytes = match req.into_body().collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => return Value::String(format!("<unreadable body: {e}>")),
    };
    serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return unexpected(&state, &method, &path);
    };
    match (method.clone(), rest) {
        (Method::GET, "/invocation/next") => {
            state.next_calls.fetch_add(1, Ordering::SeqCst);
            state.next_called.notify_waiters();
            let pending = {
                let mut rx = state.queue_rx.lock().await;
                rx.recv().await
            };
            let Some(Pending { id, event }) = pending else {
                return reply(StatusCode::INTERNAL_SERVER_ERROR, r#"{"errorMessage":"closed"}"#);
            };
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() + 60_000)
                .unwrap_or(0);
            let mut rsp = reply(StatusCode::OK, &event.to_string());
            let h = rsp.headers_mut();
            let set = |h: &mut hyper::HeaderMap, k: &'static str, v: String| {
                if let Ok(v) = hyper::header::HeaderValue::from_str(&v) {
                    h.insert(k, v);
                }
            };
            set(h, "lambda-runtime-aws-request-id", id);
            set(h, "lambda-runtime-deadline-ms", deadline.to_string());
            set(
                h,
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:webhook".into(),
            );
            set(
                h,
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0".into(),
            );
            rsp
        }
        (Method::POST, "/init/error") => {
            let body = body_json(req).await;
            lock(&state.init_errors).push(body);
            state.init_error_posted.notify_waiters();
            reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        (Method::POST, rest) if rest.starts_with("/invocation/") => {
            let tail = &rest["/invocation/".len()..];
            let (id, kind) = match tail.rsplit_once('/') {
                Some((id, kind)) if kind == "response" || kind == "error" => (id.to_owned(), kind),
                _ => return unexpected(&state, &method, &path),
            };
            let body = body_json(req).await;
            let outcome = if kind == "response" {
                Outcome::Response(body)
            } else {
                Outcome::Error(body)
            };
            match lock(&state.waiting).remove(&id) {
                Some(tx) => {
                    let _ = tx.send(outcome);
                    reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
                }
                None => {
                    lock(&state.unexpected).push(format!("{method} {path} (unknown or answered id)"));
                    reply(
                        StatusCode::BAD_REQUEST,
                        r#"{"errorMessage":"unknown request id","errorType":"InvalidRequestID"}"#,
                    )
                }
            }
        }
        _ => unexpected(&state, &method, &path),
    }
}

fn unexpected(state: &State, method: &Method, path: &str) -> Response<Full<Bytes>> {
    lock(&state.unexpected).push(format!("{method} {path}"));
    reply(StatusCode::NOT_FOUND, r#"{"errorMessage":"not found"}"#)
}

/// A deadline for an invocation, far enough out for SDK retries against a dead endpoint.
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(45);
