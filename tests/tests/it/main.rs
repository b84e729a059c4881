//! The end-to-end tests, one test binary (one link of the AWS SDK) with a module per group.
//!
//! Each group is run as its own process (`scripts/e2e` filters by module: `it load::`,
//! `it contract::`, ...), so each has its own moto server ([`e2e::moto::shared`] is one per
//! process) and the groups run side by side. Build the binaries first:
//! `scripts/build-binaries` (`make e2e` does).

mod contract;
mod eventbridge;
mod faults;
mod harness;
mod load;
mod local_stack;
mod security;
mod throttling;
