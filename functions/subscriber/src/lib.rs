//! An example subscriber of the results topics: an SQS-triggered Lambda function that
//! handles each `eventId` once, reads omitted results from S3 and reports partial batch
//! failures (`docs/consumers.md`).
//!
//! Per record: parse the message (raw or in the SNS envelope), claim its `eventId` with an
//! S3 conditional write (`If-None-Match: *` on `{DEDUP_PREFIX}{eventId}`: exactly one
//! claim succeeds), read the full entry (from S3 when `resultOmitted`), hand it to the
//! [`Sink`]. A failure releases the claim and lists the record in `batchItemFailures`, so
//! SQS delivers only that record again (and, after its receive limit, to a dead-letter
//! queue). On a FIFO queue the records after a failed one fail too, to keep the order.
#![forbid(unsafe_code)]

use std::future::Future;

use aws_lambda_events::sqs::SqsBatchResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use extracta_consumer::{FileEntry, LambdaEvent, Message, Record};
use tracing::{info, warn};

/// Where processed entries go: the subscriber's real work. It must be idempotent in
/// case a crash happens between the work and the end of the invocation.
pub trait Sink: Send + Sync {
    /// Processes one message's full file entry.
    fn deliver(&self, message: &Message, entry: &FileEntry) -> impl Future<Output = Result<(), String>> + Send;
}

/// The binary's sink: one log line per processed entry.
#[derive(Debug, Default)]
pub struct LogSink;

impl Sink for LogSink {
    async fn deliver(&self, message: &Message, entry: &FileEntry) -> Result<(), String> {
        info!(
            event_id = %message.event_id,
            event = message.event.name(),
            file_id = %message.file_id,
            source = ?entry.source,
            bytes = entry.json.get().len(),
            "processed"
        );
        Ok(())
    }
}

/// What happened to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Handed to the sink.
    Processed,
    /// Its `eventId` was claimed before: skipped.
    Duplicate,
}

/// Why a record failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Not a message of the webhook function.
    #[error(transparent)]
    Message(#[from] extracta_consumer::Error),
    /// The de-duplication marker could not be written or released.
    #[error("de-duplication marker: {0}")]
    Marker(String),
    /// The sink refused the entry.
    #[error("sink: {0}")]
    Sink(String),
}

/// The subscriber: an S3 client, where the markers go, and the sink.
#[derive(Debug)]
pub struct Subscriber<K> {
    /// Reads omitted entries, writes markers.
    pub s3: aws_sdk_s3::Client,
    /// `DEDUP_BUCKET`: the markers' bucket (one of the subscriber's own).
    pub dedup_bucket: String,
    /// `DEDUP_PREFIX`, default `seen/`.
    pub dedup_prefix: String,
    /// The work.
    pub sink: K,
}

impl<K: Sink> Subscriber<K> {
    /// Handles one SQS event; lists the records to deliver again (the answer to an SQS
    /// event with `ReportBatchItemFailures`).
    pub async fn handle(&self, event: &LambdaEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        let mut fifo_failed = false;
        for record in &event.records {
            let id = record.sqs_message_id().unwrap_or_default().to_owned();
            let fifo = matches!(record, Record::Sqs(r) if r.attributes.contains_key("MessageGroupId"));
            if fifo && fifo_failed {
                response.add_failure(id);
                continue;
            }
            match self.process(record).await {
                Ok(outcome) => info!(message_id = %id, ?outcome, "record"),
                Err(e) => {
                    warn!(message_id = %id, error = %e, "record failed; SQS delivers it again");
                    fifo_failed |= fifo;
                    response.add_failure(id);
                }
            }
        }
        response
    }

    /// One record: claim, read, deliver; the claim is released when a later step fails.
    pub async fn process(&self, record: &Record) -> Result<Outcome, RecordError> {
        let message = record.receive()?.message;
        if !self.claim(&message.event_id).await? {
            return Ok(Outcome::Duplicate);
        }
        let done = async {
            let entry = message.full_entry(&self.s3).await?;
            self.sink.deliver(&message, &entry).await.map_err(RecordError::Sink)
        }
        .await;
        match done {
            Ok(()) => Ok(Outcome::Processed),
            Err(e) => {
                self.release(&message.event_id).await?;
                Err(e)
            }
        }
    }

    fn marker(&self, event_id: &str) -> String {
        format!("{}{event_id}", self.dedup_prefix)
    }

    /// True when this call claimed the `eventId`, false when it was claimed before.
    async fn claim(&self, event_id: &str) -> Result<bool, RecordError> {
        let put = self
            .s3
            .put_object()
            .bucket(&self.dedup_bucket)
            .key(self.marker(event_id))
            .if_none_match("*")
            .body(Vec::new().into())
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("PreconditionFailed") => Ok(false),
            Err(e) => Err(RecordError::Marker(DisplayErrorContext(&e).to_string())),
        }
    }

    async fn release(&self, event_id: &str) -> Result<(), RecordError> {
        self.s3
            .delete_object()
            .bucket(&self.dedup_bucket)
            .key(self.marker(event_id))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| RecordError::Marker(DisplayErrorContext(&e).to_string()))
    }
}
