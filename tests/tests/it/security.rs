//! Security checks the contract tests (tests/tests/it/contract) do not already make: replayed
//! signatures, repeated and look-alike signature headers, oversized headers, deeply
//! nested JSON, and hostile ids. The rest (forged, truncated, wrong-secret signatures,
//! header case, 413, traversal ids, refusal to start without a secret) lives in
//! contract/signature.rs, requests.rs, routing.rs and startup.rs.
//!
//! Build the binaries first: `scripts/build-binaries`.
#![allow(clippy::unwrap_used)]

use e2e::requests::{entry_text, sign, Source, SIGNATURE_HEADER};
use e2e::{Delivery, Function, Request, Stack, SECRET};

struct Fx {
    stack: Stack,
    f: Function,
}

async fn fx() -> Fx {
    let stack = Stack::new().await;
    let f = Function::start(stack.config()).await;
    Fx { stack, f }
}

impl Fx {
    async fn assert_nothing_written(&self) {
        assert_eq!(self.stack.all_keys().await, Vec::<String>::new(), "S3 must stay empty");
        assert!(self.stack.confirmed_messages().await.is_empty(), "no confirmed message");
        assert!(self.stack.failed_messages().await.is_empty(), "no failed message");
    }

    /// The process is still alive and serving: a good delivery is accepted.
    async fn assert_still_serving(&self) {
        assert!(self.f.exit_status().is_none(), "the process died:\n{}", self.f.output());
        let d = Delivery::new("classification.probe");
        self.f.http(&d.request()).await.assert_status(200);
    }
}

fn confirmed(file: &str, data: &str) -> Delivery {
    Delivery::new("extraction.confirmed").raw_entry(&entry_text("ext-1", "batch-1", file, "confirmed", data))
}

#[tokio::test]
async fn a_signature_replayed_with_another_result_is_401() {
    let fx = fx().await;
    let genuine = confirmed("file-1", r#"{"total":10}"#);
    let sig = genuine.signature(SECRET);
    for forged in [
        confirmed("file-1", r#"{"total":1000}"#),
        confirmed("file-2", r#"{"total":10}"#),
        // The genuine entry plus one more.
        confirmed("file-1", r#"{"total":10}"#).raw_entry(&entry_text("ext-1", "batch-1", "x", "confirmed", "{}")),
        // The genuine result, but the body is a different delivery's.
        Delivery::new("extraction.confirmed").raw_result("[]"),
    ] {
        let rsp = fx.f.http(&forged.unsigned().signature(&sig)).await;
        rsp.assert_error(401);
    }
    fx.assert_nothing_written().await;
}

/// The signature covers `result` only (docs/contract.md §2, Extracta's scheme): a captured
/// delivery's `result` replayed under another `event` is authentic. Pinned here so that
/// a change to the scheme is a visible decision; docs/reliability.md says what it means.
#[tokio::test]
async fn the_signature_covers_result_not_event() {
    let fx = fx().await;
    let genuine = confirmed("file-1", r#"{"total":10}"#);
    let sig = genuine.signature(SECRET);
    let relabelled = Delivery::new("extraction.failed").raw_entry(&genuine.entries()[0]);
    assert_eq!(relabelled.result_text(), genuine.result_text());
    fx.f.http(&relabelled.unsigned().signature(&sig))
        .await
        .assert_status(200);
}

#[tokio::test]
async fn repeated_signature_headers_any_genuine_one_is_enough_and_tries_are_bounded() {
    let fx = fx().await;
    let d = confirmed("file-1", "{}");
    let good = d.signature(SECRET);
    let bad = sign("E_AI_K_attacker-secret-not-real", d.result_text().as_bytes());
    for source in [Source::HttpApiV2, Source::RestV1, Source::FunctionUrl, Source::Alb] {
        let base = d.unsigned().source(source);
        for (values, want) in [
            (vec![&bad, &good], 200),
            (vec![&good, &bad], 200),
            (vec![&bad, &bad], 401),
        ] {
            let mut req = base.clone();
            for v in values {
                req = req.header(SIGNATURE_HEADER, v);
            }
            let rsp = fx.f.http(&req).await;
            assert_eq!(rsp.status, want, "{source:?}: {}", rsp.raw);
        }
    }
    // Guessing is bounded: at most 8 candidates are tried per request, so a genuine tag
    // hidden behind 8 wrong ones is not looked at.
    let mut req = d.unsigned();
    for _ in 0..8 {
        req = req.header(SIGNATURE_HEADER, &bad);
    }
    let rsp = fx.f.http(&req.header(SIGNATURE_HEADER, &good)).await;
    rsp.assert_error(401);
    let joined = format!("{}, {good}", [bad.as_str(); 8].join(", "));
    fx.f.http(&d.unsigned().signature(&joined)).await.assert_error(401);
}

#[tokio::test]
async fn look_alike_header_names_do_not_count() {
    let fx = fx().await;
    let d = confirmed("file-1", "{}");
    let good = d.signature(SECRET);
    for name in [
        "x-webhook-signature-256",
        "webhook-signature",
        "x-webhook-signatures",
        "x_webhook_signature",
        "x-hub-signature",
    ] {
        let rsp = fx.f.http(&d.unsigned().header(name, &good)).await;
        rsp.assert_error(401);
    }
    // Nor does the tag in the body, the query or another header's value.
    let rsp =
        fx.f.http(&d.unsigned().header("authorization", &format!("Bearer {good}")))
            .await;
    rsp.assert_error(401);
    fx.assert_nothing_written().await;
}

#[tokio::test]
async fn oversized_and_malformed_signature_values_are_401_and_not_echoed() {
    let fx = fx().await;
    let d = confirmed("file-1", r#"{"secretData":"planted-extracted-value"}"#);
    let good = d.signature(SECRET);
    let huge = "A".repeat(64 * 1024);
    let cases = [
        huge.clone(),
        format!("{good}{good}"),
        format!("{good}AAAA"),
        good.replace('=', "") + "==",
        good.to_lowercase(),
        format!("sha256={good}"),
        // (A control character cannot reach the function: HTTP and API Gateway refuse it,
        // and lambda_http fails such an event before the handler runs.)
        "\t".repeat(3),
        "é".repeat(44),
    ];
    for sig in &cases {
        let rsp = fx.f.http(&d.unsigned().signature(sig)).await;
        let body = rsp.assert_error(401).to_string();
        assert!(
            !body.contains(&good[..20]) && !body.contains("AAAAAAAA"),
            "signature echoed: {body}"
        );
        assert!(!body.contains("planted-extracted-value"), "data echoed: {body}");
    }
    fx.assert_nothing_written().await;
    let out = fx.f.output();
    assert!(!out.contains(&good[..20]), "a signature in the logs");
    assert!(!out.contains(&huge[..64]), "a signature in the logs");
    assert!(!out.contains("planted-extracted-value"), "extracted data in the logs");
    fx.assert_still_serving().await;
}

#[tokio::test]
async fn deeply_nested_json_is_400_without_crashing() {
    let fx = fx().await;
    let n = 100_000;
    let open_arrays = "[".repeat(n);
    let balanced = format!("{}{}", "[".repeat(n), "]".repeat(n));
    let objects = format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n));
    let mixed = format!("{}{}", r#"[{"a":"#.repeat(n / 2), "0}]".repeat(n / 2));
    let bodies = [
        open_arrays.clone(),
        balanced.clone(),
        format!(r#"{{"event":"extraction.confirmed","result":{balanced}}}"#),
        format!(r#"{{"event":"extraction.confirmed","result":[{objects}]}}"#),
        format!(r#"{{"event":"extraction.confirmed","result":{mixed}}}"#),
        format!(r#"{{"event":{balanced},"result":[]}}"#),
    ];
    for body in &bodies {
        // Signed over the result text as sent, so only the depth can reject it.
        let result = body
            .find(r#""result":"#)
            .map(|i| &body[i + 9..body.len() - 1])
            .unwrap_or(body);
        for b64 in [false, true] {
            let mut req = Request::post(body.clone().into_bytes()).signature(&sign(SECRET, result.as_bytes()));
            if b64 {
                req = req.base64();
            }
            let rsp = fx.f.http(&req).await;
            assert_eq!(rsp.status, 400, "{}...: {}", &body[..40], rsp.raw);
            rsp.assert_error(400);
        }
    }
    // Just past the bound (the limit is 512 levels) inside a genuine, signed result.
    let deep = format!("[{}{}]", "[".repeat(600), "]".repeat(600));
    let d = Delivery::new("extraction.processed").raw_result(&deep);
    fx.f.http(&d.request()).await.assert_error(400);
    fx.assert_nothing_written().await;
    fx.assert_still_serving().await;
}

#[tokio::test]
async fn hostile_ids_stay_inside_the_prefix() {
    let fx = fx().await;
    let ids = [
        "../../../../etc/passwd",
        "..",
        ".",
        "..%2F..%2F",
        "%2E%2E",
        "a/./b/../c",
        "\\..\\..\\windows",
        "\u{202e}gnp.exe",
        "\u{0}nul",
        "ﬁle\u{2215}..\u{2215}x",
        "😀/../😀",
        "~root",
        "   ",
    ];
    let mut d = Delivery::new("extraction.processed");
    for (i, id) in ids.iter().enumerate() {
        d = d.raw_entry(&entry_text(id, &format!("b{i}"), id, "processed", "{}"));
    }
    let rsp = fx.f.http(&d.request()).await;
    rsp.assert_status(200);
    let stored: Vec<String> = rsp.json()["stored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(stored.len(), ids.len());
    let keys = fx.stack.all_keys().await;
    assert_eq!(
        keys.len(),
        ids.len() + 1,
        "one object per entry plus the archive: {keys:?}"
    );
    for key in &keys {
        let rest = key
            .strip_prefix("extracta/")
            .unwrap_or_else(|| panic!("outside the prefix: {key}"));
        for c in rest.split('/') {
            assert!(
                !c.is_empty() && c != "." && c != "..",
                "unsafe component {c:?} in {key}"
            );
            assert!(
                c.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-%".contains(&b)),
                "unescaped byte in {key}"
            );
        }
    }
    // Each entry is stored under its own key, with its exact bytes.
    for (key, raw) in stored.iter().zip(d.entries()) {
        assert_eq!(fx.stack.object(key).await.text(), raw);
    }
}
