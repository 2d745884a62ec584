"""The comparison of base and custom model: a per-record CSV and a results summary.

``compare_rows`` joins the test cases with both models' batch results by record id (the
output order is not guaranteed); ``write_csv`` writes one row per case for people to read;
``comparison_results`` scores both models on the same references and states the gain
(custom - base) of every score, so a positive gain means the customization helped.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from lambda_handlers.evaluation.batch import BatchResult
from lambda_handlers.evaluation.metrics import SCORES, evaluate, token_f1
from lambda_handlers.evaluation.testset import TestCase

CSV_COLUMNS = (
    "id",
    "prompt",
    "reference",
    "base_answer",
    "custom_answer",
    "base_token_f1",
    "custom_token_f1",
    "base_error",
    "custom_error",
)
"""The CSV header, in order."""

MISSING_OUTPUT = "no output record for this id"

# A cell starting with one of these is run as a formula by spreadsheet programs (CSV
# injection); model answers are untrusted text, so such cells get a leading apostrophe.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class RecordRow:
    """One test case with both models' answers (``None`` when there is none) and scores."""

    id: str
    prompt: str
    reference: str
    base_answer: str | None
    custom_answer: str | None
    base_error: str | None
    custom_error: str | None
    base_token_f1: float
    custom_token_f1: float


def results_by_id(results: Iterable[BatchResult]) -> dict[str, BatchResult]:
    """Batch results keyed by record id (a repeated id keeps its last result)."""
    return {result.record_id: result for result in results}


def compare_rows(
    cases: Iterable[TestCase],
    base: Mapping[str, BatchResult],
    custom: Mapping[str, BatchResult],
) -> Iterator[RecordRow]:
    """One row per case, in the test set's order; a case a model has no record for gets
    ``MISSING_OUTPUT`` as its error and scores as an empty answer."""
    for case in cases:
        base_answer, base_error = _answer(base.get(case.id))
        custom_answer, custom_error = _answer(custom.get(case.id))
        yield RecordRow(
            id=case.id,
            prompt=case.prompt_text(),
            reference=case.reference,
            base_answer=base_answer,
            custom_answer=custom_answer,
            base_error=base_error,
            custom_error=custom_error,
            base_token_f1=token_f1(case.reference, base_answer),
            custom_token_f1=token_f1(case.reference, custom_answer),
        )


def _answer(result: BatchResult | None) -> tuple[str | None, str | None]:
    if result is None:
        return None, MISSING_OUTPUT
    return result.text, result.error


def _cell(value: str | None, escape_formulas: bool) -> str:
    text = value or ""
    if escape_formulas and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def write_csv(stream: TextIO, rows: Iterable[RecordRow], *, escape_formulas: bool = True) -> int:
    """Write the header and one CSV row per record to ``stream``; return the row count.

    Open a file for it with ``newline=""`` (the csv module writes ``\\r\\n`` itself).
    Scores have four decimals. With ``escape_formulas`` (the default), a text cell that a
    spreadsheet would run as a formula (starting ``=``, ``+``, ``-``, ``@``, tab or carriage
    return) is written with a leading apostrophe; pass ``False`` for byte-exact text.
    """
    writer = csv.writer(stream)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow(
            [
                row.id,
                _cell(row.prompt, escape_formulas),
                _cell(row.reference, escape_formulas),
                _cell(row.base_answer, escape_formulas),
                _cell(row.custom_answer, escape_formulas),
                f"{row.base_token_f1:.4f}",
                f"{row.custom_token_f1:.4f}",
                _cell(row.base_error, escape_formulas),
                _cell(row.custom_error, escape_formulas),
            ]
        )
        count += 1
    return count


def comparison_results(rows: Sequence[RecordRow]) -> dict[str, Any]:
    """Both models scored on the same references, and the gain of each score.

    ``{"records", "label_style", "metrics": {score: {"base", "custom", "gain"}},
    "counts": {"base" | "custom": {"answered", "errors", "empty_predictions",
    "exact_matches"}}}``, plus ``labels`` (distinct classes) when the references are
    label-style. Raises ``ValueError`` when there are no rows.
    """
    references = [row.reference for row in rows]
    base = evaluate(references, [row.base_answer for row in rows])
    custom = evaluate(references, [row.custom_answer for row in rows])
    metrics = {
        name: {"base": base[name], "custom": custom[name], "gain": custom[name] - base[name]}
        for name in SCORES
        if name in base
    }
    result: dict[str, Any] = {
        "records": len(rows),
        "label_style": base["label_style"],
        "metrics": metrics,
        "counts": {
            "base": _counts(base, [row.base_error for row in rows]),
            "custom": _counts(custom, [row.custom_error for row in rows]),
        },
    }
    if base["label_style"]:
        result["labels"] = base["labels"]
    return result


def _counts(scores: Mapping[str, Any], errors: Sequence[str | None]) -> dict[str, int]:
    failed = sum(1 for error in errors if error is not None)
    return {
        "answered": len(errors) - failed,
        "errors": failed,
        "empty_predictions": scores["empty_predictions"],
        "exact_matches": scores["exact_matches"],
    }
