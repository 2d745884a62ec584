"""May the request promote onto its target, and can the target take the new model?

The stack owner chooses the targets (``target_problems``): a listed ARN, or an endpoint that
carries the stack's promotion tag (read with ListTagsForResource); a stack with neither
allows no promotion. Checked in Validate and again by Promote right before the update, so
a target that lost its tag meanwhile is not updated.

A target (``serving.promoteTo``) must also exist in this account and Region, be in a state that
takes an update, and serve a model of the request's base model:

- a custom model deployment takes ``UpdateCustomModelDeployment`` when ``Active`` and no
  other update is running (``updateDetails.updateStatus`` ``Updating``); statuses from the
  API reference (GetCustomModelDeployment: ``Creating``, ``Active``, ``Failed``;
  CustomModelDeploymentUpdateDetails: ``Updating``, ``UpdateCompleted``, ``UpdateFailed``);
- a provisioned throughput takes ``UpdateProvisionedModelThroughput`` when ``InService``
  (``Creating``, ``Updating``, ``Failed`` do not), only if it serves a custom model, and
  only for "the base model from which the custom model was customized" or "another custom
  model that was customized from the same base model" (API reference,
  UpdateProvisionedModelThroughput ``desiredModelId``; user guide "Modify a Provisioned
  Throughput": "You can't change the model for a Provisioned Throughput associated with a
  base model").

The model the target serves comes from GetCustomModelDeployment / GetProvisionedModelThroughput
(``modelArn``), its base model from GetCustomModel (``baseModelArn``).
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common.errors import error_code, translate_client_error
from lambda_handlers.common.request import StackPolicy
from lambda_handlers.common.request_checks import ADD_PROMOTION_TARGETS

_ARN = re.compile(r"^arn:[^:]+:bedrock:(?P<region>[^:]*):(?P<account>[^:]*):(?P<resource>.+)$")
_CONTEXT_SUFFIX = re.compile(r":\d+k$")
_READY = {"customModelDeploymentArn": "Active", "provisionedModelArn": "InService"}
_WHAT = {"customModelDeploymentArn": "deployment", "provisionedModelArn": "provisioned throughput"}


def target_problems(promote: dict[str, str], policy: StackPolicy, bedrock: Any) -> list[str]:
    """Why the stack does not allow promoting onto ``promote`` (one ARN, as the request gives
    it): not listed, and (with a promotion tag) not carrying the tag."""
    [(kind, arn)] = promote.items()
    where = f"serving.promoteTo.{kind}"
    if not policy.promotes:
        return [
            f"{where}: this stack allows no promotion targets, so {arn} cannot be promoted onto; "
            f"the stack owner enables promotion with {ADD_PROMOTION_TARGETS}"
        ]
    if arn in policy.promotion_arns:
        return []
    allowed = []
    if policy.promotion_arns:
        allowed.append(f"the endpoints {', '.join(policy.promotion_arns)}")
    if policy.promotion_tag is not None:
        key, value = policy.promotion_tag
        if _tag_value(bedrock, arn, key) == value:
            return []
        allowed.append(f"endpoints tagged {key}={value}")
    return [
        f"{where}: {arn} is not a promotion target this stack allows (it allows "
        f"{' and '.join(allowed)}); the stack owner allows more with {ADD_PROMOTION_TARGETS}"
    ]


def _tag_value(bedrock: Any, arn: str, key: str) -> str | None:
    """The value of tag ``key`` on ``arn``; ``None`` when it has none or does not exist."""
    try:
        tags = bedrock.list_tags_for_resource(resourceARN=arn).get("tags", [])
    except ClientError as error:
        if error_code(error) in {"ResourceNotFoundException", "ValidationException"}:
            return None
        raise translate_client_error(error, f"ListTagsForResource {arn}") from error
    return next((str(t.get("value")) for t in tags if t.get("key") == key), None)


def promotion_problems(
    promote: dict[str, str], base_model: str, bedrock: Any, *, account: str, region: str
) -> list[str]:
    """Why ``promote`` (one ARN, as the request gives it) cannot take a model of ``base_model``."""
    [(kind, arn)] = promote.items()
    where, what = f"serving.promoteTo.{kind}", _WHAT[kind]
    place = _ARN.match(arn)
    if place is None or (place["region"], place["account"]) != (region, account):
        return [
            f"{where}: {arn} is not in this account and Region ({account}, {region}); the "
            "workflow promotes onto endpoints of its own account and Region only"
        ]
    described = _describe(bedrock, kind, arn)
    if described is None:
        return [f"{where}: no {what} {arn} in this account and Region"]
    problems = _state_problems(where, what, arn, kind, described)
    served = str(described.get("modelArn", ""))
    problems += _base_model_problems(bedrock, where, what, arn, served, base_model)
    return problems


def _describe(bedrock: Any, kind: str, arn: str) -> dict[str, Any] | None:
    try:
        if kind == "customModelDeploymentArn":
            return dict(bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn))
        return dict(bedrock.get_provisioned_model_throughput(provisionedModelId=arn))
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return None
        raise translate_client_error(error, f"describe the promotion target {arn}") from error


def _state_problems(
    where: str, what: str, arn: str, kind: str, described: dict[str, Any]
) -> list[str]:
    status = described.get("status")
    if status != _READY[kind]:
        return [
            f"{where}: {what} {arn} is {status}; it can take a new model only when "
            f"{_READY[kind]} (wait for it, or name another)"
        ]
    update = (described.get("updateDetails") or {}).get("updateStatus")
    if update == "Updating":
        return [
            f"{where}: {what} {arn} is being updated to "
            f"{described['updateDetails'].get('modelArn')}; it can take a new model once that "
            "update has finished"
        ]
    return []


def _base_model_problems(
    bedrock: Any, where: str, what: str, arn: str, served: str, base_model: str
) -> list[str]:
    resource = (_ARN.match(served) or {"resource": ""})["resource"]
    if resource.startswith("foundation-model/"):
        return [
            f"{where}: {what} {arn} serves the base model {served}; a throughput bought for a "
            "base model cannot change its model (promote onto one that serves a custom model)"
        ]
    try:
        custom = bedrock.get_custom_model(modelIdentifier=served)
    except ClientError as error:
        if error_code(error) not in {"ResourceNotFoundException", "ValidationException"}:
            raise translate_client_error(error, f"GetCustomModel {served}") from error
        return [
            f"{where}: {what} {arn} serves {served}, whose base model cannot be read "
            "(GetCustomModel found no such custom model); promote onto an endpoint that serves "
            f"a custom model of {base_model}"
        ]
    served_base = str(custom.get("baseModelArn", ""))
    if not same_base_model(served_base, base_model):
        return [
            f"{where}: {what} {arn} serves a custom model of {model_id(served_base)}, not of "
            f"{base_model}; an endpoint takes only models of the same base model"
        ]
    return []


def model_id(identifier: str) -> str:
    """The model id of a foundation-model ARN (or the id itself)."""
    match = _ARN.match(identifier)
    resource = match["resource"] if match else identifier
    return resource.removeprefix("foundation-model/")


def same_base_model(a: str, b: str) -> bool:
    """Whether two base models (ids or ARNs) are the same; a context-length suffix
    (``:300k``) counts only when both name one."""
    first, second = model_id(a), model_id(b)
    if first == second:
        return True
    suffixed = bool(_CONTEXT_SUFFIX.search(first)) and bool(_CONTEXT_SUFFIX.search(second))
    return not suffixed and _CONTEXT_SUFFIX.sub("", first) == _CONTEXT_SUFFIX.sub("", second)
