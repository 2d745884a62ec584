"""Evaluate the served custom model against the base model, then apply the quality gate.

Reads up to ``maxRecords`` held-out test cases from S3 and asks both models each prompt
through bedrock-runtime ``Converse`` (bounded concurrency; throttling is retried by the
SDK's adaptive mode and, after that, counted as that record's error). The base model is
asked by the id Prepare evaluation resolved (its own, or an inference profile's), or
answers through the batch job Prepare started.

The calls are made in rounds (``evaluation/rounds.py``): each invocation asks what is
still unanswered while its time allows, saves the answers under the reports prefix and
returns ``{"done": false, "rounds": n, ...}``; the state machine invokes it again until
``done``. The last round scores both models on the same references, writes
``evaluation.json`` and a per-record ``evaluation.csv`` next to the data report, and raises
``QualityGateFailed`` with the numbers when the gate is not met.

A model that gave no answer at all (every call failed: no access, a model that cannot be
invoked this way) ends the evaluation as ``EvaluationFailed`` with the reason: no gate is
decided against a model that did not answer. So does a model whose first
``FAIL_FAST_AFTER`` calls all failed, rather than being asked every remaining record.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from lambda_handlers.common import observability
from lambda_handlers.common.aws import client
from lambda_handlers.common.catalogue import inference_model_id
from lambda_handlers.common.errors import (
    EvaluationFailed,
    QualityGateFailed,
    translate_client_error,
)
from lambda_handlers.common.observability import entry_point, logger
from lambda_handlers.common.plan import Plan, job_folder
from lambda_handlers.common.settings import Settings
from lambda_handlers.evaluation.batch import (
    BatchResult,
    converse_model_input,
    output_text,
    parse_batch_output,
)
from lambda_handlers.evaluation.gate import GateResult, judge_gate
from lambda_handlers.evaluation.report import compare_rows, comparison_results, write_csv
from lambda_handlers.evaluation.rounds import AnswerStore, Unit, run_round
from lambda_handlers.evaluation.testset import ReadStats, TestCase, read_test_cases
from lambda_handlers.validation.sources import open_source

FAIL_FAST_AFTER = 10
"""A model whose first this many calls all failed is not asked the rest: it cannot answer."""
ROUNDS_MAX = 400
"""At most this many rounds (each up to ~13 minutes of calls): about 87 hours."""


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
    """One Converse call; a failure of the call becomes that record's error, not the batch's."""
    try:
        response = runtime().converse(
            modelId=model_id, **converse_model_input(case, max_tokens=max_tokens, temperature=0.0)
        )
    except (ClientError, ReadTimeoutError) as error:
        return BatchResult(case.id, None, str(error))
    return BatchResult(case.id, output_text(response), None)


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


def models_asked(event: dict[str, Any], plan: Plan) -> dict[str, str]:
    """Role -> model id asked through Converse: the custom model always, the base model
    unless a batch job answered for it."""
    prep = event.get("evaluationPrep") or {}
    models = {"custom": str(event["serving"]["invokeModelId"])}
    if prep.get("mode") != "batch":
        models["base"] = str(
            prep.get("baseModelId") or inference_model_id(plan.baseModelIdentifier)
        )
    return models


def rounds_so_far(event: dict[str, Any]) -> int:
    """The cursor a previous round returned (``$.evaluation``), else 0."""
    previous = event.get("evaluation")
    if isinstance(previous, dict) and previous.get("done") is False:
        return int(previous.get("rounds", 0))
    return 0


def no_answer(role: str, model_id: str, results: list[BatchResult], total: int) -> str | None:
    """Why ``model_id`` is taken not to answer at all, or ``None``: every result failed, and
    there are ``FAIL_FAST_AFTER`` of them or all ``total`` cases are in."""
    if not results or any(r.error is None for r in results):
        return None
    if len(results) < min(FAIL_FAST_AFTER, total):
        return None
    return (
        f"the {role} model ({model_id}) gave no answer to any of the {len(results)} test "
        f"prompts it was asked; first error: {results[0].error}. No quality gate was decided"
    )


def unanswering(
    models: Mapping[str, str], answers: Mapping[Unit, BatchResult], total: int
) -> str | None:
    """Why one of ``models`` cannot answer at all, or ``None``."""
    for role, model_id in models.items():
        results = [answer for (r, _), answer in answers.items() if r == role]
        reason = no_answer(role, model_id, results, total)
        if reason:
            return reason
    return None


def one_round(
    event: dict[str, Any], context: Any, plan: Plan, cases: list[TestCase], store: AnswerStore
) -> tuple[dict[Unit, BatchResult], dict[str, Any] | None]:
    """Load the answers so far, ask what is left while time allows, save; the answers, and
    the cursor to return when calls are still unanswered (``None`` when all are in)."""
    config = plan.evaluation or {}
    models = models_asked(event, plan)
    rounds = rounds_so_far(event)
    answers = store.load(rounds)
    todo = [(role, case.id) for case in cases for role in models if (role, case.id) not in answers]
    if not todo:
        return answers, None
    if rounds >= ROUNDS_MAX:
        raise EvaluationFailed(
            f"{len(todo)} of {len(cases) * len(models)} Converse calls still unanswered after "
            f"{rounds} rounds; the models answer too slowly to be evaluated"
        )
    by_id = {case.id: case for case in cases}
    max_tokens = int(config.get("maxTokens", 512))
    got = run_round(
        todo,
        lambda unit: ask(models[unit[0]], by_id[unit[1]], max_tokens),
        concurrency=int(config.get("concurrency", 4)),
        remaining_ms=context.get_remaining_time_in_millis,
        give_up=lambda new: unanswering(models, {**answers, **new}, len(cases)) is not None,
    )
    store.save(rounds, got.answers)
    answers.update(got.answers)
    if got.error is not None:
        raise got.error
    reason = unanswering(models, answers, len(cases))
    if reason:
        raise EvaluationFailed(reason)
    left = len(todo) - len(got.answers)
    logger.info(
        "evaluation round", extra={"round": rounds, "answered": len(got.answers), "left": left}
    )
    if not left:
        return answers, None
    if not got.answers:
        raise EvaluationFailed(
            f"no Converse call was answered in a whole invocation ({got.abandoned} abandoned); "
            "the models answer too slowly to be evaluated"
        )
    total = len(cases) * len(models)
    return answers, {"done": False, "rounds": rounds + 1, "answered": total - left, "calls": total}


def score(
    event: dict[str, Any], plan: Plan, cases: list[TestCase], answers: Mapping[Unit, BatchResult]
) -> dict[str, Any]:
    """Both models on the same references; ``EvaluationFailed`` if one gave no answer."""
    prep = event.get("evaluationPrep") or {}
    by_role: dict[str, dict[str, BatchResult]] = {"custom": {}, "base": {}}
    for (role, case_id), answer in answers.items():
        by_role[role][case_id] = answer
    if prep.get("mode") == "batch":
        by_role["base"] = batch_answers(prep["outputUri"])
    model_ids = {"base": str(prep.get("baseModelId", "")), **models_asked(event, plan)}
    for role, results in by_role.items():
        in_set = [results[c.id] for c in cases if c.id in results]
        reason = no_answer(role, str(model_ids[role]), in_set, len(cases))
        if reason or not in_set:
            raise EvaluationFailed(reason or f"the {role} model answered none of the test prompts")
    rows = list(compare_rows(cases, by_role["base"], by_role["custom"]))
    return {"rows": rows, "results": comparison_results(rows)}


def report(
    plan: Plan, settings: Settings, scored: dict[str, Any], stats: ReadStats
) -> dict[str, Any]:
    """Apply the gate, write ``evaluation.csv`` and ``evaluation.json``; raise on a failed gate."""
    config = plan.evaluation or {}
    results = scored["results"]
    gate = judge_gate(results, config["gate"]) if config.get("gate") else None
    prefix = f"{settings.reports_prefix}{job_folder(plan.jobName)}/"
    csv_text = io.StringIO()
    write_csv(csv_text, scored["rows"])
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
    emit_scores(results, gate)
    if gate is not None and not gate.passed:
        raise QualityGateFailed(f"{gate.message}. Report: {report_uri}")
    return {
        "done": True,
        "records": results["records"],
        "metrics": results["metrics"],
        "gate": gate.to_dict() if gate else None,
        "reportUri": report_uri,
        "recordsCsvUri": csv_uri,
    }


def emit_scores(results: dict[str, Any], gate: GateResult | None) -> None:
    """The evaluation as metrics: the base and custom scores and the gain of the gate's score
    (without a gate, of the first score computed, in ``SCORES`` order), named in the EMF
    line's ``score`` field; and whether the gate passed."""
    name = gate.metric if gate else next(iter(results["metrics"]), None)
    if name is not None:
        scores = results["metrics"][name]
        observability.metrics.add_metadata(key="score", value=name)
        observability.measure(observability.EVALUATION_BASE_SCORE, float(scores["base"]))
        observability.measure(observability.EVALUATION_CUSTOM_SCORE, float(scores["custom"]))
        observability.measure(observability.EVALUATION_GAIN, float(scores["gain"]))
    if gate is not None:
        passed = observability.QUALITY_GATE_PASSED
        observability.count(passed if gate.passed else observability.QUALITY_GATE_FAILED)


@entry_point("plan.executionArn")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    plan = Plan.model_validate(event["plan"])
    config = plan.evaluation or {}
    settings = Settings.from_env()
    uri = config["testDataConfig"]["s3Uri"]
    cases, stats = load_cases(uri, int(config.get("maxRecords", 200)))
    if not cases:
        raise EvaluationFailed(f"no usable test case in {uri} ({stats}); no gate was decided")
    store = AnswerStore(
        client("s3"),
        settings.artifacts_bucket,
        f"{settings.reports_prefix}{job_folder(plan.jobName)}/evaluation-answers/",
    )
    answers, cursor = one_round(event, context, plan, cases, store)
    if cursor is not None:
        return cursor
    return report(plan, settings, score(event, plan, cases, answers), stats)
