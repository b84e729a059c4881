//! Erasure (docs/contract.md §11): which file entries a selection names, redacting them
//! out of an archived body byte for byte, and the archive copy's index of its entries.
//!
//! Pure: no I/O. `webhook-cli erase` finds and rewrites the objects; the redrive reads
//! [`is_stub`] to leave erased entries alone. Ids are compared as key components
//! ([`crate::layout::push_id_component`]): a string id by its value made safe, a numeric id
//! by its JSON text as it stands, so a selection names exactly the entries whose file
//! objects it names.

use crate::json::{JsonError, Kind, Raw, Scanner};
use crate::layout::metadata::{ENTRY_IDS, ERASED_AT};
use crate::layout::{push_id_component, safe_component, Prefix};

/// S3's limit on one object's user metadata: the bytes of every name and value.
pub const USER_METADATA_LIMIT: usize = 2048;

/// What [`index`] writes for a body with no file entry.
const NO_ENTRIES: &str = "-";

/// Marks an index token whose ids were cut to fit (`e/b/*`, `e/*`): any id there.
const ANY: &str = "*";

/// Why a selection is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    /// An id given is empty.
    #[error("an id to erase must not be empty")]
    EmptyId,
    /// A file was named without its batch.
    #[error("a file is selected within a batch: give --batch with --file")]
    FileWithoutBatch,
}

/// One extraction, one of its batches, or one file, each id as its key component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    extraction: String,
    batch: Option<String>,
    file: Option<String>,
    /// The ids as given, for the notice.
    given: [Option<String>; 3],
}

impl Selection {
    /// A selection from the ids as given (a numeric id as its JSON text, e.g. `12`).
    pub fn new(extraction: &str, batch: Option<&str>, file: Option<&str>) -> Result<Selection, SelectionError> {
        if extraction.is_empty() || batch.is_some_and(str::is_empty) || file.is_some_and(str::is_empty) {
            return Err(SelectionError::EmptyId);
        }
        if file.is_some() && batch.is_none() {
            return Err(SelectionError::FileWithoutBatch);
        }
        let component = |id: &str| safe_component(id.as_bytes());
        Ok(Selection {
            extraction: component(extraction),
            batch: batch.map(component),
            file: file.map(component),
            given: [
                Some(extraction.to_owned()),
                batch.map(str::to_owned),
                file.map(str::to_owned),
            ],
        })
    }

    /// The ids as given: extraction, batch (when selected), file (when selected).
    pub fn given(&self) -> [Option<&str>; 3] {
        [
            self.given[0].as_deref(),
            self.given[1].as_deref(),
            self.given[2].as_deref(),
        ]
    }

    /// The key prefix under which every selected file object lies:
    /// `{prefix}{extraction}/`, `.../{batch}/` or `.../{file}/`.
    pub fn file_prefix(&self, prefix: &Prefix) -> String {
        let mut out = format!("{}{}/", prefix.as_str(), self.extraction);
        for id in [&self.batch, &self.file].into_iter().flatten() {
            out.push_str(id);
            out.push('/');
        }
        out
    }

    /// Whether `key` is a file object of the selection: exactly
    /// `{prefix}{extractionId}/{batchId}/{fileId}/{event}.json` for one of the four routed
    /// events, with the selected ids. Nothing else under the same prefix (an archive copy,
    /// were an extraction called `_deliveries`) passes.
    pub fn is_file_key(&self, prefix: &Prefix, key: &str) -> bool {
        let Some(rest) = key.strip_prefix(prefix.as_str()) else {
            return false;
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let [e, b, f, name] = parts[..] else {
            return false;
        };
        let routed = crate::delivery::EventKind::ALL
            .into_iter()
            .any(|k| k.object_name() == name);
        routed && self.matches_components(e, b, f)
    }

    fn matches_components(&self, e: &str, b: &str, f: &str) -> bool {
        let fits = |wanted: &Option<String>, have: &str| wanted.as_deref().is_none_or(|w| have == w || have == ANY);
        e == self.extraction && fits(&self.batch, b) && fits(&self.file, f)
    }

    /// Whether an entry with these ids (extraction, batch, file; each the last occurrence,
    /// as sent) is selected.
    pub fn matches(&self, ids: [Option<Raw<'_>>; 3]) -> bool {
        let [e, b, f] = ids.map(component);
        e == self.extraction
            && self.batch.as_ref().is_none_or(|w| *w == b)
            && self.file.as_ref().is_none_or(|w| *w == f)
    }

    /// What an archive copy's [`ENTRY_IDS`] metadata says about it: `Some(false)` when no
    /// entry of the copy can be selected (nothing to read), `Some(true)` when one may be,
    /// `None` when the value is not an index (read the body to know).
    pub fn in_index(&self, value: &str) -> Option<bool> {
        if value == NO_ENTRIES {
            return Some(false);
        }
        let mut any = false;
        for token in value.split(' ') {
            let parts: Vec<&str> = token.split('/').collect();
            let (e, b, f) = match parts[..] {
                [e, b, f] => (e, b, f),
                [e, b] if b == ANY => (e, ANY, ANY),
                _ => return None,
            };
            if [e, b, f].iter().any(|c| c.is_empty()) {
                return None;
            }
            any |= self.matches_components(e, b, f);
        }
        Some(any)
    }
}

/// The key component of an id, as the file object's key has it.
fn component(id: Option<Raw<'_>>) -> String {
    let mut out = String::new();
    push_id_component(&mut out, id);
    out
}

/// One element of a `result` array that is an object: where it stands and its ids.
#[derive(Debug, Clone, Copy)]
struct Found<'a> {
    /// Byte range of the entry in the body.
    start: usize,
    end: usize,
    /// `extractionId`, `batchId`, `fileId`: each the last occurrence, as sent.
    ids: [Option<Raw<'a>>; 3],
    /// The entry holds nothing but ids and `"erased": true`.
    stub: bool,
}

/// Walks every object element of every top-level `result` member that is an array
/// (the last such member is the one routed; earlier ones are text of the body too).
fn entries(body: &[u8]) -> Result<Vec<Found<'_>>, JsonError> {
    let mut sc = Scanner::new(body)?;
    let mut found = Vec::new();
    if sc.peek()? != Kind::Object {
        sc.skip_value(0)?;
        sc.finish()?;
        return Ok(found);
    }
    let mut top = sc.object_start()?;
    while let Some(key) = sc.next_key(&mut top)? {
        if !key.is_string("result") || sc.peek()? != Kind::Array {
            sc.skip_value(1)?;
            continue;
        }
        let mut array = sc.array_start()?;
        while sc.next_element(&mut array)? {
            if sc.peek()? != Kind::Object {
                sc.skip_value(2)?;
                continue;
            }
            let start = sc.position();
            found.push(entry(&mut sc, start)?);
        }
    }
    sc.finish()?;
    Ok(found)
}

/// Reads one entry object starting at `start`.
fn entry<'a>(sc: &mut Scanner<'a>, start: usize) -> Result<Found<'a>, JsonError> {
    let mut ids = [None; 3];
    let mut erased = None;
    let mut only_ids = true;
    let mut object = sc.object_start()?;
    while let Some(key) = sc.next_key(&mut object)? {
        let value = sc.skip_value(3)?;
        let slot = ["extractionId", "batchId", "fileId"]
            .iter()
            .position(|name| key.is_string(name));
        match slot {
            Some(i) => ids[i] = Some(value),
            None if key.is_string("erased") => erased = Some(value),
            None => only_ids = false,
        }
    }
    let stub = only_ids && erased.is_some_and(|v| v.kind() == Kind::Bool && v.bytes() == b"true");
    Ok(Found {
        start,
        end: sc.position(),
        ids,
        stub,
    })
}

/// Whether an entry (one object's JSON text) is an erasure stub: it holds nothing but
/// ids (`extractionId`, `batchId`, `fileId`) and `"erased": true`. Text that is not one
/// JSON object is not a stub.
pub fn is_stub(entry_json: &[u8]) -> bool {
    let Ok(mut sc) = Scanner::new(entry_json) else {
        return false;
    };
    if sc.peek() != Ok(Kind::Object) {
        return false;
    }
    let start = sc.position();
    entry(&mut sc, start).is_ok_and(|e| e.stub) && sc.finish().is_ok()
}

/// Whether `body` holds an entry the selection names that is not yet a stub: the archive
/// copy must be redacted.
pub fn holds(body: &[u8], selection: &Selection) -> Result<bool, JsonError> {
    Ok(entries(body)?.iter().any(|e| !e.stub && selection.matches(e.ids)))
}

/// A body with the selected entries replaced by stubs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    /// The new body: every byte outside the replaced entries as it was.
    pub body: Vec<u8>,
    /// How many entries were replaced (0: the body is unchanged).
    pub replaced: usize,
}

/// Replaces each selected entry that is not already a stub with
/// `{"extractionId":…,"batchId":…,"fileId":…,"erased":true}`: the ids' JSON text as it
/// stood, an id the entry lacks left out. Every other byte stays where it was.
pub fn redact(body: &[u8], selection: &Selection) -> Result<Redacted, JsonError> {
    let mut out = Vec::with_capacity(body.len());
    let mut copied = 0;
    let mut replaced = 0;
    for e in entries(body)? {
        if e.stub || !selection.matches(e.ids) {
            continue;
        }
        out.extend_from_slice(body.get(copied..e.start).unwrap_or_default());
        write_stub(&mut out, e.ids);
        copied = e.end;
        replaced += 1;
    }
    out.extend_from_slice(body.get(copied..).unwrap_or_default());
    Ok(Redacted { body: out, replaced })
}

fn write_stub(out: &mut Vec<u8>, ids: [Option<Raw<'_>>; 3]) {
    out.push(b'{');
    for (name, id) in ["extractionId", "batchId", "fileId"].into_iter().zip(ids) {
        if let Some(id) = id {
            out.push(b'"');
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
            out.extend_from_slice(id.bytes());
            out.push(b',');
        }
    }
    out.extend_from_slice(b"\"erased\":true}");
}

/// The [`ENTRY_IDS`] value for an archived body: its entries' ids as key components,
/// `extractionId/batchId/fileId`, distinct, space-separated, in order of first
/// appearance (stubs left out: nothing of theirs is left to erase); `-` when there are
/// none. When that is longer than `budget` bytes, each extraction and batch once
/// (`e/b/*`), then each extraction once (`e/*`); `None` when even that does not fit, or
/// the body is not JSON: erase then reads the body.
pub fn index(body: &[u8], budget: usize) -> Option<String> {
    let found = entries(body).ok()?;
    let live: Vec<[String; 3]> = found.iter().filter(|e| !e.stub).map(|e| e.ids.map(component)).collect();
    if live.is_empty() {
        return (NO_ENTRIES.len() <= budget).then(|| NO_ENTRIES.to_owned());
    }
    let levels: [fn(&[String; 3]) -> String; 3] = [
        |[e, b, f]| format!("{e}/{b}/{f}"),
        |[e, b, _]| format!("{e}/{b}/{ANY}"),
        |[e, _, _]| format!("{e}/{ANY}"),
    ];
    for level in levels {
        let mut tokens: Vec<String> = Vec::new();
        let mut len = 0;
        for ids in &live {
            let token = level(ids);
            if !tokens.contains(&token) {
                len += token.len() + usize::from(!tokens.is_empty());
                if len > budget {
                    break;
                }
                tokens.push(token);
            }
        }
        if len <= budget {
            return Some(tokens.join(" "));
        }
    }
    None
}

/// The room left for [`ENTRY_IDS`] beside the other user metadata of an archive copy
/// (`(name, value)` pairs), keeping room for [`ERASED_AT`] and its time.
pub fn index_budget<'a>(others: impl IntoIterator<Item = (&'a str, &'a str)>) -> usize {
    let used: usize = others.into_iter().map(|(n, v)| n.len() + v.len()).sum();
    let erased_at = ERASED_AT.len() + "2026-01-01T00:00:00.000Z".len();
    USER_METADATA_LIMIT.saturating_sub(used + erased_at + ENTRY_IDS.len())
}

/// The `DetailType` of the erasure notice.
pub const NOTICE_DETAIL_TYPE: &str = "receiver.erased";

/// What one run of erase did, as the notice reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    /// File-object versions and delete markers deleted.
    pub object_versions_deleted: usize,
    /// Archive copies rewritten with their selected entries as stubs.
    pub archive_copies_redacted: usize,
}

/// The erasure notice for the event bus: `DetailType` `receiver.erased`, `Detail`
/// `{"extractionId","batchId","fileId","erasedAt","objectVersionsDeleted",
/// "archiveCopiesRedacted"}` (the ids as given, `null` when not selected), `Time`
/// `erased_at` (RFC 3339 UTC, milliseconds).
pub fn notice(selection: &Selection, erased_at: &str, erased: Erased) -> crate::ports::BusEntry {
    let mut detail = Vec::with_capacity(256);
    detail.push(b'{');
    for (name, id) in ["extractionId", "batchId", "fileId"].into_iter().zip(selection.given()) {
        detail.push(b'"');
        detail.extend_from_slice(name.as_bytes());
        detail.extend_from_slice(b"\":");
        match id {
            Some(id) => crate::json::write_string(&mut detail, id.as_bytes()),
            None => detail.extend_from_slice(b"null"),
        }
        detail.push(b',');
    }
    detail.extend_from_slice(b"\"erasedAt\":");
    crate::json::write_string(&mut detail, erased_at.as_bytes());
    let counts = format!(
        ",\"objectVersionsDeleted\":{},\"archiveCopiesRedacted\":{}}}",
        erased.object_versions_deleted, erased.archive_copies_redacted
    );
    detail.extend_from_slice(counts.as_bytes());
    crate::ports::BusEntry {
        detail_type: NOTICE_DETAIL_TYPE.to_owned(),
        // Built from `str`s and ASCII: always UTF-8.
        detail: String::from_utf8_lossy(&detail).into_owned(),
        time: erased_at.to_owned(),
        event_id: String::new(),
        result_omitted: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::{Delivery, Route};
    use proptest::prelude::*;

    fn sel(e: &str, b: Option<&str>, f: Option<&str>) -> Selection {
        Selection::new(e, b, f).unwrap()
    }

    const BATCH: &str = r#"{"event":"extraction.confirmed","result":[
        {"extractionId":"e1","batchId":"b1","fileId":"f1","fileName":"cv-1.pdf","result":{"n":"M1"}},
        {"extractionId":"e1","batchId":"b1","fileId":"f2","fileName":"cv-2.pdf","result":{"n":"M2"}},
        {"extractionId":"e1","batchId":"b2","fileId":"f1","url":"https://x/3","result":{"n":"M3"}},
        {"extractionId":7,"batchId":8.50,"fileId":"f\/9","result":[]}
    ]}"#;

    #[test]
    fn selections_refuse_empty_ids_and_a_file_without_its_batch() {
        assert_eq!(Selection::new("", None, None), Err(SelectionError::EmptyId));
        assert_eq!(Selection::new("e", Some(""), None), Err(SelectionError::EmptyId));
        assert_eq!(
            Selection::new("e", None, Some("f")),
            Err(SelectionError::FileWithoutBatch)
        );
        assert_eq!(sel("e", Some("b"), None).given(), [Some("e"), Some("b"), None]);
    }

    #[test]
    fn redacts_one_file_and_leaves_every_other_byte() {
        let r = redact(BATCH.as_bytes(), &sel("e1", Some("b1"), Some("f1"))).unwrap();
        assert_eq!(r.replaced, 1);
        let text = String::from_utf8(r.body).unwrap();
        let expected = BATCH.replace(
            r#"{"extractionId":"e1","batchId":"b1","fileId":"f1","fileName":"cv-1.pdf","result":{"n":"M1"}}"#,
            r#"{"extractionId":"e1","batchId":"b1","fileId":"f1","erased":true}"#,
        );
        assert_eq!(text, expected);
        assert!(!text.contains("M1") && text.contains("M2") && text.contains("M3"));
    }

    #[test]
    fn a_batch_and_an_extraction_select_their_entries() {
        let batch = redact(BATCH.as_bytes(), &sel("e1", Some("b1"), None)).unwrap();
        assert_eq!(batch.replaced, 2);
        let all = redact(BATCH.as_bytes(), &sel("e1", None, None)).unwrap();
        assert_eq!(all.replaced, 3);
        let text = String::from_utf8(all.body).unwrap();
        assert!(!text.contains("cv-") && !text.contains("https") && text.contains("\"f\\/9\""));
    }

    #[test]
    fn numeric_and_escaped_ids_compare_as_key_components() {
        // 7 and 8.50 by their JSON text, "f\/9" by its value: the key `7/8.50/f%2F9/`.
        let s = sel("7", Some("8.50"), Some("f/9"));
        assert!(holds(BATCH.as_bytes(), &s).unwrap());
        let r = redact(BATCH.as_bytes(), &s).unwrap();
        assert!(String::from_utf8(r.body)
            .unwrap()
            .contains(r#"{"extractionId":7,"batchId":8.50,"fileId":"f\/9","erased":true}"#));
        // 8.5 is another number's text, hence another key.
        assert!(!holds(BATCH.as_bytes(), &sel("7", Some("8.5"), None)).unwrap());
        assert_eq!(s.file_prefix(&Prefix::new("extracta")), "extracta/7/8.50/f%2F9/");
    }

    #[test]
    fn a_missing_id_is_left_out_of_the_stub() {
        let body = br#"{"result":[{"extractionId":"e","fileId":null,"error":"x"}]}"#;
        let r = redact(body, &sel("e", None, None)).unwrap();
        assert_eq!(
            r.body,
            br#"{"result":[{"extractionId":"e","fileId":null,"erased":true}]}"#
        );
    }

    #[test]
    fn the_notice_names_the_selection_as_given() {
        let s = sel("e \"1\"", Some("12"), None);
        let at = "2026-12-06T08:00:00.000Z";
        let n = notice(
            &s,
            at,
            Erased {
                object_versions_deleted: 3,
                archive_copies_redacted: 2,
            },
        );
        assert_eq!(n.detail_type, "receiver.erased");
        assert_eq!(n.time, at);
        let v: serde_json::Value = serde_json::from_str(&n.detail).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"extractionId": "e \"1\"", "batchId": "12", "fileId": null,
                "erasedAt": at, "objectVersionsDeleted": 3, "archiveCopiesRedacted": 2})
        );
    }

    #[test]
    fn stubs() {
        assert!(is_stub(
            br#"{"extractionId":"e","batchId":"b","fileId":"f","erased":true}"#
        ));
        assert!(is_stub(br#"{ "erased" : true }"#));
        assert!(is_stub(br#"{"erased":false,"erased":true}"#));
        for not in [
            &br#"{"extractionId":"e","erased":true,"result":1}"#[..],
            br#"{"extractionId":"e","erased":"true"}"#,
            br#"{"extractionId":"e"}"#,
            br#"{"erased":true,"erased":false}"#,
            br#"[{"erased":true}]"#,
            br#"{"erased":true} x"#,
            b"",
        ] {
            assert!(!is_stub(not), "{}", String::from_utf8_lossy(not));
        }
    }

    #[test]
    fn every_result_member_and_any_event_is_examined_but_not_other_members() {
        let body = br#"{"event":"classification.x","result":[{"extractionId":"e","a":1},2],"other":[{"extractionId":"e","a":1}],"result":[{"extractionId":"e","a":2}]}"#;
        let r = redact(body, &sel("e", None, None)).unwrap();
        assert_eq!(r.replaced, 2);
        assert_eq!(
            r.body,
            br#"{"event":"classification.x","result":[{"extractionId":"e","erased":true},2],"other":[{"extractionId":"e","a":1}],"result":[{"extractionId":"e","erased":true}]}"#
        );
        // A result that is not an array is not examined.
        assert!(!holds(br#"{"result":{"extractionId":"e"}}"#, &sel("e", None, None)).unwrap());
        assert!(redact(b"{", &sel("e", None, None)).is_err());
    }

    #[test]
    fn file_keys_of_a_selection() {
        let p = Prefix::new("x");
        let s = sel("e", Some("b"), None);
        assert!(s.is_file_key(&p, "x/e/b/f/confirmed.json"));
        assert!(!s.is_file_key(&p, "x/e/b2/f/confirmed.json"));
        assert!(!s.is_file_key(&p, "x/e/b/f/other.json"));
        assert!(!s.is_file_key(&p, "x/e/b/f/g/confirmed.json"));
        let archive = sel("_deliveries", None, None);
        assert!(!archive.is_file_key(&p, &format!("x/_deliveries/2026/01/02/e/{}.json", "a".repeat(64))));
    }

    #[test]
    fn the_index_settles_copies_without_their_body() {
        let full = index(BATCH.as_bytes(), 2000).unwrap();
        assert_eq!(full, "e1/b1/f1 e1/b1/f2 e1/b2/f1 7/8.50/f%2F9");
        let s = sel("e1", Some("b1"), Some("f2"));
        assert_eq!(s.in_index(&full), Some(true));
        assert_eq!(sel("e1", Some("b1"), Some("f3")).in_index(&full), Some(false));
        assert_eq!(sel("e2", None, None).in_index(&full), Some(false));
        // Cut to fit: batches, then extractions, then nothing.
        let batches = index(BATCH.as_bytes(), 30).unwrap();
        assert_eq!(batches, "e1/b1/* e1/b2/* 7/8.50/*");
        assert_eq!(sel("e1", Some("b1"), Some("f3")).in_index(&batches), Some(true));
        assert_eq!(sel("e1", Some("b3"), None).in_index(&batches), Some(false));
        let extractions = index(BATCH.as_bytes(), 10).unwrap();
        assert_eq!(extractions, "e1/* 7/*");
        assert_eq!(sel("e1", Some("b3"), None).in_index(&extractions), Some(true));
        assert_eq!(sel("8", None, None).in_index(&extractions), Some(false));
        assert_eq!(index(BATCH.as_bytes(), 5), None);
        // No entries; stubs are left out; what is not an index settles nothing.
        assert_eq!(index(br#"{"result":[]}"#, 10).as_deref(), Some(NO_ENTRIES));
        assert_eq!(sel("e", None, None).in_index(NO_ENTRIES), Some(false));
        let redacted = redact(BATCH.as_bytes(), &s).unwrap().body;
        assert!(!index(&redacted, 2000).unwrap().contains("f2"));
        for junk in ["", "a", "a//b", "a/b/c/d", "a/b c"] {
            assert_eq!(s.in_index(junk), None, "{junk}");
        }
        assert!(index_budget([("event", "extraction.confirmed")]) < USER_METADATA_LIMIT - 40);
    }

    /// A made-up delivery: entries with ids from a small alphabet (so selections hit),
    /// some stubs, some non-object elements, whitespace here and there.
    fn body() -> impl Strategy<Value = String> {
        let id = prop_oneof![
            "[ab]".prop_map(|s| format!("\"{s}\"")),
            "[12]".prop_map(|s| s.to_string()),
            Just("null".to_string()),
        ];
        let member = (id.clone(), id.clone(), id, "[a-z ]{0,8}", any::<bool>(), 0..3usize);
        let element = member.prop_map(|(e, b, f, name, stub, ws)| {
            let sp = " ".repeat(ws);
            if stub {
                format!("{{\"extractionId\":{e},{sp}\"batchId\":{b},\"fileId\":{f},\"erased\":true}}")
            } else {
                format!("{{\"extractionId\":{e},{sp}\"batchId\":{b},\"fileId\":{f},\"fileName\":\"{name}\",\"result\":{{\"x\":[1,2]}}}}")
            }
        });
        let elements = prop::collection::vec(prop_oneof![9 => element, 1 => Just("3".to_string())], 0..6);
        elements.prop_map(|es| format!("{{\"event\":\"extraction.edited\", \"result\": [{}]}}", es.join(", ")))
    }

    fn selection() -> impl Strategy<Value = Selection> {
        ("[ab12]", proptest::option::of("[ab12]"), proptest::option::of("[ab12]")).prop_map(|(e, b, f)| {
            let f = if b.is_some() { f } else { None };
            Selection::new(&e, b.as_deref(), f.as_deref()).unwrap()
        })
    }

    proptest! {
        #[test]
        fn redaction_is_exact_idempotent_and_keeps_the_other_files(text in body(), s in selection()) {
            let before = text.as_bytes();
            let r = redact(before, &s).unwrap();
            // Idempotent: nothing selected is left, a second pass changes nothing.
            prop_assert!(!holds(&r.body, &s).unwrap());
            let again = redact(&r.body, &s).unwrap();
            prop_assert_eq!(again.replaced, 0);
            prop_assert_eq!(&again.body, &r.body);
            prop_assert_eq!(r.replaced == 0, r.body == before);
            prop_assert_eq!(holds(before, &s).unwrap(), r.replaced > 0);
            // Still a delivery, routed the same way; every entry that was not selected
            // keeps its exact bytes (hence its key, object and eventId), in order; every
            // selected one is a stub keeping its ids.
            let (old_delivery, new_delivery) = (Delivery::parse(before).unwrap(), Delivery::parse(&r.body).unwrap());
            let (Route::Files(k1, old), Route::Files(k2, new)) = (old_delivery.route(), new_delivery.route()) else {
                // Not every element is an object: archive only, before and after.
                prop_assert_eq!(old_delivery.route(), Route::ArchiveOnly);
                prop_assert_eq!(new_delivery.route(), Route::ArchiveOnly);
                return Ok(());
            };
            prop_assert_eq!(k1, k2);
            prop_assert_eq!(old.len(), new.len());
            for (o, n) in old.iter().zip(new) {
                let ids = |e: &crate::delivery::FileEntry<'_>| [e.fields.extraction_id, e.fields.batch_id, e.fields.file_id].map(|r| r.map(|r| r.bytes().to_vec()));
                prop_assert_eq!(ids(o), ids(n));
                if s.matches([o.fields.extraction_id, o.fields.batch_id, o.fields.file_id]) {
                    prop_assert!(is_stub(n.raw));
                } else {
                    prop_assert_eq!(o.raw, n.raw);
                }
            }
            // The index of the redacted copy never names a selected entry.
            if let Some(ix) = index(&r.body, USER_METADATA_LIMIT) {
                prop_assert_eq!(s.in_index(&ix), Some(false));
            }
            // And the index of the original settles correctly.
            if let Some(ix) = index(before, USER_METADATA_LIMIT) {
                prop_assert_eq!(s.in_index(&ix), Some(holds(before, &s).unwrap()));
            }
        }
    }
}
