"""Request and data checks: the first state, before anything is created or paid for."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from aws_cdk import Duration, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn

from constructs_lib.grader import RftGrader
from constructs_lib.nag import acknowledge, arn, attr_ref
from constructs_lib.steps.base import CallKind, LambdaStep, StepContext
from constructs_lib.steps.base_model_access import allow_resolving
from constructs_lib.steps.flow import Fragment, sequence
from constructs_lib.steps.permissions import acknowledge_run_time_ids
from constructs_lib.steps.promotion import PromotionTargets
from constructs_lib.steps.sharded_validation import ShardedValidation, in_shards
from lambda_handlers.common.request import (
    SWEEP_DEFAULT_MAX_RUNS,
    SWEEP_HARD_MAX_RUNS,
    SWEEP_MIN_RUNS,
)

# The largest modelUnits a request may name (lambda_handlers/common/request.py).
_MAX_UNITS = 100


@dataclass(frozen=True)
class SpendingLimits:
    """What an execution may spend, whatever its request says: at most ``max_model_units``
    of provisioned throughput, a commitment only if ``allow_commitments``, and a training
    cost estimate held to ``max_training_cost_usd`` (``None``: the request's own ceiling,
    if any). ``checked`` refuses limits that cannot be enforced, at synthesis.

    ``prices_file``: a prices file (the format of ``lambda_handlers/data/prices.json``, only
    the figures it gives) whose training prices the ceilings use, for models whose price AWS
    does not publish or that you negotiated. Default: none, the shipped prices only, so a
    ceiling refuses every request for a model without a published training price. It is read
    and checked at synthesis and its training figures go to the Validate function in one
    environment variable (``TRAINING_PRICES``); a file that would not fit Lambda's 4 KB of
    variables is refused then."""

    max_model_units: int = 1
    allow_commitments: bool = False
    max_training_cost_usd: float | None = None
    prices_file: str | None = None
    max_sweep_runs: int = SWEEP_DEFAULT_MAX_RUNS
    """The most runs a request's ``sweep`` may have (each a training job billed in full)."""
    max_sweep_concurrency: int = 2
    """The most runs of a sweep training at once: their waits share the execution's history."""

    def checked(self) -> SpendingLimits:
        units, ceiling = self.max_model_units, self.max_training_cost_usd
        if isinstance(units, bool) or not isinstance(units, int) or not 1 <= units <= _MAX_UNITS:
            raise ValueError(
                f"spending_limits.max_model_units must be a whole number from 1 to {_MAX_UNITS} (what a request "
                f"may ask for), got {units!r}"
            )
        if not isinstance(self.allow_commitments, bool):
            raise ValueError(
                f"spending_limits.allow_commitments must be true or false, got {self.allow_commitments!r}"
            )
        if ceiling is not None and (
            isinstance(ceiling, bool)
            or not isinstance(ceiling, int | float)
            or not math.isfinite(ceiling)
            or ceiling <= 0  # a number token is a large negative number: refused here too
            or Token.is_unresolved(ceiling)
        ):
            raise ValueError(
                f"spending_limits.max_training_cost_usd must be a number of US dollars above 0, or None for no "
                f"ceiling, got {ceiling!r}"
            )
        self._training_prices()  # a bad or too large prices file is refused here
        _whole("max_sweep_runs", self.max_sweep_runs, SWEEP_MIN_RUNS, SWEEP_HARD_MAX_RUNS)
        _whole("max_sweep_concurrency", self.max_sweep_concurrency, 1, self.max_sweep_runs)
        return SpendingLimits(
            units,
            self.allow_commitments,
            None if ceiling is None else float(ceiling),
            self.prices_file,
            self.max_sweep_runs,
            self.max_sweep_concurrency,
        )

    def _training_prices(self) -> dict[str, str]:
        """The Validate function's ``TRAINING_PRICES`` from ``prices_file`` (empty without)."""
        if self.prices_file is None:
            return {}
        # The handlers' own reader, so the stack refuses exactly what Validate could not use.
        from lambda_handlers.datatools.price_file import (
            read_price_file,
            training_prices_environment,
        )

        try:
            return training_prices_environment(read_price_file(self.prices_file))
        except OSError as error:
            raise ValueError(
                f"spending_limits.prices_file (context pricesFile): cannot read "
                f"{self.prices_file}: {(error.strerror or str(error)).lower()}; give the path of "
                "a prices file, relative to the directory cdk runs the app from"
            ) from error
        except ValueError as error:
            raise ValueError(
                f"spending_limits.prices_file (context pricesFile): {error}"
            ) from error

    def environment(self) -> dict[str, str]:
        """What Validate reads (``Settings.policy``, and the prices file's training prices)."""
        return {
            **self._training_prices(),
            "MAX_MODEL_UNITS": str(self.max_model_units),
            "ALLOW_COMMITMENTS": "true" if self.allow_commitments else "false",
            "MAX_TRAINING_COST_USD": (
                "" if self.max_training_cost_usd is None else repr(self.max_training_cost_usd)
            ),
            "MAX_SWEEP_RUNS": str(self.max_sweep_runs),
            "MAX_SWEEP_CONCURRENCY": str(self.max_sweep_concurrency),
        }


def _whole(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(
            f"spending_limits.{name} must be a whole number from {low} to {high}, got {value!r}"
        )


DEFAULT_LIMITS = SpendingLimits()
"""1 model unit, no commitment, no ceiling of the stack's own."""


@dataclass(frozen=True)
class RequestOptions:
    """What requests may name besides the stack's buckets (graders, invocation logs), and
    what the stack owner allows executions (promotion targets, spending limits).

    Every function that checks requests must know the first two (``configure``): the abort
    cleanup rebuilds an execution's plan from its request and would otherwise skip an RFT or
    logs job. The others are Validate's alone (``configure_policy``), so a limit lowered by a
    later deploy never stops the cleanup of an execution that started under the old one.
    """

    graders: Sequence[RftGrader] = ()
    invocation_logs: Sequence[tuple[s3.IBucket, str]] = ()
    """``(bucket, key prefix)`` of Bedrock invocation logs, for distillation."""
    promotion: PromotionTargets = field(default_factory=PromotionTargets)
    limits: SpendingLimits = field(default_factory=SpendingLimits)
    sharding: ShardedValidation | None = None
    """Large data validated in shards by a Distributed Map; ``None``: always by Validate."""

    def checked(self, stack: Stack) -> RequestOptions:
        """These options, with promotion targets and limits the stack can enforce (or raise)."""
        return replace(
            self,
            promotion=self.promotion.checked(stack),
            limits=self.limits.checked(),
            sharding=self.sharding.checked() if self.sharding else None,
        )

    def configure_policy(self, step: LambdaStep) -> None:
        """Give Validate's function the promotion targets and spending limits it enforces."""
        for name, value in {
            **self.promotion.environment(),
            **self.limits.environment(),
        }.items():
            step.function.add_environment(name, value)

    def configure(self, step: LambdaStep) -> None:
        """Give ``step``'s function the settings that decide which requests are valid."""
        for bucket, prefix in self.invocation_logs:
            step.function.add_environment(
                "INVOCATION_LOGS_URIS", f"s3://{bucket.bucket_name}/{prefix}"
            )
        if self.graders:
            graders = {g.name: g.function_arn for g in self.graders}
            step.function.add_environment(
                "GRADERS", Stack.of(step.function).to_json_string(graders)
            )


class ValidateRequest(LambdaStep):
    """Validate request: the whole request, every problem at once, and the training data.

    It also checks, before anything is paid for, what later states need
    (``lambda_handlers/preflight``): the test set, the promotion target and how the base
    model answers, so it reads those too (``_read_what_later_states_need``).
    """

    kind = CallKind.CHECKS  # reads the data; writes only its own report
    key = "validate"
    function_id = "ValidateRequest"
    handler = "validate_request.handler"
    description = "Checks a customization request and its training data, resolves it into a plan"
    # Streams the whole dataset from S3: time and CPU (memory buys CPU) for large files.
    timeout = Duration.minutes(15)
    memory_size = 2048

    def __init__(
        self,
        ctx: StepContext,
        *,
        extra_data_buckets: Sequence[s3.IBucket],
        options: RequestOptions,
    ) -> None:
        super().__init__(ctx)
        self.sharding = options.sharding
        for name, value in (self.sharding.environment(ctx.stack) if self.sharding else {}).items():
            self.function.add_environment(name, value)
        self._read_data(extra_data_buckets)
        self._read_what_later_states_need(extra_data_buckets, options.promotion)
        options.configure(self)
        options.configure_policy(self)
        for bucket, prefix in options.invocation_logs:
            self._read_invocation_logs(bucket, prefix)

    def _read_data(self, extra_data_buckets: Sequence[s3.IBucket]) -> None:
        """The data must exist (HeadObject needs s3:GetObject); the report goes to reports/."""
        storage = self.ctx.storage
        storage.grant_read_data(self.function)
        storage.grant_write_reports(self.function)
        if extra_data_buckets:
            self.allow(["s3:GetObject"], [b.arn_for_objects("*") for b in extra_data_buckets])
        acknowledge(
            self.role,
            "IAM5",
            "The validator reads the dataset a request names, anywhere under the data prefixes, and "
            "writes its report under the reports prefix, in a folder named after the job.",
            findings=[
                f"Resource::{attr_ref(storage.data_bucket)}/{p}*" for p in storage.data_prefixes
            ]
            + [f"Resource::{attr_ref(storage.artifacts_bucket)}/{storage.reports_prefix}*"]
            + [
                f"Resource::{arn(self.role, 's3', b.bucket_name + '/*')}"
                for b in extra_data_buckets
            ],
        )

    def _read_what_later_states_need(
        self, extra_data_buckets: Sequence[s3.IBucket], promotion: PromotionTargets
    ) -> None:
        """Listing the data (a missing object answers 403 without it), the promotion target
        (only those the stack allows: their tag, their state) and the model it serves, and how
        the base model answers."""
        storage = self.ctx.storage
        self.allow(
            ["s3:ListBucket"],
            [storage.data_bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in storage.data_prefixes]}},
        )
        if extra_data_buckets:
            # Granted in full for reading already; listing tells a missing object from a 403.
            self.allow(["s3:ListBucket"], [b.bucket_arn for b in extra_data_buckets])
        if promotion.enabled:
            tags = ["bedrock:ListTagsForResource"] if promotion.tag is not None else []
            promotion.grant(
                self,
                [
                    "bedrock:GetCustomModelDeployment",
                    "bedrock:GetProvisionedModelThroughput",
                    *tags,
                ],
            )
            self.allow(["bedrock:GetCustomModel"], self.ctx.arns.custom_models)
            acknowledge_run_time_ids(self.role, ["custom-model"])
        allow_resolving(self)

    def _read_invocation_logs(self, bucket: s3.IBucket, prefix: str) -> None:
        allow_logs = iam.Policy(
            self.ctx.scope,
            "ValidatorReadsInvocationLogs",
            statements=[
                iam.PolicyStatement(
                    actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{prefix}*")]
                ),
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
                ),
            ],
        )
        allow_logs.attach_to_role(self.role)
        acknowledge(
            allow_logs,
            "IAM5",
            "The validator reads the invocation-log objects a distillation request selects, under "
            "the granted prefix; Bedrock's log delivery chooses their keys.",
            findings=[f"Resource::{arn(allow_logs, 's3', f'{bucket.bucket_name}/{prefix}*')}"],
        )

    def fragment(self, *, rejected: sfn.IChainable) -> Fragment:
        """The first state; a rejected request goes to ``rejected`` (nothing exists to clean up)."""
        task = self.task(
            "Validate request",
            payload=sfn.TaskInput.from_object(
                {
                    "request": sfn.JsonPath.object_at("$"),
                    "execution": {
                        "id": sfn.JsonPath.execution_id,
                        "name": sfn.JsonPath.execution_name,
                    },
                }
            ),
            result_path="$",
            comment="Checks the request; rejects it with every problem listed",
        )
        # The input may not even be an object, so the error replaces it rather than joining it.
        rejection = sfn.Pass(
            self.ctx.scope, "Request rejected", parameters={"error": sfn.JsonPath.object_at("$")}
        )
        rejection.next(rejected)
        task.add_catch(rejection, errors=["States.ALL"], result_path="$")
        if self.sharding is None:
            return Fragment.of(task)
        return sequence(Fragment.of(task), in_shards(self, self.sharding, rejection))
