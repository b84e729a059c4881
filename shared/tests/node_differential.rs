//! `ecma::stringify` checked against Node.js: a generated corpus run once through `node`, and Node-made vectors.
//!
//! Set `ECMA_DIFF_SEED=<u64>` to run the differential test on another corpus.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use shared::ecma::stringify;
use shared::json::{JsonError, Scanner, MAX_DEPTH};

const NODE_MISSING: &str = "node (Node.js >= 18) is required for the differential test: apt-get install nodejs";

/// Payloads generated from the seed; mutants and deep payloads come on top.
const BASE_CASES: usize = 20_000;
const MUTANTS: usize = 3_000;
const DEFAULT_SEED: u64 = 0x5eed_ec4a_2024_0001;

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// A `node` command, after checking that Node.js >= 18 is on PATH (a loud failure if not).
fn node() -> Command {
    let out = Command::new("node")
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("{NODE_MISSING} (running `node --version`: {e})"));
    assert!(out.status.success(), "{NODE_MISSING} (`node --version` failed)");
    let version = String::from_utf8_lossy(&out.stdout);
    let major: u32 = version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(major >= 18, "{NODE_MISSING} (found {})", version.trim());
    Command::new("node")
}

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("shared-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------
// Differential test
// ---------------------------------------------------------------------------------------

/// Reads `p<base64 text>` lines, writes `o<base64 JSON.stringify(JSON.parse(text))>` or
/// `!<error name>` lines, in order.
const NODE_SCRIPT: &str = r#"
const fs = require('fs');
const out = [];
for (const line of fs.readFileSync(process.argv[1], 'latin1').split('\n')) {
  if (!line.startsWith('p')) continue;
  const text = Buffer.from(line.slice(1), 'base64').toString('utf8');
  try {
    out.push('o' + Buffer.from(JSON.stringify(JSON.parse(text)), 'utf8').toString('base64'));
  } catch (e) {
    out.push('!' + e.name);
  }
}
fs.writeFileSync(process.argv[2], out.join('\n') + '\n');
"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Valid JSON: Node's output, byte for byte.
    Same,
    /// A randomly damaged payload: Node and we agree on accept/reject, then on the output.
    Mutant,
    /// Deeper than MAX_DEPTH: Node accepts it, we refuse with TooDeep.
    TooDeep,
}

struct Case {
    text: Vec<u8>,
    expect: Expect,
}

#[test]
fn stringify_matches_node_on_generated_corpus() {
    let mut node = node(); // fail loudly first, before spending time generating
    let seed = std::env::var("ECMA_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let started = Instant::now();
    let (cases, coverage) = corpus(seed);

    let dir = TempDir::new("ecma-diff");
    let input = dir.0.join("payloads.txt");
    let output = dir.0.join("node-out.txt");
    let mut lines = String::new();
    for case in &cases {
        lines.push('p');
        lines.push_str(&B64.encode(&case.text));
        lines.push('\n');
    }
    std::fs::write(&input, lines).unwrap();
    let node_started = Instant::now();
    let status = node
        .arg("-e")
        .arg(NODE_SCRIPT)
        .arg(&input)
        .arg(&output)
        .status()
        .unwrap();
    assert!(status.success(), "node exited with {status}");
    let node_time = node_started.elapsed();
    let node_out = std::fs::read_to_string(&output).unwrap();
    let node_lines: Vec<&str> = node_out.lines().collect();
    assert_eq!(
        node_lines.len(),
        cases.len(),
        "node answered a different number of payloads"
    );

    let mut mismatches = Vec::new();
    let mut counts = [0usize; 3];
    let mut mutants_rejected = 0;
    let ours_started = Instant::now();
    for (case, node_line) in cases.iter().zip(&node_lines) {
        let ours = stringify(&case.text);
        let theirs: Result<Vec<u8>, &str> = match node_line.strip_prefix('o') {
            Some(b64) => Ok(B64.decode(b64).unwrap()),
            None => Err(node_line.trim_start_matches('!')),
        };
        counts[case.expect as usize] += 1;
        if case.expect == Expect::Mutant && theirs.is_err() {
            mutants_rejected += 1;
        }
        let agree = match (case.expect, &ours, &theirs) {
            (Expect::Same | Expect::Mutant, Ok(a), Ok(b)) => a == b,
            (Expect::Mutant, Err(JsonError::Syntax { .. } | JsonError::InvalidUtf8), Err(name)) => {
                *name == "SyntaxError"
            }
            (Expect::TooDeep, Err(JsonError::TooDeep), Ok(_)) => true,
            _ => false,
        };
        if !agree {
            mismatches.push(describe(case, &ours, &theirs));
        }
    }
    let ours_time = ours_started.elapsed();

    println!(
        "differential: {} payloads (seed {seed:#x}; {} valid, {} mutants of which {mutants_rejected} \
         invalid, {} too deep); \
         node {:.2?}, ours {:.2?}, total {:.2?}",
        cases.len(),
        counts[0],
        counts[1],
        counts[2],
        node_time,
        ours_time,
        started.elapsed()
    );
    println!("coverage (payloads per feature): {coverage:?}");
    for m in mismatches.iter().take(5) {
        println!("{m}");
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} payloads differ from Node",
        mismatches.len(),
        cases.len()
    );
    assert!(
        counts[0] >= 10_000,
        "the corpus must hold at least 10,000 valid payloads"
    );
    for (feature, n) in coverage {
        assert!(n >= 40, "the generator produced only {n} payloads with {feature}");
    }
}

fn describe(case: &Case, ours: &Result<Vec<u8>, JsonError>, theirs: &Result<Vec<u8>, &str>) -> String {
    // Show 300 bytes from a little before the first difference.
    let first_diff = match (ours, theirs) {
        (Ok(a), Ok(b)) => a
            .iter()
            .zip(b)
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len())),
        _ => 0,
    };
    let from = first_diff.saturating_sub(60);
    let clip = |b: &[u8]| {
        let s = String::from_utf8_lossy(b.get(from..).unwrap_or_default()).into_owned();
        let t: String = s.chars().take(300).collect();
        let more = if t.len() < s.len() { "..." } else { "" };
        format!("{}{t:?}{more}", if from > 0 { "..." } else { "" })
    };
    let ours = match ours {
        Ok(b) => clip(b),
        Err(e) => format!("error: {e}"),
    };
    let theirs = match theirs {
        Ok(b) => clip(b),
        Err(name) => format!("throws {name}"),
    };
    format!(
        "MISMATCH ({:?}, outputs differ at byte {first_diff})\n  input: {:?}\n  node:  {theirs}\n  ours:  {ours}",
        case.expect,
        String::from_utf8_lossy(case.text.get(..300.min(case.text.len())).unwrap_or_default())
    )
}

/// The whole corpus, deterministic in `seed`, and how often each feature occurs in it.
fn corpus(seed: u64) -> (Vec<Case>, Vec<(&'static str, usize)>) {
    let mut g = Gen {
        rng: Rng(seed),
        features: 0,
        style: Style::Compact,
    };
    let mut cases = Vec::with_capacity(BASE_CASES + MUTANTS + 64);
    let mut counts = [0usize; FEATURES.len()];
    for i in 0..BASE_CASES {
        g.features = 0;
        let text = if is_deep(i) {
            let depth = if i % 200 == 99 {
                MAX_DEPTH
            } else {
                g.rng.range(40, MAX_DEPTH)
            };
            g.deep(depth)
        } else {
            g.payload()
        };
        for (bit, count) in counts.iter_mut().enumerate() {
            if g.features & (1 << bit) != 0 {
                *count += 1;
            }
        }
        cases.push(Case {
            text: text.into_bytes(),
            expect: Expect::Same,
        });
    }
    for _ in 0..MUTANTS {
        // Deep payloads are left alone: one more bracket would cross MAX_DEPTH.
        let base = loop {
            let i = g.rng.below(BASE_CASES);
            if !is_deep(i) && cases[i].text.len() < 4_000 {
                break cases[i].text.clone();
            }
        };
        counts[feature_bit(MUTANT)] += 1;
        cases.push(Case {
            text: g.mutate(base),
            expect: Expect::Mutant,
        });
    }
    for _ in 0..8 {
        g.features = 0;
        cases.push(Case {
            text: g.deep(MAX_DEPTH + 1).into_bytes(),
            expect: Expect::TooDeep,
        });
    }
    let coverage = FEATURES.iter().copied().zip(counts).collect();
    (cases, coverage)
}

fn is_deep(i: usize) -> bool {
    i % 100 == 99
}

/// SplitMix64: small, seedable and good enough to drive a generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

const FEATURES: [&str; 19] = [
    "duplicate key",
    "array-index key",
    "index-like non-index key",
    "hashed object (>16 keys)",
    "lone surrogate",
    "raw astral",
    "escaped surrogate pair",
    "control escape",
    "U+2028/9",
    "raw non-ASCII",
    "exponent number",
    "overflow (inf)",
    "long digit string",
    "exact double value",
    "-0",
    "pretty printed",
    "random whitespace",
    "deep nesting",
    "mutant",
];
const DUP: &str = "duplicate key";
const INDEX_KEY: &str = "array-index key";
const INDEX_LIKE: &str = "index-like non-index key";
const BIG_OBJECT: &str = "hashed object (>16 keys)";
const LONE: &str = "lone surrogate";
const ASTRAL_RAW: &str = "raw astral";
const PAIR_ESCAPED: &str = "escaped surrogate pair";
const CONTROL: &str = "control escape";
const LINE_SEP: &str = "U+2028/9";
const NON_ASCII: &str = "raw non-ASCII";
const EXPONENT: &str = "exponent number";
const OVERFLOW: &str = "overflow (inf)";
const LONG_DIGITS: &str = "long digit string";
const EXACT_DOUBLE: &str = "exact double value";
const NEG_ZERO: &str = "-0";
const PRETTY: &str = "pretty printed";
const SPACED: &str = "random whitespace";
const DEEP: &str = "deep nesting";
const MUTANT: &str = "mutant";

fn feature_bit(name: &str) -> usize {
    FEATURES.iter().position(|f| *f == name).unwrap()
}

#[derive(Clone, Copy)]
enum Style {
    Compact,
    /// Random whitespace (space, tab, CR, LF) between tokens.
    Spaced,
    /// Indented with this unit, one item per line.
    Pretty(&'static str),
}

/// Keys as they stand in the JSON text (escapes included); many collide on purpose.
const KEY_POOL: &[&str] = &[
    "a",
    "b",
    "c",
    "id",
    "__proto__",
    "constructor",
    "toString",
    "length",
    "",
    "0",
    "1",
    "2",
    "7",
    "10",
    "42",
    "4294967294",
    "01",
    "00",
    "-1",
    "-0",
    "+1",
    " 1",
    "1 ",
    "1.5",
    "1e3",
    "4294967295",
    "4294967296",
    "9007199254740993",
    "99999999999",
    "\\u0030",
    "\\u0031\\u0030",
    "\\u0061",
    "\\u005f_proto__",
    "é",
    "\\u00e9",
    "\\u00E9",
    "😀",
    "\\ud83d\\ude00",
    "\\ud800",
    "a\\nb",
    "a\\\"b",
    "a/b",
    "a\\/b",
];
/// Keys of the pool that are array indices once unescaped.
const INDEX_KEYS: &[&str] = &[
    "0",
    "1",
    "2",
    "7",
    "10",
    "42",
    "4294967294",
    "\\u0030",
    "\\u0031\\u0030",
];
const INDEX_LIKE_KEYS: &[&str] = &[
    "01",
    "00",
    "-1",
    "-0",
    "+1",
    " 1",
    "1 ",
    "1.5",
    "1e3",
    "4294967295",
    "4294967296",
    "9007199254740993",
    "99999999999",
];

/// Numbers chosen by hand: boundaries of Number::toString and of parsing.
const FIXED_NUMBERS: &[&str] = &[
    "0",
    "-0",
    "0.0",
    "-0.0",
    "0e0",
    "-0E-0",
    "1",
    "-1",
    "1.0",
    "1.50",
    "100",
    "100.000",
    "1e21",
    "1E21",
    "1e+21",
    "-1e21",
    "1e20",
    "1e-7",
    "1E-7",
    "-1e-7",
    "1e-6",
    "0.000001",
    "0.0000001",
    "0.00000123",
    "5e-324",
    "4.9e-324",
    "2e-324",
    "2.4703282292062328e-324",
    "2.4703282292062327e-324",
    "1e-400",
    "1e400",
    "-1e400",
    "1E+400",
    "1.7976931348623157e308",
    "1.7976931348623158e308",
    "1.7976931348623159e308",
    "2.2250738585072014e-308",
    "2.2250738585072011e-308",
    "9007199254740992",
    "9007199254740993",
    "9007199254740995",
    "-9007199254740993",
    "12345678901234567890",
    "123456789012345678901",
    "999999999999999999999",
    "1e22",
    "1e23",
    "8.41e21",
    "0.1",
    "0.2",
    "0.3",
    "0.30000000000000004",
    "0.1e1",
    "10e-1",
    "1E0",
    "123e-20",
    "4294967295",
    "4294967296",
    "1.5e300",
    "123456789.123456789",
    "0.000001234567890123456789",
];

const RAW_CHARS: &[char] = &[
    'é',
    'ß',
    '中',
    '€',
    'Ω',
    '\u{7f}',
    '\u{80}',
    '\u{a0}',
    '\u{7ff}',
    '\u{800}',
    '\u{feff}',
    '\u{fffd}',
    '\u{fffe}',
    '\u{ffff}',
    '\u{2028}',
    '\u{2029}',
    '😀',
    '\u{10000}',
    '\u{10ffff}',
];

const FILE_KEYS: &[&str] = &[
    "extractionId",
    "batchId",
    "fileId",
    "fileName",
    "status",
    "result",
    "url",
    "error",
];

struct Gen {
    rng: Rng,
    features: u32,
    style: Style,
}

impl Gen {
    fn mark(&mut self, feature: &str) {
        self.features |= 1 << feature_bit(feature);
    }

    fn payload(&mut self) -> String {
        self.style = match self.rng.below(8) {
            0..=3 => Style::Compact,
            4 | 5 => Style::Spaced,
            6 => Style::Pretty(self.rng.pick(&["  ", "    "])),
            _ => Style::Pretty(self.rng.pick(&["\t", " "])),
        };
        match self.style {
            Style::Compact => {}
            Style::Spaced => self.mark(SPACED),
            Style::Pretty(_) => self.mark(PRETTY),
        }
        let mut out = String::new();
        self.space(&mut out);
        let max_level = self.rng.range(1, 7);
        let mut budget = self.rng.range(1, 60);
        match self.rng.below(20) {
            0..=1 => self.scalar(&mut out),
            2..=4 => self.extracta_body(&mut out),
            5..=9 => self.array(&mut out, 0, max_level, &mut budget),
            _ => self.object(&mut out, 0, max_level, &mut budget),
        }
        self.space(&mut out);
        out
    }

    /// Whitespace between tokens where the pretty style puts none.
    fn space(&mut self, out: &mut String) {
        if let Style::Spaced = self.style {
            for _ in 0..self.rng.below(3) {
                out.push(self.rng.pick(&[' ', ' ', '\t', '\n', '\r']));
            }
        }
    }

    /// Whitespace where a pretty printer starts a new line at `level`.
    fn line(&mut self, out: &mut String, level: usize) {
        match self.style {
            Style::Pretty(unit) => {
                out.push('\n');
                for _ in 0..level {
                    out.push_str(unit);
                }
            }
            _ => self.space(out),
        }
    }

    fn value(&mut self, out: &mut String, level: usize, max_level: usize, budget: &mut usize) {
        *budget = budget.saturating_sub(1);
        let containers = level < max_level && *budget > 0;
        match self.rng.below(if containers { 10 } else { 6 }) {
            0..=5 => self.scalar(out),
            6..=7 => self.array(out, level, max_level, budget),
            _ => self.object(out, level, max_level, budget),
        }
    }

    fn scalar(&mut self, out: &mut String) {
        match self.rng.below(10) {
            0..=3 => self.number(out),
            4..=7 => self.string(out),
            8 => out.push_str(self.rng.pick(&["true", "false"])),
            _ => out.push_str("null"),
        }
    }

    fn array(&mut self, out: &mut String, level: usize, max_level: usize, budget: &mut usize) {
        let n = if self.rng.chance(10) {
            self.rng.range(6, 20)
        } else {
            self.rng.below(6)
        };
        out.push('[');
        for i in 0..n {
            if i > 0 {
                out.push(',');
            }
            self.line(out, level + 1);
            self.value(out, level + 1, max_level, budget);
            self.space(out);
        }
        if n > 0 {
            self.line(out, level);
        } else {
            self.space(out);
        }
        out.push(']');
    }

    fn object(&mut self, out: &mut String, level: usize, max_level: usize, budget: &mut usize) {
        let big = self.rng.chance(6);
        let n = if big { self.rng.range(17, 45) } else { self.rng.below(7) };
        let mut used: Vec<String> = Vec::new();
        out.push('{');
        for i in 0..n {
            if i > 0 {
                out.push(',');
            }
            self.line(out, level + 1);
            let key = if !used.is_empty() && self.rng.chance(12) {
                self.rng
                    .pick(&used.iter().map(String::as_str).collect::<Vec<_>>())
                    .to_string()
            } else if big && self.rng.chance(70) {
                // Few distinct names, so repeats happen after the object switches to hashing.
                if self.rng.chance(30) {
                    self.rng.below(30).to_string()
                } else {
                    format!("k{}", self.rng.below(25))
                }
            } else if self.rng.chance(55) {
                self.rng.pick(KEY_POOL).to_string()
            } else {
                let mut k = String::new();
                self.string_body(&mut k);
                k
            };
            if used.contains(&key) {
                self.mark(DUP);
            } else {
                used.push(key.clone());
            }
            let canonical = key.bytes().all(|b| b.is_ascii_digit())
                && (key == "0" || !key.starts_with('0'))
                && key.parse::<u32>().is_ok_and(|i| i != u32::MAX);
            if canonical || INDEX_KEYS.contains(&key.as_str()) {
                self.mark(INDEX_KEY);
            }
            if INDEX_LIKE_KEYS.contains(&key.as_str()) {
                self.mark(INDEX_LIKE);
            }
            out.push('"');
            out.push_str(&key);
            out.push('"');
            self.space(out);
            out.push(':');
            if let Style::Pretty(_) = self.style {
                out.push(' ');
            }
            self.space(out);
            self.value(out, level + 1, max_level, budget);
            self.space(out);
        }
        if big && used.len() > 16 {
            self.mark(BIG_OBJECT);
        }
        if n > 0 {
            self.line(out, level);
        } else {
            self.space(out);
        }
        out.push('}');
    }

    /// A body shaped like Extracta's: `{"event": .., "result": [FileEntry, ..]}`.
    fn extracta_body(&mut self, out: &mut String) {
        out.push('{');
        self.line(out, 1);
        out.push_str("\"event\":");
        self.space(out);
        out.push_str(self.rng.pick(&["\"extraction.processed\"", "\"extraction.failed\""]));
        out.push(',');
        self.line(out, 1);
        out.push_str("\"result\":");
        self.space(out);
        out.push('[');
        let files = self.rng.range(1, 4);
        for f in 0..files {
            if f > 0 {
                out.push(',');
            }
            self.line(out, 2);
            out.push('{');
            for (i, key) in FILE_KEYS.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                self.line(out, 3);
                write!(out, "\"{key}\":").unwrap();
                self.space(out);
                if *key == "result" {
                    let mut budget = self.rng.range(1, 30);
                    self.object(out, 3, 6, &mut budget);
                } else {
                    self.string(out);
                }
            }
            self.line(out, 2);
            out.push('}');
        }
        self.line(out, 1);
        out.push(']');
        self.line(out, 0);
        out.push('}');
    }

    /// Nested containers `depth` deep, alternating arrays and objects, with siblings.
    fn deep(&mut self, depth: usize) -> String {
        self.mark(DEEP);
        self.style = Style::Compact;
        let mut out = String::new();
        let mut closers = Vec::with_capacity(depth);
        for _ in 0..depth {
            if self.rng.chance(50) {
                out.push('[');
                if self.rng.chance(30) {
                    self.scalar(&mut out);
                    out.push(',');
                }
                closers.push(']');
            } else {
                out.push('{');
                if self.rng.chance(30) {
                    out.push_str("\"10\":");
                    self.scalar(&mut out);
                    out.push(',');
                }
                out.push_str(self.rng.pick(&["\"k\":", "\"1\":", "\"k\":0,\"k\":"]));
                closers.push('}');
            }
        }
        self.scalar(&mut out);
        while let Some(c) = closers.pop() {
            out.push(c);
        }
        out
    }

    fn string(&mut self, out: &mut String) {
        out.push('"');
        self.string_body(out);
        out.push('"');
    }

    fn hex4(&mut self, out: &mut String, unit: u32) {
        match self.rng.below(3) {
            0 => write!(out, "\\u{unit:04x}").unwrap(),
            1 => write!(out, "\\u{unit:04X}").unwrap(),
            _ => {
                out.push_str("\\u");
                for c in format!("{unit:04x}").chars() {
                    out.push(if self.rng.chance(50) { c.to_ascii_uppercase() } else { c });
                }
            }
        }
    }

    fn high(&mut self) -> u32 {
        0xD800 + self.rng.below(0x400) as u32
    }

    fn low(&mut self) -> u32 {
        0xDC00 + self.rng.below(0x400) as u32
    }

    /// The inside of a JSON string: a random run of pieces, escaped and raw.
    fn string_body(&mut self, out: &mut String) {
        const ASCII: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 -_.,:;!?#$%&'()*+<=>@[]^`{|}~/";
        let pieces = self.rng.below(7);
        for _ in 0..pieces {
            match self.rng.below(18) {
                0..=3 => {
                    for _ in 0..self.rng.range(1, 8) {
                        out.push(char::from(self.rng.pick(ASCII)));
                    }
                }
                4 => out.push_str(
                    self.rng
                        .pick(&["\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "/"]),
                ),
                5 => {
                    self.mark(CONTROL);
                    let c = self.rng.below(0x20) as u32;
                    self.hex4(out, c);
                }
                6 => {
                    let c = self.rng.pick(RAW_CHARS);
                    self.mark(NON_ASCII);
                    if c == '\u{2028}' || c == '\u{2029}' {
                        self.mark(LINE_SEP);
                    }
                    if u32::from(c) > 0xFFFF {
                        self.mark(ASTRAL_RAW);
                    }
                    out.push(c);
                }
                7 => {
                    // Any BMP character, raw.
                    let code = self.rng.range(0x20, 0xFFFF) as u32;
                    if let Some(c) = char::from_u32(code).filter(|c| !matches!(c, '"' | '\\')) {
                        if !c.is_ascii() {
                            self.mark(NON_ASCII);
                        }
                        out.push(c);
                    }
                }
                8 => {
                    // Any BMP character but a surrogate, escaped.
                    let code = self.rng.below(0x10000) as u32;
                    if !(0xD800..0xE000).contains(&code) {
                        if code == 0x2028 || code == 0x2029 {
                            self.mark(LINE_SEP);
                        }
                        self.hex4(out, code);
                    }
                }
                9 => {
                    self.mark(ASTRAL_RAW);
                    let code = self.rng.range(0x10000, 0x10FFFF) as u32;
                    out.push(char::from_u32(code).unwrap());
                }
                10 => {
                    self.mark(PAIR_ESCAPED);
                    let (h, l) = (self.high(), self.low());
                    self.hex4(out, h);
                    self.hex4(out, l);
                }
                11 => {
                    self.mark(LONE);
                    let h = self.high();
                    self.hex4(out, h);
                }
                12 => {
                    self.mark(LONE);
                    let l = self.low();
                    self.hex4(out, l);
                }
                13 => {
                    // A reversed pair: two lone surrogates.
                    self.mark(LONE);
                    let (h, l) = (self.high(), self.low());
                    self.hex4(out, l);
                    self.hex4(out, h);
                }
                14 => {
                    // A lone high surrogate, then a proper pair.
                    self.mark(LONE);
                    self.mark(PAIR_ESCAPED);
                    let (h1, h2, l) = (self.high(), self.high(), self.low());
                    self.hex4(out, h1);
                    self.hex4(out, h2);
                    self.hex4(out, l);
                }
                15 => {
                    // A lone high surrogate followed by something that is not a low one.
                    self.mark(LONE);
                    let h = self.high();
                    self.hex4(out, h);
                    let next = self.rng.pick(&["😀", "x", "\\n", "\\u0041", "é", "\\\\u"]);
                    out.push_str(next);
                }
                16 => {
                    let c = self.rng.pick(&[0x41u32, 0x7E, 0x2F, 0x22, 0x5C, 0x7F, 0x2028, 0x2029]);
                    if c >= 0x2028 {
                        self.mark(LINE_SEP);
                    }
                    self.hex4(out, c);
                }
                _ => out.push_str(self.rng.pick(&["\\u0000", "\\u001f", "\\u001F", "\\u000b", "\\u0008"])),
            }
        }
    }

    fn digits(&mut self, out: &mut String, n: usize, leading_nonzero: bool) {
        for i in 0..n {
            let lo = if i == 0 && leading_nonzero { 1 } else { 0 };
            out.push(char::from(b'0' + self.rng.range(lo, 9) as u8));
        }
    }

    fn exponent(&mut self, out: &mut String, max: usize) {
        out.push(self.rng.pick(&['e', 'E']));
        match self.rng.below(3) {
            0 => out.push('+'),
            1 => out.push('-'),
            _ => {}
        }
        write!(out, "{}", self.rng.below(max + 1)).unwrap();
    }

    fn number(&mut self, out: &mut String) {
        let start = out.len();
        match self.rng.below(11) {
            0 | 1 => out.push_str(self.rng.pick(FIXED_NUMBERS)),
            10 => {
                // A double's exact decimal value where halfway ties between two shortest
                // candidates are common (17 significant digits, few fraction bits).
                self.mark(EXACT_DOUBLE);
                let m = (self.rng.next() >> 11) | 1 << 52;
                let q = self.rng.range(0, 16) as i32 - 8;
                let x = m as f64 * 2f64.powi(q);
                if self.rng.chance(30) {
                    out.push('-');
                }
                write!(out, "{x:.8}").unwrap();
            }
            2 => {
                // An integer of up to 25 digits.
                if self.rng.chance(40) {
                    out.push('-');
                }
                let n = self.rng.range(1, 25);
                if n == 1 {
                    self.digits(out, 1, false);
                } else {
                    self.digits(out, n, true);
                }
            }
            3 => {
                // A decimal fraction, maybe with an exponent.
                if self.rng.chance(40) {
                    out.push('-');
                }
                if self.rng.chance(40) {
                    out.push('0');
                } else {
                    let n = self.rng.range(1, 12);
                    self.digits(out, n, true);
                }
                out.push('.');
                let n = self.rng.range(1, 25);
                self.digits(out, n, false);
                if self.rng.chance(50) {
                    self.exponent(out, 30);
                }
            }
            4 => {
                // Any finite double, as Rust prints it in one of three styles.
                let f = loop {
                    let f = f64::from_bits(self.rng.next());
                    if f.is_finite() {
                        break f;
                    }
                };
                match self.rng.below(3) {
                    0 => write!(out, "{f:e}").unwrap(),
                    1 => write!(out, "{f:E}").unwrap(),
                    _ => write!(out, "{f:?}").unwrap(),
                }
            }
            5 => {
                // A double printed with more digits than it needs: correct rounding matters.
                let f = f64::from_bits(self.rng.next() & 0x7FEF_FFFF_FFFF_FFFF);
                let p = self.rng.range(15, 25);
                write!(out, "{f:.p$e}").unwrap();
            }
            6 => {
                // A long digit string.
                self.mark(LONG_DIGITS);
                if self.rng.chance(30) {
                    out.push('-');
                }
                let n = self.rng.range(30, 400);
                if self.rng.chance(50) {
                    self.digits(out, n, true);
                } else {
                    out.push_str("0.");
                    let zeros = self.rng.below(350);
                    out.extend(std::iter::repeat_n('0', zeros));
                    self.digits(out, n, true);
                }
                if self.rng.chance(30) {
                    self.exponent(out, 400);
                }
            }
            7 => {
                // Sums like 0.1 + 0.2, printed shortest by Rust.
                let a = self.rng.below(1000) as f64 / [10.0, 100.0, 1000.0][self.rng.below(3)];
                let b = self.rng.below(1000) as f64 / [10.0, 100.0, 1000.0][self.rng.below(3)];
                let s = if self.rng.chance(50) { a + b } else { a * b };
                write!(out, "{s}").unwrap();
            }
            8 => {
                // Around the switches at 1e21 and 1e-7, and the limits of double.
                let n = self.rng.below(4);
                self.digits(out, n + 1, true);
                if n > 0 && self.rng.chance(50) {
                    out.push('.');
                    self.digits(out, n, false);
                }
                let e = self.rng.pick(&[
                    -400i32, -330, -325, -324, -323, -309, -308, -8, -7, -6, -5, 0, 19, 20, 21, 22, 300, 308, 309, 400,
                ]);
                let e = e + self.rng.below(3) as i32 - 1;
                write!(out, "{}{e}", self.rng.pick(&["e", "E"])).unwrap();
            }
            _ => {
                // Integers around 2^53 and 2^64.
                let base: u128 = self.rng.pick(&[1u128 << 53, 1 << 54, 1 << 63, 1 << 64, 10u128.pow(21)]);
                let v = base + self.rng.below(9) as u128 - 4;
                if self.rng.chance(30) {
                    out.push('-');
                }
                write!(out, "{v}").unwrap();
            }
        }
        let text = &out[start..];
        if text.contains(['e', 'E']) {
            self.mark(EXPONENT);
        }
        if text.parse::<f64>().is_ok_and(f64::is_infinite) {
            self.mark(OVERFLOW);
        }
        if text.parse::<f64>().is_ok_and(|f| f == 0.0 && f.is_sign_negative()) {
            self.mark(NEG_ZERO);
        }
    }

    /// Damages a payload at ASCII positions only, so it stays UTF-8.
    fn mutate(&mut self, mut text: Vec<u8>) -> Vec<u8> {
        const INSERTS: &[u8] = b"{}[],:\"\\ 0123456789-+.eEtrufalsn/u";
        for _ in 0..self.rng.range(1, 3) {
            let at = self.rng.below(text.len() + 1);
            let boundary = text.get(at).is_none_or(|b| !(0x80..0xC0).contains(b));
            match self.rng.below(3) {
                0 if text.get(at).is_some_and(u8::is_ascii) => {
                    text.remove(at);
                }
                1 if boundary => text.insert(at, self.rng.pick(INSERTS)),
                _ if text.get(at).is_some_and(u8::is_ascii) => {
                    let b = text[at];
                    text.insert(at, b);
                }
                _ => {}
            }
        }
        text
    }
}

// ---------------------------------------------------------------------------------------
// Known-answer vectors (made by make-vectors.js; no Node needed to check them)
// ---------------------------------------------------------------------------------------

fn load(name: &str) -> Vec<serde_json::Value> {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn field<'v>(v: &'v serde_json::Value, name: &str) -> &'v str {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("vector without string {name:?}: {v}"))
}

#[test]
fn stringify_matches_known_answer_vectors() {
    let vectors = load("stringify.json");
    assert!(
        vectors.len() >= 50,
        "expected the full set of vectors, got {}",
        vectors.len()
    );
    let mut failures = Vec::new();
    for v in &vectors {
        let (name, input, expected) = (field(v, "name"), field(v, "input"), field(v, "output"));
        match stringify(input.as_bytes()) {
            Ok(out) if out == expected.as_bytes() => {}
            Ok(out) => failures.push(format!(
                "{name}: input {input:?}\n  node: {expected:?}\n  ours: {:?}",
                String::from_utf8_lossy(&out)
            )),
            Err(e) => failures.push(format!("{name}: input {input:?}: error {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} vectors differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The exact bytes of the top-level `result` member of a body.
fn result_member(body: &[u8]) -> &[u8] {
    let mut sc = Scanner::new(body).unwrap();
    let mut obj = sc.object_start().unwrap();
    let mut found = None;
    while let Some(key) = sc.next_key(&mut obj).unwrap() {
        let value = sc.skip_value(1).unwrap();
        if key.is_string("result") {
            found = Some(value.bytes());
        }
    }
    sc.finish().unwrap();
    found.expect("body without result")
}

#[test]
fn hmac_vectors_are_consistent() {
    let vectors = load("hmac.json");
    let (mut raw_matches, mut raw_differs, mut prefixed, mut bare) = (0, 0, 0, 0);
    for v in &vectors {
        let name = field(v, "name");
        let (secret, body) = (field(v, "secret"), field(v, "body"));
        let (signed, signature) = (field(v, "result_bytes"), field(v, "signature"));
        // THEN re-serializing the raw result member gives exactly the signed text
        let raw = result_member(body.as_bytes());
        assert_eq!(
            String::from_utf8(stringify(raw).unwrap()).unwrap(),
            signed,
            "{name}: stringify(result)"
        );
        if raw == signed.as_bytes() {
            raw_matches += 1;
        } else {
            raw_differs += 1;
        }
        // AND the signature is HMAC-SHA256 under the secret minus its first E_AI_K_
        let key = secret.replacen("E_AI_K_", "", 1);
        if key.len() == secret.len() {
            bare += 1;
        } else {
            prefixed += 1;
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(signed.as_bytes());
        assert_eq!(B64.encode(mac.finalize().into_bytes()), signature, "{name}: signature");
    }
    // The set exercises both signature rules and both kinds of secret.
    assert!(raw_matches > 0 && raw_differs > 0, "need vectors for rules (a) and (b)");
    assert!(prefixed > 0 && bare > 0, "need secrets with and without E_AI_K_");
}

#[test]
fn vectors_are_what_make_vectors_js_writes() {
    let dir = TempDir::new("ecma-vectors");
    let status = node()
        .arg(vectors_dir().join("make-vectors.js"))
        .arg(&dir.0)
        .status()
        .unwrap();
    assert!(status.success(), "make-vectors.js exited with {status}");
    for file in ["stringify.json", "hmac.json"] {
        let fresh = std::fs::read(dir.0.join(file)).unwrap();
        let checked_in = std::fs::read(vectors_dir().join(file)).unwrap();
        assert!(
            fresh == checked_in,
            "tests/vectors/{file} is stale: run `node shared/tests/vectors/make-vectors.js`"
        );
    }
}
