"""Compose the notification of an execution's outcome: a short text for people and a
JSON detail for programs, sent as one SNS message with a body per protocol."""

from __future__ import annotations

import json
from typing import Any

from lambda_handlers.common.leftovers import cleanup_command, problem_text

NOTIFICATION_VERSION = "1"
_MACHINE_PROTOCOLS = ("sqs", "lambda", "http", "https", "email-json", "firehose")
_OUTCOME_WORDS = {"FAILED": "failed", "ABORTED": "was stopped", "TIMED_OUT": "timed out"}


def _error_message(error: dict[str, Any]) -> str:
    """The readable message inside a Step Functions error cause (a Lambda error payload)."""
    cause = error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        return str(cause)
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return str(parsed["errorMessage"])
    return str(cause)


def compose(outcome: str, state: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """``(subject, text, detail)`` for an outcome (``SUCCEEDED``, ``FAILED``, ``ABORTED``,
    ``TIMED_OUT``) and the execution's state document."""
    plan = state.get("plan") or {}
    job = state.get("job") or {}
    job_name = plan.get("jobName") or job.get("jobName") or "(no job)"
    detail = _detail(outcome, state)
    if outcome == "SUCCEEDED":
        subject = f"Bedrock customization {job_name} succeeded"
        lines = _success_lines(job_name, state)
    else:
        word = _OUTCOME_WORDS.get(outcome, outcome.lower())
        subject = f"Bedrock customization {job_name} {word}"
        lines = _failure_lines(job_name, word, state)
    if detail["executionArn"]:
        lines.append(f"Execution: {detail['executionArn']}")
    # SNS subjects: at most 100 characters.
    return subject[:100], "\n".join(lines), detail


def _detail(outcome: str, state: dict[str, Any]) -> dict[str, Any]:
    """The JSON detail for programs: identifiers always, each part of the state that is set."""
    plan = state.get("plan") or {}
    job = state.get("job") or {}
    detail: dict[str, Any] = {
        "version": NOTIFICATION_VERSION,
        "outcome": outcome,
        "executionArn": plan.get("executionArn") or state.get("executionArn"),
        "customizationType": plan.get("customizationType"),
        "baseModelIdentifier": plan.get("baseModelIdentifier"),
        "jobName": plan.get("jobName"),
        "jobArn": job.get("jobArn"),
        "customModelArn": job.get("outputModelArn"),
    }
    evaluation = state.get("evaluation") or {}
    promotion = state.get("promotion") or {}
    serving = state.get("serving") or {}
    error = state.get("error") or {}
    cleanup = state.get("cleanup") or {}
    if evaluation:
        detail["evaluation"] = {
            k: evaluation.get(k) for k in ("records", "metrics", "gate", "reportUri")
        }
    if promotion:
        detail["promotion"] = {
            k: promotion.get(k) for k in ("target", "previousModelArn", "modelArn", "done")
        }
    if serving:
        detail["serving"] = {
            k: serving.get(k) for k in ("mode", "arn", "name", "status", "invokeModelId")
        }
    if error:
        detail["error"] = {"error": error.get("Error"), "message": _error_message(error)}
    if cleanup or state.get("cleanupError"):
        detail["cleanup"] = _cleanup_detail(state)
    if state.get("sweep"):
        detail["sweep"] = {k: state["sweep"].get(k) for k in ("winner", "why", "runs")}
    return detail


def _cleanup_detail(state: dict[str, Any]) -> dict[str, Any]:
    """What cleanup did, or, when it did not finish, why, what may remain and the command."""
    cleanup = state.get("cleanup") or {}
    failed = state.get("cleanupError")
    if not failed:
        return {**cleanup, "finished": True}
    plan = state.get("plan") or {}
    return {
        **cleanup,
        "finished": False,
        "error": {"error": failed.get("Error"), "message": _error_message(failed)},
        "mayRemain": _may_remain(plan),
        "command": cleanup_command(plan.get("executionArn") or state.get("executionArn") or ""),
    }


def _may_remain(plan: dict[str, Any]) -> list[dict[str, str]]:
    """What an execution may have created, by its derived names: what a cleanup that did not
    finish may have left running."""
    remain = [{"resource": "customization job", "name": str(plan.get("jobName"))}]
    serving = plan.get("serving") or {}
    if serving.get("mode") not in (None, "none") and serving.get("name"):
        kind = (
            "provisioned throughput"
            if serving["mode"] == "provisioned-throughput"
            else "custom model deployment"
        )
        remain.append({"resource": kind, "name": str(serving["name"])})
    return remain


def _success_lines(job_name: str, state: dict[str, Any]) -> list[str]:
    """The model, how to invoke it, how it scored and where it was promoted."""
    job = state.get("job") or {}
    serving = state.get("serving") or {}
    evaluation = state.get("evaluation") or {}
    promotion = state.get("promotion") or {}
    lines = [f"Customization job {job_name} completed."]
    lines += _sweep_lines(state)
    if job.get("outputModelArn"):
        lines.append(f"Custom model: {job['outputModelArn']}")
    if serving.get("invokeModelId"):
        lines.append(f"Served by {serving['mode']}; invoke with modelId {serving['invokeModelId']}")
    else:
        lines.append("Not served (serving mode none).")
    gate = evaluation.get("gate") or {}
    if gate.get("message"):
        lines.append(gate["message"])
    elif evaluation.get("metrics"):
        gains = ", ".join(
            f"{name} {m['custom']:.3f} ({m['gain']:+.3f})"
            for name, m in evaluation["metrics"].items()
        )
        lines.append(
            f"Evaluated on {evaluation.get('records')} records, custom (gain over base): {gains}"
        )
    if promotion.get("target"):
        lines.append(
            f"Promoted onto {promotion['target']}; it served {promotion.get('previousModelArn')} before "
            "(bedrock-customize promote rolls back)"
        )
    return lines


def _sweep_lines(state: dict[str, Any]) -> list[str]:
    """A sweep's runs, one line each (settings, outcome, measure), and why the winner won."""
    sweep = state.get("sweep") or {}
    lines = [f"Sweep: {sweep['why']}"] if sweep.get("why") else []
    for run in sweep.get("runs") or []:
        settings = ", ".join(f"{k}={v}" for k, v in (run.get("hyperParameters") or {}).items())
        value = run.get("value")
        measured = f"{run.get('measure')} {value}" if value is not None else run.get("noValue")
        mark = " (winner)" if run.get("won") else ""
        lines.append(
            f"  run {run.get('index', 0) + 1} {run.get('jobName')}{mark}: {run.get('outcome')}; "
            f"{measured}; {settings}"
        )
    return lines


def _failure_lines(job_name: str, word: str, state: dict[str, Any]) -> list[str]:
    """What went wrong, what cleanup removed and what it could not."""
    error = state.get("error") or {}
    cleanup = state.get("cleanup") or {}
    lines = [f"Customization {job_name} {word}."]
    if error:
        lines.append(f"Error {error.get('Error')}: {_error_message(error)}")
    if cleanup.get("workflowNotified") is False:
        lines.append(
            "The workflow's own cleanup did not run: the execution failed outside its failure "
            "path (a States.Runtime error or the history limit); this cleanup ran after it ended."
        )
    if cleanup:
        removed = (
            cleanup.get("stoppedJob"),
            *cleanup.get("stoppedJobs", []),  # a sweep's runs
            *cleanup.get("deleted", []),
            *cleanup.get("stoppedBatchJobs", []),
            cleanup.get("deletedModel"),
        )
        done = [r for r in removed if r]
        lines.append("Cleaned up: " + (", ".join(done) if done else "nothing billable was running"))
        if cleanup.get("jobLeftRunning"):
            lines.append(
                f"Customization job {cleanup['jobLeftRunning']} was left running on purpose "
                "(the workflow could not read it); the error above says how to follow or stop it."
            )
        for problem in cleanup.get("problems", []):
            lines.append(f"NOT cleaned up, act on it: {problem_text(problem)}")
    if state.get("cleanupError"):
        lines += _unfinished_cleanup_lines(state)
    return lines


def _unfinished_cleanup_lines(state: dict[str, Any]) -> list[str]:
    detail = _cleanup_detail(state)
    remain = ", ".join(f"{r['resource']} {r['name']}" for r in detail["mayRemain"])
    return [
        f"Cleanup did NOT finish ({detail['error']['error']}: {detail['error']['message']}).",
        f"These may still be running and billed: {remain}.",
        f"Find and remove what is left: {detail['command']}",
    ]


def sns_message(text: str, detail: dict[str, Any]) -> str:
    """The ``MessageStructure='json'`` body: text by default and for email, JSON for programs."""
    body = {"default": text, "email": text}
    body.update({protocol: json.dumps(detail) for protocol in _MACHINE_PROTOCOLS})
    return json.dumps(body)
