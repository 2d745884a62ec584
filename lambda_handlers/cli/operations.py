"""Operator actions on one execution: what it created, and removing it.

The plan an execution ran with is in its history (the output of "Validate request"); it
names the job, the serving resource and the tokens, so the same cleanup the workflow
runs can be run by hand, for example after a run that ended before cleanup finished.
This is the library behind ``bedrock-customize cleanup``: it prints nothing and returns
plain dictionaries, so later operator commands can reuse it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.cleanup import clean_up, find_job, find_serving, run_plan
from lambda_handlers.common import idle_alarm
from lambda_handlers.common.errors import ResourceMissing, translate_client_error
from lambda_handlers.common.leftovers import is_not_found
from lambda_handlers.common.plan import STACK_TAG, Plan


def plan_of(sfn: Any, execution_arn: str) -> tuple[Plan, dict[str, Any]]:
    """The plan (and the completed job, if any: a sweep's winner) from an execution's history."""
    plan: Plan | None = None
    job: dict[str, Any] = {}
    winner: dict[str, Any] = {}  # a sweep's winning run's job: the model it serves
    try:
        pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
        for page in pages:
            for event in page["events"]:
                details = event.get("taskSucceededEventDetails") or event.get(
                    "lambdaFunctionSucceededEventDetails"
                )
                if not details or "output" not in details:
                    continue
                output = json.loads(details["output"])
                payload = output.get("Payload", output) if isinstance(output, dict) else {}
                if isinstance(payload, dict) and "plan" in payload and plan is None:
                    plan = Plan.model_validate(payload["plan"])
                if isinstance(payload, dict) and payload.get("outputModelArn"):
                    job = payload
                if isinstance(payload, dict) and "winner" in payload and payload.get("job"):
                    winner = payload["job"]  # a sweep's: its runs' looks came before
    except ClientError as error:
        raise translate_client_error(error, f"GetExecutionHistory {execution_arn}") from error
    if plan is None:
        raise ResourceMissing(
            f"{execution_arn} has no plan in its history: it was rejected before creating anything"
        )
    return plan, winner or job


def inventory(bedrock: Any, plan: Plan, job: dict[str, Any]) -> dict[str, Any]:
    """What of this execution exists now, read-only (found as cleanup finds it)."""
    found: dict[str, Any] = {
        "executionArn": plan.executionArn,
        "job": None,
        "serving": None,
        "customModel": None,
    }
    described = find_job(plan)
    if described is not None:
        found["job"] = {"arn": described["jobArn"], "status": described["status"]}
        if described.get("outputModelArn"):
            job = {"outputModelArn": described["outputModelArn"]}
    if plan.sweep is not None:  # a sweep submits each run's job, never the plan's own
        found["runs"] = [_run_job(plan, run.model_dump()) for run in plan.sweep.runs]
    found["serving"] = find_serving(plan)
    if job.get("outputModelArn"):
        try:
            model = bedrock.get_custom_model(modelIdentifier=job["outputModelArn"])
            found["customModel"] = {"arn": model["modelArn"], "name": model["modelName"]}
        except ClientError as error:
            if not is_not_found(error):  # as cleanup reads Bedrock's answers
                raise translate_client_error(
                    error, f"GetCustomModel {job['outputModelArn']}"
                ) from error
    return found


def _run_job(plan: Plan, run: dict[str, Any]) -> dict[str, Any]:
    """One sweep run's job as the inventory lists it: its name, and its ARN and status if it
    was submitted by this execution."""
    described = find_job(run_plan(plan, run))
    if described is None:
        return {"name": run["jobName"], "arn": None, "status": None}
    return {"name": run["jobName"], "arn": described["jobArn"], "status": described["status"]}


def remove(plan: Plan, found: dict[str, Any], *, delete_model: bool) -> dict[str, Any]:
    """Stop the job, delete serving, and the custom model when asked: the workflow's cleanup,
    with the idle alarm of a provisioned throughput (``common/idle_alarm.py``) deleted too, as
    the stack's own cleanup does: an alarm left behind would keep reporting an idle throughput
    that no longer exists."""
    model = (found.get("customModel") or {}).get("arn")
    with _idle_alarms_of(plan):
        return clean_up(plan, delete_model=delete_model and bool(model), delete_model_arn=model)


@contextmanager
def _idle_alarms_of(plan: Plan) -> Iterator[None]:
    """The stack's idle-alarm settings, for this process: the alarm's name comes from the
    stack's name (the plan's stack tag). A stack with the alarm off has none: deleting an
    alarm that does not exist is no problem."""
    stack = plan.tags.get(STACK_TAG)
    if idle_alarm.enabled() or not stack:
        yield
        return
    settings = {idle_alarm.HOURS_ENV: "1", idle_alarm.PREFIX_ENV: f"{stack}-idle-throughput-"}
    before = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
