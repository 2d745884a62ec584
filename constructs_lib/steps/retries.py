"""The retry policy: what each kind of call retries, in one place.

A step says what kind of call it makes (``CallKind``) and every task state of it retries
what ``RetryPolicy.for_kind`` gives, never anything set state by state. A step may add
retries for conditions only its own call meets (``LambdaStep.waits_out``), drawn from here.

The failures worth a retry, as Step Functions names them:

- Lambda's own: ``Lambda.TooManyRequestsException`` (the invocation was throttled and the
  function never ran), ``Lambda.ServiceException``, ``Lambda.AWSLambdaException``,
  ``Lambda.SdkClientException``, ``Lambda.ClientExecutionTimeoutException``;
- AWS answering badly or not at all, as the handlers translate it
  (``lambda_handlers/common/errors.py``): ``BedrockThrottled``, ``BedrockUnavailable``,
  ``ServiceUnreachable``;
- time: ``Sandbox.Timedout`` (the function hit its timeout), ``Lambda.Unknown`` (how Step
  Functions reports a function timeout or a crash of the runtime: "Handle Lambda service
  exceptions" in the Step Functions guide) and ``States.Timeout`` (the task's own timeout,
  a little longer than the function's).

A step that follows something running (a job, serving, a batch job, a promotion) only
reads: a retry can never harm what it follows, so it retries all of these for as long as
the workflow's patience (``unreachable_after``) lasts. The others retry them briefly, and
time-outs only where a repeat is safe and a timeout can be luck rather than size.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import Enum
from itertools import accumulate

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn


class CallKind(Enum):
    """What a step's call does to the world: what a retry of it may cost."""

    READS = "reads only"
    """Follows something running (job, serving, batch job, promotion): safe to repeat."""
    CHECKS = "checks the request"
    """Reads the request's data: its time is the data's size, so a timeout is not retried."""
    CREATES = "creates something"
    """Creates a job, an endpoint or a schedule, idempotently by token or derived name."""
    UPDATES = "updates something that exists"
    """Changes a resource the execution did not create (promotion onto an endpoint)."""
    INVOKES = "invokes models"
    """Creates nothing but pays per call: a repeat costs tokens again."""
    DELETES = "deletes"
    """Stops or deletes what the execution created."""
    NOTIFIES = "notifies"
    """Publishes a message: a repeat may be delivered twice, which beats not at all."""
    WAITS = "waits for an event"
    """Leaves a task token and waits: its timeout is the safety poll, never retried."""


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

    def delays(self) -> Iterator[float]:
        """The wait before each retry, in seconds, at most (jitter only shortens it)."""
        delay = self.interval.to_seconds()
        cap = self.max_delay.to_seconds() if self.max_delay else math.inf
        for _ in range(self.max_attempts):
            yield min(delay, cap)
            delay *= self.backoff_rate


LAMBDA_ERRORS = (
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
)
AWS_TRANSIENT_ERRORS = ("BedrockThrottled", "BedrockUnavailable", "ServiceUnreachable")
TIMEOUT_ERRORS = ("Sandbox.Timedout", "Lambda.Unknown", "States.Timeout")
TRANSIENT_ERRORS = LAMBDA_ERRORS + AWS_TRANSIENT_ERRORS + TIMEOUT_ERRORS
"""Everything a step that follows something waits out."""

# A throttled invocation waits for concurrency to free up: about 5 minutes in all.
LAMBDA_TRANSIENT = Retry(
    errors=LAMBDA_ERRORS,
    interval=Duration.seconds(2),
    backoff_rate=2,
    max_attempts=8,
    max_delay=Duration.minutes(1),
    jitter=sfn.JitterType.FULL,
)
# Bedrock throttling and 5xx, and a network that did not answer.
AWS_TRANSIENT = Retry(
    errors=AWS_TRANSIENT_ERRORS,
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

_MAX_ATTEMPTS = 99_999_999  # the most a Retry rule of Step Functions allows
_PATIENCE_FIRST = Duration.seconds(5)
_PATIENCE_CAP = Duration.minutes(5)
# Repeats after a timeout, by kind: none where the timeout is the work's size.
_TIMEOUT_ATTEMPTS = {
    CallKind.CHECKS: 0,
    CallKind.INVOKES: 1,
    CallKind.CREATES: 2,
    CallKind.UPDATES: 2,
    CallKind.DELETES: 2,
    CallKind.NOTIFIES: 2,
    CallKind.WAITS: 0,
}


def patience(unreachable_after: Duration) -> Retry:
    """Every transient failure, from 5 s doubling to 5 min apart, until ``unreachable_after``.

    No jitter: the bound is the point, and each execution follows its own resources.
    """
    rule = Retry(
        errors=TRANSIENT_ERRORS,
        interval=_PATIENCE_FIRST,
        backoff_rate=2,
        max_attempts=_MAX_ATTEMPTS,
        max_delay=_PATIENCE_CAP,
    )
    wanted = unreachable_after.to_seconds()
    waited = accumulate(rule.delays())
    attempts = next(n for n, total in enumerate(waited, start=1) if total >= wanted)
    return replace(rule, max_attempts=attempts)


@dataclass(frozen=True)
class RetryPolicy:
    """The retries of every kind of call, for one workflow."""

    unreachable_after: Duration = Duration.hours(6)
    """How long a step that follows something waits out failures to read it."""

    def for_kind(self, kind: CallKind) -> tuple[Retry, ...]:
        if kind is CallKind.READS:
            return (patience(self.unreachable_after),)
        rules = [LAMBDA_TRANSIENT, AWS_TRANSIENT]
        if attempts := _TIMEOUT_ATTEMPTS[kind]:
            rules.append(
                Retry(
                    errors=TIMEOUT_ERRORS,
                    interval=Duration.seconds(30),
                    backoff_rate=2,
                    max_attempts=attempts,
                )
            )
        return tuple(rules)
