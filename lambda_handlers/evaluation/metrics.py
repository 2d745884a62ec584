"""Scores of a model's answers against reference answers, all in [0, 1].

Every metric is defined here, without scikit-learn or a ROUGE package, so the Lambda layer
stays small and the definitions cannot drift with a dependency's version.

Normalization (exact match and labels)
    ``normalize``: whitespace collapsed to single spaces and stripped at both ends,
    case-folded (``str.casefold``, so "Straße" equals "STRASSE"), then trailing sentence
    punctuation (``. , ; : ! ?``, their full-width forms and ``…``) and spaces removed. So
    ``"  Positive. "`` equals ``"positive"``, but ``"not positive"`` does not equal
    ``"positive"``: nothing inside the answer is removed.

Tokens (token F1 and ROUGE-L)
    ``tokens``: the case-folded text split into runs of word characters (Unicode letters,
    digits, underscore); punctuation and whitespace separate tokens and are dropped. Each
    kana and CJK ideograph is a token of its own, since Chinese and Japanese do not put
    spaces between words. Scripts without spaces beyond those (Thai, Lao, Khmer) are one
    token per run, which makes their scores coarse. Unlike SQuAD's script, English articles
    ("a", "an", "the") are kept: the test sets are not all English.

Per-record scores, averaged over the records (macro over records)
    exact match
        1 when the normalized answer equals the normalized reference, else 0.
    token F1 (SQuAD-style)
        tokens compared as bags (multisets): ``common`` is the size of their intersection,
        precision = common / answer tokens, recall = common / reference tokens,
        F1 = 2PR / (P + R), which equals 2 * common / (answer tokens + reference tokens).
    ROUGE-L F-measure, beta = 1
        ``lcs`` is the length of the longest common subsequence of the two token lists
        (order kept, gaps allowed), P = lcs / answer tokens, R = lcs / reference tokens,
        F = 2PR / (P + R) = 2 * lcs / (answer tokens + reference tokens).
    For both: two texts without tokens score 1 (they agree), one without tokens scores 0.

Classification scores (only when the references are labels, see ``is_label_style``)
    Each distinct normalized reference is a class; an answer that is none of them is a
    wrong answer for every class. For each class ``c``: ``support`` = records whose
    reference is ``c``, ``tp`` = those answered ``c``, ``predicted`` = records answered
    ``c``; precision_c = tp / predicted (0 when nothing was answered ``c``), recall_c =
    tp / support, F1_c = 2 * precision_c * recall_c / (precision_c + recall_c) (0 when both
    are 0). The weighted score is the support-weighted mean over the reference classes,
    sum(support_c * score_c) / records. This is scikit-learn's ``average="weighted"`` with
    ``zero_division=0``: answers outside the reference classes form classes of support 0,
    which weigh nothing, and weighted F1 is the mean of per-class F1, not the F1 of the
    weighted precision and recall.

A missing answer (``None``: the model returned nothing or the call failed) scores as the
empty string: 0 on every metric against a reference that has tokens.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

TRAILING_PUNCTUATION = ".,;:!?。，；：！？…"
"""Removed from the end of an answer before exact match: sentence punctuation, ASCII and
full-width. Brackets and quotes are kept, since they can be part of an answer."""

LABEL_STYLE_MAX_LABELS = 50
"""At most this many distinct references for a test set to count as labels."""

SCORES = (
    "exact_match",
    "token_f1",
    "rouge_l",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
)
"""Names of the scores ``evaluate`` can return, in report order (the last three only for
label-style references)."""

# Hiragana, katakana, CJK unified ideographs (extension A and the main block) and
# compatibility ideographs: one token per character.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")


def normalize(text: str) -> str:
    """The text as compared for exact match and labels (see the module doc)."""
    return " ".join(text.split()).casefold().rstrip(TRAILING_PUNCTUATION + " ")


def tokens(text: str) -> list[str]:
    """The text's tokens for token F1 and ROUGE-L (see the module doc)."""
    return _TOKEN.findall(text.casefold())


def exact_match(reference: str, prediction: str | None) -> float:
    """1.0 when the normalized prediction equals the normalized reference, else 0.0."""
    return float(normalize(reference) == normalize(prediction or ""))


def _f_measure(overlap: int, n_prediction: int, n_reference: int) -> float:
    if n_prediction == 0 or n_reference == 0:
        return float(n_prediction == n_reference)
    if overlap == 0:
        return 0.0
    precision = overlap / n_prediction
    recall = overlap / n_reference
    return 2 * precision * recall / (precision + recall)


def token_f1(reference: str, prediction: str | None) -> float:
    """SQuAD-style F1 of the two texts' token bags."""
    ref = tokens(reference)
    pred = tokens(prediction or "")
    common = sum((Counter(ref) & Counter(pred)).values())
    return _f_measure(common, len(pred), len(ref))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token sequences.

    Bit-parallel (Allison and Dix 1986, in the form of Hyyrö 2004): one big-integer
    addition per token of ``a`` instead of a row of the quadratic table, so two answers of
    a few thousand tokens take milliseconds, not seconds. Bit ``i`` of ``v`` is 0 where
    the LCS grows along ``b``; the LCS length is the number of zero bits.
    """
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, token in enumerate(b):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << len(b)) - 1
    v = full
    for token in a:
        u = v & masks.get(token, 0)
        v = ((v + u) | (v - u)) & full
    return len(b) - v.bit_count()


def rouge_l(reference: str, prediction: str | None) -> float:
    """ROUGE-L F-measure (beta = 1) over tokens."""
    ref = tokens(reference)
    pred = tokens(prediction or "")
    return _f_measure(lcs_length(ref, pred), len(pred), len(ref))


def is_label_style(references: Sequence[str]) -> bool:
    """True when the references look like class labels rather than free text.

    Few distinct normalized references (at most ``LABEL_STYLE_MAX_LABELS``) and every one
    of them seen at least twice: a sentiment or intent test set. Free-text references are
    almost all distinct, and precision and recall per "class" would mean nothing for them.
    """
    if not references:
        return False
    counts = Counter(normalize(r) for r in references)
    return len(counts) <= LABEL_STYLE_MAX_LABELS and min(counts.values()) >= 2


@dataclass(frozen=True)
class LabelScores:
    """Precision, recall and F1 of one reference class, and its support."""

    support: int
    predicted: int
    true_positives: int
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class ClassificationScores:
    """Support-weighted precision, recall and F1, and the per-class scores behind them."""

    precision_weighted: float
    recall_weighted: float
    f1_weighted: float
    labels: dict[str, LabelScores]


def classification_scores(
    references: Sequence[str], predictions: Sequence[str | None]
) -> ClassificationScores:
    """Weighted precision, recall and F1 as scikit-learn computes them (see the module doc)."""
    _check_lengths(references, predictions)
    refs = [normalize(r) for r in references]
    preds = [normalize(p or "") for p in predictions]
    support = Counter(refs)
    predicted = Counter(preds)
    true_positives = Counter(r for r, p in zip(refs, preds, strict=True) if r == p)
    labels: dict[str, LabelScores] = {}
    for label in sorted(support):
        tp = true_positives[label]
        precision = tp / predicted[label] if predicted[label] else 0.0
        recall = tp / support[label]
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        labels[label] = LabelScores(support[label], predicted[label], tp, precision, recall, f1)
    total = len(refs)
    return ClassificationScores(
        precision_weighted=sum(s.support * s.precision for s in labels.values()) / total,
        recall_weighted=sum(s.support * s.recall for s in labels.values()) / total,
        f1_weighted=sum(s.support * s.f1 for s in labels.values()) / total,
        labels=labels,
    )


def _check_lengths(references: Sequence[str], predictions: Sequence[str | None]) -> None:
    if len(references) != len(predictions):
        raise ValueError(
            f"{len(references)} references but {len(predictions)} predictions; "
            "each record needs one of each"
        )
    if not references:
        raise ValueError("no records to evaluate")


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def evaluate(references: Sequence[str], predictions: Sequence[str | None]) -> dict[str, Any]:
    """Every applicable score of ``predictions`` against ``references``, with counts.

    Always: ``records``, ``empty_predictions`` (``None`` or blank answers), ``exact_matches``,
    ``label_style``, ``exact_match``, ``token_f1``, ``rouge_l``. When the references are
    label-style, also ``labels`` (distinct classes), ``precision_weighted``,
    ``recall_weighted`` and ``f1_weighted``. Raises ``ValueError`` when the two sequences
    differ in length or are empty.
    """
    _check_lengths(references, predictions)
    matches = [exact_match(r, p) for r, p in zip(references, predictions, strict=True)]
    result: dict[str, Any] = {
        "records": len(references),
        "empty_predictions": sum(1 for p in predictions if p is None or not p.strip()),
        "exact_matches": int(sum(matches)),
        "label_style": is_label_style(references),
        "exact_match": _mean(matches),
        "token_f1": _mean([token_f1(r, p) for r, p in zip(references, predictions, strict=True)]),
        "rouge_l": _mean([rouge_l(r, p) for r, p in zip(references, predictions, strict=True)]),
    }
    if result["label_style"]:
        scores = classification_scores(references, predictions)
        result.update(
            labels=len(scores.labels),
            precision_weighted=scores.precision_weighted,
            recall_weighted=scores.recall_weighted,
            f1_weighted=scores.f1_weighted,
        )
    return result
