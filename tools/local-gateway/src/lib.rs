//! The Lambda Runtime API emulator and the SQS event source mapping behind `local-gateway`
//! (and the end-to-end harness, which drives the function under test with both).
#![forbid(unsafe_code)]

pub mod event_source_mapping;
pub mod runtime_api;

pub use event_source_mapping::{EventSourceMapping, QueueMessage};
pub use runtime_api::{Outcome, RuntimeApi};
