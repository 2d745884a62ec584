"""Ownership, executed offline: a second execution that reuses the first one's names touches
nothing of the first (its job, its batch evaluation job, its serving), not in its own cleanup,
not in the status-change rule's, not through the cleanup command.

Bedrock here decides every Stop and Delete as IAM would for the cleanup functions: from the
synthesized template's statements of their roles and the resource's tags (``cleanup_iam``), so
these runs also show that what an execution creates satisfies the conditions its own cleanup
needs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from lambda_handlers.cleanup import NOTIFY_FAILURE_STATE
from lambda_handlers.cli.operations import inventory, plan_of, remove
from lambda_handlers.common.aws import client
from lambda_handlers.common.plan import EXECUTION_TAG, STACK_TAG, batch_job_name
from tests.e2e.fake_bedrock import ACCOUNT, REGION, FakeBedrock
from tests.e2e.harness import STACK_NAME, Execution, OfflineWorkflow
from tests.e2e.requests import request_for
from tests.e2e.test_real_answers import invoke_abort_cleanup
from tests.factories import conversation_records, jsonl
from tests.iam_tags import allowing, function_role, resource_tags, role_statements

CLEANUP_HANDLERS = ("lambda_handlers.cleanup.handler", "lambda_handlers.cleanup.abort_handler")
TOUCHING = ("Stop", "Delete", "Update", "TagResource", "UntagResource")

Authorize = Callable[[str, str, list[dict[str, str]]], "str | None"]


def cleanup_iam(template: dict[str, Any]) -> Authorize:
    """IAM's decision for a Stop or Delete by either cleanup function, from the resource's tags."""
    statements = [
        s
        for handler in CLEANUP_HANDLERS
        for s in role_statements(template, function_role(template, handler))
    ]

    def authorize(action: str, arn: str, tags: list[dict[str, str]]) -> str | None:
        if allowing(statements, action, arn, resource_tags(tags)):
            return None
        return "no statement of the cleanup roles allows it for these tags"

    return authorize


def touching(bedrock: FakeBedrock) -> list[str]:
    """Every call that changes a Bedrock resource (creates aside)."""
    return [op for op in bedrock.operations() if op.startswith(TOUCHING)]


def left_alone(workflow: OfflineWorkflow) -> list[dict[str, Any]]:
    """The "left alone" problems of every notification so far."""
    return [
        problem
        for message in workflow.notifications()
        for problem in (message.get("cleanup") or {}).get("problems", [])
        if problem.get("action") == "left alone"
    ]


def first_with_everything(workflow: OfflineWorkflow, bedrock: FakeBedrock) -> dict[str, Any]:
    """A request with a fixed job name, model name and serving name, and an evaluation large
    enough to run through a batch inference job."""
    bedrock.authorize = cleanup_iam(workflow.template)
    test = workflow.put_data("test/large.jsonl", jsonl(conversation_records(120, offset=900)))
    return request_for(
        workflow,
        jobName="support-triage-v1",
        customModelName="support-triage",
        serving={"mode": "provisioned-throughput", "name": "support-triage-pt"},
        evaluation={"testDataConfig": {"s3Uri": test}},
    )


def clean_up_every_way(workflow: OfflineWorkflow, execution: Execution, request: Any) -> None:
    """After the workflow's own cleanup: the status-change rule's, and the cleanup command's."""
    invoke_abort_cleanup(workflow, execution, request)
    plan, job = plan_of(client("stepfunctions"), execution.arn)
    remove(plan, inventory(client("bedrock"), plan, job), delete_model=True)


def test_a_second_execution_with_the_first_ones_names_leaves_all_of_the_first_untouched(
    workflow: OfflineWorkflow, bedrock: FakeBedrock, runtime
) -> None:
    request = first_with_everything(workflow, bedrock)
    first = workflow.run(request, name="first")
    assert first.status == "SUCCEEDED", first.cause
    [job] = bedrock.jobs.values()
    [batch] = bedrock.batch_jobs.values()
    [throughput] = bedrock.throughputs.values()
    # The first one's job and batch job, as if they were still running (the first execution
    # could be anywhere in its evaluation when the second starts).
    bedrock.job_statuses = ["InProgress"]
    batch["status"] = "InProgress"

    second = workflow.run(request, name="second")

    assert second.status == "FAILED" and second.error == "JobNameTaken"
    assert "Clean up" in second.entered_states()
    assert NOTIFY_FAILURE_STATE in second.entered_states()
    clean_up_every_way(workflow, second, request)
    # Nothing of the first was stopped, deleted or re-tagged, by any of the three cleanups.
    assert touching(bedrock) == []
    assert bedrock.running_jobs() == [job["jobArn"]]
    assert batch["status"] == "InProgress"
    assert bedrock.live_serving() == [throughput["provisionedModelArn"]]
    assert bedrock.deleted_models == []
    assert (len(bedrock.jobs), len(bedrock.batch_jobs), len(bedrock.throughputs)) == (1, 1, 1)
    # What has the second's serving name but not its tag is named as left alone.
    problems = left_alone(workflow)
    assert problems and {p["arn"] for p in problems} == {throughput["provisionedModelArn"]}
    assert all(p["command"] is None for p in problems)

    # The first one's own cleanup (say it is stopped now) removes all of it, under the same
    # IAM conditions: what an execution creates carries the tags its cleanup needs.
    report = invoke_abort_cleanup(workflow, dataclasses.replace(first, status="ABORTED"), request)
    assert report["stoppedJob"] == job["jobArn"]
    assert report["stoppedBatchJobs"] == [batch["jobArn"]]
    assert report["deleted"] == [throughput["provisionedModelArn"]]
    assert report["problems"] == []
    assert bedrock.running_jobs() == [] and bedrock.live_serving() == []


def test_a_second_execution_with_the_first_ones_serving_name_leaves_its_serving_alone(
    workflow: OfflineWorkflow, bedrock: FakeBedrock, runtime
) -> None:
    request = first_with_everything(workflow, bedrock)
    first = workflow.run(request, name="first")
    assert first.status == "SUCCEEDED", first.cause
    [throughput] = bedrock.throughputs.values()
    [batch] = bedrock.batch_jobs.values()
    batch["status"] = "InProgress"

    # Another job name, the same serving name: the second trains, then cannot serve.
    second_request = {**request, "jobName": "support-triage-v2", "customModelName": "triage-2"}
    second = workflow.run(second_request, name="second")

    assert second.status == "FAILED", second.cause
    states = second.entered_states()
    assert "Start serving" in states and states[-3:] == [
        "Clean up",
        NOTIFY_FAILURE_STATE,
        "Customization failed",
    ]
    clean_up_every_way(workflow, second, second_request)
    # The cleanup command was asked to delete the second's model too: its own, and only that.
    [second_job] = [j for j in bedrock.jobs.values() if j["jobName"] == "support-triage-v2"]
    assert bedrock.deleted_models == [bedrock._model_arn(second_job)]
    assert touching(bedrock) == ["DeleteCustomModel"]
    assert bedrock.live_serving() == [throughput["provisionedModelArn"]]
    assert batch["status"] == "InProgress"
    assert {p["arn"] for p in left_alone(workflow)} == {throughput["provisionedModelArn"]}


def test_a_batch_job_under_the_executions_name_but_another_stacks_tag_is_left_alone(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    """The batch job's name is the execution's, but only its tags make it the execution's: one
    that someone else started under that name, even tagged with this execution, is not stopped
    when it names another stack."""
    request = first_with_everything(workflow, bedrock)
    machine = workflow.state_machine_arn.rsplit(":", 1)[1]
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine}:second"
    bedrock.foreign_job("support-triage-v1")  # the second fails at submit: the name is taken
    foreign = bedrock._CreateModelInvocationJob(
        {
            "jobName": batch_job_name(arn),
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/Other",
            "modelId": "amazon.nova-lite-v1:0",
            "inputDataConfig": {"s3InputDataConfig": {"s3Uri": "s3://other/i.jsonl"}},
            "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": "s3://other/o/"}},
            "tags": [
                {"key": STACK_TAG, "value": "OtherStack"},
                {"key": EXECUTION_TAG, "value": arn},
            ],
        }
    )["jobArn"]

    second = workflow.run(request, name="second")

    assert second.arn == arn and second.error == "JobNameTaken"
    clean_up_every_way(workflow, second, request)
    assert touching(bedrock) == []
    assert bedrock.batch_jobs[foreign]["status"] == "Submitted"
    problems = [p for p in left_alone(workflow) if p["arn"] == foreign]
    assert problems and all(
        f"not this stack's tag ({STACK_TAG}={STACK_NAME})" in p["error"] for p in problems
    )
