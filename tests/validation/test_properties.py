"""Property-based: whatever the bytes, the engine returns a report and points at real lines."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_handlers.validation.engine import validate_dataset
from lambda_handlers.validation.formats import CHECKERS
from lambda_handlers.validation.rules import DatasetRules, formats
from lambda_handlers.validation.sources import bytes_source

PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "prompt",
                    "completion",
                    "input",
                    "messages",
                    "role",
                    "content",
                    "text",
                    "system",
                    "schemaVersion",
                    "reference_answer",
                    "chosen",
                    "rejected",
                    "score",
                    "image",
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


def rules_for_format(fmt: str) -> DatasetRules:
    return DatasetRules(
        format=fmt,
        min_records=2,
        max_records=50,
        max_validation_records=5,
        max_tokens_per_record=10,
        max_chars_per_record=30,
        content_types=("text", "image"),
        reserved_keywords=("bot:",),
        reserved_ignore_case=True,
        media={"image": {"formats": ["png"], "maxPerRecord": 1}},
        unknown_fields=formats()[fmt]["unknownFields"],
    )


def assert_sound(report: dict[str, Any], data: bytes, validation: bytes | None = None) -> None:
    assert report["verdict"] in {"valid", "invalid"}
    assert (report["verdict"] == "invalid") == bool(report["errors"])
    json.dumps(report)  # JSON-ready
    lines = {"training": data.count(b"\n") + 1, "validation": (validation or b"").count(b"\n") + 1}
    for code, examples in report["examples"].items():
        assert code in report["errors"] or code in report["warnings"]
        for example in examples:
            if "line" in example:
                assert 1 <= example["line"] <= lines[example["file"]], (code, example)
            assert example["path"].startswith("$")
    for counts in (report["errors"], report["warnings"]):
        assert all(n > 0 for n in counts.values())


@PROPERTY_SETTINGS
@given(
    data=st.binary(max_size=400), fmt=st.sampled_from(sorted(CHECKERS)), block=st.integers(1, 64)
)
def test_arbitrary_bytes_never_break_the_engine(data: bytes, fmt: str, block: int) -> None:
    report = validate_dataset(
        bytes_source("t", data, block_bytes=block),
        customization_type="FINE_TUNING",
        base_model="m",
        rules=rules_for_format(fmt),
    )
    assert_sound(report, data)


@PROPERTY_SETTINGS
@given(
    records=st.lists(json_values, max_size=12),
    validation=st.lists(json_values, max_size=4),
    fmt=st.sampled_from(sorted(CHECKERS)),
)
def test_arbitrary_json_never_breaks_the_engine(
    records: list[Any], validation: list[Any], fmt: str
) -> None:
    data = b"\n".join(json.dumps(r).encode() for r in records)
    val = b"\n".join(json.dumps(r).encode() for r in validation)
    report = validate_dataset(
        bytes_source("t", data),
        bytes_source("v", val),
        customization_type="FINE_TUNING",
        base_model="m",
        rules=rules_for_format(fmt),
    )
    assert_sound(report, data, val)
    assert report["files"]["training"]["records"] == sum(
        1 for line in data.split(b"\n") if line.strip()
    )


@PROPERTY_SETTINGS
@given(
    records=st.lists(
        st.tuples(st.text(min_size=1, max_size=30), st.sampled_from(["A", "B", "C", "ü"])),
        min_size=1,
        max_size=40,
    ),
    block=st.integers(8, 300),
)
def test_block_size_never_changes_the_report(records: list[tuple[str, str]], block: int) -> None:
    data = b"".join(json.dumps({"prompt": p, "completion": c}).encode() + b"\n" for p, c in records)
    rules = rules_for_format("prompt-completion")

    def report(size: int) -> dict[str, Any]:
        return validate_dataset(
            bytes_source("t", data, block_bytes=size),
            customization_type="FINE_TUNING",
            base_model="m",
            rules=rules,
        )

    assert report(block) == report(1 << 20)
