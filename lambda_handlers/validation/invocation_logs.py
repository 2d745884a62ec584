"""Bedrock invocation logs as distillation training data.

Pure Python, importable without AWS (``list_log_sources`` takes the S3 client it uses).

* ``trainingDataConfig.invocationLogsConfig`` and its ``requestMetadataFilters`` are checked
  against the limits of botocore's service model; ``matches_filters`` selects records as
  Bedrock does;
* the invocation logs themselves are streamed from S3 (gzip-compressed JSON Lines) or files,
  keeping the records the filters select and reporting every problem as a finding;
* ``list_log_sources`` lists the log objects under an S3 prefix.

The limits of log input (record counts, operations, schema type) are data:
``lambda_handlers/data/distillation.json``. The teacher -> student rules: ``distillation.py``.
"""

from __future__ import annotations

import contextlib
import re
import zlib
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import msgspec

from lambda_handlers.common import catalogue
from lambda_handlers.validation.distillation import Teacher, find_teacher, raw_data, teachers
from lambda_handlers.validation.findings import Findings
from lambda_handlers.validation.formats import RecordContext, _type_name
from lambda_handlers.validation.sources import ByteSource

LOGS_PATH = "trainingDataConfig.invocationLogsConfig"
FILTERS_PATH = f"{LOGS_PATH}.requestMetadataFilters"

# The shapes of botocore 1.44.8's bedrock service model (tests compare them with botocore):
# RequestMetadataFilters is a union of equals / notEquals (RequestMetadataMap) and andAll /
# orAll (RequestMetadataFiltersList: 1-16 RequestMetadataBaseFilters). RequestMetadataMap
# holds min 1, max 1 entry; keys are 1-256 and values 0-256 characters of the patterns below.
FILTER_MEMBERS = ("equals", "notEquals", "andAll", "orAll")
BASE_FILTER_MEMBERS = ("equals", "notEquals")
MIN_FILTER_ITEMS = 1
MAX_FILTER_ITEMS = 16
MAX_FILTER_KEY_CHARS = 256
MAX_FILTER_VALUE_CHARS = 256
FILTER_KEY_PATTERN = r"[a-zA-Z0-9\s._:/=+$@-]{1,256}"
FILTER_VALUE_PATTERN = r"[a-zA-Z0-9\s._:/=+$@-]{0,256}"
# InvocationLogSource is a union whose only member is s3Uri (1-1024 characters).
S3_URI_PATTERN = (
    r"s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?"
)
MAX_S3_URI_CHARS = 1024

_FILTER_KEY = re.compile(FILTER_KEY_PATTERN, re.ASCII)
_FILTER_VALUE = re.compile(FILTER_VALUE_PATTERN, re.ASCII)
_S3_URI = re.compile(S3_URI_PATTERN)
_ALLOWED_CHARS = "letters, digits, whitespace and . _ : / = + $ @ -"

_GZIP_MAGIC = b"\x1f\x8b"
_TEXT_KEYS = frozenset({"text", "generation", "outputText", "completion"})
_decoder = msgspec.json.Decoder()


# -- requestMetadataFilters ------------------------------------------------------------


def _check_map(value: Any, path: str) -> list[str]:
    """A RequestMetadataMap: exactly one key/value pair of strings within the limits."""
    if not isinstance(value, Mapping):
        return [f"{path}: must be an object with one key and its value, got {_type_name(value)}"]
    if len(value) != 1:
        return [
            f"{path}: holds exactly one key/value pair, got {len(value)} (put several "
            "conditions in andAll or orAll, one pair per item)"
        ]
    [(key, val)] = value.items()
    problems: list[str] = []
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_FILTER_KEY_CHARS:
        problems.append(f"{path}: the key must be 1 to {MAX_FILTER_KEY_CHARS} characters")
    elif not _FILTER_KEY.fullmatch(key):
        problems.append(f"{path}: key {key!r} may contain only {_ALLOWED_CHARS}")
    if not isinstance(val, str):
        problems.append(f"{path}.{key}: the value must be a string, got {_type_name(val)}")
    elif len(val) > MAX_FILTER_VALUE_CHARS:
        problems.append(
            f"{path}.{key}: the value is {len(val)} characters; at most {MAX_FILTER_VALUE_CHARS}"
        )
    elif not _FILTER_VALUE.fullmatch(val):
        problems.append(f"{path}.{key}: value {val!r} may contain only {_ALLOWED_CHARS}")
    return problems


def _check_members(value: Mapping[Any, Any], members: tuple[str, ...], path: str) -> list[str]:
    """Unknown members, and exactly one member set (a union)."""
    problems = [
        f"{path}.{key}: unknown member; allowed: {', '.join(members)}"
        for key in value
        if key not in members
    ]
    present = [m for m in members if value.get(m) is not None]
    if len(present) != 1:
        got = "none is set" if not present else f"{' and '.join(present)} are set"
        problems.append(f"{path}: set exactly one of {', '.join(members)}; {got}")
    return problems


def check_request_metadata_filters(filters: Any, path: str = FILTERS_PATH) -> list[str]:
    """Problems with ``invocationLogsConfig.requestMetadataFilters``, each with its JSON path.

    The rules of botocore 1.44.8's service model (shapes RequestMetadataFilters,
    RequestMetadataBaseFilters, RequestMetadataMap):

    * the filter is a union: exactly one of ``equals``, ``notEquals``, ``andAll``, ``orAll``;
    * ``equals`` and ``notEquals`` are maps of exactly one entry (min 1, max 1);
    * ``andAll`` and ``orAll`` hold 1 to 16 base filters;
    * a base filter has ``equals`` and ``notEquals`` only. The service model does not mark it
      as a union, but the user guide says one operator per filter, never combined, so each
      item must set exactly one of them, with one entry;
    * keys are 1-256 characters of ``[a-zA-Z0-9\\s._:/=+$@-]``, values 0-256 of the same set.

    botocore's client-side validator checks only the top-level union and the minimums; the
    one-entry maximum, the base-filter rule and the patterns are left to the service.
    """
    if not isinstance(filters, Mapping):
        return [
            f"{path}: must be an object with exactly one of {', '.join(FILTER_MEMBERS)}, got "
            f"{_type_name(filters)}"
        ]
    problems = _check_members(filters, FILTER_MEMBERS, path)
    for member in ("equals", "notEquals"):
        if filters.get(member) is not None:
            problems.extend(_check_map(filters[member], f"{path}.{member}"))
    for member in ("andAll", "orAll"):
        items = filters.get(member)
        if items is None:
            continue
        where = f"{path}.{member}"
        if not isinstance(items, list):
            problems.append(f"{where}: must be a list of filters, got {_type_name(items)}")
            continue
        if not MIN_FILTER_ITEMS <= len(items) <= MAX_FILTER_ITEMS:
            problems.append(
                f"{where}: holds {MIN_FILTER_ITEMS} to {MAX_FILTER_ITEMS} filters, got {len(items)}"
            )
        for i, item in enumerate(items):
            item_path = f"{where}[{i}]"
            if not isinstance(item, Mapping):
                problems.append(
                    f"{item_path}: must be an object with equals or notEquals, got "
                    f"{_type_name(item)}"
                )
                continue
            problems.extend(_check_members(item, BASE_FILTER_MEMBERS, item_path))
            for base in BASE_FILTER_MEMBERS:
                if item.get(base) is not None:
                    problems.extend(_check_map(item[base], f"{item_path}.{base}"))
    return problems


def _condition_holds(kind: str, mapping: Any, metadata: Mapping[str, Any]) -> bool:
    if not isinstance(mapping, Mapping):
        return False
    if kind == "equals":
        return all(key in metadata and metadata[key] == value for key, value in mapping.items())
    return all(key not in metadata or metadata[key] != value for key, value in mapping.items())


def _base_holds(item: Any, metadata: Mapping[str, Any]) -> bool:
    if not isinstance(item, Mapping):
        return False
    return all(
        _condition_holds(kind, item[kind], metadata)
        for kind in BASE_FILTER_MEMBERS
        if item.get(kind) is not None
    )


def matches_filters(request_metadata: Mapping[str, Any] | None, filters: Any) -> bool:
    """Whether a log record's ``requestMetadata`` is selected by ``requestMetadataFilters``.

    ``equals``: the key is present with that value; ``notEquals``: the key is absent or has
    another value; ``andAll``: every item holds; ``orAll``: at least one item holds. No
    filters select every record. Meant for filters that pass
    ``check_request_metadata_filters``; for others every member present must hold.
    """
    if filters is None:
        return True
    metadata = request_metadata or {}
    checks: list[bool] = []
    for kind in BASE_FILTER_MEMBERS:
        if filters.get(kind) is not None:
            checks.append(_condition_holds(kind, filters[kind], metadata))
    if filters.get("andAll") is not None:
        checks.append(all(_base_holds(item, metadata) for item in filters["andAll"]))
    if filters.get("orAll") is not None:
        checks.append(any(_base_holds(item, metadata) for item in filters["orAll"]))
    return all(checks)


def check_invocation_logs_config(config: Any, path: str = LOGS_PATH) -> list[str]:
    """Problems with ``trainingDataConfig.invocationLogsConfig``, each with its JSON path.

    ``usePromptResponse`` is an optional boolean (default false); ``invocationLogSource`` is
    required and is exactly ``{"s3Uri": "s3://bucket/prefix"}`` (a union with one member,
    1-1024 characters, botocore's S3Uri pattern); the URI is a prefix under which Bedrock
    reads every log object. ``requestMetadataFilters`` is checked by
    ``check_request_metadata_filters``.
    """
    if not isinstance(config, Mapping):
        return [f"{path}: must be an object, got {_type_name(config)}"]
    known = ("usePromptResponse", "invocationLogSource", "requestMetadataFilters")
    problems = [
        f"{path}.{key}: unknown member; allowed: {', '.join(known)}"
        for key in config
        if key not in known
    ]
    use = config.get("usePromptResponse")
    if use is not None and not isinstance(use, bool):
        problems.append(f"{path}.usePromptResponse: must be true or false, got {use!r}")
    source = config.get("invocationLogSource")
    where = f"{path}.invocationLogSource"
    if source is None:
        problems.append(f'{where}: required, {{"s3Uri": "s3://bucket/prefix"}}')
    elif not isinstance(source, Mapping):
        problems.append(f'{where}: must be {{"s3Uri": "s3://..."}}, got {_type_name(source)}')
    else:
        problems.extend(
            f"{where}.{key}: unknown member; the only member is s3Uri"
            for key in source
            if key != "s3Uri"
        )
        uri = source.get("s3Uri")
        if uri is None:
            problems.append(f"{where}.s3Uri: required, the S3 prefix holding the logs")
        elif not isinstance(uri, str):
            problems.append(f"{where}.s3Uri: must be a string, got {_type_name(uri)}")
        elif not uri.startswith("s3://"):
            problems.append(f"{where}.s3Uri: {uri!r} must start with s3://")
        elif len(uri) > MAX_S3_URI_CHARS:
            problems.append(f"{where}.s3Uri: {len(uri)} characters; at most {MAX_S3_URI_CHARS}")
        elif not _S3_URI.fullmatch(uri):
            problems.append(
                f"{where}.s3Uri: {uri!r} is not a valid S3 URI (lower-case bucket name; key "
                "segments of letters, digits and - ! _ * ' ( ) .)"
            )
    if config.get("requestMetadataFilters") is not None:
        problems.extend(
            check_request_metadata_filters(
                config["requestMetadataFilters"], f"{path}.requestMetadataFilters"
            )
        )
    return problems


# -- invocation logs -------------------------------------------------------------------


@dataclass
class InvocationLogStats:
    """What a scan of invocation logs found. The caller checks the minimum and maximum."""

    files: int = 0
    compressed_files: int = 0
    bytes_read: int = 0  # as stored (compressed)
    decompressed_bytes: int = 0
    records: int = 0  # non-blank lines
    matching: int = 0  # records the filters select
    usable: int = 0  # matching records without an error finding
    teacher_records: int = 0  # usable records whose modelId is the teacher (if one was given)
    offloaded_bodies: int = 0  # matching records with a body in a separate S3 object (unchecked)
    stopped_early: bool = False  # max_records reached: the sources were not read to the end

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "compressedFiles": self.compressed_files,
            "bytes": self.bytes_read,
            "decompressedBytes": self.decompressed_bytes,
            "records": self.records,
            "matchingRecords": self.matching,
            "usableRecords": self.usable,
            "teacherRecords": self.teacher_records,
            "offloadedBodies": self.offloaded_bodies,
            "stoppedEarly": self.stopped_early,
        }


class LogReadError(Exception):
    """A log object that cannot be read to the end (a broken or truncated gzip stream)."""


def _gunzip(blocks: Iterable[bytes], out_bytes: int) -> Iterator[bytes]:
    """Decompress gzip blocks (several members allowed), yielding at most ``out_bytes`` at a time.

    The output bound keeps a highly compressed object from expanding in memory.
    """
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    started = False
    try:
        for block in blocks:
            data = block
            while True:
                started = started or bool(data)
                out = inflater.decompress(data, out_bytes)
                if out:
                    yield out
                if inflater.eof:  # end of a member; another may follow
                    data = inflater.unused_data
                    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
                    started = False
                    if not data:
                        break
                    continue
                data = inflater.unconsumed_tail  # left over when the output bound was hit
                if not data:
                    break
        tail = inflater.flush()
        if tail:
            yield tail
    except zlib.error as error:
        raise LogReadError(f"not a readable gzip stream: {error}") from error
    if started and not inflater.eof:
        raise LogReadError("the gzip stream is truncated")


def _data_blocks(source: ByteSource, stats: InvocationLogStats) -> Generator[bytes, None, None]:
    """The bytes of a source, gunzipped when they start with the gzip magic number."""
    blocks = source.blocks()
    head = b""
    for block in blocks:
        stats.bytes_read += len(block)
        head += block
        if len(head) >= len(_GZIP_MAGIC):
            break

    def rest() -> Iterator[bytes]:
        if head:
            yield head
        for block in blocks:
            stats.bytes_read += len(block)
            yield block

    try:
        if head.startswith(_GZIP_MAGIC):
            stats.compressed_files += 1
            yield from _gunzip(rest(), source.block_bytes)
        else:
            yield from rest()
    finally:
        close = getattr(blocks, "close", None)
        if close:
            close()


def _lines(
    chunks: Iterable[bytes], stats: InvocationLogStats
) -> Generator[tuple[int, bytes], None, None]:
    """``(line number, line)`` from byte chunks; memory holds one chunk plus a line."""
    carry = b""
    number = 0
    for chunk in chunks:
        stats.decompressed_bytes += len(chunk)
        data = carry + chunk if carry else chunk
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            number += 1
            yield number, data[start:end]
            start = end + 1
        carry = data[start:]
    if carry:
        yield number + 1, carry


def _has_text(value: Any, depth: int = 0) -> bool:
    """Whether a response body holds non-empty text under a key models use for it."""
    if depth > 8:
        return False
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in _TEXT_KEYS and isinstance(item, str) and item.strip():
                return True
            if isinstance(item, Mapping | list) and _has_text(item, depth + 1):
                return True
        return False
    if isinstance(value, list):
        return any(_has_text(item, depth + 1) for item in value)
    return False


def _check_user_content(content: Any, path: str, ctx: RecordContext) -> None:
    if isinstance(content, str):
        if not content.strip():
            ctx.report("empty-text", path, "the prompt is empty")
        return
    if not isinstance(content, list):
        ctx.report(
            "wrong-type", path, f"content must be a list of blocks, got {_type_name(content)}"
        )
        return
    if not content:
        ctx.report("empty-text", path, "the user message has no content")
        return
    for j, block in enumerate(content):
        where = f"{path}[{j}]"
        if not isinstance(block, Mapping):
            ctx.report(
                "wrong-type", where, f"a content block is an object, got {_type_name(block)}"
            )
            return
        kind = block.get("type")
        other = [key for key in block if key not in ("text", "type")]
        if (kind is not None and kind != "text") or other:
            named = str(kind) if kind not in (None, "text") else other[0]
            ctx.report(
                "unsupported-content",
                f"{where}.{named}",
                f"{named!r} content: distillation reads text-only prompts",
            )
            return
        text = block.get("text")
        if not isinstance(text, str):
            ctx.report("missing-field", f"{where}.text", "a content block needs its text")
            return
        if not text.strip():
            ctx.report("empty-text", f"{where}.text", "the prompt text is empty")
            return
    if len(content) > 1:
        ctx.report(
            "unsupported-content",
            f"{path}[1]",
            f"{len(content)} content blocks: a user message must be one text block (AWS's "
            "distillation validator rejects more as multi-modal)",
        )


def _check_messages(messages: Any, path: str, ctx: RecordContext) -> None:
    if not isinstance(messages, list):
        ctx.report("wrong-type", path, f"messages must be a list, got {_type_name(messages)}")
        return
    if not messages:
        ctx.report("missing-field", path, "the request has no messages")
        return
    users = 0
    for i, message in enumerate(messages):
        where = f"{path}[{i}]"
        if not isinstance(message, Mapping):
            ctx.report("wrong-type", where, f"a message is an object, got {_type_name(message)}")
            return
        role = message.get("role")
        if i == 0 and role != "user":
            ctx.report(
                "role-order", f"{where}.role", f"the first message must be the user's, got {role!r}"
            )
        if role == "user":
            users += 1
            if users == 2:
                ctx.report(
                    "role-order",
                    f"{where}.role",
                    "a second user message: distillation reads single-turn prompts only",
                )
            _check_user_content(message.get("content"), f"{where}.content", ctx)
        elif role != "assistant":
            ctx.report(
                "invalid-value", f"{where}.role", f"role must be user or assistant, got {role!r}"
            )


def _check_input(body: Any, ctx: RecordContext) -> None:
    path = "$.input.inputBodyJson"
    if not isinstance(body, Mapping):
        ctx.report(
            "wrong-type", path, f"the request body must be an object, got {_type_name(body)}"
        )
        return
    if "messages" in body:  # Converse, and the native bodies of Nova and Anthropic models
        _check_messages(body["messages"], f"{path}.messages", ctx)
        return
    for key in ("prompt", "inputText"):  # native bodies of Llama (prompt) and Titan (inputText)
        if key in body:
            text = body[key]
            if not isinstance(text, str):
                ctx.report("wrong-type", f"{path}.{key}", f"must be text, got {_type_name(text)}")
            elif not text.strip():
                ctx.report("empty-text", f"{path}.{key}", "the prompt is empty")
            return
    ctx.report(
        "unsupported-content",
        path,
        "no text prompt found: expected messages (Converse, Nova, Anthropic), prompt (Llama) "
        "or inputText (Titan)",
    )


@dataclass(frozen=True)
class _Record:
    model_id: str | None
    offloaded: bool


def _check_record(
    obj: Mapping[str, Any], ctx: RecordContext, *, use_prompt_response: bool
) -> _Record:
    rules = raw_data()["invocationLogs"]
    if "schemaType" not in obj:
        ctx.report("missing-field", "$.schemaType", "not an invocation log record: no schemaType")
    elif obj["schemaType"] != rules["schemaType"]:
        ctx.report(
            "invalid-value",
            "$.schemaType",
            f"schemaType must be {rules['schemaType']!r}, got {obj['schemaType']!r}",
        )
    operations = rules["operations"]
    operation = obj.get("operation")
    if "operation" not in obj:
        ctx.report("missing-field", "$.operation", "required field 'operation' is missing")
    elif operation not in operations:
        ctx.report(
            "invalid-value",
            "$.operation",
            f"operation {operation!r}: distillation reads logs of {', '.join(operations)}",
        )
        return _Record(None, False)
    model_id = obj.get("modelId")
    if "modelId" not in obj:
        ctx.report("missing-field", "$.modelId", "required field 'modelId' is missing")
    elif not isinstance(model_id, str):
        ctx.report(
            "wrong-type", "$.modelId", f"modelId must be a string, got {_type_name(model_id)}"
        )
        model_id = None

    offloaded = False
    inp = obj.get("input")
    if "input" not in obj:
        ctx.report("missing-field", "$.input", "the record has no input (prompt)")
    elif not isinstance(inp, Mapping):
        ctx.report("wrong-type", "$.input", f"input must be an object, got {_type_name(inp)}")
    elif inp.get("inputBodyJson") is not None:
        _check_input(inp["inputBodyJson"], ctx)
    elif isinstance(inp.get("inputBodyS3Path"), str):
        offloaded = True  # a body over 100 KB, stored as its own object: not read here
    else:
        ctx.report("missing-field", "$.input.inputBodyJson", "the record has no request body")

    out = obj.get("output")
    if "output" not in obj:
        ctx.report(
            "missing-field",
            "$.output",
            "the record has no output: distillation reads prompt-response pairs",
        )
    elif not isinstance(out, Mapping):
        ctx.report("wrong-type", "$.output", f"output must be an object, got {_type_name(out)}")
    elif out.get("outputBodyJson") is not None:
        if use_prompt_response and not _has_text(out["outputBodyJson"]):
            ctx.report(
                "unsupported-content",
                "$.output.outputBodyJson",
                "no response text: with usePromptResponse the student trains on the logged "
                "response (looked for text, generation, outputText, completion)",
            )
    elif isinstance(out.get("outputBodyS3Path"), str):
        offloaded = True
    elif use_prompt_response:
        ctx.report(
            "missing-field",
            "$.output.outputBodyJson",
            "no response body: with usePromptResponse the student trains on the logged response",
        )
    return _Record(model_id, offloaded)


def _undecodable(raw: bytes, error: Exception) -> tuple[str, str]:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return "not-utf8", f"invalid UTF-8 at byte {bad.start + 1} of the line"
    return "not-json", f"not valid JSON: {error}"


def _is_string_map(value: Any) -> bool:
    return isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def validate_invocation_logs(
    sources: Iterable[ByteSource],
    *,
    filters: Mapping[str, Any] | None,
    use_prompt_response: bool,
    student_model: str,
    findings: Findings,
    max_records: int | None,
    teacher_model: str | None = None,
) -> InvocationLogStats:
    """Check invocation-log objects for a distillation job; return what was counted.

    Each source is gzip-compressed JSON Lines (as Bedrock writes to S3) or plain JSON Lines.
    Records whose ``requestMetadata`` the ``filters`` do not select are skipped, as Bedrock
    skips them. Each selected record must be a ``ModelInvocationLog`` of Converse,
    ConverseStream, InvokeModel or InvokeModelWithResponseStream, with a modelId, an input
    holding a single-turn, text-only prompt (one user message of one text block) and an
    output; with ``use_prompt_response`` the output must hold response text. Problems become
    findings with the object's name, the line in the decompressed object and a JSON path.
    Bodies stored as separate objects (over 100 KB) are counted, not read.

    ``max_records`` stops the scan after that many selected records (``None`` reads all);
    pass the maximum plus one to learn whether it is exceeded. ``teacher_model`` counts
    the records the teacher itself produced (``teacher_records``), which usePromptResponse
    needs. The caller compares ``matching`` (or ``usable``) with the minimum and maximum in
    ``raw_data()["invocationLogs"]``. ``student_model`` must be a distillation student
    (ValueError otherwise); it changes no rule today, because AWS's validator holds every
    student to single-turn prompts when the data comes from invocation logs. Memory holds
    one decompressed block plus a line.
    """
    student = catalogue.find_model(student_model)
    student_id = student.model_id if student else student_model
    if not any(student_id in t.students for t in teachers().values()):
        raise ValueError(f"{student_model!r} is not a distillation student model")
    teacher = None
    if teacher_model is not None:
        teacher = find_teacher(teacher_model)
        if teacher is None:
            raise ValueError(f"{teacher_model!r} is not a supported teacher")
    if filters is not None:
        problems = check_request_metadata_filters(filters)
        if problems:
            raise ValueError("; ".join(problems))
    if max_records is not None and max_records < 1:
        raise ValueError(f"max_records must be 1 or more, got {max_records}")

    stats = InvocationLogStats()
    for source in sources:
        stats.files += 1
        blocks = _data_blocks(source, stats)
        lines = _lines(blocks, stats)
        with contextlib.closing(blocks), contextlib.closing(lines):
            try:
                for line_number, raw in lines:
                    if _scan_line(
                        source.name,
                        line_number,
                        raw,
                        stats,
                        findings,
                        filters,
                        teacher,
                        use_prompt_response,
                    ):
                        stats.usable += 1
                    if max_records is not None and stats.matching >= max_records:
                        stats.stopped_early = True
                        return stats
            except LogReadError as error:
                findings.add("not-json", source.name, None, "$", str(error))
    return stats


def _scan_line(
    name: str,
    line_number: int,
    raw: bytes,
    stats: InvocationLogStats,
    findings: Findings,
    filters: Mapping[str, Any] | None,
    teacher: Teacher | None,
    use_prompt_response: bool,
) -> bool:
    """One line: count it, select it, check it. True when it is a usable selected record."""
    if not raw.strip():
        findings.add("blank-line", name, line_number, "$", "blank line, skipped")
        return False
    stats.records += 1
    try:
        obj = _decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError) as error:
        code, message = _undecodable(raw, error)
        findings.add(code, name, line_number, "$", message)
        return False
    if not isinstance(obj, dict):
        findings.add(
            "not-object", name, line_number, "$", f"expected a JSON object, got {_type_name(obj)}"
        )
        return False
    metadata = obj.get("requestMetadata")
    if metadata is not None and not _is_string_map(metadata):
        findings.add(
            "wrong-type",
            name,
            line_number,
            "$.requestMetadata",
            "requestMetadata must map strings to strings; the filters cannot read it",
        )
        return False
    if not matches_filters(metadata, filters):
        return False
    stats.matching += 1
    ctx = RecordContext(name, line_number, findings)
    record = _check_record(obj, ctx, use_prompt_response=use_prompt_response)
    if record.offloaded:
        stats.offloaded_bodies += 1
    if not ctx.ok:
        return False
    if (
        teacher is not None
        and record.model_id is not None
        and find_teacher(record.model_id) == teacher
    ):
        stats.teacher_records += 1
    return True


# -- S3 --------------------------------------------------------------------------------


def _open_object(s3_client: Any, bucket: str, key: str) -> Any:
    return s3_client.get_object(Bucket=bucket, Key=key)["Body"]


def _is_log_object(key: str, prefix: str, size: int) -> bool:
    """Log objects only: not folders, Bedrock's permission marker or offloaded bodies."""
    if key.endswith("/") or size == 0:
        return False
    name = key.rsplit("/", 1)[-1]
    if name.startswith("amazon-bedrock-logs-permission-check"):
        return False
    # Bodies over 100 KB are objects of their own "under the data prefix".
    return "data" not in key[len(prefix) :].split("/")[:-1]


def list_log_sources(
    s3_client: Any, s3_uri: str, *, page_size: int | None = None
) -> Iterator[ByteSource]:
    """A ``ByteSource`` for each invocation-log object under an ``s3://bucket/prefix``.

    Lists with ``list_objects_v2`` page by page (``page_size`` keys a page; S3's default
    otherwise) and skips folder keys, empty objects, the
    ``amazon-bedrock-logs-permission-check`` marker Bedrock writes and the large bodies it
    stores under ``data/``. Each object is opened (``get_object``) only when read.
    """
    if not s3_uri.startswith("s3://"):
        raise ValueError(f"{s3_uri!r} is not an s3:// URI")
    bucket, _, prefix = s3_uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"{s3_uri!r} names no bucket")
    arguments: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if page_size is not None:
        arguments["PaginationConfig"] = {"PageSize": page_size}
    for page in s3_client.get_paginator("list_objects_v2").paginate(**arguments):
        for item in page.get("Contents", []):
            key, size = item["Key"], int(item["Size"])
            if _is_log_object(key, prefix, size):
                yield ByteSource(
                    f"s3://{bucket}/{key}", size, partial(_open_object, s3_client, bucket, key)
                )
