//! One live delivery, from method, headers and body bytes to a status and a JSON answer
//! (docs/contract.md §1-§5, §8).
//!
//! Generic over the ports, so unit tests, fuzz targets and benches run it with the
//! in-memory adapters (`shared::memory`) and the function with S3, SNS, EventBridge and
//! SQS. Every failure is an answer here, never a panic or an `Err`.

use std::future::pending;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::Either;
use http::{HeaderMap, Method};
use serde_json::value::RawValue;
use shared::delivery::{Delivery, Route};
use shared::layout::event_component;
use shared::pipeline::{deliver, Announcers, Incomplete};
use shared::plan::{Destination, Plan};
use shared::ports::{EventBus, MessagePublisher, RedriveQueue, ResultStore};
use shared::signature::{SignatureError, Verifier, SIGNATURE_HEADER};
use time::OffsetDateTime;

use crate::answer::{LiveEnd, Rejection, Reply};
use crate::report::{elapsed_ms, Counts, Report};
use crate::secrets::Keys;

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

impl IncomingBody {
    /// The body of an HTTP event: its text, base64-decoded when the event says so. The
    /// text is taken, never copied.
    pub fn from_event(body: Option<String>, base64: bool) -> IncomingBody {
        use base64::Engine as _;
        match body {
            None => IncomingBody::Bytes(Bytes::new()),
            Some(text) if !base64 => IncomingBody::Bytes(Bytes::from(text.into_bytes())),
            Some(text) => match base64::engine::general_purpose::STANDARD.decode(text.as_bytes()) {
                Ok(bytes) => IncomingBody::Bytes(Bytes::from(bytes)),
                Err(_) => IncomingBody::BadBase64 {
                    decoded_len: text.len() / 4 * 3,
                },
            },
        }
    }
}

/// Automatic completion (`REDRIVE_QUEUE_URL`): where unfinished durable deliveries go,
/// and how long a request may work before it answers `202`.
#[derive(Debug)]
pub struct Redrive<Q> {
    /// The redrive queue.
    pub queue: Q,
    /// `ACK_DEADLINE_MS`, from the start of the request.
    pub ack_deadline: Duration,
}

/// The webhook: verifies, plans and fans out deliveries; completes queued ones.
#[derive(Debug)]
pub struct Handler<S, P, B, Q> {
    /// The secrets signatures are checked with.
    pub keys: Keys,
    /// Bucket and prefix.
    pub destination: Destination,
    /// `MAX_BODY_BYTES`
    pub max_body_bytes: usize,
    /// `MAX_CONCURRENCY`
    pub max_concurrency: usize,
    /// Where objects go (and the archive is read back from).
    pub store: S,
    /// Where a delivery is announced: the topics, and the event bus when configured.
    pub announcers: Announcers<P, B>,
    /// The redrive queue, when automatic completion is on.
    pub redrive: Option<Redrive<Q>>,
    /// `FunctionName` of the metrics lines (`AWS_LAMBDA_FUNCTION_NAME`).
    pub function_name: String,
}

impl<S: ResultStore, P: MessagePublisher, B: EventBus, Q: RedriveQueue> Handler<S, P, B, Q> {
    /// Handles one request; logs one summary line and one metrics line for it.
    pub async fn handle(&self, method: &Method, headers: &HeaderMap, body: IncomingBody) -> Reply {
        let started = Instant::now();
        let mut counts = Counts::default();
        let end = self
            .process(method, headers, body, started, &mut counts)
            .await
            .unwrap_or_else(LiveEnd::Rejected);
        let report = Report {
            counts,
            duration_ms: elapsed_ms(started),
            end,
        };
        report.record(&self.function_name);
        report.reply()
    }

    async fn process(
        &self,
        method: &Method,
        headers: &HeaderMap,
        body: IncomingBody,
        started: Instant,
        counts: &mut Counts,
    ) -> Result<LiveEnd, Rejection> {
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
        self.verify(headers, &delivery).await?;
        counts.authenticated = true;

        // Logged in its key-safe form: printable, and never more than the sender chose.
        counts.event = delivery.event_name().as_deref().map(|e| event_component(Some(e)));
        let mut plan = Plan::new(&body, &delivery, &self.destination, OffsetDateTime::now_utc());
        if self.announcers.bus.is_some() {
            // From this parse, rather than a second one once the objects are decided.
            plan.make_bus_entries(&delivery);
        }
        (counts.kind, counts.files) = match delivery.route() {
            Route::Files(kind, entries) => (Some(kind), entries.len()),
            Route::ArchiveOnly => (None, 0),
        };
        // `event` exactly as sent (its JSON text, valid by now), `null` when absent.
        let event = delivery
            .event_raw()
            .and_then(|raw| RawValue::from_string(String::from_utf8_lossy(raw.bytes()).into_owned()).ok())
            .unwrap_or_else(|| RawValue::NULL.to_owned());
        let deadline = match &self.redrive {
            Some(r) => Either::Left(tokio::time::sleep_until((started + r.ack_deadline).into())),
            None => Either::Right(pending()),
        };
        // The body goes to `deliver`, which lets go of it once the receipt time is known;
        // from there the plan's slices hold it, until its objects are stored.
        let fan_out = deliver(
            &mut plan,
            body,
            &self.destination,
            &self.store,
            &self.announcers,
            self.max_concurrency,
            deadline,
        );
        let stop = match fan_out.await {
            Ok(outcome) => {
                counts.completed(plan.files.len(), &outcome);
                return Ok(LiveEnd::Delivered {
                    event,
                    stored: plan.files.into_iter().map(|p| p.key).collect(),
                    archived: plan.archive.key,
                });
            }
            Err(e @ Incomplete::NotDurable(_)) => return Err(Rejection::Incomplete(e)),
            Err(Incomplete::Durable(stop)) => stop,
        };
        let Some(redrive) = &self.redrive else {
            return Err(Rejection::Incomplete(Incomplete::Durable(stop)));
        };
        let message = shared::redrive::message(&plan.archive.key, stop.reason());
        if let Err(error) = redrive.queue.send(message).await {
            return Err(Rejection::Queue { stop, error });
        }
        Ok(LiveEnd::Queued {
            event,
            archived: plan.archive.key,
            stop,
        })
    }

    /// Checks the signature header; on a mismatch, once more with freshly read secrets
    /// when they may have been rotated since they were loaded.
    async fn verify(&self, headers: &HeaderMap, delivery: &Delivery<'_>) -> Result<(), SignatureError> {
        let check = |verifier: &Verifier| {
            let values = headers.get_all(SIGNATURE_HEADER).iter().map(|v| v.as_bytes());
            verifier.verify_header(values, delivery.result_bytes())
        };
        match check(&self.keys.current()) {
            Err(SignatureError::InvalidSignature) => match self.keys.reread().await {
                Some(verifier) => check(&verifier),
                None => Err(SignatureError::InvalidSignature),
            },
            checked => checked,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::LiveEnd;
    use crate::report::{Class, End};
    use http::StatusCode;
    use serde_json::json;
    use shared::delivery::MalformedBody;
    use shared::layout::Prefix;
    use shared::memory::{Faults, Memory};
    use shared::pipeline::Stop;
    use shared::ports::bus::NoBus;
    use shared::ports::DownstreamError;
    use shared::signature::Secret;
    use std::sync::Arc;

    type Webhook = Handler<Arc<Memory>, Arc<Memory>, NoBus, Arc<Memory>>;

    const SECRET: &str = "E_AI_K_test-secret-not-real";

    /// A handler on one in-memory store/topics/queue, without a redrive queue.
    fn handler(memory: Memory) -> Webhook {
        let memory = Arc::new(memory);
        Handler {
            keys: Keys::fixed(Verifier::Secrets(Secret::parse_list(SECRET).unwrap())),
            destination: Destination {
                bucket: "b".into(),
                prefix: Prefix::default(),
            },
            max_body_bytes: 1000,
            max_concurrency: 4,
            store: Arc::clone(&memory),
            announcers: Announcers::topics(Arc::clone(&memory)),
            redrive: None,
            function_name: String::new(),
        }
    }

    /// The same, with the redrive queue on and `ack_deadline`.
    fn with_queue(memory: Memory, ack_deadline: Duration) -> Webhook {
        let mut h = handler(memory);
        h.redrive = Some(Redrive {
            queue: Arc::clone(&h.store),
            ack_deadline,
        });
        h
    }

    fn faults(f: impl FnOnce(&mut Faults)) -> Memory {
        let mut faults = Faults::default();
        f(&mut faults);
        Memory::with_faults(faults)
    }

    fn signed(result: &str) -> (HeaderMap, Bytes) {
        let body = format!(r#"{{"event":"extraction.confirmed","result":{result}}}"#);
        let mut headers = HeaderMap::new();
        let sig = Secret::new(SECRET).unwrap().sign(result.as_bytes());
        headers.insert("X-Webhook-Signature", sig.parse().unwrap());
        (headers, Bytes::from(body))
    }

    async fn call(h: &Webhook, method: Method, headers: &HeaderMap, body: Bytes) -> Reply {
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
        assert_eq!(h.store.objects().len(), 2);
        assert_eq!(h.store.messages().len(), 1);
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
        assert!(h.store.objects().is_empty());
    }

    #[test]
    fn a_rejection_answers_logs_and_counts_one_status() {
        let stop = || {
            Stop::Failed(DownstreamError::PutEvents {
                count: 3,
                reason: "down".into(),
            })
        };
        // (rejection, status, outcome metric, EventsFailed)
        let cases = [
            (Rejection::Method, 405, Class::BadRequest, 0),
            (Rejection::TooLarge(2), 413, Class::BadRequest, 0),
            (Rejection::BadBase64, 400, Class::BadRequest, 0),
            (
                Rejection::Malformed(MalformedBody::NotAnObject),
                400,
                Class::BadRequest,
                0,
            ),
            (
                Rejection::Signature(SignatureError::MissingSignature),
                401,
                Class::SignatureFailure,
                0,
            ),
            (
                Rejection::Signature(SignatureError::InvalidSignature),
                401,
                Class::SignatureFailure,
                0,
            ),
            (
                Rejection::Incomplete(Incomplete::NotDurable(DownstreamError::Store {
                    key: "k".into(),
                    reason: "down".into(),
                })),
                502,
                Class::DownstreamFailure,
                0,
            ),
            // A stopped delivery counts the bus entries that failed, queued or not.
            (
                Rejection::Incomplete(Incomplete::Durable(stop())),
                502,
                Class::DownstreamFailure,
                3,
            ),
            (
                Rejection::Queue {
                    stop: stop(),
                    error: DownstreamError::Queue { reason: "down".into() },
                },
                502,
                Class::DownstreamFailure,
                3,
            ),
        ];
        for (rejection, status, class, events_failed) in cases {
            let report = Report {
                counts: Counts::default(),
                duration_ms: 0,
                end: LiveEnd::Rejected(rejection),
            };
            let reply = report.reply();
            assert_eq!(
                (reply.status.as_u16(), report.end.class(), report.end.events_failed()),
                (status, class, events_failed),
                "{:?}",
                report.end
            );
            assert_eq!(body(&reply)["retryable"].as_bool(), (status == 502).then_some(true));
            assert_eq!(reply.allow, (status == 405).then_some("POST"));
        }
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
        assert!(h.store.objects().is_empty());
        assert!(h.store.messages().is_empty());
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
            faults(|f| f.put_containing = Some("/".into())),
            faults(|f| f.publish = true),
        ] {
            let h = handler(memory);
            let (headers, b) = signed(r#"[{"fileId":"f"}]"#);
            let reply = call(&h, Method::POST, &headers, b).await;
            // The fixed answer: the fault's own words ("injected fault") stay in the logs.
            assert_eq!(
                (reply.status, body(&reply)),
                (
                    StatusCode::BAD_GATEWAY,
                    json!({"error": "storage or notification failed; retry the delivery", "retryable": true})
                )
            );
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
        let objects = h.store.objects();
        assert_eq!(objects.len(), 1);
        assert!(objects.keys().all(|k| k.contains("/classification.done/")));
    }

    fn confirmed(files: usize) -> (HeaderMap, Bytes) {
        let entries: Vec<String> = (0..files).map(|i| format!(r#"{{"fileId":"f{i}"}}"#)).collect();
        signed(&format!("[{}]", entries.join(",")))
    }

    #[tokio::test]
    async fn with_a_queue_a_complete_delivery_is_still_200() {
        let h = with_queue(Memory::default(), Duration::from_secs(5));
        let (headers, b) = confirmed(2);
        let reply = call(&h, Method::POST, &headers, b).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert!(h.store.queued().is_empty());
    }

    #[tokio::test]
    async fn a_durable_delivery_that_fails_downstream_is_queued_and_answered_202() {
        for (memory, reason) in [
            (faults(|f| f.publish = true), "publish"),
            (faults(|f| f.put_containing = Some("/f1/".into())), "store"),
            (faults(|f| f.stall_put_containing = Some("/f0/".into())), "deadline"),
            (faults(|f| f.stall_publish = true), "deadline"),
        ] {
            let h = with_queue(memory, Duration::from_millis(20));
            let (headers, b) = confirmed(2);
            let reply = call(&h, Method::POST, &headers, b).await;
            assert_eq!(reply.status, StatusCode::ACCEPTED, "{reason}: {}", reply.body);
            let v = body(&reply);
            let archived = v["archived"].as_str().unwrap().to_owned();
            assert_eq!(
                v,
                json!({"event": "extraction.confirmed", "files": 2, "archived": archived, "queued": true})
            );
            assert!(h.store.objects().contains_key(&archived), "{reason}: not durable");
            let queued = h.store.queued();
            assert_eq!(queued.len(), 1, "{reason}");
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&queued[0]).unwrap(),
                json!({"archived": archived, "reason": reason})
            );
        }
    }

    #[tokio::test]
    async fn not_durable_or_not_queued_is_502_and_nothing_is_queued() {
        let h = with_queue(
            faults(|f| f.put_containing = Some("_deliveries/".into())),
            Duration::from_secs(5),
        );
        let (headers, b) = confirmed(1);
        let reply = call(&h, Method::POST, &headers, b).await;
        assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
        assert!(h.store.queued().is_empty());
        assert!(h.store.messages().is_empty());

        let h = with_queue(
            faults(|f| {
                f.publish = true;
                f.queue = true;
            }),
            Duration::from_secs(5),
        );
        let (headers, b) = confirmed(1);
        let reply = call(&h, Method::POST, &headers, b).await;
        assert_eq!(
            (reply.status, body(&reply)["retryable"].clone()),
            (StatusCode::BAD_GATEWAY, json!(true))
        );
    }

    #[tokio::test]
    async fn the_deadline_never_cuts_the_archive_copy_short() {
        // The archive write outlasts the deadline: no answer until it finishes, so a
        // stalled archive copy means no answer at all (the SDK's timeouts end it in AWS).
        let h = with_queue(
            faults(|f| f.stall_put_containing = Some("_deliveries/".into())),
            Duration::from_millis(1),
        );
        let (headers, b) = confirmed(1);
        let waited = tokio::time::timeout(Duration::from_millis(100), call(&h, Method::POST, &headers, b)).await;
        assert!(waited.is_err(), "answered before the archive copy was stored");
        assert!(h.store.queued().is_empty());
    }
}
