"""Format check: JSON detection, the schema subset, partial credit, schema sources."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambda_handlers.graders import format_check
from lambda_handlers.graders.contract import GraderConfigurationError
from lambda_handlers.graders.format_check import (
    SchemaError,
    check_schema,
    grade,
    json_equal,
    parse_json_response,
    violations,
)
from tests.graders.conftest import sample

PERSON = {
    "type": "object",
    "required": ["name", "age"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "role": {"enum": ["admin", "user"]},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
    },
    "additionalProperties": False,
}


def result(response: Any, reference: Any = None, **kwargs: Any) -> tuple[float, dict[str, float]]:
    [graded] = grade([sample(response, reference)], **kwargs)
    return graded.aggregate_reward_score, {m.name: m.value for m in graded.metrics_list}


@pytest.mark.parametrize(
    ("response", "is_json", "value", "fenced"),
    [
        ('{"a": 1}', True, {"a": 1}, False),
        ("  [1, 2]\n", True, [1, 2], False),
        ("42", True, 42, False),
        ('Here you go:\n```json\n{"a": 1}\n```\nDone.', True, {"a": 1}, True),
        ('```JSON\n{"a": 2}\n```', True, {"a": 2}, True),
        ('```\n{"a": 3}\n```', True, {"a": 3}, True),
        ('```json\n{broken\n```\n```json\n{"a": 4}\n```', True, {"a": 4}, True),
        ('```python\n{"a": 5}\n```', False, None, False),
        ('{"a": 1', False, None, False),
        ("NaN", False, None, False),
        ('{"a": Infinity}', False, None, False),
        ('the answer is {"a": 1}', False, None, False),
        ("", False, None, False),
        ("[" * 100_000, False, None, False),
    ],
)
def test_parse_json_response(response: str, is_json: bool, value: Any, fenced: bool) -> None:
    assert parse_json_response(response) == (is_json, value, fenced)


def test_without_a_schema_valid_json_scores_one() -> None:
    assert result('{"a": 1}') == (1.0, {"valid_json": 1.0, "fenced_json": 0.0})
    assert result('```json\n{"a": 1}\n```') == (1.0, {"valid_json": 1.0, "fenced_json": 1.0})
    assert result("not json") == (0.0, {"valid_json": 0.0, "fenced_json": 0.0})


def test_with_a_schema_partial_credit_for_json_that_breaks_it() -> None:
    reference = {"json_schema": PERSON}
    ok = json.dumps({"name": "Ada", "age": 36, "role": "admin", "tags": ["x"]})
    assert result(ok, reference) == (
        1.0,
        {"valid_json": 1.0, "matches_schema": 1.0, "schema_violations": 0.0, "fenced_json": 0.0},
    )
    wrong = json.dumps({"name": "", "age": 200, "extra": True})
    assert result(wrong, reference) == (
        0.5,
        {"valid_json": 1.0, "matches_schema": 0.0, "schema_violations": 3.0, "fenced_json": 0.0},
    )
    assert result("{name: Ada}", reference) == (
        0.0,
        {"valid_json": 0.0, "matches_schema": 0.0, "schema_violations": 0.0, "fenced_json": 0.0},
    )


def test_the_schema_can_come_from_metadata() -> None:
    raw = sample('{"name": "Ada"}', metadata={"reference_answer": {"json_schema": PERSON}})
    [graded] = grade([raw])
    assert graded.aggregate_reward_score == 0.5


@pytest.mark.parametrize(
    ("value", "schema", "count"),
    [
        ({"name": "Ada", "age": 36}, PERSON, 0),
        ({"name": "Ada"}, PERSON, 1),  # required
        ({"name": "Ada", "age": 36.0}, PERSON, 0),  # 36.0 is an integer
        ({"name": "Ada", "age": 36.5}, PERSON, 1),
        ({"name": "Ada", "age": True}, PERSON, 1),  # a boolean is not a number
        ({"name": "Ada", "age": -1}, PERSON, 1),  # minimum
        ({"name": "Ada", "age": 151}, PERSON, 1),  # maximum
        ({"name": "Ada", "age": 1, "role": "root"}, PERSON, 1),  # enum
        ({"name": "Ada", "age": 1, "x": 1}, PERSON, 1),  # additionalProperties false
        ({"name": "Ada", "age": 1, "tags": ["a", 2]}, PERSON, 1),  # items
        ({"name": "Ada", "age": 1, "tags": ["a"] * 4}, PERSON, 1),  # maxItems
        ({"name": "", "age": 1}, PERSON, 1),  # minLength
        ([], PERSON, 1),  # type
        ("x", {"type": ["string", "null"]}, 0),
        (None, {"type": ["string", "null"]}, 0),
        (3, {"type": ["string", "null"]}, 1),
        (1, {"enum": [True]}, 1),  # 1 is not true in JSON
        (1.0, {"const": 1}, 0),
        ([1, {"a": True}], {"const": [1, {"a": True}]}, 0),
        (5, {"exclusiveMinimum": 5}, 1),
        (5, {"exclusiveMaximum": 5}, 1),
        ("abc", {"maxLength": 2}, 1),
        ([], {"minItems": 1}, 1),
        ({"a": 1}, {"additionalProperties": {"type": "string"}}, 1),
        ({"a": 1}, True, 0),
        ({"a": 1}, False, 1),
        ({"a": 1}, {"properties": {"a": False}}, 1),
        ("anything", {"title": "annotations only", "description": "ok"}, 0),
    ],
)
def test_the_schema_subset(value: Any, schema: Any, count: int) -> None:
    check_schema(schema)
    assert len(violations(value, schema)) == count


def test_violations_are_capped() -> None:
    assert len(violations(list(range(1000)), {"items": {"type": "string"}})) == 100


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"pattern": "^a"}, "unsupported keyword pattern"),
        ({"oneOf": [], "$ref": "#"}, "unsupported keywords \\$ref, oneOf"),
        (
            {"properties": {"a": {"format": "email"}}},
            r"\$\.properties\.a: unsupported keyword format",
        ),
        ({"type": "float"}, r"\$\.type: must be one of"),
        ({"type": []}, r"\$\.type"),
        ({"required": "name"}, r"\$\.required"),
        ({"minimum": "1"}, r"\$\.minimum: must be a number"),
        ({"maxLength": -1}, r"\$\.maxLength"),
        ({"items": [{"type": "string"}]}, r"\$\.items: a schema is an object"),
        ({"enum": "a"}, r"\$\.enum"),
        ({"properties": []}, r"\$\.properties"),
        ("object", "a schema is an object or a boolean"),
    ],
)
def test_unsupported_or_malformed_schemas_are_refused(schema: Any, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        check_schema(schema)


def test_a_records_unsupported_schema_scores_that_sample_zero() -> None:
    batch = [
        sample('{"a": 1}', {"json_schema": {"oneOf": []}}, sample_id="bad"),
        sample('{"a": 1}', {"json_schema": {"type": "object"}}, sample_id="good"),
    ]
    results = grade(batch)
    assert [r.aggregate_reward_score for r in results] == [0.0, 1.0]
    assert [m.name for m in results[0].metrics_list] == ["error_unsupported_schema"]


def test_the_default_schema_applies_to_records_without_their_own() -> None:
    batch = [
        sample('{"name": "Ada", "age": 3}', sample_id="a"),
        sample('"just a string"', "not a schema holder", sample_id="b"),
        sample('"just a string"', {"json_schema": {"type": "string"}}, sample_id="c"),
    ]
    results = grade(batch, default_schema=PERSON)
    assert [r.aggregate_reward_score for r in results] == [1.0, 0.5, 1.0]


def test_json_equal() -> None:
    assert json_equal(1, 1.0)
    assert not json_equal(True, 1)
    assert not json_equal(0, False)
    assert not json_equal(None, False)
    assert not json_equal("1", 1)
    assert json_equal({"a": [1, None]}, {"a": [1.0, None]})
    assert not json_equal({"a": 1}, {"a": 1, "b": 2})
    assert not json_equal([1], [1, 2])


def test_the_handler_reads_the_schema_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> None:
    event = [sample('{"name": "Ada"}', sample_id="p"), sample("{}", None, sample_id="q")]
    assert [r["aggregate_reward_score"] for r in format_check.handler(event, lambda_context)] == [
        1.0,
        1.0,
    ]
    monkeypatch.setenv("GRADER_JSON_SCHEMA", json.dumps(PERSON))
    results = format_check.handler(event, lambda_context)
    assert [(r["id"], r["aggregate_reward_score"]) for r in results] == [("p", 0.5), ("q", 0.5)]
    assert {"name": "matches_schema", "value": 0.0, "type": "Reward"} in results[0]["metrics_list"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"pattern": "a"}', "unsupported keyword pattern"),
        ("[1]", "a schema is an object"),
    ],
)
def test_a_bad_environment_schema_fails_loudly(
    monkeypatch: pytest.MonkeyPatch, lambda_context: Any, value: str, message: str
) -> None:
    monkeypatch.setenv("GRADER_JSON_SCHEMA", value)
    with pytest.raises(GraderConfigurationError, match=message):
        format_check.handler([sample("{}")], lambda_context)
