"""The comparison report: CSV rows joined by record id, and base-versus-custom results."""

from __future__ import annotations

import csv
import io
import json

import pytest

from lambda_handlers.evaluation.batch import BatchResult
from lambda_handlers.evaluation.report import (
    CSV_COLUMNS,
    MISSING_OUTPUT,
    RecordRow,
    compare_rows,
    comparison_results,
    results_by_id,
    write_csv,
)
from lambda_handlers.evaluation.testset import TestCase, read_test_cases


def cases(*pairs: tuple[str, str]) -> list[TestCase]:
    lines = (json.dumps({"prompt": p, "completion": c}).encode() for p, c in pairs)
    return list(read_test_cases(lines))


def answers(*texts: str | None) -> dict[str, BatchResult]:
    return results_by_id(
        BatchResult(f"L{i:010d}", text, None if text is not None else "500: internal error")
        for i, text in enumerate(texts, start=1)
    )


def read_csv(rows: list[RecordRow], **options: bool) -> list[list[str]]:
    stream = io.StringIO(newline="")
    count = write_csv(stream, rows, **options)
    table = list(csv.reader(io.StringIO(stream.getvalue(), newline="")))
    assert count == len(table) - 1
    return table


def test_csv_has_the_documented_columns_and_one_row_per_case() -> None:
    test = cases(("The cat sat on the mat, said", "the cat sat on the mat"), ("2+2?", "4"))
    # Results arrive out of order; rows follow the test set.
    base = results_by_id(reversed(list(answers("the cat on the mat", "5").values())))
    rows = list(compare_rows(test, base, answers("the cat sat on the mat", "4")))
    table = read_csv(rows)
    assert list(CSV_COLUMNS) == table[0]
    assert table[0] == [
        "id",
        "prompt",
        "reference",
        "base_answer",
        "custom_answer",
        "base_token_f1",
        "custom_token_f1",
        "base_error",
        "custom_error",
    ]
    # base token F1, record 1: pred 5 tokens all shared, ref 6 -> P 1, R 5/6, F1 10/11 = 0.9091
    assert table[1] == [
        "L0000000001",
        "The cat sat on the mat, said",
        "the cat sat on the mat",
        "the cat on the mat",
        "the cat sat on the mat",
        "0.9091",
        "1.0000",
        "",
        "",
    ]
    assert table[2] == ["L0000000002", "2+2?", "4", "5", "4", "0.0000", "1.0000", "", ""]


def test_a_missing_or_failed_answer_is_an_error_cell_and_scores_zero() -> None:
    test = cases(("q1", "yes"), ("q2", "no"))
    base = answers(None, "no")  # record 1 failed in the job
    custom = {"L0000000001": BatchResult("L0000000001", "yes", None)}  # record 2 missing
    rows = list(compare_rows(test, base, custom))
    assert (rows[0].base_answer, rows[0].base_error) == (None, "500: internal error")
    assert (rows[1].custom_answer, rows[1].custom_error) == (None, MISSING_OUTPUT)
    assert rows[0].base_token_f1 == 0.0 and rows[1].custom_token_f1 == 0.0
    table = read_csv(rows)
    assert table[1][3] == "" and table[1][7] == "500: internal error"
    assert table[2][4] == "" and table[2][8] == MISSING_OUTPUT


def test_cells_a_spreadsheet_would_run_as_formulas_are_escaped() -> None:
    test = cases(('=HYPERLINK("http://x")', "-1"))
    rows = list(compare_rows(test, answers("@SUM(A1)"), answers("+1")))
    escaped = read_csv(rows)[1]
    assert escaped[1:5] == ['\'=HYPERLINK("http://x")', "'-1", "'@SUM(A1)", "'+1"]
    raw = read_csv(rows, escape_formulas=False)[1]
    assert raw[1:5] == ['=HYPERLINK("http://x")', "-1", "@SUM(A1)", "+1"]


def test_text_with_commas_quotes_and_newlines_survives_the_csv() -> None:
    prompt = 'He said "hi",\nthen left.'
    rows = list(compare_rows(cases((prompt, "ok")), answers("a, b"), answers('"c"')))
    row = read_csv(rows)[1]
    assert row[1] == prompt and row[3] == "a, b" and row[4] == '"c"'


def test_results_compare_both_models_on_labels() -> None:
    test = cases(("q1", "yes"), ("q2", "yes"), ("q3", "no"), ("q4", "no"))
    base = answers("yes", "no", "yes", "no")
    custom = answers("Yes.", "no", "no", "No")
    results = comparison_results(list(compare_rows(test, base, custom)))
    assert results["records"] == 4
    assert results["label_style"] is True
    assert results["labels"] == 2
    metrics = results["metrics"]
    assert list(metrics) == [
        "exact_match",
        "token_f1",
        "rouge_l",
        "precision_weighted",
        "recall_weighted",
        "f1_weighted",
    ]
    # exact match: base 2/4 (rows 1, 4), custom 3/4 (rows 1, 3, 4); gain 1/4
    assert metrics["exact_match"] == pytest.approx({"base": 0.5, "custom": 0.75, "gain": 0.25})
    # base: yes tp 1 of 2 answered, 2 true; no likewise -> P = R = F1 = 1/2 for both classes
    # custom: yes: tp 1, answered 1, support 2 -> P 1, R 1/2, F1 2/3
    #         no:  tp 2, answered 3, support 2 -> P 2/3, R 1, F1 4/5
    #   weighted P  = (2 * 1 + 2 * 2/3) / 4 = 5/6
    #   weighted R  = (2 * 1/2 + 2 * 1) / 4 = 3/4
    #   weighted F1 = (2 * 2/3 + 2 * 4/5) / 4 = (44/15) / 4 = 11/15
    assert metrics["precision_weighted"] == pytest.approx(
        {"base": 0.5, "custom": 5 / 6, "gain": 5 / 6 - 0.5}
    )
    assert metrics["recall_weighted"] == pytest.approx({"base": 0.5, "custom": 0.75, "gain": 0.25})
    assert metrics["f1_weighted"] == pytest.approx(
        {"base": 0.5, "custom": 11 / 15, "gain": 11 / 15 - 0.5}
    )
    assert results["counts"] == {
        "base": {"answered": 4, "errors": 0, "empty_predictions": 0, "exact_matches": 2},
        "custom": {"answered": 4, "errors": 0, "empty_predictions": 0, "exact_matches": 3},
    }


def test_results_for_free_text_have_no_classification_scores_and_count_errors() -> None:
    test = cases(("q1", "the cat sat on the mat"), ("q2", "police killed the gunman"))
    base = answers("the cat on the mat", None)
    custom = answers("the cat sat on the mat", "police kill the gunman")
    results = comparison_results(list(compare_rows(test, base, custom)))
    assert results["label_style"] is False and "labels" not in results
    assert list(results["metrics"]) == ["exact_match", "token_f1", "rouge_l"]
    # ROUGE-L base: (10/11 + 0) / 2; custom: (1 + 3/4) / 2 (Lin's example: LCS 3 of 4)
    rouge = results["metrics"]["rouge_l"]
    assert rouge["base"] == pytest.approx(5 / 11)
    assert rouge["custom"] == pytest.approx(7 / 8)
    assert rouge["gain"] == pytest.approx(7 / 8 - 5 / 11)
    assert results["counts"]["base"] == {
        "answered": 1,
        "errors": 1,
        "empty_predictions": 1,
        "exact_matches": 0,
    }


def test_results_of_no_rows_are_refused() -> None:
    with pytest.raises(ValueError, match="no records"):
        comparison_results([])
