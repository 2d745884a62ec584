"""First state: check the customization request and resolve it into a plan.

Event: ``{"request": <the execution input>, "execution": {"id": <execution ARN>}}``.
Returns ``{"plan": <Plan>}``. Raises ``RequestInvalid`` listing every problem, before
anything is created.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common.aws import client
from lambda_handlers.common.errors import RequestInvalid, error_code, translate_client_error
from lambda_handlers.common.observability import logger
from lambda_handlers.common.plan import make_plan
from lambda_handlers.common.request import check_request, split_s3_uri
from lambda_handlers.common.settings import Settings


def missing_objects(uris: list[tuple[str, str]]) -> list[str]:
    """Problems for each ``(field, s3Uri)`` whose object does not exist."""
    problems = []
    for where, uri in uris:
        bucket, key = split_s3_uri(uri)
        try:
            client("s3").head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error_code(error) in {"404", "NoSuchKey", "NotFound"}:
                problems.append(f"{where}: no object at {uri}; upload the data first")
            else:
                raise translate_client_error(error, f"HeadObject {uri}") from error
    return problems


@logger.inject_lambda_context(correlation_id_path="execution.id")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = Settings.from_env()
    request = check_request(event.get("request"), settings.request_context())
    uris = []
    if request.trainingDataConfig.s3Uri:
        uris.append(("trainingDataConfig.s3Uri", request.trainingDataConfig.s3Uri))
    if request.validationDataConfig:
        uris += [
            (f"validationDataConfig.validators[{i}].s3Uri", v.s3Uri)
            for i, v in enumerate(request.validationDataConfig.validators)
        ]
    problems = missing_objects(uris)
    if problems:
        raise RequestInvalid(problems)
    plan = make_plan(
        request, event["execution"]["id"], settings.request_context(), settings.stack_name
    )
    logger.info("request accepted", extra={"jobName": plan.jobName, "serving": plan.serving.mode})
    return {"plan": plan.model_dump(exclude_none=True)}
