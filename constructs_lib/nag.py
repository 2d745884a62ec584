"""cdk-nag and checkov acknowledgments, kept next to the construct they excuse.

cdk-nag 3 runs as a CDK validation plugin and matches an acknowledgment by the exact
finding id, so wildcard findings are acknowledged one resource pattern at a time: a
new wildcard added later is reported, not silently covered. checkov reads its own from
the resource's ``Metadata.checkov.skip`` in the template.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Acknowledgment, CfnResource, Stack, Token, Validations
from constructs import IConstruct

PACK = "AwsSolutions"


def acknowledge(scope: IConstruct, rule: str, reason: str, findings: Iterable[str] = ()) -> None:
    """Acknowledge ``rule`` (``"IAM5"``) on ``scope`` and below, for each finding or for the rule."""
    ids = [f"{PACK}-{rule}[{f}]" for f in findings] or [f"{PACK}-{rule}"]
    Validations.of(scope).acknowledge(
        *(Acknowledgment(id=f"{PACK}::{i}", reason=reason) for i in ids)
    )


def acknowledge_checkov(construct: IConstruct, check_id: str, reason: str) -> None:
    """Skip checkov's ``check_id`` (``"CKV_AWS_18"``) on ``construct``'s resource, with the reason."""
    resource = construct.node.default_child if not isinstance(construct, CfnResource) else construct
    assert isinstance(resource, CfnResource)
    metadata = resource.get_metadata("checkov") or {}
    skips = [*metadata.get("skip", []), {"id": check_id, "comment": reason}]
    resource.add_metadata("checkov", {**metadata, "skip": skips})


def attr_ref(construct: IConstruct, attribute: str = "Arn") -> str:
    """How cdk-nag renders ``Fn::GetAtt`` of a construct's resource: ``<LogicalId.Arn>``."""
    resource = construct.node.default_child if not isinstance(construct, CfnResource) else construct
    assert isinstance(resource, CfnResource)
    logical_id = Stack.of(construct).resolve(resource.logical_id)
    return f"<{logical_id}.{attribute}>"


def _rendered(value: str, pseudo: str) -> str:
    return f"<AWS::{pseudo}>" if Token.is_unresolved(value) else value


def arn(
    scope: IConstruct, service: str, resource_pattern: str, region: str = "", account: str = ""
) -> str:
    """How cdk-nag renders an ARN with the stack's partition: ``${AWS::Partition}``, or the
    literal partition of a stack pinned to a Region (``@aws-cdk/core:enablePartitionLiterals``)."""
    partition = _rendered(Stack.of(scope).partition, "Partition")
    return f"arn:{partition}:{service}:{region}:{account}:{resource_pattern}"


def account_arn(scope: IConstruct, service: str, resource_pattern: str) -> str:
    """How cdk-nag renders an ARN of this account and Region built with ``format_arn``:
    pseudo parameters for an environment-agnostic stack, literals for a pinned one."""
    stack = Stack.of(scope)
    return arn(
        scope,
        service,
        resource_pattern,
        region=_rendered(stack.region, "Region"),
        account=_rendered(stack.account, "AccountId"),
    )
