"""The validation engine: stream a dataset, check every record, write one report.

Two paths, one result. The fast path decodes a whole block of prompt/completion lines
at once with a typed msgspec decoder (types, required fields and unknown fields are
checked in C) and computes sizes, fingerprints and labels for the block in bulk. A
block with anything wrong in it goes through the careful path instead, line by line,
which finds and names every problem. Memory holds one block plus, per record, an
8-byte fingerprint and a 4-byte line number for the duplicate and leakage checks (and an
8-byte near-duplicate key when those are looked for).

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
from typing import Any, cast

import msgspec
import numpy as np

from lambda_handlers.validation import tokens as token_estimate
from lambda_handlers.validation.findings import CODES, Findings, Severity
from lambda_handlers.validation.formats import CHECKERS, RecordContext, _type_name
from lambda_handlers.validation.near import line_key, line_keys
from lambda_handlers.validation.rules import DatasetRules, rules_for
from lambda_handlers.validation.sniff import UTF8_BOM, duplicate_key, sniff
from lambda_handlers.validation.sources import ByteSource

REPORT_VERSION = "1"
MAX_LABELS = 50  # more distinct completions than this: not classification-style
_generic = msgspec.json.Decoder()


class _PromptCompletion(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A prompt/completion record; gc=False: holds only strings, and millions of them
    must not wake the cyclic garbage collector."""

    prompt: str
    completion: str


_prompt_completion_lines = msgspec.json.Decoder(_PromptCompletion)
_NEWLINE = ord("\n")
_LONE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_OPEN_BRACE = ord("{")


_NO_ENDS = np.zeros(0, np.int64)


def _line_layout(block: memoryview) -> tuple[int, bool, np.ndarray]:
    """``(number of lines, whether every line starts with "{", line lengths)`` of a block.

    When every line starts with ``{`` there is no blank line, so as many decoded
    records as lines means exactly one record on every line. The lengths do not count
    the newline.
    """
    data = np.frombuffer(block, dtype=np.uint8)
    newlines = np.flatnonzero(data == _NEWLINE)
    ends_open = len(data) > 0 and data[-1] != _NEWLINE
    n_lines = len(newlines) + (1 if ends_open else 0)
    if not len(data):
        return 0, False, _NO_ENDS
    starts = data[newlines[: n_lines - 1] + 1] if n_lines > 1 else data[:0]
    objects_only = bool(data[0] == _OPEN_BRACE) and bool(np.all(starts == _OPEN_BRACE))
    ends = np.append(newlines, len(data)) if ends_open else newlines
    lengths = np.diff(ends, prepend=-1) - 1
    return n_lines, objects_only, lengths


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

    def fast_block(
        self,
        first_line: int,
        block: memoryview,
        n_lines: int,
        objects_only: bool,
        lengths: np.ndarray,
    ) -> bool:
        """Prompt/completion lines decoded and measured in bulk; False if the block needs care."""
        if not objects_only:
            return False
        try:
            records = _prompt_completion_lines.decode_lines(block)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
            return False
        # Every line starts an object: as many records as lines means one record per line.
        if len(records) != n_lines:
            return False
        prompts = [r.prompt for r in records]
        completions = [r.completion for r in records]
        if not all(prompts) or not all(completions):
            return False  # empty text: let the careful path name it
        if any(map(str.isspace, prompts)) or any(map(str.isspace, completions)):
            return False
        n = len(records)
        chars = np.fromiter(map(len, prompts), np.int64, n) + np.fromiter(
            map(len, completions), np.int64, n
        )
        if all(map(str.isascii, prompts)) and all(map(str.isascii, completions)):
            text_bytes = chars
        else:
            utf8 = token_estimate.utf8_length
            text_bytes = np.fromiter(map(utf8, prompts), np.int64, n) + np.fromiter(
                map(utf8, completions), np.int64, n
            )
        if _may_repeat_a_key(block, lengths, text_bytes):
            return False
        self.records += n
        self.take(
            np.arange(first_line, first_line + n, dtype=np.uint32),
            text_bytes,
            chars,
            np.fromiter(map(hash, zip(prompts, completions, strict=True)), np.int64, n),
            line_keys(block, lengths) if self.near_duplicates else None,
            completions,
            fast_labels=True,  # all strings: counted in C
        )
        return True

    def careful_block(self, first_line: int, block: memoryview) -> None:
        """Every line decoded and checked on its own, every problem named."""
        checker = CHECKERS[self.rules.format]
        lines = bytes(block).split(b"\n")
        if lines and not lines[-1]:
            lines.pop()  # the block ends with a newline
        kept_lines: list[int] = []
        kept_bytes: list[int] = []
        kept_chars: list[int] = []
        kept_prints: list[int] = []
        kept_near: list[int] = []
        near = self.near_duplicates
        kept_labels: list[str | None] = []
        for offset, raw in enumerate(lines):
            line = first_line + offset
            if not raw.strip():
                self.findings.add("blank-line", self.role, line, "$", "blank line, skipped")
                continue
            self.records += 1
            try:
                obj = _generic.decode(raw)
            except (msgspec.DecodeError, UnicodeDecodeError) as error:
                self._undecodable(line, raw, error)
                continue
            except RecursionError:
                self.findings.add(
                    "too-deeply-nested",
                    self.role,
                    line,
                    "$",
                    "nested deeper than a JSON reader follows; flatten the record",
                )
                continue
            if not isinstance(obj, dict):
                self.findings.add(
                    "not-object",
                    self.role,
                    line,
                    "$",
                    f"expected a JSON object, got {_type_name(obj)}",
                )
                continue
            ctx = RecordContext(
                self.role,
                line,
                self.findings,
                content_types=self.rules.content_types,
                unknown_code="forbidden-field"
                if self.rules.unknown_fields == "error"
                else "unknown-field",
                reserved=self.rules.reserved_keywords,
                reserved_ignore_case=self.rules.reserved_ignore_case,
                media=self.rules.media,
                multi_turn=self.rules.multi_turn,
                system_blocks=self.rules.system_blocks,
            )
            _report_a_key_twice(raw, obj, ctx)
            result = checker(obj, ctx)
            if result is None or not ctx.ok:
                continue
            self.media_kinds |= result.media
            kept_lines.append(line)
            kept_bytes.append(result.text_bytes)
            kept_chars.append(result.chars)
            kept_prints.append(result.fingerprint)
            if near:
                kept_near.append(line_key(raw))
            kept_labels.append(result.label)
        self.take(
            np.array(kept_lines, dtype=np.uint32),
            np.array(kept_bytes, dtype=np.int64),
            np.array(kept_chars, dtype=np.int64),
            np.array(kept_prints, dtype=np.int64),
            np.array(kept_near, dtype=np.int64) if near else None,
            kept_labels,
        )

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
) -> _Scan:
    """Scan ``source``, its first line numbered ``first_line``. ``at_start``: the source
    begins the file (a shard further in has no byte-order mark or gzip header to look for);
    ``file_head``: what a whole-file pass would sniff, when the source is such a shard."""
    scan = _Scan(role, source.name, rules, findings, near_duplicates=near_duplicates)
    fast = rules.format == "prompt-completion"
    head = at_start
    for raw_block in source.line_blocks():
        block = _first_block(scan, raw_block, file_head) if head else raw_block
        head = False
        if block is None:
            scan.bytes_read = source.size or len(raw_block)
            break
        n_lines, objects_only, lengths = _line_layout(block)
        if not (fast and scan.fast_block(first_line, block, n_lines, objects_only, lengths)):
            scan.careful_block(first_line, block)
        first_line += n_lines
        scan.line_count += n_lines
        scan.bytes_read += len(raw_block)
        if progress:
            progress(len(raw_block))
    return scan


_MIN_OVERHEAD = len(b'{"prompt":"","completion":""}')
_SMALLEST_REPEAT = len(b',"prompt":""')


def _may_repeat_a_key(block: memoryview, lengths: np.ndarray, text_bytes: np.ndarray) -> bool:
    """Whether a line of a decoded prompt/completion block may give a key twice.

    The decoder keeps the last value of a repeated key, so a repeat can only hide in the
    bytes a line has beyond its text and the smallest record around it: at least the
    length of ``,"prompt":""``. Lines with fewer extra bytes (escapes, spaces) need no
    look; the others are searched for a second key.
    """
    spare = lengths - text_bytes
    suspects = np.flatnonzero(spare >= _MIN_OVERHEAD + _SMALLEST_REPEAT)
    if not len(suspects):
        return False
    starts = np.cumsum(lengths + 1) - (lengths + 1)
    for i in suspects:
        line = bytes(block[int(starts[i]) : int(starts[i] + lengths[i])])
        if line.count(b'"prompt"') > 1 or line.count(b'"completion"') > 1:
            return True
    return False


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
) -> dict[str, Any]:
    """Check a training file (and a validation file) for a model and approach; return the report.

    The report (a JSON-ready dict) has the verdict, counts per finding code split into
    errors and warnings, the first ``max_examples`` examples of each code with file,
    line and JSON path, record and token statistics, and the limits applied.

    ``near_duplicates`` also looks for records equal once case, whitespace and punctuation
    are ignored (a warning); it normalizes every byte, which doubles the time of a
    prompt/completion file (see ``lambda_handlers.validation.near``).
    """
    if max_examples < 0:
        raise ValueError(f"max_examples must be 0 or more, got {max_examples}")
    rules = rules or rules_for(base_model, customization_type)
    findings = Findings(max_examples=max_examples)
    sources = [validation] if isinstance(validation, ByteSource) else list(validation or [])
    train = _scan(training, "training", rules, findings, progress, near_duplicates)
    # Bedrock takes up to 10 validation files; each is reported under its own name.
    vals = [
        _scan(
            source,
            "validation" if len(sources) == 1 else f"validation[{i}]",
            rules,
            findings,
            progress,
            near_duplicates,
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
