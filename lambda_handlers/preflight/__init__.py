"""Check before paying: what an execution needs later, checked in Validate, before submit.

Today's failures found only after training and serving were paid for are found here
instead, each named with its field, the resource and what is allowed:

- every object the request names exists (training, validation and test data), a missing
  one named as missing even where S3 answers 403 (``objects.py``);
- the stack allows promoting onto the target (listed, or carrying the stack's promotion tag),
  and the target exists here, takes an update now and serves a model of the same base model
  (``promotion.py``);
- the base model can answer for the evaluation, through what the service accepts, and the
  test set passes the validation engine (``evaluation.py``).

``request_problems`` gathers the problems of the request (raised as one ``RequestInvalid``
by the caller); ``check_test_set`` runs after the training data's own validation.
"""

from __future__ import annotations

from typing import Any

from lambda_handlers.common.request import CustomizationRequest, StackPolicy
from lambda_handlers.evaluation.invocation import BaseInvocation
from lambda_handlers.preflight.evaluation import base_model_problems, check_test_set
from lambda_handlers.preflight.objects import object_problems
from lambda_handlers.preflight.promotion import promotion_problems, target_problems

__all__ = ["check_test_set", "data_objects", "request_problems"]


def data_objects(request: CustomizationRequest) -> list[tuple[str, str]]:
    """``(field, s3Uri)`` of every data object the request names."""
    uris = []
    if request.trainingDataConfig.s3Uri:
        uris.append(("trainingDataConfig.s3Uri", request.trainingDataConfig.s3Uri))
    if request.validationDataConfig:
        uris += [
            (f"validationDataConfig.validators[{i}].s3Uri", v.s3Uri)
            for i, v in enumerate(request.validationDataConfig.validators)
        ]
    if request.evaluation:
        uris.append(("evaluation.testDataConfig.s3Uri", request.evaluation.testDataConfig.s3Uri))
    return uris


def request_problems(
    request: CustomizationRequest,
    s3: Any,
    bedrock: Any,
    *,
    account: str,
    region: str,
    policy: StackPolicy,
) -> tuple[list[str], BaseInvocation | None]:
    """Every problem of the request's resources, and the base model's invocation (when the
    request evaluates and the model can answer). A promotion target the stack does not allow
    is not looked at further."""
    problems = object_problems(s3, data_objects(request))
    promote = request.serving.promoteTo
    if promote is not None:
        target = promote.model_dump(exclude_none=True)
        refused = target_problems(target, policy, bedrock)
        problems += refused or promotion_problems(
            target, request.baseModelIdentifier, bedrock, account=account, region=region
        )
    invocation = None
    if request.evaluation is not None:
        base_problems, invocation = base_model_problems(request, bedrock, region)
        problems += base_problems
    return problems, invocation
