"""What every step of the workflow is made of: a Lambda function, its permissions, its states.

A step says what kind of call it makes (``CallKind``); the retries of its task states follow
from that kind (``retries.py``), never per state. A step may add the waits that only its own
errors call for (``waits_out``), drawn from the same module.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from constructs_lib.functions import WorkflowFunctions
from constructs_lib.steps.flow import Fragment, poll
from constructs_lib.steps.history import PollSchedule
from constructs_lib.steps.permissions import BedrockArns
from constructs_lib.steps.retries import CallKind, Retry, RetryPolicy
from constructs_lib.storage import CustomizationStorage


@dataclass(frozen=True)
class Schedules:
    """How often the workflow looks at what it follows."""

    job: PollSchedule = PollSchedule(Duration.minutes(5), Duration.minutes(15))
    """The customization job, and the evaluation's batch job: they run for hours."""
    serving: PollSchedule = PollSchedule(Duration.minutes(1), Duration.minutes(10))
    """Serving and promotion: ready in minutes, sometimes much longer."""

    def environment(self) -> dict[str, str]:
        return {**self.job.environment("JOB"), **self.serving.environment("SERVING")}


@dataclass
class StepContext:
    """What the steps of one workflow share.

    ``scope`` is where states and step-owned resources go (the workflow); functions go
    into ``functions`` as they always have, so their logical IDs never change.
    """

    scope: Construct
    functions: WorkflowFunctions
    storage: CustomizationStorage
    arns: BedrockArns
    retries: RetryPolicy = field(default_factory=RetryPolicy)
    schedules: Schedules = field(default_factory=lambda: Schedules())
    steps: list[LambdaStep] = field(default_factory=list)
    loops: dict[str, PollSchedule] = field(default_factory=dict)
    """Every poll loop, by the name of its Wait state, with its schedule."""
    run_loops: dict[str, PollSchedule] = field(default_factory=dict)
    """The poll loops inside a sweep's Map: each of its iterations runs them."""
    state_machine_name: str = "Workflow"
    """The state machine's name, fixed before it exists: its ARN, and the ARNs of its
    executions (which the execution tag holds), are known to every step's policies."""

    def execution_arns(self) -> str:
        """ARN pattern of this state machine's executions (what ``EXECUTION_TAG`` holds)."""
        return self.stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    @property
    def stack(self) -> Stack:
        return Stack.of(self.scope)

    def functions_called_by_states(self) -> list[lambda_.Function]:
        """The functions some task state invokes (the state machine's role may invoke these)."""
        return [step.function for step in self.steps if step.has_states]

    def longest_timeout(self, *kinds: CallKind) -> Duration:
        """The longest function timeout among the steps of these kinds."""
        seconds = [
            int(step.function.timeout.to_seconds())
            for step in self.steps
            if step.kind in kinds and step.function.timeout
        ]
        return Duration.seconds(max(seconds))


def bounded_name(base: str, suffix: str, limit: int) -> str:
    """``base`` + ``suffix``, cut to ``limit`` characters with a digest of ``base`` when it
    does not fit, so that two long bases still give two names."""
    if len(base) + len(suffix) <= limit:
        return base + suffix
    digest = hashlib.sha256(base.encode()).hexdigest()[:8]
    return f"{base[: limit - len(suffix) - 9]}-{digest}{suffix}"


class LambdaStep:
    """One Lambda function, the statements it needs, and the task states that call it.

    Subclasses set the class attributes, grant in ``__init__`` after ``super().__init__``,
    and render their states with ``task``.
    """

    kind: ClassVar[CallKind]
    key: ClassVar[str]
    """Its name in ``CustomizationWorkflow.functions``."""
    function_id: ClassVar[str]
    handler: ClassVar[str]
    """``module.function`` inside ``lambda_handlers``."""
    description: ClassVar[str]
    timeout: ClassVar[Duration] = Duration.seconds(30)
    memory_size: ClassVar[int] = 256
    waits_out: ClassVar[Sequence[Retry]] = ()
    """Retries for conditions only this step meets, after the kind's own."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.has_states = False
        self.function = ctx.functions.function(
            self.function_id,
            handler=self.handler,
            description=self.description,
            timeout=self.timeout,
            memory_size=self.memory_size,
        )
        ctx.steps.append(self)

    @property
    def task_timeout(self) -> Duration:
        """The task's own timeout: the function's, plus a minute for Lambda to answer."""
        return Duration.seconds(self.timeout.to_seconds() + 60)

    @property
    def role(self) -> iam.IRole:
        """The function's own role (every workflow function has one)."""
        assert self.function.role is not None
        return self.function.role

    def allow(
        self,
        actions: list[str],
        resources: list[str],
        conditions: Mapping[str, Mapping[str, object]] | None = None,
    ) -> None:
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=actions,
                resources=resources,
                conditions=dict(conditions) if conditions else None,
            )
        )

    def task(
        self,
        name: str,
        *,
        result_path: str,
        comment: str,
        payload: sfn.TaskInput | None = None,
    ) -> tasks.LambdaInvoke:
        """A task state invoking this step's function, with the retries of its kind."""
        task = tasks.LambdaInvoke(
            self.ctx.scope,
            name,
            lambda_function=self.function,
            payload=payload,
            result_path=result_path,
            payload_response_only=True,
            retry_on_service_exceptions=False,
            comment=comment,
            # A hung invocation fails as States.Timeout a minute after the function's own limit.
            task_timeout=sfn.Timeout.duration(self.task_timeout),
        )
        for rule in (*self.ctx.retries.for_kind(self.kind), *self.waits_out):
            rule.apply(task)
        self.has_states = True
        return task

    def failing_into(
        self, on_error: sfn.IChainable, name: str, *, result_path: str, comment: str
    ) -> Fragment:
        """One task of this step whose every error goes to ``on_error`` (cleanup)."""
        task = self.task(name, result_path=result_path, comment=comment)
        return Fragment.of(fails_into(task, on_error))

    def polling(
        self,
        on_error: sfn.IChainable,
        name: str,
        *,
        result_path: str,
        comment: str,
        wait: str,
        schedule: PollSchedule,
        done: str,
        until: sfn.Condition,
        unreachable: tuple[Sequence[str], sfn.IChainable] | None = None,
        loops: dict[str, PollSchedule] | None = None,
    ) -> Fragment:
        """Wait, then this step's task ``name``, until ``until`` holds; errors go to ``on_error``.

        The wait is ``<result_path>.pollSeconds``: the task before the loop and each look
        give it, following ``schedule`` (``lambda_handlers/common/polling.py``).
        ``unreachable``: ``(outcomes, where)``: only the errors that are the followed thing's
        own outcome go to ``on_error``; any other failure to follow it (transient failures
        past their retries, a permission, a bug of ours) goes to ``where``, with the error at
        ``$.unreachable``: the thing followed was not harmed, and is not to be.
        """
        (self.ctx.loops if loops is None else loops)[wait] = schedule
        check = self.looking(
            on_error, name, result_path=result_path, comment=comment, unreachable=unreachable
        )
        return poll(
            self.ctx.scope,
            wait=wait,
            every=sfn.WaitTime.seconds_path(f"{result_path}.pollSeconds"),
            check=check,
            done=done,
            until=until,
        )

    def looking(
        self,
        on_error: sfn.IChainable,
        name: str,
        *,
        result_path: str,
        comment: str,
        unreachable: tuple[Sequence[str], sfn.IChainable] | None = None,
    ) -> sfn.TaskStateBase:
        """The task that looks at the followed thing, its errors caught as ``polling``
        says; whatever waits before it (a poll's Wait, an event) is the caller's."""
        check = self.task(name, result_path=result_path, comment=comment)
        if unreachable is None:
            return fails_into(check, on_error)
        outcomes, where = unreachable
        check.add_catch(on_error, errors=list(outcomes), result_path="$.error")
        check.add_catch(where, errors=["States.ALL"], result_path="$.unreachable")
        return check


def fails_into(task: sfn.TaskStateBase, cleanup: sfn.IChainable) -> sfn.TaskStateBase:
    """Every error of ``task`` goes to cleanup, with the error at ``$.error``."""
    task.add_catch(cleanup, errors=["States.ALL"], result_path="$.error")
    return task
