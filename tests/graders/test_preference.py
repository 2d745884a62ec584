"""Preference grader: token F1 by hand, the score formula, weights, invalid references."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_handlers.graders import preference
from lambda_handlers.graders.preference import grade, preference_score, token_f1, words
from tests.graders.conftest import sample


def test_words_are_case_folded_runs_of_word_characters() -> None:
    assert words("The cat's HAT, 2x!") == ["the", "cat", "s", "hat", "2x"]


@pytest.mark.parametrize(
    ("a", "b", "f1"),
    [
        ("the cat sat", "the cat sat", 1.0),
        ("The cat sat.", "the CAT sat", 1.0),
        ("the cat", "the cat sat", 0.8),  # overlap 2: precision 1, recall 2/3
        ("the the cat", "the cat cat", 2 / 3),  # overlap counts multiplicity: 2 of 3 each
        ("a dog ran", "the cat sat", 0.0),
        ("", "", 1.0),
        ("!!!", "", 1.0),
        ("", "word", 0.0),
    ],
)
def test_token_f1_by_hand(a: str, b: str, f1: float) -> None:
    assert token_f1(a, b) == pytest.approx(f1)
    assert token_f1(b, a) == pytest.approx(f1)


@pytest.mark.parametrize(
    ("response", "chosen", "rejected", "weight", "expected"),
    [
        ("the cat sat", "the cat sat", "a dog ran", 1.0, 1.0),
        ("a dog ran", "the cat sat", "a dog ran", 1.0, 0.0),
        ("something else", "the cat sat", "a dog ran", 1.0, 0.5),
        ("the cat", "the cat sat", "the dog", 1.0, 0.5 + (0.8 - 0.5) / 2),  # 0.65
        ("the cat", "the cat sat", "the dog", 0.5, 0.5 + 0.5 * (0.8 - 0.5) / 2),  # 0.575
        ("the cat sat", "the cat sat", "a dog ran", 0.0, 0.5),
        ("anything", "same answer", "same answer", 1.0, 0.5),
    ],
)
def test_preference_score_by_hand(
    response: str, chosen: str, rejected: str, weight: float, expected: float
) -> None:
    assert preference_score(response, chosen, rejected, weight) == pytest.approx(expected)
    reference: dict[str, Any] = {"chosen": chosen, "rejected": rejected, "score": weight}
    [result] = grade([sample(response, reference)])
    assert result.aggregate_reward_score == pytest.approx(expected)


def test_metrics_report_both_similarities_the_pair_and_the_weight() -> None:
    reference = {"chosen": "the cat sat", "rejected": "the dog"}
    [result] = grade([sample("the cat", reference)])
    values = {m.name: (m.value, m.type) for m in result.metrics_list}
    assert values["similarity_chosen"] == (pytest.approx(0.8), "Reward")
    assert values["similarity_rejected"] == (pytest.approx(0.5), "Reward")
    assert values["pair_similarity"] == (pytest.approx(0.4), "Metric")  # overlap 1: p 1/3, r 1/2
    assert values["preference_weight"] == (1.0, "Metric")


@pytest.mark.parametrize(
    "reference",
    [
        "just a string",
        {"chosen": "a"},
        {"chosen": "a", "rejected": "  "},
        {"chosen": 1, "rejected": "b"},
        {"chosen": "a", "rejected": "b", "score": 1.5},
        {"chosen": "a", "rejected": "b", "score": -0.1},
        {"chosen": "a", "rejected": "b", "score": "high"},
        {"chosen": "a", "rejected": "b", "score": True},
        {"chosen": "a", "rejected": "b", "score": float("nan")},
    ],
)
def test_an_invalid_pair_scores_zero_and_says_so(reference: Any) -> None:
    [result] = grade([sample("a", reference)])
    assert result.aggregate_reward_score == 0.0
    assert [m.name for m in result.metrics_list] == ["error_invalid_reference"]


def test_the_handler_keeps_ids_and_order(lambda_context: Any) -> None:
    pair = {"chosen": "use a context manager", "rejected": "call close manually"}
    event = [
        sample("use a context manager", pair, sample_id="b"),
        sample("call close manually", {"metadata": "x"}, sample_id="a", metadata={}),
        sample([{"text": "call close manually"}], pair, sample_id="c"),
        {"id": "d", "messages": [{"role": "user", "content": "q"}]},
    ]
    results = preference.handler(event, lambda_context)
    assert [(r["id"], r["aggregate_reward_score"]) for r in results] == [
        ("b", 1.0),
        ("a", 0.0),
        ("c", 0.0),
        ("d", 0.0),
    ]
    assert results[1]["metrics_list"][0]["name"] == "error_invalid_reference"
    assert [m["name"] for m in results[3]["metrics_list"]] == [
        "error_no_assistant_response",
        "error_missing_reference",
    ]
