"""Subscribe an SQS queue to a results topic, with a filter policy on the message attributes.

Usage: subscribe.py TOPIC_ARN QUEUE_NAME FILTER_POLICY_JSON [--envelope]
Prints the queue URL. Raw message delivery is on unless --envelope is given.
"""
import json
import sys

import boto3

sns = boto3.client("sns")
sqs = boto3.client("sqs")


def subscribe_queue(topic_arn: str, queue_name: str, filter_policy: dict, raw: bool = True) -> str:
    fifo = topic_arn.endswith(".fifo")  # a FIFO topic needs a FIFO queue
    queue_url = sqs.create_queue(
        QueueName=queue_name + (".fifo" if fifo else ""),
        Attributes={"FifoQueue": "true"} if fifo else {},
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # Let this topic, and only it, send to the queue.
    policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
        }],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={
            "RawMessageDelivery": "true" if raw else "false",
            "FilterPolicy": json.dumps(filter_policy),  # matched against the message attributes
        },
    )
    return queue_url


if __name__ == "__main__":
    topic, name, policy = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    print(subscribe_queue(topic, name, policy, raw="--envelope" not in sys.argv[4:]))
