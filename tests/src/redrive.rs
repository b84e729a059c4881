//! The redrive queue's side of automatic completion (docs/contract.md §8): SQS events shaped
//! like the ones Lambda's event source mapping sends, and an [`EventSourceMapping`] that
//! polls a queue, invokes the function with each batch through the runtime API emulator and
//! deletes what completed, as Lambda does with `ReportBatchItemFailures`. The mapping itself
//! is `local-gateway`'s ([`local_gateway::event_source_mapping`], what `make run` runs); this
//! module points it at a test's queue and function, and fails the test where the function
//! answers anything but a partial batch response.
use std::time::Duration;

use serde_json::Value;

use crate::aws::{ctx, Aws, Queue, REGION};
use crate::runtime_api::Outcome;
use crate::Function;

pub use local_gateway::event_source_mapping::{batch_item_failures, Batch, QueueMessage};

/// A queue message's body parsed as JSON.
pub trait JsonBody {
    /// The body parsed as JSON (panics otherwise).
    fn json(&self) -> Value;
}

impl JsonBody for QueueMessage {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("queue message is not JSON ({e}): {}", self.body))
    }
}

/// The SQS event for a batch of `messages` received from `queue`.
pub fn sqs_event(queue: &Queue, messages: &[QueueMessage]) -> Value {
    local_gateway::event_source_mapping::sqs_event(&queue.arn, REGION, messages)
}

/// What the function answered to an SQS event.
#[derive(Clone, Debug)]
pub struct BatchResponse {
    /// The `itemIdentifier`s of `batchItemFailures`, in the order listed.
    pub failures: Vec<String>,
    /// The whole answer.
    pub raw: Value,
}

/// Invokes `f` with an SQS `event` and reads its partial batch response. Panics, with the
/// function's output, when it fails the invocation or answers anything but
/// `{"batchItemFailures": [{"itemIdentifier": "..."}, ...]}` listing records of the event.
pub async fn invoke_sqs(f: &Function, event: Value) -> BatchResponse {
    let event_ids: Vec<String> = event["Records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["messageId"].as_str().map(str::to_owned))
        .collect();
    let raw = match f.invoke(event).await {
        Outcome::Response(v) => v,
        Outcome::Error(e) => panic!(
            "the function failed the SQS invocation instead of answering batchItemFailures: {e}\n--- output ---\n{}",
            f.output()
        ),
    };
    let ids: Vec<&str> = event_ids.iter().map(String::as_str).collect();
    let failures = batch_item_failures(&raw, &ids).unwrap_or_else(|why| panic!("{why}"));
    BatchResponse { failures, raw }
}

impl Aws {
    /// Sends `body` to `queue`; returns the message id.
    pub async fn send_message(&self, queue: &Queue, body: &str) -> String {
        self.sqs
            .send_message()
            .queue_url(&queue.url)
            .message_body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("send to {}: {}", queue.url, ctx(&e)))
            .message_id
            .expect("message id")
    }

    /// Receives up to `max` (at most 10) visible messages from `queue`, hiding them for
    /// `visibility` seconds; nothing is deleted.
    pub async fn receive(&self, queue: &Queue, max: i32, visibility: i32) -> Vec<QueueMessage> {
        EventSourceMapping::new(queue)
            .mapping
            .receive(&self.sqs, max, Some(visibility))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Every visible message on `queue`, received (hidden for 30 s) and deleted.
    pub async fn take_all(&self, queue: &Queue) -> Vec<QueueMessage> {
        let mut all = Vec::new();
        loop {
            let batch = self.receive(queue, 10, 30).await;
            if batch.is_empty() {
                return all;
            }
            for m in &batch {
                self.delete_message(queue, &m.receipt_handle).await;
            }
            all.extend(batch);
        }
    }

    /// Deletes one received message.
    pub async fn delete_message(&self, queue: &Queue, receipt_handle: &str) {
        self.sqs
            .delete_message()
            .queue_url(&queue.url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .unwrap_or_else(|e| panic!("delete from {}: {}", queue.url, ctx(&e)));
    }

    /// Makes a received message visible again at once (a retry without waiting out the
    /// visibility timeout).
    pub async fn release(&self, queue: &Queue, receipt_handle: &str) {
        self.sqs
            .change_message_visibility()
            .queue_url(&queue.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap_or_else(|e| panic!("change visibility on {}: {}", queue.url, ctx(&e)));
    }

    /// Deletes `queue`.
    pub async fn delete_queue(&self, queue: &Queue) {
        self.sqs
            .delete_queue()
            .queue_url(&queue.url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("delete queue {}: {}", queue.url, ctx(&e)));
    }
}

/// Everything an [`EventSourceMapping::drain`] did.
#[derive(Clone, Debug, Default)]
pub struct Drained {
    /// Every batch, in order.
    pub batches: Vec<Batch>,
}

impl Drained {
    /// The messages that completed, in order.
    pub fn completed(&self) -> Vec<&QueueMessage> {
        self.batches.iter().flat_map(Batch::completed).collect()
    }

    /// Every failure the function listed (a message id once per failed attempt).
    pub fn failures(&self) -> Vec<&String> {
        self.batches.iter().flat_map(|b| b.failures.iter()).collect()
    }

    /// Messages given up on (sent to the "dead-letter queue").
    pub fn dead(&self) -> Vec<&QueueMessage> {
        self.batches.iter().flat_map(|b| b.dead.iter()).collect()
    }
}

/// Lambda's SQS event source mapping with `ReportBatchItemFailures`
/// ([`local_gateway::EventSourceMapping`]) on a test's queue: receives a batch, invokes the
/// function with it, deletes the records it did not list and makes the listed ones visible
/// again at once (a short visibility timeout), up to a receive limit after which a record
/// counts as dead-lettered.
#[derive(Clone, Debug)]
pub struct EventSourceMapping {
    mapping: local_gateway::EventSourceMapping,
}

impl EventSourceMapping {
    /// A mapping for `queue`: batches of 10, receive limit 5, no long polling, records
    /// hidden for 120 s while the function handles them.
    pub fn new(queue: &Queue) -> Self {
        let mut mapping = local_gateway::EventSourceMapping::new(&queue.url, &queue.arn, REGION);
        mapping.batch_size = 10;
        mapping.wait_seconds = 0;
        // Long enough for a batch of ten through a function slowed by fault proxies on a
        // busy machine: a record whose visibility ran out would be received twice.
        mapping.visibility_seconds = Some(120);
        mapping.retry_at_once = true;
        mapping.max_receives = Some(5);
        EventSourceMapping { mapping }
    }

    /// Sets the batch size.
    pub fn batch_size(mut self, n: i32) -> Self {
        self.mapping.batch_size = n;
        self
    }

    /// Sets the receive limit.
    pub fn max_receives(mut self, n: u32) -> Self {
        self.mapping.max_receives = Some(n);
        self
    }

    /// One poll: `None` when the queue had nothing visible. Panics, with the function's
    /// output, when the function failed the invocation or answered anything but a partial
    /// batch response of this batch's records.
    pub async fn poll(&self, aws: &Aws, f: &Function) -> Option<Batch> {
        let invoke = |event| async move {
            match f.invoke(event).await {
                Outcome::Response(answer) => Ok(answer),
                Outcome::Error(error) => Err(error.to_string()),
            }
        };
        let batch = self
            .mapping
            .poll(&aws.sqs, invoke)
            .await
            .unwrap_or_else(|e| panic!("the event source mapping: {e}"))?;
        if let Some(why) = &batch.invalid {
            panic!("{why}\n--- output ---\n{}", f.output());
        }
        Some(batch)
    }

    /// Polls until the queue is empty (every record completed or given up on).
    pub async fn drain(&self, aws: &Aws, f: &Function) -> Drained {
        let mut drained = Drained::default();
        // moto can report an empty receive while a released message becomes visible
        // again: look twice before calling the queue empty.
        let mut empty = 0;
        while empty < 2 {
            match self.poll(aws, f).await {
                Some(b) => {
                    empty = 0;
                    drained.batches.push(b);
                }
                None => {
                    empty += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        drained
    }
}

/// What a [`Poller`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollerStats {
    /// Invocations (non-empty batches).
    pub batches: usize,
    /// Records that completed.
    pub completed: usize,
    /// Records listed in `batchItemFailures` (once per failed attempt).
    pub failures: usize,
    /// Records given up on at the receive limit.
    pub dead: usize,
}

/// An [`EventSourceMapping`] running in the background beside other traffic, with one
/// poller per process (as Lambda scales its pollers with the function's concurrency).
pub struct Poller {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<PollerStats>>,
}

impl EventSourceMapping {
    /// Starts polling in the background: one loop per process of `functions`, each
    /// handing its batches to its own process. A batch with failures is followed by a
    /// 200 ms pause (a short visibility timeout).
    pub fn spawn(self, aws: Aws, functions: Vec<std::sync::Arc<Function>>) -> Poller {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for f in functions {
            let (esm, aws, stopping) = (self.clone(), aws.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let mut stats = PollerStats::default();
                let mut empty_after_stop = 0;
                while empty_after_stop < 3 {
                    match esm.poll(&aws, &f).await {
                        Some(b) => {
                            empty_after_stop = 0;
                            stats.batches += 1;
                            stats.completed += b.completed().len();
                            stats.failures += b.failures.len();
                            stats.dead += b.dead.len();
                            if !b.failures.is_empty() {
                                tokio::time::sleep(Duration::from_millis(200)).await;
                            }
                        }
                        None => {
                            if stopping.load(Ordering::SeqCst) {
                                empty_after_stop += 1;
                            }
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
                stats
            }));
        }
        Poller { stop, tasks }
    }
}

impl Poller {
    /// Lets the pollers drain the queue (each until three polls in a row find it empty),
    /// then stops them. Panics if a poller panicked (e.g. a malformed batch response).
    pub async fn finish(self) -> PollerStats {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut total = PollerStats::default();
        for t in self.tasks {
            let s = match t.await {
                Ok(s) => s,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            };
            total.batches += s.batches;
            total.completed += s.completed;
            total.failures += s.failures;
            total.dead += s.dead;
        }
        total
    }
}
