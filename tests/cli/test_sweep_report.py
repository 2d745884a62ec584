"""``report`` on a sample finished sweep (three runs, run 2 failed without a job, runs 1 and 3
with metrics files in moto's S3): every run's files, all runs' curves on one PNG opened as an
image, and the page's Sweep section read as Chromium renders it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.cli.helpers import run
from tests.cli.report_sample import training_csv
from tests.cli.runs_helpers import (
    LLAMA,
    REGION,
    expect_no,
    expect_throughput,
    offline,  # noqa: F401  (a fixture, used by name)
    planned,
    run_stand_in,
)
from tests.cli.sweep_sample import (
    FAILURE,
    put_sweep,
    run_job_arn,
    run_training_csv,
    sweep_request,
)
from tests.cli.test_run_report import colours, headless, near
from tests.factories import NOW

pytestmark = pytest.mark.usefixtures("offline")
# matplotlib's tab10, one colour per run by its index.
RUN_1, RUN_2, RUN_3 = (0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E), (0x2C, 0xA0, 0x2C)
STYLE_KEY = (0x44, 0x44, 0x44)  # the legend's training/validation line style key


def finished_sweep(stub: Any, name: str = "sweep-1") -> tuple[str, dict[str, Any]]:
    request = sweep_request()
    plan = planned(name, request)
    documents = put_sweep(boto3.client("s3", region_name=REGION), plan)
    arn = run_stand_in(name, request, documents, end="succeed")
    bedrock = stub("bedrock")
    # The sweep plan's own job name was never submitted: each run has its own.
    for _ in range(2):  # the job now, and the inventory
        expect_no(bedrock, "get_model_customization_job", {"jobIdentifier": plan.jobName})
    expect_run_jobs(bedrock, plan)
    expect_throughput(bedrock, plan)
    # The winner's model (run 3's), which the inventory lists as the model that exists.
    winner_model = documents["job"]["outputModelArn"]
    bedrock.add_response(
        "get_custom_model",
        {
            "modelArn": winner_model,
            "modelName": f"{plan.customModelName}-r3",
            "creationTime": NOW,
            "baseModelArn": f"arn:aws:bedrock:{REGION}::foundation-model/{LLAMA}",
        },
        {"modelIdentifier": winner_model},
    )
    return arn, documents


def expect_run_jobs(bedrock: Any, plan: Any, submitted: tuple[int, ...] = (0, 2)) -> None:
    """The inventory looks for each run's job by its name: runs 1 and 3 were submitted and
    completed, run 2 failed before its job existed."""
    from lambda_handlers.cleanup import run_plan
    from tests.factories import job_description

    for i, each in enumerate(plan.sweep.runs):
        if i not in submitted:
            expect_no(bedrock, "get_model_customization_job", {"jobIdentifier": each.jobName})
            continue
        described = job_description(run_plan(plan, each.model_dump()), "Completed")
        described["jobArn"] = run_job_arn(i)
        bedrock.add_response(
            "get_model_customization_job", described, {"jobIdentifier": each.jobName}
        )


def test_a_sweep_report_keeps_every_runs_files_and_draws_all_runs(
    stub: Any, tmp_path: Path
) -> None:
    arn, documents = finished_sweep(stub)
    out_dir = tmp_path / "report"
    code, _, err = run("report", arn, "--out", str(out_dir))
    assert code == 0, err
    names = sorted(p.name for p in out_dir.iterdir())
    assert [n for n in names if n.startswith("run-")] == [
        "run-1-step_wise_training_metrics.csv",
        "run-1-validation_metrics.csv",
        "run-3-step_wise_training_metrics.csv",
        "run-3-validation_metrics.csv",
    ], "run 2 failed without a job: nothing of it to download"
    assert (out_dir / "run-3-step_wise_training_metrics.csv").read_text() == run_training_csv(2)
    # The single-job plot stays, drawn from the winner's files (run 3's).
    assert (out_dir / "step_wise_training_metrics.csv").read_text() == run_training_csv(2)
    assert (out_dir / "step_wise_training_metrics.csv").read_text() != training_csv()
    assert "loss-curves.png" in names and "sweep-loss-curves.png" in names

    from PIL import Image

    with Image.open(out_dir / "sweep-loss-curves.png") as image:
        assert image.format == "PNG" and image.size == (1000, 560)
    found = colours(out_dir / "sweep-loss-curves.png")
    assert len(found) > 50, "a drawing, not a blank image"
    drawn = [c for c in (RUN_1, RUN_3, STYLE_KEY) if near(c, found)]
    assert drawn == [RUN_1, RUN_3, STYLE_KEY], "both runs' colours and the style key"
    assert not near(RUN_2, found), "the failed run has no curve"

    page = (out_dir / "index.html").read_text()
    assert page.count('src="data:image/png;base64,') == 2, "both plots embedded"
    assert not re.search(r"<(script|link|iframe)\b", page)
    assert documents["sweep"]["winner"] == 2


def test_the_sweep_section_renders_in_chromium(stub: Any, tmp_path: Path, chromium: str) -> None:
    arn, documents = finished_sweep(stub)
    out_dir = tmp_path / "report"
    assert run("report", arn, "--out", str(out_dir))[0] == 0
    page = out_dir / "index.html"
    dom = headless(chromium, page, tmp_path, "--dump-dom").stdout
    text = " ".join(re.sub(r"<[^>]+>", " ", dom).split())
    why = documents["sweep"]["why"]
    names = [r["jobName"] for r in documents["sweep"]["runs"]]
    for expected in (
        "Sweep",
        why,
        "run job name settings outcome final validation loss won",
        f"1 {names[0]} epochCount=2, learningRate=1e-05 Completed 0.632644",
        f"2 {names[1]} epochCount=2, learningRate=2e-05 Failed -",
        f"3 {names[2]} epochCount=2, learningRate=5e-05 Completed 0.501885 winner",
        f"run 2 ({names[1]}): {FAILURE}",
        f"run 2 ({names[1]}): no curve: the run ended Failed without a job to read metrics from",
        f"The loss curves below are the winner's, run 3 ({names[2]}).",
        "Loss curves",
    ):
        assert expected in text, expected
    assert text.index(why) < text.index("Loss curves") < text.index("Evaluation against")
    assert f"run 1 ({names[0]}): no curve" not in text


def test_a_run_whose_job_wrote_no_files_is_named_without_a_curve(stub: Any, tmp_path: Path) -> None:
    arn, documents = finished_sweep(stub, "sweep-2")
    s3 = boto3.client("s3", region_name=REGION)
    from lambda_handlers.evaluation.curves import training_objects

    uri = documents["plan"]["outputDataConfig"]["s3Uri"]
    for bucket, key in training_objects(uri, run_job_arn(0)).values():
        s3.delete_object(Bucket=bucket, Key=key)
    out_dir = tmp_path / "report"
    code, _, err = run("report", arn, "--out", str(out_dir))
    assert code == 0, err
    page = (out_dir / "index.html").read_text()
    name = documents["sweep"]["runs"][0]["jobName"]
    assert f"run 1 ({name}): no curve: its job wrote no metrics files" in page
    assert not (out_dir / "run-1-step_wise_training_metrics.csv").exists()
    assert not near(RUN_1, colours(out_dir / "sweep-loss-curves.png"))


def test_an_execution_without_a_sweep_gets_no_sweep_section(stub: Any, tmp_path: Path) -> None:
    from tests.cli.test_run_report import finished_run

    arn = finished_run(stub)
    out_dir = tmp_path / "report"
    assert run("report", arn, "--out", str(out_dir))[0] == 0
    page = (out_dir / "index.html").read_text()
    assert "<h2>Sweep</h2>" not in page and "sweep-loss-curves.png" not in page
    assert not [p for p in out_dir.iterdir() if p.name.startswith(("run-", "sweep-"))]
    assert page.count('src="data:image/png;base64,') == 1


def test_a_sweep_without_a_winner_lists_its_runs_from_the_plan(stub: Any, tmp_path: Path) -> None:
    request = sweep_request()
    plan = planned("sweep-3", request)
    documents = put_sweep(boto3.client("s3", region_name=REGION), plan)
    # What a sweep whose choice failed leaves: the Map's results, no $.sweep, no $.job.
    del documents["sweep"], documents["job"], documents["serving"], documents["evaluation"]
    arn = run_stand_in("sweep-3", request, documents, end="fail")
    bedrock = stub("bedrock")
    for _ in range(2):
        expect_no(bedrock, "get_model_customization_job", {"jobIdentifier": plan.jobName})
    expect_run_jobs(bedrock, plan)
    expect_no(
        bedrock, "get_provisioned_model_throughput", {"provisionedModelId": plan.serving.name}
    )
    out_dir = tmp_path / "report"
    code, _, err = run("report", arn, "--out", str(out_dir))
    assert code == 0, err
    page = (out_dir / "index.html").read_text()
    assert "No run won: the sweep has not chosen a winner." in page
    names = [r.jobName for r in plan.sweep.runs]
    for number, name, outcome in ((1, names[0], "Completed"), (2, names[1], "Failed")):
        assert f"<td>{name}</td><td>epochCount=2, learningRate=" in page
        assert f'<td class="num">{number}</td><td>{name}</td>' in page
        assert outcome in page
    assert "<td>winner</td>" not in page and "the winner's" not in page
    assert "sweep-loss-curves.png" in {p.name for p in out_dir.iterdir()}
    assert f"run 2 ({names[1]}): no curve" in page
