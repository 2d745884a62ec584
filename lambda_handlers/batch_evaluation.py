"""Large evaluations through Bedrock batch inference.

``prepare_handler`` reads the test cases; from ``RECORDS_MIN`` cases on (or when the
request asks), it writes the base model's prompts as batch input and starts a
``CreateModelInvocationJob``, which costs half of on-demand and needs no concurrency
control. The custom model still answers through ``Converse``: batch inference does not
run on provisioned or deployed custom models. ``check_handler`` follows the job.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common.aws import client
from lambda_handlers.common.catalogue import inference_model_id
from lambda_handlers.common.errors import EvaluationFailed, translate_client_error
from lambda_handlers.common.observability import entry_point, logger
from lambda_handlers.common.plan import Plan, execution_digest
from lambda_handlers.common.polling import first_poll, next_poll
from lambda_handlers.common.settings import Settings
from lambda_handlers.evaluate_model import load_cases
from lambda_handlers.evaluation.batch import RECORDS_MIN, batch_input_lines, batch_job_request

DONE = {"Completed", "PartiallyCompleted"}
FAILED = {"Failed", "Stopped", "Expired"}


def batch_job_name(plan: Plan) -> str:
    """Derived from the job's name, so cleanup can find it again."""
    return f"{plan.jobName[:50].rstrip('-.+')}-eval-base"


def _settings_env() -> tuple[Settings, str]:
    import os

    return Settings.from_env(), os.environ.get("BATCH_ROLE_ARN", "")


@entry_point("plan.executionArn")
def prepare_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    plan = Plan.model_validate(event["plan"])
    config = plan.evaluation or {}
    settings, role_arn = _settings_env()
    cases, _ = load_cases(config["testDataConfig"]["s3Uri"], int(config.get("maxRecords", 200)))
    if not (config.get("useBatchInference") or len(cases) >= RECORDS_MIN):
        return {"mode": "converse", "records": len(cases)}
    prefix = f"{settings.reports_prefix}{plan.jobName}/batch/"
    body = b"".join(
        batch_input_lines(cases, max_tokens=int(config.get("maxTokens", 512)), temperature=0.0)
    )
    s3 = client("s3")
    try:
        s3.put_object(Bucket=settings.artifacts_bucket, Key=prefix + "input/base.jsonl", Body=body)
    except ClientError as error:
        raise translate_client_error(error, "PutObject batch input") from error
    output_uri = f"s3://{settings.artifacts_bucket}/{prefix}output/"
    params = batch_job_request(
        job_name=batch_job_name(plan),
        role_arn=role_arn,
        model_id=inference_model_id(plan.baseModelIdentifier),
        input_s3_uri=f"s3://{settings.artifacts_bucket}/{prefix}input/base.jsonl",
        output_s3_uri=output_uri,
        output_kms_key_id=settings.kms_key_arn or None,
        tags=plan.tags,
        client_request_token=f"eval-{execution_digest(plan.executionArn, 'batch')[:40]}",
    )
    try:
        job_arn = client("bedrock").create_model_invocation_job(**params)["jobArn"]
    except ClientError as error:
        raise translate_client_error(error, "CreateModelInvocationJob") from error
    logger.info("batch evaluation started", extra={"jobArn": job_arn, "records": len(cases)})
    return {
        "mode": "batch",
        "records": len(cases),
        "jobArn": job_arn,
        "outputUri": output_uri,
        "done": False,
        "pollSeconds": first_poll("JOB"),
    }


@entry_point("plan.executionArn")
def check_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    prep = event["evaluationPrep"]
    try:
        job = client("bedrock").get_model_invocation_job(jobIdentifier=prep["jobArn"])
    except ClientError as error:
        raise translate_client_error(error, "GetModelInvocationJob") from error
    if job["status"] in FAILED:
        raise EvaluationFailed(
            f"batch job {prep['jobArn']} ended {job['status']}: {job.get('message', '')}"
        )
    return {
        **prep,
        "status": job["status"],
        "done": job["status"] in DONE,
        "pollSeconds": next_poll("JOB", prep.get("pollSeconds")),
    }
