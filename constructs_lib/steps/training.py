"""Training: submit the customization job once per execution, then follow it to its end."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_stepfunctions as sfn

from constructs_lib.nag import acknowledge, attr_ref
from constructs_lib.service_role import BedrockServiceRole
from constructs_lib.steps.base import CallKind, LambdaStep, StepContext
from constructs_lib.steps.flow import Fragment
from constructs_lib.steps.permissions import (
    acknowledge_run_time_ids,
    key_through_bedrock,
    tagging_at_creation,
)
from constructs_lib.steps.retries import JOB_QUOTA, SERVICE_ROLE_PROPAGATION
from lambda_handlers.evaluation.curves import TRAINING_FILE, VALIDATION_FILE

CURVE_FILES = (TRAINING_FILE, VALIDATION_FILE)

# The job's own outcomes, as check_job raises them: the only ends of following it that clean up.
JOB_OUTCOMES = ("CustomizationJobFailed", "CustomizationJobStopped", "QualityGateFailed")


@dataclass(frozen=True)
class JobStates:
    """The names of the states that submit and follow one job: the workflow's own job, or a
    sweep's run inside its Map (state names are unique in a state machine)."""

    submit: str
    wait_event: str
    safety_poll: str
    wait: str
    check: str
    done: str
    left_running: str
    in_map: bool = False
    """Inside a Map's iterations: its loops are not the top level's (``history.py``)."""


SINGLE_JOB = JobStates(
    "Submit customization job",
    "Wait for job event",
    "Safety poll",
    "Wait for job",
    "Check job status",
    "Job completed?",
    "Job left running",
)
SWEEP_RUN = JobStates(
    "Submit run",
    "Wait for run event",
    "Run safety poll",
    "Wait for run",
    "Check run status",
    "Run completed?",
    "Run left running",
    in_map=True,
)


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
        # Create (with tags) and read back its own job; pass the service role. Tags only as
        # the job and its model are created: the stack's and this execution's, never onto a
        # resource that already carries a stack tag (``tagging_at_creation``).
        resources = arns.foundation_models + arns.jobs + arns.custom_models
        self.allow(["bedrock:CreateModelCustomizationJob"], resources)
        self.allow(["bedrock:TagResource"], resources, tagging_at_creation(ctx))
        self.allow(["bedrock:GetModelCustomizationJob"], arns.jobs)
        service_role.grant_pass_role(self.function)
        # The custom model is encrypted with the stack's key: Bedrock uses it on our behalf.
        self.function.add_to_role_policy(key_through_bedrock(ctx.storage.key, ctx.stack))
        acknowledge_run_time_ids(self.role, ["model-customization-job", "custom-model"])

    def fragment(self, on_error: sfn.IChainable, names: JobStates = SINGLE_JOB) -> Fragment:
        return self.failing_into(
            on_error,
            names.submit,
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
        # A completed job's two metrics files (``lambda_handlers/evaluation/curves.py``), and
        # nothing else Bedrock writes: ``<output prefix><job folder>/model-customization-job-
        # <id>/...``, the id known only at run time. Listing the same keys makes S3 answer a
        # missing file with 404, and settles a 403 (``job_curves.read_object``).
        storage = ctx.storage
        metrics = [f"{storage.output_prefix}*model-customization-job-*/{f}" for f in CURVE_FILES]
        self.allow(["s3:GetObject"], [storage.artifacts_bucket.arn_for_objects(m) for m in metrics])
        self.allow(
            ["s3:ListBucket"],
            [storage.artifacts_bucket.bucket_arn],
            {"StringLike": {"s3:prefix": metrics}},
        )
        storage._grant_key_through_s3(self.function, "kms:Decrypt")  # the bucket's key, via S3
        storage.grant_write_reports(self.function)  # the summary and the files' copies
        acknowledge(
            self.role,
            "IAM5",
            "Check job reads the two metrics files of a completed job, whose folder (the job's "
            "id) Bedrock names at run time, and writes the curves' summary under the reports "
            "prefix, in a folder named after the job.",
            findings=[f"Resource::{attr_ref(storage.artifacts_bucket)}/{m}" for m in metrics]
            + [f"Resource::{attr_ref(storage.artifacts_bucket)}/{storage.reports_prefix}*"],
        )

    def poll(
        self,
        on_error: sfn.IChainable,
        *,
        left_running: sfn.IChainable,
        names: JobStates = SINGLE_JOB,
    ) -> Fragment:
        """Until the job completes. Only the job's own outcome (Failed, Stopped, a training gate
        failed) goes to cleanup. A job the workflow cannot follow, for longer than its patience
        or for a reason of ours (a permission, a bug), is left running: the execution ends in
        ``left_running`` (the notification) with ``JobUnreachable``, never in cleanup, which
        would stop a job that may be fine."""
        return self.polling(
            on_error,
            names.check,
            result_path="$.job",
            comment="GetModelCustomizationJob; fails on Failed or Stopped",
            wait=names.wait,
            schedule=self.ctx.schedules.job,
            done=names.done,
            until=sfn.Condition.string_equals("$.job.status", "Completed"),
            unreachable=(JOB_OUTCOMES, self._left_running(left_running, names)),
            loops=self.ctx.run_loops if names.in_map else self.ctx.loops,
        )

    def check_task(
        self,
        on_error: sfn.IChainable,
        *,
        left_running: sfn.IChainable,
        names: JobStates = SINGLE_JOB,
    ) -> sfn.TaskStateBase:
        """The same look as ``poll``'s, for a wait that is not a poll (the job's event)."""
        return self.looking(
            on_error,
            names.check,
            result_path="$.job",
            comment="GetModelCustomizationJob; fails on Failed or Stopped",
            unreachable=(JOB_OUTCOMES, self._left_running(left_running, names)),
        )

    def _left_running(self, then: sfn.IChainable, names: JobStates) -> sfn.IChainable:
        patience = self.ctx.retries.unreachable_after.to_human_string()
        job = "$.job.jobArn"
        cause = (
            "The workflow stopped following customization job {} on {}: {} (failures that can "
            f"pass are retried for {patience} first). The job was left running and may still "
            "complete; it is billed until it ends. Watch it: aws bedrock "
            "get-model-customization-job --job-identifier {} . Stop it: aws bedrock "
            "stop-model-customization-job --job-identifier {}"
        )
        left = sfn.Pass(
            self.ctx.scope,
            names.left_running,
            comment="The job could not be followed: say so, and leave it alone",
            parameters={
                "Error": "JobUnreachable",
                "Cause": sfn.JsonPath.format(
                    cause,
                    sfn.JsonPath.string_at(job),
                    sfn.JsonPath.string_at("$.unreachable.Error"),
                    sfn.JsonPath.string_at("$.unreachable.Cause"),
                    sfn.JsonPath.string_at(job),
                    sfn.JsonPath.string_at(job),
                ),
            },
            result_path="$.error",
        )
        left.next(then)
        return left
