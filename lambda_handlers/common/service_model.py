"""Check a value against a shape of botocore's Bedrock service model.

botocore's own parameter validation checks types, required members and minimum
lengths, but not patterns, maxima, enums or unions, and only when a call is made. The
request validator uses this walker to report, before anything is submitted, every way a
``customizationConfig`` or ``invocationLogsConfig`` breaks the real API, each with its
path in the request. The ranges are the service model's own, not copies.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import botocore.session
from botocore.model import Shape


@cache
def service_model(service: str = "bedrock") -> Any:
    return botocore.session.get_session().get_service_model(service)


def shape(name: str, service: str = "bedrock") -> Shape:
    return service_model(service).shape_for(name)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )


def shape_problems(s: Shape, value: Any, path: str, *, strict_members: bool = True) -> list[str]:
    """Every way ``value`` breaks shape ``s``; each problem starts with its path."""
    problems: list[str] = []
    _walk(s, value, path, problems, strict_members)
    return problems


def _walk(s: Shape, value: Any, path: str, problems: list[str], strict: bool) -> None:
    meta = s.metadata
    kind = s.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            problems.append(f"{path}: expected an object, got {_kind(value)}")
            return
        members = s.members
        if strict:
            for key in value:
                if key not in members:
                    problems.append(f"{path}.{key}: unknown field (fields: {', '.join(members)})")
        for required in meta.get("required", []):
            if required not in value:
                problems.append(f"{path}.{required}: required field is missing")
        if meta.get("union"):
            present = [k for k in value if k in members and value[k] is not None]
            if len(present) != 1:
                problems.append(f"{path}: give exactly one of {', '.join(members)}")
        for key, member in members.items():
            if key in value and value[key] is not None:
                _walk(member, value[key], f"{path}.{key}", problems, strict)
    elif kind == "list":
        if not isinstance(value, list):
            problems.append(f"{path}: expected an array, got {_kind(value)}")
            return
        _bounds(len(value), meta, path, problems, "items")
        for i, item in enumerate(value):
            _walk(s.member, item, f"{path}[{i}]", problems, strict)
    elif kind == "map":
        if not isinstance(value, dict):
            problems.append(f"{path}: expected an object, got {_kind(value)}")
            return
        _bounds(len(value), meta, path, problems, "entries")
        for key, item in value.items():
            _walk(s.key, key, f"{path}.{key}<key>", problems, strict)
            _walk(s.value, item, f"{path}.{key}", problems, strict)
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(f"{path}: expected a string, got {_kind(value)}")
            return
        _bounds(len(value), meta, path, problems, "characters")
        if s.enum and value not in s.enum:
            problems.append(f"{path}: {value!r} is not one of {', '.join(s.enum)}")
        pattern = meta.get("pattern")
        if pattern and not re.fullmatch(pattern, value):
            problems.append(f"{path}: {value!r} does not match {pattern}")
    elif kind in {"integer", "long"}:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{path}: expected a whole number, got {_kind(value)} {value!r}")
            return
        _range(value, meta, path, problems)
    elif kind in {"float", "double"}:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{path}: expected a number, got {_kind(value)} {value!r}")
            return
        _range(value, meta, path, problems)
    elif kind == "boolean" and not isinstance(value, bool):
        problems.append(f"{path}: expected true or false, got {_kind(value)} {value!r}")


def _bounds(n: int, meta: dict[str, Any], path: str, problems: list[str], unit: str) -> None:
    if "min" in meta and n < meta["min"]:
        problems.append(f"{path}: {n} {unit}, at least {meta['min']}")
    if "max" in meta and n > meta["max"]:
        problems.append(f"{path}: {n} {unit}, at most {meta['max']}")


def _range(value: float, meta: dict[str, Any], path: str, problems: list[str]) -> None:
    if "min" in meta and value < meta["min"]:
        problems.append(f"{path}: {value} is below the minimum {meta['min']}")
    if "max" in meta and value > meta["max"]:
        problems.append(f"{path}: {value} is above the maximum {meta['max']}")


def input_problems(operation: str, params: dict[str, Any], service: str = "bedrock") -> list[str]:
    """Every way ``params`` breaks the input shape of an operation."""
    op = service_model(service).operation_model(operation)
    return shape_problems(op.input_shape, params, operation)
