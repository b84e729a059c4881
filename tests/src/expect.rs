//! The values the contract promises (keys, event ids, times), computed independently of
//! the code under test, and checks shared by many tests.
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The default `RESULTS_PREFIX`.
pub const DEFAULT_PREFIX: &str = "extracta/";

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// docs/contract.md §4: hex SHA-256 of the event name, one newline, then the stored bytes.
pub fn event_id(event: &str, stored: &[u8]) -> String {
    let mut data = Vec::with_capacity(event.len() + 1 + stored.len());
    data.extend_from_slice(event.as_bytes());
    data.push(b'\n');
    data.extend_from_slice(stored);
    sha256_hex(&data)
}

/// docs/contract.md §3: a string made safe as a key component.
pub fn component(s: &str) -> String {
    if s.is_empty() {
        return "_none".into();
    }
    if s == "." {
        return "%2E".into();
    }
    if s == ".." {
        return "%2E%2E".into();
    }
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The file object key for `kind` (`processed`, `edited`, `confirmed`, `failed`), from
/// already-safe components.
pub fn file_key(prefix: &str, extraction: &str, batch: &str, file: &str, kind: &str) -> String {
    format!("{prefix}{extraction}/{batch}/{file}/{kind}.json")
}

/// `YYYY/MM/DD` of a UTC time.
pub fn date_path(t: OffsetDateTime) -> String {
    let d = t.date();
    format!("{:04}/{:02}/{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The archive key for `body`, received on the UTC day of `t`, event component `event`.
pub fn archive_key(prefix: &str, t: OffsetDateTime, event: &str, body: &[u8]) -> String {
    format!("{prefix}_deliveries/{}/{event}/{}.json", date_path(t), sha256_hex(body))
}

/// Now, in UTC.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Bounds the moment a delivery was received: taken before and after the invocation.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Before the event was queued.
    pub before: OffsetDateTime,
    /// After the answer came back.
    pub after: OffsetDateTime,
}

impl Window {
    /// Starts a window now.
    pub fn open() -> Self {
        let t = now();
        Window { before: t, after: t }
    }

    /// Closes the window now.
    pub fn close(mut self) -> Self {
        self.after = now();
        self
    }

    /// The archive keys the delivery may have (one, or two across midnight).
    pub fn archive_keys(&self, prefix: &str, event: &str, body: &[u8]) -> Vec<String> {
        let mut keys = vec![archive_key(prefix, self.before, event, body)];
        let late = archive_key(prefix, self.after, event, body);
        if !keys.contains(&late) {
            keys.push(late);
        }
        keys
    }

    /// Asserts `text` is an RFC 3339 UTC time inside the window (1 s slack for rounding).
    #[track_caller]
    pub fn assert_contains(&self, text: &str) -> OffsetDateTime {
        let t = OffsetDateTime::parse(text, &Rfc3339).unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"));
        assert!(
            t.offset().is_utc() && (text.ends_with('Z') || text.ends_with("+00:00")),
            "{text:?} is not UTC"
        );
        let slack = time::Duration::seconds(1);
        assert!(
            t >= self.before - slack && t <= self.after + slack,
            "{text:?} is outside the receipt window {} .. {}",
            self.before,
            self.after
        );
        t
    }
}

/// Every output line parsed as JSON (panics on a line that is not a JSON object).
#[track_caller]
pub fn json_lines(output: &str) -> Vec<Value> {
    output
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match serde_json::from_str::<Value>(l) {
            Ok(v @ Value::Object(_)) => v,
            _ => panic!("log line is not a JSON object: {l}\n--- output ---\n{output}"),
        })
        .collect()
}

/// The object (the line itself or a nested one, e.g. `fields`) that has every key in
/// `keys`.
pub fn object_with<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Map<String, Value>> {
    match v {
        Value::Object(m) => {
            if keys.iter().all(|k| m.contains_key(*k)) {
                return Some(m);
            }
            m.values().find_map(|c| object_with(c, keys))
        }
        Value::Array(a) => a.iter().find_map(|c| object_with(c, keys)),
        _ => None,
    }
}

/// The request summary fields docs/contract.md §7 asks for. `event` is not among the keys that
/// identify a summary: a request rejected before its body was read (or authenticated)
/// has no trustworthy event to log, and the tests require it on accepted requests only.
pub const SUMMARY_FIELDS: &[&str] = &["files", "stored", "published", "status", "durationMs"];

/// The summary objects (one per request) in `output`.
pub fn summaries(output: &str) -> Vec<Map<String, Value>> {
    json_lines(output)
        .iter()
        .filter_map(|l| object_with(l, SUMMARY_FIELDS).cloned())
        .collect()
}

/// A JSON value as a number (accepting a numeric string, as loggers sometimes print).
pub fn as_num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}
