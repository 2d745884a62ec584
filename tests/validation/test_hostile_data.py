"""Data that is hostile to a JSON reader: nesting too deep, a key given twice, an empty file,
a byte-order mark, gzip and UTF-16, near-duplicates. Each is a finding on its line and the
rest of the file is still checked, on the fast path (prompt/completion) and the careful one."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from lambda_handlers.validation.engine import validate_dataset
from lambda_handlers.validation.rules import DatasetRules, formats
from lambda_handlers.validation.sources import bytes_source
from tests.validation.test_checks import GOOD, codes

PC = "prompt-completion"


def pc(i: int) -> bytes:
    return json.dumps({"prompt": f"question number {i}", "completion": f"answer {i}"}).encode()


def check(
    data: bytes, fmt: str = PC, *, near: bool = False, block_bytes: int = 1 << 20
) -> dict[str, Any]:
    return validate_dataset(
        bytes_source("train.jsonl", data, block_bytes=block_bytes),
        customization_type="FINE_TUNING",
        base_model="test-model",
        rules=DatasetRules(format=fmt, unknown_fields=formats()[fmt]["unknownFields"]),
        near_duplicates=near,
    )


def lines(*items: bytes) -> bytes:
    return b"".join(item + b"\n" for item in items)


def first(report: dict[str, Any], code: str) -> dict[str, Any]:
    return report["examples"][code][0]


# --- nesting -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [PC, "bedrock-conversation"])
def test_a_record_nested_too_deeply_is_a_finding_on_its_line_and_the_rest_is_checked(
    fmt: str,
) -> None:
    good = json.dumps(GOOD[fmt]).encode()
    deep = b'{"prompt": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    bad_later = b'{"prompt": 1, "completion": "x"}' if fmt == PC else b"[]"
    report = check(lines(good, deep, good + b" ", bad_later), fmt)
    assert first(report, "too-deeply-nested")["line"] == 2
    assert report["files"]["training"]["records"] == 4
    assert report["files"]["training"]["usableRecords"] == 2, "lines 1 and 3 are still read"
    later = "wrong-type" if fmt == PC else "not-object"
    assert first(report, later)["line"] == 4, "the line after the deep one is still checked"


# --- a key given twice -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        b'{"prompt": "a", "prompt": "b", "completion": "c"}',
        b'{"prompt":"a","completion":"b","completion":"c"}',
        b'{"completion": "c", "prompt": "x: y", "prompt": "b"}',
    ],
)
def test_a_key_given_twice_is_an_error_on_its_line(line: bytes) -> None:
    report = check(lines(pc(1), pc(2), line, pc(3)))
    assert report["verdict"] == "invalid"
    example = first(report, "duplicate-key")
    assert example["line"] == 3
    assert "appears twice" in example["message"]
    assert report["files"]["training"]["usableRecords"] == 3


def test_a_key_given_twice_deep_in_a_conversation_is_found() -> None:
    record = json.dumps(GOOD["bedrock-conversation"])
    twice = record.replace('"role": "user"', '"role": "user", "role": "user"', 1)
    report = check(lines(record.encode(), twice.encode()), "bedrock-conversation")
    assert first(report, "duplicate-key")["line"] == 2
    assert "'role'" in first(report, "duplicate-key")["message"]


def test_colons_inside_text_are_not_a_key_given_twice() -> None:
    text = {"prompt": "time: 10:30, ratio 1:2", "completion": "note: fine"}
    report = check(lines(json.dumps(text).encode(), pc(1)))
    assert "duplicate-key" not in codes(report)


def test_long_escaped_text_on_the_fast_path_is_not_a_key_given_twice() -> None:
    # Many escapes: the line has spare bytes enough to hide a repeat, so it is looked at.
    text = {"prompt": 'say "prompt" and \n' * 20, "completion": "ok"}
    report = check(lines(json.dumps(text).encode(), pc(1)))
    assert report["verdict"] == "valid", report["errors"]


# --- empty files -------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"\n", b"  \n\n\t\n"], ids=["empty", "newline", "blank"])
@pytest.mark.parametrize("fmt", sorted(GOOD))
def test_an_empty_or_blank_training_file_is_invalid_for_every_format(data: bytes, fmt: str) -> None:
    report = check(data, fmt)
    assert report["verdict"] == "invalid"
    assert "empty-file" in report["errors"]


# --- encodings ---------------------------------------------------------------------------------


def test_a_byte_order_mark_is_named_and_the_rest_is_checked() -> None:
    report = check(b"\xef\xbb\xbf" + lines(pc(1), b"nope", pc(2)))
    assert "byte-order mark" in first(report, "file-encoding")["message"]
    assert report["files"]["training"]["usableRecords"] == 2, "line 1 is read without the mark"
    assert first(report, "not-json")["line"] == 2


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (gzip.compress(lines(pc(1), pc(2))), "gzip"),
        (lines(pc(1), pc(2)).decode().encode("utf-16"), "UTF-16"),
        (lines(pc(1), pc(2)).decode().encode("utf-16-le"), "UTF-16"),
        (lines(pc(1), pc(2)).decode().encode("utf-16-be"), "UTF-16"),
        (lines(pc(1), pc(2)).decode().encode("utf-32"), "UTF-32"),
    ],
    ids=["gzip", "utf-16-bom", "utf-16-le", "utf-16-be", "utf-32"],
)
def test_gzip_and_utf16_are_named_once_not_line_by_line(data: bytes, named: str) -> None:
    report = check(data)
    assert report["errors"] == {"file-encoding": 1}
    assert named in first(report, "file-encoding")["message"]


# --- text a JSON reader takes but Bedrock cannot -----------------------------------------------


def test_a_lone_surrogate_and_a_number_out_of_range_are_named() -> None:
    report = check(
        lines(pc(1), b'{"prompt": "a\\ud800", "completion": "b"}', b'{"prompt": "a", "x": 1e400}')
    )
    messages = [example["message"] for example in report["examples"]["not-json"]]
    assert "lone surrogate" in messages[0]
    assert "out of range" in messages[1]


# --- near-duplicates ---------------------------------------------------------------------------


@pytest.mark.parametrize("block_bytes", [1 << 20, 64], ids=["fast-path", "small-blocks"])
def test_near_duplicates_are_a_warning_naming_the_earlier_line(block_bytes: int) -> None:
    near = json.dumps({"prompt": "Question   NUMBER 1!", "completion": "answer, 1."}).encode()
    report = check(lines(pc(1), pc(2), near, pc(1)), near=True, block_bytes=block_bytes)
    assert report["verdict"] == "valid"
    assert report["warnings"] == {"near-duplicate-record": 1, "duplicate-record": 1}
    assert first(report, "near-duplicate-record")["line"] == 3
    assert "line 1" in first(report, "near-duplicate-record")["message"]


def test_escaped_whitespace_counts_as_whitespace() -> None:
    one = json.dumps({"prompt": "two\nlines", "completion": "x"}).encode()
    two = json.dumps({"prompt": "two lines", "completion": "X"}).encode()
    assert "near-duplicate-record" in check(lines(one, two), near=True)["warnings"]


def test_near_duplicates_in_a_conversation_format() -> None:
    record = GOOD["bedrock-conversation"]
    louder = json.loads(json.dumps(record).replace('"hello"', '"Hello!"'))
    report = check(
        lines(json.dumps(record).encode(), json.dumps(louder).encode()),
        "bedrock-conversation",
        near=True,
    )
    assert report["warnings"] == {"near-duplicate-record": 1}


def test_different_records_are_not_near_duplicates_and_the_check_is_asked_for() -> None:
    data = lines(pc(1), pc(2), pc(12))
    assert check(data, near=True)["warnings"] == {}
    near = json.dumps({"prompt": "QUESTION number 1", "completion": "answer 1"}).encode()
    assert check(lines(pc(1), near))["warnings"] == {}, "not looked for unless asked"
