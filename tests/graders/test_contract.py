"""The batch contract every grader shares: shape, order, ids, malformed samples, clamping."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from lambda_handlers.common.errors import AccessDenied
from lambda_handlers.graders.contract import (
    Grade,
    GraderConfigurationError,
    Metric,
    Sample,
    content_text,
    env_float,
    env_int,
    grade_batch,
    parse_sample,
    summary,
    to_event,
    unit_score,
)
from tests.graders.conftest import sample


def constant(score: float, *metrics: Metric) -> Any:
    return lambda _sample: Grade(score, metrics)


def metric_names(result: dict[str, Any]) -> list[str]:
    return [m["name"] for m in result["metrics_list"]]


def test_one_result_per_sample_in_order_with_the_samples_own_ids() -> None:
    batch = [sample("a", "x", sample_id=i) for i in ("c", "a", "b", "a2")]
    results = to_event(grade_batch(batch, lambda s: Grade(0.25, (Metric("m", 1.0, "Reward"),))))
    assert [r["id"] for r in results] == ["c", "a", "b", "a2"]
    assert results[0] == {
        "id": "c",
        "aggregate_reward_score": 0.25,
        "metrics_list": [{"name": "m", "value": 1.0, "type": "Reward"}],
    }
    json.dumps(results, allow_nan=False)


def test_an_integer_id_is_echoed_unchanged() -> None:
    [result] = to_event(grade_batch([sample("a", "x", sample_id=17)], constant(1.0)))
    assert result["id"] == 17


def test_an_empty_batch_gives_an_empty_list() -> None:
    assert grade_batch([], constant(1.0)) == []


@pytest.mark.parametrize("event", [{"id": "1"}, "[]", None, 3, {"samples": []}])
def test_a_batch_that_is_not_a_list_is_a_clear_value_error(event: Any) -> None:
    with pytest.raises(ValueError, match="must be a JSON list"):
        grade_batch(event, constant(1.0))


# A malformed sample, the id its result carries, and the problems named in its metrics.
MALFORMED_SAMPLES: list[tuple[Any, str, list[str]]] = [
    ("not an object", "", ["invalid_sample"]),
    ([1, 2], "", ["invalid_sample"]),
    (
        {"messages": [{"role": "assistant", "content": "4"}], "reference_answer": "4"},
        "",
        ["missing_id"],
    ),
    (
        {
            "id": None,
            "messages": [{"role": "assistant", "content": "4"}],
            "reference_answer": "4",
        },
        "",
        ["missing_id"],
    ),
    ({"id": "k", "reference_answer": "4"}, "k", ["missing_messages"]),
    ({"id": "k", "messages": "hello", "reference_answer": "4"}, "k", ["invalid_messages"]),
    ({"id": "k", "messages": [], "reference_answer": "4"}, "k", ["no_assistant_response"]),
    (
        {"id": "k", "messages": [{"role": "user", "content": "q"}], "reference_answer": "4"},
        "k",
        ["no_assistant_response"],
    ),
    (
        {
            "id": "k",
            "messages": [
                {"role": "assistant", "content": "4"},
                {"role": "user", "content": "q"},
            ],
            "reference_answer": "4",
        },
        "k",
        ["no_assistant_response"],
    ),
    (
        {"id": "k", "messages": ["just text"], "reference_answer": "4"},
        "k",
        ["no_assistant_response"],
    ),
    (
        {"id": "k", "messages": [{"role": "assistant", "content": 4}], "reference_answer": "4"},
        "k",
        ["invalid_response_content"],
    ),
    (
        {"id": "k", "messages": [{"role": "assistant"}], "reference_answer": "4"},
        "k",
        ["invalid_response_content"],
    ),
    (
        {"id": "k", "messages": [{"role": "assistant", "content": "4"}]},
        "k",
        ["missing_reference"],
    ),
    (
        {
            "id": "k",
            "messages": [{"role": "assistant", "content": "4"}],
            "reference_answer": None,
        },
        "k",
        ["missing_reference"],
    ),
    (
        {"messages": [{"role": "user", "content": "q"}]},
        "",
        ["missing_id", "no_assistant_response", "missing_reference"],
    ),
]


@pytest.mark.parametrize(("raw", "sample_id", "problems"), MALFORMED_SAMPLES)
def test_a_malformed_sample_scores_zero_names_its_problems_and_keeps_its_id(
    raw: Any, sample_id: str, problems: list[str]
) -> None:
    good = sample("4", "4", sample_id="good")
    results = to_event(grade_batch([good, raw, good], constant(1.0)))
    assert [r["aggregate_reward_score"] for r in results] == [1.0, 0.0, 1.0]
    bad = results[1]
    assert bad["id"] == sample_id
    assert bad["id"] != "0"
    assert metric_names(bad) == [f"error_{p}" for p in problems]
    assert all(m["value"] == 1.0 and m["type"] == "Metric" for m in bad["metrics_list"])


def test_the_reference_is_also_found_under_metadata() -> None:
    seen: list[Any] = []

    def record(s: Sample) -> Grade:
        seen.append(s.reference)
        return Grade(1.0)

    batch = [
        sample("4", sample_id="a", metadata={"reference_answer": {"final_answer": "4"}}),
        sample("4", sample_id="b", metadata=json.dumps({"reference_answer": "4"})),
        sample("4", "top", sample_id="c", metadata={"reference_answer": "ignored"}),
    ]
    results = grade_batch(batch, record)
    assert [r.aggregate_reward_score for r in results] == [1.0, 1.0, 1.0]
    assert seen == [{"final_answer": "4"}, "4", "top"]


def test_a_grader_that_needs_no_reference_scores_samples_without_one() -> None:
    [result] = grade_batch([sample("4")], constant(0.5), require_reference=False)
    assert result.aggregate_reward_score == 0.5


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ("plain", "plain"),
        ([{"text": "one"}, {"text": "two"}], "one\ntwo"),
        ([{"type": "text", "text": "typed"}], "typed"),
        ([{"reasoningContent": {"reasoningText": {"text": "hidden"}}}, {"text": "shown"}], "shown"),
        ([], ""),
        (None, None),
        (3, None),
        ({"text": "an object, not a list"}, None),
    ],
)
def test_content_is_a_string_or_a_list_of_text_blocks(content: Any, text: str | None) -> None:
    assert content_text(content) == text


def test_the_sample_exposes_the_prompt_the_response_and_other_fields() -> None:
    raw = sample([{"text": "4"}], "4", sample_id="q", topic="math", metadata={"level": 2})
    _, parsed, problems = parse_sample(raw)
    assert problems == []
    assert parsed is not None
    assert parsed.response == "4"
    assert [m["role"] for m in parsed.prompt_messages] == ["user"]
    assert parsed.lookup("topic") == "math"
    assert parsed.lookup("level") == 2
    assert parsed.lookup("absent") is None


@pytest.mark.parametrize(
    ("score", "expected"),
    [(1.5, 1.0), (-0.2, 0.0), (0.3, 0.3), (math.nan, 0.0), (math.inf, 0.0), (-math.inf, 0.0)],
)
def test_scores_are_clamped_and_non_finite_scores_become_zero(
    score: float, expected: float
) -> None:
    [result] = to_event(grade_batch([sample("4", "4")], constant(score)))
    assert result["aggregate_reward_score"] == expected
    assert unit_score(score) == expected


def test_non_finite_metric_values_become_zero_so_the_result_is_json() -> None:
    results = to_event(
        grade_batch([sample("4", "4")], constant(1.0, Metric("odd", math.nan, "Reward")))
    )
    assert results[0]["metrics_list"] == [{"name": "odd", "value": 0.0, "type": "Reward"}]
    json.dumps(results, allow_nan=False)


def test_a_scorer_that_raises_costs_only_that_sample() -> None:
    def fragile(s: Sample) -> Grade:
        if s.response == "boom":
            raise KeyError("bug")
        return Grade(1.0)

    batch = [sample("fine", "x", sample_id="a"), sample("boom", "x", sample_id="b")]
    results = to_event(grade_batch(batch, fragile))
    assert [r["aggregate_reward_score"] for r in results] == [1.0, 0.0]
    assert results[1]["id"] == "b"
    assert metric_names(results[1]) == ["error_grader_exception"]


@pytest.mark.parametrize(
    "error", [GraderConfigurationError("JUDGE_MODEL_ID must be set"), AccessDenied("Converse")]
)
def test_configuration_and_access_errors_fail_the_batch(error: Exception) -> None:
    def broken(_: Sample) -> Grade:
        raise error

    with pytest.raises(type(error)):
        grade_batch([sample("4", "4")], broken)


def test_concurrent_grading_keeps_the_order() -> None:
    batch = [sample(str(i), "x", sample_id=f"id-{i}") for i in range(20)]
    results = grade_batch(batch, lambda s: Grade(int(s.response) / 20), concurrency=4)
    assert [r.id for r in results] == [f"id-{i}" for i in range(20)]
    assert [r.aggregate_reward_score for r in results] == [i / 20 for i in range(20)]


def test_summary_counts_samples_errors_and_the_mean() -> None:
    results = grade_batch([sample("4", "4"), {"id": "x"}], constant(0.5))
    assert summary(results) == {"samples": 2, "samples_with_errors": 1, "mean_score": 0.25}


def test_environment_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    assert env_float("X_FLOAT", 0.5, minimum=0, maximum=1) == 0.5
    monkeypatch.setenv("X_FLOAT", " 0.25 ")
    assert env_float("X_FLOAT", 0.5, minimum=0, maximum=1) == 0.25
    for bad in ("abc", "2", "nan", "-1"):
        monkeypatch.setenv("X_FLOAT", bad)
        with pytest.raises(GraderConfigurationError, match="X_FLOAT must be a number from 0 to 1"):
            env_float("X_FLOAT", 0.5, minimum=0, maximum=1)
    monkeypatch.setenv("X_INT", "3")
    assert env_int("X_INT", 1, minimum=1, maximum=4) == 3
    for bad in ("0", "5", "2.5", "four"):
        monkeypatch.setenv("X_INT", bad)
        with pytest.raises(GraderConfigurationError, match="X_INT must be an integer from 1 to 4"):
            env_int("X_INT", 1, minimum=1, maximum=4)
