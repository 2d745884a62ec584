"""Notification: one SNS message per outcome, and the two ends of every execution."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn

from constructs_lib.steps.base import CallKind, LambdaStep, StepContext
from constructs_lib.steps.flow import Fragment


def allow_publishing(step: LambdaStep, topic: sns.ITopic, key: kms.IKey) -> None:
    """Publish to the topic, which is encrypted with the stack's key."""
    step.allow(["sns:Publish"], [topic.topic_arn])
    step.allow(
        ["kms:GenerateDataKey", "kms:Decrypt"],
        [key.key_arn],
        conditions={
            "StringEquals": {"kms:ViaService": f"sns.{step.ctx.stack.region}.amazonaws.com"}
        },
    )


class Notify(LambdaStep):
    """Notify success / Notify failure: publishes the outcome, never fails the execution."""

    kind = CallKind.NOTIFIES
    key = "notify"
    function_id = "Notify"
    handler = "notify.handler"
    description = "Publishes the execution's outcome"

    def __init__(self, ctx: StepContext, *, topic: sns.ITopic) -> None:
        super().__init__(ctx)
        allow_publishing(self, topic, ctx.storage.key)
        self._failure: sfn.IChainable | None = None

    def _notify(self, name: str, outcome: str, comment: str) -> sfn.TaskStateBase:
        return self.task(
            name,
            payload=sfn.TaskInput.from_object(
                {"outcome": outcome, "state": sfn.JsonPath.object_at("$")}
            ),
            result_path="$.notification",
            comment=comment,
        )

    @property
    def failure(self) -> sfn.IChainable:
        """Notify failure -> Customization failed: where every failure ends (built once)."""
        if self._failure is None:
            fail = sfn.Fail(
                self.ctx.scope,
                "Customization failed",
                error_path="$.error.Error",
                cause_path="$.error.Cause",
            )
            notify = self._notify(
                "Notify failure", "FAILED", "Publishes the failure and what cleanup did"
            )
            notify.add_catch(fail, errors=["States.ALL"], result_path="$.notificationError")
            notify.next(fail)
            self._failure = notify
        return self._failure

    def success(self) -> Fragment:
        """Notify success -> Customization succeeded."""
        notify = self._notify(
            "Notify success", "SUCCEEDED", "Publishes the custom model and how to invoke it"
        )
        succeeded = sfn.Succeed(self.ctx.scope, "Customization succeeded")
        # The model is trained and served: a lost notification must not tear that down.
        notify.add_catch(succeeded, errors=["States.ALL"], result_path="$.notificationError")
        notify.next(succeeded)
        return Fragment(notify)
