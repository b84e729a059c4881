//! The fan-out: a delivery's plan carried out through the ports (docs/contract.md §5,
//! §8, §9 and §10).
//!
//! The archive copy is written first: once it is stored the delivery is durable, and its
//! answer fixes the receipt time that orders the delivery against others of the same
//! files. The file objects are then written concurrently, each only over an older
//! delivery; only once every one is decided are messages published, in batches, so no
//! message ever points at an object that is not stored yet. A deadline stops the waiting
//! for file objects and messages, never for the archive copy.

use std::future::Future;
use std::pin::pin;

use bytes::Bytes;
use futures::future::{self, Either};
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::bus;
use crate::message::{Message, Topic, MAX_MESSAGE_BYTES};
use crate::newest::{self, FileWrite};
use crate::plan::{Destination, Plan};
use crate::ports::publisher::MAX_BATCH_ENTRIES;
use crate::ports::{DownstreamError, EventBus, MessagePublisher, ResultStore};

/// The messages the `PublishBatch` requests in flight may carry in all (at least one
/// batch always goes): 2 MiB. The SDK form-encodes each request's messages into a buffer
/// two to three times their size, so a 6 MiB delivery's 25 full batches sent 16 at a time
/// held 12.6 MB of forms at the function's peak; eight at a time hold about half. A
/// delivery with up to 2 MiB of messages (50 files of 40 KB) still sends them all at once.
pub const PUBLISH_BYTES_IN_FLIGHT: usize = 2 << 20;

/// Where a delivery is announced once its file objects are decided (docs/contract.md §4,
/// §10): the topics, and the event bus when one is configured.
#[derive(Debug, Clone)]
pub struct Announcers<P, B> {
    /// The confirmed and failed files' messages (SNS).
    pub topics: P,
    /// An entry per file, or per delivery that routes none (EventBridge); without a bus
    /// the plan makes no entries.
    pub bus: Option<B>,
}

impl<P> Announcers<P, crate::ports::bus::NoBus> {
    /// The topics alone, with no bus.
    pub fn topics(topics: P) -> Self {
        Announcers { topics, bus: None }
    }
}

/// What a delivery's fan-out achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// File objects written (superseded ones and ones already holding this delivery
    /// are not).
    pub objects: usize,
    /// File objects superseded: their key holds a newer delivery (docs/contract.md §9).
    pub superseded: usize,
    /// Messages published.
    pub published: usize,
    /// Entries put on the event bus (docs/contract.md §10).
    pub bus_entries: usize,
}

/// Why the rest of a durable delivery stopped.
#[derive(Debug, thiserror::Error)]
pub enum Stop {
    /// A file object or a message failed.
    #[error(transparent)]
    Failed(DownstreamError),
    /// The deadline passed first.
    #[error("the deadline passed before every object was stored and every message published")]
    Deadline,
}

impl Stop {
    /// The `reason` of the redrive message: `deadline`, `store` or `publish`.
    pub fn reason(&self) -> &'static str {
        match self {
            Stop::Deadline => "deadline",
            Stop::Failed(DownstreamError::Publish { .. } | DownstreamError::PutEvents { .. }) => "publish",
            Stop::Failed(_) => "store",
        }
    }
}

/// How a fan-out that did not complete ended.
#[derive(Debug, thiserror::Error)]
pub enum Incomplete {
    /// The archive copy was not stored: nothing about the delivery is durable.
    #[error("the archive copy was not stored: {0}")]
    NotDurable(DownstreamError),
    /// The archive copy is stored; the file objects or messages are not all done.
    #[error(transparent)]
    Durable(Stop),
}

/// Carries out a live delivery's plan (docs/contract.md §5, §8, §9): first the archive
/// copy, whose answer fixes the receipt time (an exact repeat of a body archived under the
/// same key takes the archived copy's, and is planned again with it from `body`), then
/// [`execute`]. `deadline` never cuts the archive copy short; the body is let go of
/// before the file objects are written, so the plan's slices are its last holders.
#[allow(clippy::too_many_arguments)]
pub async fn deliver<S: ResultStore, P: MessagePublisher, B: EventBus>(
    plan: &mut Plan,
    body: Bytes,
    to: &Destination,
    store: &S,
    announce: &Announcers<P, B>,
    max_in_flight: usize,
    deadline: impl Future<Output = ()>,
) -> Result<Outcome, Incomplete> {
    let first = newest::write_archive(store, &plan.archive)
        .await
        .map_err(Incomplete::NotDurable)?;
    if let Some(first) = first {
        plan.replan_at_first_receipt(&body, to, &first);
    }
    drop(body);
    execute(plan, store, announce, max_in_flight, deadline).await
}

/// Carries out a plan whose archive copy is stored: the file objects concurrently (at
/// most `max_in_flight` requests at once), each only over an older delivery
/// ([`newest::write_file`]), then, once all are decided, the messages of the files that
/// were not superseded.
///
/// `deadline` stops the waiting (pass `std::future::pending()` for none). Work still in
/// flight when it stops is dropped; a retry of the same plan completes it.
///
/// Once every object is decided, the plan lets go of their bytes ([`Plan::is_stored`];
/// keys, metadata and messages stay): a large delivery's body is not held while its
/// messages are published, which is when the SDK's form-encoded `PublishBatch` requests
/// take their memory. Carrying out a stored plan again only publishes.
pub async fn execute<S: ResultStore, P: MessagePublisher, B: EventBus>(
    plan: &mut Plan,
    store: &S,
    announce: &Announcers<P, B>,
    max_in_flight: usize,
    deadline: impl Future<Output = ()>,
) -> Result<Outcome, Incomplete> {
    let limit = max_in_flight.max(1);
    let mut deadline = pin!(deadline);
    let mut objects = 0;
    if !plan.is_stored() {
        // An erased entry of a redacted archive copy is complete as it is (§11): no request.
        let writes = stream::iter(plan.files.iter().enumerate().map(|(i, put)| {
            let erased = plan.is_erased(i);
            async move {
                match erased {
                    true => Ok(FileWrite::Superseded),
                    false => newest::write_file(store, put).await,
                }
            }
        }))
        .buffered(limit)
        .try_collect::<Vec<FileWrite>>();
        let writes = until(writes, deadline.as_mut()).await.map_err(Incomplete::Durable)?;
        objects = writes.iter().filter(|w| **w == FileWrite::Written).count();
        plan.release_stored(&writes, announce.bus.is_some());
    }

    let batches = batches(&plan.messages);
    let largest = batches
        .iter()
        .map(|(_, batch)| batch.iter().map(|m| m.size()).sum::<usize>())
        .max()
        .unwrap_or(0);
    let publish_limit = (PUBLISH_BYTES_IN_FLIGHT / largest.max(1)).clamp(1, limit);
    let publishes = stream::iter(
        batches
            .iter()
            .map(|(topic, batch)| announce.topics.publish(*topic, batch)),
    )
    .buffer_unordered(publish_limit)
    .try_collect::<()>();
    // The entries go beside the messages: their own batches, their own in-flight bound.
    let puts = async {
        match &announce.bus {
            Some(b) => bus::put_all(b, &plan.bus_entries, limit).await.map(|_| ()),
            None => Ok(()),
        }
    };
    until(future::try_join(publishes, puts), deadline.as_mut())
        .await
        .map_err(Incomplete::Durable)?;
    Ok(Outcome {
        objects,
        superseded: plan.superseded(),
        published: plan.messages.len(),
        bus_entries: plan.bus_entries.len(),
    })
}

/// `work`, unless `deadline` comes first.
async fn until<T>(
    work: impl Future<Output = Result<T, DownstreamError>>,
    deadline: impl Future<Output = ()> + Unpin,
) -> Result<T, Stop> {
    match future::select(pin!(work), deadline).await {
        Either::Left((done, _)) => done.map_err(Stop::Failed),
        Either::Right(((), _)) => Err(Stop::Deadline),
    }
}

/// Groups messages into `PublishBatch` calls: one topic each, at most ten messages and
/// 256 KiB in all, in plan order.
pub fn batches(messages: &[Message]) -> Vec<(Topic, Vec<&Message>)> {
    crate::batch::greedy(messages, MAX_BATCH_ENTRIES, MAX_MESSAGE_BYTES, Message::size, |m| {
        m.topic
    })
    .into_iter()
    .filter_map(|batch| Some((batch.first()?.topic, batch)))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::Delivery;
    use crate::layout::Prefix;
    use crate::memory::{Faults, Memory};
    use std::future::pending;

    fn plan(files: usize) -> Plan {
        let entries: Vec<String> = (0..files).map(|i| format!(r#"{{"fileId":"f{i}"}}"#)).collect();
        let body = Bytes::from(format!(
            r#"{{"event":"extraction.confirmed","result":[{}]}}"#,
            entries.join(",")
        ));
        let d = Delivery::parse(&body).unwrap();
        Plan::new(&body, &d, &dest(), time::OffsetDateTime::UNIX_EPOCH)
    }

    fn dest() -> Destination {
        Destination {
            bucket: "b".into(),
            prefix: Prefix::default(),
        }
    }

    /// A live delivery of `plan`: its archive copy, then the rest.
    async fn live(
        plan: &mut Plan,
        store: &Memory,
        publisher: &Memory,
        limit: usize,
        deadline: impl Future<Output = ()>,
    ) -> Result<Outcome, Incomplete> {
        let body = plan.archive.body.clone();
        deliver(
            plan,
            body,
            &dest(),
            store,
            &Announcers::topics(publisher),
            limit,
            deadline,
        )
        .await
    }

    fn faults(f: impl FnOnce(&mut Faults)) -> Memory {
        let mut faults = Faults::default();
        f(&mut faults);
        Memory::with_faults(faults)
    }

    /// `execute` with a deadline that has already passed.
    fn past_deadline<'a>(
        plan: &'a mut Plan,
        memory: &'a Memory,
    ) -> impl Future<Output = Result<Outcome, Incomplete>> + 'a {
        live(plan, memory, memory, 16, std::future::ready(()))
    }

    async fn run(plan: &Plan, memory: &Memory, limit: usize) -> Result<Outcome, Incomplete> {
        live(&mut plan.clone(), memory, memory, limit, pending()).await
    }

    #[tokio::test]
    async fn writes_everything_then_publishes_in_batches_of_ten() {
        let memory = Memory::default();
        let plan = plan(23);
        let outcome = run(&plan, &memory, 4).await.unwrap();
        assert_eq!(
            outcome,
            Outcome {
                objects: 23,
                superseded: 0,
                published: 23,
                bus_entries: 0
            }
        );
        assert_eq!(memory.objects().len(), 24);
        assert_eq!(memory.messages().len(), 23);
        assert_eq!(memory.published_before_stored(), 0);
        assert!(memory.peak_in_flight() <= 4);
        assert!(memory.peak_in_flight() > 1, "writes ran one by one");
    }

    #[tokio::test]
    async fn a_stored_plan_lets_go_of_the_body_and_only_publishes_when_carried_out_again() {
        // GIVEN a publish that fails after every object is stored,
        let failing = faults(|f| f.publish = true);
        let mut plan = plan(3);
        let err = live(&mut plan, &failing, &failing, 4, pending()).await.unwrap_err();
        assert!(
            matches!(&err, Incomplete::Durable(s) if s.reason() == "publish"),
            "{err:?}"
        );
        // THEN the plan keeps its keys and messages but no longer the body's bytes,
        assert!(plan.is_stored());
        assert!(plan.archive.body.is_empty() && plan.files.iter().all(|p| p.body.is_empty()));
        assert_eq!(plan.files.len(), 3);
        assert_eq!(plan.messages.len(), 3);
        let stored = failing.objects();
        assert!(
            stored.values().all(|o| !o.body.is_empty()),
            "objects were stored with their bytes"
        );
        // AND carrying it out again publishes without writing (empty) objects.
        let healthy = Memory::default();
        let outcome = execute(&mut plan, &healthy, &Announcers::topics(&healthy), 4, pending())
            .await
            .unwrap();
        assert_eq!(
            outcome,
            Outcome {
                objects: 0,
                superseded: 0,
                published: 3,
                bus_entries: 0
            }
        );
        assert!(healthy.objects().is_empty());
        assert_eq!(healthy.messages().len(), 3);
    }

    #[tokio::test]
    async fn a_plan_whose_objects_are_not_all_stored_keeps_the_body_for_a_retry() {
        let failing = faults(|f| f.put_containing = Some("/f1/".into()));
        let mut plan = plan(3);
        let err = live(&mut plan, &failing, &failing, 4, pending()).await.unwrap_err();
        assert!(
            matches!(&err, Incomplete::Durable(s) if s.reason() == "store"),
            "{err:?}"
        );
        assert!(!plan.is_stored());
        assert!(plan.files.iter().all(|p| !p.body.is_empty()));
        let healthy = Memory::default();
        let outcome = execute(&mut plan, &healthy, &Announcers::topics(&healthy), 4, pending())
            .await
            .unwrap();
        assert_eq!(
            outcome,
            Outcome {
                objects: 3,
                superseded: 0,
                published: 3,
                bus_entries: 0
            }
        );
        assert!(healthy.objects().values().all(|o| !o.body.is_empty()));
    }

    #[tokio::test]
    async fn a_limit_of_one_is_kept_with_the_archive_copy_too() {
        let memory = Memory::default();
        run(&plan(3), &memory, 1).await.unwrap();
        assert_eq!(memory.peak_in_flight(), 1);
        assert_eq!(memory.objects().len(), 4);
    }

    #[tokio::test]
    async fn a_store_failure_publishes_nothing_but_the_delivery_is_durable() {
        let memory = faults(|f| f.put_containing = Some("/f3/".into()));
        let err = run(&plan(5), &memory, 16).await.unwrap_err();
        assert!(
            matches!(&err, Incomplete::Durable(Stop::Failed(DownstreamError::Store { key, .. })) if key.contains("/f3/")),
            "{err:?}"
        );
        assert!(matches!(err, Incomplete::Durable(ref s) if s.reason() == "store"));
        assert!(memory.messages().is_empty());
        assert!(memory.objects().keys().any(|k| k.contains("_deliveries/")));
    }

    #[tokio::test]
    async fn an_archive_failure_is_not_durable() {
        let memory = faults(|f| f.put_containing = Some("_deliveries/".into()));
        let err = run(&plan(2), &memory, 16).await.unwrap_err();
        assert!(
            matches!(err, Incomplete::NotDurable(DownstreamError::Store { .. })),
            "{err:?}"
        );
        assert!(memory.messages().is_empty());
    }

    #[tokio::test]
    async fn a_publish_failure_is_durable_with_reason_publish() {
        let memory = faults(|f| f.publish = true);
        let err = run(&plan(2), &memory, 16).await.unwrap_err();
        assert!(
            matches!(&err, Incomplete::Durable(s) if s.reason() == "publish"),
            "{err:?}"
        );
        assert_eq!(memory.objects().len(), 3);
    }

    #[tokio::test]
    async fn the_deadline_stops_files_and_messages_but_never_the_archive_copy() {
        // GIVEN a file write that never finishes, WHEN the deadline passes,
        let memory = faults(|f| f.stall_put_containing = Some("/f1/".into()));
        let err = past_deadline(&mut plan(3), &memory).await.unwrap_err();
        // THEN the archive copy is stored and the delivery is durable, with reason deadline.
        assert!(matches!(&err, Incomplete::Durable(Stop::Deadline)), "{err:?}");
        assert!(matches!(&err, Incomplete::Durable(s) if s.reason() == "deadline"));
        assert!(memory.objects().keys().any(|k| k.contains("_deliveries/")));
        assert!(memory.messages().is_empty());

        // GIVEN an archive write that never finishes, the deadline does not end the wait.
        let memory = faults(|f| f.stall_put_containing = Some("_deliveries/".into()));
        let mut plan = plan(1);
        let fut = past_deadline(&mut plan, &memory);
        let waited = tokio::time::timeout(std::time::Duration::from_millis(50), fut).await;
        assert!(waited.is_err(), "answered before the archive copy's write finished");

        // A stalled publish past the deadline is durable, reason deadline.
        let memory = faults(|f| f.stall_publish = true);
        let mut plan = self::plan(1);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let deadline = async move {
            let _ = rx.await;
        };
        let run = live(&mut plan, &memory, &memory, 16, deadline);
        let (result, ()) = futures::join!(run, async move {
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
            let _ = tx.send(());
        });
        assert!(matches!(result, Err(Incomplete::Durable(Stop::Deadline))), "{result:?}");
        assert_eq!(memory.objects().len(), 2);
    }

    #[tokio::test]
    async fn an_empty_delivery_completes_even_when_the_deadline_has_passed() {
        let memory = Memory::default();
        let mut plan = plan(0);
        let outcome = past_deadline(&mut plan, &memory).await.unwrap();
        assert_eq!(outcome.objects, 0);
        assert_eq!(memory.objects().len(), 1, "the archive copy");
    }

    #[tokio::test]
    async fn an_already_stored_archive_copy_is_not_written_again() {
        let memory = Memory::default();
        let outcome = execute(&mut plan(2), &memory, &Announcers::topics(&memory), 1, pending())
            .await
            .unwrap();
        assert_eq!(outcome.objects, 2);
        assert!(!memory.objects().keys().any(|k| k.contains("_deliveries/")));
    }

    #[tokio::test]
    async fn publishes_in_flight_carry_at_most_two_mebibytes_of_messages() {
        // Messages of `size` bytes each; the store and the topics counted apart.
        async fn peak_publishes(files: usize, size: usize) -> usize {
            let mut plan = plan(files);
            for m in &mut plan.messages {
                let pad = size - m.size();
                m.body.push_str(&" ".repeat(pad));
            }
            let (store, topics) = (Memory::default(), Memory::default());
            live(&mut plan, &store, &topics, 16, pending()).await.unwrap();
            assert_eq!(topics.messages().len(), files);
            topics.peak_in_flight()
        }
        // 6 MiB of results in 50 files: 25 batches of two 126 KB messages, eight at a time.
        assert_eq!(peak_publishes(50, 126_000).await, 8);
        // 1 MiB in 50 files: 5 batches of ten 21 KB messages, all at once.
        assert_eq!(peak_publishes(50, 21_000).await, 5);
        // 50 messages of 200 KB: one per batch, ten at a time.
        assert_eq!(peak_publishes(50, 200_000).await, 10);
        // Small messages: as many batches as the request limit allows.
        assert_eq!(peak_publishes(300, 1_000).await, 16);
    }

    #[test]
    fn batches_respect_count_size_and_topic() {
        let mut messages = plan(12).messages;
        messages[11].topic = Topic::Failed;
        let sizes: Vec<(Topic, usize)> = batches(&messages).iter().map(|(t, b)| (*t, b.len())).collect();
        assert_eq!(
            sizes,
            [(Topic::Confirmed, 10), (Topic::Confirmed, 1), (Topic::Failed, 1)]
        );
        // Two messages of ~200 KiB never share a batch.
        let mut big = plan(2).messages;
        for m in &mut big {
            m.body.push_str(&" ".repeat(200_000));
        }
        assert_eq!(batches(&big).len(), 2);
    }
}
