"""The evaluation's inputs, checked before anything is paid for.

Three things an evaluation needs days later, after training and serving have been paid:

- a base model that can answer: its invocation id is resolved (``evaluation/invocation.py``)
  and must be one the stack may invoke;
- a test set that passes the validation engine for its format. The format is read from its
  first record (prompt/completion, the Converse form, Claude's messages form); the engine
  applies the model's own fine-tuning rules when the test set is in the model's format (a
  split of the training data), else the rules of its own format, in both cases without the
  training quotas (record counts, record and file sizes), which do not bind a test set, and
  with unknown fields as warnings (a test set may carry metadata; the evaluation ignores it).
  It must also hold at least one record the evaluation can use;
- the way the base model will answer: a batch inference job only from the model's minimum
  number of records (``evaluation/batch.py``), else ``Converse``.

The test set's report goes next to the data report:
``reports/<job name>/test-set-validation.json``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from lambda_handlers.common.errors import EvaluationDataInvalid
from lambda_handlers.common.plan import Plan
from lambda_handlers.common.reports import put_report
from lambda_handlers.common.request import CustomizationRequest
from lambda_handlers.common.settings import Settings
from lambda_handlers.evaluation.batch import evaluation_mode
from lambda_handlers.evaluation.invocation import (
    BaseInvocation,
    CannotInvoke,
    invocation_problems,
    resolve,
)
from lambda_handlers.evaluation.testset import ReadStats, read_test_cases
from lambda_handlers.validation import open_source, validate_dataset
from lambda_handlers.validation.rules import DatasetRules, all_rules, rules_for

WHERE = "evaluation.testDataConfig.s3Uri"


def base_model_problems(
    request: CustomizationRequest, bedrock: Any, region: str
) -> tuple[list[str], BaseInvocation | None]:
    """Why the base model could not answer for the evaluation, and how it will answer."""
    try:
        invocation = resolve(bedrock, request.baseModelIdentifier, region)
    except CannotInvoke as why:
        return [f"evaluation: the base model cannot answer for the evaluation: {why}"], None
    return invocation_problems(invocation), invocation


def detect_format(line: bytes) -> str | None:
    """The test-set format of one JSONL record, as the engine names it (``None``: unknown)."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict):
        return None
    if "messages" in record:
        messages = record["messages"] if isinstance(record["messages"], list) else []
        blocks = any(isinstance(m, dict) and isinstance(m.get("content"), list) for m in messages)
        return "bedrock-conversation" if "schemaVersion" in record or blocks else "claude-messages"
    if "prompt" in record and "completion" in record:
        return "prompt-completion"
    return None


def rules_for_test_set(base_model: str, fmt: str | None) -> DatasetRules:
    """The engine's rules for a test set in ``fmt`` for ``base_model``, training quotas off."""
    try:
        own: DatasetRules | None = rules_for(base_model, "FINE_TUNING")
    except ValueError:
        own = None
    rule = own if own is not None and fmt in (None, own.format) else None
    if rule is None:
        wanted = fmt or "bedrock-conversation"
        rule = next(
            r for r in all_rules() if r.format == wanted and r.customization_type == "FINE_TUNING"
        )
    return replace(
        rule,
        min_records=None,
        max_records=None,
        max_validation_records=None,
        max_total_records=None,
        max_tokens_per_record=None,
        max_chars_per_record=None,
        max_file_bytes=None,
        unknown_fields="warning",
    )


def _first_record(uri: str, s3: Any) -> bytes:
    for block in open_source(uri, s3).line_blocks():
        for line in bytes(block).splitlines():
            if line.strip():
                return line
    return b""


def report_on_test_set(uri: str, base_model: str, s3: Any) -> dict[str, Any]:
    """The engine's report on the test set (its one file is reported as ``training``)."""
    rules = rules_for_test_set(base_model, detect_format(_first_record(uri, s3)))
    return validate_dataset(
        open_source(uri, s3),
        None,
        customization_type="FINE_TUNING",
        base_model=base_model,
        rules=rules,
    )


def summarize_test_set(report: dict[str, Any]) -> str:
    """One paragraph: records, format, error counts and the first examples."""
    records = report["files"]["training"]["records"]
    parts = [f"{report['verdict'].upper()}: {records} test records ({report['format']})."]
    if report["errors"]:
        counted = ", ".join(f"{code} x{n}" for code, n in report["errors"].items())
        parts.append(f"Errors: {counted}.")
    for code in report["errors"]:
        for example in report["examples"].get(code, [])[:2]:
            line = f" line {example['line']}" if "line" in example else ""
            parts.append(f"{code} at{line} {example['path']}: {example['message']}")
    return " ".join(parts)


def _usable_records(uri: str, s3: Any, limit: int) -> tuple[int, ReadStats]:
    stats = ReadStats()
    lines = (
        line for block in open_source(uri, s3).line_blocks() for line in bytes(block).splitlines()
    )
    count = 0
    for _ in read_test_cases(lines, stats):
        count += 1
        if count >= limit:
            break
    return count, stats


def check_test_set(
    request: CustomizationRequest,
    plan: Plan,
    settings: Settings,
    s3: Any,
    invocation: BaseInvocation,
) -> dict[str, Any]:
    """Engine-check the test set, count what the evaluation can use, decide batch or Converse.

    Raises ``EvaluationDataInvalid`` with the summary and the report's location. Returns
    what the execution's later states use and the notification can show.
    """
    config = request.evaluation
    assert config is not None
    uri = config.testDataConfig.s3Uri
    report = report_on_test_set(uri, request.baseModelIdentifier, s3)
    report_uri = put_report(s3, settings, plan.jobName, "test-set-validation.json", report)
    if report["verdict"] != "valid":
        raise EvaluationDataInvalid(
            f"{WHERE}: the test set {uri} breaks its format: {summarize_test_set(report)} "
            f"Full report: {report_uri}"
        )
    records, stats = _usable_records(uri, s3, config.maxRecords)
    if records == 0:
        raise EvaluationDataInvalid(
            f"{WHERE}: the test set {uri} holds no record the evaluation can use "
            f"(prompt/completion or a conversation ending with the assistant's answer): "
            f"{'; '.join(stats.examples[:3]) or 'it is empty'}"
        )
    mode = evaluation_mode(records, invocation.model_id, requested=config.useBatchInference)
    return {
        "testRecords": records,
        "reportUri": report_uri,
        "mode": mode.mode,
        "modeReason": mode.reason,
        "baseModel": invocation.to_dict(),
    }
