"""Bedrock batch inference (``CreateModelInvocationJob``): input records, output records, request.

Sources (Amazon Bedrock user guide, read 2026-11):

- "Format and upload your batch inference data",
  https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-data.html: each
  input line is ``{"recordId": "<alphanumeric string>", "modelInput": {...}}`` in a file
  ending ``.jsonl``; ``modelInput`` is the model's ``InvokeModel`` body, or with
  ``modelInvocationType`` ``Converse`` a ``Converse`` request body (no ``modelId``: the job
  names the model). Bedrock adds a ``recordId`` when one is left out, and does not promise
  to keep the order, so results are matched to test cases by id.
- "View the results of a batch inference job",
  https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-results.html: one
  ``<input name>.jsonl.out`` per input file, each line ``{"recordId", "modelInput",
  "modelOutput"}``, or with ``"error": {"errorCode", "errorMessage"}`` in place of
  ``modelOutput``; ``modelOutput`` is the ``InvokeModel`` response body, or the
  ``Converse`` response for Converse jobs. A ``manifest.json.out`` sums the job up.
- "Process multiple prompts with batch inference",
  https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference.html: batch
  inference is not supported for provisioned models.

The request's fields, patterns and ranges are botocore's ``bedrock`` service model
(``CreateModelInvocationJob``), checked by ``batch_job_request`` before anything is sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from lambda_handlers.common.service_model import input_problems, shape
from lambda_handlers.evaluation.testset import ReadStats, TestCase

# Batch inference quotas. The user guide page above names them ("Minimum number of records
# per batch inference job", "Records per input file per batch inference job", "Records per
# batch inference job", "Batch inference input file size", "Batch inference job size") and
# sends the reader to the quota table of the AWS General Reference,
# https://docs.aws.amazon.com/general/latest/gr/bedrock.html#limits_bedrock, where each is
# set per model and some are adjustable. The minimum per model, as that table gives it, is
# in ``lambda_handlers/data/batch_inference.json`` with its source (100 for every catalogued
# model it lists, not adjustable); the other numbers below are the defaults that other public
# Bedrock batch code falls back to (50,000 records, 1 GB per file, 5 GB per job). An
# account's own values are in Service Quotas (service code ``bedrock``).
RECORDS_MIN = 100
"""Default of "Minimum number of records per batch inference job" (per model); the value of
every catalogued model the quota table lists (``lambda_handlers/data/batch_inference.json``)."""
RECORDS_MAX = 50_000
"""Default of "Records per batch inference job" (per model; some models allow more)."""
INPUT_FILE_BYTES_MAX = 1024**3
"""Default of "Batch inference input file size" (1 GB)."""
JOB_BYTES_MAX = 5 * 1024**3
"""Default of "Batch inference job size" (5 GB, all input files together)."""


@cache
def _quota_data() -> dict[str, Any]:
    text = resources.files("lambda_handlers").joinpath("data/batch_inference.json").read_text()
    return dict(json.loads(text))


def minimum_records(model_id: str) -> int | None:
    """The model's "Minimum number of records per batch inference job", or ``None`` when no
    source read says the model takes batch jobs (it is then evaluated through Converse).

    ``model_id`` is the foundation model as invoked (``amazon.nova-lite-v1:0``), not an
    inference profile: a profile's jobs run on its model.
    """
    value = _quota_data()["minimumRecords"].get(model_id)
    return int(value) if value is not None else None


@dataclass(frozen=True)
class EvaluationMode:
    """How the base model answers the test set: ``batch`` or ``converse``, and why."""

    mode: str
    reason: str


def evaluation_mode(records: int, model_id: str, *, requested: bool) -> EvaluationMode:
    """Batch inference from ``RECORDS_MIN`` test records on (from the model's own minimum when
    the request asks for batch), never below the model's minimum, never for a model that takes
    no batch jobs; otherwise ``Converse``."""
    minimum = minimum_records(model_id)
    if minimum is None:
        return EvaluationMode("converse", f"{model_id} has no batch inference quota: Converse")
    threshold = minimum if requested else max(minimum, RECORDS_MIN)
    if records >= threshold:
        return EvaluationMode("batch", f"{records} records, batch from {threshold}")
    why = f"{records} records, fewer than the {threshold} "
    why += (
        f"a batch job of {model_id} needs (quota 'Minimum number of records per batch "
        "inference job')"
        if requested
        else "from which batch inference is used"
    )
    return EvaluationMode("converse", why + ": Converse")


TIMEOUT_HOURS_MIN = int(shape("ModelInvocationJobTimeoutDurationInHours").metadata["min"])
TIMEOUT_HOURS_MAX = int(shape("ModelInvocationJobTimeoutDurationInHours").metadata["max"])
INVOCATION_TYPES: tuple[str, ...] = tuple(shape("ModelInvocationType").enum)
"""``InvokeModel`` (the service's default) and ``Converse``, from the service model."""

BODY_FORMATS = ("nova", "claude", "llama", "titan")
"""``InvokeModel`` bodies ``batch_input_lines`` can write (``Converse`` needs none)."""

RECORD_ID = re.compile(r"[A-Za-z0-9]+")
"""A record id: "alphanumeric string" on the data page. The ids of ``testset.record_id``
are eleven characters, which an earlier version of the page required."""

_CLAUDE_VERSION = "bedrock-2023-05-31"
_NOVA_SCHEMA = "messages-v1"


def converse_model_input(case: TestCase, *, max_tokens: int, temperature: float) -> dict[str, Any]:
    """A ``Converse`` request body for ``case``, without ``modelId`` (the job sets the model)."""
    body: dict[str, Any] = {
        "messages": [
            {"role": m["role"], "content": [{"text": b["text"]} for b in m["content"]]}
            for m in case.messages
        ],
        "inferenceConfig": {"maxTokens": max_tokens, "temperature": temperature},
    }
    if case.system:
        body["system"] = [{"text": text} for text in case.system]
    return body


def _joined(case: TestCase, role_index: int) -> str:
    return "".join(block["text"] for block in case.messages[role_index]["content"])


def invoke_model_body(
    case: TestCase, body_format: str, *, max_tokens: int, temperature: float
) -> dict[str, Any]:
    """The ``InvokeModel`` body of one model family for ``case``.

    ``nova``: Amazon Nova's messages-v1 body. ``claude``: Anthropic's Messages API body.
    ``llama``: Llama 3's prompt template in ``prompt``, with ``max_gen_len``. ``titan``:
    Titan Text's ``inputText`` in its ``User:``/``Bot:`` conversation form (Titan has no
    system prompt; the system text opens the input).
    """
    turns = range(len(case.messages))
    if body_format == "nova":
        body = converse_model_input(case, max_tokens=max_tokens, temperature=temperature)
        return {"schemaVersion": _NOVA_SCHEMA, **body}
    if body_format == "claude":
        claude: dict[str, Any] = {
            "anthropic_version": _CLAUDE_VERSION,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "messages": [
                {
                    "role": case.messages[i]["role"],
                    "content": [{"type": "text", "text": _joined(case, i)}],
                }
                for i in turns
            ],
        }
        if case.system:
            claude["system"] = "\n\n".join(case.system)
        return claude
    if body_format == "llama":
        prompt = "<|begin_of_text|>"
        if case.system:
            prompt += _llama_turn("system", "\n\n".join(case.system))
        for i in turns:
            prompt += _llama_turn(case.messages[i]["role"], _joined(case, i))
        prompt += "<|start_header_id|>assistant<|end_header_id|>\n\n"
        return {"prompt": prompt, "max_gen_len": max_tokens, "temperature": temperature}
    if body_format == "titan":
        lines = list(case.system)
        for i in turns:
            speaker = "User" if case.messages[i]["role"] == "user" else "Bot"
            lines.append(f"{speaker}: {_joined(case, i)}")
        lines.append("Bot:")
        return {
            "inputText": "\n".join(lines),
            "textGenerationConfig": {"maxTokenCount": max_tokens, "temperature": temperature},
        }
    raise ValueError(f"body_format {body_format!r} is not one of {', '.join(BODY_FORMATS)}")


def _llama_turn(role: str, text: str) -> str:
    return f"<|start_header_id|>{role}<|end_header_id|>\n\n{text}<|eot_id|>"


def batch_input_lines(
    cases: Iterable[TestCase],
    *,
    invocation_type: str = "Converse",
    body_format: str | None = None,
    max_tokens: int,
    temperature: float,
) -> Iterator[bytes]:
    """One JSONL line (UTF-8, newline-terminated) per test case, for a batch job's input.

    ``invocation_type`` must match the job's ``modelInvocationType``. ``Converse`` writes a
    model-independent body; ``InvokeModel`` needs ``body_format`` (see ``BODY_FORMATS``).
    Raises ``ValueError`` for a record id that is not alphanumeric or repeats (results are
    joined back by id) and for settings out of range. The record count is not checked here,
    since the lines stream: count them and call ``check_record_count``.
    """
    if invocation_type not in INVOCATION_TYPES:
        raise ValueError(
            f"invocation_type {invocation_type!r} is not one of {', '.join(INVOCATION_TYPES)}"
        )
    if invocation_type == "InvokeModel" and body_format not in BODY_FORMATS:
        raise ValueError(
            f"InvokeModel bodies are model-specific: body_format must be one of "
            f"{', '.join(BODY_FORMATS)}, got {body_format!r}"
        )
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError(f"max_tokens must be a whole number of at least 1, got {max_tokens!r}")
    if not 0.0 <= temperature <= 1.0:
        raise ValueError(f"temperature must be between 0 and 1, got {temperature!r}")
    seen: set[str] = set()
    for case in cases:
        if not RECORD_ID.fullmatch(case.id):
            raise ValueError(f"record id {case.id!r} (line {case.line}) is not alphanumeric")
        if case.id in seen:
            raise ValueError(f"record id {case.id!r} (line {case.line}) is used twice")
        seen.add(case.id)
        if invocation_type == "Converse":
            model_input = converse_model_input(case, max_tokens=max_tokens, temperature=temperature)
        else:
            assert body_format is not None  # checked above
            model_input = invoke_model_body(
                case, body_format, max_tokens=max_tokens, temperature=temperature
            )
        record = {"recordId": case.id, "modelInput": model_input}
        yield json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def check_record_count(
    count: int, *, minimum: int = RECORDS_MIN, maximum: int = RECORDS_MAX
) -> None:
    """Raise ``ValueError`` when a job of ``count`` records is outside the quotas.

    Below the minimum, Bedrock refuses the job: evaluate a small test set with on-demand
    ``Converse`` calls instead. Above the maximum, split the test set across jobs.
    """
    if count < minimum:
        raise ValueError(
            f"{count} records: a batch inference job needs at least {minimum} "
            "(quota 'Minimum number of records per batch inference job'); "
            "evaluate this test set with on-demand calls instead"
        )
    if count > maximum:
        raise ValueError(
            f"{count} records: a batch inference job takes at most {maximum} "
            "(quota 'Records per batch inference job'); split the test set"
        )


@dataclass(frozen=True)
class BatchResult:
    """One output record: the answer's text, or why there is none."""

    record_id: str
    text: str | None
    error: str | None


def output_text(body: Any) -> str | None:
    """The generated text of a ``Converse`` response or a known ``InvokeModel`` body.

    ``Converse`` and Amazon Nova: the ``text`` blocks of ``output.message.content``;
    Anthropic Messages: the ``text`` blocks of ``content`` (reasoning and thinking blocks
    hold no ``text`` member, so they are left out); Llama: ``generation``; Titan Text:
    ``results[0].outputText``; Mistral: ``outputs[0].text``; OpenAI-style chat
    completions: ``choices[0].message.content``.
    Blocks are joined without a separator, as models split one answer across them.
    ``None`` when the body is none of these; ``""`` when it is one but holds no text.
    """
    if not isinstance(body, dict):
        return None
    output = body.get("output")
    if isinstance(output, dict) and isinstance(output.get("message"), dict):
        return _block_texts(output["message"].get("content"))
    if isinstance(body.get("content"), list):
        return _block_texts(body["content"])
    if isinstance(body.get("generation"), str):
        return str(body["generation"])
    for key, field_name in (("results", "outputText"), ("outputs", "text")):
        items = body.get(key)
        if isinstance(items, list):
            first = items[0] if items else {}
            value = first.get(field_name) if isinstance(first, dict) else None
            return value if isinstance(value, str) else ""
    choices = body.get("choices")
    if isinstance(choices, list):
        first = choices[0] if choices else {}
        message = first.get("message") if isinstance(first, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        return content if isinstance(content, str) else ""
    return None


def _block_texts(blocks: Any) -> str:
    if not isinstance(blocks, list):
        return ""
    return "".join(
        block["text"]
        for block in blocks
        if isinstance(block, dict) and isinstance(block.get("text"), str)
    )


def parse_batch_output(
    lines: Iterable[bytes], stats: ReadStats | None = None
) -> Iterator[BatchResult]:
    """The records of a batch job's ``.jsonl.out`` file, one line at a time.

    A record with ``error`` (or with a ``modelOutput`` holding no text this module knows)
    is a ``BatchResult`` with ``text`` ``None`` and the reason in ``error``. A line that is
    not a JSON object with a string ``recordId`` cannot be matched to a case: it is counted
    in ``stats`` (reasons ``not-json``, ``not-object``, ``unknown-format``) and skipped.
    """
    stats = stats if stats is not None else ReadStats()
    for number, line in stats.nonblank(lines):
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            stats.skip(number, "not-json")
            continue
        if not isinstance(obj, dict):
            stats.skip(number, "not-object")
            continue
        record_id = obj.get("recordId")
        if not isinstance(record_id, str):
            stats.skip(number, "unknown-format")
            continue
        stats.used += 1
        yield _result(record_id, obj)


def _result(record_id: str, obj: Mapping[str, Any]) -> BatchResult:
    error = obj.get("error")
    if error is not None:
        if isinstance(error, dict):
            code = error.get("errorCode", "")
            message = error.get("errorMessage", "")
            text = f"{code}: {message}" if code != "" else str(message)
        else:
            text = str(error)
        return BatchResult(record_id, None, text or "error without a message")
    if "modelOutput" not in obj:
        return BatchResult(record_id, None, "the record has neither modelOutput nor error")
    answer = output_text(obj["modelOutput"])
    if answer is None:
        body = obj["modelOutput"]
        keys = ", ".join(sorted(body)) if isinstance(body, dict) else type(body).__name__
        return BatchResult(record_id, None, f"no text in a modelOutput of an unknown kind ({keys})")
    return BatchResult(record_id, answer, None)


def batch_job_request(
    *,
    job_name: str,
    role_arn: str,
    model_id: str,
    input_s3_uri: str,
    output_s3_uri: str,
    output_kms_key_id: str | None = None,
    timeout_hours: int = TIMEOUT_HOURS_MIN,
    invocation_type: str = "Converse",
    tags: Mapping[str, str] | None = None,
    client_request_token: str | None = None,
) -> dict[str, Any]:
    """Keyword arguments of ``bedrock.create_model_invocation_job``, checked.

    ``input_s3_uri`` is one ``.jsonl`` file or a prefix holding them. ``timeout_hours``
    defaults to the minimum (24), which a test set of the allowed size fits in; Bedrock
    stops the job at the timeout. ``output_kms_key_id`` encrypts the output with that key
    (default: the bucket's own encryption). Raises ``ValueError`` listing every way the
    request breaks the service model (names, ARNs, URIs, ranges, tags).
    """
    params: dict[str, Any] = {
        "jobName": job_name,
        "roleArn": role_arn,
        "modelId": model_id,
        "inputDataConfig": {"s3InputDataConfig": {"s3Uri": input_s3_uri, "s3InputFormat": "JSONL"}},
        "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": output_s3_uri}},
        "timeoutDurationInHours": timeout_hours,
        "modelInvocationType": invocation_type,
    }
    if output_kms_key_id is not None:
        params["outputDataConfig"]["s3OutputDataConfig"]["s3EncryptionKeyId"] = output_kms_key_id
    if tags:
        params["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
    if client_request_token is not None:
        params["clientRequestToken"] = client_request_token
    problems = input_problems("CreateModelInvocationJob", params)
    if problems:
        raise ValueError("CreateModelInvocationJob request is invalid:\n- " + "\n- ".join(problems))
    return params
