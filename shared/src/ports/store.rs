//! The result store port (S3 in production): conditional writes of result objects and
//! reads of what a key holds (docs/contract.md §3, §9).

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;

use super::DownstreamError;

/// One S3 object to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Put {
    /// The object key.
    pub key: String,
    /// The exact bytes to store: a slice of the body, never re-serialized.
    pub body: Bytes,
    /// User metadata `event`.
    pub event: String,
    /// User metadata `event-id`.
    pub event_id: String,
    /// User metadata `received-at`.
    pub received_at: String,
    /// User metadata `entry-ids`: the archive copy's index of its entries
    /// (`crate::erase::index`); `None` for file objects, and for a copy whose ids do not fit.
    pub entry_ids: Option<String>,
}

/// An object as stored, read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// Its bytes.
    pub body: Bytes,
    /// Its `received-at` user metadata, if it has one.
    pub received_at: Option<String>,
    /// Its `erased-at` user metadata: set on an archive copy an erasure redacted.
    pub erased_at: Option<String>,
}

/// What a key holds, without its bytes (S3 `HeadObject`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The object's ETag, for an `If-Match` write over it.
    pub etag: String,
    /// Its `event-id` user metadata, if it has one.
    pub event_id: Option<String>,
    /// Its `received-at` user metadata, if it has one.
    pub received_at: Option<String>,
}

/// The condition a write is made under (docs/contract.md §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Only where the key holds no object (`If-None-Match: *`).
    Absent,
    /// Only over the object of this ETag (`If-Match`).
    Matches(String),
}

/// What a conditional write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The object is stored.
    Stored,
    /// The condition did not hold (`412`, or `409` under concurrent writers): nothing
    /// was written.
    Refused,
}

/// Stores result objects (S3 in production) and reads them back.
pub trait ResultStore: Send + Sync {
    /// Writes one object under `condition`.
    fn put(&self, put: &Put, condition: &Condition) -> impl Future<Output = Result<Written, DownstreamError>> + Send;

    /// Reads one object's metadata; `Ok(None)` when there is no object of that key.
    fn head(&self, key: &str) -> impl Future<Output = Result<Option<ObjectMeta>, DownstreamError>> + Send;

    /// Reads one object; `Ok(None)` when there is no object of that key.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<StoredObject>, DownstreamError>> + Send;
}

impl<T: ResultStore + ?Sized> ResultStore for &T {
    fn put(&self, put: &Put, condition: &Condition) -> impl Future<Output = Result<Written, DownstreamError>> + Send {
        T::put(self, put, condition)
    }

    fn head(&self, key: &str) -> impl Future<Output = Result<Option<ObjectMeta>, DownstreamError>> + Send {
        T::head(self, key)
    }

    fn get(&self, key: &str) -> impl Future<Output = Result<Option<StoredObject>, DownstreamError>> + Send {
        T::get(self, key)
    }
}

impl<T: ResultStore> ResultStore for Arc<T> {
    fn put(&self, put: &Put, condition: &Condition) -> impl Future<Output = Result<Written, DownstreamError>> + Send {
        T::put(self, put, condition)
    }

    fn head(&self, key: &str) -> impl Future<Output = Result<Option<ObjectMeta>, DownstreamError>> + Send {
        T::head(self, key)
    }

    fn get(&self, key: &str) -> impl Future<Output = Result<Option<StoredObject>, DownstreamError>> + Send {
        T::get(self, key)
    }
}
