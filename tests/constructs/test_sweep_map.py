"""A sweep's runs in the template: the Map over the plan's runs with each run's plan merged in,
its concurrency from the plan, every run submitted and followed by the same functions as the one
job, a run's failure kept inside its iteration, and the winner's job handed on as $.job."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import synthesize
from tests.e2e.harness import state_machine_definition


@pytest.fixture(scope="module")
def states(synthesized) -> dict[str, Any]:
    return state_machine_definition(synthesized.template)["States"]  # type: ignore[no-any-return]


def test_a_sweep_goes_to_the_map_and_a_single_job_does_not(states) -> None:
    choice = states["Sweep?"]
    [when] = choice["Choices"]
    assert when == {"Variable": "$.plan.sweep", "IsPresent": True, "Next": "Train the runs"}
    assert choice["Default"] == "Submit customization job"


def test_each_iteration_gets_the_plan_with_its_run_merged_in(states) -> None:
    runs = states["Train the runs"]
    assert runs["Type"] == "Map"
    assert runs["ItemsPath"] == "$.plan.sweep.runs"
    assert runs["MaxConcurrencyPath"] == "$.plan.sweep.maxConcurrency"
    assert runs["ItemSelector"] == {"plan.$": "States.JsonMerge($.plan, $$.Map.Item.Value, false)"}
    assert runs["ResultPath"] == "$.runs"
    assert runs["Next"] == "Choose the winner"
    assert runs["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Clean up"}
    ]


def test_a_runs_failure_stays_in_its_iteration(states) -> None:
    inner = states["Train the runs"]["ItemProcessor"]
    assert inner["StartAt"] == "Submit run"
    run_states = inner["States"]
    # Every error of the run's tasks ends the iteration as "Run failed", never cleanup.
    for name in ("Submit run", "Check run status"):
        nexts = {c["Next"] for c in run_states[name]["Catch"]}
        assert nexts <= {"Run failed", "Run left running"}, name
    assert run_states["Run left running"]["Next"] == "Run failed"
    assert run_states["Run failed"]["End"] is True
    assert run_states["Run failed"]["Parameters"] == {"plan.$": "$.plan", "error.$": "$.error"}
    assert run_states["Run finished"]["Parameters"] == {"plan.$": "$.plan", "job.$": "$.job"}
    # The same functions as the one job's states, by event with the safety poll.
    for run, single in (
        ("Submit run", "Submit customization job"),
        ("Wait for run event", "Wait for job event"),
        ("Check run status", "Check job status"),
    ):
        assert _function(run_states[run]) == _function(states[single]), run
        assert run_states[run]["Retry"] == states[single]["Retry"], run
    assert run_states["Wait for run event"]["TimeoutSeconds"] == 30 * 60


def _function(task: dict[str, Any]) -> str:
    """The function a Lambda task invokes (in its Resource, or its parameters' FunctionName)."""
    return str(task.get("Parameters", {}).get("FunctionName") or task["Resource"])


def test_the_winners_job_is_handed_on_as_the_one_jobs(states) -> None:
    assert states["Choose the winner"]["ResultPath"] == "$.sweep"
    assert states["Choose the winner"]["Next"] == "The winner's job"
    winner = states["The winner's job"]
    assert (winner["InputPath"], winner["ResultPath"]) == ("$.sweep.job", "$.job")
    assert winner["Next"] == states["Job completed?"]["Choices"][0]["Next"] == "Serve the model?"


def test_the_stack_limits_reach_validate(synthesized) -> None:
    [env] = [
        r["Properties"]["Environment"]["Variables"]
        for r in synthesized.template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"]["Handler"] == "lambda_handlers.validate_request.handler"
    ]
    assert (env["MAX_SWEEP_RUNS"], env["MAX_SWEEP_CONCURRENCY"]) == ("8", "2")


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"maxSweepRuns": "21"}, "max_sweep_runs must be a whole number from 2 to 20"),
        ({"maxSweepConcurrency": "9"}, "max_sweep_concurrency must be a whole number from 1 to 8"),
        ({"maxSweepRuns": "2.5"}, "context maxSweepRuns: expected a whole number"),
    ],
)
def test_sweep_limits_out_of_range_are_refused_by_name(tmp_path_factory, context, message) -> None:
    result = synthesize(tmp_path_factory.mktemp("cdk.out.sweep"), context)
    assert result.error is not None and message in result.error
