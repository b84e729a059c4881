//! Typed messages of the Extracta.ai webhook function, for the systems that consume them.
//!
//! The function publishes one SNS message per confirmed or failed file entry
//! (`docs/contract.md §4`, `schemas/confirmed-message.json`, `schemas/failed-message.json`).
//! A subscriber receives it in one of three shapes, all parsed here into one [`Message`]:
//!
//! | shape | what arrives | parse with |
//! |---|---|---|
//! | SQS, raw message delivery | the message is the SQS body | [`Received::from_sqs_body`], [`Record`] |
//! | SQS, SNS envelope | the body is SNS's envelope, the message its `Message` string | [`Received::from_sqs_body`], [`Record`] |
//! | SNS → Lambda | `Records[].Sns.Message` | [`Record`], [`LambdaEvent`] |
//!
//! With an event bus (docs/contract.md §10) every file of all four events arrives as an
//! EventBridge event whose `detail` is the same [`Message`], and any other delivery as an
//! [`ArchivePointer`]: [`BusEvent::from_json`] parses what a rule's SQS or Lambda target
//! receives.
//!
//! Delivery is at least once: de-duplicate on [`Message::event_id`]. To keep only the
//! newest delivery of each file downstream, compare [`Message::order`]s ([`Order`]). When
//! [`Message::result_omitted`] is true the entry is in S3: [`Message::entry`] returns it
//! from the message otherwise, and `Message::full_entry` (feature `s3`) in both cases.
//!
//! ```
//! use extracta_consumer::{Received, Shape};
//!
//! // The body of an SQS message from a subscription with raw message delivery.
//! let body = r#"{"event":"extraction.failed","eventId":"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
//!   "extractionId":"-NxA","batchId":"-NxB","fileId":"-NxF","fileName":"a.pdf","status":"failed","url":null,
//!   "error":"unreadable","s3":{"bucket":"b","key":"extracta/-NxA/-NxB/-NxF/failed.json"},"receivedAt":"2026-11-26T18:19:08.123Z"}"#;
//! let received = Received::from_sqs_body(body)?;
//! assert_eq!(received.shape, Shape::SqsRaw);
//! let message = &received.message;
//! // Process each eventId once (a conditional write, a table...), then:
//! if let Some(entry) = message.entry() {
//!     assert_eq!(entry.parse::<serde_json::Value>()?["error"], "unreadable");
//! } // else: message.full_entry(&s3_client).await? reads it from S3 (feature `s3`)
//! # Ok::<(), extracta_consumer::Error>(())
//! ```
#![forbid(unsafe_code)]

mod bus;
mod entry;
mod message;
mod order;
mod receive;

pub use bus::{ArchivePointer, BusEvent, Detail, SOURCE};
pub use entry::{event_id, FileEntry, Source};
pub use message::{Event, Message, S3Pointer};
pub use order::Order;
pub use receive::{
    Fifo, LambdaEvent, Received, Record, Shape, SnsAttribute, SnsNotification, SnsRecord, SqsAttribute, SqsRecord,
};

/// Why a message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The body, envelope or record is not what the function or SNS/SQS sends.
    #[error("not a message of the webhook function: {0}")]
    Json(#[from] serde_json::Error),
    /// The stored file entry is not UTF-8.
    #[error("the stored file entry is not UTF-8")]
    NotUtf8,
    /// Reading the file entry from S3 failed.
    #[cfg(feature = "s3")]
    #[error("reading s3://{bucket}/{key}: {reason}")]
    S3 {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The SDK's error, with its causes.
        reason: String,
    },
}
