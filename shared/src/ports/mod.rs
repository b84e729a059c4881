//! The ports a plan is carried out through, at the bottom of the crate: what each one
//! stores, publishes, puts or queues, and how it fails. They import nothing that plans or
//! executes; the adapters (`aws`, `memory`) implement them side by side, one file a port.

pub mod bus;
pub mod publisher;
pub mod queue;
pub mod store;

pub use bus::{BusEntry, EventBus};
pub use publisher::MessagePublisher;
pub use queue::RedriveQueue;
pub use store::{Condition, ObjectMeta, Put, ResultStore, StoredObject, Written};

use crate::message::Topic;

/// A failure of S3, SNS or SQS (after the SDK's own retries).
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
    /// An object could not be read.
    #[error("reading {key} failed: {reason}")]
    Read {
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
    /// A `PutEvents` call (or some of its entries) failed.
    #[error("putting {count} event(s) on the event bus failed: {reason}")]
    PutEvents {
        /// How many entries of the call failed.
        count: usize,
        /// What EventBridge said.
        reason: String,
    },
    /// The redrive queue did not take a message.
    #[error("sending to the redrive queue failed: {reason}")]
    Queue {
        /// What the queue said.
        reason: String,
    },
}
