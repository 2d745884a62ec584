"""Completion by event: park the execution's task token, and resume it on Bedrock's event.

``park_handler`` runs as the ``Wait for job event`` task (``.waitForTaskToken``): it leaves
the token where the relay finds it, then reads the job once, so a job that ended before the
token was parked (its event already gone by) wakes the execution at once.

``relay_handler`` is the target of the EventBridge rule on Bedrock's job state changes for
this stack's service role: for an end state it resumes the execution waiting for that job.
An event for a job nobody waits for, a repeated one (its token already used), or one that
arrives after the safety poll took over is logged and dropped; the woken execution reads
the job itself (``check_job``), so a stale or out-of-order event cannot end a wait wrongly.
See ``lambda_handlers/common/job_waits.py``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common.aws import client
from lambda_handlers.common.errors import error_code, translate_client_error
from lambda_handlers.common.job_waits import (
    END_STATUSES,
    TOKEN_GONE,
    job_event,
    parked,
    wait_key,
    wake_output,
)
from lambda_handlers.common.observability import entry_point, logger
from lambda_handlers.common.s3_objects import read_object
from lambda_handlers.common.settings import Settings


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _wake(task_token: str, status: str, via: str) -> bool:
    """Resume the waiting task; False if it no longer waits (resumed, timed out, ended)."""
    try:
        client("stepfunctions").send_task_success(
            taskToken=task_token, output=wake_output(status, via, _now())
        )
    except ClientError as error:
        if error_code(error) in TOKEN_GONE:
            logger.info("the task no longer waits", extra={"code": error_code(error)})
            return False
        raise translate_client_error(error, "SendTaskSuccess") from error
    return True


@entry_point("executionArn")
def park_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """``{"taskToken", "jobArn", "executionArn"}`` -> where the token was left, and the
    job's status when it was read after."""
    job_arn, token = event["jobArn"], event["taskToken"]
    settings = Settings.from_env()
    key = wait_key(job_arn)
    try:
        client("s3").put_object(
            Bucket=settings.artifacts_bucket,
            Key=key,
            Body=parked(token, job_arn, event["executionArn"], _now()),
            ContentType="application/json",
        )
    except ClientError as error:
        uri = f"s3://{settings.artifacts_bucket}/{key}"
        raise translate_client_error(error, f"PutObject {uri}") from error
    try:
        job = client("bedrock").get_model_customization_job(jobIdentifier=job_arn)
    except ClientError as error:
        raise translate_client_error(error, "GetModelCustomizationJob") from error
    status = job["status"]
    woken = status in END_STATUSES and _wake(token, status, "park")
    logger.info("parked", extra={"key": key, "status": status, "woken": woken})
    return {"parked": key, "status": status, "woken": woken}


def _waiting_token(bucket: str, key: str) -> str | None:
    """The token parked under ``key``, or None if no execution waits there."""
    body = read_object(client("s3"), bucket, key)
    token = json.loads(body).get("taskToken") if body is not None else None
    return token if isinstance(token, str) and token else None


@entry_point("detail.jobArn")
def relay_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """An EventBridge event -> ``{"resumed": bool, "why": ...}``."""
    change = job_event(event)
    if change is None:
        logger.warning("not a Bedrock job state change", extra={"event": str(event)[:500]})
        return {"resumed": False, "why": "not a Bedrock job state change"}
    if not change.ends_wait():
        return {"resumed": False, "why": f"{change.status} ends no wait"}
    settings = Settings.from_env()
    token = _waiting_token(settings.artifacts_bucket, wait_key(change.job_arn))
    if token is None:
        logger.info("no execution waits for this job", extra={"jobArn": change.job_arn})
        return {"resumed": False, "why": "no execution waits for this job"}
    if not _wake(token, change.status, "event"):
        return {"resumed": False, "why": "the execution no longer waits for this job"}
    logger.info("resumed", extra={"jobArn": change.job_arn, "status": change.status})
    return {"resumed": True, "why": change.status}
