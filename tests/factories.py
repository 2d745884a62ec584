"""Requests, plans and Bedrock answers that tests build on."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

from lambda_handlers.common.plan import Plan, make_plan
from lambda_handlers.common.request import RequestContext
from lambda_handlers.common.request_checks import check_request

EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:CustomizationStateMachine:run-1"
JOB_ARN = "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/amazon.nova-lite-v1:0:300k/abcdef123456"
MODEL_ARN = (
    "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/fedcba654321"
)
PT_ARN = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/a1b2c3d4e5f6"
DEPLOYMENT_ARN = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/a1b2c3d4e5f6"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

CONTEXT = RequestContext(
    data_bucket="data-bucket",
    data_prefixes=("training/", "validation/", "test/"),
    output_bucket="artifacts-bucket",
    output_prefix="customization-jobs/",
)


def fine_tuning_request(**overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "requestVersion": "1",
        "customizationType": "FINE_TUNING",
        "baseModelIdentifier": "amazon.nova-lite-v1:0:300k",
        "trainingDataConfig": {"s3Uri": "s3://data-bucket/training/train.jsonl"},
        "validationDataConfig": {
            "validators": [{"s3Uri": "s3://data-bucket/validation/val.jsonl"}]
        },
        "hyperParameters": {"epochCount": 2, "learningRate": 0.00001},
        "serving": {"mode": "none"},
        "tags": {"team": "ml-platform"},
    }
    request.update(copy.deepcopy(overrides))
    return request


def plan_for(request: dict[str, Any] | None = None, execution_arn: str = EXECUTION_ARN) -> Plan:
    checked = check_request(request or fine_tuning_request(), CONTEXT)
    return make_plan(checked, execution_arn, CONTEXT, "BedrockCustomization")


def job_description(plan: Plan, status: str = "InProgress", **extra: Any) -> dict[str, Any]:
    """A GetModelCustomizationJob answer for ``plan``'s job."""
    response: dict[str, Any] = {
        "jobArn": JOB_ARN,
        "jobName": plan.jobName,
        "outputModelName": plan.customModelName,
        "clientRequestToken": plan.clientRequestToken,
        "roleArn": "arn:aws:iam::123456789012:role/BedrockServiceRole",
        "status": status,
        "creationTime": NOW,
        "baseModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0:300k",
        "trainingDataConfig": plan.trainingDataConfig,
        "validationDataConfig": plan.validationDataConfig or {"validators": []},
        "outputDataConfig": plan.outputDataConfig,
        "hyperParameters": plan.hyperParameters,
    }
    if status == "Completed":
        response["outputModelArn"] = MODEL_ARN
    response.update(extra)
    return response


def jsonl(records: list[Any]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def conversation_records(n: int, offset: int = 0) -> list[dict[str, Any]]:
    """Valid Converse-form fine-tuning records (Nova, Llama 3.2)."""
    return [
        {
            "schemaVersion": "bedrock-conversation-2024",
            "system": [{"text": "You triage support tickets."}],
            "messages": [
                {"role": "user", "content": [{"text": f"Ticket {offset + i}: my order is late."}]},
                {"role": "assistant", "content": [{"text": "Category: delivery"}]},
            ],
        }
        for i in range(n)
    ]


def pretraining_records(n: int, offset: int = 0) -> list[dict[str, str]]:
    return [
        {"input": f"Clinical note {offset + i}: the patient reports improvement."} for i in range(n)
    ]


def foundation_model(model_id: str, inference: tuple[str, ...] = ("ON_DEMAND",)) -> dict[str, Any]:
    """A GetFoundationModel answer: ``inference`` is its ``inferenceTypesSupported``."""
    return {
        "modelDetails": {
            "modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{model_id}",
            "modelId": model_id,
            "modelName": "Base model",
            "providerName": "Amazon",
            "inferenceTypesSupported": list(inference),
            "modelLifecycle": {"status": "ACTIVE"},
        }
    }
