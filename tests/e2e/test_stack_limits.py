"""What the stack owner allows executions, through the synthesized state machine run offline.

Promotion targets (listed ARNs, or a tag that marks endpoints) and spending limits (model
units, commitments, a training cost ceiling) are stack props. A request that goes beyond
them fails in Validate, before anything is submitted; a request within them runs as before;
and the abort cleanup, which rebuilds an execution's plan from its request, still cleans up
an execution whose request a later deploy's lower limits would refuse.

Stacks: the default one (``workflow``: no promotion, 1 model unit, no commitment, no
ceiling), the one with every option on (``workflow_full``: two listed endpoints, a
promotion tag, 4 model units, commitments; ``tests/conftest.py`` ``FULL_CONTEXT``), and one
with a training cost ceiling, synthesized here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from lambda_handlers.common.request import CustomizationRequest
from lambda_handlers.common.request_checks import policy_problems
from lambda_handlers.common.settings import stack_policy
from tests.conftest import PROMOTION_TAG, PROMOTION_TARGET_ARNS, Synthesized, synthesize
from tests.e2e.conftest import _offline
from tests.e2e.fake_bedrock import ACCOUNT, REGION, FakeBedrock
from tests.e2e.harness import Execution, OfflineWorkflow
from tests.e2e.requests import error_message, request_for
from tests.factories import fine_tuning_request, jsonl

NOVA_LITE_MODEL = (
    f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/amazon.nova-lite-v1:0:300k/aaaaaaaaaaaa"
)
LISTED_DEPLOYMENT, LISTED_THROUGHPUT = PROMOTION_TARGET_ARNS
HOW_TO_ALLOW = "promotion_targets.arns (context promotionTargetArns)"
CEILING_USD = 0.05


def assert_refused_before_submit(execution: Execution, bedrock: FakeBedrock, error: str) -> None:
    assert execution.status == "FAILED", execution.cause
    assert execution.error == error, execution.cause
    assert "Submit customization job" not in execution.entered_states()
    assert "CreateModelCustomizationJob" not in bedrock.operations(), "nothing was paid for"


def tag_as_promotion_target(bedrock: FakeBedrock, arn: str) -> str:
    """Mark an existing endpoint with the full stack's promotion tag, as its owner would."""
    store = bedrock.deployments if ":custom-model-deployment/" in arn else bedrock.throughputs
    key, value = PROMOTION_TAG
    store[arn]["tags"].append({"key": key, "value": value})
    return arn


def existing_at(bedrock: FakeBedrock, arn: str) -> str:
    """An endpoint the user runs, at exactly ``arn`` (a listed target), serving Nova Lite."""
    if ":custom-model-deployment/" in arn:
        made = bedrock.existing_deployment(NOVA_LITE_MODEL)
        bedrock.deployments[arn] = {
            **bedrock.deployments.pop(made),
            "customModelDeploymentArn": arn,
        }
    else:
        made = bedrock.existing_throughput(NOVA_LITE_MODEL)
        bedrock.throughputs[arn] = {**bedrock.throughputs.pop(made), "provisionedModelArn": arn}
    return arn


def promoting_onto(workflow: OfflineWorkflow, arn: str) -> dict[str, Any]:
    kind = (
        "customModelDeploymentArn" if ":custom-model-deployment/" in arn else "provisionedModelArn"
    )
    return request_for(workflow, serving={"mode": "none", "promoteTo": {kind: arn}})


# -- promotion targets -------------------------------------------------------------------------


def test_the_default_stack_allows_no_promotion(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    production = bedrock.existing_deployment(NOVA_LITE_MODEL)
    execution = workflow.run(promoting_onto(workflow, production))

    assert_refused_before_submit(execution, bedrock, "RequestInvalid")
    message = error_message(execution)
    assert "serving.promoteTo.customModelDeploymentArn: this stack allows no promotion " in message
    assert production in message and HOW_TO_ALLOW in message
    assert bedrock.operations() == [], "the target is not even looked at"


@pytest.mark.parametrize("kind", ["deployment", "throughput"])
def test_an_endpoint_neither_listed_nor_tagged_is_refused_before_submit(
    workflow_full: OfflineWorkflow, bedrock: FakeBedrock, kind: str
) -> None:
    if kind == "deployment":
        production = bedrock.existing_deployment(NOVA_LITE_MODEL)
    else:
        production = bedrock.existing_throughput(NOVA_LITE_MODEL)
    store = bedrock.deployments if kind == "deployment" else bedrock.throughputs
    store[production]["tags"].append({"key": PROMOTION_TAG[0], "value": "something-else"})
    execution = workflow_full.run(promoting_onto(workflow_full, production))

    assert_refused_before_submit(execution, bedrock, "RequestInvalid")
    message = error_message(execution)
    assert f"{production} is not a promotion target this stack allows" in message
    assert (
        LISTED_DEPLOYMENT in message
        and "endpoints tagged promotion-target=customization" in message
    )
    assert HOW_TO_ALLOW in message
    assert bedrock.operations() == ["ListTagsForResource"], "read its tag, touched nothing"
    assert store[production]["modelArn"] == NOVA_LITE_MODEL


@pytest.mark.parametrize("arn", PROMOTION_TARGET_ARNS, ids=["deployment", "throughput"])
def test_a_listed_endpoint_is_promoted_onto_end_to_end(
    workflow_full: OfflineWorkflow, bedrock: FakeBedrock, arn: str
) -> None:
    existing_at(bedrock, arn)
    execution = workflow_full.run(promoting_onto(workflow_full, arn))

    assert execution.status == "SUCCEEDED", execution.cause
    store = bedrock.deployments if arn == LISTED_DEPLOYMENT else bedrock.throughputs
    assert store[arn]["modelArn"] == execution.output["job"]["outputModelArn"]
    assert execution.output["promotion"]["previousModelArn"] == NOVA_LITE_MODEL


def test_a_tagged_endpoint_is_promoted_onto_end_to_end(
    workflow_full: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    production = tag_as_promotion_target(bedrock, bedrock.existing_deployment(NOVA_LITE_MODEL))
    execution = workflow_full.run(promoting_onto(workflow_full, production))

    assert execution.status == "SUCCEEDED", execution.cause
    new_model = execution.output["job"]["outputModelArn"]
    assert bedrock.deployments[production]["modelArn"] == new_model
    operations = bedrock.operations()
    submit = operations.index("CreateModelCustomizationJob")
    update = operations.index("UpdateCustomModelDeployment")
    assert "ListTagsForResource" in operations[:submit], "checked in Validate"
    assert "ListTagsForResource" in operations[submit:update], "and again right before the update"


def test_an_endpoint_that_lost_its_tag_while_training_is_not_updated(
    workflow_full: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    production = tag_as_promotion_target(bedrock, bedrock.existing_deployment(NOVA_LITE_MODEL))

    def untag(_: dict[str, Any]) -> None:
        bedrock.deployments[production]["tags"] = []  # its owner withdrew it meanwhile

    bedrock.on_training = untag
    execution = workflow_full.run(promoting_onto(workflow_full, production))

    assert execution.status == "FAILED"
    assert execution.error == "AccessDenied", execution.cause
    assert "not promoted" in error_message(execution) and production in error_message(execution)
    assert "UpdateCustomModelDeployment" not in bedrock.operations()
    assert bedrock.deployments[production]["modelArn"] == NOVA_LITE_MODEL
    assert not bedrock.deployments[production]["_deleted"], "the user's endpoint is kept"


# -- spending limits ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("serving", "expected"),
    [
        (
            {"mode": "provisioned-throughput", "modelUnits": 2},
            "serving.modelUnits: the request asks for 2; this stack allows at most 1; the stack "
            "owner raises it with spending_limits.max_model_units (context maxModelUnits)",
        ),
        (
            {
                "mode": "provisioned-throughput",
                "commitmentDuration": "SixMonths",
                "confirmCommitment": True,
            },
            "serving.commitmentDuration: the request asks for SixMonths; this stack allows no "
            "commitment",
        ),
    ],
    ids=["model-units", "commitment"],
)
def test_the_default_stack_refuses_more_serving_than_it_allows(
    workflow: OfflineWorkflow, bedrock: FakeBedrock, serving: dict[str, Any], expected: str
) -> None:
    execution = workflow.run(request_for(workflow, serving=serving))

    assert_refused_before_submit(execution, bedrock, "RequestInvalid")
    assert expected in error_message(execution)
    assert bedrock.throughputs == {}


def test_a_stack_with_higher_limits_refuses_above_them_and_serves_within(
    workflow_full: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    over = workflow_full.run(
        request_for(workflow_full, serving={"mode": "provisioned-throughput", "modelUnits": 5}),
        name="over",
    )
    assert_refused_before_submit(over, bedrock, "RequestInvalid")
    assert "this stack allows at most 4" in error_message(over)

    within = workflow_full.run(
        request_for(
            workflow_full,
            serving={
                "mode": "provisioned-throughput",
                "modelUnits": 4,
                "commitmentDuration": "OneMonth",
                "confirmCommitment": True,
            },
        ),
        name="within",
    )
    assert within.status == "SUCCEEDED", within.cause
    [throughput] = bedrock.throughputs.values()
    assert throughput["modelUnits"] == 4 and throughput["commitmentDuration"] == "OneMonth"


@pytest.fixture(scope="module")
def synthesized_ceiling(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The default stack with a training cost ceiling."""
    result = synthesize(
        tmp_path_factory.mktemp("cdk.out.ceiling"), {"maxTrainingCostUsd": str(CEILING_USD)}
    )
    assert result.error is None, f"synthesis failed: {result.error}"
    return result


@pytest.fixture
def workflow_ceiling(
    synthesized_ceiling: Synthesized, bedrock: FakeBedrock
) -> Iterator[OfflineWorkflow]:
    yield from _offline(synthesized_ceiling.template, bedrock)


def cohere_request(workflow: OfflineWorkflow, records: int, **overrides: Any) -> dict[str, Any]:
    """Cohere Command, whose training price is known: ``records`` x 100 estimated tokens, 3
    epochs, $0.004 per 1,000 tokens (40 records: $0.048)."""
    data = jsonl([{"prompt": "a" * 290, "completion": "b" * 10}] * records)
    return fine_tuning_request(
        baseModelIdentifier="cohere.command-text-v14:7:4k",
        trainingDataConfig={"s3Uri": workflow.put_data("training/cohere.jsonl", data)},
        validationDataConfig=None,
        hyperParameters={"epochCount": 3},
        **overrides,
    )


def test_a_request_may_not_raise_the_stacks_cost_ceiling(
    workflow_ceiling: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    request = cohere_request(workflow_ceiling, 40, maxTrainingCostUsd=10.0)
    execution = workflow_ceiling.run(request)

    assert_refused_before_submit(execution, bedrock, "RequestInvalid")
    assert (
        "maxTrainingCostUsd: the request asks for 10; this stack's ceiling is 0.05; ask for at "
        "most that, or the stack owner raises it with spending_limits.max_training_cost_usd (context "
        "maxTrainingCostUsd)"
    ) in error_message(execution)


def test_a_request_without_a_ceiling_is_held_to_the_stacks(
    workflow_ceiling: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    over = workflow_ceiling.run(cohere_request(workflow_ceiling, 80), name="over")
    assert_refused_before_submit(over, bedrock, "TrainingCostExceeded")
    assert (
        "exceeds the ceiling of $0.05 (this stack's spending_limits.max_training_cost_usd"
        in over.cause
    )

    within = workflow_ceiling.run(cohere_request(workflow_ceiling, 40), name="within")
    assert within.status == "SUCCEEDED", within.cause
    estimate = within.output["dataset"]["costEstimate"]
    assert estimate["training_usd"] == pytest.approx(0.048)
    assert estimate["maxUsd"] == CEILING_USD


def test_a_model_without_a_price_cannot_pass_a_stack_ceiling(
    workflow_ceiling: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    execution = workflow_ceiling.run(request_for(workflow_ceiling))  # Nova Lite: no price known
    assert_refused_before_submit(execution, bedrock, "TrainingCostExceeded")
    assert "cannot be enforced without a price" in (execution.cause or "")


# -- the abort cleanup is not bound by the limits -------------------------------------------------


def test_abort_cleanup_cleans_up_a_request_over_a_lowered_limit(
    workflow_full: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    bedrock.job_statuses = ["InProgress"]  # trains until stopped
    slow = workflow_full.create_state_machine("SlowPolling", wait_seconds=1)
    request = request_for(
        workflow_full,
        serving={
            "mode": "provisioned-throughput",
            "modelUnits": 3,
            "commitmentDuration": "OneMonth",
            "confirmCommitment": True,
        },
    )
    arn = workflow_full.start_execution(request, name="over-later", state_machine_arn=slow)
    deadline = time.monotonic() + 30
    while not bedrock.jobs and time.monotonic() < deadline:
        time.sleep(0.05)
    boto3.client("stepfunctions", region_name=REGION).stop_execution(executionArn=arn)
    assert workflow_full.wait(arn).status == "ABORTED"
    assert bedrock.running_jobs() != []

    # A later deploy lowered the limits below what this request asked for.
    lowered = {"MAX_MODEL_UNITS": "1", "ALLOW_COMMITMENTS": "false"}
    abort_id = next(
        k for k, f in workflow_full.functions.items() if f.handler.endswith("abort_handler")
    )
    workflow_full.functions[abort_id].environment.update(lowered)
    report = workflow_full.deliver_status_change(arn, "ABORTED", request, stateMachineArn=slow)
    [job_arn] = bedrock.jobs
    assert report["stoppedJob"] == job_arn
    assert bedrock.running_jobs() == []
    # Validate, under the lowered limits, would refuse this very request.
    checked = CustomizationRequest.model_validate(request)
    assert [p.split(":", 1)[0] for p in policy_problems(checked, stack_policy(lowered))] == [
        "serving.modelUnits",
        "serving.commitmentDuration",
    ]
