"""Promote the new model onto an existing deployment or provisioned throughput.

``start_handler`` records the model the endpoint serves now (for a rollback) and asks
Bedrock to swap in the new one; ``check_handler`` reports when the endpoint serves it.
The endpoint is the user's: cleanup never deletes it, whatever happens.

Validate checked that the stack allows the target; ``start_handler`` checks again right
before the update (the target may have lost the stack's promotion tag, or a later deploy
removed it from the list, while the job trained) and refuses with ``AccessDenied``.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common.aws import client
from lambda_handlers.common.errors import AccessDenied, translate_client_error
from lambda_handlers.common.observability import entry_point, logger
from lambda_handlers.common.plan import Plan
from lambda_handlers.common.polling import first_poll, next_poll
from lambda_handlers.common.progress import promotion_request, promotion_status
from lambda_handlers.common.settings import Settings
from lambda_handlers.preflight.promotion import target_problems


def describe_target(target: dict[str, str]) -> dict[str, Any]:
    bedrock = client("bedrock")
    try:
        if target.get("customModelDeploymentArn"):
            return dict(
                bedrock.get_custom_model_deployment(
                    customModelDeploymentIdentifier=target["customModelDeploymentArn"]
                )
            )
        return dict(
            bedrock.get_provisioned_model_throughput(
                provisionedModelId=target["provisionedModelArn"]
            )
        )
    except ClientError as error:
        raise translate_client_error(error, "describe the promotion target") from error


def promote(target: dict[str, str], model_arn: str) -> dict[str, Any]:
    """Swap ``model_arn`` onto ``target``; returns the model it served before. (Also the
    command line's ``promote``, by an operator's own credentials: no stack policy there.)"""
    previous = describe_target(target).get("modelArn")
    operation, params = promotion_request(target, model_arn)
    try:
        getattr(client("bedrock"), operation)(**params)
    except ClientError as error:
        raise translate_client_error(error, operation) from error
    return {
        "target": next(iter(target.values())),
        "previousModelArn": previous,
        "modelArn": model_arn,
        "done": False,
    }


@entry_point("plan.executionArn")
def start_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    plan = Plan.model_validate(event["plan"])
    assert plan.promoteTo is not None
    refused = target_problems(plan.promoteTo, Settings.from_env().policy, client("bedrock"))
    if refused:
        raise AccessDenied(f"not promoted: {refused[0]}")
    result = promote(plan.promoteTo, event["job"]["outputModelArn"])
    logger.info("promotion requested", extra=result)
    return {**result, "pollSeconds": first_poll("SERVING")}


@entry_point("plan.executionArn")
def check_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    plan = Plan.model_validate(event["plan"])
    assert plan.promoteTo is not None
    status = promotion_status(
        plan.promoteTo, describe_target(plan.promoteTo), event["job"]["outputModelArn"]
    )
    return {
        **event["promotion"],
        "done": status["done"],
        "serving": status["serving"],
        "pollSeconds": next_poll("SERVING", event["promotion"].get("pollSeconds")),
    }
