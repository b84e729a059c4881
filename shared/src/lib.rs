//! The Extracta.ai webhook domain: from request bytes to a verified, classified delivery
//! and a plan of S3 writes, SNS messages and bus entries, and the fan-out that carries the
//! plan out through its ports.
//!
//! Layers point one way, each importing only those below it (`tests/layers.rs` fails on a
//! cycle):
//! 1. The text: [`hex`], [`json`], [`ecma`], [`signature`], [`batch`], the S3 [`layout`],
//!    [`delivery`] (reading a body) and [`message`] (a file's section-4 message).
//! 2. The [`ports`]: the result store, the message publisher, the event bus and the
//!    redrive queue, with the types they speak. Their adapters sit side by side, one file
//!    a port: `aws` (feature `aws`) and `memory` (feature `memory`).
//! 3. What plans and executes: [`bus`] makes the event bus's entries, [`newest`] writes a
//!    file object only over an older delivery, [`plan`] turns a delivery into writes,
//!    messages and entries, [`pipeline`] carries a plan out, and [`redrive`] completes an
//!    archived delivery through the same fan-out. [`erase`] names the entries an erasure
//!    selects and redacts them out of an archived body (docs/contract.md §11).
#![forbid(unsafe_code)]

#[cfg(feature = "aws")]
pub mod aws;
pub mod batch;
pub mod bus;
pub mod delivery;
pub mod ecma;
pub mod erase;
pub mod hex;
pub mod json;
pub mod layout;
#[cfg(any(test, feature = "memory"))]
pub mod memory;
pub mod message;
pub mod newest;
pub mod pipeline;
pub mod plan;
pub mod ports;
pub mod redrive;
#[cfg(feature = "sample")]
pub mod sample;
pub mod signature;
