"""What every step of the workflow is made of: a Lambda function, its permissions, its states.

A step says what kind of call it makes (``CallKind``); the retries of its task states follow
from that kind here, in one table, never per state. A step may add the waits that only its
own errors call for (``waits_out``), drawn from the same module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import ClassVar

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from constructs_lib.functions import WorkflowFunctions
from constructs_lib.steps.flow import Fragment, poll
from constructs_lib.steps.permissions import BedrockArns
from constructs_lib.storage import CustomizationStorage


class CallKind(Enum):
    """What a step's call does to the world: what a retry of it may cost."""

    READS = "reads only"
    """Reads state (and writes at most its own report): safe to repeat."""
    CREATES = "creates something"
    """Creates a job, an endpoint or a schedule, idempotently by token or derived name."""
    UPDATES = "updates something that exists"
    """Changes a resource the execution did not create (promotion onto an endpoint)."""
    INVOKES = "invokes models"
    """Creates nothing but pays per call: a repeat costs tokens again."""
    DELETES = "deletes"
    """Stops or deletes what the execution created."""
    NOTIFIES = "notifies"
    """Publishes a message: a repeat may be delivered twice."""


@dataclass(frozen=True)
class Retry:
    """One Retry rule of a task state."""

    errors: tuple[str, ...]
    interval: Duration
    backoff_rate: float
    max_attempts: int
    max_delay: Duration | None = None
    jitter: sfn.JitterType | None = None

    def apply(self, task: sfn.TaskStateBase) -> None:
        task.add_retry(
            errors=list(self.errors),
            interval=self.interval,
            backoff_rate=self.backoff_rate,
            max_attempts=self.max_attempts,
            max_delay=self.max_delay,
            jitter_strategy=self.jitter,
        )


# Lambda's own transient failures, as CDK's LambdaInvoke retries them by default.
LAMBDA_SERVICE_ERRORS = Retry(
    errors=(
        "Lambda.ClientExecutionTimeoutException",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
    ),
    interval=Duration.seconds(2),
    backoff_rate=2,
    max_attempts=6,
)
# Bedrock throttling and 5xx, as the handlers translate them (lambda_handlers/common/errors.py).
BEDROCK_TRANSIENT = Retry(
    errors=("BedrockThrottled", "BedrockUnavailable"),
    interval=Duration.seconds(5),
    backoff_rate=2,
    max_attempts=6,
    max_delay=Duration.minutes(2),
    jitter=sfn.JitterType.FULL,
)
# A new service role takes a few seconds to be usable by Bedrock (IAM is eventually consistent).
SERVICE_ROLE_PROPAGATION = Retry(
    errors=("ServiceRoleNotReady",),
    interval=Duration.seconds(10),
    backoff_rate=1.5,
    max_attempts=6,
    jitter=sfn.JitterType.FULL,
)
# The account's concurrent-job quota frees up as other jobs end: wait for it, up to 6 hours.
JOB_QUOTA = Retry(
    errors=("QuotaExceeded",),
    interval=Duration.minutes(10),
    backoff_rate=1,
    max_attempts=36,
    jitter=sfn.JitterType.FULL,
)

_EVERY_CALL = (LAMBDA_SERVICE_ERRORS, BEDROCK_TRANSIENT)
# Every kind retries the same transient failures today; a kind that must be more careful
# (or may be bolder) changes here, and every state of that kind follows.
RETRIES: Mapping[CallKind, tuple[Retry, ...]] = MappingProxyType(
    {kind: _EVERY_CALL for kind in CallKind}
)


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
    steps: list[LambdaStep] = field(default_factory=list)

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
        )
        for rule in (*RETRIES[self.kind], *self.waits_out):
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
        every: sfn.WaitTime,
        done: str,
        until: sfn.Condition,
    ) -> Fragment:
        """Wait, then this step's task ``name``, until ``until`` holds; errors go to ``on_error``."""
        check = self.task(name, result_path=result_path, comment=comment)
        return poll(
            self.ctx.scope,
            wait=wait,
            every=every,
            check=fails_into(check, on_error),
            done=done,
            until=until,
        )


def fails_into(task: sfn.TaskStateBase, cleanup: sfn.IChainable) -> sfn.TaskStateBase:
    """Every error of ``task`` goes to cleanup, with the error at ``$.error``."""
    task.add_catch(cleanup, errors=["States.ALL"], result_path="$.error")
    return task
