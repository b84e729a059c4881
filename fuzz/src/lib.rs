//! Invariants the fuzz targets check, and the function's real handler
//! (`webhook::handler::Handler`) set up on the in-memory ports (`shared::memory`).
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue, Method};
use sha2::Sha256;
use shared::delivery::{Delivery, Route};
use shared::layout::Prefix;
use shared::memory::Memory;
use shared::pipeline::Announcers;
use shared::plan::{Destination, Plan};
use shared::ports::bus::NoBus;
use shared::ports::Put;
use shared::signature::{Secret, Verifier, MAX_SIGNATURE_CANDIDATES, SIGNATURE_HEADER};
use time::OffsetDateTime;
use webhook::handler::{Handler, IncomingBody, Redrive};
use webhook::secrets::Keys;

/// The secret every handler-path run is configured with.
pub const SECRET: &str = "E_AI_K_fuzz-secret-not-real";
/// The HMAC key Extracta derives from [`SECRET`].
pub const KEY: &[u8] = b"fuzz-secret-not-real";
/// `MAX_BODY_BYTES` of the fuzzed handler: small, so the fuzzer reaches the 413 path.
pub const MAX_BODY_BYTES: usize = 4096;
/// The statuses the contract allows when storage and messaging work.
pub const CONTRACT_STATUSES: [u16; 5] = [200, 400, 401, 405, 413];

/// A fixed receipt time: 2026-03-07T21:59:59.500Z.
pub fn at() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(1_772_920_799_500_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The destination every plan is made for.
pub fn destination() -> Destination {
    Destination {
        bucket: "fuzz-bucket".into(),
        prefix: Prefix::new("extracta"),
    }
}

/// Base64 HMAC-SHA256 of `data` under [`KEY`], computed with the `hmac` crate (not the
/// code under test).
pub fn oracle_sign(data: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(KEY) else {
        unreachable!("HMAC takes any key length")
    };
    mac.update(data);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks a plan: keys start with the prefix, no key component is `.` or `..` (so no
/// `/../` or `/./`), the archive holds the body, every file object is a slice of the
/// body, one per routed entry, and messages only for confirmed/failed.
pub fn check_plan(body: &Bytes, delivery: &Delivery<'_>, plan: &Plan) {
    let prefix = destination().prefix;
    for put in std::iter::once(&plan.archive).chain(&plan.files) {
        let key = put.key.as_str();
        let rest = key
            .strip_prefix(prefix.as_str())
            .unwrap_or_else(|| panic!("key without the prefix: {key:?}"));
        for component in rest.split('/') {
            assert!(
                !component.is_empty() && component != "." && component != "..",
                "unsafe key component {component:?} in {key:?}"
            );
        }
        assert!(
            key.bytes().all(|b| b.is_ascii_graphic()),
            "key with a byte outside printable ASCII: {key:?}"
        );
        assert!(key.len() <= 6 * body.len() + 256, "key longer than the body allows");
    }
    assert_eq!(
        &plan.archive.body[..],
        &body[..],
        "the archive copy is the body verbatim"
    );
    match delivery.route() {
        Route::Files(kind, entries) => {
            assert_eq!(plan.files.len(), entries.len(), "one object per entry");
            for (put, entry) in plan.files.iter().zip(entries) {
                assert_eq!(&put.body[..], entry.raw, "file object is the entry as sent");
                assert!(
                    shared::json::validate(&put.body).is_ok(),
                    "file object is not one JSON value"
                );
                assert!(put.key.ends_with(kind.object_name()));
            }
            let publishes = matches!(kind.name(), "extraction.confirmed" | "extraction.failed");
            assert_eq!(plan.messages.len(), if publishes { entries.len() } else { 0 });
        }
        Route::ArchiveOnly => {
            assert!(plan.files.is_empty() && plan.messages.is_empty());
        }
    }
}

/// Checks `shared::ecma::stringify` on `input`: when it succeeds, the output is one
/// valid JSON text, bounded in size, and a fixed point (stringify of it is itself).
pub fn check_stringify(input: &[u8]) -> Option<Vec<u8>> {
    let out = shared::ecma::stringify(input).ok()?;
    assert!(
        out.len() <= 8 * input.len() + 32,
        "stringify grew {} bytes into {}",
        input.len(),
        out.len()
    );
    assert!(
        shared::json::validate(&out).is_ok(),
        "stringify output is not valid JSON: {:?}",
        String::from_utf8_lossy(&out)
    );
    assert!(std::str::from_utf8(&out).is_ok(), "stringify output is not UTF-8");
    let again = shared::ecma::stringify(&out).unwrap_or_else(|e| panic!("stringify of its own output failed: {e}"));
    assert_eq!(again, out, "stringify is not a fixed point");
    Some(out)
}

/// One request as an HTTP event carries it.
#[derive(Debug)]
pub struct Request<'a> {
    /// POST or not.
    pub post: bool,
    /// Values of the `x-webhook-signature` header (repeated headers).
    pub signatures: Vec<Vec<u8>>,
    /// The event's `body` text.
    pub body: &'a [u8],
    /// `isBase64Encoded`.
    pub base64: bool,
}

/// What the handler answered, and what it wrote.
#[derive(Debug)]
pub struct Outcome {
    /// The HTTP status.
    pub status: u16,
    /// The in-memory bucket, topics and queue it used.
    pub memory: Arc<Memory>,
}

/// The function's handler with the fixed secret, on a fresh in-memory bucket and topics,
/// without a redrive queue.
pub fn handler() -> Handler<Arc<Memory>, Arc<Memory>, NoBus, Arc<Memory>> {
    let Ok(secrets) = Secret::parse_list(SECRET) else {
        unreachable!("the fixed secret is valid")
    };
    let memory = Arc::new(Memory::default());
    Handler {
        keys: Keys::fixed(Verifier::Secrets(secrets)),
        destination: destination(),
        max_body_bytes: MAX_BODY_BYTES,
        max_concurrency: 4,
        store: Arc::clone(&memory),
        announcers: Announcers::topics(memory),
        redrive: None::<Redrive<Arc<Memory>>>,
        function_name: String::new(),
    }
}

/// Runs `req` through the real handler. `None` when no HTTP event can carry it (a plain
/// body is a JSON string in the event, so it is UTF-8; header values are visible ASCII).
/// Checks on the way: a `200` only when the independent oracle agrees that a signature
/// is genuine, nothing written on any other answer, and every stored key safe.
pub fn handle(req: &Request<'_>) -> Option<Outcome> {
    let text = String::from_utf8(req.body.to_vec()).ok()?;
    let mut headers = HeaderMap::new();
    for value in &req.signatures {
        headers.append(SIGNATURE_HEADER, HeaderValue::from_bytes(value).ok()?);
    }
    let method = if req.post { Method::POST } else { Method::GET };
    let handler = handler();
    let reply = futures::executor::block_on(handler.handle(
        &method,
        &headers,
        IncomingBody::from_event(Some(text), req.base64),
    ));
    let status = reply.status.as_u16();
    let memory = Arc::clone(&handler.store);
    let objects = memory.objects();
    if status != 200 {
        assert!(
            objects.is_empty() && memory.messages().is_empty(),
            "answered {status} and still wrote"
        );
        return Some(Outcome { status, memory });
    }
    // The oracle: some candidate the handler may try is the independent HMAC of the
    // result bytes (rule a) or of their JSON.stringify (rule b). Anything else reaching a
    // 200 is a forgery.
    let body = if req.base64 {
        STANDARD
            .decode(req.body)
            .unwrap_or_else(|_| panic!("200 for a body that is not base64"))
    } else {
        req.body.to_vec()
    };
    let body = Bytes::from(body);
    let delivery = Delivery::parse(&body).unwrap_or_else(|_| panic!("200 for a body that is not a JSON object"));
    let Some(result) = delivery.result_bytes() else {
        panic!("200 for a body without a result member")
    };
    let mut wanted = vec![oracle_sign(result)];
    if let Ok(compact) = shared::ecma::stringify(result) {
        wanted.push(oracle_sign(&compact));
    }
    let genuine = req
        .signatures
        .iter()
        .flat_map(|v| v.split(|&b| b == b','))
        .take(MAX_SIGNATURE_CANDIDATES)
        .any(|c| {
            let c = c.trim_ascii();
            let c = c.strip_suffix(b"=").unwrap_or(c);
            wanted.iter().any(|w| {
                let w = w.trim_end_matches('=');
                c == w.as_bytes() && STANDARD_NO_PAD.decode(c).is_ok_and(|t| t.len() == 32)
            })
        });
    assert!(genuine, "the handler accepted a signature the oracle rejects");
    // What it wrote is exactly the plan of that body (at the handler's own receipt time).
    let stored_at = objects
        .values()
        .next()
        .and_then(|o| OffsetDateTime::parse(&o.received_at, &time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| panic!("200 without any stored object"));
    let plan = Plan::new(&body, &delivery, &destination(), stored_at);
    check_plan(&body, &delivery, &plan);
    let planned: Vec<&str> = std::iter::once(&plan.archive)
        .chain(&plan.files)
        .map(|p| p.key.as_str())
        .collect();
    assert!(
        planned.iter().all(|k| objects.contains_key(*k)) && objects.len() <= planned.len(),
        "stored {:?}, planned {planned:?}",
        objects.keys().collect::<Vec<_>>()
    );
    // Entries of one delivery with the same key share its receipt time, so the greatest
    // eventId is the newest (docs/contract.md §9): the object holds it and its message is
    // published. An entry the write found older is superseded and gets no message, so
    // there are at most as many messages as planned, each a planned one.
    let mut newest: BTreeMap<&str, &Put> = BTreeMap::new();
    for put in &plan.files {
        let held = newest.entry(put.key.as_str()).or_insert(put);
        if put.event_id > held.event_id {
            *held = put;
        }
    }
    let published: BTreeSet<String> = memory.messages().into_iter().map(|(_, m)| m.event_id).collect();
    for (key, put) in &newest {
        assert_eq!(objects[*key].body, put.body, "{key} holds the newest of its entries");
        assert!(
            plan.messages.is_empty() || published.contains(&put.event_id),
            "the newest entry of {key} got no message"
        );
    }
    let planned_ids: BTreeSet<&str> = plan.messages.iter().map(|m| m.event_id.as_str()).collect();
    assert!(
        published.iter().all(|id| planned_ids.contains(id.as_str())),
        "a message that was not planned"
    );
    assert!(
        memory.messages().len() <= plan.messages.len(),
        "more messages than planned"
    );
    assert_eq!(memory.published_before_stored(), 0, "a message before its object");
    Some(Outcome { status, memory })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] =
        br#"{"event":"extraction.confirmed","result":[ {"extractionId":"e","batchId":"b","fileId":"../f"} ]}"#;
    const RESULT: &[u8] = br#"[ {"extractionId":"e","batchId":"b","fileId":"../f"} ]"#;

    fn request(signatures: Vec<Vec<u8>>) -> Request<'static> {
        Request {
            post: true,
            signatures,
            body: BODY,
            base64: false,
        }
    }

    #[test]
    fn the_handler_reaches_a_200_with_either_genuine_signature() {
        let compact = shared::ecma::stringify(RESULT).unwrap();
        for signed in [RESULT.to_vec(), compact] {
            let out = handle(&request(vec![oracle_sign(&signed).into_bytes()])).unwrap();
            assert_eq!(out.status, 200);
            let objects = out.memory.objects();
            assert!(objects.contains_key("extracta/e/b/..%2Ff/confirmed.json"));
            assert_eq!(out.memory.messages().len(), 1);
        }
    }

    #[test]
    fn the_handler_answers_each_rejection() {
        let good = oracle_sign(RESULT).into_bytes();
        let status = |r: &Request<'_>| handle(r).map(|o| o.status);
        assert_eq!(status(&request(vec![])), Some(401));
        assert_eq!(status(&request(vec![b"AAAA".to_vec()])), Some(401));
        let mut other = request(vec![good.clone()]);
        other.post = false;
        assert_eq!(status(&other), Some(405));
        let mut bad64 = request(vec![good.clone()]);
        bad64.base64 = true;
        assert_eq!(status(&bad64), Some(400));
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        let mut large = request(vec![good.clone()]);
        large.body = &big;
        assert_eq!(status(&large), Some(413));
        let mut not_utf8 = request(vec![good]);
        not_utf8.body = b"\xff";
        assert_eq!(status(&not_utf8), None, "no event carries it");
        assert!(check_stringify(b"[1e21, -0, \"\\u00e9\"]").is_some());
    }
}
