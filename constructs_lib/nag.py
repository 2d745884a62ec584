"""cdk-nag acknowledgments, kept next to the construct they excuse.

cdk-nag 3 runs as a CDK validation plugin and matches an acknowledgment by the exact
finding id, so wildcard findings are acknowledged one resource pattern at a time: a
new wildcard added later is reported, not silently covered.
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


def attr_ref(construct: IConstruct, attribute: str = "Arn") -> str:
    """How cdk-nag renders ``Fn::GetAtt`` of a construct's resource: ``<LogicalId.Arn>``."""
    resource = construct.node.default_child if not isinstance(construct, CfnResource) else construct
    assert isinstance(resource, CfnResource)
    logical_id = Stack.of(construct).resolve(resource.logical_id)
    return f"<{logical_id}.{attribute}>"


def account_arn(scope: IConstruct, service: str, resource_pattern: str) -> str:
    """How cdk-nag renders an ARN of this account and Region built with ``format_arn``:
    pseudo parameters for an environment-agnostic stack, literals for a pinned one."""
    stack = Stack.of(scope)
    region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
    account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
    return f"arn:<AWS::Partition>:{service}:{region}:{account}:{resource_pattern}"
