"""Large evaluations through Bedrock batch inference.

``prepare_handler`` resolves how the base model answers (its id, or a system-defined
inference profile: ``evaluation/invocation.py``) and reads the test cases; from the
model's batch minimum on (``evaluation/batch.py``: 100 test records, or the model's own
minimum when the request asks for batch), it writes the base model's prompts as batch
input and starts a ``CreateModelInvocationJob`` with that id, which costs half of
on-demand and needs no concurrency control. The custom model still answers through
``Converse``: batch inference does not run on provisioned or deployed custom models.
``check_handler`` follows the job.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common.aws import client
from lambda_handlers.common.errors import EvaluationFailed, translate_client_error
from lambda_handlers.common.observability import entry_point, logger
from lambda_handlers.common.plan import Plan, execution_digest, job_folder
from lambda_handlers.common.plan import batch_job_name as execution_batch_job_name
from lambda_handlers.common.polling import first_poll, next_poll
from lambda_handlers.common.settings import Settings
from lambda_handlers.evaluate_model import load_cases
from lambda_handlers.evaluation.batch import batch_input_lines, batch_job_request, evaluation_mode
from lambda_handlers.evaluation.invocation import BaseInvocation, CannotInvoke, resolve
from lambda_handlers.evaluation.testset import TestCase

DONE = {"Completed", "PartiallyCompleted"}
FAILED = {"Failed", "Stopped", "Expired"}


def batch_job_name(plan: Plan) -> str:
    """Derived from the execution (``common.plan.batch_job_name``), so cleanup finds it again and
    another execution, whatever ``jobName`` it asks for, never has the same one."""
    return execution_batch_job_name(plan.executionArn)


def _settings_env() -> tuple[Settings, str]:
    import os

    return Settings.from_env(), os.environ.get("BATCH_ROLE_ARN", "")


def base_invocation(plan: Plan) -> BaseInvocation:
    """How the base model answers, asked of the service now; ``EvaluationFailed`` if it cannot."""
    bedrock = client("bedrock")
    try:
        return resolve(bedrock, plan.baseModelIdentifier, bedrock.meta.region_name)
    except CannotInvoke as why:
        raise EvaluationFailed(f"the base model cannot answer for the evaluation: {why}") from why


@entry_point("plan.executionArn")
def prepare_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    plan = Plan.model_validate(event["plan"])
    config = plan.evaluation or {}
    invocation = base_invocation(plan)
    cases, _ = load_cases(config["testDataConfig"]["s3Uri"], int(config.get("maxRecords", 200)))
    mode = evaluation_mode(
        len(cases), invocation.model_id, requested=bool(config.get("useBatchInference"))
    )
    prepared = {
        "mode": mode.mode,
        "modeReason": mode.reason,
        "records": len(cases),
        "baseModelId": invocation.invoke_id,
    }
    if mode.mode != "batch":
        return prepared
    job_arn, output_uri = start_batch_job(plan, cases, invocation.invoke_id)
    logger.info("batch evaluation started", extra={"jobArn": job_arn, "records": len(cases)})
    return {
        **prepared,
        "jobArn": job_arn,
        "outputUri": output_uri,
        "done": False,
        "pollSeconds": first_poll("JOB"),
    }


def start_batch_job(plan: Plan, cases: list[TestCase], model_id: str) -> tuple[str, str]:
    """Write the base model's prompts as batch input and start the job; its ARN and output."""
    config = plan.evaluation or {}
    settings, role_arn = _settings_env()
    prefix = f"{settings.reports_prefix}{job_folder(plan.jobName)}/batch/"
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
        model_id=model_id,
        input_s3_uri=f"s3://{settings.artifacts_bucket}/{prefix}input/base.jsonl",
        output_s3_uri=output_uri,
        output_kms_key_id=settings.kms_key_arn or None,
        # The stack and execution tags, set at creation: cleanup stops only a job carrying
        # both, and IAM lets it stop no other.
        tags=plan.tags,
        client_request_token=f"eval-{execution_digest(plan.executionArn, 'batch')[:40]}",
    )
    try:
        job_arn = client("bedrock").create_model_invocation_job(**params)["jobArn"]
    except ClientError as error:
        raise translate_client_error(error, "CreateModelInvocationJob") from error
    return str(job_arn), output_uri


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
