//! Self-tests of the harness: moto and its resources, the runtime API emulator (against
//! the real `lambda_runtime` client), the fault proxy, the event builders and signing.
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use aws_sdk_sns::types::MessageAttributeValue;
use e2e::expect::{component, event_id, sha256_hex};
use e2e::function::run_to_exit;
use e2e::proxy::Mode;
use e2e::requests::{sign, sign_with_key, Request, Source};
use e2e::{moto, Aws, Delivery, FaultProxy, Function, Outcome, RuntimeApi, Stack};
use lambda_http::request::RequestContext;
use lambda_http::Body;
use serde_json::{json, Value};

fn echo_bin() -> &'static str {
    env!("CARGO_BIN_EXE_echo-function")
}

fn echo_config(stack: &Stack) -> e2e::FunctionConfig {
    stack.config().binary(echo_bin())
}

/// A bare HTTP/1.1 exchange on an open connection (keep-alive), for the emulator.
fn http(stream: &mut TcpStream, method: &str, path: &str, body: &str) -> (u16, String, String) {
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).expect("write");
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("read head");
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let status = head[9..12].parse().expect("status");
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).expect("read body");
    (status, head, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn moto_is_shared_and_answers() {
    let a = moto::shared();
    let b = moto::shared();
    assert_eq!(a.port, b.port, "one moto per test binary");
    assert!(a.is_running());
    let mut s = TcpStream::connect(a.addr()).expect("moto accepts connections");
    let (status, _, _) = http(&mut s, "GET", "/", "");
    assert!(status < 500, "moto answers S3 ListBuckets, got {status}");
}

#[test]
fn watchdog_kills_the_server_when_the_test_process_is_gone() {
    // GIVEN a stand-in "test process" and a stand-in "server" under the watchdog,
    let mut parent = std::process::Command::new("sleep").arg("30").spawn().expect("sleep");
    let pid_file = std::env::temp_dir().join(e2e::unique_name("e2e-watchdog-pid"));
    let mut watchdog = moto::watched(parent.id(), std::path::Path::new("sh"))
        .arg("-c")
        .arg(format!("echo $$ > {}; exec sleep 300", pid_file.display()))
        .spawn()
        .expect("watchdog");
    let server_pid = wait_for(|| std::fs::read_to_string(&pid_file).ok()?.trim().parse::<u32>().ok());
    let _ = std::fs::remove_file(&pid_file);
    assert!(alive(server_pid), "the server runs while its parent does");
    // WHEN the parent dies, THEN the server is killed and the watchdog exits.
    parent.kill().expect("kill");
    parent.wait().expect("reap");
    wait_for(|| (!alive(server_pid)).then_some(()));
    let status = watchdog.wait().expect("watchdog exits");
    assert!(status.success(), "{status}");
}

/// Polls `f` for up to 10 s.
fn wait_for<T>(f: impl Fn() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// True when `pid` is a live (not zombie) process.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_deliver_sns_messages_to_sqs_with_attributes() {
    let stack = Stack::new().await;
    assert_ne!(stack.res.confirmed_topic_arn, stack.res.failed_topic_arn);
    stack
        .aws
        .sns
        .publish()
        .topic_arn(&stack.res.confirmed_topic_arn)
        .message(r#"{"hello":"world"}"#)
        .message_attributes(
            "event",
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value("extraction.confirmed")
                .build()
                .expect("attribute"),
        )
        .send()
        .await
        .expect("publish");
    let got = stack.aws.drain(&stack.res.confirmed_queue).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].body, r#"{"hello":"world"}"#, "raw delivery keeps the body");
    assert_eq!(
        got[0].attributes.get("event").map(String::as_str),
        Some("extraction.confirmed")
    );
    assert!(
        stack.aws.drain(&stack.res.failed_queue).await.is_empty(),
        "topics are separate"
    );
    assert!(
        stack.aws.drain(&stack.res.confirmed_queue).await.is_empty(),
        "drain removed the message"
    );

    // Another stack's resources are disjoint.
    let other = Stack::new().await;
    assert_ne!(other.res.bucket, stack.res.bucket);
    assert!(other.aws.drain(&other.res.confirmed_queue).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_topic_reports_group_and_dedup_ids() {
    let stack = Stack::fifo().await;
    assert!(stack.res.confirmed_topic_arn.ends_with(".fifo"));
    assert!(stack.res.confirmed_queue.fifo);
    for (group, dedup) in [("g1", "d1"), ("g1", "d1"), ("g2", "d2")] {
        stack
            .aws
            .sns
            .publish()
            .topic_arn(&stack.res.confirmed_topic_arn)
            .message(format!("{{\"g\":\"{group}\"}}"))
            .message_group_id(group)
            .message_deduplication_id(dedup)
            .send()
            .await
            .expect("publish to FIFO");
    }
    let got = stack.aws.drain(&stack.res.confirmed_queue).await;
    assert_eq!(got.len(), 2, "FIFO de-duplicates on the dedup id: {got:?}");
    let mut ids: Vec<_> = got.iter().map(|m| (m.group_id.clone(), m.dedup_id.clone())).collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![
            (Some("g1".into()), Some("d1".into())),
            (Some("g2".into()), Some("d2".into()))
        ],
        "moto exposes the group and dedup ids on SQS"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_helpers_read_back_bytes_type_and_metadata() {
    let stack = Stack::new().await;
    stack
        .aws
        .s3
        .put_object()
        .bucket(&stack.res.bucket)
        .key("p/a.json")
        .body(b"{\"a\":1}".to_vec().into())
        .content_type("application/json")
        .metadata("event-id", "abc")
        .send()
        .await
        .expect("put");
    assert_eq!(stack.all_keys().await, vec!["p/a.json".to_owned()]);
    let o = stack.object("p/a.json").await;
    assert_eq!(o.bytes, b"{\"a\":1}");
    assert_eq!(o.content_type.as_deref(), Some("application/json"));
    // Read the map directly: `meta` also checks it against the schema of the function's objects.
    assert_eq!(o.metadata["event-id"], "abc");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_manager_is_emulated() {
    let stack = Stack::new().await;
    let arn = stack.aws.create_secret("E_AI_K_test-secret-not-real").await;
    let got = stack
        .aws
        .secrets
        .get_secret_value()
        .secret_id(&arn)
        .send()
        .await
        .expect("get secret");
    assert_eq!(got.secret_string(), Some("E_AI_K_test-secret-not-real"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_serves_the_real_runtime_client() {
    let stack = Stack::new().await;
    let f = Function::start(echo_config(&stack).set("ECHO_MARK", "x")).await;
    // Several invocations on the runtime's keep-alive connection.
    for i in 0..3 {
        match f.invoke(json!({"n": i})).await {
            Outcome::Response(v) => {
                assert_eq!(v["echo"], json!({"n": i}));
                assert!(v["requestId"].as_str().is_some_and(|s| s.starts_with("req-")));
                assert!(v["deadline"].as_u64().is_some_and(|d| d > 1_700_000_000_000));
            }
            other => panic!("expected a response, got {other:?}"),
        }
    }
    match f.invoke(json!({"do": "fail"})).await {
        Outcome::Error(v) => assert!(v.to_string().contains("asked to fail"), "{v}"),
        other => panic!("expected an error, got {other:?}"),
    }
    match f.invoke(json!({"do": "panic"})).await {
        Outcome::Error(_) => {}
        other => panic!("expected an error, got {other:?}"),
    }
    // Still alive after a panic.
    assert!(matches!(f.invoke(json!({"n": 9})).await, Outcome::Response(_)));
    assert!(
        f.api().unexpected_requests().is_empty(),
        "{:?}",
        f.api().unexpected_requests()
    );
    let line = f
        .wait_for_line(Duration::from_secs(5), |l| l.contains("\"invoked\""))
        .await;
    assert!(line.is_some(), "stdout is captured: {}", f.output());
    let out = f.stop().await;
    assert!(out.contains("\"starting\""), "stderr is captured: {out}");
    assert_eq!(out.matches("\"invoked\"").count(), 6, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_takes_errors_and_init_errors_over_http() {
    let api = RuntimeApi::start().await;
    let addr: SocketAddr = api.host_port().parse().expect("addr");
    let rx = api.submit(json!({"k": "v"}));
    let answered = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).expect("connect");
        let (status, head, body) = http(&mut s, "GET", "/2018-06-01/runtime/invocation/next", "");
        assert_eq!(status, 200);
        assert_eq!(body, r#"{"k":"v"}"#);
        let head = head.to_ascii_lowercase();
        for h in [
            "lambda-runtime-aws-request-id",
            "lambda-runtime-deadline-ms",
            "lambda-runtime-invoked-function-arn",
            "lambda-runtime-trace-id",
        ] {
            assert!(head.contains(h), "{h} missing: {head}");
        }
        let id = head
            .lines()
            .find_map(|l| l.strip_prefix("lambda-runtime-aws-request-id:"))
            .expect("request id")
            .trim()
            .to_owned();
        let path = format!("/2018-06-01/runtime/invocation/{id}/error");
        let (status, _, _) = http(&mut s, "POST", &path, r#"{"errorType":"X","errorMessage":"y"}"#);
        assert_eq!(status, 202);
        // A second answer for the same id is refused.
        let (status, _, _) = http(&mut s, "POST", &path, "{}");
        assert_eq!(status, 400);
        let (status, _, _) = http(
            &mut s,
            "POST",
            "/2018-06-01/runtime/init/error",
            r#"{"errorType":"Runtime.ConfigError","errorMessage":"RESULTS_BUCKET is missing"}"#,
        );
        assert_eq!(status, 202);
    });
    let outcome = tokio::time::timeout(Duration::from_secs(10), rx)
        .await
        .expect("answered in time")
        .expect("outcome");
    answered.await.expect("client thread");
    assert_eq!(outcome, Outcome::Error(json!({"errorType":"X","errorMessage":"y"})));
    assert!(api.wait_init_error(Duration::from_secs(1)).await);
    assert_eq!(api.init_errors()[0]["errorMessage"], "RESULTS_BUCKET is missing");
    assert_eq!(api.next_calls(), 1);
    assert_eq!(api.unexpected_requests().len(), 1, "the duplicate answer is recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_to_exit_reports_status_output_and_whether_it_polled() {
    let stack = Stack::new().await;
    let r = run_to_exit(echo_config(&stack).set("ECHO_EXIT_WITH", "3"), Duration::from_secs(10)).await;
    assert!(r.failed(), "{r:?}");
    assert_eq!(r.status.and_then(|s| s.code()), Some(3));
    assert!(!r.asked_for_event);
    assert!(r.output.contains("ECHO_EXIT_WITH is set"), "{r:?}");

    // A process that starts normally is seen polling and is killed.
    let r = run_to_exit(echo_config(&stack), Duration::from_secs(10)).await;
    assert!(r.asked_for_event, "{r:?}");
    assert!(r.status.is_none(), "it had to be killed: {r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_is_explicit() {
    // Cargo gives this test process CARGO_* variables; the child sees none of them, only
    // PATH, the runtime API address and what the configuration sets.
    assert!(std::env::var_os("CARGO_PKG_NAME").is_some(), "precondition");
    let stack = Stack::new().await;
    let config = echo_config(&stack)
        .unset("EXTRACTA_WEBHOOK_SECRET")
        .set("MAX_BODY_BYTES", "10");
    let f = Function::start(config.clone()).await;
    let Outcome::Response(env) = f.invoke(json!({"do": "env"})).await else {
        panic!("no env")
    };
    let env = env.as_object().expect("map");
    assert_eq!(env.get("MAX_BODY_BYTES"), Some(&json!("10")));
    assert_eq!(env.get("RESULTS_BUCKET"), Some(&json!(stack.res.bucket)));
    assert_eq!(env.get("AWS_ENDPOINT_URL"), Some(&json!(stack.endpoint)));
    assert_eq!(env.get("AWS_LAMBDA_RUNTIME_API"), Some(&json!(f.api().host_port())));
    for (k, _) in env {
        // `_X_AMZN_TRACE_ID` is set by lambda_runtime itself for each invocation.
        let own = ["PATH", "AWS_LAMBDA_RUNTIME_API", "_X_AMZN_TRACE_ID"];
        assert!(
            own.contains(&k.as_str()) || config.get(k).is_some(),
            "{k} leaked into the child's environment"
        );
    }
    assert!(!env.contains_key("EXTRACTA_WEBHOOK_SECRET"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_proxy_forwards_resets_refuses_and_restores() {
    let moto = moto::shared();
    let proxy = FaultProxy::start(moto.addr()).await;
    let via = Aws::connect(&proxy.url());
    let direct = Aws::connect(&moto.endpoint());
    let bucket = e2e::unique_name("e2e-proxy");
    via.s3
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create via proxy");
    assert!(proxy.accepted() >= 1);
    direct
        .s3
        .head_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("it reached moto");

    for mode in [Mode::Reset, Mode::Refuse] {
        proxy.set(mode);
        let err = via.s3.head_bucket().bucket(&bucket).send().await;
        assert!(err.is_err(), "{mode:?}: the request must fail");
        proxy.forward();
        via.s3
            .head_bucket()
            .bucket(&bucket)
            .send()
            .await
            .unwrap_or_else(|e| panic!("after {mode:?}, restored: {e:?}"));
    }
    // Refuse really refuses at the TCP level.
    proxy.set(Mode::Refuse);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let addr: SocketAddr = proxy.url()["http://".len()..].parse().expect("addr");
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
    proxy.forward();
}

#[test]
fn signing_matches_node_crypto() {
    // Known answer produced by Node: crypto.createHmac('sha256', 'test-secret-not-real')
    //   .update('[{"a":1}]').digest('base64')
    let node = std::process::Command::new("node")
        .arg("-e")
        .arg("process.stdout.write(require('crypto').createHmac('sha256','test-secret-not-real').update('[{\"a\":1}]').digest('base64'))")
        .output()
        .expect("node is required by the test suite: install Node.js 20 (apt-get install nodejs)");
    assert!(node.status.success());
    let expected = String::from_utf8(node.stdout).expect("utf8");
    assert_eq!(sign("E_AI_K_test-secret-not-real", b"[{\"a\":1}]"), expected);
    assert_eq!(sign_with_key(b"test-secret-not-real", b"[{\"a\":1}]"), expected);
    // Only one leading prefix is removed.
    assert_eq!(sign("E_AI_K_E_AI_K_x", b"d"), sign_with_key(b"E_AI_K_x", b"d"));
    assert_eq!(sign("no-prefix", b"d"), sign_with_key(b"no-prefix", b"d"));
}

#[test]
fn stringify_fixtures_match_node() {
    let dir = e2e::workspace_root().join("tests/fixtures/stringify");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures dir") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        n += 1;
        let out = std::process::Command::new("node")
            .arg("-e")
            .arg("const t=require('fs').readFileSync(process.argv[1],'utf8');process.stdout.write(JSON.stringify(JSON.parse('['+t+']')))")
            .arg(&path)
            .output()
            .expect("node is required by the test suite: install Node.js 20 (apt-get install nodejs)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let expected = std::fs::read(path.with_extension("expected")).expect(".expected file");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&expected),
            "{} is stale",
            path.display()
        );
        let raw = std::fs::read(&path).expect("fixture");
        assert_ne!(
            format!("[{}]", String::from_utf8_lossy(&raw).trim_end()).into_bytes(),
            expected,
            "{}: the fixture must need rule (b)",
            path.display()
        );
    }
    assert!(n >= 5, "fixtures found: {n}");
}

#[test]
fn expected_values_follow_the_contract() {
    assert_eq!(component("../../x"), "..%2F..%2Fx");
    assert_eq!(component("a/b"), "a%2Fb");
    assert_eq!(component("."), "%2E");
    assert_eq!(component(".."), "%2E%2E");
    assert_eq!(component(""), "_none");
    assert_eq!(component("é~ z"), "%C3%A9%7E%20z");
    assert_eq!(component("A-z_0.9"), "A-z_0.9");
    assert_eq!(
        sha256_hex(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(event_id("e", b"x"), sha256_hex(b"e\nx"));
}

#[test]
fn delivery_bodies_are_exact() {
    let d = Delivery::new("extraction.confirmed")
        .raw_entry(r#"{"b":1,"a":2}"#)
        .raw_entry(r#"{"c":3}"#);
    assert_eq!(
        d.body(),
        br#"{"event":"extraction.confirmed","result":[{"b":1,"a":2},{"c":3}]}"#
    );
    assert_eq!(
        d.signature("E_AI_K_k"),
        sign_with_key(b"k", br#"[{"b":1,"a":2},{"c":3}]"#)
    );
    assert_eq!(Delivery::without_event().body(), br#"{"result":[]}"#);
    assert_eq!(Delivery::with_raw_event("5").body(), br#"{"event":5,"result":[]}"#);
    assert_eq!(
        Delivery::new("x").raw_result("{}").body(),
        br#"{"event":"x","result":{}}"#
    );
}

fn parse(req: &Request) -> lambda_http::Request {
    lambda_http::request::from_str(&req.event().to_string())
        .unwrap_or_else(|e| panic!("lambda_http rejects the {:?} event: {e}", req.source))
}

#[test]
fn events_parse_as_lambda_http_sees_them() {
    let body = br#"{"event":"x","result":[]}"#.to_vec();
    for source in [Source::HttpApiV2, Source::RestV1, Source::FunctionUrl, Source::Alb] {
        for b64 in [false, true] {
            let mut req = Request::post(body.clone())
                .source(source)
                .method("PUT")
                .header("X-Webhook-Signature", "c2ln");
            if b64 {
                req = req.base64();
            }
            let parsed = parse(&req);
            assert_eq!(parsed.method().as_str(), "PUT", "{source:?}");
            assert_eq!(
                parsed
                    .headers()
                    .get("x-webhook-signature")
                    .and_then(|v| v.to_str().ok()),
                Some("c2ln"),
                "{source:?}"
            );
            let got: &[u8] = match parsed.body() {
                Body::Text(t) => t.as_bytes(),
                Body::Binary(b) => b,
                Body::Empty => b"",
                _ => b"?",
            };
            assert_eq!(got, body.as_slice(), "{source:?} base64={b64}");
            let ctx = lambda_http::RequestExt::request_context(&parsed);
            let kind = match ctx {
                RequestContext::ApiGatewayV2(_) => "v2",
                RequestContext::ApiGatewayV1(_) => "v1",
                RequestContext::Alb(_) => "alb",
                _ => "other",
            };
            let want = match source {
                Source::HttpApiV2 | Source::FunctionUrl => "v2",
                Source::RestV1 => "v1",
                Source::Alb => "alb",
            };
            // lambda_http tries the REST shape first; an ALB event must not pass for one.
            assert_eq!(kind, want, "{source:?}");
        }
    }
    let fn_url = Request::post(body).source(Source::FunctionUrl).event();
    assert!(fn_url["requestContext"]["domainName"]
        .as_str()
        .is_some_and(|d| d.contains(".lambda-url.")));
    let v: Value = Request::post(b"x".to_vec()).raw_base64_body("%%%").event();
    assert_eq!(v["body"], "%%%");
    assert_eq!(v["isBase64Encoded"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_proxy_rules_act_by_path_and_log_requests() {
    use e2e::proxy::{Action, PathFilter, Rule};
    let moto = moto::shared();
    let proxy = FaultProxy::start(moto.addr()).await;
    let via = Aws::connect(&proxy.url());
    let bucket = e2e::unique_name("e2e-rules");
    via.s3
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create via proxy");
    let put = |key: &'static str| {
        let (via, bucket) = (via.clone(), bucket.clone());
        async move {
            let started = std::time::Instant::now();
            let r = via
                .s3
                .put_object()
                .bucket(&bucket)
                .key(key)
                .body(b"{}".to_vec().into())
                .send()
                .await;
            (r.is_ok(), started.elapsed())
        }
    };

    proxy.set_rules(vec![
        Rule::new(PathFilter::Containing("/fail/".into()), Action::Status(400)),
        Rule::new(
            PathFilter::NotContaining("/fail/".into()),
            Action::Delay(Duration::from_millis(400)),
        ),
    ]);
    let (ok, _) = put("fail/x.json").await;
    assert!(!ok, "a matching request gets the injected status");
    let (ok, took) = put("slow/x.json").await;
    assert!(
        ok && took >= Duration::from_millis(400),
        "delayed, then forwarded: {took:?}"
    );
    proxy.set_rules(vec![Rule::new(PathFilter::Any, Action::Reset)]);
    assert!(!put("reset/x.json").await.0, "reset");
    proxy.clear_rules();
    let (ok, took) = put("fast/x.json").await;
    assert!(
        ok && took < Duration::from_millis(400),
        "no rule: forwarded at once ({took:?})"
    );

    let seen = proxy.requests();
    let puts: Vec<(&str, Option<Action>)> = seen
        .iter()
        .filter(|r| r.method == "PUT" && r.path.contains("x.json"))
        .map(|r| (r.path.split('?').next().unwrap_or_default(), r.action))
        .collect();
    let want = |k: &str| format!("/{bucket}/{k}");
    assert!(
        puts.contains(&(want("fail/x.json").as_str(), Some(Action::Status(400)))),
        "{puts:?}"
    );
    assert!(
        puts.contains(&(
            want("slow/x.json").as_str(),
            Some(Action::Delay(Duration::from_millis(400)))
        )),
        "{puts:?}"
    );
    assert!(puts.contains(&(want("fast/x.json").as_str(), None)), "{puts:?}");

    // JSON-protocol calls are told apart by X-Amz-Target.
    let arn = via.create_secret("e2e-proxy-secret-not-real").await;
    via.secrets
        .get_secret_value()
        .secret_id(&arn)
        .send()
        .await
        .expect("read");
    assert_eq!(
        proxy.count_target("secretsmanager.GetSecretValue"),
        1,
        "{:?}",
        proxy.requests()
    );
    assert_eq!(proxy.count_target("secretsmanager.CreateSecret"), 1);
}

#[tokio::test]
async fn sqs_events_have_the_event_source_mappings_shape() {
    let stack = Stack::new().await;
    let q = &stack.res.redrive_queue;
    let id = stack.aws.send_message(q, r#"{"archived":"x"}"#).await;
    let got = stack.aws.receive(q, 10, 30).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message_id, id);
    assert_eq!(got[0].receive_count(), 1);
    let event = e2e::redrive::sqs_event(q, &got);
    let record = &event["Records"][0];
    // The fields of aws_lambda_events' example-sqs-event.json (md5OfMessageAttributes is
    // there only for messages with attributes).
    let mut keys: Vec<&str> = record.as_object().expect("object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "attributes",
            "awsRegion",
            "body",
            "eventSource",
            "eventSourceARN",
            "md5OfBody",
            "messageAttributes",
            "messageId",
            "receiptHandle"
        ]
    );
    assert_eq!(record["eventSource"], "aws:sqs");
    assert_eq!(record["body"], r#"{"archived":"x"}"#);
    assert_eq!(record["md5OfBody"].as_str().map(str::len), Some(32));
    assert!(record["eventSourceARN"]
        .as_str()
        .is_some_and(|a| a.starts_with("arn:aws:sqs:us-east-1:")));
    for a in [
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    ] {
        assert!(record["attributes"][a].is_string(), "{a}: {record}");
    }
    // A released message comes back at once, with its receive count up.
    stack.aws.release(q, &got[0].receipt_handle).await;
    let again = stack.aws.receive(q, 10, 30).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message_id, id);
    assert_eq!(again[0].receive_count(), 2);
    stack.aws.delete_message(q, &again[0].receipt_handle).await;
    assert!(stack.queued().await.is_empty());
}
