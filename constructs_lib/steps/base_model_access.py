"""Invoking the base models for evaluation: by their id, or through an inference profile.

A base model that cannot be invoked on demand answers through a system-defined
(cross-Region) inference profile; invoking one needs ``bedrock:InvokeModel`` on the
profile's ARN and on the foundation model in every Region the profile routes to (user
guide, "Prerequisites for inference profiles"). The profiles and their destination Regions
are data, with sources: ``lambda_handlers/data/inference_profiles.json``; the handlers
refuse at run time a profile that file does not list, so what is granted and what is
called cannot drift apart.

Resolving the invocation id needs ``bedrock:GetFoundationModel`` (on the foundation-model
ARNs) and ``bedrock:ListInferenceProfiles``, which takes no resource ARN.
"""

from __future__ import annotations

from aws_cdk import Stack

from constructs_lib.nag import acknowledge
from constructs_lib.steps.base import LambdaStep
from constructs_lib.steps.permissions import BedrockArns, profile_invoke_arns
from lambda_handlers.evaluation.invocation import granted_profiles

LIST_PROFILES_REASON = (
    "bedrock:ListInferenceProfiles supports no resource-level permissions (the Service "
    "Authorization Reference lists no resource type for it) and requires Resource '*'; it only "
    "lists the system-defined profiles, to find the one that contains the base model."
)


def profile_arns(stack: Stack) -> list[str]:
    """The inference profiles of the data file, in this account and Region."""
    return [
        stack.format_arn(service="bedrock", resource="inference-profile", resource_name=profile)
        for profile in sorted(granted_profiles())
    ]


def base_model_invoke_arns(stack: Stack, arns: BedrockArns) -> list[str]:
    """What invoking a base model may touch: the model in this Region, or a profile and its
    model in the profile's Regions."""
    through_profiles = {
        arn
        for profile, entry in granted_profiles().items()
        for arn in profile_invoke_arns(stack, profile, entry["model"], entry["regions"])
    }
    return list(arns.base_models) + sorted(through_profiles)


def allow_resolving(step: LambdaStep) -> None:
    """Let ``step`` ask how a base model answers: GetFoundationModel, ListInferenceProfiles."""
    step.allow(["bedrock:GetFoundationModel"], step.ctx.arns.base_models)
    # ListInferenceProfiles takes no resource ARN: Resource '*' is what IAM evaluates.
    step.allow(["bedrock:ListInferenceProfiles"], ["*"])
    acknowledge(step.role, "IAM5", LIST_PROFILES_REASON, findings=["Resource::*"])
