"""Read the status of what start_serving created; raises ``ServingFailed`` on Failed."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common.aws import client
from lambda_handlers.common.errors import translate_client_error
from lambda_handlers.common.observability import entry_point, logger
from lambda_handlers.common.polling import next_poll
from lambda_handlers.common.progress import summarize_serving


@entry_point("plan.executionArn")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    mode, arn = event["serving"]["mode"], event["serving"]["arn"]
    bedrock = client("bedrock")
    try:
        if mode == "provisioned-throughput":
            response = bedrock.get_provisioned_model_throughput(provisionedModelId=arn)
        else:
            response = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)
    except ClientError as error:
        raise translate_client_error(error, "GetServingStatus") from error
    summary = summarize_serving(mode, response)
    # Back off: creating throughput or a deployment takes minutes, sometimes much longer.
    summary["pollSeconds"] = next_poll("SERVING", event["serving"].get("pollSeconds"))
    logger.info("serving status", extra={"status": summary["status"]})
    return summary
