"""Choose the winner serves the best run's job and deletes the losing runs' models, each only
once its tags say it is this stack's and this execution's; a model left alone or a delete
refused is a problem with the command that deletes it, and the winner is served all the same.
Cleanup of a sweep stops each run's job still running, and leaves the finished ones."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambda_handlers import cleanup, sweep_winner
from lambda_handlers.common.errors import SweepFailed
from lambda_handlers.common.notification import compose
from lambda_handlers.common.plan import EXECUTION_TAG, STACK_TAG
from tests.factories import (
    EXECUTION_ARN,
    JOB_ARN,
    MODEL_ARN,
    NOW,
    fine_tuning_request,
    job_description,
    plan_for,
)
from tests.handlers.test_cleanup import OURS

ANOTHER_EXECUTION = {
    "tags": [
        {"key": STACK_TAG, "value": "BedrockCustomization"},
        {"key": EXECUTION_TAG, "value": EXECUTION_ARN.replace("run-1", "run-2")},
    ]
}


def model(i: int) -> str:
    return MODEL_ARN.replace("fedcba654321", f"fedcba65432{i}")


def job_arn(i: int) -> str:
    return JOB_ARN.replace("abcdef123456", f"abcdef12345{i}")


def sweep_request(n: int = 3, **sweep: Any) -> dict[str, Any]:
    runs = [{"epochCount": i + 1} for i in range(n)]
    return fine_tuning_request(sweep={"runs": runs, **sweep})


def completed(plan: Any, i: int, loss: float) -> dict[str, Any]:
    run = plan.sweep.runs[i]
    job = {
        "status": "Completed",
        "jobArn": job_arn(i),
        "jobName": run.jobName,
        "stages": {},
        "outputModelArn": model(i),
        "outputModelName": run.customModelName,
        "validationLoss": [loss],
    }
    return {"plan": {**plan.model_dump(), **run.model_dump()}, "job": job}


def failed(plan: Any, i: int) -> dict[str, Any]:
    run = plan.sweep.runs[i]
    error = {"Error": "CustomizationJobFailed", "Cause": "Customization job failed: bad data"}
    return {"plan": {**plan.model_dump(), **run.model_dump()}, "error": error}


def event(plan: Any, runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"plan": plan.model_dump(), "runs": runs}


# -- choosing, and deleting the losers' models -------------------------------------------------


def test_the_winner_is_served_and_the_losers_models_are_deleted(stub, lambda_context) -> None:
    plan = plan_for(sweep_request(4))
    runs = [completed(plan, 0, 0.5), completed(plan, 1, 0.4), failed(plan, 2)]
    runs.append(completed(plan, 3, 0.45))
    bedrock = stub("bedrock")
    for i in (0, 3):  # in run order; the failed run made no model, the winner is kept
        bedrock.add_response("list_tags_for_resource", OURS, {"resourceARN": model(i)})
        bedrock.add_response("delete_custom_model", {}, {"modelIdentifier": model(i)})
    result = sweep_winner.handler(event(plan, runs), lambda_context)
    assert result["winner"] == 1
    assert result["job"] == runs[1]["job"]
    assert result["deletedModels"] == [model(0), model(3)]
    assert result["problems"] == []
    assert [r["outcome"] for r in result["runs"]] == [
        "Completed",
        "Completed",
        "Failed",
        "Completed",
    ]
    assert result["why"].startswith(f"run 2 ({plan.sweep.runs[1].jobName}) won")
    json.dumps(result)  # the state's output


def test_keep_losers_keeps_every_model(stub, lambda_context) -> None:
    plan = plan_for(sweep_request(2, keepLosers=True))
    stub("bedrock")  # no call is stubbed: any tag read or delete would fail the test
    result = sweep_winner.handler(
        event(plan, [completed(plan, 0, 0.3), completed(plan, 1, 0.2)]), lambda_context
    )
    assert result["winner"] == 1
    assert result["deletedModels"] == [] and result["problems"] == []


def test_a_losers_model_without_this_executions_tag_is_left_alone_and_named(
    stub, lambda_context
) -> None:
    plan = plan_for(sweep_request(2))
    bedrock = stub("bedrock")
    bedrock.add_response("list_tags_for_resource", ANOTHER_EXECUTION, {"resourceARN": model(1)})
    # No delete is stubbed: a DeleteCustomModel call would fail the test.
    result = sweep_winner.handler(
        event(plan, [completed(plan, 0, 0.3), completed(plan, 1, 0.9)]), lambda_context
    )
    assert result["winner"] == 0 and result["job"]["outputModelArn"] == model(0)
    assert result["deletedModels"] == []
    assert result["problems"] == [
        {
            "resource": "custom model",
            "arn": model(1),
            "action": "left alone",
            "error": f"it has this execution's name ({plan.sweep.runs[1].customModelName}) but "
            "not its tag, so another execution or a person created it; not deleted",
            "command": None,
        }
    ]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("AccessDeniedException", "not authorized to perform bedrock:DeleteCustomModel"),
        ("ConflictException", "The model is in use by a provisioned throughput"),
        ("ThrottlingException", "Rate exceeded"),
    ],
)
def test_a_refused_delete_is_a_problem_with_its_command_and_the_winner_is_served(
    stub, lambda_context, code: str, message: str
) -> None:
    plan = plan_for(sweep_request(3))
    bedrock = stub("bedrock")
    bedrock.add_response("list_tags_for_resource", OURS, {"resourceARN": model(0)})
    bedrock.add_client_error("delete_custom_model", code, message)
    bedrock.add_response("list_tags_for_resource", OURS, {"resourceARN": model(2)})
    bedrock.add_response("delete_custom_model", {}, {"modelIdentifier": model(2)})
    runs = [completed(plan, 0, 0.5), completed(plan, 1, 0.1), completed(plan, 2, 0.7)]
    result = sweep_winner.handler(event(plan, runs), lambda_context)
    assert result["winner"] == 1
    assert result["deletedModels"] == [model(2)]
    assert result["problems"] == [
        {
            "resource": "custom model",
            "arn": model(0),
            "action": "delete",
            "error": f"{code}: {message}",
            "command": f"aws bedrock delete-custom-model --model-identifier {model(0)}",
        }
    ]


def test_a_losers_model_already_gone_is_no_problem(stub, lambda_context) -> None:
    plan = plan_for(sweep_request(2))
    bedrock = stub("bedrock")
    bedrock.add_client_error("list_tags_for_resource", "ResourceNotFoundException", "not found")
    result = sweep_winner.handler(
        event(plan, [completed(plan, 0, 0.3), completed(plan, 1, 0.9)]), lambda_context
    )
    assert result["deletedModels"] == [] and result["problems"] == []


def gated_out(plan: Any, i: int) -> dict[str, Any]:
    run = plan.sweep.runs[i]
    error = {"Error": "QualityGateFailed", "Cause": "Training gate failed: loss 0.9 above 0.5"}
    return {"plan": {**plan.model_dump(), **run.model_dump()}, "error": error}


def test_a_run_that_missed_the_training_gate_lost_and_its_model_is_deleted(
    stub, lambda_context
) -> None:
    plan = plan_for(sweep_request(2, measure="trainingLoss"))
    name = {"modelIdentifier": plan.sweep.runs[0].customModelName}
    bedrock = stub("bedrock")
    bedrock.add_response("get_custom_model", custom_model(plan, 0), name)
    bedrock.add_response("list_tags_for_resource", OURS, {"resourceARN": model(0)})
    bedrock.add_response("delete_custom_model", {}, {"modelIdentifier": model(0)})
    runs = [gated_out(plan, 0), completed(plan, 1, 0.4)]
    runs[1]["job"]["trainingLoss"] = 0.4
    result = sweep_winner.handler(event(plan, runs), lambda_context)
    assert result["winner"] == 1
    assert result["runs"][0]["outcome"] == "QualityGateFailed"
    assert result["deletedModels"] == [model(0)] and result["problems"] == []


def test_a_gated_out_runs_model_is_kept_when_the_gate_keeps_it(stub, lambda_context) -> None:
    gate = {"maxTrainingLoss": 0.5, "keepModelOnGateFailure": True}
    plan = plan_for({**sweep_request(2, measure="trainingLoss"), "trainingGate": gate})
    stub("bedrock")  # nothing stubbed: looking for the kept model would fail the test
    runs = [gated_out(plan, 0), completed(plan, 1, 0.4)]
    runs[1]["job"]["trainingLoss"] = 0.4
    result = sweep_winner.handler(event(plan, runs), lambda_context)
    assert result["deletedModels"] == [] and result["problems"] == []


def test_a_gated_out_run_without_a_model_is_no_problem(stub, lambda_context) -> None:
    plan = plan_for(sweep_request(2, measure="trainingLoss"))
    name = {"modelIdentifier": plan.sweep.runs[0].customModelName}
    stub("bedrock").add_client_error(
        "get_custom_model", "ResourceNotFoundException", "not found", 404, name
    )
    runs = [gated_out(plan, 0), completed(plan, 1, 0.4)]
    runs[1]["job"]["trainingLoss"] = 0.4
    result = sweep_winner.handler(event(plan, runs), lambda_context)
    assert result["deletedModels"] == [] and result["problems"] == []


def custom_model(plan: Any, i: int) -> dict[str, Any]:
    """GetCustomModel of run ``i``'s model."""
    run = plan.sweep.runs[i]
    return {
        "modelArn": model(i),
        "modelName": run.customModelName,
        "jobArn": job_arn(i),
        "baseModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0:300k",
        "creationTime": NOW,
    }


def test_a_sweep_without_a_winner_fails_and_deletes_nothing(stub, lambda_context) -> None:
    plan = plan_for(sweep_request(2))
    stub("bedrock")
    with pytest.raises(SweepFailed, match=r"run 1 \(.*-r1\): Failed .*run 2 \(.*-r2\): Failed"):
        sweep_winner.handler(event(plan, [failed(plan, 0), failed(plan, 1)]), lambda_context)


# -- cleanup of a sweep: every run's job still running is stopped ------------------------------


def run_job(plan: Any, i: int, status: str, **extra: Any) -> dict[str, Any]:
    """GetModelCustomizationJob of run ``i``'s job."""
    run = plan.sweep.runs[i]
    answer = job_description(
        plan, status, **{"clientRequestToken": run.clientRequestToken, **extra}
    )
    answer.update(jobArn=job_arn(i), jobName=run.jobName, outputModelName=run.customModelName)
    if status == "Completed":
        answer["outputModelArn"] = model(i)
    return answer


def expect_runs(bedrock: Any, plan: Any, statuses: list[str | None]) -> None:
    """Each run's job read by its name; those InProgress stopped, in run order."""
    for i, status in enumerate(statuses):
        name = {"jobIdentifier": plan.sweep.runs[i].jobName}
        if status is None:
            bedrock.add_client_error(
                "get_model_customization_job", "ResourceNotFoundException", "none", 404, name
            )
            continue
        bedrock.add_response("get_model_customization_job", run_job(plan, i, status), name)
        if status == "InProgress":
            bedrock.add_response("stop_model_customization_job", {}, {"jobIdentifier": job_arn(i)})


def test_cleanup_of_a_sweep_stops_each_running_runs_job_and_leaves_the_finished(
    stub, lambda_context
) -> None:
    plan = plan_for(sweep_request(4))
    bedrock = stub("bedrock")
    expect_runs(bedrock, plan, ["InProgress", "Completed", None, "InProgress"])
    report = cleanup.handler({"plan": plan.model_dump(exclude_none=True)}, lambda_context)
    assert report["stoppedJobs"] == [job_arn(0), job_arn(3)]
    assert report["stoppedJob"] is None
    assert report["problems"] == [] and report["deleted"] == []


def test_cleanup_of_a_sweep_leaves_running_the_runs_the_workflow_could_not_follow(
    stub, lambda_context
) -> None:
    # Run 1 could not be read (JobUnreachable: a failure of ours, the job may be fine) and was
    # left running; run 2 failed on its own; no run won, so the sweep failed into cleanup.
    plan = plan_for(sweep_request(3))
    bedrock = stub("bedrock")
    for i, status in ((1, "Failed"), (2, "InProgress")):
        name = {"jobIdentifier": plan.sweep.runs[i].jobName}
        bedrock.add_response("get_model_customization_job", run_job(plan, i, status), name)
    bedrock.add_response("stop_model_customization_job", {}, {"jobIdentifier": job_arn(2)})
    runs = [{"plan": {"jobName": plan.sweep.runs[0].jobName}, "error": {"Error": "JobUnreachable"}}]
    state = {"plan": plan.model_dump(), "runs": runs, "error": {"Error": "SweepFailed"}}
    report = cleanup.handler(state, lambda_context)
    assert report["stoppedJobs"] == [job_arn(2)], "run 1's job is never read, never stopped"
    assert report["jobLeftRunning"] == plan.sweep.runs[0].jobName


def test_cleanup_of_a_sweep_never_stops_a_runs_job_of_another_execution(
    stub, lambda_context
) -> None:
    plan = plan_for(sweep_request(2))
    bedrock = stub("bedrock")
    name = {"jobIdentifier": plan.sweep.runs[0].jobName}
    theirs = run_job(plan, 0, "InProgress", clientRequestToken="job-another")
    bedrock.add_response("get_model_customization_job", theirs, name)
    second = {"jobIdentifier": plan.sweep.runs[1].jobName}
    bedrock.add_response("get_model_customization_job", run_job(plan, 1, "InProgress"), second)
    bedrock.add_response("stop_model_customization_job", {}, {"jobIdentifier": job_arn(1)})
    report = cleanup.handler({"plan": plan.model_dump()}, lambda_context)
    assert report["stoppedJobs"] == [job_arn(1)]


def test_a_runs_job_that_cannot_be_stopped_is_named_and_the_next_runs_are_still_stopped(
    stub, lambda_context
) -> None:
    plan = plan_for(sweep_request(2))
    bedrock = stub("bedrock")
    first = {"jobIdentifier": plan.sweep.runs[0].jobName}
    bedrock.add_response("get_model_customization_job", run_job(plan, 0, "InProgress"), first)
    bedrock.add_client_error("stop_model_customization_job", "AccessDeniedException", "denied")
    second = {"jobIdentifier": plan.sweep.runs[1].jobName}
    bedrock.add_response("get_model_customization_job", run_job(plan, 1, "InProgress"), second)
    bedrock.add_response("stop_model_customization_job", {}, {"jobIdentifier": job_arn(1)})
    report = cleanup.handler({"plan": plan.model_dump()}, lambda_context)
    assert report["stoppedJobs"] == [job_arn(1)]
    assert report["problems"] == [
        {
            "resource": "customization job",
            "arn": job_arn(0),
            "action": "stop",
            "error": "AccessDeniedException: denied",
            "command": f"aws bedrock stop-model-customization-job --job-identifier {job_arn(0)}",
        }
    ]


def test_the_abort_cleanup_of_a_sweep_stops_each_running_runs_job_in_both_passes(
    stub, lambda_context, monkeypatch
) -> None:
    monkeypatch.setenv("STRAGGLER_WAIT_SECONDS", "35")
    monkeypatch.setattr(cleanup, "wait", lambda seconds: None)
    published: list[dict[str, Any]] = []
    monkeypatch.setattr(cleanup, "publish", lambda topic, outcome, s: published.append(s) or "m")
    request = sweep_request(3)
    plan = plan_for(request)
    bedrock = stub("bedrock")
    expect_runs(bedrock, plan, ["InProgress", "Failed", "Completed"])  # the stop of run 1
    expect_runs(bedrock, plan, [None, None, "InProgress"])  # run 3 submitted late, stopped
    detail = {"executionArn": EXECUTION_ARN, "status": "ABORTED", "input": json.dumps(request)}
    report = cleanup.abort_handler({"detail": detail}, lambda_context)
    assert report["stoppedJobs"] == [job_arn(0), job_arn(2)]
    [sent] = published
    text = compose("ABORTED", sent)[1]
    assert f"Cleaned up: {job_arn(0)}, {job_arn(2)}" in text


def test_the_cleanup_leaves_every_runs_job_running_when_the_workflow_could_not_read_them(
    stub, lambda_context
) -> None:
    plan = plan_for(sweep_request(2))
    stub("bedrock")  # no job is read or stopped
    state = {"plan": plan.model_dump(), "error": {"Error": "JobUnreachable", "Cause": "..."}}
    report = cleanup.handler(state, lambda_context)
    assert report["jobLeftRunning"] == ", ".join(r.jobName for r in plan.sweep.runs)
    assert "stoppedJobs" not in report


def test_the_cleanup_command_names_each_runs_job_it_stopped() -> None:
    from lambda_handlers.cli.operator_commands import _removed_lines

    removed = {"stoppedJob": None, "stoppedJobs": [job_arn(0), job_arn(2)], "deleted": []}
    assert _removed_lines({**removed, "problems": []}) == [f"removed: {job_arn(0)}, {job_arn(2)}"]
