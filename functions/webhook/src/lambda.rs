//! One Lambda invocation: an HTTP event from API Gateway, a Function URL or an ALB (a live
//! delivery), or an SQS batch from the redrive queue (docs/contract.md §8), told apart by
//! the event's `Records` member, and the answer in the shape its source expects.

use std::panic::AssertUnwindSafe;

use futures::FutureExt as _;
use lambda_http::aws_lambda_events::alb::AlbTargetGroupRequest;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
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
        // Borrowed from the event's own buffer, not copied: lambda_runtime decodes with
        // `serde_json::from_slice`, which lends it (a reader or a `Value` cannot).
        let raw = <&'de RawValue>::deserialize(deserializer)?;
        let text = raw.get();
        let probe = match serde_json::from_str::<Probe>(text) {
            Ok(probe) => probe,
            // Leave odd events (a non-object `requestContext`, repeated members) to the
            // general path below, which answers them as before.
            Err(_) => return decode_general(text).map_err(D::Error::custom),
        };
        if probe.records.is_some() {
            return serde_json::from_str(text)
                .map(Invocation::Redrive)
                .map_err(D::Error::custom);
        }
        decode_http(text, &probe).map_err(D::Error::custom)
    }
}

/// Whether a member is there (with any value, `null` included).
#[derive(Default)]
struct Present(bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| Present(true))
    }
}

/// The members that tell the event shapes apart, found in one pass that copies nothing.
#[derive(Deserialize)]
struct Probe {
    /// Only an SQS batch has it (`null` counts as absent, as it always has).
    #[serde(rename = "Records")]
    records: Option<IgnoredAny>,
    /// Required by the REST (v1) and ALB shapes.
    #[serde(rename = "httpMethod", default)]
    http_method: Present,
    #[serde(rename = "requestContext", default)]
    context: Option<ContextProbe>,
}

#[derive(Deserialize)]
struct ContextProbe {
    /// Required by the REST (v1) shape.
    #[serde(rename = "httpMethod", default)]
    http_method: Present,
    /// Required by the HTTP API (v2) and Function URL shape.
    #[serde(default)]
    http: Present,
}

/// Decodes an HTTP event straight into its shape. lambda_http's `LambdaRequest` copies the
/// event and tries REST v1, then HTTP v2, then ALB, each a full parse of the event and
/// its body; this tries them in the same order, so the first that parses is the same one,
/// but skips a shape when a member it requires is missing (it would fail).
fn decode_http(text: &str, probe: &Probe) -> Result<Invocation, serde_json::Error> {
    let http = |r: LambdaRequest| Ok(Invocation::Http(Box::new(r)));
    let (context_method, context_http) = probe
        .context
        .as_ref()
        .map_or((false, false), |c| (c.http_method.0, c.http.0));
    if probe.http_method.0 && context_method {
        if let Ok(r) = serde_json::from_str::<ApiGatewayProxyRequest>(text) {
            return http(LambdaRequest::ApiGatewayV1(r));
        }
    }
    if context_http {
        if let Ok(r) = serde_json::from_str::<ApiGatewayV2httpRequest>(text) {
            return http(LambdaRequest::ApiGatewayV2(r));
        }
    }
    if probe.http_method.0 && probe.context.is_some() {
        if let Ok(r) = serde_json::from_str::<AlbTargetGroupRequest>(text) {
            return http(LambdaRequest::Alb(r));
        }
    }
    decode_general(text)
}

/// The general path: an SQS batch when the event has `Records`, else whatever
/// lambda_http makes of it (and its error).
fn decode_general(text: &str) -> Result<Invocation, serde_json::Error> {
    /// Only whether the event has a `Records` member, which no HTTP event has.
    #[derive(Deserialize)]
    struct RecordsProbe {
        #[serde(rename = "Records")]
        records: Option<IgnoredAny>,
    }
    let probe: RecordsProbe = serde_json::from_str(text)?;
    if probe.records.is_some() {
        serde_json::from_str(text).map(Invocation::Redrive)
    } else {
        serde_json::from_str(text).map(|r| Invocation::Http(Box::new(r)))
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

    /// The shape lambda_http's own decoding picks, or its error.
    fn as_lambda_http_decodes(text: &str) -> String {
        match serde_json::from_str::<LambdaRequest>(text) {
            Ok(r) => format!("{r:?}"),
            Err(e) => format!("error: {e}"),
        }
    }

    fn as_decoded(text: &str) -> String {
        match serde_json::from_str::<Invocation>(text) {
            Ok(Invocation::Http(r)) => format!("{r:?}"),
            Ok(Invocation::Redrive(b)) => panic!("an HTTP event decoded as a batch: {b:?}"),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn http_events_decode_exactly_as_lambda_http_decodes_them() {
        // GIVEN every sample event of the project, and events made to sit between shapes
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");
        let mut texts = Vec::new();
        for source in ["http-api", "rest-api", "function-url", "alb"] {
            for entry in std::fs::read_dir(dir.join(source)).unwrap() {
                texts.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
            }
        }
        assert!(texts.len() >= 20, "sample events not found in {}", dir.display());
        let v2 = r#""version":"2.0","rawPath":"/w","headers":{"x-a":"1"},"body":"{\"a\":1}","isBase64Encoded":false"#;
        let http =
            r#""http":{"method":"POST","path":"/w","protocol":"HTTP/1.1","sourceIp":"192.0.2.1","userAgent":"t"}"#;
        let v1 = r#""path":"/w","multiValueHeaders":{"X-A":["1","2"]},"body":"e30=","isBase64Encoded":true"#;
        for edge in [
            // v2 with a top-level httpMethod (a custom authorizer v1 payload looks so)
            format!(r#"{{{v2},"httpMethod":"GET","requestContext":{{{http}}}}}"#),
            // v2 whose context also has an httpMethod (REST needs one at the top too)
            format!(r#"{{{v2},"requestContext":{{"httpMethod":"PUT",{http}}}}}"#),
            // REST v1 whose context has both httpMethod and http: REST is tried first
            format!(r#"{{{v1},"httpMethod":"POST","requestContext":{{"httpMethod":"POST",{http}}}}}"#),
            // REST v1 with null members, an ALB event with no elb, with a null context
            format!(r#"{{{v1},"httpMethod":null,"requestContext":{{"httpMethod":null}}}}"#),
            format!(r#"{{{v1},"httpMethod":"POST","requestContext":{{}}}}"#),
            format!(r#"{{{v1},"httpMethod":"POST","requestContext":null}}"#),
            // no shape at all, odd contexts, repeated members
            r#"{"body":"x"}"#.to_owned(),
            r#"{"httpMethod":"POST","requestContext":"x"}"#.to_owned(),
            format!(r#"{{{v2},"requestContext":{{{http}}},"requestContext":{{{http}}}}}"#),
            format!(r#"{{{v2},"requestContext":{{{http},"http":null}}}}"#),
            format!(r#"{{{v2},"Records":null,"requestContext":{{{http}}}}}"#),
        ] {
            texts.push(edge);
        }
        // THEN each one becomes the same request as before, or fails as before
        for text in &texts {
            assert_eq!(as_decoded(text), as_lambda_http_decodes(text), "{text}");
        }
    }
}
