//! The Extracta.ai webhook receiver as a library: the [`handler`] (live deliveries) and
//! its [`redrive`] (queued ones), generic over the ports of `shared`; the [`answer`] a live
//! request gets; the [`report`] each
//! request or record ends as, with its [`metrics`] line; the Lambda event adapters
//! ([`http`], [`lambda`]); the [`config`] (the one reader of the environment) and the
//! webhook [`secrets`]; and the start-up with the AWS SDK ([`app`]). `main.rs` is the thin
//! binary; the fuzz targets and tests drive this same code with the in-memory ports.
//!
//! A request flows one way: Lambda event ([`lambda`], [`http`]) -> [`handler::Handler`]
//! (checks, signature, plan) -> `shared::pipeline::deliver` (S3, then SNS and the bus) ->
//! a [`report::Report`] -> the answer, the log line and the metrics line.
#![forbid(unsafe_code)]

pub mod answer;
#[cfg(feature = "aws")]
pub mod app;
pub mod config;
pub mod handler;
#[cfg(feature = "lambda")]
pub mod http;
#[cfg(feature = "lambda")]
pub mod lambda;
#[cfg(feature = "lambda")]
pub mod logging;
pub mod metrics;
#[cfg(feature = "lambda")]
pub mod redrive;
pub mod report;
pub mod secrets;
