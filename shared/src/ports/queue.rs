//! The redrive queue port (SQS in production): where a durable delivery that did not
//! complete is sent for automatic completion (docs/contract.md §8).

use std::future::Future;
use std::sync::Arc;

use super::DownstreamError;

/// Queues deliveries for automatic completion (SQS in production).
pub trait RedriveQueue: Send + Sync {
    /// Sends one message body.
    fn send(&self, body: String) -> impl Future<Output = Result<(), DownstreamError>> + Send;
}

impl<T: RedriveQueue + ?Sized> RedriveQueue for &T {
    fn send(&self, body: String) -> impl Future<Output = Result<(), DownstreamError>> + Send {
        T::send(self, body)
    }
}

impl<T: RedriveQueue> RedriveQueue for Arc<T> {
    fn send(&self, body: String) -> impl Future<Output = Result<(), DownstreamError>> + Send {
        T::send(self, body)
    }
}
