"""The stack's prices file (context ``pricesFile``, ``SpendingLimits.prices_file``): read and
checked at synthesis, its training figures carried to the Validate function alone in one
environment variable that fits Lambda's 4 KB; a bad or too large file is refused then, naming
the prop, the file, the JSON path and what is allowed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from constructs_lib.steps.request import SpendingLimits
from lambda_handlers.datatools.price_file import (
    ENVIRONMENT_BUDGET,
    ENVIRONMENT_VARIABLE,
    parse_price_file,
    training_prices_document,
)
from tests.conftest import FULL_CONTEXT, Synthesized, synthesize

NOVA_LITE = "amazon.nova-lite-v1:0:300k"
NOVA_PRO = "amazon.nova-pro-v1:0:300k"
LAMBDA_ENVIRONMENT_LIMIT = 4096
"""Lambda: the total size of a function's environment variables (names and values), bytes."""
TOKEN_ALLOWANCE = 128
"""What a value resolved at deploy time may take, for the size check: a bucket name is at most
63 characters, and this stack's role, key, topic and function ARNs are under 128."""


def write(tmp_path: Path, document: Any, name: str = "prices.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document, "utf-8")
    return path


def nova_document(source: str = "our agreement") -> dict[str, Any]:
    return {
        "models": {
            NOVA_LITE: {
                "trainingUsdPer1kTokens": 0.002,
                "storageUsdPerMonth": 1.95,
                "source": source,
                "asOf": "2026-10-01",
            }
        }
    }


def functions_with(synthesized: Synthesized, name: str) -> list[str]:
    return sorted(
        f["Properties"]["Handler"]
        for f in synthesized.resources("AWS::Lambda::Function").values()
        if name in f["Properties"].get("Environment", {}).get("Variables", {})
    )


def validate_environment(synthesized: Synthesized) -> dict[str, Any]:
    [function] = [
        f
        for f in synthesized.resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "lambda_handlers.validate_request.handler"
    ]
    return dict(function["Properties"]["Environment"]["Variables"])


def near_the_budget() -> dict[str, Any]:
    """Two models whose training figures take within 20 bytes of the budget: the worst case
    allowed (sources are at most 1,000 characters, so one model cannot fill it)."""
    document = nova_document("a" * 600)
    document["models"][NOVA_PRO] = nova_document("b" * 600)["models"][NOVA_LITE]
    size = len(ENVIRONMENT_VARIABLE) + len(
        training_prices_document(parse_price_file(json.dumps(document), "f"))
    )
    document["models"][NOVA_PRO]["source"] += "c" * (ENVIRONMENT_BUDGET - size - 20)
    return document


@pytest.fixture(scope="module")
def priced(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The default stack with a cost ceiling and a prices file that nearly fills the budget."""
    folder = tmp_path_factory.mktemp("prices")
    result = synthesize(
        tmp_path_factory.mktemp("cdk.out.prices"),
        {"pricesFile": str(write(folder, near_the_budget())), "maxTrainingCostUsd": "5"},
    )
    assert result.error is None, f"synthesis failed: {result.error}"
    return result


@pytest.fixture(scope="module")
def priced_full(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Every option on (graders, promotion targets, invocation logs) and the same prices file."""
    folder = tmp_path_factory.mktemp("prices")
    result = synthesize(
        tmp_path_factory.mktemp("cdk.out.prices.full"),
        {**FULL_CONTEXT, "pricesFile": str(write(folder, near_the_budget()))},
    )
    assert result.error is None, f"synthesis failed: {result.error}"
    return result


def estimated_bytes(value: Any) -> int:
    """A variable's size once deployed: literals as they are, ``TOKEN_ALLOWANCE`` for each
    value CloudFormation resolves (``Ref``, ``Fn::GetAtt``), joins as the sum of their parts."""
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return sum(estimated_bytes(part) for part in parts) + len(separator) * (len(parts) - 1)
    return TOKEN_ALLOWANCE


def test_the_training_prices_reach_validate_alone(priced: Synthesized) -> None:
    assert functions_with(priced, ENVIRONMENT_VARIABLE) == [
        "lambda_handlers.validate_request.handler"
    ]
    carried = json.loads(validate_environment(priced)[ENVIRONMENT_VARIABLE])
    assert list(carried["models"]) == [NOVA_LITE, NOVA_PRO]
    entry = carried["models"][NOVA_LITE]
    assert entry["trainingUsdPer1kTokens"] == 0.002 and entry["asOf"] == "2026-10-01"
    assert "storageUsdPerMonth" not in entry, "Validate checks the training cost, nothing else"


def test_the_default_stack_carries_no_prices(synthesized: Synthesized) -> None:
    assert functions_with(synthesized, ENVIRONMENT_VARIABLE) == []


@pytest.mark.parametrize("stack", ["priced", "priced_full"])
def test_validates_environment_fits_lambdas_4_kb_with_the_largest_prices_allowed(
    stack: str, request: pytest.FixtureRequest
) -> None:
    synthesized: Synthesized = request.getfixturevalue(stack)
    environment = validate_environment(synthesized)
    carried = len(ENVIRONMENT_VARIABLE) + len(environment[ENVIRONMENT_VARIABLE])
    assert ENVIRONMENT_BUDGET - 20 <= carried <= ENVIRONMENT_BUDGET
    size = sum(len(name) + estimated_bytes(value) for name, value in environment.items())
    assert size <= LAMBDA_ENVIRONMENT_LIMIT, size


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {"models": {NOVA_LITE: {"trainingUsdPer1kTokens": -1}}},
            r"spending_limits\.prices_file \(context pricesFile\): prices file .*prices\.json: "
            r'at \$\.models\["amazon\.nova-lite-v1:0:300k"\]\.trainingUsdPer1kTokens: got -1; '
            r"allowed: a number of US dollars above 0",
        ),
        ("{oops", r"prices file .*: at line 1 column 2: not JSON"),
        ({"models": {"nova": {}}}, r'unknown model ID "nova"'),
        (
            nova_document(source="s" * 1000)
            | {
                "models": {
                    NOVA_LITE: nova_document("s" * 1000)["models"][NOVA_LITE],
                    "amazon.nova-pro-v1:0:300k": nova_document("t" * 1000)["models"][NOVA_LITE],
                }
            },
            r"take 2,\d{3} bytes .* the stack allows 1,536 of Lambda's 4 KB",
        ),
    ],
)
def test_a_bad_prices_file_is_refused_at_synthesis(
    tmp_path: Path, document: Any, expected: str
) -> None:
    from app import build_app

    with pytest.raises(ValueError, match=expected):
        build_app(str(tmp_path / "out"), context={"pricesFile": str(write(tmp_path, document))})


def test_a_missing_prices_file_is_refused_at_synthesis(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"cannot read .*absent\.json: no such file"):
        SpendingLimits(prices_file=str(tmp_path / "absent.json")).checked()


def test_the_prop_keeps_the_file_and_sets_the_variable(tmp_path: Path) -> None:
    limits = SpendingLimits(prices_file=str(write(tmp_path, nova_document()))).checked()
    assert limits.prices_file is not None
    assert (
        json.loads(limits.environment()[ENVIRONMENT_VARIABLE])["models"][NOVA_LITE]["source"]
        == "our agreement"
    )
    assert ENVIRONMENT_VARIABLE not in SpendingLimits().environment()
