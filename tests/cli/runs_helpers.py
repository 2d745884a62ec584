"""What the tests of ``start``, ``status``, ``watch``, ``list``, ``stop`` and ``report`` share.

Step Functions and S3 are moto's; an execution's history is made by moto's own interpreter
running a stand-in of the workflow: Pass states that put the documents the real states
return (``plan``, ``dataset``, ``job``, ``evaluation``) at the workflow's result paths, then
a long Wait (a running execution), a Succeed or a Fail. Bedrock and CloudFormation answer
through the handlers' strict Stubber (moto covers neither what Bedrock serves nor
CloudFormation without extra packages), which checks every request against the service
model.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambda_handlers.common.aws import client
from lambda_handlers.common.plan import EXECUTION_TAG, STACK_TAG, Plan
from tests.factories import NOW, fine_tuning_request, job_description, plan_for

ACCOUNT = "123456789012"
REGION = "us-east-1"
MACHINE_NAME = "BedrockCustomization-customization"
MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{MACHINE_NAME}"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/StepFunctions"
JOB_ARN = (
    f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-customization-job/meta.llama3-1-8b/abc123def456"
)
MODEL_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/meta.llama3-1-8b/a1b2c3d4e5f6"
PT_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:provisioned-model/pt123456abcd"
LLAMA = "meta.llama3-1-8b-instruct-v1:0:128k"


def execution_arn(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{MACHINE_NAME}:{name}"


def llama_request(**overrides: Any) -> dict[str, Any]:
    """A valid request for Llama 3.1 8B (its prices are known) served by throughput."""
    fields: dict[str, Any] = {
        "baseModelIdentifier": LLAMA,
        "customModelName": "support-triage-v1",
        "hyperParameters": {"epochCount": 2},
        "serving": {"mode": "provisioned-throughput", "modelUnits": 1},
    }
    return fine_tuning_request(**{**fields, **overrides})


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's Step Functions (executing definitions) and S3; fresh handler clients."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)  # the commands set it; restored after
    client.cache_clear()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        boto3.client("stepfunctions", region_name=REGION).create_state_machine(
            name=MACHINE_NAME, definition=json.dumps(_definition({}, "wait")), roleArn=ROLE
        )
        yield
    client.cache_clear()


def _definition(documents: dict[str, Any], end: str) -> dict[str, Any]:
    """Pass states for ``documents`` (``plan``/``dataset`` first), then ``end``: ``wait``
    (stays RUNNING in "Wait for job"), ``succeed`` or ``fail``."""
    states: dict[str, Any] = {}
    names: list[str] = []
    if "plan" in documents:
        names.append("Validate request")
        head = {k: documents[k] for k in ("plan", "dataset", "checks") if k in documents}
        states["Validate request"] = {"Type": "Pass", "Result": head, "ResultPath": "$"}
    for key, state in (
        ("runs", "Train the runs"),  # a sweep's Map, then its choice
        ("sweep", "Choose the winner"),
        ("job", "Check job status"),
        ("serving", "Check serving status"),
        ("evaluation", "Evaluate"),
    ):
        if key in documents:
            names.append(state)
            states[state] = {"Type": "Pass", "Result": documents[key], "ResultPath": f"$.{key}"}
    last = {
        "wait": (
            "Wait for job",
            {"Type": "Wait", "Seconds": 86400, "Next": "Customization succeeded"},
        ),
        "succeed": ("Notify success", {"Type": "Pass", "Next": "Customization succeeded"}),
        "fail": (
            "Customization failed",
            {
                "Type": "Fail",
                "Error": "CustomizationJobFailed",
                "Cause": "Customization job failed during training: out of memory",
            },
        ),
    }[end]
    names.append(last[0])
    states[last[0]] = last[1]
    if end != "fail":
        states["Customization succeeded"] = {"Type": "Succeed"}
    for name, after in itertools.pairwise(names):
        states[name]["Next"] = after
    return {"StartAt": names[0], "States": states}


def run_stand_in(
    name: str, request: dict[str, Any], documents: dict[str, Any], end: str = "wait"
) -> str:
    """Start an execution of a stand-in workflow; return once it is waiting or has ended."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    sfn.update_state_machine(
        stateMachineArn=MACHINE_ARN, definition=json.dumps(_definition(documents, end))
    )
    arn = sfn.start_execution(stateMachineArn=MACHINE_ARN, name=name, input=json.dumps(request))[
        "executionArn"
    ]
    deadline = time.monotonic() + 30  # a bound on the wait, not an assertion on time
    while time.monotonic() < deadline:
        status = sfn.describe_execution(executionArn=arn)["status"]
        entered = [
            e["stateEnteredEventDetails"]["name"]
            for e in sfn.get_execution_history(executionArn=arn)["events"]
            if "stateEnteredEventDetails" in e
        ]
        if status != "RUNNING" or (end == "wait" and "Wait for job" in entered):
            return arn
        time.sleep(0.02)
    raise AssertionError(f"the stand-in execution {name} did not get going")


def final_status(arn: str) -> str:
    """The execution's status once it has ended: moto's interpreter stops it in its own
    thread, a moment after StopExecution answers."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    deadline = time.monotonic() + 30  # a bound on the wait, not an assertion on time
    while time.monotonic() < deadline:
        status = str(sfn.describe_execution(executionArn=arn)["status"])
        if status != "RUNNING":
            return status
        time.sleep(0.02)
    return "RUNNING"


def planned(name: str, request: dict[str, Any] | None = None) -> Plan:
    return plan_for(request or llama_request(), execution_arn(name))


def running_job(plan: Plan, status: str = "InProgress") -> dict[str, Any]:
    """GetModelCustomizationJob's answer for ``plan``'s job, with the stages Bedrock reports."""
    stage = {"creationTime": NOW, "lastModifiedTime": NOW}
    extra: dict[str, Any] = {
        "jobArn": JOB_ARN,
        "statusDetails": {
            "validationDetails": {"status": "Completed", **stage},
            "dataProcessingDetails": {"status": "Completed", **stage},
            "trainingDetails": {
                "status": "Completed" if status == "Completed" else "InProgress",
                **stage,
            },
        },
    }
    if status == "Completed":
        extra["outputModelArn"] = MODEL_ARN
    return job_description(plan, status, **extra)


def expect_job(bedrock: Any, plan: Plan, status: str = "InProgress") -> None:
    bedrock.add_response(
        "get_model_customization_job", running_job(plan, status), {"jobIdentifier": plan.jobName}
    )


def expect_no(bedrock: Any, operation: str, params: dict[str, Any]) -> None:
    code = "ResourceNotFoundException"
    bedrock.add_client_error(operation, code, "not found", 404, expected_params=params)


def expect_throughput(bedrock: Any, plan: Plan, status: str = "InService") -> None:
    bedrock.add_response(
        "get_provisioned_model_throughput",
        {
            "modelUnits": 1,
            "desiredModelUnits": 1,
            "provisionedModelName": plan.serving.name,
            "provisionedModelArn": PT_ARN,
            "modelArn": MODEL_ARN,
            "desiredModelArn": MODEL_ARN,
            "foundationModelArn": f"arn:aws:bedrock:{REGION}::foundation-model/{LLAMA}",
            "status": status,
            "creationTime": NOW,
            "lastModifiedTime": NOW,
        },
        {"provisionedModelId": plan.serving.name},
    )
    bedrock.add_response(
        "list_tags_for_resource",
        {
            "tags": [
                {"key": STACK_TAG, "value": "BedrockCustomization"},
                {"key": EXECUTION_TAG, "value": plan.executionArn},
            ]
        },
        {"resourceARN": PT_ARN},
    )


def expect_model(bedrock: Any, plan: Plan) -> None:
    bedrock.add_response(
        "get_custom_model",
        {
            "modelArn": MODEL_ARN,
            "modelName": plan.customModelName,
            "creationTime": NOW,
            "baseModelArn": f"arn:aws:bedrock:{REGION}::foundation-model/{LLAMA}",
        },
        {"modelIdentifier": MODEL_ARN},
    )


def expect_stack(cfn: Any, stack: str = "BedrockCustomization", arn: str = MACHINE_ARN) -> None:
    cfn.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": stack,
                    "CreationTime": NOW,
                    "StackStatus": "CREATE_COMPLETE",
                    "Outputs": [
                        {"OutputKey": "DataBucketName", "OutputValue": "data-bucket"},
                        {"OutputKey": "StateMachineArn", "OutputValue": arn},
                    ],
                }
            ]
        },
        {"StackName": stack},
    )
