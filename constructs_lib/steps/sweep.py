"""After a sweep's runs: choose the winner and delete the losing runs' models."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn

from constructs_lib.steps.base import CallKind, LambdaStep, StepContext
from constructs_lib.steps.flow import Fragment
from constructs_lib.steps.permissions import acknowledge_run_time_ids, owned_by_this_stack


class ChooseWinner(LambdaStep):
    """Choose the winner: the run with the best measure, its job served as the one job's would
    be; the model of every other completed run deleted unless the request keeps the losers."""

    kind = CallKind.DELETES
    key = "sweep_winner"
    function_id = "ChooseWinner"
    handler = "sweep_winner.handler"
    description = "Chooses a sweep's winning run and deletes the losing runs' custom models"
    # Two calls per losing run (tags, delete), each with botocore's retries when throttled.
    timeout = Duration.minutes(1)

    def __init__(self, ctx: StepContext) -> None:
        super().__init__(ctx)
        models = ctx.arns.custom_models
        # A loser's model is deleted only once its tags say it is this stack's and this
        # execution's (lambda_handlers/cleanup.py ``delete_owned_model``): the tags are read
        # first, unconditioned, and the delete asks IAM for the same tags.
        # GetCustomModel: a run that missed the training gate has no job in its result; its
        # model is found by the run's model name.
        self.allow(["bedrock:ListTagsForResource", "bedrock:GetCustomModel"], models)
        self.allow(["bedrock:DeleteCustomModel"], models, owned_by_this_stack(ctx))
        acknowledge_run_time_ids(self.role, ["custom-model"])

    def fragment(self, on_error: sfn.IChainable) -> Fragment:
        """The task "Choose the winner" on ``{"plan", "runs"}``; its answer at ``$.sweep``."""
        return self.failing_into(
            on_error,
            "Choose the winner",
            result_path="$.sweep",
            comment="The run with the best measure wins; the losing runs' models are deleted",
        )
