"""The customization request: its shape (every problem at once, each naming its field), the
plan made from it and the JSON Schema. The checks beyond the shape: test_request_checks.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import get_args

import jsonschema
import pytest

from lambda_handlers.common.errors import RequestInvalid
from lambda_handlers.common.plan import EXECUTION_TAG, build_create_job_request
from lambda_handlers.common.request import (
    CustomizationRequest,
    CustomizationType,
    RequestContext,
)
from lambda_handlers.common.request_checks import check_request
from tests.factories import CONTEXT, EXECUTION_ARN, fine_tuning_request, plan_for
from tests.service_model import assert_valid_request

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "schemas" / "customization-request.v1.json"


def problems_of(request: object, ctx: RequestContext = CONTEXT) -> list[str]:
    with pytest.raises(RequestInvalid) as caught:
        check_request(request, ctx)
    return caught.value.problems


def test_a_good_request_passes() -> None:
    parsed = check_request(fine_tuning_request(), CONTEXT)
    assert parsed.baseModelIdentifier == "amazon.nova-lite-v1:0:300k"


def test_a_bad_request_names_every_problem_at_once() -> None:
    request = fine_tuning_request(
        baseModelIdentifier="anthropic.claude-3-5-sonnet-20241022-v2:0",
        jobName="my job!",
        trainingDataConfig={"s3Uri": "s3://someone-elses-bucket/train.jsonl"},
        hyperParameters={"rlAlgorithm": "DPO"},
    )
    problems = problems_of(request)
    text = "\n".join(problems)
    assert len(problems) == 4, text
    assert any(
        p.startswith("baseModelIdentifier:") and "not a customizable base model" in p
        for p in problems
    )
    assert any(p.startswith("jobName:") and "'my job!'" in p for p in problems)
    assert any(
        p.startswith("trainingDataConfig.s3Uri:") and "someone-elses-bucket" in p for p in problems
    )
    assert any(p.startswith("hyperParameters.rlAlgorithm:") for p in problems)
    # The message says how many and lists each.
    with pytest.raises(RequestInvalid, match="4 problems"):
        check_request(request, CONTEXT)


def test_at_most_ten_validators() -> None:
    validators = [{"s3Uri": f"s3://data-bucket/validation/{i}.jsonl"} for i in range(11)]
    problems = problems_of(fine_tuning_request(validationDataConfig={"validators": validators}))
    assert any(p.startswith("validationDataConfig.validators:") for p in problems), problems


def test_the_guides_fictional_fields_are_rejected_with_a_pointer_to_the_real_one() -> None:
    request = fine_tuning_request(
        trainingDataConfig={
            "s3Uri": "s3://data-bucket/training/t.jsonl",
            "teacherModelIdentifier": "anthropic.claude-3-5",
        }
    )
    [problem] = problems_of(request)
    assert problem.startswith("trainingDataConfig.teacherModelIdentifier: unknown field")
    assert (
        "customizationConfig.distillationConfig.teacherModelConfig.teacherModelIdentifier"
        in problem
    )


def test_missing_required_fields_are_named() -> None:
    problems = problems_of({"customizationType": "FINE_TUNING"})
    assert "baseModelIdentifier: required field is missing" in problems
    assert "trainingDataConfig: required field is missing" in problems


@pytest.mark.parametrize("raw", [None, [], "a string", 42])
def test_a_request_that_is_not_an_object_is_rejected(raw: object) -> None:
    assert problems_of(raw)[0].startswith("(request): expected a JSON object")


def test_a_wrongly_typed_value_is_reported_once() -> None:
    problems = problems_of(fine_tuning_request(hyperParameters={"epochCount": [1]}, tags={"a": 5}))
    assert problems == [
        "hyperParameters.epochCount: expected a number or a numeric string (got [1])",
        "tags.a: Input should be a valid string (got 5)",
    ]


def test_unsupported_request_version_is_rejected() -> None:
    problems = problems_of(fine_tuning_request(requestVersion="2"))
    assert any(p.startswith("requestVersion:") for p in problems), problems


# -- the plan ------------------------------------------------------------------------


def test_plan_names_are_derived_unique_and_valid_for_bedrock() -> None:
    first = plan_for(execution_arn=EXECUTION_ARN)
    second = plan_for(execution_arn=EXECUTION_ARN.replace("run-1", "run-2"))
    assert first.jobName != second.jobName
    assert first.clientRequestToken != second.clientRequestToken
    assert first.jobName.startswith("nova-lite-ft-")
    params = build_create_job_request(first, "arn:aws:iam::123456789012:role/R", None)
    assert_valid_request("bedrock", "CreateModelCustomizationJob", params)


def test_plan_is_deterministic_for_one_execution() -> None:
    assert plan_for() == plan_for()


def test_plan_keeps_user_names_and_tags_and_adds_the_execution_tag() -> None:
    plan = plan_for(fine_tuning_request(jobName="churn-v3", customModelName="churn_v3"))
    assert (plan.jobName, plan.customModelName) == ("churn-v3", "churn_v3")
    assert plan.tags == {
        "team": "ml-platform",
        EXECUTION_TAG: EXECUTION_ARN,
        "bedrock-customize:stack": "BedrockCustomization",
    }
    assert plan.outputDataConfig == {"s3Uri": "s3://artifacts-bucket/customization-jobs/churn-v3/"}


def test_hyperparameters_become_the_strings_bedrock_takes() -> None:
    plan = plan_for(
        fine_tuning_request(
            hyperParameters={
                "epochCount": 3,
                "learningRate": 0.00002,
                "learningRateWarmupSteps": "5",
            }
        )
    )
    assert plan.hyperParameters == {
        "epochCount": "3",
        "learningRate": "2e-05",
        "learningRateWarmupSteps": "5",
    }


def test_serving_plan_defaults_to_no_commitment() -> None:
    plan = plan_for(fine_tuning_request(serving={"mode": "provisioned-throughput"}))
    assert plan.serving.mode == "provisioned-throughput"
    assert plan.serving.commitmentDuration is None
    assert plan.serving.modelUnits == 1
    assert plan.serving.name and plan.serving.name.endswith("-pt")


def test_create_job_request_carries_everything_the_api_takes() -> None:
    plan = plan_for()
    params = build_create_job_request(
        plan, "arn:aws:iam::123456789012:role/R", "arn:aws:kms:us-east-1:1:key/k"
    )
    assert params["customModelKmsKeyId"] == "arn:aws:kms:us-east-1:1:key/k"
    assert params["validationDataConfig"] == {
        "validators": [{"s3Uri": "s3://data-bucket/validation/val.jsonl"}]
    }
    assert {"key": EXECUTION_TAG, "value": EXECUTION_ARN} in params["jobTags"]
    assert params["jobTags"] == params["customModelTags"]
    assert "customizationConfig" not in params


@pytest.mark.parametrize(
    ("model", "hyperparameters", "expected"),
    [
        ("amazon.nova-lite-v1:0:300k", {"epochCount": 2}, "on-demand-deployment"),
        ("meta.llama3-3-70b-instruct-v1:0:128k", {}, "on-demand-deployment"),
        (
            "anthropic.claude-3-haiku-20240307-v1:0:200k",
            {"epochCount": 2},
            "provisioned-throughput",
        ),
        ("meta.llama3-1-8b-instruct-v1:0:128k", {"epochCount": 2}, "provisioned-throughput"),
    ],
)
def test_auto_serving_picks_on_demand_where_the_model_supports_it(
    model: str, hyperparameters: dict, expected: str
) -> None:
    plan = plan_for(
        fine_tuning_request(
            baseModelIdentifier=model, hyperParameters=hyperparameters, serving={"mode": "auto"}
        )
    )
    assert plan.serving.mode == expected
    assert plan.serving.commitmentDuration is None


# -- the JSON Schema -----------------------------------------------------------------


def test_committed_schema_is_generated_from_the_model() -> None:
    generated = CustomizationRequest.model_json_schema()
    committed = json.loads(SCHEMA_PATH.read_text())
    assert committed == generated, (
        "run: python -m lambda_handlers.common.schema > schemas/customization-request.v1.json"
    )


@pytest.mark.parametrize(
    "example", sorted((ROOT / "examples").glob("*.json")), ids=lambda p: p.name
)
def test_examples_are_valid_against_schema_and_checks(example: Path) -> None:
    document = json.loads(example.read_text())
    jsonschema.validate(document, json.loads(SCHEMA_PATH.read_text()))
    # A stack with every option on, its names the examples' placeholders.
    ctx = RequestContext(
        **{
            **CONTEXT.__dict__,
            "data_bucket": "your-data-bucket",
            "output_bucket": "your-artifacts-bucket",
            "enabled_types": get_args(CustomizationType),
            "graders": {
                g: f"arn:aws:lambda:us-east-1:123456789012:function:{g}"
                for g in ("reference-match", "format", "preference", "judge")
            },
            "invocation_logs_uris": ("s3://your-invocation-logs-bucket/logs/",),
        }
    )
    check_request(document, ctx)


def test_schema_rejects_what_the_model_rejects() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(fine_tuning_request(unknownField=1), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(fine_tuning_request(jobName="bad name"), schema)
