"""Reference-match grader: the response's final answer equals the reference answer.

For tasks with one verifiable answer (math, classification, short extraction). A sample
scores 1.0 when its final answer matches the reference as text or as a number, else 0.0.

How the final answer is found, in order:

1. the content of the last ``\\boxed{...}`` (or ``\\fbox{...}``), braces balanced;
2. the text after the last "Answer:" / "answer is" / "Final answer:" marker, or after a
   GSM8K-style ``####`` at the start of a line (the rest of that line, or the next
   non-blank line when the marker ends its line);
3. otherwise the whole response (and, for the numeric comparison, its last number).

Comparisons:

- ``exact_match``: both sides normalized (whitespace collapsed, case-folded, wrapping
  ``*``, backticks and quotes removed, trailing punctuation stripped) and equal.
- ``numeric_match``: the reference is a number (``42``, ``"1,234.5"``, ``"$3"``, ``"50%"``,
  ``"3/4"``, ``"\\frac{3}{4}"``; the whole reference, not a number inside a sentence) and the
  answer's number is within a relative tolerance of it (``math.isclose`` with ``rel_tol``,
  default 1e-6, environment variable ``GRADER_NUMERIC_TOLERANCE``; relative, so a reference
  of 0 needs an exact 0). The answer's number is the whole extracted answer when it is one,
  else the last number in it. ``%`` is dropped, not divided: 50% matches 50, not 0.5.

The reference may be a string, a number, a boolean, a list (any item is right), or an
object holding one of those under ``answer``, ``final_answer``, ``label``,
``expected_answer`` or ``solution`` (the first present). A reference with no usable answer
scores 0.0 with ``error_unusable_reference``.

Limits: a response with no answer marker is compared whole, so "The sentiment is positive"
does not match "positive"; ask for "Answer: X" in the prompt. The last-number fallback can
reward a response that happens to end with the right number.
"""

from __future__ import annotations

import math
import re
from functools import partial
from typing import Any

from lambda_handlers.common.observability import logger
from lambda_handlers.graders.contract import (
    Grade,
    GradeResult,
    Metric,
    ResultDict,
    Sample,
    env_float,
    grade_batch,
    summary,
    to_event,
)

TOLERANCE_ENV = "GRADER_NUMERIC_TOLERANCE"
DEFAULT_TOLERANCE = 1e-6
REFERENCE_KEYS = ("answer", "final_answer", "label", "expected_answer", "solution")
"""Keys of an object reference that hold the answer, in order of preference."""
_MAX_DEPTH = 3

# Markdown emphasis, code ticks and quotes (typographic ones too, as models emit them).
_WRAPPERS = "*`'\"“”‘’"
_TRAILING = ".,;:!?。，；：！？"  # ASCII and full-width sentence punctuation
_MINUS = "\u2212"  # the Unicode minus sign (U+2212), which models and LaTeX output use
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_MARKER = re.compile(
    r"\banswer\b\**(?:\s+is\b\s*[:：=]?|\s*[:：=])|^[ \t]*####",
    re.IGNORECASE | re.MULTILINE,
)
_NUMBER = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?"
_SIGNED = rf"[-+]?{_NUMBER}"
_ANY_NUMBER = re.compile(
    rf"\\d?frac\{{(?P<lnum>{_SIGNED})\}}\{{(?P<lden>{_SIGNED})\}}"
    rf"|(?<![\d.])(?P<num>{_SIGNED})(?:\s*/\s*(?P<den>{_SIGNED}))?"
)


def normalize(text: str) -> str:
    """Whitespace collapsed, case-folded, wrappers and trailing punctuation removed."""
    text = " ".join(text.split()).casefold()
    previous = None
    while text != previous:
        previous = text
        text = text.strip().strip(_WRAPPERS).rstrip(_TRAILING)
    return text


def _boxed(response: str) -> str | None:
    """The content of the last ``\\boxed{...}`` whose braces balance.

    One pass pairs every brace, so a degenerate response (thousands of unclosed
    ``\\boxed{``, as a policy early in training can write) costs linear time, not quadratic.
    """
    openings = [match.end() - 1 for match in _BOXED.finditer(response)]
    if not openings:
        return None
    closing: dict[int, int] = {}
    stack: list[int] = []
    for i, char in enumerate(response):
        if char == "{":
            stack.append(i)
        elif char == "}" and stack:
            closing[stack.pop()] = i
    for start in reversed(openings):
        if start in closing:
            return response[start + 1 : closing[start]]
    return None


def extract_answer(response: str) -> str | None:
    """The response's final answer, or ``None`` when it marks none (see the module doc)."""
    boxed = _boxed(response)
    if boxed is not None:
        return boxed.strip()
    matches = list(_MARKER.finditer(response))
    if not matches:
        return None
    rest = response[matches[-1].end() :]
    return next((line.strip() for line in rest.splitlines() if line.strip()), "")


def _to_float(match: re.Match[str]) -> float | None:
    def number(text: str) -> float:
        return float(text.replace(",", ""))

    try:
        if match.group("lnum") is not None:
            value = number(match.group("lnum")) / number(match.group("lden"))
        elif match.group("den") is not None:
            value = number(match.group("num")) / number(match.group("den"))
        else:
            value = number(match.group("num"))
    except (ZeroDivisionError, OverflowError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _number_text(text: str) -> str:
    text = text.replace(_MINUS, "-").strip()
    previous = None
    while text != previous:
        previous = text
        text = text.strip().strip(_WRAPPERS + "$").rstrip(_TRAILING + "%").lstrip("$")
    return text


def parse_number(text: str) -> float | None:
    """``text`` as a number when the whole of it is one (commas, $, %, a/b, \\frac allowed)."""
    match = _ANY_NUMBER.fullmatch(_number_text(text))
    return _to_float(match) if match else None


def last_number(text: str) -> float | None:
    """The last number in ``text``, or ``None``."""
    matches = list(_ANY_NUMBER.finditer(text.replace(_MINUS, "-")))
    return _to_float(matches[-1]) if matches else None


def reference_answers(reference: Any, depth: int = 0) -> list[str]:
    """The accepted answers of a reference as text (see the module doc); may be empty."""
    if isinstance(reference, bool):
        return ["true" if reference else "false"]
    if isinstance(reference, str):
        return [reference]
    if isinstance(reference, int | float):
        try:
            return [str(reference)]
        except ValueError:  # an int beyond Python's digit limit for str()
            return []
    if depth >= _MAX_DEPTH:
        return []
    if isinstance(reference, list):
        return [answer for item in reference for answer in reference_answers(item, depth + 1)]
    if isinstance(reference, dict):
        for key in REFERENCE_KEYS:
            if reference.get(key) is not None:
                return reference_answers(reference[key], depth + 1)
    return []


def score_reference_match(sample: Sample, *, tolerance: float = DEFAULT_TOLERANCE) -> Grade:
    """1.0 when the response's final answer matches any reference answer, else 0.0."""
    answers = [a for a in reference_answers(sample.reference) if normalize(a)]
    if not answers:
        return Grade(0.0, (Metric("error_unusable_reference", 1.0),))
    extracted = extract_answer(sample.response)
    candidate = sample.response if extracted is None else extracted
    normalized = normalize(candidate)
    exact = any(normalize(answer) == normalized for answer in answers)

    numeric = False
    expected = [n for n in (parse_number(a) for a in answers) if n is not None]
    if expected:
        got = parse_number(candidate)
        if got is None:
            got = last_number(candidate)
        numeric = got is not None and any(
            math.isclose(got, n, rel_tol=tolerance, abs_tol=0.0) for n in expected
        )
    return Grade(
        1.0 if exact or numeric else 0.0,
        (
            Metric("exact_match", float(exact), "Reward"),
            Metric("numeric_match", float(numeric), "Reward"),
            Metric("answer_extracted", float(extracted is not None)),
        ),
    )


def grade(event: Any, *, tolerance: float = DEFAULT_TOLERANCE) -> list[GradeResult]:
    """Score a batch by reference match; see ``contract.grade_batch`` for the batch rules."""
    return grade_batch(event, partial(score_reference_match, tolerance=tolerance))


def numeric_tolerance() -> float:
    """``GRADER_NUMERIC_TOLERANCE`` (0 to 1), default 1e-6."""
    return env_float(TOLERANCE_ENV, DEFAULT_TOLERANCE, minimum=0.0, maximum=1.0)


@logger.inject_lambda_context
def handler(event: Any, context: Any) -> list[ResultDict]:
    """Bedrock RFT grader Lambda: reference match."""
    results = grade(event, tolerance=numeric_tolerance())
    logger.info("graded a batch", extra=summary(results))
    return to_event(results)
