//! A validating JSON pull scanner that reports where each value stands in the raw bytes.
//!
//! The webhook needs the *exact* bytes of members (the signature's rule (a) and the stored
//! file objects), JSON.parse's semantics for duplicate keys and lone surrogates, and a
//! bounded nesting depth; serde_json offers none of the three together, so the body is
//! read here once, byte by byte, without building a tree.

use std::borrow::Cow;

/// Deepest nesting of arrays and objects accepted anywhere in a body.
pub const MAX_DEPTH: usize = 512;

/// Why bytes are not an acceptable JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// The bytes are not UTF-8.
    #[error("body is not valid UTF-8")]
    InvalidUtf8,
    /// The JSON grammar is broken at this byte offset.
    #[error("invalid JSON at byte {offset}")]
    Syntax {
        /// Offset of the first byte that does not fit.
        offset: usize,
    },
    /// Arrays and objects nest deeper than [`MAX_DEPTH`].
    #[error("JSON nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// The kind of a JSON value, from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `{...}`
    Object,
    /// `[...]`
    Array,
    /// `"..."`
    String,
    /// `-1.5e3`
    Number,
    /// `true` or `false`
    Bool,
    /// `null`
    Null,
}

/// A value's exact text in the input, already validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raw<'a> {
    text: &'a [u8],
    kind: Kind,
}

impl<'a> Raw<'a> {
    /// The value's bytes exactly as they stand in the input.
    pub fn bytes(&self) -> &'a [u8] {
        self.text
    }

    /// What kind of value this is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// For a string, its value as JSON.parse would see it, in WTF-8 (UTF-8 that also
    /// carries lone surrogates as three-byte sequences); `None` for other kinds.
    pub fn string_value(&self) -> Option<Cow<'a, [u8]>> {
        if self.kind != Kind::String {
            return None;
        }
        let inner = self.text.get(1..self.text.len().saturating_sub(1))?;
        Some(unescape(inner))
    }

    /// For a string without lone surrogates, its value as `str`.
    pub fn as_str(&self) -> Option<Cow<'a, str>> {
        match self.string_value()? {
            Cow::Borrowed(b) => std::str::from_utf8(b).ok().map(Cow::Borrowed),
            Cow::Owned(v) => String::from_utf8(v).ok().map(Cow::Owned),
        }
    }

    /// Whether this is a string whose value equals `s` (escapes resolved).
    pub fn is_string(&self, s: &str) -> bool {
        self.string_value().is_some_and(|v| *v == *s.as_bytes())
    }
}

/// Decodes the inside of a validated JSON string into WTF-8.
///
/// An escaped high surrogate directly followed by an escaped low surrogate makes one
/// character; any other surrogate stays alone, encoded as its three-byte sequence.
fn unescape(inner: &[u8]) -> Cow<'_, [u8]> {
    if !inner.contains(&b'\\') {
        return Cow::Borrowed(inner);
    }
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        // A validated string holds no raw `"` or control character, so the next stop is
        // the next escape: copy the run before it whole (a body decoded from an API
        // Gateway event is mostly such runs, between its escaped quotes).
        let stop = find_stop::<false>(inner, i).unwrap_or(inner.len());
        out.extend_from_slice(&inner[i..stop]);
        i = stop;
        match inner.get(i) {
            Some(b'\\') => {}
            // Not reached for a validated string; copied as it always was.
            Some(&b) => {
                out.push(b);
                i += 1;
                continue;
            }
            None => break,
        }
        let Some(&esc) = inner.get(i + 1) else { break };
        i += 2;
        let simple = match esc {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            continue;
        }
        let Some(unit) = hex4(inner, i) else { break };
        i += 4;
        let code =
            if (0xD800..0xDC00).contains(&unit) && inner.get(i) == Some(&b'\\') && inner.get(i + 1) == Some(&b'u') {
                match hex4(inner, i + 2) {
                    Some(low) if (0xDC00..0xE000).contains(&low) => {
                        i += 6;
                        0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00)
                    }
                    _ => u32::from(unit),
                }
            } else {
                u32::from(unit)
            };
        push_wtf8(&mut out, code);
    }
    Cow::Owned(out)
}

fn hex4(bytes: &[u8], at: usize) -> Option<u16> {
    let digits = bytes.get(at..at + 4)?;
    let mut v: u16 = 0;
    for &d in digits {
        v = (v << 4) | u16::from(hex_value(d)?);
    }
    Some(v)
}

fn hex_value(d: u8) -> Option<u8> {
    match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        b'A'..=b'F' => Some(d - b'A' + 10),
        _ => None,
    }
}

/// Appends a code point (surrogates included) in generalized UTF-8.
fn push_wtf8(out: &mut Vec<u8>, code: u32) {
    // Each arm's shifts and masks keep the value inside u8, so `as` does not truncate.
    match code {
        0..=0x7F => out.push(code as u8),
        0x80..=0x7FF => out.extend_from_slice(&[0xC0 | (code >> 6) as u8, 0x80 | (code & 0x3F) as u8]),
        0x800..=0xFFFF => out.extend_from_slice(&[
            0xE0 | (code >> 12) as u8,
            0x80 | ((code >> 6) & 0x3F) as u8,
            0x80 | (code & 0x3F) as u8,
        ]),
        _ => out.extend_from_slice(&[
            0xF0 | (code >> 18) as u8,
            0x80 | ((code >> 12) & 0x3F) as u8,
            0x80 | ((code >> 6) & 0x3F) as u8,
            0x80 | (code & 0x3F) as u8,
        ]),
    }
}

/// Appends `value` (WTF-8) as a JSON string literal, escaped as `JSON.stringify` does:
/// `\"`, `\\`, `\b \f \n \r \t`, other controls and lone surrogates as lowercase `\uXXXX`.
pub fn write_string(out: &mut Vec<u8>, value: &[u8]) {
    use crate::hex::{digits, LOWER};
    out.reserve(value.len() + 2);
    out.push(b'"');
    let mut run = 0; // start of the bytes not yet copied
    let mut i = 0;
    while let Some(stop) = find_stop::<true>(value, i) {
        i = stop;
        let b = value[i];
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            0x08 => Some(b"\\b"),
            0x0c => Some(b"\\f"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            _ => None,
        };
        let lone_surrogate = b == 0xED && value.get(i + 1).is_some_and(|&c| c >= 0xA0);
        if escape.is_none() && b >= 0x20 && !lone_surrogate {
            i += 1;
            continue;
        }
        out.extend_from_slice(&value[run..i]);
        if let Some(e) = escape {
            out.extend_from_slice(e);
            i += 1;
        } else if lone_surrogate {
            let unit =
                0xD000 | (u16::from(value[i + 1] & 0x3F) << 6) | u16::from(value.get(i + 2).map_or(0, |c| c & 0x3F));
            let [hi, lo] = unit.to_be_bytes();
            out.extend_from_slice(b"\\u");
            out.extend_from_slice(&digits(hi, LOWER));
            out.extend_from_slice(&digits(lo, LOWER));
            i += 3;
        } else {
            out.extend_from_slice(b"\\u00");
            out.extend_from_slice(&digits(b, LOWER));
            i += 1;
        }
        i = i.min(value.len());
        run = i;
    }
    out.extend_from_slice(&value[run..]);
    out.push(b'"');
}

/// `0x01` in every byte of a word.
const ONES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every byte of a word.
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The offset of the first `"`, `\` or control character at or after `pos` (and with
/// `SURROGATE_LEAD`, of `0xED`, which leads a surrogate in WTF-8: what [`write_string`]
/// may have to escape), looked for eight bytes at a time (SWAR): most of a body is
/// string contents.
///
/// In each mask a byte's high bit is set where the byte matches; a borrow can only carry
/// a false match *above* a true one, so the lowest set bit is always a true match.
#[inline(always)]
fn find_stop<const SURROGATE_LEAD: bool>(bytes: &[u8], mut pos: usize) -> Option<usize> {
    let matches = |word: u64, byte: u8| {
        let x = word ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x
    };
    while let Some(chunk) = bytes.get(pos..pos + 8) {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let mut stops = matches(word, b'"') | matches(word, b'\\') | (word.wrapping_sub(ONES * 0x20) & !word);
        if SURROGATE_LEAD {
            stops |= matches(word, 0xED);
        }
        let stops = stops & HIGHS;
        if stops != 0 {
            // The byte index of the lowest set bit: at most 7.
            return Some(pos + (stops.trailing_zeros() / 8) as usize);
        }
        pos += 8;
    }
    while let Some(&b) = bytes.get(pos) {
        if b < 0x20 || b == b'"' || b == b'\\' || (SURROGATE_LEAD && b == 0xED) {
            return Some(pos);
        }
        pos += 1;
    }
    None
}

/// The offset of the first byte at or after `pos` that is not JSON whitespace.
#[inline(always)]
fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(&b) = bytes.get(pos) {
        // Compact bodies have no whitespace: one comparison decides the common case.
        if b > b' ' || !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            break;
        }
        pos += 1;
        // Indentation of pretty-printed bodies: eight spaces at a time.
        while let Some(chunk) = bytes.get(pos..pos + 8) {
            if u64::from_le_bytes(chunk.try_into().unwrap_or_default()) != ONES * u64::from(b' ') {
                break;
            }
            pos += 8;
        }
    }
    pos
}

fn syntax_at(offset: usize) -> JsonError {
    JsonError::Syntax { offset }
}

/// From the opening quote at `pos`, the offset just past the string's closing quote.
#[inline(always)]
fn string_end(bytes: &[u8], mut pos: usize) -> Result<usize, JsonError> {
    pos += 1; // the opening quote
    loop {
        let Some(stop) = find_stop::<false>(bytes, pos) else {
            return Err(syntax_at(bytes.len()));
        };
        pos = stop;
        match bytes.get(pos) {
            Some(b'"') => return Ok(pos + 1),
            Some(b'\\') => {
                pos += 1;
                match bytes.get(pos) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => pos += 1,
                    Some(b'u') => {
                        pos += 1;
                        if hex4(bytes, pos).is_none() {
                            return Err(syntax_at(pos));
                        }
                        pos += 4;
                    }
                    _ => return Err(syntax_at(pos)),
                }
            }
            _ => return Err(syntax_at(pos)), // a raw control character
        }
    }
}

/// From a key's opening quote at `pos`: the offsets just past the key and just past the
/// `:` that follows it.
#[inline(always)]
fn key_end(bytes: &[u8], pos: usize) -> Result<(usize, usize), JsonError> {
    if bytes.get(pos) != Some(&b'"') {
        return Err(syntax_at(pos));
    }
    let end = string_end(bytes, pos)?;
    let colon = skip_ws(bytes, end);
    if bytes.get(colon) != Some(&b':') {
        return Err(syntax_at(colon));
    }
    Ok((end, colon + 1))
}

fn digits_end(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(b'0'..=b'9') = bytes.get(pos) {
        pos += 1;
    }
    pos
}

/// From the first byte of a number at `pos`, the offset just past it.
#[inline(always)]
fn number_end(bytes: &[u8], mut pos: usize) -> Result<usize, JsonError> {
    if bytes.get(pos) == Some(&b'-') {
        pos += 1;
    }
    match bytes.get(pos) {
        Some(b'0') => pos += 1,
        Some(b'1'..=b'9') => pos = digits_end(bytes, pos + 1),
        _ => return Err(syntax_at(pos)),
    }
    if bytes.get(pos) == Some(&b'.') {
        let end = digits_end(bytes, pos + 1);
        if end == pos + 1 {
            return Err(syntax_at(end));
        }
        pos = end;
    }
    if let Some(b'e' | b'E') = bytes.get(pos) {
        pos += 1;
        if let Some(b'+' | b'-') = bytes.get(pos) {
            pos += 1;
        }
        let end = digits_end(bytes, pos);
        if end == pos {
            return Err(syntax_at(end));
        }
        pos = end;
    }
    Ok(pos)
}

/// From the first byte of `true`, `false` or `null` at `pos`, the offset just past it.
fn literal_end(bytes: &[u8], pos: usize) -> Result<usize, JsonError> {
    let rest = bytes.get(pos..).unwrap_or_default();
    for word in [&b"true"[..], b"false", b"null"] {
        if rest.starts_with(word) {
            return Ok(pos + word.len());
        }
    }
    Err(syntax_at(pos))
}

/// Where a walk through one array or object stands: before its first item or not.
#[derive(Debug)]
pub struct Seq {
    first: bool,
}

/// A pull scanner over one JSON text.
///
/// The caller walks the structure it cares about (`object_start`/`next_key`,
/// `array_start`/`next_element`) and skips the rest with [`Scanner::skip_value`];
/// every byte is validated exactly once either way.
#[derive(Debug)]
pub struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    /// Starts scanning `bytes`, which must be UTF-8.
    pub fn new(bytes: &'a [u8]) -> Result<Self, JsonError> {
        std::str::from_utf8(bytes).map_err(|_| JsonError::InvalidUtf8)?;
        Ok(Scanner { bytes, pos: 0 })
    }

    /// Starts scanning text that is already a `str`, so known to be UTF-8.
    pub fn over_str(text: &'a str) -> Self {
        Scanner {
            bytes: text.as_bytes(),
            pos: 0,
        }
    }

    fn syntax(&self) -> JsonError {
        syntax_at(self.pos)
    }

    fn ws(&mut self) {
        self.pos = skip_ws(self.bytes, self.pos);
    }

    /// The kind of the next value, after skipping whitespace.
    pub fn peek(&mut self) -> Result<Kind, JsonError> {
        self.ws();
        match self.bytes.get(self.pos) {
            Some(b'{') => Ok(Kind::Object),
            Some(b'[') => Ok(Kind::Array),
            Some(b'"') => Ok(Kind::String),
            Some(b'-' | b'0'..=b'9') => Ok(Kind::Number),
            Some(b't' | b'f') => Ok(Kind::Bool),
            Some(b'n') => Ok(Kind::Null),
            _ => Err(self.syntax()),
        }
    }

    /// Consumes the `{` that opens an object; pass the cursor to [`Scanner::next_key`].
    pub fn object_start(&mut self) -> Result<Seq, JsonError> {
        self.expect_open(b'{')
    }

    /// Consumes the `[` that opens an array; pass the cursor to [`Scanner::next_element`].
    pub fn array_start(&mut self) -> Result<Seq, JsonError> {
        self.expect_open(b'[')
    }

    fn expect_open(&mut self, open: u8) -> Result<Seq, JsonError> {
        self.ws();
        if self.bytes.get(self.pos) != Some(&open) {
            return Err(self.syntax());
        }
        self.pos += 1;
        Ok(Seq { first: true })
    }

    /// Inside an object: the next member's key (its `:` consumed), or `None` at the `}`.
    pub fn next_key(&mut self, seq: &mut Seq) -> Result<Option<Raw<'a>>, JsonError> {
        if !self.advance(b'}', seq)? {
            return Ok(None);
        }
        let start = self.pos;
        let (end, after) = key_end(self.bytes, start)?;
        self.pos = after;
        Ok(Some(Raw {
            text: self.bytes.get(start..end).unwrap_or_default(),
            kind: Kind::String,
        }))
    }

    /// Inside an array: whether another element follows (`false` at the `]`).
    pub fn next_element(&mut self, seq: &mut Seq) -> Result<bool, JsonError> {
        self.advance(b']', seq)
    }

    /// Consumes the `,` before a member or element, or the closing bracket; returns
    /// `false` when the container closed.
    fn advance(&mut self, close: u8, seq: &mut Seq) -> Result<bool, JsonError> {
        self.ws();
        let first = std::mem::replace(&mut seq.first, false);
        match self.bytes.get(self.pos) {
            Some(&b) if b == close => {
                self.pos += 1;
                Ok(false)
            }
            Some(b',') if !first => {
                self.pos += 1;
                self.ws();
                Ok(true)
            }
            Some(_) if first => Ok(true),
            _ => Err(self.syntax()),
        }
    }

    /// The current byte offset (after [`Scanner::peek`], the start of the next value).
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The bytes from `start` to the current position.
    pub fn since(&self, start: usize) -> &'a [u8] {
        self.bytes.get(start..self.pos).unwrap_or_default()
    }

    /// The value of `kind` whose text runs from `start` to the current position, for a
    /// container the caller walked itself.
    pub fn raw_since(&self, start: usize, kind: Kind) -> Raw<'a> {
        Raw {
            text: self.since(start),
            kind,
        }
    }

    /// Validates and skips one whole value, returning its exact text.
    ///
    /// `depth` is the nesting depth of the container the value stands in (0 at the top).
    pub fn skip_value(&mut self, depth: usize) -> Result<Raw<'a>, JsonError> {
        let kind = self.peek()?;
        let start = self.pos;
        self.pos = match kind {
            Kind::String => string_end(self.bytes, start)?,
            Kind::Number => number_end(self.bytes, start)?,
            Kind::Bool | Kind::Null => literal_end(self.bytes, start)?,
            Kind::Object | Kind::Array => container_end(self.bytes, start, depth)?,
        };
        Ok(self.raw_since(start, kind))
    }

    /// Checks that nothing but whitespace follows.
    pub fn finish(&mut self) -> Result<(), JsonError> {
        self.ws();
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(self.syntax())
        }
    }
}

/// From the `{` or `[` at `pos`, the offset just past the container's closing bracket.
///
/// Iterative, with one byte of stack per open container, so hostile nesting cannot
/// overflow the call stack; `depth` is the nesting of the container `pos` stands in.
fn container_end(bytes: &[u8], mut pos: usize, depth: usize) -> Result<usize, JsonError> {
    // The closing bracket of each open container, innermost last.
    let mut open: Vec<u8> = Vec::new();
    'value: loop {
        // A value starts at `pos` (whitespace already skipped).
        match bytes.get(pos) {
            Some(&bracket @ (b'{' | b'[')) => {
                if depth + open.len() + 1 > MAX_DEPTH {
                    return Err(JsonError::TooDeep);
                }
                let close = if bracket == b'{' { b'}' } else { b']' };
                pos = skip_ws(bytes, pos + 1);
                if bytes.get(pos) == Some(&close) {
                    pos += 1; // empty: a whole value
                } else {
                    open.push(close);
                    if close == b'}' {
                        pos = skip_ws(bytes, key_end(bytes, pos)?.1);
                    }
                    continue 'value;
                }
            }
            Some(b'"') => pos = string_end(bytes, pos)?,
            Some(b'-' | b'0'..=b'9') => pos = number_end(bytes, pos)?,
            Some(b't' | b'f' | b'n') => pos = literal_end(bytes, pos)?,
            _ => return Err(syntax_at(pos)),
        }
        // A value ended: close every container that ends here, then pass the `,` (and
        // in an object the next key) before the next value.
        loop {
            let Some(&close) = open.last() else {
                return Ok(pos);
            };
            pos = skip_ws(bytes, pos);
            match bytes.get(pos) {
                Some(b',') => {
                    pos = skip_ws(bytes, pos + 1);
                    if close == b'}' {
                        pos = skip_ws(bytes, key_end(bytes, pos)?.1);
                    }
                    continue 'value;
                }
                Some(&b) if b == close => {
                    pos += 1;
                    open.pop();
                }
                _ => return Err(syntax_at(pos)),
            }
        }
    }
}

/// Validates a whole JSON text and returns its single top-level value.
pub fn validate(bytes: &[u8]) -> Result<Raw<'_>, JsonError> {
    let mut sc = Scanner::new(bytes)?;
    let raw = sc.skip_value(0)?;
    sc.finish()?;
    Ok(raw)
}

/// The value of a string token that a JSON parser has already validated (the text of a
/// serde_json `RawValue`, say), as [`Raw::as_str`] gives it, without [`validate`]'s pass
/// over the token: `None` when the token is not a string or its value holds a lone
/// surrogate. Given text that is not a valid token, the value is unspecified (it never
/// panics).
pub fn str_of_valid_token(token: &str) -> Option<Cow<'_, str>> {
    if token.len() < 2 || !token.starts_with('"') || !token.ends_with('"') {
        return None;
    }
    Raw {
        text: token.as_bytes(),
        kind: Kind::String,
    }
    .as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_json_parse_accepts() {
        for ok in [
            "{}",
            "[]",
            " [ 1 , -0.5e+3 , \"a\\u00e9\\n\" , true , false , null , {\"k\" : [ ] } ] ",
            "0",
            "-0",
            "1E5",
            "\"\\ud800\"",
            "{\"a\":{\"b\":[[],[{}]]}}",
        ] {
            assert!(validate(ok.as_bytes()).is_ok(), "{ok}");
        }
        // Long runs of indentation (skipped eight spaces at a time), before and after tokens.
        let pad = |n: usize| " ".repeat(n);
        let pretty = format!(
            "{}{{\n{}\"a\"{}:{}[ 1,\t{}2 ]{}\r\n}}{}",
            pad(8),
            pad(17),
            pad(9),
            pad(16),
            pad(7),
            pad(24),
            pad(8)
        );
        assert_eq!(validate(pretty.as_bytes()).map(|r| r.kind()), Ok(Kind::Object));
        let broken = format!("[{}1{}x]", pad(16), pad(8));
        assert_eq!(validate(broken.as_bytes()), Err(JsonError::Syntax { offset: 26 }));
    }

    #[test]
    fn rejects_what_json_parse_rejects() {
        for bad in [
            "",
            " ",
            "{",
            "[1,]",
            "[,1]",
            "{\"a\":1,}",
            "{,}",
            "{\"a\" 1}",
            "{a:1}",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "+1",
            "tru",
            "nul",
            "\"\t\"",
            "\"\\x\"",
            "\"\\u12g4\"",
            "[1 2]",
            "{} {}",
            "'a'",
            "NaN",
            "[1]]",
            "{\"a\":1}}",
            "\"abc",
        ] {
            assert!(
                matches!(validate(bad.as_bytes()), Err(JsonError::Syntax { .. })),
                "{bad:?}"
            );
        }
        assert_eq!(validate(b"\"\xff\""), Err(JsonError::InvalidUtf8));
    }

    #[test]
    fn bounds_depth_without_recursion() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(validate(deep(MAX_DEPTH).as_bytes()).is_ok());
        assert_eq!(validate(deep(MAX_DEPTH + 1).as_bytes()), Err(JsonError::TooDeep));
        // GIVEN far more nesting than any stack could recurse through
        // THEN the scanner fails cleanly rather than overflowing.
        assert_eq!(validate(deep(1_000_000).as_bytes()), Err(JsonError::TooDeep));
    }

    #[test]
    fn reports_exact_member_text() {
        let body = br#"{ "event" : "x.y" , "result" : [ {"a" : 1.50} ] }"#;
        let mut sc = Scanner::new(body).unwrap();
        let mut obj = sc.object_start().unwrap();
        let mut seen = vec![];
        while let Some(key) = sc.next_key(&mut obj).unwrap() {
            let value = sc.skip_value(1).unwrap();
            seen.push((key.as_str().unwrap().into_owned(), value.bytes().to_vec()));
        }
        sc.finish().unwrap();
        assert_eq!(seen[0], ("event".to_string(), b"\"x.y\"".to_vec()));
        assert_eq!(seen[1], ("result".to_string(), b"[ {\"a\" : 1.50} ]".to_vec()));
    }

    #[test]
    fn writes_strings_as_json_stringify_does() {
        let w = |v: &[u8]| {
            let mut out = Vec::new();
            write_string(&mut out, v);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            w(b"a\"\\/\x08\x0c\n\r\t\x01\x1f\x7f"),
            r#""a\"\\/\b\f\n\r\t\u0001\u001f\u007f""#.replace("\\u007f", "\x7f")
        );
        assert_eq!(w("é😀\u{2028}".as_bytes()), "\"é😀\u{2028}\"");
        assert_eq!(w(b"\xed\xa0\x80x\xed\xbf\xbf"), r#""\ud800x\udfff""#);
        // Decoding then writing is the identity on JSON.stringify's own output.
        for text in [r#""\ud83d\ude00\udc00""#, r#""\u0000\"""#] {
            let raw = validate(text.as_bytes()).unwrap();
            let once = w(&raw.string_value().unwrap());
            let again = w(&validate(once.as_bytes()).unwrap().string_value().unwrap());
            assert_eq!(once, again);
        }
    }

    #[test]
    fn unescapes_like_json_parse() {
        let s = |t: &str| validate(t.as_bytes()).unwrap().string_value().unwrap().into_owned();
        assert_eq!(s(r#""a\"\\\/\b\f\n\r\t""#), b"a\"\\/\x08\x0c\n\r\t");
        assert_eq!(s(r#""\u00e9\ud83d\ude00""#), "é😀".as_bytes());
        // A lone surrogate survives as its three-byte WTF-8 sequence.
        assert_eq!(s(r#""\ud800x""#), b"\xed\xa0\x80x");
        assert_eq!(s(r#""\udc00\ud800""#), b"\xed\xb0\x80\xed\xa0\x80");
        assert!(validate(br#""res\u0075lt""#).unwrap().is_string("result"));
        // A token already validated elsewhere: the same values, no second pass.
        assert_eq!(str_of_valid_token(r#""a\"b\u00e9""#).as_deref(), Some("a\"bé"));
        assert_eq!(str_of_valid_token(r#""\ud800""#), None);
        for not_a_string in ["null", "12", "{}", "\"", ""] {
            assert_eq!(str_of_valid_token(not_a_string), None, "{not_a_string}");
        }
    }

    proptest::proptest! {
        /// Any string, as serde_json writes it (runs between short escapes) or with every
        /// character `\u`-escaped, decodes back to itself.
        #[test]
        fn unescapes_what_serde_json_writes(value in "(\\PC|[\"\\\\\u{0}-\u{1f}\u{2028}]){0,64}") {
            let written = serde_json::to_string(&value).unwrap();
            let raw = validate(written.as_bytes()).unwrap();
            proptest::prop_assert_eq!(raw.as_str().unwrap(), value.as_str());
            let mut escaped = String::from("\"");
            for unit in value.encode_utf16() {
                escaped.push_str(&format!("\\u{unit:04x}"));
            }
            escaped.push('"');
            let raw = validate(escaped.as_bytes()).unwrap();
            proptest::prop_assert_eq!(raw.as_str().unwrap(), value.as_str());
            proptest::prop_assert_eq!(str_of_valid_token(&escaped).unwrap(), value.as_str());
            proptest::prop_assert_eq!(str_of_valid_token(&written).unwrap(), value.as_str());
        }
    }
}
