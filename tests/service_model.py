"""Check request parameters against botocore's service model, strictly.

botocore's own validation checks types, required members and minimum lengths; it does
not check ``pattern``, ``max`` or ``enum``. ``strict_problems`` adds those, so a name
that Bedrock would reject with a ValidationException fails a test here.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import botocore.session
from botocore.model import Shape
from botocore.validate import ParamValidator


@cache
def service_model(service: str):
    return botocore.session.get_session().get_service_model(service)


def _walk(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    meta = shape.metadata
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                _walk(member, value[name], f"{path}.{name}", problems)
        is_union = getattr(shape, "is_union", False) or shape.metadata.get("union")
        if is_union and len([k for k in value if value[k] is not None]) != 1:
            problems.append(f"{path}: a union takes exactly one member, got {sorted(value)}")
    elif shape.type_name == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{path}: {len(value)} items, at most {meta['max']}")
        for i, item in enumerate(value):
            _walk(shape.member, item, f"{path}[{i}]", problems)
    elif shape.type_name == "map" and isinstance(value, dict):
        for k, v in value.items():
            _walk(shape.key, k, f"{path}<key>", problems)
            _walk(shape.value, v, f"{path}.{k}", problems)
    elif shape.type_name == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{path}: {len(value)} characters, at most {meta['max']}")
        pattern = meta.get("pattern")
        # Service patterns may or may not be anchored; the service matches the whole value.
        if pattern and not re.fullmatch(pattern, value):
            problems.append(f"{path}: {value!r} does not match {pattern}")
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} is not one of {shape.enum}")
    elif shape.type_name in {"integer", "long", "float", "double"} and isinstance(
        value, (int, float)
    ):
        if "min" in meta and value < meta["min"]:
            problems.append(f"{path}: {value} is below {meta['min']}")
        if "max" in meta and value > meta["max"]:
            problems.append(f"{path}: {value} is above {meta['max']}")


def strict_problems(service: str, operation: str, params: dict[str, Any]) -> list[str]:
    """Every way ``params`` breaks the input shape of ``service.operation``."""
    model = service_model(service).operation_model(operation)
    report = ParamValidator().validate(params, model.input_shape)
    problems = [report.generate_report()] if report.has_errors() else []
    _walk(model.input_shape, params, operation, problems)
    return problems


def assert_valid_request(service: str, operation: str, params: dict[str, Any]) -> None:
    problems = strict_problems(service, operation, params)
    assert not problems, "\n".join(problems)


def assert_valid_response(service: str, operation: str, response: dict[str, Any]) -> None:
    """A canned response must have the output shape too (as Stubber checks)."""
    model = service_model(service).operation_model(operation)
    report = ParamValidator().validate(response, model.output_shape)
    assert not report.has_errors(), report.generate_report()
