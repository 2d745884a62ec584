"""Reading a held-out test set: every known format, skipped lines counted, streaming."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from lambda_handlers.evaluation.testset import (
    SKIP_REASONS,
    ReadStats,
    TestCase,
    read_test_cases,
    record_id,
)


def jsonl(*records: Any) -> list[bytes]:
    return [_line(r) + b"\n" for r in records]


def _line(record: Any) -> bytes:
    if isinstance(record, bytes):
        return record
    return (record if isinstance(record, str) else json.dumps(record)).encode()


def read(*records: Any) -> tuple[list[TestCase], ReadStats]:
    stats = ReadStats()
    return list(read_test_cases(jsonl(*records), stats)), stats


def test_prompt_completion_is_one_user_turn_and_its_reference() -> None:
    [case], stats = read({"prompt": "Sentiment: great!", "completion": "positive"})
    assert case == TestCase(
        id="L0000000001",
        system=[],
        messages=[{"role": "user", "content": [{"text": "Sentiment: great!"}]}],
        reference="positive",
        line=1,
    )
    assert (stats.lines, stats.used, stats.skipped_total) == (1, 1, 0)


def test_converse_form_takes_the_last_assistant_turn_as_reference() -> None:
    record = {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "Answer briefly."}],
        "messages": [
            {"role": "user", "content": [{"text": "Capital of France?"}]},
            {"role": "assistant", "content": [{"text": "Paris."}]},
            {"role": "user", "content": [{"text": "And of Italy?"}]},
            {"role": "assistant", "content": [{"text": "Rome"}, {"text": "."}]},
        ],
    }
    [case], _ = read(record)
    assert case.system == ["Answer briefly."]
    assert case.messages == record["messages"][:3]
    assert case.reference == "Rome."


def test_claude_plain_string_form() -> None:
    record = {
        "system": "You classify tickets.",
        "messages": [
            {"role": "user", "content": "My card was charged twice."},
            {"role": "assistant", "content": "billing"},
        ],
    }
    [case], _ = read(record)
    assert case.system == ["You classify tickets."]
    assert case.messages == [{"role": "user", "content": [{"text": "My card was charged twice."}]}]
    assert case.reference == "billing"


def test_ids_follow_line_numbers_blank_lines_included() -> None:
    lines = [*jsonl({"prompt": "a", "completion": "b"}), b"\n", b"  \r\n"]
    lines += jsonl({"prompt": "c", "completion": "d"})
    stats = ReadStats()
    cases = list(read_test_cases(lines, stats))
    assert [c.id for c in cases] == ["L0000000001", "L0000000004"]
    assert [c.line for c in cases] == [1, 4]
    assert (stats.lines, stats.blank, stats.used) == (4, 2, 2)


def test_record_ids_are_eleven_alphanumeric_characters() -> None:
    assert record_id(1) == "L0000000001"
    assert record_id(9_999_999_999) == "L9999999999"
    assert all(len(record_id(n)) == 11 and record_id(n).isalnum() for n in (1, 42, 10**9))
    with pytest.raises(ValueError):
        record_id(0)


def test_extra_fields_are_ignored() -> None:
    [case], _ = read({"prompt": "p", "completion": "c", "id": "x-1", "topic": "billing"})
    assert case.reference == "c"


def test_blank_text_blocks_are_dropped_not_sent() -> None:
    record = {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "  "}],
        "messages": [
            {"role": "user", "content": [{"text": "hi"}, {"text": " "}]},
            {"role": "assistant", "content": [{"text": "hello"}]},
        ],
    }
    [case], _ = read(record)
    assert case.system == []
    assert case.messages == [{"role": "user", "content": [{"text": "hi"}]}]


UNUSABLE = [
    ("{not json", "not-json"),
    (b'{"prompt": "\xff", "completion": "c"}', "not-json"),  # not UTF-8
    ([1, 2], "not-object"),
    ({"input": "continued pre-training text"}, "unknown-format"),
    ({"schemaVersion": "bedrock-conversation-2023", "messages": []}, "schema-version"),
    ({"system": 3, "messages": [{"role": "user", "content": "q"}]}, "bad-system"),
    ({"system": [{"txt": "x"}], "messages": []}, "bad-system"),
    ({"messages": "hello"}, "bad-message"),
    ({"messages": [{"role": "system", "content": "x"}]}, "bad-message"),
    ({"messages": [{"role": "user", "content": 5}]}, "bad-message"),
    ({"prompt": 1, "completion": "c"}, "bad-message"),
    (
        {
            "messages": [
                {"role": "user", "content": [{"image": {"format": "png", "source": {}}}]},
                {"role": "assistant", "content": [{"text": "a cat"}]},
            ]
        },
        "non-text-content",
    ),
    (
        {
            "messages": [
                {"role": "user", "content": [{"text": "look", "image": {"format": "png"}}]},
                {"role": "assistant", "content": [{"text": "a cat"}]},
            ]
        },
        "non-text-content",
    ),
    ({"messages": [{"role": "user", "content": "q"}]}, "role-order"),
    (
        {"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "q"}]},
        "role-order",
    ),
    (
        {
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "user", "content": "q again"},
                {"role": "assistant", "content": "a"},
            ]
        },
        "role-order",
    ),
    ({"prompt": "p", "completion": "  "}, "empty-text"),
    (
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": ""}]},
        "empty-text",
    ),
]


@pytest.mark.parametrize(("record", "reason"), UNUSABLE)
def test_unusable_lines_are_skipped_and_counted_by_reason(record: Any, reason: str) -> None:
    cases, stats = read({"prompt": "ok", "completion": "ok"}, record)
    assert [c.line for c in cases] == [1]
    assert stats.skipped == {reason: 1}
    assert stats.examples == [f"line 2: {reason}: {SKIP_REASONS[reason]}"]


def test_only_the_first_examples_are_kept() -> None:
    _, stats = read(*["{bad"] * 25)
    assert stats.skipped == {"not-json": 25}
    assert len(stats.examples) == 20


def test_reading_streams_one_line_at_a_time() -> None:
    consumed: list[int] = []

    def lines() -> Iterator[bytes]:
        for i in range(1, 1_000_000):
            consumed.append(i)
            yield json.dumps({"prompt": f"p{i}", "completion": "c"}).encode()

    first = next(read_test_cases(lines()))
    assert first.reference == "c"
    assert consumed == [1]


def test_a_byte_order_mark_on_the_first_line_is_accepted() -> None:
    [case], _ = read('\ufeff{"prompt": "p", "completion": "c"}')
    assert case.reference == "c"


def test_prompt_text_is_the_user_text_for_one_turn_else_role_paragraphs() -> None:
    [single], _ = read({"prompt": "Just this", "completion": "c"})
    assert single.prompt_text() == "Just this"
    [multi], _ = read(
        {
            "system": "Be brief.",
            "messages": [
                {"role": "user", "content": "q1"},
                {"role": "assistant", "content": "a1"},
                {"role": "user", "content": "q2"},
                {"role": "assistant", "content": "a2"},
            ],
        }
    )
    assert multi.prompt_text() == "system: Be brief.\n\nuser: q1\n\nassistant: a1\n\nuser: q2"
