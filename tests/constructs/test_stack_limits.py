"""What executions may do, in the template: promotion targets and spending limits.

The default stack allows no promotion: no role may update any deployment or throughput.
With listed ARNs the promote roles may update and read exactly those; with a tag, updates of
the account's endpoints carry an ``aws:ResourceTag`` condition on it and the functions that
check the target may read tags. The limits reach Validate alone (the abort cleanup must not
be bound by them), and props that cannot be enforced are refused when the app is synthesized.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack, Token
from cfnlint.api import ManualArgs, lint_file

from constructs_lib.steps.promotion import PromotionTargets
from constructs_lib.steps.request import SpendingLimits
from tests.conftest import PROMOTION_TAG, PROMOTION_TARGET_ARNS, Synthesized, synthesize

ACCOUNT, REGION = "123456789012", "us-east-1"
UPDATES = {"bedrock:UpdateCustomModelDeployment", "bedrock:UpdateProvisionedModelThroughput"}
ENDPOINT_TYPES = (":custom-model-deployment/", ":provisioned-model/")
POLICY_ENV = {
    "PROMOTION_TARGET_ARNS",
    "PROMOTION_TARGET_TAG_KEY",
    "PROMOTION_TARGET_TAG_VALUE",
    "MAX_MODEL_UNITS",
    "ALLOW_COMMITMENTS",
    "MAX_TRAINING_COST_USD",
}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_of(synthesized: Synthesized, handler: str) -> str:
    """The logical ID of the role of the function whose handler is ``handler``."""
    [function] = [
        f
        for f in synthesized.resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == f"lambda_handlers.{handler}"
    ]
    return str(function["Properties"]["Role"]["Fn::GetAtt"][0])


def environment_of(synthesized: Synthesized, handler: str) -> dict[str, Any]:
    [function] = [
        f
        for f in synthesized.resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == f"lambda_handlers.{handler}"
    ]
    return dict(function["Properties"].get("Environment", {}).get("Variables", {}))


def statements(synthesized: Synthesized, handler: str | None = None) -> list[dict[str, Any]]:
    """Every policy statement (of the role of ``handler``'s function, when given)."""
    role = role_of(synthesized, handler) if handler else None
    out = []
    for policy in synthesized.resources("AWS::IAM::Policy").values():
        roles = [r.get("Ref") for r in policy["Properties"].get("Roles", [])]
        if role is None or role in roles:
            out += policy["Properties"]["PolicyDocument"]["Statement"]
    for logical_id, resource in synthesized.resources("AWS::IAM::Role").items():
        if role is None or role == logical_id:
            for inline in resource["Properties"].get("Policies", []):
                out += inline["PolicyDocument"]["Statement"]
    return out


def granting(stmts: list[dict[str, Any]], actions: set[str]) -> list[dict[str, Any]]:
    return [s for s in stmts if set(as_list(s["Action"])) & actions and s["Effect"] == "Allow"]


def endpoint_resources(statement: dict[str, Any]) -> list[str]:
    resources = [
        json.dumps(r) if not isinstance(r, str) else r for r in as_list(statement["Resource"])
    ]
    return [r for r in resources if any(t in r for t in ENDPOINT_TYPES)]


def lint_errors(result: Synthesized) -> list[str]:
    errors = []
    for path in sorted(Path(result.outdir).glob("*.template.json")):
        matches = lint_file(path, config=ManualArgs(regions=[REGION]))
        errors += [f"{m.rule.id} {m.message}" for m in matches if m.rule.severity == "error"]
    return errors


def nag_violations(result: Synthesized) -> list[str]:
    assert result.validation_report is not None
    return [
        v["ruleName"] for p in result.validation_report["pluginReports"] for v in p["violations"]
    ]


PINNED = {"account": ACCOUNT, "region": REGION}


@pytest.fixture(scope="module")
def listed(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Promotion onto two listed endpoints only."""
    context = {**PINNED, "promotionTargetArns": ",".join(PROMOTION_TARGET_ARNS)}
    result = synthesize(tmp_path_factory.mktemp("cdk.out.listed"), context)
    assert result.error is None, result.error
    return result


@pytest.fixture(scope="module")
def tagged(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Promotion onto endpoints tagged so, with higher limits and a ceiling (not pinned)."""
    context = {
        "promotionTargetTagKey": PROMOTION_TAG[0],
        "promotionTargetTagValue": PROMOTION_TAG[1],
        "maxModelUnits": "3",
        "allowCommitments": "true",
        "maxTrainingCostUsd": "250.5",
    }
    result = synthesize(tmp_path_factory.mktemp("cdk.out.tagged"), context)
    assert result.error is None, result.error
    return result


# -- the default stack -------------------------------------------------------------------------


def test_the_default_stack_lets_no_role_update_an_endpoint(synthesized: Synthesized) -> None:
    assert granting(statements(synthesized), UPDATES) == []
    assert not any(
        str(a).startswith("bedrock:Update")
        for s in statements(synthesized)
        for a in as_list(s["Action"])
    )


def test_the_default_stack_promote_roles_touch_no_endpoint(synthesized: Synthesized) -> None:
    for handler in ("promote.start_handler", "promote.check_handler"):
        bedrock = [
            a
            for s in statements(synthesized, handler)
            for a in as_list(s["Action"])
            if str(a).startswith("bedrock:")
        ]
        assert bedrock == [], handler
    validator = statements(synthesized, "validate_request.handler")
    assert (
        granting(validator, {"bedrock:GetCustomModelDeployment", "bedrock:ListTagsForResource"})
        == []
    )


def test_the_default_limits_reach_validate_and_promote_only(synthesized: Synthesized) -> None:
    env = environment_of(synthesized, "validate_request.handler")
    assert {k: env[k] for k in POLICY_ENV} == {
        "PROMOTION_TARGET_ARNS": "",
        "PROMOTION_TARGET_TAG_KEY": "",
        "PROMOTION_TARGET_TAG_VALUE": "",
        "MAX_MODEL_UNITS": "1",
        "ALLOW_COMMITMENTS": "false",
        "MAX_TRAINING_COST_USD": "",
    }
    # The abort cleanup rebuilds plans from requests: a limit must never make it skip one.
    assert not POLICY_ENV & set(environment_of(synthesized, "cleanup.abort_handler"))
    assert not POLICY_ENV & set(environment_of(synthesized, "cleanup.handler"))


# -- listed endpoints ---------------------------------------------------------------------------


def test_listed_endpoints_are_exactly_what_the_promote_roles_may_touch(listed: Synthesized) -> None:
    updates = granting(statements(listed, "promote.start_handler"), UPDATES)
    on_endpoints = [s for s in updates if endpoint_resources(s)]
    assert [sorted(endpoint_resources(s)) for s in on_endpoints] == [sorted(PROMOTION_TARGET_ARNS)]
    assert all("Condition" not in s for s in on_endpoints)
    # The rest names the model swapped in (custom-model is a required resource of both).
    others = [r for s in updates if not endpoint_resources(s) for r in as_list(s["Resource"])]
    assert others == [f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/*"]
    reads = {"bedrock:GetCustomModelDeployment", "bedrock:GetProvisionedModelThroughput"}
    for handler in ("promote.start_handler", "promote.check_handler", "validate_request.handler"):
        resources = [
            r for s in granting(statements(listed, handler), reads) for r in endpoint_resources(s)
        ]
        assert sorted(resources) == sorted(PROMOTION_TARGET_ARNS), handler
    for handler in ("promote.start_handler", "validate_request.handler"):
        assert granting(statements(listed, handler), {"bedrock:ListTagsForResource"}) == []
    env = environment_of(listed, "validate_request.handler")
    assert env["PROMOTION_TARGET_ARNS"] == ",".join(PROMOTION_TARGET_ARNS)
    assert (
        environment_of(listed, "promote.start_handler")["PROMOTION_TARGET_ARNS"]
        == env["PROMOTION_TARGET_ARNS"]
    )


def test_the_listed_stack_passes_cfn_lint_and_cdk_nag(listed: Synthesized) -> None:
    assert lint_errors(listed) == []
    assert nag_violations(listed) == []


# -- tagged endpoints ---------------------------------------------------------------------------


def test_tagged_endpoints_are_updated_only_under_the_tag_condition(tagged: Synthesized) -> None:
    key, value = PROMOTION_TAG
    everyone = granting(statements(tagged), UPDATES)
    on_endpoints = [s for s in everyone if endpoint_resources(s)]
    assert on_endpoints, "the promote role may update tagged endpoints"
    for statement in on_endpoints:
        assert statement["Condition"] == {"StringEquals": {f"aws:ResourceTag/{key}": value}}
        assert set(as_list(statement["Action"])) <= UPDATES, "the condition covers every update"
    promote = statements(tagged, "promote.start_handler")
    assert all(s in promote for s in everyone), "only Promote may update"
    for handler in ("promote.start_handler", "validate_request.handler"):
        tags = granting(statements(tagged, handler), {"bedrock:ListTagsForResource"})
        assert tags and all(endpoint_resources(s) for s in tags), handler


def test_the_limits_reach_validate_as_set(tagged: Synthesized) -> None:
    env = environment_of(tagged, "validate_request.handler")
    assert env["PROMOTION_TARGET_TAG_KEY"] == PROMOTION_TAG[0]
    assert env["PROMOTION_TARGET_TAG_VALUE"] == PROMOTION_TAG[1]
    assert (env["MAX_MODEL_UNITS"], env["ALLOW_COMMITMENTS"]) == ("3", "true")
    assert env["MAX_TRAINING_COST_USD"] == "250.5"


def test_the_tagged_stack_passes_cfn_lint_and_cdk_nag(tagged: Synthesized) -> None:
    assert lint_errors(tagged) == []
    assert nag_violations(tagged) == []


# -- props the stack cannot enforce are refused -------------------------------------------------


def pinned_stack() -> Stack:
    from aws_cdk import Environment

    return Stack(App(), "S", env=Environment(account=ACCOUNT, region=REGION))


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model-deployment/*", "no wildcard"),
        (f"arn:aws:bedrock:{REGION}:{ACCOUNT}:provisioned-model/abc*", "no wildcard"),
        (Token.as_string({"Ref": "Target"}), "no token"),
        (f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/abcdef123456", "is not the ARN of"),
        ("production", "is not the ARN of"),
        (f"arn:aws:bedrock:{REGION}:111122223333:custom-model-deployment/abcdef123456", "account"),
        (f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:provisioned-model/abcdef123456", "region"),
    ],
    ids=["wildcard", "partial-wildcard", "token", "custom-model", "name", "account", "region"],
)
def test_a_target_that_is_not_one_literal_endpoint_arn_is_refused(arn: str, expected: str) -> None:
    with pytest.raises(ValueError, match=r"promotion_targets\.arns") as raised:
        PromotionTargets(arns=[arn]).checked(pinned_stack())
    assert expected in str(raised.value)


@pytest.mark.parametrize(
    "tag",
    [
        ("", "x"),
        ("aws:owner", "x"),
        ("bedrock-customize:stack", "x"),
        ("bad*key", "x"),
        ("k", "v" * 257),
    ],
)
def test_a_tag_that_cannot_be_a_tag_is_refused(tag: tuple[str, str]) -> None:
    with pytest.raises(ValueError, match=r"promotion_targets\.tag"):
        PromotionTargets(tag=tag).checked(pinned_stack())


def test_valid_targets_are_kept() -> None:
    targets = PromotionTargets(PROMOTION_TARGET_ARNS * 2, PROMOTION_TAG).checked(pinned_stack())
    assert targets.arns == PROMOTION_TARGET_ARNS and targets.tag == PROMOTION_TAG
    assert not PromotionTargets().checked(pinned_stack()).enabled


@pytest.mark.parametrize(
    ("units", "commitments", "ceiling", "prop"),
    [
        (0, False, None, "max_model_units"),
        (101, False, None, "max_model_units"),
        (True, False, None, "max_model_units"),
        (1, "yes", None, "allow_commitments"),
        (1, False, 0, "max_training_cost_usd"),
        (1, False, float("inf"), "max_training_cost_usd"),
        (1, False, -5.0, "max_training_cost_usd"),
    ],
)
def test_limits_that_cannot_be_enforced_are_refused(
    units: Any, commitments: Any, ceiling: Any, prop: str
) -> None:
    with pytest.raises(ValueError, match=prop):
        SpendingLimits(units, commitments, ceiling).checked()


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"maxModelUnits": "two"}, "context maxModelUnits"),
        ({"maxModelUnits": "1.5"}, "whole number"),
        ({"maxTrainingCostUsd": "lots"}, "context maxTrainingCostUsd"),
        ({"promotionTargetTagValue": "x"}, "needs promotionTargetTagKey"),
    ],
)
def test_context_values_that_are_not_what_they_say_are_refused(
    context: dict[str, str], expected: str, tmp_path: Path
) -> None:
    from app import build_app

    with pytest.raises(ValueError, match=expected):
        build_app(str(tmp_path), context=context)
