//! Completing an archived delivery (docs/contract.md §8): the one code path the function's
//! SQS redrive and `webhook-cli replay` share.
//!
//! The archive holds only authenticated deliveries, verbatim, with their receipt time in
//! `received-at`. Planned again with that time, a delivery writes the same keys with the
//! same bytes and metadata, and publishes the same messages (same `eventId`, same
//! `receivedAt`) as its live `200` would have: subscribers de-duplicate them like any SNS
//! retry. Being ordered by that same receipt time, a redrive or replay of an older
//! delivery never replaces a newer one (docs/contract.md §9).

use std::future::pending;

use bytes::Bytes;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::delivery::{Delivery, EventKind, Route};
use crate::json::{Kind, Scanner};
use crate::layout::{ArchiveKey, Prefix};
use crate::pipeline::{execute, Announcers, Incomplete, Outcome};
use crate::plan::{Destination, Plan};
use crate::ports::{DownstreamError, EventBus, MessagePublisher, ResultStore};

/// Why an archived delivery could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum RedriveError {
    /// The message is not a JSON object with a string `archived`.
    #[error("the message is not a JSON object with a string \"archived\"")]
    NotARequest,
    /// The key is not an archive key of this deployment: nothing was read.
    #[error("not an archive key under this deployment's prefix")]
    NotAnArchiveKey,
    /// No object has that key.
    #[error("no archived delivery has that key")]
    Missing,
    /// The archive could not be read.
    #[error(transparent)]
    Read(DownstreamError),
    /// The object is not what the function archives under that key.
    #[error("the archived object is unusable: {0}")]
    Corrupt(&'static str),
    /// Storing or publishing failed.
    #[error(transparent)]
    Incomplete(Incomplete),
}

/// A redrive that did not complete: why, and the delivery as planned when it got that far
/// (its event and files, for the log line).
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct NotCompleted {
    /// The delivery as planned, once its archive copy was read and planned.
    pub replan: Option<Replan>,
    /// Why it did not complete.
    pub error: RedriveError,
}

impl From<RedriveError> for NotCompleted {
    fn from(error: RedriveError) -> Self {
        NotCompleted { replan: None, error }
    }
}

/// The `archived` key a redrive message names: a JSON object with a string `archived`;
/// other members are ignored, so an operator may send just `{"archived": "<key>"}`.
pub fn archived_key(message: &[u8]) -> Result<String, RedriveError> {
    let mut found = None;
    let mut scan = Scanner::new(message).map_err(|_| RedriveError::NotARequest)?;
    let mut members = scan.object_start().map_err(|_| RedriveError::NotARequest)?;
    while let Some(name) = scan.next_key(&mut members).map_err(|_| RedriveError::NotARequest)? {
        let value = scan.skip_value(1).map_err(|_| RedriveError::NotARequest)?;
        if name.is_string("archived") {
            // The last of duplicate members wins, as with JSON.parse.
            found = (value.kind() == Kind::String).then(|| value.as_str().map(|s| s.into_owned()));
        }
    }
    scan.finish().map_err(|_| RedriveError::NotARequest)?;
    found.flatten().ok_or(RedriveError::NotARequest)
}

/// The redrive message the function sends for a durable delivery it did not complete.
pub fn message(archived: &str, reason: &str) -> String {
    let mut out = Vec::with_capacity(archived.len() + reason.len() + 32);
    out.extend_from_slice(br#"{"archived":"#);
    crate::json::write_string(&mut out, archived.as_bytes());
    out.extend_from_slice(br#","reason":"#);
    crate::json::write_string(&mut out, reason.as_bytes());
    out.push(b'}');
    String::from_utf8(out).unwrap_or_default()
}

/// An archived delivery, read back and checked.
#[derive(Debug, Clone)]
pub struct Archived {
    /// Its key.
    pub key: String,
    /// The body, verbatim.
    pub body: Bytes,
    /// The receipt time from its `received-at` metadata.
    pub received_at: OffsetDateTime,
    /// Its `erased-at` metadata: an erasure redacted entries out of it (docs/contract.md
    /// §11), so its body no longer hashes to its key and its stubs are left alone.
    pub erased_at: Option<String>,
}

impl Archived {
    /// Reads the delivery archived at `key`; only a key [`ArchiveKey::parse`] accepts
    /// under `prefix` is read at all.
    pub async fn read<S: ResultStore>(key: &str, prefix: &Prefix, store: &S) -> Result<Archived, RedriveError> {
        ArchiveKey::parse(prefix, key).ok_or(RedriveError::NotAnArchiveKey)?;
        let object = store
            .get(key)
            .await
            .map_err(RedriveError::Read)?
            .ok_or(RedriveError::Missing)?;
        let received_at = object
            .received_at
            .and_then(|t| OffsetDateTime::parse(&t, &Rfc3339).ok())
            .ok_or(RedriveError::Corrupt("no valid received-at metadata"))?;
        Ok(Archived {
            key: key.to_owned(),
            body: object.body,
            received_at,
            erased_at: object.erased_at,
        })
    }

    /// Plans the delivery again exactly as it was planned live.
    pub fn plan(&self, to: &Destination) -> Result<Replan, RedriveError> {
        let delivery = Delivery::parse(&self.body).map_err(|_| RedriveError::Corrupt("not a JSON object"))?;
        let mut plan = Plan::new(&self.body, &delivery, to, self.received_at);
        // The body's hash, its event and its receipt day must give back the key it was
        // read from; anything else was not archived by the function. A redacted copy
        // keeps the key of the body as received: its event and day must match.
        let matches = match self.erased_at {
            None => plan.archive.key == self.key,
            Some(_) => {
                let parts = |key| ArchiveKey::parse(&to.prefix, key).map(|k| (k.date, k.event.to_owned()));
                parts(&plan.archive.key).is_some() && parts(&plan.archive.key) == parts(&self.key)
            }
        };
        if self.erased_at.is_some() {
            plan.leave_erased();
        }
        if !matches {
            return Err(RedriveError::Corrupt(
                "its body, event or received-at do not match its key",
            ));
        }
        let (kind, files) = match delivery.route() {
            Route::Files(kind, entries) => (Some(kind), entries.len()),
            Route::ArchiveOnly => (None, 0),
        };
        Ok(Replan {
            event: plan.archive.event.clone(),
            kind,
            files,
            plan,
        })
    }
}

/// An archived delivery planned again.
#[derive(Debug, Clone)]
pub struct Replan {
    /// The key-safe event component, as in the archive key.
    pub event: String,
    /// The routed event, if it is one of the four.
    pub kind: Option<EventKind>,
    /// File entries routed.
    pub files: usize,
    /// What to write and publish (the archive copy is already stored).
    pub plan: Plan,
}

/// A completed redrive.
#[derive(Debug, Clone)]
pub struct Completed {
    /// The delivery as planned.
    pub replan: Replan,
    /// What was written and published.
    pub outcome: Outcome,
}

/// Reads, plans and completes the delivery archived at `key`: writes every file object
/// that does not hold a newer delivery, and publishes the message of every file that was
/// not superseded (docs/contract.md §9); the archive copy is left as it is.
pub async fn complete<S: ResultStore, P: MessagePublisher, B: EventBus>(
    key: &str,
    to: &Destination,
    store: &S,
    announce: &Announcers<P, B>,
    max_in_flight: usize,
) -> Result<Completed, NotCompleted> {
    let archived = Archived::read(key, &to.prefix, store).await?;
    let mut replan = archived.plan(to)?;
    // The plan's slices are all the body needed from here on (`execute` lets go of them).
    drop(archived);
    match execute(&mut replan.plan, store, announce, max_in_flight, pending()).await {
        Ok(outcome) => Ok(Completed { replan, outcome }),
        Err(e) => Err(NotCompleted {
            replan: Some(replan),
            error: RedriveError::Incomplete(e),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Faults, Memory, Object};
    use crate::plan::received_at;

    fn to() -> Destination {
        Destination {
            bucket: "b".into(),
            prefix: Prefix::new("extracta"),
        }
    }

    fn at() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_772_920_799).unwrap()
    }

    /// A live delivery's plan, carried out in full in `live` and archive-only in `archive`.
    async fn delivered(body: &'static [u8]) -> (Plan, Memory, Memory) {
        let body = Bytes::from_static(body);
        let plan = Plan::new(&body, &Delivery::parse(&body).unwrap(), &to(), at());
        let live = Memory::default();
        crate::pipeline::deliver(
            &mut plan.clone(),
            body.clone(),
            &to(),
            &live,
            &Announcers::topics(&live),
            4,
            pending(),
        )
        .await
        .unwrap();
        let archive = Memory::default();
        let a = &plan.archive;
        archive.insert(
            &a.key,
            Object {
                etag: String::new(),
                body: a.body.clone(),
                event: a.event.clone(),
                event_id: a.event_id.clone(),
                received_at: a.received_at.clone(),
                entry_ids: a.entry_ids.clone(),
                erased_at: None,
            },
        );
        (plan, live, archive)
    }

    /// Completes `key` and answers why it did not, having planned nothing.
    async fn refused(key: &str, archive: &Memory) -> RedriveError {
        let err = complete(key, &to(), archive, &Announcers::topics(archive), 4)
            .await
            .unwrap_err();
        assert!(err.replan.is_none(), "{err:?}");
        err.error
    }

    const CONFIRMED: &[u8] = br#"{"event":"extraction.confirmed","result":[{"extractionId":"e","fileId":"a"},{"fileId":"b","result":{"n":1}}]}"#;

    #[tokio::test]
    async fn a_redrive_writes_and_publishes_exactly_what_the_live_delivery_did() {
        let (plan, live, redriven) = delivered(CONFIRMED).await;
        let done = complete(&plan.archive.key, &to(), &redriven, &Announcers::topics(&redriven), 4)
            .await
            .unwrap();
        assert_eq!(
            (done.replan.files, done.outcome.objects, done.outcome.published),
            (2, 2, 2)
        );
        assert_eq!(done.replan.kind, Some(EventKind::Confirmed));
        assert_eq!(redriven.objects(), live.objects());
        assert_eq!(redriven.messages(), live.messages());
        // A second redrive changes nothing and publishes the same eventIds again.
        complete(&plan.archive.key, &to(), &redriven, &Announcers::topics(&redriven), 4)
            .await
            .unwrap();
        assert_eq!(redriven.objects(), live.objects());
        let ids = |m: &Memory| m.messages().into_iter().map(|(_, m)| m.event_id).collect::<Vec<_>>();
        assert_eq!(ids(&redriven), [ids(&live), ids(&live)].concat());
    }

    #[tokio::test]
    async fn refusals_read_and_write_nothing() {
        let (plan, _, archive) = delivered(CONFIRMED).await;
        let puts = archive.puts();
        for key in [
            "extracta/e/_none/a/confirmed.json".to_owned(),
            plan.archive.key.replace("extracta/", "other/"),
            format!("{}x", plan.archive.key),
        ] {
            let err = refused(&key, &archive).await;
            assert!(matches!(err, RedriveError::NotAnArchiveKey), "{key}: {err:?}");
        }
        let missing = plan
            .archive
            .key
            .replace("/extraction.confirmed/", "/extraction.failed/");
        let err = refused(&missing, &archive).await;
        assert!(matches!(err, RedriveError::Missing), "{err:?}");
        assert_eq!(archive.puts(), puts);
        assert!(archive.messages().is_empty());
    }

    #[tokio::test]
    async fn an_object_that_does_not_match_its_key_is_corrupt() {
        let (plan, _, archive) = delivered(CONFIRMED).await;
        let mut object = archive.objects()[&plan.archive.key].clone();
        object.received_at = received_at(at() + time::Duration::days(1));
        archive.insert(&plan.archive.key, object.clone());
        let err = refused(&plan.archive.key, &archive).await;
        assert!(matches!(err, RedriveError::Corrupt(_)), "{err:?}");
        object.received_at = "yesterday".into();
        archive.insert(&plan.archive.key, object.clone());
        let err = refused(&plan.archive.key, &archive).await;
        assert!(matches!(err, RedriveError::Corrupt(_)), "{err:?}");
        object.received_at = received_at(at());
        object.body = Bytes::from_static(b"[]");
        archive.insert(&plan.archive.key, object);
        let err = refused(&plan.archive.key, &archive).await;
        assert!(matches!(err, RedriveError::Corrupt(_)), "{err:?}");
        assert!(archive.messages().is_empty());
    }

    #[tokio::test]
    async fn a_redacted_copy_redrives_everything_but_its_erased_entries() {
        let (plan, live, archive) = delivered(CONFIRMED).await;
        let selection = crate::erase::Selection::new("e", Some("_none"), Some("a")).unwrap();
        let redacted = crate::erase::redact(CONFIRMED, &selection).unwrap();
        assert_eq!(redacted.replaced, 1);
        let mut object = archive.objects()[&plan.archive.key].clone();
        object.body = Bytes::from(redacted.body);
        // GIVEN the copy redacted without erased-at: not what the function archived
        archive.insert(&plan.archive.key, object.clone());
        let err = refused(&plan.archive.key, &archive).await;
        assert!(matches!(err, RedriveError::Corrupt(_)), "{err:?}");
        // GIVEN the copy as an erasure leaves it
        object.erased_at = Some("2026-12-06T09:00:00.000Z".into());
        archive.insert(&plan.archive.key, object);
        let done = complete(&plan.archive.key, &to(), &archive, &Announcers::topics(&archive), 4)
            .await
            .unwrap();
        // THEN the erased file counts as superseded: nothing written, nothing published
        assert_eq!(
            (done.replan.files, done.outcome.objects, done.outcome.superseded),
            (2, 1, 1)
        );
        assert_eq!(done.outcome.published, 1);
        let objects = archive.objects();
        assert!(!objects.contains_key("extracta/e/_none/a/confirmed.json"));
        let other = "extracta/_none/_none/b/confirmed.json";
        assert_eq!(objects[other].body, live.objects()[other].body);
        assert_eq!(archive.messages().len(), 1);
        assert_eq!(
            archive.messages()[0].1,
            live.messages()[1].1,
            "the same message as live"
        );
    }

    #[tokio::test]
    async fn a_failing_redrive_reports_its_plan_and_completes_on_retry() {
        let (plan, live, archive) = delivered(CONFIRMED).await;
        archive.set_faults(Faults {
            publish: true,
            ..Faults::default()
        });
        let NotCompleted { replan, error: err } =
            complete(&plan.archive.key, &to(), &archive, &Announcers::topics(&archive), 4)
                .await
                .unwrap_err();
        assert!(
            matches!(err, RedriveError::Incomplete(Incomplete::Durable(_))),
            "{err:?}"
        );
        assert_eq!(replan.map(|r| r.files), Some(2));
        archive.set_faults(Faults::default());
        complete(&plan.archive.key, &to(), &archive, &Announcers::topics(&archive), 4)
            .await
            .unwrap();
        assert_eq!(archive.messages(), live.messages());
        archive.set_faults(Faults {
            get: true,
            ..Faults::default()
        });
        let err = refused(&plan.archive.key, &archive).await;
        assert!(matches!(err, RedriveError::Read(_)), "{err:?}");
    }

    #[test]
    fn messages_name_their_key() {
        assert_eq!(archived_key(br#"{"archived":"k"}"#).unwrap(), "k");
        assert_eq!(
            archived_key(br#"{"reason":"x","archived":"a\/b","n":[1]}"#).unwrap(),
            "a/b"
        );
        assert_eq!(archived_key(br#"{"archived":1,"archived":"k"}"#).unwrap(), "k");
        for bad in [
            &b"not json"[..],
            b"[]",
            br#"{"archived":1}"#,
            br#"{"archived":"k","archived":null}"#,
            br#"{"key":"k"}"#,
            br#"{"archived":"k"} x"#,
        ] {
            assert!(
                matches!(archived_key(bad), Err(RedriveError::NotARequest)),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let m = message("extracta/_deliveries/x \"y\".json", "deadline");
        assert_eq!(
            m,
            r#"{"archived":"extracta/_deliveries/x \"y\".json","reason":"deadline"}"#
        );
        assert_eq!(archived_key(m.as_bytes()).unwrap(), "extracta/_deliveries/x \"y\".json");
    }
}
