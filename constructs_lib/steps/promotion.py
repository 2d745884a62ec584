"""Promotion and expiry: the new model onto an existing endpoint; serving's time-to-live.

Which endpoints executions may promote onto is the stack owner's choice
(``PromotionTargets``): listed ARNs, and/or endpoints that carry one tag. The Promote and
Check promotion roles may touch exactly those; with neither, no promotion at all (the
``Promote?`` states stay, and Validate refuses any request that names a target).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from constructs_lib.nag import account_arn, acknowledge, attr_ref
from constructs_lib.steps.base import CallKind, LambdaStep, StepContext
from constructs_lib.steps.cleanup import Cleanup
from constructs_lib.steps.flow import Fragment, when
from constructs_lib.steps.permissions import (
    BedrockArns,
    acknowledge_run_time_ids,
    key_through_bedrock,
)
from lambda_handlers.common.request import RESERVED_TAG_PREFIX, TAG_PATTERN

_ENDPOINT_READS = ["bedrock:GetCustomModelDeployment", "bedrock:GetProvisionedModelThroughput"]
_ENDPOINT_UPDATES = [
    "bedrock:UpdateCustomModelDeployment",
    "bedrock:UpdateProvisionedModelThroughput",
]
_ENDPOINT_ARN = re.compile(
    r"^arn:aws(-[a-z-]+)?:bedrock:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"(custom-model-deployment|provisioned-model)/[a-z0-9]{12}$"
)


@dataclass(frozen=True)
class PromotionTargets:
    """The endpoints executions may promote onto: ``arns`` (custom model deployments and
    provisioned throughputs of the stack's account and Region, literal ARNs) and/or those
    tagged ``tag`` (``(key, value)``). Neither (the default): no promotion.

    ``checked`` refuses targets the roles could not be limited to, when the app is synthesized.
    """

    arns: Sequence[str] = ()
    tag: tuple[str, str] | None = None

    def checked(self, stack: Stack) -> PromotionTargets:
        for arn in self.arns:
            _check_endpoint_arn(stack, arn)
        if self.tag is not None:
            _check_tag(self.tag)
        tag = (self.tag[0], self.tag[1]) if self.tag is not None else None
        return PromotionTargets(tuple(dict.fromkeys(self.arns)), tag)

    @property
    def enabled(self) -> bool:
        return bool(self.arns) or self.tag is not None

    def environment(self) -> dict[str, str]:
        """What the functions that check a target read (``Settings.policy``)."""
        key, value = self.tag or ("", "")
        return {
            "PROMOTION_TARGET_ARNS": ",".join(self.arns),
            "PROMOTION_TARGET_TAG_KEY": key,
            "PROMOTION_TARGET_TAG_VALUE": value,
        }

    def statements(self, arns: BedrockArns, actions: Sequence[str]) -> list[iam.PolicyStatement]:
        """``actions`` on the listed endpoints, and (with a tag) on the endpoints of this
        account and Region; the update actions there only on those carrying the tag.

        The Service Authorization Reference lists ``aws:ResourceTag/${TagKey}`` for the
        provisioned-model and custom-model-deployment resource types, not on the Update
        actions' own rows; whether Bedrock evaluates it on these calls is not documented,
        so Validate and Promote also read the tag (``preflight.promotion.target_problems``).
        """
        statements = []
        if self.arns:
            statements.append(iam.PolicyStatement(actions=list(actions), resources=[*self.arns]))
        if self.tag is not None:
            key, value = self.tag
            updates = [a for a in actions if a in _ENDPOINT_UPDATES]
            others = [a for a in actions if a not in _ENDPOINT_UPDATES]
            if others:
                statements.append(iam.PolicyStatement(actions=others, resources=arns.serving))
            if updates:
                statements.append(
                    iam.PolicyStatement(
                        actions=updates,
                        resources=arns.serving,
                        conditions={"StringEquals": {f"aws:ResourceTag/{key}": value}},
                    )
                )
        return statements

    def grant(self, step: LambdaStep, actions: Sequence[str]) -> None:
        """Give ``step``'s role ``actions`` on the allowed endpoints (nothing without any)."""
        for statement in self.statements(step.ctx.arns, actions):
            step.function.add_to_role_policy(statement)
        if self.tag is not None:
            acknowledge(
                step.role,
                "IAM5",
                "Endpoints marked with the stack's promotion tag are found at run time, so these "
                "ARNs name the resource types of this account and Region; updates carry an "
                "aws:ResourceTag condition on the tag, and the handler reads the tag first.",
                findings=[
                    f"Resource::{account_arn(step.role, 'bedrock', f'{t}/*')}"
                    for t in ("provisioned-model", "custom-model-deployment")
                ],
            )


NO_PROMOTION = PromotionTargets()
"""The default: executions may promote onto nothing."""


def _check_endpoint_arn(stack: Stack, arn: str) -> None:
    """A literal deployment or throughput ARN, of the stack's account and Region when pinned."""
    where = "promotion_targets.arns"
    if Token.is_unresolved(arn) or "*" in arn:
        raise ValueError(
            f"{where}: {arn!r} must be a literal ARN (no token, no wildcard): the roles may "
            "update exactly these endpoints"
        )
    match = _ENDPOINT_ARN.match(arn)
    if match is None:
        raise ValueError(
            f"{where}: {arn!r} is not the ARN of a custom model deployment "
            "(arn:aws:bedrock:<region>:<account>:custom-model-deployment/<12 characters>) or a "
            "provisioned throughput (...:provisioned-model/<12 characters>)"
        )
    for part, value in (("account", stack.account), ("region", stack.region)):
        if not Token.is_unresolved(value) and match[part] != value:
            raise ValueError(
                f"{where}: {arn} is not in this stack's {part} ({value}); the workflow promotes "
                "onto endpoints of its own account and Region only"
            )


def _check_tag(tag: tuple[str, str]) -> None:
    key, value = tag
    if Token.is_unresolved(key) or Token.is_unresolved(value):
        raise ValueError("promotion_targets.tag: key and value must be literal strings, not tokens")
    if not key or len(key) > 128 or not re.match(TAG_PATTERN, key):
        raise ValueError(
            f"promotion_targets.tag: {key!r} is not a tag key (1-128 of {TAG_PATTERN})"
        )
    if key.lower().startswith("aws:") or key.startswith(RESERVED_TAG_PREFIX):
        # The workflow's own tags mark what executions create: never a promotion target.
        raise ValueError(
            f"promotion_targets.tag: {key!r} is reserved (keys starting with 'aws:' or "
            f"{RESERVED_TAG_PREFIX!r})"
        )
    if len(value) > 256 or not re.match(TAG_PATTERN, value):
        raise ValueError(
            f"promotion_targets.tag: {value!r} is not a tag value (0-256 of {TAG_PATTERN})"
        )


def when_promoting(scope: Construct, *parts: Fragment) -> Fragment:
    """Promote?: the parts when the request names an endpoint to promote onto."""
    return when(scope, "Promote?", sfn.Condition.is_present("$.plan.promoteTo"), *parts)


class Promote(LambdaStep):
    """Promote onto the endpoint: UpdateCustomModelDeployment / UpdateProvisionedModelThroughput."""

    kind = CallKind.UPDATES
    key = "promote"
    function_id = "Promote"
    handler = "promote.start_handler"
    description = "Swaps the new model onto an existing deployment or throughput"

    def __init__(self, ctx: StepContext, *, targets: PromotionTargets) -> None:
        super().__init__(ctx)
        for name, value in targets.environment().items():
            self.function.add_environment(name, value)
        if not targets.enabled:
            return  # Validate refuses every promotion: nothing to read or update
        # With a tag, the handler reads it again right before updating.
        tags = ["bedrock:ListTagsForResource"] if targets.tag is not None else []
        targets.grant(self, [*_ENDPOINT_UPDATES, *_ENDPOINT_READS, *tags])
        # The Update actions also authorize against the model swapped in (Service
        # Authorization Reference: custom-model is a required resource of both): this
        # execution's, whose ID Bedrock assigns. It alone opens no endpoint.
        self.allow(list(_ENDPOINT_UPDATES), ctx.arns.custom_models)
        acknowledge_run_time_ids(self.role, ["custom-model"])
        self.function.add_to_role_policy(key_through_bedrock(ctx.storage.key, ctx.stack))

    def fragment(self, on_error: sfn.IChainable) -> Fragment:
        return self.failing_into(
            on_error,
            "Promote onto the endpoint",
            result_path="$.promotion",
            comment="Update the named deployment or throughput to the new model; the old one is recorded",
        )


class CheckPromotion(LambdaStep):
    """Wait for promotion / Check promotion: until the endpoint serves the new model."""

    kind = CallKind.READS
    key = "check_promotion"
    function_id = "CheckPromotion"
    handler = "promote.check_handler"
    description = "Reads whether the promoted endpoint serves the new model"

    def __init__(self, ctx: StepContext, *, targets: PromotionTargets) -> None:
        super().__init__(ctx)
        targets.grant(self, _ENDPOINT_READS)

    def poll(self, on_error: sfn.IChainable) -> Fragment:
        return self.polling(
            on_error,
            "Check promotion",
            result_path="$.promotion",
            comment="Fails if the endpoint refused",
            wait="Wait for promotion",
            schedule=self.ctx.schedules.serving,
            done="Promoted?",
            until=sfn.Condition.boolean_equals("$.promotion.done", True),
        )


class ScheduleExpiry(LambdaStep):
    """Schedule serving expiry: a one-time EventBridge Scheduler schedule runs the cleanup.

    The scheduler's role may invoke the cleanup function only.
    """

    kind = CallKind.CREATES
    key = "schedule_expiry"
    function_id = "ScheduleExpiry"
    handler = "schedule_expiry.handler"
    description = "Schedules the deletion of serving after the request's time-to-live"

    def __init__(self, ctx: StepContext, *, cleanup: Cleanup) -> None:
        super().__init__(ctx)
        self.scheduler_role = iam.Role(
            ctx.scope,
            "SchedulerRole",
            description="EventBridge Scheduler invokes the cleanup when serving's time-to-live ends",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": ctx.stack.account}},
            ),
        )
        cleanup.function.grant_invoke(self.scheduler_role)
        acknowledge(
            self.scheduler_role,
            "IAM5",
            "Generated by grant_invoke: the cleanup function and its versions (':*'), nothing else.",
            findings=[f"Resource::{attr_ref(cleanup.function)}:*"],
        )
        for name, value in (
            ("EXPIRY_TARGET_ARN", cleanup.function.function_arn),
            ("SCHEDULER_ROLE_ARN", self.scheduler_role.role_arn),
            ("SCHEDULE_GROUP", "default"),
        ):
            self.function.add_environment(name, value)
        self._allow_scheduling()

    def _allow_scheduling(self) -> None:
        schedules = self.ctx.stack.format_arn(
            service="scheduler", resource="schedule", resource_name="default/expire-*"
        )
        self.allow(["scheduler:CreateSchedule"], [schedules])
        iam.Grant.add_to_principal(
            grantee=self.function,
            actions=["iam:PassRole"],
            resource_arns=[self.scheduler_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
        )
        acknowledge(
            self.role,
            "IAM5",
            "Schedule names are derived from the execution at run time; the ARN allows only this "
            "Region and account's default group and names starting with 'expire-'.",
            findings=[
                f"Resource::{account_arn(self.role, 'scheduler', 'schedule/default/expire-*')}"
            ],
        )

    def fragment(self, on_error: sfn.IChainable) -> Fragment:
        """Time-to-live?: schedule the expiry when the request sets ``timeToLiveHours``."""
        return when(
            self.ctx.scope,
            "Time-to-live?",
            sfn.Condition.is_present("$.plan.serving.timeToLiveHours"),
            self.failing_into(
                on_error,
                "Schedule serving expiry",
                result_path="$.expiry",
                comment="A one-time schedule deletes serving when the request's time-to-live ends",
            ),
        )
