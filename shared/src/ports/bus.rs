//! The event bus port (EventBridge in production): the entries a delivery puts, and
//! EventBridge's own rule for their size and their batches (docs/contract.md §10).

use std::future::Future;
use std::sync::Arc;

use super::DownstreamError;

/// The `Source` of every entry.
pub const SOURCE: &str = "extracta.ai";

/// EventBridge's limit on one entry, and on the entries of one `PutEvents` call in all,
/// as its own size rule counts them ([`BusEntry::size`]).
pub const MAX_ENTRY_BYTES: usize = 262_144;

/// EventBridge's limit on entries in one `PutEvents` call.
pub const MAX_BATCH_ENTRIES: usize = 10;

/// What EventBridge's size rule counts for a `Time` that is set.
const TIME_BYTES: usize = 14;

/// One `PutEvents` entry; the bus it goes to is the adapter's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusEntry {
    /// `DetailType`: the event name (`_none` for a pointer whose event cannot be one).
    pub detail_type: String,
    /// `Detail`: a JSON object.
    pub detail: String,
    /// `Time`: the delivery's receipt time, RFC 3339 UTC with milliseconds.
    pub time: String,
    /// `detail.eventId`, which consumers de-duplicate on.
    pub event_id: String,
    /// Whether the claim check left `result` (or more) out of `detail`.
    pub result_omitted: bool,
}

impl BusEntry {
    /// The entry's size as EventBridge counts it ([`size_of`]).
    pub fn size(&self) -> usize {
        size_of(&self.detail_type, &self.detail)
    }
}

/// The size of an entry of this `DetailType` and `Detail` as EventBridge counts it: 14
/// bytes for `Time` (always set), then the UTF-8 bytes of `Source`, `DetailType` and
/// `Detail` (no `Resources` are sent).
pub fn size_of(detail_type: &str, detail: &str) -> usize {
    TIME_BYTES + SOURCE.len() + detail_type.len() + detail.len()
}

/// Puts entries on an event bus (EventBridge in production).
pub trait EventBus: Send + Sync {
    /// Puts at most [`MAX_BATCH_ENTRIES`] entries of at most [`MAX_ENTRY_BYTES`] in all in
    /// one call; succeeds only if every entry was accepted.
    fn put(&self, entries: &[&BusEntry]) -> impl Future<Output = Result<(), DownstreamError>> + Send;
}

impl<T: EventBus + ?Sized> EventBus for &T {
    fn put(&self, entries: &[&BusEntry]) -> impl Future<Output = Result<(), DownstreamError>> + Send {
        T::put(self, entries)
    }
}

impl<T: EventBus> EventBus for Arc<T> {
    fn put(&self, entries: &[&BusEntry]) -> impl Future<Output = Result<(), DownstreamError>> + Send {
        T::put(self, entries)
    }
}

/// No bus: what a fan-out is carried out through when `EVENT_BUS_NAME` is unset. It has
/// no values, so an `Option<NoBus>` is always `None` and nothing is ever put.
#[derive(Debug, Clone, Copy)]
pub enum NoBus {}

impl EventBus for NoBus {
    async fn put(&self, _: &[&BusEntry]) -> Result<(), DownstreamError> {
        match *self {}
    }
}
