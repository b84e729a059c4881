//! One Lambda invocation: an HTTP event from API Gateway, a Function URL or an ALB (a live
//! delivery), or an SQS batch from the redrive queue (docs/contract.md §8), told apart by
//! the event's `Records` member, and the answer in the shape its source expects.

use std::panic::AssertUnwindSafe;

use futures::FutureExt as _;
use lambda_http::request::LambdaRequest;
use serde::de::{Error as _, IgnoredAny};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use shared::pipeline::{EventPublisher, RedriveQueue, ResultStore};
use tracing::error;

use crate::handler::{Handler, Reply};
use crate::http::{incoming, outgoing, LambdaReply};
use crate::redrive::{BatchResponse, SqsBatch};

/// What the runtime handed the function.
#[derive(Debug)]
pub enum Invocation {
    /// An HTTP request (a live delivery).
    Http(Box<LambdaRequest>),
    /// Records from the redrive queue.
    Redrive(SqsBatch),
}

impl<'de> Deserialize<'de> for Invocation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Only whether the event has a `Records` member, which no HTTP event has.
        #[derive(Deserialize)]
        struct Probe {
            #[serde(rename = "Records")]
            records: Option<IgnoredAny>,
        }
        let raw = <Box<RawValue>>::deserialize(deserializer)?;
        let probe: Probe = serde_json::from_str(raw.get()).map_err(D::Error::custom)?;
        if probe.records.is_some() {
            serde_json::from_str(raw.get()).map(Invocation::Redrive)
        } else {
            serde_json::from_str(raw.get()).map(|r| Invocation::Http(Box::new(r)))
        }
        .map_err(D::Error::custom)
    }
}

/// The function's answer to an invocation.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// To an HTTP event.
    Http(Box<LambdaReply>),
    /// To an SQS batch.
    Redrive(BatchResponse),
}

/// Handles one invocation. A panic becomes a `500` for an HTTP request and a failure of
/// every record for a batch, never a runtime error.
pub async fn serve<S: ResultStore, P: EventPublisher, Q: RedriveQueue>(
    handler: &Handler<S, P, Q>,
    invocation: Invocation,
) -> Answer {
    match invocation {
        Invocation::Http(request) => {
            let incoming = incoming(*request);
            let origin = incoming.origin;
            let reply = AssertUnwindSafe(handler.handle(&incoming.method, &incoming.headers, incoming.body))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| {
                    error!("the handler panicked; answering 500");
                    Reply::internal_error()
                });
            Answer::Http(Box::new(outgoing(origin, reply)))
        }
        Invocation::Redrive(batch) => AssertUnwindSafe(handler.redrive(&batch))
            .catch_unwind()
            .await
            .map(Answer::Redrive)
            .unwrap_or_else(|_| {
                error!("the redrive panicked; every record of the batch is reported failed");
                Answer::Redrive(BatchResponse::all_failed(&batch))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_events_and_sqs_batches_are_told_apart() {
        let sqs = r#"{"Records":[{"messageId":"m","body":"{}","eventSource":"aws:sqs"}]}"#;
        assert!(matches!(serde_json::from_str(sqs).unwrap(), Invocation::Redrive(b) if b.records.len() == 1));
        let v2 = r#"{"version":"2.0","routeKey":"POST /webhook","rawPath":"/webhook","rawQueryString":"",
            "headers":{},"requestContext":{"accountId":"1","apiId":"a","domainName":"d","domainPrefix":"d",
            "http":{"method":"POST","path":"/webhook","protocol":"HTTP/1.1","sourceIp":"192.0.2.1","userAgent":"t"},
            "requestId":"r","routeKey":"POST /webhook","stage":"$default","time":"t","timeEpoch":0},
            "body":"{\"Records\":[]}","isBase64Encoded":false}"#;
        assert!(matches!(serde_json::from_str(v2).unwrap(), Invocation::Http(_)));
        assert!(serde_json::from_str::<Invocation>(r#"{"Records":"x"}"#).is_err());
    }
}
