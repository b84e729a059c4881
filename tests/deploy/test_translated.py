"""The translated CloudFormation (what `sam deploy` submits), asserted as data.

Exact sets, not "contains": a permission, route or resource that appears without a
matching change here fails the rehearsal, whether it came from an edit of
template.yaml or from a new aws-sam-translator.
"""

from __future__ import annotations

import json

import pytest

from cfn import ACCOUNT, REGION, as_list, grants, statements
from conftest import FULL, KEY

ROLE = "{WebhookFunctionRole.Arn}"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
NOCOND = "{}"
TLS_DENY = json.dumps({"Bool": {"aws:SecureTransport": "false"}}, sort_keys=True)


def via(*services: str) -> str:
    hosts = [f"{s}.{REGION}.amazonaws.com" for s in services]
    return json.dumps(
        {"StringEquals": {"kms:ViaService": hosts[0] if len(hosts) == 1 else hosts}}, sort_keys=True
    )


def of_type(r, type_):
    return {k: v for k, v in r.resources().items() if v["Type"] == type_}


# --- the resource list ---------------------------------------------------------------

EXPECTED_RESOURCES = {
    "AlarmTopic": "AWS::SNS::Topic",
    "AlarmTopicPolicy": "AWS::SNS::TopicPolicy",
    "Api4xxRateAlarm": "AWS::CloudWatch::Alarm",
    "Api5xxRateAlarm": "AWS::CloudWatch::Alarm",
    "ApiAccessLogGroup": "AWS::Logs::LogGroup",
    "ConfirmedTopic": "AWS::SNS::Topic",
    "ConfirmedTopicPolicy": "AWS::SNS::TopicPolicy",
    "Dashboard": "AWS::CloudWatch::Dashboard",
    "DownstreamFailuresAlarm": "AWS::CloudWatch::Alarm",
    "EventSchemaRegistry": "AWS::EventSchemas::Registry",
    "EventsFailedAlarm": "AWS::CloudWatch::Alarm",
    "ExtractaEventArchive": "AWS::Events::Archive",
    "ExtractaEventBus": "AWS::Events::EventBus",
    "ExtractionConfirmedSchema": "AWS::EventSchemas::Schema",
    "ExtractionEditedSchema": "AWS::EventSchemas::Schema",
    "ExtractionFailedSchema": "AWS::EventSchemas::Schema",
    "ExtractionProcessedSchema": "AWS::EventSchemas::Schema",
    "ArchivePointerSchema": "AWS::EventSchemas::Schema",
    "ReceiverErasedSchema": "AWS::EventSchemas::Schema",
    "FailedExtractionsDeadLetterAlarm": "AWS::CloudWatch::Alarm",
    "FailedExtractionsDeadLetterQueue": "AWS::SQS::Queue",
    "FailedExtractionsQueue": "AWS::SQS::Queue",
    "FailedExtractionsQueuePolicy": "AWS::SQS::QueuePolicy",
    "FailedExtractionsRule": "AWS::Events::Rule",
    "FailedTopic": "AWS::SNS::Topic",
    "FailedTopicPolicy": "AWS::SNS::TopicPolicy",
    "FunctionErrorsAlarm": "AWS::CloudWatch::Alarm",
    "FunctionThrottlesAlarm": "AWS::CloudWatch::Alarm",
    "HttpApi": "AWS::ApiGatewayV2::Api",
    "HttpApiApiGatewayDefaultStage": "AWS::ApiGatewayV2::Stage",
    "RedriveDeadLetterAlarm": "AWS::CloudWatch::Alarm",
    "RedriveDeadLetterQueue": "AWS::SQS::Queue",
    "RedriveDeadLetterQueuePolicy": "AWS::SQS::QueuePolicy",
    "RedriveFailuresAlarm": "AWS::CloudWatch::Alarm",
    "RedriveQueue": "AWS::SQS::Queue",
    "RedriveQueueAgeAlarm": "AWS::CloudWatch::Alarm",
    "RedriveQueuePolicy": "AWS::SQS::QueuePolicy",
    "ResultsBucket": "AWS::S3::Bucket",
    "ResultsBucketPolicy": "AWS::S3::BucketPolicy",
    "SignatureFailuresAlarm": "AWS::CloudWatch::Alarm",
    "WebhookFunction": "AWS::Lambda::Function",
    "WebhookFunctionRedrive": "AWS::Lambda::EventSourceMapping",
    "WebhookFunctionRole": "AWS::IAM::Role",
    "WebhookFunctionWebhookPermission": "AWS::Lambda::Permission",
    "WebhookLogGroup": "AWS::Logs::LogGroup",
    "WebhookSecret": "AWS::SecretsManager::Secret",
}


def test_resources_are_exactly_these(default, full):
    got = {k: v["Type"] for k, v in default.resources().items()}
    assert got == EXPECTED_RESOURCES
    # FULL: bring-your-own secret, alarm topic and event bus (so no archive or example
    # rule either), no access log group, an e-mail subscription.
    got_full = {k: v["Type"] for k, v in full.resources().items()}
    want_full = {k: v for k, v in EXPECTED_RESOURCES.items()
                 if k not in ("WebhookSecret", "AlarmTopic", "AlarmTopicPolicy", "ApiAccessLogGroup")
                 and k not in OWN_BUS_ONLY}
    want_full["AlarmEmailSubscription"] = "AWS::SNS::Subscription"
    assert got_full == want_full


# What only a bus this stack creates brings (EventBus "create").
OWN_BUS_ONLY = {"ExtractaEventBus", "ExtractaEventArchive", "FailedExtractionsRule", "FailedExtractionsQueue",
                "FailedExtractionsDeadLetterQueue", "FailedExtractionsQueuePolicy",
                "FailedExtractionsDeadLetterAlarm"}
# What any bus brings; EventBus "none" has none of it.
ANY_BUS = {"EventSchemaRegistry", "EventsFailedAlarm", "ExtractionProcessedSchema", "ExtractionEditedSchema",
           "ExtractionConfirmedSchema", "ExtractionFailedSchema", "ArchivePointerSchema",
           "ReceiverErasedSchema"}


def test_without_a_bus_nothing_of_eventbridge_exists(nobus):
    got = {k: v["Type"] for k, v in nobus.resources().items()}
    assert got == {k: v for k, v in EXPECTED_RESOURCES.items() if k not in OWN_BUS_ONLY | ANY_BUS}
    assert not any(a.startswith("events:") for _, a, _, _ in role_grants(nobus))
    assert "EVENT_BUS_NAME" not in nobus.resources()["WebhookFunction"]["Properties"]["Environment"]["Variables"]
    assert not {"EventBusArn", "EventArchiveArn", "EventSchemaRegistryName"} & set(nobus.outputs())


def test_no_other_iam_than_the_one_role(default, full):
    for r in (default, full):
        iam = {k for k, v in r.resources().items() if v["Type"].startswith("AWS::IAM::")}
        assert iam == {"WebhookFunctionRole"}
        role = r.resources()["WebhookFunctionRole"]["Properties"]
        assert "ManagedPolicyArns" not in role and "PermissionsBoundary" not in role
        assert [p["PolicyName"] for p in role["Policies"]] == ["webhook"]


# --- the function's role ---------------------------------------------------------------

def role_grants(r):
    role = r.resources()["WebhookFunctionRole"]["Properties"]
    return grants(role["Policies"][0]["PolicyDocument"])


def test_role_grants_exactly_default(default):
    queue = "{RedriveQueue.Arn}"
    assert role_grants(default) == {
        ("Allow", "logs:CreateLogStream", "{WebhookLogGroup.Arn}", NOCOND),
        ("Allow", "logs:PutLogEvents", "{WebhookLogGroup.Arn}", NOCOND),
        ("Allow", "s3:PutObject", "{ResultsBucket.Arn}/extracta/*", NOCOND),
        ("Allow", "s3:GetObject", "{ResultsBucket.Arn}/extracta/*", NOCOND),
        ("Allow", "sqs:SendMessage", queue, NOCOND),
        ("Allow", "sqs:ReceiveMessage", queue, NOCOND),
        ("Allow", "sqs:DeleteMessage", queue, NOCOND),
        ("Allow", "sqs:GetQueueAttributes", queue, NOCOND),
        ("Allow", "sqs:ChangeMessageVisibility", queue, NOCOND),
        ("Allow", "sns:Publish", "{ConfirmedTopic}", NOCOND),
        ("Allow", "sns:Publish", "{FailedTopic}", NOCOND),
        ("Allow", "secretsmanager:GetSecretValue", "{WebhookSecret}", NOCOND),
        ("Allow", "events:PutEvents", "{ExtractaEventBus.Arn}", NOCOND),
        ("Allow", "xray:PutTraceSegments", "*", NOCOND),
        ("Allow", "xray:PutTelemetryRecords", "*", NOCOND),
    }


def test_role_grants_exactly_with_every_option(full):
    queue = "{RedriveQueue.Arn}"
    assert role_grants(full) == {
        ("Allow", "logs:CreateLogStream", "{WebhookLogGroup.Arn}", NOCOND),
        ("Allow", "logs:PutLogEvents", "{WebhookLogGroup.Arn}", NOCOND),
        ("Allow", "s3:PutObject", "{ResultsBucket.Arn}/data/*", NOCOND),
        ("Allow", "s3:GetObject", "{ResultsBucket.Arn}/data/*", NOCOND),
        ("Allow", "sqs:SendMessage", queue, NOCOND),
        ("Allow", "sqs:ReceiveMessage", queue, NOCOND),
        ("Allow", "sqs:DeleteMessage", queue, NOCOND),
        ("Allow", "sqs:GetQueueAttributes", queue, NOCOND),
        ("Allow", "sqs:ChangeMessageVisibility", queue, NOCOND),
        ("Allow", "sns:Publish", "{ConfirmedTopic}", NOCOND),
        ("Allow", "sns:Publish", "{FailedTopic}", NOCOND),
        ("Allow", "secretsmanager:GetSecretValue", FULL["ExistingWebhookSecretArn"], NOCOND),
        ("Allow", "events:PutEvents", FULL["EventBus"], NOCOND),
        ("Allow", "kms:GenerateDataKey", KEY + "0b", via("s3")),
        ("Allow", "kms:Decrypt", KEY + "0b", via("s3")),
        ("Allow", "kms:GenerateDataKey*", KEY + "0e", via("sns", "sqs")),
        ("Allow", "kms:Decrypt", KEY + "0e", via("sns", "sqs")),
        ("Allow", "kms:Decrypt", KEY + "05", via("secretsmanager")),
        # Tracing PassThrough: no X-Ray grant.
    }


def test_role_trust_is_lambda_from_this_account_only(default):
    trust = default.resources()["WebhookFunctionRole"]["Properties"]["AssumeRolePolicyDocument"]
    assert statements(trust) == [{
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
    }]


def test_api_may_invoke_only_through_its_own_api(default):
    perm = default.resources()["WebhookFunctionWebhookPermission"]["Properties"]
    assert perm["Action"] == "lambda:InvokeFunction"
    assert perm["Principal"] == "apigateway.amazonaws.com"
    assert perm["FunctionName"] == "{WebhookFunction}"
    assert perm["SourceArn"] == f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{{HttpApi}}/*/POST/webhook"


# --- resource policies -------------------------------------------------------------------

def all_resource_policies(r):
    out = []
    for lid, res in r.resources().items():
        p = res["Properties"]
        if res["Type"] in ("AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy"):
            out.append((lid, p["PolicyDocument"]))
    return out


def test_no_resource_policy_allows_everyone(default, full):
    for r in (default, full):
        for lid, doc in all_resource_policies(r):
            for st in statements(doc):
                if st["Effect"] != "Allow":
                    continue
                principal = st["Principal"]
                assert principal != "*", lid
                values = [v for vs in principal.values() for v in as_list(vs)]
                assert "*" not in values, lid
                assert not any("*" in a for a in as_list(st["Action"])), lid


def test_bucket_encrypted_versioned_private_tls_only(default, full):
    b = default.resources()["ResultsBucket"]["Properties"]
    assert b["BucketEncryption"] == {"ServerSideEncryptionConfiguration": [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    assert b["VersioningConfiguration"] == {"Status": "Enabled"}
    assert b["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True,
        "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert b["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert default.resources()["ResultsBucket"]["DeletionPolicy"] == "Retain"
    kms = full.resources()["ResultsBucket"]["Properties"]["BucketEncryption"]
    assert kms == {"ServerSideEncryptionConfiguration": [{
        "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY + "0b"},
        "BucketKeyEnabled": True}]}
    policy = default.resources()["ResultsBucketPolicy"]["Properties"]
    assert policy["Bucket"] == "{ResultsBucket}"
    assert statements(policy["PolicyDocument"]) == [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": ["{ResultsBucket.Arn}", "{ResultsBucket.Arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]


TOPIC_ACTIONS = ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes", "sns:SetTopicAttributes",
                 "sns:AddPermission", "sns:RemovePermission", "sns:DeleteTopic",
                 "sns:ListSubscriptionsByTopic"]
ADMIN_ACTIONS = TOPIC_ACTIONS[1:]


def expected_topic_policy(topic, publishers):
    return [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
         "Action": TOPIC_ACTIONS, "Resource": topic,
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "DenyPublishByOthers", "Effect": "Deny", "Principal": "*",
         "Action": "sns:Publish", "Resource": topic,
         "Condition": {"StringNotEquals": {"aws:PrincipalArn": publishers}}},
        {"Sid": "AllowPublishByFunction", "Effect": "Allow", "Principal": {"AWS": ROLE},
         "Action": "sns:Publish", "Resource": topic},
        {"Sid": "AllowAccountAdministration", "Effect": "Allow", "Principal": {"AWS": ROOT},
         "Action": ADMIN_ACTIONS, "Resource": topic},
    ]


@pytest.mark.parametrize("topic", ["ConfirmedTopic", "FailedTopic"])
def test_topic_policies(default, full, topic):
    for r, publishers in ((default, [ROLE, ROOT]),
                          (full, [ROLE, ROOT, "arn:aws:iam::123456789012:role/replayer"])):
        policies = [p for p in of_type(r, "AWS::SNS::TopicPolicy").values()
                    if "{%s}" % topic in p["Properties"]["Topics"]]
        assert len(policies) == 1, "exactly one policy per topic"
        p = policies[0]["Properties"]
        assert p["Topics"] == ["{%s}" % topic]
        assert statements(p["PolicyDocument"]) == expected_topic_policy("{%s}" % topic, publishers)
        topic_props = r.resources()[topic]["Properties"]
        want_key = KEY + "0e" if r is full else "alias/aws/sns"
        assert topic_props["KmsMasterKeyId"] == want_key


def test_every_topic_and_queue_has_a_tls_only_policy(default, full):
    for r in (default, full):
        res = r.resources()
        covered = set()
        for p in of_type(r, "AWS::SNS::TopicPolicy").values():
            covered.update(p["Properties"]["Topics"])
            assert statements(p["Properties"]["PolicyDocument"])[0]["Effect"] == "Deny"
        for p in of_type(r, "AWS::SQS::QueuePolicy").values():
            covered.update(p["Properties"]["Queues"])
            first = statements(p["Properties"]["PolicyDocument"])[0]
            assert (first["Sid"], first["Effect"], first["Principal"], first["Action"]) == \
                ("DenyInsecureTransport", "Deny", "*", "sqs:*")
            assert first["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        wanted = {"{%s}" % k for k, v in res.items() if v["Type"] in ("AWS::SNS::Topic", "AWS::SQS::Queue")}
        assert covered == wanted


def test_alarm_topic_policy_lets_cloudwatch_publish(default):
    p = default.resources()["AlarmTopicPolicy"]["Properties"]
    assert statements(p["PolicyDocument"]) == [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
         "Action": TOPIC_ACTIONS, "Resource": "{AlarmTopic}",
         "Condition": {"Bool": {"aws:SecureTransport": "false", "aws:PrincipalIsAWSService": "false"}}},
        {"Sid": "AllowCloudWatchAlarms", "Effect": "Allow",
         "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish",
         "Resource": "{AlarmTopic}", "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}},
        {"Sid": "AllowAccountAdministration", "Effect": "Allow", "Principal": {"AWS": ROOT},
         "Action": ADMIN_ACTIONS, "Resource": "{AlarmTopic}"},
    ]


def test_redrive_queue_policy(default, full):
    for r, senders in ((default, [ROLE, ROOT]),
                       (full, [ROLE, ROOT, "arn:aws:iam::123456789012:role/operator",
                               "arn:aws:iam::123456789012:role/oncall"])):
        p = r.resources()["RedriveQueuePolicy"]["Properties"]
        assert p["Queues"] == ["{RedriveQueue}"]
        q = "{RedriveQueue.Arn}"
        assert statements(p["PolicyDocument"]) == [
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "sqs:*",
             "Resource": q, "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            {"Sid": "DenySendByOthers", "Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage",
             "Resource": q, "Condition": {"StringNotEquals": {"aws:PrincipalArn": senders}}},
            {"Sid": "AllowSendByFunction", "Effect": "Allow", "Principal": {"AWS": ROLE},
             "Action": "sqs:SendMessage", "Resource": q},
        ]
    dlq = default.resources()["RedriveDeadLetterQueuePolicy"]["Properties"]
    assert dlq["Queues"] == ["{RedriveDeadLetterQueue}"]
    assert len(statements(dlq["PolicyDocument"])) == 1


# --- queues and the event source ------------------------------------------------------------

def test_redrive_queues(default, full):
    res = default.resources()
    fn = res["WebhookFunction"]["Properties"]
    q = res["RedriveQueue"]["Properties"]
    dlq = res["RedriveDeadLetterQueue"]["Properties"]
    assert q["VisibilityTimeout"] >= 6 * fn["Timeout"]
    assert q["RedrivePolicy"] == {"deadLetterTargetArn": "{RedriveDeadLetterQueue.Arn}", "maxReceiveCount": 10}
    assert dlq["MessageRetentionPeriod"] == 1209600
    assert "RedrivePolicy" not in dlq
    for props in (q, dlq):
        assert props["SqsManagedSseEnabled"] is True and "KmsMasterKeyId" not in props
    for name in ("RedriveQueue", "RedriveDeadLetterQueue"):
        props = full.resources()[name]["Properties"]
        assert props["KmsMasterKeyId"] == KEY + "0e" and "SqsManagedSseEnabled" not in props


def test_event_source_mapping(default):
    esm = default.resources()["WebhookFunctionRedrive"]["Properties"]
    assert esm == {
        "BatchSize": 1,
        "EventSourceArn": "{RedriveQueue.Arn}",
        "FunctionName": "{WebhookFunction}",
        "MaximumBatchingWindowInSeconds": 0,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": 5},
    }


# --- the function -----------------------------------------------------------------------------

def test_function_configuration(default, full):
    fn = default.resources()["WebhookFunction"]["Properties"]
    assert (fn["Runtime"], fn["Architectures"], fn["Handler"]) == ("provided.al2023", ["arm64"], "bootstrap")
    assert (fn["MemorySize"], fn["Timeout"]) == (256, 29)
    assert fn["Role"] == ROLE
    assert fn["TracingConfig"] == {"Mode": "Active"}
    assert "ReservedConcurrentExecutions" not in fn
    assert fn["LoggingConfig"]["LogFormat"] == "JSON" and fn["LoggingConfig"]["LogGroup"] == "{WebhookLogGroup}"
    assert fn["Environment"]["Variables"] == {
        "RESULTS_BUCKET": "{ResultsBucket}",
        "RESULTS_PREFIX": "extracta/",
        "CONFIRMED_TOPIC_ARN": "{ConfirmedTopic}",
        "FAILED_TOPIC_ARN": "{FailedTopic}",
        "EXTRACTA_WEBHOOK_SECRET_ARN": "{WebhookSecret}",
        "MAX_BODY_BYTES": 6291456,
        "MAX_CONCURRENCY": 50,
        "REDRIVE_QUEUE_URL": "{RedriveQueue}",
        "ACK_DEADLINE_MS": 5000,
        "EVENT_BUS_NAME": "{ExtractaEventBus.Arn}",
    }
    f = full.resources()["WebhookFunction"]["Properties"]
    assert f["TracingConfig"] == {"Mode": "PassThrough"}
    assert str(f["ReservedConcurrentExecutions"]) == "20"
    assert f["Environment"]["Variables"]["ACK_DEADLINE_MS"] == 3000
    assert f["Environment"]["Variables"]["EVENT_BUS_NAME"] == FULL["EventBus"]
    assert f["Environment"]["Variables"]["EXTRACTA_WEBHOOK_SECRET_ARN"] == FULL["ExistingWebhookSecretArn"]


def test_reserved_concurrency_zero_means_unset(sam):
    import cfn

    params = {**cfn.default_params(sam), "ReservedConcurrency": "0"}
    r = cfn.Resolver(cfn.translate(sam, params), {"ReservedConcurrency": "0"})
    assert "ReservedConcurrentExecutions" not in r.resources()["WebhookFunction"]["Properties"]


# --- the API ------------------------------------------------------------------------------------

def test_api_route_integration_and_throttling(default):
    res = default.resources()
    body = res["HttpApi"]["Properties"]["Body"]
    routes = {(path, method) for path, ops in body["paths"].items() for method in ops}
    assert routes == {("/webhook", "post")}
    integration = body["paths"]["/webhook"]["post"]["x-amazon-apigateway-integration"]
    assert integration == {
        "payloadFormatVersion": "2.0", "type": "aws_proxy", "httpMethod": "POST", "timeoutInMillis": 30000,
        "uri": f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{{WebhookFunction.Arn}}/invocations",
    }
    assert "security" not in body and "components" not in body
    stages = of_type(default, "AWS::ApiGatewayV2::Stage")
    assert list(stages) == ["HttpApiApiGatewayDefaultStage"]
    stage = stages["HttpApiApiGatewayDefaultStage"]["Properties"]
    assert stage["StageName"] == "$default" and stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"] == {"ThrottlingBurstLimit": 100, "ThrottlingRateLimit": 50}


def test_access_log_on_by_default_names_the_fields(default, full):
    stage = default.resources()["HttpApiApiGatewayDefaultStage"]["Properties"]
    logs = stage["AccessLogSettings"]
    assert logs["DestinationArn"] == "{ApiAccessLogGroup.Arn}"
    fmt = json.loads(logs["Format"])
    assert {fmt["requestId"], fmt["ip"], fmt["status"], fmt["latencyMs"], fmt["integrationError"]} == {
        "$context.requestId", "$context.identity.sourceIp", "$context.status",
        "$context.responseLatency", "$context.integrationErrorMessage"}
    # Nothing from the request's headers or body.
    assert not any("header" in v.lower() or "body" in v.lower() for v in fmt.values())
    off = full.resources()["HttpApiApiGatewayDefaultStage"]["Properties"]
    assert "AccessLogSettings" not in off


# --- logs -----------------------------------------------------------------------------------------

def test_log_groups_retention_and_key(default, full):
    groups = of_type(default, "AWS::Logs::LogGroup")
    assert set(groups) == {"WebhookLogGroup", "ApiAccessLogGroup"}
    for g in groups.values():
        assert g["Properties"]["RetentionInDays"] == 30
        assert "KmsKeyId" not in g["Properties"]
    for g in of_type(full, "AWS::Logs::LogGroup").values():
        assert g["Properties"]["RetentionInDays"] == 90
        assert g["Properties"]["KmsKeyId"] == KEY + "01"


# --- alarms, dashboard, outputs ---------------------------------------------------------------

EXPECTED_ALARMS = {
    "FunctionErrorsAlarm", "FunctionThrottlesAlarm", "Api5xxRateAlarm", "Api4xxRateAlarm",
    "SignatureFailuresAlarm", "DownstreamFailuresAlarm",
    "RedriveDeadLetterAlarm", "RedriveQueueAgeAlarm", "RedriveFailuresAlarm",
    "EventsFailedAlarm", "FailedExtractionsDeadLetterAlarm",
}


def test_every_alarm_notifies_the_alarm_topic(default, full):
    for r, topic in ((default, "{AlarmTopic}"), (full, FULL["AlarmTopicArn"])):
        alarms = of_type(r, "AWS::CloudWatch::Alarm")
        assert set(alarms) == (EXPECTED_ALARMS if r is default else EXPECTED_ALARMS - OWN_BUS_ONLY)
        for lid, a in alarms.items():
            assert a["Properties"]["AlarmActions"] == [topic], lid
            assert a["Properties"]["OKActions"] == [topic], lid
            assert a["Properties"]["TreatMissingData"] == "notBreaching", lid
    sub = full.resources()["AlarmEmailSubscription"]["Properties"]
    assert sub == {"TopicArn": FULL["AlarmTopicArn"], "Protocol": "email", "Endpoint": "ops@example.com"}


def test_redrive_alarms(default):
    res = default.resources()
    dlq = res["RedriveDeadLetterAlarm"]["Properties"]
    assert (dlq["Namespace"], dlq["MetricName"], dlq["Threshold"], dlq["ComparisonOperator"]) == \
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", 0, "GreaterThanThreshold")
    assert dlq["Dimensions"] == [{"Name": "QueueName", "Value": "{RedriveDeadLetterQueue.QueueName}"}]
    age = res["RedriveQueueAgeAlarm"]["Properties"]
    assert (age["MetricName"], age["Threshold"]) == ("ApproximateAgeOfOldestMessage", 900)
    assert age["Dimensions"] == [{"Name": "QueueName", "Value": "{RedriveQueue.QueueName}"}]
    fails = res["RedriveFailuresAlarm"]["Properties"]
    assert (fails["Namespace"], fails["MetricName"], fails["Threshold"]) == ("ExtractaWebhook", "RedriveFailures", 0)
    assert fails["EvaluationPeriods"] == fails["DatapointsToAlarm"] == 3
    assert fails["Dimensions"] == [{"Name": "FunctionName", "Value": "{WebhookFunction}"}]


def test_dashboard_shows_the_operator_metrics(default):
    body = json.loads(default.resources()["Dashboard"]["Properties"]["DashboardBody"])
    text = json.dumps(body)
    named = set()
    for w in body["widgets"]:
        assert w["properties"]["region"] == REGION
        for m in w["properties"]["metrics"]:
            strings = [x for x in m if isinstance(x, str)]
            if strings and strings[0] not in (".", "..."):
                namespace = strings[0]
            if len(strings) >= 2:
                named.add((namespace, strings[1]))
    assert {
        ("ExtractaWebhook", "Files"), ("ExtractaWebhook", "Published"),
        ("ExtractaWebhook", "Queued"), ("ExtractaWebhook", "Redriven"),
        ("ExtractaWebhook", "SignatureFailures"), ("ExtractaWebhook", "BadRequests"),
        ("ExtractaWebhook", "DownstreamFailures"), ("ExtractaWebhook", "RedriveFailures"),
        ("ExtractaWebhook", "Latency"),
        ("AWS/Lambda", "Errors"), ("AWS/Lambda", "Throttles"), ("AWS/Lambda", "ConcurrentExecutions"),
        ("AWS/ApiGateway", "4xx"), ("AWS/ApiGateway", "5xx"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"), ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
    } <= named
    expressions = [m[0]["expression"] for w in body["widgets"] for m in w["properties"]["metrics"]
                   if isinstance(m[0], dict) and "expression" in m[0]]
    assert expressions == [
        "SEARCH('{ExtractaWebhook,Event,FunctionName} MetricName=\"Deliveries\" "
        "FunctionName=\"{WebhookFunction}\"', 'Sum', 300)"]
    for p in ('"p50"', '"p90"', '"p99"'):
        assert p in text
    for name in ("{WebhookFunction}", "{HttpApi}", "{RedriveQueue.QueueName}", "{RedriveDeadLetterQueue.QueueName}"):
        assert name in text


def test_outputs(default, full):
    out = default.outputs()
    assert out["AlarmTopicArn"] == "{AlarmTopic}"
    assert full.outputs()["AlarmTopicArn"] == FULL["AlarmTopicArn"]
    assert out["DashboardUrl"] == f"https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}#dashboards:name={{Dashboard}}"
    assert (out["RedriveQueueUrl"], out["RedriveQueueArn"]) == ("{RedriveQueue}", "{RedriveQueue.Arn}")
    assert (out["RedriveDeadLetterQueueUrl"], out["RedriveDeadLetterQueueArn"]) == \
        ("{RedriveDeadLetterQueue}", "{RedriveDeadLetterQueue.Arn}")
    assert out["WebhookUrl"] == f"https://{{HttpApi}}.execute-api.{REGION}.amazonaws.com/webhook"


# --- checkov skips (scripts/deploy-rehearsal runs checkov itself) -------------------------------

EXPECTED_CHECKOV_SKIPS = {
    ("WebhookSecret", "CKV_AWS_149"),
    ("ResultsBucket", "CKV_AWS_18"),
    ("WebhookFunction", "CKV_AWS_116"),
    ("WebhookFunction", "CKV_AWS_117"),
    ("WebhookFunction", "CKV_AWS_173"),
    ("HttpApi", "CKV_AWS_95"),
    ("AlarmTopic", "CKV_AWS_26"),
}


def test_every_checkov_skip_is_known_and_explained(sam):
    skips = set()
    for lid, res in sam["Resources"].items():
        for skip in res.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert len(skip.get("comment", "").split()) >= 8, f"{lid} {skip['id']}: say why"
            skips.add((lid, skip["id"]))
    assert skips == EXPECTED_CHECKOV_SKIPS
