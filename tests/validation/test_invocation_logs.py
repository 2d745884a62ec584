"""Invocation logs: filter limits, syntax and semantics, invocationLogsConfig, reading logs, S3."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import boto3
import botocore.session
import pytest
from moto import mock_aws

from lambda_handlers.validation import invocation_logs as logs
from lambda_handlers.validation.distillation import raw_data
from lambda_handlers.validation.findings import Findings, Severity
from lambda_handlers.validation.sources import bytes_source

FILTERS = logs.FILTERS_PATH
NOVA_LITE = "amazon.nova-lite-v1:0:300k"
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
NOVA_PRO_STUDENT = "amazon.nova-pro-v1:0:300k"
ACCOUNT = "123456789012"


def bedrock_shape(name: str) -> Any:
    return botocore.session.get_session().get_service_model("bedrock").shape_for(name)


# -- the limits of botocore's service model ------------------------------------------------


def test_the_filter_limits_are_botocores() -> None:
    filters = bedrock_shape("RequestMetadataFilters")
    assert filters.metadata.get("union") is True
    assert tuple(filters.members) == logs.FILTER_MEMBERS
    listing = filters.members["andAll"]
    assert (listing.metadata["min"], listing.metadata["max"]) == (
        logs.MIN_FILTER_ITEMS,
        logs.MAX_FILTER_ITEMS,
    )
    assert tuple(bedrock_shape("RequestMetadataBaseFilters").members) == logs.BASE_FILTER_MEMBERS
    mapping = bedrock_shape("RequestMetadataMap")
    assert (mapping.metadata["min"], mapping.metadata["max"]) == (1, 1)
    assert mapping.key.metadata["pattern"] == logs.FILTER_KEY_PATTERN
    assert mapping.key.metadata["max"] == logs.MAX_FILTER_KEY_CHARS
    assert mapping.value.metadata["pattern"] == logs.FILTER_VALUE_PATTERN
    assert mapping.value.metadata["max"] == logs.MAX_FILTER_VALUE_CHARS
    uri = bedrock_shape("InvocationLogSource").members["s3Uri"]
    assert uri.metadata["pattern"] == logs.S3_URI_PATTERN
    assert uri.metadata["max"] == logs.MAX_S3_URI_CHARS


# -- requestMetadataFilters syntax -----------------------------------------------------

SIXTEEN = [{"equals": {f"k{i}": "v"}} for i in range(16)]

FAILING_FILTERS: list[tuple[str, Any, str]] = [
    ("not an object", ["equals"], f"{FILTERS}: must be an object"),
    ("no member", {}, f"{FILTERS}: set exactly one of equals, notEquals, andAll, orAll; none"),
    ("null member only", {"equals": None}, "none is set"),
    (
        "two members",
        {"equals": {"a": "b"}, "notEquals": {"c": "d"}},
        "equals and notEquals are set",
    ),
    (
        "unknown member",
        {"equals": {"a": "b"}, "contains": {"a": "b"}},
        f"{FILTERS}.contains: unknown",
    ),
    ("equals not an object", {"equals": "a=b"}, f"{FILTERS}.equals: must be an object"),
    ("equals empty", {"equals": {}}, f"{FILTERS}.equals: holds exactly one key/value pair, got 0"),
    ("equals two pairs", {"equals": {"a": "1", "b": "2"}}, "got 2"),
    ("notEquals two pairs", {"notEquals": {"a": "1", "b": "2"}}, f"{FILTERS}.notEquals: holds"),
    ("empty key", {"equals": {"": "v"}}, "the key must be 1 to 256 characters"),
    ("long key", {"equals": {"k" * 257: "v"}}, "the key must be 1 to 256 characters"),
    ("key with a comma", {"equals": {"a,b": "v"}}, "key 'a,b' may contain only"),
    ("key with a hash", {"notEquals": {"team#1": "v"}}, "key 'team#1' may contain only"),
    ("value not text", {"equals": {"k": 3}}, f"{FILTERS}.equals.k: the value must be a string"),
    ("long value", {"equals": {"k": "v" * 257}}, "257 characters; at most 256"),
    ("value with a comma", {"notEquals": {"k": "a,b"}}, "value 'a,b' may contain only"),
    ("andAll not a list", {"andAll": {"equals": {"a": "b"}}}, f"{FILTERS}.andAll: must be a list"),
    ("andAll empty", {"andAll": []}, f"{FILTERS}.andAll: holds 1 to 16 filters, got 0"),
    ("andAll 17 items", {"andAll": [*SIXTEEN, {"equals": {"x": "y"}}]}, "got 17"),
    ("orAll 17 items", {"orAll": [*SIXTEEN, {"equals": {"x": "y"}}]}, f"{FILTERS}.orAll: holds"),
    ("orAll empty", {"orAll": []}, "got 0"),
    (
        "item not an object",
        {"andAll": [{"equals": {"a": "b"}}, "x"]},
        f"{FILTERS}.andAll[1]: must be an object",
    ),
    (
        "item with both operators",
        {"orAll": [{"equals": {"a": "b"}, "notEquals": {"c": "d"}}]},
        f"{FILTERS}.orAll[0]: set exactly one of equals, notEquals",
    ),
    ("item with no operator", {"andAll": [{}]}, f"{FILTERS}.andAll[0]: set exactly one"),
    (
        "item nesting a list",
        {"andAll": [{"orAll": [{"equals": {"a": "b"}}]}]},
        f"{FILTERS}.andAll[0].orAll: unknown member",
    ),
    (
        "item map of two pairs",
        {"andAll": [*SIXTEEN[:3], {"equals": {"a": "1", "b": "2"}}]},
        f"{FILTERS}.andAll[3].equals: holds exactly one key/value pair",
    ),
    (
        "item with a bad key",
        {"orAll": [{"notEquals": {"bad,key": "v"}}]},
        f"{FILTERS}.orAll[0].notEquals: key 'bad,key'",
    ),
]

PASSING_FILTERS: list[tuple[str, Any]] = [
    ("equals", {"equals": {"project": "CustomerService"}}),
    ("notEquals with an empty value", {"notEquals": {"priority": ""}}),
    ("andAll of sixteen", {"andAll": SIXTEEN}),
    ("orAll of sixteen", {"orAll": SIXTEEN}),
    ("orAll of one", {"orAll": [{"notEquals": {"a": "b"}}]}),
    ("longest key and value", {"equals": {"k" * 256: "v" * 256}}),
    ("every allowed character", {"equals": {"a Z_0.:/=+$@-": "v a\tl.:/=+$@-"}}),
    ("null members ignored", {"equals": {"a": "b"}, "andAll": None}),
]


@pytest.mark.parametrize(("case", "filters", "expected"), FAILING_FILTERS)
def test_a_bad_filter_is_named_with_its_path(case: str, filters: Any, expected: str) -> None:
    problems = logs.check_request_metadata_filters(filters)
    assert any(expected in p for p in problems), (case, problems)


@pytest.mark.parametrize(("case", "filters"), PASSING_FILTERS)
def test_a_good_filter_passes(case: str, filters: Any) -> None:
    assert logs.check_request_metadata_filters(filters) == [], case


def test_the_filter_path_can_be_given() -> None:
    [problem] = logs.check_request_metadata_filters({"andAll": []}, path="filters")
    assert problem.startswith("filters.andAll: ")


# -- invocationLogsConfig ----------------------------------------------------------------

GOOD_CONFIG = {
    "usePromptResponse": True,
    "invocationLogSource": {"s3Uri": "s3://my-logs/bedrock/AWSLogs/123456789012/"},
    "requestMetadataFilters": {"equals": {"project": "support"}},
}


def test_a_good_invocation_logs_config_passes() -> None:
    assert logs.check_invocation_logs_config(GOOD_CONFIG) == []
    assert logs.check_invocation_logs_config({"invocationLogSource": {"s3Uri": "s3://b-1"}}) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"usePromptResponse": "true"},
            f"{logs.LOGS_PATH}.usePromptResponse: must be true or false",
        ),
        ({"invocationLogSource": None}, f"{logs.LOGS_PATH}.invocationLogSource: required"),
        ({"invocationLogSource": "s3://b/p"}, f"{logs.LOGS_PATH}.invocationLogSource: must be"),
        (
            {"invocationLogSource": {"s3Uri": "s3://b/p", "bucketOwner": "1"}},
            "invocationLogSource.bucketOwner: unknown member",
        ),
        ({"invocationLogSource": {}}, "invocationLogSource.s3Uri: required"),
        ({"invocationLogSource": {"s3Uri": "https://b/p"}}, "must start with s3://"),
        ({"invocationLogSource": {"s3Uri": "s3://My_Bucket/p"}}, "is not a valid S3 URI"),
        ({"invocationLogSource": {"s3Uri": "s3://b/a b"}}, "is not a valid S3 URI"),
        ({"invocationLogSource": {"s3Uri": "s3://bb/" + "k" * 1020}}, "at most 1024"),
        ({"teacherModelIdentifier": "x"}, f"{logs.LOGS_PATH}.teacherModelIdentifier: unknown"),
        (
            {"requestMetadataFilters": {"andAll": [{"equals": {}}]}},
            f"{FILTERS}.andAll[0].equals: holds exactly one",
        ),
    ],
)
def test_a_bad_invocation_logs_config_is_named(change: dict[str, Any], expected: str) -> None:
    config = {**GOOD_CONFIG, **change}
    problems = logs.check_invocation_logs_config(config)
    assert any(expected in p for p in problems), problems


def test_invocation_logs_config_must_be_an_object() -> None:
    assert logs.check_invocation_logs_config(["s3://b"]) == [
        f"{logs.LOGS_PATH}: must be an object, got array"
    ]


# -- matches_filters semantics -----------------------------------------------------------

META = {"project": "support", "priority": "high"}


@pytest.mark.parametrize(
    ("metadata", "filters", "selected"),
    [
        (META, None, True),
        (None, None, True),
        (META, {"equals": {"project": "support"}}, True),
        (META, {"equals": {"project": "sales"}}, False),
        (META, {"equals": {"team": "support"}}, False),  # key absent
        (None, {"equals": {"project": "support"}}, False),
        (META, {"equals": {"project": "Support"}}, False),  # exact, case-sensitive
        (META, {"notEquals": {"project": "sales"}}, True),
        (META, {"notEquals": {"project": "support"}}, False),
        (META, {"notEquals": {"team": "x"}}, True),  # key absent
        (None, {"notEquals": {"team": "x"}}, True),
        (
            META,
            {"andAll": [{"equals": {"project": "support"}}, {"equals": {"priority": "high"}}]},
            True,
        ),
        (
            META,
            {"andAll": [{"equals": {"project": "support"}}, {"equals": {"priority": "low"}}]},
            False,
        ),
        (
            META,
            {"andAll": [{"equals": {"project": "support"}}, {"notEquals": {"priority": "low"}}]},
            True,
        ),
        (
            META,
            {"orAll": [{"equals": {"project": "sales"}}, {"equals": {"priority": "high"}}]},
            True,
        ),
        (
            META,
            {"orAll": [{"equals": {"project": "sales"}}, {"equals": {"priority": "low"}}]},
            False,
        ),
        (META, {"orAll": [{"notEquals": {"project": "support"}}, {"equals": {"x": "y"}}]}, False),
        ({"project": ""}, {"equals": {"project": ""}}, True),
        ({}, {"equals": {"project": ""}}, False),
    ],
)
def test_matches_filters(metadata: Any, filters: Any, selected: bool) -> None:
    assert logs.matches_filters(metadata, filters) is selected


# -- invocation logs -----------------------------------------------------------------------


def converse_body(*turns: tuple[str, Any]) -> dict[str, Any]:
    return {
        "messages": [
            {"role": r, "content": [{"text": c}] if isinstance(c, str) else c} for r, c in turns
        ],
        "inferenceConfig": {"maxTokens": 512},
    }


def log_record(
    prompt: str = "What is the capital of France?",
    *,
    operation: str = "Converse",
    model: str = "amazon.nova-pro-v1:0",
    metadata: dict[str, str] | None = None,
    body: Any = None,
    output: Any = "default",
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": "2026-11-20T10:00:00Z",
        "accountId": ACCOUNT,
        "identity": {"arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/app/session"},
        "region": "us-east-1",
        "requestId": "7ee514f3-9eff-467c-af75-8fd564ce58e5",
        "operation": operation,
        "modelId": model,
        "input": {
            "inputContentType": "application/json",
            "inputBodyJson": body if body is not None else converse_body(("user", prompt)),
            "inputTokenCount": 8,
        },
    }
    if output == "default":
        output = {
            "outputContentType": "application/json",
            "outputBodyJson": {
                "output": {"message": {"role": "assistant", "content": [{"text": "Paris."}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 8, "outputTokens": 2},
            },
            "outputTokenCount": 2,
        }
    if output is not None:
        record["output"] = output
    if metadata is not None:
        record["requestMetadata"] = metadata
    return record


def jsonl(records: list[Any]) -> bytes:
    return b"".join(
        (r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records
    )


def scan(
    data: bytes | list[tuple[str, bytes]],
    *,
    filters: Any = None,
    use_prompt_response: bool = False,
    student: str = NOVA_LITE,
    max_records: int | None = None,
    teacher: str | None = None,
    block_bytes: int = 1 << 16,
) -> tuple[logs.InvocationLogStats, Findings]:
    named = [("logs.json.gz", data)] if isinstance(data, bytes) else data
    findings = Findings(max_examples=20)
    stats = logs.validate_invocation_logs(
        [bytes_source(name, raw, block_bytes) for name, raw in named],
        filters=filters,
        use_prompt_response=use_prompt_response,
        student_model=student,
        findings=findings,
        max_records=max_records,
        teacher_model=teacher,
    )
    return stats, findings


def examples(findings: Findings, code: str) -> list[tuple[int | None, str]]:
    return [(e.get("line"), e["path"]) for e in findings.examples.get(code, [])]


def test_gzip_and_plain_logs_give_the_same_result() -> None:
    records = [log_record(f"question {i}") for i in range(5)] + [b"{broken"]
    plain = jsonl(records)
    for data in (plain, gzip.compress(plain)):
        stats, findings = scan(data)
        assert (stats.records, stats.matching, stats.usable) == (6, 5, 5)
        assert examples(findings, "not-json") == [(6, "$")]
    assert scan(gzip.compress(plain))[0].compressed_files == 1
    assert scan(plain)[0].compressed_files == 0


def test_several_gzip_members_and_small_blocks_are_read_to_the_end() -> None:
    first = gzip.compress(jsonl([log_record("a"), log_record("b")]))
    second = gzip.compress(jsonl([log_record("c"), {"schemaType": "ModelInvocationLog"}]))
    stats, findings = scan(first + second, block_bytes=7)
    assert (stats.records, stats.usable) == (4, 3)
    assert (4, "$.operation") in examples(findings, "missing-field")


def test_line_numbers_count_lines_of_the_decompressed_object_across_blocks() -> None:
    records: list[Any] = [log_record(f"q{i}") for i in range(30)]
    records[22] = log_record(operation="InvokeModelWithBidirectionalStream")
    stats, findings = scan(gzip.compress(jsonl(records)), block_bytes=256)
    assert examples(findings, "invalid-value") == [(23, "$.operation")]
    assert stats.usable == 29


def test_the_filters_select_the_records_checked() -> None:
    bad = log_record(operation="ApplyGuardrail", metadata={"project": "other"})
    records = [
        log_record(metadata={"project": "support", "priority": "high"}),
        log_record(metadata={"project": "support", "priority": "low"}),
        log_record(metadata={"project": "sales"}),
        log_record(),
        bad,
    ]
    data = jsonl(records)
    stats, findings = scan(data, filters={"equals": {"project": "support"}})
    assert (stats.records, stats.matching, stats.usable) == (5, 2, 2)
    assert findings.counts == {}  # the bad record is not selected
    stats, _ = scan(
        data,
        filters={
            "andAll": [{"equals": {"project": "support"}}, {"notEquals": {"priority": "low"}}]
        },
    )
    assert stats.matching == 1
    stats, findings = scan(data, filters={"notEquals": {"project": "support"}})
    assert stats.matching == 3  # sales, no metadata, and the bad one
    assert examples(findings, "invalid-value") == [(5, "$.operation")]
    stats, _ = scan(
        data, filters={"orAll": [{"equals": {"project": "sales"}}, {"equals": {"priority": "low"}}]}
    )
    assert stats.matching == 2


# A log record distillation cannot use, the finding code, and the JSON path it names.
UNUSABLE_RECORDS: list[tuple[Any, str, str]] = [
    (
        log_record(operation="InvokeModelWithBidirectionalStream"),
        "invalid-value",
        "$.operation",
    ),
    (
        log_record(body=converse_body(("user", "a"), ("assistant", "b"), ("user", "c"))),
        "role-order",
        "$.input.inputBodyJson.messages[2].role",
    ),
    (
        log_record(body=converse_body(("assistant", "a"), ("user", "b"))),
        "role-order",
        "$.input.inputBodyJson.messages[0].role",
    ),
    (
        log_record(
            body=converse_body(
                (
                    "user",
                    [
                        {"text": "What is in this picture?"},
                        {"image": {"format": "png", "source": {"bytes": "iVBOR"}}},
                    ],
                )
            )
        ),
        "unsupported-content",
        "$.input.inputBodyJson.messages[0].content[1].image",
    ),
    (
        log_record(
            model="anthropic.claude-3-5-sonnet-20240620-v1:0",
            operation="InvokeModel",
            body={
                "anthropic_version": "bedrock-2023-05-31",
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image", "source": {"type": "base64"}}],
                    }
                ],
            },
        ),
        "unsupported-content",
        "$.input.inputBodyJson.messages[0].content[0].image",
    ),
    (
        log_record(body=converse_body(("user", [{"text": "a"}, {"text": "b"}]))),
        "unsupported-content",
        "$.input.inputBodyJson.messages[0].content[1]",
    ),
    (
        log_record(body={"inputAudio": "..."}),
        "unsupported-content",
        "$.input.inputBodyJson",
    ),
    (
        log_record(body=converse_body(("user", "   "))),
        "empty-text",
        "$.input.inputBodyJson.messages[0].content[0].text",
    ),
    (log_record(output=None), "missing-field", "$.output"),
    ({**log_record(), "schemaType": "CloudTrail"}, "invalid-value", "$.schemaType"),
    ({k: v for k, v in log_record().items() if k != "modelId"}, "missing-field", "$.modelId"),
    (
        {**log_record(), "input": {"inputTokenCount": 3}},
        "missing-field",
        "$.input.inputBodyJson",
    ),
    ({**log_record(), "requestMetadata": ["a"]}, "wrong-type", "$.requestMetadata"),
    ([log_record()], "not-object", "$"),
]


@pytest.mark.parametrize(("record", "code", "path"), UNUSABLE_RECORDS)
def test_a_record_distillation_cannot_use_is_reported_with_line_and_path(
    record: Any, code: str, path: str
) -> None:
    stats, findings = scan(gzip.compress(jsonl([log_record(), record])))
    assert (2, path) in examples(findings, code), findings.examples
    assert stats.usable == 1


def test_llama_and_titan_native_prompts_are_single_turn_text() -> None:
    llama = log_record(
        operation="InvokeModel",
        model="meta.llama3-1-405b-instruct-v1:0",
        body={"prompt": "story of two dogs", "max_gen_len": 300},
        output={"outputBodyJson": {"generation": "Rex and Charlie...", "stop_reason": "length"}},
    )
    titan = log_record(operation="InvokeModel", body={"inputText": "Hello"})
    stream = log_record(
        operation="InvokeModelWithResponseStream",
        body={"prompt": "hi"},
        output={"outputBodyJson": [{"generation": "Hel"}, {"generation": "lo"}]},
    )
    stats, findings = scan(jsonl([llama, titan, stream]), use_prompt_response=True)
    assert findings.counts == {}
    assert stats.usable == 3


def test_use_prompt_response_needs_the_response_text() -> None:
    tool_call = log_record(
        output={
            "outputBodyJson": {
                "output": {"message": {"content": [{"toolUse": {"name": "lookup", "input": {}}}]}}
            }
        }
    )
    no_body = log_record(output={"outputTokenCount": 0})
    data = jsonl([log_record(), tool_call, no_body])
    stats, findings = scan(data, use_prompt_response=False)
    assert (stats.usable, findings.counts) == (3, {})
    stats, findings = scan(data, use_prompt_response=True)
    assert stats.usable == 1
    assert examples(findings, "unsupported-content") == [(2, "$.output.outputBodyJson")]
    assert examples(findings, "missing-field") == [(3, "$.output.outputBodyJson")]


def test_bodies_stored_apart_are_counted_not_flagged() -> None:
    big = log_record()
    big["input"] = {"inputBodyS3Path": "s3://logs/AWSLogs/1/data/x_input.json.gz"}
    big["output"] = {"outputBodyS3Path": "s3://logs/AWSLogs/1/data/x_output.json.gz"}
    stats, findings = scan(jsonl([big]), use_prompt_response=True)
    assert (stats.usable, stats.offloaded_bodies, findings.counts) == (1, 1, {})


def test_the_teachers_own_records_are_counted() -> None:
    records = [
        log_record(model="us.amazon.nova-premier-v1:0"),
        log_record(
            model=f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.amazon.nova-premier-v1:0"
        ),
        log_record(model="amazon.nova-pro-v1:0"),
    ]
    stats, _ = scan(jsonl(records), teacher="us.amazon.nova-premier-v1:0", student=NOVA_PRO_STUDENT)
    assert (stats.usable, stats.teacher_records) == (3, 2)


def test_max_records_stops_the_scan() -> None:
    data = jsonl([log_record(f"q{i}") for i in range(10)])
    stats, _ = scan(data, max_records=4)
    assert (stats.matching, stats.stopped_early) == (4, True)
    stats, _ = scan(data, max_records=11)
    assert (stats.matching, stats.stopped_early) == (10, False)


def test_a_truncated_or_broken_gzip_object_is_a_finding() -> None:
    whole = gzip.compress(jsonl([log_record(f"q{i}") for i in range(50)]))
    stats, findings = scan([("cut.json.gz", whole[:-20]), ("ok.json.gz", whole)])
    [example] = findings.examples["not-json"]
    assert example["file"] == "cut.json.gz" and "line" not in example
    assert stats.files == 2 and stats.usable >= 50
    _, findings = scan(whole[:10] + b"garbage" * 10)
    assert "not a readable gzip stream" in findings.examples["not-json"][0]["message"]


def test_blank_lines_and_bad_utf8_are_reported() -> None:
    data = jsonl([log_record()]) + b"\n" + b'{"schemaType": "\xff"}\n'
    stats, findings = scan(data)
    assert stats.records == 2
    assert examples(findings, "blank-line") == [(2, "$")]
    assert examples(findings, "not-utf8") == [(3, "$")]
    assert findings.total(Severity.ERROR) == 1


def test_decompression_is_bounded_by_the_block_size() -> None:
    bomb = gzip.compress(b"\n" * 5_000_000)
    chunks = list(logs._gunzip([bomb], 65536))
    assert sum(map(len, chunks)) == 5_000_000
    assert max(map(len, chunks)) <= 65536


def test_bad_arguments_are_refused_before_reading() -> None:
    with pytest.raises(ValueError, match="not a distillation student"):
        scan(b"", student="anthropic.claude-3-haiku-20240307-v1:0:200k")
    with pytest.raises(ValueError, match=r"andAll: holds 1 to 16"):
        scan(b"", filters={"andAll": []})
    with pytest.raises(ValueError, match="not a supported teacher"):
        scan(b"", teacher="anthropic.claude-3-5-sonnet-20241022-v2:0")


# -- S3 ------------------------------------------------------------------------------------

BUCKET = "bedrock-invocation-logs-test"
LOG_PREFIX = f"logs/AWSLogs/{ACCOUNT}/BedrockModelInvocationLogs/us-east-1/2026/11/20"


@pytest.fixture
def s3() -> Any:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        for hour in range(5):
            body = gzip.compress(
                jsonl([log_record(f"q{hour}-{i}", metadata={"project": "p"}) for i in range(3)])
            )
            client.put_object(
                Bucket=BUCKET,
                Key=f"{LOG_PREFIX}/{hour:02d}/20261120T{hour:02d}0000Z_ab.json.gz",
                Body=body,
            )
        client.put_object(Bucket=BUCKET, Key=f"{LOG_PREFIX}/00/", Body=b"")
        client.put_object(Bucket=BUCKET, Key="logs/amazon-bedrock-logs-permission-check", Body=b"x")
        client.put_object(
            Bucket=BUCKET,
            Key=f"{LOG_PREFIX}/01/data/abc_input.json.gz",
            Body=gzip.compress(b'{"messages": []}'),
        )
        client.put_object(Bucket=BUCKET, Key="elsewhere/x.json.gz", Body=b"{}")
        yield client


def test_list_log_sources_pages_through_the_prefix_and_skips_what_is_not_a_log(s3: Any) -> None:
    sources = list(logs.list_log_sources(s3, f"s3://{BUCKET}/logs/", page_size=2))
    assert [s.name.rsplit("/", 1)[-1] for s in sources] == [
        f"20261120T{h:02d}0000Z_ab.json.gz" for h in range(5)
    ]
    assert all(s.name.startswith(f"s3://{BUCKET}/{LOG_PREFIX}/") for s in sources)
    assert all(s.size and s.size > 0 for s in sources)


def test_list_log_sources_opens_an_object_only_when_read(s3: Any) -> None:
    calls: list[str] = []
    s3.meta.events.register("before-call.s3.GetObject", lambda **kw: calls.append("get"))
    sources = list(logs.list_log_sources(s3, f"s3://{BUCKET}/logs"))
    assert calls == []
    assert zlib.decompress(b"".join(sources[0].blocks()), zlib.MAX_WBITS | 16).count(b"\n") == 3
    assert calls == ["get"]


def test_logs_listed_from_s3_validate_end_to_end(s3: Any) -> None:
    findings = Findings()
    stats = logs.validate_invocation_logs(
        logs.list_log_sources(s3, f"s3://{BUCKET}/logs/AWSLogs/"),
        filters={"equals": {"project": "p"}},
        use_prompt_response=True,
        student_model=NOVA_MICRO,
        findings=findings,
        max_records=None,
        teacher_model="amazon.nova-pro-v1:0",
    )
    assert (stats.files, stats.matching, stats.usable, stats.teacher_records) == (5, 15, 15, 15)
    assert findings.counts == {}
    assert stats.matching < raw_data()["invocationLogs"]["minMatchingRecords"]


@pytest.mark.parametrize("uri", ["https://bucket/logs", "s3://"])
def test_list_log_sources_needs_an_s3_uri(uri: str) -> None:
    with pytest.raises(ValueError):
        list(logs.list_log_sources(object(), uri))
