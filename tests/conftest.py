"""Shared fixtures: fake AWS credentials, one synthesized app per session, a Lambda context."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# No test reaches AWS: fake credentials and a fixed Region before any client exists.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "18,20",
        "POWERTOOLS_SERVICE_NAME": "bedrock-customize",
    }
)
os.environ.pop("AWS_PROFILE", None)


@dataclass
class Synthesized:
    """One synthesized app: its output folder, the stack template and cdk-nag's report."""

    outdir: Path
    template: dict[str, Any]
    validation_report: dict[str, Any] | None
    error: str | None

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == resource_type}


def synthesize(outdir: Path, context: dict[str, Any] | None = None) -> Synthesized:
    """Synthesize ``app.build_app`` into ``outdir``; keep cdk-nag's report even when it fails."""
    from app import build_app

    error = None
    try:
        build_app(str(outdir), context=context).synth()
    except Exception as exc:
        error = str(exc)
    template_path = outdir / "BedrockCustomization.template.json"
    report_path = outdir / "validation-report.json"
    return Synthesized(
        outdir=outdir,
        template=json.loads(template_path.read_text()) if template_path.exists() else {},
        validation_report=json.loads(report_path.read_text()) if report_path.exists() else None,
        error=error,
    )


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    result = synthesize(tmp_path_factory.mktemp("cdk.out"))
    assert result.error is None, f"synthesis failed: {result.error}"
    return result


# Endpoints the full stack lets executions promote onto: these two, and those tagged so.
PROMOTION_TARGET_ARNS = (
    "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdef123456",
    "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/b1b2b3b4b5b6",
)
PROMOTION_TAG = ("promotion-target", "customization")

# Every optional feature on, an account and Region pinned: the other template to check.
FULL_CONTEXT = {
    "notificationEmails": "ml-platform@example.com,oncall@example.com",
    "extraDataBuckets": "shared-datasets,other-team-data",
    "rftGraders": "reference-match,format,preference,judge",
    "judgeModelId": "amazon.nova-pro-v1:0",
    "enableDistillation": "true",
    "invocationLogsBucket": "bedrock-invocation-logs",
    "invocationLogsPrefix": "logs/",
    # What executions may do: promotion onto two listed endpoints and tagged ones, more model
    # units, commitments (tests/e2e/test_stack_limits.py).
    "promotionTargetArns": ",".join(PROMOTION_TARGET_ARNS),
    "promotionTargetTagKey": PROMOTION_TAG[0],
    "promotionTargetTagValue": PROMOTION_TAG[1],
    "maxModelUnits": "4",
    "allowCommitments": "true",
    "account": "123456789012",
    "region": "us-east-1",
    "stateMachineName": "ml-platform-runs",
    # Data of 4 MiB or more is validated in 1 MiB shards (tests/e2e/test_sharded_validation.py).
    "shardedValidationMinBytes": "4194304",
    "validationShardBytes": "1048576",
}


@pytest.fixture(scope="session")
def synthesized_polling(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The default stack with ``jobCompletion=polling``: the job followed by polling alone."""
    result = synthesize(tmp_path_factory.mktemp("cdk.out.polling"), {"jobCompletion": "polling"})
    assert result.error is None, f"synthesis failed: {result.error}"
    return result


@pytest.fixture(scope="session")
def synthesized_full(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    result = synthesize(tmp_path_factory.mktemp("cdk.out.full"), FULL_CONTEXT)
    assert result.error is None, f"synthesis failed: {result.error}"
    return result


@pytest.fixture(scope="session")
def template(synthesized: Synthesized):
    from aws_cdk.assertions import Template

    return Template.from_json(synthesized.template)


@dataclass
class FakeLambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture(autouse=True)
def fresh_clients():
    """Handlers cache one client per service; each test starts with new ones."""
    from lambda_handlers.common.aws import client

    client.cache_clear()
    yield
    client.cache_clear()
