//! docs/contract.md §2: who may deliver: signatures, rotation, the `E_AI_K_` prefix, rule (b),
//! `ALLOW_UNSIGNED` and the Secrets Manager secret.
use e2e::requests::{sign, sign_with_key, Source};
use e2e::Delivery;
use serde_json::json;

use super::{check_accepted, entry, Fixture};

fn confirmed() -> Delivery {
    Delivery::new("extraction.confirmed").raw_entry(&entry("ext-1", "batch-1", "file-1", "confirmed", r#"{"a":"b"}"#))
}

#[tokio::test]
async fn missing_signature_is_401_and_nothing_is_written() {
    let fx = Fixture::new().await;
    let (rsp, _) = fx.send(&confirmed().unsigned()).await;
    rsp.assert_error(401);
    fx.assert_nothing_written().await;
}

#[tokio::test]
async fn wrong_signatures_are_401_and_nothing_is_written() {
    let fx = Fixture::new().await;
    let d = confirmed();
    let other_bytes = sign(e2e::SECRET, br#"[{"a":"c"}]"#);
    let wrong_cases = [
        sign("E_AI_K_another-secret-not-real", d.result_text().as_bytes()),
        // The full secret as key (the prefix must be stripped).
        sign_with_key(e2e::SECRET.as_bytes(), d.result_text().as_bytes()),
        // Over the whole body instead of `result`.
        sign(e2e::SECRET, &d.body()),
        other_bytes,
        String::new(),
        "not base64 at all!".into(),
        // A truncated valid signature.
        d.signature(e2e::SECRET)[..20].to_owned(),
    ];
    for sig in &wrong_cases {
        let (rsp, _) = fx.send(&d.unsigned().signature(sig)).await;
        rsp.assert_error(401);
    }
    fx.assert_nothing_written().await;
    // The same delivery, rightly signed, goes through (the cases above were not
    // rejected for another reason).
    let (rsp, _) = fx.send(&d.request()).await;
    rsp.assert_status(200);
}

#[tokio::test]
async fn body_without_result_cannot_be_authentic() {
    let fx = Fixture::new().await;
    let body = br#"{"event":"extraction.confirmed"}"#.to_vec();
    for signed_over in [&b"undefined"[..], b"", b"null", b"{}"] {
        let req = e2e::Request::post(body.clone()).signature(&sign(e2e::SECRET, signed_over));
        let (rsp, _) = fx.send(&req).await;
        rsp.assert_error(401);
    }
    fx.assert_nothing_written().await;
}

#[tokio::test]
async fn signature_header_name_is_case_insensitive() {
    let fx = Fixture::new().await;
    for name in ["X-Webhook-Signature", "X-WEBHOOK-SIGNATURE"] {
        let d = Delivery::new("extraction.processed").raw_entry(&entry("e", "b", name, "processed", "{}"));
        let req = d
            .unsigned()
            .source(Source::RestV1)
            .header(name, &d.signature(e2e::SECRET));
        let (rsp, _) = fx.send(&req).await;
        rsp.assert_status(200);
    }
}

#[tokio::test]
async fn rotation_accepts_any_configured_secret() {
    let fx = Fixture::with(|c| {
        c.set(
            "EXTRACTA_WEBHOOK_SECRET",
            "  E_AI_K_old-secret-not-real ,E_AI_K_new-secret-not-real\t",
        )
    })
    .await;
    for (i, secret) in ["E_AI_K_old-secret-not-real", "E_AI_K_new-secret-not-real"]
        .iter()
        .enumerate()
    {
        let d = Delivery::new("extraction.processed").raw_entry(&entry("e", "b", &format!("f{i}"), "processed", "{}"));
        let (rsp, w) = fx.send(&d.signed(secret)).await;
        check_accepted(&fx, &d, Some("extraction.processed"), &rsp, w, true).await;
        fx.clear().await;
    }
    let before = fx.keys().await;
    let d = Delivery::new("extraction.processed").raw_entry(&entry("e", "b", "f9", "processed", "{}"));
    let (rsp, _) = fx.send(&d.signed("E_AI_K_third-secret-not-real")).await;
    rsp.assert_error(401);
    // The list's own text is no secret either.
    let (rsp, _) = fx
        .send(&d.signed("E_AI_K_old-secret-not-real,E_AI_K_new-secret-not-real"))
        .await;
    rsp.assert_error(401);
    assert_eq!(fx.keys().await, before);
}

#[tokio::test]
async fn prefix_is_stripped_once_from_each_secret() {
    let fx = Fixture::with(|c| {
        c.set(
            "EXTRACTA_WEBHOOK_SECRET",
            "E_AI_K_E_AI_K_double-not-real,plain-secret-not-real",
        )
    })
    .await;
    let d = || Delivery::new("classification.done");
    let body = d().result_text();
    let accepted = [
        sign_with_key(b"E_AI_K_double-not-real", body.as_bytes()),
        sign_with_key(b"plain-secret-not-real", body.as_bytes()),
    ];
    let rejected = [
        sign_with_key(b"double-not-real", body.as_bytes()),
        sign_with_key(b"E_AI_K_E_AI_K_double-not-real", body.as_bytes()),
    ];
    for sig in &accepted {
        let (rsp, _) = fx.send(&d().unsigned().signature(sig)).await;
        rsp.assert_status(200);
    }
    for sig in &rejected {
        let (rsp, _) = fx.send(&d().unsigned().signature(sig)).await;
        rsp.assert_error(401);
    }
}

/// A fixture entry of `tests/fixtures/stringify` and its `JSON.stringify` of `[entry]`.
fn fixture(name: &str) -> (String, String) {
    let dir = e2e::workspace_root().join("tests/fixtures/stringify");
    let raw = std::fs::read_to_string(dir.join(format!("{name}.json"))).expect("fixture");
    let expected = std::fs::read_to_string(dir.join(format!("{name}.expected"))).expect("expected");
    (raw.trim_end().to_owned(), expected)
}

#[tokio::test]
async fn pretty_printed_body_signed_over_the_compact_form() {
    let fx = Fixture::new().await;
    let (raw, stringified) = fixture("pretty");
    let body = format!("{{\n  \"event\": \"extraction.confirmed\",\n  \"result\": [\n    {raw}\n  ]\n}}\n");
    let req = e2e::Request::post(body.clone().into_bytes()).signature(&sign(e2e::SECRET, stringified.as_bytes()));
    let (rsp, _) = fx.send(&req).await;
    rsp.assert_status(200);
    let key = "extracta/ext-pretty/batch-1/file-1/confirmed.json";
    assert_eq!(rsp.json()["stored"], json!([key]));
    assert_eq!(fx.stack.object(key).await.text(), raw, "stored as it stood in the body");
    let archived = rsp.json()["archived"].as_str().expect("archived").to_owned();
    assert_eq!(fx.stack.object(&archived).await.text(), body);
    assert_eq!(fx.stack.confirmed_messages().await.len(), 1);
    // The pretty bytes themselves (rule (a)) are accepted too.
    let (rsp, _) = fx
        .send(
            &e2e::Request::post(body.into_bytes())
                .signature(&sign(e2e::SECRET, format!("[\n    {raw}\n  ]").as_bytes())),
        )
        .await;
    rsp.assert_status(200);
}

async fn rule_b_case(name: &str) {
    let fx = Fixture::new().await;
    let (raw, stringified) = fixture(name);
    let d = Delivery::new("extraction.processed").raw_entry(&raw);
    let (rsp, _) = fx
        .send(&d.unsigned().signature(&sign(e2e::SECRET, stringified.as_bytes())))
        .await;
    rsp.assert_status(200);
    let stored = rsp.json()["stored"].clone();
    let key = stored[0].as_str().expect("one stored key").to_owned();
    assert_eq!(fx.stack.object(&key).await.text(), raw, "stored exactly as sent");
    // Rule (a) still holds for the same body.
    let (rsp, _) = fx.send(&d.request()).await;
    rsp.assert_status(200);
    // And a signature over something else is still refused.
    let (rsp, _) = fx
        .send(
            &d.unsigned()
                .signature(&sign(e2e::SECRET, format!("{stringified} ").as_bytes())),
        )
        .await;
    rsp.assert_error(401);
}

#[tokio::test]
async fn rule_b_orders_keys_like_node() {
    rule_b_case("key-order").await;
}

#[tokio::test]
async fn rule_b_prints_numbers_like_node() {
    rule_b_case("numbers").await;
}

#[tokio::test]
async fn rule_b_escapes_strings_like_node() {
    rule_b_case("strings").await;
}

#[tokio::test]
async fn rule_b_keeps_lone_surrogates_like_node() {
    rule_b_case("lone-surrogates").await;
}

#[tokio::test]
async fn allow_unsigned_accepts_unchecked_when_no_secret() {
    let fx = Fixture::with(|c| c.unset("EXTRACTA_WEBHOOK_SECRET").set("ALLOW_UNSIGNED", "TRUE")).await;
    let d = confirmed();
    let (rsp, w) = fx.send(&d.unsigned()).await;
    check_accepted(&fx, &d, Some("extraction.confirmed"), &rsp, w, true).await;
    let (rsp, _) = fx.send(&d.unsigned().signature("garbage")).await;
    rsp.assert_status(200);
    let warned =
        fx.f.wait_for_line(std::time::Duration::from_secs(5), |l| {
            l.contains("WARN") && l.to_ascii_lowercase().contains("unsigned")
        })
        .await;
    assert!(warned.is_some(), "a warning at start: {}", fx.f.output());
}

#[tokio::test]
async fn allow_unsigned_is_ignored_when_a_secret_is_set() {
    let fx = Fixture::with(|c| c.set("ALLOW_UNSIGNED", "true")).await;
    let (rsp, _) = fx.send(&confirmed().unsigned()).await;
    rsp.assert_error(401);
    fx.assert_nothing_written().await;
    let (rsp, _) = fx.send(&confirmed().request()).await;
    rsp.assert_status(200);
}

#[tokio::test]
async fn secret_from_secrets_manager() {
    let stack = e2e::Stack::new().await;
    let arn = stack
        .aws
        .create_secret(" E_AI_K_sm-one-not-real , E_AI_K_sm-two-not-real ")
        .await;
    let fx = Fixture::on(stack, |c| {
        c.unset("EXTRACTA_WEBHOOK_SECRET")
            .set("EXTRACTA_WEBHOOK_SECRET_ARN", &arn)
    })
    .await;
    for (i, secret) in ["E_AI_K_sm-one-not-real", "E_AI_K_sm-two-not-real"].iter().enumerate() {
        let d = Delivery::new("extraction.processed").raw_entry(&entry("e", "b", &format!("f{i}"), "processed", "{}"));
        let (rsp, _) = fx.send(&d.signed(secret)).await;
        rsp.assert_status(200);
    }
    let (rsp, _) = fx.send(&confirmed().request()).await;
    rsp.assert_error(401);
}
