//! The in-memory redrive queue: records every message body sent.

use super::{lock, Memory};
use crate::ports::{DownstreamError, RedriveQueue};

impl RedriveQueue for Memory {
    async fn send(&self, body: String) -> Result<(), DownstreamError> {
        let faults = self.faults();
        self.request(|| {
            if faults.queue {
                return Err(DownstreamError::Queue {
                    reason: "injected fault".into(),
                });
            }
            lock(&self.queued).push(body);
            Ok(())
        })
        .await
    }
}
