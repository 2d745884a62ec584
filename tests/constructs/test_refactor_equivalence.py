"""The workflow in parts (issue #9) synthesizes what the single construct did.

The baseline (``baseline/<variant>.json``) was recorded from the templates synthesized just
before the refactor: the state machine definition, every policy (identity and resource
policies, trust policies, the key policy, Lambda permissions) and the logical ID and type
of every resource, so that an update replaces nothing. Statement order inside a policy is
not compared; everything else is, value by value.

Differences made on purpose are in ``DELIBERATE``: each is a named rewrite of the baseline
that must account for every difference it excuses. When a later change to the definition or a policy is intended, this test and its
baseline may go: it guards the refactor, it is not a snapshot of the product.

Record again (only from a checkout of the commit before the refactor):
``python -m tests.constructs.test_refactor_equivalence DIR`` where DIR holds
``default/`` and ``full/`` cloud assemblies.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Synthesized

BASELINE = Path(__file__).parent / "baseline"
POLICY_TYPES = {
    "AWS::IAM::Policy": ("PolicyDocument", "Roles"),
    "AWS::IAM::Role": ("AssumeRolePolicyDocument", "Policies", "ManagedPolicyArns"),
    "AWS::KMS::Key": ("KeyPolicy",),
    "AWS::S3::BucketPolicy": ("PolicyDocument", "Bucket"),
    "AWS::SNS::TopicPolicy": ("PolicyDocument", "Topics"),
    "AWS::SQS::QueuePolicy": ("PolicyDocument", "Queues"),
    "AWS::Lambda::Permission": (
        "Action",
        "FunctionName",
        "Principal",
        "SourceAccount",
        "SourceArn",
    ),
}


def _canonical(value: Any) -> Any:
    """Statements in a stable order; asset hashes (the code changes) left out."""
    if isinstance(value, dict):
        out = {k: _canonical(v) for k, v in value.items()}
        if isinstance(out.get("Statement"), list):
            out["Statement"] = sorted(out["Statement"], key=lambda s: json.dumps(s, sort_keys=True))
        return out
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}\.zip", value):
        return "<asset>"
    return value


def _definition(resource: dict[str, Any]) -> dict[str, Any]:
    """The definition with each token written as a readable placeholder."""
    body = resource["Properties"]["DefinitionString"]
    if isinstance(body, str):
        return json.loads(body)
    # A token sits inside a JSON string: its placeholder must not contain double quotes.
    text = "".join(
        part
        if isinstance(part, str)
        else "${" + json.dumps(part, sort_keys=True).replace('"', "'") + "}"
        for part in body["Fn::Join"][1]
    )
    return json.loads(text)


def extract(template: dict[str, Any]) -> dict[str, Any]:
    """What the refactor must keep: resources, the definition, every policy."""
    resources = template["Resources"]
    policies = {
        logical_id: {
            prop: _canonical(resource["Properties"].get(prop))
            for prop in POLICY_TYPES[resource["Type"]]
        }
        for logical_id, resource in resources.items()
        if resource["Type"] in POLICY_TYPES
    }
    [definition] = [
        _definition(r)
        for r in resources.values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    return {
        "resources": {k: r["Type"] for k, r in sorted(resources.items())},
        "definition": definition,
        "policies": dict(sorted(policies.items())),
    }


def _literal_partition(value: Any) -> Any:
    """``arn:${AWS::Partition}:...`` written as ``arn:aws:...``."""
    if isinstance(value, list):
        return [_literal_partition(v) for v in value]
    if not isinstance(value, dict):
        if isinstance(value, str):
            return value.replace("arn:${{'Ref': 'AWS::Partition'}}:", "arn:aws:")
        return value
    join = value.get("Fn::Join")
    if set(value) == {"Fn::Join"} and join[0] == "":
        parts = [_literal_partition(p) for p in join[1]]
        if parts[:2] == ["arn:", {"Ref": "AWS::Partition"}]:
            parts = ["arn:aws", *parts[2:]]
        merged: list[Any] = []
        for part in parts:
            if merged and isinstance(part, str) and isinstance(merged[-1], str):
                merged[-1] += part
            else:
                merged.append(part)
        return merged[0] if len(merged) == 1 else {"Fn::Join": ["", merged]}
    return {k: _literal_partition(v) for k, v in value.items()}


# Differences made on purpose, by variant: (what and why, the rewrite of the baseline).
DELIBERATE: dict[str, list[tuple[str, Callable[[Any], Any]]]] = {
    "default": [],
    "full": [
        (
            "cdk.json sets the recommended feature flags; of them only "
            "@aws-cdk/core:enablePartitionLiterals changes a policy: a stack pinned to a Region "
            "names its partition (arn:aws:) instead of ${AWS::Partition}",
            _literal_partition,
        )
    ],
}


def _differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    found = []
    for section in ("resources", "policies"):
        for key in sorted(set(before[section]) | set(after[section])):
            if before[section].get(key) != after[section].get(key):
                found.append(f"{section}/{key}")
    states_before, states_after = before["definition"]["States"], after["definition"]["States"]
    for name in sorted(set(states_before) | set(states_after)):
        if states_before.get(name) != states_after.get(name):
            found.append(f"state/{name}")
    rest = ({k: v for k, v in d["definition"].items() if k != "States"} for d in (before, after))
    if next(rest) != next(rest):
        found.append("definition/top")
    return found


@pytest.mark.parametrize("variant", ["default", "full"])
def test_the_definition_and_every_policy_are_as_before_the_refactor(
    variant: str, synthesized: Synthesized, synthesized_full: Synthesized
) -> None:
    template = (synthesized if variant == "default" else synthesized_full).template
    before = json.loads((BASELINE / f"{variant}.json").read_text())
    for _why, rewrite in DELIBERATE[variant]:
        before = rewrite(before)
    unexplained = _differences(before, extract(template))
    assert not unexplained, f"{variant}: changed without a reason in DELIBERATE: {unexplained}"


def test_the_comparison_sees_a_changed_statement_and_a_changed_retry(
    synthesized_full: Synthesized,
) -> None:
    before = extract(synthesized_full.template)
    after = json.loads(json.dumps(before))
    policy = next(p for p in after["policies"].values() if "PolicyDocument" in p)
    policy["PolicyDocument"]["Statement"][0]["Action"] = "s3:*"
    after["definition"]["States"]["Submit customization job"]["Retry"][-1]["MaxAttempts"] = 35
    assert len(_differences(before, after)) == 2


def record(assemblies: Path) -> None:
    for variant in ("default", "full"):
        template = json.loads(
            (assemblies / variant / "BedrockCustomization.template.json").read_text()
        )
        text = json.dumps(extract(template), indent=1, sort_keys=True)
        (BASELINE / f"{variant}.json").write_text(text + "\n")


if __name__ == "__main__":
    record(Path(sys.argv[1]))
