//! The signature module against Node-made known answers (`vectors/hmac.json`): the
//! signer reproduces Node's HMAC, and the verifier accepts each body as received,
//! pretty-printed ones through rule (b).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use shared::delivery::Delivery;
use shared::signature::{Secret, SignatureError, Verifier};

#[test]
fn node_signatures_verify() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/hmac.json")).unwrap();
    let vectors: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert!(vectors.len() >= 5);
    for v in &vectors {
        let name = v["name"].as_str().unwrap();
        let secret = Secret::new(v["secret"].as_str().unwrap()).unwrap();
        let signature = v["signature"].as_str().unwrap();
        assert_eq!(
            secret.sign(v["result_bytes"].as_str().unwrap().as_bytes()),
            signature,
            "{name}"
        );

        let body = v["body"].as_str().unwrap();
        let delivery = Delivery::parse(body.as_bytes()).unwrap();
        let verifier = Verifier::Secrets(vec![secret]);
        assert_eq!(
            verifier.verify(Some(signature.as_bytes()), delivery.result_bytes()),
            Ok(()),
            "{name}"
        );
        let other = Verifier::Secrets(vec![Secret::new("E_AI_K_some-other-secret").unwrap()]);
        assert_eq!(
            other.verify(Some(signature.as_bytes()), delivery.result_bytes()),
            Err(SignatureError::InvalidSignature),
            "{name}"
        );
    }
}
