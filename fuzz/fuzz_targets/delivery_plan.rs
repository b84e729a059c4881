//! Arbitrary body bytes through parse, route, plan and signature checks.
//!
//! Input: byte 0 is the signature header's length `n`; the next `n` bytes are the header,
//! the rest is the body. Invariants: no panic, plan keys never hold a `.`/`..` component,
//! a stringified `result` is valid JSON and a fixed point, a random header never verifies.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use shared::delivery::Delivery;
use shared::plan::Plan;
use shared::signature::{Secret, Verifier};
use webhook_fuzz::{at, check_plan, check_stringify, destination, SECRET};

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.split_first() {
        Some((&n, rest)) if usize::from(n) <= rest.len() => rest.split_at(usize::from(n)),
        _ => (&[][..], data),
    };
    let body = Bytes::copy_from_slice(body);
    let Ok(delivery) = Delivery::parse(&body) else {
        return;
    };
    let plan = Plan::new(&body, &delivery, &destination(), at());
    check_plan(&body, &delivery, &plan);
    if let Some(result) = delivery.result_bytes() {
        check_stringify(result);
        let Ok(secrets) = Secret::parse_list(SECRET) else {
            return;
        };
        let verified = Verifier::Secrets(secrets).verify(Some(header), Some(result));
        if verified.is_ok() {
            // Only the genuine tag verifies: the fuzzer cannot forge an HMAC, so a pass
            // must be one of the two oracle signatures.
            let h = std::str::from_utf8(header).unwrap_or_default().trim();
            let mut wanted = vec![webhook_fuzz::oracle_sign(result)];
            if let Ok(c) = shared::ecma::stringify(result) {
                wanted.push(webhook_fuzz::oracle_sign(&c));
            }
            assert!(
                wanted.iter().any(|w| w == h || w.trim_end_matches('=') == h),
                "forged signature accepted"
            );
        }
    }
});
