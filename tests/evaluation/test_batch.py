"""Batch inference records and the job request, checked against the documented record format
and botocore's service models (bedrock-runtime ``Converse``, bedrock
``CreateModelInvocationJob``)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.validate import ParamValidator

from lambda_handlers.common.service_model import service_model, shape_problems
from lambda_handlers.evaluation.batch import (
    INVOCATION_TYPES,
    RECORDS_MAX,
    RECORDS_MIN,
    TIMEOUT_HOURS_MAX,
    TIMEOUT_HOURS_MIN,
    BatchResult,
    batch_input_lines,
    batch_job_request,
    check_record_count,
    output_text,
    parse_batch_output,
)
from lambda_handlers.evaluation.testset import ReadStats, TestCase, read_test_cases
from tests.service_model import assert_valid_response, strict_problems

SINGLE = {
    "prompt": "Classify: my card was charged twice.\nAnswer with one word.",
    "completion": "billing",
}
MULTI = {
    "schemaVersion": "bedrock-conversation-2024",
    "system": [{"text": "Answer briefly."}, {"text": "Use English."}],
    "messages": [
        {"role": "user", "content": [{"text": "Capital of France?"}]},
        {"role": "assistant", "content": [{"text": "Paris."}]},
        {"role": "user", "content": [{"text": "And of Italy? ¿Y de España?"}]},
        {"role": "assistant", "content": [{"text": "Rome."}]},
    ],
}


def cases(*records: dict[str, Any]) -> list[TestCase]:
    return list(read_test_cases(json.dumps(r).encode() for r in records))


def lines_of(*records: dict[str, Any], **settings: Any) -> list[bytes]:
    settings = {"max_tokens": 256, "temperature": 0.0, **settings}
    return list(batch_input_lines(cases(*records), **settings))


# -- the documented input record -----------------------------------------------------------


def test_each_case_is_one_line_with_record_id_and_model_input_only() -> None:
    lines = lines_of(SINGLE, MULTI)
    assert len(lines) == 2
    ids = []
    for line in lines:
        # One JSON object per line: the prompt's own newline is escaped, not written.
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        record = json.loads(line)
        assert set(record) == {"recordId", "modelInput"}
        # "alphanumeric string"; eleven characters, as the page once required.
        assert re.fullmatch(r"[A-Za-z0-9]{11}", record["recordId"])
        ids.append(record["recordId"])
    assert ids == ["L0000000001", "L0000000002"]


def test_text_is_written_as_utf8_not_escaped() -> None:
    [_, line] = lines_of(SINGLE, MULTI)
    assert "¿Y de España?".encode() in line


CONVERSE_INPUT = service_model("bedrock-runtime").operation_model("Converse").input_shape


@pytest.mark.parametrize("record", [SINGLE, MULTI], ids=["single-turn", "multi-turn"])
def test_converse_model_input_matches_the_converse_request_shape(record: dict[str, Any]) -> None:
    [line] = lines_of(record, max_tokens=512, temperature=0.2)
    model_input = json.loads(line)["modelInput"]
    # The job names the model, so modelId is the one member of the request that is absent.
    assert shape_problems(CONVERSE_INPUT, model_input, "modelInput") == [
        "modelInput.modelId: required field is missing"
    ]
    report = ParamValidator().validate(
        {**model_input, "modelId": "amazon.nova-lite-v1:0"}, CONVERSE_INPUT
    )
    assert not report.has_errors(), report.generate_report()
    assert model_input["inferenceConfig"] == {"maxTokens": 512, "temperature": 0.2}


def test_converse_model_input_carries_the_prompt_not_the_reference() -> None:
    [line] = lines_of(MULTI)
    model_input = json.loads(line)["modelInput"]
    assert model_input["system"] == [{"text": "Answer briefly."}, {"text": "Use English."}]
    assert model_input["messages"] == MULTI["messages"][:3]
    assert "Rome." not in line.decode()


def test_single_turn_converse_input_has_no_system() -> None:
    [line] = lines_of(SINGLE)
    assert "system" not in json.loads(line)["modelInput"]


# -- InvokeModel bodies ----------------------------------------------------------------


def body(record: dict[str, Any], body_format: str) -> dict[str, Any]:
    [line] = lines_of(
        record,
        invocation_type="InvokeModel",
        body_format=body_format,
        max_tokens=64,
        temperature=0.5,
    )
    return json.loads(line)["modelInput"]


def test_nova_body_is_messages_v1() -> None:
    assert body(MULTI, "nova") == {
        "schemaVersion": "messages-v1",
        "system": MULTI["system"],
        "messages": MULTI["messages"][:3],
        "inferenceConfig": {"maxTokens": 64, "temperature": 0.5},
    }


def test_claude_body_is_the_messages_api() -> None:
    assert body(MULTI, "claude") == {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 64,
        "temperature": 0.5,
        "system": "Answer briefly.\n\nUse English.",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Capital of France?"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Paris."}]},
            {"role": "user", "content": [{"type": "text", "text": "And of Italy? ¿Y de España?"}]},
        ],
    }
    assert "system" not in body(SINGLE, "claude")


def test_llama_body_uses_the_llama_3_prompt_template() -> None:
    assert body(MULTI, "llama") == {
        "prompt": (
            "<|begin_of_text|>"
            "<|start_header_id|>system<|end_header_id|>\n\nAnswer briefly.\n\nUse English.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nCapital of France?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nParis.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nAnd of Italy? ¿Y de España?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n"
        ),
        "max_gen_len": 64,
        "temperature": 0.5,
    }


def test_titan_body_is_a_user_bot_conversation() -> None:
    assert body(MULTI, "titan") == {
        "inputText": (
            "Answer briefly.\nUse English.\nUser: Capital of France?\nBot: Paris.\n"
            "User: And of Italy? ¿Y de España?\nBot:"
        ),
        "textGenerationConfig": {"maxTokenCount": 64, "temperature": 0.5},
    }


# -- refusals --------------------------------------------------------------------------


def test_invocation_types_are_the_service_models() -> None:
    assert INVOCATION_TYPES == ("InvokeModel", "Converse")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"invocation_type": "Chat"}, "invocation_type 'Chat'"),
        ({"invocation_type": "InvokeModel"}, "body_format must be one of"),
        ({"invocation_type": "InvokeModel", "body_format": "gpt"}, "body_format must be one of"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"temperature": 1.5}, "temperature"),
    ],
)
def test_settings_out_of_range_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        lines_of(SINGLE, **settings)


def test_repeated_or_non_alphanumeric_ids_are_refused() -> None:
    [case] = cases(SINGLE)
    with pytest.raises(ValueError, match="used twice"):
        list(batch_input_lines([case, case], max_tokens=8, temperature=0))
    bad = TestCase("L-1", case.system, case.messages, case.reference, 1)
    with pytest.raises(ValueError, match="not alphanumeric"):
        list(batch_input_lines([bad], max_tokens=8, temperature=0))


def test_record_count_limits() -> None:
    assert (RECORDS_MIN, RECORDS_MAX) == (100, 50_000)
    check_record_count(RECORDS_MIN)
    check_record_count(RECORDS_MAX)
    with pytest.raises(ValueError, match="at least 100"):
        check_record_count(RECORDS_MIN - 1)
    with pytest.raises(ValueError, match="at most 50000"):
        check_record_count(RECORDS_MAX + 1)


# -- output records --------------------------------------------------------------------

CONVERSE_OUTPUT = {
    "output": {
        "message": {
            "role": "assistant",
            "content": [
                {"reasoningContent": {"reasoningText": {"text": "thinking...", "signature": "s"}}},
                {"text": "Rome"},
                {"text": "."},
            ],
        }
    },
    "stopReason": "end_turn",
    "usage": {"inputTokens": 20, "outputTokens": 3, "totalTokens": 23},
    "metrics": {"latencyMs": 140},
}

OUTPUT_BODIES = {
    "converse": (CONVERSE_OUTPUT, "Rome."),
    "nova": (
        {
            "output": {"message": {"role": "assistant", "content": [{"text": "billing"}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 12, "outputTokens": 1, "totalTokens": 13},
        },
        "billing",
    ),
    "claude": (
        {
            "id": "msg_bdrk_01",
            "type": "message",
            "role": "assistant",
            "model": "claude-3-haiku-20240307",
            "content": [
                {"type": "thinking", "thinking": "The user was charged twice.", "signature": "s"},
                {"type": "text", "text": "billing"},
            ],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 1},
        },
        "billing",
    ),
    "llama": (
        {
            "generation": " billing",
            "prompt_token_count": 30,
            "generation_token_count": 2,
            "stop_reason": "stop",
        },
        " billing",
    ),
    # The user guide's own example output line.
    "titan": (
        {
            "inputTextTokenCount": 8,
            "results": [{"tokenCount": 3, "outputText": "blue\n", "completionReason": "FINISH"}],
        },
        "blue\n",
    ),
    "mistral": ({"outputs": [{"text": "billing", "stop_reason": "stop"}]}, "billing"),
    "chat-completions": (
        {
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "billing"},
                    "finish_reason": "stop",
                }
            ],
        },
        "billing",
    ),
}


def test_the_converse_fixture_is_a_real_converse_response() -> None:
    assert_valid_response("bedrock-runtime", "Converse", CONVERSE_OUTPUT)


@pytest.mark.parametrize("kind", list(OUTPUT_BODIES))
def test_success_records_yield_the_generated_text(kind: str) -> None:
    model_output, expected = OUTPUT_BODIES[kind]
    line = json.dumps(
        {"recordId": "L0000000007", "modelInput": {"inputText": "x"}, "modelOutput": model_output}
    ).encode()
    assert list(parse_batch_output([line])) == [BatchResult("L0000000007", expected, None)]


@pytest.mark.parametrize(
    ("model_output", "expected"),
    [
        ({"output": {"message": {"role": "assistant", "content": []}}}, ""),
        ({"content": []}, ""),
        ({"results": []}, ""),
        ({"choices": [{"message": {"content": None}}]}, ""),
    ],
)
def test_a_known_body_without_text_is_an_empty_answer(model_output: Any, expected: str) -> None:
    assert output_text(model_output) == expected


def test_error_records_yield_the_error_not_an_answer() -> None:
    # The user guide's own example error line.
    line = b'{ "recordId" : "1223213ABCD", "modelInput" : {"inputText": "Hello world"}, "error" : {"errorCode" : 400, "errorMessage" : "bad request" }}'
    assert list(parse_batch_output([line])) == [
        BatchResult("1223213ABCD", None, "400: bad request")
    ]


def test_unknown_or_missing_model_output_is_an_error() -> None:
    lines = [
        json.dumps({"recordId": "A1", "modelOutput": {"images": ["..."]}}).encode(),
        json.dumps({"recordId": "A2", "modelInput": {}}).encode(),
        json.dumps({"recordId": "A3", "error": "throttled"}).encode(),
    ]
    results = list(parse_batch_output(lines))
    assert results[0] == BatchResult(
        "A1", None, "no text in a modelOutput of an unknown kind (images)"
    )
    assert results[1] == BatchResult("A2", None, "the record has neither modelOutput nor error")
    assert results[2] == BatchResult("A3", None, "throttled")


def test_lines_that_cannot_be_matched_are_counted_and_skipped() -> None:
    stats = ReadStats()
    lines = [
        b"{oops",
        b"[]",
        json.dumps({"modelOutput": {"generation": "x"}}).encode(),
        b"\n",
        json.dumps({"recordId": "B1", "modelOutput": {"generation": "ok"}}).encode(),
    ]
    assert list(parse_batch_output(lines, stats)) == [BatchResult("B1", "ok", None)]
    assert stats.skipped == {"not-json": 1, "not-object": 1, "unknown-format": 1}
    assert (stats.lines, stats.blank, stats.used) == (5, 1, 1)


def test_input_lines_round_trip_through_an_output_file() -> None:
    """What we write, echoed back as Bedrock does, parses to the same ids."""
    written = lines_of(SINGLE, MULTI)
    echoed = []
    for line in written:
        record = json.loads(line)
        echoed.append(json.dumps({**record, "modelOutput": CONVERSE_OUTPUT}).encode())
    assert [r.record_id for r in parse_batch_output(reversed(echoed))] == [
        "L0000000002",
        "L0000000001",
    ]


# -- the CreateModelInvocationJob request --------------------------------------------------

ROLE = "arn:aws:iam::123456789012:role/bedrock-batch"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def full_request(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "job_name": "eval-base-2026-11-02.1",
        "role_arn": ROLE,
        "model_id": "amazon.nova-lite-v1:0",
        "input_s3_uri": "s3://my-bucket/evaluation/run-1/input/test.jsonl",
        "output_s3_uri": "s3://my-bucket/evaluation/run-1/output/base/",
        "output_kms_key_id": KEY,
        "timeout_hours": 48,
        "invocation_type": "Converse",
        "tags": {"project": "bedrock-customize", "run": "run-1"},
        "client_request_token": "run-1-base",
        **overrides,
    }
    return batch_job_request(**arguments)


def test_full_request_matches_the_service_model_strictly() -> None:
    params = full_request()
    assert strict_problems("bedrock", "CreateModelInvocationJob", params) == []
    assert params == {
        "jobName": "eval-base-2026-11-02.1",
        "roleArn": ROLE,
        "modelId": "amazon.nova-lite-v1:0",
        "inputDataConfig": {
            "s3InputDataConfig": {
                "s3Uri": "s3://my-bucket/evaluation/run-1/input/test.jsonl",
                "s3InputFormat": "JSONL",
            }
        },
        "outputDataConfig": {
            "s3OutputDataConfig": {
                "s3Uri": "s3://my-bucket/evaluation/run-1/output/base/",
                "s3EncryptionKeyId": KEY,
            }
        },
        "timeoutDurationInHours": 48,
        "modelInvocationType": "Converse",
        "tags": [
            {"key": "project", "value": "bedrock-customize"},
            {"key": "run", "value": "run-1"},
        ],
        "clientRequestToken": "run-1-base",
    }


def test_minimal_request_has_the_required_members_and_safe_defaults() -> None:
    params = batch_job_request(
        job_name="eval-custom",
        role_arn=ROLE,
        model_id="arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/abcdef123456",
        input_s3_uri="s3://my-bucket/in/",
        output_s3_uri="s3://my-bucket/out/",
    )
    assert strict_problems("bedrock", "CreateModelInvocationJob", params) == []
    assert params["timeoutDurationInHours"] == TIMEOUT_HOURS_MIN == 24
    assert params["modelInvocationType"] == "Converse"
    assert "tags" not in params and "clientRequestToken" not in params
    assert "s3EncryptionKeyId" not in params["outputDataConfig"]["s3OutputDataConfig"]


def test_timeout_bounds_come_from_the_service_model() -> None:
    assert (TIMEOUT_HOURS_MIN, TIMEOUT_HOURS_MAX) == (24, 168)
    full_request(timeout_hours=168)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"job_name": "eval base!"}, "jobName"),
        ({"job_name": "x" * 64}, "jobName"),
        ({"role_arn": "bedrock-batch"}, "roleArn"),
        ({"input_s3_uri": "https://my-bucket/in.jsonl"}, "s3InputDataConfig.s3Uri"),
        ({"output_s3_uri": "s3://My_Bucket/out/"}, "s3OutputDataConfig.s3Uri"),
        ({"output_kms_key_id": "not a key"}, "s3EncryptionKeyId"),
        ({"timeout_hours": 23}, "timeoutDurationInHours"),
        ({"timeout_hours": 169}, "timeoutDurationInHours"),
        ({"invocation_type": "Chat"}, "modelInvocationType"),
        ({"tags": {"bad#key": "v"}}, "tags[0].key"),
        ({"client_request_token": "-leading-dash"}, "clientRequestToken"),
    ],
)
def test_a_request_that_breaks_the_service_model_is_refused(
    override: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(field)):
        full_request(**override)
