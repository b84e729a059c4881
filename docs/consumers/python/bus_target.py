"""A rule's target on the function's EventBridge bus: a Lambda function, or an SQS queue.

Both receive EventBridge's event: `detail-type` is the Extracta event, `detail` the file's
message (the same as on SNS, for all four events) or, for any other delivery, a pointer
to its archive copy. Each eventId is handled once (consume.py's S3 marker).
Lambda: handler(event, context).  SQS: DEDUP_BUCKET=... bus_target.py QUEUE_URL
(prints one JSON line per event)
"""
import json
import sys

import boto3

from consume import first_time, forget, full_entry
from erased import erase_copies

sqs = boto3.client("sqs")
s3 = boto3.client("s3")


def handle_event(event: dict) -> None:
    detail = event["detail"]
    if event["detail-type"] == "receiver.erased":  # webhook-cli erase ran: no eventId, erase yours
        erase_copies(detail)
        return
    if not first_time(detail["eventId"]):  # a redrive or replay put it again: done already
        print(json.dumps({"skipped": detail["eventId"]}), flush=True)
        return
    try:
        out = {"eventId": detail["eventId"], "detailType": event["detail-type"]}
        if "archived" in detail:  # a future namespace, or a body that did not fit
            body = s3.get_object(Bucket=detail["archived"]["bucket"], Key=detail["archived"]["key"])["Body"].read()
            out.update(source="archive", files=detail["files"], bodyEvent=json.loads(body).get("event"))
        else:
            entry = full_entry(detail)  # from the detail, or from S3 when resultOmitted
            out.update(fileId=entry.get("fileId"), status=entry.get("status"),
                       source="s3" if detail.get("resultOmitted") else "detail")
        print(json.dumps(out), flush=True)  # your processing goes here; it must be idempotent
    except Exception:
        forget(detail["eventId"])
        raise


def handler(event, context):
    """A rule's Lambda target: one event per invocation. Raising makes EventBridge retry."""
    handle_event(event)


def drain(queue_url: str) -> None:
    """A rule's SQS target: each message body is one event."""
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not batch:
            return
        for m in batch:
            handle_event(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


if __name__ == "__main__":
    if sys.argv[1:]:
        drain(sys.argv[1])
    else:
        handler(json.load(sys.stdin), None)
