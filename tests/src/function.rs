//! Runs the real `webhook` binary against the runtime API emulator, with captured output.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::{oneshot, watch};

use crate::aws::{Resources, ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY};
use crate::requests::{HttpResponse, Request, SECRET};
use crate::runtime_api::{Outcome, RuntimeApi, INVOKE_TIMEOUT};

/// Where the binary under test is: `WEBHOOK_BIN`, else `$CARGO_TARGET_DIR` (or the
/// workspace's `target`) `/debug/webhook`. Panics when it does not exist.
pub fn webhook_bin() -> PathBuf {
    let explicit = std::env::var_os("WEBHOOK_BIN").filter(|p| !p.is_empty());
    let path = match &explicit {
        Some(p) => PathBuf::from(p),
        _ => crate::target_dir().join("debug").join("webhook"),
    };
    if !path.is_file() {
        panic!(
            "webhook binary not found: run the end-to-end tests with `make e2e` (scripts/e2e), which builds them first, or run `scripts/build-binaries` before [looked at {}]",
            path.display()
        );
    }
    if explicit.is_none() {
        if let Some(newer) = newer_source(&path) {
            panic!(
                "webhook binary is older than {}: run the end-to-end tests with `make e2e` (scripts/e2e), which builds them first, or run `scripts/build-binaries` before",
                newer.display()
            );
        }
    }
    path
}

/// A source file of the function (`functions/webhook/src` or `shared/src`) modified after
/// `bin` was built. (Manifests are left out: a change to one need not relink the binary.)
fn newer_source(bin: &std::path::Path) -> Option<PathBuf> {
    let built = std::fs::metadata(bin).and_then(|m| m.modified()).ok()?;
    let root = crate::workspace_root();
    let mut stack = vec![root.join("functions/webhook/src"), root.join("shared/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t > built)
            {
                return Some(path);
            }
        }
    }
    None
}

/// The environment the binary starts with: every variable is explicit, nothing is
/// inherited except `PATH`.
#[derive(Clone, Debug)]
pub struct FunctionConfig {
    vars: BTreeMap<String, String>,
    bin: Option<PathBuf>,
}

/// What every run of the function sees before its own configuration: the variables
/// Lambda sets (JSON logs) and static fake credentials, with no profile files and no
/// instance metadata. The tests and the bench drivers start from it.
pub const LAMBDA_ENVIRONMENT: [(&str, &str); 11] = [
    ("AWS_LAMBDA_FUNCTION_NAME", "webhook"),
    ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
    ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
    ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
    ("AWS_REGION", REGION),
    ("AWS_DEFAULT_REGION", REGION),
    ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
    ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("AWS_CONFIG_FILE", "/dev/null"),
    ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
];

impl FunctionConfig {
    /// A working configuration for `res` on moto at `endpoint`: the test secret, JSON logs.
    pub fn new(endpoint: &str, res: &Resources) -> Self {
        let mut c = FunctionConfig {
            vars: BTreeMap::new(),
            bin: None,
        };
        for (name, value) in LAMBDA_ENVIRONMENT {
            c = c.set(name, value);
        }
        c = c
            .set("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/webhook")
            .set("AWS_LAMBDA_LOG_STREAM_NAME", "e2e")
            .set("AWS_ENDPOINT_URL", endpoint)
            .set("RESULTS_BUCKET", &res.bucket)
            .set("CONFIRMED_TOPIC_ARN", &res.confirmed_topic_arn)
            .set("FAILED_TOPIC_ARN", &res.failed_topic_arn)
            .set("EXTRACTA_WEBHOOK_SECRET", SECRET);
        c
    }

    /// Runs `bin` instead of the `webhook` binary (the harness's self-tests use this).
    pub fn binary(mut self, bin: impl Into<PathBuf>) -> Self {
        self.bin = Some(bin.into());
        self
    }

    /// The binary this configuration runs.
    pub fn binary_path(&self) -> PathBuf {
        self.bin.clone().unwrap_or_else(webhook_bin)
    }

    /// Sets a variable.
    pub fn set(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Removes a variable (it is then unset in the child).
    pub fn unset(mut self, name: &str) -> Self {
        self.vars.remove(name);
        self
    }

    /// The value a variable will have, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// Points S3 (only) at `url`, e.g. a [`crate::FaultProxy`].
    pub fn s3_endpoint(self, url: &str) -> Self {
        self.set("AWS_ENDPOINT_URL_S3", url)
    }

    /// Points SNS (only) at `url`, e.g. a [`crate::FaultProxy`].
    pub fn sns_endpoint(self, url: &str) -> Self {
        self.set("AWS_ENDPOINT_URL_SNS", url)
    }

    /// Points SQS (only) at `url`, e.g. a [`crate::FaultProxy`].
    pub fn sqs_endpoint(self, url: &str) -> Self {
        self.set("AWS_ENDPOINT_URL_SQS", url)
    }

    /// Points Secrets Manager (only) at `url`, e.g. a [`crate::FaultProxy`].
    pub fn secrets_endpoint(self, url: &str) -> Self {
        self.set("AWS_ENDPOINT_URL_SECRETS_MANAGER", url)
    }

    /// Turns on automatic completion (docs/contract.md §8): `REDRIVE_QUEUE_URL`.
    pub fn redrive_queue(self, url: &str) -> Self {
        self.set("REDRIVE_QUEUE_URL", url)
    }

    /// `ACK_DEADLINE_MS`: how long a request may work before it answers `202`.
    pub fn ack_deadline_ms(self, ms: u64) -> Self {
        self.set("ACK_DEADLINE_MS", &ms.to_string())
    }

    fn command(&self, runtime_api: &str) -> Command {
        let mut cmd = Command::new(self.binary_path());
        cmd.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
        cmd.env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }
}

/// Captured stdout + stderr, line by line as they arrive.
#[derive(Clone, Default)]
struct Output {
    text: Arc<Mutex<String>>,
}

impl Output {
    fn capture<R: AsyncRead + Unpin + Send + 'static>(&self, stream: R) -> tokio::task::JoinHandle<()> {
        let text = self.text.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut t = text.lock().unwrap_or_else(|p| p.into_inner());
                t.push_str(&line);
                t.push('\n');
            }
        })
    }

    fn get(&self) -> String {
        self.text.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A running `webhook` process with its own runtime API emulator. Killed on drop.
pub struct Function {
    api: RuntimeApi,
    output: Output,
    readers: Vec<tokio::task::JoinHandle<()>>,
    exit: watch::Receiver<Option<ExitStatus>>,
    kill: Option<oneshot::Sender<()>>,
}

impl Drop for Function {
    fn drop(&mut self) {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
    }
}

impl Function {
    /// Starts the binary with `config`. Does not wait for it to ask for an event.
    pub async fn start(config: FunctionConfig) -> Function {
        let api = RuntimeApi::start().await;
        let mut child = config
            .command(&api.host_port())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", config.binary_path().display()));
        let output = Output::default();
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(output.capture(out));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(output.capture(err));
        }
        let (exit_tx, exit) = watch::channel(None);
        let (kill, kill_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            tokio::select! {
                status = child.wait() => {
                    let _ = exit_tx.send(status.ok());
                }
                _ = kill_rx => {
                    let _ = child.start_kill();
                    let status = child.wait().await;
                    let _ = exit_tx.send(status.ok());
                }
            }
        });
        Function {
            api,
            output,
            readers,
            exit,
            kill: Some(kill),
        }
    }

    /// The runtime API emulator this process talks to.
    pub fn api(&self) -> &RuntimeApi {
        &self.api
    }

    /// Everything the process printed so far (stdout and stderr, whole lines).
    pub fn output(&self) -> String {
        self.output.get()
    }

    /// The exit status, if the process has exited.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        *self.exit.borrow()
    }

    /// Invokes the function with `event` and returns what it posted. Panics (with the
    /// captured output) if the process exits or does not answer in time.
    pub async fn invoke(&self, event: Value) -> Outcome {
        let rx = self.api.submit(event);
        let mut exit = self.exit.clone();
        let exited = async {
            loop {
                if exit.borrow().is_some() {
                    return;
                }
                if exit.changed().await.is_err() {
                    // The waiter task is gone (runtime shutting down): wait forever.
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            outcome = rx => match outcome {
                Ok(o) => o,
                Err(_) => panic!("runtime API emulator dropped the invocation\n--- output ---\n{}", self.output()),
            },
            _ = exited => {
                // Give the reader tasks a moment to collect the last lines.
                tokio::time::sleep(Duration::from_millis(100)).await;
                panic!(
                    "webhook exited ({:?}) before answering; init errors: {:?}\n--- output ---\n{}",
                    self.exit_status(),
                    self.api.init_errors(),
                    self.output()
                )
            }
            _ = tokio::time::sleep(INVOKE_TIMEOUT) => panic!(
                "webhook did not answer within {INVOKE_TIMEOUT:?}; unexpected runtime API requests: {:?}\n--- output ---\n{}",
                self.api.unexpected_requests(),
                self.output()
            ),
        }
    }

    /// Invokes with an HTTP request event and returns the HTTP response. Panics if the
    /// function answered with an invocation error instead (a request must never fail
    /// that way).
    pub async fn http(&self, req: &Request) -> HttpResponse {
        match self.invoke(req.event()).await {
            Outcome::Response(v) => {
                let rsp = HttpResponse::from_lambda(&v);
                crate::schema::answer(rsp.status, &rsp.json());
                rsp
            }
            Outcome::Error(e) => panic!(
                "the function failed the invocation instead of answering HTTP: {e}\n--- output ---\n{}",
                self.output()
            ),
        }
    }

    /// Waits until the output has a line for which `pred` holds, or `timeout` passes;
    /// returns that line.
    pub async fn wait_for_line(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(line) = self.output().lines().find(|l| pred(l)) {
                return Some(line.to_owned());
            }
            if tokio::time::Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the process and returns everything it printed, to the last byte.
    pub async fn stop(mut self) -> String {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
        let mut exit = self.exit.clone();
        let _ = tokio::time::timeout(Duration::from_secs(10), async {
            while exit.borrow().is_none() {
                if exit.changed().await.is_err() {
                    break;
                }
            }
        })
        .await;
        for r in self.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(10), r).await;
        }
        self.output()
    }
}

/// What happened to a process that was expected to refuse to start.
#[derive(Debug)]
pub struct ExitReport {
    /// Its exit status; `None` when it had to be killed.
    pub status: Option<ExitStatus>,
    /// Everything it printed.
    pub output: String,
    /// Bodies it posted to `/runtime/init/error`.
    pub init_errors: Vec<Value>,
    /// Whether it asked for an event (`/invocation/next`) at all.
    pub asked_for_event: bool,
}

impl ExitReport {
    /// True when the process exited with a non-zero status.
    pub fn failed(&self) -> bool {
        matches!(self.status, Some(s) if !s.success())
    }

    /// Lines of output that are not blank.
    pub fn lines(&self) -> Vec<&str> {
        self.output.lines().filter(|l| !l.trim().is_empty()).collect()
    }
}

/// Runs the binary with `config` and waits for it to exit by itself (up to `timeout`).
/// If it asks for an event it is killed at once; if it posts an init error and then
/// lingers, it is killed 2 s later. The report says which.
pub async fn run_to_exit(config: FunctionConfig, timeout: Duration) -> ExitReport {
    let f = Function::start(config).await;
    let mut exit = f.exit.clone();
    let exited = async {
        while exit.borrow().is_none() {
            if exit.changed().await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        _ = exited => {}
        _ = tokio::time::sleep(timeout) => {}
        // It asked for work: it started, and will not exit by itself.
        true = f.api.wait_next_call(timeout) => {}
        // It reported an init error: give it a moment to exit by itself.
        true = async {
            let posted = f.api.wait_init_error(timeout).await;
            tokio::time::sleep(Duration::from_secs(2)).await;
            posted
        } => {}
    }
    let status = f.exit_status();
    let init_errors = f.api.init_errors();
    let asked_for_event = f.api.next_calls() > 0;
    let output = f.stop().await;
    ExitReport {
        status,
        output,
        init_errors,
        asked_for_event,
    }
}
