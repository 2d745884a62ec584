"""Start serving the custom model: provisioned throughput or an on-demand deployment.

Both calls carry a token derived from the execution, so a retry does not buy a second
throughput. The created resource is tagged, in the create call itself, with this stack's name
and the execution (``plan.tags``): the only time its tags are set, and what cleanup and IAM
(``aws:ResourceTag``) ask for before deleting it.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common import idle_alarm, observability
from lambda_handlers.common.aws import client
from lambda_handlers.common.errors import translate_client_error
from lambda_handlers.common.observability import entry_point, logger
from lambda_handlers.common.plan import Plan
from lambda_handlers.common.polling import first_poll
from lambda_handlers.common.progress import build_serving_request

_ARN_FIELD = {
    "create_provisioned_model_throughput": "provisionedModelArn",
    "create_custom_model_deployment": "customModelDeploymentArn",
}


@entry_point("plan.executionArn")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    plan = Plan.model_validate(event["plan"])
    operation, params = build_serving_request(plan, event["job"]["outputModelArn"])
    try:
        response = getattr(client("bedrock"), operation)(**params)
    except ClientError as error:
        raise translate_client_error(error, operation) from error
    arn = response[_ARN_FIELD[operation]]
    observability.count(observability.SERVING_STARTED)
    alarm = None
    if plan.serving.mode == "provisioned-throughput":
        alarm = idle_alarm.put_idle_alarm(plan, arn)
    logger.info(
        "serving requested", extra={"mode": plan.serving.mode, "arn": arn, "idleAlarm": alarm}
    )
    return {
        "pollSeconds": first_poll("SERVING"),
        "mode": plan.serving.mode,
        "arn": arn,
        "name": plan.serving.name,
        "status": "Creating",
        "ready": False,
    }
