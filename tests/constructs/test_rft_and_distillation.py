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
        if "model-customization-job" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])
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
        # A stack pinned to a Region names its partition (enablePartitionLiterals).
        assert (
            props["SourceArn"] == "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/*"
        )


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


def test_distillation_lets_bedrock_invoke_exactly_the_supported_teachers(
    synthesized_full: Synthesized,
) -> None:
    [teachers] = [
        s
        for s in service_role_statements(synthesized_full)
        if s.get("Sid") == "InvokeTeacherModels"
    ]
    assert teachers["Action"] == "bedrock:InvokeModel"
    text = json.dumps(teachers["Resource"])
    assert "foundation-model/amazon.nova-pro-v1:0" in text
    assert "inference-profile/us.amazon.nova-premier-v1:0" in text
    for region in ("us-east-1", "us-east-2", "us-west-2"):
        assert f":bedrock:{region}::foundation-model/amazon.nova-premier-v1:0" in text
    assert "anthropic" not in text
    assert "*" not in text


def test_distillation_from_logs_reads_only_the_log_prefix(synthesized_full: Synthesized) -> None:
    statements = {s.get("Sid"): s for s in service_role_statements(synthesized_full)}
    read = json.dumps(statements["ReadInvocationLogs0"]["Resource"])
    assert "bedrock-invocation-logs/logs/*" in read
    assert statements["ListInvocationLogs0"]["Condition"] == {
        "StringLike": {"s3:prefix": ["logs/*"]}
    }
    [validate] = [
        f
        for f in synthesized_full.resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"].endswith("validate_request.handler")
    ]
    env = validate["Properties"]["Environment"]["Variables"]
    assert env["INVOCATION_LOGS_URIS"] == "s3://bedrock-invocation-logs/logs/"
    assert "DISTILLATION" in env["ENABLED_CUSTOMIZATION_TYPES"]


def test_without_distillation_no_model_may_be_invoked(synthesized: Synthesized) -> None:
    statements = service_role_statements(synthesized)
    assert not [s for s in statements if "bedrock:" in json.dumps(s["Action"])]
    assert not [s for s in statements if "Invocation" in s.get("Sid", "")]


def test_invocation_logs_need_distillation() -> None:
    from aws_cdk import aws_s3 as s3

    stack = Stack(App())
    storage = CustomizationStorage(stack, "Storage")
    role = BedrockServiceRole(stack, "Role", storage=storage)
    with pytest.raises(Exception, match="set distillation=True too"):
        CustomizationWorkflow(
            stack,
            "Workflow",
            storage=storage,
            service_role=role,
            topic=sns.Topic(stack, "T"),
            invocation_logs_bucket=s3.Bucket(stack, "Logs"),
        )


def test_a_judge_behind_an_inference_profile_may_call_the_profile_and_its_model() -> None:
    from aws_cdk.assertions import Template

    stack = Stack(App(), "JudgeStack")
    storage = CustomizationStorage(stack, "Storage")
    role = BedrockServiceRole(stack, "Role", storage=storage)
    CustomizationWorkflow(
        stack,
        "Workflow",
        storage=storage,
        service_role=role,
        topic=sns.Topic(stack, "T"),
        graders=[GraderSpec(builtin="judge", judge_model_id="us.amazon.nova-pro-v1:0")],
    )
    statements = [
        s
        for p in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "bedrock:InvokeModel"
    ]
    # The evaluation may invoke base models through profiles too; the judge's names any Region.
    [judge] = [
        s for s in statements if ":bedrock:*::foundation-model/" in json.dumps(s["Resource"])
    ]
    text = json.dumps(judge["Resource"])
    assert ":inference-profile/us.amazon.nova-pro-v1:0" in text
    assert ":bedrock:*::foundation-model/amazon.nova-pro-v1:0" in text
