//! What one live request or one redrive record came to, and the lines derived from it: the
//! warning (when it did not complete), the summary log line and the metrics line
//! (docs/contract.md §7). The reply to a live request (`answer::LiveEnd`) and a record's
//! place in `batchItemFailures` (`redrive`) are derived from the same [`Report`], so the
//! answer, the logs and the metrics cannot disagree.

use std::time::Instant;

use http::StatusCode;
use shared::delivery::EventKind;
use shared::pipeline::{Outcome, Stop};
use shared::ports::DownstreamError;
use tracing::info;

/// What a request or a redrive record came to: the counts common to both, and `end`, how
/// it ended (`answer::LiveEnd` for a live request, `redrive::RecordEnd` for a record).
#[derive(Debug)]
pub struct Report<E> {
    /// What the delivery held and what reached S3, SNS and the bus.
    pub counts: Counts,
    /// Wall time in milliseconds, from the request's (or the record's) start.
    pub duration_ms: u64,
    /// How it ended.
    pub end: E,
}

/// The counts of a [`Report`], filled in as the delivery goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// The event name in its key-safe form (docs/contract.md §3), for the log line: none
    /// before authentication, or when the delivery has no usable event.
    pub event: Option<String>,
    /// The routed event, when the delivery is one of the four.
    pub kind: Option<EventKind>,
    /// Authenticated (live), or read back from this deployment's archive (redrive).
    pub authenticated: bool,
    /// File entries routed.
    pub files: usize,
    /// The delivery's file objects once it completed (written, found current, or
    /// superseded: the length of the 200 body's `stored`); 0 until then.
    pub stored: usize,
    /// File objects superseded: their key held a newer delivery (docs/contract.md §9).
    pub superseded: usize,
    /// Messages published.
    pub published: usize,
    /// Entries put on the event bus (docs/contract.md §10).
    pub bus_entries: usize,
}

impl Counts {
    /// Counts a delivery of `files` file objects whose fan-out completed with `outcome`.
    pub fn completed(&mut self, files: usize, outcome: &Outcome) {
        self.stored = files;
        self.superseded = outcome.superseded;
        self.published = outcome.published;
        self.bus_entries = outcome.bus_entries;
    }
}

/// Which one of the outcome metrics a [`Report`] counts in (exactly one each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A live delivery answered 200.
    Delivered,
    /// A live delivery answered 202 and queued for completion.
    Queued,
    /// 401: missing or wrong signature.
    SignatureFailure,
    /// 400/405/413.
    BadRequest,
    /// A live 502: not durable, or not complete without a queue, or not queued.
    DownstreamFailure,
    /// A redrive record completed.
    Redriven,
    /// A redrive record listed in `batchItemFailures`.
    RedriveFailure,
}

impl Class {
    /// A live request (it has a latency), rather than a redrive record.
    pub fn is_live(self) -> bool {
        !matches!(self, Class::Redriven | Class::RedriveFailure)
    }
}

/// How a request or a record ended: what the log and metrics lines need to know of it.
pub trait End {
    /// The outcome metric it counts in.
    fn class(&self) -> Class;
    /// The log line's `status`: the HTTP status, or for a record 200 (completed) or 502.
    fn status(&self) -> StatusCode;
    /// EventBridge entries that failed to be put (a failed call counts all of its own).
    fn events_failed(&self) -> usize;
    /// The record's SQS `messageId`; none for a live request.
    fn message_id(&self) -> Option<&str>;
    /// Logs why it did not complete, if it did not (the line before the summary).
    fn warn(&self);
}

impl<E: End> Report<E> {
    /// Writes the report's lines: the warning if any, the summary log line, the metrics
    /// line (stamped now, with `function` as its `FunctionName`).
    pub fn record(&self, function: &str) {
        self.end.warn();
        self.log();
        let now = time::OffsetDateTime::now_utc();
        let ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        println!("{}", self.emf_line(function, ms));
    }

    /// The summary line: `request` for a live request; `redrive` for a record, which also
    /// carries `redrive: true` and its `messageId`.
    fn log(&self) {
        let c = &self.counts;
        let id = self.end.message_id();
        info!(
            event = c.event.as_deref(),
            files = c.files,
            stored = c.stored,
            superseded = c.superseded,
            published = c.published,
            events = c.bus_entries,
            status = self.end.status().as_u16(),
            "durationMs" = self.duration_ms,
            redrive = id.map(|_| true),
            "messageId" = id,
            "{}",
            if id.is_some() { "redrive" } else { "request" }
        );
    }
}

/// The entries a stopped delivery failed to put on the event bus (for `EventsFailed`).
pub(crate) fn events_failed(stop: &Stop) -> usize {
    match stop {
        Stop::Failed(DownstreamError::PutEvents { count, .. }) => *count,
        _ => 0,
    }
}

/// Milliseconds since `started`, for logs and metrics.
pub(crate) fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
