"""prepare-rft: preference pairs to RFT records that Bedrock's format accepts and the
preference grader reads, and the report. The command's tests are in tests/cli/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lambda_handlers.datatools.prepare_rft import (
    RFT_MAX_RECORDS,
    RFT_MIN_RECORDS,
    InvalidPair,
    prepare_rft,
)
from lambda_handlers.graders import preference
from lambda_handlers.validation.engine import validate_dataset
from lambda_handlers.validation.rules import DatasetRules
from lambda_handlers.validation.sources import open_source

LINES = [
    {
        "prompt": "How do I open a file?",
        "chosen": "Use a with statement.",
        "rejected": "Call open and hope.",
    },
    {"prompt": "Say hi", "chosen": "Hello there!", "rejected": "Go away.", "score": 0.8},
    "",
    "not json at all",
    {"prompt": "Missing chosen", "rejected": "x"},
    {"prompt": "Bad score", "chosen": "a", "rejected": "b", "score": 2},
    {"prompt": "Same", "chosen": "Same answer", "rejected": "Same answer "},
    {"prompt": "Extra", "chosen": "Yes", "rejected": "No", "source": "forum", "score": 0},
    ["a", "list"],
    {"prompt": "  ", "chosen": "a", "rejected": "b"},
    {"prompt": "Bool score", "chosen": "a", "rejected": "b", "score": True},
]


def write_lines(path: Path, lines: list[Any]) -> Path:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def pairs(tmp_path: Path) -> Path:
    return write_lines(tmp_path / "pairs.jsonl", LINES)


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_valid_pairs_become_rft_records_with_their_line_as_id(pairs: Path, tmp_path: Path) -> None:
    out = tmp_path / "rft.jsonl"
    prepare_rft(pairs, out)
    written = records(out)
    assert [r["id"] for r in written] == ["pair-1", "pair-2", "pair-7", "pair-8"]
    assert written[0] == {
        "id": "pair-1",
        "messages": [{"role": "user", "content": "How do I open a file?"}],
        "reference_answer": {"chosen": "Use a with statement.", "rejected": "Call open and hope."},
    }
    assert written[1]["reference_answer"] == {
        "chosen": "Hello there!",
        "rejected": "Go away.",
        "score": 0.8,
    }
    assert written[3]["reference_answer"] == {"chosen": "Yes", "rejected": "No", "score": 0}
    assert "source" not in json.dumps(written[3])


def test_the_report_counts_and_names_the_lines(pairs: Path, tmp_path: Path) -> None:
    report = prepare_rft(pairs, tmp_path / "rft.jsonl")
    assert (report.pairs, report.written, report.invalid, report.skipped_blank) == (10, 4, 6, 1)
    assert report.invalid_examples == [
        InvalidPair(4, "not a JSON object"),
        InvalidPair(5, "chosen must be a non-blank string"),
        InvalidPair(6, "score must be a number from 0 to 1, got 2"),
        InvalidPair(9, "not a JSON object"),
        InvalidPair(10, "prompt must be a non-blank string"),
        InvalidPair(11, "score must be a number from 0 to 1"),
    ]
    assert (report.identical, report.identical_lines) == (1, [7])
    assert (report.with_score, report.extra_fields_dropped) == (2, 1)
    assert (report.rft_min_records, report.rft_max_records) == (100, 20_000)
    assert report.within_rft_bounds is False
    as_dict = report.to_dict()
    assert as_dict["invalid_examples"][0] == {"line": 4, "reason": "not a JSON object"}
    json.dumps(as_dict)


def test_the_bounds_come_from_the_data_files_rft_rule() -> None:
    assert (RFT_MIN_RECORDS, RFT_MAX_RECORDS) == (100, 20_000)


def test_the_output_is_valid_rft_data(tmp_path: Path) -> None:
    source = write_lines(
        tmp_path / "many.jsonl",
        [
            {"prompt": f"Question {i}?", "chosen": f"Good answer {i}", "rejected": f"Bad {i}"}
            for i in range(120)
        ],
    )
    out = tmp_path / "many.rft.jsonl"
    report = prepare_rft(source, out)
    assert report.written == 120
    assert report.within_rft_bounds is True
    validation = validate_dataset(
        open_source(out),
        customization_type="REINFORCEMENT_FINE_TUNING",
        base_model="amazon.nova-2-lite-v1:0:256k",
        rules=DatasetRules(format="rft-openai", min_records=RFT_MIN_RECORDS),
    )
    assert validation["verdict"] == "valid", validation
    assert validation["errors"] == {}
    assert validation["warnings"] == {}
    assert validation["files"]["training"]["records"] == 120


def test_the_small_files_records_are_each_valid_too(pairs: Path, tmp_path: Path) -> None:
    out = tmp_path / "rft.jsonl"
    prepare_rft(pairs, out)
    validation = validate_dataset(
        open_source(out),
        customization_type="REINFORCEMENT_FINE_TUNING",
        base_model="amazon.nova-2-lite-v1:0:256k",
        rules=DatasetRules(format="rft-openai"),
    )
    assert validation["errors"] == {}


def test_the_preference_grader_reads_what_prepare_rft_writes(pairs: Path, tmp_path: Path) -> None:
    out = tmp_path / "rft.jsonl"
    prepare_rft(pairs, out)
    batch = []
    for record in records(out)[:2]:
        chosen = record["reference_answer"]["chosen"]
        messages = [*record["messages"], {"role": "assistant", "content": chosen}]
        batch.append({**record, "messages": messages})
    results = preference.grade(batch)
    assert [r.id for r in results] == ["pair-1", "pair-2"]
    # The chosen answer verbatim shares no word with the rejected one: F1 1 against 0. Line 1
    # has no score (weight 1): 0.5 + 1 / 2 = 1.0. Line 2 has score 0.8: 0.5 + 0.8 / 2 = 0.9.
    assert [r.aggregate_reward_score for r in results] == pytest.approx([1.0, 0.9])


def test_nothing_is_written_when_no_pair_is_valid(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "bad.jsonl", ["nope", {"prompt": "p"}, ""])
    out = tmp_path / "out.jsonl"
    with pytest.raises(
        ValueError, match=r"no valid preference pair \(2 non-blank lines, 2 invalid"
    ):
        prepare_rft(source, out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [source]


def test_the_output_may_not_be_the_source(pairs: Path) -> None:
    before = pairs.read_bytes()
    with pytest.raises(ValueError, match="same file as the source"):
        prepare_rft(pairs, pairs)
    assert pairs.read_bytes() == before


def test_invalid_examples_are_capped_but_the_count_is_not(tmp_path: Path) -> None:
    lines: list[Any] = ["x"] * 30 + [{"prompt": "p", "chosen": "a", "rejected": "b"}]
    report = prepare_rft(write_lines(tmp_path / "many.jsonl", lines), tmp_path / "o.jsonl")
    assert report.invalid == 30
    assert len(report.invalid_examples) == 20
