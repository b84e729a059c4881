//! Every sample event in `lambda-events/` (what users feed to `cargo lambda invoke` and
//! `sam local invoke`) through the function's own event decoding and handler, on the
//! in-memory ports, with the answer `lambda-lambda-events/README.md` says it gets: so the samples cannot
//! go stale without this test failing.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Method};
use serde_json::Value;
use shared::layout::Prefix;
use shared::memory::Memory;
use shared::pipeline::Announcers;
use shared::plan::Destination;
use shared::ports::bus::NoBus;
use shared::signature::{Secret, Verifier, SIGNATURE_HEADER};
use webhook::handler::{Handler, IncomingBody, Redrive};
use webhook::lambda::{serve, Invocation};
use webhook::secrets::Keys;

/// The documented local secret the samples are signed with (lambda-events/README.md).
const SECRET: &str = "E_AI_K_local-dev-secret-not-real";

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lambda-events")
}

fn handler() -> Handler<Arc<Memory>, Arc<Memory>, NoBus, Arc<Memory>> {
    let memory = Arc::new(Memory::default());
    Handler {
        keys: Keys::fixed(Verifier::Secrets(Secret::parse_list(SECRET).unwrap())),
        destination: Destination {
            bucket: "extracta-results".into(),
            prefix: Prefix::default(),
        },
        max_body_bytes: 6_291_456,
        max_concurrency: 16,
        store: Arc::clone(&memory),
        announcers: Announcers::topics(Arc::clone(&memory)),
        redrive: Some(Redrive {
            queue: memory,
            ack_deadline: Duration::from_secs(5),
        }),
        function_name: String::new(),
    }
}

/// What lambda-events/README.md says a sample gets: status, then file objects and messages.
fn expected(source: &str, name: &str) -> (u16, usize, usize) {
    match name {
        "confirmed-bad-signature" | "confirmed-unsigned" => (401, 0, 0),
        "get" => (405, 0, 0),
        "classification-completed" => (200, 0, 0),
        _ => {
            let event = name.trim_end_matches("-base64");
            let body = std::fs::read(events_dir().join("bodies").join(format!("{event}.json")))
                .unwrap_or_else(|e| panic!("{source}/{name}: no body for {event}: {e}"));
            let files = serde_json::from_slice::<Value>(&body).unwrap()["result"]
                .as_array()
                .unwrap()
                .len();
            let publishes = matches!(event, "confirmed" | "failed");
            (200, files, if publishes { files } else { 0 })
        }
    }
}

#[tokio::test]
async fn every_sample_event_gets_the_answer_its_readme_promises() {
    let mut seen = 0;
    for source in ["http-api", "rest-api", "function-url", "alb"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(events_dir().join(source))
            .unwrap_or_else(|e| panic!("lambda-events/{source}: {e}"))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for path in files {
            let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
            let event: Invocation = serde_json::from_slice(&std::fs::read(&path).unwrap())
                .unwrap_or_else(|e| panic!("{source}/{name} does not decode: {e}"));
            let h = handler();
            let answer = serde_json::to_value(serve(&h, event).await).unwrap();
            let (status, objects, messages) = expected(source, &name);
            assert_eq!(answer["statusCode"], status, "{source}/{name}: {answer}");
            let stored = h.store.objects();
            let archived = usize::from(status == 200);
            assert_eq!(stored.len(), archived + objects, "{source}/{name}: {:?}", stored.keys());
            assert_eq!(h.store.messages().len(), messages, "{source}/{name}");
            if status == 200 {
                let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
                assert_eq!(body["files"], objects, "{source}/{name}: {body}");
            }
            seen += 1;
        }
    }
    assert!(seen >= 25, "only {seen} sample events found");
}

#[tokio::test]
async fn the_raw_bodies_verify_with_their_listed_signatures() {
    let dir = events_dir().join("bodies");
    let signatures: BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(dir.join("signatures.json")).unwrap()).unwrap();
    assert_eq!(signatures.len(), 5);
    for (name, signature) in signatures {
        let body = std::fs::read(dir.join(format!("{name}.json"))).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(SIGNATURE_HEADER, signature.parse().unwrap());
        let h = handler();
        let reply = h
            .handle(&Method::POST, &headers, IncomingBody::Bytes(body.into()))
            .await;
        assert_eq!(reply.status, 200, "bodies/{name}.json: {}", reply.body);
    }
}
