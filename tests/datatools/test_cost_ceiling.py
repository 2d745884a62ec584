"""The training cost ceiling: allowed, refused, and never silently passed on an unknown price."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from lambda_handlers.datatools.cost_ceiling import (
    CostCheck,
    check_training_cost,
    default_epochs,
    epochs_for,
)
from lambda_handlers.datatools.pricing import ModelPrices, PriceTable

NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"
LLAMA_8B = "meta.llama3-1-8b-instruct-v1:0:128k"
COHERE = "cohere.command-text-v14:7:4k"


def table_with(per_1k: float | None) -> PriceTable:
    return PriceTable(
        checked="2026-01-01",
        sources=("https://example.test/prices",),
        models={
            NOVA_MICRO: ModelPrices(
                model_id=NOVA_MICRO,
                training_usd_per_1k_tokens=per_1k,
                storage_usd_per_month=None,
                provisioned_no_commitment_usd_per_mu_hour=None,
                provisioned_one_month_usd_per_mu_hour=None,
                provisioned_six_months_usd_per_mu_hour=None,
                source="https://example.test/prices",
                as_of="2026-01-01",
            )
        },
    )


def two_dollar_job(max_usd: Any) -> CostCheck:
    # 500,000 tokens x 2 epochs = 1,000,000 tokens = 1,000 thousand x $0.002 = $2.00.
    return check_training_cost(NOVA_MICRO, 500_000, 2, max_usd, prices=table_with(0.002))


def test_a_job_under_the_ceiling_is_allowed() -> None:
    check = two_dollar_job(5)
    assert check.allowed is True
    assert check.max_usd == 5.0
    assert check.estimate["training_usd"] == 2.0
    assert check.reason == (
        "estimated $2.00 for 1,000,000 tokens (500,000 x 2 epochs) is within the ceiling of $5.00"
    )


def test_a_job_over_the_ceiling_is_refused() -> None:
    check = two_dollar_job(1.5)
    assert check.allowed is False
    assert "exceeds the ceiling of $1.50" in check.reason
    assert "estimated $2.00" in check.reason


@pytest.mark.parametrize(
    ("ceiling", "allowed"),
    [(2.0, True), (2, True), (2.000001, True), (1.999999, False), (0, False)],
)
def test_the_boundary_a_cost_equal_to_the_ceiling_is_allowed(ceiling: float, allowed: bool) -> None:
    check = two_dollar_job(ceiling)
    assert check.allowed is allowed


def test_a_cost_equal_to_the_ceiling_has_no_binary_rounding_noise() -> None:
    # 3 tokens x $0.1 / 1,000 is 0.00030000000000000003 in binary floating point; the estimate
    # is $0.0003 exactly, so a ceiling of $0.0003 must allow it.
    check = check_training_cost(
        NOVA_MICRO, tokens_per_epoch=3, epochs=1, max_usd=0.0003, prices=table_with(0.1)
    )
    assert check.estimate["training_usd"] == 0.0003
    assert check.allowed is True


def test_an_unknown_price_with_a_ceiling_is_refused_and_says_why() -> None:
    check = check_training_cost(
        NOVA_MICRO, tokens_per_epoch=10_000, epochs=2, max_usd=100, prices=table_with(None)
    )
    assert check.allowed is False
    assert check.estimate["training_usd"] is None
    assert check.estimate["total_tokens"] == 20_000
    assert "ceiling of $100.00 cannot be enforced without a price" in check.reason
    assert NOVA_MICRO in check.reason


def test_an_unknown_shipped_price_with_a_ceiling_is_refused() -> None:
    # The shipped table has no training price for Nova Micro.
    check = check_training_cost(NOVA_MICRO, tokens_per_epoch=10_000, epochs=2, max_usd=1_000_000)
    assert check.allowed is False
    assert "cannot be enforced without a price" in check.reason


def test_without_a_ceiling_an_unknown_price_is_allowed_and_said_unknown() -> None:
    check = check_training_cost(
        NOVA_MICRO, tokens_per_epoch=10_000, epochs=2, max_usd=None, prices=table_with(None)
    )
    assert check.allowed is True
    assert check.max_usd is None
    assert check.reason == (
        "no ceiling set; estimated training cost of 20,000 tokens (10,000 x 2 epochs): "
        "unknown (no price)"
    )


def test_without_a_ceiling_a_known_price_is_allowed_with_its_figure() -> None:
    check = two_dollar_job(None)
    assert check.allowed is True
    assert check.reason.endswith("about $2.00")


def test_the_shipped_cohere_price_against_a_ceiling() -> None:
    # 250,000 tokens x 2 epochs = 500 thousand x $0.004 = $2.00: allowed at $2, refused at $1.99.
    assert check_training_cost(COHERE, 250_000, 2, 2.0).allowed is True
    refused = check_training_cost(COHERE, 250_000, 2, 1.99)
    assert refused.allowed is False
    assert refused.estimate["checked"] == "2025-02-28"


def test_the_check_serializes_to_json() -> None:
    check = two_dollar_job(1.5)
    data = json.loads(json.dumps(check.to_dict()))
    assert data["allowed"] is False
    assert data["max_usd"] == 1.5
    assert data["estimate"]["disclaimer"].startswith("Estimate only")


@pytest.mark.parametrize("ceiling", [-1, math.nan, math.inf, True, "5"])
def test_a_bad_ceiling_is_an_error(ceiling: object) -> None:
    with pytest.raises(ValueError, match="max_usd must be a number of 0 or more"):
        two_dollar_job(ceiling)


def test_bad_counts_and_unknown_models_are_errors() -> None:
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        check_training_cost(NOVA_MICRO, 1000, 0, 5)
    with pytest.raises(ValueError, match=r"unknown model 'openai\.gpt-5'"):
        check_training_cost("openai.gpt-5", 1000, 1, 5)


# --- epochs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hyperparameters", "default", "expected"),
    [
        ({"epochCount": "3"}, 2, 3),
        ({"epochCount": "10"}, None, 10),
        ({"learningRate": "0.00001"}, 2, 2),
        ({}, 5, 5),
        ({}, None, None),
    ],
)
def test_epochs_come_from_the_job_or_the_default(
    hyperparameters: dict[str, str], default: int | None, expected: int | None
) -> None:
    assert epochs_for(hyperparameters, default) == expected


@pytest.mark.parametrize("value", ["0", "-1", "2.5", "three", "", " 3", "³"])
def test_a_bad_epoch_count_is_an_error_not_the_default(value: str) -> None:
    with pytest.raises(ValueError, match="epochCount must be a whole number of 1 or more"):
        epochs_for({"epochCount": value}, 2)


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        (NOVA_MICRO, 2),
        (LLAMA_8B, 5),
        (COHERE, 1),
        (f"arn:aws:bedrock:us-west-2::foundation-model/{LLAMA_8B}", 5),
        (NOVA_2_LITE, None),  # hyperparameters not published
        ("openai.gpt-5", None),
    ],
)
def test_the_family_default_comes_from_the_catalogue(model_id: str, expected: int | None) -> None:
    assert default_epochs(model_id) == expected


def test_a_job_without_epoch_count_is_checked_with_the_family_default() -> None:
    # Nova's default is 2 epochs: 500,000 x 2 = 1,000 thousand tokens x $0.002 = $2.00.
    epochs = epochs_for({"learningRate": "0.00001"}, default_epochs(NOVA_MICRO))
    assert epochs == 2
    check = check_training_cost(NOVA_MICRO, 500_000, epochs, 1.0, prices=table_with(0.002))
    assert check.allowed is False
    assert check.estimate["epochs"] == 2
