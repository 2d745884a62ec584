"""Read a completed job's metrics files from S3, summarize them and keep them with the reports.

A file Bedrock did not write is an absent curve, not an error (training metrics come with
every job, validation metrics only with some: ``curves.py``). S3 answers ``GetObject`` on a
missing key with 403 rather than 404 when the caller may not list the bucket; a 403 is
settled by listing the key itself (``common/s3_objects.py``). A file
that is there but cannot be parsed is reported in ``problems`` and its curve left out: the
model was trained and paid for, and only a gate that needs the curve may stop it. Any other
error of S3 propagates, translated.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common.errors import translate_client_error
from lambda_handlers.common.plan import job_folder
from lambda_handlers.common.reports import put_report
from lambda_handlers.common.s3_objects import read_object
from lambda_handlers.common.settings import Settings
from lambda_handlers.evaluation.curves import (
    TRAINING_LOSS,
    VALIDATION_LOSS,
    Point,
    parse_metrics_csv,
    summarize,
    training_objects,
)

REPORT_NAME = "training-curves.json"
# Copies kept beside the report under Bedrock's own file names.
COPY_NAMES = {
    "training": "step_wise_training_metrics.csv",
    "validation": "validation_metrics.csv",
}
LOSS_COLUMNS = {"training": TRAINING_LOSS, "validation": VALIDATION_LOSS}


def _parse(name: str, body: bytes, problems: list[str]) -> list[Point] | None:
    try:
        return parse_metrics_csv(body.decode("utf-8"), LOSS_COLUMNS[name])
    except UnicodeDecodeError as error:
        problems.append(f"{COPY_NAMES[name]}: not UTF-8 text (byte {error.start})")
    except ValueError as error:
        problems.append(f"{COPY_NAMES[name]}: {error}")
    return None


def _copy(s3: Any, settings: Settings, job_name: str, name: str, body: bytes) -> str:
    key = f"{settings.reports_prefix}{job_folder(job_name)}/{COPY_NAMES[name]}"
    uri = f"s3://{settings.artifacts_bucket}/{key}"
    try:
        s3.put_object(Bucket=settings.artifacts_bucket, Key=key, Body=body, ContentType="text/csv")
    except ClientError as error:
        raise translate_client_error(error, f"PutObject {uri}") from error
    return uri


def read_curves(
    s3: Any, settings: Settings, job_name: str, output_s3_uri: str, job_arn: str
) -> dict[str, Any]:
    """The curves' summary (``curves.summarize``) with where they came from and went.

    Adds ``files`` (Bedrock's objects), ``copies`` (those copied beside the reports),
    ``problems`` (files there but unreadable) and ``report`` (the summary's own object,
    ``reports/<job folder>/training-curves.json``).
    """
    objects = training_objects(output_s3_uri, job_arn)
    curves: dict[str, list[Point] | None] = {}
    copies: dict[str, str] = {}
    problems: list[str] = []
    for name, (bucket, key) in objects.items():
        body = read_object(s3, bucket, key)
        curves[name] = None if body is None else _parse(name, body, problems)
        if body is not None:
            copies[name] = _copy(s3, settings, job_name, name, body)
    result = {
        **summarize(curves["training"], curves["validation"]),
        "files": {name: f"s3://{b}/{k}" for name, (b, k) in objects.items()},
        "copies": copies,
        "problems": problems,
    }
    result["report"] = put_report(
        s3, settings, job_name, REPORT_NAME, {"jobArn": job_arn, **result}
    )
    return result
