"""Read the customization job's status.

Returns ``{"status", "jobArn", "stages", ...}``; raises ``CustomizationJobFailed`` or
``CustomizationJobStopped`` when the job ended badly.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common.aws import client
from lambda_handlers.common.errors import QualityGateFailed, translate_client_error
from lambda_handlers.common.observability import entry_point, logger
from lambda_handlers.common.polling import next_poll
from lambda_handlers.common.progress import summarize_job
from lambda_handlers.evaluation.gate import judge_losses


@entry_point("plan.executionArn")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    job_arn = event["job"]["jobArn"]
    try:
        response = client("bedrock").get_model_customization_job(jobIdentifier=job_arn)
    except ClientError as error:
        raise translate_client_error(error, "GetModelCustomizationJob") from error
    summary = summarize_job(response)
    gate = (event.get("plan") or {}).get("trainingGate")
    if summary["status"] == "Completed" and gate:
        failure = judge_losses(summary, gate)
        if failure:
            raise QualityGateFailed(f"Training gate failed: {failure}; nothing was served")
    # Back off: a job runs for hours; each look costs transitions and history events.
    summary["pollSeconds"] = next_poll("JOB", event["job"].get("pollSeconds"))
    logger.info("job status", extra={"status": summary["status"], "stages": summary["stages"]})
    return summary
