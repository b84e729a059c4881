//! Property tests: nothing in `shared` panics, whatever bytes and headers arrive.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use bytes::Bytes;
use proptest::prelude::*;
use shared::delivery::Delivery;
use shared::layout::Prefix;
use shared::plan::{Destination, Plan};
use shared::signature::{Secret, Verifier};

/// JSON-ish text: valid deliveries, broken on purpose in many small ways.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    let atom = prop_oneof![
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(",".to_owned()),
        Just(":".to_owned()),
        Just("\"".to_owned()),
        Just("\\".to_owned()),
        Just("\"event\"".to_owned()),
        Just("\"result\"".to_owned()),
        Just("\"extraction.confirmed\"".to_owned()),
        Just("\"extraction.failed\"".to_owned()),
        Just("\"fileId\"".to_owned()),
        Just("\"extractionId\"".to_owned()),
        Just("\"\\ud800\"".to_owned()),
        Just("\"\\u00e9\\n\"".to_owned()),
        Just("1e400".to_owned()),
        Just("-0".to_owned()),
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just(" ".to_owned()),
        "[a-z0-9.]{0,6}",
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(atom, 0..64).prop_map(|parts| parts.concat().into_bytes())
}

fn check(body: Vec<u8>, header: Option<Vec<u8>>) {
    let body = Bytes::from(body);
    let verifier = Verifier::Secrets(Secret::parse_list("E_AI_K_prop-secret-not-real,other").unwrap());
    if let Ok(delivery) = Delivery::parse(&body) {
        let _ = verifier.verify(header.as_deref(), delivery.result_bytes());
        let _ = delivery.route();
        let to = Destination {
            bucket: "b".into(),
            prefix: Prefix::new("p"),
        };
        let plan = Plan::new(&body, &delivery, &to, time::OffsetDateTime::UNIX_EPOCH);
        assert!(plan
            .files
            .iter()
            .all(|f| !f.key.contains("/../") && !f.key.contains("/./")));
    }
    let _ = shared::ecma::stringify(&body);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4_000))]

    #[test]
    fn arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..512), header in proptest::option::of(prop::collection::vec(any::<u8>(), 0..64))) {
        check(body, header);
    }

    #[test]
    fn jsonish_text(body in jsonish(), header in proptest::option::of("[A-Za-z0-9+/=]{0,48}")) {
        check(body, header.map(String::into_bytes));
    }

    #[test]
    fn wrapped_deliveries(entries in prop::collection::vec(jsonish(), 0..6), event in "(extraction\\.(confirmed|failed|edited|processed)|[a-z./]{0,12})") {
        // Well-formed outside, arbitrary inside each entry.
        let inner: Vec<String> = entries.iter().map(|e| String::from_utf8_lossy(e).into_owned()).collect();
        let body = format!(r#"{{"event":"{event}","result":[{}]}}"#, inner.join(","));
        check(body.into_bytes(), None);
    }
}
