"""Evaluate the served custom model against the base model, then apply the quality gate.

Reads up to ``maxRecords`` held-out test cases from S3, asks both models each prompt
through bedrock-runtime ``Converse`` (bounded concurrency; throttling is retried by the
SDK's adaptive mode and, after that, counted as that record's error), scores both on
the same references, writes ``evaluation.json`` and a per-record ``evaluation.csv`` next
to the data report, and raises ``QualityGateFailed`` with the numbers when the gate is
not met.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from lambda_handlers.common.aws import client
from lambda_handlers.common.catalogue import inference_model_id
from lambda_handlers.common.errors import QualityGateFailed, translate_client_error
from lambda_handlers.common.observability import entry_point, logger
from lambda_handlers.common.plan import Plan
from lambda_handlers.common.settings import Settings
from lambda_handlers.evaluation.batch import (
    BatchResult,
    converse_model_input,
    output_text,
    parse_batch_output,
)
from lambda_handlers.evaluation.gate import judge_gate
from lambda_handlers.evaluation.report import compare_rows, comparison_results, write_csv
from lambda_handlers.evaluation.testset import ReadStats, TestCase, read_test_cases
from lambda_handlers.validation.sources import open_source


@cache
def runtime() -> Any:
    """bedrock-runtime with adaptive retries: the client slows down when throttled."""
    config = Config(
        retries={"mode": "adaptive", "total_max_attempts": 6}, read_timeout=60, connect_timeout=5
    )
    return boto3.client("bedrock-runtime", config=config)


def _lines(uri: str) -> Iterator[bytes]:
    for block in open_source(uri, client("s3")).line_blocks():
        yield from bytes(block).splitlines()


def load_cases(uri: str, limit: int) -> tuple[list[TestCase], ReadStats]:
    stats = ReadStats()
    cases: list[TestCase] = []
    for case in read_test_cases(_lines(uri), stats):
        cases.append(case)
        if len(cases) >= limit:
            break
    return cases, stats


def ask(model_id: str, case: TestCase, max_tokens: int) -> BatchResult:
    """One Converse call; any failure becomes that record's error, not the batch's."""
    try:
        response = runtime().converse(
            modelId=model_id, **converse_model_input(case, max_tokens=max_tokens, temperature=0.0)
        )
    except (ClientError, ReadTimeoutError) as error:
        return BatchResult(case.id, None, str(error))
    return BatchResult(case.id, output_text(response), None)


def answers(
    model_id: str, cases: list[TestCase], concurrency: int, max_tokens: int
) -> dict[str, BatchResult]:
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = pool.map(lambda case: ask(model_id, case, max_tokens), cases)
        return {result.record_id: result for result in results}


def batch_answers(output_uri: str) -> dict[str, BatchResult]:
    """The base model's answers from a batch job's ``.jsonl.out`` files."""
    s3 = client("s3")
    bucket, _, prefix = output_uri[len("s3://") :].partition("/")
    found: dict[str, BatchResult] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".jsonl.out"):
                found.update(
                    (r.record_id, r)
                    for r in parse_batch_output(_lines(f"s3://{bucket}/{item['Key']}"))
                )
    return found


def _put(settings: Settings, key: str, body: bytes, content_type: str) -> str:
    uri = f"s3://{settings.artifacts_bucket}/{key}"
    try:
        client("s3").put_object(
            Bucket=settings.artifacts_bucket, Key=key, Body=body, ContentType=content_type
        )
    except ClientError as error:
        raise translate_client_error(error, f"PutObject {uri}") from error
    return uri


@entry_point("plan.executionArn")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    plan = Plan.model_validate(event["plan"])
    config = plan.evaluation or {}
    settings = Settings.from_env()
    cases, stats = load_cases(config["testDataConfig"]["s3Uri"], int(config.get("maxRecords", 200)))
    if not cases:
        raise QualityGateFailed(
            f"no usable test case in {config['testDataConfig']['s3Uri']} ({stats})"
        )
    concurrency, max_tokens = int(config.get("concurrency", 4)), int(config.get("maxTokens", 512))
    custom = answers(event["serving"]["invokeModelId"], cases, concurrency, max_tokens)
    prep = event.get("evaluationPrep") or {}
    if prep.get("mode") == "batch":
        base = batch_answers(prep["outputUri"])
    else:
        base = answers(inference_model_id(plan.baseModelIdentifier), cases, concurrency, max_tokens)
    rows = list(compare_rows(cases, base, custom))
    results = comparison_results(rows)
    gate = judge_gate(results, config["gate"]) if config.get("gate") else None

    prefix = f"{settings.reports_prefix}{plan.jobName}/"
    csv_text = io.StringIO()
    write_csv(csv_text, rows)
    csv_uri = _put(settings, prefix + "evaluation.csv", csv_text.getvalue().encode(), "text/csv")
    document = {
        "results": results,
        "gate": gate.to_dict() if gate else None,
        "testSet": stats.__dict__,
    }
    report_uri = _put(
        settings,
        prefix + "evaluation.json",
        json.dumps(document, indent=2, default=str).encode(),
        "application/json",
    )
    logger.info(
        "evaluated", extra={"records": results["records"], "gate": gate.message if gate else None}
    )
    if gate is not None and not gate.passed:
        raise QualityGateFailed(f"{gate.message}. Report: {report_uri}")
    return {
        "records": results["records"],
        "metrics": results["metrics"],
        "gate": gate.to_dict() if gate else None,
        "reportUri": report_uri,
        "recordsCsvUri": csv_uri,
    }
