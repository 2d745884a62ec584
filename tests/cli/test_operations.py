"""The operator actions as a library: the plan from the history, what exists, AWS errors
translated by name."""

from __future__ import annotations

import json

import pytest

from lambda_handlers.cli.operations import inventory, plan_of
from lambda_handlers.common.aws import client
from lambda_handlers.common.errors import AccessDenied, ResourceMissing
from tests.factories import (
    EXECUTION_ARN,
    JOB_ARN,
    MODEL_ARN,
    NOW,
    fine_tuning_request,
    job_description,
    plan_for,
)

pytestmark = pytest.mark.usefixtures("settings_env")


def succeeded(event_id: int, payload: dict) -> dict:
    return {
        "timestamp": NOW,
        "type": "TaskSucceeded",
        "id": event_id,
        "taskSucceededEventDetails": {
            "resourceType": "lambda",
            "resource": "invoke",
            "output": json.dumps({"Payload": payload}),
        },
    }


def test_the_plan_and_the_completed_job_come_from_the_history(stub) -> None:
    plan = plan_for(fine_tuning_request())
    sfn = stub("stepfunctions")
    sfn.add_response(
        "get_execution_history",
        {
            "events": [
                succeeded(5, {"plan": plan.model_dump(exclude_none=True)}),
                succeeded(9, {"jobArn": JOB_ARN, "outputModelArn": MODEL_ARN}),
            ]
        },
        {"executionArn": EXECUTION_ARN},
    )
    found_plan, job = plan_of(client("stepfunctions"), EXECUTION_ARN)
    assert found_plan == plan
    assert job == {"jobArn": JOB_ARN, "outputModelArn": MODEL_ARN}


def test_a_history_without_a_plan_is_a_missing_resource(stub) -> None:
    stub("stepfunctions").add_response(
        "get_execution_history",
        {"events": [{"timestamp": NOW, "type": "ExecutionStarted", "id": 1}]},
    )
    with pytest.raises(ResourceMissing, match="rejected before creating anything"):
        plan_of(client("stepfunctions"), EXECUTION_ARN)


def test_a_model_that_is_gone_is_not_listed(stub) -> None:
    plan = plan_for(fine_tuning_request())
    bedrock = stub("bedrock")
    bedrock.add_response(
        "get_model_customization_job",
        job_description(plan, "Completed"),
        {"jobIdentifier": plan.jobName},
    )
    bedrock.add_client_error("get_custom_model", "ResourceNotFoundException", "gone")
    found = inventory(client("bedrock"), plan, {})
    assert found["job"] == {"arn": JOB_ARN, "status": "Completed"}
    assert (found["serving"], found["customModel"]) == (None, None)


def test_an_aws_error_reading_the_model_is_translated(stub) -> None:
    plan = plan_for(fine_tuning_request())
    bedrock = stub("bedrock")
    bedrock.add_response(
        "get_model_customization_job",
        job_description(plan, "Completed"),
        {"jobIdentifier": plan.jobName},
    )
    bedrock.add_client_error("get_custom_model", "AccessDeniedException", "not allowed")
    with pytest.raises(AccessDenied, match=f"GetCustomModel {MODEL_ARN}"):
        inventory(client("bedrock"), plan, {})
