"""The stack's policy in the handlers: promotion targets and spending limits.

``policy_problems`` (spending) and ``target_problems`` (promotion) refuse, each naming the
field, the request's value, the stack's limit and the prop that changes it; ``check_request``
never reads the policy, so the abort cleanup rebuilds any execution's plan; the cost ceiling
goes through the same check as the request's own; Promote checks the target again.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambda_handlers import promote, validate_request
from lambda_handlers.common.errors import AccessDenied, BedrockThrottled, TrainingCostExceeded
from lambda_handlers.common.request import CustomizationRequest, RequestContext, StackPolicy
from lambda_handlers.common.request_checks import (
    check_request,
    policy_problems,
    training_cost_ceiling,
)
from lambda_handlers.common.settings import Settings, stack_policy
from lambda_handlers.preflight.promotion import target_problems
from tests.factories import (
    CONTEXT,
    DEPLOYMENT_ARN,
    EXECUTION_ARN,
    MODEL_ARN,
    PT_ARN,
    fine_tuning_request,
    jsonl,
    plan_for,
)

TAG = ("promotion-target", "customization")
OVER_EVERY_LIMIT = fine_tuning_request(
    maxTrainingCostUsd=500.0,
    serving={
        "mode": "provisioned-throughput",
        "modelUnits": 8,
        "commitmentDuration": "SixMonths",
        "confirmCommitment": True,
    },
)


def parsed(request: dict[str, Any]) -> CustomizationRequest:
    return CustomizationRequest.model_validate(request)


# -- spending limits ---------------------------------------------------------------------------


def test_each_spending_limit_names_field_value_limit_and_prop() -> None:
    problems = policy_problems(parsed(OVER_EVERY_LIMIT), StackPolicy(max_training_cost_usd=100))
    assert problems == [
        "serving.modelUnits: the request asks for 8; this stack allows at most 1; the stack "
        "owner raises it with spending_limits.max_model_units (context maxModelUnits)",
        "serving.commitmentDuration: the request asks for SixMonths; this stack allows no "
        "commitment (one bills every hour of its term and cannot be cancelled); the stack "
        "owner allows them with spending_limits.allow_commitments=True (context allowCommitments=true)",
        "maxTrainingCostUsd: the request asks for 500; this stack's ceiling is 100; ask for at "
        "most that, or the stack owner raises it with spending_limits.max_training_cost_usd (context "
        "maxTrainingCostUsd)",
    ]


def test_a_request_at_the_limits_passes() -> None:
    policy = StackPolicy(max_model_units=8, allow_commitments=True, max_training_cost_usd=500)
    assert policy_problems(parsed(OVER_EVERY_LIMIT), policy) == []
    assert policy_problems(parsed(fine_tuning_request()), StackPolicy()) == []


def test_check_request_never_reads_the_policy() -> None:
    """The abort cleanup rebuilds plans with check_request: it must accept a request over
    every limit, whatever the stack allows now."""
    strict = RequestContext(**{**CONTEXT.__dict__, "policy": StackPolicy(max_model_units=1)})
    assert check_request(OVER_EVERY_LIMIT, strict).serving.modelUnits == 8


@pytest.mark.parametrize(
    ("asked", "stack", "expected"),
    [
        (None, None, (None, "no ceiling")),
        (20.0, None, (20.0, "maxTrainingCostUsd")),
        (
            None,
            50.0,
            (
                50.0,
                "this stack's spending_limits.max_training_cost_usd, context maxTrainingCostUsd",
            ),
        ),
        (20.0, 50.0, (20.0, "maxTrainingCostUsd")),
    ],
)
def test_the_ceiling_is_the_requests_else_the_stacks(
    asked: float | None, stack: float | None, expected: tuple[float | None, str]
) -> None:
    request = parsed(fine_tuning_request(maxTrainingCostUsd=asked))
    assert training_cost_ceiling(request, StackPolicy(max_training_cost_usd=stack)) == expected


def test_settings_read_the_policy_the_construct_sets() -> None:
    env = {
        "PROMOTION_TARGET_ARNS": f"{PT_ARN}, {DEPLOYMENT_ARN}",
        "PROMOTION_TARGET_TAG_KEY": TAG[0],
        "PROMOTION_TARGET_TAG_VALUE": TAG[1],
        "MAX_MODEL_UNITS": "4",
        "ALLOW_COMMITMENTS": "true",
        "MAX_TRAINING_COST_USD": "250.5",
    }
    assert stack_policy(env) == StackPolicy((PT_ARN, DEPLOYMENT_ARN), TAG, 4, True, 250.5)
    assert stack_policy({}) == StackPolicy(), "unset: no promotion, 1 unit, no commitment"
    assert Settings.from_env().policy == StackPolicy()


# -- the stack's cost ceiling goes through the request's own check ------------------------------


def cohere_request(**overrides: Any) -> dict[str, Any]:
    request = fine_tuning_request(
        baseModelIdentifier="cohere.command-text-v14:7:4k",
        hyperParameters={"epochCount": 3},
        **overrides,
    )
    request.pop("validationDataConfig")
    return request


def cohere_data() -> None:
    """40 records of 100 estimated tokens: 12,000 tokens over 3 epochs, about $0.048."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="data-bucket")
    s3.create_bucket(Bucket="artifacts-bucket")
    records = [{"prompt": "a" * 290, "completion": "b" * 10}] * 40
    s3.put_object(Bucket="data-bucket", Key="training/train.jsonl", Body=jsonl(records))


@mock_aws
def test_a_request_without_a_ceiling_is_held_to_the_stacks(
    lambda_context, monkeypatch: pytest.MonkeyPatch
) -> None:
    cohere_data()
    monkeypatch.setenv("MAX_TRAINING_COST_USD", "0.01")
    event = {"request": cohere_request(), "execution": {"id": EXECUTION_ARN}}
    with pytest.raises(
        TrainingCostExceeded,
        match=r"exceeds the ceiling of \$0\.01 \(this stack's spending_limits\.max_training_cost_usd",
    ):
        validate_request.handler(event, lambda_context)

    monkeypatch.setenv("MAX_TRAINING_COST_USD", "0.05")
    estimate = validate_request.handler(event, lambda_context)["dataset"]["costEstimate"]
    assert estimate["maxUsd"] == 0.05 and estimate["training_usd"] == pytest.approx(0.048)
    assert estimate["ceiling"].startswith("this stack's spending_limits.max_training_cost_usd")


@mock_aws
def test_a_lower_request_ceiling_still_applies_under_the_stacks(
    lambda_context, monkeypatch: pytest.MonkeyPatch
) -> None:
    cohere_data()
    monkeypatch.setenv("MAX_TRAINING_COST_USD", "1")
    event = {"request": cohere_request(maxTrainingCostUsd=0.01), "execution": {"id": EXECUTION_ARN}}
    with pytest.raises(TrainingCostExceeded, match=r"ceiling of \$0\.01 \(maxTrainingCostUsd\)"):
        validate_request.handler(event, lambda_context)


# -- promotion targets -------------------------------------------------------------------------


def test_no_target_is_allowed_without_any(stub) -> None:
    bedrock = stub("bedrock")  # no call expected
    [problem] = target_problems({"provisionedModelArn": PT_ARN}, StackPolicy(), bedrock.client)
    assert problem == (
        f"serving.promoteTo.provisionedModelArn: this stack allows no promotion targets, so "
        f"{PT_ARN} cannot be promoted onto; the stack owner enables promotion with "
        "promotion_targets.arns (context promotionTargetArns) or promotion_targets.tag (context "
        "promotionTargetTagKey and promotionTargetTagValue)"
    )


def test_a_listed_target_needs_no_tag(stub) -> None:
    bedrock = stub("bedrock")
    policy = StackPolicy(promotion_arns=(PT_ARN,), promotion_tag=TAG)
    assert target_problems({"provisionedModelArn": PT_ARN}, policy, bedrock.client) == []


@pytest.mark.parametrize(
    ("tags", "allowed"),
    [
        ([{"key": TAG[0], "value": TAG[1]}], True),
        ([{"key": TAG[0], "value": "other"}], False),
        ([{"key": "team", "value": TAG[1]}], False),
        ([], False),
    ],
)
def test_an_unlisted_target_needs_the_tag(stub, tags: list[dict[str, str]], allowed: bool) -> None:
    bedrock = stub("bedrock")
    bedrock.add_response("list_tags_for_resource", {"tags": tags}, {"resourceARN": DEPLOYMENT_ARN})
    policy = StackPolicy(promotion_arns=(PT_ARN,), promotion_tag=TAG)
    problems = target_problems({"customModelDeploymentArn": DEPLOYMENT_ARN}, policy, bedrock.client)
    if allowed:
        assert problems == []
        return
    assert problems == [
        f"serving.promoteTo.customModelDeploymentArn: {DEPLOYMENT_ARN} is not a promotion target "
        f"this stack allows (it allows the endpoints {PT_ARN} and endpoints tagged "
        "promotion-target=customization); the stack owner allows more with promotion_targets.arns "
        "(context promotionTargetArns) or promotion_targets.tag (context promotionTargetTagKey and "
        "promotionTargetTagValue)"
    ]


def test_a_missing_target_is_not_allowed_and_throttling_is_retried(stub) -> None:
    bedrock = stub("bedrock")
    policy = StackPolicy(promotion_tag=TAG)
    target = {"customModelDeploymentArn": DEPLOYMENT_ARN}
    bedrock.add_client_error("list_tags_for_resource", "ResourceNotFoundException", "gone", 404)
    assert "is not a promotion target" in target_problems(target, policy, bedrock.client)[0]
    bedrock.add_client_error("list_tags_for_resource", "ThrottlingException", "slow down", 429)
    with pytest.raises(BedrockThrottled):
        target_problems(target, policy, bedrock.client)


def test_promote_refuses_a_target_the_stack_no_longer_allows(
    stub, lambda_context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMOTION_TARGET_TAG_KEY", TAG[0])
    monkeypatch.setenv("PROMOTION_TARGET_TAG_VALUE", TAG[1])
    plan = plan_for(
        fine_tuning_request(serving={"mode": "none", "promoteTo": {"provisionedModelArn": PT_ARN}})
    )
    bedrock = stub("bedrock")
    bedrock.add_response("list_tags_for_resource", {"tags": []}, {"resourceARN": PT_ARN})
    event = {"plan": plan.model_dump(exclude_none=True), "job": {"outputModelArn": MODEL_ARN}}
    with pytest.raises(AccessDenied, match=f"not promoted: .*{PT_ARN} is not a promotion target"):
        promote.start_handler(event, lambda_context)
    # No Get, no Update: the strict stubber would have failed on any call not queued.
