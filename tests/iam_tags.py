"""The synthesized roles' Bedrock statements, evaluated as IAM evaluates tag conditions.

Read through ``tests/policy_eval.py``, the one evaluator of the synthesized policies
(Allow statements, wildcards, ``StringEquals``/``StringLike``/``ArnLike``/``Null``); these
are the shapes the ownership tests ask in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.policy_eval import Policies, Request, Statement
from tests.policy_eval import allowing as _allowing


def function_role(template: dict[str, Any], handler: str) -> str:
    """The logical ID of the role of the function whose ``Handler`` is ``handler``."""
    [role] = [
        r["Properties"]["Role"]["Fn::GetAtt"][0]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == handler
    ]
    return str(role)


def role_statements(template: dict[str, Any], role: str) -> list[Statement]:
    """Every statement of the role's inline policies and attached ``AWS::IAM::Policy``s,
    resolved to concrete values (``TemplateResolver``: us-east-1, account 123456789012)."""
    return list(Policies(template).identity_statements(role))


def raw_role_statements(template: dict[str, Any], role: str) -> list[Statement]:
    """The same statements as the template writes them (intrinsic functions unresolved)."""
    found: list[Statement] = []
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in props.get("Roles", []):
            found += props["PolicyDocument"]["Statement"]
    return found


def allowing(
    statements: list[Statement], action: str, resource: str, context: Mapping[str, str]
) -> list[Statement]:
    """The Allow statements that allow ``action`` on ``resource`` with ``context``."""
    return _allowing(statements, Request(action, resource, context))


def resource_tags(tags: list[dict[str, str]]) -> dict[str, str]:
    """Bedrock tags as IAM's ``aws:ResourceTag/<key>`` context."""
    return {f"aws:ResourceTag/{t['key']}": t["value"] for t in tags}


def request_tags(tags: list[dict[str, str]]) -> dict[str, str]:
    """Bedrock tags as IAM's ``aws:RequestTag/<key>`` context."""
    return {f"aws:RequestTag/{t['key']}": t["value"] for t in tags}
