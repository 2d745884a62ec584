"""``watch``: Step Functions and Bedrock through the strict Stubber, one answer per look, so
each test fixes what the execution does between looks. A line per change, plain when piped
and with a live line on a terminal; exit 0 succeeded, 1 not, 130 on Ctrl-C (the execution
goes on: no StopExecution is stubbed, so one would fail the command)."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest

from lambda_handlers.cli import main, run_commands
from tests.cli.helpers import ESCAPE, run
from tests.cli.runs_helpers import JOB_ARN, MACHINE_ARN, MODEL_ARN, execution_arn, planned
from tests.cli.runs_helpers import running_job as job_answer
from tests.factories import NOW

ARN = execution_arn("run-1")
PLAN = planned("run-1")


def history(*states: str) -> dict[str, Any]:
    """Validate's output (the plan), then each of ``states`` entered, newest last."""
    document = json.dumps({"plan": PLAN.model_dump(exclude_none=True), "dataset": {}})
    events: list[dict[str, Any]] = [
        {"id": 1, "timestamp": NOW, "type": "ExecutionStarted"},
        {
            "id": 2,
            "timestamp": NOW,
            "type": "TaskStateExited",
            "stateExitedEventDetails": {"name": "Validate request", "output": document},
        },
    ]
    for number, state in enumerate(states, start=3):
        events.append(
            {
                "id": number,
                "timestamp": NOW,
                "type": "TaskStateEntered",
                "stateEnteredEventDetails": {"name": state},
            }
        )
    return {"events": list(reversed(events))}


def look(
    sfn: Any,
    bedrock: Any,
    status: str,
    states: tuple[str, ...],
    job: str | None = None,
    **extra: Any,
) -> None:
    """The answers of one look: the execution, its history, and the job while it runs."""
    sfn.add_response(
        "describe_execution",
        {
            "executionArn": ARN,
            "stateMachineArn": MACHINE_ARN,
            "status": status,
            "startDate": NOW,
            "input": "{}",
            **extra,
        },
        {"executionArn": ARN},
    )
    sfn.add_response(
        "get_execution_history",
        history(*states),
        {"executionArn": ARN, "reverseOrder": True, "maxResults": 1000},
    )
    if job is not None:
        bedrock.add_response(
            "get_model_customization_job", job_answer(PLAN, job), {"jobIdentifier": PLAN.jobName}
        )


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """No real waiting: each sleep moves the commands' clock on."""
    waited: list[float] = []
    monkeypatch.setattr(run_commands, "sleep", waited.append)
    monkeypatch.setattr(run_commands, "now", lambda: NOW + timedelta(seconds=90 + sum(waited)))
    return waited


def succeeding(stub: Any) -> None:
    sfn, bedrock = stub("stepfunctions"), stub("bedrock")
    look(sfn, bedrock, "RUNNING", ("Submit customization job",), job="InProgress")
    look(sfn, bedrock, "RUNNING", ("Submit customization job", "Wait for job"), job="InProgress")
    look(sfn, bedrock, "RUNNING", ("Submit customization job", "Wait for job"), job="InProgress")
    output = {"job": {"outputModelArn": MODEL_ARN}, "serving": {"invokeModelId": "pt-arn"}}
    look(
        sfn,
        bedrock,
        "SUCCEEDED",
        ("Customization succeeded",),
        stopDate=NOW + timedelta(hours=2, minutes=3),
        output=json.dumps(output),
    )


def test_piped_watch_prints_plain_lines_per_change_and_the_outcome(
    stub: Any, clock: list[float]
) -> None:
    succeeding(stub)
    code, out, err = run("watch", ARN, "--interval", "30")
    assert code == 0, err
    lines = out.splitlines()
    stages = "validation Completed, dataProcessing Completed, training InProgress"
    assert lines[0].endswith(
        f"RUNNING | 1m30s | Submit customization job | customization job: InProgress ({stages})"
    )
    assert lines[1].endswith(
        f"RUNNING | 2m00s | Wait for job | customization job: InProgress ({stages})"
    )
    # The third look changed nothing but the time: no line for it.
    assert lines[2:] == [
        "SUCCEEDED after 2h03m",
        f"custom model: {MODEL_ARN}",
        "invoke with modelId: pt-arn",
    ]
    assert clock == [30.0, 30.0, 30.0]
    assert ESCAPE not in out + err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_watch_shows_a_live_line(stub: Any, clock: list[float]) -> None:
    succeeding(stub)
    out, err = Terminal(), Terminal()
    code = main(["watch", ARN], stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    assert ESCAPE in err.getvalue(), "the live line is drawn on stderr"
    assert "SUCCEEDED after 2h03m" in out.getvalue()


def test_a_failed_execution_exits_1_with_its_error(stub: Any, clock: list[float]) -> None:
    sfn, bedrock = stub("stepfunctions"), stub("bedrock")
    look(sfn, bedrock, "RUNNING", ("Wait for job",), job="InProgress")
    cause = json.dumps({"errorMessage": "Customization job x failed during training: bad data"})
    look(
        sfn,
        bedrock,
        "FAILED",
        ("Customization failed",),
        stopDate=NOW + timedelta(minutes=40),
        error="CustomizationJobFailed",
        cause=cause,
    )
    code, out, err = run("watch", ARN)
    assert code == 1, err
    assert out.splitlines()[-2:] == [
        "FAILED after 40m00s",
        "error: CustomizationJobFailed: Customization job x failed during training: bad data",
    ]


def test_ctrl_c_stops_watching_and_leaves_the_execution_running(
    stub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sfn, bedrock = stub("stepfunctions"), stub("bedrock")
    look(sfn, bedrock, "RUNNING", ("Wait for job",), job="InProgress")

    def interrupt(_: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(run_commands, "sleep", interrupt)
    code, out, err = run("watch", ARN)
    assert code == 130
    assert "Wait for job" in out
    assert err.splitlines() == [
        f"stopped watching; the execution goes on: {ARN} (bedrock-customize stop {ARN} stops it)"
    ]


def test_an_ended_execution_is_told_at_once(stub: Any, clock: list[float]) -> None:
    sfn, bedrock = stub("stepfunctions"), stub("bedrock")
    look(sfn, bedrock, "ABORTED", ("Wait for job",), stopDate=NOW + timedelta(seconds=5))
    code, out, _ = run("watch", ARN)
    assert (code, out) == (1, "ABORTED after 5s\n")
    assert clock == []
    assert JOB_ARN not in out


def test_an_error_while_watching_on_a_terminal_gives_the_cursor_back(
    stub: Any, clock: list[float]
) -> None:
    sfn, bedrock = stub("stepfunctions"), stub("bedrock")
    look(sfn, bedrock, "RUNNING", ("Wait for job",), job="InProgress")
    sfn.add_client_error(
        "describe_execution",
        "AccessDeniedException",
        "not allowed",
        400,
        expected_params={"executionArn": ARN},
    )
    out, err = Terminal(), Terminal()
    code = main(["watch", ARN], stdout=out, stderr=err)
    assert code == 3
    text = err.getvalue()
    hidden, shown = "\x1b[?25l", "\x1b[?25h"
    assert hidden in text and text.rindex(shown) > text.rindex(hidden), "cursor shown again"
    assert "access denied: use credentials allowed to call DescribeExecution" in text
