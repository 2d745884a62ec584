"""EventBridge, offline: the synthesized rules' patterns matched as EventBridge matches them,
and a task token answered once, as Step Functions answers it.

Only what the stack's patterns use is implemented (exact values, nested objects, array
fields); any other operator (``prefix``, ``anything-but``, ``exists``...) raises, so a pattern
that grows one cannot pass a test by being misread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether ``event`` matches ``pattern`` (every field of the pattern must match; a list
    is the values allowed; an event array matches if any of its values is allowed)."""
    for name, wanted in pattern.items():
        if name not in event:
            return False
        value = event[name]
        if isinstance(wanted, dict):
            if not isinstance(value, dict) or not matches(wanted, value):
                return False
            continue
        if not isinstance(wanted, list):
            raise ValueError(
                f"pattern field {name!r}: expected a list or an object, got {wanted!r}"
            )
        for allowed in wanted:
            if isinstance(allowed, dict):
                raise NotImplementedError(f"pattern operator {allowed!r} is not modelled here")
        values = value if isinstance(value, list) else [value]
        if not any(v in wanted for v in values):
            return False
    return True


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: dict[str, Any]
    lambda_targets: tuple[str, ...]
    """ARNs of the functions it invokes."""


def rules_of(template: dict[str, Any], resolve: Any) -> list[Rule]:
    """The template's rules on the default bus, resolved (``resolve``: the harness's
    ``TemplateResolver.resolve``)."""
    rules = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Events::Rule":
            continue
        props = resolve(resource["Properties"])
        if props.get("State", "ENABLED") != "ENABLED" or "EventPattern" not in props:
            continue
        targets = tuple(
            t["Arn"] for t in props.get("Targets", []) if ":lambda:" in str(t.get("Arn", ""))
        )
        rules.append(Rule(props.get("Name", logical_id), props["EventPattern"], targets))
    return rules


TASK_CLOSED = (
    "The task token has either expired or the task associated with the token has already "
    "been closed."
)
"""SendTaskSuccess's TaskTimedOut, as the Step Functions API reference words it."""


@contextmanager
def tokens_answered_once() -> Iterator[list[str]]:
    """SendTaskSuccess as Step Functions answers it: a token is good once; a second answer
    (a repeated event) gets ``TaskTimedOut``. (moto accepts it, and may even let it replace
    the first answer's output.) Yields the tokens answered, in order."""
    from moto.core.exceptions import JsonRESTError
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    answered: list[str] = []
    lock = threading.Lock()
    original = StepFunctionsParserBackend.send_task_success

    def send_task_success(backend: Any, task_token: str, outcome: str) -> Any:
        with lock:
            if task_token in answered:
                raise JsonRESTError("TaskTimedOut", TASK_CLOSED)
            answered.append(task_token)
        return original(backend, task_token, outcome)

    with mock.patch.object(StepFunctionsParserBackend, "send_task_success", send_task_success):
        yield answered
