"""Finding codes and the collector that counts them and keeps the first examples.

Codes are stable: reports, tests and users' tooling match on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"  # blocks the job: Bedrock would reject it or train on broken data
    WARNING = "warning"  # worth a look; never blocks


@dataclass(frozen=True)
class Code:
    name: str
    severity: Severity
    summary: str


_ALL = [
    Code("not-utf8", Severity.ERROR, "the line is not valid UTF-8"),
    Code("not-json", Severity.ERROR, "the line is not valid JSON"),
    Code("not-object", Severity.ERROR, "the line is JSON but not an object"),
    Code(
        "file-encoding",
        Severity.ERROR,
        "the file is not UTF-8 JSONL (gzip, UTF-16 or UTF-32) or starts with a byte-order mark",
    ),
    Code("too-deeply-nested", Severity.ERROR, "the record is nested deeper than can be read"),
    Code(
        "duplicate-key",
        Severity.ERROR,
        "an object gives the same key twice (services read such JSON differently)",
    ),
    Code("empty-file", Severity.ERROR, "the file has no records (empty or only blank lines)"),
    Code("missing-field", Severity.ERROR, "a required field is missing"),
    Code(
        "unknown-field", Severity.WARNING, "a field the format does not define (ignored by Bedrock)"
    ),
    Code("forbidden-field", Severity.ERROR, "a field the format does not allow"),
    Code("wrong-type", Severity.ERROR, "a field has the wrong JSON type"),
    Code("invalid-value", Severity.ERROR, "a field has a value the format does not allow"),
    Code("empty-text", Severity.ERROR, "a text field is empty or only whitespace"),
    Code("role-order", Severity.ERROR, "conversation roles are out of order"),
    Code(
        "system-misplaced", Severity.ERROR, "a system prompt is somewhere the format does not allow"
    ),
    Code("unsupported-content", Severity.ERROR, "a content type the model does not take"),
    Code("reserved-keyword", Severity.ERROR, "text contains a keyword the model reserves"),
    Code("media-limit", Severity.ERROR, "images or videos beyond what the model allows"),
    Code(
        "record-too-long", Severity.ERROR, "the record's estimated tokens exceed the model's limit"
    ),
    Code(
        "record-too-many-chars", Severity.ERROR, "the record's characters exceed the model's limit"
    ),
    Code("too-few-records", Severity.ERROR, "fewer records than the model and approach require"),
    Code("too-many-records", Severity.ERROR, "more records than the model and approach allow"),
    Code("validation-too-large", Severity.ERROR, "more validation records than allowed"),
    Code(
        "validation-not-supported", Severity.ERROR, "the model and approach take no validation data"
    ),
    Code("file-too-large", Severity.ERROR, "the file is larger than allowed"),
    Code("blank-line", Severity.WARNING, "a blank line (skipped)"),
    Code("duplicate-record", Severity.WARNING, "an exact duplicate of an earlier record"),
    Code(
        "near-duplicate-record",
        Severity.WARNING,
        "equal to an earlier record once case, whitespace and punctuation are ignored",
    ),
    Code("leakage", Severity.WARNING, "a validation record that is also in the training data"),
    Code(
        "label-imbalance",
        Severity.WARNING,
        "classification labels are imbalanced (most > 3x least)",
    ),
    Code("same-chosen-rejected", Severity.WARNING, "chosen and rejected answers are identical"),
]
CODES: dict[str, Code] = {c.name: c for c in _ALL}


@dataclass
class Findings:
    """Counts per code and the first ``max_examples`` examples of each."""

    max_examples: int = 5
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(
        self, code: str, file: str, line: int | None, path: str, message: str, count: int = 1
    ) -> None:
        if code not in CODES:
            raise KeyError(f"unknown finding code {code!r}")
        self.counts[code] = self.counts.get(code, 0) + count
        kept = self.examples.setdefault(code, [])
        if len(kept) < self.max_examples:
            example: dict[str, Any] = {"file": file, "path": path, "message": message}
            if line is not None:
                example["line"] = line
            kept.append(example)

    def total(self, severity: Severity) -> int:
        return sum(n for code, n in self.counts.items() if CODES[code].severity is severity)

    def by_severity(self, severity: Severity) -> dict[str, int]:
        return {c: n for c, n in sorted(self.counts.items()) if CODES[c].severity is severity}
