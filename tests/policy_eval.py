"""The synthesized template's policies, read as IAM and KMS evaluate them.

``Policies`` resolves the template to concrete values (``tests/e2e/harness.py``'s resolver:
account 123456789012, us-east-1, physical names from the template) and answers whether a
request, described as the service presents it (principal, action, resource, context keys),
is allowed by an Allow statement, and by which. Only what the template uses is implemented;
an unknown condition operator raises, so a new operator cannot pass unexamined.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.e2e.harness import TemplateResolver

Statement = dict[str, Any]


@dataclass(frozen=True)
class Request:
    """One authorization request: who (``role`` logical ID, or ``service`` principal), what."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)
    role: str | None = None
    service: str | None = None


def _values(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _like(pattern: str, value: str) -> bool:
    # IAM's wildcards: '*' any run of characters, '?' one character; nothing else is special.
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _arn_like(pattern: str, value: str) -> bool:
    """``ArnLike``: compared field by field; each of the first five fields may not swallow a
    ':' of the value."""
    want, got = pattern.split(":", 5), value.split(":", 5)
    return len(want) == len(got) == 6 and all(_like(w, g) for w, g in zip(want, got, strict=True))


_OPERATORS = {
    "StringEquals": lambda p, v: p == v,
    "StringLike": _like,
    "ArnEquals": lambda p, v: p == v,
    "ArnLike": _arn_like,
}
EXACT_OPERATORS = ("StringEquals", "ArnEquals", "StringEqualsIgnoreCase")


def conditions_hold(
    conditions: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]
) -> bool:
    """Every operator, every key: the context's value matches one of the listed values. A key
    the request does not carry fails the condition, as in IAM, except under ``Null``
    (``"true"``: the key must be absent; ``"false"``: present)."""
    for operator, keys in conditions.items():
        if operator != "Null" and operator not in _OPERATORS:
            raise NotImplementedError(f"condition operator {operator} is not modelled")
        for key, listed in keys.items():
            present = context.get(key)
            if operator == "Null":
                if (present is None) != (str(listed).lower() == "true"):
                    return False
                continue
            test = _OPERATORS[operator]
            if present is None or not any(test(p, present) for p in _values(listed)):
                return False
    return True


def _matches(patterns: Any, value: str) -> bool:
    return any(_like(p, value) for p in _values(patterns))


def allowing(statements: list[Statement], request: Request) -> list[Statement]:
    """The Allow statements among ``statements`` that allow ``request`` (a statement with a
    principal applies only to a request from that service)."""
    found = []
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        if request.service is not None:
            principal = statement.get("Principal", {})
            if not isinstance(principal, dict) or request.service not in _values(
                principal.get("Service", [])
            ):
                continue
        if not _matches(statement.get("Action", []), request.action):
            continue
        if not _matches(statement.get("Resource", []), request.resource):
            continue
        if conditions_hold(statement.get("Condition", {}), request.context):
            found.append(statement)
    return found


class Policies:
    """Every Allow statement of the template, resolved, with whom it applies to."""

    def __init__(self, template: dict[str, Any]):
        self.template = template
        self.resolver = TemplateResolver(template)
        self.resources: dict[str, Any] = template["Resources"]

    def resolve(self, value: Any) -> Any:
        return self.resolver.resolve(value)

    def logical_ids(self, resource_type: str) -> list[str]:
        return [k for k, v in self.resources.items() if v["Type"] == resource_type]

    def identity_statements(self, role: str) -> Iterator[Statement]:
        """The role's inline policies and every AWS::IAM::Policy attached to it."""
        for policy in self.resources[role]["Properties"].get("Policies", []):
            yield from self.resolve(policy["PolicyDocument"])["Statement"]
        for logical_id in self.logical_ids("AWS::IAM::Policy"):
            props = self.resources[logical_id]["Properties"]
            if {"Ref": role} in props.get("Roles", []):
                yield from self.resolve(props["PolicyDocument"])["Statement"]

    def resource_policy_statements(self) -> Iterator[tuple[str, Statement]]:
        """Statements of key, topic, queue and bucket policies, with the resource they guard."""
        for logical_id, resource in self.resources.items():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::KMS::Key":
                for statement in self.resolve(props["KeyPolicy"])["Statement"]:
                    yield logical_id, statement
            document = props.get("PolicyDocument")
            if document and resource["Type"] != "AWS::IAM::Policy":
                for statement in self.resolve(document)["Statement"]:
                    yield logical_id, statement

    def all_statements(self) -> Iterator[Statement]:
        for role in self.logical_ids("AWS::IAM::Role"):
            yield from self.identity_statements(role)
        for _, statement in self.resource_policy_statements():
            yield statement

    def key_policy(self, key: str) -> list[Statement]:
        return list(self.resolve(self.resources[key]["Properties"]["KeyPolicy"])["Statement"])

    def allowing(self, request: Request, statements: list[Statement]) -> list[Statement]:
        """The Allow statements among ``statements`` that allow ``request``."""
        return allowing(statements, request)

    def role_allows(self, request: Request) -> list[Statement]:
        assert request.role is not None
        return self.allowing(request, list(self.identity_statements(request.role)))

    def key_allows(self, key: str, request: Request) -> list[Statement]:
        assert request.service is not None
        return self.allowing(request, self.key_policy(key))
