"""Shards: one file validated as byte ranges, separately, and merged into one pass's report.

A shard is a byte range ``[start, end)`` cut anywhere; the engine reads it from the first
line that starts in it to the last (a cut inside a line moves to just after the next
newline, so a record that straddles a cut belongs to the shard where it starts, and the
shards of one file cover every line exactly once). Each shard is validated on its own —
in another process, on another machine — and returns a ``ShardReport``: its counts, its
first examples of each finding, its token histogram and, per record, the 8-byte digest and
4-byte line number the duplicate and leakage checks need (never the records). ``merge``
folds the reports of every file, in file order, into the report ``validate_dataset`` gives
in one pass: same verdict, counts, examples (the first ones in file order), statistics,
duplicates and near-duplicates across shards, leakage between files.

A shard numbers its lines from 1 (or a ``first_line`` it is given) and counts them; the
merge adds the lines of the shards before it. Counting the newlines before a shard instead
would read the file's whole prefix, a serial pass (for S3, every byte of the object before
the shard), while each shard counts its own lines for free as it scans them.

Digests are Python's ``hash`` of the record's text, which depends on the process's hash
seed: shards merged together must come from processes that share one (workers forked from
one forkserver do; spawned workers are given one ``PYTHONHASHSEED``). Each report carries a
digest of a fixed text, and ``merge`` refuses reports whose digests cannot be compared.
"""

from __future__ import annotations

import io
import json
import math
import multiprocessing
import os
import secrets
import signal
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any

import numpy as np

from lambda_handlers.validation.engine import MAX_LABELS, _Scan, _scan, report_of
from lambda_handlers.validation.findings import Findings
from lambda_handlers.validation.rules import DatasetRules, rules_for
from lambda_handlers.validation.sources import BLOCK_BYTES, ByteSource

PARALLEL_MIN_BYTES = 128 * 1024 * 1024
"""Below this (all files together) ``validate`` stays in one process: starting workers
costs more than a smaller file takes on one core."""
SHARDS_PER_WORKER = 2
"""Shards per worker, so a worker that finishes early takes another."""
MIN_SHARD_BYTES = 4 * 1024 * 1024
PROBE_BYTES = 64 * 1024
_DIGEST_PROBE = "bedrock-customize shard digest"


@dataclass(frozen=True)
class Shard:
    """A byte range ``[start, end)`` of a file, cut anywhere (the engine moves each cut to a
    line end)."""

    start: int
    end: int


def cut(size: int, count: int) -> list[Shard]:
    """``count`` shards of nearly equal size covering ``size`` bytes (some may be empty)."""
    count = max(1, count)
    bounds = [size * i // count for i in range(count + 1)]
    return [Shard(a, b) for a, b in pairwise(bounds)]


# --- where a shard's bytes come from ------------------------------------------------------


@dataclass
class Blob:
    """A file that can be read at any offset: a local file, an S3 object, bytes in memory."""

    name: str
    size: int
    read_at: Callable[[int, int], bytes]
    """``read_at(offset, length)``: up to ``length`` bytes from ``offset``."""
    open_range: Callable[[int, int], Any]
    """``open_range(start, end)``: a stream of the bytes ``[start, end)``."""


class _FileRange(io.RawIOBase):
    """The bytes ``[start, end)`` of a local file as a seekable stream (the engine rewinds
    to the start of a line cut by a block instead of copying it)."""

    def __init__(self, path: str, start: int, end: int) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 (closed with this stream)
        self._file.seek(start)
        self._end = end

    def read(self, size: int = -1) -> bytes:
        left = max(0, self._end - self._file.tell())
        return self._file.read(left if size < 0 else min(size, left))

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def close(self) -> None:
        self._file.close()
        super().close()


def file_blob(path: str | Path) -> Blob:
    """A local file as a ``Blob``."""
    name = str(path)

    def read_at(offset: int, length: int) -> bytes:
        with open(name, "rb") as stream:
            return os.pread(stream.fileno(), length, offset)

    return Blob(name, os.stat(name).st_size, read_at, lambda a, b: _FileRange(name, a, b))


def s3_blob(uri: str, s3_client: Any) -> Blob:
    """An S3 object as a ``Blob``: ranged GETs, one per probe and one per shard."""
    bucket, _, key = uri[len("s3://") :].partition("/")
    size = int(s3_client.head_object(Bucket=bucket, Key=key)["ContentLength"])

    def body(start: int, end: int) -> Any:
        if end <= start:
            return io.BytesIO(b"")
        answer = s3_client.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end - 1}")
        return answer["Body"]

    def read_at(offset: int, length: int) -> bytes:
        return bytes(body(offset, min(size, offset + length)).read())

    return Blob(uri, size, read_at, body)


def bytes_blob(name: str, data: bytes) -> Blob:
    """Bytes in memory as a ``Blob`` (tests, small documents)."""
    return Blob(
        name,
        len(data),
        lambda offset, length: data[offset : offset + length],
        lambda start, end: io.BytesIO(data[start:end]),
    )


@cache
def _s3_client() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", config=Config(retries={"mode": "standard"}))


def open_blob(location: str | Path) -> Blob:
    """A local path or an ``s3://bucket/key`` URI as a ``Blob``."""
    text = str(location)
    return s3_blob(text, _s3_client()) if text.startswith("s3://") else file_blob(text)


def line_start(blob: Blob, offset: int) -> int:
    """Where a cut at ``offset`` falls: ``offset`` when a line starts there, else just after
    the next newline (or the end of the file)."""
    if offset <= 0:
        return 0
    position = offset - 1
    while position < blob.size:
        chunk = blob.read_at(position, PROBE_BYTES)
        if not chunk:
            break
        newline = chunk.find(b"\n")
        if newline >= 0:
            return position + newline + 1
        position += len(chunk)
    return blob.size


def _file_head(blob: Blob, block_bytes: int) -> bytes:
    """The first (up to 4) bytes of a whole-file pass's first block, which it sniffs for
    gzip and UTF-16: the file's first 4 bytes, unless every newline in the first block's
    bytes comes before the fourth byte (the block then ends there)."""
    window = min(blob.size, block_bytes)
    data = blob.read_at(0, min(window, PROBE_BYTES))
    if data.find(b"\n", 3) < 0 and len(data) < window:
        data = blob.read_at(0, window)
    end = data.rfind(b"\n") + 1
    return data[: min(end, 4)] if end else data[:4]


# --- one shard -----------------------------------------------------------------------------


@dataclass
class ShardReport:
    """What one shard contributes to its file's report; ``merge`` folds them together."""

    role: str
    name: str
    size: int
    """The whole file's size in bytes."""
    start: int
    end: int
    """The lines read: from ``start`` to ``end`` (line ends), not the range asked for."""
    first_line: int
    line_count: int
    digest_space: int
    records: int
    usable: int
    bytes_read: int
    tokens_total: int
    tokens_min: int | None
    tokens_max: int
    chars_max: int
    token_counts: np.ndarray
    fingerprints: np.ndarray
    lines: np.ndarray
    near: np.ndarray | None
    labels: Counter[str] | None
    media_kinds: frozenset[str]
    unreadable: bool
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def of(cls, scan: _Scan, blob: Blob, start: int, end: int, first_line: int) -> ShardReport:
        prints, lines = scan.all_fingerprints()
        return cls(
            role=scan.role,
            name=blob.name,
            size=blob.size,
            start=start,
            end=end,
            first_line=first_line,
            line_count=scan.line_count,
            digest_space=hash(_DIGEST_PROBE),
            records=scan.records,
            usable=scan.usable,
            bytes_read=blob.size if scan.unreadable else scan.bytes_read,
            tokens_total=scan.tokens_total,
            tokens_min=scan.tokens_min,
            tokens_max=scan.tokens_max,
            chars_max=scan.chars_max,
            token_counts=scan.histogram.counts,
            fingerprints=prints,
            lines=lines,
            near=scan.all_near_keys() if scan.near_duplicates else None,
            labels=scan.labels,
            media_kinds=scan.media_kinds,
            unreadable=scan.unreadable,
            counts=scan.findings.counts,
            examples=scan.findings.examples,
        )

    def to_bytes(self) -> bytes:
        """The report as an ``.npz`` file (numbers and JSON, no pickle): what a shard run in
        another process or function writes for the merge to read (``from_bytes``)."""
        meta = {
            name: getattr(self, name)
            for name in self.__dataclass_fields__
            if name not in _ARRAYS and name not in ("labels", "media_kinds")
        }
        meta["labels"] = None if self.labels is None else list(self.labels.items())
        meta["media_kinds"] = sorted(self.media_kinds)
        arrays = {name: getattr(self, name) for name in _ARRAYS if getattr(self, name) is not None}
        out = io.BytesIO()
        np.savez_compressed(out, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ShardReport:
        """A report written by ``to_bytes``."""
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            meta = json.loads(stored["meta"].tobytes())
            arrays = {name: stored.get(name) for name in _ARRAYS}
        labels, kinds = meta.pop("labels"), meta.pop("media_kinds")
        return cls(
            **meta,
            **arrays,
            labels=None if labels is None else Counter(dict(labels)),
            media_kinds=frozenset(kinds),
        )


_ARRAYS = ("token_counts", "fingerprints", "lines", "near")


def validate_shard(
    blob: Blob,
    shard: Shard,
    *,
    role: str,
    rules: DatasetRules,
    max_examples: int = 5,
    near_duplicates: bool = False,
    first_line: int = 1,
    block_bytes: int = BLOCK_BYTES,
) -> ShardReport:
    """Validate the lines that start in ``shard``, numbered from ``first_line``.

    ``block_bytes`` is the block size of the whole-file pass this shard stands in for (it
    decides what that pass sniffs at the start of the file).
    """
    start, end = line_start(blob, shard.start), line_start(blob, shard.end)
    at_start = start == 0 and end > 0
    source = ByteSource(blob.name, end - start, lambda: blob.open_range(start, end), block_bytes)
    scan = _scan(
        source,
        role,
        rules,
        Findings(max_examples=max_examples),
        None,
        near_duplicates,
        first_line=first_line,
        at_start=at_start,
        file_head=_file_head(blob, block_bytes) if at_start else None,
    )
    return ShardReport.of(scan, blob, start, end, first_line)


# --- the merge -----------------------------------------------------------------------------


def _in_order(reports: Sequence[ShardReport]) -> list[ShardReport]:
    """The reports of one file by position, checked to cover it once; after an unreadable
    start (gzip, UTF-16) only the first, as a whole-file pass stops there."""
    ordered = sorted(reports, key=lambda r: (r.start, r.end))
    if not ordered:
        raise ValueError("no shard reports to merge")
    name, size = ordered[0].name, ordered[0].size
    position = 0
    for report in ordered:
        if report.name != name or report.start != position:
            raise ValueError(
                f"the shard reports of {name} do not cover it once: a shard of "
                f"{report.name} starts at byte {report.start}, expected {position}"
            )
        position = report.end
    if position != size:
        raise ValueError(f"the shard reports of {name} end at byte {position} of {size}")
    first = next((r for r in ordered if r.end > r.start), ordered[0])
    return [first] if first.unreadable else ordered


def _fold_findings(findings: Findings, report: ShardReport, shift: int) -> None:
    for code, n in report.counts.items():
        findings.counts[code] = findings.counts.get(code, 0) + n
    for code, examples in report.examples.items():
        kept = findings.examples.setdefault(code, [])
        room = max(0, findings.max_examples - len(kept))
        kept.extend(
            {**example, "line": example["line"] + shift} if "line" in example else example
            for example in examples[:room]
        )


def _fold(scan: _Scan, report: ShardReport, shift: int) -> None:
    """Add one shard's report to its file's scan, its lines moved down by ``shift``."""
    _fold_findings(scan.findings, report, shift)
    scan.records += report.records
    scan.usable += report.usable
    scan.bytes_read += report.bytes_read
    scan.line_count += report.line_count
    scan.tokens_total += report.tokens_total
    if report.tokens_min is not None:
        low = scan.tokens_min
        scan.tokens_min = report.tokens_min if low is None else min(low, report.tokens_min)
    scan.tokens_max = max(scan.tokens_max, report.tokens_max)
    scan.chars_max = max(scan.chars_max, report.chars_max)
    scan.histogram.counts += report.token_counts
    if len(report.fingerprints):
        scan.fingerprints.append(report.fingerprints)
        scan.lines.append((report.lines.astype(np.int64) + shift).astype(np.uint32))
        if report.near is not None:
            scan.near.append(report.near)
    if scan.labels is not None:
        if report.labels is None:
            scan.labels = None
        else:
            scan.labels.update(report.labels)
            if len(scan.labels) > MAX_LABELS:
                scan.labels = None
    scan.media_kinds |= report.media_kinds
    scan.unreadable |= report.unreadable


def _merge_file(reports: Sequence[ShardReport], rules: DatasetRules, findings: Findings) -> _Scan:
    ordered = _in_order(reports)
    near = all(r.near is not None for r in ordered)
    scan = _Scan(ordered[0].role, ordered[0].name, rules, findings, near_duplicates=near)
    next_line = 1
    for report in ordered:
        _fold(scan, report, next_line - report.first_line)
        next_line += report.line_count
    return scan


def merge(
    training: Sequence[ShardReport],
    validations: Sequence[Sequence[ShardReport]] = (),
    *,
    customization_type: str,
    base_model: str,
    max_examples: int = 5,
    rules: DatasetRules | None = None,
) -> dict[str, Any]:
    """The report of one pass over the files, from the reports of their shards (any order
    within a file; ``validations`` in the order of the validation files)."""
    spaces = {r.digest_space for r in (*training, *(r for v in validations for r in v))}
    if len(spaces) > 1:
        raise ValueError(
            "shard reports from processes with different hash seeds cannot be merged: "
            "run the shards in workers of one pool, or give them one PYTHONHASHSEED"
        )
    rules = rules or rules_for(base_model, customization_type)
    findings = Findings(max_examples=max_examples)
    train = _merge_file(training, rules, findings)
    vals = [_merge_file(reports, rules, findings) for reports in validations]
    return report_of(train, vals, rules, findings, base_model, customization_type)


# --- on every core -------------------------------------------------------------------------


def allowed_cores() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@cache
def processes_available() -> bool:
    """Whether this system can run a pool of processes: it needs POSIX semaphores, which some
    sandboxes lack (AWS Lambda has no ``/dev/shm``)."""
    try:
        multiprocessing.get_context("spawn").Lock()
    except (OSError, ImportError):
        return False
    return True


def workers_for(total_bytes: int, requested: int | None) -> int:
    """``requested`` when given; otherwise every allowed core for files of
    ``PARALLEL_MIN_BYTES`` or more, one process below or where processes cannot be pooled."""
    if requested is not None:
        if requested < 1:
            raise ValueError(f"workers must be 1 or more, got {requested}")
        return requested
    if total_bytes < PARALLEL_MIN_BYTES or not processes_available():
        return 1
    return allowed_cores()


def _run_shard(task: tuple[int, str, Shard, dict[str, Any]]) -> tuple[int, ShardReport]:
    """One shard in a worker process, which opens the file itself (no data through pipes)."""
    index, location, shard, options = task
    return index, validate_shard(open_blob(location), shard, **options)


def _leave_interrupts_to_the_parent() -> None:
    # Ctrl-C reaches every process of the terminal's group: the parent stops the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def _pool(workers: int) -> Iterator[Pool]:
    """Worker processes that share one hash seed, so their digests compare; on leaving
    early (an error, Ctrl-C) they are terminated, not waited for.

    Forkserver where there is one (Linux, macOS): workers are forked from one server, with
    this module already imported. Elsewhere (spawn) the workers are given a
    ``PYTHONHASHSEED``, this process's own when it has one, else a random one.
    """
    setup = _leave_interrupts_to_the_parent
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        with context.Pool(workers, initializer=setup) as pool:
            yield pool
        return
    saved = os.environ.get("PYTHONHASHSEED")
    os.environ["PYTHONHASHSEED"] = saved or str(secrets.randbelow(2**32 - 1) + 1)
    try:
        with multiprocessing.get_context("spawn").Pool(workers, initializer=setup) as pool:
            yield pool
    finally:
        if saved is None:
            del os.environ["PYTHONHASHSEED"]


def shard_count(size: int, workers: int) -> int:
    """How many shards a file of ``size`` bytes is cut into for ``workers`` processes."""
    return max(1, min(workers * SHARDS_PER_WORKER, math.ceil(size / MIN_SHARD_BYTES)))


def validate_in_parallel(
    training: str,
    validation: str | Sequence[str] | None = None,
    *,
    customization_type: str,
    base_model: str,
    workers: int,
    max_examples: int = 5,
    rules: DatasetRules | None = None,
    near_duplicates: bool = False,
    progress: Callable[[int], None] | None = None,
    shards: int | None = None,
) -> dict[str, Any]:
    """``validate_dataset`` over local paths or S3 URIs, in ``workers`` processes: each file
    cut into ``shards`` (default: ``shard_count``), each shard read by its worker, the
    reports merged here. The report is the one ``validate_dataset`` gives."""
    rules = rules or rules_for(base_model, customization_type)
    locations = [training, *([validation] if isinstance(validation, str) else validation or [])]
    roles = ["training"] + (
        ["validation"]
        if len(locations) == 2
        else [f"validation[{i}]" for i in range(len(locations) - 1)]
    )
    options = {"rules": rules, "max_examples": max_examples, "near_duplicates": near_duplicates}
    reports: list[list[ShardReport]] = [[] for _ in locations]
    tasks = []
    for index, (location, role) in enumerate(zip(locations, roles, strict=True)):
        size = open_blob(location).size
        for shard in cut(size, shards or shard_count(size, workers)):
            tasks.append((index, location, shard, {**options, "role": role}))
    with _pool(workers) as pool:
        for index, report in pool.imap_unordered(_run_shard, tasks):
            reports[index].append(report)
            if progress:
                progress(report.end - report.start)
    return merge(
        reports[0],
        reports[1:],
        customization_type=customization_type,
        base_model=base_model,
        max_examples=max_examples,
        rules=rules,
    )
