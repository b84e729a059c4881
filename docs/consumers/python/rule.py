"""Write an EventBridge rule on the function's bus, with an SQS queue as its target.

Usage: rule.py BUS_NAME RULE_NAME EVENT_PATTERN_JSON
Prints the queue URL. The pattern is matched against the whole event: `source`,
`detail-type` and any field inside `detail` (docs/consumers.md, EventBridge rules).
"""
import json
import sys

import boto3

events = boto3.client("events")
sqs = boto3.client("sqs")


def rule_to_queue(bus: str, name: str, pattern: dict) -> str:
    rule_arn = events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))["RuleArn"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # Let this rule, and only it, send to the queue.
    policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
        }],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return queue_url


if __name__ == "__main__":
    print(rule_to_queue(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
