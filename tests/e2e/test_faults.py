"""Faults of the real service and of Lambda, while the workflow follows what it paid for.

Each fault is nobody's fault and passes: the network down for longer than one invocation's
retries (botocore's EndpointConnectionError, not an answer), a throttled invocation
(``Lambda.TooManyRequestsException``), a poll function that hits its timeout
(``Sandbox.Timedout``). Each must end SUCCEEDED with one job, never stopped; a job that
cannot be read for longer than the workflow's patience is left running, and said so.
"""

from __future__ import annotations

import json
from itertools import pairwise

import pytest

from tests.e2e.fake_bedrock import BedrockClientError, FakeBedrock
from tests.e2e.harness import Execution, OfflineWorkflow
from tests.e2e.requests import request_for

FOLLOWED = {
    "job": ("check_job.handler", "GetModelCustomizationJob", "Check job status"),
    "serving": (
        "check_serving.handler",
        "GetProvisionedModelThroughput",
        "Check serving status",
    ),
}


def failures(execution: Execution, state: str) -> list[str]:
    """The errors of the failed attempts of ``state``'s task, in order."""
    errors, current = [], None
    for event in execution.history:
        if "stateEnteredEventDetails" in event:
            current = event["stateEnteredEventDetails"]["name"]
        for key, details in event.items():
            if key.endswith("FailedEventDetails") and current == state and "error" in details:
                errors.append(details["error"])
    return errors


def assert_one_job_never_stopped(bedrock: FakeBedrock, creates: int = 1) -> None:
    [job] = bedrock.jobs.values()
    assert not job["_stopped"]
    assert "StopModelCustomizationJob" not in bedrock.operations()
    assert bedrock.operations().count("CreateModelCustomizationJob") == creates


@pytest.mark.parametrize("followed", sorted(FOLLOWED))
@pytest.mark.parametrize(
    ("fault", "error", "times"),
    [
        ("network down", "ServiceUnreachable", 12),
        ("throttled", "Lambda.TooManyRequestsException", 3),
        ("timed out", "Sandbox.Timedout", 2),
    ],
)
def test_a_fault_while_following_passes_and_never_costs_the_job(
    workflow: OfflineWorkflow,
    bedrock: FakeBedrock,
    followed: str,
    fault: str,
    error: str,
    times: int,
) -> None:
    handler, operation, state = FOLLOWED[followed]
    if fault == "network down":
        bedrock.unreachable[operation] = times  # a dozen looks in a row: past one invocation
    else:
        workflow.fail_lambda(handler, *[fault] * times)

    execution = workflow.run(request_for(workflow, serving={"mode": "provisioned-throughput"}))

    assert execution.status == "SUCCEEDED", execution.cause
    # The job is read by the park as well: a network down there fails it past its retries,
    # and that round falls back to a poll (its wait and a look that waits out the rest).
    parked = failures(execution, "Wait for job event") if followed == "job" else []
    assert parked + failures(execution, state) == [error] * times
    assert_one_job_never_stopped(bedrock)
    [throughput] = bedrock.throughputs.values()
    assert not throughput["_deleted"], "serving is the product: it stays"
    assert "Clean up" not in execution.entered_states()


def test_a_creator_that_times_out_after_creating_still_makes_one_job(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    # The submit ran (the job exists) but its answer was lost: the retry adopts the job.
    workflow.fail_lambda("submit_job.handler", "timed out")
    execution = workflow.run(request_for(workflow))
    assert execution.status == "SUCCEEDED", execution.cause
    assert failures(execution, "Submit customization job") == ["Sandbox.Timedout"]
    assert_one_job_never_stopped(bedrock, creates=2)  # the second create got the same job


def test_a_job_that_cannot_be_read_for_six_hours_is_left_running_and_said_so(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    bedrock.unreachable["GetModelCustomizationJob"] = 10_000
    execution = workflow.run(request_for(workflow), timeout=120)

    assert execution.status == "FAILED"
    assert execution.error == "JobUnreachable"
    looks = failures(execution, "Check job status")
    assert looks and set(looks) == {"ServiceUnreachable"}
    # The retries waited six hours in all (the interpreter records the sleeps, not sleeping).
    assert 6 * 3600 <= sum(workflow.retry_sleeps) < 6 * 3600 + 600
    assert "Clean up" not in execution.entered_states(), "cleanup would stop a job that may be fine"
    [job] = bedrock.jobs.values()
    assert not job["_stopped"]
    assert "StopModelCustomizationJob" not in bedrock.operations()
    assert execution.cause is not None
    for words in (
        job["jobArn"],
        "left running",
        f"aws bedrock get-model-customization-job --job-identifier {job['jobArn']}",
        f"aws bedrock stop-model-customization-job --job-identifier {job['jobArn']}",
    ):
        assert words in execution.cause
    [message] = workflow.notifications()
    text = json.dumps(message)
    assert "JobUnreachable" in text
    assert "stop-model-customization-job" in text


@pytest.mark.parametrize("mode", ["events", "polling"])
def test_a_failure_of_ours_while_following_never_stops_the_job(
    mode: str, bedrock: FakeBedrock, request: pytest.FixtureRequest
) -> None:
    workflow: OfflineWorkflow = request.getfixturevalue(
        "workflow" if mode == "events" else "workflow_polling"
    )
    # A permission the stack lacks (or a bug) is not the job's outcome: the job may be fine.
    denied = BedrockClientError(
        "AccessDeniedException",
        "User is not authorized to perform: bedrock:GetModelCustomizationJob",
        403,
    )
    # By event, the park reads the job first: its failure falls back to a poll, whose look
    # meets the same refusal.
    bedrock.fail_next["GetModelCustomizationJob"] = [denied] * (2 if mode == "events" else 1)
    execution = workflow.run(request_for(workflow))

    assert execution.status == "FAILED"
    assert execution.error == "JobUnreachable"
    assert failures(execution, "Check job status") == ["AccessDenied"], "not retried"
    if mode == "events":
        assert failures(execution, "Wait for job event") == ["AccessDenied"], "not retried"
        assert "Wait for job" in execution.entered_states()
    assert "Clean up" not in execution.entered_states()
    [job] = bedrock.jobs.values()
    assert not job["_stopped"]
    assert "StopModelCustomizationJob" not in bedrock.operations()
    assert execution.cause is not None
    assert "AccessDenied" in execution.cause
    assert f"stop-model-customization-job --job-identifier {job['jobArn']}" in execution.cause


def test_the_jobs_own_failure_still_cleans_up(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    bedrock.job_statuses = ["InProgress", "Failed"]
    execution = workflow.run(request_for(workflow))
    assert execution.error == "CustomizationJobFailed"
    assert "Clean up" in execution.entered_states()


def _events_between(execution: Execution, state: str) -> list[int]:
    """Events between consecutive entries into ``state``: one look of its loop."""
    entered = [
        i
        for i, e in enumerate(execution.history)
        if e.get("stateEnteredEventDetails", {}).get("name") == state
    ]
    return [b - a for a, b in pairwise(entered)]


def test_the_history_model_counts_what_the_interpreter_records(
    workflow_polling: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    from constructs_lib.steps import history

    workflow = workflow_polling
    bedrock.job_statuses = ["InProgress", "InProgress", "Completed"]
    clean = workflow.run(request_for(workflow))
    per_look = sum(history._EVENTS[t] for t in ("Wait", "Task", "Choice"))
    assert set(_events_between(clean, "Wait for job")) == {per_look}

    workflow.fail_lambda("check_job.handler", "throttled")
    bedrock.jobs.clear()
    bedrock.job_statuses = ["InProgress", "InProgress", "Completed"]
    flaky = workflow.run(request_for(workflow), name="run-2")
    assert sorted(_events_between(flaky, "Wait for job")) == [
        per_look,
        per_look + history._FAILED_ATTEMPT,
    ]


def test_the_history_model_counts_a_wait_for_the_jobs_event(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    from constructs_lib.steps import history
    from tests.e2e.harness import state_machine_definition

    # Parked on InProgress, no event: the safety poll parks again; the end's event wakes it.
    bedrock.job_statuses = ["InProgress", "InProgress", "Completed"]
    execution = workflow.run(request_for(workflow))
    definition = state_machine_definition(workflow.template)
    states = definition["States"]
    safety_round = history._events(states["Wait for job event"]) + history._EVENTS["Pass"]
    assert _events_between(execution, "Wait for job event") == [safety_round]
    # The round the event ends: the park, the look and the Choice, as the model counts a loop.
    loop = history._loop_states(definition, "Wait for job event")
    per_round = sum(history._events(states[n]) for n in loop)
    entered = [
        i
        for i, e in enumerate(execution.history)
        if e.get("stateEnteredEventDetails", {}).get("name") in loop
    ]
    last_round = entered[-len(loop) :]
    after = next(
        i
        for i, e in enumerate(execution.history)
        if e.get("stateEnteredEventDetails", {}).get("name") == "Serve the model?"
    )
    assert after - last_round[0] == per_round
