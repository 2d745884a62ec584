"""A sweep's winner is the lowest measure among the runs that completed with it, a tie going to
the lower run index; failed runs and runs without the measure are listed with why; a sweep
with no such run fails, naming every run's outcome."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_handlers.common.errors import SweepFailed
from lambda_handlers.evaluation.sweep_choice import choose_winner, measure_job

JOB = "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/amazon.nova-lite-v1:0:300k/"
MODEL = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/"


def sweep(n: int, measure: str = "validationLoss", **extra: Any) -> dict[str, Any]:
    return {
        "measure": measure,
        "maxConcurrency": 2,
        "keepLosers": False,
        "runs": [
            {
                "jobName": f"nova-ft-r{i + 1}",
                "customModelName": f"nova-ft-r{i + 1}",
                "clientRequestToken": f"job-{i}",
                "hyperParameters": {"epochCount": str(i + 1)},
            }
            for i in range(n)
        ],
        **extra,
    }


def completed(i: int, **losses: Any) -> dict[str, Any]:
    job = {
        "status": "Completed",
        "jobArn": f"{JOB}r{i + 1}",
        "jobName": f"nova-ft-r{i + 1}",
        "outputModelArn": f"{MODEL}r{i + 1}",
        "stages": {},
        **losses,
    }
    return {"plan": {"jobName": f"nova-ft-r{i + 1}"}, "job": job}


def failed(i: int, error: str = "CustomizationJobFailed", cause: str = "out of memory"):
    return {"plan": {"jobName": f"nova-ft-r{i + 1}"}, "error": {"Error": error, "Cause": cause}}


def curve_last(loss: float) -> dict[str, Any]:
    return {"points": 3, "last": {"step": 30, "epoch": 2, "loss": loss}}


def test_the_lowest_final_validation_loss_wins_and_why_names_the_runner_up() -> None:
    runs = [
        completed(0, validationLoss=[0.9, 0.52]),
        completed(1, validationLoss=[0.41]),
        completed(2, validationLoss=[0.47]),
    ]
    choice = choose_winner(sweep(3), runs)
    assert choice["winner"] == 1
    assert [r["won"] for r in choice["runs"]] == [False, True, False]
    # the last value of the list is the final one, not the lowest (0.9 is not compared)
    assert [r["value"] for r in choice["runs"]] == [0.52, 0.41, 0.47]
    assert choice["why"] == (
        "run 2 (nova-ft-r2) won on final validation loss 0.41; "
        "the runner-up, run 3 (nova-ft-r3), had 0.47."
    )
    assert choice["runs"][1]["hyperParameters"] == {"epochCount": "2"}
    assert choice["runs"][1]["outcome"] == "Completed"


def test_the_validation_curves_last_point_is_preferred_to_bedrocks_list() -> None:
    job = completed(0, validationLoss=[0.5], curves={"validation": curve_last(0.3)})["job"]
    measured = measure_job(job, "validationLoss")
    assert (measured.value, measured.source) == (0.3, "validation_metrics.csv")


def test_the_training_loss_measure_picks_by_training_loss() -> None:
    runs = [
        completed(0, trainingLoss=0.2, validationLoss=[0.9]),
        completed(1, trainingLoss=0.3, validationLoss=[0.1]),
        # no trainingMetrics: the training curve's last point is the final training loss
        completed(2, curves={"training": curve_last(0.25)}),
    ]
    choice = choose_winner(sweep(3, "trainingLoss"), runs)
    assert choice["winner"] == 0
    assert [r["source"] for r in choice["runs"]] == [
        "trainingMetrics",
        "trainingMetrics",
        "step_wise_training_metrics.csv",
    ]
    assert "final training loss 0.2;" in choice["why"]
    assert "run 3 (nova-ft-r3), had 0.25" in choice["why"]


def test_a_failed_run_is_listed_with_its_outcome_and_cannot_win() -> None:
    runs = [
        failed(0),
        completed(1, validationLoss=[0.6]),
        failed(2, "CustomizationJobStopped", "stopped"),
        failed(3, "QualityGateFailed", "Training gate failed"),
    ]
    choice = choose_winner(sweep(4), runs)
    assert choice["winner"] == 1
    listing = choice["runs"]
    assert [r["outcome"] for r in listing] == [
        "Failed",
        "Completed",
        "Stopped",
        "QualityGateFailed",
    ]
    assert listing[0]["value"] is None
    assert listing[0]["noValue"] == "the run ended Failed, not Completed"
    assert listing[0]["cause"] == "out of memory"
    assert "outputModelArn" not in listing[0]
    assert choice["why"].endswith("no other run completed with a final validation loss to compare.")


def test_a_lambda_errors_cause_is_listed_by_its_message_not_its_stack_trace() -> None:
    cause = '{"errorMessage": "Customization job r1 failed: bad data", "stackTrace": ["..."]}'
    runs = [failed(0, cause=cause), completed(1, validationLoss=[0.6])]
    listing = choose_winner(sweep(2), runs)["runs"]
    assert listing[0]["cause"] == "Customization job r1 failed: bad data"


def test_a_completed_run_without_the_measure_cannot_win_and_says_why() -> None:
    runs = [
        completed(0, trainingLoss=0.1, curves={"validation": None, "problems": ["bad csv"]}),
        completed(1, validationLoss=[0.8]),
    ]
    choice = choose_winner(sweep(2), runs)
    assert choice["winner"] == 1
    first = choice["runs"][0]
    assert first["outcome"] == "Completed"
    assert first["value"] is None
    assert first["noValue"].startswith("the job reported no validation loss")
    assert "(bad csv)" in first["noValue"]


def test_a_tie_goes_to_the_lower_run_index() -> None:
    runs = [
        completed(0, validationLoss=[0.7]),
        completed(1, validationLoss=[0.4]),
        completed(2, validationLoss=[0.4]),
    ]
    choice = choose_winner(sweep(3), runs)
    assert choice["winner"] == 1
    assert choice["why"] == (
        "run 2 (nova-ft-r2) won on final validation loss 0.4, tied with run 3 (nova-ft-r3); "
        "a tie goes to the lower run index."
    )


def test_no_completed_run_with_the_measure_fails_the_sweep_naming_every_outcome() -> None:
    runs = [failed(0), failed(1, "CustomizationJobStopped", "stopped"), completed(2)]
    with pytest.raises(SweepFailed) as raised:
        choose_winner(sweep(3), runs)
    message = str(raised.value)
    assert message.startswith("No run of the sweep completed with a final validation loss")
    assert "run 1 (nova-ft-r1): Failed (out of memory)" in message
    assert "run 2 (nova-ft-r2): Stopped (stopped)" in message
    assert "run 3 (nova-ft-r3): Completed, the job reported no validation loss" in message


def test_an_unknown_measure_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown sweep measure 'evaluation'"):
        choose_winner(sweep(1, "evaluation"), [completed(0, validationLoss=[0.1])])
