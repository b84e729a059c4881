//! Harness for the end-to-end tests (moto, the runtime API emulator, signed events).
//!
//! The tests drive the real `webhook` binary the way Lambda does: a [`runtime_api`]
//! emulator hands it API Gateway / Function URL / ALB events built by [`requests`], the
//! binary writes to a shared [`moto`] server (S3, SNS, SQS, Secrets Manager), and the
//! tests read the results back through [`aws`]. A [`proxy`] in front of moto makes S3
//! or SNS unreachable on demand, delays or fails requests by path, and counts the calls
//! that pass (e.g. Secrets Manager reads). The [`redrive`] module runs Lambda's SQS
//! event source mapping (local-gateway's, the one `make run` uses) on a test's redrive
//! queue: it hands the queue's messages to the binary as SQS events and deletes what
//! completed. [`expect`] computes the values the contract
//! promises (keys, event ids) with code of its own, independent of the code under test.
//!
//! Run: `make e2e` (scripts/e2e: moto into `.venv`, the binaries, then every group of the
//! `it` test binary, tests/tests/it, side by side), or one group:
//! `scripts/e2e contract`. Plain `cargo test` at the root leaves this crate out (it is not a
//! default member). `WEBHOOK_BIN=/path/to/webhook` tests another build of the binary.
#![forbid(unsafe_code)]

pub mod aws;
pub mod bus;
pub mod expect;
pub mod function;
pub mod moto;
pub mod overload;
pub mod proxy;
pub mod redrive;
pub mod requests;
pub mod schema;

/// The Lambda Runtime API emulator, shared with `local-gateway` (tools/local-gateway).
pub use local_gateway::runtime_api;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

pub use aws::{Aws, Received, Resources, StoredObject};
pub use function::{ExitReport, Function, FunctionConfig};
pub use proxy::FaultProxy;
pub use redrive::{EventSourceMapping, JsonBody, QueueMessage};
pub use requests::{Delivery, HttpResponse, Request, Source, SECRET};
pub use runtime_api::{Outcome, RuntimeApi};

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` (relative to the workspace when it is
/// relative), else the workspace's `target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) if !t.is_empty() => {
            let t = PathBuf::from(t);
            if t.is_absolute() {
                t
            } else {
                workspace_root().join(t)
            }
        }
        _ => workspace_root().join("target"),
    }
}

/// A name no other test of any concurrently running test binary uses: lower-case
/// letters, digits and dashes, valid for S3 buckets, SNS topics and SQS queues.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{nanos:x}", std::process::id())
}

/// One test's world: the shared moto server, SDK clients for it, and this test's own
/// bucket, topics and queues.
pub struct Stack {
    /// `http://127.0.0.1:PORT` of the shared moto server.
    pub endpoint: String,
    /// SDK clients pointed at moto.
    pub aws: Aws,
    /// This test's bucket, topics and subscribed queues.
    pub res: Resources,
}

impl Stack {
    /// A stack with a standard (non-FIFO) confirmed topic.
    pub async fn new() -> Self {
        Self::build(false).await
    }

    /// A stack whose confirmed topic (and its queue) is FIFO.
    pub async fn fifo() -> Self {
        Self::build(true).await
    }

    async fn build(fifo_confirmed: bool) -> Self {
        let endpoint = moto::shared().endpoint();
        let aws = Aws::connect(&endpoint);
        let res = aws.create_resources(fifo_confirmed).await;
        Stack { endpoint, aws, res }
    }

    /// The function's configuration for this stack: bucket, topics, the test secret,
    /// moto as `AWS_ENDPOINT_URL`.
    pub fn config(&self) -> FunctionConfig {
        FunctionConfig::new(&self.endpoint, &self.res)
    }

    /// [`Stack::config`] with this stack's redrive queue as `REDRIVE_QUEUE_URL`.
    pub fn redrive_config(&self) -> FunctionConfig {
        self.config().redrive_queue(&self.res.redrive_queue.url)
    }

    /// The event source mapping of this stack's redrive queue.
    pub fn mapping(&self) -> EventSourceMapping {
        EventSourceMapping::new(&self.res.redrive_queue)
    }

    /// Every message on the redrive queue so far (removes them).
    pub async fn queued(&self) -> Vec<QueueMessage> {
        self.aws.take_all(&self.res.redrive_queue).await
    }

    /// Starts the real binary with `config` (see [`Function::start`]).
    pub async fn start(&self, config: FunctionConfig) -> Function {
        Function::start(config).await
    }

    /// Every key in this test's bucket, sorted.
    pub async fn all_keys(&self) -> Vec<String> {
        self.aws.list_keys(&self.res.bucket, "").await
    }

    /// The object at `key` in this test's bucket (panics when absent).
    pub async fn object(&self, key: &str) -> StoredObject {
        self.aws.get_object(&self.res.bucket, key).await
    }

    /// Every message on the confirmed topic's queue so far (removes them), each checked
    /// against `schemas/` (the function published them).
    pub async fn confirmed_messages(&self) -> Vec<Received> {
        checked(self.aws.drain(&self.res.confirmed_queue).await)
    }

    /// Every message on the failed topic's queue so far (removes them), each checked
    /// against `schemas/`.
    pub async fn failed_messages(&self) -> Vec<Received> {
        checked(self.aws.drain(&self.res.failed_queue).await)
    }
}

/// `messages` (the function published them), once each body and its attributes pass
/// `schemas/`.
pub fn checked(messages: Vec<Received>) -> Vec<Received> {
    for m in &messages {
        schema::message(&m.json(), &m.attributes);
    }
    messages
}
