"""``report``: an execution's files downloaded, its loss curves drawn, and one page.

The files the execution stored are found where the workflow put them: the job's metrics
files under its output location (``evaluation.curves.training_objects``), and the reports in
the job's reports folder (``reports/<job folder>/`` of the artifacts bucket, the folder of
the data report whose URI Validate's output carries): ``data-validation.json``,
``test-set-validation.json``, ``training-curves.json``, ``evaluation.json`` and
``evaluation.csv``. A file the execution did not write (a job that never finished, no
evaluation) is left out and the page says so. A sweep's runs are added by ``report_sweep``:
each run's metrics files and one plot of all runs' curves; the curves drawn here are the
winner's, the job at ``$.job``.

Everything is written into a temporary folder beside ``--out`` first and moved in at the
end, so an interrupted or failed report leaves nothing half-written. The page embeds the
PNG as a ``data:`` URI and its style inline: it is one file that opens anywhere, offline.
matplotlib is imported only here, with the Agg backend: no display is needed.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.cli.errors import UsageError
from lambda_handlers.common.leftovers import is_not_found
from lambda_handlers.common.request import split_s3_uri
from lambda_handlers.evaluation import curves

CURVE_PNG = "loss-curves.png"
METRICS_FILES = {
    "training": "step_wise_training_metrics.csv",
    "validation": "validation_metrics.csv",
}
"""The names Bedrock gives the metrics files, kept in the report folder."""
REPORT_FILES = (
    "data-validation.json",
    "test-set-validation.json",
    "training-curves.json",  # Check job status's summary of the curves
    "evaluation.json",
    "evaluation.csv",
)
MAX_RECORD_ROWS = 500
"""Rows of the per-record table shown on the page; the CSV beside it has all of them."""


def check_target(out: str, *, force: bool) -> Path:
    """``--out``: a folder that does not exist yet, an empty one, or any with ``--force``."""
    target = Path(out)
    if target.exists() and not target.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder; give a folder")
    if not target.absolute().parent.is_dir():
        raise UsageError(
            f"--out {out}: the folder {target.absolute().parent} does not exist; create it or "
            "choose another"
        )
    if target.is_dir() and any(target.iterdir()) and not force:
        raise UsageError(
            f"--out {out} exists and is not empty; give --force to write into it, or another folder"
        )
    return target


# --- the files --------------------------------------------------------------------------


def _get(s3: Any, bucket: str, key: str) -> bytes | None:
    """The object's bytes; ``None`` when it does not exist."""
    try:
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as error:
        if is_not_found(error) or error.response.get("Error", {}).get("Code") == "NoSuchKey":
            return None
        raise


def _job_arn(read: dict[str, Any]) -> str | None:
    if read["job"] and read["job"].get("jobArn"):
        return str(read["job"]["jobArn"])
    job = (read["where"]["document"] or {}).get("job") or {}
    return job.get("jobArn") if isinstance(job, dict) else None


def download(read: dict[str, Any], s3: Any) -> dict[str, bytes]:
    """What the execution stored, by the file name it gets in the report folder."""
    files: dict[str, bytes] = {}
    plan, document = read["plan"], read["where"]["document"] or {}
    job_arn = _job_arn(read)
    if plan is not None and job_arn:
        places = curves.training_objects(plan.outputDataConfig["s3Uri"], job_arn)
        for role, (bucket, key) in places.items():
            body = _get(s3, bucket, key)
            if body is not None:
                files[METRICS_FILES[role]] = body
    report_uri = ((document.get("dataset") or {}).get("reportUri")) or ""
    if report_uri.startswith("s3://"):
        bucket, key = split_s3_uri(report_uri)
        folder = key.rpartition("/")[0]
        for name in REPORT_FILES:
            body = _get(s3, bucket, f"{folder}/{name}")
            if body is not None:
                files[name] = body
    return files


# --- the curves -------------------------------------------------------------------------


def read_curves(files: dict[str, bytes]) -> tuple[dict[str, list[curves.Point] | None], list[str]]:
    """Both curves (``None`` where the job wrote no file) and what could not be read."""
    found: dict[str, list[curves.Point] | None] = {"training": None, "validation": None}
    notes: list[str] = []
    columns = {"training": curves.TRAINING_LOSS, "validation": curves.VALIDATION_LOSS}
    for role, column in columns.items():
        body = files.get(METRICS_FILES[role])
        if body is None:
            notes.append(f"no {role} metrics file: the job did not write one (yet)")
            continue
        try:
            found[role] = curves.parse_metrics_csv(body.decode("utf-8", "replace"), column)
        except ValueError as error:
            notes.append(f"the {role} metrics file cannot be read: {error}")
    return found, notes


def draw_curves(found: dict[str, list[curves.Point] | None]) -> bytes | None:
    """Training and validation loss against the step, as PNG bytes; ``None`` with no point."""
    if not any(found.values()):
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4.5), dpi=100)
    axes = figure.add_subplot()
    styles = {"training": ("#1f77b4", ""), "validation": ("#d62728", "o")}
    for role, points in found.items():
        if points:
            color, marker = styles[role]
            axes.plot(
                [p.step for p in points],
                [p.loss for p in points],
                label=f"{role} loss",
                color=color,
                marker=marker or None,
                linewidth=1.5,
            )
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.set_title("Training and validation loss")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


# --- writing ----------------------------------------------------------------------------


def write_report(target: Path, read: dict[str, Any], snap: dict[str, Any], s3: Any) -> list[str]:
    """Download, draw and write the page into ``target``; the names written."""
    from lambda_handlers.cli.report_html import page
    from lambda_handlers.cli.report_sweep import collect

    files = download(read, s3)
    sweep, sweep_files = collect(read, s3)  # (None, {}) without a sweep
    files.update(sweep_files)
    found, notes = read_curves(files)
    png = draw_curves(found)
    request = read["described"].get("input") or "{}"
    try:
        files["request.json"] = (json.dumps(json.loads(request), indent=2) + "\n").encode()
    except ValueError:
        files["request.json"] = request.encode()
    if png is not None:
        files[CURVE_PNG] = png
    summary = curves.summarize(found["training"], found["validation"])
    files["index.html"] = page(read, snap, files, summary, notes, sweep).encode()
    _commit(target, files)
    return sorted(files)


def _commit(target: Path, files: dict[str, bytes]) -> None:
    """Write every file into a temporary folder beside ``target``, then move them in."""
    parent = target.absolute().parent
    try:
        staging = Path(tempfile.mkdtemp(prefix=".report-", dir=parent))
    except OSError as error:  # named by --out, never by the temporary folder's name
        raise OSError(error.errno, error.strerror, str(target)) from error
    try:
        for name, body in files.items():
            (staging / name).write_bytes(body)
        if not target.exists():
            umask = os.umask(0)
            os.umask(umask)
            staging.chmod(0o777 & ~umask)  # mkdtemp's folder is the owner's only
            os.rename(staging, target)
            return
        for name in files:
            os.replace(staging / name, target / name)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def evaluation_rows(files: dict[str, bytes]) -> list[dict[str, str]]:
    """The per-record rows of ``evaluation.csv``."""
    body = files.get("evaluation.csv")
    if body is None:
        return []
    return list(csv.DictReader(io.StringIO(body.decode("utf-8", "replace"), newline="")))


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def escape(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)
