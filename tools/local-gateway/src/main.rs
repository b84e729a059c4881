//! `local-gateway`: the webhook function on a laptop, behind an HTTP front door shaped like
//! an API Gateway HTTP API (payload 2.0), with the real binary on the runtime API emulator.
//!
//! Each HTTP request becomes a v2 event (method, raw path and query, headers, cookies, the
//! body base64-encoded so any bytes survive), goes to the `webhook` binary through
//! [`local_gateway::RuntimeApi`], and the function's v2 answer becomes the HTTP response. The
//! function's configuration is this process's environment; its log lines go to this
//! process's stdout and stderr. SIGINT or SIGTERM stops the function, then the gateway.
//!
//! With `REDRIVE_QUEUE_URL` set, it also plays Lambda's SQS event source mapping for the
//! function's redrive queue: it receives messages, invokes the function with them as an
//! SQS event, and deletes those not listed in `batchItemFailures`.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitCode, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use local_gateway::{EventSourceMapping, Outcome, RuntimeApi};
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::signal::unix::{signal, Signal, SignalKind};

const USAGE: &str = "\
usage: local-gateway [--listen 127.0.0.1:9000]

Runs the webhook binary (WEBHOOK_BIN, else the `webhook` beside this binary) on a
Lambda Runtime API emulator and serves it over HTTP the way an API Gateway HTTP API
(payload 2.0) does.
The function is configured by this process's environment (RESULTS_BUCKET, ...).
It listens once the function has started; SIGINT or SIGTERM stops both.";

/// An API Gateway HTTP API gives up on its Lambda integration after 30 seconds.
const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the function may take to start (read its configuration, ask for an event).
const INIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Lambda's own variables, set for the function unless the environment already has them.
const LAMBDA_DEFAULTS: &[(&str, &str)] = &[
    ("AWS_LAMBDA_FUNCTION_NAME", "webhook"),
    ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
    ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
    ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/webhook"),
    ("AWS_LAMBDA_LOG_STREAM_NAME", "local"),
];

fn main() -> ExitCode {
    let listen = match parse_args(std::env::args().skip(1)) {
        Ok(Some(addr)) => addr,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("local-gateway: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("local-gateway: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(listen)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("local-gateway: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `--listen ADDR` (default 127.0.0.1:9000); `None` for `--help`.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<SocketAddr>, String> {
    let mut listen = SocketAddr::from(([127, 0, 0, 1], 9000));
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--listen" => args.next().ok_or("--listen needs an address, e.g. 127.0.0.1:9000")?,
            other => match other.strip_prefix("--listen=") {
                Some(v) => v.to_owned(),
                None => return Err(format!("unknown argument {other:?}")),
            },
        };
        listen = value
            .parse()
            .map_err(|_| format!("--listen {value:?} is not an address like 127.0.0.1:9000"))?;
    }
    Ok(Some(listen))
}

/// SIGINT and SIGTERM, registered before anything is started.
struct Stop {
    int: Signal,
    term: Signal,
}

impl Stop {
    fn new() -> Result<Self, String> {
        let register = |kind| signal(kind).map_err(|e| format!("cannot handle signals: {e}"));
        Ok(Stop {
            int: register(SignalKind::interrupt())?,
            term: register(SignalKind::terminate())?,
        })
    }

    async fn requested(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
        }
    }
}

async fn run(listen: SocketAddr) -> Result<(), String> {
    let mut stop = Stop::new()?;
    let bin = webhook_bin()?;
    let api = Arc::new(RuntimeApi::start().await);
    let mut function = start_function(&bin, &api.host_port())?;
    let pid = function.id().unwrap_or_default();

    // Listen only once the function is up: a request never waits on a cold start, and a
    // configuration error stops everything before anyone is told to send.
    tokio::select! {
        asked = api.wait_next_call(INIT_TIMEOUT) => if !asked {
            shut_down(&mut function).await;
            return Err(format!("{} did not ask for an event within {INIT_TIMEOUT:?}", bin.display()));
        },
        status = function.wait() => return Err(exited("during start", status)),
        name = stop.requested() => {
            eprintln!("local-gateway: {name}: stopping the function");
            shut_down(&mut function).await;
            return Ok(());
        }
    }
    let listener = match TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            shut_down(&mut function).await;
            return Err(format!("cannot listen on {listen}: {e}"));
        }
    };
    eprintln!(
        "local-gateway: listening on http://{listen} -> {} (pid {pid}) via the runtime API on {}",
        bin.display(),
        api.host_port()
    );
    if let Some(queue) = std::env::var("REDRIVE_QUEUE_URL").ok().filter(|q| !q.is_empty()) {
        eprintln!("local-gateway: delivering {queue} to the function, as an SQS event source mapping does");
        tokio::spawn(event_source_mapping(api.clone(), queue));
    }

    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => serve_connection(api.clone(), listen, stream, peer),
                Err(e) => eprintln!("local-gateway: accept failed: {e}"),
            },
            status = function.wait() => return Err(exited("unexpectedly", status)),
            name = stop.requested() => {
                eprintln!("local-gateway: {name}: stopping the function");
                shut_down(&mut function).await;
                return Ok(());
            }
        }
    }
}

/// Lambda's SQS event source mapping for the redrive queue, as the template configures it
/// (one record per batch, `ReportBatchItemFailures`; [`local_gateway::EventSourceMapping`]):
/// a record the function lists as failed is not deleted, so it comes back after the queue's
/// visibility timeout, and the queue's redrive policy moves it to the dead-letter queue
/// after its receive limit.
async fn event_source_mapping(api: Arc<RuntimeApi>, queue: String) {
    use aws_sdk_sqs::types::QueueAttributeName;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .ok()
        .and_then(|a| {
            a.attributes()
                .and_then(|m| m.get(&QueueAttributeName::QueueArn))
                .cloned()
        })
        .unwrap_or_default();
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
    let mapping = EventSourceMapping::new(&queue, &arn, &region);
    loop {
        let invoke = |event| async {
            match api.invoke(event, INTEGRATION_TIMEOUT).await {
                Some(Outcome::Response(answer)) => Ok(answer),
                Some(Outcome::Error(error)) => Err(error.to_string()),
                None => Err(format!("no answer within {INTEGRATION_TIMEOUT:?}")),
            }
        };
        let batch = match mapping.poll(&sqs, invoke).await {
            Ok(Some(batch)) => batch,
            Ok(None) => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            Err(e) => {
                eprintln!("local-gateway: the redrive queue: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if let Some(why) = &batch.invalid {
            eprintln!("local-gateway: the redrive invocation failed: {why}");
        }
        for m in &batch.messages {
            let id = &m.message_id;
            if batch.failures.contains(id) {
                eprintln!("local-gateway: redrive {id} -> not completed; SQS retries it after its visibility timeout");
            } else {
                eprintln!("local-gateway: redrive {id} -> completed");
            }
        }
    }
}

/// The binary to run: `WEBHOOK_BIN`, else the `webhook` that `scripts/build-binaries`
/// built beside this binary.
fn webhook_bin() -> Result<PathBuf, String> {
    let path = match std::env::var_os("WEBHOOK_BIN").filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => std::env::current_exe()
            .map_err(|e| format!("cannot locate this binary to find `webhook` beside it ({e}): set WEBHOOK_BIN"))?
            .with_file_name("webhook"),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "webhook binary not found at {}: run `scripts/build-binaries` (make run does), or set WEBHOOK_BIN",
            path.display()
        ))
    }
}

fn start_function(bin: &std::path::Path, runtime_api: &str) -> Result<Child, String> {
    let mut cmd = Command::new(bin);
    for (name, value) in LAMBDA_DEFAULTS {
        if std::env::var_os(name).is_none() {
            cmd.env(name, value);
        }
    }
    cmd.env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    cmd.spawn()
        .map_err(|e| format!("could not start {}: {e}", bin.display()))
}

fn exited(when: &str, status: std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(s) => format!("the webhook function exited {when} ({s}); its log above says why"),
        Err(e) => format!("the webhook function exited {when} ({e})"),
    }
}

/// Stops the function (Lambda, too, ends an environment with a kill) and reaps it.
async fn shut_down(function: &mut Child) {
    let _ = function.start_kill();
    let _ = tokio::time::timeout(Duration::from_secs(5), function.wait()).await;
}

fn serve_connection(api: Arc<RuntimeApi>, listen: SocketAddr, stream: tokio::net::TcpStream, peer: SocketAddr) {
    tokio::spawn(async move {
        let service = hyper::service::service_fn(move |req| {
            let api = api.clone();
            async move { Ok::<_, Infallible>(handle(&api, listen, peer, req).await) }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await;
    });
}

async fn handle(
    api: &RuntimeApi,
    listen: SocketAddr,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let line = format!("{} {}", parts.method, parts.uri.path());
    let response = match body.collect().await {
        Err(e) => {
            eprintln!("local-gateway: {line}: could not read the request body: {e}");
            gateway_error(StatusCode::BAD_REQUEST, "Bad Request")
        }
        Ok(body) => {
            let event = v2_event(&parts, &body.to_bytes(), listen, peer);
            match api.invoke(event, INTEGRATION_TIMEOUT).await {
                Some(Outcome::Response(answer)) => http_response(&answer).unwrap_or_else(|problem| {
                    eprintln!("local-gateway: {line}: the function's answer is not a valid v2 response: {problem}");
                    gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
                }),
                Some(Outcome::Error(error)) => {
                    eprintln!("local-gateway: {line}: the function reported an invocation error: {error}");
                    gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
                }
                None => {
                    eprintln!("local-gateway: {line}: no answer within {INTEGRATION_TIMEOUT:?}");
                    gateway_error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
                }
            }
        }
    };
    eprintln!(
        "local-gateway: {line} -> {} ({} ms)",
        response.status().as_u16(),
        started.elapsed().as_millis()
    );
    response
}

/// API Gateway's own error answer, `{"message": ".."}`.
fn gateway_error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut rsp = Response::new(Full::new(Bytes::from(json!({ "message": message }).to_string())));
    *rsp.status_mut() = status;
    rsp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    rsp
}

/// The API Gateway HTTP API (payload 2.0) event for a request, body always base64.
fn v2_event(parts: &hyper::http::request::Parts, body: &[u8], listen: SocketAddr, peer: SocketAddr) -> Value {
    static IDS: AtomicU64 = AtomicU64::new(1);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let request_id = format!("local-{:x}-{:06}", now.as_secs(), IDS.fetch_add(1, Ordering::Relaxed));
    let text = |v: &HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned();

    // Repeated headers are joined with commas; cookies travel in their own list.
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies: Vec<Value> = Vec::new();
    for (name, value) in &parts.headers {
        if name == hyper::header::COOKIE {
            let value = text(value);
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(Value::from),
            );
            continue;
        }
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|joined| {
                joined.push(',');
                joined.push_str(&text(value));
            })
            .or_insert_with(|| text(value));
    }
    headers.insert("x-forwarded-for".into(), peer.ip().to_string());
    headers.insert("x-forwarded-port".into(), listen.port().to_string());
    headers.insert("x-forwarded-proto".into(), "http".into());
    let host = headers.get("host").cloned().unwrap_or_else(|| listen.to_string());
    let user_agent = headers.get("user-agent").cloned().unwrap_or_default();

    let raw_query = parts.uri.query().unwrap_or_default();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.uri.path(),
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split(['.', ':']).next().unwrap_or_default(),
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": format!("{:?}", parts.version),
                "sourceIp": peer.ip().to_string(),
                "userAgent": user_agent,
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": clf_time(now),
            "timeEpoch": u64::try_from(now.as_millis()).unwrap_or(u64::MAX),
        },
        "isBase64Encoded": !body.is_empty(),
    });
    let Value::Object(fields) = &mut event else {
        return event;
    };
    if !cookies.is_empty() {
        fields.insert("cookies".into(), Value::Array(cookies));
    }
    if !raw_query.is_empty() {
        fields.insert(
            "queryStringParameters".into(),
            Value::Object(query_parameters(raw_query)),
        );
    }
    if !body.is_empty() {
        fields.insert("body".into(), Value::String(B64.encode(body)));
    }
    event
}

/// `a=1&b=x%20y&a=2` -> `{"a": "1,2", "b": "x y"}`, as API Gateway fills `queryStringParameters`.
fn query_parameters(raw: &str) -> Map<String, Value> {
    let mut params: Map<String, Value> = Map::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, value) = (percent_decode(name), percent_decode(value));
        match params.get_mut(&name) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => {
                params.insert(name, Value::String(value));
            }
        }
    }
    params
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `26/Nov/2025:18:22:00 +0000`, the format of `requestContext.time`.
fn clf_time(since_epoch: Duration) -> String {
    let secs = i64::try_from(since_epoch.as_secs()).unwrap_or_default();
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(secs) else {
        return String::new();
    };
    let month = t.month().to_string();
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        t.day(),
        month.get(..3).unwrap_or_default(),
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The HTTP response for a v2 answer: `statusCode`, `headers`, `cookies`, `body` (decoded
/// when `isBase64Encoded`). Like API Gateway, an answer without `statusCode` is a 200
/// whose JSON body is the answer itself, and `multiValueHeaders` is not part of v2.
fn http_response(answer: &Value) -> Result<Response<Full<Bytes>>, String> {
    let Some(status) = answer.get("statusCode") else {
        let mut rsp = Response::new(Full::new(Bytes::from(answer.to_string())));
        rsp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return Ok(rsp);
    };
    let status = status
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| format!("statusCode {status} is not an HTTP status"))?;
    let text = match answer.get("body") {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s.as_str(),
        Some(other) => return Err(format!("body must be a string, not {other}")),
    };
    let body = if answer.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        B64.decode(text)
            .map_err(|e| format!("body is marked base64 but does not decode: {e}"))?
    } else {
        text.as_bytes().to_vec()
    };
    let mut rsp = Response::new(Full::new(Bytes::from(body)));
    *rsp.status_mut() = status;
    let headers = rsp.headers_mut();
    if let Some(Value::Object(map)) = answer.get("headers") {
        for (name, value) in map {
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("bad header name {name:?}"))?;
            // The connection's framing is the gateway's business, not the function's.
            if matches!(name.as_str(), "content-length" | "transfer-encoding" | "connection") {
                continue;
            }
            let value = HeaderValue::from_str(&value).map_err(|_| format!("bad value for header {name}"))?;
            headers.insert(name, value);
        }
    }
    for cookie in answer.get("cookies").and_then(Value::as_array).into_iter().flatten() {
        let cookie = cookie.as_str().ok_or("cookies must be strings")?;
        let value = HeaderValue::from_str(cookie).map_err(|_| "bad cookie value".to_owned())?;
        headers.append(hyper::header::SET_COOKIE, value);
    }
    Ok(rsp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, headers: &[(&str, &str)]) -> hyper::http::request::Parts {
        let mut builder = Request::builder().method("POST").uri(uri);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(()).expect("request").into_parts().0
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn events_carry_any_bytes_as_base64_and_parse_as_lambda_http_does() {
        // GIVEN a request with a query, repeated headers, cookies and a non-UTF-8 body,
        let parts = request(
            "/webhook/x?a=1&b=x%20y&a=2",
            &[
                ("host", "127.0.0.1:9000"),
                ("x-webhook-signature", "c2ln"),
                ("x-many", "1"),
                ("x-many", "2"),
                ("cookie", "k=v; k2=v2"),
            ],
        );
        let body = [0xff_u8, 0x00, b'{', b'}'];
        // WHEN it becomes an event,
        let event = v2_event(&parts, &body, addr(9000), addr(40000));
        // THEN the event says it all,
        assert_eq!(event["rawPath"], "/webhook/x");
        assert_eq!(event["rawQueryString"], "a=1&b=x%20y&a=2");
        assert_eq!(event["queryStringParameters"], json!({"a": "1,2", "b": "x y"}));
        assert_eq!(event["headers"]["x-many"], "1,2");
        assert_eq!(event["headers"].get("cookie"), None);
        assert_eq!(event["cookies"], json!(["k=v", "k2=v2"]));
        assert_eq!(event["requestContext"]["http"]["method"], "POST");
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(B64.decode(event["body"].as_str().expect("body")).expect("base64"), body);
        // AND lambda_http reads it as an HTTP API request with the same method, path and headers.
        let parsed = lambda_http::request::from_str(&event.to_string()).expect("lambda_http parses the event");
        assert_eq!(parsed.method(), "POST");
        assert_eq!(parsed.uri().path(), "/webhook/x");
        assert_eq!(parsed.headers()["x-webhook-signature"], "c2ln");
    }

    #[test]
    fn an_empty_body_is_no_body() {
        let event = v2_event(&request("/webhook", &[]), &[], addr(9000), addr(40000));
        assert_eq!(event.get("body"), None);
        assert_eq!(event["isBase64Encoded"], false);
        assert_eq!(event.get("queryStringParameters"), None);
    }

    fn body_of(rsp: Response<Full<Bytes>>) -> (StatusCode, hyper::HeaderMap, Vec<u8>) {
        let (parts, body) = rsp.into_parts();
        let bytes = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(body.collect())
            .map(|c| c.to_bytes().to_vec())
            .unwrap_or_default();
        (parts.status, parts.headers, bytes)
    }

    #[test]
    fn v2_answers_become_http_responses() {
        let answer = json!({
            "statusCode": 405,
            "headers": {"content-type": "application/json", "allow": "POST", "content-length": "999"},
            "multiValueHeaders": {"x-ignored": ["1"]},
            "cookies": ["a=1", "b=2"],
            "body": "{\"error\":\"method not allowed\"}",
            "isBase64Encoded": false
        });
        let (status, headers, body) = body_of(http_response(&answer).expect("valid answer"));
        assert_eq!(status, 405);
        assert_eq!(headers["allow"], "POST");
        assert_eq!(headers.get("content-length"), None, "framing is hyper's");
        assert_eq!(headers.get("x-ignored"), None, "v2 has no multiValueHeaders");
        assert_eq!(headers.get_all("set-cookie").iter().count(), 2);
        assert_eq!(body, br#"{"error":"method not allowed"}"#);

        let encoded = json!({"statusCode": 200, "body": B64.encode([0xff_u8, 1]), "isBase64Encoded": true});
        assert_eq!(body_of(http_response(&encoded).expect("valid")).2, vec![0xff, 1]);

        let bare = json!({"hello": "world"});
        let (status, headers, body) = body_of(http_response(&bare).expect("valid"));
        assert_eq!(
            (status, &headers["content-type"]),
            (StatusCode::OK, &HeaderValue::from_static("application/json"))
        );
        assert_eq!(body, br#"{"hello":"world"}"#);
    }

    #[test]
    fn malformed_answers_are_refused() {
        for bad in [
            json!({"statusCode": "200"}),
            json!({"statusCode": 1000}),
            json!({"statusCode": 200, "body": 5}),
            json!({"statusCode": 200, "body": "%%%", "isBase64Encoded": true}),
            json!({"statusCode": 200, "headers": {"bad name": "x"}}),
        ] {
            assert!(http_response(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn request_time_is_in_api_gateway_format() {
        assert_eq!(
            clf_time(Duration::from_secs(1_764_181_320)),
            "26/Nov/2025:18:22:00 +0000"
        );
    }

    #[test]
    fn arguments() {
        let args = |a: &[&str]| parse_args(a.iter().map(|s| s.to_string()));
        assert_eq!(args(&[]), Ok(Some(addr(9000))));
        assert_eq!(args(&["--listen", "127.0.0.1:9100"]), Ok(Some(addr(9100))));
        assert_eq!(args(&["--listen=127.0.0.1:9200"]), Ok(Some(addr(9200))));
        assert_eq!(args(&["--help"]), Ok(None));
        assert!(args(&["--listen", "nope"]).is_err());
        assert!(args(&["--port"]).is_err());
    }
}
