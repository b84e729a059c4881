//! `show`: what landed in the results bucket, what arrived on the SQS queues (the topics'
//! subscriptions, an event bus rule's target: each event as the target receives it), and
//! how many deliveries wait on the redrive queue and its dead-letter queue.

use std::process::ExitCode;

use crate::send::CliError;

/// Arguments of `show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The results bucket (RESULTS_BUCKET).
    #[arg(long, env = "RESULTS_BUCKET")]
    bucket: String,
    /// Only keys under this prefix.
    #[arg(long, default_value = "")]
    prefix: String,
    /// SQS queue URLs to drain; without any, every queue whose name contains --queue-filter.
    #[arg(long = "queue")]
    queues: Vec<String>,
    /// Which queues to drain when no --queue is given.
    #[arg(long, default_value = "")]
    queue_filter: String,
    /// Queues whose URL contains this are only counted, never drained: the function's
    /// redrive queue (its event source mapping reads it) and its dead-letter queue.
    #[arg(long, default_value = "redrive")]
    count_only: String,
    /// Endpoint of a local S3/SQS (moto); otherwise AWS_ENDPOINT_URL or AWS itself.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,
}

/// Lists objects, then receives and deletes every message waiting on the queues.
pub async fn run(args: ShowArgs) -> Result<ExitCode, CliError> {
    let (sdk, s3) = crate::aws::connect(args.endpoint_url.as_deref()).await;
    println!("s3://{}/{}", args.bucket, args.prefix);
    let mut pages = s3
        .list_objects_v2()
        .bucket(&args.bucket)
        .prefix(&args.prefix)
        .into_paginator()
        .send();
    let mut count = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| crate::aws::error("listing the bucket", e))?;
        for object in page.contents() {
            println!(
                "  {:>9}  {}",
                object.size().unwrap_or_default(),
                object.key().unwrap_or_default()
            );
            count += 1;
        }
    }
    println!("  ({count} objects)");

    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let mut queues = args.queues.clone();
    if queues.is_empty() {
        let listed = sqs
            .list_queues()
            .send()
            .await
            .map_err(|e| crate::aws::error("listing queues", e))?;
        queues = listed
            .queue_urls()
            .iter()
            .filter(|u| u.contains(&args.queue_filter))
            .cloned()
            .collect();
    }
    for queue in queues {
        println!("{queue}");
        if !args.count_only.is_empty() && queue.contains(&args.count_only) {
            let attrs = sqs
                .get_queue_attributes()
                .queue_url(&queue)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                .send()
                .await
                .map_err(|e| crate::aws::error("reading queue attributes", e))?;
            let count = |name| {
                attrs
                    .attributes()
                    .and_then(|a| a.get(&name))
                    .cloned()
                    .unwrap_or_else(|| "?".into())
            };
            println!(
                "  ({} waiting, {} in flight; counted, not drained)",
                count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages),
                count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            );
            continue;
        }
        let mut received = 0;
        loop {
            let out = sqs
                .receive_message()
                .queue_url(&queue)
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .send()
                .await
                .map_err(|e| crate::aws::error("receiving messages", e))?;
            if out.messages().is_empty() {
                break;
            }
            for m in out.messages() {
                let mut attributes: Vec<String> = m
                    .message_attributes()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| format!("{k}={}", v.string_value().unwrap_or_default()))
                    .collect();
                attributes.sort();
                println!("  [{}] {}", attributes.join(" "), m.body().unwrap_or_default());
                received += 1;
                if let Some(handle) = m.receipt_handle() {
                    sqs.delete_message()
                        .queue_url(&queue)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .map_err(|e| crate::aws::error("deleting a message", e))?;
                }
            }
        }
        println!("  ({received} messages)");
    }
    Ok(ExitCode::SUCCESS)
}
