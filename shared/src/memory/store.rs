//! The in-memory result store: S3's conditional writes as S3 keeps them.

use std::sync::atomic::Ordering;

use super::{lock, Memory, Object};
use crate::ports::{Condition, DownstreamError, ObjectMeta, Put, ResultStore, StoredObject, Written};

impl ResultStore for Memory {
    async fn put(&self, put: &Put, condition: &Condition) -> Result<Written, DownstreamError> {
        let faults = self.faults();
        if faults.stall_put_containing.is_some_and(|k| put.key.contains(&k)) {
            return std::future::pending().await;
        }
        self.request(|| {
            if faults.put_containing.is_some_and(|k| put.key.contains(&k)) {
                return Err(DownstreamError::Store {
                    key: put.key.clone(),
                    reason: "injected fault".into(),
                });
            }
            if self.take_conflict() {
                return Ok(Written::Refused);
            }
            let mut objects = lock(&self.objects);
            let held = objects.get(&put.key).map(|o| o.etag.as_str());
            let holds = match condition {
                Condition::Absent => held.is_none(),
                Condition::Matches(etag) => held == Some(etag.as_str()),
            };
            if !holds {
                return Ok(Written::Refused);
            }
            let object = Object {
                etag: self.new_etag(),
                body: put.body.clone(),
                event: put.event.clone(),
                event_id: put.event_id.clone(),
                received_at: put.received_at.clone(),
                entry_ids: put.entry_ids.clone(),
                erased_at: None,
            };
            objects.insert(put.key.clone(), object);
            self.puts.fetch_add(1, Ordering::SeqCst);
            Ok(Written::Stored)
        })
        .await
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, DownstreamError> {
        self.read(key, |o| {
            let meta = |text: &str| (!text.is_empty()).then(|| text.to_owned());
            ObjectMeta {
                etag: o.etag.clone(),
                event_id: meta(&o.event_id),
                received_at: meta(&o.received_at),
            }
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>, DownstreamError> {
        self.read(key, |o| StoredObject {
            body: o.body.clone(),
            received_at: Some(o.received_at.clone()),
            erased_at: o.erased_at.clone(),
        })
        .await
    }
}
