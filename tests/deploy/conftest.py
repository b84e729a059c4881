"""Fixtures of the deploy rehearsal: the template translated by aws-sam-translator for
two parameter sets (the defaults, and every option turned on)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cfn  # noqa: E402

# Never reach AWS: fake credentials, one region, and no shared config or profile.
os.environ.update(
    AWS_ACCESS_KEY_ID="rehearsal",
    AWS_SECRET_ACCESS_KEY="rehearsal",
    AWS_SESSION_TOKEN="rehearsal",
    AWS_DEFAULT_REGION=cfn.REGION,
    AWS_REGION=cfn.REGION,
    AWS_CONFIG_FILE=os.devnull,
    AWS_SHARED_CREDENTIALS_FILE=os.devnull,
)
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)

KEY = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-0000000000"
FULL = {
    "ResultsPrefix": "data/",
    "ResultsBucketKmsKeyArn": KEY + "0b",
    "TopicKmsKeyArn": KEY + "0e",
    "LogsKmsKeyArn": KEY + "01",
    "ExistingWebhookSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:webhook-AbCdEf",
    "ExistingWebhookSecretKmsKeyArn": KEY + "05",
    "ConfirmedTopicFifo": "true",
    "Tracing": "PassThrough",
    "ReservedConcurrency": "20",
    "AckDeadlineMs": 3000,
    "AlarmTopicArn": "arn:aws:sns:us-east-1:123456789012:ops-alarms",
    "AlarmEmail": "ops@example.com",
    "AdditionalPublisherArns": "arn:aws:iam::123456789012:role/replayer",
    "RedriveOperatorArns": "arn:aws:iam::123456789012:role/operator,arn:aws:iam::123456789012:role/oncall",
    "EnableAccessLogs": "false",
    "LogRetentionDays": 90,
    # A bus of someone else's: no bus, archive or example rule of this stack.
    "EventBus": "arn:aws:events:us-east-1:123456789012:event-bus/shared-events",
    "EventArchiveRetentionDays": 7,
}


@pytest.fixture(scope="session")
def sam():
    return cfn.load_sam()


@pytest.fixture(scope="session")
def translated(sam):
    return cfn.translate(sam, cfn.default_params(sam))


@pytest.fixture(scope="session")
def default(translated):
    """The translated template resolved with every parameter at its default."""
    return cfn.Resolver(translated)


@pytest.fixture(scope="session")
def nobus(sam):
    """The translated template resolved with EventBus "none": no EventBridge at all."""
    params = {**cfn.default_params(sam), "EventBus": "none"}
    return cfn.Resolver(cfn.translate(sam, params), {"EventBus": "none"})


@pytest.fixture(scope="session")
def full(sam):
    """The translated template resolved with every option set (FULL)."""
    params = {**cfn.default_params(sam), **FULL}
    return cfn.Resolver(cfn.translate(sam, params), FULL)
