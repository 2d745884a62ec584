"""Read the customization job's status.

Returns ``{"status", "jobArn", "stages", ...}``; raises ``CustomizationJobFailed`` or
``CustomizationJobStopped`` when the job ended badly. Once the job is ``Completed`` (the
last look: the state machine moves on), its training and validation metrics files are read
and summarized into ``curves`` and stored with the reports (``evaluation/job_curves.py``),
then the request's training gate is applied to the losses and the curves.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common.aws import client
from lambda_handlers.common.errors import QualityGateFailed, translate_client_error
from lambda_handlers.common.observability import count_job_outcome, entry_point, logger
from lambda_handlers.common.polling import next_poll
from lambda_handlers.common.progress import summarize_job
from lambda_handlers.common.settings import Settings
from lambda_handlers.evaluation.gate import judge_losses
from lambda_handlers.evaluation.job_curves import read_curves


@entry_point("plan.executionArn")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    job_arn = event["job"]["jobArn"]
    try:
        response = client("bedrock").get_model_customization_job(jobIdentifier=job_arn)
    except ClientError as error:
        raise translate_client_error(error, "GetModelCustomizationJob") from error
    # The last look at the job in either wait: a job that ended is counted once, here.
    count_job_outcome(response["status"])
    summary = summarize_job(response)
    plan = event.get("plan") or {}
    if summary["status"] == "Completed":
        summary["curves"] = read_curves(
            client("s3"),
            Settings.from_env(),
            plan.get("jobName") or summary["jobName"],
            response["outputDataConfig"]["s3Uri"],
            job_arn,
        )
    gate = plan.get("trainingGate")
    if summary["status"] == "Completed" and gate:
        failure = judge_losses(summary, gate)
        if failure:
            where = f" Curves: {summary['curves']['report']}" if summary.get("curves") else ""
            raise QualityGateFailed(f"Training gate failed: {failure}; nothing was served.{where}")
    # Back off: a job runs for hours; each look costs transitions and history events.
    summary["pollSeconds"] = next_poll("JOB", event["job"].get("pollSeconds"))
    logger.info("job status", extra={"status": summary["status"], "stages": summary["stages"]})
    return summary
