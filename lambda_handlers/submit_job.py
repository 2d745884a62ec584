"""Submit the customization job, at most once per execution.

``clientRequestToken`` is derived from the execution ARN, so a retried submit
(throttling, a lost response, a Lambda timeout) gets the same job back instead of
starting a second paid one (Bedrock answers a create that repeats a token with the job
it created). If the job name is taken, the existing job is adopted only when it carries
this execution's token; a job of another execution is never touched. The job and its model
are tagged in the create call itself with this stack's name and the execution (``plan.tags``),
the only time their tags are set.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common import observability
from lambda_handlers.common.aws import client
from lambda_handlers.common.errors import JobNameTaken, error_code, translate_client_error
from lambda_handlers.common.leftovers import is_not_found
from lambda_handlers.common.observability import entry_point, logger
from lambda_handlers.common.plan import Plan, build_create_job_request
from lambda_handlers.common.polling import first_poll
from lambda_handlers.common.settings import Settings

# Bedrock answers a create whose job name is in use with ValidationException "The provided
# job name is currently in use." (Airflow's Amazon provider matches that message); the service
# model also lists ConflictException for this operation, which some code expects. Both are
# read as "the name is taken", a ValidationException only by its message.
_NAME_IN_USE = "job name is currently in use"


def name_in_use(error: ClientError) -> bool:
    """Whether CreateModelCustomizationJob failed because the job name is taken."""
    code = error_code(error)
    message = str(error.response.get("Error", {}).get("Message", "")).lower()
    return code == "ConflictException" or (
        code == "ValidationException" and _NAME_IN_USE in message
    )


def submit(plan: Plan, settings: Settings) -> dict[str, Any]:
    params = build_create_job_request(plan, settings.service_role_arn, settings.kms_key_arn or None)
    bedrock = client("bedrock")
    try:
        response = bedrock.create_model_customization_job(**params)
        return {"jobArn": response["jobArn"], "jobName": plan.jobName}
    except ClientError as error:
        if not name_in_use(error):
            raise translate_client_error(error, "CreateModelCustomizationJob") from error
        refused = error
    # The name exists: ours if it carries our token (an earlier attempt succeeded).
    try:
        existing = bedrock.get_model_customization_job(jobIdentifier=plan.jobName)
    except ClientError as error:
        if is_not_found(error):  # the conflict was about something else: say what Bedrock said
            raise translate_client_error(refused, "CreateModelCustomizationJob") from refused
        raise translate_client_error(error, "GetModelCustomizationJob") from error
    if existing.get("clientRequestToken") != plan.clientRequestToken:
        raise JobNameTaken(
            f"A customization job named {plan.jobName} already exists ({existing['jobArn']}, "
            f"status {existing.get('status')}) and was not started by this execution; it was "
            "left untouched. Choose another jobName, or leave jobName out to get one derived "
            "from the execution."
        )
    logger.info("adopted the job an earlier attempt created", extra={"jobArn": existing["jobArn"]})
    return {"jobArn": existing["jobArn"], "jobName": plan.jobName}


@entry_point("plan.executionArn")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    plan = Plan.model_validate(event["plan"])
    result = submit(plan, Settings.from_env())
    observability.count(observability.JOBS_SUBMITTED)
    logger.info("customization job submitted", extra=result)
    return {**result, "pollSeconds": first_poll("JOB")}
