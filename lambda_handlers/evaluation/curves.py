"""Training and validation loss curves from the metrics files a customization job writes.

When a job completes, Bedrock writes under its output ``s3Uri`` (user guide, "Analyze the
results of a model customization job")::

    model-customization-job-<id>/training_artifacts/step_wise_training_metrics.csv
    model-customization-job-<id>/validation_artifacts/post_fine_tuning_validation/validation_metrics.csv

with the columns ``step_number`` (from 0), ``epoch_number``, ``training_loss`` (the
validation file: ``validation_loss``) and ``perplexity``. The guide says training metrics
come with every customization job and validation metrics only with some, so a job may
write one file or neither: a missing curve is ``None`` here, never an error.

Pure: no AWS call, importable anywhere (the Check job function, the command line).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Any

TRAINING_LOSS = "training_loss"
VALIDATION_LOSS = "validation_loss"
STEP = "step_number"
EPOCH = "epoch_number"

TRAINING_FILE = "training_artifacts/step_wise_training_metrics.csv"
VALIDATION_FILE = "validation_artifacts/post_fine_tuning_validation/validation_metrics.csv"

# Characters some tools put into headers that are not part of a name: a byte-order mark
# (also in the middle, when files were concatenated), zero-width spaces and joiners.
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060\xa0"), None)
# A loss cell that says "not measured": skipped (and counted), not an error.
_UNMEASURED = {"", "nan", "-nan", "+nan", "null", "none", "n/a", "na"}


@dataclass(frozen=True)
class Point:
    """One row of a metrics file: the step (from 0), its epoch, the loss there."""

    step: int
    epoch: int
    loss: float


class Curve(list[Point]):
    """The points of one metrics file, in file order; ``skipped``: rows with no loss.

    A ``list[Point]`` (so it can be used as one), carrying how many rows had an empty,
    ``nan`` or infinite loss cell.
    """

    skipped: int = 0


def _header_name(cell: str) -> str:
    return cell.translate(_INVISIBLE).strip().strip('"').strip().lower()


def _whole_number(value: str, column: str, line: int) -> int:
    text = value.translate(_INVISIBLE).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if math.isfinite(number) and number == int(number):
        return int(number)
    raise ValueError(f"line {line}: {column} is {value!r}, not a whole number")


def _loss(value: str, column: str, line: int) -> float | None:
    text = value.translate(_INVISIBLE).strip()
    if text.lower() in _UNMEASURED:
        return None
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"line {line}: {column} is {value!r}, not a number") from None
    return number if math.isfinite(number) else None


def parse_metrics_csv(text: str, loss_column: str) -> list[Point]:
    """The points of a metrics file, as Bedrock (or a user's tool) writes it.

    Accepts a UTF-8 byte-order mark, CRLF line ends, blank lines, extra and reordered
    columns, header names in any case with stray spaces, quotes or zero-width characters, and
    the header repeated further down (files joined end to end).
    Rows whose ``loss_column`` cell is empty, ``nan`` or infinite are skipped and counted
    (the result is a :class:`Curve`, whose ``skipped`` says how many).

    Raises ``ValueError`` naming the column and the columns found when ``step_number``,
    ``epoch_number`` or ``loss_column`` is missing, and naming the line (1 = the header)
    and the value for a cell that is not a number or a row too short to hold the columns.
    """
    wanted = {STEP: -1, EPOCH: -1, loss_column.lower(): -1}
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header: list[str] | None = None
    for row in reader:
        if any(cell.strip() for cell in row):
            header = [_header_name(cell) for cell in row]
            break
    found = ", ".join(header) if header else "none (the file is empty)"
    for name in wanted:
        if header is None or name not in header:
            raise ValueError(f"the metrics file has no {name!r} column (columns found: {found})")
        wanted[name] = header.index(name)
    step_at, epoch_at, loss_at = wanted.values()
    needed = max(wanted.values()) + 1
    curve = Curve()
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if [_header_name(cell) for cell in row] == header:
            continue  # the header again: files joined end to end
        line = reader.line_num
        if len(row) < needed:
            raise ValueError(
                f"line {line}: {len(row)} cell(s) {row!r}, the header needs {needed} "
                f"for {', '.join(wanted)}"
            )
        loss = _loss(row[loss_at], loss_column, line)
        step = _whole_number(row[step_at], STEP, line)
        epoch = _whole_number(row[epoch_at], EPOCH, line)
        if loss is None:
            curve.skipped += 1
            continue
        curve.append(Point(step, epoch, loss))
    return curve


def _point(point: Point) -> dict[str, Any]:
    return {"step": point.step, "epoch": point.epoch, "loss": point.loss}


def _curve_summary(points: list[Point]) -> dict[str, Any]:
    """``points``/``skipped``, distinct ``steps`` and ``epochs``, first, last, best (lowest)."""
    return {
        "points": len(points),
        "skipped": getattr(points, "skipped", 0),
        "steps": len({p.step for p in points}),
        "epochs": len({p.epoch for p in points}),
        "first": _point(points[0]) if points else None,
        "last": _point(points[-1]) if points else None,
        # The first of equal minima: the earliest step that reached the best loss.
        "best": _point(min(points, key=lambda p: p.loss)) if points else None,
    }


def rises_at_end(points: list[Point]) -> int:
    """How many of the last evaluations each had a higher loss than the one before."""
    rises = 0
    for before, after in zip(reversed(points[:-1]), reversed(points[1:]), strict=True):
        if after.loss <= before.loss:
            break
        rises += 1
    return rises


def summarize(training: list[Point] | None, validation: list[Point] | None) -> dict[str, Any]:
    """A JSON-ready summary of both curves; an absent curve (``None``) is ``None`` in it.

    ``{"training": S | None, "validation": S | None, "validationRising": int | None}``
    where each ``S`` is ``{"points", "skipped", "steps", "epochs", "first", "last", "best"}``:
    ``points`` rows with a loss, ``skipped`` rows without one, ``steps`` and ``epochs`` the
    distinct step and epoch numbers among the points, and ``first``, ``last`` (file order)
    and ``best`` (lowest loss, earliest on a tie) each ``{"step", "epoch", "loss"}`` or
    ``None`` for a file with no measured row. ``validationRising`` counts the consecutive
    rises at the end of the validation curve (0 when the last evaluation did not rise;
    ``None`` with no validation curve).
    """
    return {
        "training": None if training is None else _curve_summary(training),
        "validation": None if validation is None else _curve_summary(validation),
        "validationRising": None if validation is None else rises_at_end(validation),
    }


def training_objects(output_s3_uri: str, job_arn: str) -> dict[str, tuple[str, str]]:
    """``{"training": (bucket, key), "validation": (bucket, key)}`` of a job's metrics files.

    ``output_s3_uri`` is the job's ``outputDataConfig.s3Uri`` (with or without a trailing
    ``/``); the job's id is the last path segment of ``job_arn``.
    """
    if not output_s3_uri.startswith("s3://"):
        raise ValueError(f"the job's output location {output_s3_uri!r} is not an s3:// URI")
    bucket, _, prefix = output_s3_uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise ValueError(f"the job's output location {output_s3_uri!r} names no bucket")
    job_id = job_arn.rstrip("/").rpartition("/")[2]
    if not job_arn.startswith("arn:") or "/" not in job_arn or not job_id:
        raise ValueError(
            f"{job_arn!r} is not a customization job ARN (arn:...:model-customization-job/.../<id>)"
        )
    folder = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    folder += f"model-customization-job-{job_id}/"
    return {
        "training": (bucket, folder + TRAINING_FILE),
        "validation": (bucket, folder + VALIDATION_FILE),
    }
