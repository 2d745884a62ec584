"""Benchmark data: clean and realistic prompt/completion JSONL, and Nova conversation JSONL.

Clean data is what ``validate_throughput.py`` always generated: ASCII prompts, keys in one
order, nothing else. Realistic data looks like real exports: some records carry an extra
``id`` or ``source`` field, some text is accented or CJK, keys come in either order, a blank
line now and then, a few exact duplicates. Nova data is the ``bedrock-conversation-2024``
schema (system prompt, alternating multi-turn messages, a few images from S3), valid for Nova
Lite under both this engine and AWS's Nova validator.

Each generator writes about ``size_bytes`` and returns what it wrote, so a test can check the
file against the claim.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

LABELS = ["Positive", "Negative", "Neutral", "Mixed"]
ENGLISH = [
    "patient",
    "presents",
    "with",
    "fever",
    "cough",
    "fatigue",
    "chest",
    "pain",
    "shortness",
    "of",
    "breath",
    "dizziness",
    "persistent",
    "headache",
    "light",
    "sensitivity",
    "order",
    "delivery",
    "refund",
    "account",
    "password",
    "invoice",
    "shipment",
    "delayed",
    "damaged",
    "excellent",
    "terrible",
    "service",
    "product",
    "quality",
    "support",
    "response",
    "expectations",
    "disappointed",
    "recommend",
    "again",
]
ACCENTED = [
    "café",
    "naïve",
    "résumé",
    "Müller",
    "São",
    "Paulo",
    "jalapeño",
    "crème",
    "brûlée",
    "Zürich",
    "façade",
    "déjà",
    "vu",
    "señora",
    "Ångström",
    "coöperate",
    "piñata",
    "über",
    "Kraków",
    "Łódź",
]
CJK = [
    "患者",
    "発熱",
    "咳",
    "倦怠感",
    "配送が遅れています",
    "返金",
    "アカウント",
    "服务很好",
    "质量",
    "推荐",
    "배송이",
    "늦었습니다",
    "환불",
    "고객",
    "지원",
]
NOVA_SYSTEM = "You triage customer support tickets and answer in one short paragraph."


@dataclass
class Written:
    """What a generator wrote: counts a test can check against the file itself."""

    records: int = 0
    bytes: int = 0
    blank_lines: int = 0
    duplicates: int = 0
    extra_fields: dict[str, int] = field(default_factory=dict)
    non_ascii: int = 0
    cjk: int = 0
    completion_first: int = 0
    images: int = 0


def _words(rng: random.Random, goal: int, pool: list[str]) -> str:
    words: list[str] = []
    length = 0
    while length < goal:
        word = rng.choice(pool)
        words.append(word)
        length += len(word.encode()) + 1
    return " ".join(words)


def clean_prompt_completion(
    path: Path, size_bytes: int, record_bytes: int = 1200, seed: int = 7
) -> Written:
    """ASCII classification prompts, ``{"prompt", "completion"}`` in that order."""
    rng = random.Random(seed)
    out = Written()
    with path.open("w", encoding="utf-8") as f:
        while out.bytes < size_bytes:
            goal = rng.randint(record_bytes // 2, record_bytes * 3 // 2)
            prompt = "Classify the sentiment: " + _words(rng, goal, ENGLISH)
            line = json.dumps({"prompt": prompt, "completion": rng.choice(LABELS)}) + "\n"
            f.write(line)
            out.bytes += len(line)
            out.records += 1
    return out


@dataclass(frozen=True)
class _Line:
    text: str
    script: str  # "ascii", "accented" or "cjk"
    completion_first: bool
    extra: str | None  # "id", "source" or None


def _realistic_record(rng: random.Random, n: int, record_bytes: int) -> _Line:
    goal = rng.randint(record_bytes // 2, record_bytes * 3 // 2)
    script = rng.choices(["cjk", "accented", "ascii"], weights=[10, 20, 70])[0]
    pool = {"cjk": CJK + ENGLISH, "accented": ACCENTED + ENGLISH, "ascii": ENGLISH}[script]
    prompt = "Classify the sentiment: " + _words(rng, goal, pool)
    completion = rng.choice(LABELS)
    completion_first = rng.random() < 0.5
    record = (
        {"completion": completion, "prompt": prompt}
        if completion_first
        else {"prompt": prompt, "completion": completion}
    )
    extra = rng.choices(["id", "source", None], weights=[5, 3, 92])[0]
    if extra == "id":
        record["id"] = f"rec-{n:08d}"
    elif extra == "source":
        record["source"] = rng.choice(["crm-export", "helpdesk", "survey-2024"])
    # Exports differ: some escape non-ASCII (\u00e9), most write UTF-8 as it is.
    text = json.dumps(record, ensure_ascii=rng.random() < 0.2) + "\n"
    return _Line(text, script, completion_first, extra)


def _count(out: Written, line: _Line) -> None:
    out.records += 1
    out.bytes += len(line.text.encode())
    out.non_ascii += line.script != "ascii"
    out.cjk += line.script == "cjk"
    out.completion_first += line.completion_first
    if line.extra:
        out.extra_fields[line.extra] = out.extra_fields.get(line.extra, 0) + 1


def realistic_prompt_completion(
    path: Path, size_bytes: int, record_bytes: int = 1200, seed: int = 7
) -> Written:
    """Prompt/completion as real exports look: extra fields, non-ASCII text, either key
    order, a blank line about every 500 lines, about one exact duplicate in 500."""
    rng = random.Random(seed)
    out = Written(extra_fields={"id": 0, "source": 0})
    recent: list[_Line] = []
    with path.open("w", encoding="utf-8") as f:
        while out.bytes < size_bytes:
            if recent and rng.random() < 0.002:
                line = rng.choice(recent)
                out.duplicates += 1
            else:
                line = _realistic_record(rng, out.records, record_bytes)
                recent = [*recent[-99:], line]
            f.write(line.text)
            _count(out, line)
            if rng.random() < 0.002:
                f.write("\n")
                out.bytes += 1
                out.blank_lines += 1
    return out


def _nova_turn(rng: random.Random, role: str, goal: int, n: int, out: Written) -> dict:
    cjk = rng.random() < 0.1
    out.cjk += cjk  # turns with CJK text
    pool = CJK + ENGLISH if cjk else ENGLISH
    text = f"Ticket {n}: " + _words(rng, goal, pool)
    content: list[dict] = [{"text": text}]
    if role == "user" and rng.random() < 0.02:
        uri = f"s3://data-bucket/training/images/ticket-{n:08d}.png"
        content.append({"image": {"format": "png", "source": {"s3Location": {"uri": uri}}}})
        out.images += 1
    return {"role": role, "content": content}


def nova_conversations(
    path: Path, size_bytes: int, max_records: int = 18_000, seed: int = 7
) -> Written:
    """``bedrock-conversation-2024`` records for Nova Lite: 1 to 3 exchanges, a system prompt
    on most, text with some CJK, an image in a few user turns. The record count stays within
    Nova's 8 to 20,000 samples, so larger files have longer records."""
    rng = random.Random(seed)
    out = Written()
    n_records = max(8, min(max_records, size_bytes // 2_000))
    record_bytes = max(200, size_bytes // n_records)
    with path.open("w", encoding="utf-8") as f:
        while out.records < n_records:
            exchanges = rng.randint(1, 3)
            turn_bytes = max(40, record_bytes // (2 * exchanges) - 50)
            messages = [
                _nova_turn(
                    rng,
                    role,
                    rng.randint(turn_bytes * 2 // 3, turn_bytes * 4 // 3),
                    out.records,
                    out,
                )
                for _ in range(exchanges)
                for role in ("user", "assistant")
            ]
            record: dict = {"schemaVersion": "bedrock-conversation-2024"}
            if rng.random() < 0.8:
                record["system"] = [{"text": NOVA_SYSTEM}]
            record["messages"] = messages
            line = json.dumps(record, ensure_ascii=False) + "\n"
            f.write(line)
            out.bytes += len(line.encode())
            out.records += 1
    return out


GENERATORS = {
    "clean": clean_prompt_completion,
    "realistic": realistic_prompt_completion,
    "nova": nova_conversations,
}
