//! The JSON Schemas in `schemas/`, the machine-readable promise of everything the function
//! emits (docs/consumers.md), checked against what the end-to-end tests receive: every
//! answer of [`crate::Function::http`], every SNS message and its attributes read back
//! through the topics' queues, every redrive queue message the function sent, and the
//! metadata map of every stored object a test reads. A field the schema does not allow
//! fails the test that saw it.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::Value;

/// The schemas, by file name without `.json`.
const NAMES: &[&str] = &[
    "answer-200",
    "answer-202",
    "answer-error",
    "archive-pointer",
    "confirmed-message",
    "edited-message",
    "erasure-notice",
    "failed-message",
    "message-attributes",
    "object-metadata",
    "processed-message",
    "redrive-message",
];

fn validators() -> &'static BTreeMap<&'static str, Validator> {
    static VALIDATORS: OnceLock<BTreeMap<&'static str, Validator>> = OnceLock::new();
    VALIDATORS.get_or_init(|| {
        let dir = crate::workspace_root().join("schemas");
        NAMES
            .iter()
            .map(|name| {
                let path = dir.join(format!("{name}.json"));
                let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let schema: Value =
                    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
                let validator = jsonschema::draft202012::new(&schema)
                    .unwrap_or_else(|e| panic!("{} is not a valid schema: {e}", path.display()));
                (*name, validator)
            })
            .collect()
    })
}

/// Panics, naming the schema and every violation, unless `value` is valid against it.
pub fn check(name: &str, value: &Value) {
    let validator = validators()
        .get(name)
        .unwrap_or_else(|| panic!("no schema {name:?} in schemas/"));
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "schemas/{name}.json rejects what the function emitted:\n  {}\n--- value ---\n{value}",
        errors.join("\n  ")
    );
}

/// An HTTP answer of the function: `200`, `202`, or an error body.
pub fn answer(status: u16, body: &Value) {
    match status {
        200 => check("answer-200", body),
        202 => check("answer-202", body),
        _ => check("answer-error", body),
    }
}

/// An SNS message body and its message attributes.
pub fn message(body: &Value, attributes: &BTreeMap<String, String>) {
    match body.get("event").and_then(Value::as_str) {
        Some("extraction.failed") => check("failed-message", body),
        _ => check("confirmed-message", body),
    }
    check("message-attributes", &serde_json::json!(attributes));
}

/// An event as a rule's target receives it from EventBridge: its `detail` against the
/// schema of its `detail-type` in `schemas/` (the archive pointer for any other type), and
/// the whole event against the schema registry's draft-4 schema of that type, as
/// `scripts/event-schemas` generates it for template.yaml (docs/contract.md §10).
pub fn event(envelope: &Value) {
    let detail_type = envelope.get("detail-type").and_then(Value::as_str).unwrap_or_default();
    // An archive pointer may carry any detail-type, a routed event's included (a body
    // that did not fit); its `archived` tells it from a file's message.
    let pointer = envelope.pointer("/detail/archived").is_some();
    let (detail_schema, registry) = match detail_type {
        _ if pointer => ("archive-pointer", "ArchivePointer"),
        "extraction.processed" => ("processed-message", detail_type),
        "extraction.edited" => ("edited-message", detail_type),
        "extraction.confirmed" => ("confirmed-message", detail_type),
        "extraction.failed" => ("failed-message", detail_type),
        "receiver.erased" => ("erasure-notice", detail_type),
        _ => ("archive-pointer", "ArchivePointer"),
    };
    check(detail_schema, envelope.get("detail").unwrap_or(&Value::Null));
    let name = format!("extracta.ai@{registry}");
    let validator = registry_validators()
        .get(name.as_str())
        .unwrap_or_else(|| panic!("scripts/event-schemas generates no schema {name}"));
    let errors: Vec<String> = validator
        .iter_errors(envelope)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "the registry schema {name} rejects what the bus delivered:\n  {}\n--- event ---\n{envelope}",
        errors.join("\n  ")
    );
}

/// The registry's schemas, by `SchemaName`, from `scripts/event-schemas --print`.
fn registry_validators() -> &'static BTreeMap<&'static str, Validator> {
    static VALIDATORS: OnceLock<BTreeMap<&'static str, Validator>> = OnceLock::new();
    VALIDATORS.get_or_init(|| {
        let script = crate::workspace_root().join("scripts/event-schemas");
        [
            "extracta.ai@extraction.processed",
            "extracta.ai@extraction.edited",
            "extracta.ai@extraction.confirmed",
            "extracta.ai@extraction.failed",
            "extracta.ai@ArchivePointer",
            "extracta.ai@receiver.erased",
        ]
        .into_iter()
        .map(|name| {
            let out = std::process::Command::new("python3")
                .arg(&script)
                .args(["--print", name])
                .output()
                .unwrap_or_else(|e| panic!("python3 {} (python3 is needed): {e}", script.display()));
            assert!(out.status.success(), "{} --print {name} failed", script.display());
            let schema: Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{} --print {name} is not JSON: {e}", script.display()));
            let validator = jsonschema::draft4::new(&schema)
                .unwrap_or_else(|e| panic!("the registry schema {name} is not a valid draft-4 schema: {e}"));
            (name, validator)
        })
        .collect()
    })
}

/// The user metadata map of a stored object.
pub fn metadata(map: &BTreeMap<String, String>) {
    check("object-metadata", &serde_json::json!(map));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_schema_loads_and_rejects_an_extra_field() {
        assert_eq!(validators().len(), NAMES.len());
        let key = format!(
            "extracta/_deliveries/2026/01/02/extraction.failed/{}.json",
            "ab".repeat(32)
        );
        let redrive = json!({"archived": key, "reason": "deadline"});
        check("redrive-message", &redrive);
        let mut extra = redrive.clone();
        extra["debug"] = json!(true);
        let failed = std::panic::catch_unwind(|| check("redrive-message", &extra));
        assert!(failed.is_err(), "a field the schema does not allow must fail");
        let answer202 = json!({"event": "extraction.failed", "files": 1, "archived": key, "queued": true});
        check("answer-202", &answer202);
        assert!(std::panic::catch_unwind(|| answer(200, &answer202)).is_err());
    }
}
