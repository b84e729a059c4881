//! A batch of records from the redrive queue, each delivery completed from the archive
//! (docs/contract.md §8), with partial batch failures so that SQS retries only the
//! records that did not complete.

use std::time::Instant;

use aws_lambda_events::sqs::SqsBatchResponse;
use serde::Deserialize;
use shared::layout::NONE;
use shared::pipeline::Incomplete;
use shared::ports::{EventBus, MessagePublisher, RedriveQueue, ResultStore};
use shared::redrive::{archived_key, complete, NotCompleted, RedriveError};
use tracing::warn;

use crate::handler::Handler;
use crate::report::{elapsed_ms, events_failed, Class, Counts, End, Report};

/// An SQS event, as Lambda's event source mapping sends it (the fields used here).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SqsBatch {
    /// The records.
    #[serde(rename = "Records")]
    pub records: Vec<SqsRecord>,
}

/// One SQS message.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SqsRecord {
    /// The SQS message id, which names the record in `batchItemFailures`.
    #[serde(rename = "messageId")]
    pub message_id: String,
    /// The message body.
    #[serde(default)]
    pub body: String,
}

/// How a redrive record ended: its `messageId`, and why it did not complete if it did not.
#[derive(Debug)]
pub struct RecordEnd {
    /// The SQS message id, which names the record in `batchItemFailures`.
    pub message_id: String,
    /// `None` when the delivery is complete.
    pub error: Option<RedriveError>,
}

impl End for RecordEnd {
    fn class(&self) -> Class {
        match self.error {
            None => Class::Redriven,
            Some(_) => Class::RedriveFailure,
        }
    }

    fn status(&self) -> http::StatusCode {
        match self.error {
            None => http::StatusCode::OK,
            Some(_) => http::StatusCode::BAD_GATEWAY,
        }
    }

    fn events_failed(&self) -> usize {
        match &self.error {
            Some(RedriveError::Incomplete(Incomplete::Durable(stop))) => events_failed(stop),
            _ => 0,
        }
    }

    fn message_id(&self) -> Option<&str> {
        Some(&self.message_id)
    }

    fn warn(&self) {
        if let Some(e) = &self.error {
            let refused = matches!(e, RedriveError::NotARequest | RedriveError::NotAnArchiveKey);
            warn!(
                "messageId" = %self.message_id,
                error = %e,
                refused,
                "redrive record not completed; SQS will retry it, then move it to the dead-letter queue"
            );
        }
    }
}

/// Every record of `batch` listed as failed (when the batch could not be handled).
pub fn all_failed(batch: &SqsBatch) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.set_failures(batch.records.iter().map(|r| r.message_id.clone()));
    response
}

impl<S: ResultStore, P: MessagePublisher, B: EventBus, Q: RedriveQueue> Handler<S, P, B, Q> {
    /// Completes each record's delivery, one record after the other; logs one summary
    /// line and one metrics line per record.
    pub async fn redrive(&self, batch: &SqsBatch) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for record in &batch.records {
            let report = self.redrive_record(record).await;
            report.record(&self.function_name);
            if report.end.error.is_some() {
                response.add_failure(report.end.message_id);
            }
        }
        response
    }

    /// One record: refused unless it names an archive key of this deployment (nothing
    /// else is read), then read, planned again and completed.
    async fn redrive_record(&self, record: &SqsRecord) -> Report<RecordEnd> {
        let started = Instant::now();
        let done = match archived_key(record.body.as_bytes()) {
            Ok(key) => {
                complete(
                    &key,
                    &self.destination,
                    &self.store,
                    &self.announcers,
                    self.max_concurrency,
                )
                .await
            }
            Err(e) => Err(NotCompleted::from(e)),
        };
        let (replan, outcome, error) = match done {
            Ok(c) => (Some(c.replan), Some(c.outcome), None),
            Err(NotCompleted { replan, error }) => (replan, None, Some(error)),
        };
        let mut counts = Counts::default();
        if let Some(r) = &replan {
            counts.event = Some(r.event.clone()).filter(|e| e != NONE);
            counts.kind = r.kind;
            counts.authenticated = true;
            counts.files = r.files;
        }
        if let (Some(r), Some(o)) = (&replan, &outcome) {
            counts.completed(r.plan.files.len(), o);
        }
        Report {
            counts,
            duration_ms: elapsed_ms(started),
            end: RecordEnd {
                message_id: record.message_id.clone(),
                error,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::{IncomingBody, Redrive};
    use crate::secrets::Keys;
    use bytes::Bytes;
    use http::{HeaderMap, Method, StatusCode};
    use shared::layout::Prefix;
    use shared::memory::{Faults, Memory};
    use shared::pipeline::Announcers;
    use shared::plan::Destination;
    use shared::ports::bus::NoBus;
    use shared::signature::{Secret, Verifier, SIGNATURE_HEADER};
    use std::sync::Arc;
    use std::time::Duration;

    type Webhook = Handler<Arc<Memory>, Arc<Memory>, NoBus, Arc<Memory>>;

    const SECRET: &str = "E_AI_K_test-secret-not-real";

    fn handler(memory: &Arc<Memory>) -> Webhook {
        Handler {
            keys: Keys::fixed(Verifier::Secrets(Secret::parse_list(SECRET).unwrap())),
            destination: Destination {
                bucket: "b".into(),
                prefix: Prefix::default(),
            },
            max_body_bytes: 100_000,
            max_concurrency: 4,
            store: Arc::clone(memory),
            announcers: Announcers::topics(Arc::clone(memory)),
            redrive: Some(Redrive {
                queue: Arc::clone(memory),
                ack_deadline: Duration::from_secs(5),
            }),
            function_name: String::new(),
        }
    }

    /// A signed confirmed delivery of two files, sent live to `h`.
    async fn send(h: &Webhook) -> (StatusCode, serde_json::Value) {
        let result = r#"[{"extractionId":"e","fileId":"a"},{"extractionId":"e","fileId":"b"}]"#;
        let body = format!(r#"{{"event":"extraction.confirmed","result":{result}}}"#);
        let mut headers = HeaderMap::new();
        let sig = Secret::new(SECRET).unwrap().sign(result.as_bytes());
        headers.insert(SIGNATURE_HEADER, sig.parse().unwrap());
        let reply = h
            .handle(&Method::POST, &headers, IncomingBody::Bytes(Bytes::from(body)))
            .await;
        (reply.status, serde_json::from_str(&reply.body).unwrap())
    }

    fn batch(bodies: &[&str]) -> SqsBatch {
        SqsBatch {
            records: bodies
                .iter()
                .enumerate()
                .map(|(i, b)| SqsRecord {
                    message_id: format!("m{i}"),
                    body: (*b).to_owned(),
                })
                .collect(),
        }
    }

    fn failed(r: &SqsBatchResponse) -> Vec<&str> {
        r.batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    #[tokio::test]
    async fn a_queued_delivery_is_completed_exactly_as_a_live_200_would_have() {
        // GIVEN a live delivery that completed (the control) and one whose SNS was down,
        let control = Arc::new(Memory::default());
        let (status, _) = send(&handler(&control)).await;
        assert_eq!(status, StatusCode::OK);
        let memory = Arc::new(Memory::with_faults(Faults {
            publish: true,
            ..Faults::default()
        }));
        let h = handler(&memory);
        let (status, answer) = send(&h).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        // WHEN SNS is back and the queued message is redriven,
        memory.set_faults(Faults::default());
        let queued = memory.queued();
        let response = h.redrive(&batch(&[&queued[0]])).await;
        // THEN nothing fails, and objects and messages are those of the live 200.
        assert!(failed(&response).is_empty(), "{response:?}");
        let ids = |m: &Memory| m.messages().into_iter().map(|(_, m)| m.event_id).collect::<Vec<_>>();
        assert_eq!(ids(&memory), ids(&control));
        let bodies = |m: &Memory| m.messages().into_iter().map(|(_, m)| m.body).collect::<Vec<_>>();
        // Every message carries the receipt time of the live request: the archive copy's.
        let archived = &memory.objects()[answer["archived"].as_str().unwrap()];
        let times: Vec<serde_json::Value> = bodies(&memory)
            .iter()
            .map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap()["receivedAt"].clone())
            .collect();
        assert_eq!(times, vec![serde_json::json!(archived.received_at); 2]);
        assert_eq!(
            memory.objects().keys().collect::<Vec<_>>(),
            control.objects().keys().collect::<Vec<_>>(),
            "same keys"
        );
    }

    #[tokio::test]
    async fn a_poison_batch_lists_exactly_the_bad_records_and_writes_nothing_for_them() {
        let memory = Arc::new(Memory::with_faults(Faults {
            publish: true,
            ..Faults::default()
        }));
        let h = handler(&memory);
        send(&h).await;
        memory.set_faults(Faults::default());
        let good = memory.queued()[0].clone();
        let archived: serde_json::Value = serde_json::from_str(&good).unwrap();
        let key = archived["archived"].as_str().unwrap();
        let missing = key.replace("/extraction.confirmed/", "/extraction.failed/");
        let outside = "extracta/e/_none/a/confirmed.json";
        let puts = memory.puts();
        let response = h
            .redrive(&batch(&[
                "not json",
                r#"{"archived":42}"#,
                &format!(r#"{{"archived":"{outside}"}}"#),
                &format!(r#"{{"archived":"{missing}"}}"#),
                &good,
            ]))
            .await;
        assert_eq!(failed(&response), ["m0", "m1", "m2", "m3"]);
        // Only the good record did anything: its two messages. Its file objects already
        // held this very delivery, so nothing was written again (docs/contract.md §9).
        assert_eq!(memory.puts(), puts);
        assert_eq!(memory.messages().len(), 2);
        // An empty batch, and an all-good one, answer an empty list.
        assert!(failed(&h.redrive(&SqsBatch::default()).await).is_empty());
        assert!(failed(&h.redrive(&batch(&[&good])).await).is_empty());
    }

    #[tokio::test]
    async fn a_record_that_fails_transiently_is_listed_then_completes_on_retry() {
        let memory = Arc::new(Memory::with_faults(Faults {
            publish: true,
            ..Faults::default()
        }));
        let h = handler(&memory);
        send(&h).await;
        let message = memory.queued()[0].clone();
        assert_eq!(failed(&h.redrive(&batch(&[&message])).await), ["m0"]);
        memory.set_faults(Faults::default());
        assert!(failed(&h.redrive(&batch(&[&message])).await).is_empty());
        assert_eq!(memory.messages().len(), 2);
    }

    #[test]
    fn batches_parse_and_answer_as_lambda_expects() {
        let batch: SqsBatch = serde_json::from_str(
            r#"{"Records":[{"messageId":"id-1","receiptHandle":"h","body":"{}","attributes":{},
                "messageAttributes":{},"md5OfBody":"x","eventSource":"aws:sqs",
                "eventSourceARN":"arn:aws:sqs:us-east-1:123456789012:q","awsRegion":"us-east-1"}]}"#,
        )
        .unwrap();
        assert_eq!(batch.records[0].message_id, "id-1");
        let answer = serde_json::to_value(all_failed(&batch)).unwrap();
        assert_eq!(
            answer,
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "id-1"}]})
        );
    }
}
