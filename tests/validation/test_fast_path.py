"""The fast path's report is the careful path's, whole, on data as it really is.

Realistic prompt/completion lines (extra fields, accented and CJK text, escaped or raw
UTF-8, either key order, blank lines, exact duplicates, CRLF) with every kind of error
injected: each file is validated twice, once with the fast path and once line by line
(``careful=True``), and the two reports must be equal: verdict, counts, examples with
their lines and JSON paths, statistics and labels.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_handlers.validation.engine import _Scan, validate_dataset
from lambda_handlers.validation.rules import DatasetRules
from lambda_handlers.validation.sniff import duplicate_key
from lambda_handlers.validation.sources import bytes_source

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

texts = st.sampled_from(
    [
        "Classify the sentiment: great service",
        "Classifiez: très bien, merci à vous",
        "分类情感：服务很好",
        'quote " and backslash \\ and newline \n inside',
        "A",
        "B",
        "ü",
        "x" * 80,
        "tab\tand: colon",
        '"prompt": in the text',
    ]
)

# Lines that break a rule or sit at the fast path's edges, each as raw bytes.
BROKEN = [
    b"",
    b"   ",
    b"\r",
    b"\x0c",
    b"not json",
    b"[1, 2]",
    b'"a string"',
    b"{}",
    b'{"prompt": "p"}',
    b'{"completion": "c"}',
    b'{"prompt": 1, "completion": "c"}',
    b'{"prompt": "p", "completion": null}',
    b'{"prompt": "", "completion": "c"}',
    b'{"prompt": "  \\n ", "completion": "c"}',
    b'{"prompt": "p", "completion": "\\u3000"}',
    b'{"prompt": "p", "prompt": "q", "completion": "c"}',
    b'{"prompt": "p", "completion": "c", "id": 1, "id": 2}',
    b'{"prompt": "p", "completion": "c", "completion": "d", "id": "x"}',
    b'{"prompt": "\\ud800", "completion": "c"}',
    b'{"prompt": "p", "completion": "c"} ',
    b' {"prompt": "p", "completion": "c"}',
    b'{"prompt": "p", "completion": "c"}{"prompt": "p", "completion": "c"}',
    b'{"prompt": "p",',
    b'"completion": "c"}',
    b'{"prompt": "p", "completion": "c", "n": 1e999}',
    b'{"prompt": "p\xff", "completion": "c"}',
    b'{"prompt": "p", "completion": "c", "deep": ' + b"[" * 2000 + b"]" * 2000 + b"}",
    b'{"prompt": "p", "completion": "c"}\r',
    b'{"prompt": "p", "completion": "c", "meta": {"a": [1, {"b": 2}]}}\r',
    b'{"prompt": "' + b"long " * 40 + b'", "completion": "c"}',
]


@st.composite
def good_line(draw: st.DrawFn) -> bytes:
    record: dict[str, Any] = {"prompt": draw(texts), "completion": draw(texts)}
    if draw(st.booleans()):
        record = {"completion": record["completion"], "prompt": record["prompt"]}
    for key in draw(st.lists(st.sampled_from(["id", "source", "meta"]), max_size=2, unique=True)):
        record[key] = draw(st.sampled_from([1, "crm-export", None, [1, "a"], {"k": "v"}]))
    ascii_only = draw(st.booleans())
    separators = draw(st.sampled_from([(", ", ": "), (",", ":")]))
    return json.dumps(record, ensure_ascii=ascii_only, separators=separators).encode()


@st.composite
def dataset(draw: st.DrawFn) -> bytes:
    lines: list[bytes] = []
    for _ in range(draw(st.integers(0, 40))):
        kind = draw(st.sampled_from(["good", "good", "good", "repeat", "broken"]))
        if kind == "repeat" and lines:
            lines.append(draw(st.sampled_from(lines)))
        elif kind == "broken":
            lines.append(draw(st.sampled_from(BROKEN)))
        else:
            lines.append(draw(good_line()))
    newline_at_end: bool = draw(st.booleans())
    data = b"\n".join(lines)
    return data + b"\n" if lines and newline_at_end else data


def rules(unknown_fields: str) -> DatasetRules:
    return DatasetRules(
        format="prompt-completion",
        min_records=2,
        max_records=60,
        max_tokens_per_record=40,
        max_chars_per_record=150,
        unknown_fields=unknown_fields,
    )


def both_reports(
    data: bytes,
    validation: bytes | None,
    block: int,
    base_model: str = "m",
    customization_type: str = "FINE_TUNING",
    **options: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    def run(careful: bool) -> dict[str, Any]:
        return validate_dataset(
            bytes_source("train.jsonl", data, block_bytes=block),
            None if validation is None else bytes_source("val.jsonl", validation, block),
            customization_type=customization_type,
            base_model=base_model,
            careful=careful,
            **options,
        )

    return run(False), run(True)


@SETTINGS
@given(
    data=dataset(),
    validation=st.none() | dataset(),
    block=st.sampled_from([64, 300, 1 << 20]),
    max_examples=st.integers(0, 4),
    near=st.booleans(),
    unknown_fields=st.sampled_from(["warning", "error"]),
)
def test_fast_and_careful_reports_are_equal(
    data: bytes,
    validation: bytes | None,
    block: int,
    max_examples: int,
    near: bool,
    unknown_fields: str,
) -> None:
    fast, careful = both_reports(
        data,
        validation,
        block,
        max_examples=max_examples,
        near_duplicates=near,
        rules=rules(unknown_fields),
    )
    assert fast == careful


def test_realistic_block_stays_fast_and_names_every_extra_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A realistic block is read fast (the block never goes line by line, no record of it
    takes the careful path) and still reports each extra field, blank line and duplicate
    on its line."""
    lines = [
        b'{"prompt": "Classifiez: tr\\u00e8s bien", "completion": "A"}',
        b'{"completion": "B", "prompt": "\xe5\x88\x86\xe7\xb1\xbb"}',
        b"",
        b'{"prompt": "p", "completion": "A", "id": "rec-1", "source": "crm"}',
        b'{"prompt": "Classifiez: tr\\u00e8s bien", "completion": "A"}',
    ]
    data = b"\n".join(lines) + b"\n"
    careful = both_reports(data, None, 1 << 20, rules=rules("warning"))[1]

    def refuse(*args: object) -> None:
        raise AssertionError("a realistic record left the fast path")

    monkeypatch.setattr(_Scan, "careful_block", refuse)
    monkeypatch.setattr(_Scan, "careful_line", refuse)
    fast = validate_dataset(
        bytes_source("train.jsonl", data),
        customization_type="FINE_TUNING",
        base_model="m",
        rules=rules("warning"),
    )
    assert fast == careful
    assert fast["warnings"] == {"blank-line": 1, "duplicate-record": 1, "unknown-field": 2}
    assert [(e["line"], e["path"]) for e in fast["examples"]["unknown-field"]] == [
        (4, "$.id"),
        (4, "$.source"),
    ]
    assert fast["examples"]["duplicate-record"][0]["line"] == 5
    assert fast["files"]["training"]["records"] == 4


@pytest.mark.parametrize(
    ("raw", "twice"),
    [
        (b'{"prompt": "a: b: c", "completion": "d", "id": 1}', None),
        (b'{"prompt": "a: b", "completion": "c", "id": 1, "id": 2}', "id"),
        (b'{"prompt": "a", "completion": "b:c", "id": "x", "id": "y:z"}', "id"),
        # Colons escaped in the kept text must not hide the repeat's colon.
        (b'{"p": "\\u003a\\u003a", "x": 1, "x": 2}', "x"),
        (b'{"p": "\\u003A:", "q": {"k": "v", "k": "w"}}', "k"),
    ],
)
def test_a_key_twice_is_found_whatever_colons_the_text_holds(raw: bytes, twice: str | None) -> None:
    assert duplicate_key(raw, json.loads(raw)) == twice


# -- conversations ---------------------------------------------------------------------

NOVA = "amazon.nova-lite-v1:0:300k"
LLAMA = "meta.llama3-2-1b-instruct-v1:0:128k"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
RFT = "amazon.nova-2-lite-v1:0:256k"
TITAN = "amazon.titan-text-express-v1:0:8k"  # continued pre-training
CUSTOMIZATION = {RFT: "REINFORCEMENT_FINE_TUNING", TITAN: "CONTINUED_PRE_TRAINING"}

turn_texts = st.sampled_from(
    [
        "Ticket 1: the printer is down",
        "分类：服务很好",
        "Très bien, merci",
        "   ",
        "",
        "as the Bot: said",
        "an <IMAGE> tag",
        "a <un\u212a> token",  # the Kelvin sign lowers to k
        "\nHuman: hello",
        'line\nbreak and "quotes"',
        "x" * 90,
    ]
)
image = {"image": {"format": "png", "source": {"s3Location": {"uri": "s3://b/k.png"}}}}


@st.composite
def converse_record(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.sampled_from([2, 2, 4, 1, 3]))
    roles = ["user", "assistant"] * 3
    if draw(st.integers(0, 9)) == 0:
        roles = draw(st.permutations(["user", "assistant", "system", "user"]))
    messages: list[Any] = []
    for role in roles[:n]:
        content: list[Any] = [{"text": draw(turn_texts)}]
        extra = draw(st.integers(0, 12))
        if extra == 0:
            content.append(image)
        elif extra == 1:
            content.append({"text": draw(turn_texts)})
        elif extra == 2:
            content = []
        elif extra == 3:
            content.append({"text": 1})
        message: dict[str, Any] = {"role": role, "content": content}
        if draw(st.integers(0, 20)) == 0:
            message["note"] = "x"
        messages.append(message)
    record: dict[str, Any] = {"schemaVersion": "bedrock-conversation-2024"}
    if draw(st.integers(0, 15)) == 0:
        record["schemaVersion"] = "v1"
    if draw(st.booleans()):
        blocks = draw(st.integers(0, 2))
        record["system"] = [{"text": draw(turn_texts)} for _ in range(blocks)]
    record["messages"] = messages
    if draw(st.integers(0, 12)) == 0:
        record["id"] = 7
    return record


@st.composite
def claude_record(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.sampled_from([2, 2, 4, 1, 3]))
    roles = ["user", "assistant"] * 3
    if draw(st.integers(0, 9)) == 0:
        roles = draw(st.permutations(["user", "assistant", "system", "user"]))
    record: dict[str, Any] = {}
    if draw(st.booleans()):
        record["system"] = draw(turn_texts)
    record["messages"] = [{"role": role, "content": draw(turn_texts)} for role in roles[:n]]
    if draw(st.integers(0, 12)) == 0:
        record["messages"][0]["content"] = [{"text": "blocks"}]
    if draw(st.integers(0, 12)) == 0:
        record["id"] = "x"
    return record


@st.composite
def rft_record(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.sampled_from([1, 1, 3, 2, 0]))
    roles = ["user", "assistant"] * 2
    if draw(st.integers(0, 9)) == 0:
        roles = draw(st.permutations(["user", "assistant", "system", "user"]))
    messages: list[Any] = [{"role": role, "content": draw(turn_texts)} for role in roles[:n]]
    if draw(st.booleans()):
        messages.insert(0, {"role": "system", "content": draw(turn_texts)})
    record: dict[str, Any] = {"messages": messages}
    if draw(st.integers(0, 9)):
        record["reference_answer"] = draw(st.sampled_from(["42", {"answer": "a: b", "k": [1]}]))
    if draw(st.booleans()):
        record["id"] = draw(st.sampled_from(["q-1", 7]))
    if draw(st.integers(0, 5)) == 0:
        record["tools"] = [{"name": "calc", "args": {"x": "1:2"}}]
    return record


@st.composite
def pretraining_record(draw: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = {draw(st.sampled_from(["input"] * 8 + ["text"])): draw(turn_texts)}
    if draw(st.integers(0, 9)) == 0:
        record["input"] = draw(st.sampled_from([1, None, ["a"]]))
    if draw(st.integers(0, 9)) == 0:
        record["source"] = "crawl"
    return record


@st.composite
def conversation_dataset(draw: st.DrawFn, records: st.SearchStrategy[dict[str, Any]]) -> bytes:
    lines: list[bytes] = []
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.sampled_from(["good", "good", "good", "repeat", "broken", "twice"]))
        if kind == "repeat" and lines:
            lines.append(draw(st.sampled_from(lines)))
        elif kind == "broken":
            lines.append(draw(st.sampled_from(BROKEN[:9])))
        else:
            line = json.dumps(draw(records), ensure_ascii=draw(st.booleans())).encode()
            if kind == "twice":
                line = line.replace(b'{"role": "user"', b'{"role": "user", "role": "user"', 1)
                line = line.replace(b'"k": [1]', b'"k": [1], "k": 2', 1)
            lines.append(line)
    return b"\n".join(lines) + b"\n"


@SETTINGS
@given(
    data=st.data(),
    model=st.sampled_from([NOVA, LLAMA, HAIKU, RFT, TITAN]),
    block=st.sampled_from([200, 1 << 20]),
    max_examples=st.integers(0, 3),
)
def test_fast_and_careful_conversation_reports_are_equal(
    data: st.DataObject, model: str, block: int, max_examples: int
) -> None:
    records = {HAIKU: claude_record(), RFT: rft_record(), TITAN: pretraining_record()}.get(
        model, converse_record()
    )
    training = data.draw(conversation_dataset(records))
    validation = data.draw(st.none() | conversation_dataset(records))
    customization = CUSTOMIZATION.get(model, "FINE_TUNING")
    fast, careful = both_reports(
        training, validation, block, model, customization, max_examples=max_examples
    )
    assert fast == careful


@pytest.mark.parametrize(
    ("model", "record"),
    [
        (
            NOVA,
            {
                "schemaVersion": "bedrock-conversation-2024",
                "system": [{"text": "You are a support agent."}],
                "messages": [
                    {"role": "user", "content": [{"text": "Ticket 1: 打印机坏了"}]},
                    {"role": "assistant", "content": [{"text": "Très bien: "}, {"text": "done"}]},
                ],
            },
        ),
        (
            HAIKU,
            {
                "system": "Be brief.",
                "messages": [
                    {"role": "user", "content": "Ticket 2: the printer"},
                    {"role": "assistant", "content": "Fixed: it was off"},
                ],
            },
        ),
        (
            RFT,
            {
                "messages": [
                    {"role": "system", "content": "Solve it."},
                    {"role": "user", "content": "Ticket 3: 2 + 2?"},
                ],
                "reference_answer": {"answer": "4", "steps": ["2 + 2: 4"]},
                "id": "q-3",
                "tools": [],
            },
        ),
        (TITAN, {"input": "A long document: 長い文書, in more than one script."}),
    ],
)
def test_conversations_that_break_no_rule_stay_fast(
    monkeypatch: pytest.MonkeyPatch, model: str, record: dict[str, Any]
) -> None:
    line = json.dumps(record, ensure_ascii=False).encode()
    data = line + b"\n" + line.replace(b"Ticket", b"Case") + b"\n\n" + line + b"\n"
    customization = CUSTOMIZATION.get(model, "FINE_TUNING")
    careful = both_reports(data, None, 1 << 20, model, customization)[1]

    def refuse(*args: object) -> None:
        raise AssertionError("a record that breaks no rule left the fast path")

    monkeypatch.setattr(_Scan, "careful_block", refuse)
    monkeypatch.setattr(_Scan, "careful_line", refuse)
    fast = validate_dataset(
        bytes_source("train.jsonl", data), customization_type=customization, base_model=model
    )
    assert fast == careful
    assert fast["files"]["training"]["records"] == 3
    assert set(fast["warnings"]) == {"blank-line", "duplicate-record"}


@pytest.mark.parametrize(
    "text",
    [
        "say USER: now",  # upper case: Nova's words are matched ignoring case
        "a <un\u212a> token",  # the Kelvin sign lowers to "k"
        "an escaped \u003cimage> tag",  # written \\u003c below
        "end of turn [EOS]",
    ],
)
def test_a_reserved_word_is_found_whatever_the_bytes_look_like(text: str) -> None:
    def line(words: str) -> bytes:
        record = {
            "schemaVersion": "bedrock-conversation-2024",
            "messages": [
                {"role": "user", "content": [{"text": words}]},
                {"role": "assistant", "content": [{"text": "fine"}]},
            ],
        }
        raw = json.dumps(record, ensure_ascii=False).encode()
        return raw.replace(b"<image>", b"\\u003cimage>")

    data = line("clean text") + b"\n" + line(text) + b"\n"
    fast, careful = both_reports(data, None, 1 << 20, base_model=NOVA)
    assert fast == careful
    assert [e["line"] for e in fast["examples"]["reserved-keyword"]] == [2]
