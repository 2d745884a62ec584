"""What checking before paying and invoking base models through profiles grant, and the
evaluation's rounds as the state machine renders them."""

from __future__ import annotations

import json
from typing import Any

from lambda_handlers.evaluation.invocation import granted_profiles
from tests.conftest import Synthesized


def _role_statements(synthesized: Synthesized, role: str) -> list[dict[str, Any]]:
    return [
        statement
        for r in synthesized.template["Resources"].values()
        if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        and {"Ref": role} in r["Properties"].get("Roles", [])
        for statement in r["Properties"]["PolicyDocument"]["Statement"]
    ]


def _function_role(synthesized: Synthesized, handler: str) -> str:
    [function] = [
        f
        for f in synthesized.resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == f"lambda_handlers.{handler}"
    ]
    return str(function["Properties"]["Role"]["Fn::GetAtt"][0])


def _granting(statements: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [s for s in statements if action in json.dumps(s["Action"])]


def _definition(synthesized: Synthesized) -> dict[str, Any]:
    [machine] = synthesized.resources("AWS::StepFunctions::StateMachine").values()
    body = machine["Properties"]["DefinitionString"]
    text = "".join(p if isinstance(p, str) else "TOKEN" for p in body["Fn::Join"][1])
    return dict(json.loads(text))


def test_the_validator_may_list_the_data_prefixes_so_a_missing_object_is_not_a_403(
    synthesized: Synthesized,
) -> None:
    statements = _role_statements(
        synthesized, _function_role(synthesized, "validate_request.handler")
    )
    [listing] = _granting(statements, "s3:ListBucket")
    assert listing["Condition"] == {
        "StringLike": {"s3:prefix": ["training/*", "validation/*", "test/*"]}
    }
    assert "Fn::GetAtt" in json.dumps(listing["Resource"]), "the data bucket itself"


def test_the_validator_may_read_the_promotion_target_and_how_the_base_model_answers(
    synthesized: Synthesized, synthesized_full: Synthesized
) -> None:
    # A stack that allows promotion onto tagged endpoints (the full one) reads any of them;
    # the default stack allows none and reads none (tests/constructs/test_stack_limits.py).
    promoting = _role_statements(
        synthesized_full, _function_role(synthesized_full, "validate_request.handler")
    )
    reads = json.dumps(_granting(promoting, "bedrock:GetCustomModelDeployment"))
    assert "custom-model-deployment/*" in reads and "provisioned-model/*" in reads
    assert "custom-model/*" in json.dumps(_granting(promoting, 'bedrock:GetCustomModel"'))
    statements = _role_statements(
        synthesized, _function_role(synthesized, "validate_request.handler")
    )
    assert _granting(statements, "bedrock:GetCustomModelDeployment") == []
    [foundation] = _granting(statements, "bedrock:GetFoundationModel")
    assert all("foundation-model/" in json.dumps(r) for r in foundation["Resource"])
    [listing] = _granting(statements, "bedrock:ListInferenceProfiles")
    assert listing["Resource"] == "*", "the API takes no resource ARN"
    invoking = _granting(statements, "bedrock:InvokeModel")
    assert invoking == [], "Validate calls no model: it only asks how the model would answer"


def test_evaluation_may_invoke_each_profile_and_its_model_in_every_destination_region(
    synthesized: Synthesized,
) -> None:
    [batch_role] = [k for k in synthesized.resources("AWS::IAM::Role") if "BatchInferenceRole" in k]
    for role in (_function_role(synthesized, "evaluate_model.handler"), batch_role):
        text = json.dumps(_granting(_role_statements(synthesized, role), "bedrock:InvokeModel"))
        for profile_id, entry in granted_profiles().items():
            assert f":inference-profile/{profile_id}" in text, (role, profile_id)
            for region in entry["regions"]:
                assert f":bedrock:{region}::foundation-model/{entry['model']}" in text
        assert "foundation-model/amazon.nova-lite-v1:0" in text, "on-demand models by their id"


def test_prepare_may_resolve_the_base_model_and_start_jobs_on_a_profile(
    synthesized: Synthesized,
) -> None:
    role = _function_role(synthesized, "batch_evaluation.prepare_handler")
    statements = _role_statements(synthesized, role)
    assert _granting(statements, "bedrock:GetFoundationModel")
    assert _granting(statements, "bedrock:ListInferenceProfiles")
    jobs = json.dumps(_granting(statements, "bedrock:CreateModelInvocationJob"))
    assert ":inference-profile/us.meta.llama3-2-1b-instruct-v1:0" in jobs


def test_evaluate_the_model_runs_again_until_its_rounds_are_done(synthesized: Synthesized) -> None:
    states = _definition(synthesized)["States"]
    assert states["Evaluate the model"]["Next"] == "Evaluation done?"
    done = states["Evaluation done?"]
    assert done["Default"] == "Evaluate the model", "not done: another round"
    [(condition)] = done["Choices"]
    assert condition["Variable"] == "$.evaluation.done" and condition["BooleanEquals"] is True
    assert condition["Next"] == "Promote?"
    [catch] = states["Evaluate the model"]["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"], "a failed round goes to cleanup"
