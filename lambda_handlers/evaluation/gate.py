"""The quality gate: does the custom model beat the bar the request set?

A gate names one score and an absolute ``threshold`` for the custom model, a
``minImprovement`` over the base model on the same test set, or both. Scores are the
ones ``report.comparison_results`` computes (0 to 1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class GateResult:
    passed: bool
    metric: str
    base: float
    custom: float
    gain: float
    threshold: float | None
    min_improvement: float | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def judge_gate(results: dict[str, Any], gate: dict[str, Any]) -> GateResult:
    """Apply ``gate`` (``metric``, ``threshold``?, ``minImprovement``?) to comparison results."""
    metric = gate["metric"]
    scores = results["metrics"].get(metric)
    if scores is None:
        available = ", ".join(sorted(results["metrics"]))
        raise ValueError(
            f"the gate's metric {metric!r} was not computed for this test set (computed: {available})"
        )
    base, custom, gain = float(scores["base"]), float(scores["custom"]), float(scores["gain"])
    threshold, min_improvement = gate.get("threshold"), gate.get("minImprovement")
    failures = []
    if threshold is not None and custom < threshold:
        failures.append(f"{metric} {custom:.4f} is below the threshold {threshold}")
    if min_improvement is not None and gain < min_improvement:
        failures.append(
            f"{metric} improved by {gain:+.4f} over the base model ({base:.4f} -> {custom:.4f}), "
            f"less than the required {min_improvement:+}"
        )
    numbers = f"{metric}: base {base:.4f}, custom {custom:.4f}, gain {gain:+.4f} on {results['records']} records"
    message = (
        ("Quality gate failed: " + "; ".join(failures) + f" ({numbers})")
        if failures
        else (f"Quality gate passed ({numbers})")
    )
    return GateResult(not failures, metric, base, custom, gain, threshold, min_improvement, message)


def judge_losses(summary: dict[str, Any], gate: dict[str, Any]) -> str | None:
    """``None`` when the job's losses meet the training gate, else why not (with the numbers).

    ``maxValidationLossRises`` is judged on ``summary["curves"]`` (``curves.summarize``, from
    the job's ``validation_metrics.csv``). A loss or curve the job did not report fails a
    gate that asks for it: an unmeasured model is not a model that passed.
    """
    failures = []
    limit = gate.get("maxTrainingLoss")
    if limit is not None:
        loss = summary.get("trainingLoss")
        if loss is None:
            failures.append("the job reported no training loss")
        elif loss > limit:
            failures.append(f"training loss {loss:.4f} is above {limit}")
    limit = gate.get("maxValidationLoss")
    if limit is not None:
        losses = [v for v in summary.get("validationLoss") or [] if v is not None]
        if not losses:
            failures.append("the job reported no validation loss")
        elif max(losses) > limit:
            failures.append(f"validation loss {max(losses):.4f} is above {limit}")
    limit = gate.get("maxValidationLossRises")
    if limit is not None:
        failure = _rising_failure(summary.get("curves") or {}, limit)
        if failure:
            failures.append(failure)
    return "; ".join(failures) or None


def _rising_failure(curves: dict[str, Any], limit: int) -> str | None:
    """The validation curve (``curves.summarize``) rose more than ``limit`` times in a row at
    its end, or there is no curve to tell."""
    rises, validation = curves.get("validationRising"), curves.get("validation")
    if rises is None or not validation:
        why = "; ".join(curves.get("problems") or []) or "it wrote no validation_metrics.csv"
        return f"the job reported no validation loss curve ({why})"
    if not validation.get("points"):
        return "the job's validation_metrics.csv has no measured validation loss"
    if rises <= limit:
        return None
    last, best = validation["last"], validation["best"]
    return (
        f"validation loss rose for the last {rises} evaluations in a row, to "
        f"{last['loss']:.4f} at step {last['step']} (best {best['loss']:.4f} at step "
        f"{best['step']}), more than maxValidationLossRises {limit}"
    )
