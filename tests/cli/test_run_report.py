"""``report`` on a sample finished execution (moto S3 holding the job's metrics files and the
workflow's reports, moto's Step Functions running a stand-in, Bedrock through the strict
Stubber): the files, the curve PNG opened as an image, and ``index.html`` rendered by headless
Chromium (Debian's package) and checked by its text and a screenshot."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
from PIL import Image

from lambda_handlers.cli import report_page
from lambda_handlers.evaluation.curves import (
    TRAINING_LOSS,
    VALIDATION_LOSS,
    parse_metrics_csv,
)
from tests.cli.helpers import error_line, run
from tests.cli.report_sample import put_sample, training_csv, validation_csv
from tests.cli.runs_helpers import (
    MODEL_ARN,
    PT_ARN,
    REGION,
    expect_job,
    expect_model,
    expect_throughput,
    llama_request,
    offline,  # noqa: F401  (a fixture, used by name)
    planned,
    run_stand_in,
)

pytestmark = pytest.mark.usefixtures("offline")
ROOT = Path(__file__).resolve().parents[2]
README_CURVE = ROOT / "docs" / "report-curve.png"
BLUE, RED = (0x1F, 0x77, 0xB4), (0xD6, 0x27, 0x28)  # the training and validation lines


def finished_run(stub: Any, name: str = "run-1", *, metrics: bool = True) -> str:
    plan = planned(name)
    documents = put_sample(boto3.client("s3", region_name=REGION), plan, metrics=metrics)
    arn = run_stand_in(name, llama_request(), documents, end="succeed")
    bedrock = stub("bedrock")
    expect_job(bedrock, plan, "Completed")
    expect_job(bedrock, plan, "Completed")
    expect_throughput(bedrock, plan)
    expect_model(bedrock, plan)
    return arn


def colours(path: Path) -> set[tuple[int, int, int]]:
    with Image.open(path) as image:
        found = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
    return {colour for _, colour in found}


def near(colour: tuple[int, int, int], found: set[tuple[int, int, int]]) -> bool:
    return any(sum(abs(a - b) for a, b in zip(colour, c, strict=True)) <= 12 for c in found)


def headless(
    chromium: str, page: Path, tmp_path: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


def test_report_writes_the_files_the_curve_and_one_page(stub: Any, tmp_path: Path) -> None:
    arn = finished_run(stub)
    out_dir = tmp_path / "report"
    code, out, err = run("report", arn, "--out", str(out_dir))
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "data-validation.json",
        "evaluation.csv",
        "evaluation.json",
        "index.html",
        "loss-curves.png",
        "request.json",
        "step_wise_training_metrics.csv",
        "training-curves.json",
        "validation_metrics.csv",
    ]
    assert (out_dir / "step_wise_training_metrics.csv").read_bytes() == training_csv().encode()
    assert out.splitlines()[-1] == f"open {out_dir / 'index.html'}"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report-")]
    umask = os.umask(0)
    os.umask(umask)
    assert out_dir.stat().st_mode & 0o777 == 0o777 & ~umask, "a folder as mkdir makes it"

    with Image.open(out_dir / "loss-curves.png") as image:
        assert image.format == "PNG" and image.size == (800, 450)
    found = colours(out_dir / "loss-curves.png")
    assert len(found) > 50, "a drawing, not a blank image"
    assert near(BLUE, found) and near(RED, found), "both curves are drawn"

    page = (out_dir / "index.html").read_text()
    assert not re.search(r"<(script|link|iframe)\b", page), "nothing fetched, nothing run"
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)


def test_the_page_renders_in_chromium_with_its_text_and_pictures(
    stub: Any, tmp_path: Path, chromium: str
) -> None:
    arn = finished_run(stub)
    out_dir = tmp_path / "report"
    assert run("report", arn, "--out", str(out_dir))[0] == 0
    page = out_dir / "index.html"

    dom = headless(chromium, page, tmp_path, "--dump-dom").stdout
    text = " ".join(re.sub(r"<[^>]+>", " ", dom).split())
    for expected in (
        "Customization report: support-triage-v1 SUCCEEDED",
        "What still exists, and its cost by the hour",
        f"provisioned throughput {PT_ARN} $24.0000",
        f"custom model {MODEL_ARN} $0.0027",
        "Now: $24.00 an hour.",
        "Loss curves",
        "training best 110 1 0.3160",  # the lowest training loss: step 110, epoch 1
        "validation last 119 1 0.5696",
        "The validation loss rose in each of the last 2 evaluations.",
        "Evaluation against the base model",
        "4 test records, both models on the same references.",
        "exact_match 0.2500 1.0000 +0.7500",
        "t-3 The app crashes &lt;on start&gt;. technical an error technical",
        "VALID: 480 training records, 40 validation",
        "warning: duplicate-record x 2",
        '"customModelName": "support-triage-v1"',
    ):
        assert expected in text, expected
    assert 'src="data:image/png;base64,' in dom

    shot = tmp_path / "page.png"
    headless(chromium, page, tmp_path, f"--screenshot={shot}", "--window-size=1200,1600")
    with Image.open(shot) as image:
        assert image.size == (1200, 1600)
    found = colours(shot)
    assert len(found) > 50, "the page is drawn, not a single colour"
    assert near(BLUE, found) and near(RED, found), "the curves are on the screen"


def test_a_job_without_metrics_files_still_gets_its_page(stub: Any, tmp_path: Path) -> None:
    arn = finished_run(stub, "run-2", metrics=False)
    out_dir = tmp_path / "report"
    code, _, err = run("report", arn, "--out", str(out_dir))
    assert code == 0, err
    assert not (out_dir / "loss-curves.png").exists()
    page = (out_dir / "index.html").read_text()
    assert "no training metrics file: the job did not write one (yet)" in page
    assert "Evaluation against the base model" in page


def test_a_folder_with_files_is_refused_without_force(stub: Any, tmp_path: Path) -> None:
    out_dir = tmp_path / "report"
    out_dir.mkdir()
    (out_dir / "index.html").write_text("mine")
    (out_dir / "notes.txt").write_text("keep me")
    code, out, err = run(
        "report", "arn:aws:states:us-east-1:123456789012:execution:x:y", "--out", str(out_dir)
    )
    assert (code, out) == (2, "")
    assert "exists and is not empty; give --force" in error_line(err)
    assert (out_dir / "index.html").read_text() == "mine"

    arn = finished_run(stub)
    code, _, err = run("report", arn, "--out", str(out_dir), "--force")
    assert code == 0, err
    assert "Customization report" in (out_dir / "index.html").read_text()
    assert (out_dir / "notes.txt").read_text() == "keep me", "only the report's files are replaced"


def test_a_rejected_execution_reports_that_nothing_was_created(tmp_path: Path) -> None:
    arn = run_stand_in("bad-1", {"not": "a request"}, {}, end="fail")
    code, _, err = run("report", arn, "--out", str(tmp_path / "r"))
    assert code == 0, err
    page = (tmp_path / "r" / "index.html").read_text()
    assert "Nothing: the request was rejected before anything was created." in page


def test_the_readme_curve_is_the_sample_drawn_by_the_report() -> None:
    drawn = report_page.draw_curves(
        {
            "training": parse_metrics_csv(training_csv(), TRAINING_LOSS),
            "validation": parse_metrics_csv(validation_csv(), VALIDATION_LOSS),
        }
    )
    assert drawn is not None
    if os.environ.get("UPDATE_README_CURVE"):
        README_CURVE.write_bytes(drawn)
    with Image.open(README_CURVE) as shown:
        assert shown.size == (800, 450)
    assert near(BLUE, colours(README_CURVE)) and near(RED, colours(README_CURVE))
    assert "docs/report-curve.png" in (ROOT / "README.md").read_text()


def test_an_out_folder_that_cannot_be_made_is_named_never_its_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stub: Any
) -> None:
    code, _, err = run("report", "run-1", "--out", str(tmp_path / "missing" / "report"))
    assert code == 2
    assert f"the folder {tmp_path / 'missing'} does not exist" in error_line(err)

    arn = finished_run(stub)

    def refuse(*args: Any, **kwargs: Any) -> str:
        raise PermissionError(13, "Permission denied", str(tmp_path / ".report-x1y2z3"))

    monkeypatch.setattr("tempfile.mkdtemp", refuse)
    code, _, err = run("report", arn, "--out", str(tmp_path / "report"))
    assert code == 3
    line = error_line(err)
    assert f"{tmp_path / 'report'}: permission denied" in line and ".report-" not in line
