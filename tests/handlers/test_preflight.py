"""Check before paying: the objects a request names, its promotion target, the test set.

S3 and Bedrock under the strict Stubber (every request checked against the service model)
or moto; S3's 403 for a missing key without ``s3:ListBucket`` is played by the Stubber,
since moto answers 404.
"""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambda_handlers import validate_request
from lambda_handlers.common.aws import client
from lambda_handlers.common.errors import (
    AccessDenied,
    BedrockThrottled,
    BedrockUnavailable,
    EvaluationDataInvalid,
    RequestInvalid,
)
from lambda_handlers.preflight.evaluation import detect_format, rules_for_test_set
from lambda_handlers.preflight.objects import object_problems
from lambda_handlers.preflight.promotion import promotion_problems, same_base_model
from tests.factories import (
    DEPLOYMENT_ARN,
    EXECUTION_ARN,
    MODEL_ARN,
    NOW,
    PT_ARN,
    conversation_records,
    fine_tuning_request,
    foundation_model,
    jsonl,
)

URI = "s3://data-bucket/test/held-out.jsonl"
WHERE = "evaluation.testDataConfig.s3Uri"
HEAD = {"Bucket": "data-bucket", "Key": "test/held-out.jsonl"}
LIST = {"Bucket": "data-bucket", "Prefix": "test/held-out.jsonl", "MaxKeys": 1}


# -- objects: a missing one is named as missing, even behind a 403 ----------------------------------


def _forbidden_head(s3: Any) -> None:
    s3.add_client_error("head_object", "403", "Forbidden", 403, expected_params=HEAD)


def test_a_404_names_the_object_missing(stub) -> None:
    s3 = stub("s3")
    s3.add_client_error("head_object", "404", "Not Found", 404, expected_params=HEAD)
    assert object_problems(client("s3"), [(WHERE, URI)]) == [
        f"{WHERE}: no object at {URI}; upload the data first"
    ]


def test_a_403_whose_key_is_not_listed_is_a_missing_object(stub) -> None:
    s3 = stub("s3")
    _forbidden_head(s3)
    s3.add_response("list_objects_v2", {"KeyCount": 0, "IsTruncated": False}, LIST)
    assert object_problems(client("s3"), [(WHERE, URI)]) == [
        f"{WHERE}: no object at {URI}; upload the data first"
    ]


def test_a_403_whose_key_is_listed_is_an_unreadable_object(stub) -> None:
    s3 = stub("s3")
    _forbidden_head(s3)
    s3.add_response(
        "list_objects_v2", {"Contents": [{"Key": "test/held-out.jsonl", "Size": 10}]}, LIST
    )
    [problem] = object_problems(client("s3"), [(WHERE, URI)])
    assert problem.startswith(f"{WHERE}: {URI} exists but this stack may not read it")


def test_a_longer_key_listed_under_the_same_prefix_does_not_count(stub) -> None:
    s3 = stub("s3")
    _forbidden_head(s3)
    s3.add_response(
        "list_objects_v2", {"Contents": [{"Key": "test/held-out.jsonl.bak", "Size": 10}]}, LIST
    )
    assert "no object at" in object_problems(client("s3"), [(WHERE, URI)])[0]


def test_a_403_that_listing_cannot_settle_says_both_are_possible(stub) -> None:
    s3 = stub("s3")
    _forbidden_head(s3)
    s3.add_client_error(
        "list_objects_v2", "AccessDenied", "Access Denied", 403, expected_params=LIST
    )
    [problem] = object_problems(client("s3"), [(WHERE, URI)])
    assert "the object is missing, or this stack may not read it" in problem


def test_an_object_that_exists_is_no_problem_and_other_errors_are_translated(stub) -> None:
    s3 = stub("s3")
    s3.add_response("head_object", {"ContentLength": 10}, HEAD)
    assert object_problems(client("s3"), [(WHERE, URI)]) == []
    s3.add_client_error("head_object", "SlowDown", "Slow down", 503, expected_params=HEAD)
    with pytest.raises(BedrockUnavailable, match=re.escape(f"HeadObject {URI}")):
        object_problems(client("s3"), [(WHERE, URI)])


# -- the promotion target ----------------------------------------------------------------------------

LLAMA_MODEL = (
    "arn:aws:bedrock:us-east-1:123456789012:custom-model/meta.llama3-1-8b-instruct-v1:0:128k/"
    "bbbbbbbbbbbb"
)
NOVA_LITE_BASE = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0:300k"


def _deployment(status: str = "Active", **extra: Any) -> dict[str, Any]:
    return {
        "customModelDeploymentArn": DEPLOYMENT_ARN,
        "modelDeploymentName": "production",
        "modelArn": MODEL_ARN,
        "createdAt": NOW,
        "status": status,
        **extra,
    }


def _throughput(status: str = "InService", model_arn: str = MODEL_ARN) -> dict[str, Any]:
    return {
        "modelUnits": 1,
        "desiredModelUnits": 1,
        "provisionedModelName": "production",
        "provisionedModelArn": PT_ARN,
        "modelArn": model_arn,
        "desiredModelArn": model_arn,
        "foundationModelArn": NOVA_LITE_BASE,
        "status": status,
        "creationTime": NOW,
        "lastModifiedTime": NOW,
    }


def _custom_model(base: str = NOVA_LITE_BASE, arn: str = MODEL_ARN) -> dict[str, Any]:
    return {"modelArn": arn, "modelName": "m", "creationTime": NOW, "baseModelArn": base}


def _check(promote: dict[str, str], account: str = "123456789012") -> list[str]:
    return promotion_problems(
        promote,
        "amazon.nova-lite-v1:0:300k",
        client("bedrock"),
        account=account,
        region="us-east-1",
    )


def test_an_active_deployment_of_the_same_base_model_can_take_the_model(stub) -> None:
    bedrock = stub("bedrock")
    bedrock.add_response(
        "get_custom_model_deployment",
        _deployment(),
        {"customModelDeploymentIdentifier": DEPLOYMENT_ARN},
    )
    bedrock.add_response("get_custom_model", _custom_model(), {"modelIdentifier": MODEL_ARN})
    assert _check({"customModelDeploymentArn": DEPLOYMENT_ARN}) == []


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (
            [
                ("get_custom_model_deployment", _deployment("Creating")),
                ("get_custom_model", _custom_model()),
            ],
            "is Creating; it can take",
        ),
        (
            [
                ("get_custom_model_deployment", _deployment("Failed")),
                ("get_custom_model", _custom_model()),
            ],
            "is Failed; it can take",
        ),
        (
            [
                (
                    "get_custom_model_deployment",
                    _deployment(
                        updateDetails={"modelArn": LLAMA_MODEL, "updateStatus": "Updating"}
                    ),
                ),
                ("get_custom_model", _custom_model()),
            ],
            f"is being updated to {LLAMA_MODEL}",
        ),
        (
            [
                ("get_custom_model_deployment", _deployment()),
                (
                    "get_custom_model",
                    _custom_model(
                        base="arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-1-8b-instruct-v1:0:128k"
                    ),
                ),
            ],
            "serves a custom model of meta.llama3-1-8b-instruct-v1:0:128k, not of amazon.nova-lite",
        ),
    ],
    ids=["creating", "failed", "updating", "other-base-model"],
)
def test_a_deployment_that_cannot_take_the_model_now_is_a_problem(
    stub, answers: list[tuple[str, dict[str, Any]]], expected: str
) -> None:
    bedrock = stub("bedrock")
    for operation, answer in answers:
        bedrock.add_response(operation, answer)
    [problem] = _check({"customModelDeploymentArn": DEPLOYMENT_ARN})
    assert problem.startswith(
        f"serving.promoteTo.customModelDeploymentArn: deployment {DEPLOYMENT_ARN}"
    )
    assert expected in problem


@pytest.mark.parametrize(
    ("status", "model_arn", "expected"),
    [
        ("Updating", MODEL_ARN, "is Updating; it can take a new model only when InService"),
        ("Creating", MODEL_ARN, "is Creating"),
        (
            "InService",
            NOVA_LITE_BASE,
            "a throughput bought for a base model cannot change its model",
        ),
    ],
)
def test_a_throughput_that_cannot_take_the_model_is_a_problem(
    stub, status: str, model_arn: str, expected: str
) -> None:
    bedrock = stub("bedrock")
    bedrock.add_response(
        "get_provisioned_model_throughput",
        _throughput(status, model_arn),
        {"provisionedModelId": PT_ARN},
    )
    if model_arn == MODEL_ARN:
        bedrock.add_response("get_custom_model", _custom_model(), {"modelIdentifier": MODEL_ARN})
    [problem] = _check({"provisionedModelArn": PT_ARN})
    assert problem.startswith(
        f"serving.promoteTo.provisionedModelArn: provisioned throughput {PT_ARN}"
    )
    assert expected in problem


def test_a_missing_target_or_one_elsewhere_is_named(stub) -> None:
    bedrock = stub("bedrock")
    bedrock.add_client_error(
        "get_provisioned_model_throughput", "ResourceNotFoundException", "gone", 404
    )
    assert _check({"provisionedModelArn": PT_ARN}) == [
        f"serving.promoteTo.provisionedModelArn: no provisioned throughput {PT_ARN} in this account "
        "and Region"
    ]
    [elsewhere] = _check({"provisionedModelArn": PT_ARN}, account="210987654321")
    assert "is not in this account and Region (210987654321, us-east-1)" in elsewhere


def test_aws_errors_reading_the_target_are_translated_not_read_as_missing(stub) -> None:
    bedrock = stub("bedrock")
    bedrock.add_client_error("get_custom_model_deployment", "AccessDeniedException", "no", 403)
    with pytest.raises(AccessDenied):
        _check({"customModelDeploymentArn": DEPLOYMENT_ARN})
    bedrock.add_client_error("get_custom_model_deployment", "ThrottlingException", "slow", 429)
    with pytest.raises(BedrockThrottled):
        _check({"customModelDeploymentArn": DEPLOYMENT_ARN})


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (NOVA_LITE_BASE, "amazon.nova-lite-v1:0:300k", True),
        (
            "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0",
            "amazon.nova-lite-v1:0:300k",
            True,
        ),
        ("amazon.nova-lite-v1:0:24k", "amazon.nova-lite-v1:0:300k", False),
        ("amazon.nova-pro-v1:0:300k", "amazon.nova-lite-v1:0:300k", False),
    ],
)
def test_base_models_compare_by_id_and_by_context_length_when_both_name_one(
    a: str, b: str, same: bool
) -> None:
    assert same_base_model(a, b) is same


# -- the test set -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "fmt"),
    [
        ({"prompt": "p", "completion": "c"}, "prompt-completion"),
        (conversation_records(1)[0], "bedrock-conversation"),
        (
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "yo"},
                ]
            },
            "claude-messages",
        ),
        ({"text": "no format"}, None),
        ([1, 2], None),
    ],
)
def test_the_test_sets_format_is_read_from_its_first_record(record: Any, fmt: str | None) -> None:
    assert detect_format(json.dumps(record).encode()) == fmt


def test_a_test_set_is_checked_without_the_training_quotas() -> None:
    own = rules_for_test_set("amazon.nova-lite-v1:0:300k", "bedrock-conversation")
    assert own.format == "bedrock-conversation" and own.models == ("amazon.nova-lite-v1:0:300k",)
    assert (own.min_records, own.max_records, own.max_tokens_per_record, own.max_file_bytes) == (
        None,
        None,
        None,
        None,
    )
    assert own.unknown_fields == "warning", "a test set may carry its own metadata"
    other = rules_for_test_set("amazon.nova-lite-v1:0:300k", "prompt-completion")
    assert other.format == "prompt-completion", "a test set in another format: that format's rules"


def _buckets(test_set: bytes) -> Any:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="data-bucket")
    s3.create_bucket(Bucket="artifacts-bucket")
    s3.put_object(
        Bucket="data-bucket", Key="training/train.jsonl", Body=jsonl(conversation_records(10))
    )
    s3.put_object(
        Bucket="data-bucket", Key="validation/val.jsonl", Body=jsonl(conversation_records(2, 50))
    )
    s3.put_object(Bucket="data-bucket", Key="test/held-out.jsonl", Body=test_set)
    return s3


def _evaluating(**evaluation: Any) -> dict[str, Any]:
    return {
        "request": fine_tuning_request(
            serving={"mode": "on-demand-deployment"},
            evaluation={"testDataConfig": {"s3Uri": URI}, **evaluation},
        ),
        "execution": {"id": EXECUTION_ARN},
    }


@mock_aws
def test_validate_resolves_the_base_model_and_passes_the_evaluation_on(
    stub, lambda_context
) -> None:
    _buckets(jsonl(conversation_records(120, offset=500)))
    stub("bedrock").add_response(
        "get_foundation_model",
        foundation_model("amazon.nova-lite-v1:0"),
        {"modelIdentifier": "amazon.nova-lite-v1:0"},
    )
    checks = validate_request.handler(_evaluating(maxRecords=150), lambda_context)["checks"]
    evaluation = checks["evaluation"]
    assert evaluation["testRecords"] == 120 and evaluation["mode"] == "batch"
    assert evaluation["baseModel"] == {
        "modelId": "amazon.nova-lite-v1:0",
        "invokeId": "amazon.nova-lite-v1:0",
        "profileId": None,
        "destinationRegions": ["us-east-1"],
    }
    assert evaluation["reportUri"].endswith("/test-set-validation.json")


@mock_aws
def test_validate_rejects_a_test_set_with_nothing_to_evaluate(stub, lambda_context) -> None:
    # Valid for the engine, but no record ends with the assistant's answer.
    only_prompts = [
        {
            "schemaVersion": "bedrock-conversation-2024",
            "messages": [{"role": "user", "content": [{"text": "q"}]}],
        }
    ]
    _buckets(jsonl(only_prompts))
    stub("bedrock").add_response("get_foundation_model", foundation_model("amazon.nova-lite-v1:0"))
    with pytest.raises((EvaluationDataInvalid,)) as caught:
        validate_request.handler(_evaluating(), lambda_context)
    assert str(caught.value).startswith(f"{WHERE}: the test set {URI}")


@mock_aws
def test_validate_lists_every_resource_problem_at_once(
    stub, lambda_context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMOTION_TARGET_ARNS", PT_ARN)  # allowed, but no longer there
    s3 = _buckets(b"")
    s3.delete_object(Bucket="data-bucket", Key="test/held-out.jsonl")
    bedrock = stub("bedrock")
    bedrock.add_client_error(
        "get_provisioned_model_throughput", "ResourceNotFoundException", "gone", 404
    )
    bedrock.add_response(
        "get_foundation_model", foundation_model("amazon.nova-lite-v1:0", ("PROVISIONED",))
    )
    bedrock.add_response("list_inference_profiles", {"inferenceProfileSummaries": []})
    event = _evaluating()
    event["request"]["serving"]["promoteTo"] = {"provisionedModelArn": PT_ARN}
    with pytest.raises(RequestInvalid) as caught:
        validate_request.handler(event, lambda_context)
    fields = [p.split(":", 1)[0] for p in caught.value.problems]
    assert fields == [WHERE, "serving.promoteTo.provisionedModelArn", "evaluation"]
