"""Training: submit the customization job once per execution, then follow it to its end."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn

from constructs_lib.service_role import BedrockServiceRole
from constructs_lib.steps.base import (
    JOB_QUOTA,
    SERVICE_ROLE_PROPAGATION,
    CallKind,
    LambdaStep,
    StepContext,
)
from constructs_lib.steps.flow import Fragment
from constructs_lib.steps.permissions import acknowledge_run_time_ids, key_through_bedrock


class SubmitJob(LambdaStep):
    """Submit customization job: CreateModelCustomizationJob with a token from the execution."""

    kind = CallKind.CREATES
    key = "submit"
    function_id = "SubmitJob"
    handler = "submit_job.handler"
    description = "Submits the Bedrock model customization job, once per execution"
    waits_out = (SERVICE_ROLE_PROPAGATION, JOB_QUOTA)

    def __init__(self, ctx: StepContext, *, service_role: BedrockServiceRole) -> None:
        super().__init__(ctx)
        arns = ctx.arns
        # Create (with tags) and read back its own job; pass the service role.
        self.allow(
            ["bedrock:CreateModelCustomizationJob", "bedrock:TagResource"],
            arns.foundation_models + arns.jobs + arns.custom_models,
        )
        self.allow(["bedrock:GetModelCustomizationJob"], arns.jobs)
        service_role.grant_pass_role(self.function)
        # The custom model is encrypted with the stack's key: Bedrock uses it on our behalf.
        self.function.add_to_role_policy(key_through_bedrock(ctx.storage.key, ctx.stack))
        acknowledge_run_time_ids(self.role, ["model-customization-job", "custom-model"])

    def fragment(self, on_error: sfn.IChainable) -> Fragment:
        return self.failing_into(
            on_error,
            "Submit customization job",
            result_path="$.job",
            comment="CreateModelCustomizationJob with a token derived from the execution",
        )


class CheckJob(LambdaStep):
    """Wait for job / Check job status: until the job completes; Failed or Stopped fail."""

    kind = CallKind.READS
    key = "check_job"
    function_id = "CheckJob"
    handler = "check_job.handler"
    description = "Reads the customization job's status"

    def __init__(self, ctx: StepContext) -> None:
        super().__init__(ctx)
        self.allow(["bedrock:GetModelCustomizationJob"], ctx.arns.jobs)
        acknowledge_run_time_ids(self.role, ["model-customization-job"])

    def poll(self, every: Duration, on_error: sfn.IChainable) -> Fragment:
        return self.polling(
            on_error,
            "Check job status",
            result_path="$.job",
            comment="GetModelCustomizationJob; fails on Failed or Stopped",
            wait="Wait for job",
            every=sfn.WaitTime.duration(every),
            done="Job completed?",
            until=sfn.Condition.string_equals("$.job.status", "Completed"),
        )
