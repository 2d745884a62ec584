"""Choose the winner is one task, at ``$.sweep``, every error to cleanup, retried as a step that
deletes; its role may read a custom model's tags and delete only a model tagged with this stack
and one of its state machine's executions, and nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template

from constructs_lib.functions import WorkflowFunctions
from constructs_lib.steps.base import CallKind, StepContext
from constructs_lib.steps.flow import Fragment, sequence
from constructs_lib.steps.history import rendered_definition
from constructs_lib.steps.permissions import BedrockArns
from constructs_lib.steps.retries import RetryPolicy
from constructs_lib.steps.sweep import ChooseWinner
from constructs_lib.storage import CustomizationStorage
from lambda_handlers.common.plan import EXECUTION_TAG, STACK_TAG
from tests.constructs.test_steps import _rendered
from tests.e2e.harness import STACK_NAME
from tests.iam_tags import allowing, function_role, resource_tags, role_statements

MODEL = (
    "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/a1b2c3d4e5f6"
)
OURS = "arn:aws:states:us-east-1:123456789012:execution:Workflow:run-1"


@pytest.fixture(scope="module")
def built() -> tuple[dict[str, Any], dict[str, Any]]:
    stack = Stack(App(), STACK_NAME)
    storage = CustomizationStorage(stack, "Storage")
    functions = WorkflowFunctions(stack, "Functions", key=storage.key, environment={})
    ctx = StepContext(stack, functions, storage, BedrockArns.of(stack))
    failed = sfn.Fail(stack, "Clean up")
    chain = sequence(ChooseWinner(ctx).fragment(failed), Fragment(sfn.Succeed(stack, "Serve")))
    machine = sfn.StateMachine(
        stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(chain.start)
    )
    return rendered_definition(machine)["States"], Template.from_stack(stack).to_json()


def test_choose_the_winner_is_one_task_at_sweep_failing_into_cleanup(built) -> None:
    states, _ = built
    task = states["Choose the winner"]
    assert task["Type"] == "Task"
    assert task["ResultPath"] == "$.sweep"
    assert task["Next"] == "Serve"
    assert task["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Clean up"}
    ]
    assert task["Retry"] == [_rendered(r) for r in RetryPolicy().for_kind(CallKind.DELETES)]


def _tags(stack: str, execution: str) -> dict[str, str]:
    return resource_tags(
        [{"key": STACK_TAG, "value": stack}, {"key": EXECUTION_TAG, "value": execution}]
    )


def test_its_role_deletes_only_this_stacks_models_after_reading_their_tags(built) -> None:
    _, template = built
    statements = role_statements(
        template, function_role(template, "lambda_handlers.sweep_winner.handler")
    )
    assert allowing(statements, "bedrock:DeleteCustomModel", MODEL, _tags(STACK_NAME, OURS))
    other_machine = OURS.replace(":Workflow:", ":Other:")
    for stack, execution in [("OtherStack", OURS), (STACK_NAME, other_machine)]:
        tags = _tags(stack, execution)
        assert allowing(statements, "bedrock:DeleteCustomModel", MODEL, tags) == []
    assert allowing(statements, "bedrock:DeleteCustomModel", MODEL, {}) == []
    assert allowing(statements, "bedrock:ListTagsForResource", MODEL, {})
    bedrock = {
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        if a.startswith("bedrock:")
    }
    assert allowing(statements, "bedrock:GetCustomModel", MODEL, {})
    assert bedrock == {
        "bedrock:DeleteCustomModel",
        "bedrock:ListTagsForResource",
        "bedrock:GetCustomModel",
    }
