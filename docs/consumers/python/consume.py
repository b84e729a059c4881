"""Consume confirmed/failed messages from an SQS queue subscribed to a results topic.

Works with raw message delivery and with the SNS envelope; handles each eventId once
(an S3 marker written with If-None-Match: *) and reads omitted results from S3.
Usage: DEDUP_BUCKET=my-consumer-state consume.py QUEUE_URL   (prints one JSON line per message)
"""
import json
import os
import sys

import boto3
from botocore.exceptions import ClientError

sqs = boto3.client("sqs")
s3 = boto3.client("s3")
DEDUP_BUCKET = os.environ["DEDUP_BUCKET"]
ENTRY_FIELDS = ("extractionId", "batchId", "fileId", "fileName", "status", "url", "result", "error")


def parse(body: str) -> dict:
    """The function's message, from a raw delivery or from inside the SNS envelope."""
    doc = json.loads(body)
    if doc.get("Type") == "Notification" and "Message" in doc:
        doc = json.loads(doc["Message"])
    return doc


def full_entry(message: dict) -> dict:
    """The file entry: from the message, or from S3 when it was too large for SNS."""
    if message.get("resultOmitted"):
        obj = s3.get_object(Bucket=message["s3"]["bucket"], Key=message["s3"]["key"])
        return json.loads(obj["Body"].read())
    return {k: message[k] for k in ENTRY_FIELDS if k in message}


def first_time(event_id: str) -> bool:
    """Claims the eventId; False when another delivery of it already did."""
    try:
        s3.put_object(Bucket=DEDUP_BUCKET, Key=f"seen/{event_id}", Body=b"", IfNoneMatch="*")
        return True
    except ClientError as e:
        if e.response["Error"]["Code"] == "PreconditionFailed":
            return False
        raise  # e.g. 409 ConditionalRequestConflict (a concurrent claim): retry later


def forget(event_id: str) -> None:
    """Releases the claim, so a redelivery retries a message that failed."""
    s3.delete_object(Bucket=DEDUP_BUCKET, Key=f"seen/{event_id}")


def handle(message: dict, group: str | None = None) -> None:
    entry = full_entry(message)
    out = {"eventId": message["eventId"], "event": message["event"], "fileId": entry.get("fileId"),
           "from": "s3" if message.get("resultOmitted") else "message", "group": group}
    if message["event"] == "extraction.confirmed":
        out["resultKeys"] = sorted(entry.get("result") or {})
    else:
        out["error"] = entry.get("error")
    print(json.dumps(out), flush=True)  # your processing goes here; it must be idempotent


def drain(queue_url: str) -> None:
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
            MessageAttributeNames=["All"], MessageSystemAttributeNames=["MessageGroupId"],
        ).get("Messages", [])
        if not batch:
            return
        for m in batch:
            message = parse(m["Body"])
            if first_time(message["eventId"]):
                try:
                    handle(message, m.get("Attributes", {}).get("MessageGroupId"))
                except Exception:
                    forget(message["eventId"])
                    raise  # left on the queue: SQS delivers it again
            else:
                print(json.dumps({"skipped": message["eventId"]}), flush=True)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


if __name__ == "__main__":
    drain(sys.argv[1])
