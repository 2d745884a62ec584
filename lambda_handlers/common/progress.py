"""Pure interpretation of Bedrock's job and serving descriptions."""

from __future__ import annotations

from typing import Any

from lambda_handlers.common.errors import (
    CustomizationJobFailed,
    CustomizationJobStopped,
    PromotionFailed,
    ServingFailed,
)
from lambda_handlers.common.plan import Plan, tag_list

# Statuses of GetModelCustomizationJob that mean "not finished yet".
JOB_RUNNING = {"InProgress", "Stopping"}
_STAGES = ("validationDetails", "dataProcessingDetails", "trainingDetails")


def summarize_job(response: dict[str, Any]) -> dict[str, Any]:
    """The part of a ``GetModelCustomizationJob`` answer the state machine needs.

    Raises ``CustomizationJobFailed`` / ``CustomizationJobStopped`` for the two bad
    ends, with Bedrock's failure message, so the state machine catches them by name.
    """
    status = response["status"]
    stages = {
        name.removesuffix("Details"): details.get("status")
        for name, details in (response.get("statusDetails") or {}).items()
        if name in _STAGES and isinstance(details, dict)
    }
    if status == "Failed":
        stage = next((s for s, v in stages.items() if v == "Failed"), None)
        where = f" during {stage}" if stage else ""
        raise CustomizationJobFailed(
            f"Customization job {response.get('jobName')} failed{where}: "
            f"{response.get('failureMessage') or 'Bedrock gave no reason'}"
        )
    if status == "Stopped":
        raise CustomizationJobStopped(
            f"Customization job {response.get('jobName')} was stopped before it completed"
        )
    summary: dict[str, Any] = {
        "status": status,
        "jobArn": response["jobArn"],
        "jobName": response.get("jobName"),
        "stages": stages,
    }
    if status == "Completed":
        summary["outputModelArn"] = response["outputModelArn"]
        summary["outputModelName"] = response.get("outputModelName")
        loss = (response.get("trainingMetrics") or {}).get("trainingLoss")
        if loss is not None:
            summary["trainingLoss"] = loss
        validation = [m.get("validationLoss") for m in response.get("validationMetrics") or []]
        if any(v is not None for v in validation):
            summary["validationLoss"] = validation
    return summary


def build_serving_request(plan: Plan, model_arn: str) -> tuple[str, dict[str, Any]]:
    """The operation and parameters that start serving ``model_arn``."""
    serving = plan.serving
    if serving.mode == "provisioned-throughput":
        params: dict[str, Any] = {
            "clientRequestToken": serving.clientRequestToken,
            "modelUnits": serving.modelUnits or 1,
            "provisionedModelName": serving.name,
            "modelId": model_arn,
            "tags": [{"key": t["key"], "value": t["value"]} for t in tag_list(plan.tags)],
        }
        if serving.commitmentDuration:
            params["commitmentDuration"] = serving.commitmentDuration
        return "create_provisioned_model_throughput", params
    if serving.mode == "on-demand-deployment":
        return "create_custom_model_deployment", {
            "modelDeploymentName": serving.name,
            "modelArn": model_arn,
            "description": f"Serves {plan.customModelName}, trained by {plan.jobName}",
            "tags": tag_list(plan.tags),
            "clientRequestToken": serving.clientRequestToken,
        }
    raise ValueError(f"serving mode {serving.mode!r} creates nothing")


def summarize_serving(mode: str, response: dict[str, Any]) -> dict[str, Any]:
    """Status of provisioned throughput or a deployment; raises ``ServingFailed`` on Failed."""
    if mode == "provisioned-throughput":
        arn, name, ready = (
            response["provisionedModelArn"],
            response["provisionedModelName"],
            "InService",
        )
    else:
        arn, name, ready = (
            response["customModelDeploymentArn"],
            response["modelDeploymentName"],
            "Active",
        )
    status = response["status"]
    if status == "Failed":
        raise ServingFailed(
            f"{mode} {name} failed: {response.get('failureMessage') or 'Bedrock gave no reason'}"
        )
    return {
        "mode": mode,
        "arn": arn,
        "name": name,
        "status": status,
        "ready": status == ready,
        # Both ARNs are what bedrock-runtime Converse/InvokeModel take as modelId.
        "invokeModelId": arn,
    }


def promotion_request(target: dict[str, str], model_arn: str) -> tuple[str, dict[str, Any]]:
    """The operation and parameters that swap ``model_arn`` onto an existing endpoint."""
    if target.get("customModelDeploymentArn"):
        return "update_custom_model_deployment", {
            "customModelDeploymentIdentifier": target["customModelDeploymentArn"],
            "modelArn": model_arn,
        }
    return "update_provisioned_model_throughput", {
        "provisionedModelId": target["provisionedModelArn"],
        "desiredModelId": model_arn,
    }


def promotion_status(
    target: dict[str, str], response: dict[str, Any], model_arn: str
) -> dict[str, Any]:
    """Whether the endpoint now serves ``model_arn``; raises ``PromotionFailed`` if it refused."""
    if target.get("customModelDeploymentArn"):
        details = response.get("updateDetails") or {}
        if details.get("updateStatus") == "UpdateFailed" or response["status"] == "Failed":
            raise PromotionFailed(
                f"deployment {target['customModelDeploymentArn']} did not take {model_arn}: "
                f"{response.get('failureMessage') or 'Bedrock gave no reason'}"
            )
        done = response.get("modelArn") == model_arn and details.get("updateStatus") in (
            None,
            "UpdateCompleted",
        )
        return {
            "target": target["customModelDeploymentArn"],
            "serving": response.get("modelArn"),
            "done": done,
        }
    if response["status"] == "Failed":
        raise PromotionFailed(
            f"provisioned throughput {target['provisionedModelArn']} did not take {model_arn}: "
            f"{response.get('failureMessage') or 'Bedrock gave no reason'}"
        )
    done = response.get("modelArn") == model_arn and response["status"] == "InService"
    return {
        "target": target["provisionedModelArn"],
        "serving": response.get("modelArn"),
        "done": done,
    }
