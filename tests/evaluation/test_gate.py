"""The quality gates: on evaluation scores and on the job's own losses."""

from __future__ import annotations

import pytest

from lambda_handlers.evaluation.gate import judge_gate, judge_losses

RESULTS = {"records": 20, "metrics": {"exact_match": {"base": 0.4, "custom": 0.7, "gain": 0.3}}}


@pytest.mark.parametrize(
    ("gate", "passed"),
    [
        ({"metric": "exact_match", "threshold": 0.7}, True),
        ({"metric": "exact_match", "threshold": 0.71}, False),
        ({"metric": "exact_match", "minImprovement": 0.3}, True),
        ({"metric": "exact_match", "minImprovement": 0.31}, False),
        ({"metric": "exact_match", "threshold": 0.5, "minImprovement": 0.5}, False),
    ],
)
def test_score_gate_bounds_are_inclusive(gate: dict, passed: bool) -> None:
    result = judge_gate(RESULTS, gate)
    assert result.passed is passed
    assert "exact_match: base 0.4000, custom 0.7000, gain +0.3000 on 20 records" in result.message


def test_a_gate_on_a_score_that_was_not_computed_is_an_error() -> None:
    with pytest.raises(ValueError, match="was not computed"):
        judge_gate(RESULTS, {"metric": "f1_weighted", "threshold": 0.5})


@pytest.mark.parametrize(
    ("summary", "gate", "failure"),
    [
        ({"trainingLoss": 0.4}, {"maxTrainingLoss": 0.5}, None),
        ({"trainingLoss": 0.6}, {"maxTrainingLoss": 0.5}, "training loss 0.6000 is above 0.5"),
        ({}, {"maxTrainingLoss": 0.5}, "the job reported no training loss"),
        (
            {"validationLoss": [0.2, 0.9]},
            {"maxValidationLoss": 0.5},
            "validation loss 0.9000 is above 0.5",
        ),
        ({"validationLoss": [0.2, None]}, {"maxValidationLoss": 0.5}, None),
        ({"validationLoss": []}, {"maxValidationLoss": 0.5}, "the job reported no validation loss"),
    ],
)
def test_loss_gate(summary: dict, gate: dict, failure: str | None) -> None:
    assert judge_losses(summary, gate) == failure


def _curves(*losses: float, problems: list[str] | None = None) -> dict:
    from lambda_handlers.evaluation.curves import Point, summarize

    points = [Point(10 * i, i, loss) for i, loss in enumerate(losses)]
    return {**summarize(None, points), "problems": problems or []}


@pytest.mark.parametrize(
    ("curves", "limit", "failure"),
    [
        (_curves(1.0, 0.8, 0.7), 0, None),
        (_curves(1.0, 0.8, 0.9), 1, None),
        (_curves(1.0, 0.8, 0.9, 1.0), 2, None),
        (
            _curves(1.0, 0.8, 0.9),
            0,
            "validation loss rose for the last 1 evaluations in a row, to 0.9000 at step 20 "
            "(best 0.8000 at step 10), more than maxValidationLossRises 0",
        ),
        (
            _curves(1.0, 0.6, 0.7, 0.8, 0.95),
            2,
            "validation loss rose for the last 3 evaluations in a row, to 0.9500 at step 40 "
            "(best 0.6000 at step 10), more than maxValidationLossRises 2",
        ),
    ],
)
def test_validation_rises_gate(curves: dict, limit: int, failure: str | None) -> None:
    assert judge_losses({"curves": curves}, {"maxValidationLossRises": limit}) == failure


@pytest.mark.parametrize(
    ("summary", "failure"),
    [
        ({}, "the job reported no validation loss curve (it wrote no validation_metrics.csv)"),
        (
            {"curves": {"validation": None, "validationRising": None, "problems": []}},
            "the job reported no validation loss curve (it wrote no validation_metrics.csv)",
        ),
        (
            {
                "curves": {
                    "validation": None,
                    "validationRising": None,
                    "problems": ["validation_metrics.csv: line 3: validation_loss is 'x'"],
                }
            },
            "the job reported no validation loss curve (validation_metrics.csv: line 3: "
            "validation_loss is 'x')",
        ),
        ({"curves": _curves()}, "the job's validation_metrics.csv has no measured validation loss"),
    ],
)
def test_an_unmeasured_curve_fails_a_gate_that_asks_for_it(summary: dict, failure: str) -> None:
    assert judge_losses(summary, {"maxValidationLossRises": 3}) == failure


def test_every_failure_of_a_training_gate_is_given() -> None:
    summary = {"trainingLoss": 0.9, "curves": _curves(0.5, 0.6)}
    gate = {"maxTrainingLoss": 0.5, "maxValidationLossRises": 0}
    failure = judge_losses(summary, gate)
    assert failure is not None
    assert failure.startswith(
        "training loss 0.9000 is above 0.5; validation loss rose for the last 1"
    )
