"""Schedule the deletion of what serving created, ``timeToLiveHours`` after it is ready.

A one-time EventBridge Scheduler schedule invokes the cleanup function with this
execution's plan at the expiry time and deletes itself afterwards. Cleanup deletes the
throughput or deployment only if it carries this execution's tag. The name and the
client token come from the execution, so a retried state schedules once.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common.aws import client
from lambda_handlers.common.errors import error_code, translate_client_error
from lambda_handlers.common.observability import entry_point, logger
from lambda_handlers.common.plan import Plan, execution_digest


def expiry_schedule(
    plan: Plan, now: datetime, target_arn: str, role_arn: str, group: str
) -> dict[str, Any]:
    """Parameters of ``CreateSchedule`` for the plan's serving time-to-live."""
    hours = plan.serving.timeToLiveHours
    if not hours:
        raise ValueError("the plan has no serving time-to-live")
    at = (now.astimezone(UTC) + timedelta(hours=hours)).replace(microsecond=0)
    digest = execution_digest(plan.executionArn, "expire")
    return {
        "Name": f"expire-{digest[:40]}",
        "GroupName": group,
        "ScheduleExpression": f"at({at.strftime('%Y-%m-%dT%H:%M:%S')})",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "Description": f"Delete {plan.serving.name} ({plan.serving.mode}) of {plan.jobName} after {hours} h",
        "Target": {
            "Arn": target_arn,
            "RoleArn": role_arn,
            "Input": json.dumps(
                {"plan": plan.model_dump(exclude_none=True), "reason": "time-to-live"}
            ),
            "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 86400},
        },
        "ClientToken": digest[:64],
    }


@entry_point("plan.executionArn")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    plan = Plan.model_validate(event["plan"])
    params = expiry_schedule(
        plan,
        datetime.now(UTC),
        os.environ["EXPIRY_TARGET_ARN"],
        os.environ["SCHEDULER_ROLE_ARN"],
        os.environ.get("SCHEDULE_GROUP", "default"),
    )
    try:
        client("scheduler").create_schedule(**params)
    except ClientError as error:
        if error_code(error) != "ConflictException":  # created by an earlier attempt
            raise translate_client_error(error, "CreateSchedule") from error
    logger.info("serving expiry scheduled", extra={"at": params["ScheduleExpression"]})
    return {
        "name": params["Name"],
        "at": params["ScheduleExpression"],
        "target": params["Target"]["Arn"],
    }
