//! The S3 key layout: safe key components, per-file keys and the delivery-archive key.

use crate::json::{Kind, Raw};

/// The component written for a missing, null, empty or non-string id.
pub const NONE: &str = "_none";

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
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
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
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
    }
}

/// The key component for an id taken from the payload: a non-empty string made safe,
/// a number as its JSON text, anything else (or nothing) [`NONE`].
pub fn id_component(value: Option<Raw<'_>>) -> String {
    let mut out = String::new();
    push_id_component(&mut out, value);
    out
}

/// [`id_component`], appended to `out`.
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
/// [`id_component`].
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

/// `{prefix}_deliveries/{YYYY}/{MM}/{DD}/{event}/{sha256 hex}.json`.
pub fn archive_key(prefix: &Prefix, date: time::Date, event: &str, body_sha256_hex: &str) -> String {
    format!(
        "{}_deliveries/{:04}/{:02}/{:02}/{event}/{body_sha256_hex}.json",
        prefix.as_str(),
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::validate;

    fn id(json: &str) -> String {
        id_component(Some(validate(json.as_bytes()).unwrap()))
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
        assert_eq!(id_component(None), NONE);
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
    }
}
