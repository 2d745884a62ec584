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
