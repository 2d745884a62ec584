"""What reinforcement fine-tuning and distillation add to the stack, and only when enabled."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_sns as sns

from constructs_lib import (
    BedrockServiceRole,
    CustomizationStorage,
    CustomizationWorkflow,
    GraderSpec,
)
from tests.conftest import Synthesized
from tests.e2e.harness import TemplateResolver


def service_role_statements(synthesized: Synthesized) -> list[dict[str, Any]]:
    [role_id] = [
        k
        for k, r in synthesized.resources("AWS::IAM::Role").items()
        if "bedrock.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])
    ]
    out = []
    for policy in synthesized.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            out += policy["Properties"]["PolicyDocument"]["Statement"]
    return out


def grader_functions(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        k: f
        for k, f in synthesized.resources("AWS::Lambda::Function").items()
        if ".graders." in f["Properties"]["Handler"]
    }


def test_each_built_in_grader_is_deployed_with_its_handler(synthesized_full: Synthesized) -> None:
    handlers = {f["Properties"]["Handler"] for f in grader_functions(synthesized_full).values()}
    assert handlers == {
        "lambda_handlers.graders.reference_match.handler",
        "lambda_handlers.graders.format_check.handler",
        "lambda_handlers.graders.preference.handler",
        "lambda_handlers.graders.judge.handler",
    }
    for function in grader_functions(synthesized_full).values():
        assert function["Properties"]["Timeout"] >= 60, (
            "a batch per call needs more than the 3 s default"
        )


def test_only_bedrock_jobs_of_this_account_may_invoke_a_grader(
    synthesized_full: Synthesized,
) -> None:
    graders = grader_functions(synthesized_full)
    permissions = synthesized_full.resources("AWS::Lambda::Permission")
    for logical_id in graders:
        [permission] = [
            p
            for p in permissions.values()
            if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [logical_id, "Arn"]}
        ]
        props = permission["Properties"]
        assert props["Principal"] == "bedrock.amazonaws.com"
        assert props["Action"] == "lambda:InvokeFunction"
        assert props["SourceAccount"] == "123456789012"
        assert props["SourceArn"] == {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":bedrock:us-east-1:123456789012:model-customization-job/*",
                ],
            ]
        }


def test_the_service_role_may_invoke_exactly_the_graders(synthesized_full: Synthesized) -> None:
    invoke = [
        s
        for s in service_role_statements(synthesized_full)
        if "lambda:InvokeFunction" in json.dumps(s["Action"])
    ]
    resources = [s["Resource"] for s in invoke]
    assert sorted(json.dumps(r) for r in resources) == sorted(
        json.dumps({"Fn::GetAtt": [k, "Arn"]}) for k in grader_functions(synthesized_full)
    )


def test_the_judge_may_invoke_its_model_only(synthesized_full: Synthesized) -> None:
    model_statements = [
        s
        for p in synthesized_full.resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "bedrock:InvokeModel" in json.dumps(s["Action"])
    ]
    judge = [
        s
        for s in model_statements
        if "amazon.nova-pro-v1:0" in json.dumps(s["Resource"])
        and "foundation-model" in json.dumps(s["Resource"])
    ]
    assert judge, model_statements


def test_validation_knows_the_graders_by_name(synthesized_full: Synthesized) -> None:
    [validate] = [
        f
        for f in synthesized_full.resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"].endswith("validate_request.handler")
    ]
    env = validate["Properties"]["Environment"]["Variables"]
    assert "REINFORCEMENT_FINE_TUNING" in env["ENABLED_CUSTOMIZATION_TYPES"]
    graders = json.loads(TemplateResolver(synthesized_full.template).resolve(env["GRADERS"]))
    assert sorted(graders) == ["format", "judge", "preference", "reference-match"]
    assert all(arn.startswith("arn:aws:lambda:") for arn in graders.values())


def test_without_graders_nothing_may_invoke_a_lambda(synthesized: Synthesized) -> None:
    assert grader_functions(synthesized) == {}
    assert not [
        s for s in service_role_statements(synthesized) if "lambda:" in json.dumps(s["Action"])
    ]
    assert not [
        p
        for p in synthesized.resources("AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "bedrock.amazonaws.com"
    ]
    [validate] = [
        f
        for f in synthesized.resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"].endswith("validate_request.handler")
    ]
    env = validate["Properties"]["Environment"]["Variables"]
    assert env["ENABLED_CUSTOMIZATION_TYPES"] == "FINE_TUNING,CONTINUED_PRE_TRAINING"
    assert "GRADERS" not in env


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (GraderSpec(), "give exactly one of builtin or function"),
        (GraderSpec(builtin="bleu"), "builtin 'bleu' is not one of"),
        (GraderSpec(builtin="judge"), "needs judge_model_id"),
        (GraderSpec(builtin="format", name="My Grader"), "must be lower-case"),
    ],
)
def test_grader_props_are_checked(spec: GraderSpec, message: str) -> None:
    stack = Stack(App())
    storage = CustomizationStorage(stack, "Storage")
    role = BedrockServiceRole(stack, "Role", storage=storage)
    with pytest.raises(Exception, match=message):
        CustomizationWorkflow(
            stack,
            "Workflow",
            storage=storage,
            service_role=role,
            topic=sns.Topic(stack, "T"),
            graders=[spec],
        )


def test_grader_names_are_unique() -> None:
    stack = Stack(App())
    storage = CustomizationStorage(stack, "Storage")
    role = BedrockServiceRole(stack, "Role", storage=storage)
    with pytest.raises(Exception, match="names must be unique"):
        CustomizationWorkflow(
            stack,
            "Workflow",
            storage=storage,
            service_role=role,
            topic=sns.Topic(stack, "T"),
            graders=[GraderSpec(builtin="format"), GraderSpec(builtin="format")],
        )
