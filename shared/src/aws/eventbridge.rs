//! The EventBridge adapter of the event bus port: one `PutEvents` call per batch, every
//! entry's result checked.

use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::primitives::{DateTime, DateTimeFormat};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::ports::bus::{BusEntry, EventBus, SOURCE};
use crate::ports::DownstreamError;

/// Puts entries on one EventBridge bus.
#[derive(Debug, Clone)]
pub struct EventBridgeBus {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridgeBus {
    /// A bus named by `bus` (its name or its ARN), reached through `client`.
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        EventBridgeBus {
            client,
            bus: bus.into(),
        }
    }
}

fn request_entry(bus: &str, e: &BusEntry) -> PutEventsRequestEntry {
    PutEventsRequestEntry::builder()
        .event_bus_name(bus)
        .source(SOURCE)
        .detail_type(&e.detail_type)
        .detail(&e.detail)
        // The receipt time was written by this crate (RFC 3339, UTC); should it not parse,
        // EventBridge stamps its own time rather than the entry being lost.
        .set_time(DateTime::from_str(&e.time, DateTimeFormat::DateTime).ok())
        .build()
}

impl EventBus for EventBridgeBus {
    async fn put(&self, entries: &[&BusEntry]) -> Result<(), DownstreamError> {
        let out = self
            .client
            .put_events()
            .set_entries(Some(entries.iter().map(|e| request_entry(&self.bus, e)).collect()))
            .send()
            .await
            .map_err(|e| DownstreamError::PutEvents {
                count: entries.len(),
                reason: DisplayErrorContext(&e).to_string(),
            })?;
        // `FailedEntryCount`, and each refused entry's error code for the log.
        let failed: Vec<&str> = out.entries().iter().filter_map(|r| r.error_code()).collect();
        let count = failed.len().max(usize::try_from(out.failed_entry_count()).unwrap_or(0));
        match count {
            0 => Ok(()),
            count => Err(DownstreamError::PutEvents {
                count,
                reason: if failed.is_empty() {
                    format!("FailedEntryCount {count}")
                } else {
                    failed.join(", ")
                },
            }),
        }
    }
}
