//! The in-memory event bus: records what is put, with failure injection (a whole call
//! failing, one entry refused, a call that never finishes), for tests and benches.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::ports::DownstreamError;
use crate::ports::{BusEntry, EventBus};

/// What to make fail (or never finish); every field off by default.
#[derive(Debug, Clone, Default)]
pub struct BusFaults {
    /// Every call fails as a whole (the endpoint is down): nothing is put.
    pub put: bool,
    /// The entry with this `eventId` is refused (`FailedEntryCount` 1); the rest of its
    /// call is put, as EventBridge does.
    pub fail_event_id: Option<String>,
    /// Every call never finishes.
    pub stall: bool,
}

/// An event bus in memory.
#[derive(Debug, Default)]
pub struct MemoryBus {
    entries: Mutex<Vec<BusEntry>>,
    faults: Mutex<BusFaults>,
    calls: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MemoryBus {
    /// An empty bus with the given faults.
    pub fn with_faults(faults: BusFaults) -> Self {
        MemoryBus {
            faults: Mutex::new(faults),
            ..MemoryBus::default()
        }
    }

    /// Replaces the faults (the bus going down, or coming back).
    pub fn set_faults(&self, faults: BusFaults) {
        *lock(&self.faults) = faults;
    }

    /// Every entry put, in the order the calls were made.
    pub fn entries(&self) -> Vec<BusEntry> {
        lock(&self.entries).clone()
    }

    /// `PutEvents` calls that reached the bus (failed ones included).
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl EventBus for MemoryBus {
    async fn put(&self, entries: &[&BusEntry]) -> Result<(), DownstreamError> {
        let faults = lock(&self.faults).clone();
        if faults.stall {
            return std::future::pending().await;
        }
        self.calls.fetch_add(1, Ordering::SeqCst);
        if faults.put {
            return Err(DownstreamError::PutEvents {
                count: entries.len(),
                reason: "injected fault".into(),
            });
        }
        let refused = |e: &BusEntry| faults.fail_event_id.as_deref() == Some(e.event_id.as_str());
        let mut failed = 0;
        let mut put = lock(&self.entries);
        for e in entries {
            if refused(e) {
                failed += 1;
            } else {
                put.push((*e).clone());
            }
        }
        match failed {
            0 => Ok(()),
            count => Err(DownstreamError::PutEvents {
                count,
                reason: "InternalFailure (injected fault)".into(),
            }),
        }
    }
}
