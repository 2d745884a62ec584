"""Conversation (and continued pre-training) records the fast path takes without the
careful path's checkers.

``formats.py`` names every problem a record has, at a cost per message and per block. Most
records have none: these functions recognise such a record of the common shape (text blocks
only, roles in order, no field the format does not know) in one lean pass, and return what
the engine needs of it. Any record they do not recognise (``None``) goes through the
careful path, so a finding is always the careful path's. What they return equals what
``formats.py`` computes for the same record: the texts (for sizes and the reserved-word
check, which the engine does for a whole block at once), the label, and the number of
object members (for the key-given-twice check).
"""

from __future__ import annotations

from typing import Any

from lambda_handlers.validation.formats import CONVERSATION_SCHEMA_VERSION
from lambda_handlers.validation.sniff import member_count

_CONVERSATION_KEYS = frozenset({"schemaVersion", "system", "messages"})
_CLAUDE_KEYS = frozenset({"system", "messages"})
_ROLES = ("user", "assistant")


class Simple:
    """A record that breaks no rule: its texts, label and object members, and its
    fingerprint where the format's is not that of the whole record."""

    __slots__ = ("fingerprint", "label", "members", "texts")

    def __init__(
        self, texts: list[str], label: str | None, members: int, fingerprint: int | None = None
    ) -> None:
        self.texts = texts
        self.label = label
        self.members = members
        self.fingerprint = fingerprint


def _turns(messages: Any, texts: list[str], block_text: bool) -> tuple[str | None, int] | None:
    """``(label, members)`` of messages from the user and the assistant in turn, the user
    first and the assistant last, each ``{"role", "content"}`` with non-blank text
    (``block_text``: content is a list of ``{"text"}`` blocks; else a string)."""
    if type(messages) is not list or not messages or len(messages) % 2:
        return None
    members = 0
    label: str | None = None
    for i, message in enumerate(messages):
        if type(message) is not dict or len(message) != 2 or message.get("role") != _ROLES[i % 2]:
            return None
        content = message.get("content")
        if block_text:
            if type(content) is not list or not content:
                return None
            text: str | None = None
            for block in content:
                if type(block) is not dict or len(block) != 1:
                    return None
                value = block.get("text")
                if type(value) is not str or not value.strip():
                    return None
                texts.append(value)
                text = value if text is None else text + value
            members += 2 + len(content)
        else:
            if type(content) is not str or not content.strip():
                return None
            texts.append(content)
            text = content
            members += 2
        label = text
    return label, members


def bedrock_conversation(obj: dict[str, Any], system_blocks: int | None) -> Simple | None:
    """A text-only ``bedrock-conversation`` record that breaks no rule, or ``None``."""
    if obj.get("schemaVersion") != CONVERSATION_SCHEMA_VERSION or not (
        obj.keys() <= _CONVERSATION_KEYS
    ):
        return None
    texts: list[str] = []
    members = len(obj)
    if "system" in obj:
        system = obj["system"]
        if type(system) is not list:
            return None
        if system_blocks is not None and len(system) != system_blocks:
            return None
        for block in system:
            if type(block) is not dict or len(block) != 1 or type(block.get("text")) is not str:
                return None
            texts.append(block["text"])
        members += len(system)
    turns = _turns(obj.get("messages"), texts, block_text=True)
    if turns is None:
        return None
    return Simple(texts, turns[0], members + turns[1])


def claude_messages(obj: dict[str, Any], system_blocks: int | None) -> Simple | None:
    """A ``claude-messages`` record that breaks no rule, or ``None``."""
    del system_blocks  # a plain string here
    if not (obj.keys() <= _CLAUDE_KEYS):
        return None
    texts: list[str] = []
    if "system" in obj:
        system = obj["system"]
        if type(system) is not str or not system.strip():
            return None
        texts.append(system)
    turns = _turns(obj.get("messages"), texts, block_text=False)
    if turns is None:
        return None
    return Simple(texts, turns[0], len(obj) + turns[1])


def _plain_message(message: Any, role: str, texts: list[str]) -> bool:
    """``{"role": role, "content": "<non-blank string>"}``, its text appended to ``texts``."""
    if type(message) is not dict or len(message) != 2 or message.get("role") != role:
        return False
    content = message.get("content")
    if type(content) is not str or not content.strip():
        return False
    texts.append(content)
    return True


def rft_openai(obj: dict[str, Any], system_blocks: int | None) -> Simple | None:
    """An ``rft-openai`` record that breaks no rule, or ``None``: a reference answer, a
    string id if any, and messages of an optional system prompt then the user and the
    assistant in turn, the user first and last. Other fields go to the grader."""
    del system_blocks
    if "reference_answer" not in obj or type(obj.get("id", "")) is not str:
        return None
    messages = obj.get("messages")
    if type(messages) is not list or not messages:
        return None
    texts: list[str] = []
    first = messages[0]
    start = 1 if type(first) is dict and first.get("role") == "system" else 0
    if start and not _plain_message(first, "system", texts):
        return None
    if not (len(messages) - start) % 2:
        return None
    for i, message in enumerate(messages[start:]):
        if not _plain_message(message, _ROLES[i % 2], texts):
            return None
    others = sum(member_count(value) for key, value in obj.items() if key != "messages")
    return Simple(texts, None, len(obj) + 2 * len(messages) + others)


def continued_pretraining(obj: dict[str, Any], system_blocks: int | None) -> Simple | None:
    """A continued pre-training record, ``{"input": "<non-blank text>"}``, or ``None``."""
    del system_blocks
    text = obj.get("input")
    if len(obj) != 1 or type(text) is not str or not text.strip():
        return None
    return Simple([text], None, 1, hash(text))


SIMPLE = {
    "continued-pretraining": continued_pretraining,
    "bedrock-conversation": bedrock_conversation,
    "claude-messages": claude_messages,
    "rft-openai": rft_openai,
}
"""The formats with a lean check for records that break no rule."""
