//! One delivery, from method, headers and body bytes to a status and a JSON answer.
//!
//! Generic over the ports, so unit tests run it with in-memory fakes and the function
//! with S3 and SNS. Every failure is an answer here, never a panic or an `Err`.

use std::time::Instant;

use bytes::Bytes;
use lambda_http::http::{HeaderMap, Method, StatusCode};
use serde_json::json;
use shared::delivery::{Delivery, EventKind, MalformedBody, Route};
use shared::keys::event_component;
use shared::pipeline::{execute, DownstreamError, EventPublisher, ResultStore};
use shared::plan::{Destination, Plan};
use shared::signature::{SignatureError, Verifier};
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::metrics::RequestMetrics;

/// The signature header (HTTP header names are case-insensitive).
pub const SIGNATURE_HEADER: &str = "x-webhook-signature";

/// At most this many signature candidates are tried (repeated headers, comma-joined values).
const MAX_SIGNATURE_CANDIDATES: usize = 8;

/// The body as it reached the function.
#[derive(Debug)]
pub enum IncomingBody {
    /// The bytes, base64 already decoded.
    Bytes(Bytes),
    /// Marked base64 but not decodable; `decoded_len` is what it would have decoded to.
    BadBase64 {
        /// The length the text would decode to, for the size check.
        decoded_len: usize,
    },
}

/// The function's answer, before it is shaped for API Gateway, a Function URL or ALB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// `Allow`, for a 405.
    pub allow: Option<&'static str>,
    /// The JSON body.
    pub body: String,
}

impl Reply {
    fn json(status: StatusCode, body: serde_json::Value) -> Reply {
        Reply {
            status,
            allow: None,
            body: body.to_string(),
        }
    }

    fn error(status: StatusCode, message: &str) -> Reply {
        Reply::json(status, json!({ "error": message }))
    }
}

/// What ended a request early, each with its fixed answer.
#[derive(Debug, thiserror::Error)]
enum Rejection {
    #[error("method not allowed")]
    Method,
    #[error("body of {0} bytes is over MAX_BODY_BYTES")]
    TooLarge(usize),
    #[error("body is marked base64 but does not decode")]
    BadBase64,
    #[error(transparent)]
    Malformed(#[from] MalformedBody),
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error(transparent)]
    Downstream(#[from] DownstreamError),
}

impl Rejection {
    fn reply(&self) -> Reply {
        match self {
            Rejection::Method => Reply {
                allow: Some("POST"),
                ..Reply::error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed: use POST")
            },
            Rejection::TooLarge(_) => Reply::error(StatusCode::PAYLOAD_TOO_LARGE, "body too large"),
            Rejection::BadBase64 => Reply::error(StatusCode::BAD_REQUEST, "body is not valid base64"),
            Rejection::Malformed(_) => Reply::error(StatusCode::BAD_REQUEST, "body is not a JSON object"),
            Rejection::Signature(SignatureError::MissingSignature) => {
                Reply::error(StatusCode::UNAUTHORIZED, "missing x-webhook-signature")
            }
            Rejection::Signature(_) => Reply::error(StatusCode::UNAUTHORIZED, "invalid signature"),
            Rejection::Downstream(_) => Reply::json(
                StatusCode::BAD_GATEWAY,
                json!({ "error": "storage or notification failed; retry the delivery", "retryable": true }),
            ),
        }
    }
}

/// The webhook: verifies, plans and fans out deliveries.
#[derive(Debug)]
pub struct Handler<S, P> {
    /// How signatures are checked.
    pub verifier: Verifier,
    /// Bucket and prefix.
    pub destination: Destination,
    /// `MAX_BODY_BYTES`
    pub max_body_bytes: usize,
    /// `MAX_CONCURRENCY`
    pub max_concurrency: usize,
    /// Where objects go.
    pub store: S,
    /// Where messages go.
    pub publisher: P,
}

/// The counts the summary log line, the metrics and the 200 body report.
#[derive(Debug, Default)]
struct Summary {
    event: Option<String>,
    kind: Option<EventKind>,
    authenticated: bool,
    files: usize,
    stored: usize,
    published: usize,
}

impl<S: ResultStore, P: EventPublisher> Handler<S, P> {
    /// Handles one request; logs one summary line for it.
    pub async fn handle(&self, method: &Method, headers: &HeaderMap, body: IncomingBody) -> Reply {
        let started = Instant::now();
        let mut summary = Summary::default();
        let outcome = self.process(method, headers, body, &mut summary).await;
        let reply = match &outcome {
            Ok(reply) => reply.clone(),
            Err(rejection) => {
                match rejection {
                    Rejection::Downstream(e) => warn!(error = %e, "delivery not completed; the sender should retry"),
                    other => warn!(reason = %other, "delivery rejected"),
                }
                rejection.reply()
            }
        };
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        info!(
            event = summary.event.as_deref(),
            files = summary.files,
            stored = summary.stored,
            published = summary.published,
            status = reply.status.as_u16(),
            "durationMs" = latency_ms,
            "request"
        );
        let rejection = outcome.as_ref().err();
        RequestMetrics {
            event: summary.kind,
            authenticated: summary.authenticated,
            files: summary.files,
            published: summary.published,
            signature_failure: matches!(rejection, Some(Rejection::Signature(_))),
            bad_request: matches!(
                rejection,
                Some(Rejection::Method | Rejection::TooLarge(_) | Rejection::BadBase64 | Rejection::Malformed(_))
            ),
            downstream_failure: matches!(rejection, Some(Rejection::Downstream(_))),
            latency_ms,
        }
        .emit();
        reply
    }

    async fn process(
        &self,
        method: &Method,
        headers: &HeaderMap,
        body: IncomingBody,
        summary: &mut Summary,
    ) -> Result<Reply, Rejection> {
        if method != Method::POST {
            return Err(Rejection::Method);
        }
        let body = match body {
            IncomingBody::Bytes(b) if b.len() > self.max_body_bytes => return Err(Rejection::TooLarge(b.len())),
            IncomingBody::Bytes(b) => b,
            IncomingBody::BadBase64 { decoded_len } if decoded_len > self.max_body_bytes => {
                return Err(Rejection::TooLarge(decoded_len))
            }
            IncomingBody::BadBase64 { .. } => return Err(Rejection::BadBase64),
        };
        let delivery = Delivery::parse(&body)?;
        self.verify(headers, &delivery)?;
        summary.authenticated = true;

        let event = delivery.event_name();
        // Logged in its key-safe form: printable, and never more than the sender chose.
        summary.event = event.as_deref().map(|e| event_component(Some(e)));
        let plan = Plan::new(&body, &delivery, &self.destination, OffsetDateTime::now_utc());
        (summary.kind, summary.files) = match delivery.route() {
            Route::Files(kind, entries) => (Some(kind), entries.len()),
            Route::ArchiveOnly => (None, 0),
        };
        let outcome = execute(&plan, &self.store, &self.publisher, self.max_concurrency).await?;
        summary.stored = plan.files.len();
        summary.published = outcome.published;
        // `event` exactly as sent (its JSON text, valid by now), `null` when absent.
        let event_as_sent = delivery
            .event_raw()
            .map_or("null".into(), |raw| String::from_utf8_lossy(raw.bytes()));
        let stored = json!(plan.files.iter().map(|p| p.key.as_str()).collect::<Vec<_>>());
        let body = format!(
            r#"{{"event":{event_as_sent},"files":{},"stored":{stored},"archived":{},"published":{}}}"#,
            summary.files,
            json!(plan.archive.key),
            outcome.published
        );
        Ok(Reply {
            status: StatusCode::OK,
            allow: None,
            body,
        })
    }

    /// Any one signature candidate that matches is enough.
    fn verify(&self, headers: &HeaderMap, delivery: &Delivery<'_>) -> Result<(), SignatureError> {
        let result = delivery.result_bytes();
        let candidates: Vec<&[u8]> = headers
            .get_all(SIGNATURE_HEADER)
            .iter()
            .flat_map(|v| v.as_bytes().split(|&b| b == b','))
            .take(MAX_SIGNATURE_CANDIDATES)
            .collect();
        if candidates.is_empty() {
            return self.verifier.verify(None, result);
        }
        let mut outcome = Err(SignatureError::InvalidSignature);
        for candidate in candidates {
            outcome = self.verifier.verify(Some(candidate), result);
            if outcome.is_ok() {
                break;
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::keys::Prefix;
    use shared::message::{Message, Topic};
    use shared::plan::Put;
    use shared::signature::Secret;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Memory {
        objects: Mutex<Vec<(String, Vec<u8>)>>,
        messages: Mutex<Vec<String>>,
        fail_store: bool,
        fail_publish: bool,
    }

    impl ResultStore for Memory {
        async fn put(&self, put: &Put) -> Result<(), DownstreamError> {
            if self.fail_store {
                return Err(DownstreamError::Store {
                    key: put.key.clone(),
                    reason: "down".into(),
                });
            }
            self.objects.lock().unwrap().push((put.key.clone(), put.body.to_vec()));
            Ok(())
        }
    }

    impl EventPublisher for Memory {
        async fn publish(&self, topic: Topic, batch: &[&Message]) -> Result<(), DownstreamError> {
            if self.fail_publish {
                return Err(DownstreamError::Publish {
                    topic,
                    count: batch.len(),
                    reason: "down".into(),
                });
            }
            self.messages
                .lock()
                .unwrap()
                .extend(batch.iter().map(|m| m.body.clone()));
            Ok(())
        }
    }

    const SECRET: &str = "E_AI_K_test-secret-not-real";

    fn handler(memory: Memory) -> Handler<Memory, Memory> {
        Handler {
            verifier: Verifier::Secrets(Secret::parse_list(SECRET).unwrap()),
            destination: Destination {
                bucket: "b".into(),
                prefix: Prefix::default(),
            },
            max_body_bytes: 1000,
            max_concurrency: 4,
            store: Memory {
                fail_store: memory.fail_store,
                ..Memory::default()
            },
            publisher: memory,
        }
    }

    fn signed(result: &str) -> (HeaderMap, Bytes) {
        let body = format!(r#"{{"event":"extraction.confirmed","result":{result}}}"#);
        let mut headers = HeaderMap::new();
        let sig = Secret::new(SECRET).unwrap().sign(result.as_bytes());
        headers.insert("X-Webhook-Signature", sig.parse().unwrap());
        (headers, Bytes::from(body))
    }

    async fn call(h: &Handler<Memory, Memory>, method: Method, headers: &HeaderMap, body: Bytes) -> Reply {
        h.handle(&method, headers, IncomingBody::Bytes(body)).await
    }

    fn body(reply: &Reply) -> serde_json::Value {
        serde_json::from_str(&reply.body).unwrap()
    }

    #[tokio::test]
    async fn stores_publishes_and_answers_200() {
        let h = handler(Memory::default());
        let (headers, b) = signed(r#"[{"extractionId":"e","batchId":"b","fileId":"f"}]"#);
        let reply = call(&h, Method::POST, &headers, b).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let v = body(&reply);
        assert_eq!(v["event"], "extraction.confirmed");
        assert_eq!(v["files"], 1);
        assert_eq!(v["stored"], json!(["extracta/e/b/f/confirmed.json"]));
        assert_eq!(v["published"], 1);
        assert!(v["archived"].as_str().unwrap().starts_with("extracta/_deliveries/"));
        assert_eq!(h.store.objects.lock().unwrap().len(), 2);
        assert_eq!(h.publisher.messages.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn checks_run_in_contract_order() {
        let h = handler(Memory::default());
        let (headers, _) = signed("[]");
        let none = HeaderMap::new();
        // 405 before anything else, with Allow.
        let r = call(&h, Method::GET, &none, Bytes::from_static(b"x")).await;
        assert_eq!((r.status, r.allow), (StatusCode::METHOD_NOT_ALLOWED, Some("POST")));
        // 413 before JSON: exactly the limit is accepted, one more byte is not.
        let big = |n: usize| Bytes::from(format!(r#"{{"result":[],"pad":"{}"}}"#, "x".repeat(n - 22)));
        assert_eq!(big(1000).len(), 1000);
        assert_eq!(
            call(&h, Method::POST, &none, big(1001)).await.status,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            call(&h, Method::POST, &none, big(1000)).await.status,
            StatusCode::UNAUTHORIZED
        );
        // 400 before the signature, whatever it is.
        for bad in [&b"[]"[..], b"{", b"", b"\"x\""] {
            let r = call(&h, Method::POST, &headers, Bytes::copy_from_slice(bad)).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST);
        }
        let r = h
            .handle(&Method::POST, &headers, IncomingBody::BadBase64 { decoded_len: 5 })
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let r = h
            .handle(&Method::POST, &headers, IncomingBody::BadBase64 { decoded_len: 5000 })
            .await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(h.store.objects.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn unauthenticated_writes_nothing() {
        let h = handler(Memory::default());
        let (mut headers, b) = signed(r#"[{"fileId":"f"}]"#);
        let reply = call(&h, Method::POST, &HeaderMap::new(), b.clone()).await;
        assert_eq!(body(&reply), json!({"error": "missing x-webhook-signature"}));
        headers.insert(SIGNATURE_HEADER, "AAAA".parse().unwrap());
        let reply = call(&h, Method::POST, &headers, b).await;
        assert_eq!(
            (reply.status, body(&reply)),
            (StatusCode::UNAUTHORIZED, json!({"error": "invalid signature"}))
        );
        // A body without `result` cannot be authentic.
        let (headers, _) = signed("[]");
        let reply = call(&h, Method::POST, &headers, Bytes::from_static(br#"{"event":"x"}"#)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert!(h.store.objects.lock().unwrap().is_empty());
        assert!(h.publisher.messages.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn any_of_several_signature_values_may_match() {
        let h = handler(Memory::default());
        let (good, b) = signed("[]");
        let mut headers = HeaderMap::new();
        headers.append(SIGNATURE_HEADER, "bm90IGl0".parse().unwrap());
        headers.append(SIGNATURE_HEADER, good[SIGNATURE_HEADER].clone());
        assert_eq!(call(&h, Method::POST, &headers, b.clone()).await.status, StatusCode::OK);
        let joined = format!("bm90IGl0, {}", good[SIGNATURE_HEADER].to_str().unwrap());
        let mut headers = HeaderMap::new();
        headers.insert(SIGNATURE_HEADER, joined.parse().unwrap());
        assert_eq!(call(&h, Method::POST, &headers, b).await.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn downstream_failures_are_retryable_502s() {
        for memory in [
            Memory {
                fail_store: true,
                ..Memory::default()
            },
            Memory {
                fail_publish: true,
                ..Memory::default()
            },
        ] {
            let h = handler(memory);
            let (headers, b) = signed(r#"[{"fileId":"f"}]"#);
            let reply = call(&h, Method::POST, &headers, b).await;
            assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
            assert_eq!(body(&reply)["retryable"], true);
            assert!(!reply.body.contains("down"), "details stay in the logs");
        }
    }

    #[tokio::test]
    async fn the_200_body_echoes_event_as_sent() {
        let h = handler(Memory::default());
        let sig = Secret::new(SECRET).unwrap().sign(b"[]");
        let mut headers = HeaderMap::new();
        headers.insert(SIGNATURE_HEADER, sig.parse().unwrap());
        for (body, event) in [
            (&br#"{"event":5,"result":[]}"#[..], json!(5)),
            (br#"{"result":[]}"#, json!(null)),
            (br#"{"event":"a\u0041","result":[]}"#, json!("aA")),
        ] {
            let reply = call(&h, Method::POST, &headers, Bytes::from_static(body)).await;
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(super::tests::body(&reply)["event"], event);
        }
    }

    #[tokio::test]
    async fn unknown_events_are_archived_with_200() {
        let h = handler(Memory::default());
        let sig = Secret::new(SECRET).unwrap().sign(b"[{}]");
        let mut headers = HeaderMap::new();
        headers.insert(SIGNATURE_HEADER, sig.parse().unwrap());
        let b = Bytes::from_static(br#"{"event":"classification.done","result":[{}]}"#);
        let reply = call(&h, Method::POST, &headers, b).await;
        assert_eq!(reply.status, StatusCode::OK);
        let v = body(&reply);
        assert_eq!(
            (v["files"].clone(), v["published"].clone(), v["stored"].clone()),
            (json!(0), json!(0), json!([]))
        );
        let objects = h.store.objects.lock().unwrap();
        assert_eq!(objects.len(), 1);
        assert!(objects[0].0.contains("/classification.done/"));
    }
}
