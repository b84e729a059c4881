//! The redrive queue's side of automatic completion (docs/contract.md §8): SQS events shaped
//! like the ones Lambda's event source mapping sends, and an [`EventSourceMapping`] that
//! polls a queue, invokes the function with each batch through the runtime API emulator and
//! deletes what completed, as Lambda does with `ReportBatchItemFailures`.
use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::{json, Map, Value};

use crate::aws::{ctx, Aws, Queue, REGION};
use crate::runtime_api::Outcome;
use crate::Function;

/// A message received from a queue and not yet deleted.
#[derive(Clone, Debug)]
pub struct QueueMessage {
    /// `MessageId`.
    pub message_id: String,
    /// The receipt handle of this receive.
    pub receipt_handle: String,
    /// The body, as sent.
    pub body: String,
    /// `MD5OfBody`, as SQS computed it.
    pub md5_of_body: String,
    /// System attributes (`ApproximateReceiveCount`, `SentTimestamp`, ...).
    pub attributes: BTreeMap<String, String>,
}

impl QueueMessage {
    /// The body parsed as JSON (panics otherwise).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("queue message is not JSON ({e}): {}", self.body))
    }

    /// `ApproximateReceiveCount` (1 on the first receive).
    pub fn receive_count(&self) -> u32 {
        self.attributes
            .get("ApproximateReceiveCount")
            .and_then(|c| c.parse().ok())
            .unwrap_or(1)
    }

    /// The SQS record Lambda's event source mapping puts in `Records` for this message.
    pub fn record(&self, queue: &Queue) -> Value {
        let attributes: Map<String, Value> = self
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        json!({
            "messageId": self.message_id,
            "receiptHandle": self.receipt_handle,
            "body": self.body,
            "attributes": attributes,
            "messageAttributes": {},
            "md5OfBody": self.md5_of_body,
            "eventSource": "aws:sqs",
            "eventSourceARN": queue.arn,
            "awsRegion": REGION,
        })
    }
}

/// The SQS event for a batch of `messages` received from `queue`.
pub fn sqs_event(queue: &Queue, messages: &[QueueMessage]) -> Value {
    json!({ "Records": messages.iter().map(|m| m.record(queue)).collect::<Vec<_>>() })
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
/// `{"batchItemFailures": [{"itemIdentifier": "..."}, ...]}`.
pub async fn invoke_sqs(f: &Function, event: Value) -> BatchResponse {
    let raw = match f.invoke(event).await {
        Outcome::Response(v) => v,
        Outcome::Error(e) => panic!(
            "the function failed the SQS invocation instead of answering batchItemFailures: {e}\n--- output ---\n{}",
            f.output()
        ),
    };
    let Some(list) = raw.get("batchItemFailures").and_then(Value::as_array) else {
        panic!("an SQS invocation must answer {{\"batchItemFailures\": [..]}}, got {raw}");
    };
    let failures = list
        .iter()
        .map(|item| {
            item.get("itemIdentifier")
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("batch item failure without a string itemIdentifier: {raw}"))
                .to_owned()
        })
        .collect();
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
        let out = self
            .sqs
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(max)
            .wait_time_seconds(0)
            .visibility_timeout(visibility)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap_or_else(|e| panic!("receive from {}: {}", queue.url, ctx(&e)));
        out.messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| QueueMessage {
                message_id: m.message_id.clone().unwrap_or_default(),
                receipt_handle: m.receipt_handle.clone().unwrap_or_default(),
                body: m.body.clone().unwrap_or_default(),
                md5_of_body: m.md5_of_body.clone().unwrap_or_default(),
                attributes: m
                    .attributes
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v))
                    .collect(),
            })
            .collect()
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

/// What one poll of an [`EventSourceMapping`] did.
#[derive(Clone, Debug)]
pub struct Batch {
    /// The messages it received and handed to the function.
    pub messages: Vec<QueueMessage>,
    /// The function's answer.
    pub response: BatchResponse,
    /// Messages it gave up on (receive count reached the limit): removed from the queue,
    /// as SQS moves them to a dead-letter queue.
    pub dead: Vec<QueueMessage>,
}

impl Batch {
    /// The message ids the function listed as failed.
    pub fn failed(&self) -> &[String] {
        &self.response.failures
    }

    /// The messages that completed (received and not listed).
    pub fn completed(&self) -> Vec<&QueueMessage> {
        self.messages
            .iter()
            .filter(|m| !self.response.failures.contains(&m.message_id))
            .collect()
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
        self.batches.iter().flat_map(|b| b.failed()).collect()
    }

    /// Messages given up on (sent to the "dead-letter queue").
    pub fn dead(&self) -> Vec<&QueueMessage> {
        self.batches.iter().flat_map(|b| b.dead.iter()).collect()
    }
}

/// Lambda's SQS event source mapping with `ReportBatchItemFailures`, played by the test:
/// receives a batch, invokes the function with it, deletes the records it did not list
/// and makes the listed ones visible again (a short visibility timeout), up to a receive
/// limit after which a record counts as dead-lettered.
#[derive(Clone, Debug)]
pub struct EventSourceMapping {
    /// The queue polled.
    pub queue: Queue,
    /// Records per invocation (at most 10, like a standard queue's receive).
    pub batch_size: i32,
    /// Receives after which a failing record is given up on (`maxReceiveCount`).
    pub max_receives: u32,
}

impl EventSourceMapping {
    /// A mapping for `queue`: batches of 10, receive limit 5.
    pub fn new(queue: &Queue) -> Self {
        EventSourceMapping {
            queue: queue.clone(),
            batch_size: 10,
            max_receives: 5,
        }
    }

    /// Sets the batch size.
    pub fn batch_size(mut self, n: i32) -> Self {
        self.batch_size = n;
        self
    }

    /// Sets the receive limit.
    pub fn max_receives(mut self, n: u32) -> Self {
        self.max_receives = n;
        self
    }

    /// One poll: `None` when the queue had nothing visible.
    pub async fn poll(&self, aws: &Aws, f: &Function) -> Option<Batch> {
        let messages = aws.receive(&self.queue, self.batch_size, 30).await;
        if messages.is_empty() {
            return None;
        }
        let response = invoke_sqs(f, sqs_event(&self.queue, &messages)).await;
        let known: Vec<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
        for id in &response.failures {
            assert!(
                known.contains(&id.as_str()),
                "batchItemFailures lists {id:?}, not a record of this batch {known:?}"
            );
        }
        let mut dead = Vec::new();
        for m in &messages {
            if !response.failures.contains(&m.message_id) {
                aws.delete_message(&self.queue, &m.receipt_handle).await;
            } else if m.receive_count() >= self.max_receives {
                aws.delete_message(&self.queue, &m.receipt_handle).await;
                dead.push(m.clone());
            } else {
                aws.release(&self.queue, &m.receipt_handle).await;
            }
        }
        Some(Batch {
            messages,
            response,
            dead,
        })
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
                            stats.failures += b.failed().len();
                            stats.dead += b.dead.len();
                            if !b.failed().is_empty() {
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
