//! The AWS adapters of the ports, one file a port: S3 for result objects, SNS for
//! messages, EventBridge for the bus, SQS for the redrive queue.

mod eventbridge;
mod s3;
mod sns;
mod sqs;

pub use eventbridge::EventBridgeBus;
pub use s3::S3ResultStore;
pub use sns::SnsPublisher;
pub use sqs::SqsRedriveQueue;
