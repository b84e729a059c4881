"""The EventBridge part of the template (docs/contract.md §10), asserted as data: the bus,
its archive, the example rule with its queues, dead-letter queue and alarms, the failed
entries alarm, and the schema registry, which must hold exactly what
scripts/event-schemas generates from schemas/."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json

import jsonschema
import pytest

from cfn import ROOT, statements
from conftest import FULL


def _generator():
    path = ROOT / "scripts" / "event-schemas"
    loader = importlib.machinery.SourceFileLoader("event_schemas", str(path))
    spec = importlib.util.spec_from_loader("event_schemas", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


gen = _generator()


def test_the_bus_and_its_archive(default):
    res = default.resources()
    assert res["ExtractaEventBus"]["Properties"]["Name"] == "rehearsal-extracta"
    archive = res["ExtractaEventArchive"]["Properties"]
    assert archive["SourceArn"] == "{ExtractaEventBus.Arn}"
    assert archive["RetentionDays"] == 30
    assert json.loads(archive["EventPattern"]) == {"source": ["extracta.ai"]}


def test_the_example_rule_its_queues_and_their_policy(default):
    res = default.resources()
    rule = res["FailedExtractionsRule"]["Properties"]
    assert rule["EventBusName"] == "{ExtractaEventBus.Arn}"
    assert rule["EventPattern"] == {"source": ["extracta.ai"], "detail-type": ["extraction.failed"]}
    assert rule["State"] == "ENABLED"
    [target] = rule["Targets"]
    assert target["Arn"] == "{FailedExtractionsQueue.Arn}"
    assert target["DeadLetterConfig"] == {"Arn": "{FailedExtractionsDeadLetterQueue.Arn}"}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    for q in ("FailedExtractionsQueue", "FailedExtractionsDeadLetterQueue"):
        props = res[q]["Properties"]
        assert props["SqsManagedSseEnabled"] is True and "KmsMasterKeyId" not in props
    policy = res["FailedExtractionsQueuePolicy"]["Properties"]
    arns = ["{FailedExtractionsQueue.Arn}", "{FailedExtractionsDeadLetterQueue.Arn}"]
    assert policy["Queues"] == ["{FailedExtractionsQueue}", "{FailedExtractionsDeadLetterQueue}"]
    assert statements(policy["PolicyDocument"]) == [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "sqs:*",
         "Resource": arns, "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "AllowSendByTheRule", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
         "Action": "sqs:SendMessage", "Resource": arns,
         "Condition": {"ArnEquals": {"aws:SourceArn": "{FailedExtractionsRule.Arn}"}}},
    ]


def test_the_alarms(default):
    res = default.resources()
    failed = res["EventsFailedAlarm"]["Properties"]
    assert (failed["Namespace"], failed["MetricName"], failed["Threshold"], failed["ComparisonOperator"]) == \
        ("ExtractaWebhook", "EventsFailed", 1, "GreaterThanOrEqualToThreshold")
    # The same dimension as the function's other request-level metrics.
    assert failed["Dimensions"] == [{"Name": "FunctionName", "Value": "{WebhookFunction}"}]
    dlq = res["FailedExtractionsDeadLetterAlarm"]["Properties"]
    assert (dlq["Namespace"], dlq["MetricName"], dlq["Threshold"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible", 0)
    assert dlq["Dimensions"] == [{"Name": "QueueName", "Value": "{FailedExtractionsDeadLetterQueue.QueueName}"}]


def test_dashboard_shows_events_put_and_failed(default):
    body = json.loads(default.resources()["Dashboard"]["Properties"]["DashboardBody"])
    rows = [m for w in body["widgets"] for m in w["properties"]["metrics"]]
    assert [".", "EventsPut", ".", "."] in rows and [".", "EventsFailed", ".", "."] in rows


def test_outputs(default, full):
    out = default.outputs()
    assert out["EventBusArn"] == "{ExtractaEventBus.Arn}"
    assert out["EventArchiveArn"] == "{ExtractaEventArchive.Arn}"
    assert out["EventSchemaRegistryName"] == default.resources()["EventSchemaRegistry"]["Properties"]["RegistryName"]
    assert out["FailedExtractionsQueueUrl"] == "{FailedExtractionsQueue}"
    assert out["FailedExtractionsDeadLetterQueueUrl"] == "{FailedExtractionsDeadLetterQueue}"
    f = full.outputs()
    assert f["EventBusArn"] == FULL["EventBus"]
    assert not {"EventArchiveArn", "FailedExtractionsQueueUrl"} & set(f)


def test_template_holds_what_the_generator_makes():
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    assert gen.spliced(text) == text, "run scripts/event-schemas"


def test_one_registry_schema_per_detail_type(default, full):
    for r in (default, full):
        schemas = {v["Properties"]["SchemaName"]: v["Properties"] for v in r.resources().values()
                   if v["Type"] == "AWS::EventSchemas::Schema"}
        assert set(schemas) == {
            "extracta.ai@extraction.processed", "extracta.ai@extraction.edited",
            "extracta.ai@extraction.confirmed", "extracta.ai@extraction.failed", "extracta.ai@ArchivePointer",
            "extracta.ai@receiver.erased"}
        for name, props in schemas.items():
            assert props["Type"] == "JSONSchemaDraft4"
            assert props["RegistryName"] == "{EventSchemaRegistry.RegistryName}"
            content = json.loads(props["Content"])
            assert content == gen.schemas()[name]
            jsonschema.Draft4Validator.check_schema(content)


@pytest.mark.parametrize("name, detail_type, detail_file", [
    (n, dt, f) for n, _, dt, f in gen.REGISTRY])
def test_registry_schemas_accept_the_examples_and_refuse_the_others(name, detail_type, detail_file):
    """Each schema/ example, wrapped as EventBridge delivers it, passes its own registry
    schema and no other; a wrong source or a detail of another type fails."""
    detail = json.loads((ROOT / "schemas" / detail_file).read_text(encoding="utf-8"))
    mine = jsonschema.Draft4Validator(gen.schemas()[name], format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    for example in detail["examples"]:
        event = {
            "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": detail_type or example["event"], "source": "extracta.ai",
            "account": "123456789012", "time": "2026-11-26T18:19:08Z", "region": "us-east-1",
            "resources": [], "detail": example,
        }
        errors = [e.message for e in mine.iter_errors(event)]
        assert not errors, errors
        for other, _, _, _ in gen.REGISTRY:
            if other != name:
                assert not jsonschema.Draft4Validator(gen.schemas()[other]).is_valid(event), other
        assert not mine.is_valid({**event, "source": "aws.s3"})
