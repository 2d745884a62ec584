"""The execution history's budget: a Standard execution holds at most 25,000 events.

Past the limit the execution fails, and no Catch runs. Every poll loop backs off from a
first interval to a cap (``PollSchedule``), so the number of looks in an execution is
bounded by its timeout; ``worst_case_events`` counts the events of the longest allowed
execution from the rendered definition and the schedules, and the workflow refuses props
that would come near the limit.

The worst case, stated (``HISTORY_MODEL``): the execution runs until its timeout; all of that
time is spent in poll loops, at their densest (every loop's rounds until it reaches its cap,
then the smallest cap for the rest of the time); every look fails once before it succeeds;
every state outside the loops runs once and exhausts every one of its retry rules; and one
outage exhausts the longest retry budget of a loop's task.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_stepfunctions as sfn

HISTORY_LIMIT = 25_000
HISTORY_BUDGET = 20_000
"""What the workflow allows itself: well under the limit."""
HISTORY_MODEL = (
    "the execution runs until its timeout, all of it in poll loops at their densest, every "
    "look failing once, every other state exhausting its retries, and one outage exhausting "
    "a loop's patience"
)
# Events a state adds to the history when it runs once (entered and exited; a task also
# scheduled, started and succeeded), and a failed task attempt (scheduled, started, failed).
# A Distributed Map: entered, its map run started and ended, exited (its shards' events are
# in their own child executions' histories).
_EVENTS = {"Task": 5, "Wait": 2, "Choice": 2, "Pass": 2, "Succeed": 2, "Fail": 2, "Map": 4}
# A task that waits for a token is also submitted (TaskSubmitted) before it succeeds or times out.
_CALLBACK_TASK = 6
_FAILED_ATTEMPT = 3
_EXECUTION = 2  # started, and how it ended


@dataclass(frozen=True)
class PollSchedule:
    """Waits before each look: ``first``, then doubling, at most ``cap``."""

    first: Duration
    cap: Duration

    def seconds(self) -> tuple[int, int]:
        return int(self.first.to_seconds()), int(self.cap.to_seconds())

    def ramp(self) -> tuple[int, int]:
        """Looks before the waits reach the cap, and the time they take."""
        wait, cap = self.seconds()
        looks = elapsed = 0
        while wait < cap:
            looks, elapsed, wait = looks + 1, elapsed + wait, wait * 2
        return looks, elapsed

    def environment(self, what: str) -> dict[str, str]:
        """The settings ``lambda_handlers/common/polling.py`` reads."""
        first, cap = self.seconds()
        return {f"{what}_POLL_SECONDS": str(first), f"{what}_POLL_MAX_SECONDS": str(cap)}


def max_looks(schedules: Mapping[str, PollSchedule], timeout_seconds: float) -> int:
    """The most looks all loops together can take in ``timeout_seconds``.

    A loop takes its ramp's looks, then one look per cap; time spent ramping is not
    counted against the rest (an overestimate), and the rest runs at the smallest cap.
    """
    ramps = sum(s.ramp()[0] for s in schedules.values())
    smallest_cap = min(s.seconds()[1] for s in schedules.values())
    return ramps + math.ceil(timeout_seconds / smallest_cap)


def _loop_states(definition: Mapping[str, Any], start: str) -> list[str]:
    """The loop that ``start`` begins: its states up to the Choice that goes round again
    (a Wait, the task that looks, the Choice; or a task that runs again, and its Choice)."""
    states, loop = definition["States"], [start]
    while states[loop[-1]]["Type"] != "Choice":
        loop.append(states[loop[-1]]["Next"])
    return loop


def _task_of(definition: Mapping[str, Any], start: str) -> str:
    states = definition["States"]
    return next(n for n in _loop_states(definition, start) if states[n]["Type"] == "Task")


def _events(state: Mapping[str, Any]) -> int:
    """Events of one run of ``state``."""
    if str(state.get("Resource", "")).endswith(".waitForTaskToken"):
        return _CALLBACK_TASK
    return _EVENTS[state["Type"]]


def _retry_attempts(state: Mapping[str, Any]) -> int:
    return sum(int(rule.get("MaxAttempts", 3)) for rule in state.get("Retry", []))


def worst_case_events(
    definition: Mapping[str, Any],
    schedules: Mapping[str, PollSchedule],
    timeout_seconds: float,
) -> int:
    """Events of the longest allowed execution, as ``HISTORY_MODEL`` states the worst case.

    ``schedules``: each loop by the name of its first state, with the shortest time a round
    of it can take (a poll loop's waits; a task that runs again, its shortest run).
    """
    states = definition["States"]
    in_loops = {name for wait in schedules for name in _loop_states(definition, wait)}
    once = sum(
        _events(state) + _FAILED_ATTEMPT * _retry_attempts(state)
        for name, state in states.items()
        if name not in in_loops
    )
    per_look = max(
        sum(_events(states[n]) for n in _loop_states(definition, wait)) for wait in schedules
    )
    looks = max_looks(schedules, timeout_seconds)
    outage = max(_retry_attempts(states[_task_of(definition, start)]) for start in schedules)
    return _EXECUTION + once + looks * (per_look + _FAILED_ATTEMPT) + outage * _FAILED_ATTEMPT


def sweep_case_events(
    definition: Mapping[str, Any],
    map_state: str,
    run_schedules: Mapping[str, PollSchedule],
    timeout_seconds: float,
    concurrency: int,
) -> int:
    """Events of the longest allowed execution that spends its time in a sweep's Map (an
    inline Map's iterations write to the execution's own history): every top-level state
    once with its retries exhausted, and ``concurrency`` iterations running their loops, as
    ``worst_case_events`` counts a loop, for the whole timeout."""
    states = definition["States"]
    once = sum(_events(s) + _FAILED_ATTEMPT * _retry_attempts(s) for s in states.values())
    iteration = worst_case_events(
        states[map_state]["ItemProcessor"], run_schedules, timeout_seconds
    )
    return _EXECUTION + once + concurrency * iteration


def rendered_definition(state_machine: sfn.StateMachine) -> dict[str, Any]:
    """The state machine's definition as a dict, tokens (ARNs) written as placeholders."""
    cfn = state_machine.node.default_child
    body = Stack.of(state_machine).resolve(cfn.definition_string)  # type: ignore[union-attr]
    if isinstance(body, str):
        return dict(json.loads(body))
    text = "".join(part if isinstance(part, str) else "TOKEN" for part in body["Fn::Join"][1])
    return dict(json.loads(text))
