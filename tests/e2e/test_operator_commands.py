"""The operator's commands on executions of the synthesized state machine run offline: the
documents ``status``, ``list``, ``stop`` and ``report`` read are the real workflow's (its
result paths, its reports), not a stand-in's, and its abort cleanup is what ``stop`` waits
for."""

from __future__ import annotations

import html
import json
import threading
from pathlib import Path
from typing import Any

import boto3
import pytest

from lambda_handlers.cli import run_commands
from lambda_handlers.evaluation.curves import training_objects
from tests.cli.helpers import cells, run
from tests.cli.report_sample import training_csv, validation_csv
from tests.e2e.fake_bedrock import REGION, FakeBedrock
from tests.e2e.harness import OfflineWorkflow
from tests.e2e.requests import request_for
from tests.e2e.test_workflow import evaluated_request


def put_metrics(output: dict[str, Any]) -> None:
    """The metrics files Bedrock writes under the job's output when it completes."""
    s3 = boto3.client("s3", region_name=REGION)
    places = training_objects(output["plan"]["outputDataConfig"]["s3Uri"], output["job"]["jobArn"])
    for role, text in (("training", training_csv()), ("validation", validation_csv())):
        bucket, key = places[role]
        s3.put_object(Bucket=bucket, Key=key, Body=text.encode())


def test_status_list_and_report_read_a_real_execution(
    workflow: OfflineWorkflow, bedrock: FakeBedrock, runtime: Any, tmp_path: Path
) -> None:
    request = evaluated_request(workflow, {"metric": "exact_match", "minImprovement": 0.5})
    execution = workflow.run(request, name="evaluated")
    assert execution.status == "SUCCEEDED", execution.cause
    put_metrics(execution.output)
    [deployment] = bedrock.deployments.values()

    code, out, err = run("status", execution.arn, "--json")
    assert code == 0, err
    snap = json.loads(out)
    assert snap["status"] == "SUCCEEDED"
    assert snap["job"]["status"] == "Completed"
    assert snap["found"]["serving"]["arn"] == deployment["customModelDeploymentArn"]
    assert snap["found"]["customModel"]["arn"] == execution.output["job"]["outputModelArn"]
    assert [i["what"] for i in snap["costs"]["items"]] == ["on-demand deployment", "custom model"]

    code, out, err = run("list", "--state-machine-arn", workflow.state_machine_arn)
    assert code == 0, err
    assert cells(out, "evaluated")[1] == "SUCCEEDED"

    folder = tmp_path / "report"
    code, out, err = run("report", execution.arn, "--out", str(folder))
    assert code == 0, err
    names = {p.name for p in folder.iterdir()}
    assert {
        "data-validation.json",
        "evaluation.json",
        "evaluation.csv",
        "loss-curves.png",
        "step_wise_training_metrics.csv",
        "validation_metrics.csv",
    } <= names
    page = (folder / "index.html").read_text()
    assert "Quality gate passed" in page
    assert page.count("<tr>") > 20, "the per-record table of the 20 test records"


def test_stop_waits_for_the_stacks_abort_cleanup(
    workflow: OfflineWorkflow, bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    bedrock.job_statuses = ["InProgress"]  # trains until stopped
    slow = workflow.create_state_machine("SlowPolling", wait_seconds=1)
    request = request_for(workflow, serving={"mode": "provisioned-throughput"})
    arn = workflow.start_execution(request, name="to-be-stopped", state_machine_arn=slow)
    looks = 0
    while not bedrock.jobs:  # the job exists once Submit has run
        looks += 1
        assert looks < 1500, "the job was never submitted"
        threading.Event().wait(0.02)

    cleaned = threading.Event()

    def sleep(_: float) -> None:
        # EventBridge's part: the ABORTED status change reaches the abort cleanup, once.
        if not cleaned.is_set():
            assert workflow.wait(arn).status == "ABORTED"
            workflow.deliver_status_change(arn, "ABORTED", request, stateMachineArn=slow)
            cleaned.set()

    monkeypatch.setattr(run_commands, "sleep", sleep)
    code, out, err = run("stop", arn, "--interval", "1")
    assert code == 0, err
    [job_arn] = bedrock.jobs
    assert f"removed: job {job_arn} (InProgress)" in out
    assert out.splitlines()[-1] == "nothing of it runs or bills by the hour any more"
    assert bedrock.running_jobs() == []


def real_sweep(workflow: OfflineWorkflow, bedrock: FakeBedrock) -> Any:
    """A finished offline sweep of three runs: run 2's job fails, run 3 wins."""
    from tests.e2e.test_sweep import LOSSES, run_index, sweep_request

    scripts = {0: ["InProgress", "Completed"], 1: ["InProgress", "Failed"]}
    bedrock.job_script = lambda job: scripts.get(run_index(job))
    bedrock.job_losses = lambda job: LOSSES[run_index(job)]
    execution = workflow.run(sweep_request(workflow), name="swept", timeout=120)
    assert execution.status == "SUCCEEDED", execution.cause
    return execution


def test_report_draws_every_run_of_a_real_sweep(
    workflow: OfflineWorkflow, bedrock: FakeBedrock, tmp_path: Path
) -> None:
    execution = real_sweep(workflow, bedrock)
    sweep = execution.output["sweep"]
    for listed in sweep["runs"]:
        if listed.get("jobArn"):  # Bedrock writes metrics files for the jobs that completed
            put_metrics({"plan": execution.output["plan"], "job": {"jobArn": listed["jobArn"]}})

    folder = tmp_path / "report"
    code, _, err = run("report", execution.arn, "--out", str(folder))
    assert code == 0, err
    names = {p.name for p in folder.iterdir()}
    assert {"loss-curves.png", "sweep-loss-curves.png"} <= names
    assert sorted(n for n in names if n.startswith("run-")) == [
        "run-1-step_wise_training_metrics.csv",
        "run-1-validation_metrics.csv",
        "run-3-step_wise_training_metrics.csv",
        "run-3-validation_metrics.csv",
    ]
    page = (folder / "index.html").read_text()
    assert html.escape(sweep["why"]) in page
    failed = sweep["runs"][1]["jobName"]
    assert f"run 2 ({failed}): no curve" in page
    assert page.count('src="data:image/png;base64,') == 2


def test_status_and_cleanup_list_every_run_of_a_real_sweep(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    execution = real_sweep(workflow, bedrock)
    from tests.e2e.test_sweep import run_index

    jobs = {run_index(j): j for j in bedrock.jobs.values()}

    code, out, err = run("status", execution.arn, "--json")
    assert code == 0, err
    found = json.loads(out)["found"]
    # The sweep's own job name is never submitted: each run's job is listed instead.
    assert found["job"] is None
    assert [(r["arn"], r["status"]) for r in found["runs"]] == [
        (jobs[0]["jobArn"], "Completed"),
        (jobs[1]["jobArn"], "Failed"),
        (jobs[2]["jobArn"], "Completed"),
    ]
    assert found["customModel"]["arn"] == execution.output["job"]["outputModelArn"]

    code, out, err = run("cleanup", execution.arn, "--dry-run")
    assert code == 0, err
    assert cells(out, "run 2") == ["run 2", jobs[1]["jobArn"], "Failed", jobs[1]["jobName"]]
