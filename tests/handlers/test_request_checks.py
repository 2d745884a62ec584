"""The checks a request's schema cannot express: model, data, serving, tags, RFT."""

from __future__ import annotations

import pytest

from lambda_handlers.common.errors import RequestInvalid
from lambda_handlers.common.plan import build_create_job_request, make_plan
from lambda_handlers.common.request import RequestContext
from lambda_handlers.common.request_checks import check_request
from tests.factories import CONTEXT, EXECUTION_ARN, fine_tuning_request
from tests.service_model import assert_valid_request


def problems_of(request: object, ctx: RequestContext = CONTEXT) -> list[str]:
    with pytest.raises(RequestInvalid) as caught:
        check_request(request, ctx)
    return caught.value.problems


# -- hyperparameters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"batchSize": 8}, "hyperParameters.batchSize: unknown for Amazon Nova Lite"),
        (
            {"epochCount": 9},
            "hyperParameters.epochCount: 9 is out of range; expected epochCount (int 1 to 5",
        ),
        ({"epochCount": 2.5}, "hyperParameters.epochCount: 2.5 is not a whole number"),
        ({"learningRate": "fast"}, "hyperParameters.learningRate: 'fast' is not a number"),
        ({"learningRate": 0.5}, "hyperParameters.learningRate: 0.5 is out of range"),
    ],
)
def test_hyperparameters_are_checked_against_the_models_family(params: dict, expected: str) -> None:
    problems = problems_of(fine_tuning_request(hyperParameters=params))
    assert any(p.startswith(expected) for p in problems), problems


def test_hyperparameters_at_the_bounds_pass() -> None:
    check_request(
        fine_tuning_request(
            hyperParameters={
                "epochCount": 5,
                "learningRate": "0.0001",
                "learningRateWarmupSteps": 0,
            }
        ),
        CONTEXT,
    )


def test_unknown_hyperparameter_lists_what_is_allowed() -> None:
    [problem] = problems_of(fine_tuning_request(hyperParameters={"epochs": 3}))
    assert "allowed: epochCount (int 1 to 5, default 2)" in problem


def test_models_without_published_hyperparameters_pass_them_through() -> None:
    request = fine_tuning_request(
        baseModelIdentifier="amazon.nova-2-lite-v1:0:256k", hyperParameters={"anything": 1}
    )
    assert check_request(request, CONTEXT).hyperParameters == {"anything": 1}


# -- base model and customization type -----------------------------------------------------


def test_foundation_model_arn_is_accepted() -> None:
    arn = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0:128k"
    check_request(fine_tuning_request(baseModelIdentifier=arn), CONTEXT)


def test_customization_type_must_be_supported_by_the_model() -> None:
    request = fine_tuning_request(customizationType="CONTINUED_PRE_TRAINING", hyperParameters={})
    [problem] = problems_of(request)
    assert problem == (
        "customizationType: Amazon Nova Lite does not support CONTINUED_PRE_TRAINING; "
        "it supports FINE_TUNING, DISTILLATION"
    )


def test_customization_type_must_be_enabled_in_the_stack() -> None:
    request = fine_tuning_request(
        customizationType="DISTILLATION",
        customizationConfig={
            "distillationConfig": {"teacherModelConfig": {"teacherModelIdentifier": "x"}}
        },
    )
    problems = problems_of(request)
    assert any("DISTILLATION is not enabled in this stack" in p for p in problems), problems


# -- data ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "fragment"),
    [
        ("s3://data-bucket/other/train.jsonl", "outside the data prefixes"),
        ("s3://data-bucket/training/", "is a prefix; name the JSONL object"),
        ("s3://Bad_Bucket/x", "does not match"),
        ("https://data-bucket/training/x.jsonl", "does not match"),
        ("s3://data-bucket/training/my file.jsonl", "does not match"),
    ],
)
def test_training_data_must_be_inside_the_data_prefixes(uri: str, fragment: str) -> None:
    problems = problems_of(fine_tuning_request(trainingDataConfig={"s3Uri": uri}))
    assert any(p.startswith("trainingDataConfig.s3Uri:") and fragment in p for p in problems), (
        problems
    )


def test_extra_data_buckets_are_allowed_when_granted() -> None:
    ctx = RequestContext(**{**CONTEXT.__dict__, "extra_data_buckets": ("shared-datasets",)})
    check_request(
        fine_tuning_request(trainingDataConfig={"s3Uri": "s3://shared-datasets/any/key.jsonl"}), ctx
    )


def test_output_must_be_under_the_output_prefix() -> None:
    problems = problems_of(
        fine_tuning_request(outputDataConfig={"s3Uri": "s3://artifacts-bucket/elsewhere/"})
    )
    assert problems == [
        "outputDataConfig.s3Uri: s3://artifacts-bucket/elsewhere/ is outside the output location; use a URI "
        "under s3://artifacts-bucket/customization-jobs/ (Bedrock may write only there)"
    ]


def test_validation_data_is_checked_per_validator() -> None:
    request = fine_tuning_request(
        validationDataConfig={
            "validators": [
                {"s3Uri": "s3://data-bucket/validation/a.jsonl"},
                {"s3Uri": "s3://elsewhere/b.jsonl"},
            ]
        }
    )
    [problem] = problems_of(request)
    assert problem.startswith("validationDataConfig.validators[1].s3Uri: bucket 'elsewhere'")


# -- serving and tags ----------------------------------------------------------------------


def test_commitment_needs_explicit_confirmation() -> None:
    serving = {"mode": "provisioned-throughput", "commitmentDuration": "OneMonth"}
    [problem] = problems_of(fine_tuning_request(serving=serving))
    assert problem.startswith("serving.confirmCommitment:")
    confirmed = check_request(
        fine_tuning_request(serving={**serving, "confirmCommitment": True}), CONTEXT
    )
    assert confirmed.serving.commitmentDuration == "OneMonth"


def test_on_demand_serving_only_for_models_that_support_it() -> None:
    request = fine_tuning_request(
        baseModelIdentifier="anthropic.claude-3-haiku-20240307-v1:0:200k",
        hyperParameters={"epochCount": 2},
        serving={"mode": "on-demand-deployment"},
    )
    [problem] = problems_of(request)
    assert problem == (
        "serving.mode: custom models of Anthropic Claude 3 Haiku cannot use on-demand-deployment; "
        "use provisioned-throughput"
    )


def test_reserved_tags_are_rejected() -> None:
    problems = problems_of(
        fine_tuning_request(tags={"bedrock-customize:execution-arn": "x", "aws:foo": "y"})
    )
    assert len(problems) == 2


# -- reinforcement fine-tuning -------------------------------------------------------------

GRADER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:reference-match-grader"
RFT_CONTEXT = RequestContext(
    **{
        **CONTEXT.__dict__,
        "enabled_types": ("FINE_TUNING", "REINFORCEMENT_FINE_TUNING"),
        "graders": {"reference-match": GRADER_ARN},
    }
)


def rft_request(**rft: object) -> dict:
    return fine_tuning_request(
        customizationType="REINFORCEMENT_FINE_TUNING",
        baseModelIdentifier="amazon.nova-2-lite-v1:0:256k",
        hyperParameters={},
        customizationConfig={"rftConfig": {"grader": "reference-match", **rft}},
    )


def test_rft_grader_names_resolve_to_the_stacks_grader() -> None:
    request = rft_request(
        hyperParameters={"epochCount": 2, "batchSize": 64, "reasoningEffort": "high"}
    )
    plan = make_plan(check_request(request, RFT_CONTEXT), EXECUTION_ARN, RFT_CONTEXT)
    assert plan.customizationConfig == {
        "rftConfig": {
            "graderConfig": {"lambdaGrader": {"lambdaArn": GRADER_ARN}},
            "hyperParameters": {"epochCount": 2, "batchSize": 64, "reasoningEffort": "high"},
        }
    }
    params = build_create_job_request(plan, "arn:aws:iam::123456789012:role/R", None)
    assert_valid_request("bedrock", "CreateModelCustomizationJob", params)


@pytest.mark.parametrize(
    ("rft", "expected"),
    [
        (
            {"hyperParameters": {"batchSize": 8}},
            "customizationConfig.rftConfig.hyperParameters.batchSize: 8 is below the minimum 16",
        ),
        (
            {"hyperParameters": {"reasoningEffort": "extreme"}},
            "customizationConfig.rftConfig.hyperParameters.reasoningEffort: 'extreme' is not one of low, medium, high",
        ),
        (
            {"hyperParameters": {"learningRate": 0.1}},
            "customizationConfig.rftConfig.hyperParameters.learningRate: 0.1 is above the maximum 0.001",
        ),
        (
            {"hyperParameters": {"rlAlgorithm": "DPO"}},
            "customizationConfig.rftConfig.hyperParameters.rlAlgorithm: unknown field",
        ),
        (
            {"grader": "bleu"},
            "customizationConfig.rftConfig.grader: 'bleu' is not a grader of this stack (graders: reference-match)",
        ),
        (
            {"graderConfig": {"lambdaGrader": {"lambdaArn": GRADER_ARN}}},
            "customizationConfig.rftConfig: give exactly one of grader (a name) or graderConfig",
        ),
    ],
)
def test_rft_config_is_checked_against_the_service_model(rft: dict, expected: str) -> None:
    problems = problems_of(rft_request(**rft), RFT_CONTEXT)
    assert any(p.startswith(expected) for p in problems), problems


def test_rft_grader_given_by_arn_must_be_the_stacks() -> None:
    request = fine_tuning_request(
        customizationType="REINFORCEMENT_FINE_TUNING",
        baseModelIdentifier="amazon.nova-2-lite-v1:0:256k",
        hyperParameters={},
        customizationConfig={
            "rftConfig": {
                "graderConfig": {
                    "lambdaGrader": {
                        "lambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:someone-elses"
                    }
                }
            }
        },
    )
    [problem] = problems_of(request, RFT_CONTEXT)
    assert "is not a grader Bedrock may invoke in this stack" in problem
    request["customizationConfig"]["rftConfig"]["graderConfig"]["lambdaGrader"]["lambdaArn"] = (
        GRADER_ARN
    )
    check_request(request, RFT_CONTEXT)


@pytest.mark.parametrize("lambda_grader", [1, "arn", ["a"], None])
def test_a_grader_config_that_is_not_an_object_is_a_problem_not_a_crash(
    lambda_grader: object,
) -> None:
    request = rft_request()
    del request["customizationConfig"]["rftConfig"]["grader"]
    request["customizationConfig"]["rftConfig"]["graderConfig"] = {"lambdaGrader": lambda_grader}
    problems = problems_of(request, RFT_CONTEXT)
    assert any(p.startswith("customizationConfig.rftConfig.graderConfig") for p in problems), (
        problems
    )


def test_rft_needs_a_model_that_supports_it() -> None:
    request = rft_request()
    request["baseModelIdentifier"] = "amazon.nova-lite-v1:0:300k"
    problems = problems_of(request, RFT_CONTEXT)
    assert any("does not support REINFORCEMENT_FINE_TUNING" in p for p in problems), problems


def test_the_guides_rlhf_fields_are_pointed_at_rft_config() -> None:
    request = rft_request()
    request["hyperParameters"] = {"rlAlgorithm": "DPO", "beta": "0.1"}
    problems = problems_of(request, RFT_CONTEXT)
    assert any(
        p.startswith("hyperParameters: reinforcement fine-tuning takes typed") for p in problems
    ), problems
