//! The function's real handler (`webhook::handler::Handler` on the in-memory ports) on
//! arbitrary requests: method, size, base64, JSON, signature, plan, writes. Only the
//! contract's statuses come out, nothing is written unless the answer is `200`, and a
//! `200` happens only when an independent HMAC oracle agrees the signature is genuine
//! (`webhook_fuzz::handle` checks the last two).
//!
//! Input: byte 0 flags (bit 0 base64 body, bit 1 not POST, bit 2 sign the result
//! correctly, bit 3 sign its JSON.stringify, bit 4 add the fuzzed header as a second
//! header value, bit 5 join it with a comma instead), byte 1 header length `n`, `n` header
//! bytes, then the body (for a base64 body: the body bytes are encoded, unless bit 6 asks
//! for them to be sent as the raw base64 text).
#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use shared::delivery::Delivery;
use webhook_fuzz::{handle, oracle_sign, Request, CONTRACT_STATUSES};

fuzz_target!(|data: &[u8]| {
    let [flags, n, rest @ ..] = data else { return };
    let n = usize::from(*n).min(rest.len());
    let (fuzzed_header, body) = rest.split_at(n);
    let base64 = flags & 1 != 0;
    let encoded;
    let body_text: &[u8] = if base64 && flags & 64 == 0 {
        encoded = STANDARD.encode(body);
        encoded.as_bytes()
    } else {
        body
    };
    // A genuine signature when asked for (so the fuzzer reaches the plan).
    let mut signatures: Vec<Vec<u8>> = Vec::new();
    if flags & 12 != 0 {
        if let Some(result) = Delivery::parse(body).ok().and_then(|d| d.result_bytes()) {
            let signed = if flags & 8 != 0 {
                shared::ecma::stringify(result).unwrap_or_else(|_| result.to_vec())
            } else {
                result.to_vec()
            };
            signatures.push(oracle_sign(&signed).into_bytes());
        }
    }
    if signatures.is_empty() || flags & 16 != 0 {
        signatures.push(fuzzed_header.to_vec());
    } else if flags & 32 != 0 {
        if let Some(first) = signatures.first_mut() {
            first.push(b',');
            first.extend_from_slice(fuzzed_header);
        }
    }
    let req = Request {
        post: flags & 2 == 0,
        signatures,
        body: body_text,
        base64,
    };
    if let Some(out) = handle(&req) {
        assert!(CONTRACT_STATUSES.contains(&out.status), "status {}", out.status);
    }
});
