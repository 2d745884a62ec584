"""Deterministic train/validation split of a JSONL file, streamed in two passes.

Bedrock takes a separate validation file (``validationDataConfig``) and reports validation
loss on it, so the split decides what "validation loss" means: it has to be reproducible
(same seed, same bytes, so an experiment can be rerun and compared) and, for
classification-style data, representative of every label.

How it works, and why:

- Pass 1 counts the records (and, when stratifying, the records per label). The exact
  number of validation records, ``round(validation_fraction * n)`` per stratum, depends on
  ``n``, which is only known after reading the file once.
- Pass 2 decides line by line with selection sampling (Knuth's Algorithm S): a record is
  held out with probability ``needed / remaining`` of its stratum. Every subset of the right
  size is equally likely, the count comes out exact, and the only state is two counters per
  stratum. Memory is O(number of labels), never O(file), so a file larger than RAM splits
  the same way as a small one.
- Lines are copied byte for byte (no re-serialisation, so nothing about a record changes
  between the file you checked and the file Bedrock reads). Blank lines are dropped and
  counted. When stratifying, lines that are not JSON objects go to the training side
  unchanged and are counted as ``unparsed``: they are the validation engine's business, and
  a split should not be where data silently disappears.
- Both outputs are written to temporary files and renamed at the end, so a rejected or
  interrupted split leaves no half-written dataset behind.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lambda_handlers.datatools._jsonl import (
    Target,
    check_distinct,
    is_blank,
    open_outputs,
    parse_object,
)

MAX_LABELS = 1000
"""Most distinct label values a stratified split accepts.

Stratifying keeps one counter pair per label; a free-text field (a completion that differs
on every line) would make that O(file) and put zero or one record of each "label" in
validation, which is not stratification. A class label has a handful of values.
"""


@dataclass(frozen=True)
class StratumCounts:
    """How the records of one stratum (one label value) were divided."""

    total: int
    train: int
    validation: int


@dataclass(frozen=True)
class SplitReport:
    """What a split did, in numbers a user (or a later pipeline step) can check."""

    source: str
    train_out: str
    validation_out: str
    validation_fraction: float
    seed: int
    stratified: bool
    label_field: str | None
    """The field stratified on; ``None`` when not stratified."""
    total: int
    """Non-blank lines read (records, parsed or not)."""
    train: int
    validation: int
    skipped_blank: int
    unparsed: int | None
    """Lines that are not JSON objects (sent to training); counted only when stratifying."""
    labels: dict[str, StratumCounts] | None
    """Per label value, when stratified. Strings as they are, other JSON values as JSON text."""
    missing_label: StratumCounts | None
    """Objects without the label field, split as one stratum of their own (``None`` if none)."""

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values."""
        return asdict(self)


def _label_key(record: dict[str, Any], label_field: str) -> str | None:
    """The stratum of a record: its label as text, or ``None`` when the field is missing.

    Labels are compared by their text so that any JSON value can be a label; a string
    ``"1"`` and a number ``1`` share a stratum, which only merges two lines of the report.
    """
    if label_field not in record:
        return None
    value = record[label_field]
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _check_arguments(
    validation_fraction: float, seed: int, stratify: bool, label_field: str
) -> None:
    fraction_ok = isinstance(validation_fraction, int | float) and not isinstance(
        validation_fraction, bool
    )
    if not fraction_ok or not 0 < validation_fraction < 1:
        raise ValueError(
            "validation_fraction must be a number greater than 0 and less than 1, "
            f"got {validation_fraction!r}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    if stratify and (not isinstance(label_field, str) or not label_field):
        raise ValueError(f"label_field must be a non-empty field name, got {label_field!r}")


class _Strata:
    """Counts of pass 1: records per stratum, blank and unparsed lines."""

    def __init__(self) -> None:
        self.counts: dict[str | None, int] = {}
        self.total = 0
        self.blank = 0
        self.unparsed = 0


def _count(source: Path, stratify: bool, label_field: str) -> _Strata:
    strata = _Strata()
    with source.open("rb") as handle:
        for line in handle:
            if is_blank(line):
                strata.blank += 1
                continue
            strata.total += 1
            if not stratify:
                continue
            record = parse_object(line)
            if record is None:
                strata.unparsed += 1
                continue
            key = _label_key(record, label_field)
            strata.counts[key] = strata.counts.get(key, 0) + 1
            if len(strata.counts) > MAX_LABELS:
                raise ValueError(
                    f"stratifying by {label_field!r} found more than {MAX_LABELS} distinct values; "
                    "stratify by a field with a few values (a class label), or split without "
                    "stratifying"
                )
    if not stratify:
        strata.counts[""] = strata.total
    return strata


def _shown(target: Target) -> str:
    return str(target) if isinstance(target, Path) else "-"


def split_jsonl(
    source: Path,
    train_out: Target,
    validation_out: Target,
    *,
    validation_fraction: float,
    seed: int = 0,
    stratify: bool = False,
    label_field: str = "completion",
) -> SplitReport:
    """Split ``source`` into ``train_out`` and ``validation_out``, deterministically.

    Exactly ``round(validation_fraction * n)`` records go to validation, where ``n`` is the
    number of records (per label value of ``label_field`` when ``stratify``; Python's
    ``round``, so halves go to the even number). The same file, fraction and seed always
    give the same two files, byte for byte.

    Raises ``ValueError`` for a fraction outside (0, 1), for a split that would leave
    either side empty, for outputs that are the source or each other, and for a stratified
    split over a field with more than ``MAX_LABELS`` values. A missing source raises
    ``FileNotFoundError``. Nothing is written when it raises. An output is a path or a
    binary stream (see ``open_outputs``: ``-`` on the command line).
    """
    _check_arguments(validation_fraction, seed, stratify, label_field)
    check_distinct(source, train_out=train_out, validation_out=validation_out)

    strata = _count(source, stratify, label_field)
    needed = {key: round(validation_fraction * n) for key, n in strata.counts.items()}
    validation_total = sum(needed.values())
    train_total = strata.total - validation_total
    if strata.total == 0:
        raise ValueError(f"{source} has no records to split (only blank lines)")
    if validation_total == 0:
        detail = f" across {len(strata.counts)} label values of {label_field!r}" if stratify else ""
        raise ValueError(
            f"validation_fraction {validation_fraction} of {strata.total} records{detail} puts "
            "no record in validation; raise the fraction or add records"
        )
    if train_total == 0:
        raise ValueError(
            f"validation_fraction {validation_fraction} of {strata.total} records puts no record "
            "in training; lower the fraction or add records"
        )

    _write_split(source, train_out, validation_out, strata, needed, seed, stratify, label_field)

    def counts(key: str | None) -> StratumCounts:
        n = strata.counts[key]
        return StratumCounts(total=n, train=n - needed[key], validation=needed[key])

    labels = (
        {key: counts(key) for key in sorted(k for k in strata.counts if k is not None)}
        if stratify
        else None
    )
    return SplitReport(
        source=str(source),
        train_out=_shown(train_out),
        validation_out=_shown(validation_out),
        validation_fraction=validation_fraction,
        seed=seed,
        stratified=stratify,
        label_field=label_field if stratify else None,
        total=strata.total,
        train=train_total,
        validation=validation_total,
        skipped_blank=strata.blank,
        unparsed=strata.unparsed if stratify else None,
        labels=labels,
        missing_label=counts(None) if stratify and None in strata.counts else None,
    )


def _write_split(
    source: Path,
    train_out: Target,
    validation_out: Target,
    strata: _Strata,
    needed: dict[str | None, int],
    seed: int,
    stratify: bool,
    label_field: str,
) -> None:
    """Pass 2: selection sampling per stratum over one seeded random stream."""
    rng = random.Random(seed)
    needed = dict(needed)
    remaining = dict(strata.counts)
    changed = ValueError(f"{source} changed while it was being split; split it again")
    with (
        source.open("rb") as handle,
        open_outputs(train_out, validation_out) as (train, validation),
    ):
        for line in handle:
            if is_blank(line):
                continue
            key: str | None = ""
            if stratify:
                record = parse_object(line)
                if record is None:
                    train.write(line)
                    continue
                key = _label_key(record, label_field)
            left = remaining.get(key, 0)
            if left <= 0:
                raise changed
            remaining[key] = left - 1
            # needed == left gives probability 1.0 and needed == 0 gives 0.0, so the count
            # is exact whatever the random stream.
            if rng.random() < needed[key] / left:
                needed[key] -= 1
                validation.write(line)
            else:
                train.write(line)
        if any(remaining.values()):
            raise changed
