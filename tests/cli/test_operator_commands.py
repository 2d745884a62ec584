"""The cleanup and promote commands: the plan from the execution's history, what exists of it
as a table, removing it; a model swapped onto an endpoint by hand."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambda_handlers.common.plan import EXECUTION_TAG, STACK_TAG
from tests.cli.helpers import cells, run
from tests.factories import (
    DEPLOYMENT_ARN,
    EXECUTION_ARN,
    JOB_ARN,
    MODEL_ARN,
    NOW,
    fine_tuning_request,
    job_description,
    plan_for,
)

pytestmark = pytest.mark.usefixtures("settings_env")


def history(plan_payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "events": [
            {"timestamp": NOW, "type": "ExecutionStarted", "id": 1},
            {
                "timestamp": NOW,
                "type": "TaskSucceeded",
                "id": 5,
                "taskSucceededEventDetails": {
                    "resourceType": "lambda",
                    "resource": "invoke",
                    "output": json.dumps({"Payload": {"plan": plan_payload, "dataset": {}}}),
                },
            },
        ]
    }


def active_deployment(plan) -> dict[str, Any]:
    """GetCustomModelDeployment's answer for the plan's deployment, serving."""
    return {
        "customModelDeploymentArn": DEPLOYMENT_ARN,
        "modelDeploymentName": plan.serving.name,
        "modelArn": MODEL_ARN,
        "createdAt": NOW,
        "status": "Active",
    }


def setup(stub, status: str = "InProgress", tagged_for: str = EXECUTION_ARN):
    plan = plan_for(fine_tuning_request(serving={"mode": "on-demand-deployment"}))
    sfn, bedrock = stub("stepfunctions"), stub("bedrock")
    sfn.add_response(
        "get_execution_history",
        history(plan.model_dump(exclude_none=True)),
        {"executionArn": EXECUTION_ARN},
    )
    extra = {"outputModelArn": MODEL_ARN} if status == "Completed" else {}
    bedrock.add_response(
        "get_model_customization_job",
        job_description(plan, status, **extra),
        {"jobIdentifier": plan.jobName},
    )
    bedrock.add_response(
        "get_custom_model_deployment",
        {
            "customModelDeploymentArn": DEPLOYMENT_ARN,
            "modelDeploymentName": plan.serving.name,
            "modelArn": MODEL_ARN,
            "createdAt": NOW,
            "status": "Active",
        },
        {"customModelDeploymentIdentifier": plan.serving.name},
    )
    bedrock.add_response(
        "list_tags_for_resource",
        {
            "tags": [
                {"key": STACK_TAG, "value": "BedrockCustomization"},
                {"key": EXECUTION_TAG, "value": tagged_for},
            ]
        },
        {"resourceARN": DEPLOYMENT_ARN},
    )
    return plan, sfn, bedrock


def test_dry_run_lists_and_removes_nothing(stub) -> None:
    plan, _, bedrock = setup(stub, "Completed")
    bedrock.add_response(
        "get_custom_model",
        {
            "modelArn": MODEL_ARN,
            "modelName": plan.customModelName,
            "creationTime": NOW,
            "baseModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0:300k",
        },
        {"modelIdentifier": MODEL_ARN},
    )
    code, out, err = run("cleanup", EXECUTION_ARN, "--dry-run")
    assert code == 0, err
    assert out.split()[:4] == ["RESOURCE", "ARN", "STATUS", "NOTE"]
    assert cells(out, "job") == ["job", JOB_ARN, "Completed"]
    assert cells(out, "serving") == ["serving", DEPLOYMENT_ARN, "Active", "ours"]
    assert cells(out, "custom model") == ["custom model", MODEL_ARN, plan.customModelName]
    assert "dry run: nothing removed" in out
    assert "\x1b" not in out


def test_cleanup_stops_the_job_and_deletes_serving(stub) -> None:
    plan, _, bedrock = setup(stub, "InProgress")
    # clean_up: the job again (stop it), then serving (by name), tags, delete.
    bedrock.add_response(
        "get_model_customization_job", job_description(plan), {"jobIdentifier": plan.jobName}
    )
    bedrock.add_response("stop_model_customization_job", {}, {"jobIdentifier": JOB_ARN})
    bedrock.add_response("get_custom_model_deployment", active_deployment(plan))
    bedrock.add_response(
        "list_tags_for_resource",
        {
            "tags": [
                {"key": STACK_TAG, "value": "BedrockCustomization"},
                {"key": EXECUTION_TAG, "value": EXECUTION_ARN},
            ]
        },
    )
    bedrock.add_response(
        "delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": DEPLOYMENT_ARN}
    )
    code, out, _ = run("cleanup", EXECUTION_ARN, "--json")
    result = json.loads(out)
    assert code == 0
    assert result["found"]["job"] == {"arn": JOB_ARN, "status": "InProgress"}
    assert result["removed"] == {"stoppedJob": JOB_ARN, "deleted": [DEPLOYMENT_ARN], "problems": []}


def test_serving_of_another_execution_is_left_alone_and_the_exit_is_1(stub) -> None:
    other = EXECUTION_ARN.replace("run-1", "run-2")
    plan, _, bedrock = setup(stub, "InProgress", tagged_for=other)
    bedrock.add_response(
        "get_model_customization_job", job_description(plan), {"jobIdentifier": plan.jobName}
    )
    bedrock.add_response("stop_model_customization_job", {}, {"jobIdentifier": JOB_ARN})
    bedrock.add_response("get_custom_model_deployment", active_deployment(plan))
    bedrock.add_response(
        "list_tags_for_resource",
        {
            "tags": [
                {"key": STACK_TAG, "value": "BedrockCustomization"},
                {"key": EXECUTION_TAG, "value": other},
            ]
        },
    )
    code, out, err = run("cleanup", EXECUTION_ARN)
    assert code == 1, err
    assert cells(out, "job") == ["job", JOB_ARN, "InProgress"]
    assert cells(out, "serving") == [
        "serving",
        DEPLOYMENT_ARN,
        "Active",
        "NOT tagged with this stack and execution",
    ]
    assert cells(out, "custom model") == ["custom model", "none"]
    lines = out.splitlines()
    assert lines[-2] == f"removed: {JOB_ARN}"
    assert lines[-1] == (
        f"NOT removed: custom model deployment {DEPLOYMENT_ARN}: it has this execution's name "
        f"({plan.serving.name}) but not its tag, so another execution or a person created it; "
        "not deleted"
    )


def test_a_rejected_execution_has_nothing_to_clean(stub) -> None:
    sfn = stub("stepfunctions")
    sfn.add_response(
        "get_execution_history",
        {"events": [{"timestamp": NOW, "type": "ExecutionStarted", "id": 1}]},
    )
    code, _, err = run("cleanup", EXECUTION_ARN)
    assert code == 1
    assert "was rejected before creating anything" in err


def test_not_an_execution_arn_is_a_usage_error() -> None:
    code, _, err = run("cleanup", "arn:aws:s3:::bucket")
    assert code == 2 and "not a Step Functions execution ARN" in err


def test_promote_by_hand_is_a_rollback(stub) -> None:
    from tests.factories import DEPLOYMENT_ARN

    old = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/aaaaaaaaaaaa"
    bedrock = stub("bedrock")
    bedrock.add_response(
        "get_custom_model_deployment",
        {
            "customModelDeploymentArn": DEPLOYMENT_ARN,
            "modelDeploymentName": "production",
            "modelArn": MODEL_ARN,
            "createdAt": NOW,
            "status": "Active",
        },
        {"customModelDeploymentIdentifier": DEPLOYMENT_ARN},
    )
    bedrock.add_response(
        "update_custom_model_deployment",
        {"customModelDeploymentArn": DEPLOYMENT_ARN},
        {"customModelDeploymentIdentifier": DEPLOYMENT_ARN, "modelArn": old},
    )
    code, out, err = run("promote", "--target", DEPLOYMENT_ARN, "--model", old)
    assert code == 0, err
    assert out.strip() == f"{DEPLOYMENT_ARN}: {MODEL_ARN} -> {old} (update requested)"
    assert run("promote", "--target", "arn:aws:s3:::b", "--model", old)[0] == 2


def test_a_target_without_a_region_is_a_usage_error() -> None:
    code, out, err = run("promote", "--target", "x:custom-model-deployment/a", "--model", MODEL_ARN)
    assert (code, out) == (2, "")
    assert err == "error: not an ARN with a Region: x:custom-model-deployment/a\n"


def test_cleanup_of_a_provisioned_throughput_deletes_its_idle_alarm_too(stub) -> None:
    # Start serving made an idle alarm for the throughput (named from the stack's name, the
    # plan's stack tag); removing the throughput by hand must not leave it reporting an idle
    # throughput that no longer exists.
    from tests.factories import PT_ARN
    from tests.handlers.test_handlers import pt_description

    plan = plan_for(fine_tuning_request(serving={"mode": "provisioned-throughput"}))
    sfn, bedrock, cloudwatch = stub("stepfunctions"), stub("bedrock"), stub("cloudwatch")
    sfn.add_response(
        "get_execution_history",
        history(plan.model_dump(exclude_none=True)),
        {"executionArn": EXECUTION_ARN},
    )
    ours = {
        "tags": [
            {"key": STACK_TAG, "value": "BedrockCustomization"},
            {"key": EXECUTION_TAG, "value": EXECUTION_ARN},
        ]
    }
    model = {
        "modelArn": MODEL_ARN,
        "modelName": plan.customModelName,
        "creationTime": NOW,
        "baseModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0:300k",
    }
    for look in ("inventory", "cleanup"):  # each finds the job and serving by their names
        bedrock.add_response(
            "get_model_customization_job",
            job_description(plan, "Completed", outputModelArn=MODEL_ARN),
            {"jobIdentifier": plan.jobName},
        )
        bedrock.add_response("get_provisioned_model_throughput", pt_description("InService"))
        bedrock.add_response("list_tags_for_resource", ours, {"resourceARN": PT_ARN})
        if look == "inventory":
            bedrock.add_response("get_custom_model", model, {"modelIdentifier": MODEL_ARN})
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
    alarm = f"BedrockCustomization-idle-throughput-{plan.serving.name}"
    cloudwatch.add_response("delete_alarms", {}, {"AlarmNames": [alarm]})

    code, out, err = run("cleanup", EXECUTION_ARN, "--json")

    assert code == 0, err
    assert json.loads(out)["removed"]["deleted"] == [PT_ARN]
    cloudwatch.assert_no_pending_responses()
