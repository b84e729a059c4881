//! The Extracta.ai webhook domain: from request bytes to a verified, classified delivery
//! and a plan of S3 writes and SNS messages, plus the ports that carry the plan out.
//!
//! Data flows one way: [`signature`] authenticates the body, [`delivery`] reads it,
//! [`plan`] turns it into writes and messages, and [`pipeline`] executes the plan
//! through its ports (with AWS adapters in `aws`, behind the `aws` feature, and in-memory
//! ones in `memory`, behind the `memory` feature), each file object written only over an
//! older delivery ([`newest`]). [`events`] makes the EventBridge entries a publisher with
//! a bus puts beside the messages. [`redrive`] completes archived deliveries through the
//! same ports.
#![forbid(unsafe_code)]

#[cfg(feature = "aws")]
pub mod aws;
pub mod delivery;
pub mod ecma;
pub mod events;
pub mod hex;
pub mod json;
pub mod keys;
#[cfg(any(test, feature = "memory"))]
pub mod memory;
pub mod message;
pub mod newest;
pub mod pipeline;
pub mod plan;
pub mod redrive;
#[cfg(feature = "sample")]
pub mod sample;
pub mod signature;
