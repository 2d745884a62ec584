"""The longest allowed execution stays well under Step Functions' 25,000 history events.

Past the limit an execution fails and no Catch runs. The worst case is counted from the
synthesized definition (states, retry rules) and the props as the template carries them
(each loop's first wait and cap in the functions' environment, the execution timeout).
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_sns as sns

from constructs_lib import BedrockServiceRole, CustomizationStorage, CustomizationWorkflow
from constructs_lib.steps.history import (
    HISTORY_BUDGET,
    HISTORY_LIMIT,
    PollSchedule,
    max_looks,
    worst_case_events,
)
from lambda_handlers.evaluation.rounds import STOP_STARTING_MS
from tests.conftest import Synthesized
from tests.e2e.harness import functions_of, state_machine_definition


def schedules_of(template: dict[str, Any]) -> dict[str, PollSchedule]:
    """Each loop's schedule, read from the template: its Wait and the functions' settings."""
    definition = state_machine_definition(template)
    env = next(
        f.environment for f in functions_of(template).values() if "DATA_BUCKET" in f.environment
    )
    loops = {}
    for name, state in definition["States"].items():
        if state["Type"] != "Wait":
            continue
        what = (
            "SERVING"
            if state["SecondsPath"] in ("$.serving.pollSeconds", "$.promotion.pollSeconds")
            else "JOB"
        )
        loops[name] = PollSchedule(
            Duration.seconds(int(env[f"{what}_POLL_SECONDS"])),
            Duration.seconds(int(env[f"{what}_POLL_MAX_SECONDS"])),
        )
    # Evaluate runs again without a wait; a round that is not the last runs until its
    # function's time is nearly up.
    [evaluate] = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"]["Handler"] == "lambda_handlers.evaluate_model.handler"
    ]
    shortest = Duration.seconds(evaluate["Timeout"] - STOP_STARTING_MS // 1000)
    loops["Evaluate the model"] = PollSchedule(shortest, shortest)
    return loops


@pytest.mark.parametrize("variant", ["default", "full"])
def test_the_longest_allowed_execution_stays_well_under_the_history_limit(
    variant: str, synthesized: Synthesized, synthesized_full: Synthesized
) -> None:
    template = (synthesized if variant == "default" else synthesized_full).template
    definition = state_machine_definition(template)
    loops = schedules_of(template)
    assert set(loops) == {
        "Wait for job",
        "Wait for serving",
        "Wait for batch evaluation",
        "Wait for promotion",
        "Evaluate the model",
    }
    events = worst_case_events(definition, loops, definition["TimeoutSeconds"])
    assert 5_000 < events <= HISTORY_BUDGET < HISTORY_LIMIT, events


def _workflow(**props: Any) -> CustomizationWorkflow:
    stack = Stack(App())
    storage = CustomizationStorage(stack, "Storage")
    return CustomizationWorkflow(
        stack,
        "Workflow",
        storage=storage,
        service_role=BedrockServiceRole(stack, "Role", storage=storage),
        topic=sns.Topic(stack, "Topic"),
        **props,
    )


@pytest.mark.parametrize(
    "props",
    [
        {"execution_timeout": Duration.days(30)},
        {"serving_poll_max_interval": Duration.minutes(1)},
        {"job_poll_interval": Duration.seconds(10), "job_poll_max_interval": Duration.seconds(20)},
    ],
)
def test_props_whose_longest_execution_could_overflow_the_history_are_refused(
    props: dict[str, Any],
) -> None:
    with pytest.raises(
        ValueError, match=r"history events in the worst case .* shorten execution_timeout"
    ):
        _workflow(**props)


def test_the_construct_counts_what_the_test_counts() -> None:
    workflow = _workflow(execution_timeout=Duration.days(3))
    assert 3_000 < workflow.worst_case_history < 10_000


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"job_poll_max_interval": Duration.minutes(1)},
            r"job_poll_max_interval \(60 s\) must be at least job_poll_interval \(300 s\)",
        ),
        (
            {"serving_poll_interval": Duration.seconds(5)},
            "serving_poll_interval must be at least 10",
        ),
    ],
)
def test_poll_props_are_checked(props: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _workflow(**props)


def test_looks_ramp_up_then_run_at_the_smallest_cap() -> None:
    minute = Duration.minutes
    job = PollSchedule(minute(5), minute(15))  # 5, 10, then 15
    serving = PollSchedule(minute(1), minute(10))  # 1, 2, 4, 8, then 10
    assert job.ramp() == (2, 900)
    assert serving.ramp() == (4, 900)
    assert max_looks({"job": job}, 3600) == 2 + 4  # the ramp, then one look a cap
    assert max_looks({"job": job, "serving": serving}, 7 * 24 * 3600) == 2 + 4 + 1008
