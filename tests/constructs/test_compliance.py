"""cfn-lint and cdk-nag (AwsSolutions) on every synthesized template.

The default stack and a variant with every optional piece switched on are both
synthesized; each must lint with no error and leave no unacknowledged cdk-nag
finding. Two negative tests prove the checks can fail.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint_file

from tests.conftest import Synthesized

LINT_REGIONS = ["us-east-1", "us-west-2", "eu-west-1"]


@pytest.fixture(scope="module")
def variant(synthesized_full: Synthesized) -> Synthesized:
    """The stack with every optional feature on, an account and Region pinned."""
    return synthesized_full


def lint_errors(template_path: Path) -> list[str]:
    matches = lint_file(template_path, config=ManualArgs(regions=LINT_REGIONS))
    return [f"{m.rule.id} {m.message} ({m.path})" for m in matches if m.rule.severity == "error"]


def templates_of(result: Synthesized) -> list[Path]:
    paths = sorted(result.outdir.glob("*.template.json"))
    assert paths, "no template was synthesized"
    return paths


@pytest.mark.parametrize("which", ["default", "variant"])
def test_cfn_lint_reports_no_error(
    which: str, synthesized: Synthesized, request: pytest.FixtureRequest
) -> None:
    result = synthesized if which == "default" else request.getfixturevalue("variant")
    for path in templates_of(result):
        assert lint_errors(path) == [], path.name


def test_cfn_lint_catches_a_broken_template(synthesized: Synthesized, tmp_path: Path) -> None:
    broken: dict[str, Any] = copy.deepcopy(synthesized.template)
    [bucket] = [k for k, v in broken["Resources"].items() if v["Type"] == "AWS::S3::Bucket"][:1]
    broken["Resources"][bucket]["Properties"]["VersioningConfiguration"] = {"Status": "Sometimes"}
    path = tmp_path / "broken.template.json"
    path.write_text(json.dumps(broken))
    assert lint_errors(path), "cfn-lint should reject an invalid enum value"


def violations(report: dict[str, Any] | None) -> list[str]:
    assert report is not None, "cdk-nag wrote no validation report"
    return [
        f"{v['ruleName']} at {[c['constructPath'] for c in v['violatingConstructs']]}"
        for plugin in report["pluginReports"]
        for v in plugin["violations"]
    ]


@pytest.mark.parametrize("which", ["default", "variant"])
def test_cdk_nag_reports_no_unacknowledged_finding(
    which: str, synthesized: Synthesized, request: pytest.FixtureRequest
) -> None:
    result = synthesized if which == "default" else request.getfixturevalue("variant")
    assert violations(result.validation_report) == []


def test_every_acknowledgment_names_a_rule_and_gives_a_real_reason(
    synthesized: Synthesized,
) -> None:
    report = synthesized.validation_report or {}
    suppressed = [
        v
        for plugin in report.get("pluginReports", [])
        for v in plugin.get("suppressedViolations", [])
    ]
    assert suppressed, "expected the stack's documented acknowledgments in the report"
    for violation in suppressed:
        assert violation["acknowledgedId"] == f"AwsSolutions::{violation['ruleName']}"
        assert len(violation["reason"].split()) >= 10, f"{violation['ruleName']}: reason too thin"
    # Wildcards are acknowledged one resource pattern at a time, never as a blanket rule.
    assert not [v for v in suppressed if v["ruleName"] == "AwsSolutions-IAM5"]


def test_cdk_nag_catches_an_unacknowledged_wildcard(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = Stack(app, "Careless")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["bedrock:*"], resources=["*"]))
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert any("AwsSolutions-IAM5" in v for v in violations(report))


def test_the_variant_grants_the_extra_buckets_and_subscribes_the_emails(
    variant: Synthesized,
) -> None:
    text = json.dumps(variant.template)
    for bucket in ("shared-datasets", "other-team-data"):
        assert f":s3:::{bucket}/*" in text
    subscriptions = variant.resources("AWS::SNS::Subscription")
    assert sorted(s["Properties"]["Endpoint"] for s in subscriptions.values()) == [
        "ml-platform@example.com",
        "oncall@example.com",
    ]
    envs = [
        f["Properties"]["Environment"]["Variables"]
        for f in variant.resources("AWS::Lambda::Function").values()
        if "DATA_BUCKET" in f["Properties"]["Environment"]["Variables"]
    ]
    assert len(envs) == 17
    assert all(e["EXTRA_DATA_BUCKETS"] == "shared-datasets,other-team-data" for e in envs)
