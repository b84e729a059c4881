//! The message publisher port (SNS in production): the section-4 messages of confirmed
//! and failed files, in batches of one topic (docs/contract.md §4).

use std::future::Future;
use std::sync::Arc;

use super::DownstreamError;
use crate::message::{Message, Topic};

/// SNS's limit on messages in one `PublishBatch`.
pub const MAX_BATCH_ENTRIES: usize = 10;

/// Publishes the messages of confirmed and failed files (SNS in production).
pub trait MessagePublisher: Send + Sync {
    /// Publishes messages that all go to one topic, at most [`MAX_BATCH_ENTRIES`] and
    /// [`MAX_MESSAGE_BYTES`](crate::message::MAX_MESSAGE_BYTES) in all; succeeds only if every message was accepted.
    fn publish(&self, topic: Topic, batch: &[&Message]) -> impl Future<Output = Result<(), DownstreamError>> + Send;
}

impl<T: MessagePublisher + ?Sized> MessagePublisher for &T {
    fn publish(&self, topic: Topic, batch: &[&Message]) -> impl Future<Output = Result<(), DownstreamError>> + Send {
        T::publish(self, topic, batch)
    }
}

impl<T: MessagePublisher> MessagePublisher for Arc<T> {
    fn publish(&self, topic: Topic, batch: &[&Message]) -> impl Future<Output = Result<(), DownstreamError>> + Send {
        T::publish(self, topic, batch)
    }
}
