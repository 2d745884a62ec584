"""Format grader: the response is JSON and, optionally, matches a JSON Schema.

For tasks whose output a program reads (extraction, tool arguments, structured answers).

- The response is JSON when the whole of it (surrounding whitespace aside) parses, or when
  a fenced block (```json or a bare ```) inside it does; the first block that parses is
  used and ``fenced_json`` says so. ``NaN`` and ``Infinity`` are not JSON and are refused.
  Without a schema any JSON value counts, a bare number or string included: give a schema
  of ``{"type": "object"}`` to require an object.
- The schema comes from the record (``reference_answer.json_schema``), else from the
  environment variable ``GRADER_JSON_SCHEMA`` (JSON text), else there is none.
- Score: 0.0 when not JSON; 1.0 for JSON when there is no schema; with a schema, 0.5 for
  JSON that breaks it and 1.0 for JSON that matches it. Metrics: ``valid_json``,
  ``matches_schema`` (when there is a schema), ``schema_violations``, ``fenced_json``.

The schema language is a subset of JSON Schema, checked here without a dependency:
``type`` (one or a list; ``integer`` accepts 1.0, booleans are not numbers), ``enum``,
``const``, ``required``, ``properties``, ``additionalProperties`` (``false`` or a schema),
``items`` (one schema for every item), ``minimum``, ``maximum``, ``exclusiveMinimum``,
``exclusiveMaximum``, ``minLength``, ``maxLength``, ``minItems``, ``maxItems``, boolean
schemas, and annotations (``title``, ``description``, ...). Any other keyword (``pattern``,
``oneOf``, ``$ref``, ``format``...) is refused rather than ignored, so a match is never
claimed for a rule that was not checked: the environment schema fails the batch with
``GraderConfigurationError``, a record's schema scores that sample 0.0 with
``error_unsupported_schema``.
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any

from lambda_handlers.common.observability import logger
from lambda_handlers.graders.contract import (
    Grade,
    GraderConfigurationError,
    GradeResult,
    Metric,
    ResultDict,
    Sample,
    grade_batch,
    summary,
    to_event,
)

SCHEMA_ENV = "GRADER_JSON_SCHEMA"
SCHEMA_FIELD = "json_schema"
MAX_VIOLATIONS = 100
"""Violations counted per response; past that the count says "at least"."""

TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})
ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)
_NUMBER_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_COUNT_BOUNDS = ("minLength", "maxLength", "minItems", "maxItems")
KEYWORDS = frozenset(
    {"type", "enum", "const", "required", "properties", "additionalProperties", "items"}
    | set(_NUMBER_BOUNDS)
    | set(_COUNT_BOUNDS)
)
_FENCE = re.compile(r"```[ \t]*(?:json)?[ \t]*\r?\n(.*?)```", re.DOTALL | re.IGNORECASE)


class SchemaError(ValueError):
    """A schema this grader cannot check: an unsupported keyword or a malformed value."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_schema(schema: Any, path: str = "$") -> None:
    """Raise ``SchemaError`` unless ``schema`` uses only the supported subset, correctly."""
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        raise SchemaError(
            f"{path}: a schema is an object or a boolean, got {type(schema).__name__}"
        )
    unknown = sorted(k for k in schema if k not in KEYWORDS and k not in ANNOTATIONS)
    if unknown:
        raise SchemaError(
            f"{path}: unsupported keyword{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
            f"(supported: {', '.join(sorted(KEYWORDS))})"
        )
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not names or any(not isinstance(n, str) or n not in TYPES for n in names):
            raise SchemaError(f"{path}.type: must be one of {sorted(TYPES)} or a list of them")
    if "enum" in schema and not isinstance(schema["enum"], list):
        raise SchemaError(f"{path}.enum: must be a list")
    if "required" in schema and (
        not isinstance(schema["required"], list)
        or any(not isinstance(n, str) for n in schema["required"])
    ):
        raise SchemaError(f"{path}.required: must be a list of property names")
    for key in _NUMBER_BOUNDS:
        if key in schema and not (_is_number(schema[key]) and math.isfinite(schema[key])):
            raise SchemaError(f"{path}.{key}: must be a number")
    for key in _COUNT_BOUNDS:
        if key in schema and not _is_count(schema[key]):
            raise SchemaError(f"{path}.{key}: must be a non-negative integer")
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        raise SchemaError(f"{path}.properties: must be an object of schemas")
    for name, subschema in properties.items():
        check_schema(subschema, f"{path}.properties.{name}")
    for key in ("additionalProperties", "items"):
        if key in schema:
            check_schema(schema[key], f"{path}.{key}")


def _type_matches(value: Any, name: str) -> bool:
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if name == "number":
        return _is_number(value)
    # "integer": JSON Schema counts 1.0 as an integer.
    return _is_number(value) and float(value).is_integer()


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: ``1 == 1.0``, but ``true`` is not ``1`` (unlike Python)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)


def violations(value: Any, schema: Any, path: str = "$") -> list[str]:
    """Where ``value`` breaks ``schema``, at most ``MAX_VIOLATIONS`` of them.

    ``schema`` must have passed ``check_schema``.
    """
    found: list[str] = []
    _violations(value, schema, path, found)
    return found[:MAX_VIOLATIONS]


def _violations(value: Any, schema: Any, path: str, found: list[str]) -> None:
    if len(found) >= MAX_VIOLATIONS or schema is True:
        return
    if schema is False:
        found.append(f"{path}: no value is allowed here")
        return
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_type_matches(value, n) for n in names):
            found.append(f"{path}: expected {' or '.join(names)}")
            return
    if "enum" in schema and not any(json_equal(value, option) for option in schema["enum"]):
        found.append(f"{path}: not one of the allowed values")
    if "const" in schema and not json_equal(value, schema["const"]):
        found.append(f"{path}: not the required value")
    if _is_number(value):
        _number_violations(value, schema, path, found)
    if isinstance(value, str):
        _count_violations(len(value), schema, "minLength", "maxLength", path, found)
    if isinstance(value, list):
        _count_violations(len(value), schema, "minItems", "maxItems", path, found)
        if "items" in schema:
            for i, item in enumerate(value):
                _violations(item, schema["items"], f"{path}[{i}]", found)
    if isinstance(value, dict):
        _object_violations(value, schema, path, found)


def _number_violations(value: float, schema: dict[str, Any], path: str, found: list[str]) -> None:
    if "minimum" in schema and value < schema["minimum"]:
        found.append(f"{path}: below the minimum {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        found.append(f"{path}: above the maximum {schema['maximum']}")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        found.append(f"{path}: not above {schema['exclusiveMinimum']}")
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        found.append(f"{path}: not below {schema['exclusiveMaximum']}")


def _count_violations(
    count: int, schema: dict[str, Any], low: str, high: str, path: str, found: list[str]
) -> None:
    if low in schema and count < schema[low]:
        found.append(f"{path}: fewer than {low} {schema[low]}")
    if high in schema and count > schema[high]:
        found.append(f"{path}: more than {high} {schema[high]}")


def _object_violations(
    value: dict[str, Any], schema: dict[str, Any], path: str, found: list[str]
) -> None:
    for name in schema.get("required", []):
        if name not in value:
            found.append(f"{path}: missing required property {name!r}")
    properties = schema.get("properties", {})
    additional = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            _violations(item, properties[name], f"{path}.{name}", found)
        elif additional is False:
            found.append(f"{path}: property {name!r} is not allowed")
        else:
            _violations(item, additional, f"{path}.{name}", found)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_refuse_constant)


def parse_json_response(response: str) -> tuple[bool, Any, bool]:
    """``(is_json, value, fenced)``: the response as JSON, whole or from a fenced block."""
    try:
        return True, _loads(response.strip()), False
    except (ValueError, RecursionError):
        pass
    for match in _FENCE.finditer(response):
        try:
            return True, _loads(match.group(1).strip()), True
        except (ValueError, RecursionError):
            continue
    return False, None, False


def _record_schema(sample: Sample) -> tuple[bool, Any]:
    reference = sample.reference
    if isinstance(reference, dict) and SCHEMA_FIELD in reference:
        return True, reference[SCHEMA_FIELD]
    return False, None


def score_format(sample: Sample, *, default_schema: Any = None) -> Grade:
    """Score one response: JSON, and matching the record's (or the default) schema."""
    has_own, schema = _record_schema(sample)
    if has_own:
        try:
            check_schema(schema)
        except (SchemaError, RecursionError):
            return Grade(0.0, (Metric("error_unsupported_schema", 1.0),))
    else:
        schema = default_schema
    is_json, value, fenced = parse_json_response(sample.response)
    metrics = [Metric("valid_json", float(is_json), "Reward")]
    if schema is None:
        metrics.append(Metric("fenced_json", float(fenced)))
        return Grade(1.0 if is_json else 0.0, tuple(metrics))
    problems = violations(value, schema) if is_json else []
    matches = is_json and not problems
    metrics += [
        Metric("matches_schema", float(matches), "Reward"),
        Metric("schema_violations", float(len(problems))),
        Metric("fenced_json", float(fenced)),
    ]
    score = 1.0 if matches else 0.5 if is_json else 0.0
    return Grade(score, tuple(metrics))


def grade(event: Any, *, default_schema: Any = None) -> list[GradeResult]:
    """Score a batch by format; ``default_schema`` applies to records without their own.

    The reference answer is optional here: without one, the default schema (if any) applies.
    """
    if default_schema is not None:
        check_schema(default_schema)
    return grade_batch(
        event,
        lambda sample: score_format(sample, default_schema=default_schema),
        require_reference=False,
    )


def schema_from_env() -> Any:
    """``GRADER_JSON_SCHEMA`` parsed and checked; ``None`` when unset or blank."""
    text = os.environ.get(SCHEMA_ENV, "").strip()
    if not text:
        return None
    try:
        schema = _loads(text)
        check_schema(schema)
    except SchemaError as error:
        raise GraderConfigurationError(f"{SCHEMA_ENV}: {error}") from error
    except (ValueError, RecursionError) as error:
        raise GraderConfigurationError(f"{SCHEMA_ENV} is not valid JSON: {error}") from error
    return schema


@logger.inject_lambda_context
def handler(event: Any, context: Any) -> list[ResultDict]:
    """Bedrock RFT grader Lambda: JSON format and schema."""
    results = grade(event, default_schema=schema_from_env())
    logger.info("graded a batch", extra=summary(results))
    return to_event(results)
