"""Preference grader: a response scores higher the closer it is to the chosen answer of a
preference pair and the further from the rejected one.

Bedrock RFT has no chosen/rejected (DPO) training format; this grader is how preference
pairs can still drive RFT. ``bedrock-customize prepare-rft`` turns pairs into RFT records
whose ``reference_answer`` is ``{"chosen": str, "rejected": str, "score"?: float}``, which
is what this grader reads.

Score::

    sim = token F1 (below)
    score = clamp(0.5 + weight * (sim(response, chosen) - sim(response, rejected)) / 2)

``weight`` is the pair's ``score`` when it has one (a number from 0 to 1, read as the
confidence that the chosen answer is better), else 1. A weight of 1 uses the whole range:
a response identical to the chosen answer and sharing no word with the rejected one scores
1.0, the reverse 0.0. A weight of 0 gives every response 0.5. A ``score`` outside [0, 1] or
not a number makes the reference invalid (0.0, ``error_invalid_reference``), as does a
chosen or rejected answer that is not a non-blank string.

Token F1 is the harmonic mean of precision and recall of the words two texts share,
counted with multiplicity: words are runs of letters, digits and underscores, case-folded.
Deterministic, no model, no dependency.

What this measures, honestly:

- Lexical overlap, not meaning. A correct paraphrase of the chosen answer in other words
  scores low; a response that reuses the chosen answer's words in a wrong order, or with a
  "not" added, scores high. Word order is ignored entirely.
- It rewards copying: the best response is the chosen answer verbatim. The policy learns
  to imitate the chosen answers' wording (and length: a longer or shorter response loses
  precision or recall), which is close to supervised fine-tuning on them, not to learning
  why they were preferred.
- A pair whose two answers share most of their words gives little signal: every response
  is about as close to both, so scores cluster at 0.5. ``pair_similarity`` (the F1 of
  chosen and rejected) reports this per sample; identical answers give exactly 0.5.
- Scripts written without spaces (Chinese, Japanese, Thai) form one "word" per run of
  characters, so overlap is all or nothing there.

Use it to bootstrap from existing preference data; a judge grader (``judge``) or a
verifiable grader measures quality more faithfully.

Metrics: ``similarity_chosen`` and ``similarity_rejected`` (the components of the score),
``pair_similarity``, ``preference_weight``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from lambda_handlers.common.observability import logger
from lambda_handlers.graders.contract import (
    Grade,
    GradeResult,
    Metric,
    ResultDict,
    Sample,
    grade_batch,
    summary,
    to_event,
    unit_score,
)

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The case-folded words of ``text`` (runs of letters, digits and underscores)."""
    return _WORD.findall(text.casefold())


def token_f1(a: str, b: str) -> float:
    """Token F1 of two texts, from 0.0 (no word shared) to 1.0 (the same words, same counts).

    Symmetric. Two texts without words are identical (1.0); one without words shares
    nothing with one that has some (0.0).
    """
    first, second = words(a), words(b)
    if not first or not second:
        return 1.0 if not first and not second else 0.0
    overlap = sum((Counter(first) & Counter(second)).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(first), overlap / len(second)
    return 2 * precision * recall / (precision + recall)


def _pair(reference: Any) -> tuple[str, str, float] | None:
    """``(chosen, rejected, weight)`` of a valid preference reference, else ``None``."""
    if not isinstance(reference, dict):
        return None
    chosen, rejected = reference.get("chosen"), reference.get("rejected")
    if not (isinstance(chosen, str) and chosen.strip()):
        return None
    if not (isinstance(rejected, str) and rejected.strip()):
        return None
    weight = reference.get("score")
    if weight is None:
        return chosen, rejected, 1.0
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        return None
    if not (math.isfinite(weight) and 0.0 <= weight <= 1.0):
        return None
    return chosen, rejected, float(weight)


def preference_score(response: str, chosen: str, rejected: str, weight: float = 1.0) -> float:
    """``clamp(0.5 + weight * (F1(response, chosen) - F1(response, rejected)) / 2)``."""
    return _combine(token_f1(response, chosen), token_f1(response, rejected), weight)


def _combine(to_chosen: float, to_rejected: float, weight: float) -> float:
    return unit_score(0.5 + weight * (to_chosen - to_rejected) / 2)


def score_preference(sample: Sample) -> Grade:
    """Score one response against its sample's preference pair."""
    pair = _pair(sample.reference)
    if pair is None:
        return Grade(0.0, (Metric("error_invalid_reference", 1.0),))
    chosen, rejected, weight = pair
    to_chosen = token_f1(sample.response, chosen)
    to_rejected = token_f1(sample.response, rejected)
    return Grade(
        _combine(to_chosen, to_rejected, weight),
        (
            Metric("similarity_chosen", to_chosen, "Reward"),
            Metric("similarity_rejected", to_rejected, "Reward"),
            Metric("pair_similarity", token_f1(chosen, rejected)),
            Metric("preference_weight", weight),
        ),
    )


def grade(event: Any) -> list[GradeResult]:
    """Score a batch against preference pairs; see ``contract.grade_batch`` for the rules."""
    return grade_batch(event, score_preference)


@logger.inject_lambda_context
def handler(event: Any, context: Any) -> list[ResultDict]:
    """Bedrock RFT grader Lambda: closeness to the chosen answer of a preference pair."""
    results = grade(event)
    logger.info("graded a batch", extra=summary(results))
    return to_event(results)
