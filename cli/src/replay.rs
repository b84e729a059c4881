//! `replay`: re-drive archived deliveries through the function's own code path
//! (`shared::redrive`, which the function's SQS redrive uses too).
//!
//! The archive holds only authenticated deliveries, verbatim. Each is planned again with
//! the receipt time stored in its `received-at` metadata, so the replay writes the same
//! keys with the same bytes and publishes messages identical to the live ones (same
//! `eventId`, same `receivedAt`): subscribers de-duplicate them like any SNS retry.

use std::io::Write as _;
use std::process::ExitCode;

use shared::aws::{EventBridgeBus, S3ResultStore, SnsPublisher};
use shared::layout::{archive_day, archive_root, event_component, ArchiveKey, Prefix};
use shared::pipeline::Announcers;
use shared::plan::Destination;
use shared::redrive::{complete, Archived};
use time::Date;

use crate::send::CliError;

/// Arguments of `replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The results bucket (RESULTS_BUCKET).
    #[arg(long, env = "RESULTS_BUCKET")]
    bucket: String,
    /// RESULTS_PREFIX of the deployment (the archive is under `{prefix}_deliveries/`).
    #[arg(long, env = "RESULTS_PREFIX", default_value = "extracta/")]
    prefix: String,
    /// CONFIRMED_TOPIC_ARN of the deployment.
    #[arg(long, env = "CONFIRMED_TOPIC_ARN")]
    confirmed_topic_arn: String,
    /// FAILED_TOPIC_ARN of the deployment.
    #[arg(long, env = "FAILED_TOPIC_ARN")]
    failed_topic_arn: String,
    /// EVENT_BUS_NAME of the deployment (a name or ARN): the replay puts each delivery's
    /// EventBridge entries again, as the function does (docs/contract.md §10).
    #[arg(long, env = "EVENT_BUS_NAME")]
    event_bus: Option<String>,
    /// Archive keys to replay; repeatable. Without keys, --from/--to or --under select.
    #[arg(long = "key")]
    keys: Vec<String>,
    /// Every archived delivery under this key prefix (e.g. `extracta/_deliveries/2026/11/`).
    #[arg(long)]
    under: Option<String>,
    /// First UTC day (YYYY-MM-DD) of a date range of the archive.
    #[arg(long, value_parser = parse_day)]
    from: Option<Date>,
    /// Last UTC day (YYYY-MM-DD, inclusive); default: the --from day.
    #[arg(long, value_parser = parse_day)]
    to: Option<Date>,
    /// Only deliveries of this event (the `{event}` component of the archive key).
    #[arg(long)]
    event: Option<String>,
    /// List what would be written and published, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// S3/SNS requests in flight per delivery (MAX_CONCURRENCY).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Endpoint of a local S3/SNS (moto); otherwise AWS_ENDPOINT_URL or AWS itself.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,
}

/// A UTC day given as `YYYY-MM-DD`.
pub(crate) fn parse_day(s: &str) -> Result<Date, String> {
    let bad = || format!("{s}: want a UTC day as YYYY-MM-DD");
    let mut parts = s.splitn(3, '-').map(|p| p.parse::<u16>().map_err(|_| bad()));
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let month = time::Month::try_from(u8::try_from(m?).map_err(|_| bad())?).map_err(|_| bad())?;
    Date::from_calendar_date(i32::from(y?), month, u8::try_from(d?).map_err(|_| bad())?).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days() {
        assert_eq!(
            parse_day("2026-11-26").unwrap(),
            Date::from_calendar_date(2026, time::Month::November, 26).unwrap()
        );
        for bad in ["2026-13-01", "2026-02-30", "26-1", "x", "2026-01-01-01"] {
            assert!(parse_day(bad).is_err(), "{bad}");
        }
    }
}

/// Totals printed at the end.
#[derive(Debug, Default)]
struct Totals {
    deliveries: usize,
    objects: usize,
    superseded: usize,
    published: usize,
    bus_entries: usize,
    failed: usize,
}

/// Selects archived deliveries and re-drives each; exits non-zero if any failed.
pub async fn run(args: ReplayArgs) -> Result<ExitCode, CliError> {
    let (sdk, s3) = crate::aws::connect(args.endpoint_url.as_deref()).await;
    let to = Destination {
        bucket: args.bucket.clone(),
        prefix: Prefix::new(&args.prefix),
    };
    let keys = select(&s3, &args, &to.prefix).await?;
    let store = S3ResultStore::new(s3.clone(), &args.bucket);
    let announcers = Announcers {
        topics: SnsPublisher::new(
            aws_sdk_sns::Client::new(&sdk),
            args.confirmed_topic_arn.clone(),
            args.failed_topic_arn.clone(),
        ),
        bus: args
            .event_bus
            .as_deref()
            .filter(|bus| !bus.is_empty())
            .map(|bus| EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&sdk), bus)),
    };
    let mut totals = Totals::default();
    let total = keys.len();
    for (n, key) in keys.iter().enumerate() {
        eprint!("\r[{}/{total}] {key}\x1b[K", n + 1);
        let _ = std::io::stderr().flush();
        if args.dry_run {
            match Archived::read(key, &to.prefix, &store).await.and_then(|a| a.plan(&to)) {
                Ok(replan) => {
                    println!("{key}");
                    let plan = &replan.plan;
                    for (i, put) in plan.files.iter().enumerate() {
                        if plan.is_erased(i) {
                            // docs/contract.md §11: an erased entry of a redacted copy.
                            println!("  erased {}: nothing to write or publish", put.key);
                            continue;
                        }
                        println!(
                            "  put {} ({} bytes, event-id {})",
                            put.key,
                            put.body.len(),
                            put.event_id
                        );
                    }
                    let per_file = plan.messages.len() == plan.files.len();
                    for (i, m) in plan.messages.iter().enumerate() {
                        if per_file && plan.is_erased(i) {
                            continue;
                        }
                        println!(
                            "  publish {:?} eventId {}{}",
                            m.topic,
                            m.event_id,
                            if m.result_omitted { " (resultOmitted)" } else { "" }
                        );
                    }
                    totals.deliveries += 1;
                }
                Err(e) => {
                    eprintln!("\n{key}: {e}");
                    totals.failed += 1;
                }
            }
            continue;
        }
        match complete(key, &to, &store, &announcers, args.concurrency).await {
            Ok(done) => {
                totals.deliveries += 1;
                totals.objects += done.outcome.objects;
                totals.superseded += done.outcome.superseded;
                totals.published += done.outcome.published;
                totals.bus_entries += done.outcome.bus_entries;
            }
            Err(e) => {
                eprintln!("\n{key}: {e}");
                totals.failed += 1;
            }
        }
    }
    eprintln!();
    let verb = if args.dry_run { "would replay" } else { "replayed" };
    println!(
        "{verb} {} deliveries: {} objects written, {} superseded by a newer delivery, {} messages published, {} failed",
        totals.deliveries, totals.objects, totals.superseded, totals.published, totals.failed
    );
    if args.event_bus.as_deref().is_some_and(|bus| !bus.is_empty()) && !args.dry_run {
        println!("put {} EventBridge entries", totals.bus_entries);
    }
    Ok(if totals.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The archive keys the arguments select, in key order.
async fn select(s3: &aws_sdk_s3::Client, args: &ReplayArgs, prefix: &Prefix) -> Result<Vec<String>, CliError> {
    let mut scopes = Vec::new();
    if let Some(under) = &args.under {
        scopes.push(under.clone());
    }
    if let Some(from) = args.from {
        let last = args.to.unwrap_or(from);
        let mut day = from;
        while day <= last {
            scopes.push(archive_day(prefix, day));
            match day.next_day() {
                Some(next) => day = next,
                None => break,
            }
        }
    }
    if args.keys.is_empty() && scopes.is_empty() {
        return Err(CliError::Invalid(
            "say what to replay: --key, --under or --from/--to".into(),
        ));
    }
    let mut keys = args.keys.clone();
    for scope in scopes {
        let mut pages = s3
            .list_objects_v2()
            .bucket(&args.bucket)
            .prefix(&scope)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| crate::aws::error("listing the archive", e))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key()).map(str::to_owned));
        }
    }
    let root = archive_root(prefix);
    let wanted = args.event.as_ref().map(|e| event_component(Some(e.as_bytes())));
    keys.retain(|k| match ArchiveKey::parse(prefix, k) {
        Some(parsed) => wanted.as_deref().is_none_or(|w| parsed.event == w),
        None => {
            eprintln!("{k}: not an archive key under {root}; skipped");
            false
        }
    });
    keys.sort();
    keys.dedup();
    Ok(keys)
}
