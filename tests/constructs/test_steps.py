"""Steps own their function, permissions, states and retries; the workflow only composes them."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template

from constructs_lib import BedrockServiceRole, CustomizationStorage, CustomizationWorkflow
from constructs_lib.functions import WorkflowFunctions
from constructs_lib.steps.base import CallKind, LambdaStep, StepContext, fails_into
from constructs_lib.steps.flow import Fragment, poll, sequence, unless, when
from constructs_lib.steps.history import rendered_definition
from constructs_lib.steps.permissions import BedrockArns
from constructs_lib.steps.retries import JOB_QUOTA, SERVICE_ROLE_PROPAGATION, Retry, RetryPolicy


def _rendered(rule: Retry) -> dict[str, Any]:
    """A Retry as Step Functions renders it."""
    out: dict[str, Any] = {
        "ErrorEquals": list(rule.errors),
        "IntervalSeconds": int(rule.interval.to_seconds()),
        "MaxAttempts": rule.max_attempts,
        "BackoffRate": rule.backoff_rate,
    }
    if rule.max_delay is not None:
        out["MaxDelaySeconds"] = int(rule.max_delay.to_seconds())
    if rule.jitter is not None:
        out["JitterStrategy"] = rule.jitter.value
    return out


@pytest.fixture(scope="module")
def workflow() -> tuple[CustomizationWorkflow, dict[str, Any]]:
    stack = Stack(App(), "Steps")
    storage = CustomizationStorage(stack, "Storage")
    built = CustomizationWorkflow(
        stack,
        "Workflow",
        storage=storage,
        service_role=BedrockServiceRole(stack, "Role", storage=storage),
        topic=sns.Topic(stack, "Topic"),
    )
    return built, rendered_definition(built.state_machine)


def test_every_task_retries_as_its_steps_kind_says_then_its_own_waits(
    workflow: tuple[CustomizationWorkflow, dict[str, Any]],
) -> None:
    built, definition = workflow
    states = _all_states(definition)
    tasks = {n for n, s in states.items() if s["Type"] == "Task"}
    checked = set()
    for step in built.steps.values():
        if not step.has_states:
            continue
        expected = [_rendered(r) for r in (*step.ctx.retries.for_kind(step.kind), *step.waits_out)]
        for name in _states_of(step, states):
            assert states[name]["Retry"] == expected, name
            checked.add(name)
    assert checked == tasks and len(tasks) == 19


def _all_states(definition: dict[str, Any]) -> dict[str, Any]:
    """The top level's states and those inside its Maps (a sweep's runs)."""
    found = dict(definition["States"])
    for state in definition["States"].values():
        if state["Type"] == "Map" and "ItemProcessor" in state:
            found.update(_all_states(state["ItemProcessor"]))
    return found


def _states_of(step: LambdaStep, states: dict[str, Any]) -> set[str]:
    """Task states whose function is ``step``'s (the template names it by a token)."""
    names = {
        "validate": {"Validate request"},
        "submit": {"Submit customization job", "Submit run"},
        "check_job": {"Check job status", "Check run status"},
        "wait_for_job_event": {"Wait for job event", "Wait for run event"},
        "sweep_winner": {"Choose the winner"},
        "start_serving": {"Start serving"},
        "check_serving": {"Check serving status"},
        "cleanup": {"Clean up"},
        "notify": {"Notify success", "Notify failure"},
        "prepare_evaluation": {"Prepare evaluation"},
        "check_evaluation_batch": {"Check batch evaluation"},
        "evaluate": {"Evaluate the model"},
        "promote": {"Promote onto the endpoint"},
        "check_promotion": {"Check promotion"},
        "schedule_expiry": {"Schedule serving expiry"},
    }[step.key]
    assert names <= set(states), names
    return names


def test_only_submit_waits_out_role_propagation_and_the_job_quota(
    workflow: tuple[CustomizationWorkflow, dict[str, Any]],
) -> None:
    built, _ = workflow
    waiting = {key: step.waits_out for key, step in built.steps.items() if step.waits_out}
    assert waiting == {"submit": (SERVICE_ROLE_PROPAGATION, JOB_QUOTA)}


def test_each_step_says_what_its_call_does(
    workflow: tuple[CustomizationWorkflow, dict[str, Any]],
) -> None:
    built, _ = workflow
    kinds = {key: step.kind for key, step in built.steps.items()}
    assert kinds == {
        "validate": CallKind.CHECKS,
        "submit": CallKind.CREATES,
        "check_job": CallKind.READS,
        "wait_for_job_event": CallKind.WAITS,
        "sweep_winner": CallKind.DELETES,
        "job_event_relay": CallKind.NOTIFIES,
        "start_serving": CallKind.CREATES,
        "check_serving": CallKind.READS,
        "prepare_evaluation": CallKind.CREATES,
        "check_evaluation_batch": CallKind.READS,
        "evaluate": CallKind.INVOKES,
        "promote": CallKind.UPDATES,
        "check_promotion": CallKind.READS,
        "schedule_expiry": CallKind.CREATES,
        "cleanup": CallKind.DELETES,
        "notify": CallKind.NOTIFIES,
        "abort_cleanup": CallKind.DELETES,
    }


def test_the_abort_cleanup_outwaits_every_step_that_creates_or_updates(
    workflow: tuple[CustomizationWorkflow, dict[str, Any]],
) -> None:
    built, _ = workflow
    creators = [
        s.function.timeout.to_seconds()
        for s in built.steps.values()
        if s.kind in (CallKind.CREATES, CallKind.UPDATES) and s.function.timeout
    ]
    assert len(creators) == 5
    abort = built.steps["abort_cleanup"]
    assert abort.has_states is False, "no state invokes the abort cleanup: EventBridge does"


# -- the chain's building blocks render as a hand-written definition --------------------------


class _Echo(LambdaStep):
    """A step as a newcomer would add one: class attributes, permissions, one state."""

    kind = CallKind.READS
    key = "echo"
    function_id = "Echo"
    handler = "notify.handler"
    description = "A new step"

    def __init__(self, ctx: StepContext) -> None:
        super().__init__(ctx)
        self.allow(["bedrock:GetCustomModel"], ctx.arns.custom_models)

    def fragment(self, on_error: sfn.IChainable) -> Fragment:
        return Fragment.of(
            fails_into(self.task("Echo", result_path="$.echo", comment="c"), on_error)
        )


def _context(stack: Stack) -> StepContext:
    storage = CustomizationStorage(stack, "Storage")
    functions = WorkflowFunctions(stack, "Functions", key=storage.key, environment={})
    return StepContext(stack, functions, storage, BedrockArns.of(stack))


def test_a_new_step_is_one_class_and_one_line_in_a_sequence() -> None:
    stack = Stack(App(), "NewStep")
    ctx = _context(stack)
    failed = sfn.Fail(stack, "Failed")
    chain = sequence(_Echo(ctx).fragment(failed), Fragment(sfn.Succeed(stack, "Done")))
    machine = sfn.StateMachine(
        stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(chain.start)
    )
    states = rendered_definition(machine)["States"]
    assert states["Echo"]["Next"] == "Done"
    assert states["Echo"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}
    ]
    assert states["Echo"]["Retry"] == [_rendered(r) for r in RetryPolicy().for_kind(CallKind.READS)]
    assert ctx.functions_called_by_states() == [ctx.steps[0].function]
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    statements = [
        s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert any(s["Action"] == "bedrock:GetCustomModel" for s in statements)


def test_when_unless_and_poll_render_as_written_by_hand() -> None:
    stack = Stack(App(), "Flow")
    first, second = sfn.Pass(stack, "First"), sfn.Pass(stack, "Second")
    check = sfn.Pass(stack, "Check")  # a Pass stands in for the task: same transitions
    looped = poll(
        stack,
        wait="Wait",
        every=sfn.WaitTime.duration(Duration.seconds(30)),
        check=check,  # type: ignore[arg-type]
        done="Done?",
        until=sfn.Condition.boolean_equals("$.done", True),
    )
    end = sfn.Succeed(stack, "End")
    chain = sequence(
        when(stack, "Want first?", sfn.Condition.is_present("$.a"), Fragment(first, first.next)),
        unless(
            stack, "Skip second?", sfn.Condition.is_present("$.b"), Fragment(second, second.next)
        ),
        looped,
        Fragment(end),
    )
    machine = sfn.StateMachine(
        stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(chain.start)
    )
    states = rendered_definition(machine)["States"]
    assert states["Want first?"] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.a", "IsPresent": True, "Next": "First"}],
        "Default": "Skip second?",
    }
    assert states["First"]["Next"] == "Skip second?"
    assert states["Skip second?"] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.b", "IsPresent": True, "Next": "Wait"}],
        "Default": "Second",
    }
    assert states["Second"]["Next"] == "Wait"
    assert states["Wait"] == {"Type": "Wait", "Seconds": 30, "Next": "Check"}
    assert states["Done?"] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.done", "BooleanEquals": True, "Next": "End"}],
        "Default": "Wait",
    }


def test_nothing_can_follow_the_end() -> None:
    stack = Stack(App(), "End")
    with pytest.raises(ValueError, match="ends the execution"):
        sequence(Fragment(sfn.Succeed(stack, "End")), Fragment(sfn.Pass(stack, "After")))


@pytest.mark.parametrize("hours", [1, 6, 24])
def test_patience_waits_as_long_as_asked_and_not_a_retry_longer(hours: int) -> None:
    from aws_cdk import Duration

    from constructs_lib.steps.retries import patience

    delays = list(patience(Duration.hours(hours)).delays())
    assert sum(delays) >= hours * 3600 > sum(delays[:-1])
    assert max(delays) == 300
