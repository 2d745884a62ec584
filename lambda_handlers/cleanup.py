"""Remove what an execution left running that costs money.

Two entry points, one logic:

- ``handler``: the state machine's failure branch, with the execution's state.
- ``abort_handler``: an EventBridge rule for executions that were stopped (ABORTED) or
  timed out, where the state machine itself runs no more states. It rebuilds the plan
  from the execution's input, which gives the same names and tokens.

Resources are found by their deterministic names and touched only when they are this
execution's (the job's ``clientRequestToken``, the execution tag on serving resources).
The custom model itself is kept: it is the product of a paid job and costs only
storage; deleting it is the quality gate's decision, not cleanup's.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common.aws import client
from lambda_handlers.common.errors import (
    BedrockThrottled,
    BedrockUnavailable,
    RequestInvalid,
    error_code,
    translate_client_error,
)
from lambda_handlers.common.observability import entry_point, logger
from lambda_handlers.common.plan import EXECUTION_TAG, Plan, make_plan
from lambda_handlers.common.request_checks import check_request
from lambda_handlers.common.settings import Settings
from lambda_handlers.notify import publish

_NOT_FOUND = {"ResourceNotFoundException", "ValidationException"}


def _is_ours(arn: str, execution_arn: str) -> bool:
    tags = client("bedrock").list_tags_for_resource(resourceARN=arn).get("tags", [])
    return any(t["key"] == EXECUTION_TAG and t["value"] == execution_arn for t in tags)


def find_job(plan: Plan) -> dict[str, Any] | None:
    """The plan's customization job, if it exists and this execution started it."""
    try:
        job = client("bedrock").get_model_customization_job(jobIdentifier=plan.jobName)
    except ClientError as error:
        if error_code(error) in _NOT_FOUND:
            return None  # never submitted
        raise
    if job.get("clientRequestToken") != plan.clientRequestToken:
        return None  # a job of that name that another execution owns
    return dict(job)


def find_serving(plan: Plan) -> dict[str, Any] | None:
    """The plan's throughput or deployment, found by its derived name: ``arn``, ``mode``,
    ``status`` and whether it carries this execution's tag (``ours``)."""
    serving = plan.serving
    if serving.mode == "none" or not serving.name:
        return None
    bedrock = client("bedrock")
    try:
        if serving.mode == "provisioned-throughput":
            got = bedrock.get_provisioned_model_throughput(provisionedModelId=serving.name)
            arn = got["provisionedModelArn"]
        else:
            got = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=serving.name)
            arn = got["customModelDeploymentArn"]
    except ClientError as error:
        if error_code(error) in _NOT_FOUND:
            return None  # never created
        raise
    return {
        "arn": arn,
        "mode": serving.mode,
        "status": got["status"],
        "ours": _is_ours(arn, plan.executionArn),
    }


def _stop_job(plan: Plan, report: dict[str, Any]) -> None:
    job = find_job(plan)
    if job is None:
        return
    if job.get("outputModelArn"):
        report["_model"] = job["outputModelArn"]
    if job["status"] == "InProgress":
        client("bedrock").stop_model_customization_job(jobIdentifier=job["jobArn"])
        report["stoppedJob"] = job["jobArn"]


def _stop_batch_evaluation(plan: Plan, report: dict[str, Any]) -> None:
    """A batch inference job of the evaluation bills per token until it ends: stop it."""
    if not plan.evaluation:
        return
    from lambda_handlers.batch_evaluation import batch_job_name

    name = batch_job_name(plan)
    bedrock = client("bedrock")
    pages = bedrock.get_paginator("list_model_invocation_jobs").paginate(nameContains=name)
    for page in pages:
        for job in page.get("invocationJobSummaries", []):
            if job["jobName"] == name and job["status"] in {
                "Submitted",
                "InProgress",
                "Validating",
                "Scheduled",
            }:
                bedrock.stop_model_invocation_job(jobIdentifier=job["jobArn"])
                report.setdefault("stoppedBatchJobs", []).append(job["jobArn"])


def _delete_serving(plan: Plan, report: dict[str, Any]) -> None:
    found = find_serving(plan)
    if found is None:
        return
    if not found["ours"]:
        report["problems"].append(
            f"{plan.serving.name} exists but is not tagged with this execution; left alone"
        )
        return
    bedrock = client("bedrock")
    if found["mode"] == "provisioned-throughput":
        bedrock.delete_provisioned_model_throughput(provisionedModelId=found["arn"])
    else:
        bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=found["arn"])
    report["deleted"].append(found["arn"])


def _delete_model(model_arn: str, report: dict[str, Any]) -> None:
    """A model that failed the quality gate costs storage every month: delete it."""
    if not model_arn:
        return  # the job made no model
    try:
        client("bedrock").delete_custom_model(modelIdentifier=model_arn)
    except ClientError as error:
        if error_code(error) not in _NOT_FOUND:
            raise
        return
    report["deletedModel"] = model_arn


def clean_up(
    plan: Plan, delete_model: bool = False, delete_model_arn: str | None = None
) -> dict[str, Any]:
    """Stop the job and delete serving resources of one execution; idempotent.

    Throttling and server errors raise (the caller retries the whole, idempotent
    cleanup); any other failure is recorded under ``problems`` so the notification
    tells a person what is still running.
    """
    report: dict[str, Any] = {"stoppedJob": None, "deleted": [], "problems": []}
    steps: list[tuple[Any, str]] = [
        (lambda: _stop_job(plan, report), f"stop job {plan.jobName}"),
        (lambda: _delete_serving(plan, report), f"delete {plan.serving.name}"),
        (lambda: _stop_batch_evaluation(plan, report), "stop the batch evaluation"),
    ]
    if delete_model:
        # The model's ARN: given, or read from the job by _stop_job (it runs first).
        steps.append(
            (
                lambda: _delete_model(delete_model_arn or report.get("_model", ""), report),
                f"delete the custom model of {plan.jobName}",
            )
        )
    for step, what in steps:
        try:
            step()
        except ClientError as error:
            translated = translate_client_error(error, what)
            if isinstance(translated, (BedrockThrottled, BedrockUnavailable)):
                raise translated from error
            report["problems"].append(str(translated))
    report.pop("_model", None)
    return report


@entry_point("plan.executionArn")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if not event.get("plan"):
        return {
            "stoppedJob": None,
            "deleted": [],
            "problems": [],
        }  # failed before anything was planned
    plan = Plan.model_validate(event["plan"])
    gate_failed = (event.get("error") or {}).get("Error") == "QualityGateFailed"
    keep = bool(
        (plan.evaluation or {}).get("keepModelOnGateFailure")
        or (plan.trainingGate or {}).get("keepModelOnGateFailure")
    )
    model_arn = (event.get("job") or {}).get("outputModelArn")
    report = clean_up(plan, delete_model=gate_failed and not keep, delete_model_arn=model_arn)
    logger.info("cleanup done", extra=report)
    return report


def wait(seconds: float) -> None:
    """Sleep; a seam so tests need not wait."""
    time.sleep(seconds)


def _execution_input(detail: dict[str, Any]) -> Any:
    raw = detail.get("input")
    if raw is None:  # EventBridge leaves out inputs over its size limit
        raw = client("stepfunctions").describe_execution(executionArn=detail["executionArn"])[
            "input"
        ]
    return json.loads(raw)


@entry_point("detail.executionArn")
def abort_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """EventBridge ``Step Functions Execution Status Change`` (ABORTED, TIMED_OUT)."""
    detail = event["detail"]
    settings = Settings.from_env()
    try:
        request = check_request(_execution_input(detail), settings.request_context())
    except RequestInvalid:
        return {
            "stoppedJob": None,
            "deleted": [],
            "problems": [],
        }  # rejected input: nothing was created
    plan = make_plan(
        request, detail["executionArn"], settings.request_context(), settings.stack_name
    )
    # Throttling raises: the asynchronous invocation retries, then goes to the dead-letter queue.
    report = clean_up(plan)
    # A task that was running when the execution stopped (submit, start serving) may still
    # create its resource: wait out the longest such task, then clean up once more.
    straggler_wait = int(os.environ.get("STRAGGLER_WAIT_SECONDS", "0"))
    if straggler_wait > 0:
        wait(straggler_wait)
        again = clean_up(plan)
        report = {
            "stoppedJob": report["stoppedJob"] or again["stoppedJob"],
            "deleted": report["deleted"]
            + [a for a in again["deleted"] if a not in report["deleted"]],
            "problems": again["problems"],
        }
    state = {"plan": plan.model_dump(), "cleanup": report}
    publish(settings.topic_arn, detail["status"], state)
    logger.info("cleanup after stop or timeout", extra=report)
    return report
