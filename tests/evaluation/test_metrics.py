"""Every metric against values computed by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_handlers.evaluation.metrics import (
    classification_scores,
    evaluate,
    exact_match,
    is_label_style,
    lcs_length,
    normalize,
    rouge_l,
    token_f1,
    tokens,
)

# -- normalization and tokens -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Positive. ", "positive"),  # stripped, case-folded, trailing period gone
        ("NOT\n\tpositive", "not positive"),  # whitespace runs collapse to one space
        ("yes !?", "yes"),  # trailing punctuation and the space before it
        ("Straße", "strasse"),  # casefold, not lower(): ß folds to ss
        ("肯定。", "肯定"),  # full-width full stop
        ("(a)", "(a)"),  # brackets are part of the answer
        ("3.5", "3.5"),  # only trailing punctuation goes
    ],
)
def test_normalize_strips_casefolds_collapses_and_drops_trailing_punctuation(
    text: str, expected: str
) -> None:
    assert normalize(text) == expected


def test_tokens_are_casefolded_word_runs_and_single_cjk_characters() -> None:
    assert tokens("The cat's  mat, 2024!") == ["the", "cat", "s", "mat", "2024"]
    assert tokens("我喜欢猫 ok") == ["我", "喜", "欢", "猫", "ok"]
    assert tokens("?!  ...") == []


# -- exact match ---------------------------------------------------------------------


def test_exact_match_compares_normalized_text() -> None:
    assert exact_match("Positive", "  positive. ") == 1.0
    assert exact_match("positive", "not positive") == 0.0
    assert exact_match("positive", None) == 0.0
    assert exact_match("positive", "") == 0.0


# -- token F1 ------------------------------------------------------------------------


def test_token_f1_of_a_one_word_substitution() -> None:
    # ref  [the, cat, sat, on, the, mat]   (6 tokens)
    # pred [the, cat, is,  on, the, mat]   (6 tokens)
    # common bag: the x2, cat, on, mat = 5; P = 5/6, R = 5/6, F1 = 5/6
    assert token_f1("The cat sat on the mat", "the cat is on the mat.") == pytest.approx(5 / 6)


def test_token_f1_counts_repeated_tokens_as_a_bag() -> None:
    # ref [a, a, b], pred [a, b, b, c]: common = min(2,1) a + min(1,2) b = 2
    # P = 2/4 = 1/2, R = 2/3, F1 = 2 * 1/2 * 2/3 / (1/2 + 2/3) = (2/3) / (7/6) = 4/7
    assert token_f1("a a b", "a b b c") == pytest.approx(4 / 7)


def test_token_f1_ignores_order() -> None:
    assert token_f1("a b c", "c b a") == 1.0


def test_token_f1_of_empty_answers() -> None:
    assert token_f1("a cat", None) == 0.0
    assert token_f1("a cat", "   ") == 0.0
    assert token_f1("a cat", "dog") == 0.0
    # Neither side has a token: they agree (SQuAD's rule).
    assert token_f1("?!", "") == 1.0


# -- ROUGE-L -------------------------------------------------------------------------


def test_rouge_l_of_lins_example_sentences() -> None:
    # Lin (2004): reference "police killed the gunman".
    # "police kill the gunman": LCS = police, the, gunman = 3; P = R = 3/4, F = 3/4
    assert rouge_l("police killed the gunman", "police kill the gunman") == pytest.approx(0.75)
    # "the gunman kill police": LCS = the, gunman = 2; P = R = 2/4, F = 1/2
    assert rouge_l("police killed the gunman", "the gunman kill police") == pytest.approx(0.5)


def test_rouge_l_of_a_dropped_word() -> None:
    # ref 6 tokens, pred "the cat on the mat" 5 tokens, LCS 5
    # P = 5/5 = 1, R = 5/6, F = 2 * 1 * 5/6 / (1 + 5/6) = (5/3) / (11/6) = 10/11
    assert rouge_l("the cat sat on the mat", "the cat on the mat") == pytest.approx(10 / 11)


def test_rouge_l_keeps_order_where_token_f1_does_not() -> None:
    # "c b a" against "a b c": LCS = 1; P = R = 1/3, F = 1/3 (token F1 would be 1)
    assert rouge_l("a b c", "c b a") == pytest.approx(1 / 3)


def test_rouge_l_of_empty_answers() -> None:
    assert rouge_l("a cat", None) == 0.0
    assert rouge_l("...", "") == 1.0


def _lcs_table(a: list[str], b: list[str]) -> int:
    """The textbook quadratic table, as the reference for the bit-parallel version."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def test_lcs_length_of_known_pairs() -> None:
    assert lcs_length(["a", "b", "c", "d", "e"], ["a", "c", "e", "x"]) == 3  # a, c, e
    assert lcs_length(["x", "y"], ["a", "b"]) == 0
    assert lcs_length([], ["a"]) == 0


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from("abcd"), max_size=40),
    st.lists(st.sampled_from("abcd"), max_size=40),
)
def test_bit_parallel_lcs_equals_the_quadratic_table(a: list[str], b: list[str]) -> None:
    assert lcs_length(a, b) == _lcs_table(a, b)


# -- weighted precision, recall, F1 ----------------------------------------------------

# Imbalanced: 6 pos, 2 neg, 2 neu; "maybe" is an answer outside the classes.
REFERENCES = ["pos"] * 6 + ["neg"] * 2 + ["neu"] * 2
PREDICTIONS = [
    *["pos", "pos", "pos", "pos", "neg", "neu"],  # for the six pos references
    *["neg", "pos"],  # for the two neg references
    *["neu", "maybe"],  # for the two neu references
]


def test_weighted_scores_of_an_imbalanced_example() -> None:
    scores = classification_scores(REFERENCES, PREDICTIONS)
    # pos: support 6, tp 4, predicted 4 (pos refs) + 1 (a neg ref) = 5
    #      P = 4/5, R = 4/6 = 2/3, F1 = 2 * 4/5 * 2/3 / (4/5 + 2/3) = (16/15) / (22/15) = 8/11
    # neg: support 2, tp 1, predicted 1 (a pos ref) + 1 = 2; P = 1/2, R = 1/2, F1 = 1/2
    # neu: support 2, tp 1, predicted 1 (a pos ref) + 1 = 2; P = 1/2, R = 1/2, F1 = 1/2
    pos = scores.labels["pos"]
    assert (pos.support, pos.true_positives, pos.predicted) == (6, 4, 5)
    assert pos.f1 == pytest.approx(8 / 11)
    # weighted P  = (6 * 4/5 + 2 * 1/2 + 2 * 1/2) / 10 = (4.8 + 1 + 1) / 10 = 0.68
    # weighted R  = (6 * 2/3 + 2 * 1/2 + 2 * 1/2) / 10 = 6 / 10 = 0.6 (= accuracy)
    # weighted F1 = (6 * 8/11 + 2 * 1/2 + 2 * 1/2) / 10 = (48/11 + 2) / 10 = 7/11
    assert scores.precision_weighted == pytest.approx(0.68)
    assert scores.recall_weighted == pytest.approx(0.6)
    assert scores.f1_weighted == pytest.approx(7 / 11)
    # The answer outside the classes weighs nothing: it is not a class of its own.
    assert set(scores.labels) == {"neg", "neu", "pos"}


def test_a_class_never_answered_scores_zero_not_an_error() -> None:
    # refs a, a, b, b; every answer "a".
    # a: tp 2, predicted 4: P = 1/2, R = 1, F1 = 2 * 1/2 * 1 / (3/2) = 2/3
    # b: tp 0, predicted 0: P = 0 (zero_division=0), R = 0, F1 = 0
    scores = classification_scores(["a", "a", "b", "b"], ["a"] * 4)
    assert scores.precision_weighted == pytest.approx((2 * 0.5 + 2 * 0) / 4)  # 0.25
    assert scores.recall_weighted == pytest.approx((2 * 1 + 2 * 0) / 4)  # 0.5
    assert scores.f1_weighted == pytest.approx((2 * 2 / 3 + 0) / 4)  # 1/3


def test_labels_are_compared_normalized() -> None:
    scores = classification_scores(["Yes", "yes", "no", "no"], ["YES.", "yes", "No", "no!"])
    assert scores.f1_weighted == 1.0


# -- label style -----------------------------------------------------------------------


def test_label_style_needs_few_repeated_references() -> None:
    assert is_label_style(REFERENCES)
    assert is_label_style(["Yes", "yes.", "no", "NO"])  # normalized before counting
    assert not is_label_style(["pos", "pos", "neg"])  # "neg" seen once
    assert not is_label_style([f"summary {i}" for i in range(20)])  # all distinct
    assert not is_label_style([])


def test_label_style_allows_at_most_fifty_labels() -> None:
    fifty = [f"label {i}" for i in range(50)] * 2
    assert is_label_style(fifty)
    assert not is_label_style(fifty + ["label 50"] * 2)


# -- evaluate --------------------------------------------------------------------------


def test_evaluate_reports_every_score_and_the_counts_for_labels() -> None:
    result = evaluate(REFERENCES, PREDICTIONS)
    assert result == {
        "records": 10,
        "empty_predictions": 0,
        "exact_matches": 6,  # pos x4, neg x1, neu x1
        "label_style": True,
        "exact_match": pytest.approx(0.6),
        # one-token answers: token F1 and ROUGE-L are 1 when equal, else 0
        "token_f1": pytest.approx(0.6),
        "rouge_l": pytest.approx(0.6),
        "labels": 3,
        "precision_weighted": pytest.approx(0.68),
        "recall_weighted": pytest.approx(0.6),
        "f1_weighted": pytest.approx(7 / 11),
    }


def test_evaluate_leaves_out_classification_scores_for_free_text() -> None:
    references = ["the cat sat on the mat", "police killed the gunman"]
    result = evaluate(references, ["the cat on the mat", None])
    assert result["label_style"] is False
    assert "f1_weighted" not in result and "labels" not in result
    # token F1: record 1: common 5 of pred 5, ref 6 -> P 1, R 5/6, F1 10/11; record 2: 0
    assert result["token_f1"] == pytest.approx((10 / 11 + 0) / 2)
    assert result["rouge_l"] == pytest.approx((10 / 11 + 0) / 2)
    assert result["empty_predictions"] == 1


def test_evaluate_counts_missing_and_blank_answers_as_empty() -> None:
    result = evaluate(["a", "a", "b", "b"], [None, "  ", "", "b"])
    assert result["empty_predictions"] == 3
    assert result["exact_match"] == pytest.approx(0.25)


def test_evaluate_refuses_unequal_lengths() -> None:
    with pytest.raises(ValueError, match="2 references but 1 predictions"):
        evaluate(["a", "b"], ["a"])


def test_evaluate_refuses_no_records() -> None:
    with pytest.raises(ValueError, match="no records"):
        evaluate([], [])


# -- properties ------------------------------------------------------------------------

answers = st.text(max_size=80) | st.sampled_from(["", "  ", "Yes.", "the cat", "猫", "!!"])


@settings(max_examples=300, deadline=None)
@given(answers, answers | st.none())
def test_scores_stay_between_zero_and_one(reference: str, prediction: str | None) -> None:
    for metric in (exact_match, token_f1, rouge_l):
        assert 0.0 <= metric(reference, prediction) <= 1.0


@settings(max_examples=200, deadline=None)
@given(answers, answers)
def test_f_measures_are_symmetric_and_perfect_on_identical_text(a: str, b: str) -> None:
    assert token_f1(a, b) == pytest.approx(token_f1(b, a))
    assert rouge_l(a, b) == pytest.approx(rouge_l(b, a))
    assert token_f1(a, a) == 1.0
    assert rouge_l(a, a) == 1.0
    assert rouge_l(a, b) <= token_f1(a, b) + 1e-12  # an LCS is a common sub-bag


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(answers, answers | st.none()), min_size=1, max_size=12))
def test_every_evaluated_score_stays_between_zero_and_one(
    pairs: list[tuple[str, str | None]],
) -> None:
    result = evaluate([r for r, _ in pairs], [p for _, p in pairs])
    for name in ("exact_match", "token_f1", "rouge_l"):
        assert 0.0 <= result[name] <= 1.0
    for name in ("precision_weighted", "recall_weighted", "f1_weighted"):
        if name in result:
            assert 0.0 <= result[name] <= 1.0 + 1e-12
