//! Made-up deliveries for the sender CLI (`webhook-cli send`) and the benches: realistic
//! shape, obviously fake content, deterministic for a given size (feature `sample`).

use std::fmt::Write as _;

/// One fake file entry of roughly `size` bytes, as Extracta would send it: compact and
/// exactly as `JSON.stringify` prints it, so a re-formatted copy still verifies.
pub fn entry(event: &str, index: usize, size: usize) -> String {
    let status = match event {
        "extraction.failed" => "failed",
        "extraction.confirmed" => "confirmed",
        "extraction.edited" => "edited",
        _ => "processed",
    };
    let mut fields = String::new();
    // Invoice-like made-up data: line items until the entry reaches its size.
    let mut line = 0;
    while fields.len() + 400 < size {
        let _ = write!(
            fields,
            r#"{{"description":"Sample item {line} (fake data)","quantity":{},"unitPriceCents":{},"sku":"SKU-{line:05}"}},"#,
            line % 7 + 1,
            line * 1_301 % 50_000,
        );
        line += 1;
    }
    fields.pop();
    let error = if status == "failed" {
        r#","error":"Sample failure: document could not be read (fake)""#
    } else {
        ""
    };
    format!(
        r#"{{"extractionId":"sample-extraction","batchId":"sample-batch","fileId":"sample-file-{index:04}","fileName":"sample-{index}.pdf","status":"{status}","result":{{"invoiceNumber":"FAKE-{index:06}","total":{}.5,"currency":"EUR","lineItems":[{fields}]}},"url":"https://files.example.invalid/sample-{index}.pdf"{error}}}"#,
        index * 31 % 10_000,
    )
}

/// A whole delivery body, `{"event":..,"result":[..]}`, compact as Extracta sends it,
/// with `files` entries of about `entry_size` bytes each.
pub fn body(event: &str, files: usize, entry_size: usize) -> String {
    let entries: Vec<String> = (0..files).map(|i| entry(event, i, entry_size)).collect();
    format!(r#"{{"event":"{event}","result":[{}]}}"#, entries.join(","))
}

/// The exact bytes of `result` in a body made by [`body`]: what Extracta signs.
pub fn result_of(body: &str) -> &str {
    let start = body.find(r#","result":"#).map_or(0, |i| i + r#","result":"#.len());
    body.get(start..body.len().saturating_sub(1)).unwrap_or_default()
}

/// Re-indents compact JSON, two spaces a level, changing nothing but whitespace (a
/// serde_json round trip would sort keys and re-print numbers).
pub fn indent(compact: &str) -> String {
    let mut out = String::with_capacity(compact.len() * 2);
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', depth * 2));
    };
    for c in compact.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                depth += 1;
                newline(&mut out, depth);
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::{Delivery, Route};

    #[test]
    fn bodies_parse_and_route_at_the_size_asked() {
        let b = body("extraction.confirmed", 50, 20_000);
        assert!((900_000..1_100_000).contains(&b.len()), "{}", b.len());
        let d = Delivery::parse(b.as_bytes()).unwrap();
        assert_eq!(d.result_bytes().unwrap(), result_of(&b).as_bytes());
        let Route::Files(_, entries) = d.route() else { panic!() };
        assert_eq!(entries.len(), 50);
        let pretty = indent(&b);
        assert!(pretty.len() > b.len());
        let reparsed = Delivery::parse(pretty.as_bytes()).unwrap();
        assert_eq!(
            crate::ecma::stringify(reparsed.result_bytes().unwrap()).unwrap(),
            result_of(&b).as_bytes()
        );
        let small = body("extraction.failed", 1, 2_000);
        assert!((1_500..2_500).contains(&small.len()), "{}", small.len());
    }
}
