"""The validation engine: stream a dataset, check every record, write one report.

Two paths, one result. The fast path decodes a whole block of prompt/completion lines
at once in C and checks and measures its records in bulk (types, blank text, sizes,
fingerprints, labels); a blank line, a record with extra fields and a record that may give
a key twice are looked at one by one, and only a record that breaks a rule goes through
the careful path, which finds and names every problem; a block with a line that is not
one object or blank is read by the careful path line by line. Conversation formats
(``bedrock-conversation``, Claude messages, RFT) and continued pre-training have a fast path
of their own (``conversation_block``): records of the common shape that break no rule are
recognised in one lean pass (``conversations.py``) and searched for reserved words a block
at a time; any other record takes the careful path. Either way the report is
the same (``careful=True`` forces the careful path; tests compare the two). Memory holds
one block plus, per record, an 8-byte fingerprint and a 4-byte line number for the
duplicate and leakage checks (and an 8-byte near-duplicate key when those are looked for).

What a JSON reader would get wrong is found too, cheaply: a file that is gzip or UTF-16,
or starts with a byte-order mark (``sniff``, on its first bytes); a record nested deeper
than the decoder follows (a finding on its line, the rest still checked); a key given twice
(on the fast path, only a line with spare bytes enough to hide one is looked at; on the
careful path, only a line with more colons than members); an empty training file.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, cast

import msgspec
import numpy as np

from lambda_handlers.validation import tokens as token_estimate
from lambda_handlers.validation.conversations import SIMPLE, Simple
from lambda_handlers.validation.findings import CODES, Findings, Severity
from lambda_handlers.validation.formats import (
    CHECKERS,
    RecordContext,
    _fingerprint,
    _type_name,
    _unknown,
)
from lambda_handlers.validation.near import line_key, line_keys
from lambda_handlers.validation.rules import DatasetRules, rules_for
from lambda_handlers.validation.sniff import UTF8_BOM, duplicate_key, sniff
from lambda_handlers.validation.sources import ByteSource
from lambda_handlers.validation.tokens import utf8_length

REPORT_VERSION = "1"
MAX_LABELS = 50  # more distinct completions than this: not classification-style
_generic = msgspec.json.Decoder()


_NEWLINE = ord("\n")
_LONE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_OPEN_BRACE = ord("{")
_CLOSE_BRACE = ord("}")
_CARRIAGE_RETURN = ord("\r")


_NO_ENDS = np.zeros(0, np.int64)


def _line_layout(block: memoryview) -> tuple[int, np.ndarray]:
    """``(number of lines, line lengths)`` of a block; the lengths do not count the newline."""
    data = np.frombuffer(block, dtype=np.uint8)
    if not len(data):
        return 0, _NO_ENDS
    newlines = np.flatnonzero(data == _NEWLINE)
    ends_open = data[-1] != _NEWLINE
    ends = np.append(newlines, len(data)) if ends_open else newlines
    return len(ends), np.diff(ends, prepend=-1) - 1


def _decoded_lines(
    block: memoryview, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Any]] | None:
    """A block whose every non-blank line is one JSON object, decoded at once: line starts,
    the indexes of object lines and of blank lines, and the records; None if any line is
    something else (the block then needs care line by line)."""
    layout = _object_lines(block, lengths)
    if layout is None:
        return None
    starts, objects, blanks = layout
    try:
        records = _generic.decode_lines(block)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None
    # Every non-blank line starts with "{" and ends with "}": as many records as such lines
    # means one record per line.
    if len(records) != len(objects):
        return None
    return starts, objects, blanks, records


def _object_lines(
    block: memoryview, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(where each line starts, the lines holding an object, the blank lines)``, or
    ``None`` when a line is neither blank nor starts with ``{`` and ends with ``}`` (a
    ``\\r`` after it allowed): such a block needs care."""
    data = np.frombuffer(block, dtype=np.uint8)
    starts = np.cumsum(lengths + 1) - (lengths + 1)
    filled = lengths > 0
    first = np.zeros(len(lengths), np.uint8)
    first[filled] = data[starts[filled]]
    is_object = first == _OPEN_BRACE
    last_at = (starts + lengths - 1)[is_object]
    last = data[last_at]
    returns = (last == _CARRIAGE_RETURN) & (lengths[is_object] >= 2)
    last[returns] = data[last_at[returns] - 1]
    if not np.all(last == _CLOSE_BRACE):
        return None
    others = np.flatnonzero(~is_object)
    for i in others[filled[others]]:
        if bytes(block[int(starts[i]) : int(starts[i] + lengths[i])]).strip():
            return None
    return starts, np.flatnonzero(is_object), others


def _one_by_one(objects: np.ndarray, blanks: np.ndarray, look: np.ndarray) -> list[tuple[int, int]]:
    """``(line offset, record index or -1 for a blank line)`` of the lines a block's fast
    path looks at one by one, in line order."""
    chosen = np.flatnonzero(look)
    events = [(int(o), int(i)) for o, i in zip(objects[chosen], chosen, strict=True)]
    events += [(int(o), -1) for o in blanks]
    events.sort()
    return events


@dataclass
class _PromptCompletionTexts:
    """Decoded prompt/completion records of a block, checked and measured in bulk."""

    usable: np.ndarray
    """A non-blank string prompt and completion (whatever other fields)."""
    extra: np.ndarray
    """Usable with fields besides the two."""
    usable_index: np.ndarray
    position: np.ndarray
    """Each record's place among the usable ones (-1 if not usable)."""
    completions: list[str]
    text_bytes: np.ndarray
    chars: np.ndarray
    fingerprints: np.ndarray

    @classmethod
    def of(cls, records: list[dict[str, Any]]) -> _PromptCompletionTexts:
        n = len(records)
        any_prompts = list(map(dict.get, records, repeat("prompt")))
        any_completions = list(map(dict.get, records, repeat("completion")))
        usable = _non_blank_strings(any_prompts) & _non_blank_strings(any_completions)
        extra = usable & (np.fromiter(map(len, records), np.int64, n) != 2)
        usable_index = np.flatnonzero(usable)
        if len(usable_index) < n:
            any_prompts = [any_prompts[i] for i in usable_index]
            any_completions = [any_completions[i] for i in usable_index]
        prompts = cast("list[str]", any_prompts)  # usable: strings only
        completions = cast("list[str]", any_completions)
        m = len(usable_index)
        position = np.full(n, -1, np.int64)
        position[usable_index] = np.arange(m)
        chars = np.fromiter(map(len, prompts), np.int64, m) + np.fromiter(
            map(len, completions), np.int64, m
        )
        text_bytes = chars + _beyond_ascii(prompts) + _beyond_ascii(completions)
        prints = np.fromiter(map(hash, zip(prompts, completions, strict=True)), np.int64, m)
        return cls(usable, extra, usable_index, position, completions, text_bytes, chars, prints)


def _beyond_ascii(texts: list[str]) -> np.ndarray:
    """UTF-8 bytes of each text beyond its characters (0 for ASCII text)."""
    ascii_texts = np.fromiter(map(str.isascii, texts), bool, len(texts))
    extra = np.zeros(len(texts), np.int64)
    if not ascii_texts.all():
        utf8 = token_estimate.utf8_length
        others = np.flatnonzero(~ascii_texts)
        extra[others] = [utf8(texts[i]) - len(texts[i]) for i in others]
    return extra


def _non_blank_strings(values: list[Any]) -> np.ndarray:
    """Which values are strings with something besides whitespace in them."""
    n = len(values)
    strings = np.fromiter(map(isinstance, values, repeat(str)), bool, n)
    if not strings.all():
        return np.fromiter(
            (isinstance(v, str) and not v.isspace() and v != "" for v in values), bool, n
        )
    return np.fromiter(map(bool, values), bool, n) & ~np.fromiter(map(str.isspace, values), bool, n)


def _stdlib_parses(raw: bytes) -> bool:
    """Whether Python's json reads the line (it takes lone surrogates, msgspec does not)."""
    try:
        json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return True


def _report_a_key_twice(raw: bytes, obj: dict[str, Any], ctx: RecordContext) -> None:
    twice = duplicate_key(raw, obj)
    if twice is not None:
        ctx.report(
            "duplicate-key",
            "$",
            f"key {twice!r} appears twice in one object; readers keep the first, the last or "
            "refuse: give each key once",
        )


def _count_more(findings: Findings, code: str, n: int) -> None:
    """Count ``n`` more findings of ``code`` beyond the examples kept (none, with
    ``max_examples=0``: the code may not be counted yet)."""
    findings.counts[code] = findings.counts.get(code, 0) + n


class TokenHistogram:
    """Counts of estimated tokens per record: exact below 4096, 1% buckets above.

    Constant memory whatever the file size; percentiles above 4096 tokens are within
    1% and rounded up.
    """

    EXACT = 4096
    GROWTH = 1.01
    SIZE = EXACT + 1200  # 4096 * 1.01**1200 is far above any model's context

    def __init__(self) -> None:
        self.counts = np.zeros(self.SIZE, dtype=np.int64)

    def add(self, values: np.ndarray) -> None:
        if not len(values):
            return
        values = values.astype(np.int64)
        big = np.maximum(values, self.EXACT).astype(np.float64) / self.EXACT
        log_index = self.EXACT + np.floor(np.log(big) / math.log(self.GROWTH)).astype(np.int64)
        index = np.minimum(np.where(values < self.EXACT, values, log_index), self.SIZE - 1)
        self.counts += np.bincount(index, minlength=self.SIZE)

    def percentile(self, q: float) -> int:
        total = int(self.counts.sum())
        if not total:
            return 0
        rank = max(1, math.ceil(q * total))
        bucket = int(np.searchsorted(np.cumsum(self.counts), rank))
        if bucket < self.EXACT:
            return bucket
        return math.ceil(self.EXACT * self.GROWTH ** (bucket - self.EXACT + 1))


@dataclass
class _Kept:
    """Usable records of a block checked line by line: what ``_Scan.take`` needs."""

    lines: list[int] = field(default_factory=list)
    text_bytes: list[int] = field(default_factory=list)
    chars: list[int] = field(default_factory=list)
    prints: list[int] = field(default_factory=list)
    near: list[int] = field(default_factory=list)
    labels: list[str | None] = field(default_factory=list)


@dataclass
class _Scan:
    """What one file contributes to the report."""

    role: str  # "training" or "validation"
    name: str
    rules: DatasetRules
    findings: Findings
    records: int = 0
    usable: int = 0
    line_count: int = 0
    """Lines read, blank ones included (a shard's count places the shards after it)."""
    bytes_read: int = 0
    tokens_total: int = 0
    tokens_min: int | None = None
    tokens_max: int = 0
    chars_max: int = 0
    histogram: TokenHistogram = field(default_factory=TokenHistogram)
    fingerprints: list[np.ndarray] = field(default_factory=list)
    near: list[np.ndarray] = field(default_factory=list)
    lines: list[np.ndarray] = field(default_factory=list)
    labels: Counter[str] | None = field(default_factory=Counter)
    media_kinds: frozenset[str] = frozenset()
    unreadable: bool = False
    """The file is not UTF-8 text at all (gzip, UTF-16): one finding says so."""
    near_duplicates: bool = False
    """Whether records get near-duplicate keys (see ``lambda_handlers.validation.near``)."""

    # -- per block ------------------------------------------------------------------

    def take(
        self,
        line_numbers: np.ndarray,
        text_bytes: np.ndarray,
        chars: np.ndarray,
        fingerprints: np.ndarray,
        near: np.ndarray | None,
        labels: Sequence[str | None],
        fast_labels: bool = False,
    ) -> None:
        """Records that passed their format checks: size limits, stats, fingerprints."""
        if not len(line_numbers):
            return
        est = -(-text_bytes // token_estimate.BYTES_PER_TOKEN)
        limit = self.rules.max_tokens_per_record
        if limit is not None:
            self._over(line_numbers, est, limit, "record-too-long", "estimated tokens")
        char_limit = self.rules.max_chars_per_record
        if char_limit is not None:
            self._over(line_numbers, chars, char_limit, "record-too-many-chars", "characters")
        self.usable += len(line_numbers)
        self.histogram.add(est)
        self.tokens_total += int(est.sum())
        low = int(est.min())
        self.tokens_min = low if self.tokens_min is None else min(self.tokens_min, low)
        self.tokens_max = max(self.tokens_max, int(est.max()))
        self.chars_max = max(self.chars_max, int(chars.max()))
        self.fingerprints.append(fingerprints)
        if near is not None:
            self.near.append(near)
        self.lines.append(line_numbers)
        if self.labels is not None:
            if fast_labels:  # all strings: counted in C
                self.labels.update(cast("Sequence[str]", labels))
            else:
                self.labels.update(label for label in labels if label is not None)
            if len(self.labels) > MAX_LABELS:
                self.labels = None  # free text, not labels

    def _over(
        self, line_numbers: np.ndarray, values: np.ndarray, limit: int, code: str, unit: str
    ) -> None:
        over = np.nonzero(values > limit)[0]
        for i in over[: self.findings.max_examples]:
            self.findings.add(
                code,
                self.role,
                int(line_numbers[i]),
                "$",
                f"{int(values[i])} {unit}; the limit is {limit}",
            )
        if len(over) > self.findings.max_examples:
            _count_more(self.findings, code, len(over) - self.findings.max_examples)

    def fast_block(self, first_line: int, block: memoryview, lengths: np.ndarray) -> bool:
        """Prompt/completion lines decoded and measured in bulk; False if the block needs care.

        Records with exactly a non-blank prompt and completion are taken in bulk; a blank
        line, a record with extra fields (``unknown-field``) and a record that may give a
        key twice are looked at one by one, and any other record goes through
        ``careful_line``: the findings and figures are those of ``careful_block``.
        """
        decoded = _decoded_lines(block, lengths)
        if decoded is None:
            return False
        starts, objects, blanks, records = decoded
        texts = _PromptCompletionTexts.of(records)
        at = starts[objects]
        line_lengths = lengths[objects]
        careful = ~texts.usable
        careful[texts.usable_index] |= _repeat_suspects(
            block, at[texts.usable_index], line_lengths[texts.usable_index], texts
        )
        if self.unknown_code != "unknown-field":
            careful |= texts.extra
        kept = _Kept()
        self.records += len(records)
        for offset, i in _one_by_one(objects, blanks, careful | texts.extra):
            line = first_line + offset
            if i < 0:
                self.findings.add("blank-line", self.role, line, "$", "blank line, skipped")
                continue
            raw = bytes(block[int(at[i]) : int(at[i] + line_lengths[i])])
            if careful[i] or duplicate_key(raw, records[i]) is not None:
                careful[i] = True
                self.careful_line(line, raw, kept)
            else:
                ctx = RecordContext(self.role, line, self.findings)
                _unknown(records[i], {"prompt", "completion"}, "$", ctx)
        fast = np.flatnonzero(~careful)
        near = line_keys(block, lengths)[objects[fast]] if self.near_duplicates else None
        self._take_merged(
            (objects[fast] + first_line).astype(np.uint32), texts, texts.position[fast], near, kept
        )
        return True

    def _take_merged(
        self,
        line_numbers: np.ndarray,
        texts: _PromptCompletionTexts,
        at: np.ndarray,
        near: np.ndarray | None,
        kept: _Kept,
    ) -> None:
        """Records taken in bulk (``at``: their places among ``texts``'s usable records)
        and records checked one by one, taken together in line order."""
        bulk = _Bulk(
            line_numbers,
            texts.text_bytes[at],
            texts.chars[at],
            texts.fingerprints[at],
            near,
            [texts.completions[i] for i in at],
        )
        self.take_with(bulk, kept)

    def take_with(self, bulk: _Bulk, kept: _Kept) -> None:
        """Records taken in bulk and records checked one by one, taken in line order."""
        if not kept.lines:
            strings = None not in bulk.labels  # counted in C
            self.take(
                bulk.lines,
                bulk.text_bytes,
                bulk.chars,
                bulk.prints,
                bulk.near,
                bulk.labels,
                strings,
            )
            return
        lines = np.concatenate((bulk.lines, kept.lines))
        order = np.argsort(lines, kind="stable")
        near = bulk.near
        if near is not None:
            near = np.concatenate((near, np.array(kept.near, np.int64)))[order]
        everything = [*bulk.labels, *kept.labels]
        self.take(
            lines.astype(np.uint32)[order],
            np.concatenate((bulk.text_bytes, kept.text_bytes))[order],
            np.concatenate((bulk.chars, kept.chars))[order],
            np.concatenate((bulk.prints, np.array(kept.prints, np.int64)))[order],
            near,
            [everything[i] for i in order],
        )

    def conversation_block(self, first_line: int, block: memoryview, lengths: np.ndarray) -> bool:
        """Conversation lines decoded at once; records of the common shape that break no
        rule (``conversations.SIMPLE``) checked and measured in bulk, the reserved words
        looked for in a whole block's text at once, any other record through
        ``careful_line``. False if the block needs care line by line."""
        decoded = _decoded_lines(block, lengths)
        if decoded is None:
            return False
        starts, objects, blanks, records = decoded
        data = bytes(block)
        simple_of = SIMPLE[self.rules.format]
        system_blocks = self.rules.system_blocks
        simple = [simple_of(record, system_blocks) for record in records]
        measured = _Measured.of(simple, self.rules, _may_hold(data, starts[objects], self.rules))
        careful = measured.careful
        _keys_twice(data, starts[objects], lengths[objects], records, simple, measured)
        kept = _Kept()
        self.records += len(records)
        for offset, i in _one_by_one(objects, blanks, careful):
            line = first_line + offset
            if i < 0:
                self.findings.add("blank-line", self.role, line, "$", "blank line, skipped")
                continue
            self.careful_line(line, data[starts[offset] : starts[offset] + lengths[offset]], kept)
        fast = np.flatnonzero(~careful)
        bulk = _Bulk(
            (objects[fast] + first_line).astype(np.uint32),
            measured.text_bytes[fast],
            measured.chars[fast],
            np.fromiter((_print_of(records[i], simple[i]) for i in fast), np.int64, len(fast)),
            line_keys(block, lengths)[objects[fast]] if self.near_duplicates else None,
            [cast("Simple", simple[i]).label for i in fast],
        )
        self.take_with(bulk, kept)
        return True

    def careful_block(self, first_line: int, block: memoryview) -> None:
        """Every line decoded and checked on its own, every problem named."""
        lines = bytes(block).split(b"\n")
        if lines and not lines[-1]:
            lines.pop()  # the block ends with a newline
        kept = _Kept()
        for offset, raw in enumerate(lines):
            line = first_line + offset
            if not raw.strip():
                self.findings.add("blank-line", self.role, line, "$", "blank line, skipped")
                continue
            self.records += 1
            self.careful_line(line, raw, kept)
        self.take_kept(kept)

    def take_kept(self, kept: _Kept) -> None:
        self.take(
            np.array(kept.lines, dtype=np.uint32),
            np.array(kept.text_bytes, dtype=np.int64),
            np.array(kept.chars, dtype=np.int64),
            np.array(kept.prints, dtype=np.int64),
            np.array(kept.near, dtype=np.int64) if self.near_duplicates else None,
            kept.labels,
        )

    def careful_line(self, line: int, raw: bytes, kept: _Kept) -> None:
        """One non-blank line decoded and checked, every problem named; a usable record's
        figures go to ``kept``."""
        try:
            obj = _generic.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError) as error:
            self._undecodable(line, raw, error)
            return
        except RecursionError:
            self.findings.add(
                "too-deeply-nested",
                self.role,
                line,
                "$",
                "nested deeper than a JSON reader follows; flatten the record",
            )
            return
        if not isinstance(obj, dict):
            self.findings.add(
                "not-object",
                self.role,
                line,
                "$",
                f"expected a JSON object, got {_type_name(obj)}",
            )
            return
        ctx = RecordContext(
            self.role,
            line,
            self.findings,
            content_types=self.rules.content_types,
            unknown_code=self.unknown_code,
            reserved=self.rules.reserved_keywords,
            reserved_ignore_case=self.rules.reserved_ignore_case,
            media=self.rules.media,
            multi_turn=self.rules.multi_turn,
            system_blocks=self.rules.system_blocks,
        )
        _report_a_key_twice(raw, obj, ctx)
        result = CHECKERS[self.rules.format](obj, ctx)
        if result is None or not ctx.ok:
            return
        self.media_kinds |= result.media
        kept.lines.append(line)
        kept.text_bytes.append(result.text_bytes)
        kept.chars.append(result.chars)
        kept.prints.append(result.fingerprint)
        if self.near_duplicates:
            kept.near.append(line_key(raw))
        kept.labels.append(result.label)

    @property
    def unknown_code(self) -> str:
        return "forbidden-field" if self.rules.unknown_fields == "error" else "unknown-field"

    def _undecodable(self, line: int, raw: bytes, error: Exception) -> None:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            self.findings.add(
                "not-utf8",
                self.role,
                line,
                "$",
                f"invalid UTF-8 at byte {bad.start + 1} of the line",
            )
            return
        if _LONE_SURROGATE.search(raw) and _stdlib_parses(raw):
            message = "a lone surrogate escape (such as \\ud800) is not valid Unicode: fix the text"
        elif "out of range" in str(error):
            message = "a number out of range (beyond what a double holds): write it smaller"
        else:
            message = f"not valid JSON: {error}"
        self.findings.add("not-json", self.role, line, "$", message)

    # -- per file -------------------------------------------------------------------

    def all_fingerprints(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.fingerprints:
            return np.zeros(0, np.int64), np.zeros(0, np.uint32)
        return np.concatenate(self.fingerprints), np.concatenate(self.lines)

    def all_near_keys(self) -> np.ndarray:
        return np.concatenate(self.near) if self.near else np.zeros(0, np.int64)

    def stats(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "usableRecords": self.usable,
            "bytes": self.bytes_read,
            "tokens": {
                "min": self.tokens_min or 0,
                "median": self.histogram.percentile(0.5),
                "p95": self.histogram.percentile(0.95),
                "max": self.tokens_max,
                "total": self.tokens_total,
            },
            "maxChars": self.chars_max,
        }


def _first_block(scan: _Scan, block: memoryview, head: bytes | None = None) -> memoryview | None:
    """The first block without a UTF-8 byte-order mark, or ``None`` when the file cannot
    be read as JSONL at all (gzip, UTF-16, UTF-32): one finding instead of one per line.
    ``head``: the first bytes of the first block of a whole-file pass, when ``block`` is
    the first of a shard that may be shorter."""
    head = bytes(block[:4]) if head is None else head
    problem = sniff(head)
    if problem is not None:
        scan.findings.add("file-encoding", scan.role, 1, "$", problem)
        scan.unreadable = True
        return None
    if head.startswith(UTF8_BOM):
        scan.findings.add(
            "file-encoding",
            scan.role,
            1,
            "$",
            "the file starts with a UTF-8 byte-order mark, which JSON readers reject on the "
            "first line; save it as UTF-8 without one",
        )
        return block[len(UTF8_BOM) :]
    return block


def _scan(
    source: ByteSource,
    role: str,
    rules: DatasetRules,
    findings: Findings,
    progress: Callable[[int], None] | None,
    near_duplicates: bool = False,
    *,
    first_line: int = 1,
    at_start: bool = True,
    file_head: bytes | None = None,
    careful: bool = False,
) -> _Scan:
    """Scan ``source``, its first line numbered ``first_line``. ``at_start``: the source
    begins the file (a shard further in has no byte-order mark or gzip header to look for);
    ``file_head``: what a whole-file pass would sniff, when the source is such a shard."""
    scan = _Scan(role, source.name, rules, findings, near_duplicates=near_duplicates)
    fast = None if careful else _fast_path(scan)
    head = at_start
    for raw_block in source.line_blocks():
        block = _first_block(scan, raw_block, file_head) if head else raw_block
        head = False
        if block is None:
            scan.bytes_read = source.size or len(raw_block)
            break
        n_lines, lengths = _line_layout(block)
        if not (fast and fast(first_line, block, lengths)):
            scan.careful_block(first_line, block)
        first_line += n_lines
        scan.line_count += n_lines
        scan.bytes_read += len(raw_block)
        if progress:
            progress(len(raw_block))
    return scan


@dataclass
class _Bulk:
    """Records a fast path took in bulk: what ``_Scan.take`` needs, in line order."""

    lines: np.ndarray
    text_bytes: np.ndarray
    chars: np.ndarray
    prints: np.ndarray
    near: np.ndarray | None
    labels: list[str | None]


@dataclass
class _Measured:
    """Sizes of a block's simple conversation records, and which records need care (not
    simple, or holding a reserved word)."""

    careful: np.ndarray
    text_bytes: np.ndarray
    chars: np.ndarray
    colons: np.ndarray
    """Colons in each record's texts (for ``_keys_twice``)."""

    @classmethod
    def of(
        cls, simple: list[Simple | None], rules: DatasetRules, suspects: np.ndarray
    ) -> _Measured:
        """``suspects``: the records whose text may hold a reserved word (``_may_hold``);
        their text is searched as the careful path does."""
        n = len(simple)
        careful = np.fromiter((s is None for s in simple), bool, n)
        text_bytes = np.zeros(n, np.int64)
        chars = np.zeros(n, np.int64)
        colons = np.zeros(n, np.int64)
        words = rules.reserved_keywords
        for i in np.flatnonzero(~careful):
            texts = cast("Simple", simple[i]).texts
            text = "\x00".join(texts)
            chars[i] = len(text) - len(texts) + 1
            text_bytes[i] = chars[i] + (0 if text.isascii() else utf8_length(text) - len(text))
            colons[i] = text.count(":")
            if suspects[i]:  # the careful path names the word
                haystack = text.lower() if rules.reserved_ignore_case else text
                careful[i] = any(word in haystack for word in words)
        return cls(careful, text_bytes, chars, colons)


_BACKSLASH = ord("\\")


def _may_hold(data: bytes, starts: np.ndarray, rules: DatasetRules) -> np.ndarray:
    """Which lines (starting at ``starts`` in ``data``) may hold a reserved word in their
    text, found for a whole block at once in its bytes.

    A line without a backslash has its text as it is in its bytes: a word is in the
    (lowered) text only where its bytes are in the (ASCII-lowered) line, unless a character
    lowers to ASCII (U+0130 to "i" and a dot, which matters to a word ending in "i"; the
    Kelvin sign to "k"), and a word with a character JSON escapes is in no such text. Each
    word (and each such character) is looked for at the places of its last byte. Lines with
    a backslash or such a character are suspects too; so is every line when a word is not
    ASCII.
    """
    words = rules.reserved_keywords
    n = len(starts)
    if not words:
        return np.zeros(n, bool)
    if not all(word.isascii() for word in words):
        return np.ones(n, bool)
    bytes_ = np.frombuffer(data, np.uint8)
    hits = [np.flatnonzero(bytes_ == _BACKSLASH) if b"\\" in data else np.zeros(0, np.int64)]
    plain = [w.encode() for w in words if w and not any(c in w for c in _ESCAPED)]
    fold = rules.reserved_ignore_case
    if fold:  # U+0130 lowers to "i" and a dot, the Kelvin sign to "k"
        plain += [b"\xc4\xb0"] if any(w.endswith("i") for w in words) else []
        plain += [b"\xe2\x84\xaa"] if any("k" in w for w in words) else []
    if plain:
        hits += _word_places(bytes_, plain, fold)
    suspects = np.zeros(n, bool)
    places = np.concatenate(hits)
    if len(places):
        suspects[np.searchsorted(starts, places, side="right") - 1] = True
    return suspects


def _word_places(bytes_: np.ndarray, words: list[bytes], fold: bool) -> list[np.ndarray]:
    """Where each word ends in ``bytes_`` (ASCII letters lowered first when ``fold``): one
    pass finds the places of every word's last byte, then each word's other bytes are
    compared there."""
    lasts = {w[-1] for w in words}
    if fold:
        lasts |= {b - 32 for b in lasts if _LOWER_A <= b <= _LOWER_Z}
    mask = np.zeros(len(bytes_), bool)
    for last in lasts:
        mask |= bytes_ == last
    places = np.flatnonzero(mask)
    values = _lowered(bytes_[places]) if fold else bytes_[places]
    hits = []
    for word in words:
        at = places[(values == word[-1]) & (places >= len(word) - 1)]
        found = np.ones(len(at), bool)
        for k in range(len(word) - 1):
            window = bytes_[at - (len(word) - 1) + k]
            found = found & ((_lowered(window) if fold else window) == word[k])
        hits.append(at[found])
    return hits


_LOWER_A, _LOWER_Z = ord("a"), ord("z")


def _lowered(values: np.ndarray) -> np.ndarray:
    """ASCII capitals made small, as ``bytes.lower`` does."""
    return np.where((values >= ord("A")) & (values <= ord("Z")), values + 32, values)


_ESCAPED = frozenset('"\\' + "".join(map(chr, range(32))))


def _keys_twice(
    data: bytes,
    starts: np.ndarray,
    lengths: np.ndarray,
    records: list[Any],
    simple: list[Simple | None],
    measured: _Measured,
) -> None:
    """Mark in ``careful`` the simple records that give a key twice. A line whose colons
    beyond those in its texts are no more than its members cannot (see
    ``sniff.duplicate_key``); only the others are parsed again."""
    escaped_colons = b"\\u003" in data  # a colon may be escaped somewhere in the block
    careful = measured.careful
    for i in np.flatnonzero(~careful):
        start, end = int(starts[i]), int(starts[i] + lengths[i])
        colons = data.count(b":", start, end) - int(measured.colons[i])
        if colons <= cast("Simple", simple[i]).members and not (
            escaped_colons and data.find(b"\\u003", start, end) >= 0
        ):
            continue
        if duplicate_key(data[start:end], records[i]) is not None:
            careful[i] = True


def _print_of(record: dict[str, Any], simple: Simple | None) -> int:
    """A simple record's fingerprint, as its format's checker computes it."""
    own = cast("Simple", simple).fingerprint
    return _fingerprint(record) if own is None else own


def _fast_path(scan: _Scan) -> Callable[[int, memoryview, np.ndarray], bool] | None:
    """The scan's fast path for its format, if it has one."""
    if scan.rules.format == "prompt-completion":
        return scan.fast_block
    if scan.rules.format in ("claude-messages", "rft-openai", "continued-pretraining") or (
        scan.rules.format == "bedrock-conversation" and "text" in scan.rules.content_types
    ):
        return scan.conversation_block
    return None


_MIN_OVERHEAD = len(b'{"prompt":"","completion":""}')
_SMALLEST_REPEAT = len(b',"prompt":""')


def _repeat_suspects(
    block: memoryview,
    starts: np.ndarray,
    lengths: np.ndarray,
    texts: _PromptCompletionTexts,
) -> np.ndarray:
    """Which usable records of exactly two fields (at ``starts``, of ``lengths``) may give
    a key twice.

    The decoder keeps the last value of a repeated key, so a repeat can only hide in the
    bytes a line has beyond its text and the smallest record around it: at least the
    length of ``,"prompt":""``. Lines with fewer extra bytes (escapes, spaces) need no
    look; the others are searched for a second key. (A record with more fields is looked
    at on its own.)
    """
    spare = lengths - texts.text_bytes
    two = ~texts.extra[texts.usable_index]
    suspects = np.flatnonzero(two & (spare >= _MIN_OVERHEAD + _SMALLEST_REPEAT))
    found = np.zeros(len(lengths), bool)
    for i in suspects:
        line = bytes(block[int(starts[i]) : int(starts[i] + lengths[i])])
        found[i] = line.count(b'"prompt"') > 1 or line.count(b'"completion"') > 1
    return found


def _report_later(
    scan: _Scan, code: str, later: np.ndarray, first: np.ndarray, message: str
) -> None:
    """One finding per later line (the first ``max_examples`` by line, the rest counted)."""
    by_line = np.argsort(later, kind="stable")
    shown = by_line[: scan.findings.max_examples]
    for i in shown:
        scan.findings.add(code, scan.role, int(later[i]), "$", message.format(int(first[i])))
    if len(later) > len(shown):
        _count_more(scan.findings, code, len(later) - len(shown))


def _repeats(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(later, first)``: indices of the records whose key an earlier one has, and of the
    earliest record with that key."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    repeat = ordered[1:] == ordered[:-1]
    starts = np.concatenate(([True], ~repeat))
    group_first = np.maximum.accumulate(np.where(starts, np.arange(len(starts)), 0))
    positions = np.nonzero(repeat)[0] + 1
    return order[positions], order[group_first[positions]]


def _duplicates(scan: _Scan) -> None:
    """Exact duplicates, then near-duplicates that are not exact ones (when looked for)."""
    prints, lines = scan.all_fingerprints()
    if len(prints) < 2:
        return
    later, first = _repeats(prints)
    if len(later):
        _report_later(
            scan, "duplicate-record", lines[later], lines[first], "same record as line {}"
        )
    if scan.near_duplicates:
        _near_duplicates(scan, scan.all_near_keys(), prints, lines)


def _near_duplicates(scan: _Scan, near: np.ndarray, prints: np.ndarray, lines: np.ndarray) -> None:
    later, first = _repeats(near)
    if not len(later):
        return
    # An exact repeat is reported as such: a near repeat counts when it is the first record
    # with its exact print and differs from the record it nearly repeats.
    _, first_of_print = np.unique(prints, return_index=True)
    is_first = np.zeros(len(prints), dtype=bool)
    is_first[first_of_print] = True
    keep = is_first[later] & (prints[later] != prints[first])
    if keep.any():
        _report_later(
            scan,
            "near-duplicate-record",
            lines[later[keep]],
            lines[first[keep]],
            "equal to line {} once case, whitespace and punctuation are ignored",
        )


def _leakage(training: _Scan, validation: _Scan) -> None:
    train_prints, _ = training.all_fingerprints()
    val_prints, val_lines = validation.all_fingerprints()
    if not len(train_prints) or not len(val_prints):
        return
    leaked = np.nonzero(np.isin(val_prints, train_prints))[0]
    for i in leaked[: validation.findings.max_examples]:
        validation.findings.add(
            "leakage",
            validation.role,
            int(val_lines[i]),
            "$",
            "this record is also in the training data",
        )
    if len(leaked) > validation.findings.max_examples:
        _count_more(validation.findings, "leakage", len(leaked) - validation.findings.max_examples)


def _label_balance(scan: _Scan) -> dict[str, int] | None:
    labels = scan.labels
    if not labels or len(labels) < 2 or scan.usable < 2 * len(labels):
        return None  # not classification-style
    counts = labels.most_common()
    most, least = counts[0], counts[-1]
    if most[1] > 3 * least[1]:
        scan.findings.add(
            "label-imbalance",
            scan.role,
            None,
            "$.completion",
            f"{most[0][:60]!r} appears {most[1]} times, {least[0][:60]!r} {least[1]}: consider balancing "
            "or stratified sampling",
        )
    return {label[:200]: n for label, n in counts}


def _empty(training: _Scan, findings: Findings) -> None:
    """An empty or blank-only training file, whatever the model's minimum says."""
    if not training.records and not training.unreadable:
        findings.add(
            "empty-file",
            "training",
            None,
            "$",
            "the training file has no records (it is empty or holds only blank lines); "
            "every model and approach needs at least one",
        )


def _counts(
    training: _Scan, validations: list[_Scan], rules: DatasetRules, findings: Findings
) -> None:
    n = training.records
    n_val = sum(v.records for v in validations)
    _empty(training, findings)
    if rules.min_records is not None and n < rules.min_records:
        findings.add(
            "too-few-records",
            "training",
            None,
            "$",
            f"{n} training records; this model and approach need at least {rules.min_records}",
        )
    if rules.max_records is not None:
        counted, what = (
            (n + n_val, "training and validation")
            if rules.counts_training_plus_validation
            else (n, "training")
        )
        if counted > rules.max_records:
            findings.add(
                "too-many-records",
                "training",
                None,
                "$",
                f"{counted} {what} records; at most {rules.max_records}",
            )
    if rules.max_total_records is not None and n + n_val > rules.max_total_records:
        findings.add(
            "too-many-records",
            "training",
            None,
            "$",
            f"{n + n_val} training and validation records together; at most {rules.max_total_records}",
        )
    if validations and not rules.validation_supported:
        findings.add(
            "validation-not-supported",
            "validation",
            None,
            "$",
            "this model and approach do not use validation data; leave validationDataConfig out",
        )
    if (
        validations
        and rules.max_validation_records is not None
        and n_val > rules.max_validation_records
    ):
        findings.add(
            "validation-too-large",
            "validation",
            None,
            "$",
            f"{n_val} validation records; at most {rules.max_validation_records}",
        )
    for scan in (training, *validations):
        limit = rules.max_file_bytes
        if scan is not training and rules.max_validation_file_bytes is not None:
            limit = rules.max_validation_file_bytes
        if limit is not None and scan.bytes_read > limit:
            findings.add(
                "file-too-large", scan.role, None, "$", f"{scan.bytes_read} bytes; at most {limit}"
            )
    media = rules.media or {}
    if media.get("mixImagesAndVideosInDataset") is False:
        for scan in (training, *validations):
            if {"image", "video"} <= scan.media_kinds:
                findings.add(
                    "media-limit",
                    scan.role,
                    None,
                    "$",
                    "a dataset holds images or videos, not both",
                )


def validate_dataset(
    training: ByteSource,
    validation: ByteSource | Sequence[ByteSource] | None = None,
    *,
    customization_type: str,
    base_model: str,
    max_examples: int = 5,
    progress: Callable[[int], None] | None = None,
    rules: DatasetRules | None = None,
    near_duplicates: bool = False,
    careful: bool = False,
) -> dict[str, Any]:
    """Check a training file (and a validation file) for a model and approach; return the report.

    The report (a JSON-ready dict) has the verdict, counts per finding code split into
    errors and warnings, the first ``max_examples`` examples of each code with file,
    line and JSON path, record and token statistics, and the limits applied.

    ``near_duplicates`` also looks for records equal once case, whitespace and punctuation
    are ignored (a warning); it normalizes every byte, which doubles the time of a
    prompt/completion file (see ``lambda_handlers.validation.near``).

    ``careful`` reads every line the careful way (the fast paths' tests compare reports).
    """
    if max_examples < 0:
        raise ValueError(f"max_examples must be 0 or more, got {max_examples}")
    rules = rules or rules_for(base_model, customization_type)
    findings = Findings(max_examples=max_examples)
    sources = [validation] if isinstance(validation, ByteSource) else list(validation or [])
    train = _scan(training, "training", rules, findings, progress, near_duplicates, careful=careful)
    # Bedrock takes up to 10 validation files; each is reported under its own name.
    vals = [
        _scan(
            source,
            "validation" if len(sources) == 1 else f"validation[{i}]",
            rules,
            findings,
            progress,
            near_duplicates,
            careful=careful,
        )
        for i, source in enumerate(sources)
    ]
    return report_of(train, vals, rules, findings, base_model, customization_type)


def report_of(
    train: _Scan,
    vals: list[_Scan],
    rules: DatasetRules,
    findings: Findings,
    base_model: str,
    customization_type: str,
) -> dict[str, Any]:
    """The report of scanned files: the checks over whole files (counts, duplicates,
    leakage, labels) added to ``findings``, then the verdict. A merge of shards
    (``lambda_handlers.validation.shards``) ends here too."""
    _counts(train, vals, rules, findings)
    _duplicates(train)
    for val in vals:
        _duplicates(val)
        _leakage(train, val)
    labels = _label_balance(train)

    errors = findings.by_severity(Severity.ERROR)
    warnings = findings.by_severity(Severity.WARNING)
    files: dict[str, Any] = {"training": {"name": train.name, **train.stats()}}
    for val in vals:
        files[val.role] = {"name": val.name, **val.stats()}
    return {
        "version": REPORT_VERSION,
        "verdict": "invalid" if errors else "valid",
        "baseModel": base_model,
        "customizationType": customization_type,
        "format": rules.format,
        "errors": errors,
        "warnings": warnings,
        "examples": {code: findings.examples[code] for code in sorted(findings.examples)},
        "files": files,
        "trainingTokensPerEpoch": train.tokens_total,
        "labels": labels,
        "limits": rules.limits(),
        "tokenEstimate": token_estimate.DESCRIPTION,
        "codes": {code: CODES[code].summary for code in sorted(findings.counts)},
    }


def summary(report: dict[str, Any]) -> str:
    """One paragraph for an error cause or a terminal."""
    train = report["files"]["training"]
    head = (
        f"{report['verdict'].upper()}: {train['records']} training records"
        + "".join(
            f", {info['records']} {role}"
            for role, info in report["files"].items()
            if role != "training"
        )
        + f", about {report['trainingTokensPerEpoch']} tokens per epoch ({report['format']})."
    )
    parts = [head]
    for severity in ("errors", "warnings"):
        if report[severity]:
            counted = ", ".join(f"{code} x{n}" for code, n in report[severity].items())
            parts.append(f"{severity.capitalize()}: {counted}.")
    for code in report["errors"]:
        for example in report["examples"].get(code, [])[:2]:
            where = (
                f"{example['file']} line {example['line']}"
                if "line" in example
                else example["file"]
            )
            parts.append(f"{code} at {where} {example['path']}: {example['message']}")
    return " ".join(parts)
