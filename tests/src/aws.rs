//! SDK clients for moto, per-test resources (bucket, topics, subscribed queues) and
//! read-back helpers.
use std::collections::BTreeMap;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName};

/// Fake credentials: moto accepts anything.
pub const ACCESS_KEY_ID: &str = "e2e-fake-access-key";
/// Fake credentials: moto accepts anything.
pub const SECRET_ACCESS_KEY: &str = "e2e-fake-secret-key";
/// The only region the tests use.
pub const REGION: &str = "us-east-1";

/// SDK clients pointed at one endpoint (moto, or a proxy in front of it).
#[derive(Clone, Debug)]
pub struct Aws {
    /// S3, path-style.
    pub s3: aws_sdk_s3::Client,
    /// SNS.
    pub sns: aws_sdk_sns::Client,
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// Secrets Manager.
    pub secrets: aws_sdk_secretsmanager::Client,
}

/// An SQS queue (one subscribed to a topic with raw message delivery, or the redrive queue).
#[derive(Clone, Debug)]
pub struct Queue {
    /// The queue URL.
    pub url: String,
    /// The queue ARN (the `eventSourceARN` of its SQS events).
    pub arn: String,
    /// Whether it is a FIFO queue.
    pub fifo: bool,
}

/// One test's bucket, topics and queues (unique names).
#[derive(Clone, Debug)]
pub struct Resources {
    /// The results bucket.
    pub bucket: String,
    /// `CONFIRMED_TOPIC_ARN`.
    pub confirmed_topic_arn: String,
    /// `FAILED_TOPIC_ARN`.
    pub failed_topic_arn: String,
    /// Receives the confirmed topic's messages.
    pub confirmed_queue: Queue,
    /// Receives the failed topic's messages.
    pub failed_queue: Queue,
    /// The redrive queue (`REDRIVE_QUEUE_URL`), subscribed to nothing; the function is
    /// configured with it only when a test asks ([`crate::FunctionConfig::redrive_queue`]).
    pub redrive_queue: Queue,
}

/// An object read back from S3.
#[derive(Clone, Debug)]
pub struct StoredObject {
    /// The object's bytes.
    pub bytes: Vec<u8>,
    /// Its `Content-Type`.
    pub content_type: Option<String>,
    /// Its user metadata (names without `x-amz-meta-`, lower case).
    pub metadata: BTreeMap<String, String>,
}

impl StoredObject {
    /// The bytes as UTF-8 text (panics otherwise).
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.bytes).expect("stored object is UTF-8")
    }

    /// The bytes parsed as JSON (panics otherwise).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.bytes).expect("stored object is JSON")
    }

    /// One metadata value (panics when absent), once the whole map is checked against
    /// `schemas/object-metadata.json`.
    pub fn meta(&self, name: &str) -> &str {
        crate::schema::metadata(&self.metadata);
        self.metadata
            .get(name)
            .unwrap_or_else(|| panic!("object has no metadata {name:?}: {:?}", self.metadata))
    }
}

/// A message read back from an SQS queue.
#[derive(Clone, Debug)]
pub struct Received {
    /// The raw message body (the SNS message, thanks to raw delivery).
    pub body: String,
    /// String message attributes (the SNS message attributes).
    pub attributes: BTreeMap<String, String>,
    /// `MessageGroupId`, when the queue is FIFO and moto reports it.
    pub group_id: Option<String>,
    /// `MessageDeduplicationId`, when the queue is FIFO and moto reports it.
    pub dedup_id: Option<String>,
}

impl Received {
    /// The body parsed as JSON (panics otherwise).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("SNS message is not JSON ({e}): {}", self.body))
    }
}

impl Aws {
    /// Clients for `endpoint` with fake credentials in us-east-1, S3 path-style.
    pub fn connect(endpoint: &str) -> Self {
        let creds = Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "e2e");
        let region = Region::new(REGION);
        let bv = BehaviorVersion::latest();
        let s3 = aws_sdk_s3::Config::builder()
            .behavior_version(bv)
            .region(region.clone())
            .credentials_provider(creds.clone())
            .endpoint_url(endpoint)
            .force_path_style(true)
            .build();
        let sns = aws_sdk_sns::Config::builder()
            .behavior_version(bv)
            .region(region.clone())
            .credentials_provider(creds.clone())
            .endpoint_url(endpoint)
            .build();
        let sqs = aws_sdk_sqs::Config::builder()
            .behavior_version(bv)
            .region(region.clone())
            .credentials_provider(creds.clone())
            .endpoint_url(endpoint)
            .build();
        let secrets = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(bv)
            .region(region)
            .credentials_provider(creds)
            .endpoint_url(endpoint)
            .build();
        Aws {
            s3: aws_sdk_s3::Client::from_conf(s3),
            sns: aws_sdk_sns::Client::from_conf(sns),
            sqs: aws_sdk_sqs::Client::from_conf(sqs),
            secrets: aws_sdk_secretsmanager::Client::from_conf(secrets),
        }
    }

    /// Creates a bucket, a confirmed topic (FIFO when asked) and a failed topic, each
    /// with a queue subscribed with raw message delivery.
    pub async fn create_resources(&self, fifo_confirmed: bool) -> Resources {
        let base = crate::unique_name("e2e");
        let bucket = base.clone();
        self.s3
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create bucket {bucket}: {}", ctx(&e)));
        let (confirmed_topic_arn, confirmed_queue) = self
            .topic_with_queue(&format!("{base}-confirmed"), fifo_confirmed)
            .await;
        let (failed_topic_arn, failed_queue) = self.topic_with_queue(&format!("{base}-failed"), false).await;
        let redrive_queue = self.create_queue(&format!("{base}-redrive")).await;
        Resources {
            bucket,
            confirmed_topic_arn,
            failed_topic_arn,
            confirmed_queue,
            failed_queue,
            redrive_queue,
        }
    }

    /// Creates a standard SQS queue called `name`.
    pub async fn create_queue(&self, name: &str) -> Queue {
        let url = self
            .sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create queue {name}: {}", ctx(&e)))
            .queue_url
            .expect("queue URL");
        let arn = self.queue_arn(&url).await;
        Queue { url, arn, fifo: false }
    }

    /// The ARN of the queue at `url`.
    pub async fn queue_arn(&self, url: &str) -> String {
        self.sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("queue attributes {url}: {}", ctx(&e)))
            .attributes
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .expect("queue ARN")
    }

    /// Creates topic `name` (plus `.fifo` when `fifo`) and a queue subscribed to it.
    pub async fn topic_with_queue(&self, name: &str, fifo: bool) -> (String, Queue) {
        let suffix = if fifo { ".fifo" } else { "" };
        let mut topic = self.sns.create_topic().name(format!("{name}{suffix}"));
        if fifo {
            topic = topic
                .attributes("FifoTopic", "true")
                .attributes("ContentBasedDeduplication", "false");
        }
        let topic_arn = topic
            .send()
            .await
            .unwrap_or_else(|e| panic!("create topic {name}: {}", ctx(&e)))
            .topic_arn
            .expect("topic ARN");
        let mut queue = self.sqs.create_queue().queue_name(format!("{name}-q{suffix}"));
        if fifo {
            queue = queue.attributes(QueueAttributeName::FifoQueue, "true");
        }
        let url = queue
            .send()
            .await
            .unwrap_or_else(|e| panic!("create queue {name}: {}", ctx(&e)))
            .queue_url
            .expect("queue URL");
        let arn = self.queue_arn(&url).await;
        self.sns
            .subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(&arn)
            .attributes("RawMessageDelivery", "true")
            .send()
            .await
            .unwrap_or_else(|e| panic!("subscribe {name}: {}", ctx(&e)));
        (topic_arn, Queue { url, arn, fifo })
    }

    /// Every key under `prefix` in `bucket`, sorted.
    pub async fn list_keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .unwrap_or_else(|e| panic!("list {bucket}/{prefix}: {}", ctx(&e)));
            keys.extend(out.contents().iter().filter_map(|o| o.key().map(String::from)));
            match out.next_continuation_token {
                Some(next) if out.is_truncated == Some(true) => token = Some(next),
                _ => break,
            }
        }
        keys.sort();
        keys
    }

    /// The object at `bucket/key` (panics when absent).
    pub async fn get_object(&self, bucket: &str, key: &str) -> StoredObject {
        let out = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("get {bucket}/{key}: {}", ctx(&e)));
        let content_type = out.content_type.clone();
        let metadata = out
            .metadata
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        let bytes = out
            .body
            .collect()
            .await
            .unwrap_or_else(|e| panic!("read {bucket}/{key}: {e}"))
            .into_bytes()
            .to_vec();
        StoredObject {
            bytes,
            content_type,
            metadata,
        }
    }

    /// Receives (and deletes) every message on `queue` until a receive comes back empty.
    pub async fn drain(&self, queue: &Queue) -> Vec<Received> {
        let mut all = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&queue.url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .visibility_timeout(30)
                .message_attribute_names("All")
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .unwrap_or_else(|e| panic!("receive from {}: {}", queue.url, ctx(&e)));
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                return all;
            }
            // One DeleteMessageBatch per receive: moto looks a receipt handle up among
            // every message of the queue, so ten single deletes cost ten such scans.
            let entries: Vec<DeleteMessageBatchRequestEntry> = messages
                .iter()
                .enumerate()
                .filter_map(|(i, m)| {
                    let handle = m.receipt_handle()?;
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(handle)
                        .build()
                        .ok()
                })
                .collect();
            let deleted = self
                .sqs
                .delete_message_batch()
                .queue_url(&queue.url)
                .set_entries(Some(entries))
                .send()
                .await
                .unwrap_or_else(|e| panic!("delete from {}: {}", queue.url, ctx(&e)));
            assert!(
                deleted.failed().is_empty(),
                "delete from {}: {:?}",
                queue.url,
                deleted.failed()
            );
            for m in messages {
                let system = m.attributes.clone().unwrap_or_default();
                let attributes: BTreeMap<String, String> = m
                    .message_attributes
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|(k, v)| v.string_value.map(|s| (k, s)))
                    .collect();
                let body = m.body.clone().unwrap_or_default();
                all.push(Received {
                    body,
                    attributes,
                    group_id: system.get(&MessageSystemAttributeName::MessageGroupId).cloned(),
                    dedup_id: system.get(&MessageSystemAttributeName::MessageDeduplicationId).cloned(),
                });
            }
        }
    }

    /// Creates a Secrets Manager secret whose SecretString is `value`; returns its ARN.
    pub async fn create_secret(&self, value: &str) -> String {
        let name = crate::unique_name("e2e-secret");
        self.secrets
            .create_secret()
            .name(&name)
            .secret_string(value)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create secret {name}: {}", ctx(&e)))
            .arn
            .expect("secret ARN")
    }
}

/// An SDK error with its causes (the bare Display says only "dispatch failure").
pub(crate) fn ctx<E: std::error::Error>(e: &E) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A queue drained in the background while a test runs ([`Aws::collect`]). moto scans
/// every message of a queue on each receive, so a queue left to fill with thousands of
/// messages (the bus rule's target under the fault test's retries) takes minutes to
/// read at the end; read as it fills, it stays short.
pub struct Collector {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<Vec<Received>>,
}

impl Aws {
    /// Starts draining `queue` ([`Aws::drain`]) every 200 ms until [`Collector::finish`].
    pub fn collect(&self, queue: &Queue) -> Collector {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (aws, queue, stopping) = (self.clone(), queue.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let mut all = Vec::new();
            while !stopping.load(std::sync::atomic::Ordering::SeqCst) {
                all.extend(aws.drain(&queue).await);
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            all
        });
        Collector { stop, task }
    }
}

impl Collector {
    /// Stops the background drain and returns every message it read plus whatever the
    /// queue still holds, in arrival order. Panics if the drain panicked.
    pub async fn finish(self, aws: &Aws, queue: &Queue) -> Vec<Received> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut all = match self.task.await {
            Ok(all) => all,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        all.extend(aws.drain(queue).await);
        all
    }
}
