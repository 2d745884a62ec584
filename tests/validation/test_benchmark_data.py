"""The benchmark's generators write what they claim, and benchmarks/compare.py runs (no timing
is asserted: speed is for the benchmark to print, not for a test to judge)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from generators import (  # noqa: E402
    clean_prompt_completion,
    nova_conversations,
    realistic_prompt_completion,
)

from lambda_handlers.validation import open_source, validate_dataset  # noqa: E402

SIZE = 400_000
REALISTIC_SIZE = 2_000_000  # enough lines for a few blank lines and duplicates


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def test_clean_data_is_ascii_prompt_then_completion(tmp_path: Path) -> None:
    path = tmp_path / "clean.jsonl"
    written = clean_prompt_completion(path, SIZE)
    lines = _lines(path)
    assert len(lines) == written.records and path.stat().st_size == written.bytes >= SIZE
    assert all(line.isascii() and line.startswith('{"prompt": ') for line in lines)
    assert {tuple(json.loads(line)) for line in lines} == {("prompt", "completion")}


def test_realistic_data_has_what_real_exports_have(tmp_path: Path) -> None:
    path = tmp_path / "realistic.jsonl"
    written = realistic_prompt_completion(path, REALISTIC_SIZE)
    lines = _lines(path)
    records = [json.loads(line) for line in lines if line]
    blank = lines.count("")
    repeats = sum(n - 1 for n in Counter(line for line in lines if line).values())
    extra = Counter(key for r in records for key in r if key not in ("prompt", "completion"))
    orders = Counter(next(iter(r)) for r in records)
    text = path.read_text(encoding="utf-8")
    assert (len(records), blank, repeats) == (
        written.records,
        written.blank_lines,
        written.duplicates,
    )
    assert blank > 0 and repeats > 0
    assert dict(extra) == written.extra_fields and extra["id"] > 0 and extra["source"] > 0
    assert orders["completion"] == written.completion_first > 0 and orders["prompt"] > 0
    assert any("\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7a3" for ch in text), "CJK"
    assert "é" in text and "\\u00e9" in text, "accents written raw and escaped"


def test_realistic_data_is_valid_with_exactly_counted_warnings(tmp_path: Path) -> None:
    path = tmp_path / "realistic.jsonl"
    written = realistic_prompt_completion(path, REALISTIC_SIZE)
    report = validate_dataset(
        open_source(str(path)),
        None,
        customization_type="FINE_TUNING",
        base_model="amazon.titan-text-express-v1:0:8k",
    )
    assert report["verdict"] == "valid" and report["errors"] == {}
    assert report["warnings"] == {
        "unknown-field": sum(written.extra_fields.values()),
        "blank-line": written.blank_lines,
        "duplicate-record": written.duplicates,
    }


def test_nova_data_is_the_conversation_schema_nova_lite_accepts(tmp_path: Path) -> None:
    path = tmp_path / "nova.jsonl"
    written = nova_conversations(path, SIZE)
    records = [json.loads(line) for line in _lines(path)]
    assert 8 <= len(records) == written.records <= 20_000
    assert {r["schemaVersion"] for r in records} == {"bedrock-conversation-2024"}
    turns = [[m["role"] for m in r["messages"]] for r in records]
    assert any(len(t) > 2 for t in turns)
    assert all(t == ["user", "assistant"] * (len(t) // 2) for t in turns)
    assert written.images > 0 and written.cjk > 0
    report = validate_dataset(
        open_source(str(path)),
        None,
        customization_type="FINE_TUNING",
        base_model="amazon.nova-lite-v1:0:300k",
    )
    assert (report["verdict"], report["errors"], report["warnings"]) == ("valid", {}, {})


def _compare(tmp_path: Path, stand_in_source: str) -> subprocess.CompletedProcess[str]:
    stand_in = tmp_path / "nova_validator.py"
    stand_in.write_text(stand_in_source)
    command = [sys.executable, str(BENCHMARKS / "compare.py"), "--size-mb", "0.2"]
    return subprocess.run(
        [*command, "--repeat", "1", "--nova-validator", str(stand_in)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_comparison_runs_on_a_tiny_size(tmp_path: Path) -> None:
    # A stand-in that answers as AWS's validator does on success; the real one is not vendored.
    result = _compare(tmp_path, "print('Validation successful, all samples passed')\n")
    assert result.returncode == 0, result.stderr
    for kind in ("clean", "realistic", "nova"):
        assert f"\n{kind}: " in "\n" + result.stdout
    assert result.stdout.count("engine (bedrock-customize)") == 3
    assert result.stdout.count("speed-up") == 3 and "AWS Nova validator" in result.stdout
    # The floor (read and decode, no checks) ran on every file and decoded every record;
    # the targets are put against it.
    assert result.stdout.count("floor: read + decode, no checks") == 3
    assert result.stdout.count("beyond the floor for every check") == 2


def test_the_comparison_fails_when_the_verdicts_differ(tmp_path: Path) -> None:
    # A stand-in for AWS's validator that rejects what the engine accepts.
    result = _compare(tmp_path, "raise SystemExit('NovaClientError: Problematic samples: [0]')\n")
    assert result.returncode != 0
    assert "nova: AWS says invalid" in result.stderr and "engine valid" in result.stderr
