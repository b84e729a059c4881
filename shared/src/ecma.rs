//! ECMAScript `JSON.stringify(JSON.parse(text))`, byte for byte as Node.js prints it.
//!
//! Extracta signs `JSON.stringify(body.result)`; when the raw bytes of `result` do not
//! match (a proxy re-indented the body, say), the signature check re-serializes the parsed
//! value here, following the ECMAScript rules rather than serde's: array-index keys first in
//! ascending order, the first position and last value of a repeated key, Number::toString,
//! and `JSON.stringify`'s string escaping (lone surrogates included).
//!
//! The text is read with [`crate::json::Scanner`] into a small tree (objects must be seen
//! whole before their keys can be ordered), then written out. Both walks recurse, bounded
//! by [`MAX_DEPTH`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

use crate::json::{JsonError, Kind, Scanner, MAX_DEPTH};

/// Re-serializes one JSON text exactly as Node.js prints `JSON.stringify(JSON.parse(text))`.
///
/// The input must be a single JSON value (whitespace around it allowed); anything else, or
/// nesting deeper than [`MAX_DEPTH`], is an error. The output is UTF-8.
pub fn stringify(json: &[u8]) -> Result<Vec<u8>, JsonError> {
    let mut reader = Reader {
        sc: Scanner::new(json)?,
        base: json,
    };
    let value = reader.value(0)?;
    reader.sc.finish()?;
    let mut out = Vec::with_capacity(json.len());
    write_value(&mut out, &value);
    Ok(out)
}

/// A parsed value; strings are WTF-8 and borrow the input when they hold no escape.
enum Value<'a> {
    /// `true`, `false` or `null`, written as they stand.
    Literal(&'a [u8]),
    Number(f64),
    String(Cow<'a, [u8]>),
    Array(Vec<Value<'a>>),
    /// Members in order of first insertion, each key once with its last value.
    Object(Vec<(Cow<'a, [u8]>, Value<'a>)>),
}

/// Builds the value tree from the scanner, with JSON.parse's semantics.
struct Reader<'a> {
    sc: Scanner<'a>,
    base: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads the next value; `depth` counts the containers it stands in.
    fn value(&mut self, depth: usize) -> Result<Value<'a>, JsonError> {
        match self.sc.peek()? {
            Kind::Array => {
                if depth >= MAX_DEPTH {
                    return Err(JsonError::TooDeep);
                }
                let mut seq = self.sc.array_start()?;
                let mut items = Vec::new();
                while self.sc.next_element(&mut seq)? {
                    items.push(self.value(depth + 1)?);
                }
                Ok(Value::Array(items))
            }
            Kind::Object => {
                if depth >= MAX_DEPTH {
                    return Err(JsonError::TooDeep);
                }
                let mut seq = self.sc.object_start()?;
                let mut members = Members::default();
                while let Some(key) = self.sc.next_key(&mut seq)? {
                    let name = key.string_value().ok_or_else(|| self.invalid(key.bytes()))?;
                    let value = self.value(depth + 1)?;
                    members.insert(name, value);
                }
                Ok(Value::Object(members.entries))
            }
            Kind::String => {
                let raw = self.sc.skip_value(depth)?;
                let s = raw.string_value().ok_or_else(|| self.invalid(raw.bytes()))?;
                Ok(Value::String(s))
            }
            Kind::Number => {
                let raw = self.sc.skip_value(depth)?;
                // Rust's float parsing is correctly rounded, as ECMAScript's is, and turns
                // out-of-range magnitudes into infinity (which JSON.stringify prints as null).
                let n = std::str::from_utf8(raw.bytes())
                    .ok()
                    .and_then(|t| t.parse::<f64>().ok())
                    .ok_or_else(|| self.invalid(raw.bytes()))?;
                Ok(Value::Number(n))
            }
            Kind::Bool | Kind::Null => Ok(Value::Literal(self.sc.skip_value(depth)?.bytes())),
        }
    }

    /// A syntax error at `part`, a slice the scanner accepted but this reader cannot use.
    fn invalid(&self, part: &[u8]) -> JsonError {
        let offset = (part.as_ptr() as usize).saturating_sub(self.base.as_ptr() as usize);
        JsonError::Syntax { offset }
    }
}

/// Objects with more members than this get a hash index for repeated-key lookups.
const LINEAR_LOOKUP_MAX: usize = 16;

/// An object under construction: JSON.parse's `CreateDataProperty` for each member.
#[derive(Default)]
struct Members<'a> {
    entries: Vec<(Cow<'a, [u8]>, Value<'a>)>,
    /// Key to position in `entries`, once the object outgrows a linear scan.
    index: Option<HashMap<Cow<'a, [u8]>, usize>>,
}

impl<'a> Members<'a> {
    /// Adds a member; a repeated key keeps its first position and takes the new value.
    fn insert(&mut self, key: Cow<'a, [u8]>, value: Value<'a>) {
        let found = match &self.index {
            Some(index) => index.get(&key).copied(),
            None => self.entries.iter().position(|(k, _)| *k == key),
        };
        if let Some(slot) = found.and_then(|at| self.entries.get_mut(at)) {
            slot.1 = value;
            return;
        }
        if let Some(index) = &mut self.index {
            index.insert(key.clone(), self.entries.len());
        } else if self.entries.len() >= LINEAR_LOOKUP_MAX {
            let mut index: HashMap<_, _> = self
                .entries
                .iter()
                .enumerate()
                .map(|(at, (k, _))| (k.clone(), at))
                .collect();
            index.insert(key.clone(), self.entries.len());
            self.index = Some(index);
        }
        self.entries.push((key, value));
    }
}

fn write_value(out: &mut Vec<u8>, value: &Value<'_>) {
    match value {
        Value::Literal(text) => out.extend_from_slice(text),
        Value::Number(n) => write_number(out, *n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(entries) => write_object(out, entries),
    }
}

/// Writes an object's members in ECMAScript's own-property order.
fn write_object(out: &mut Vec<u8>, entries: &[(Cow<'_, [u8]>, Value<'_>)]) {
    out.push(b'{');
    let mut first = true;
    let mut member = |out: &mut Vec<u8>, key: &[u8], value: &Value<'_>| {
        if !std::mem::replace(&mut first, false) {
            out.push(b',');
        }
        write_string(out, key);
        out.push(b':');
        write_value(out, value);
    };
    // Array indices first, ascending; keys are unique here, so an unstable sort is exact.
    let mut indices: Vec<(u32, &[u8], &Value<'_>)> = entries
        .iter()
        .filter_map(|(k, v)| array_index(k).map(|i| (i, &**k, v)))
        .collect();
    indices.sort_unstable_by_key(|&(i, _, _)| i);
    for (_, key, value) in indices {
        member(out, key, value);
    }
    for (key, value) in entries.iter().filter(|(k, _)| array_index(k).is_none()) {
        member(out, key, value);
    }
    out.push(b'}');
}

/// The key's value if it is an array index: the canonical decimal form of an integer
/// from 0 to 2^32 - 2 (no sign, no leading zero except `0` itself).
fn array_index(key: &[u8]) -> Option<u32> {
    match key {
        [] => None,
        [b'0'] => Some(0),
        [b'0', ..] => None,
        _ if key.len() > 10 => None,
        _ => {
            let mut v: u64 = 0;
            for &d in key {
                if !d.is_ascii_digit() {
                    return None;
                }
                v = v * 10 + u64::from(d - b'0');
            }
            u32::try_from(v).ok().filter(|&i| i != u32::MAX)
        }
    }
}

/// Writes a WTF-8 string as JSON.stringify's QuoteJSONString does.
fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let mut run = 0; // start of the bytes not yet copied
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        let escape: Option<(u16, usize)> = match b {
            0x00..=0x1F | b'"' | b'\\' => Some((u16::from(b), 1)),
            // In WTF-8, ED A0..BF xx is a surrogate code point: it can only be a lone one.
            0xED => match (s.get(i + 1), s.get(i + 2)) {
                (Some(&b1 @ 0xA0..=0xBF), Some(&b2)) => {
                    Some((0xD000 | (u16::from(b1 & 0x3F) << 6) | u16::from(b2 & 0x3F), 3))
                }
                _ => None,
            },
            _ => None,
        };
        let Some((unit, len)) = escape else {
            i += 1;
            continue;
        };
        out.extend_from_slice(s.get(run..i).unwrap_or_default());
        match unit {
            0x08 => out.extend_from_slice(b"\\b"),
            0x09 => out.extend_from_slice(b"\\t"),
            0x0A => out.extend_from_slice(b"\\n"),
            0x0C => out.extend_from_slice(b"\\f"),
            0x0D => out.extend_from_slice(b"\\r"),
            0x22 => out.extend_from_slice(b"\\\""),
            0x5C => out.extend_from_slice(b"\\\\"),
            _ => {
                out.extend_from_slice(b"\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(HEX[usize::from((unit >> shift) & 0xF)]);
                }
            }
        }
        i += len;
        run = i;
    }
    out.extend_from_slice(s.get(run..).unwrap_or_default());
    out.push(b'"');
}

/// Writes a number as ECMAScript's Number::toString(10), or `null` when not finite.
fn write_number(out: &mut Vec<u8>, n: f64) {
    if !n.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    if n == 0.0 {
        out.push(b'0'); // -0 prints as 0
        return;
    }
    if n < 0.0 {
        out.push(b'-');
    }
    // `{:e}` prints the shortest digits that round-trip (closest to the value on a tie of
    // length), which is what ECMAScript asks for: "d[.ddd]eX".
    let mut sci = SmallBuf::default();
    if write!(sci, "{:e}", n.abs()).is_err() {
        out.extend_from_slice(b"null"); // unreachable: 32 bytes hold any f64 in this form
        return;
    }
    let text = sci.as_bytes();
    let e_at = text.iter().position(|&b| b == b'e').unwrap_or(text.len());
    let (mantissa, exponent) = text.split_at(e_at);
    let exponent: i32 = std::str::from_utf8(exponent.get(1..).unwrap_or_default())
        .ok()
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    let mut digits = [0u8; 24];
    let mut k = 0;
    for &d in mantissa.iter().filter(|d| d.is_ascii_digit()) {
        if let Some(slot) = digits.get_mut(k) {
            *slot = d;
            k += 1;
        }
    }
    let digits = digits.get(..k).unwrap_or_default();
    // ECMAScript: the value is 0.d1d2...dk × 10^n, with k digits.
    let k = k as i32; // at most 24
    let n = exponent + 1;
    let zeros = |out: &mut Vec<u8>, count: i32| {
        out.extend(std::iter::repeat_n(b'0', usize::try_from(count).unwrap_or(0)));
    };
    if k <= n && n <= 21 {
        out.extend_from_slice(digits);
        zeros(out, n - k);
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(usize::try_from(n).unwrap_or(0).min(digits.len()));
        out.extend_from_slice(int);
        out.push(b'.');
        out.extend_from_slice(frac);
    } else if -6 < n && n <= 0 {
        out.extend_from_slice(b"0.");
        zeros(out, -n);
        out.extend_from_slice(digits);
    } else {
        let (lead, rest) = digits.split_at(digits.len().min(1));
        out.extend_from_slice(lead);
        if !rest.is_empty() {
            out.push(b'.');
            out.extend_from_slice(rest);
        }
        out.push(b'e');
        out.push(if n - 1 >= 0 { b'+' } else { b'-' });
        let mut exp = SmallBuf::default();
        // Writing an i32 into 32 bytes cannot fail.
        let _ = write!(exp, "{}", (n - 1).unsigned_abs());
        out.extend_from_slice(exp.as_bytes());
    }
}

/// A fixed stack buffer for formatting one number without allocating.
#[derive(Default)]
struct SmallBuf {
    buf: [u8; 32],
    len: usize,
}

impl SmallBuf {
    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

impl std::fmt::Write for SmallBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let slot = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(text: &str) -> String {
        let out = stringify(text.as_bytes()).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn ecma_orders_array_index_keys_first_then_insertion_order() {
        assert_eq!(
            js(r#"{"b":1,"10":2,"a":3,"2":4,"0":5,"01":6,"-1":7,"1.5":8}"#),
            r#"{"0":5,"2":4,"10":2,"b":1,"a":3,"01":6,"-1":7,"1.5":8}"#
        );
        // 2^32 - 2 is the largest array index; 2^32 - 1 and beyond are ordinary keys.
        assert_eq!(
            js(r#"{"x":0,"4294967295":1,"4294967294":2,"4294967296":3,"99999999999":4}"#),
            r#"{"4294967294":2,"x":0,"4294967295":1,"4294967296":3,"99999999999":4}"#
        );
        // Escapes are resolved before deciding: "\u0031" is the index 1.
        assert_eq!(js(r#"{"a":0,"\u0031":1}"#), r#"{"1":1,"a":0}"#);
        assert_eq!(
            js(r#"{"+1":0," 1":1,"1 ":2,"00":3,"":4}"#),
            r#"{"+1":0," 1":1,"1 ":2,"00":3,"":4}"#
        );
    }

    #[test]
    fn ecma_repeated_key_keeps_first_position_and_last_value() {
        assert_eq!(js(r#"{"a":1,"b":2,"a":3}"#), r#"{"a":3,"b":2}"#);
        assert_eq!(js(r#"{"a":1,"b":2,"\u0061":{"x":[]}}"#), r#"{"a":{"x":[]},"b":2}"#);
        assert_eq!(js(r#"{"5":1,"z":2,"5":3}"#), r#"{"5":3,"z":2}"#);
        assert_eq!(js(r#"{"__proto__":1,"__proto__":2}"#), r#"{"__proto__":2}"#);
        // GIVEN an object large enough to switch to the hash index
        // THEN a repeat still lands in its first slot.
        let mut text = String::from("{");
        for i in 0..40 {
            text.push_str(&format!("\"k{i}\":{i},"));
        }
        text.push_str("\"k3\":\"last\",\"k39\":true}");
        let out = js(&text);
        assert!(out.starts_with(r#"{"k0":0,"k1":1,"k2":2,"k3":"last","k4":4,"#), "{out}");
        assert!(out.ends_with(r#""k38":38,"k39":true}"#), "{out}");
    }

    #[test]
    fn ecma_numbers_follow_number_to_string() {
        for (input, expected) in [
            ("1.0", "1"),
            ("-0", "0"),
            ("-0.0e5", "0"),
            ("100", "100"),
            ("1e21", "1e+21"),
            ("1E21", "1e+21"),
            ("123456789012345678901", "123456789012345680000"),
            ("1e20", "100000000000000000000"),
            ("1e-7", "1e-7"),
            ("1.5e-7", "1.5e-7"),
            ("0.000001", "0.000001"),
            ("0.0000012345", "0.0000012345"),
            ("12345678901234567890", "12345678901234567000"),
            ("9007199254740993", "9007199254740992"),
            ("0.30000000000000004", "0.30000000000000004"),
            ("5e-324", "5e-324"),
            ("2e-324", "0"),
            ("1.7976931348623157e308", "1.7976931348623157e+308"),
            ("1e400", "null"),
            ("-1e400", "null"),
            ("-1.25", "-1.25"),
            ("123.456", "123.456"),
            ("-12.5E+2", "-1250"),
        ] {
            assert_eq!(js(input), expected, "{input}");
        }
    }

    #[test]
    fn ecma_escapes_strings_like_json_stringify() {
        assert_eq!(js(r#""a\"b\\c\/d/""#), r#""a\"b\\c/d/""#);
        assert_eq!(js(r#""\b\f\n\r\t""#), r#""\b\f\n\r\t""#);
        assert_eq!(
            js(r#""\u0000\u001F\u001b\u000B\u0008""#),
            r#""\u0000\u001f\u001b\u000b\b""#
        );
        // DEL, U+2028/9, non-ASCII and astral characters are written raw.
        assert_eq!(
            js(r#""\u007f\u2028\u2029\u00e9\ud83d\ude00""#),
            "\"\u{7f}\u{2028}\u{2029}é😀\""
        );
        assert_eq!(js("\"é😀\u{2028}\""), "\"é😀\u{2028}\"");
    }

    #[test]
    fn ecma_escapes_lone_surrogates() {
        assert_eq!(js(r#""\uD800""#), r#""\ud800""#);
        assert_eq!(js(r#""x\uDFFFy""#), r#""x\udfffy""#);
        assert_eq!(js(r#""\udc00\ud800""#), r#""\udc00\ud800""#);
        assert_eq!(js(r#""\ud800\ud83d\ude00""#), "\"\\ud800😀\"");
        assert_eq!(js(r#"{"\ud800":1}"#), r#"{"\ud800":1}"#);
        // A surrogate pair written as escapes is one character, written raw.
        assert_eq!(js(r#""\uD83D\uDE00""#), "\"😀\"");
    }

    #[test]
    fn ecma_drops_whitespace_and_keeps_literals() {
        assert_eq!(
            js(" {\n  \"a\" : [ 1 ,\t2 ] ,\r\n \"b\" : { } , \"c\":[ ] ,\"d\": null, \"e\" :true , \"f\":false }\n"),
            r#"{"a":[1,2],"b":{},"c":[],"d":null,"e":true,"f":false}"#
        );
        assert_eq!(js("\"\""), r#""""#);
        assert_eq!(js(" null "), "null");
    }

    #[test]
    fn ecma_bounds_depth() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(stringify(deep(MAX_DEPTH).as_bytes()).is_ok());
        assert_eq!(stringify(deep(MAX_DEPTH + 1).as_bytes()), Err(JsonError::TooDeep));
        let objects = |n: usize| format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
        assert!(stringify(objects(MAX_DEPTH).as_bytes()).is_ok());
        assert_eq!(stringify(objects(MAX_DEPTH + 1).as_bytes()), Err(JsonError::TooDeep));
        assert_eq!(stringify(deep(1_000_000).as_bytes()), Err(JsonError::TooDeep));
    }

    #[test]
    fn ecma_max_depth_fits_a_tokio_worker_stack() {
        // GIVEN the deepest text accepted, alternating objects and arrays
        let mut text = String::new();
        for i in 0..MAX_DEPTH {
            text.push_str(if i % 2 == 0 { "{\"k\":" } else { "[0," });
        }
        text.push_str("null");
        for i in (0..MAX_DEPTH).rev() {
            text.push(if i % 2 == 0 { '}' } else { ']' });
        }
        let expected = text.clone();
        // WHEN it is re-serialized on a thread with tokio's 2 MiB worker stack
        let out = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || stringify(text.as_bytes()))
            .unwrap()
            .join()
            .expect("stringify overflowed a 2 MiB stack");
        // THEN it completes (and the text was already in Node's form)
        assert_eq!(String::from_utf8(out.unwrap()).unwrap(), expected);
    }

    #[test]
    fn ecma_rejects_garbage_without_panicking() {
        for bad in [
            &b""[..],
            b" ",
            b"{",
            b"}",
            b"[1,]",
            b"{\"a\"}",
            b"{\"a\":}",
            b"01",
            b"1.",
            b"-",
            b"+1",
            b"NaN",
            b"Infinity",
            b"[1] [2]",
            b"\"\\ud8",
            b"\"\xff\"",
            b"\xed\xa0\x80",
            b"\"\t\"",
            b"{\"a\":1,}",
            b"tru",
            b"nul",
            b"[",
            b"\"",
            b"\\",
            b"\0",
            b"1e",
            b"1e+",
            b"0x10",
        ] {
            assert!(stringify(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        // Every prefix of a tricky text is either accepted or cleanly refused.
        let text = "{\"a\\u00e9\":[1.5e-7,-0,\"\\ud800\\udc00\\n\",{\"0\":true,\"0\":null}],\"é\":1e400}";
        for end in 0..=text.len() {
            if let Some(prefix) = text.as_bytes().get(..end) {
                let _ = stringify(prefix);
            }
        }
    }

    #[test]
    fn ecma_array_index_boundaries() {
        assert_eq!(array_index(b"0"), Some(0));
        assert_eq!(array_index(b"4294967294"), Some(4_294_967_294));
        assert_eq!(array_index(b"4294967295"), None);
        assert_eq!(array_index(b"9999999999"), None);
        assert_eq!(array_index(b"42949672940"), None);
        for not in [
            &b""[..],
            b"00",
            b"01",
            b"-0",
            b"-1",
            b"+1",
            b"1.0",
            b"1e3",
            b" 1",
            b"\xd9\xa1",
        ] {
            assert_eq!(array_index(not), None, "{not:?}");
        }
    }
}
