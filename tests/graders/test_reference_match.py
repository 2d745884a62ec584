"""Reference match: answer extraction, normalisation, numbers, references, the handler."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_handlers.graders import reference_match
from lambda_handlers.graders.contract import GraderConfigurationError
from lambda_handlers.graders.reference_match import (
    extract_answer,
    grade,
    last_number,
    normalize,
    parse_number,
    reference_answers,
)
from tests.graders.conftest import sample


def score(response: Any, reference: Any, **kwargs: Any) -> float:
    [result] = grade([sample(response, reference)], **kwargs)
    return result.aggregate_reward_score


def metrics(response: Any, reference: Any) -> dict[str, float]:
    [result] = grade([sample(response, reference)])
    return {m.name: m.value for m in result.metrics_list}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Paris.  ", "paris"),
        ("**Positive**", "positive"),
        ("`x = 4`;", "x = 4"),
        ('"New   York"!', "new york"),
        ("Straße", "strasse"),
        ("“Yes”。", "yes"),
        ("...", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("response", "answer"),
    [
        ("so x = 2, and \\boxed{4}", "4"),
        ("\\boxed{1} then \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("\\boxed{unclosed and \\boxed{7}", "7"),
        ("Answer: 42", "42"),
        ("The answer is 12.", "12."),
        ("Reasoning...\nFinal Answer: **B**", "**B**"),
        ("**Answer**: C", "C"),
        ("answer:\n\n  Paris\nmore", "Paris"),
        ("Let me answer quickly.", None),
        ("steps\n#### 72", "72"),
        ("Answer: 1\nWait, Answer: 2", "2"),
        ("no marker here", None),
    ],
)
def test_extract_answer(response: str, answer: str | None) -> None:
    assert extract_answer(response) == answer


def test_a_degenerate_response_with_many_open_boxes_is_fast() -> None:
    assert extract_answer("\\boxed{" * 20_000 + "\\boxed{9}") == "9"


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("42", 42.0),
        ("-1,234.5", -1234.5),
        ("$3", 3.0),
        ("50%", 50.0),
        ("3/4", 0.75),
        ("\\frac{3}{4}", 0.75),
        ("\\dfrac{-1}{8}", -0.125),
        ("\u22124", -4.0),
        ("1e-3", 0.001),
        (" 7. ", 7.0),
        ("x = 4", None),
        ("1/0", None),
        ("1e999", None),
        ("four", None),
        ("", None),
    ],
)
def test_parse_number_takes_the_whole_text(text: str, number: float | None) -> None:
    assert parse_number(text) == number


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("first 3 then 5", 5.0),
        ("so 2024-01-05 gave -3", -3.0),
        ("ratio 3/4 overall", 0.75),
        ("total 1,234 items", 1234.0),
        ("values 3,5", 5.0),
        ("none", None),
    ],
)
def test_last_number(text: str, number: float | None) -> None:
    assert last_number(text) == number


@pytest.mark.parametrize(
    ("reference", "answers"),
    [
        ("4", ["4"]),
        (4, ["4"]),
        (2.5, ["2.5"]),
        (True, ["true"]),
        (["yes", "y"], ["yes", "y"]),
        ({"final_answer": "4", "steps": ["..."]}, ["4"]),
        ({"answer": ["a", "b"], "label": "c"}, ["a", "b"]),
        ({"solution": "x = 4"}, ["x = 4"]),
        ({"other": "4"}, []),
        ([[[["too deep"]]]], []),
        ([], []),
    ],
)
def test_reference_answers(reference: Any, answers: list[str]) -> None:
    assert reference_answers(reference) == answers


@pytest.mark.parametrize(
    ("response", "reference", "expected"),
    [
        ("Positive", "positive", 1.0),
        ("The sentiment is positive.", "positive", 0.0),  # no marker: compared whole
        ("Sentiment... Answer: **Positive**.", "positive", 1.0),
        ("\\boxed{4}", "4", 1.0),
        ("\\boxed{4.0000000001}", 4, 1.0),  # within the relative tolerance 1e-6
        ("\\boxed{4.01}", 4, 0.0),
        ("I get 1,234 dollars", "$1,234", 1.0),  # last number, no marker
        ("Answer: x = 4", "x = 4", 1.0),
        ("Answer: x = 4", "4", 1.0),  # the last number of the answer
        ("#### 72", {"final_answer": "72"}, 1.0),
        ("Answer: y", ["x", "y"], 1.0),
        ("Answer: z", ["x", "y"], 0.0),
        ("Answer: 3/4", "0.75", 1.0),
        ("Answer: 0", 0, 1.0),
        ("Answer: 0.0000001", 0, 0.0),  # relative tolerance: 0 needs an exact 0
        ("Answer: Section 3", "Section 3", 1.0),
        ("Answer: 3", "Section 3", 0.0),  # a reference inside a sentence is not a number
        ([{"text": "Answer:"}, {"text": "Paris"}], "Paris", 1.0),
        ("", "4", 0.0),
    ],
)
def test_scores(response: Any, reference: Any, expected: float) -> None:
    assert score(response, reference) == expected


def test_metrics_say_how_it_matched() -> None:
    assert metrics("\\boxed{4}", "4") == {
        "exact_match": 1.0,
        "numeric_match": 1.0,
        "answer_extracted": 1.0,
    }
    assert metrics("I get 4.0", "4") == {
        "exact_match": 0.0,
        "numeric_match": 1.0,
        "answer_extracted": 0.0,
    }
    assert metrics("Answer: Paris", "paris") == {
        "exact_match": 1.0,
        "numeric_match": 0.0,
        "answer_extracted": 1.0,
    }


@pytest.mark.parametrize("reference", [{"other": "4"}, "", "  ...  ", [], [""]])
def test_an_unusable_reference_scores_zero_and_says_so(reference: Any) -> None:
    [result] = grade([sample("4", reference)])
    assert result.aggregate_reward_score == 0.0
    assert [m.name for m in result.metrics_list] == ["error_unusable_reference"]


def test_the_tolerance_is_configurable() -> None:
    assert score("Answer: 101", 100, tolerance=0.02) == 1.0
    assert score("Answer: 101", 100, tolerance=0.001) == 0.0
    assert score("Answer: 100.0", 100, tolerance=0.0) == 1.0


def test_the_handler_reads_the_tolerance_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> None:
    event = [sample("Answer: 101", 100, sample_id="t"), {"id": "broken"}]
    assert reference_match.handler(event, lambda_context)[0]["aggregate_reward_score"] == 0.0
    monkeypatch.setenv("GRADER_NUMERIC_TOLERANCE", "0.05")
    results = reference_match.handler(event, lambda_context)
    assert [r["id"] for r in results] == ["t", "broken"]
    assert [r["aggregate_reward_score"] for r in results] == [1.0, 0.0]
    assert results[0]["metrics_list"][1] == {
        "name": "numeric_match",
        "value": 1.0,
        "type": "Reward",
    }


def test_a_bad_tolerance_fails_loudly(monkeypatch: pytest.MonkeyPatch, lambda_context: Any) -> None:
    monkeypatch.setenv("GRADER_NUMERIC_TOLERANCE", "lots")
    with pytest.raises(GraderConfigurationError, match="GRADER_NUMERIC_TOLERANCE"):
        reference_match.handler([sample("4", "4")], lambda_context)


def test_the_handler_rejects_an_event_that_is_not_a_list(lambda_context: Any) -> None:
    with pytest.raises(ValueError, match="must be a JSON list"):
        reference_match.handler({"id": "1"}, lambda_context)
