//! Invariants the fuzz targets check, and a mirror of the webhook handler's request path
//! (method, size, base64, JSON, signature, plan) built from `shared` alone.
//!
//! The function crate is a binary, so its `Handler` cannot be linked here; this mirror
//! follows `functions/webhook/src/handler.rs` step by step (keep the two in step).
#![forbid(unsafe_code)]

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use shared::delivery::{Delivery, Route};
use shared::keys::Prefix;
use shared::plan::{Destination, Plan};
use shared::signature::{Secret, Verifier};
use time::OffsetDateTime;

/// The secret every handler-path run is configured with.
pub const SECRET: &str = "E_AI_K_fuzz-secret-not-real";
/// The HMAC key Extracta derives from [`SECRET`].
pub const KEY: &[u8] = b"fuzz-secret-not-real";
/// `MAX_BODY_BYTES` for the mirror: small, so the fuzzer reaches the 413 path.
pub const MAX_BODY_BYTES: usize = 4096;
/// Signature candidates tried per request (as the handler's `MAX_SIGNATURE_CANDIDATES`).
pub const MAX_SIGNATURE_CANDIDATES: usize = 8;
/// The statuses the contract allows the request path to answer before any AWS call.
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

/// One request as the function sees it after lambda_http.
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

/// The answer of the mirrored request path, and the plan when one was made.
#[derive(Debug)]
pub struct Outcome {
    /// The HTTP status.
    pub status: u16,
    /// The plan (only on the way to 200: the handler writes nothing without one).
    pub plan: Option<Plan>,
}

/// The handler's checks in the contract's order, then the plan.
pub fn handle(req: &Request<'_>) -> Outcome {
    let reject = |status| Outcome { status, plan: None };
    if !req.post {
        return reject(405);
    }
    let body = if req.base64 {
        match STANDARD.decode(req.body) {
            Ok(b) => Bytes::from(b),
            Err(_) if req.body.len() / 4 * 3 > MAX_BODY_BYTES => return reject(413),
            Err(_) => return reject(400),
        }
    } else {
        // lambda_http hands over a String: a plain body is UTF-8 text.
        if std::str::from_utf8(req.body).is_err() {
            return reject(400);
        }
        Bytes::copy_from_slice(req.body)
    };
    if body.len() > MAX_BODY_BYTES {
        return reject(413);
    }
    let Ok(delivery) = Delivery::parse(&body) else {
        return reject(400);
    };
    let Ok(secrets) = Secret::parse_list(SECRET) else {
        unreachable!("the fixed secret is valid")
    };
    let verifier = Verifier::Secrets(secrets);
    let result = delivery.result_bytes();
    let candidates: Vec<&[u8]> = req
        .signatures
        .iter()
        .flat_map(|v| v.split(|&b| b == b','))
        .take(MAX_SIGNATURE_CANDIDATES)
        .collect();
    let verified = if candidates.is_empty() {
        verifier.verify(None, result).is_ok()
    } else {
        candidates.iter().any(|c| verifier.verify(Some(c), result).is_ok())
    };
    if !verified {
        return reject(401);
    }
    // The oracle: some candidate is the independent HMAC of the result bytes (rule a) or
    // of their JSON.stringify (rule b). Anything else reaching a plan is a forgery.
    let Some(result) = result else {
        panic!("verified a body without a result member")
    };
    let mut wanted = vec![oracle_sign(result)];
    if let Ok(compact) = shared::ecma::stringify(result) {
        wanted.push(oracle_sign(&compact));
    }
    let genuine = candidates.iter().any(|c| {
        let c = c.trim_ascii();
        let c = c.strip_suffix(b"=").unwrap_or(c);
        wanted.iter().any(|w| {
            let w = w.trim_end_matches('=');
            c == w.as_bytes() && STANDARD_NO_PAD.decode(c).is_ok_and(|t| t.len() == 32)
        })
    });
    assert!(genuine, "verify accepted a signature the oracle rejects");
    let plan = Plan::new(&body, &delivery, &destination(), at());
    check_plan(&body, &delivery, &plan);
    Outcome {
        status: 200,
        plan: Some(plan),
    }
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
    fn the_mirror_reaches_a_plan_with_either_genuine_signature() {
        let compact = shared::ecma::stringify(RESULT).unwrap();
        for signed in [RESULT.to_vec(), compact] {
            let out = handle(&request(vec![oracle_sign(&signed).into_bytes()]));
            assert_eq!(out.status, 200);
            let plan = out.plan.unwrap();
            assert_eq!(plan.files[0].key, "extracta/e/b/..%2Ff/confirmed.json");
            assert_eq!(plan.messages.len(), 1);
        }
    }

    #[test]
    fn the_mirror_answers_each_rejection() {
        let good = oracle_sign(RESULT).into_bytes();
        assert_eq!(handle(&request(vec![])).status, 401);
        assert_eq!(handle(&request(vec![b"AAAA".to_vec()])).status, 401);
        let mut other = request(vec![good.clone()]);
        other.post = false;
        assert_eq!(handle(&other).status, 405);
        let mut bad64 = request(vec![good.clone()]);
        bad64.base64 = true;
        assert_eq!(handle(&bad64).status, 400);
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        let mut large = request(vec![good]);
        large.body = &big;
        assert_eq!(handle(&large).status, 413);
        assert!(check_stringify(b"[1e21, -0, \"\\u00e9\"]").is_some());
    }
}
