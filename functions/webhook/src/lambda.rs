//! One Lambda invocation: an HTTP event from API Gateway, a Function URL or an ALB (a live
//! delivery), or an SQS batch from the redrive queue (docs/contract.md §8), told apart by
//! the event's `Records` member, and the answer in the shape its source expects.

use std::borrow::Cow;
use std::panic::AssertUnwindSafe;

use futures::FutureExt as _;
use lambda_http::aws_lambda_events::alb::AlbTargetGroupRequest;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use lambda_http::request::LambdaRequest;
use serde::de::{Error as _, IgnoredAny};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use shared::json::{Kind, Scanner};
use shared::ports::{EventBus, MessagePublisher, RedriveQueue, ResultStore};
use tracing::error;

use crate::answer::Reply;
use crate::handler::Handler;
use crate::http::{incoming, outgoing, LambdaReply};
use crate::redrive::{all_failed, SqsBatch};
use aws_lambda_events::sqs::SqsBatchResponse;

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
        let Some(probe) = Probe::read(text) else {
            // Leave odd events (a non-object `requestContext`, repeated members) to the
            // general path below, which decodes them as `lambda_http` does.
            return decode_general(text).map_err(D::Error::custom);
        };
        if probe.records {
            return serde_json::from_str(text)
                .map(Invocation::Redrive)
                .map_err(D::Error::custom);
        }
        decode_http(text, &probe).map_err(D::Error::custom)
    }
}

/// The members that tell the event shapes apart.
#[derive(Default)]
struct Probe<'a> {
    /// The body's JSON text, borrowed from the event (any value but `null`; every HTTP
    /// shape has it at the top).
    body: Option<&'a str>,
    /// Only an SQS batch has `Records` (`null` counts as absent, as it always has).
    records: bool,
    /// `httpMethod`, with any value: required by the REST (v1) and ALB shapes.
    http_method: bool,
    /// An object `requestContext`: whether it has `httpMethod` (required by REST v1) and
    /// `http` (required by the HTTP API v2 and Function URL shape).
    context: Option<(bool, bool)>,
}

impl<'a> Probe<'a> {
    /// Reads the event's members in one pass that copies nothing, with the scanner that
    /// reads bodies (serde_json has validated the event already; a second serde_json pass
    /// over a 1 MiB event cost more than this one). `None` for an event the general path
    /// must answer: not an object, a repeated member, a `requestContext` that is neither an
    /// object nor `null` (what a derived `Deserialize` of these members would refuse).
    fn read(text: &'a str) -> Option<Self> {
        let mut sc = Scanner::over_str(text);
        if sc.peek().ok()? != Kind::Object {
            return None;
        }
        let mut probe = Probe::default();
        let mut seen = [false; 4];
        let mut once = |i: usize| !std::mem::replace(&mut seen[i], true);
        let mut members = sc.object_start().ok()?;
        while let Some(key) = sc.next_key(&mut members).ok()? {
            let kind = sc.peek().ok()?;
            if key.is_string("body") && once(0) {
                let start = sc.position();
                sc.skip_value(1).ok()?;
                probe.body = (kind != Kind::Null).then_some(text.get(start..sc.position())?);
            } else if key.is_string("Records") && once(1) {
                sc.skip_value(1).ok()?;
                probe.records = kind != Kind::Null;
            } else if key.is_string("httpMethod") && once(2) {
                sc.skip_value(1).ok()?;
                probe.http_method = true;
            } else if key.is_string("requestContext") && once(3) {
                probe.context = match kind {
                    Kind::Null => {
                        sc.skip_value(1).ok()?;
                        None
                    }
                    Kind::Object => Some(Self::read_context(&mut sc)?),
                    _ => return None,
                };
            } else if ["body", "Records", "httpMethod", "requestContext"]
                .iter()
                .any(|k| key.is_string(k))
            {
                return None; // repeated
            } else {
                sc.skip_value(1).ok()?;
            }
        }
        sc.finish().ok()?;
        Some(probe)
    }

    /// Inside `requestContext`: whether `httpMethod` and `http` are there.
    fn read_context(sc: &mut Scanner<'_>) -> Option<(bool, bool)> {
        let (mut method, mut http) = (false, false);
        let mut members = sc.object_start().ok()?;
        while let Some(key) = sc.next_key(&mut members).ok()? {
            let seen = if key.is_string("httpMethod") {
                std::mem::replace(&mut method, true)
            } else if key.is_string("http") {
                std::mem::replace(&mut http, true)
            } else {
                false
            };
            if seen {
                return None; // repeated
            }
            sc.skip_value(2).ok()?;
        }
        Some((method, http))
    }
}

/// Decodes an HTTP event straight into its shape. lambda_http's `LambdaRequest` copies the
/// event and tries REST v1, then HTTP v2, then ALB, each a full parse of the event and
/// its body; this tries them in the same order, so the first that parses is the same one,
/// but skips a shape when a member it requires is missing (it would fail).
///
/// A string body is decoded once, straight into its own buffer, and the shape is decoded
/// from the event with `"body":null` in its place: serde_json would unescape it into a
/// scratch buffer (grown by doubling) and copy that again, so a 6 MiB body stood in
/// memory three times beside the event (docs/performance.md, figure 5).
fn decode_http(text: &str, probe: &Probe<'_>) -> Result<Invocation, serde_json::Error> {
    let (event, mut body) = match probe.body.and_then(|token| split_body(text, token)) {
        Some((rest, body)) => (Cow::Owned(rest), Some(body)),
        None => (Cow::Borrowed(text), None),
    };
    let http = |r: LambdaRequest| Ok(Invocation::Http(Box::new(r)));
    let (context_method, context_http) = probe.context.unwrap_or_default();
    if probe.http_method && context_method {
        if let Ok(mut r) = serde_json::from_str::<ApiGatewayProxyRequest>(&event) {
            r.body = body.take().or(r.body);
            return http(LambdaRequest::ApiGatewayV1(r));
        }
    }
    if context_http {
        if let Ok(mut r) = serde_json::from_str::<ApiGatewayV2httpRequest>(&event) {
            r.body = body.take().or(r.body);
            return http(LambdaRequest::ApiGatewayV2(r));
        }
    }
    if probe.http_method && probe.context.is_some() {
        if let Ok(mut r) = serde_json::from_str::<AlbTargetGroupRequest>(&event) {
            r.body = body.take().or(r.body);
            return http(LambdaRequest::Alb(r));
        }
    }
    decode_general(text)
}

/// For a string `body` (`token`, borrowed from `text`) that is valid Unicode: the event
/// with `null` in the body's place, and the body's value. `None` leaves the event as it is
/// (another kind of value, or a lone surrogate, which the general path's shapes reject).
fn split_body(text: &str, token: &str) -> Option<(String, String)> {
    let start = (token.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    let end = start.checked_add(token.len()).filter(|&end| end <= text.len())?;
    // The event is validated (serde_json, then the probe): only the token's value is read.
    let body = shared::json::str_of_valid_token(token)?.into_owned();
    let mut rest = String::with_capacity(text.len() - token.len() + 4);
    rest.push_str(text.get(..start)?);
    rest.push_str("null");
    rest.push_str(text.get(end..)?);
    Some((rest, body))
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
    Redrive(SqsBatchResponse),
}

/// Handles one invocation. A panic becomes a `500` for an HTTP request and a failure of
/// every record for a batch, never a runtime error.
pub async fn serve<S: ResultStore, P: MessagePublisher, B: EventBus, Q: RedriveQueue>(
    handler: &Handler<S, P, B, Q>,
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
                Answer::Redrive(all_failed(&batch))
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
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lambda-events");
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
            format!(r#"{{{v1},"httpMethod":"POST","httpMethod":"GET","requestContext":{{"httpMethod":"POST"}}}}"#),
            format!(r#"{{{v2},"requestContext":[]}}"#),
            format!(r#"{{{v2},"requestContext":{{"httpMethod":"PUT","httpMethod":"PUT",{http}}}}}"#),
            // member names written with escapes are the same members
            r#"{"b\u006fdy":"{}","version":"2.0","rawPath":"/w","requestC\u006fntext":{"htt\u0070":{}}}"#.to_owned(),
            format!(r#"{{{v1},"http\u004dethod":"POST","requestContext":{{"httpMethod":"POST"}}}}"#),
        ] {
            texts.push(edge);
        }
        // bodies of every kind, decoded on their own (split_body) or left in place
        let shapes = [
            format!(r#"{{"version":"2.0","rawPath":"/w","requestContext":{{{http}}},"body":BODY}}"#),
            r#"{"path":"/w","httpMethod":"POST","requestContext":{"httpMethod":"POST"},"body":BODY}"#.to_owned(),
            r#"{"path":"/w","httpMethod":"POST","requestContext":{"elb":{}},"body":BODY,"isBase64Encoded":false}"#
                .to_owned(),
        ];
        for body in [
            r#""{\"a\":\"x\\y\/\b\f\n\r\t\u00e9\ud83d\ude00\u0000\"}""#,
            r#""plain""#,
            r#""""#,
            r#""\ud800 lone""#,
            r#""\udc00""#,
            "null",
            "5",
            r#"{"a":1}"#,
            r#""a","body":"b""#,
            r#""\u00""#,
        ] {
            for shape in &shapes {
                texts.push(shape.replace("BODY", body));
            }
        }
        // THEN each one becomes the request `lambda_http` decodes, or fails where it fails
        for text in &texts {
            assert_eq!(as_decoded(text), as_lambda_http_decodes(text), "{text}");
        }
    }
}
