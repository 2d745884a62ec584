"""The synthesized roles' Bedrock statements, evaluated as IAM evaluates tag conditions.

Enough of IAM for the ownership conditions (``constructs_lib/steps/permissions.py``): Allow
statements, ``*``/``?`` wildcards in actions and resources, and the condition operators
``StringEquals``, ``StringLike`` and ``Null``. A condition on a key the request does not
carry fails (``Null`` excepted), as in IAM. Any other operator on a statement that would
otherwise apply raises, so a new one cannot pass unexamined.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

from tests.e2e.harness import TemplateResolver

Statement = dict[str, Any]


def _values(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _like(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


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
    resolver = TemplateResolver(template)
    found: list[Statement] = []
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in props.get("Roles", []):
            found += resolver.resolve(props["PolicyDocument"])["Statement"]
    for policy in template["Resources"][role]["Properties"].get("Policies", []):
        found += resolver.resolve(policy["PolicyDocument"])["Statement"]
    return found


def raw_role_statements(template: dict[str, Any], role: str) -> list[Statement]:
    """The same statements as the template writes them (intrinsic functions unresolved)."""
    found: list[Statement] = []
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in props.get("Roles", []):
            found += props["PolicyDocument"]["Statement"]
    return found


def _condition_holds(operator: str, keys: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    for key, listed in keys.items():
        present = context.get(key)
        if operator == "Null":
            # "true": the key must be absent; "false": present.
            if (present is None) != (str(listed).lower() == "true"):
                return False
            continue
        if present is None:
            return False
        if operator == "StringEquals":
            matched = present in _values(listed)
        elif operator == "StringLike":
            matched = any(_like(p, present) for p in _values(listed))
        else:
            raise NotImplementedError(f"condition operator {operator} is not modelled")
        if not matched:
            return False
    return True


def allowing(
    statements: list[Statement], action: str, resource: str, context: Mapping[str, str]
) -> list[Statement]:
    """The Allow statements that allow ``action`` on ``resource`` with ``context``."""
    found = []
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        if not any(_like(a, action) for a in _values(statement.get("Action", []))):
            continue
        if not any(_like(r, resource) for r in _values(statement.get("Resource", []))):
            continue
        conditions = statement.get("Condition", {})
        if all(_condition_holds(op, keys, context) for op, keys in conditions.items()):
            found.append(statement)
    return found


def resource_tags(tags: list[dict[str, str]]) -> dict[str, str]:
    """Bedrock tags as IAM's ``aws:ResourceTag/<key>`` context."""
    return {f"aws:ResourceTag/{t['key']}": t["value"] for t in tags}


def request_tags(tags: list[dict[str, str]]) -> dict[str, str]:
    """Bedrock tags as IAM's ``aws:RequestTag/<key>`` context."""
    return {f"aws:RequestTag/{t['key']}": t["value"] for t in tags}
