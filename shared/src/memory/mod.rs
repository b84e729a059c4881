//! In-memory adapters of every port, beside the AWS ones, one file a port: one [`Memory`]
//! is a bucket, both topics and the redrive queue at once, and [`MemoryBus`] an event bus,
//! with failure injection and a count of requests in flight. The unit tests, the fuzz targets and the benches all use it (feature `memory`).
//!
//! The bucket keeps S3's conditional writes as S3 does (docs/contract.md §9): every
//! stored object gets a new ETag, `If-None-Match: *` is refused where the key holds an
//! object, `If-Match` unless it holds the object of that ETag, and a refused write
//! stores nothing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::message::{Message, Topic};
use crate::ports::DownstreamError;

mod bus;
mod publisher;
mod queue;
mod store;

pub use bus::{BusFaults, MemoryBus};

/// What to make fail (or never finish); every field off by default.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Puts whose key contains this fail.
    pub put_containing: Option<String>,
    /// Puts whose key contains this never finish (a store slower than any deadline).
    pub stall_put_containing: Option<String>,
    /// Every read (of an object or its metadata) fails.
    pub get: bool,
    /// Every publish fails.
    pub publish: bool,
    /// Every publish never finishes.
    pub stall_publish: bool,
    /// Every queue message fails.
    pub queue: bool,
    /// The next this many writes are refused as if another writer had just won (S3's
    /// `409 ConditionalRequestConflict`), storing nothing; each refusal counts one down.
    pub conflicts: usize,
}

/// One stored object, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The ETag, new for every write (set by the store).
    pub etag: String,
    /// The bytes.
    pub body: bytes::Bytes,
    /// User metadata `event`.
    pub event: String,
    /// User metadata `event-id`.
    pub event_id: String,
    /// User metadata `received-at`.
    pub received_at: String,
    /// User metadata `entry-ids` (archive copies).
    pub entry_ids: Option<String>,
    /// User metadata `erased-at` (archive copies an erasure redacted).
    pub erased_at: Option<String>,
}

/// A bucket, the two topics and the redrive queue, in memory.
#[derive(Debug, Default)]
pub struct Memory {
    objects: Mutex<BTreeMap<String, Object>>,
    puts: AtomicUsize,
    etags: AtomicUsize,
    messages: Mutex<Vec<(Topic, Message)>>,
    queued: Mutex<Vec<String>>,
    faults: Mutex<Faults>,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    published_before_stored: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Memory {
    /// An empty store with the given faults.
    pub fn with_faults(faults: Faults) -> Self {
        Memory {
            faults: Mutex::new(faults),
            ..Memory::default()
        }
    }

    /// Replaces the faults (a service going down, or coming back).
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.faults) = faults;
    }

    /// Every stored object by key.
    pub fn objects(&self) -> BTreeMap<String, Object> {
        lock(&self.objects).clone()
    }

    /// Successful puts so far (a rewrite of the same key counts again).
    pub fn puts(&self) -> usize {
        self.puts.load(Ordering::SeqCst)
    }

    /// Every published message, in publish order.
    pub fn messages(&self) -> Vec<(Topic, Message)> {
        lock(&self.messages).clone()
    }

    /// Every message sent to the redrive queue, in order.
    pub fn queued(&self) -> Vec<String> {
        lock(&self.queued).clone()
    }

    /// The most requests that were in flight at once.
    pub fn peak_in_flight(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// Messages published while the object they point to was not stored (must stay 0).
    pub fn published_before_stored(&self) -> usize {
        self.published_before_stored.load(Ordering::SeqCst)
    }

    /// Stores an object directly, unconditionally, as an operator (or an earlier run)
    /// would have; it gets a new ETag.
    pub fn insert(&self, key: &str, mut object: Object) {
        object.etag = self.new_etag();
        lock(&self.objects).insert(key.to_owned(), object);
    }

    fn new_etag(&self) -> String {
        format!("\"{}\"", self.etags.fetch_add(1, Ordering::SeqCst) + 1)
    }

    fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    /// One read of the object at `key` (of its bytes or its metadata, as `view` takes it),
    /// failing when reads are made to fail.
    async fn read<T>(&self, key: &str, view: impl FnOnce(&Object) -> T) -> Result<Option<T>, DownstreamError> {
        let faults = self.faults();
        self.request(|| {
            if faults.get {
                return Err(DownstreamError::Read {
                    key: key.to_owned(),
                    reason: "injected fault".into(),
                });
            }
            Ok(lock(&self.objects).get(key).map(view))
        })
        .await
    }

    /// Takes one injected conflict, if any are left.
    fn take_conflict(&self) -> bool {
        let mut faults = lock(&self.faults);
        let conflict = faults.conflicts > 0;
        faults.conflicts = faults.conflicts.saturating_sub(1);
        conflict
    }

    /// Counts one request in flight while `work` runs, after one yield so concurrent
    /// requests overlap as real ones do.
    async fn request<T>(&self, work: impl FnOnce() -> T) -> T {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        yield_once().await;
        let out = work();
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        out
    }
}

/// Yields once to the executor, like `tokio::task::yield_now`, without needing a runtime.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}
