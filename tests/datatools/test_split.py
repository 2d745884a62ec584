"""Deterministic, exact, stratified and streaming train/validation split."""

from __future__ import annotations

import json
import math
import tracemalloc
import zlib
from collections import Counter
from pathlib import Path

import pytest

from lambda_handlers.datatools import split as split_module
from lambda_handlers.datatools.split import MAX_LABELS, split_jsonl


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(lines))
    return path


def records(n: int, label: str | None = None) -> list[bytes]:
    return [
        json.dumps({"prompt": f"question {i}", "completion": label or f"answer {i}"}).encode()
        + b"\n"
        for i in range(n)
    ]


def split(tmp_path: Path, source: Path, name: str = "out", **kwargs: object) -> tuple[Path, Path]:
    train, validation = tmp_path / f"{name}.train.jsonl", tmp_path / f"{name}.validation.jsonl"
    split_jsonl(source, train, validation, **kwargs)  # type: ignore[arg-type]
    return train, validation


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def is_subsequence(part: list[bytes], whole: list[bytes]) -> bool:
    it = iter(whole)
    return all(line in it for line in part)


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "data.jsonl", records(500))
    first = split(tmp_path, source, "a", validation_fraction=0.2, seed=7)
    second = split(tmp_path, source, "b", validation_fraction=0.2, seed=7)
    assert first[0].read_bytes() == second[0].read_bytes()
    assert first[1].read_bytes() == second[1].read_bytes()


def test_different_seed_gives_a_different_split(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "data.jsonl", records(500))
    _, validation_a = split(tmp_path, source, "a", validation_fraction=0.2, seed=1)
    _, validation_b = split(tmp_path, source, "b", validation_fraction=0.2, seed=2)
    assert validation_a.read_bytes() != validation_b.read_bytes()


@pytest.mark.parametrize(
    ("n", "fraction", "expected_validation"),
    [
        (1000, 0.1, 100),
        (7, 0.5, 4),  # round(3.5) is 4 (even)
        (10, 0.25, 2),  # round(2.5) is 2 (even)
        (3, 0.34, 1),
        (999, 0.999, 998),
    ],
)
def test_exact_counts_and_nothing_lost_or_reordered(
    tmp_path: Path, n: int, fraction: float, expected_validation: int
) -> None:
    source_lines = records(n)
    source = write_lines(tmp_path / "data.jsonl", source_lines)
    train, validation = tmp_path / "t.jsonl", tmp_path / "v.jsonl"
    report = split_jsonl(source, train, validation, validation_fraction=fraction, seed=3)
    train_lines, validation_lines = lines_of(train), lines_of(validation)
    assert len(validation_lines) == report.validation == expected_validation
    assert len(train_lines) == report.train == n - expected_validation
    assert report.total == n
    assert Counter(train_lines + validation_lines) == Counter(source_lines)
    assert is_subsequence(train_lines, source_lines)
    assert is_subsequence(validation_lines, source_lines)


def test_lines_are_copied_byte_for_byte_and_blank_lines_counted(tmp_path: Path) -> None:
    odd = [
        b'{"prompt":"caf\xc3\xa9",   "completion": "x"}\r\n',
        b'  {"completion": "\\u00e9", "prompt": "y"}\n',
        b"\n",
        b"   \r\n",
        b'{"prompt": "no newline at the end", "completion": "z"}',
    ]
    source = write_lines(tmp_path / "data.jsonl", odd)
    train, validation = split(tmp_path, source, validation_fraction=0.34)
    written = lines_of(train) + lines_of(validation)
    assert sorted(written) == sorted([odd[0], odd[1], odd[4]])


def test_blank_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "data.jsonl", [b"\n", *records(10), b"  \n", b"\r\n"])
    train, validation = tmp_path / "t.jsonl", tmp_path / "v.jsonl"
    report = split_jsonl(source, train, validation, validation_fraction=0.3)
    assert report.skipped_blank == 3
    assert report.total == 10
    assert len(lines_of(train)) + len(lines_of(validation)) == 10


def labelled(counts: dict[str, int]) -> list[bytes]:
    out = []
    for label, n in counts.items():
        out += [
            json.dumps({"prompt": f"{label} {i}", "completion": label}).encode() + b"\n"
            for i in range(n)
        ]
    # Interleave the labels (in a fixed order) so a split that ignored them would not come
    # out right by luck.
    return sorted(out, key=zlib.crc32)


def test_stratified_split_keeps_each_labels_fraction(tmp_path: Path) -> None:
    counts = {"positive": 100, "negative": 37, "neutral": 3}
    source = write_lines(tmp_path / "data.jsonl", labelled(counts))
    train, validation = tmp_path / "t.jsonl", tmp_path / "v.jsonl"
    report = split_jsonl(source, train, validation, validation_fraction=0.2, seed=5, stratify=True)
    held_out = Counter(json.loads(line)["completion"] for line in lines_of(validation))
    kept = Counter(json.loads(line)["completion"] for line in lines_of(train))
    assert held_out == {"positive": 20, "negative": 7, "neutral": 1}
    assert kept == {"positive": 80, "negative": 30, "neutral": 2}
    assert report.labels is not None
    assert {k: (v.total, v.validation) for k, v in report.labels.items()} == {
        "positive": (100, 20),
        "negative": (37, 7),
        "neutral": (3, 1),
    }
    assert report.unparsed == 0
    assert report.missing_label is None


def test_stratified_split_is_deterministic(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "data.jsonl", labelled({"a": 50, "b": 50}))
    first = split(tmp_path, source, "a", validation_fraction=0.3, seed=9, stratify=True)
    second = split(tmp_path, source, "b", validation_fraction=0.3, seed=9, stratify=True)
    assert first[1].read_bytes() == second[1].read_bytes()


def test_stratified_split_sends_unparsed_lines_to_training(tmp_path: Path) -> None:
    bad = [b"not json\n", b"[1, 2, 3]\n", b'{"truncated": \n']
    source = write_lines(tmp_path / "data.jsonl", labelled({"a": 10, "b": 10}) + bad)
    train, validation = tmp_path / "t.jsonl", tmp_path / "v.jsonl"
    report = split_jsonl(source, train, validation, validation_fraction=0.5, stratify=True)
    assert report.unparsed == 3
    assert all(line in lines_of(train) for line in bad)
    assert report.validation == 10
    assert report.train == 13
    assert report.total == 23


def test_records_without_the_label_form_their_own_stratum(tmp_path: Path) -> None:
    missing = [json.dumps({"prompt": f"p{i}"}).encode() + b"\n" for i in range(10)]
    source = write_lines(tmp_path / "data.jsonl", labelled({"a": 10}) + missing)
    train, validation = tmp_path / "t.jsonl", tmp_path / "v.jsonl"
    report = split_jsonl(source, train, validation, validation_fraction=0.2, stratify=True)
    assert report.missing_label is not None
    assert (report.missing_label.total, report.missing_label.validation) == (10, 2)
    assert sum(line in lines_of(validation) for line in missing) == 2


def test_non_string_labels_are_stratified_by_their_json_text(tmp_path: Path) -> None:
    lines = [json.dumps({"prompt": str(i), "label": i % 2}).encode() + b"\n" for i in range(20)]
    source = write_lines(tmp_path / "data.jsonl", lines)
    train, validation = tmp_path / "t.jsonl", tmp_path / "v.jsonl"
    report = split_jsonl(
        source, train, validation, validation_fraction=0.5, stratify=True, label_field="label"
    )
    assert report.labels is not None
    assert {k: v.validation for k, v in report.labels.items()} == {"0": 5, "1": 5}


def test_stratifying_on_a_free_text_field_is_refused(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "data.jsonl", records(MAX_LABELS + 1))
    with pytest.raises(ValueError, match=f"more than {MAX_LABELS} distinct values"):
        split(tmp_path, source, validation_fraction=0.5, stratify=True)


@pytest.mark.parametrize("fraction", [0, 0.0, 1, 1.0, -0.1, 1.5, math.nan, True, "0.2"])
def test_fraction_must_be_between_zero_and_one(tmp_path: Path, fraction: object) -> None:
    source = write_lines(tmp_path / "data.jsonl", records(10))
    with pytest.raises(ValueError, match="validation_fraction must be a number greater than 0"):
        split(tmp_path, source, validation_fraction=fraction)


def test_a_split_with_no_validation_record_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "data.jsonl", records(5))
    train, validation = tmp_path / "t.jsonl", tmp_path / "v.jsonl"
    with pytest.raises(ValueError, match="puts no record in validation"):
        split_jsonl(source, train, validation, validation_fraction=0.05)
    assert not train.exists()
    assert not validation.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl"]


def test_a_split_with_no_training_record_is_refused(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "data.jsonl", records(2))
    with pytest.raises(ValueError, match="puts no record in training"):
        split(tmp_path, source, validation_fraction=0.9)


def test_a_file_of_blank_lines_is_refused(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "data.jsonl", [b"\n", b" \n"])
    with pytest.raises(ValueError, match="no records"):
        split(tmp_path, source, validation_fraction=0.5)


def test_outputs_may_not_overwrite_the_source_or_each_other(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "data.jsonl", records(10))
    with pytest.raises(ValueError, match=r"train_out .* same file as the source"):
        split_jsonl(source, source, tmp_path / "v.jsonl", validation_fraction=0.5)
    with pytest.raises(ValueError, match=r"validation_out .* same file as train_out"):
        split_jsonl(source, tmp_path / "o.jsonl", tmp_path / "o.jsonl", validation_fraction=0.5)
    assert source.read_bytes() == b"".join(records(10))


def test_a_missing_source_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        split(tmp_path, tmp_path / "absent.jsonl", validation_fraction=0.5)


@pytest.mark.parametrize("change", ["grow", "shrink"])
def test_a_source_that_changes_between_passes_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    source = write_lines(tmp_path / "data.jsonl", records(20))
    count = split_module._count

    def count_then_change(*args: object) -> object:
        strata = count(*args)  # type: ignore[arg-type]
        if change == "grow":
            with source.open("ab") as handle:
                handle.write(records(1)[0])
        else:
            source.write_bytes(b"".join(records(10)))
        return strata

    monkeypatch.setattr(split_module, "_count", count_then_change)
    train, validation = tmp_path / "t.jsonl", tmp_path / "v.jsonl"
    with pytest.raises(ValueError, match="changed while it was being split"):
        split_jsonl(source, train, validation, validation_fraction=0.5)
    # No output, and no temporary file left behind either.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl"]


def test_seed_must_be_an_integer(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "data.jsonl", records(10))
    with pytest.raises(ValueError, match="seed must be an integer"):
        split(tmp_path, source, validation_fraction=0.5, seed="1")


@pytest.mark.parametrize(
    ("stratify", "n", "min_ratio"),
    [
        (False, 200_000, 50),
        # Parsing every line twice is slow under tracemalloc; a smaller file keeps the suite fast.
        (True, 40_000, 20),
    ],
)
def test_split_streams_instead_of_loading_the_file(
    tmp_path: Path, stratify: bool, n: int, min_ratio: int
) -> None:
    source = tmp_path / "big.jsonl"
    with source.open("wb") as handle:
        for i in range(n):
            handle.write(b'{"prompt":"q%d","completion":"%s"}\n' % (i, b"yes" if i % 3 else b"no"))
    size = source.stat().st_size
    tracemalloc.start()
    try:
        split(tmp_path, source, validation_fraction=0.1, seed=1, stratify=stratify)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines_of(tmp_path / "out.validation.jsonl")[0].startswith(b'{"prompt":"q')
    # Holding the file, or one Python int per line, would be megabytes; streaming is kilobytes.
    assert size > 1_000_000
    assert peak < size / min_ratio, f"peak {peak} bytes for a {size}-byte file"
