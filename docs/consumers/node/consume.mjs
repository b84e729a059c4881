// Consume confirmed/failed messages from an SQS queue subscribed to a results topic.
// Works with raw message delivery and with the SNS envelope; handles each eventId once
// (an S3 marker written with If-None-Match: *) and reads omitted results from S3.
// Usage: DEDUP_BUCKET=my-consumer-state node consume.mjs QUEUE_URL  (one JSON line per message)
import { SQSClient, ReceiveMessageCommand, DeleteMessageCommand } from "@aws-sdk/client-sqs";
import { S3Client, GetObjectCommand, PutObjectCommand, DeleteObjectCommand } from "@aws-sdk/client-s3";

const sqs = new SQSClient({});
// Path-style addressing for a local emulator (AWS_ENDPOINT_URL); AWS itself needs none.
const s3 = new S3Client({ forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL) });
const DEDUP_BUCKET = process.env.DEDUP_BUCKET;
const ENTRY_FIELDS = ["extractionId", "batchId", "fileId", "fileName", "status", "url", "result", "error"];

// The function's message, from a raw delivery or from inside the SNS envelope.
export function parse(body) {
  const doc = JSON.parse(body);
  return doc.Type === "Notification" && "Message" in doc ? JSON.parse(doc.Message) : doc;
}

// The file entry: from the message, or from S3 when it was too large for SNS.
export async function fullEntry(message) {
  if (message.resultOmitted) {
    const obj = await s3.send(new GetObjectCommand({ Bucket: message.s3.bucket, Key: message.s3.key }));
    return JSON.parse(await obj.Body.transformToString());
  }
  return Object.fromEntries(ENTRY_FIELDS.filter((k) => k in message).map((k) => [k, message[k]]));
}

// Claims the eventId; false when another delivery of it already did.
export async function firstTime(eventId) {
  try {
    await s3.send(new PutObjectCommand({ Bucket: DEDUP_BUCKET, Key: `seen/${eventId}`, Body: "", IfNoneMatch: "*" }));
    return true;
  } catch (e) {
    if (e.name === "PreconditionFailed" || e.$metadata?.httpStatusCode === 412) return false;
    throw e;
  }
}

// Releases the claim, so a redelivery retries a message that failed.
export async function forget(eventId) {
  await s3.send(new DeleteObjectCommand({ Bucket: DEDUP_BUCKET, Key: `seen/${eventId}` }));
}

async function handle(message, group) {
  const entry = await fullEntry(message);
  const out = { eventId: message.eventId, event: message.event, fileId: entry.fileId ?? null,
    from: message.resultOmitted ? "s3" : "message", group: group ?? null };
  if (message.event === "extraction.confirmed") out.resultKeys = Object.keys(entry.result ?? {}).sort();
  else out.error = entry.error ?? null;
  console.log(JSON.stringify(out)); // your processing goes here; it must be idempotent
}

export async function drain(queueUrl) {
  for (;;) {
    const { Messages: batch = [] } = await sqs.send(new ReceiveMessageCommand({
      QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
      MessageAttributeNames: ["All"], MessageSystemAttributeNames: ["MessageGroupId"],
    }));
    if (batch.length === 0) return;
    for (const m of batch) {
      const message = parse(m.Body);
      if (await firstTime(message.eventId)) {
        try {
          await handle(message, m.Attributes?.MessageGroupId);
        } catch (e) {
          await forget(message.eventId); // and leave the message on the queue: SQS delivers it again
          throw e;
        }
      } else {
        console.log(JSON.stringify({ skipped: message.eventId }));
      }
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await drain(process.argv[2]);
