//! The Lambda Runtime API emulator behind `local-gateway` (and the end-to-end harness).
#![forbid(unsafe_code)]

pub mod runtime_api;

pub use runtime_api::{Outcome, RuntimeApi};
