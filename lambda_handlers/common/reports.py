"""Reports under ``reports/<job folder>/`` of the artifacts bucket, as JSON."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common.errors import translate_client_error
from lambda_handlers.common.plan import job_folder
from lambda_handlers.common.settings import Settings


def put_report(s3: Any, settings: Settings, job_name: str, name: str, report: Any) -> str:
    """Write ``report`` as ``reports/<job folder>/<name>``; its ``s3://`` URI."""
    key = f"{settings.reports_prefix}{job_folder(job_name)}/{name}"
    uri = f"s3://{settings.artifacts_bucket}/{key}"
    try:
        s3.put_object(
            Bucket=settings.artifacts_bucket,
            Key=key,
            Body=json.dumps(report, indent=2).encode(),
            ContentType="application/json",
        )
    except ClientError as error:
        raise translate_client_error(error, f"PutObject {uri}") from error
    return uri
