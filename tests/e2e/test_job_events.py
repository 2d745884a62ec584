"""Completion by event, offline: the synthesized state machine waits on a task token, and
Bedrock's job state change events reach it through the synthesized rule's pattern and the
real relay handler, delivered as EventBridge does (``tests/e2e/eventbridge.py``): once, never
(lost), twice, early or late.

Each test runs its own state machine with a safety poll of its choosing, so that what ends the
wait (the event, or the safety poll) is known.
"""

from __future__ import annotations

import time
from typing import Any

import boto3

from tests.e2e.fake_bedrock import REGION, FakeBedrock
from tests.e2e.harness import Execution, OfflineWorkflow
from tests.e2e.requests import request_for

NEVER = 600  # a safety poll no test waits for: the wait can only end by an event


def start(workflow: OfflineWorkflow, safety_seconds: int, name: str) -> str:
    """An execution of a state machine whose safety poll is ``safety_seconds``, with events
    left to the test."""
    workflow.job_events = "manual"
    machine = workflow.create_state_machine(name, wait_seconds=0, safety_seconds=safety_seconds)
    request = request_for(workflow, serving={"mode": "provisioned-throughput"})
    return workflow.start_execution(request, name="run-1", state_machine_arn=machine)


def parks(workflow: OfflineWorkflow) -> list[dict[str, Any]]:
    return [
        e for f, e in workflow.invocations if workflow.functions[f].handler.endswith("park_handler")
    ]


def wait_until_parked(workflow: OfflineWorkflow, times: int = 1) -> str:
    """The job's ARN, once the execution has parked its token ``times`` times."""
    deadline = time.monotonic() + 60
    while len(parks(workflow)) < times:
        assert time.monotonic() < deadline, "the execution never parked its token"
        time.sleep(0.02)
    time.sleep(0.1)  # the park's invocation returns to the interpreter, which now waits
    return str(parks(workflow)[-1]["jobArn"])


def events_of(execution: Execution, kind: str) -> list[dict[str, Any]]:
    return [e for e in execution.history if e["type"] == kind]


def job_reads(bedrock: FakeBedrock) -> int:
    return bedrock.operations().count("GetModelCustomizationJob")


def test_the_jobs_event_ends_the_wait_with_no_poll_after_it(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    arn = start(workflow, NEVER, "EventOnly")
    job = wait_until_parked(workflow)
    assert job_reads(bedrock) == 1, "the park reads the job once, after leaving its token"

    [relayed] = workflow.deliver_job_event(job, "Completed")
    execution = workflow.wait(arn)

    assert relayed == {"resumed": True, "why": "Completed"}
    assert execution.status == "SUCCEEDED"
    assert events_of(execution, "TaskTimedOut") == [], "the safety poll never fired"
    states = execution.entered_states()
    after = states[states.index("Wait for job event") + 1 :]
    # After the event: one read that finds the job Completed, and on to serving.
    assert after[:3] == ["Check job status", "Job completed?", "Serve the model?"]
    assert states.count("Wait for job event") == 1 and states.count("Check job status") == 1
    assert job_reads(bedrock) == 2
    assert execution.output is not None and execution.output["jobEvent"]["via"] == "event"
    assert len(bedrock.throughputs) == 1


def test_a_lost_event_is_made_up_for_by_the_safety_poll(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    arn = start(workflow, 1, "EventLost")
    wait_until_parked(workflow)
    # Bedrock's event for the job's end never arrives.
    execution = workflow.wait(arn)

    assert execution.status == "SUCCEEDED"
    [timed_out] = events_of(execution, "TaskTimedOut")
    assert timed_out["taskTimedOutEventDetails"]["error"] == "States.Timeout"
    # The safety poll parked again; that park read the job Completed and woke the execution.
    assert execution.entered_states().count("Safety poll") == 1
    assert execution.output is not None and execution.output["jobEvent"]["via"] == "park"
    assert execution.entered_states().count("Check job status") == 1
    assert workflow.job_deliveries == [] and len(workflow.tokens_answered) == 1
    assert len(bedrock.throughputs) == 1


def test_an_event_delivered_twice_ends_the_execution_once(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    arn = start(workflow, NEVER, "EventTwice")
    job = wait_until_parked(workflow)

    [first] = workflow.deliver_job_event(job, "Completed")
    [second] = workflow.deliver_job_event(job, "Completed")
    execution = workflow.wait(arn)

    assert first["resumed"] is True
    # Step Functions answers TaskTimedOut for a token already used: the relay drops it.
    assert second == {"resumed": False, "why": "the execution no longer waits for this job"}
    assert execution.status == "SUCCEEDED"
    assert execution.entered_states().count("Check job status") == 1
    assert len(bedrock.throughputs) == 1, "served once"
    assert [m["outcome"] for m in workflow.notifications()] == ["SUCCEEDED"]


def test_an_early_event_only_wakes_the_execution_to_look_again(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    # The event says Completed while GetModelCustomizationJob still says InProgress (the
    # event outran the API): the read decides, and the execution parks again.
    bedrock.job_statuses = ["InProgress", "InProgress", "InProgress", "Completed"]
    arn = start(workflow, NEVER, "EventEarly")
    job = wait_until_parked(workflow)
    [woken] = workflow.deliver_job_event(job, "Completed")
    assert woken["resumed"] is True
    wait_until_parked(workflow, times=2)  # read 2 InProgress, parked again (read 3)

    [again] = workflow.deliver_job_event(job, "Completed")
    execution = workflow.wait(arn)

    assert again["resumed"] is True
    assert execution.status == "SUCCEEDED"
    assert execution.entered_states().count("Wait for job event") == 2
    assert execution.entered_states().count("Check job status") == 2
    assert events_of(execution, "TaskTimedOut") == []
    assert len(bedrock.throughputs) == 1


def test_late_and_out_of_order_events_change_nothing(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    arn = start(workflow, NEVER, "EventLate")
    job = wait_until_parked(workflow)
    # InProgress and Stopping end no wait: the rule's pattern lets no such event through.
    assert workflow.deliver_job_event(job, "InProgress") == []
    assert workflow.deliver_job_event(job, "Stopping") == []
    assert workflow.tokens_answered == []
    workflow.deliver_job_event(job, "Completed")
    execution = workflow.wait(arn)
    # After the end, a stray Stopped for the same job (out of order) finds its token used.
    [late] = workflow.deliver_job_event(job, "Stopped")

    assert execution.status == "SUCCEEDED"
    assert late == {"resumed": False, "why": "the execution no longer waits for this job"}
    assert [m["outcome"] for m in workflow.notifications()] == ["SUCCEEDED"]
    assert bedrock.live_serving() != [], "the served model is not touched by the late event"


def test_a_failed_jobs_event_ends_in_cleanup_once(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    bedrock.job_statuses = ["InProgress", "Failed"]
    arn = start(workflow, NEVER, "EventFailed")
    job = wait_until_parked(workflow)
    workflow.deliver_job_event(job, "Failed")
    workflow.deliver_job_event(job, "Failed")
    execution = workflow.wait(arn)

    assert execution.status == "FAILED"
    assert execution.error == "CustomizationJobFailed"
    assert execution.entered_states()[-3:] == ["Clean up", "Notify failure", "Customization failed"]
    assert [m["outcome"] for m in workflow.notifications()] == ["FAILED"]
    assert bedrock.throughputs == {}


def test_an_event_for_another_stacks_job_reaches_no_function(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    # A job that runs as another role (another stack's, or the console's) is not ours.
    other = bedrock.foreign_job("someone-elses-job")
    assert workflow.deliver_job_event(other, "Completed") == []


def test_a_stopped_execution_leaves_a_token_that_no_event_can_use(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    # moto's interpreter notices a stop only between states (Step Functions stops at once):
    # a short safety poll lets it.
    arn = start(workflow, 1, "EventAfterStop")
    job = wait_until_parked(workflow)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    sfn.stop_execution(executionArn=arn, error="Operator", cause="changed my mind")
    assert workflow.wait(arn).status == "ABORTED"

    [relayed] = workflow.deliver_job_event(job, "Completed")
    assert relayed["resumed"] is False
