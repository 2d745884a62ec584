"""Remove what an execution left running that costs money.

Two entry points, one logic:

- ``handler``: the state machine's failure branch, with the execution's state.
- ``abort_handler``: an EventBridge rule for executions that were stopped (ABORTED),
  timed out, or FAILED without reaching their own failure path (``States.Runtime``, the
  history limit), where the state machine itself runs no more states. It rebuilds the plan
  from the execution's input, which gives the same names and tokens.

Resources are found by their deterministic names and touched only when they are this
execution's: the job by its ``clientRequestToken``; serving, the evaluation's batch job and a
gated-out model by their tags, which must hold this stack's name and this execution
(``missing_ownership_tag``). One that fails the check is reported as left alone, never
stopped or deleted; the roles' ``aws:ResourceTag`` conditions refuse the same calls.
What cannot be removed is reported with the command that removes it
(``lambda_handlers.common.leftovers``).
The custom model itself is kept: it is the product of a paid job and costs only
storage; deleting it is the quality gate's decision, not cleanup's.

A sweep (``plan.sweep``) has one job per run: each run's job still running is stopped, found
by the run's name and token as the one job is (``run_plan``), and reported under
``stoppedJobs``. The runs' models are kept as one job's model is; a losing run's model is
deleted by Choose the winner (``sweep_winner.py``), through ``delete_owned_model``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Collection
from itertools import pairwise
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel

from lambda_handlers.common import idle_alarm, observability
from lambda_handlers.common.aws import client
from lambda_handlers.common.errors import (
    NETWORK_ERRORS,
    BedrockThrottled,
    BedrockUnavailable,
    RequestInvalid,
    WorkflowError,
    error_code,
    translate_client_error,
    translate_network_error,
)
from lambda_handlers.common.leftovers import (
    Target,
    deleting_deployment,
    deleting_model,
    deleting_throughput,
    is_not_found,
    looking_for,
    stopping_batch_job,
    stopping_job,
)
from lambda_handlers.common.observability import entry_point, logger
from lambda_handlers.common.plan import Plan, batch_job_name, make_plan, missing_ownership_tag
from lambda_handlers.common.request_checks import check_request
from lambda_handlers.common.settings import Settings
from lambda_handlers.notify import publish

_RUNNING_BATCH = {"Submitted", "InProgress", "Validating", "Scheduled"}


class _At:
    """Where a cleanup step is: the resource its current call acts on, for the problem record
    when that call fails."""

    def __init__(self, target: Target):
        self.target = target


_Step = Callable[[Plan, dict[str, Any], _At], None]


def _missing_tag(arn: str, plan: Plan) -> str | None:
    """Which ownership tag the resource lacks (``missing_ownership_tag``), read from Bedrock."""
    tags = client("bedrock").list_tags_for_resource(resourceARN=arn).get("tags", [])
    return missing_ownership_tag(list(tags), plan)


def _left_alone(report: dict[str, Any], target: Target, name: str, missing: str) -> None:
    """A resource found under this execution's name that is not its own: said, not touched."""
    verb = "stopped" if target.action == "stop" else "deleted"
    left_alone = Target(target.resource, target.arn, "left alone", None)
    report["problems"].append(
        left_alone.problem(
            f"it has this execution's name ({name}) but not {missing}, so another execution "
            f"or a person created it; not {verb}"
        )
    )


def find_job(plan: Plan) -> dict[str, Any] | None:
    """The plan's customization job, if it exists and this execution started it: a job of
    that name that another execution owns (another ``clientRequestToken``) is never touched.

    The token is derived from the execution ARN, which names this stack's state machine (a
    name unique in the account and Region), so it proves the stack too; no tag read is
    needed. IAM asks for the tags as well: StopModelCustomizationJob carries the stack and
    execution ``aws:ResourceTag`` conditions, which every job Submit creates satisfies."""
    try:
        job = client("bedrock").get_model_customization_job(jobIdentifier=plan.jobName)
    except ClientError as error:
        if is_not_found(error):
            return None  # never submitted
        raise
    if job.get("clientRequestToken") != plan.clientRequestToken:
        return None  # a job of that name that another execution owns
    return dict(job)


def serving_kind(mode: str) -> str:
    """What a serving mode creates, in words."""
    return (
        "provisioned throughput" if mode == "provisioned-throughput" else "custom model deployment"
    )


def find_serving(plan: Plan) -> dict[str, Any] | None:
    """The plan's throughput or deployment, found by its derived name: ``arn``, ``mode``,
    ``status``, whether it carries this stack's and this execution's tags (``ours``) and, if
    not, which it lacks (``missing``)."""
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
        if is_not_found(error):
            return None  # never created
        raise
    missing = _missing_tag(arn, plan)
    return {
        "arn": arn,
        "mode": serving.mode,
        "status": got["status"],
        "ours": missing is None,
        "missing": missing,
    }


def sweep_runs(plan: Plan) -> list[dict[str, Any]]:
    """The runs of a sweep's plan (``plan.sweep.runs``); none for one job."""
    sweep = getattr(plan, "sweep", None)
    if isinstance(sweep, BaseModel):
        sweep = sweep.model_dump()
    return list((sweep or {}).get("runs") or [])


_RUN_FIELDS = ("jobName", "customModelName", "clientRequestToken", "hyperParameters")


def run_plan(plan: Plan, run: dict[str, Any]) -> Plan:
    """The plan as the sweep's Map gives it to one run: the run's job and model names, token
    and hyperparameters over the sweep's plan; its tags are the sweep's."""
    return plan.model_copy(update={key: run[key] for key in _RUN_FIELDS if key in run})


def _stop_run_job(run: dict[str, Any]) -> _Step:
    """The cleanup step of one run's job: stopped as the one job is, reported in
    ``stoppedJobs``. The run's model is not remembered for a gate's delete (``_model``)."""

    def step(plan: Plan, report: dict[str, Any], at: _At) -> None:
        own: dict[str, Any] = {"stoppedJob": None}
        _stop_job(run_plan(plan, run), own, at)
        if own["stoppedJob"]:
            report.setdefault("stoppedJobs", []).append(own["stoppedJob"])

    return step


def _stop_job(plan: Plan, report: dict[str, Any], at: _At) -> None:
    at.target = looking_for("customization job", plan.jobName, plan.executionArn)
    job = find_job(plan)
    if job is None:
        return
    if job.get("outputModelArn"):
        report["_model"] = job["outputModelArn"]
    if job["status"] != "InProgress":
        return
    at.target = stopping_job(job["jobArn"])
    try:
        client("bedrock").stop_model_customization_job(jobIdentifier=job["jobArn"])
    except ClientError as error:
        if _ended_meanwhile(plan, error):
            return
        raise
    report["stoppedJob"] = job["jobArn"]


def _ended_meanwhile(plan: Plan, error: ClientError) -> bool:
    """A stop refused because the job ended between the read and the stop is no problem."""
    if error_code(error) not in {"ValidationException", "ConflictException"}:
        return False
    job = find_job(plan)
    return job is None or job["status"] != "InProgress"


def _stop_batch_evaluation(plan: Plan, report: dict[str, Any], at: _At) -> None:
    """A batch inference job of the evaluation bills per token until it ends: stop it, if it
    carries this stack's and this execution's tags. Its name is derived from the execution,
    not from the request, so only a job someone else named the same is ever left alone."""
    if not plan.evaluation:
        return
    name = batch_job_name(plan.executionArn)
    at.target = looking_for("batch inference job", name, plan.executionArn)
    bedrock = client("bedrock")
    pages = bedrock.get_paginator("list_model_invocation_jobs").paginate(nameContains=name)
    for page in pages:
        for job in page.get("invocationJobSummaries", []):
            if job["jobName"] != name or job["status"] not in _RUNNING_BATCH:
                continue
            stopping = stopping_batch_job(job["jobArn"])
            at.target = looking_for("batch inference job", job["jobArn"], plan.executionArn)
            missing = _batch_job_missing_tag(job["jobArn"], plan)
            if missing == _ENDED:
                continue
            if missing is not None:
                _left_alone(report, stopping, name, missing)
                continue
            at.target = stopping
            bedrock.stop_model_invocation_job(jobIdentifier=job["jobArn"])
            report.setdefault("stoppedBatchJobs", []).append(job["jobArn"])


_ENDED = "ended"


def _batch_job_missing_tag(arn: str, plan: Plan) -> str | None:
    """``_missing_tag`` of a running batch job; ``_ENDED`` if it ended since it was listed
    (Bedrock does not give the tags of a batch job that has finished, per the Terraform AWS
    provider's documentation of ``aws_bedrock_model_invocation_job``)."""
    try:
        return _missing_tag(arn, plan)
    except ClientError:
        try:
            status = client("bedrock").get_model_invocation_job(jobIdentifier=arn)["status"]
        except ClientError as error:
            if is_not_found(error):
                return _ENDED
            raise
        if status not in _RUNNING_BATCH:
            return _ENDED
        raise


def _delete_serving(plan: Plan, report: dict[str, Any], at: _At) -> None:
    kind = serving_kind(plan.serving.mode)
    at.target = looking_for(kind, plan.serving.name or "", plan.executionArn)
    found = find_serving(plan)
    if found is None:
        _delete_idle_alarm(plan, at)  # the throughput is gone: its alarm may not be
        return
    if not found["ours"]:
        deleting = Target(kind, found["arn"], "delete", None)
        _left_alone(report, deleting, plan.serving.name or "", found["missing"])
        return
    bedrock = client("bedrock")
    if found["mode"] == "provisioned-throughput":
        at.target = deleting_throughput(found["arn"])
        bedrock.delete_provisioned_model_throughput(provisionedModelId=found["arn"])
        report["deleted"].append(found["arn"])
        _delete_idle_alarm(plan, at)
        return
    at.target = deleting_deployment(found["arn"])
    bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=found["arn"])
    report["deleted"].append(found["arn"])


def _delete_model(plan: Plan, model_arn: str, report: dict[str, Any], at: _At) -> None:
    """A model that failed the quality gate costs storage every month: delete it, if it carries
    this stack's and this execution's tags (Submit sets them on the model at creation)."""
    if not model_arn:
        return  # the job made no model
    at.target = deleting_model(model_arn)
    try:
        missing = _missing_tag(model_arn, plan)
        if missing is not None:
            _left_alone(report, at.target, plan.customModelName, missing)
            return
        client("bedrock").delete_custom_model(modelIdentifier=model_arn)
    except ClientError as error:
        if not is_not_found(error):
            raise
        return
    report["deletedModel"] = model_arn


def delete_owned_model(plan: Plan, model_arn: str) -> dict[str, Any]:
    """Delete one custom model as cleanup deletes a gated-out one (``_delete_model``: only if
    it carries this stack's and ``plan``'s execution's tags; one already gone is no problem).

    Returns ``{"deletedModel": ARN or None, "problems": [...]}``: a model left alone, and a
    delete Bedrock refused or did not answer, are problems with the command that deletes it;
    nothing is raised (botocore's own retries have already been spent on throttling)."""
    report: dict[str, Any] = {"deletedModel": None, "problems": []}
    at = _At(deleting_model(model_arn))
    try:
        _delete_model(plan, model_arn, report, at)
    except ClientError as error:
        report["problems"].append(at.target.problem(client_error_text(error)))
    except NETWORK_ERRORS as error:
        report["problems"].append(at.target.problem(f"{type(error).__name__}: {error}"))
    return report


def client_error_text(error: ClientError) -> str:
    """``<code>: <message>`` of a Bedrock error, as a problem's ``error``."""
    message = error.response.get("Error", {}).get("Message", "") or str(error)
    return f"{error_code(error)}: {message}"


def _delete_idle_alarm(plan: Plan, at: _At) -> None:
    """The idle alarm Start serving made for the throughput (``common/idle_alarm.py``)."""
    if idle_alarm.enabled() and plan.serving.mode == "provisioned-throughput":
        name = idle_alarm.alarm_name(plan)
        at.target = Target(
            "CloudWatch alarm", name, "delete", f"aws cloudwatch delete-alarms --alarm-names {name}"
        )
        idle_alarm.delete_idle_alarm(plan)


_SERVING_KINDS = {"provisioned throughput", "custom model deployment"}


def count_outcome(report: dict[str, Any], *, time_to_live: bool = False) -> None:
    """A cleanup's report as metrics: serving removed, what it left behind (each problem, a
    job left running on purpose) and, for the time-to-live's cleanup, serving it could not
    remove (``ServingPastTimeToLive``, 0 when it removed all)."""
    observability.count(observability.SERVING_REMOVED, len(report["deleted"]))
    left = len(report["problems"]) + (1 if report.get("jobLeftRunning") else 0)
    observability.count(observability.CLEANUP_LEFTOVERS, left)
    if time_to_live:
        serving_left = [
            p
            for p in report["problems"]
            if isinstance(p, dict) and p.get("resource") in _SERVING_KINDS
        ]
        observability.count(observability.SERVING_PAST_TIME_TO_LIVE, len(serving_left))


def clean_up(
    plan: Plan,
    delete_model: bool = False,
    delete_model_arn: str | None = None,
    *,
    leave_job_running: bool = False,
    runs_left_running: Collection[str] = (),
) -> dict[str, Any]:
    """Stop the job and delete serving resources of one execution; idempotent.

    Throttling and server errors raise (the caller retries the whole, idempotent
    cleanup); any other failure is recorded under ``problems`` (``resource``, ``arn``,
    ``action``, ``error``, ``command``) so the notification tells a person what is still
    running and how to remove it. ``leave_job_running``: the workflow could not read the
    job and left it running on purpose (``JobUnreachable``); it is not stopped.
    ``runs_left_running``: the job names of a sweep's runs left so, each not stopped either.
    """
    report: dict[str, Any] = {"stoppedJob": None, "deleted": [], "problems": []}
    steps: list[_Step] = [_delete_serving, _stop_batch_evaluation]
    runs = sweep_runs(plan)
    if leave_job_running:
        report["jobLeftRunning"] = ", ".join(r["jobName"] for r in runs) or plan.jobName
    elif runs:
        # A step per run: a run whose stop fails is a problem, the next runs are still stopped.
        steps[0:0] = [_stop_run_job(r) for r in runs if r["jobName"] not in runs_left_running]
        if left := [r["jobName"] for r in runs if r["jobName"] in runs_left_running]:
            report["jobLeftRunning"] = ", ".join(left)
    else:
        steps.insert(0, _stop_job)
    if delete_model:
        # The model's ARN: given, or read from the job by _stop_job (it runs first).
        steps.append(
            lambda p, r, at: _delete_model(p, delete_model_arn or r.get("_model", ""), r, at)
        )
    for step in steps:
        at = _At(looking_for("resources", plan.jobName, plan.executionArn))
        try:
            step(plan, report, at)
        except ClientError as error:
            translated = translate_client_error(error, f"{at.target.action} {at.target.arn}")
            if isinstance(translated, (BedrockThrottled, BedrockUnavailable)):
                raise translated from error
            report["problems"].append(at.target.problem(client_error_text(error)))
    report.pop("_model", None)
    return report


@entry_point("plan.executionArn")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if not event.get("plan"):
        return _nothing()  # failed before anything was planned
    plan = Plan.model_validate(event["plan"])
    error = (event.get("error") or {}).get("Error")
    keep = bool(
        (plan.evaluation or {}).get("keepModelOnGateFailure")
        or (plan.trainingGate or {}).get("keepModelOnGateFailure")
    )
    model_arn = (event.get("job") or {}).get("outputModelArn")
    time_to_live = event.get("reason") == "time-to-live"
    try:
        report = clean_up(
            plan,
            delete_model=error == "QualityGateFailed" and not keep,
            delete_model_arn=model_arn,
            leave_job_running=error == "JobUnreachable",
            runs_left_running=_runs_left_running(event),
        )
    except Exception:
        if time_to_live:  # the schedule retries; until then serving outlives its time
            observability.count(observability.SERVING_PAST_TIME_TO_LIVE)
        raise
    count_outcome(report, time_to_live=time_to_live)
    logger.info("cleanup done", extra=report)
    return report


def _nothing() -> dict[str, Any]:
    return {"stoppedJob": None, "deleted": [], "problems": []}


def wait(seconds: float) -> None:
    """Sleep; a seam so tests need not wait."""
    time.sleep(seconds)


class _Execution:
    """The execution a status-change event is about: its input and error, read from the event,
    else (EventBridge leaves out what is over its size limit) from DescribeExecution, once."""

    def __init__(self, detail: dict[str, Any]):
        self.detail = detail
        self.arn: str = detail["executionArn"]
        self._described: dict[str, Any] | None = None

    def _describe(self) -> dict[str, Any]:
        if self._described is None:
            self._described = dict(
                client("stepfunctions").describe_execution(executionArn=self.arn)
            )
        return self._described

    def input(self) -> Any:
        raw = self.detail.get("input")
        return json.loads(raw if raw is not None else self._describe()["input"])

    def error(self) -> dict[str, Any]:
        """``{"Error", "Cause"}`` of a failed execution, as a Catch would give them."""
        error, cause = self.detail.get("error"), self.detail.get("cause")
        if not error:
            described = self._describe()
            error, cause = described.get("error"), described.get("cause")
        return {"Error": error or "States.Unknown", "Cause": cause or ""}


# The workflow's own failure path ends "Notify failure" -> "Customization failed" (see
# constructs_lib/steps/notification.py); a test keeps this name equal to the definition's.
NOTIFY_FAILURE_STATE = "Notify failure"
_HISTORY_TAIL = 20  # after "Notify failure" exits come the Fail state and the execution's end


def workflow_notified(execution_arn: str) -> bool:
    """Whether the failed execution's own failure path published its notification: the end of
    its history shows "Notify failure" exiting right after its Lambda succeeded. Unknown
    (the history could not be read) counts as not notified: better one message too many."""
    try:
        events = client("stepfunctions").get_execution_history(
            executionArn=execution_arn,
            reverseOrder=True,
            maxResults=_HISTORY_TAIL,
            includeExecutionData=False,
        )["events"]
    except ClientError as error:
        logger.warning("execution history unreadable", extra={"error": str(error)})
        return False
    # Newest first by event id, whatever order the page came in.
    newest_first = sorted(events, key=lambda e: int(e.get("id", 0)), reverse=True)
    for newer, older in pairwise(newest_first):
        exited = (newer.get("stateExitedEventDetails") or {}).get("name")
        if exited == NOTIFY_FAILURE_STATE:
            return older["type"] in {"LambdaFunctionSucceeded", "TaskSucceeded"}
    return False


def _runs_left_running(state: dict[str, Any]) -> set[str]:
    """The job names of a sweep's runs the workflow could not follow and left running
    (their iteration ended ``JobUnreachable``): a failure of ours, not the job's."""
    return {
        str(result["plan"]["jobName"])
        for result in state.get("runs") or []
        if isinstance(result, dict)
        and (result.get("error") or {}).get("Error") == "JobUnreachable"
        and isinstance(result.get("plan"), dict)
    }


def _passes(plan: Plan, passes: int, leave_job_running: bool) -> dict[str, Any]:
    """Clean up; with two passes, wait out a task still running at the end (submit, start
    serving) that may yet create its resource, then clean up once more."""
    report = clean_up(plan, leave_job_running=leave_job_running)
    straggler_wait = int(os.environ.get("STRAGGLER_WAIT_SECONDS", "0"))
    if passes < 2 or straggler_wait <= 0:
        return report
    wait(straggler_wait)
    again = clean_up(plan, leave_job_running=leave_job_running)
    merged = {
        **again,
        "stoppedJob": report["stoppedJob"] or again["stoppedJob"],
        "deleted": report["deleted"] + [a for a in again["deleted"] if a not in report["deleted"]],
        "problems": again["problems"],
    }
    # A job the first pass stopped is no longer running in the second: keep both passes'.
    for key in ("stoppedBatchJobs", "stoppedJobs"):
        first = report.get(key, [])
        both = first + [a for a in again.get(key, []) if a not in first]
        if both:
            merged[key] = both
    return merged


def _found_anything(report: dict[str, Any]) -> bool:
    return bool(
        report["stoppedJob"]
        or report["deleted"]
        or report["problems"]
        or report.get("stoppedBatchJobs")
        or report.get("stoppedJobs")
    )


_TRANSIENT = (BedrockThrottled, BedrockUnavailable, *NETWORK_ERRORS)


def _clean_up_or_say_so(
    plan: Plan, outcome: str, state: dict[str, Any], passes: int, leave_job_running: bool
) -> dict[str, Any]:
    """The cleanup passes; if AWS keeps failing them (throttling, 5xx, the network), the
    notification says cleanup did not finish and how to finish it, then the error is raised
    again so that Lambda retries the event."""
    try:
        return _passes(plan, passes, leave_job_running)
    except _TRANSIENT as error:
        named = translate_network_error(error) if isinstance(error, NETWORK_ERRORS) else error
        failed = {**state, "cleanupError": {"Error": type(named).__name__, "Cause": str(named)}}
        try:
            publish(Settings.from_env().topic_arn, outcome, failed)
        except WorkflowError as publish_error:
            logger.warning(
                "could not say cleanup did not finish", extra={"error": str(publish_error)}
            )
        raise


@entry_point("detail.executionArn")
def abort_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """EventBridge ``Step Functions Execution Status Change``: ABORTED and TIMED_OUT (no more
    states run), and FAILED (a ``States.Runtime`` error or the history limit fails an
    execution without any Catch; every other failure has already run the workflow's own
    cleanup, which this one repeats idempotently)."""
    detail = event["detail"]
    settings = Settings.from_env()
    execution = _Execution(detail)
    try:
        request = check_request(execution.input(), settings.request_context())
    except RequestInvalid:
        return _nothing()  # rejected input: nothing was created
    plan = make_plan(request, execution.arn, settings.request_context(), settings.stack_name)
    state: dict[str, Any] = {"plan": plan.model_dump()}
    if detail["status"] == "FAILED":
        return _after_failure(plan, execution, state, settings)
    # Throttling raises: the asynchronous invocation retries, then goes to the dead-letter queue.
    report = _clean_up_or_say_so(plan, detail["status"], state, 2, leave_job_running=False)
    count_outcome(report)
    publish(settings.topic_arn, detail["status"], {**state, "cleanup": report})
    logger.info("cleanup after stop or timeout", extra=report)
    return report


def _after_failure(
    plan: Plan, execution: _Execution, state: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """A FAILED execution: clean up again (a job the workflow left running because it could
    not read it stays running), and say so unless the workflow already did and nothing was
    left. Without the workflow's own failure path, a task may have been running when the
    execution failed: two passes, as after a stop."""
    error = execution.error()
    state["error"] = error
    notified = workflow_notified(execution.arn)
    leave_job = error["Error"] == "JobUnreachable"
    passes = 1 if notified else 2
    report = _clean_up_or_say_so(plan, "FAILED", state, passes, leave_job_running=leave_job)
    report["workflowNotified"] = notified
    count_outcome(report)
    if not notified or _found_anything(report):
        publish(settings.topic_arn, "FAILED", {**state, "cleanup": report})
    logger.info("cleanup after a failed execution", extra=report)
    return report
