//! ECMAScript `JSON.stringify(JSON.parse(text))`, byte for byte as Node.js prints it.
//!
//! Extracta signs `JSON.stringify(body.result)`; when the raw bytes of `result` do not
//! match (a proxy re-indented the body, say), the signature check re-serializes the parsed
//! value here, following the ECMAScript rules rather than serde's: array-index keys first in
//! ascending order, the first position and last value of a repeated key, Number::toString,
//! and `JSON.stringify`'s string escaping (lone surrogates included).
//!
//! This runs on unauthenticated bodies, so it builds no value tree (a tree of a 6 MiB
//! `[0,0,...]` costs over 100 MB). One walk of [`crate::json::Scanner`] writes every value
//! in input order; an object whose members must move (an array-index key out of place, a
//! repeated key) is noted as a region with its members' new order, and a second pass copies
//! the bytes out in that order. Memory stays within twice the output plus a few words per
//! member of a moved object; time is linear, but for sorting the keys of large objects.

use std::ops::Range;

use crate::json::{write_string, JsonError, Kind, Scanner, MAX_DEPTH};

/// Re-serializes one JSON text exactly as Node.js prints `JSON.stringify(JSON.parse(text))`.
///
/// The input must be a single JSON value (whitespace around it allowed); anything else, or
/// nesting deeper than [`MAX_DEPTH`], is an error. The output is UTF-8.
pub fn stringify(json: &[u8]) -> Result<Vec<u8>, JsonError> {
    let mut w = Writer {
        sc: Scanner::new(json)?,
        base: json,
        raw: Vec::with_capacity(json.len()),
        members: Vec::new(),
        regions: Vec::new(),
        pieces: Vec::new(),
        order: Vec::new(),
        finals: Vec::new(),
    };
    w.value(0)?;
    w.sc.finish()?;
    Ok(w.into_output())
}

/// One member of an object, as written: `"key":value` at `key.0..end` of the output.
#[derive(Debug, Clone, Copy)]
struct Member {
    /// Where the key stands, quotes included. JSON.stringify's escaping is one-to-one, so
    /// two keys are the same key exactly when these bytes are equal.
    key: (usize, usize),
    end: usize,
}

/// An object whose members are written in input order but must come out in another.
#[derive(Debug)]
struct Region {
    /// Where the object stands in the input-order output, braces included.
    span: Range<usize>,
    /// Its members in their final order, as indices into `Writer::pieces`.
    pieces: Range<usize>,
}

/// Serializes while scanning; see the module comment.
struct Writer<'a> {
    sc: Scanner<'a>,
    base: &'a [u8],
    /// Every value serialized, objects with their members in input order.
    raw: Vec<u8>,
    /// The members of the objects still open, innermost last.
    members: Vec<Member>,
    /// Objects to reorder, in the order they closed.
    regions: Vec<Region>,
    /// Byte ranges of `raw` (whole members) making up the regions, in final order.
    pieces: Vec<(usize, usize)>,
    /// Scratch for `settle`: member indices sorted by key.
    order: Vec<usize>,
    /// Scratch for `settle`: (sort key, member index) of each distinct key.
    finals: Vec<((bool, u64), usize)>,
}

impl<'a> Writer<'a> {
    /// Serializes the next value; `depth` counts the containers it stands in.
    fn value(&mut self, depth: usize) -> Result<(), JsonError> {
        match self.sc.peek()? {
            Kind::Array => {
                if depth >= MAX_DEPTH {
                    return Err(JsonError::TooDeep);
                }
                let mut seq = self.sc.array_start()?;
                self.raw.push(b'[');
                let mut first = true;
                while self.sc.next_element(&mut seq)? {
                    if !std::mem::replace(&mut first, false) {
                        self.raw.push(b',');
                    }
                    self.value(depth + 1)?;
                }
                self.raw.push(b']');
            }
            Kind::Object => self.object(depth)?,
            Kind::String => {
                let raw = self.sc.skip_value(depth)?;
                if raw.bytes().contains(&b'\\') {
                    let s = raw.string_value().ok_or_else(|| self.invalid(raw.bytes()))?;
                    write_string(&mut self.raw, &s);
                } else {
                    // Without escapes a valid JSON string is already in JSON.stringify's form.
                    self.raw.extend_from_slice(raw.bytes());
                }
            }
            Kind::Number => {
                let raw = self.sc.skip_value(depth)?;
                // Rust's float parsing is correctly rounded, as ECMAScript's is, and turns
                // out-of-range magnitudes into infinity (which JSON.stringify prints as null).
                let n = std::str::from_utf8(raw.bytes())
                    .ok()
                    .and_then(|t| t.parse::<f64>().ok())
                    .ok_or_else(|| self.invalid(raw.bytes()))?;
                write_number(&mut self.raw, n);
            }
            Kind::Bool | Kind::Null => {
                let raw = self.sc.skip_value(depth)?;
                self.raw.extend_from_slice(raw.bytes());
            }
        }
        Ok(())
    }

    fn object(&mut self, depth: usize) -> Result<(), JsonError> {
        if depth >= MAX_DEPTH {
            return Err(JsonError::TooDeep);
        }
        let mut seq = self.sc.object_start()?;
        let start = self.raw.len();
        self.raw.push(b'{');
        let first = self.members.len();
        while let Some(key) = self.sc.next_key(&mut seq)? {
            if self.members.len() > first {
                self.raw.push(b',');
            }
            let key_start = self.raw.len();
            let name = key.string_value().ok_or_else(|| self.invalid(key.bytes()))?;
            write_string(&mut self.raw, &name);
            let key_end = self.raw.len();
            self.raw.push(b':');
            self.value(depth + 1)?;
            self.members.push(Member {
                key: (key_start, key_end),
                end: self.raw.len(),
            });
        }
        self.raw.push(b'}');
        self.settle(start, first);
        self.members.truncate(first);
        Ok(())
    }

    /// Decides the final order of the object just written (`members[first..]`) and, if it
    /// differs from the input order, records it as a region.
    fn settle(&mut self, start: usize, first: usize) {
        let Writer {
            raw,
            members,
            regions,
            pieces,
            order,
            finals,
            ..
        } = self;
        let raw: &[u8] = raw;
        let members = members.get(first..).unwrap_or_default();
        let key = move |m: &Member| -> &[u8] { raw.get(m.key.0..m.key.1).unwrap_or_default() };
        // A key is an array index if its written form is (quoted) digits only.
        let index = move |m: &Member| {
            let quoted = key(m);
            array_index(quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or_default())
        };

        // Already in order: array indices, strictly ascending, before any other key...
        let mut in_order = true;
        let mut last_index = None;
        let mut named = false;
        for m in members {
            match index(m) {
                Some(i) => {
                    in_order &= !named && last_index.is_none_or(|last| last < i);
                    last_index = Some(i);
                }
                None => named = true,
            }
        }
        // ...and no key repeated.
        order.clear();
        order.extend(0..members.len());
        if in_order {
            let repeated = if members.len() <= 16 {
                members
                    .iter()
                    .enumerate()
                    .any(|(i, a)| members.iter().take(i).any(|b| key(a) == key(b)))
            } else {
                order.sort_by(|&a, &b| key_of(members, a, &key).cmp(key_of(members, b, &key)));
                order
                    .windows(2)
                    .any(|w| matches!(w, [a, b] if key_of(members, *a, &key) == key_of(members, *b, &key)))
            };
            if !repeated {
                return;
            }
        }
        // Group equal keys (a stable sort keeps each group in input order): each takes the
        // position of its first occurrence and the value of its last.
        order.sort_by(|&a, &b| key_of(members, a, &key).cmp(key_of(members, b, &key)));
        finals.clear();
        for group in order.chunk_by(|&a, &b| key_of(members, a, &key) == key_of(members, b, &key)) {
            let (Some(&head), Some(&last)) = (group.first(), group.last()) else {
                continue;
            };
            let Some(m) = members.get(head) else { continue };
            // Array indices first by value, then the other keys by first position.
            let rank = match index(m) {
                Some(i) => (false, u64::from(i)),
                None => (true, head as u64),
            };
            finals.push((rank, last));
        }
        finals.sort_unstable_by_key(|&(rank, _)| rank);
        let from = pieces.len();
        for &(_, last) in finals.iter() {
            if let Some(m) = members.get(last) {
                pieces.push((m.key.0, m.end));
            }
        }
        regions.push(Region {
            span: start..raw.len(),
            pieces: from..pieces.len(),
        });
    }

    /// The final bytes: `raw` itself, or `raw` with every region's members reordered.
    fn into_output(mut self) -> Vec<u8> {
        if self.regions.is_empty() {
            return self.raw;
        }
        // Regions nest like the objects they are; sorted by start, an outer one comes first.
        self.regions.sort_unstable_by_key(|r| r.span.start);
        let mut out = Vec::with_capacity(self.raw.len());
        self.copy(&mut out, 0..self.raw.len());
        out
    }

    /// Copies `raw[range]`, writing each region met in its final order.
    fn copy(&self, out: &mut Vec<u8>, range: Range<usize>) {
        let mut at = range.start;
        while at < range.end {
            let next = self.regions.partition_point(|r| r.span.start < at);
            match self.regions.get(next) {
                Some(region) if region.span.start < range.end => {
                    out.extend_from_slice(self.raw.get(at..region.span.start).unwrap_or_default());
                    out.push(b'{');
                    let pieces = self.pieces.get(region.pieces.clone()).unwrap_or_default();
                    for (i, &(from, to)) in pieces.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        self.copy(out, from..to);
                    }
                    out.push(b'}');
                    at = region.span.end;
                }
                _ => {
                    out.extend_from_slice(self.raw.get(at..range.end).unwrap_or_default());
                    at = range.end;
                }
            }
        }
    }

    /// A syntax error at `part`, a slice the scanner accepted but this writer cannot use.
    fn invalid(&self, part: &[u8]) -> JsonError {
        let offset = (part.as_ptr() as usize).saturating_sub(self.base.as_ptr() as usize);
        JsonError::Syntax { offset }
    }
}

/// The written key of `members[i]`.
fn key_of<'r>(members: &[Member], i: usize, key: &impl Fn(&Member) -> &'r [u8]) -> &'r [u8] {
    members.get(i).map(key).unwrap_or_default()
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

/// Writes a number as ECMAScript's Number::toString(10) (ryu-js: the shortest digits that
/// read back as the value, the closest of them, the even one on an exact tie; `-0` as `0`),
/// or `null` when not finite, as `JSON.stringify` does.
fn write_number(out: &mut Vec<u8>, n: f64) {
    if !n.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    out.extend_from_slice(ryu_js::Buffer::new().format_finite(n).as_bytes());
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
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
        // GIVEN an object large enough to be checked for repeats by sorting
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
            // Exactly halfway between two shortest candidates: the even one.
            ("123932407648950.625", "123932407648950.62"),
            ("-1962943520651105.25", "-1962943520651105.2"),
            ("1962943520651105.75", "1962943520651105.8"),
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
        // GIVEN the deepest text accepted, alternating arrays and objects, where every
        // object must be reordered (so the second pass recurses as deep as the first)
        let (mut text, mut expected) = (String::new(), String::new());
        for i in 0..MAX_DEPTH {
            text.push_str(if i % 2 == 0 { "[0," } else { "{\"z\":1,\"1\":" });
            expected.push_str(if i % 2 == 0 { "[0," } else { "{\"0\":0,\"1\":" });
        }
        text.push_str("null");
        expected.push_str("null");
        for i in (0..MAX_DEPTH).rev() {
            text.push_str(if i % 2 == 0 { "]" } else { ",\"0\":0}" });
            expected.push_str(if i % 2 == 0 { "]" } else { ",\"z\":1}" });
        }
        // WHEN it is re-serialized on a thread with tokio's 2 MiB worker stack
        let out = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || stringify(text.as_bytes()))
            .unwrap()
            .join()
            .expect("stringify overflowed a 2 MiB stack");
        // THEN it completes
        assert_eq!(String::from_utf8(out.unwrap()).unwrap(), expected);
    }

    #[test]
    fn ecma_reorders_nested_objects_independently() {
        // Reordered objects inside reordered objects, inside arrays, next to ordered ones.
        assert_eq!(
            js(r#"[{"b":{"y":1,"3":{"q":0,"0":[{"k":1,"k":2}]},"x":2},"1":[{"z":0,"2":1}],"a":{"c":1}},{"d":4}]"#),
            r#"[{"1":[{"2":1,"z":0}],"b":{"3":{"0":[{"k":2}],"q":0},"y":1,"x":2},"a":{"c":1}},{"d":4}]"#
        );
        // A repeated key whose earlier value held a reordered object: only the last stays.
        assert_eq!(
            js(r#"{"a":{"z":0,"0":1},"b":2,"a":{"1":1,"y":0}}"#),
            r#"{"a":{"1":1,"y":0},"b":2}"#
        );
        // Index keys already first and ascending, no repeats: nothing moves.
        assert_eq!(js(r#"{"0":[],"7":{},"x":{"1":0}}"#), r#"{"0":[],"7":{},"x":{"1":0}}"#);
        assert_eq!(js(r#"{"7":0,"7":1}"#), r#"{"7":1}"#);
        assert_eq!(js(r#"{"7":0,"0":1}"#), r#"{"0":1,"7":0}"#);
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
