//! `erase`: remove an extraction, a batch or one file from the results bucket
//! (docs/contract.md §11): every version and delete marker of its file objects, and its
//! entries out of every archive copy (redacted to stubs, never deleted).
//!
//! What is selected, how an entry becomes a stub and what an archive copy's `entry-ids`
//! metadata settles are `shared::erase`'s; this command finds the objects and rewrites
//! them. Every rewrite is conditional on the version read (`If-Match`), every step is
//! repeatable, and the exit status is non-zero while anything is left undone.

use std::collections::HashMap;
use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use futures::stream::{self, StreamExt as _};
use shared::aws::EventBridgeBus;
use shared::erase::{self, Erased, Selection};
use shared::layout::metadata::{ENTRY_IDS, ERASED_AT};
use shared::layout::{archive_root, ArchiveKey, Prefix};
use shared::ports::EventBus as _;
use time::{Date, OffsetDateTime};

use crate::send::CliError;

/// Arguments of `erase`.
#[derive(Debug, clap::Args)]
pub struct EraseArgs {
    /// The results bucket (RESULTS_BUCKET).
    #[arg(long, env = "RESULTS_BUCKET")]
    bucket: String,
    /// RESULTS_PREFIX of the deployment.
    #[arg(long, env = "RESULTS_PREFIX", default_value = "extracta/")]
    prefix: String,
    /// The extraction to erase (a numeric id as its JSON text, e.g. 12).
    #[arg(long)]
    extraction: String,
    /// Only this batch of the extraction.
    #[arg(long)]
    batch: Option<String>,
    /// Only this file of the batch (needs --batch).
    #[arg(long, requires = "batch")]
    file: Option<String>,
    /// Examine only archive copies received on or after this UTC day (YYYY-MM-DD);
    /// default: the whole archive. File objects are always erased whatever their date.
    #[arg(long, value_parser = crate::replay::parse_day)]
    since: Option<Date>,
    /// Print what would be deleted and redacted; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Put a `receiver.erased` notice on this EventBridge bus (a name or ARN) once done.
    #[arg(long)]
    event_bus: Option<String>,
    /// S3 requests in flight.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
    /// Endpoint of a local S3 (moto); otherwise AWS_ENDPOINT_URL or AWS itself.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,
}

/// The version id S3 lists for an object written while versioning was off.
const UNVERSIONED: &str = "null";

/// One version (or delete marker) of a key, as listed.
#[derive(Debug, Clone)]
struct Version {
    id: String,
    latest: bool,
    marker: bool,
}

impl Version {
    /// The id to name in a request: none for an object written while versioning was off
    /// (the key alone names it; moto refuses `versionId=null`).
    fn request_id(&self) -> Option<String> {
        (self.id != UNVERSIONED).then(|| self.id.clone())
    }
}

/// An archive key and every version of it.
#[derive(Debug, Clone)]
struct Copy {
    key: String,
    date: Date,
    versions: Vec<Version>,
}

/// What the run did (or, dry, would do); failures name the key and the step.
#[derive(Debug, Default)]
struct Totals {
    file_versions_deleted: AtomicUsize,
    copies_examined: usize,
    first_day: Option<Date>,
    last_day: Option<Date>,
    versions_read: AtomicUsize,
    copies_redacted: AtomicUsize,
    archive_versions_deleted: AtomicUsize,
    failures: std::sync::Mutex<Vec<String>>,
}

impl Totals {
    fn fail(&self, what: String) {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(what);
    }
}

struct Ctx<'a> {
    s3: &'a aws_sdk_s3::Client,
    bucket: &'a str,
    selection: &'a Selection,
    dry_run: bool,
    now: String,
    totals: &'a Totals,
}

/// Erases the selection; exits non-zero naming every key it could not finish.
pub async fn run(args: EraseArgs) -> Result<ExitCode, CliError> {
    let selection = Selection::new(&args.extraction, args.batch.as_deref(), args.file.as_deref())
        .map_err(|e| CliError::Invalid(e.to_string()))?;
    let prefix = Prefix::new(&args.prefix);
    let (sdk, s3) = crate::aws::connect(args.endpoint_url.as_deref()).await;
    let mut totals = Totals::default();

    // The archive first: once no copy holds the entries, no redrive or replay can put
    // a file object back while the file objects go.
    let copies = list_archive(&s3, &args.bucket, &prefix, args.since).await?;
    totals.copies_examined = copies.len();
    totals.first_day = copies.iter().map(|c| c.date).min();
    totals.last_day = copies.iter().map(|c| c.date).max();
    let ctx = Ctx {
        s3: &s3,
        bucket: &args.bucket,
        selection: &selection,
        dry_run: args.dry_run,
        now: shared::plan::received_at(OffsetDateTime::now_utc()),
        totals: &totals,
    };
    let progress = std::io::stderr().is_terminal();
    let total = copies.len();
    let mut done = 0;
    let mut work =
        stream::iter(copies.iter().map(|c| erase_copy(&ctx, c))).buffer_unordered(usize::from(args.concurrency));
    while work.next().await.is_some() {
        done += 1;
        if progress && (done % 64 == 0 || done == total) {
            eprint!(
                "\rarchive copies examined {done}/{total}, redacted {}\x1b[K",
                totals.copies_redacted.load(Ordering::Relaxed)
            );
            let _ = std::io::stderr().flush();
        }
    }
    drop(work);
    if progress && total > 0 {
        eprintln!();
    }

    let files = list_versions(&s3, &args.bucket, &selection.file_prefix(&prefix)).await?;
    let files: Vec<(String, Version)> = files
        .into_iter()
        .filter(|(key, _)| selection.is_file_key(&prefix, key))
        .collect();
    if args.dry_run {
        for (key, v) in &files {
            println!(
                "would delete {key} version {}{}",
                v.id,
                if v.marker { " (delete marker)" } else { "" }
            );
        }
        totals.file_versions_deleted.store(files.len(), Ordering::Relaxed);
    } else {
        let (deleted, failed) = delete_versions(&s3, &args.bucket, &files).await;
        totals.file_versions_deleted.store(deleted, Ordering::Relaxed);
        for f in failed {
            totals.fail(f);
        }
    }

    let failures = std::mem::take(
        &mut *totals
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    print_summary(&args, &totals);
    if !failures.is_empty() {
        for f in &failures {
            eprintln!("not erased: {f}");
        }
        eprintln!(
            "erase did not finish: {} step(s) failed (listed above); run the same command again to finish",
            failures.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    if let Some(bus) = args.event_bus.as_deref().filter(|b| !b.is_empty() && !args.dry_run) {
        let entry = erase::notice(
            &selection,
            &ctx.now,
            Erased {
                object_versions_deleted: totals.file_versions_deleted.load(Ordering::Relaxed),
                archive_copies_redacted: totals.copies_redacted.load(Ordering::Relaxed),
            },
        );
        EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&sdk), bus)
            .put(&[&entry])
            .await
            .map_err(|e| CliError::Aws(format!("erased, but the receiver.erased notice was not put: {e}")))?;
        println!("put a receiver.erased notice on {bus}");
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(args: &EraseArgs, t: &Totals) {
    let (deleted, redacted) = if args.dry_run {
        ("would delete", "would redact")
    } else {
        ("deleted", "redacted")
    };
    let range = match (t.first_day, t.last_day) {
        (Some(a), Some(b)) => format!(" (received {a} to {b})"),
        _ => String::new(),
    };
    println!(
        "file objects: {deleted} {} versions and delete markers",
        t.file_versions_deleted.load(Ordering::Relaxed)
    );
    println!(
        "archive copies: {} examined{range}, {} read, {redacted} {}, {deleted} {} older versions",
        t.copies_examined,
        t.versions_read.load(Ordering::Relaxed),
        t.copies_redacted.load(Ordering::Relaxed),
        t.archive_versions_deleted.load(Ordering::Relaxed),
    );
}

/// Every version and delete marker under `prefix`, in key order.
async fn list_versions(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<(String, Version)>, CliError> {
    let mut out = Vec::new();
    let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(prefix)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .map_err(|e| crate::aws::error(&format!("listing the versions under {prefix}"), e))?;
        for v in page.versions() {
            if let Some(key) = v.key() {
                out.push((key.to_owned(), version(v.version_id(), v.is_latest(), false)));
            }
        }
        for m in page.delete_markers() {
            if let Some(key) = m.key() {
                out.push((key.to_owned(), version(m.version_id(), m.is_latest(), true)));
            }
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        version_marker = page.next_version_id_marker().map(str::to_owned);
        if key_marker.is_none() {
            break;
        }
    }
    Ok(out)
}

fn version(id: Option<&str>, latest: Option<bool>, marker: bool) -> Version {
    Version {
        // An unversioned bucket lists its objects with the version id "null".
        id: id.unwrap_or(UNVERSIONED).to_owned(),
        latest: latest.unwrap_or(false),
        marker,
    }
}

/// The archive copies received on or after `since`, each with all its versions.
async fn list_archive(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &Prefix,
    since: Option<Date>,
) -> Result<Vec<Copy>, CliError> {
    let root = archive_root(prefix);
    // The whole archive is listed (one request per 1,000 versions) and the days before
    // `since` left out here: what costs is examining a copy, not listing it.
    let mut copies: Vec<Copy> = Vec::new();
    for (key, v) in list_versions(s3, bucket, &root).await? {
        let Some(parsed) = ArchiveKey::parse(prefix, &key) else {
            continue;
        };
        if since.is_some_and(|s| parsed.date < s) {
            continue;
        }
        let date = parsed.date;
        match copies.last_mut() {
            Some(c) if c.key == key => c.versions.push(v),
            _ => copies.push(Copy {
                key,
                date,
                versions: vec![v],
            }),
        }
    }
    Ok(copies)
}

/// Redacts the current version of one archive copy if it holds a selected entry (then
/// deletes every older version), else deletes each older version that holds one. A
/// redaction refused because the copy changed since it was read is tried again.
async fn erase_copy(ctx: &Ctx<'_>, copy: &Copy) {
    let mut copy = copy.clone();
    for _ in 0..3 {
        match erase_versions(ctx, &copy).await {
            Ok(true) => return,
            Ok(false) => match list_versions(ctx.s3, ctx.bucket, &copy.key).await {
                Ok(versions) => {
                    copy.versions = versions
                        .into_iter()
                        .filter(|(k, _)| *k == copy.key)
                        .map(|(_, v)| v)
                        .collect()
                }
                Err(e) => return ctx.totals.fail(format!("{}: {e}", copy.key)),
            },
            Err(e) => return ctx.totals.fail(format!("{}: {e}", copy.key)),
        }
    }
    ctx.totals
        .fail(format!("{}: changed while being redacted, three times", copy.key));
}

/// One pass over a copy's versions; `Ok(false)` when the redaction was refused (`412`).
async fn erase_versions(ctx: &Ctx<'_>, copy: &Copy) -> Result<bool, String> {
    let mut doomed: Vec<(String, Version)> = Vec::new();
    for v in copy.versions.iter().filter(|v| !v.marker) {
        let Some(read) = read_if_selected(ctx, &copy.key, v).await? else {
            continue;
        };
        if !v.latest {
            doomed.push((copy.key.clone(), v.clone()));
            continue;
        }
        let redacted = erase::redact(&read.body, ctx.selection).map_err(|e| format!("cannot redact: {e}"))?;
        if ctx.dry_run {
            println!("would redact {} ({} entries)", copy.key, redacted.replaced);
        } else if !put_redacted(ctx, &copy.key, read, redacted.body).await? {
            return Ok(false);
        }
        ctx.totals.copies_redacted.fetch_add(1, Ordering::Relaxed);
        // Every version listed, the one just read included, is now older than the
        // redacted one: none may keep the entries.
        doomed = copy.versions.iter().map(|o| (copy.key.clone(), o.clone())).collect();
        break;
    }
    if doomed.is_empty() {
        return Ok(true);
    }
    if ctx.dry_run {
        for (key, v) in &doomed {
            println!("would delete {key} version {}", v.id);
        }
        ctx.totals
            .archive_versions_deleted
            .fetch_add(doomed.len(), Ordering::Relaxed);
        return Ok(true);
    }
    let (deleted, failed) = delete_versions(ctx.s3, ctx.bucket, &doomed).await;
    ctx.totals
        .archive_versions_deleted
        .fetch_add(deleted, Ordering::Relaxed);
    match failed.first() {
        None => Ok(true),
        Some(_) => Err(failed.join("; ")),
    }
}

/// A version's body and metadata, read.
struct Read {
    body: Vec<u8>,
    etag: String,
    metadata: HashMap<String, String>,
}

/// Reads a version unless its `entry-ids` metadata settles that it holds no selected
/// entry; `None` when it holds none.
async fn read_if_selected(ctx: &Ctx<'_>, key: &str, v: &Version) -> Result<Option<Read>, String> {
    let head = ctx
        .s3
        .head_object()
        .bucket(ctx.bucket)
        .key(key)
        .set_version_id(v.request_id())
        .send()
        .await
        .map_err(|e| crate::aws::error("reading its metadata", e).to_string())?;
    let index = head.metadata().and_then(|m| m.get(ENTRY_IDS));
    if index.is_some_and(|ix| ctx.selection.in_index(ix) == Some(false)) {
        return Ok(None);
    }
    let got = ctx
        .s3
        .get_object()
        .bucket(ctx.bucket)
        .key(key)
        .set_version_id(v.request_id())
        .send()
        .await
        .map_err(|e| crate::aws::error("reading it", e).to_string())?;
    ctx.totals.versions_read.fetch_add(1, Ordering::Relaxed);
    let etag = got.e_tag().unwrap_or_default().to_owned();
    let metadata = got.metadata().cloned().unwrap_or_default();
    let body = got
        .body
        .collect()
        .await
        .map_err(|e| format!("reading it: {e}"))?
        .into_bytes()
        .to_vec();
    match erase::holds(&body, ctx.selection) {
        Ok(true) => Ok(Some(Read { body, etag, metadata })),
        Ok(false) => Ok(None),
        // Not JSON: not something the function archived, and no entry to find in it.
        Err(_) => Ok(None),
    }
}

/// Writes the redacted body over the version read (`If-Match` its ETag), metadata as it
/// was plus `erased-at` and the new `entry-ids`; `false` when the copy changed since.
async fn put_redacted(ctx: &Ctx<'_>, key: &str, read: Read, body: Vec<u8>) -> Result<bool, String> {
    let mut metadata = read.metadata;
    metadata.remove(ENTRY_IDS);
    metadata.insert(ERASED_AT.to_owned(), ctx.now.clone());
    let budget = erase::index_budget(metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if let Some(index) = erase::index(&body, budget) {
        metadata.insert(ENTRY_IDS.to_owned(), index);
    }
    let put = ctx
        .s3
        .put_object()
        .bucket(ctx.bucket)
        .key(key)
        .body(ByteStream::from(body))
        .content_type("application/json")
        .set_metadata(Some(metadata))
        .if_match(&read.etag)
        .send()
        .await;
    match put {
        Ok(_) => Ok(true),
        Err(e) if matches!(e.raw_response().map(|r| r.status().as_u16()), Some(409 | 412)) => Ok(false),
        Err(e) => Err(crate::aws::error("writing the redacted copy", e).to_string()),
    }
}

/// Deletes versions, 1,000 per request; the count deleted and a line per failure.
async fn delete_versions(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    versions: &[(String, Version)],
) -> (usize, Vec<String>) {
    let mut deleted = 0;
    let mut failed = Vec::new();
    for chunk in versions.chunks(1000) {
        let ids: Result<Vec<ObjectIdentifier>, _> = chunk
            .iter()
            .map(|(key, v)| {
                ObjectIdentifier::builder()
                    .key(key)
                    .set_version_id(v.request_id())
                    .build()
            })
            .collect();
        let delete = ids.and_then(|ids| Delete::builder().set_objects(Some(ids)).quiet(true).build());
        let request = match delete {
            Ok(d) => s3.delete_objects().bucket(bucket).delete(d).send().await,
            Err(e) => {
                failed.push(format!("deleting versions: {e}"));
                continue;
            }
        };
        match request {
            Ok(out) => {
                deleted += chunk.len() - out.errors().len();
                failed.extend(out.errors().iter().map(|e| {
                    format!(
                        "{} version {}: not deleted: {}",
                        e.key().unwrap_or_default(),
                        e.version_id().unwrap_or_default(),
                        e.message().or(e.code()).unwrap_or_default()
                    )
                }));
            }
            Err(e) => failed.extend(
                chunk
                    .iter()
                    .map(|(key, v)| format!("{key} version {}: {}", v.id, crate::aws::error("not deleted", &e))),
            ),
        }
    }
    (deleted, failed)
}
