"""Shards merge into the report of one pass: verdict, counts, examples, statistics, duplicates
and leakage across shards, whatever the cuts; ``validate --workers`` gives the same output."""

from __future__ import annotations

import gzip
import json
import os
import random
from itertools import pairwise
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from lambda_handlers.validation import shards as shards_module
from lambda_handlers.validation.engine import validate_dataset
from lambda_handlers.validation.rules import DatasetRules, rules_for
from lambda_handlers.validation.shards import (
    PARALLEL_MIN_BYTES,
    Shard,
    ShardReport,
    bytes_blob,
    cut,
    line_start,
    merge,
    validate_shard,
    workers_for,
)
from lambda_handlers.validation.sources import BLOCK_BYTES, bytes_source, open_source
from tests.cli.helpers import run
from tests.factories import conversation_records, jsonl

TITAN = "amazon.titan-text-express-v1:0:8k"
NOVA = "amazon.nova-lite-v1:0:300k"
FT = "FINE_TUNING"
STRICT = DatasetRules(
    format="prompt-completion",
    min_records=3,
    max_records=10_000,
    max_tokens_per_record=40,
    max_chars_per_record=150,
)


def single(
    data: bytes,
    validations: tuple[bytes, ...] = (),
    *,
    rules: DatasetRules = STRICT,
    base_model: str = TITAN,
    max_examples: int = 5,
    block_bytes: int = BLOCK_BYTES,
) -> dict[str, Any]:
    """The report of one pass over the files."""
    return validate_dataset(
        bytes_source("train.jsonl", data, block_bytes),
        [bytes_source(f"val{i}.jsonl", v, block_bytes) for i, v in enumerate(validations)],
        customization_type=FT,
        base_model=base_model,
        max_examples=max_examples,
        rules=rules,
        near_duplicates=True,
    )


def shard_reports(
    name: str, data: bytes, cuts: list[int], role: str, **options: Any
) -> list[ShardReport]:
    """The reports of ``data`` cut at ``cuts`` (byte offsets, anywhere), in reverse order:
    the merge must not depend on the order reports arrive in."""
    bounds = [0, *sorted(cuts), len(data)]
    blob = bytes_blob(name, data)
    reports = [
        validate_shard(blob, Shard(a, b), role=role, near_duplicates=True, **options)
        for a, b in pairwise(bounds)
    ]
    return reports[::-1]


def sharded(
    data: bytes,
    cuts: list[int],
    validations: tuple[tuple[bytes, list[int]], ...] = (),
    *,
    rules: DatasetRules = STRICT,
    base_model: str = TITAN,
    max_examples: int = 5,
    block_bytes: int = BLOCK_BYTES,
) -> dict[str, Any]:
    """The merged report of the files cut at the given offsets."""
    options = {"rules": rules, "max_examples": max_examples, "block_bytes": block_bytes}
    roles = ["validation"] if len(validations) == 1 else [f"validation[{i}]" for i in range(9)]
    return merge(
        shard_reports("train.jsonl", data, cuts, "training", **options),
        [
            shard_reports(f"val{i}.jsonl", v, v_cuts, roles[i], **options)
            for i, (v, v_cuts) in enumerate(validations)
        ],
        customization_type=FT,
        base_model=base_model,
        max_examples=max_examples,
        rules=rules,
    )


def record(i: int, prompt: str = "Classify: the parcel came late", label: str = "late") -> bytes:
    return json.dumps({"prompt": f"{prompt} #{i}", "completion": label}).encode()


def lines_of(*lines: bytes) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def offset_of_line(data: bytes, line: int) -> int:
    """The byte offset where 1-based ``line`` starts."""
    return 0 if line == 1 else [i for i, b in enumerate(data) if b == 10][line - 2] + 1


# --- targeted cases ----------------------------------------------------------------------------


def test_errors_in_several_shards_keep_the_first_examples_in_file_order() -> None:
    lines = [record(i) for i in range(60)]
    for bad in (5, 25, 26, 44, 58):  # errors in every shard: not JSON, missing field, too long
        lines[bad] = b'{"prompt": "no completion"}' if bad % 2 else b"{not json"
    lines[30] = record(30, prompt="word " * 80)
    data = lines_of(*lines)
    cuts = [offset_of_line(data, n) for n in (20, 40)]
    expected = single(data, max_examples=2)
    merged = sharded(data, cuts, max_examples=2)
    assert merged == expected
    assert merged["verdict"] == "invalid"
    assert merged["errors"] == {
        "missing-field": 2,
        "not-json": 3,
        "record-too-long": 1,
        "record-too-many-chars": 1,
    }
    assert [e["line"] for e in merged["examples"]["missing-field"]] == [6, 26]
    assert [e["line"] for e in merged["examples"]["not-json"]] == [27, 45]  # not 59: cap of 2


def test_duplicates_across_shard_borders_point_at_the_first_line() -> None:
    lines = [record(i) for i in range(30)]
    lines[12] = lines[3]  # exact repeat, next shard
    lines[25] = lines[3]  # and the one after
    lines[27] = record(7).upper()  # near repeat of line 8 (case), keys uppercased too
    lines[28] = record(8).replace(b"#8", b"#  8")  # near repeat of line 9 (spacing)
    data = lines_of(*lines)
    cuts = [offset_of_line(data, 10), offset_of_line(data, 20)]
    merged = sharded(data, cuts)
    assert merged == single(data)
    dupes = merged["examples"]["duplicate-record"]
    assert [(e["line"], e["message"]) for e in dupes] == [
        (13, "same record as line 4"),
        (26, "same record as line 4"),
    ]
    near = merged["examples"]["near-duplicate-record"]
    assert [e["line"] for e in near] == [29]
    assert "line 9" in near[0]["message"]


def test_a_record_straddling_a_cut_belongs_to_the_shard_where_it_starts() -> None:
    data = lines_of(record(0), b'{"prompt": "broken", ', record(2))
    middle = offset_of_line(data, 2) + 5  # inside line 2
    blob = bytes_blob("train.jsonl", data)
    assert line_start(blob, middle) == offset_of_line(data, 3)
    first = validate_shard(blob, Shard(0, middle), role="training", rules=STRICT)
    second = validate_shard(blob, Shard(middle, len(data)), role="training", rules=STRICT)
    assert (first.records, first.line_count, second.records) == (2, 2, 1)
    assert first.counts == {"not-json": 1} and second.counts == {}
    merged = sharded(data, [middle])
    assert merged == single(data)
    assert merged["examples"]["not-json"][0]["line"] == 2


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("blank lines at the cuts", lines_of(record(0), b"", b"", record(1), b"  ", record(2))),
        ("no final newline", lines_of(record(0), record(1)) + record(2)),
        ("no final newline, bad", lines_of(record(0), record(1)) + b'{"prompt": 1'),
        ("CRLF", b"".join(record(i) + b"\r\n" for i in range(5)) + b"\r\n"),
        ("only newlines", b"\n\n\n"),
        ("empty", b""),
        ("byte-order mark", b"\xef\xbb\xbf" + lines_of(record(0), record(1), record(2))),
        ("gzip", gzip.compress(lines_of(*(record(i) for i in range(40))))),
        ("UTF-16", lines_of(record(0), record(1)).decode().encode("utf-16-le")),
        ("UTF-16 behind tiny lines", b"\n\x00\n\x00" + lines_of(record(1))),
    ],
)
def test_every_cut_of_an_odd_file_merges_into_the_single_pass(name: str, data: bytes) -> None:
    expected = single(data)
    for at in range(len(data) + 1):
        assert sharded(data, [at]) == expected, (name, at)
    assert sharded(data, list(range(len(data)))) == expected, name  # a shard per byte


def test_more_shards_than_lines() -> None:
    data = lines_of(record(0), record(1), b"{", record(0))
    shards = cut(len(data), len(data) * 3)
    assert len(shards) > 3 * data.count(b"\n")
    blob = bytes_blob("train.jsonl", data)
    reports = [validate_shard(blob, s, role="training", rules=STRICT) for s in shards]
    assert sum(1 for r in reports if r.end > r.start) == 4
    merged = merge(reports, customization_type=FT, base_model=TITAN, rules=STRICT)
    assert merged == single(data)
    assert [e["line"] for e in merged["examples"]["duplicate-record"]] == [4]


def test_leakage_and_several_validation_files_across_shards() -> None:
    train = lines_of(*(record(i) for i in range(40)))
    val0 = lines_of(record(100), record(5), record(101), record(33))
    val1 = lines_of(record(39), b"[1]", record(200), record(200))
    cuts = [offset_of_line(train, 6), offset_of_line(train, 34)]
    merged = sharded(train, cuts, ((val0, [offset_of_line(val0, 3)]), (val1, [3, 40])))
    assert merged == single(train, (val0, val1))
    assert [(e["file"], e["line"]) for e in merged["examples"]["leakage"]] == [
        ("validation[0]", 2),
        ("validation[0]", 4),
        ("validation[1]", 1),
    ]


def test_labels_are_merged_in_first_seen_order_and_dropped_past_fifty() -> None:
    labels = ["late"] * 30 + ["lost"] * 5 + ["damaged"] * 4
    data = lines_of(*(record(i, label=label) for i, label in enumerate(labels)))
    merged = sharded(data, [offset_of_line(data, 31), offset_of_line(data, 36)])
    assert merged == single(data)
    assert list(merged["labels"]) == ["late", "lost", "damaged"]
    assert "label-imbalance" in merged["warnings"]
    free_text = lines_of(*(record(i, label=f"label {i % 60}") for i in range(120)))
    merged = sharded(free_text, [offset_of_line(free_text, 40), offset_of_line(free_text, 80)])
    assert merged["labels"] is None
    assert merged == single(free_text)


def test_conversation_records_merge_through_the_careful_path() -> None:
    records: list[Any] = conversation_records(30)
    records[4]["messages"][0]["role"] = "assistant"
    records[17] = records[2]
    records[22]["messages"].append({"role": "user", "content": [{"text": "Bot: hi"}]})
    data = jsonl(records)
    rules = rules_for(NOVA, FT)
    cuts = [offset_of_line(data, 10) + 7, offset_of_line(data, 20)]
    merged = sharded(data, cuts, rules=rules, base_model=NOVA)
    assert merged == single(data, rules=rules, base_model=NOVA)
    assert merged["verdict"] == "invalid" and len(merged["errors"]) >= 2


def test_merge_refuses_reports_it_cannot_put_together() -> None:
    data = lines_of(*(record(i) for i in range(10)))
    middle = offset_of_line(data, 5)
    first, second = shard_reports("train.jsonl", data, [middle], "training", rules=STRICT)[::-1]
    with pytest.raises(ValueError, match="do not cover it once"):
        merge([first, first, second], customization_type=FT, base_model=TITAN, rules=STRICT)
    with pytest.raises(ValueError, match="end at byte"):
        merge([first], customization_type=FT, base_model=TITAN, rules=STRICT)
    second.digest_space += 1
    with pytest.raises(ValueError, match="different hash seeds"):
        merge([first, second], customization_type=FT, base_model=TITAN, rules=STRICT)


def test_a_shard_numbered_from_its_real_first_line_is_not_moved_again() -> None:
    data = lines_of(record(0), record(1), b"{", record(3), b"{")
    start = offset_of_line(data, 3)
    blob = bytes_blob("train.jsonl", data)
    head = validate_shard(blob, Shard(0, start), role="training", rules=STRICT)
    tail = validate_shard(
        blob, Shard(start, len(data)), role="training", rules=STRICT, first_line=3
    )
    assert [e["line"] for e in tail.examples["not-json"]] == [3, 5]
    merged = merge([head, tail], customization_type=FT, base_model=TITAN, rules=STRICT)
    assert merged == single(data)


# --- properties over random cuts of realistic data ---------------------------------------


def realistic(seed: int, crlf: bool, final_newline: bool) -> bytes:
    """Prompt/completion lines as exports look: extra fields, either key order, accented and
    CJK text, blank lines, exact and near duplicates, and a few broken records."""
    rng = random.Random(seed)
    texts = ["the parcel came late", "Le colis est arrivé en retard", "荷物が遅れて届いた", "ok"]
    lines: list[bytes] = []
    for i in range(rng.randint(1, 120)):
        roll = rng.random()
        if roll < 0.05:
            lines.append(rng.choice([b"", b"   "]))
        elif roll < 0.12 and lines:
            lines.append(rng.choice(lines))
        elif roll < 0.16 and lines:
            lines.append(rng.choice(lines).upper())
        elif roll < 0.2:
            lines.append(rng.choice([b"{", b'{"prompt": ""}', b'{"prompt": "x", "completion": 3}']))
        else:
            fields: dict[str, Any] = {
                "prompt": f"{rng.choice(texts)} {rng.randint(0, 40)}" * rng.randint(1, 6),
                "completion": rng.choice(["late", "lost", "fine", "très bien"]),
            }
            if rng.random() < 0.2:
                fields["id"] = i
            items = list(fields.items())
            rng.shuffle(items)
            lines.append(json.dumps(dict(items), ensure_ascii=rng.random() < 0.5).encode())
    end = b"\r\n" if crlf else b"\n"
    data = end.join(lines)
    return data + end if final_newline else data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    fractions=st.lists(st.floats(0, 1), max_size=10),
    crlf=st.booleans(),
    final_newline=st.booleans(),
    small_blocks=st.booleans(),
)
def test_random_cuts_of_realistic_data_merge_into_the_single_pass(
    seed: int, fractions: list[float], crlf: bool, final_newline: bool, small_blocks: bool
) -> None:
    data = realistic(seed, crlf, final_newline)
    validation = realistic(seed + 1, crlf, final_newline) + data[: len(data) // 3]
    cuts = [int(f * len(data)) for f in fractions]
    # Small blocks: a shard's blocks differ from the whole pass's, so the fast and careful
    # paths meet different mixes of lines.
    block_bytes = 700 if small_blocks else BLOCK_BYTES
    for rules, max_examples in ((STRICT, 3), (rules_for(TITAN, FT), 0)):
        expected = single(
            data, (validation,), rules=rules, max_examples=max_examples, block_bytes=block_bytes
        )
        merged = sharded(
            data,
            cuts,
            ((validation, cuts[::2]),),
            rules=rules,
            max_examples=max_examples,
            block_bytes=block_bytes,
        )
        assert merged == expected


# --- on every core -----------------------------------------------------------------------


def test_workers_default_to_the_allowed_cores_for_large_inputs_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        shards_module.os, "sched_getaffinity", lambda _pid: {0, 3, 5}, raising=False
    )
    assert workers_for(PARALLEL_MIN_BYTES, None) == 3
    assert workers_for(PARALLEL_MIN_BYTES - 1, None) == 1
    assert workers_for(10, 4) == 4
    assert workers_for(PARALLEL_MIN_BYTES, 1) == 1
    with pytest.raises(ValueError, match="1 or more"):
        workers_for(10, 0)
    monkeypatch.setattr(shards_module, "processes_available", lambda: False)
    assert workers_for(PARALLEL_MIN_BYTES, None) == 1  # no semaphores (Lambda): one process


def test_shard_counts_give_every_worker_more_than_one_shard() -> None:
    assert shards_module.shard_count(1000, 8) == 1
    assert shards_module.shard_count(1 << 30, 8) == 8 * shards_module.SHARDS_PER_WORKER
    assert [(s.start, s.end) for s in cut(10, 3)] == [(0, 3), (3, 6), (6, 10)]


def test_validate_with_workers_prints_what_one_process_prints(tmp_path: Path) -> None:
    """One real multi-process run: three workers, shards read by the workers themselves."""
    rng = random.Random(3)
    train = tmp_path / "train.jsonl"
    lines = [realistic(seed, False, True) for seed in range(40)]
    train.write_bytes(b"".join(lines))
    validation = tmp_path / "validation.jsonl"
    validation.write_bytes(realistic(99, True, False) + b"\r\n" + rng.choice(lines))
    argv = ("validate", str(train), "--validation", str(validation), "--type", FT)
    argv += ("--base-model", TITAN, "--json", "--max-examples", "4")
    code_one, out_one, err_one = run(*argv, "--workers", "1")
    code_many, out_many, err_many = run(*argv, "--workers", "3")
    report = json.loads(out_one)
    assert report["errors"] and report["warnings"].get("duplicate-record")
    assert report["warnings"].get("leakage")
    assert (code_many, out_many, err_many) == (code_one, out_one, err_one)
    human = [run(*argv[:-3], "--workers", n)[1] for n in ("1", "2")]
    assert human[0] == human[1]


def test_workers_must_be_positive(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(lines_of(record(0)))
    code, _, err = run("validate", str(path), "--type", FT, "--base-model", TITAN, "--workers", "0")
    assert code == 2
    assert "--workers must be 1 or more, got 0" in err


def test_line_numbers_past_two_to_the_sixteen_survive_the_move() -> None:
    data = lines_of(*([b"{}"] * 3))
    blob = bytes_blob("train.jsonl", data)
    head = validate_shard(blob, Shard(0, 3), role="training", rules=STRICT)
    tail = validate_shard(blob, Shard(3, len(data)), role="training", rules=STRICT)
    head.line_count = 70_000  # as if the first shard had held 70,000 lines
    tail.lines = np.array([1, 2], np.uint32)
    tail.fingerprints = np.array([7, 7], np.int64)
    tail.near = np.array([1, 2], np.int64)
    merged = merge([head, tail], customization_type=FT, base_model=TITAN, rules=STRICT)
    assert merged["examples"]["duplicate-record"][0]["line"] == 70_002


def test_no_examples_kept_still_counts_repeats_and_overlong_records() -> None:
    """``--max-examples 0``: the findings counted past the examples kept (duplicates,
    leakage, records over a limit) are counted from zero, in one pass and merged."""
    data = lines_of(record(0), record(0), record(1, prompt="word " * 80), record(0))
    merged = sharded(data, [offset_of_line(data, 3)], ((data, [5]),), max_examples=0)
    assert merged == single(data, (data,), max_examples=0)
    assert merged["warnings"] == {"duplicate-record": 4, "leakage": 4}
    assert merged["errors"] == {"record-too-long": 2, "record-too-many-chars": 2}
    assert all(examples == [] for examples in merged["examples"].values())


def test_spawned_workers_share_one_hash_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where there is no forkserver (Windows), spawned workers are given one PYTHONHASHSEED:
    their digests compare, and this process's environment is left as it was."""
    monkeypatch.setattr(shards_module.multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    data = realistic(5, False, True) * 3
    path = tmp_path / "train.jsonl"
    path.write_bytes(data)
    report = shards_module.validate_in_parallel(
        str(path),
        customization_type=FT,
        base_model=TITAN,
        workers=2,
        shards=5,
        rules=STRICT,
        near_duplicates=True,
    )
    assert report["warnings"]["duplicate-record"] > 0
    assert report == single(data) | {"files": report["files"]}
    assert report["files"]["training"] == single(data)["files"]["training"] | {"name": str(path)}
    assert "PYTHONHASHSEED" not in shards_module.os.environ
    with shards_module._pool(2) as pool:
        seeds = {pool.apply(os.getenv, ("PYTHONHASHSEED",)) for _ in range(4)}
    assert len(seeds) == 1 and None not in seeds  # every worker: one seed
    assert "PYTHONHASHSEED" not in os.environ


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), fractions=st.lists(st.floats(0, 1), max_size=5))
def test_shard_reports_written_as_bytes_merge_as_they_were(
    seed: int, fractions: list[float]
) -> None:
    """What a shard run elsewhere (another function) writes and the merge reads back: numbers
    and JSON only, the labels in the order first seen."""
    data = realistic(seed, False, True)
    cuts = [int(f * len(data)) for f in fractions]
    reports = shard_reports("train.jsonl", data, cuts, "training", rules=STRICT)
    read_back = [ShardReport.from_bytes(r.to_bytes()) for r in reports]
    for before, after in zip(reports, read_back, strict=True):
        assert after.labels == before.labels and list(after.labels or ()) == list(
            before.labels or ()
        )
        assert after.lines.dtype == np.uint32 and after.fingerprints.dtype == np.int64
    merged = merge(read_back, customization_type=FT, base_model=TITAN, rules=STRICT)
    assert merged == single(data)


def test_shards_of_an_s3_object_read_with_ranged_gets_merge_into_the_single_pass() -> None:
    """The cloud's shards: each reads its byte range of the object (and probes for the line
    ends at its cuts) with ranged GETs; the merge equals the engine's pass over the object."""
    data = realistic(11, True, False) * 4
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="datasets")
        s3.put_object(Bucket="datasets", Key="train.jsonl", Body=data)
        uri = "s3://datasets/train.jsonl"
        blob = shards_module.s3_blob(uri, s3)
        reports = [
            validate_shard(blob, shard, role="training", rules=STRICT, near_duplicates=True)
            for shard in cut(blob.size, 7)
        ]
        one_pass = validate_dataset(
            open_source(uri, s3),
            customization_type=FT,
            base_model=TITAN,
            rules=STRICT,
            near_duplicates=True,
        )
    assert sum(r.end > r.start for r in reports) == 7
    assert merge(reports, customization_type=FT, base_model=TITAN, rules=STRICT) == one_pass
    assert one_pass["errors"] and one_pass["warnings"]["duplicate-record"]
