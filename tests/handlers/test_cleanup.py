"""Cleanup hides nothing billable: what it cannot remove is named with its ARN and the command
that removes it; "not found" is read only where Bedrock says so; a FAILED execution that never
reached its own failure path is cleaned up and reported by the status-change rule."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import ANY
from moto import mock_aws

from lambda_handlers import cleanup
from lambda_handlers.common.errors import BedrockThrottled, ServiceUnreachable
from lambda_handlers.common.leftovers import is_not_found
from lambda_handlers.common.notification import compose
from lambda_handlers.common.plan import EXECUTION_TAG, STACK_TAG, tag_list
from tests.factories import (
    DEPLOYMENT_ARN,
    EXECUTION_ARN,
    JOB_ARN,
    MODEL_ARN,
    NOW,
    PT_ARN,
    fine_tuning_request,
    job_description,
    plan_for,
)
from tests.handlers.test_handlers import deployment_description, pt_description, state

# What this stack's resources of this execution carry (plan_for plans for "BedrockCustomization").
OURS = {
    "tags": [
        {"key": STACK_TAG, "value": "BedrockCustomization"},
        {"key": EXECUTION_TAG, "value": EXECUTION_ARN},
    ]
}
CLEANUP_COMMAND = f"bedrock-customize cleanup {EXECUTION_ARN}"


def serving_plan(mode: str):
    return plan_for(fine_tuning_request(serving={"mode": mode}))


def client_error(code: str, message: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}}, "GetProvisionedModelThroughput"
    )


# -- what "not found" is --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "message", "missing"),
    [
        ("ResourceNotFoundException", "The specified resource ARN was not found.", True),
        ("ValidationException", "Input validation failed. Check your request parameters.", False),
        ("ValidationException", "The provided model identifier is invalid.", False),
        ("ValidationException", "Provisioned model nova-pt does not exist", True),
        ("ValidationException", "Could not find the deployment", True),
        ("ConflictException", "The resource is not found in a deletable state", False),
        ("AccessDeniedException", "not authorized", False),
    ],
)
def test_not_found_is_what_bedrock_says_it_is(code: str, message: str, missing: bool) -> None:
    assert is_not_found(client_error(code, message)) is missing


def test_a_validation_error_while_looking_is_a_problem_not_an_absence(stub, lambda_context) -> None:
    plan = serving_plan("provisioned-throughput")
    bedrock = stub("bedrock")
    bedrock.add_client_error("get_model_customization_job", "ResourceNotFoundException", "none")
    bedrock.add_client_error(
        "get_provisioned_model_throughput", "ValidationException", "Input validation failed"
    )
    report = cleanup.handler(state(plan), lambda_context)
    assert report["problems"] == [
        {
            "resource": "provisioned throughput",
            "arn": plan.serving.name,
            "action": "find",
            "error": "ValidationException: Input validation failed",
            "command": CLEANUP_COMMAND,
        }
    ]


# -- refused deletions are named with the command -----------------------------------------------


def _found_ours(bedrock: Any, plan: Any, mode: str) -> None:
    bedrock.add_client_error("get_model_customization_job", "ResourceNotFoundException", "none")
    if mode == "provisioned-throughput":
        bedrock.add_response("get_provisioned_model_throughput", pt_description("InService"))
    else:
        bedrock.add_response("get_custom_model_deployment", deployment_description("Active"))
    bedrock.add_response("list_tags_for_resource", OURS)


@pytest.mark.parametrize(
    ("mode", "operation", "arn", "command"),
    [
        (
            "provisioned-throughput",
            "delete_provisioned_model_throughput",
            PT_ARN,
            f"aws bedrock delete-provisioned-model-throughput --provisioned-model-id {PT_ARN}",
        ),
        (
            "on-demand-deployment",
            "delete_custom_model_deployment",
            DEPLOYMENT_ARN,
            "aws bedrock delete-custom-model-deployment "
            f"--custom-model-deployment-identifier {DEPLOYMENT_ARN}",
        ),
    ],
)
@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("AccessDeniedException", "not authorized to perform bedrock:Delete"),
        ("ConflictException", "The resource is being updated"),
        ("ValidationException", "Cannot delete a resource in Creating status"),
    ],
)
def test_a_refused_deletion_is_named_with_its_arn_and_command(
    stub, lambda_context, mode: str, operation: str, arn: str, command: str, code: str, message: str
) -> None:
    plan = serving_plan(mode)
    bedrock = stub("bedrock")
    _found_ours(bedrock, plan, mode)
    bedrock.add_client_error(operation, code, message)
    report = cleanup.handler(state(plan), lambda_context)
    assert report["deleted"] == []
    assert report["problems"] == [
        {
            "resource": cleanup.serving_kind(mode),
            "arn": arn,
            "action": "delete",
            "error": f"{code}: {message}",
            "command": command,
        }
    ]
    _, text, detail = compose("FAILED", state(plan, cleanup=report))
    assert f"NOT cleaned up, act on it: {cleanup.serving_kind(mode)} {arn}" in text
    assert f"run: {command}" in text
    assert detail["cleanup"]["problems"] == report["problems"]
    assert detail["cleanup"]["finished"] is True


def test_a_job_that_cannot_be_stopped_is_named_with_the_stop_command(stub, lambda_context) -> None:
    plan = plan_for()
    bedrock = stub("bedrock")
    bedrock.add_response("get_model_customization_job", job_description(plan))
    bedrock.add_client_error("stop_model_customization_job", "AccessDeniedException", "denied")
    report = cleanup.handler(state(plan), lambda_context)
    [problem] = report["problems"]
    assert problem["arn"] == JOB_ARN and problem["action"] == "stop"
    assert problem["command"] == (
        f"aws bedrock stop-model-customization-job --job-identifier {JOB_ARN}"
    )


def test_a_job_that_ended_before_the_stop_is_no_problem(stub, lambda_context) -> None:
    plan = plan_for()
    bedrock = stub("bedrock")
    bedrock.add_response("get_model_customization_job", job_description(plan))
    bedrock.add_client_error(
        "stop_model_customization_job", "ValidationException", "Job is not in progress"
    )
    bedrock.add_response("get_model_customization_job", job_description(plan, "Completed"))
    report = cleanup.handler(state(plan), lambda_context)
    assert report == {"stoppedJob": None, "deleted": [], "problems": []}


def test_a_batch_job_that_cannot_be_stopped_is_named(stub, lambda_context) -> None:
    from lambda_handlers.batch_evaluation import batch_job_name

    batch_arn = "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdefabcdef"
    plan = plan_for(
        fine_tuning_request(
            serving={"mode": "on-demand-deployment"},
            evaluation={"testDataConfig": {"s3Uri": "s3://data-bucket/test/t.jsonl"}},
        )
    )
    bedrock = stub("bedrock")
    bedrock.add_client_error("get_model_customization_job", "ResourceNotFoundException", "none")
    bedrock.add_client_error("get_custom_model_deployment", "ResourceNotFoundException", "none")
    summary = {
        "jobArn": batch_arn,
        "jobName": batch_job_name(plan),
        "modelId": "amazon.nova-lite-v1:0",
        "roleArn": "arn:aws:iam::123456789012:role/b",
        "status": "InProgress",
        "submitTime": NOW,
        "inputDataConfig": {"s3InputDataConfig": {"s3Uri": "s3://b/i.jsonl"}},
        "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": "s3://b/o/"}},
    }
    bedrock.add_response("list_model_invocation_jobs", {"invocationJobSummaries": [summary]})
    bedrock.add_response("list_tags_for_resource", OURS, {"resourceARN": batch_arn})
    bedrock.add_client_error("stop_model_invocation_job", "ConflictException", "busy")
    [problem] = cleanup.handler(state(plan), lambda_context)["problems"]
    assert problem["command"] == (
        f"aws bedrock stop-model-invocation-job --job-identifier {batch_arn}"
    )


def test_a_cleanup_that_did_not_finish_says_what_may_remain_and_how_to_finish() -> None:
    """The Clean up state's Catch: Notify failure gets $.cleanupError and no $.cleanup."""
    plan = serving_plan("provisioned-throughput")
    cause = json.dumps({"errorType": "BedrockThrottled", "errorMessage": "Rate exceeded"})
    failed = state(
        plan,
        error={"Error": "ServingFailed", "Cause": "capacity"},
        cleanupError={"Error": "BedrockThrottled", "Cause": cause},
    )
    _, text, detail = compose("FAILED", failed)
    assert "Cleanup did NOT finish (BedrockThrottled: Rate exceeded)." in text
    assert f"customization job {plan.jobName}, provisioned throughput {plan.serving.name}" in text
    assert f"Find and remove what is left: {CLEANUP_COMMAND}" in text
    assert detail["cleanup"] == {
        "finished": False,
        "error": {"error": "BedrockThrottled", "message": "Rate exceeded"},
        "mayRemain": [
            {"resource": "customization job", "name": plan.jobName},
            {"resource": "provisioned throughput", "name": plan.serving.name},
        ],
        "command": CLEANUP_COMMAND,
    }


def test_the_workflow_cleanup_leaves_an_unreachable_job_running(stub, lambda_context) -> None:
    plan = serving_plan("on-demand-deployment")
    bedrock = stub("bedrock")  # no GetModelCustomizationJob, no Stop: the job is not touched
    bedrock.add_client_error("get_custom_model_deployment", "ResourceNotFoundException", "none")
    report = cleanup.handler(state(plan, error={"Error": "JobUnreachable"}), lambda_context)
    assert report["stoppedJob"] is None and report["jobLeftRunning"] == plan.jobName
    assert "was left running on purpose" in compose("FAILED", state(plan, cleanup=report))[1]


# -- FAILED executions: the status-change rule ----------------------------------------------------


def failed_event(request: dict[str, Any], error: str | None = "States.Runtime") -> dict[str, Any]:
    detail: dict[str, Any] = {
        "executionArn": EXECUTION_ARN,
        "status": "FAILED",
        "input": json.dumps(request),
    }
    if error:
        detail.update(error=error, cause="An error occurred while executing the state 'Wait'")
    return {"detail-type": "Step Functions Execution Status Change", "detail": detail}


def history_tail(*, notified: bool) -> dict[str, Any]:
    """The newest events of a failed execution (GetExecutionHistory, reverseOrder)."""
    events: list[dict[str, Any]] = [
        {"timestamp": NOW, "type": "ExecutionFailed", "id": 90},
    ]
    if notified:
        events += [
            {"timestamp": NOW, "type": "FailStateEntered", "id": 89},
            {
                "timestamp": NOW,
                "type": "TaskStateExited",
                "id": 88,
                "stateExitedEventDetails": {"name": "Notify failure"},
            },
            {"timestamp": NOW, "type": "LambdaFunctionSucceeded", "id": 87},
        ]
    else:
        events.append(
            {
                "timestamp": NOW,
                "type": "WaitStateEntered",
                "id": 89,
                "stateEnteredEventDetails": {"name": "Wait for serving"},
            }
        )
    return {"events": events}


HISTORY_REQUEST = {
    "executionArn": EXECUTION_ARN,
    "reverseOrder": True,
    "maxResults": 20,
    "includeExecutionData": False,
}


def test_a_failed_execution_without_its_own_cleanup_is_cleaned_and_reported(
    stub, lambda_context, monkeypatch
) -> None:
    monkeypatch.setenv("STRAGGLER_WAIT_SECONDS", "35")
    slept: list[float] = []
    monkeypatch.setattr(cleanup, "wait", slept.append)
    request = fine_tuning_request(serving={"mode": "provisioned-throughput"})
    plan = plan_for(request)
    sfn, bedrock = stub("stepfunctions"), stub("bedrock")
    sfn.add_response("get_execution_history", history_tail(notified=False), HISTORY_REQUEST)
    for _ in range(2):  # two passes: a task may have been running when the execution failed
        bedrock.add_response("get_model_customization_job", job_description(plan, "Completed"))
        bedrock.add_response("get_provisioned_model_throughput", pt_description("InService"))
        bedrock.add_response("list_tags_for_resource", OURS)
        bedrock.add_response("delete_provisioned_model_throughput", {})
    published: list[dict[str, Any]] = []
    monkeypatch.setattr(cleanup, "publish", lambda topic, outcome, s: published.append(s) or "m")
    report = cleanup.abort_handler(failed_event(request), lambda_context)
    assert slept == [35]
    assert report["deleted"] == [PT_ARN] and report["workflowNotified"] is False
    [sent] = published
    subject, text, detail = compose("FAILED", sent)
    assert subject.endswith("failed")
    assert "The workflow's own cleanup did not run" in text
    assert f"Cleaned up: {PT_ARN}" in text
    assert detail["error"]["error"] == "States.Runtime"
    assert detail["cleanup"]["workflowNotified"] is False


def test_a_failure_the_workflow_already_reported_is_not_reported_twice(
    stub, lambda_context
) -> None:
    request = fine_tuning_request()
    plan = plan_for(request)
    sfn, bedrock = stub("stepfunctions"), stub("bedrock")
    stub("sns")  # nothing is published
    sfn.add_response("get_execution_history", history_tail(notified=True), HISTORY_REQUEST)
    bedrock.add_response("get_model_customization_job", job_description(plan, "Failed"))
    report = cleanup.abort_handler(failed_event(request, "CustomizationJobFailed"), lambda_context)
    assert report["workflowNotified"] is True and report["problems"] == []


def test_a_reported_failure_that_left_something_is_reported_again(
    stub, lambda_context, monkeypatch
) -> None:
    request = fine_tuning_request(serving={"mode": "on-demand-deployment"})
    plan = plan_for(request)
    sfn, bedrock = stub("stepfunctions"), stub("bedrock")
    sfn.add_response("get_execution_history", history_tail(notified=True), HISTORY_REQUEST)
    bedrock.add_response("get_model_customization_job", job_description(plan, "Completed"))
    bedrock.add_response("get_custom_model_deployment", deployment_description("Active"))
    bedrock.add_response("list_tags_for_resource", OURS)
    bedrock.add_client_error("delete_custom_model_deployment", "AccessDeniedException", "denied")
    outcomes: list[str] = []
    monkeypatch.setattr(cleanup, "publish", lambda topic, outcome, s: outcomes.append(outcome))
    report = cleanup.abort_handler(failed_event(request, "ServingFailed"), lambda_context)
    assert outcomes == ["FAILED"] and report["problems"][0]["arn"] == DEPLOYMENT_ARN


def test_a_job_the_workflow_left_running_is_not_stopped_after_the_failure(
    stub, lambda_context, monkeypatch
) -> None:
    request = fine_tuning_request(serving={"mode": "on-demand-deployment"})
    sfn, bedrock = stub("stepfunctions"), stub("bedrock")
    sfn.add_response(
        "describe_execution",
        {
            "executionArn": EXECUTION_ARN,
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:S",
            "status": "FAILED",
            "startDate": NOW,
            "input": json.dumps(request),
            "error": "JobUnreachable",
            "cause": "The workflow could not read customization job ...",
        },
        {"executionArn": EXECUTION_ARN},
    )
    sfn.add_response("get_execution_history", history_tail(notified=True), HISTORY_REQUEST)
    # Never GetModelCustomizationJob or StopModelCustomizationJob; serving is still looked for.
    bedrock.add_client_error("get_custom_model_deployment", "ResourceNotFoundException", "none")
    monkeypatch.setattr(cleanup, "publish", lambda *a: pytest.fail("nothing to report"))
    event = failed_event(request, error=None)
    del event["detail"]["input"]
    report = cleanup.abort_handler(event, lambda_context)
    assert report["stoppedJob"] is None and report["jobLeftRunning"]


def test_an_unreadable_history_counts_as_not_reported(stub, lambda_context, monkeypatch) -> None:
    request = fine_tuning_request()
    sfn, bedrock = stub("stepfunctions"), stub("bedrock")
    sfn.add_client_error("get_execution_history", "AccessDeniedException", "no", 400)
    bedrock.add_client_error("get_model_customization_job", "ResourceNotFoundException", "none")
    outcomes: list[str] = []
    monkeypatch.setattr(cleanup, "publish", lambda topic, outcome, s: outcomes.append(outcome))
    assert cleanup.abort_handler(failed_event(request), lambda_context)["stoppedJob"] is None
    assert outcomes == ["FAILED"]


@pytest.mark.parametrize(
    ("failure", "named"),
    [
        (BedrockThrottled("DeleteProvisionedModelThroughput: Rate exceeded"), "BedrockThrottled"),
        (EndpointConnectionError(endpoint_url="https://bedrock"), "ServiceUnreachable"),
    ],
)
def test_an_abort_cleanup_that_cannot_finish_says_so_and_is_retried(
    lambda_context, monkeypatch, failure: Exception, named: str
) -> None:
    def fails(*args: Any, **kwargs: Any) -> None:
        raise failure

    monkeypatch.setattr(cleanup, "clean_up", fails)
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(cleanup, "publish", lambda topic, outcome, s: sent.append((outcome, s)))
    request = json.dumps(fine_tuning_request())
    event = {"detail": {"executionArn": EXECUTION_ARN, "status": "ABORTED", "input": request}}
    with pytest.raises((BedrockThrottled, ServiceUnreachable)):
        cleanup.abort_handler(event, lambda_context)
    [(outcome, failed_state)] = sent
    assert outcome == "ABORTED" and failed_state["cleanupError"]["Error"] == named
    text = compose(outcome, failed_state)[1]
    assert f"Find and remove what is left: {CLEANUP_COMMAND}" in text


# -- ownership: this stack's tag and this execution's, before every Stop and Delete ---------------

BATCH_ARN = "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdefabcdef"
OTHER_EXECUTION = EXECUTION_ARN.replace("run-1", "run-2")


def _tags(stack: str | None, execution: str | None) -> dict[str, Any]:
    tags = []
    if stack is not None:
        tags.append({"key": STACK_TAG, "value": stack})
    if execution is not None:
        tags.append({"key": EXECUTION_TAG, "value": execution})
    return {"tags": tags}


NOT_OURS = {
    "untagged": (
        _tags(None, None),
        "this stack's tag (bedrock-customize:stack=BedrockCustomization)",
    ),
    "another stack": (
        _tags("OtherStack", EXECUTION_ARN),
        "this stack's tag (bedrock-customize:stack=BedrockCustomization)",
    ),
    "another execution": (_tags("BedrockCustomization", OTHER_EXECUTION), "its tag"),
    "no execution tag": (_tags("BedrockCustomization", None), "its tag"),
}


@pytest.mark.parametrize("owner", sorted(NOT_OURS))
@pytest.mark.parametrize("mode", ["provisioned-throughput", "on-demand-deployment"])
def test_serving_without_this_stacks_and_executions_tags_is_left_alone(
    stub, lambda_context, mode: str, owner: str
) -> None:
    tags, missing = NOT_OURS[owner]
    plan = serving_plan(mode)
    bedrock = stub("bedrock")
    bedrock.add_client_error("get_model_customization_job", "ResourceNotFoundException", "none")
    if mode == "provisioned-throughput":
        bedrock.add_response("get_provisioned_model_throughput", pt_description("InService"))
        arn = PT_ARN
    else:
        bedrock.add_response("get_custom_model_deployment", deployment_description("Active"))
        arn = DEPLOYMENT_ARN
    bedrock.add_response("list_tags_for_resource", tags, {"resourceARN": arn})
    # No delete is stubbed: a Delete call would fail the test (the stubber has no answer).
    report = cleanup.handler(state(plan), lambda_context)
    assert report["deleted"] == []
    assert report["problems"] == [
        {
            "resource": cleanup.serving_kind(mode),
            "arn": arn,
            "action": "left alone",
            "error": f"it has this execution's name ({plan.serving.name}) but not {missing}, so "
            "another execution or a person created it; not deleted",
            "command": None,
        }
    ]


def evaluated_plan(**request: Any):
    return plan_for(
        fine_tuning_request(
            serving={"mode": "on-demand-deployment"},
            evaluation={"testDataConfig": {"s3Uri": "s3://data-bucket/test/t.jsonl"}},
            **request,
        )
    )


def batch_summary(name: str, status: str = "InProgress") -> dict[str, Any]:
    return {
        "jobArn": BATCH_ARN,
        "jobName": name,
        "modelId": "amazon.nova-lite-v1:0",
        "roleArn": "arn:aws:iam::123456789012:role/b",
        "status": status,
        "submitTime": NOW,
        "inputDataConfig": {"s3InputDataConfig": {"s3Uri": "s3://b/i.jsonl"}},
        "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": "s3://b/o/"}},
    }


def _nothing_served(bedrock: Any) -> None:
    bedrock.add_client_error("get_model_customization_job", "ResourceNotFoundException", "none")
    bedrock.add_client_error("get_custom_model_deployment", "ResourceNotFoundException", "none")


def test_the_batch_job_name_comes_from_the_execution_not_the_request() -> None:
    from lambda_handlers.batch_evaluation import batch_job_name
    from tests.service_model import strict_problems

    first = evaluated_plan(jobName="support-triage-v1")
    second = plan_for(
        fine_tuning_request(
            serving={"mode": "on-demand-deployment"},
            evaluation={"testDataConfig": {"s3Uri": "s3://data-bucket/test/t.jsonl"}},
            jobName="support-triage-v1",
        ),
        execution_arn=OTHER_EXECUTION,
    )
    assert first.jobName == second.jobName
    assert batch_job_name(first) != batch_job_name(second)
    assert "support-triage" not in batch_job_name(first)
    assert batch_job_name(first) == batch_job_name(evaluated_plan(jobName="another-name"))
    params = {
        "jobName": batch_job_name(first),
        "roleArn": "arn:aws:iam::123456789012:role/b",
        "modelId": "amazon.nova-lite-v1:0",
        "inputDataConfig": {"s3InputDataConfig": {"s3Uri": "s3://bucket/i.jsonl"}},
        "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": "s3://bucket/o/"}},
    }
    assert strict_problems("bedrock", "CreateModelInvocationJob", params) == []


@mock_aws
def test_the_batch_job_is_created_under_its_derived_name_with_both_tags(
    stub, lambda_context, monkeypatch
) -> None:
    from lambda_handlers import batch_evaluation

    monkeypatch.setenv("BATCH_ROLE_ARN", "arn:aws:iam::123456789012:role/batch")
    boto3.client("s3").create_bucket(Bucket="artifacts-bucket")
    plan = evaluated_plan(jobName="support-triage-v1")
    tags = [
        {"key": STACK_TAG, "value": "BedrockCustomization"},
        {"key": EXECUTION_TAG, "value": EXECUTION_ARN},
    ]
    assert all(tag in tag_list(plan.tags) for tag in tags)
    expected = {
        "jobName": batch_evaluation.batch_job_name(plan),
        "roleArn": ANY,
        "modelId": "amazon.nova-lite-v1:0",
        "inputDataConfig": ANY,
        "outputDataConfig": ANY,
        "timeoutDurationInHours": ANY,
        "modelInvocationType": ANY,
        "clientRequestToken": ANY,
        "tags": tag_list(plan.tags),
    }
    stub("bedrock").add_response("create_model_invocation_job", {"jobArn": BATCH_ARN}, expected)
    arn, _ = batch_evaluation.start_batch_job(plan, [], "amazon.nova-lite-v1:0")
    assert arn == BATCH_ARN


@pytest.mark.parametrize("owner", sorted(NOT_OURS))
def test_a_batch_job_of_this_name_without_both_tags_is_left_alone(
    stub, lambda_context, owner: str
) -> None:
    from lambda_handlers.batch_evaluation import batch_job_name

    tags, missing = NOT_OURS[owner]
    plan = evaluated_plan()
    bedrock = stub("bedrock")
    _nothing_served(bedrock)
    bedrock.add_response(
        "list_model_invocation_jobs",
        {"invocationJobSummaries": [batch_summary(batch_job_name(plan))]},
        {"nameContains": batch_job_name(plan)},
    )
    bedrock.add_response("list_tags_for_resource", tags, {"resourceARN": BATCH_ARN})
    # No stop is stubbed: a StopModelInvocationJob call would fail the test.
    report = cleanup.handler(state(plan), lambda_context)
    assert "stoppedBatchJobs" not in report
    assert report["problems"] == [
        {
            "resource": "batch inference job",
            "arn": BATCH_ARN,
            "action": "left alone",
            "error": f"it has this execution's name ({batch_job_name(plan)}) but not {missing}, "
            "so another execution or a person created it; not stopped",
            "command": None,
        }
    ]


def test_a_batch_job_of_this_execution_is_stopped(stub, lambda_context) -> None:
    from lambda_handlers.batch_evaluation import batch_job_name

    plan = evaluated_plan()
    bedrock = stub("bedrock")
    _nothing_served(bedrock)
    bedrock.add_response(
        "list_model_invocation_jobs",
        {"invocationJobSummaries": [batch_summary(batch_job_name(plan))]},
    )
    bedrock.add_response("list_tags_for_resource", OURS, {"resourceARN": BATCH_ARN})
    bedrock.add_response("stop_model_invocation_job", {}, {"jobIdentifier": BATCH_ARN})
    report = cleanup.handler(state(plan), lambda_context)
    assert report["stoppedBatchJobs"] == [BATCH_ARN] and report["problems"] == []


def test_a_batch_job_that_ended_before_its_tags_were_read_is_no_problem(
    stub, lambda_context
) -> None:
    """Bedrock gives no tags of a finished batch job: one that ended between the list and the
    tag read needs no stop, and is no problem."""
    from lambda_handlers.batch_evaluation import batch_job_name

    plan = evaluated_plan()
    bedrock = stub("bedrock")
    _nothing_served(bedrock)
    bedrock.add_response(
        "list_model_invocation_jobs",
        {"invocationJobSummaries": [batch_summary(batch_job_name(plan))]},
    )
    bedrock.add_client_error("list_tags_for_resource", "ValidationException", "job has ended")
    bedrock.add_response(
        "get_model_invocation_job",
        batch_summary(batch_job_name(plan), "Completed"),
        {"jobIdentifier": BATCH_ARN},
    )
    report = cleanup.handler(state(plan), lambda_context)
    assert report == {"stoppedJob": None, "deleted": [], "problems": []}


def test_unreadable_tags_of_a_running_batch_job_are_a_problem_not_a_stop(
    stub, lambda_context
) -> None:
    from lambda_handlers.batch_evaluation import batch_job_name

    plan = evaluated_plan()
    bedrock = stub("bedrock")
    _nothing_served(bedrock)
    bedrock.add_response(
        "list_model_invocation_jobs",
        {"invocationJobSummaries": [batch_summary(batch_job_name(plan))]},
    )
    bedrock.add_client_error("list_tags_for_resource", "AccessDeniedException", "denied", 403)
    bedrock.add_response("get_model_invocation_job", batch_summary(batch_job_name(plan)))
    [problem] = cleanup.handler(state(plan), lambda_context)["problems"]
    assert (problem["arn"], problem["action"]) == (BATCH_ARN, "find")
    assert problem["error"] == "AccessDeniedException: denied"


def gate_failed(plan: Any) -> dict[str, Any]:
    return state(
        plan,
        error={"Error": "QualityGateFailed", "Cause": "gain 0.0 is below 0.1"},
        job={"outputModelArn": MODEL_ARN},
    )


def test_a_gated_out_model_of_this_execution_is_deleted(stub, lambda_context) -> None:
    plan = plan_for()
    bedrock = stub("bedrock")
    bedrock.add_response("get_model_customization_job", job_description(plan, "Completed"))
    bedrock.add_response("list_tags_for_resource", OURS, {"resourceARN": MODEL_ARN})
    bedrock.add_response("delete_custom_model", {}, {"modelIdentifier": MODEL_ARN})
    report = cleanup.handler(gate_failed(plan), lambda_context)
    assert report["deletedModel"] == MODEL_ARN and report["problems"] == []


@pytest.mark.parametrize("owner", sorted(NOT_OURS))
def test_a_gated_out_model_without_both_tags_is_left_alone(
    stub, lambda_context, owner: str
) -> None:
    tags, missing = NOT_OURS[owner]
    plan = plan_for()
    bedrock = stub("bedrock")
    bedrock.add_response("get_model_customization_job", job_description(plan, "Completed"))
    bedrock.add_response("list_tags_for_resource", tags, {"resourceARN": MODEL_ARN})
    # No delete is stubbed: a DeleteCustomModel call would fail the test.
    report = cleanup.handler(gate_failed(plan), lambda_context)
    assert "deletedModel" not in report
    assert report["problems"] == [
        {
            "resource": "custom model",
            "arn": MODEL_ARN,
            "action": "left alone",
            "error": f"it has this execution's name ({plan.customModelName}) but not {missing}, "
            "so another execution or a person created it; not deleted",
            "command": None,
        }
    ]


def test_a_job_of_another_execution_is_never_stopped(stub, lambda_context) -> None:
    """The job is this execution's by its token (derived from the execution ARN, which names
    this stack's state machine): a job of the same name with another token is not stopped."""
    plan = plan_for()
    bedrock = stub("bedrock")
    bedrock.add_response(
        "get_model_customization_job", job_description(plan, clientRequestToken="job-another")
    )
    report = cleanup.handler(state(plan), lambda_context)
    assert report == {"stoppedJob": None, "deleted": [], "problems": []}
