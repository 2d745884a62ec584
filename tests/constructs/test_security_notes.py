"""The README's security notes say what the template does: every ``*`` resource is listed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import Synthesized
from tests.policy_eval import Policies

README = Path(__file__).resolve().parents[2] / "README.md"
ACTION = re.compile(r"`([a-z0-9-]+:[A-Za-z0-9*]+)`")


def _documented_star_actions() -> set[str]:
    text = README.read_text("utf-8")
    section = text.split("### Every `*` resource, and the API that requires it", 1)[1]
    section = section.split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows, "the README's table of '*' resources is gone"
    return {action for row in rows for action in ACTION.findall(row.split("|")[1])}


def _star_actions(template: dict) -> set[str]:
    policies = Policies(template)
    found: set[str] = set()
    for role in policies.logical_ids("AWS::IAM::Role"):
        for statement in policies.identity_statements(role):
            resources = statement.get("Resource", [])
            if "*" in (resources if isinstance(resources, list) else [resources]):
                actions = statement["Action"]
                found.update(actions if isinstance(actions, list) else [actions])
    return found


@pytest.mark.parametrize("which", ["default", "full"])
def test_every_star_resource_is_in_the_readme_with_its_reason(
    which: str, synthesized: Synthesized, synthesized_full: Synthesized
) -> None:
    template = (synthesized if which == "default" else synthesized_full).template
    undocumented = _star_actions(template) - _documented_star_actions()
    assert not undocumented, f"'*' resources the README does not list: {sorted(undocumented)}"


def test_the_readme_lists_no_star_resource_the_templates_do_not_have(
    synthesized: Synthesized, synthesized_full: Synthesized
) -> None:
    used = _star_actions(synthesized.template) | _star_actions(synthesized_full.template)
    stale = _documented_star_actions() - used
    assert not stale, f"the README lists '*' resources no template has: {sorted(stale)}"
