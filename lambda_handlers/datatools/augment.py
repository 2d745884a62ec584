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
are copied unchanged and counted; blank lines are dropped and counted.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lambda_handlers.datatools._jsonl import atomic_output, check_distinct, is_blank, parse_object

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
    out: Path,
    *,
    factor: int,
    seed: int = 0,
    prefixes: Sequence[str] = DEFAULT_PREFIXES,
) -> AugmentReport:
    """Write ``source`` to ``out`` with ``factor - 1`` prefixed variants after each prompt record.

    The prefixes of one record's variants are distinct, drawn by ``random.Random(seed)``, so
    the same input, factor, seed and prefixes always give the same bytes. ``factor=1`` copies
    the records (dropping blank lines). Raises ``ValueError`` for a factor outside
    1..``MAX_FACTOR``, for unusable prefixes, or when ``out`` is ``source``; nothing is
    written when it raises.
    """
    chosen = _check_arguments(factor, seed, prefixes)
    check_distinct(source, out=out)
    rng = random.Random(seed)
    records = augmented = variants = without_prompt = unparsed = blank = 0
    with source.open("rb") as handle, atomic_output(out) as sink:
        for line in handle:
            if is_blank(line):
                blank += 1
                continue
            records += 1
            sink.write(line if line.endswith(b"\n") else line + b"\n")
            record = parse_object(line)
            if record is None:
                unparsed += 1
                continue
            prompt = record.get("prompt")
            if not isinstance(prompt, str):
                without_prompt += 1
                continue
            augmented += 1
            for prefix in rng.sample(chosen, factor - 1):
                variant = {**record, "prompt": prefix + prompt}
                sink.write(json.dumps(variant, ensure_ascii=False).encode("utf-8") + b"\n")
                variants += 1
    return AugmentReport(
        source=str(source),
        out=str(out),
        factor=factor,
        seed=seed,
        records=records,
        augmented=augmented,
        variants=variants,
        without_prompt=without_prompt,
        unparsed=unparsed,
        skipped_blank=blank,
        lines_written=records + variants,
    )
