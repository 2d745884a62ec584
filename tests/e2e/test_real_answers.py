"""The service's real answers, executed offline: a job name in use, names and tags the service
accepts whatever the execution is called, deletions the service refuses, and executions that
fail without reaching their own cleanup.

Each test runs the synthesized state machine (or its abort cleanup) with the real handlers and
the fake Bedrock, which answers these cases as the real service does and checks every request
against botocore's patterns (the fixture fails a test on any violation).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from lambda_handlers.cleanup import NOTIFY_FAILURE_STATE
from lambda_handlers.cli.operations import inventory, plan_of, remove
from lambda_handlers.common.aws import client
from lambda_handlers.common.plan import EXECUTION_TAG, carries_execution_tag, job_folder
from tests.e2e.fake_bedrock import ACCOUNT, REGION, BedrockClientError, FakeBedrock
from tests.e2e.harness import Execution, OfflineWorkflow, state_machine_definition
from tests.e2e.requests import error_message, request_for

HOSTILE = "run(1)!-café'ü"  # Step Functions takes it; a tag value cannot hold ( ) ! ' é ü


def sent_texts(workflow: OfflineWorkflow) -> list[str]:
    """The text (email) body of every message published to the stack's topic."""
    from moto.sns.models import sns_backends

    topic = sns_backends[ACCOUNT][REGION].topics[workflow.topic_arn]
    return [json.loads(message)["email"] for _, message, *_ in topic.sent_notifications]


def invoke_abort_cleanup(workflow: OfflineWorkflow, execution: Execution, request: Any) -> Any:
    """What the status-change rule delivers for an execution that ended, run by the abort
    cleanup function with its environment from the template."""
    return workflow.deliver_status_change(
        execution.arn,
        execution.status,
        request,
        error=execution.error,
        cause=execution.cause,
    )


# -- a job name in use -------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["ValidationException", "ConflictException"])
def test_a_foreign_job_with_the_same_name_is_never_touched(
    workflow: OfflineWorkflow, bedrock: FakeBedrock, answer: str
) -> None:
    bedrock.job_name_in_use = answer
    bedrock.job_statuses = ["InProgress"]  # the other execution's job is still training
    foreign = bedrock.foreign_job("support-triage-v1")
    request = request_for(workflow, jobName="support-triage-v1")
    execution = workflow.run(request)

    assert execution.status == "FAILED"
    assert execution.error == "JobNameTaken"
    assert error_message(execution).startswith(
        f"A customization job named support-triage-v1 already exists ({foreign}, status "
        "InProgress) and was not started by this execution; it was left untouched."
    )
    assert "Clean up" in execution.entered_states()
    # Not adopted (no poll of it, no serving), never stopped: not by the workflow's cleanup...
    assert bedrock.operations().count("GetModelCustomizationJob") <= 2
    assert "StopModelCustomizationJob" not in bedrock.operations()
    assert bedrock.running_jobs() == [foreign] and len(bedrock.jobs) == 1
    # ...nor by the status-change rule's cleanup of the FAILED execution...
    invoke_abort_cleanup(workflow, execution, request)
    # ...nor by the cleanup command.
    plan, job = plan_of(client("stepfunctions"), execution.arn)
    found = inventory(client("bedrock"), plan, job)
    assert found["job"] is None
    removed = remove(plan, found, delete_model=True)
    assert removed["stoppedJob"] is None and removed["problems"] == []
    assert "StopModelCustomizationJob" not in bedrock.operations()
    assert bedrock.running_jobs() == [foreign]


def test_a_retried_create_with_the_same_token_gets_the_same_job(bedrock: FakeBedrock) -> None:
    """The real service is idempotent on clientRequestToken: same token, same jobArn."""
    params = {
        "jobName": "nova-lite-ft-1",
        "customModelName": "m",
        "clientRequestToken": "job-1",
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/R",
        "baseModelIdentifier": "amazon.nova-lite-v1:0:300k",
        "trainingDataConfig": {"s3Uri": "s3://b/train.jsonl"},
        "outputDataConfig": {"s3Uri": "s3://b/out/"},
    }
    first = bedrock._CreateModelCustomizationJob(params)
    assert bedrock._CreateModelCustomizationJob(dict(params)) == first
    with pytest.raises(BedrockClientError) as taken:
        bedrock._CreateModelCustomizationJob({**params, "clientRequestToken": "job-2"})
    assert (taken.value.code, taken.value.message) == (
        "ValidationException",
        "The provided job name is currently in use.",
    )


# -- names and tags the service accepts ------------------------------------------------------------


def test_a_tag_hostile_execution_name_succeeds_with_serving(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    execution = workflow.run(
        request_for(workflow, serving={"mode": "provisioned-throughput"}), name=HOSTILE
    )

    assert execution.status == "SUCCEEDED", execution.cause
    [throughput] = bedrock.throughputs.values()
    assert carries_execution_tag(throughput["tags"], execution.arn)
    [job] = bedrock.jobs.values()
    assert carries_execution_tag(job["_tags"], execution.arn)
    # Every request passed botocore's patterns: the fixture asserts bedrock.violations == [].


@pytest.mark.parametrize("mode", ["provisioned-throughput", "on-demand-deployment"])
def test_a_tag_hostile_execution_still_finds_and_deletes_its_serving(
    workflow: OfflineWorkflow, bedrock: FakeBedrock, mode: str
) -> None:
    bedrock.serving_statuses = ["Creating", "Failed"]
    execution = workflow.run(request_for(workflow, serving={"mode": mode}), name=HOSTILE)

    assert execution.status == "FAILED" and execution.error == "ServingFailed"
    assert bedrock.live_serving() == []
    [message] = workflow.notifications()
    assert len(message["cleanup"]["deleted"]) == 1 and message["cleanup"]["problems"] == []


def test_a_job_name_with_plus_gets_valid_output_and_report_locations(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    execution = workflow.run(request_for(workflow, jobName="support+triage.v2"))

    assert execution.status == "SUCCEEDED", execution.cause
    [job] = bedrock.jobs.values()
    assert job["jobName"] == "support+triage.v2"
    folder = job_folder("support+triage.v2")
    assert job["outputDataConfig"]["s3Uri"] == (
        f"s3://{workflow.artifacts_bucket}/customization-jobs/{folder}/"
    )
    # The fixture asserts that no request broke a pattern (S3Uri included).


def test_a_job_name_with_plus_evaluates_by_batch_with_its_reports_in_one_folder(
    workflow: OfflineWorkflow, bedrock: FakeBedrock, runtime
) -> None:
    from tests.factories import conversation_records, jsonl

    test = workflow.put_data("test/large.jsonl", jsonl(conversation_records(120, offset=900)))
    request = request_for(
        workflow,
        jobName="support+triage.v2",
        serving={"mode": "on-demand-deployment"},
        evaluation={"testDataConfig": {"s3Uri": test}},
    )
    execution = workflow.run(request)

    assert execution.status == "SUCCEEDED", execution.cause
    [batch] = bedrock.batch_jobs.values()
    folder = job_folder("support+triage.v2")
    reports = f"s3://{workflow.artifacts_bucket}/reports/{folder}/"
    assert batch["inputDataConfig"]["s3InputDataConfig"]["s3Uri"].startswith(reports)
    assert batch["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"].startswith(reports)
    keys = [
        o["Key"]
        for o in boto3.client("s3", region_name=REGION).list_objects_v2(
            Bucket=workflow.artifacts_bucket, Prefix="reports/"
        )["Contents"]
    ]
    assert keys and all(k.startswith(f"reports/{folder}/") for k in keys), keys


# -- deletions the service refuses ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            "AccessDeniedException",
            "User is not authorized to perform bedrock:DeleteProvisionedModelThroughput",
        ),
        ("ConflictException", "The provisioned model is being updated"),
    ],
)
def test_a_refused_deletion_is_named_in_the_notification(
    workflow: OfflineWorkflow, bedrock: FakeBedrock, code: str, message: str
) -> None:
    bedrock.serving_statuses = ["Creating", "Failed"]
    bedrock.fail_next["DeleteProvisionedModelThroughput"] = [
        BedrockClientError(code, message, 403 if code.startswith("Access") else 400)
    ]
    execution = workflow.run(request_for(workflow, serving={"mode": "provisioned-throughput"}))

    assert execution.status == "FAILED" and execution.error == "ServingFailed"
    [arn] = bedrock.live_serving()
    command = f"aws bedrock delete-provisioned-model-throughput --provisioned-model-id {arn}"
    [notification] = workflow.notifications()
    assert notification["cleanup"]["problems"] == [
        {
            "resource": "provisioned throughput",
            "arn": arn,
            "action": "delete",
            "error": f"{code}: {message}",
            "command": command,
        }
    ]
    [text] = sent_texts(workflow)
    assert f"NOT cleaned up, act on it: provisioned throughput {arn}" in text
    assert f"run: {command}" in text


def test_a_cleanup_throttled_past_its_retries_still_notifies_what_may_remain(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    bedrock.serving_statuses = ["Creating", "Failed"]
    bedrock.fail_next["DeleteProvisionedModelThroughput"] = [
        BedrockClientError("ThrottlingException", "Rate exceeded", 429) for _ in range(50)
    ]
    execution = workflow.run(request_for(workflow, serving={"mode": "provisioned-throughput"}))

    assert execution.status == "FAILED" and execution.error == "ServingFailed"
    assert execution.entered_states()[-3:] == ["Clean up", "Notify failure", "Customization failed"]
    [notification] = workflow.notifications()
    cleanup = notification["cleanup"]
    assert cleanup["finished"] is False and cleanup["error"]["error"] == "BedrockThrottled"
    assert cleanup["command"] == f"bedrock-customize cleanup {execution.arn}"
    assert {"resource": "provisioned throughput"}.items() <= cleanup["mayRemain"][1].items()
    [text] = sent_texts(workflow)
    assert "Cleanup did NOT finish (BedrockThrottled" in text
    assert f"Find and remove what is left: bedrock-customize cleanup {execution.arn}" in text


# -- executions that fail without reaching their own cleanup ------------------------------------------


def breaking_state_machine(workflow: OfflineWorkflow, state: str) -> str:
    """The workflow, with ``state`` (a Wait) reading a path that does not exist: a
    ``States.Runtime`` error, which no Catch handles, fails the execution there."""
    definition = state_machine_definition(workflow.template, 0)
    wait = definition["States"][state]
    wait.pop("Seconds", None)
    wait["SecondsPath"] = "$.no.such.path"
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return sfn.create_state_machine(
        name="RuntimeError",
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/StateMachineRole",
    )["stateMachineArn"]


def test_a_failed_execution_that_never_reached_cleanup_is_cleaned_up_by_the_rule(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    broken = breaking_state_machine(workflow, "Wait for serving")
    request = request_for(workflow, serving={"mode": "provisioned-throughput"})
    execution = workflow.wait(workflow.start_execution(request, state_machine_arn=broken))

    assert execution.status == "FAILED"
    assert execution.error == "States.Runtime"
    assert "Clean up" not in execution.entered_states()
    assert NOTIFY_FAILURE_STATE not in execution.entered_states()
    [arn] = bedrock.live_serving()
    assert workflow.notifications() == []

    report = invoke_abort_cleanup(workflow, execution, request)

    assert report["deleted"] == [arn] and report["workflowNotified"] is False
    assert bedrock.live_serving() == [] and bedrock.running_jobs() == []
    assert len(workflow.retry_sleeps) == 1, "two passes: a task may have been running"
    [notification] = workflow.notifications()
    assert notification["outcome"] == "FAILED"
    assert notification["error"]["error"] == "States.Runtime"
    assert notification["cleanup"]["deleted"] == [arn]
    [text] = sent_texts(workflow)
    assert "The workflow's own cleanup did not run" in text


def test_a_failure_the_workflow_reported_is_cleaned_again_quietly(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    bedrock.serving_statuses = ["Creating", "Failed"]
    request = request_for(workflow, serving={"mode": "on-demand-deployment"})
    execution = workflow.run(request)
    assert execution.status == "FAILED"
    assert len(workflow.notifications()) == 1

    report = invoke_abort_cleanup(workflow, execution, request)

    assert report["workflowNotified"] is True
    assert report["deleted"] == [] and report["problems"] == []
    assert sent_texts(workflow)[1:] == [], "one failure, one message"


def test_the_failure_path_has_the_state_name_the_rule_looks_for(
    workflow: OfflineWorkflow,
) -> None:
    states = state_machine_definition(workflow.template)["States"]
    assert states[NOTIFY_FAILURE_STATE]["Type"] == "Task"
    assert states[NOTIFY_FAILURE_STATE]["Next"] == "Customization failed"


def test_the_tag_the_workflow_writes_is_the_one_cleanup_compares(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    execution = workflow.run(
        request_for(workflow, serving={"mode": "on-demand-deployment"}), name="plain-run"
    )
    assert execution.status == "SUCCEEDED"
    [deployment] = bedrock.deployments.values()
    assert {"key": EXECUTION_TAG, "value": execution.arn} in deployment["tags"], (
        "an ARN that is a valid tag value is written as it is, as earlier versions did"
    )
