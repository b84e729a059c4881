"""A Lambda function subscribed to a results topic (SNS trigger) or to its queue (SQS
trigger with ReportBatchItemFailures). Uses consume.py's parse, first_time and handle."""
import json
import sys

from consume import first_time, forget, handle, parse


def handler(event, context=None):
    failures = []
    for record in event["Records"]:
        if record.get("EventSource") == "aws:sns":  # SNS -> Lambda: the message is a string
            message = json.loads(record["Sns"]["Message"])
        else:  # SQS -> Lambda: the body, raw or in the SNS envelope
            message = parse(record["body"])
        if not first_time(message["eventId"]):
            continue
        try:
            handle(message)
        except Exception:
            forget(message["eventId"])
            if record.get("eventSource") != "aws:sqs":
                raise  # SNS retries the whole invocation
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


if __name__ == "__main__":  # for local runs: the event on stdin
    print(json.dumps(handler(json.load(sys.stdin))))
