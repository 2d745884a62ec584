"""Prompt-prefix augmentation: originals kept, variants deterministic, limits enforced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lambda_handlers.datatools import augment as augment_module
from lambda_handlers.datatools.augment import DEFAULT_PREFIXES, MAX_FACTOR, augment_jsonl


def source_file(tmp_path: Path, lines: list[bytes]) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_bytes(b"".join(lines))
    return path


def prompt_records(n: int) -> list[bytes]:
    return [
        json.dumps({"prompt": f"What is {i}?", "completion": f"It is {i}.", "id": i}).encode()
        + b"\n"
        for i in range(n)
    ]


def test_each_original_is_kept_and_followed_by_its_variants(tmp_path: Path) -> None:
    originals = prompt_records(5)
    out = tmp_path / "out.jsonl"
    report = augment_jsonl(source_file(tmp_path, originals), out, factor=3, seed=0)
    lines = out.read_bytes().splitlines(keepends=True)
    assert len(lines) == 15 == report.lines_written
    for index, original in enumerate(originals):
        block = lines[index * 3 : index * 3 + 3]
        assert block[0] == original  # byte for byte, first
        record = json.loads(original)
        prefixes = []
        for variant_line in block[1:]:
            variant = json.loads(variant_line)
            assert variant["completion"] == record["completion"]
            assert variant["id"] == record["id"]
            prefix, _, rest = variant["prompt"].partition(record["prompt"])
            assert rest == ""
            assert prefix in DEFAULT_PREFIXES
            prefixes.append(prefix)
        assert len(set(prefixes)) == 2, "variants of one record use distinct prefixes"
    assert (report.augmented, report.variants, report.records) == (5, 10, 5)


def test_same_seed_same_bytes_and_another_seed_other_bytes(tmp_path: Path) -> None:
    source = source_file(tmp_path, prompt_records(50))
    outputs = []
    for name, seed in [("a", 4), ("b", 4), ("c", 5)]:
        out = tmp_path / f"{name}.jsonl"
        augment_jsonl(source, out, factor=4, seed=seed)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0] != outputs[2]


@pytest.mark.parametrize("factor", [0, -1, MAX_FACTOR + 1, True, 2.0, "3"])
def test_factor_outside_one_to_twenty_is_refused(tmp_path: Path, factor: object) -> None:
    source = source_file(tmp_path, prompt_records(3))
    out = tmp_path / "out.jsonl"
    with pytest.raises(ValueError, match=f"factor must be an integer from 1 to {MAX_FACTOR}"):
        augment_jsonl(source, out, factor=factor)  # type: ignore[arg-type]
    assert not out.exists()


@pytest.mark.parametrize("factor", [1, MAX_FACTOR])
def test_factor_bounds_are_accepted(tmp_path: Path, factor: int) -> None:
    originals = prompt_records(3)
    out = tmp_path / "out.jsonl"
    report = augment_jsonl(source_file(tmp_path, originals), out, factor=factor)
    lines = out.read_bytes().splitlines(keepends=True)
    assert len(lines) == 3 * factor
    assert lines[::factor] == originals
    assert report.variants == 3 * (factor - 1)
    assert len(set(lines)) == len(lines), "no exact duplicates, even at the maximum factor"


def test_records_without_a_string_prompt_are_copied_unchanged_and_counted(
    tmp_path: Path,
) -> None:
    lines = [
        b'{"input": "continued pre-training text"}\n',
        b'{"prompt": 42, "completion": "x"}\n',
        b"not json at all\n",
        b"\n",
        b'{"prompt": "Hi", "completion": "Hello"}\n',
    ]
    out = tmp_path / "out.jsonl"
    report = augment_jsonl(source_file(tmp_path, lines), out, factor=2, seed=0)
    written = out.read_bytes().splitlines(keepends=True)
    assert written[:3] == lines[:3]
    assert written[3] == lines[4]
    assert json.loads(written[4])["prompt"].endswith("Hi")
    assert len(written) == 5
    assert (report.without_prompt, report.unparsed, report.skipped_blank) == (2, 1, 1)
    assert (report.augmented, report.records) == (1, 4)


def test_a_last_line_without_newline_does_not_swallow_its_variant(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    augment_jsonl(source_file(tmp_path, [b'{"prompt": "p", "completion": "c"}']), out, factor=2)
    lines = out.read_bytes().splitlines()
    assert lines[0] == b'{"prompt": "p", "completion": "c"}'
    assert json.loads(lines[1])["completion"] == "c"


def test_non_ascii_text_is_written_as_utf8(tmp_path: Path) -> None:
    line = json.dumps({"prompt": "Ça va ?", "completion": "Oui"}, ensure_ascii=False).encode()
    out = tmp_path / "out.jsonl"
    augment_jsonl(source_file(tmp_path, [line + b"\n"]), out, factor=2)
    variant = out.read_bytes().splitlines()[1]
    assert "Ça va ?".encode() in variant


@pytest.mark.parametrize(
    ("prefixes", "message"),
    [
        ("Question: ", "not a single string"),
        (["Q: ", "  "], "non-blank string"),
        (["Q: ", "Q: "], "must be distinct"),
        (["Q: "], "needs 2 distinct prefixes"),
    ],
)
def test_unusable_prefixes_are_refused(tmp_path: Path, prefixes: object, message: str) -> None:
    source = source_file(tmp_path, prompt_records(2))
    with pytest.raises(ValueError, match=message):
        augment_jsonl(source, tmp_path / "out.jsonl", factor=3, prefixes=prefixes)  # type: ignore[arg-type]


def test_custom_prefixes_are_used(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    augment_jsonl(source_file(tmp_path, prompt_records(1)), out, factor=2, prefixes=["Frage: "])
    assert json.loads(out.read_bytes().splitlines()[1])["prompt"] == "Frage: What is 0?"


def test_out_may_not_be_the_source(tmp_path: Path) -> None:
    source = source_file(tmp_path, prompt_records(2))
    with pytest.raises(ValueError, match="same file as the source"):
        augment_jsonl(source, source, factor=2)
    assert source.read_bytes() == b"".join(prompt_records(2))


def test_the_docstring_is_honest_about_the_technique() -> None:
    doc = (augment_module.__doc__ or "").lower()
    for warning in ("naive", "overfit", "near-identical", "deduplicate"):
        assert warning in doc
