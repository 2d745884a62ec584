"""The contract between Bedrock reinforcement fine-tuning and a grader Lambda.

Sources: the Bedrock user guide "Setting up reward functions" and the Nova pages
"Implementing reward functions" (2026-11).

The event is a JSON list (a batch) of samples. Each sample is one training record with the
model's generated response appended as the last message and an ``id`` added::

    {"id": "123",
     "messages": [{"role": "user", "content": "..."}, {"role": "assistant", "content": "..."}],
     "reference_answer": <any JSON>,
     ...the record's other fields, possibly under "metadata"}

The Lambda returns one result per sample, in the same order::

    {"id": "123", "aggregate_reward_score": 0.75,
     "metrics_list": [{"name": "exact_match", "value": 1.0, "type": "Reward"}]}

``grade_batch`` applies a per-sample scorer under these rules, which AWS's own sample
graders do not all follow:

- One bad sample never fails the batch. A malformed sample (not an object, no id, no
  message list, no assistant response last, no reference when the grader needs one) scores
  0.0 with an ``error_<problem>`` metric, and keeps its own id (``""`` when it has none,
  never a made-up ``"0"``, which could be another sample's id). A scorer that raises on a
  sample costs that sample only (``error_grader_exception``, logged with the id).
- Scores are clamped to [0, 1]; NaN and infinities become 0.0 (they would otherwise reach
  the training loss, or fail JSON serialisation).
- Only a batch that is not a list raises (``ValueError``): nothing can be matched back.
  Configuration errors (``GraderConfigurationError``) and the workflow's translated AWS
  errors (``WorkflowError``) also propagate, because they would grade every sample wrong.

The reference answer is read from ``reference_answer`` at the top level, else from
``metadata.reference_answer`` (one AWS sample grader reads it there; the RFT data page says
custom fields reach the grader in a ``metadata`` field). ``metadata`` may be an object or a
JSON string of one. Message content may be a string or a list of blocks, whose ``text``
values are joined with newlines (other blocks, such as reasoning, are ignored).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from lambda_handlers.common.errors import WorkflowError
from lambda_handlers.common.observability import logger

MetricType = Literal["Reward", "Metric"]
"""``Reward``: a component of the score. ``Metric``: reported for monitoring only."""

ASSISTANT_ROLES = frozenset({"assistant", "nova_assistant"})
"""Roles of the generated turn. ``nova_assistant`` is accepted because AWS's sample grader
for Nova accepts it; the documented payload uses ``assistant``."""


class GraderConfigurationError(ValueError):
    """A grader's environment variable is missing or unusable.

    Raised (failing the batch, and so the job) rather than scoring every sample 0.0: a
    training run on rewards that are all zero costs money and learns nothing.
    """


class MetricDict(TypedDict):
    """One entry of ``metrics_list`` as Bedrock reads it."""

    name: str
    value: float
    type: MetricType


class ResultDict(TypedDict):
    """One sample's result as Bedrock reads it."""

    id: Any
    aggregate_reward_score: float
    metrics_list: list[MetricDict]


@dataclass(frozen=True)
class Metric:
    """A named number reported with a sample's score."""

    name: str
    value: float
    type: MetricType = "Metric"

    def to_dict(self) -> MetricDict:
        """The metric as Bedrock reads it."""
        return {"name": self.name, "value": self.value, "type": self.type}


@dataclass(frozen=True)
class Grade:
    """What a scorer says about one well-formed sample: a score in [0, 1] and its metrics."""

    score: float
    metrics: tuple[Metric, ...] = ()


@dataclass(frozen=True)
class GradeResult:
    """One sample's result, in the order and with the id of the sample."""

    id: Any
    """The sample's ``id`` echoed unchanged (a string in every AWS example); ``""`` if absent."""
    aggregate_reward_score: float
    metrics_list: tuple[Metric, ...]

    def to_dict(self) -> ResultDict:
        """The result as Bedrock reads it."""
        return {
            "id": self.id,
            "aggregate_reward_score": self.aggregate_reward_score,
            "metrics_list": [m.to_dict() for m in self.metrics_list],
        }


@dataclass(frozen=True)
class Sample:
    """A well-formed sample: its id, conversation, generated response and reference."""

    id: Any
    messages: tuple[Any, ...]
    """The whole conversation; the last message is the generated response."""
    response: str
    """The text of the generated (last, assistant) message."""
    reference: Any
    """``reference_answer`` (top level, else under ``metadata``); ``None`` when absent."""
    record: dict[str, Any] = field(repr=False)
    """The sample as received, for graders that read other fields."""

    @property
    def has_reference(self) -> bool:
        return self.reference is not None

    @property
    def prompt_messages(self) -> tuple[Any, ...]:
        """The conversation before the generated response."""
        return self.messages[:-1]

    def lookup(self, name: str) -> Any:
        """A field of the record: at the top level, else under ``metadata``; ``None`` if absent."""
        value = self.record.get(name)
        if value is None:
            value = _metadata(self.record).get(name)
        return value


ScoreOne = Callable[[Sample], Grade]


def content_text(content: Any) -> str | None:
    """The text of a message's content: a string, or the ``text`` of a list of blocks.

    ``None`` when the content is neither (a number, an object, missing).
    """
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            block["text"]
            for block in content
            if isinstance(block, dict) and isinstance(block.get("text"), str)
        )
    return None


def _metadata(record: dict[str, Any]) -> dict[str, Any]:
    metadata = record.get("metadata")
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except (ValueError, RecursionError):
            return {}
    return metadata if isinstance(metadata, dict) else {}


def _reference(record: dict[str, Any]) -> Any:
    reference = record.get("reference_answer")
    if reference is None:
        reference = _metadata(record).get("reference_answer")
    return reference


def parse_sample(
    raw: Any, *, require_reference: bool = True
) -> tuple[Any, Sample | None, list[str]]:
    """``(id, sample, problems)``: the sample when well formed, else the problems found.

    The id is returned even for a malformed sample, so its result can carry it.
    """
    if not isinstance(raw, dict):
        return "", None, ["invalid_sample"]
    problems: list[str] = []
    sample_id = raw.get("id")
    if sample_id is None or sample_id == "":
        sample_id = ""
        problems.append("missing_id")
    messages = raw.get("messages")
    response: str | None = None
    if messages is None:
        problems.append("missing_messages")
    elif not isinstance(messages, list):
        problems.append("invalid_messages")
    else:
        # The generated turn is appended last; an assistant turn earlier in the list is part
        # of the prompt, and grading it would reward the wrong text.
        last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
        role = last.get("role")
        if not isinstance(role, str) or role not in ASSISTANT_ROLES:
            problems.append("no_assistant_response")
        else:
            response = content_text(last.get("content"))
            if response is None:
                problems.append("invalid_response_content")
    reference = _reference(raw)
    if require_reference and reference is None:
        problems.append("missing_reference")
    if problems or response is None or not isinstance(messages, list):
        return sample_id, None, problems
    return (
        sample_id,
        Sample(
            id=sample_id,
            messages=tuple(messages),
            response=response,
            reference=reference,
            record=raw,
        ),
        [],
    )


def unit_score(value: Any) -> float:
    """``value`` as a float in [0, 1]; NaN, infinities and non-numbers become 0.0."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return 0.0
    if not math.isfinite(number):
        return 0.0
    return min(1.0, max(0.0, number))


def _finite(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def _clean(metric: Metric) -> Metric:
    metric_type: MetricType = "Reward" if metric.type == "Reward" else "Metric"
    return Metric(str(metric.name), _finite(metric.value), metric_type)


def malformed(sample_id: Any, problems: Sequence[str]) -> GradeResult:
    """The result of a sample that cannot be graded: 0.0 and one metric per problem."""
    return GradeResult(
        id=sample_id,
        aggregate_reward_score=0.0,
        metrics_list=tuple(Metric(f"error_{problem}", 1.0) for problem in problems),
    )


def grade_batch(
    event: Any,
    score_one: ScoreOne,
    *,
    require_reference: bool = True,
    concurrency: int = 1,
) -> list[GradeResult]:
    """Score every sample of ``event`` with ``score_one``: one result per sample, in order.

    ``require_reference=False`` for graders that can score without a reference.
    ``concurrency`` above 1 scores well-formed samples on that many threads (for scorers
    that wait on a network call); results keep the batch order either way.
    Raises ``ValueError`` only when ``event`` is not a list.
    """
    if not isinstance(event, list):
        raise ValueError(
            "a grader's event must be a JSON list (a batch) of samples, "
            f"got {type(event).__name__}: see the Bedrock user guide, 'Setting up reward functions'"
        )
    parsed = [parse_sample(raw, require_reference=require_reference) for raw in event]

    def grade(item: tuple[Any, Sample | None, list[str]]) -> GradeResult:
        sample_id, sample, problems = item
        if sample is None:
            return malformed(sample_id, problems)
        try:
            outcome = score_one(sample)
            score = unit_score(outcome.score)
            metrics = tuple(_clean(m) for m in outcome.metrics)
        except (GraderConfigurationError, WorkflowError):
            raise
        except Exception:
            # A scorer bug on one odd sample must cost that sample, not the batch (and the
            # job); the traceback goes to the log with the id, so it is found and fixed.
            logger.exception("the scorer failed on a sample", extra={"sample_id": str(sample_id)})
            return malformed(sample_id, ["grader_exception"])
        return GradeResult(id=sample_id, aggregate_reward_score=score, metrics_list=metrics)

    if concurrency > 1 and len(parsed) > 1:
        with ThreadPoolExecutor(max_workers=min(concurrency, len(parsed))) as pool:
            return list(pool.map(grade, parsed))
    return [grade(item) for item in parsed]


def summary(results: Sequence[GradeResult]) -> dict[str, Any]:
    """Counts for the log line of a batch: samples, malformed ones, mean score."""
    malformed_count = sum(
        1 for r in results if any(m.name.startswith("error_") for m in r.metrics_list)
    )
    scores = [r.aggregate_reward_score for r in results]
    return {
        "samples": len(results),
        "samples_with_errors": malformed_count,
        "mean_score": round(sum(scores) / len(scores), 4) if scores else None,
    }


def to_event(results: Sequence[GradeResult]) -> list[ResultDict]:
    """The Lambda's return value: the results as Bedrock reads them."""
    return [result.to_dict() for result in results]


def env_float(name: str, default: float, *, minimum: float, maximum: float) -> float:
    """A number from the environment, ``default`` when unset or blank.

    Raises ``GraderConfigurationError`` for a value that is not a number in range.
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and minimum <= value <= maximum):
        raise GraderConfigurationError(
            f"{name} must be a number from {minimum:g} to {maximum:g}, got {text!r}"
        )
    return value


def env_int(name: str, default: int, *, minimum: int, maximum: int) -> int:
    """An integer from the environment, ``default`` when unset or blank.

    Raises ``GraderConfigurationError`` for a value that is not an integer in range.
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if not minimum <= value <= maximum:
        raise GraderConfigurationError(
            f"{name} must be an integer from {minimum} to {maximum}, got {text!r}"
        )
    return value
