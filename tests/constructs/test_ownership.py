"""Ownership in IAM: every Stop and Delete on a Bedrock resource asks for this stack's tag and an
execution tag of its state machine; tags are set only as a resource is created, never onto a
resource a stack already owns; no role may remove tags.

Read from the synthesized templates (the default stack and the one with every option on),
then evaluated as IAM evaluates tag conditions (``tests/iam_tags.py``).
"""

from __future__ import annotations

from typing import Any

import pytest

from lambda_handlers.common.plan import EXECUTION_TAG, STACK_TAG, execution_tag_value
from tests.e2e.fake_bedrock import ACCOUNT, REGION
from tests.e2e.harness import STACK_NAME, synthesized_state_machine_name
from tests.iam_tags import (
    allowing,
    function_role,
    raw_role_statements,
    request_tags,
    resource_tags,
    role_statements,
)

DESTRUCTIVE_PREFIXES = ("bedrock:Stop", "bedrock:Delete")
CLEANUP_HANDLERS = ("lambda_handlers.cleanup.handler", "lambda_handlers.cleanup.abort_handler")
CREATE_HANDLERS = (
    "lambda_handlers.submit_job.handler",
    "lambda_handlers.start_serving.handler",
    "lambda_handlers.batch_evaluation.prepare_handler",
)


@pytest.fixture(params=["default", "full"])
def template(request: pytest.FixtureRequest) -> dict[str, Any]:
    fixture = "synthesized" if request.param == "default" else "synthesized_full"
    return request.getfixturevalue(fixture).template  # type: ignore[no-any-return]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else list(actions)


def _all_identity_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Policy":
            found += props["PolicyDocument"]["Statement"]
        if resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                found += policy["PolicyDocument"]["Statement"]
    return found


def _is_stack_name(value: Any) -> bool:
    """The stack's name as CloudFormation gives it: the literal, or ``Ref AWS::StackName``."""
    return value in (STACK_NAME, {"Ref": "AWS::StackName"})


def _execution_pattern(template: dict[str, Any]) -> str:
    machine = synthesized_state_machine_name(template)
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine}:*"


def _executions_of(template: dict[str, Any], condition: Any) -> bool:
    """Whether a (raw) condition value is the ARN pattern of this state machine's executions."""
    from tests.e2e.harness import TemplateResolver

    return TemplateResolver(template).resolve(condition) == _execution_pattern(template)


# -- what the template says -------------------------------------------------------------------


def test_every_stop_and_delete_asks_for_this_stacks_and_its_executions_tags(
    template: dict[str, Any],
) -> None:
    destructive = [
        s
        for s in _all_identity_statements(template)
        if any(a.startswith(DESTRUCTIVE_PREFIXES) for a in _actions(s))
    ]
    actions = {a for s in destructive for a in _actions(s)}
    assert {
        "bedrock:StopModelCustomizationJob",
        "bedrock:StopModelInvocationJob",
        "bedrock:DeleteProvisionedModelThroughput",
        "bedrock:DeleteCustomModelDeployment",
        "bedrock:DeleteCustomModel",
    } <= actions
    for statement in destructive:
        conditions = statement.get("Condition", {})
        stack = conditions.get("StringEquals", {}).get(f"aws:ResourceTag/{STACK_TAG}")
        execution = conditions.get("StringLike", {}).get(f"aws:ResourceTag/{EXECUTION_TAG}")
        assert _is_stack_name(stack), statement
        assert _executions_of(template, execution), statement


def test_tags_are_set_only_with_the_stacks_values_and_never_onto_an_owned_resource(
    template: dict[str, Any],
) -> None:
    tagging = [
        s for s in _all_identity_statements(template) if "bedrock:TagResource" in _actions(s)
    ]
    assert len(tagging) == len(CREATE_HANDLERS), "each create role tags what it creates"
    for statement in tagging:
        assert _actions(statement) == ["bedrock:TagResource"], "tagging is a statement of its own"
        conditions = statement["Condition"]
        assert _is_stack_name(conditions["StringEquals"][f"aws:RequestTag/{STACK_TAG}"])
        assert _executions_of(template, conditions["StringLike"][f"aws:RequestTag/{EXECUTION_TAG}"])
        assert conditions["Null"] == {f"aws:ResourceTag/{STACK_TAG}": "true"}


def test_no_role_may_remove_tags(template: dict[str, Any]) -> None:
    for statement in _all_identity_statements(template):
        for action in _actions(statement):
            assert action.lower() not in {"bedrock:untagresource", "bedrock:*"}, statement
            assert not (action.startswith("bedrock:") and "*" in action), statement


# -- how IAM decides ----------------------------------------------------------------------------

JOB = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-customization-job/amazon.nova-lite-v1:0:300k/a1b2c3d4e5f6"
BATCH = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-invocation-job/a1b2c3d4e5f6"
THROUGHPUT = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:provisioned-model/a1b2c3d4e5f6"
DEPLOYMENT = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model-deployment/a1b2c3d4e5f6"
MODEL = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/amazon.nova-lite-v1:0:300k/a1b2c3d4e5f6"
DESTROYS = [
    ("bedrock:StopModelCustomizationJob", JOB),
    ("bedrock:StopModelInvocationJob", BATCH),
    ("bedrock:DeleteProvisionedModelThroughput", THROUGHPUT),
    ("bedrock:DeleteCustomModelDeployment", DEPLOYMENT),
]


def _tags(stack: str | None, execution: str | None) -> list[dict[str, str]]:
    tags = [{"key": "team", "value": "ml"}]
    if stack is not None:
        tags.append({"key": STACK_TAG, "value": stack})
    if execution is not None:
        tags.append({"key": EXECUTION_TAG, "value": execution})
    return tags


def _execution(template: dict[str, Any], name: str) -> str:
    return _execution_pattern(template)[:-1] + name


@pytest.mark.parametrize("handler", CLEANUP_HANDLERS)
@pytest.mark.parametrize(("action", "arn"), DESTROYS)
def test_cleanup_may_stop_and_delete_what_an_execution_of_this_stack_created(
    template: dict[str, Any], handler: str, action: str, arn: str
) -> None:
    statements = role_statements(template, function_role(template, handler))
    for name in ("run-1", "run(1)!-café'ü"):  # a plain tag value, and an encoded one
        value = execution_tag_value(_execution(template, name))
        assert allowing(statements, action, arn, resource_tags(_tags(STACK_NAME, value)))


@pytest.mark.parametrize("handler", CLEANUP_HANDLERS)
@pytest.mark.parametrize(("action", "arn"), DESTROYS)
@pytest.mark.parametrize(
    "owner",
    ["no tags", "another stack", "no stack tag", "another state machine", "no execution tag"],
)
def test_cleanup_may_not_stop_or_delete_what_is_not_this_stacks(
    template: dict[str, Any], handler: str, action: str, arn: str, owner: str
) -> None:
    statements = role_statements(template, function_role(template, handler))
    ours = _execution(template, "run-1")
    other_machine = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:OtherMachine:run-1"
    tags = {
        "no tags": [],
        "another stack": _tags("OtherStack", ours),
        "no stack tag": _tags(None, ours),
        "another state machine": _tags(STACK_NAME, other_machine),
        "no execution tag": _tags(STACK_NAME, None),
    }[owner]
    assert allowing(statements, action, arn, resource_tags(tags)) == []


def test_only_the_workflow_cleanup_may_delete_a_model_and_only_its_stacks(
    template: dict[str, Any],
) -> None:
    cleanup = role_statements(template, function_role(template, CLEANUP_HANDLERS[0]))
    abort = role_statements(template, function_role(template, CLEANUP_HANDLERS[1]))
    ours = resource_tags(_tags(STACK_NAME, _execution(template, "run-1")))
    assert allowing(cleanup, "bedrock:DeleteCustomModel", MODEL, ours)
    theirs = resource_tags(_tags("OtherStack", _execution(template, "run-1")))
    assert allowing(cleanup, "bedrock:DeleteCustomModel", MODEL, theirs) == []
    assert allowing(abort, "bedrock:DeleteCustomModel", MODEL, ours) == []


CREATED = {
    "lambda_handlers.submit_job.handler": JOB,
    "lambda_handlers.start_serving.handler": THROUGHPUT,
    "lambda_handlers.batch_evaluation.prepare_handler": BATCH,
}


@pytest.mark.parametrize("handler", CREATE_HANDLERS)
def test_a_create_role_tags_a_new_resource_with_this_stacks_tags_only(
    template: dict[str, Any], handler: str
) -> None:
    statements = role_statements(template, function_role(template, handler))
    arn = CREATED[handler]
    ours = request_tags(_tags(STACK_NAME, execution_tag_value(_execution(template, "run-1"))))
    assert allowing(statements, "bedrock:TagResource", arn, ours), "tag-on-create"
    # Not another stack's values, not without the stack's tag, not another state machine's.
    for tags in (
        _tags("OtherStack", _execution(template, "run-1")),
        _tags(None, _execution(template, "run-1")),
        _tags(STACK_NAME, f"arn:aws:states:{REGION}:{ACCOUNT}:execution:Other:run-1"),
    ):
        assert allowing(statements, "bedrock:TagResource", arn, request_tags(tags)) == []
    # Never onto a resource that already carries a stack tag: no re-tagging of another
    # execution's (or stack's) resource to make it this one's.
    owned = {**ours, **resource_tags(_tags("AnyStack", "anything"))}
    assert allowing(statements, "bedrock:TagResource", arn, owned) == []


@pytest.mark.parametrize("handler", CREATE_HANDLERS)
def test_tagging_is_allowed_only_by_its_own_conditioned_statement(
    template: dict[str, Any], handler: str
) -> None:
    role = function_role(template, handler)
    tagging = [
        s for s in raw_role_statements(template, role) if "bedrock:TagResource" in _actions(s)
    ]
    assert len(tagging) == 1 and "Null" in tagging[0]["Condition"]
