//! The ports the plan is carried out through, and the fan-out that drives them (CONTRACT §5).
//!
//! Every object is written first, concurrently; only then are messages published, in
//! batches, so no message ever points at an object that is not stored yet.

use std::future::Future;

use futures::stream::{self, StreamExt, TryStreamExt};

use crate::message::{Message, Topic, MAX_MESSAGE_BYTES};
use crate::plan::{Plan, Put};

/// SNS's limit on messages in one `PublishBatch`.
pub const MAX_BATCH_ENTRIES: usize = 10;

/// A failure of S3 or SNS: the delivery may be retried (`502`).
#[derive(Debug, thiserror::Error)]
pub enum DownstreamError {
    /// An object could not be stored.
    #[error("storing {key} failed: {reason}")]
    Store {
        /// The object's key.
        key: String,
        /// What the store said.
        reason: String,
    },
    /// A batch of messages (or some of its entries) could not be published.
    #[error("publishing {count} message(s) to the {topic:?} topic failed: {reason}")]
    Publish {
        /// Which topic.
        topic: Topic,
        /// How many messages of the batch failed.
        count: usize,
        /// What the publisher said.
        reason: String,
    },
}

/// Stores result objects (S3 in production).
pub trait ResultStore: Send + Sync {
    /// Writes one object, replacing any object of the same key.
    fn put(&self, put: &Put) -> impl Future<Output = Result<(), DownstreamError>> + Send;
}

/// Publishes event messages (SNS in production).
pub trait EventPublisher: Send + Sync {
    /// Publishes messages that all go to one topic, at most [`MAX_BATCH_ENTRIES`] and
    /// [`MAX_MESSAGE_BYTES`] in all; succeeds only if every message was accepted.
    fn publish(&self, topic: Topic, batch: &[&Message]) -> impl Future<Output = Result<(), DownstreamError>> + Send;
}

/// What a delivery's fan-out achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Objects written, the archive copy included.
    pub objects: usize,
    /// Messages published.
    pub published: usize,
}

/// Carries out a plan: all objects (at most `max_in_flight` requests at once), then
/// all messages. Fails on the first error; a retry of the same plan completes it.
pub async fn execute<S: ResultStore, P: EventPublisher>(
    plan: &Plan,
    store: &S,
    publisher: &P,
    max_in_flight: usize,
) -> Result<Outcome, DownstreamError> {
    let limit = max_in_flight.max(1);
    let puts = std::iter::once(&plan.archive).chain(&plan.files);
    stream::iter(puts.map(|put| store.put(put)))
        .buffer_unordered(limit)
        .try_collect::<()>()
        .await?;
    let batches = batches(&plan.messages);
    stream::iter(batches.iter().map(|(topic, batch)| publisher.publish(*topic, batch)))
        .buffer_unordered(limit)
        .try_collect::<()>()
        .await?;
    Ok(Outcome {
        objects: 1 + plan.files.len(),
        published: plan.messages.len(),
    })
}

/// Groups messages into `PublishBatch` calls: one topic each, at most ten messages and
/// 256 KiB in all, in plan order.
pub fn batches(messages: &[Message]) -> Vec<(Topic, Vec<&Message>)> {
    let mut out: Vec<(Topic, Vec<&Message>, usize)> = Vec::new();
    for m in messages {
        let size = m.size();
        match out.last_mut() {
            Some((topic, batch, total))
                if *topic == m.topic && batch.len() < MAX_BATCH_ENTRIES && *total + size <= MAX_MESSAGE_BYTES =>
            {
                batch.push(m);
                *total += size;
            }
            _ => out.push((m.topic, vec![m], size)),
        }
    }
    out.into_iter().map(|(topic, batch, _)| (topic, batch)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::Delivery;
    use crate::keys::Prefix;
    use crate::plan::Destination;
    use bytes::Bytes;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// An in-memory store and publisher that record calls, with optional failures.
    #[derive(Default)]
    struct Fake {
        stored: Mutex<Vec<String>>,
        published: Mutex<Vec<(Topic, usize)>>,
        fail_key: Option<&'static str>,
        fail_publish: bool,
        in_flight: AtomicUsize,
        peak: AtomicUsize,
    }

    impl ResultStore for Fake {
        async fn put(&self, put: &Put) -> Result<(), DownstreamError> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            tokio::task::yield_now().await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            if self.fail_key.is_some_and(|k| put.key.contains(k)) {
                return Err(DownstreamError::Store {
                    key: put.key.clone(),
                    reason: "injected".into(),
                });
            }
            self.stored.lock().unwrap().push(put.key.clone());
            Ok(())
        }
    }

    impl EventPublisher for Fake {
        async fn publish(&self, topic: Topic, batch: &[&Message]) -> Result<(), DownstreamError> {
            if self.fail_publish {
                return Err(DownstreamError::Publish {
                    topic,
                    count: batch.len(),
                    reason: "injected".into(),
                });
            }
            // Every message's object must already be stored.
            let stored = self.stored.lock().unwrap();
            for m in batch {
                assert!(
                    stored.iter().any(|k| m.body.contains(k.as_str())),
                    "published before stored"
                );
            }
            self.published.lock().unwrap().push((topic, batch.len()));
            Ok(())
        }
    }

    fn plan(files: usize) -> Plan {
        let entries: Vec<String> = (0..files).map(|i| format!(r#"{{"fileId":"f{i}"}}"#)).collect();
        let body = Bytes::from(format!(
            r#"{{"event":"extraction.confirmed","result":[{}]}}"#,
            entries.join(",")
        ));
        let d = Delivery::parse(&body).unwrap();
        let to = Destination {
            bucket: "b".into(),
            prefix: Prefix::default(),
        };
        Plan::new(&body, &d, &to, time::OffsetDateTime::UNIX_EPOCH)
    }

    #[tokio::test]
    async fn writes_everything_then_publishes_in_batches_of_ten() {
        let fake = Fake::default();
        let plan = plan(23);
        let outcome = execute(&plan, &fake, &fake, 4).await.unwrap();
        assert_eq!(
            outcome,
            Outcome {
                objects: 24,
                published: 23
            }
        );
        assert_eq!(fake.stored.lock().unwrap().len(), 24);
        let sizes: Vec<usize> = fake.published.lock().unwrap().iter().map(|(_, n)| *n).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 23);
        assert!(sizes.iter().all(|&n| n <= 10));
        assert!(fake.peak.load(Ordering::SeqCst) <= 4);
        assert!(fake.peak.load(Ordering::SeqCst) > 1, "writes ran one by one");
    }

    #[tokio::test]
    async fn a_store_failure_publishes_nothing() {
        let fake = Fake {
            fail_key: Some("/f3/"),
            ..Fake::default()
        };
        let err = execute(&plan(5), &fake, &fake, 16).await.unwrap_err();
        assert!(matches!(err, DownstreamError::Store { ref key, .. } if key.contains("/f3/")));
        assert!(fake.published.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_publish_failure_is_an_error() {
        let fake = Fake {
            fail_publish: true,
            ..Fake::default()
        };
        let err = execute(&plan(2), &fake, &fake, 16).await.unwrap_err();
        assert!(matches!(err, DownstreamError::Publish { count: 2, .. }));
    }

    #[test]
    fn batches_respect_count_size_and_topic() {
        let mut messages = plan(12).messages;
        messages[11].topic = Topic::Failed;
        let sizes: Vec<(Topic, usize)> = batches(&messages).iter().map(|(t, b)| (*t, b.len())).collect();
        assert_eq!(
            sizes,
            [(Topic::Confirmed, 10), (Topic::Confirmed, 1), (Topic::Failed, 1)]
        );
        // Two messages of ~200 KiB never share a batch.
        let mut big = plan(2).messages;
        for m in &mut big {
            m.body.push_str(&" ".repeat(200_000));
        }
        assert_eq!(batches(&big).len(), 2);
    }
}
