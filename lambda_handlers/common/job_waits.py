"""The event-driven wait for a customization job: where an execution leaves its task token,
and which Bedrock events may resume it.

An execution waiting for its job parks a task token under ``job-waits/`` in the artifacts
bucket, keyed by a digest of the job's ARN (one job per execution; a later park for the same
job replaces the token). Bedrock announces each job state change on EventBridge
(``aws.bedrock`` / ``Model Customization Job State Change``, the status at
``detail.jobStatus``); for an end state the relay reads the token and resumes the execution.
The event only wakes the execution: the next state reads the job with
GetModelCustomizationJob, which is the truth, so an event that is stale, repeated or out of
order cannot end a wait wrongly. Delivery is best effort: a lost event is made up for by the
wait's timeout (the safety poll).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

WAITS_PREFIX = "job-waits/"
EVENT_SOURCE = "aws.bedrock"
EVENT_DETAIL_TYPE = "Model Customization Job State Change"
END_STATUSES = ("Completed", "Failed", "Stopped")
"""The job statuses that end a wait (``InProgress`` and ``Stopping`` do not)."""
# What Step Functions answers SendTaskSuccess for a token whose task no longer waits: it
# was resumed already (a repeated event), timed out (the safety poll took over), or its
# execution ended. Nothing to do then.
TOKEN_GONE = ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken")


def wait_key(job_arn: str) -> str:
    """Where the token of the execution waiting for ``job_arn`` is kept."""
    return f"{WAITS_PREFIX}{hashlib.sha256(job_arn.encode()).hexdigest()[:40]}.json"


def parked(task_token: str, job_arn: str, execution_arn: str, at: str) -> bytes:
    """The object a park writes."""
    return json.dumps(
        {"taskToken": task_token, "jobArn": job_arn, "executionArn": execution_arn, "parkedAt": at}
    ).encode()


@dataclass(frozen=True)
class JobEvent:
    """What the relay needs of one Bedrock job state change."""

    job_arn: str
    status: str
    time: str

    def ends_wait(self) -> bool:
        return self.status in END_STATUSES


def job_event(event: Any) -> JobEvent | None:
    """The job state change in an EventBridge event, or None if the event is not one (a
    rule edited by hand, a test event): never an exception, so such an event is not retried."""
    if not isinstance(event, dict) or event.get("source") != EVENT_SOURCE:
        return None
    if event.get("detail-type") != EVENT_DETAIL_TYPE:
        return None
    detail = event.get("detail")
    if not isinstance(detail, dict):
        return None
    job_arn, status = detail.get("jobArn"), detail.get("jobStatus")
    if not isinstance(job_arn, str) or not isinstance(status, str):
        return None
    return JobEvent(job_arn, status, str(event.get("time", "")))


def wake_output(status: str, via: str, at: str) -> str:
    """What the waiting task receives (at ``$.jobEvent``): the status seen and by what."""
    return json.dumps({"jobStatus": status, "via": via, "at": at})
