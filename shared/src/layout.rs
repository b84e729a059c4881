//! The S3 key layout (docs/contract.md §3), the one place that knows it: safe key
//! components, per-file keys, the delivery-archive keys (written, and parsed back for
//! redrive and replay) and the user metadata names every object carries.

use crate::json::{Kind, Raw};

/// The component written for a missing, null, empty or non-string id.
pub const NONE: &str = "_none";

/// The folder, under the prefix, that holds the delivery archive.
const ARCHIVE_DIR: &str = "_deliveries/";

/// The user metadata names of every stored object.
pub mod metadata {
    /// The event name (for the archive copy, its key-safe `{event}` component).
    pub const EVENT: &str = "event";
    /// The `eventId` computed over the object's bytes.
    pub const EVENT_ID: &str = "event-id";
    /// The RFC 3339 UTC receipt time of the delivery.
    pub const RECEIVED_AT: &str = "received-at";
    /// Archive copies only: their entries' ids as key components
    /// (`crate::erase::index`), so an erasure can pass over a copy without reading it.
    pub const ENTRY_IDS: &str = "entry-ids";
    /// Archive copies only, once an erasure redacted entries out of them: when (RFC 3339
    /// UTC, milliseconds). Their stub entries are complete (docs/contract.md §11).
    pub const ERASED_AT: &str = "erased-at";
}

/// `RESULTS_PREFIX`, normalised: empty, or ending in `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix(String);

impl Prefix {
    /// A prefix from configuration; a non-empty prefix without a trailing `/` gets one.
    pub fn new(prefix: &str) -> Self {
        if prefix.is_empty() || prefix.ends_with('/') {
            Prefix(prefix.to_owned())
        } else {
            Prefix(format!("{prefix}/"))
        }
    }

    /// The prefix as it starts every key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Prefix {
    fn default() -> Self {
        Prefix::new("extracta/")
    }
}

/// Makes bytes safe as one key component: each byte outside `A-Z a-z 0-9 _ . -` becomes
/// `%XX`, and a component of only `.` or `..` has its dots written `%2E`.
pub fn safe_component(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    push_safe_component(&mut out, bytes);
    out
}

/// [`safe_component`], appended to `out` (keys are built without intermediate strings).
pub fn push_safe_component(out: &mut String, bytes: &[u8]) {
    if bytes == b"." || bytes == b".." {
        for _ in bytes {
            out.push_str("%2E");
        }
        return;
    }
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-') {
            out.push(char::from(b));
        } else {
            let [hi, lo] = crate::hex::digits(b, crate::hex::UPPER);
            out.push('%');
            out.push(char::from(hi));
            out.push(char::from(lo));
        }
    }
}

/// Appends the key component for an id taken from the payload: a non-empty string made
/// safe, a number as its JSON text, anything else (or nothing) [`NONE`].
pub fn push_id_component(out: &mut String, value: Option<Raw<'_>>) {
    match value {
        Some(v) if v.kind() == Kind::Number => push_safe_component(out, v.bytes()),
        Some(v) => match v.string_value() {
            Some(s) if !s.is_empty() => push_safe_component(out, &s),
            _ => out.push_str(NONE),
        },
        None => out.push_str(NONE),
    }
}

/// The archive's `{event}` component: the event string made safe, [`NONE`] when the body
/// has no string (or an empty) `event`.
pub fn event_component(event: Option<&[u8]>) -> String {
    match event {
        Some(e) if !e.is_empty() => safe_component(e),
        _ => NONE.to_owned(),
    }
}

/// `{prefix}{extractionId}/{batchId}/{fileId}/{file_name}`, each id made safe by
/// [`push_id_component`].
pub fn file_key(prefix: &Prefix, ids: [Option<Raw<'_>>; 3], file_name: &str) -> String {
    let mut key = String::with_capacity(prefix.as_str().len() + file_name.len() + 64);
    key.push_str(prefix.as_str());
    for id in ids {
        push_id_component(&mut key, id);
        key.push('/');
    }
    key.push_str(file_name);
    key
}

/// `{prefix}_deliveries/`: everything under it is the delivery archive.
pub fn archive_root(prefix: &Prefix) -> String {
    format!("{}{ARCHIVE_DIR}", prefix.as_str())
}

/// `{prefix}_deliveries/{YYYY}/{MM}/{DD}/`: the archive of one UTC day.
pub fn archive_day(prefix: &Prefix, date: time::Date) -> String {
    format!(
        "{}{:04}/{:02}/{:02}/",
        archive_root(prefix),
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// `{prefix}_deliveries/{YYYY}/{MM}/{DD}/{event}/{sha256 hex}.json`.
pub fn archive_key(prefix: &Prefix, date: time::Date, event: &str, body_sha256_hex: &str) -> String {
    format!("{}{event}/{body_sha256_hex}.json", archive_day(prefix, date))
}

/// An archive key read back into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveKey<'a> {
    /// The UTC day of receipt.
    pub date: time::Date,
    /// The key-safe `{event}` component ([`NONE`] for a body without a string event).
    pub event: &'a str,
    /// The lowercase hex SHA-256 of the body.
    pub sha256: &'a str,
}

impl<'a> ArchiveKey<'a> {
    /// Parses `key` as an archive key under `prefix`: exactly
    /// `{prefix}_deliveries/YYYY/MM/DD/{event}/{64 lowercase hex}.json`, with a real
    /// date and an event component [`event_component`] could have written. Anything
    /// else is `None`, so nothing outside the archive can pass for part of it.
    pub fn parse(prefix: &Prefix, key: &'a str) -> Option<Self> {
        let rest = key.strip_prefix(prefix.as_str())?.strip_prefix(ARCHIVE_DIR)?;
        let mut parts = rest.split('/');
        let (Some(year), Some(month), Some(day), Some(event), Some(file), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let number = |text: &str, width: usize| {
            (text.len() == width && text.bytes().all(|b| b.is_ascii_digit()))
                .then(|| text.parse::<u16>().ok())
                .flatten()
        };
        let month = time::Month::try_from(u8::try_from(number(month, 2)?).ok()?).ok()?;
        let date =
            time::Date::from_calendar_date(i32::from(number(year, 4)?), month, u8::try_from(number(day, 2)?).ok()?)
                .ok()?;
        let sha256 = file.strip_suffix(".json")?;
        if !crate::hex::is_lower(sha256, 64) || !is_event_component(event) {
            return None;
        }
        Some(ArchiveKey { date, event, sha256 })
    }
}

/// Whether `text` is something [`event_component`] writes: [`NONE`], or safe bytes and
/// `%XX` escapes (uppercase hex), never `.` or `..` themselves.
fn is_event_component(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes == b"." || bytes == b".." {
        return false;
    }
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let escape = bytes.get(i + 1..i + 3);
            if !escape.is_some_and(|e| e.iter().all(|d| crate::hex::UPPER.contains(d))) {
                return false;
            }
            i += 3;
        } else if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-') {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::validate;

    fn id(json: &str) -> String {
        let mut out = String::new();
        push_id_component(&mut out, Some(validate(json.as_bytes()).unwrap()));
        out
    }

    #[test]
    fn prefix_gets_one_trailing_slash() {
        assert_eq!(Prefix::new("").as_str(), "");
        assert_eq!(Prefix::new("a").as_str(), "a/");
        assert_eq!(Prefix::new("a/").as_str(), "a/");
        assert_eq!(Prefix::default().as_str(), "extracta/");
    }

    #[test]
    fn safe_components_percent_encode_every_other_byte() {
        assert_eq!(safe_component(b"Az09_.-"), "Az09_.-");
        assert_eq!(safe_component(b"../../x"), "..%2F..%2Fx");
        assert_eq!(safe_component(b"a/b"), "a%2Fb");
        assert_eq!(safe_component(b"a b~"), "a%20b%7E");
        assert_eq!(safe_component("é".as_bytes()), "%C3%A9");
        assert_eq!(safe_component(b"."), "%2E");
        assert_eq!(safe_component(b".."), "%2E%2E");
        assert_eq!(safe_component(b"..."), "...");
        assert_eq!(safe_component(b"%2F"), "%252F");
    }

    #[test]
    fn ids_from_the_payload() {
        assert_eq!(id(r#""abc""#), "abc");
        assert_eq!(id(r#""a\/b""#), "a%2Fb");
        assert_eq!(id("12"), "12");
        assert_eq!(id("1.5E+3"), "1.5E%2B3");
        assert_eq!(id("-0"), "-0");
        for none in [r#""""#, "null", "true", "[]", "{}"] {
            assert_eq!(id(none), NONE, "{none}");
        }
        let mut none = String::new();
        push_id_component(&mut none, None);
        assert_eq!(none, NONE);
        // A lone surrogate is encoded byte by byte, deterministically.
        assert_eq!(id(r#""\ud800""#), "%ED%A0%80");
    }

    #[test]
    fn key_layouts() {
        let p = Prefix::new("extracta");
        let ids = validate(br#"["e",7,"a/b"]"#).unwrap();
        let mut sc = crate::json::Scanner::new(ids.bytes()).unwrap();
        let mut seq = sc.array_start().unwrap();
        let mut raws = vec![];
        while sc.next_element(&mut seq).unwrap() {
            raws.push(Some(sc.skip_value(1).unwrap()));
        }
        assert_eq!(
            file_key(&p, [raws[0], raws[1], raws[2]], "confirmed.json"),
            "extracta/e/7/a%2Fb/confirmed.json"
        );
        assert_eq!(
            file_key(&Prefix::new(""), [None, None, None], "failed.json"),
            "_none/_none/_none/failed.json"
        );
        let date = time::Date::from_calendar_date(2026, time::Month::March, 7).unwrap();
        assert_eq!(
            archive_key(&Prefix::new(""), date, "extraction.failed", "ab"),
            "_deliveries/2026/03/07/extraction.failed/ab.json"
        );
        assert_eq!(event_component(None), NONE);
        assert_eq!(event_component(Some(b"")), NONE);
        assert_eq!(event_component(Some(b"a/b")), "a%2Fb");
        assert_eq!(archive_day(&p, date), "extracta/_deliveries/2026/03/07/");
        assert_eq!(archive_root(&Prefix::new("")), "_deliveries/");
    }

    #[test]
    fn archive_keys_parse_back_into_their_parts() {
        let sha = "ab".repeat(32);
        let date = time::Date::from_calendar_date(2026, time::Month::March, 7).unwrap();
        for (prefix, event) in [
            ("extracta", "extraction.failed"),
            ("", NONE),
            ("a/b", "%2E%2E"),
            ("x", "a%2Fb"),
        ] {
            let prefix = Prefix::new(prefix);
            let key = archive_key(&prefix, date, event, &sha);
            assert_eq!(
                ArchiveKey::parse(&prefix, &key),
                Some(ArchiveKey {
                    date,
                    event,
                    sha256: &sha
                }),
                "{key}"
            );
        }
        // Every component of one built key, then each way of not being one.
        let p = Prefix::new("extracta");
        let ok = format!("extracta/_deliveries/2026/03/07/extraction.failed/{sha}.json");
        assert!(ArchiveKey::parse(&p, &ok).is_some());
        for bad in [
            format!("other/_deliveries/2026/03/07/e/{sha}.json"),
            format!("extracta/e/b/f/{sha}.json"),
            format!("extracta/_deliveries/2026/03/07/e/{sha}.txt"),
            format!("extracta/_deliveries/2026/03/07/e/{}.json", "AB".repeat(32)),
            format!("extracta/_deliveries/2026/03/07/e/{}.json", "ab".repeat(31)),
            format!("extracta/_deliveries/2026/02/30/e/{sha}.json"),
            format!("extracta/_deliveries/2026/3/07/e/{sha}.json"),
            format!("extracta/_deliveries/2026/03/07/x/e/{sha}.json"),
            format!("extracta/_deliveries/2026/03/07/../{sha}.json"),
            format!("extracta/_deliveries/2026/03/07//{sha}.json"),
            format!("extracta/_deliveries/2026/03/07/a b/{sha}.json"),
            format!("extracta/_deliveries/2026/03/07/%2f/{sha}.json"),
            format!("extracta/_deliveries/2026/03/07/%2/{sha}.json"),
            "extracta/_deliveries/".to_owned(),
        ] {
            assert_eq!(ArchiveKey::parse(&p, &bad), None, "{bad}");
        }
    }
}
