"""A sweep, offline: the synthesized state machine trains each run in its Map with the real
handlers, one run's job fails, the best of the others by the chosen measure is served, the
losers' models are deleted, and every run is in the output. A sweep that cannot be paid for, or
with a set out of range, stops before anything is submitted, naming the set."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.fake_bedrock import FakeBedrock
from tests.e2e.harness import OfflineWorkflow
from tests.e2e.requests import error_message, request_for

RATES = [0.00001, 0.00002, 0.00005]
# Run 2 (0.00002) fails; of the others run 3 has the lower validation loss (and the higher
# training loss, so the measure decides).
LOSSES = {0: (0.30, 0.61), 2: (0.35, 0.48)}


def run_index(job: dict[str, Any]) -> int:
    return int(job["jobName"].rsplit("-r", 1)[1]) - 1


def sweep_request(workflow: OfflineWorkflow, **sweep: Any) -> dict[str, Any]:
    return request_for(
        workflow,
        serving={"mode": "provisioned-throughput"},
        sweep={"runs": [{"learningRate": r} for r in RATES], "maxConcurrency": 2, **sweep},
    )


def test_a_sweep_serves_the_best_run_and_deletes_the_losers_models(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    # Run 1 reads InProgress twice (no event for that: its safety poll parks it again), run 2
    # fails, run 3 ends as soon as it is parked.
    scripts = {0: ["InProgress", "InProgress", "Completed"], 1: ["InProgress", "Failed"]}
    bedrock.job_script = lambda job: scripts.get(run_index(job))
    bedrock.job_losses = lambda job: LOSSES[run_index(job)]

    execution = workflow.run(sweep_request(workflow), timeout=120)

    assert execution.status == "SUCCEEDED", execution.cause
    states = execution.entered_states()
    assert states[:4] == ["Validate request", "Sweep?", "Train the runs", "Submit run"]
    assert "Submit customization job" not in states
    assert states.count("Run safety poll") == 1
    # One job per run, each submitted once with its own settings, name and token.
    creates = [p for op, p in bedrock.calls if op == "CreateModelCustomizationJob"]
    assert sorted(p["hyperParameters"]["learningRate"] for p in creates) == sorted(
        str(r) for r in ("1e-05", "2e-05", "5e-05")
    )
    assert (
        len({p["jobName"] for p in creates}) == len({p["clientRequestToken"] for p in creates}) == 3
    )
    assert all(p["hyperParameters"]["epochCount"] == "2" for p in creates), "the request's own"

    output = execution.output
    assert output is not None
    sweep = output["sweep"]
    assert sweep["winner"] == 2, sweep["why"]
    listed = {run["index"]: run for run in sweep["runs"]}
    assert set(listed) == {0, 1, 2}
    assert listed[1]["outcome"] == "Failed" and "line 7" in listed[1]["cause"]
    assert listed[2]["won"] and not listed[0]["won"] and not listed[1]["won"]
    # The winner's job is the one served.
    winner_job = output["job"]
    assert winner_job["jobName"].endswith("-r3")
    [throughput] = bedrock.throughputs.values()
    assert throughput["modelArn"] == winner_job["outputModelArn"]
    # The losers: the completed one's model deleted; the failed one made none.
    [loser] = [j for j in bedrock.jobs.values() if run_index(j) == 0]
    assert bedrock.deleted_models == [bedrock._model_arn(loser)]
    assert bedrock.running_jobs() == []
    [message] = workflow.notifications()
    assert message["outcome"] == "SUCCEEDED"
    # The notification lists every run and says why the winner won.
    assert message["sweep"]["winner"] == 2
    assert [r["outcome"] for r in message["sweep"]["runs"]] == ["Completed", "Failed", "Completed"]
    assert "won on final validation loss 0.48" in message["sweep"]["why"]


def test_a_sweep_where_every_run_fails_ends_in_cleanup(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    bedrock.job_statuses = ["InProgress", "Failed"]
    execution = workflow.run(sweep_request(workflow), timeout=120)

    assert execution.status == "FAILED"
    assert execution.error == "SweepFailed"
    assert "Clean up" in execution.entered_states()
    assert bedrock.throughputs == {}


@pytest.mark.parametrize(
    ("sweep", "named"),
    [
        (
            {"runs": [{"learningRate": 0.00001}, {"learningRate": 5.0}]},
            "sweep.runs[1].learningRate",
        ),
        ({"grid": {"learningRate": [0.00001, 5.0]}}, "sweep.grid.learningRate[1]"),
    ],
)
def test_a_set_out_of_range_stops_the_sweep_before_anything_is_submitted(
    workflow: OfflineWorkflow, bedrock: FakeBedrock, sweep: dict[str, Any], named: str
) -> None:
    request = request_for(workflow, sweep=sweep)
    execution = workflow.run(request)

    assert execution.status == "FAILED"
    assert execution.error == "RequestInvalid"
    assert named in error_message(execution)
    assert bedrock.calls == [] or "CreateModelCustomizationJob" not in bedrock.operations()


def test_a_sweep_over_the_cost_ceiling_stops_before_anything_is_submitted(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    from tests.e2e.test_prices_file import llama_request, refused_before_submit

    # One Llama run of 2 epochs is $0.0298 (tests/e2e/test_prices_file.py); the ceiling holds
    # the sum of the runs: 2, 3 and 4 epochs, $0.134 in all, over $0.10.
    request = llama_request(
        workflow,
        maxTrainingCostUsd=0.10,
        sweep={"runs": [{"epochCount": 2}, {"epochCount": 3}, {"epochCount": 4}]},
    )
    message = refused_before_submit(workflow.run(request), bedrock)
    assert "the sweep of 3 runs" in message
    assert "exceeds the ceiling of $0.1" in message
    assert "the most expensive run is run 3" in message
