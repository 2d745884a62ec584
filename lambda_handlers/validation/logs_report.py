"""A data report for distillation from Bedrock invocation logs.

Bedrock selects the log records by their request metadata at training time; this reads
the same objects, applies the same filters, checks each selected record, and counts
what distillation would get against its documented minimum and maximum
(``lambda_handlers/data/distillation.json``).
"""

from __future__ import annotations

from typing import Any

from lambda_handlers.validation.distillation import raw_data
from lambda_handlers.validation.findings import CODES, Findings, Severity
from lambda_handlers.validation.invocation_logs import list_log_sources, validate_invocation_logs

REPORT_VERSION = "1"


def validate_log_source(
    s3_client: Any,
    logs_config: dict[str, Any],
    *,
    student_model: str,
    teacher_model: str,
    max_examples: int = 5,
) -> dict[str, Any]:
    """The report (same keys as ``validate_dataset``'s where they apply) for one log location."""
    limits = raw_data()["invocationLogs"]
    minimum, maximum = int(limits["minMatchingRecords"]), int(limits["maxRecords"])
    uri = logs_config["invocationLogSource"]["s3Uri"]
    use_prompt_response = bool(logs_config.get("usePromptResponse", False))
    findings = Findings(max_examples=max_examples)
    stats = validate_invocation_logs(
        list_log_sources(s3_client, uri),
        filters=logs_config.get("requestMetadataFilters"),
        use_prompt_response=use_prompt_response,
        student_model=student_model,
        findings=findings,
        max_records=maximum + 1,
        teacher_model=teacher_model,
    )
    usable = stats.teacher_records if use_prompt_response else stats.usable
    what = f"records from the teacher {teacher_model}" if use_prompt_response else "usable records"
    if usable < minimum:
        findings.add(
            "too-few-records",
            "invocationLogs",
            None,
            "$",
            f"the filters select {stats.matching} log records, {usable} {what}; distillation needs at "
            f"least {minimum}",
        )
    if stats.matching > maximum:
        findings.add(
            "too-many-records",
            "invocationLogs",
            None,
            "$",
            f"the filters select more than {maximum} log records; distillation takes at most {maximum}",
        )
    errors = findings.by_severity(Severity.ERROR)
    warnings = findings.by_severity(Severity.WARNING)
    verdict = "invalid" if errors else "valid"
    head = f"{verdict.upper()}: {stats.matching} log records selected of {stats.records} in {stats.files} objects, {usable} {what}."
    parts = [head] + [f"Errors: {', '.join(f'{c} x{n}' for c, n in errors.items())}."] * bool(
        errors
    )
    for code in errors:
        for example in findings.examples.get(code, [])[:2]:
            where = (
                f"{example['file']} line {example['line']}"
                if "line" in example
                else example["file"]
            )
            parts.append(f"{code} at {where} {example['path']}: {example['message']}")
    return {
        "version": REPORT_VERSION,
        "verdict": verdict,
        "source": "invocation-logs",
        "baseModel": student_model,
        "teacherModel": teacher_model,
        "customizationType": "DISTILLATION",
        "format": "invocation-logs",
        "errors": errors,
        "warnings": warnings,
        "examples": {code: findings.examples[code] for code in sorted(findings.examples)},
        "files": {"invocationLogs": {"name": uri, **stats.as_dict()}},
        "limits": {
            "minRecords": minimum,
            "maxRecords": maximum,
            "source": limits.get("maxRecordsSource", ""),
        },
        "codes": {code: CODES[code].summary for code in sorted(findings.counts)},
        "summary": " ".join(parts),
    }
