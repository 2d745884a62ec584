"""cdk.json carries every feature flag the pinned aws-cdk-lib recommends, as `cdk init` would."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import aws_cdk

ROOT = Path(__file__).resolve().parents[2]
# Flags deliberately left at another value than recommended: flag -> reason (the README too).
LEFT_OFF: dict[str, str] = {}


def recommended_flags() -> dict[str, Any]:
    """The installed aws-cdk-lib's own list (what `cdk init` and `cdk flags` read)."""
    jsii = Path(aws_cdk.__file__).parent / "_jsii"
    [bundle] = jsii.glob("aws-cdk-lib@*.jsii.tgz")
    with tarfile.open(bundle) as archive:
        member = archive.extractfile("package/recommended-feature-flags.json")
        assert member is not None
        flags: dict[str, Any] = json.load(member)
    return flags


def test_cdk_json_sets_every_recommended_flag_to_its_recommended_value() -> None:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    recommended = recommended_flags()
    assert len(recommended) > 50
    missing = sorted(set(recommended) - set(context))
    assert not missing, f"not configured in cdk.json: {missing}"
    differing = {
        flag: context[flag]
        for flag, value in recommended.items()
        if context[flag] != value and flag not in LEFT_OFF
    }
    assert not differing, f"set otherwise than recommended, with no reason in LEFT_OFF: {differing}"


def test_the_app_synthesizes_with_cdk_json_context_when_tests_build_it() -> None:
    from app import build_app

    app = build_app()
    assert app.node.try_get_context("@aws-cdk/core:enablePartitionLiterals") is True
    assert app.node.try_get_context("@aws-cdk/aws-iam:minimizePolicies") is True
