"""Record checks per dataset format.

Each checker takes one decoded JSON object and reports findings with the JSON path of
the field. It returns what the engine aggregates (text size, a label for the balance
check, a fingerprint for duplicates and leakage), or ``None`` when the record is
unusable. Which format applies to which model and approach is data
(``lambda_handlers/data/dataset_rules.json``), not code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from lambda_handlers.validation.findings import CODES, Findings, Severity
from lambda_handlers.validation.tokens import utf8_length

CONVERSATION_SCHEMA_VERSION = "bedrock-conversation-2024"
_encoder = msgspec.json.Encoder(order="sorted")


@dataclass(frozen=True)
class RecordResult:
    text_bytes: int
    chars: int
    label: str | None
    fingerprint: int
    media: frozenset[str] = frozenset()


@dataclass
class RecordContext:
    """Where a record is, and what the model allows (from its dataset rules)."""

    file: str
    line: int
    findings: Findings
    content_types: tuple[str, ...] = ("text",)
    unknown_code: str = "unknown-field"
    reserved: tuple[str, ...] = ()
    reserved_ignore_case: bool = False
    media: dict[str, Any] | None = None
    multi_turn: bool = True
    system_blocks: int | None = None
    ok: bool = True
    role: str = ""
    media_seen: dict[str, int] = field(default_factory=dict)

    def report(self, code: str, path: str, message: str) -> None:
        if CODES[code].severity is Severity.ERROR:
            self.ok = False
        self.findings.add(code, self.file, self.line, path, message)

    def check_reserved(self, text: str, path: str) -> None:
        if not self.reserved:
            return
        haystack = text.lower() if self.reserved_ignore_case else text
        for word in self.reserved:
            if word in haystack:
                shown = word.replace("\n", "\\n")
                self.report(
                    "reserved-keyword", path, f"contains the reserved keyword {shown!r}; reword it"
                )
                return


def _type_name(value: Any) -> str:
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _text(
    obj: dict[str, Any], key: str, path: str, ctx: RecordContext, required: bool = True
) -> str | None:
    """A required (or optional) non-empty string field."""
    if key not in obj:
        if required:
            ctx.report("missing-field", f"{path}.{key}", f"required field {key!r} is missing")
        return None
    value = obj[key]
    if not isinstance(value, str):
        ctx.report(
            "wrong-type", f"{path}.{key}", f"{key!r} must be a string, got {_type_name(value)}"
        )
        return None
    if not value.strip():
        ctx.report("empty-text", f"{path}.{key}", f"{key!r} is empty")
        return None
    return value


def _unknown(obj: dict[str, Any], allowed: set[str], path: str, ctx: RecordContext) -> None:
    code = ctx.unknown_code
    for key in obj:
        if key not in allowed:
            allowed_text = ", ".join(sorted(allowed))
            ctx.report(
                code,
                f"{path}.{key}",
                f"field {key!r} is not part of this format (fields: {allowed_text})",
            )


def _fingerprint(obj: Any) -> int:
    return hash(_encoder.encode(obj))


# -- prompt / completion ------------------------------------------------------------


def check_prompt_completion(obj: dict[str, Any], ctx: RecordContext) -> RecordResult | None:
    prompt = _text(obj, "prompt", "$", ctx)
    completion = _text(obj, "completion", "$", ctx)
    _unknown(obj, {"prompt", "completion"}, "$", ctx)
    if prompt is None or completion is None:
        return None
    return RecordResult(
        utf8_length(prompt) + utf8_length(completion),
        len(prompt) + len(completion),
        completion,
        prompt_completion_fingerprint(prompt, completion),
    )


def prompt_completion_fingerprint(prompt: str, completion: str) -> int:
    """The same value whether the record came through the fast or the careful path."""
    return hash((prompt, completion))


# -- continued pre-training -----------------------------------------------------------


def check_continued_pretraining(obj: dict[str, Any], ctx: RecordContext) -> RecordResult | None:
    if "input" not in obj and "text" in obj:
        ctx.report(
            "missing-field",
            "$.input",
            "continued pre-training records are {\"input\": ...}; found 'text'",
        )
        return None
    text = _text(obj, "input", "$", ctx)
    _unknown(obj, {"input"}, "$", ctx)
    if text is None:
        return None
    return RecordResult(utf8_length(text), len(text), None, hash(text))


# -- conversations ---------------------------------------------------------------------


def _roles_in_order(roles: list[str], ctx: RecordContext, *, last: str | None, path: str) -> None:
    if not roles:
        return
    if roles[0] != "user":
        ctx.report(
            "role-order",
            f"{path}[0].role",
            f"the first message must be from the user, got {roles[0]!r}",
        )
        return
    for i in range(1, len(roles)):
        if roles[i] == roles[i - 1]:
            ctx.report(
                "role-order",
                f"{path}[{i}].role",
                f"roles must alternate user/assistant; messages {i - 1} and {i} are both {roles[i]!r}",
            )
            return
    if last and roles[-1] != last:
        ctx.report(
            "role-order",
            f"{path}[{len(roles) - 1}].role",
            f"the last message must be from the {last}, got {roles[-1]!r}",
        )


def _check_messages(
    obj: dict[str, Any],
    ctx: RecordContext,
    *,
    content_parser: Callable[[Any, str, RecordContext], tuple[int, int, str | None]],
    allowed_roles: tuple[str, ...],
) -> tuple[int, int, str | None, list[str]] | None:
    messages = obj.get("messages")
    if "messages" not in obj:
        ctx.report("missing-field", "$.messages", "required field 'messages' is missing")
        return None
    if not isinstance(messages, list):
        ctx.report(
            "wrong-type", "$.messages", f"'messages' must be an array, got {_type_name(messages)}"
        )
        return None
    if not messages:
        ctx.report("empty-text", "$.messages", "'messages' is empty")
        return None
    total_bytes = total_chars = 0
    last_text: str | None = None
    roles: list[str] = []
    for i, message in enumerate(messages):
        path = f"$.messages[{i}]"
        if not isinstance(message, dict):
            ctx.report(
                "wrong-type", path, f"a message must be an object, got {_type_name(message)}"
            )
            return None
        role = message.get("role")
        if role == "system" and "system" not in allowed_roles:
            ctx.report(
                "system-misplaced",
                f"{path}.role",
                "a system prompt goes in the top-level 'system' field",
            )
            return None
        if role not in allowed_roles:
            ctx.report(
                "invalid-value",
                f"{path}.role",
                f"role must be one of {', '.join(allowed_roles)}; got {role!r}",
            )
            return None
        if "content" not in message:
            ctx.report("missing-field", f"{path}.content", "required field 'content' is missing")
            return None
        ctx.role = role
        parsed = content_parser(message["content"], f"{path}.content", ctx)
        total_bytes += parsed[0]
        total_chars += parsed[1]
        if role == "assistant":
            last_text = parsed[2]
        roles.append(role)
    return total_bytes, total_chars, last_text, roles


def _plain_content(content: Any, path: str, ctx: RecordContext) -> tuple[int, int, str | None]:
    if not isinstance(content, str):
        ctx.report(
            "unsupported-content", path, f"content must be a string here, got {_type_name(content)}"
        )
        return 0, 0, None
    if not content.strip():
        ctx.report("empty-text", path, "content is empty")
        return 0, 0, None
    ctx.check_reserved(content, path)
    return utf8_length(content), len(content), content


def _converse_content(content: Any, path: str, ctx: RecordContext) -> tuple[int, int, str | None]:
    if not isinstance(content, list):
        ctx.report(
            "wrong-type", path, f"content must be an array of blocks, got {_type_name(content)}"
        )
        return 0, 0, None
    if not content:
        ctx.report("empty-text", path, "content has no blocks")
        return 0, 0, None
    n_bytes = n_chars = 0
    text: str | None = None
    for j, block in enumerate(content):
        block_path = f"{path}[{j}]"
        if not isinstance(block, dict) or len(block) != 1:
            ctx.report(
                "wrong-type",
                block_path,
                "a content block is an object with exactly one of text, image, video",
            )
            continue
        [(kind, value)] = block.items()
        if kind not in ctx.content_types:
            ctx.report(
                "unsupported-content",
                f"{block_path}.{kind}",
                f"{kind!r} content is not supported for this model (allowed: {', '.join(ctx.content_types)})",
            )
            continue
        if kind == "text":
            if not isinstance(value, str):
                ctx.report(
                    "wrong-type",
                    f"{block_path}.text",
                    f"text must be a string, got {_type_name(value)}",
                )
            elif not value.strip():
                ctx.report("empty-text", f"{block_path}.text", "text is empty")
            else:
                ctx.check_reserved(value, f"{block_path}.text")
                n_bytes += utf8_length(value)
                n_chars += len(value)
                text = value if text is None else text + value
        elif not isinstance(value, dict):
            ctx.report(
                "wrong-type",
                f"{block_path}.{kind}",
                f"{kind} must be an object, got {_type_name(value)}",
            )
        elif kind in ("image", "video"):
            _media_block(kind, value, f"{block_path}.{kind}", ctx)
    return n_bytes, n_chars, text


def _media_block(kind: str, value: dict[str, Any], path: str, ctx: RecordContext) -> None:
    """An image or video block against the model's media rules (role, format, count)."""
    rules = (ctx.media or {}).get(kind) or {}
    only_in = (ctx.media or {}).get("imagesOnlyInRole")
    if only_in and ctx.role != only_in:
        ctx.report(
            "unsupported-content", path, f"{kind} content is allowed only in {only_in} turns"
        )
        return
    _media_source(value, path, ctx)
    formats = rules.get("formats")
    if "format" not in value:
        ctx.report("missing-field", f"{path}.format", "required field 'format' is missing")
    elif formats and value.get("format") not in formats:
        ctx.report(
            "invalid-value",
            f"{path}.format",
            f"{kind} format must be one of {', '.join(formats)}; got {value.get('format')!r}",
        )
    ctx.media_seen[kind] = ctx.media_seen.get(kind, 0) + 1
    limit = rules.get("maxPerRecord")
    if limit is not None and ctx.media_seen[kind] == limit + 1:
        ctx.report(
            "media-limit",
            path,
            f"more than {limit} {kind}{'s' if limit != 1 else ''} in one record",
        )


def _media_source(value: dict[str, Any], path: str, ctx: RecordContext) -> None:
    """``source.s3Location.uri``: present and an s3:// URI (AWS's Nova and Llama validators),
    of the characters the model's rules allow (Nova: letters, digits, _ - / .)."""
    source = value.get("source")
    location = source.get("s3Location") if isinstance(source, dict) else None
    uri = location.get("uri") if isinstance(location, dict) else None
    where = f"{path}.source.s3Location.uri"
    if not isinstance(uri, str):
        ctx.report(
            "missing-field",
            where,
            'media needs "source": {"s3Location": {"uri": "s3://bucket/key"}}',
        )
    elif not uri.startswith("s3://"):
        ctx.report("invalid-value", where, f"uri must start with 's3://'; got {uri!r}")
    else:
        pattern = (ctx.media or {}).get("uriPattern")
        if pattern and not re.fullmatch(pattern, uri):
            ctx.report(
                "invalid-value",
                where,
                f"uri {uri!r} has characters the model does not accept (allowed: {pattern})",
            )


def _system_converse(obj: dict[str, Any], ctx: RecordContext) -> tuple[int, int]:
    if "system" not in obj:
        return 0, 0
    system = obj["system"]
    if not isinstance(system, list):
        ctx.report(
            "wrong-type",
            "$.system",
            f"'system' must be an array of text blocks, got {_type_name(system)}",
        )
        return 0, 0
    if ctx.system_blocks is not None and len(system) != ctx.system_blocks:
        ctx.report(
            "invalid-value",
            "$.system",
            f"'system' must hold exactly {ctx.system_blocks} text block(s) for this model; "
            f"got {len(system)}",
        )
    n_bytes = n_chars = 0
    for j, block in enumerate(system):
        if (
            not isinstance(block, dict)
            or set(block) != {"text"}
            or not isinstance(block["text"], str)
        ):
            ctx.report("wrong-type", f"$.system[{j}]", 'a system block is {"text": "..."}')
            continue
        ctx.check_reserved(block["text"], f"$.system[{j}].text")
        n_bytes += utf8_length(block["text"])
        n_chars += len(block["text"])
    return n_bytes, n_chars


def _fine_tuning_turns(
    obj: dict[str, Any],
    ctx: RecordContext,
    content_parser: Callable[[Any, str, RecordContext], tuple[int, int, str | None]],
) -> tuple[int, int, str | None] | None:
    """Messages of a fine-tuning conversation: user first, alternating, assistant last."""
    parsed = _check_messages(
        obj, ctx, content_parser=content_parser, allowed_roles=("user", "assistant")
    )
    if parsed is None:
        return None
    n_bytes, n_chars, label, roles = parsed
    _roles_in_order(roles, ctx, last="assistant", path="$.messages")
    return n_bytes, n_chars, label


def check_claude_messages(obj: dict[str, Any], ctx: RecordContext) -> RecordResult | None:
    system_bytes = system_chars = 0
    if "system" in obj:
        system = _text(obj, "system", "$", ctx)
        if system is not None:
            ctx.check_reserved(system, "$.system")
            system_bytes, system_chars = utf8_length(system), len(system)
    _unknown(obj, {"system", "messages"}, "$", ctx)
    turns = _fine_tuning_turns(obj, ctx, _plain_content)
    if turns is None:
        return None
    n_bytes, n_chars, label = turns
    return RecordResult(n_bytes + system_bytes, n_chars + system_chars, label, _fingerprint(obj))


def _schema_version(obj: dict[str, Any], ctx: RecordContext) -> None:
    version = obj.get("schemaVersion")
    if "schemaVersion" not in obj:
        ctx.report(
            "missing-field",
            "$.schemaVersion",
            f"required field 'schemaVersion' is missing (use {CONVERSATION_SCHEMA_VERSION!r})",
        )
    elif version != CONVERSATION_SCHEMA_VERSION:
        ctx.report(
            "invalid-value",
            "$.schemaVersion",
            f"schemaVersion must be {CONVERSATION_SCHEMA_VERSION!r}, got {version!r}",
        )


def check_bedrock_conversation(obj: dict[str, Any], ctx: RecordContext) -> RecordResult | None:
    _schema_version(obj, ctx)
    system_bytes, system_chars = _system_converse(obj, ctx)
    _unknown(obj, {"schemaVersion", "system", "messages"}, "$", ctx)
    turns = _fine_tuning_turns(obj, ctx, _converse_content)
    if turns is None:
        return None
    n_bytes, n_chars, label = turns
    if ctx.media_seen.get("image") and ctx.media_seen.get("video"):
        ctx.report("media-limit", "$.messages", "a record holds images or a video, not both")
    return RecordResult(
        n_bytes + system_bytes,
        n_chars + system_chars,
        label,
        _fingerprint(obj),
        frozenset(ctx.media_seen),
    )


def check_distillation_prompts(obj: dict[str, Any], ctx: RecordContext) -> RecordResult | None:
    _schema_version(obj, ctx)
    system_bytes, system_chars = _system_converse(obj, ctx)
    _unknown(obj, {"schemaVersion", "system", "messages"}, "$", ctx)
    parsed = _check_messages(
        obj, ctx, content_parser=_converse_content, allowed_roles=("user", "assistant")
    )
    if parsed is None:
        return None
    n_bytes, n_chars, _, roles = parsed
    # A prompt, optionally labeled with the desired answer; multi-turn only for some students.
    _roles_in_order(roles, ctx, last=None, path="$.messages")
    if not ctx.multi_turn and len(roles) > 2:
        ctx.report(
            "role-order",
            "$.messages[2]",
            "this student model takes one user prompt and an optional answer",
        )
    return RecordResult(n_bytes + system_bytes, n_chars + system_chars, None, _fingerprint(obj))


def check_rft_openai(obj: dict[str, Any], ctx: RecordContext) -> RecordResult | None:
    # Fields other than messages, reference_answer and id are passed to the grader.
    if "reference_answer" not in obj:
        ctx.report(
            "missing-field", "$.reference_answer", "required field 'reference_answer' is missing"
        )
    if "id" in obj and not isinstance(obj["id"], str):
        ctx.report("wrong-type", "$.id", f"'id' must be a string, got {_type_name(obj['id'])}")
    parsed = _check_messages(
        obj,
        ctx,
        content_parser=_plain_content,
        allowed_roles=("system", "user", "assistant"),
    )
    if parsed is None:
        return None
    n_bytes, n_chars, _, roles = parsed
    if "system" in roles[1:]:
        ctx.report(
            "system-misplaced", f"$.messages[{roles.index('system', 1)}].role", "system goes first"
        )
    conversation = [r for r in roles if r != "system"]
    _roles_in_order(conversation, ctx, last="user", path="$.messages")
    if not ctx.ok:
        return None
    return RecordResult(n_bytes, n_chars, None, _fingerprint(obj))


def check_preference_pairs(obj: dict[str, Any], ctx: RecordContext) -> RecordResult | None:
    prompt = _text(obj, "prompt", "$", ctx)
    chosen = _text(obj, "chosen", "$", ctx)
    rejected = _text(obj, "rejected", "$", ctx)
    if "score" in obj:
        score = obj["score"]
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            ctx.report(
                "wrong-type", "$.score", f"'score' must be a number, got {_type_name(score)}"
            )
        elif not 0.0 <= score <= 1.0:
            ctx.report(
                "invalid-value", "$.score", f"'score' must be between 0.0 and 1.0, got {score}"
            )
    _unknown(obj, {"prompt", "chosen", "rejected", "score"}, "$", ctx)
    if prompt is None or chosen is None or rejected is None:
        return None
    if chosen == rejected:
        ctx.report(
            "same-chosen-rejected", "$.rejected", "'chosen' and 'rejected' are the same answer"
        )
    total = utf8_length(prompt) + max(utf8_length(chosen), utf8_length(rejected))
    return RecordResult(
        total, len(prompt) + len(chosen) + len(rejected), None, hash((prompt, chosen, rejected))
    )


CHECKERS: dict[str, Callable[[dict[str, Any], RecordContext], RecordResult | None]] = {
    "prompt-completion": check_prompt_completion,
    "continued-pretraining": check_continued_pretraining,
    "claude-messages": check_claude_messages,
    "bedrock-conversation": check_bedrock_conversation,
    "distillation-prompts": check_distillation_prompts,
    "rft-openai": check_rft_openai,
    "preference-pairs": check_preference_pairs,
}
