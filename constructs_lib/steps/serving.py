"""Serving: provisioned throughput or an on-demand deployment of the custom model."""

from __future__ import annotations

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from constructs_lib.steps.base import CallKind, LambdaStep, StepContext
from constructs_lib.steps.flow import Fragment, unless
from constructs_lib.steps.permissions import (
    acknowledge_run_time_ids,
    key_through_bedrock,
    tagging_at_creation,
)


def unless_not_served(scope: Construct, *parts: Fragment) -> Fragment:
    """Serve the model?: the parts, unless the request's serving mode is ``none``."""
    return unless(
        scope,
        "Serve the model?",
        sfn.Condition.string_equals("$.plan.serving.mode", "none"),
        *parts,
    )


class StartServing(LambdaStep):
    """Start serving: CreateProvisionedModelThroughput or CreateCustomModelDeployment."""

    kind = CallKind.CREATES
    key = "start_serving"
    function_id = "StartServing"
    handler = "start_serving.handler"
    description = "Creates provisioned throughput or an on-demand deployment"

    def __init__(self, ctx: StepContext) -> None:
        super().__init__(ctx)
        arns = ctx.arns
        resources = arns.custom_models + arns.serving
        self.allow(
            ["bedrock:CreateProvisionedModelThroughput", "bedrock:CreateCustomModelDeployment"],
            resources,
        )
        # The stack's and this execution's tags, as serving is created (``tagging_at_creation``).
        self.allow(["bedrock:TagResource"], resources, tagging_at_creation(ctx))
        self.function.add_to_role_policy(key_through_bedrock(ctx.storage.key, ctx.stack))
        acknowledge_run_time_ids(
            self.role, ["custom-model", "provisioned-model", "custom-model-deployment"]
        )

    def fragment(self, on_error: sfn.IChainable) -> Fragment:
        return self.failing_into(
            on_error,
            "Start serving",
            result_path="$.serving",
            comment="Provisioned throughput or on-demand deployment of the custom model",
        )


class CheckServing(LambdaStep):
    """Wait for serving / Check serving status: until InService or Active."""

    kind = CallKind.READS
    key = "check_serving"
    function_id = "CheckServing"
    handler = "check_serving.handler"
    description = "Reads the serving resource's status"

    def __init__(self, ctx: StepContext) -> None:
        super().__init__(ctx)
        self.allow(
            ["bedrock:GetProvisionedModelThroughput", "bedrock:GetCustomModelDeployment"],
            ctx.arns.serving,
        )
        acknowledge_run_time_ids(self.role, ["provisioned-model", "custom-model-deployment"])

    def poll(self, on_error: sfn.IChainable) -> Fragment:
        return self.polling(
            on_error,
            "Check serving status",
            result_path="$.serving",
            comment="Fails when serving ends in Failed",
            wait="Wait for serving",
            schedule=self.ctx.schedules.serving,
            done="Serving ready?",
            until=sfn.Condition.boolean_equals("$.serving.ready", True),
        )
