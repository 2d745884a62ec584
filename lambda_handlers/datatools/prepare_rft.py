"""Preference pairs to reinforcement fine-tuning records, streamed line by line.

Bedrock has no chosen/rejected (DPO) training format (see the user guide's "Prepare data
for RFT"): reinforcement fine-tuning takes prompts in the OpenAI chat form with a
``reference_answer`` that the grader Lambda reads. This tool turns each pair::

    {"prompt": "...", "chosen": "...", "rejected": "...", "score"?: 0.0-1.0}

into one RFT record::

    {"id": "pair-<line>",
     "messages": [{"role": "user", "content": "<prompt>"}],
     "reference_answer": {"chosen": "...", "rejected": "...", "score"?: ...}}

which is exactly what the preference grader (``lambda_handlers.graders.preference``)
scores against. ``<line>`` is the pair's 1-based line number in the source, so a record
can be traced back to its pair.

- A pair is invalid, skipped and counted with its line and reason, when the line is not a
  JSON object, when ``prompt``, ``chosen`` or ``rejected`` is not a non-blank string, or
  when ``score`` is present and not a number from 0 to 1. Other fields are dropped (and
  the pairs that had some are counted): RFT passes extra fields to the grader, but the
  preference grader reads none.
- A pair that cannot be written back as JSON (text with a lone surrogate escape, a number
  out of range) is invalid too, reported with its line like the others.
- A pair with the same prompt, chosen, rejected and score as an earlier one is written once;
  the repeats are counted with their line and the line they repeat.
- A pair whose chosen and rejected answers are the same text (surrounding whitespace
  aside) is kept and counted: it is
  valid, but every response scores 0.5 on it, so it teaches nothing and costs a prompt.
- Blank lines are dropped and counted. The output is written to a temporary file and
  renamed at the end, so a failed run leaves no half-written dataset.

Bedrock RFT needs at least ``RFT_MIN_RECORDS`` training records and takes at most
``RFT_MAX_RECORDS`` prompts (the data file's RFT rule); the report says whether the output
is within those bounds. Writing fewer is not an error here: files can be concatenated.
"""

from __future__ import annotations

import math
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
from lambda_handlers.validation.rules import all_rules

MAX_EXAMPLES = 20
"""Line numbers kept per kind of finding (invalid, identical); the counts are never capped."""
FIELDS = ("prompt", "chosen", "rejected", "score")


def _rft_bounds() -> tuple[int, int]:
    """The RFT record bounds of the data file (the strictest over its RFT rules)."""
    rules = [r for r in all_rules() if r.customization_type == "REINFORCEMENT_FINE_TUNING"]
    minimum = max((r.min_records for r in rules if r.min_records is not None), default=100)
    maximum = min((r.max_records for r in rules if r.max_records is not None), default=20_000)
    return minimum, maximum


RFT_MIN_RECORDS, RFT_MAX_RECORDS = _rft_bounds()


@dataclass(frozen=True)
class InvalidPair:
    """A skipped line and why."""

    line: int
    reason: str


@dataclass(frozen=True)
class RepeatedPair:
    """A pair not written because an earlier line holds the same one."""

    line: int
    same_as: int


@dataclass(frozen=True)
class PrepareRftReport:
    """What a conversion did, in numbers."""

    source: str
    out: str
    pairs: int
    """Non-blank lines read."""
    written: int
    """RFT records written (valid pairs)."""
    invalid: int
    invalid_examples: list[InvalidPair]
    """The first ``MAX_EXAMPLES`` invalid lines, with the reason."""
    identical: int
    """Written pairs whose chosen and rejected answers are the same text (no signal)."""
    identical_lines: list[int]
    """The first ``MAX_EXAMPLES`` of them."""
    with_score: int
    """Written pairs that carry a ``score``."""
    extra_fields_dropped: int
    """Written pairs that had fields other than prompt, chosen, rejected and score."""
    skipped_blank: int
    rft_min_records: int
    rft_max_records: int
    within_rft_bounds: bool
    """Whether ``written`` is within Bedrock's RFT record bounds."""
    repeated: int = 0
    """Valid pairs not written because an earlier line holds the same pair."""
    repeated_examples: list[RepeatedPair] = field(default_factory=list)
    """The first ``MAX_EXAMPLES`` of them."""

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values."""
        return asdict(self)


def _text(pair: dict[str, Any], name: str) -> str | None:
    value = pair.get(name)
    return value if isinstance(value, str) and value.strip() else None


def _problem(pair: dict[str, Any] | None) -> str | None:
    """Why a parsed line is not a usable pair, or ``None``."""
    if pair is None:
        return "not a JSON object"
    missing = [name for name in ("prompt", "chosen", "rejected") if _text(pair, name) is None]
    if missing:
        what = "a non-blank string" if len(missing) == 1 else "non-blank strings"
        return f"{', '.join(missing)} must be {what}"
    if "score" in pair:
        score = pair["score"]
        if isinstance(score, bool) or not isinstance(score, int | float):
            return "score must be a number from 0 to 1"
        if not (math.isfinite(score) and 0.0 <= score <= 1.0):
            return f"score must be a number from 0 to 1, got {score}"
    return None


def rft_record(pair: dict[str, Any], line: int) -> dict[str, Any]:
    """The RFT record of a valid pair found on ``line`` (1-based)."""
    return {"id": f"pair-{line}", **_rft_body(pair)}


def _rft_body(pair: dict[str, Any]) -> dict[str, Any]:
    reference: dict[str, Any] = {"chosen": pair["chosen"], "rejected": pair["rejected"]}
    if "score" in pair:
        reference["score"] = pair["score"]
    return {
        "messages": [{"role": "user", "content": pair["prompt"]}],
        "reference_answer": reference,
    }


class _Tally:
    """The counts of a conversion, and the first lines of each kind of finding."""

    def __init__(self) -> None:
        self.pairs = self.written = self.with_score = self.extra = self.blank = 0
        self.invalid: list[InvalidPair] = []
        self.n_invalid = 0
        self.identical: list[int] = []
        self.n_identical = 0
        self.repeated: list[RepeatedPair] = []
        self.n_repeated = 0
        self.first_line_of: dict[int, int] = {}

    def reject(self, line: int, reason: str) -> None:
        self.n_invalid += 1
        if len(self.invalid) < MAX_EXAMPLES:
            self.invalid.append(InvalidPair(line, reason))

    def record(self, pair: dict[str, Any], line: int) -> bytes | None:
        """The output line of a valid pair, or ``None`` for a repeat (or a ``ValueError``)."""
        body = encode_record(_rft_body(pair))
        key = hash(body)
        first = self.first_line_of.setdefault(key, line)
        if first != line:
            self.n_repeated += 1
            if len(self.repeated) < MAX_EXAMPLES:
                self.repeated.append(RepeatedPair(line, first))
            return None
        self.written += 1
        self.with_score += "score" in pair
        self.extra += any(name not in FIELDS for name in pair)
        if pair["chosen"].strip() == pair["rejected"].strip():
            self.n_identical += 1
            if len(self.identical) < MAX_EXAMPLES:
                self.identical.append(line)
        # As json.dumps writes rft_record(pair, line): the id first.
        return f'{{"id": "pair-{line}", '.encode() + body[1:] + b"\n"


def prepare_rft(source: Path, out: Target) -> PrepareRftReport:
    """Write the RFT records of ``source``'s valid preference pairs to ``out``.

    ``out`` is a path or a binary stream (see ``open_output``). Raises ``ValueError`` when
    ``out`` is ``source`` or when no pair is valid (nothing is written then),
    ``FileNotFoundError`` for a missing source.
    """
    check_distinct(source, out=out)
    tally = _Tally()
    with source.open("rb") as handle, open_output(out) as sink:
        for number, line in enumerate(handle, start=1):
            if is_blank(line):
                tally.blank += 1
                continue
            tally.pairs += 1
            pair = parse_object(line)
            problem = _problem(pair)
            if pair is None or problem is not None:
                tally.reject(number, problem or "not a JSON object")
                continue
            try:
                written = tally.record(pair, number)
            except ValueError as unwritable:
                tally.reject(number, str(unwritable))
                continue
            if written is not None:
                sink.write(written)
        if tally.written == 0:
            raise ValueError(
                f"{source} has no valid preference pair ({tally.pairs} non-blank lines, "
                f'{tally.n_invalid} invalid); each line needs {{"prompt", "chosen", "rejected"}} '
                "as strings"
            )
    return PrepareRftReport(
        source=str(source),
        out=str(out) if isinstance(out, Path) else "-",
        pairs=tally.pairs,
        written=tally.written,
        invalid=tally.n_invalid,
        invalid_examples=tally.invalid,
        identical=tally.n_identical,
        identical_lines=tally.identical,
        with_score=tally.with_score,
        extra_fields_dropped=tally.extra,
        skipped_blank=tally.blank,
        rft_min_records=RFT_MIN_RECORDS,
        rft_max_records=RFT_MAX_RECORDS,
        within_rft_bounds=RFT_MIN_RECORDS <= tally.written <= RFT_MAX_RECORDS,
        repeated=tally.n_repeated,
        repeated_examples=tally.repeated,
    )
