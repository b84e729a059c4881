//! The S3 adapter of the result store port: conditional `PutObject`, `HeadObject` and
//! `GetObject` on one bucket.

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;

use crate::layout::metadata;
use crate::ports::{Condition, DownstreamError, ObjectMeta, Put, ResultStore, StoredObject, Written};

/// Stores result objects in one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3ResultStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3ResultStore {
    /// A store writing to `bucket` through `client`.
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        S3ResultStore {
            client,
            bucket: bucket.into(),
        }
    }
}

impl ResultStore for S3ResultStore {
    async fn put(&self, put: &Put, condition: &Condition) -> Result<Written, DownstreamError> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&put.key)
            .body(ByteStream::from(put.body.clone()))
            .content_type("application/json")
            .metadata(metadata::EVENT, &put.event)
            .metadata(metadata::EVENT_ID, &put.event_id)
            .metadata(metadata::RECEIVED_AT, &put.received_at);
        // Archive copies: the index an erasure reads instead of the body (same request).
        let request = match &put.entry_ids {
            Some(ids) => request.metadata(metadata::ENTRY_IDS, ids),
            None => request,
        };
        let request = match condition {
            Condition::Absent => request.if_none_match("*"),
            Condition::Matches(etag) => request.if_match(etag),
        };
        match request.send().await {
            Ok(_) => Ok(Written::Stored),
            // 412 PreconditionFailed; 409 ConditionalRequestConflict when another
            // conditional write of the key was in progress: both are decided again.
            Err(e) if matches!(e.raw_response().map(|r| r.status().as_u16()), Some(409 | 412)) => Ok(Written::Refused),
            Err(e) => Err(DownstreamError::Store {
                key: put.key.clone(),
                reason: DisplayErrorContext(&e).to_string(),
            }),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, DownstreamError> {
        let out = match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => return Ok(None),
            Err(e) => {
                return Err(DownstreamError::Read {
                    key: key.to_owned(),
                    reason: DisplayErrorContext(&e).to_string(),
                })
            }
        };
        let meta = |name: &str| out.metadata().and_then(|m| m.get(name)).cloned();
        Ok(Some(ObjectMeta {
            etag: out.e_tag().unwrap_or_default().to_owned(),
            event_id: meta(metadata::EVENT_ID),
            received_at: meta(metadata::RECEIVED_AT),
        }))
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>, DownstreamError> {
        let failed = |reason: String| DownstreamError::Read {
            key: key.to_owned(),
            reason,
        };
        let out = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(failed(DisplayErrorContext(&e).to_string())),
        };
        let meta = |name: &str| out.metadata().and_then(|m| m.get(name)).cloned();
        let (received_at, erased_at) = (meta(metadata::RECEIVED_AT), meta(metadata::ERASED_AT));
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| failed(DisplayErrorContext(&e).to_string()))?
            .into_bytes();
        Ok(Some(StoredObject {
            body,
            received_at,
            erased_at,
        }))
    }
}
