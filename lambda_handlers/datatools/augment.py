"""The guide's prompt-prefix augmentation: deterministic, streaming, and honest about its limits.

Each prompt/completion record is written as it is, followed by ``factor - 1`` variants whose
prompt starts with a prefix such as ``"Question: "``, chosen by a seeded random generator.

This is a naive technique, kept because the guide describes it and users ask for it, not
because it is known to help:

- Every variant repeats the original completion word for word. The model sees the same
  answer ``factor`` times per epoch, which is close to training for ``factor`` times as many
  epochs on that answer: it can overfit, memorising completions instead of learning the task.
- The variants are near-identical to the original and to each other (only a few words
  differ), so they add little new information while multiplying the training tokens, and
  the bill, by ``factor``.
- A variant of a training record must never land in the validation set, or validation loss
  measures memorisation. Split first, then augment the training file only.

So: split before augmenting, validate and deduplicate (near-duplicates included) afterwards,
and compare against an unaugmented run before trusting a gain. Prefer real additional
examples, or paraphrases reviewed by a person, when you can get them.

Lines are read and written one at a time, so memory does not grow with the file. Originals
are copied byte for byte (a newline is added to a last line that lacks one, so a variant
never joins it). Records without a string ``"prompt"`` and lines that are not JSON objects
are copied unchanged and counted; blank lines are dropped and counted. A record that cannot
be written back as JSON (text with a lone surrogate escape, a number out of range) is
skipped, original included, and reported with its line and reason; the run goes on.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lambda_handlers.datatools._jsonl import (
    Target,
    check_distinct,
    encode_record,
    is_blank,
    open_output,
    parse_object,
)

MAX_EXAMPLES = 20
"""Skipped records kept with their line and reason; the count is never capped."""
MAX_FACTOR = 20
"""Most copies of a record (the original plus variants) that ``augment_jsonl`` writes.

Past a handful of copies the overfitting risk above dominates; 20 is a ceiling, not advice.
"""

DEFAULT_PREFIXES: tuple[str, ...] = (
    "Question: ",
    "Task: ",
    "Please answer: ",
    "Respond to the following: ",
    "Instruction: ",
    "Request: ",
    "Here is a question: ",
    "Answer this: ",
    "Please help with this: ",
    "Consider the following: ",
    "Your task: ",
    "Reply to this: ",
    "Read this and respond: ",
    "Input: ",
    "Query: ",
    "Please respond: ",
    "Handle this request: ",
    "Answer the following question: ",
    "Work on this: ",
)
"""Enough distinct prefixes for ``MAX_FACTOR - 1`` variants of one record without repeats."""


@dataclass(frozen=True)
class SkippedRecord:
    """A record that was not written, and why."""

    line: int
    reason: str


@dataclass(frozen=True)
class AugmentReport:
    """What an augmentation did, in numbers."""

    source: str
    out: str
    factor: int
    seed: int
    records: int
    """Non-blank lines read."""
    augmented: int
    """Records with a string ``"prompt"``: written once as they are plus ``factor - 1`` variants."""
    variants: int
    """Variant lines written."""
    without_prompt: int
    """JSON objects without a string ``"prompt"``, copied unchanged."""
    unparsed: int
    """Lines that are not JSON objects, copied unchanged."""
    skipped_blank: int
    lines_written: int
    skipped: int = 0
    """Records that cannot be written back as JSON: not written at all, not even the original."""
    skipped_examples: list[SkippedRecord] = field(default_factory=list)
    """The first ``MAX_EXAMPLES`` of them, with their line and reason."""

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values."""
        return asdict(self)


def _check_arguments(factor: int, seed: int, prefixes: Sequence[str]) -> tuple[str, ...]:
    if isinstance(factor, bool) or not isinstance(factor, int) or not 1 <= factor <= MAX_FACTOR:
        raise ValueError(f"factor must be an integer from 1 to {MAX_FACTOR}, got {factor!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    # A str is a Sequence[str] too; one prefix per character is never what was meant.
    if isinstance(prefixes, str | bytes):
        raise ValueError("prefixes must be a sequence of strings, not a single string")
    chosen = tuple(prefixes)
    bad = [p for p in chosen if not isinstance(p, str) or not p.strip()]
    if bad:
        raise ValueError(f"every prefix must be a non-blank string, got {bad[0]!r}")
    if len(set(chosen)) != len(chosen):
        raise ValueError("prefixes must be distinct: a repeated prefix writes duplicate variants")
    if factor - 1 > len(chosen):
        # Variants of one record use distinct prefixes; beyond that they would be exact
        # duplicates, which only add overfitting.
        raise ValueError(
            f"factor {factor} needs {factor - 1} distinct prefixes per record, "
            f"but {len(chosen)} were given"
        )
    return chosen


def augment_jsonl(
    source: Path,
    out: Target,
    *,
    factor: int,
    seed: int = 0,
    prefixes: Sequence[str] = DEFAULT_PREFIXES,
) -> AugmentReport:
    """Write ``source`` to ``out`` with ``factor - 1`` prefixed variants after each prompt record.

    The prefixes of one record's variants are distinct, drawn by ``random.Random(seed)``, so
    the same input, factor, seed and prefixes always give the same bytes. ``factor=1`` copies
    the records (dropping blank lines). ``out`` is a path or a binary stream (see
    ``open_output``). Raises ``ValueError`` for a factor outside 1..``MAX_FACTOR``, for
    unusable prefixes, or when ``out`` is ``source``; nothing is written when it raises.
    """
    chosen = _check_arguments(factor, seed, prefixes)
    check_distinct(source, out=out)
    rng = random.Random(seed)
    counts = dict.fromkeys(("records", "augmented", "variants", "without", "unparsed"), 0)
    blank = 0
    skipped: list[SkippedRecord] = []
    n_skipped = 0
    with source.open("rb") as handle, open_output(out) as sink:
        for number, line in enumerate(handle, start=1):
            if is_blank(line):
                blank += 1
                continue
            counts["records"] += 1
            try:
                lines = _record_lines(line, rng, chosen, factor, counts)
            except ValueError as problem:
                n_skipped += 1
                if len(skipped) < MAX_EXAMPLES:
                    skipped.append(SkippedRecord(number, str(problem)))
                continue
            for written in lines:
                sink.write(written)
    return AugmentReport(
        source=str(source),
        out=str(out) if isinstance(out, Path) else "-",
        factor=factor,
        seed=seed,
        records=counts["records"],
        augmented=counts["augmented"],
        variants=counts["variants"],
        without_prompt=counts["without"],
        unparsed=counts["unparsed"],
        skipped_blank=blank,
        lines_written=counts["records"] - n_skipped + counts["variants"],
        skipped=n_skipped,
        skipped_examples=skipped,
    )


def _record_lines(
    line: bytes,
    rng: random.Random,
    chosen: tuple[str, ...],
    factor: int,
    counts: dict[str, int],
) -> list[bytes]:
    """The lines one input line becomes; ``ValueError`` when the record cannot be written."""
    original = line if line.endswith(b"\n") else line + b"\n"
    record = parse_object(line)
    if record is None:
        counts["unparsed"] += 1
        return [original]
    encode_record(record)  # the original must be writable JSON too, or it is skipped
    prompt = record.get("prompt")
    if not isinstance(prompt, str):
        counts["without"] += 1
        return [original]
    variants = [
        encode_record({**record, "prompt": prefix + prompt}) + b"\n"
        for prefix in rng.sample(chosen, factor - 1)
    ]
    counts["augmented"] += 1
    counts["variants"] += len(variants)
    return [original, *variants]
