"""Publish the execution's outcome to the stack's SNS topic.

Event: ``{"outcome": "SUCCEEDED" | "FAILED", "state": <the execution's state>}``.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common.aws import client
from lambda_handlers.common.errors import translate_client_error
from lambda_handlers.common.notification import compose, sns_message
from lambda_handlers.common.observability import entry_point, logger
from lambda_handlers.common.settings import Settings


def publish(topic_arn: str, outcome: str, state: dict[str, Any]) -> str:
    subject, text, detail = compose(outcome, state)
    try:
        response = client("sns").publish(
            TopicArn=topic_arn,
            Subject=subject,
            Message=sns_message(text, detail),
            MessageStructure="json",
            MessageAttributes={
                "outcome": {"DataType": "String", "StringValue": outcome},
                "jobName": {
                    "DataType": "String",
                    "StringValue": str(detail.get("jobName") or "none"),
                },
            },
        )
    except ClientError as error:
        raise translate_client_error(error, "SNS Publish") from error
    return str(response["MessageId"])


@entry_point("state.plan.executionArn")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    message_id = publish(Settings.from_env().topic_arn, event["outcome"], event.get("state") or {})
    logger.info("notification sent", extra={"outcome": event["outcome"], "messageId": message_id})
    return {"messageId": message_id}
