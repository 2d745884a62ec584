"""Evaluation: the served custom model against the base model on a held-out test set.

The base model answers by its id, or through a system-defined inference profile where the
service does not run it on demand (``base_model_access.py``). From the model's batch
minimum (100 test records) it answers through a batch inference job, run by a role Bedrock
assumes; the custom model always answers through Converse (batch inference does not run on
provisioned or deployed custom models). "Evaluate the model" runs in rounds, each inside
one invocation's time, until every call is answered ("Evaluation done?").
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from constructs_lib.nag import acknowledge, attr_ref
from constructs_lib.service_role import bedrock_principal
from constructs_lib.steps.base import CallKind, LambdaStep, StepContext, fails_into
from constructs_lib.steps.base_model_access import (
    allow_resolving,
    base_model_invoke_arns,
    profile_arns,
)
from constructs_lib.steps.flow import Fragment, when
from constructs_lib.steps.history import PollSchedule
from constructs_lib.steps.permissions import acknowledge_run_time_ids, tagging_at_creation
from lambda_handlers.evaluation.rounds import STOP_STARTING_MS


def when_asked(scope: Construct, *parts: Fragment) -> Fragment:
    """Evaluate?: the parts when the request has ``evaluation``."""
    return when(scope, "Evaluate?", sfn.Condition.is_present("$.plan.evaluation"), *parts)


def batch_inference_role(ctx: StepContext) -> iam.Role:
    """The role Bedrock assumes to run the base model on the test prompts, and nothing else."""
    storage, stack = ctx.storage, ctx.stack
    reports = storage.artifacts_bucket.arn_for_objects(f"{storage.reports_prefix}*")
    role = iam.Role(
        ctx.scope,
        "BatchInferenceRole",
        description="Assumed by Amazon Bedrock to run this stack's evaluation batch jobs",
        assumed_by=bedrock_principal(stack, ctx.arns.batch_jobs[0]),
    )
    policy = iam.Policy(
        ctx.scope,
        "BatchInferencePolicy",
        statements=[
            iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[reports]),
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[storage.artifacts_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{storage.reports_prefix}*"]}},
            ),
            iam.PolicyStatement(
                actions=["bedrock:InvokeModel"], resources=base_model_invoke_arns(stack, ctx.arns)
            ),
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[storage.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
            ),
        ],
    )
    policy.attach_to_role(role)
    acknowledge(
        policy,
        "IAM5",
        "Bedrock reads the evaluation prompts and writes its answers under the reports prefix, "
        "in folders named after the job and keys it chooses.",
        findings=[f"Resource::{attr_ref(storage.artifacts_bucket)}/{storage.reports_prefix}*"],
    )
    return role


def _read_test_set_write_reports(step: LambdaStep, what: str) -> None:
    storage = step.ctx.storage
    storage.grant_read_data(step.function)
    storage.grant_write_reports(step.function)
    acknowledge(
        step.role,
        "IAM5",
        what,
        findings=[f"Resource::{attr_ref(storage.data_bucket)}/{p}*" for p in storage.data_prefixes]
        + [f"Resource::{attr_ref(storage.artifacts_bucket)}/{storage.reports_prefix}*"],
    )


class PrepareEvaluation(LambdaStep):
    """Prepare evaluation: read the test set; from 100 records, start a batch inference job."""

    kind = CallKind.CREATES
    key = "prepare_evaluation"
    function_id = "PrepareEvaluation"
    handler = "batch_evaluation.prepare_handler"
    description = (
        "Reads the test set; from 100 records starts a batch inference job for the base model"
    )
    timeout = Duration.minutes(1)
    memory_size = 1024

    def __init__(self, ctx: StepContext, *, batch_role: iam.IRole) -> None:
        super().__init__(ctx)
        self.function.add_environment("BATCH_ROLE_ARN", batch_role.role_arn)
        _read_test_set_write_reports(
            self,
            "Prepare reads the test set a request names under the data prefixes and writes the batch "
            "input under the reports prefix, in a folder named after the job.",
        )
        # The job's modelId is the base model, or the inference profile it answers through.
        # It is tagged with the stack and this execution as it is created, and only then
        # (``tagging_at_creation``): cleanup stops only a batch job that carries both.
        resources = ctx.arns.batch_jobs + ctx.arns.base_models + profile_arns(ctx.stack)
        self.allow(["bedrock:CreateModelInvocationJob"], resources)
        self.allow(["bedrock:TagResource"], resources, tagging_at_creation(ctx))
        allow_resolving(self)
        iam.Grant.add_to_principal(
            grantee=self.function,
            actions=["iam:PassRole"],
            resource_arns=[batch_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
        )
        acknowledge_run_time_ids(self.role, ["model-invocation-job"])

    def fragment(self, on_error: sfn.IChainable) -> Fragment:
        return self.failing_into(
            on_error,
            "Prepare evaluation",
            result_path="$.evaluationPrep",
            comment="From 100 test records, the base model answers through a batch inference job",
        )


class CheckEvaluationBatch(LambdaStep):
    """Wait for batch evaluation / Check batch evaluation, when Prepare started a batch job."""

    kind = CallKind.READS
    key = "check_evaluation_batch"
    function_id = "CheckEvaluationBatch"
    handler = "batch_evaluation.check_handler"
    description = "Reads the batch inference job's status"

    def __init__(self, ctx: StepContext) -> None:
        super().__init__(ctx)
        self.allow(["bedrock:GetModelInvocationJob"], ctx.arns.batch_jobs)
        acknowledge_run_time_ids(self.role, ["model-invocation-job"])

    def poll(self, on_error: sfn.IChainable) -> Fragment:
        """Batch inference?: only when Prepare started a batch job."""
        return when(
            self.ctx.scope,
            "Batch inference?",
            sfn.Condition.string_equals("$.evaluationPrep.mode", "batch"),
            self.polling(
                on_error,
                "Check batch evaluation",
                result_path="$.evaluationPrep",
                comment="Fails if the batch job failed, expired or was stopped",
                wait="Wait for batch evaluation",
                schedule=self.ctx.schedules.job,
                done="Batch done?",
                until=sfn.Condition.boolean_equals("$.evaluationPrep.done", True),
            ),
        )


class EvaluateModel(LambdaStep):
    """Evaluate the model: custom against base on the test set; fails on the quality gate."""

    kind = CallKind.INVOKES
    key = "evaluate"
    function_id = "EvaluateModel"
    handler = "evaluate_model.handler"
    description = "Scores the served custom model against the base model; applies the quality gate"
    # Up to maxRecords x 2 Converse calls, bounded concurrency, in rounds: each stops starting
    # calls two minutes before this timeout (lambda_handlers/evaluation/rounds.py).
    timeout = Duration.minutes(15)
    memory_size = 1024

    def __init__(self, ctx: StepContext) -> None:
        super().__init__(ctx)
        # The batch answers are read back.
        ctx.storage.grant_read_reports(self.function)
        # The served custom model (throughput or deployment) and the base models, by their id
        # or through their inference profiles.
        self.allow(
            ["bedrock:InvokeModel"], ctx.arns.serving + base_model_invoke_arns(ctx.stack, ctx.arns)
        )
        acknowledge_run_time_ids(self.role, ["provisioned-model", "custom-model-deployment"])
        _read_test_set_write_reports(
            self,
            "The evaluation reads the test set a request names under the data prefixes and writes its "
            "results under the reports prefix, in a folder named after the job.",
        )

    def fragment(self, on_error: sfn.IChainable) -> Fragment:
        """Evaluate the model, again while ``$.evaluation.done`` is false (one round each)."""
        task = fails_into(
            self.task(
                "Evaluate the model",
                result_path="$.evaluation",
                comment="Custom against base model on the held-out test set, a round at a time; "
                "fails on the quality gate",
            ),
            on_error,
        )
        # A round that is not the last runs until its time is nearly up: the history budget
        # counts this loop as one look every that long (constructs_lib/steps/history.py).
        shortest = self.timeout.to_seconds() - STOP_STARTING_MS // 1000
        self.ctx.loops["Evaluate the model"] = PollSchedule(
            Duration.seconds(shortest), Duration.seconds(shortest)
        )
        done = sfn.Choice(self.ctx.scope, "Evaluation done?")
        task.next(done)
        done.otherwise(task)

        def continue_with(after: sfn.IChainable) -> None:
            done.when(sfn.Condition.boolean_equals("$.evaluation.done", True), after)

        return Fragment(task, continue_with)
