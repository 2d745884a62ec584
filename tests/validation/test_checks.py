"""Every check code, for every format it applies to, with a failing and a passing record."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambda_handlers.validation.engine import validate_dataset
from lambda_handlers.validation.findings import CODES
from lambda_handlers.validation.rules import DatasetRules, formats, rules_for
from lambda_handlers.validation.sources import bytes_source

CONV = "bedrock-conversation-2024"
S3_SOURCE = {"s3Location": {"uri": "s3://bucket/images/cat-1.png"}}


def run(
    fmt: str, lines: list[Any], validation: list[Any] | None = None, **limits: Any
) -> dict[str, Any]:
    limits.setdefault("unknown_fields", formats()[fmt]["unknownFields"])
    rules = DatasetRules(format=fmt, **limits)

    def encode(items: list[Any]) -> bytes:
        out = b""
        for item in items:
            out += (item if isinstance(item, bytes) else json.dumps(item).encode()) + b"\n"
        return out

    return validate_dataset(
        bytes_source("train.jsonl", encode(lines)),
        bytes_source("val.jsonl", encode(validation)) if validation is not None else None,
        customization_type="FINE_TUNING",
        base_model="test-model",
        rules=rules,
    )


def codes(report: dict[str, Any]) -> set[str]:
    return set(report["errors"]) | set(report["warnings"])


def conversation(
    *turns: tuple[str, Any], system: Any = None, version: Any = CONV
) -> dict[str, Any]:
    record: dict[str, Any] = {"schemaVersion": version} if version is not None else {}
    if system is not None:
        record["system"] = system
    record["messages"] = [
        {"role": r, "content": c if not isinstance(c, str) else [{"text": c}]} for r, c in turns
    ]
    return record


def claude(*turns: tuple[str, Any], system: Any = None) -> dict[str, Any]:
    record: dict[str, Any] = {} if system is None else {"system": system}
    record["messages"] = [{"role": r, "content": c} for r, c in turns]
    return record


def rft(*turns: tuple[str, str], **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": r, "content": c} for r, c in turns], **extra}


GOOD = {
    "prompt-completion": {"prompt": "Classify: great", "completion": "Positive"},
    "continued-pretraining": {"input": "The HIPAA Privacy Rule establishes national standards."},
    "claude-messages": claude(("user", "hi"), ("assistant", "hello"), system="be brief"),
    "bedrock-conversation": conversation(
        ("user", "hi"), ("assistant", "hello"), system=[{"text": "brief"}]
    ),
    "distillation-prompts": conversation(("user", "Explain the water cycle.")),
    "rft-openai": rft(("system", "Solve."), ("user", "2+2?"), reference_answer="4", id="q1"),
    "preference-pairs": {
        "prompt": "Explain",
        "chosen": "Plainly.",
        "rejected": "Jargon.",
        "score": 0.8,
    },
}

# (format, code, bad record)
CASES: list[tuple[str, str, Any]] = [
    ("prompt-completion", "not-utf8", b'{"prompt": "caf\xe9", "completion": "x"}'),
    ("prompt-completion", "not-json", b'{"prompt": "a", "completion": }'),
    ("prompt-completion", "not-object", ["prompt", "completion"]),
    ("prompt-completion", "missing-field", {"prompt": "a"}),
    ("prompt-completion", "unknown-field", {"prompt": "a", "completion": "b", "label": 1}),
    ("prompt-completion", "wrong-type", {"prompt": "a", "completion": 3}),
    ("prompt-completion", "empty-text", {"prompt": "  ", "completion": "b"}),
    ("prompt-completion", "blank-line", b"   "),
    ("continued-pretraining", "missing-field", {"text": "the guide's field name"}),
    ("continued-pretraining", "forbidden-field", {"input": "text", "source": "wiki"}),
    ("continued-pretraining", "wrong-type", {"input": ["a"]}),
    ("continued-pretraining", "empty-text", {"input": ""}),
    ("claude-messages", "role-order", claude(("assistant", "hi"), ("user", "x"))),
    ("claude-messages", "role-order", claude(("user", "a"), ("user", "b"), ("assistant", "c"))),
    ("claude-messages", "role-order", claude(("user", "a"), ("assistant", "b"), ("user", "c"))),
    (
        "claude-messages",
        "system-misplaced",
        claude(("system", "s"), ("user", "a"), ("assistant", "b")),
    ),
    (
        "claude-messages",
        "unsupported-content",
        claude(("user", [{"text": "a"}]), ("assistant", "b")),
    ),
    ("claude-messages", "missing-field", {"system": "s"}),
    ("claude-messages", "invalid-value", claude(("user", "a"), ("bot", "b"))),
    (
        "claude-messages",
        "forbidden-field",
        {**claude(("user", "a"), ("assistant", "b")), "meta": 1},
    ),
    (
        "bedrock-conversation",
        "unknown-field",
        {**conversation(("user", "a"), ("assistant", "b")), "meta": 1},
    ),
    (
        "bedrock-conversation",
        "missing-field",
        conversation(("user", "a"), ("assistant", "b"), version=None),
    ),
    (
        "bedrock-conversation",
        "invalid-value",
        conversation(("user", "a"), ("assistant", "b"), version="v1"),
    ),
    ("bedrock-conversation", "role-order", conversation(("user", "a"))),
    (
        "bedrock-conversation",
        "wrong-type",
        conversation(("user", "a"), ("assistant", "b"), system="plain"),
    ),
    (
        "bedrock-conversation",
        "unsupported-content",
        conversation(
            ("user", [{"image": {"format": "png", "source": {"bytes": "AA=="}}}]),
            ("assistant", "b"),
        ),
    ),
    (
        "bedrock-conversation",
        "empty-text",
        conversation(("user", [{"text": ""}]), ("assistant", "b")),
    ),
    (
        "bedrock-conversation",
        "wrong-type",
        conversation(("user", "a"), ("assistant", {"text": "b"})),
    ),
    ("distillation-prompts", "role-order", conversation(("assistant", "a"), ("user", "b"))),
    ("distillation-prompts", "forbidden-field", {**conversation(("user", "a")), "label": "x"}),
    ("distillation-prompts", "missing-field", {"schemaVersion": CONV}),
    ("rft-openai", "missing-field", rft(("user", "2+2?"))),
    ("rft-openai", "system-misplaced", rft(("user", "a"), ("system", "s"), reference_answer="x")),
    ("rft-openai", "role-order", rft(("user", "a"), ("assistant", "b"), reference_answer="x")),
    ("rft-openai", "wrong-type", rft(("user", "a"), reference_answer="x", id=7)),
    ("preference-pairs", "missing-field", {"prompt": "p", "chosen": "c"}),
    (
        "preference-pairs",
        "invalid-value",
        {"prompt": "p", "chosen": "c", "rejected": "r", "score": 1.5},
    ),
    (
        "preference-pairs",
        "wrong-type",
        {"prompt": "p", "chosen": "c", "rejected": "r", "score": "high"},
    ),
    (
        "preference-pairs",
        "same-chosen-rejected",
        {"prompt": "p", "chosen": "same", "rejected": "same"},
    ),
]


@pytest.mark.parametrize("fmt", sorted(GOOD))
def test_a_good_record_passes(fmt: str) -> None:
    report = run(fmt, [GOOD[fmt]])
    assert report["verdict"] == "valid"
    assert report["errors"] == {} and report["warnings"] == {}


@pytest.mark.parametrize(
    ("fmt", "code", "bad"), CASES, ids=[f"{f}-{c}-{i}" for i, (f, c, _) in enumerate(CASES)]
)
def test_each_check_names_the_line_and_field(fmt: str, code: str, bad: Any) -> None:
    report = run(
        fmt,
        [
            GOOD[fmt],
            bad,
            GOOD[fmt] if fmt != "prompt-completion" else {"prompt": "z", "completion": "y"},
        ],
    )
    assert code in codes(report), report
    [example, *_] = report["examples"][code]
    assert example["line"] == 2
    assert example["file"] == "training"
    assert example["path"].startswith("$")
    severity = "errors" if CODES[code].severity == "error" else "warnings"
    assert code in report[severity]
    assert report["verdict"] == ("invalid" if severity == "errors" else "valid")


def test_paths_point_into_the_record() -> None:
    report = run("claude-messages", [claude(("user", "a"), ("assistant", "b"), ("assistant", "c"))])
    assert report["examples"]["role-order"][0]["path"] == "$.messages[2].role"
    report = run(
        "bedrock-conversation",
        [conversation(("user", [{"text": "a"}, {"video": {}}]), ("assistant", "b"))],
    )
    assert report["examples"]["unsupported-content"][0]["path"] == "$.messages[0].content[1].video"


def test_distillation_prompts_may_carry_an_answer_and_some_students_take_one_turn() -> None:
    labeled = conversation(("user", "Explain X."), ("assistant", "X is..."))
    multi = conversation(("user", "a"), ("assistant", "b"), ("user", "c"))
    assert run("distillation-prompts", [labeled, multi])["verdict"] == "valid"
    report = run("distillation-prompts", [labeled, multi], multi_turn=False)
    assert report["errors"] == {"role-order": 1}
    assert report["examples"]["role-order"][0]["line"] == 2


def test_reserved_keywords_fail_like_the_service_would() -> None:
    nova = {"reserved_keywords": ("bot:", "[eos]"), "reserved_ignore_case": True}
    record = conversation(("user", "Reply as BOT: please"), ("assistant", "ok"))
    report = run("bedrock-conversation", [record], **nova)
    assert report["errors"] == {"reserved-keyword": 1}
    assert report["examples"]["reserved-keyword"][0]["path"] == "$.messages[0].content[0].text"
    system = conversation(("user", "hi"), ("assistant", "ok"), system=[{"text": "end with [EOS]"}])
    assert (
        run("bedrock-conversation", [system], **nova)["examples"]["reserved-keyword"][0]["path"]
        == "$.system[0].text"
    )
    assert run(
        "bedrock-conversation", [conversation(("user", "Robot: hi"), ("assistant", "ok"))], **nova
    )["errors"] == {"reserved-keyword": 1}, "a substring match, as the service does"
    haiku = {"reserved_keywords": ("\nHuman:",)}
    assert run("claude-messages", [claude(("user", "a\nHuman: b"), ("assistant", "c"))], **haiku)[
        "errors"
    ] == {"reserved-keyword": 1}
    assert (
        run("claude-messages", [claude(("user", "a\nHuman b"), ("assistant", "c"))], **haiku)[
            "errors"
        ]
        == {}
    )


def test_media_rules_follow_the_model() -> None:
    media = {
        "imagesOnlyInRole": "user",
        "mixImagesAndVideosInDataset": False,
        "image": {"formats": ["png", "jpeg"], "maxPerRecord": 2},
        "video": {"formats": ["mp4"], "maxPerRecord": 1},
    }
    limits = {"content_types": ("text", "image", "video"), "media": media}

    def image(fmt: str = "png") -> dict[str, Any]:
        return {"image": {"format": fmt, "source": {"s3Location": {"uri": "s3://b/i.png"}}}}

    def video() -> dict[str, Any]:
        return {"video": {"format": "mp4", "source": {"s3Location": {"uri": "s3://b/v.mp4"}}}}

    ok = conversation(("user", [{"text": "what?"}, image(), image("jpeg")]), ("assistant", "cats"))
    assert run("bedrock-conversation", [ok], **limits)["verdict"] == "valid"
    three = conversation(("user", [image(), image(), image()]), ("assistant", "cats"))
    assert run("bedrock-conversation", [three], **limits)["errors"] == {"media-limit": 1}
    webp = conversation(("user", [image("webp")]), ("assistant", "cats"))
    assert run("bedrock-conversation", [webp], **limits)["errors"] == {"invalid-value": 1}
    in_answer = conversation(("user", "draw"), ("assistant", [image()]))
    assert run("bedrock-conversation", [in_answer], **limits)["errors"] == {
        "unsupported-content": 1
    }
    both = conversation(("user", [image(), video()]), ("assistant", "x"))
    assert "media-limit" in run("bedrock-conversation", [both], **limits)["errors"]
    mixed_dataset = [ok, conversation(("user", [video()]), ("assistant", "a clip"))]
    report = run("bedrock-conversation", mixed_dataset, **limits)
    assert report["errors"] == {"media-limit": 1}
    assert "line" not in report["examples"]["media-limit"][0]


def test_media_needs_an_s3_uri_of_the_characters_aws_accepts() -> None:
    """AWS's Nova and Llama validators: format and source.s3Location.uri are required, the uri
    starts with s3://; Nova's also allows only letters, digits, _ - / . in it."""
    nova = {"image": {"formats": ["png"], "maxPerRecord": 10}, "uriPattern": r"s3://[\w\-/.]+"}
    llama = {"image": {"formats": ["png"]}}

    def errors(image: dict[str, Any], media: dict[str, Any]) -> dict[str, int]:
        record = conversation(("user", [{"image": image}]), ("assistant", "a cat"))
        report = run("bedrock-conversation", [record], content_types=("text", "image"), media=media)
        return report["errors"]

    good = {"format": "png", "source": S3_SOURCE}
    assert errors(good, nova) == errors(good, llama) == {}
    assert errors({"format": "png", "source": {}}, llama) == {"missing-field": 1}
    assert errors({"format": "png"}, llama) == {"missing-field": 1}
    assert errors({"source": S3_SOURCE}, llama) == {"missing-field": 1}
    https = {"format": "png", "source": {"s3Location": {"uri": "https://b/cat.png"}}}
    assert errors(https, llama) == {"invalid-value": 1}
    spaced = {"format": "png", "source": {"s3Location": {"uri": "s3://b/my cat.png"}}}
    assert errors(spaced, llama) == {}
    assert errors(spaced, nova) == {"invalid-value": 1}
    record = conversation(("user", [{"image": spaced}]), ("assistant", "a cat"))
    report = run("bedrock-conversation", [record], content_types=("text", "image"), media=nova)
    assert report["examples"]["invalid-value"][0]["path"] == (
        "$.messages[0].content[0].image.source.s3Location.uri"
    )


def test_content_types_follow_the_model() -> None:
    record = conversation(
        ("user", [{"text": "What is this?"}, {"image": {"format": "png", "source": S3_SOURCE}}]),
        ("assistant", "A cat."),
    )
    assert (
        run("bedrock-conversation", [record], content_types=("text", "image"))["verdict"] == "valid"
    )
    assert "unsupported-content" in run("bedrock-conversation", [record])["errors"]


# -- limits --------------------------------------------------------------------------------


def pc(i: int, completion: str = "Positive", size: int = 10) -> dict[str, str]:
    return {"prompt": f"p{i} " + "x" * size, "completion": completion}


def test_sum_of_training_and_validation_records() -> None:
    train, val = [pc(i) for i in range(4)], [pc(100 + i) for i in range(2)]
    assert run("prompt-completion", train, val, max_records=5)["errors"] == {}
    report = run(
        "prompt-completion", train, val, max_records=5, counts_training_plus_validation=True
    )
    assert report["errors"] == {"too-many-records": 1}
    assert (
        "6 training and validation records" in report["examples"]["too-many-records"][0]["message"]
    )
    assert run("prompt-completion", train, val, max_total_records=5)["errors"] == {
        "too-many-records": 1
    }


def test_validation_data_where_the_model_takes_none() -> None:
    report = run(
        "bedrock-conversation",
        [GOOD["bedrock-conversation"]],
        [GOOD["bedrock-conversation"]],
        validation_supported=False,
    )
    assert "validation-not-supported" in report["errors"]


def test_record_count_bounds() -> None:
    assert (
        "too-few-records"
        in run("prompt-completion", [pc(i) for i in range(3)], min_records=4)["errors"]
    )
    assert (
        "too-few-records"
        not in run("prompt-completion", [pc(i) for i in range(4)], min_records=4)["errors"]
    )
    assert (
        "too-many-records"
        in run("prompt-completion", [pc(i) for i in range(5)], max_records=4)["errors"]
    )
    assert (
        "too-many-records"
        not in run("prompt-completion", [pc(i) for i in range(4)], max_records=4)["errors"]
    )


def test_validation_set_bound() -> None:
    train = [pc(i) for i in range(10)]
    report = run(
        "prompt-completion", train, [pc(100 + i) for i in range(3)], max_validation_records=2
    )
    assert report["errors"] == {"validation-too-large": 1}
    report = run(
        "prompt-completion", train, [pc(100 + i) for i in range(2)], max_validation_records=2
    )
    assert report["errors"] == {}


def test_token_and_character_limits_use_the_documented_estimate() -> None:
    # 300 ASCII bytes of text -> 100 estimated tokens; 301 -> 101.
    at_limit = {"prompt": "a" * 290, "completion": "b" * 10}
    over = {"prompt": "a" * 291, "completion": "b" * 10}
    assert run("prompt-completion", [at_limit], max_tokens_per_record=100)["errors"] == {}
    report = run("prompt-completion", [at_limit, over], max_tokens_per_record=100)
    assert report["errors"] == {"record-too-long": 1}
    assert report["examples"]["record-too-long"][0] == {
        "file": "training",
        "line": 2,
        "path": "$",
        "message": "101 estimated tokens; the limit is 100",
    }
    assert run("prompt-completion", [over], max_chars_per_record=300)["errors"] == {
        "record-too-many-chars": 1
    }
    # Three bytes per CJK character: one token each.
    cjk = {"prompt": "\u4e2d" * 99, "completion": "\u6587"}
    assert run("prompt-completion", [cjk], max_tokens_per_record=100)["errors"] == {}
    cjk_over = {"prompt": "\u4e2d" * 100, "completion": "\u6587"}
    assert run("prompt-completion", [cjk_over], max_tokens_per_record=100)["errors"] == {
        "record-too-long": 1
    }


def test_file_size_limit() -> None:
    assert (
        "file-too-large"
        in run("prompt-completion", [pc(i) for i in range(10)], max_file_bytes=100)["errors"]
    )


# -- duplicates, leakage, balance -----------------------------------------------------------------


def test_exact_duplicates_name_both_lines() -> None:
    lines = [pc(1), pc(2), pc(1), {"completion": "Positive", "prompt": pc(2)["prompt"]}]
    report = run("prompt-completion", lines)
    assert report["warnings"]["duplicate-record"] == 2
    assert [e["message"] for e in report["examples"]["duplicate-record"]] == [
        "same record as line 1",
        "same record as line 2",
    ]
    assert [e["line"] for e in report["examples"]["duplicate-record"]] == [3, 4]


def test_leakage_between_training_and_validation() -> None:
    report = run("prompt-completion", [pc(1), pc(2)], [pc(3), pc(2)])
    assert report["warnings"] == {"leakage": 1}
    assert report["examples"]["leakage"][0]["line"] == 2
    assert report["verdict"] == "valid", "warnings never block"


def test_label_imbalance_is_a_warning_for_classification_data() -> None:
    lines = [pc(i, "Positive") for i in range(8)] + [pc(100, "Negative"), pc(101, "Negative")]
    report = run("prompt-completion", lines)
    assert report["warnings"] == {"label-imbalance": 1}
    assert report["labels"] == {"Positive": 8, "Negative": 2}
    balanced = [pc(i, "Positive") for i in range(6)] + [pc(100 + i, "Negative") for i in range(2)]
    assert run("prompt-completion", balanced)["warnings"] == {}


def test_free_text_completions_are_not_labels() -> None:
    lines = [pc(i, f"answer number {i}") for i in range(60)]
    report = run("prompt-completion", lines)
    assert report["labels"] is None
    assert report["warnings"] == {}


# -- statistics -----------------------------------------------------------------------------------


def test_token_statistics() -> None:
    lines = [{"prompt": "a" * (3 * k - 1), "completion": "b"} for k in range(1, 21)]  # 1..20 tokens
    report = run("prompt-completion", lines)
    tokens = report["files"]["training"]["tokens"]
    assert tokens == {"min": 1, "median": 10, "p95": 19, "max": 20, "total": 210}
    assert report["trainingTokensPerEpoch"] == 210


def test_examples_are_capped_but_counts_are_not() -> None:
    lines = [{"prompt": "a"} for _ in range(12)]
    report = validate_dataset(
        bytes_source("t", b"".join(json.dumps(x).encode() + b"\n" for x in lines)),
        customization_type="FINE_TUNING",
        base_model="m",
        rules=DatasetRules(format="prompt-completion"),
        max_examples=3,
    )
    assert report["errors"] == {"missing-field": 12}
    assert len(report["examples"]["missing-field"]) == 3


def test_the_fast_and_careful_paths_agree() -> None:
    """A clean block takes the fast path, a block with one bad line the careful one."""
    records = [pc(i, ["Positive", "Negative"][i % 2], size=40) for i in range(400)] + [
        pc(5, "Negative", size=40)
    ]
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    rules = DatasetRules(format="prompt-completion", max_tokens_per_record=16)

    def report_for(block_bytes: int, extra: bytes = b"") -> dict[str, Any]:
        return validate_dataset(
            bytes_source("t", data + extra, block_bytes=block_bytes),
            customization_type="FINE_TUNING",
            base_model="m",
            rules=rules,
        )

    small_blocks = report_for(997)  # many blocks, all fast
    one_block = report_for(1 << 20)
    assert small_blocks == one_block
    assert one_block["warnings"]["duplicate-record"] == 1
    assert one_block["errors"]["record-too-long"] == 401
    careful = report_for(997, extra=b'{"prompt": 1}\n')
    assert careful["errors"]["wrong-type"] == 1
    assert careful["examples"]["wrong-type"][0]["line"] == 402
    assert careful["files"]["training"]["tokens"] == one_block["files"]["training"]["tokens"]


def test_a_line_longer_than_a_block_is_read_whole() -> None:
    long_line = json.dumps({"prompt": "x" * 5000, "completion": "y"}).encode()
    data = b'{"prompt": "a", "completion": "b"}\n' + long_line + b"\n" + b'{"prompt": "c"}\n'
    report = validate_dataset(
        bytes_source("t", data, block_bytes=64),
        customization_type="FINE_TUNING",
        base_model="m",
        rules=DatasetRules(format="prompt-completion"),
    )
    assert report["files"]["training"]["records"] == 3
    assert report["examples"]["missing-field"][0]["line"] == 3
    assert report["files"]["training"]["maxChars"] == 5001


def test_a_file_without_a_final_newline() -> None:
    data = b'{"prompt": "a", "completion": "b"}\n{"prompt": "c"}'
    report = validate_dataset(
        bytes_source("t", data),
        customization_type="FINE_TUNING",
        base_model="m",
        rules=DatasetRules(format="prompt-completion"),
    )
    assert report["examples"]["missing-field"][0]["line"] == 2


def test_two_records_on_one_line_are_not_json_lines() -> None:
    data = b'{"prompt": "a", "completion": "b"} {"prompt": "c", "completion": "d"}\n\n'
    report = validate_dataset(
        bytes_source("t", data),
        customization_type="FINE_TUNING",
        base_model="m",
        rules=DatasetRules(format="prompt-completion"),
    )
    assert report["errors"] == {"not-json": 1}
    assert report["warnings"] == {"blank-line": 1}


GENERIC_BAD_LINES = {
    "not-utf8": b'{"x": "caf\xe9"}',
    "not-json": b'{"x": ',
    "not-object": b"[1, 2]",
    "blank-line": b"",
}


@pytest.mark.parametrize("fmt", sorted(GOOD))
@pytest.mark.parametrize("code", sorted(GENERIC_BAD_LINES))
def test_line_level_checks_apply_to_every_format(fmt: str, code: str) -> None:
    good = json.dumps(GOOD[fmt]).encode()
    data = good + b"\n" + GENERIC_BAD_LINES[code] + b"\n" + good + b"\n"
    report = validate_dataset(
        bytes_source("t", data),
        customization_type="FINE_TUNING",
        base_model="m",
        rules=DatasetRules(format=fmt, unknown_fields=formats()[fmt]["unknownFields"]),
    )
    assert code in codes(report)
    assert report["examples"][code][0]["line"] == 2
    clean = validate_dataset(
        bytes_source("t", good + b"\n"),
        customization_type="FINE_TUNING",
        base_model="m",
        rules=DatasetRules(format=fmt),
    )
    assert code not in codes(clean)


@pytest.mark.parametrize("fmt", sorted(GOOD))
def test_dataset_level_checks_apply_to_every_format(fmt: str) -> None:
    good = GOOD[fmt]
    assert "duplicate-record" in run(fmt, [good, good])["warnings"]
    assert "leakage" in run(fmt, [good], [good])["warnings"]
    assert "record-too-long" in run(fmt, [good], max_tokens_per_record=1)["errors"]
    assert "record-too-many-chars" in run(fmt, [good], max_chars_per_record=2)["errors"]
    assert "too-few-records" in run(fmt, [good], min_records=2)["errors"]
    assert "too-many-records" in run(fmt, [good, good], max_records=1)["errors"]
    assert (
        "validation-too-large" in run(fmt, [good], [good, good], max_validation_records=1)["errors"]
    )
    assert "file-too-large" in run(fmt, [good], max_file_bytes=5)["errors"]
    fine = run(
        fmt, [good], [], max_tokens_per_record=10_000, max_chars_per_record=10_000, min_records=1
    )
    assert fine["errors"] == {} and fine["warnings"] == {}


def test_a_validation_file_has_its_own_size_limit() -> None:
    # Claude 3 Haiku: 10 GB training, 1 GB validation (user guide and AWS's Haiku validator).
    lines = [pc(i) for i in range(10)]
    small_limit = {"max_file_bytes": 10_000, "max_validation_file_bytes": 100}
    report = run("prompt-completion", lines, lines[:5], **small_limit)
    assert report["errors"] == {"file-too-large": 1}
    assert report["examples"]["file-too-large"][0]["file"] == "validation"
    assert run("prompt-completion", lines, lines[:1], max_file_bytes=10_000)["errors"] == {}
    no_own_limit = run("prompt-completion", lines, lines[:5], max_file_bytes=100)
    assert no_own_limit["errors"] == {"file-too-large": 2}, "without one, max_file_bytes applies"
    haiku = rules_for("anthropic.claude-3-haiku-20240307-v1:0:200k", "FINE_TUNING")
    assert (haiku.max_file_bytes, haiku.max_validation_file_bytes) == (10**10, 10**9)


def test_llama_takes_one_system_block() -> None:
    # AWS's Llama validator: "system" is an array of exactly one {"text"} (minItems = maxItems = 1).
    def errors(system: Any, **limits: Any) -> dict[str, int]:
        record = conversation(("user", "hi"), ("assistant", "hello"), system=system)
        return run("bedrock-conversation", [record], **limits)["errors"]

    one, two = [{"text": "Be brief."}], [{"text": "Be brief."}, {"text": "Be kind."}]
    assert errors(one, system_blocks=1) == {} and errors(None, system_blocks=1) == {}
    assert errors(two, system_blocks=1) == {"invalid-value": 1}
    assert errors([], system_blocks=1) == {"invalid-value": 1}
    assert errors(two) == {}, "Nova's validator takes any number"
    llama = rules_for("meta.llama3-2-11b-instruct-v1:0:128k", "FINE_TUNING")
    nova = rules_for("amazon.nova-lite-v1:0:300k", "FINE_TUNING")
    assert (llama.system_blocks, nova.system_blocks) == (1, None)
