"""Which run of a sweep won, and why. Pure: no AWS call.

The sweep's Map gives one result per run, in run order: ``{"plan", "job"}`` (the run's Check
job status output, ``progress.summarize_job`` with the ``curves`` of ``curves.summarize``) or
``{"plan", "error": {"Error", "Cause"}}``. Each Completed run is measured:

- ``validationLoss``: the final validation loss: the last point of the job's
  ``validation_metrics.csv`` (``curves.validation.last.loss``) when it was read, else the last
  value Bedrock gave in ``validationMetrics`` (``job.validationLoss``).
- ``trainingLoss``: Bedrock's ``trainingMetrics.trainingLoss`` (``job.trainingLoss``), else
  the last point of ``step_wise_training_metrics.csv`` (``curves.training.last.loss``).

The lowest value wins; equal values go to the lower run index. A run that did not complete, or
completed without the measure, cannot win and is listed with why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lambda_handlers.common.errors import SweepFailed

VALIDATION_LOSS = "validationLoss"
TRAINING_LOSS = "trainingLoss"
MEASURE_WORDS = {VALIDATION_LOSS: "final validation loss", TRAINING_LOSS: "final training loss"}

# The errors Check job status raises for a job's own bad ends, as a run's outcome.
_OUTCOME_OF_ERROR = {"CustomizationJobFailed": "Failed", "CustomizationJobStopped": "Stopped"}


@dataclass(frozen=True)
class Measured:
    """A run's measure: its value and where it was read, or why there is none."""

    value: float | None
    source: str | None = None
    missing: str | None = None


def _last_point_loss(job: dict[str, Any], curve: str) -> float | None:
    summary = (job.get("curves") or {}).get(curve) or {}
    last = summary.get("last") or {}
    loss = last.get("loss")
    return float(loss) if isinstance(loss, int | float) else None


def _curve_problems(job: dict[str, Any]) -> str:
    problems = (job.get("curves") or {}).get("problems") or []
    return f" ({'; '.join(problems)})" if problems else ""


def measure_job(job: dict[str, Any], measure: str) -> Measured:
    """The ``measure`` of a Completed run's job (see the module's docstring)."""
    if measure == VALIDATION_LOSS:
        from_curve = _last_point_loss(job, "validation")
        if from_curve is not None:
            return Measured(from_curve, "validation_metrics.csv")
        reported = [v for v in job.get(VALIDATION_LOSS) or [] if isinstance(v, int | float)]
        if reported:
            return Measured(float(reported[-1]), "validationMetrics")
        return Measured(
            None,
            missing="the job reported no validation loss (no validationMetrics and no "
            f"measured point in validation_metrics.csv){_curve_problems(job)}",
        )
    if measure == TRAINING_LOSS:
        loss = job.get(TRAINING_LOSS)
        if isinstance(loss, int | float):
            return Measured(float(loss), "trainingMetrics")
        from_curve = _last_point_loss(job, "training")
        if from_curve is not None:
            return Measured(from_curve, "step_wise_training_metrics.csv")
        return Measured(
            None,
            missing="the job reported no training loss (no trainingMetrics and no measured "
            f"point in step_wise_training_metrics.csv){_curve_problems(job)}",
        )
    raise ValueError(f"unknown sweep measure {measure!r}: expected one of {sorted(MEASURE_WORDS)}")


def _cause_message(cause: Any) -> str:
    """The message of a run's error: a Lambda error's cause is its JSON payload, whose
    ``errorMessage`` is what a person reads (the stack trace stays in the logs)."""
    try:
        parsed = json.loads(cause or "")
    except (TypeError, ValueError):
        return str(cause or "")
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return str(parsed["errorMessage"])
    return str(cause)


def _outcome(result: dict[str, Any] | None) -> tuple[str, str | None]:
    """A run's outcome (``Completed``, ``Failed``, ``Stopped`` or the error's name) and the
    error's cause, if any."""
    if result is None:
        return "NoResult", "the sweep gave no result for this run"
    if result.get("error"):
        error = result["error"]
        name = str(error.get("Error") or "States.Unknown")
        return _OUTCOME_OF_ERROR.get(name, name), _cause_message(error.get("Cause")) or None
    job = result.get("job") or {}
    return str(job.get("status") or "NoResult"), None


def _listing(
    index: int, run: dict[str, Any], result: dict[str, Any] | None, measure: str
) -> dict[str, Any]:
    """One run's line of the choice, before the winner is known."""
    merged = (result or {}).get("plan") or {}
    job = (result or {}).get("job") or {}
    outcome, cause = _outcome(result)
    entry: dict[str, Any] = {
        "index": index,
        "jobName": run.get("jobName") or merged.get("jobName"),
        "hyperParameters": run.get("hyperParameters") or merged.get("hyperParameters") or {},
        "outcome": outcome,
        "measure": measure,
        "value": None,
        "source": None,
        "noValue": None,
        "won": False,
    }
    if cause:
        entry["cause"] = cause
    if job.get("jobArn"):
        entry["jobArn"] = job["jobArn"]
    if outcome != "Completed":
        entry["noValue"] = f"the run ended {outcome}, not Completed"
        return entry
    if job.get("outputModelArn"):
        entry["outputModelArn"] = job["outputModelArn"]
    measured = measure_job(job, measure)
    entry.update(value=measured.value, source=measured.source, noValue=measured.missing)
    return entry


def _name(entry: dict[str, Any]) -> str:
    return f"run {entry['index'] + 1} ({entry['jobName']})"


def _why(winner: dict[str, Any], others: list[dict[str, Any]], measure: str) -> str:
    words = MEASURE_WORDS[measure]
    won = f"{_name(winner)} won on {words} {winner['value']:.6g}"
    if not others:
        return f"{won}; no other run completed with a {words} to compare."
    runner_up = others[0]
    if runner_up["value"] == winner["value"]:
        return f"{won}, tied with {_name(runner_up)}; a tie goes to the lower run index."
    return f"{won}; the runner-up, {_name(runner_up)}, had {runner_up['value']:.6g}."


def _failure(entries: list[dict[str, Any]], measure: str) -> SweepFailed:
    lines = [
        f"{_name(e)}: {e['outcome']}"
        + (f" ({e['cause']})" if e.get("cause") else "")
        + (f", {e['noValue']}" if e["outcome"] == "Completed" else "")
        for e in entries
    ]
    return SweepFailed(
        f"No run of the sweep completed with a {MEASURE_WORDS[measure]}, so none can be "
        f"served: {'; '.join(lines)}"
    )


def choose_winner(sweep: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"winner": index, "why": sentence, "runs": [listing per run]}`` for the sweep plan's
    ``sweep`` (``measure``, ``runs``) and the Map's per-run results, in run order.

    Raises ``SweepFailed`` naming every run's outcome when no Completed run has the measure.
    """
    measure = str(sweep.get("measure") or VALIDATION_LOSS)
    if measure not in MEASURE_WORDS:
        raise ValueError(
            f"unknown sweep measure {measure!r}: expected one of {sorted(MEASURE_WORDS)}"
        )
    runs = list(sweep.get("runs") or [])
    count = max(len(runs), len(results))
    entries = [
        _listing(
            i,
            runs[i] if i < len(runs) else {},
            results[i] if i < len(results) else None,
            measure,
        )
        for i in range(count)
    ]
    candidates = sorted(
        (e for e in entries if e["value"] is not None), key=lambda e: (e["value"], e["index"])
    )
    if not candidates:
        raise _failure(entries, measure)
    winner = candidates[0]
    winner["won"] = True
    return {
        "winner": winner["index"],
        "why": _why(winner, candidates[1:], measure),
        "runs": entries,
    }
