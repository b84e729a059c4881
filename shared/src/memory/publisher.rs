//! The in-memory message publisher: records every message, and counts any published
//! before the object it points to was stored.

use std::sync::atomic::Ordering;

use super::{lock, Memory};
use crate::message::{Message, Topic};
use crate::ports::{DownstreamError, MessagePublisher};

impl MessagePublisher for Memory {
    async fn publish(&self, topic: Topic, batch: &[&Message]) -> Result<(), DownstreamError> {
        let faults = self.faults();
        if faults.stall_publish {
            return std::future::pending().await;
        }
        self.request(|| {
            if faults.publish {
                return Err(DownstreamError::Publish {
                    topic,
                    count: batch.len(),
                    reason: "injected fault".into(),
                });
            }
            let objects = lock(&self.objects);
            for m in batch {
                let stored = objects.keys().any(|k| m.body.contains(&format!(r#""key":"{k}""#)));
                if !stored {
                    self.published_before_stored.fetch_add(1, Ordering::SeqCst);
                }
            }
            lock(&self.messages).extend(batch.iter().map(|m| (topic, (*m).clone())));
            Ok(())
        })
        .await
    }
}
