"""Read a held-out test set (JSONL) into Converse-ready prompts and reference answers.

The formats are the fine-tuning formats the validator knows, so a split of the training
data can serve as the test set unchanged:

- prompt-completion ``{"prompt": "...", "completion": "..."}``: the prompt is one user
  turn, the completion the reference;
- the Converse form ``{"schemaVersion": "bedrock-conversation-2024", "system"?: [{"text"}],
  "messages": [{"role", "content": [{"text"}]}, ...]}``;
- Claude 3 Haiku's form ``{"system"?: "...", "messages": [{"role", "content": "..."}]}``.

For the two conversational forms the last message is the assistant's reference answer and
the messages before it are the prompt, which must start with the user, alternate roles and
end with the user (as ``Converse`` requires). Fields other than these are ignored, so a
test set may carry its own metadata.

Reading streams: one line in memory at a time. A line that cannot be used (not JSON, no
known format, an image or video block, roles out of order, an empty prompt or reference)
is skipped and counted by reason in ``ReadStats``, with the first few line numbers, rather
than failing the evaluation: the validator is where a data set's every problem is
reported. Only text is evaluated; records with media are skipped as ``non-text-content``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypedDict

from lambda_handlers.validation.formats import CONVERSATION_SCHEMA_VERSION

MAX_EXAMPLES = 20
"""How many skipped lines ``ReadStats`` describes one by one."""

SKIP_REASONS = {
    "not-json": "not a UTF-8 JSON document",
    "not-object": "not a JSON object",
    "unknown-format": "neither prompt/completion nor messages",
    "schema-version": f"schemaVersion is not {CONVERSATION_SCHEMA_VERSION!r}",
    "bad-system": "system is not a string or a list of text blocks",
    "bad-message": "a message is not {role, content} with a string or block list",
    "non-text-content": "a content block other than text (image, video, document)",
    "role-order": "roles are not user first, alternating, assistant last",
    "empty-text": "the prompt or the reference is empty",
}
"""Why a line was skipped, by stable code."""


class TextBlock(TypedDict):
    text: str


class Message(TypedDict):
    role: str
    content: list[TextBlock]


@dataclass(frozen=True)
class TestCase:
    """One test record: a Converse-ready prompt and the reference answer.

    ``id`` is ``record_id(line)``: it is the batch inference ``recordId``, so answers are
    matched back to their case by id (Bedrock does not promise to keep the order).
    """

    __test__ = False  # not a pytest test class, despite the name

    id: str
    system: list[str]
    messages: list[Message]
    reference: str
    line: int

    def prompt_text(self) -> str:
        """The prompt as one readable text: the user's text alone for a single turn,
        else one ``role: text`` paragraph per system block and message."""
        if not self.system and len(self.messages) == 1:
            return _text_of(self.messages[0])
        parts = [f"system: {text}" for text in self.system]
        parts += [f"{m['role']}: {_text_of(m)}" for m in self.messages]
        return "\n\n".join(parts)


def _text_of(message: Message) -> str:
    return "".join(block["text"] for block in message["content"])


def record_id(line: int) -> str:
    """The batch ``recordId`` of the record on ``line``: ``L`` and ten digits.

    Eleven alphanumeric characters, which satisfies both the current "Format and upload
    your batch inference data" page (an alphanumeric string) and its earlier wording
    ("11 character alphanumeric string"); AWS's own example ids are eleven (``CALL0000001``).
    """
    if not 1 <= line <= 9_999_999_999:
        raise ValueError(f"line {line} is out of range for a record id")
    return f"L{line:010d}"


@dataclass
class ReadStats:
    """What reading a test set found: lines seen, used, blank and skipped by reason."""

    lines: int = 0
    used: int = 0
    blank: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def nonblank(self, lines: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
        """``(line number from 1, line)`` of each non-blank line, counting all of them."""
        for number, raw in enumerate(lines, start=1):
            self.lines += 1
            line = bytes(raw)
            if not line.strip():
                self.blank += 1
                continue
            yield number, line

    def skip(self, line: int, reason: str) -> None:
        self.skipped[reason] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"line {line}: {reason}: {SKIP_REASONS[reason]}")


class UnusableRecord(ValueError):
    """A test-set line that cannot be evaluated; ``reason`` is a key of ``SKIP_REASONS``."""

    def __init__(self, reason: str):
        super().__init__(f"{reason}: {SKIP_REASONS[reason]}")
        self.reason = reason


def read_test_cases(lines: Iterable[bytes], stats: ReadStats | None = None) -> Iterator[TestCase]:
    """The usable records of a JSONL test set, one line at a time.

    ``lines`` yields the file's lines (a trailing newline is allowed); line numbers count
    from 1, blank lines included. Pass a ``ReadStats`` to learn what was skipped and why.
    """
    stats = stats if stats is not None else ReadStats()
    for number, line in stats.nonblank(lines):
        try:
            case = parse_test_case(line, number)
        except UnusableRecord as unusable:
            stats.skip(number, unusable.reason)
            continue
        stats.used += 1
        yield case


def parse_test_case(line: bytes, number: int) -> TestCase:
    """One line as a ``TestCase``; raises ``UnusableRecord`` naming the skip reason."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):  # JSON and UTF-8 errors are ValueErrors
        raise UnusableRecord("not-json") from None
    if not isinstance(obj, dict):
        raise UnusableRecord("not-object")
    if "messages" in obj:
        return _conversation(obj, number)
    if "prompt" in obj and "completion" in obj:
        return _prompt_completion(obj, number)
    raise UnusableRecord("unknown-format")


def _prompt_completion(obj: dict[str, Any], number: int) -> TestCase:
    prompt, completion = obj["prompt"], obj["completion"]
    if not isinstance(prompt, str) or not isinstance(completion, str):
        raise UnusableRecord("bad-message")
    if not prompt.strip() or not completion.strip():
        raise UnusableRecord("empty-text")
    message: Message = {"role": "user", "content": [{"text": prompt}]}
    return TestCase(record_id(number), [], [message], completion, number)


def _conversation(obj: dict[str, Any], number: int) -> TestCase:
    if "schemaVersion" in obj and obj["schemaVersion"] != CONVERSATION_SCHEMA_VERSION:
        raise UnusableRecord("schema-version")
    system = _system(obj.get("system"))
    raw_messages = obj["messages"]
    if not isinstance(raw_messages, list) or not raw_messages:
        raise UnusableRecord("bad-message")
    messages = [_message(m) for m in raw_messages]
    roles = [m["role"] for m in messages]
    expected = ["user" if i % 2 == 0 else "assistant" for i in range(len(roles))]
    if len(roles) < 2 or roles != expected:
        raise UnusableRecord("role-order")
    reference = _text_of(messages[-1])
    return TestCase(record_id(number), system, messages[:-1], reference, number)


def _system(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    if not isinstance(value, list):
        raise UnusableRecord("bad-system")
    texts = []
    for block in value:
        if not isinstance(block, dict) or not isinstance(block.get("text"), str):
            raise UnusableRecord("bad-system")
        if block["text"].strip():
            texts.append(block["text"])
    return texts


def _message(value: Any) -> Message:
    if not isinstance(value, dict) or value.get("role") not in ("user", "assistant"):
        raise UnusableRecord("bad-message")
    content = value.get("content")
    if isinstance(content, str):
        texts = [content]
    elif isinstance(content, list):
        texts = []
        for block in content:
            if not isinstance(block, dict):
                raise UnusableRecord("bad-message")
            if set(block) != {"text"}:
                raise UnusableRecord("non-text-content")
            if not isinstance(block["text"], str):
                raise UnusableRecord("bad-message")
            texts.append(block["text"])
    else:
        raise UnusableRecord("bad-message")
    # Converse rejects blank text blocks; a message with no text left is unusable.
    blocks: list[TextBlock] = [{"text": t} for t in texts if t.strip()]
    if not blocks:
        raise UnusableRecord("empty-text")
    return {"role": value["role"], "content": blocks}
