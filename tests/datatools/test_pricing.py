"""Prices with their source, and training cost arithmetic checked by hand."""

from __future__ import annotations

import json

import pytest

from lambda_handlers.common.catalogue import models
from lambda_handlers.datatools.pricing import (
    ModelPrices,
    PriceTable,
    estimate_training_cost,
    load_prices,
    prices_for,
)

COHERE = "cohere.command-text-v14:7:4k"
COHERE_ARN = f"arn:aws:bedrock:us-east-1::foundation-model/{COHERE}"
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"


def table_with(model_id: str, per_1k: float | None, storage: float | None = 1.5) -> PriceTable:
    return PriceTable(
        checked="2026-01-01",
        sources=("https://example.test/prices",),
        models={
            model_id: ModelPrices(
                model_id=model_id,
                training_usd_per_1k_tokens=per_1k,
                storage_usd_per_month=storage,
                provisioned_no_commitment_usd_per_mu_hour=None,
                provisioned_one_month_usd_per_mu_hour=None,
                provisioned_six_months_usd_per_mu_hour=None,
                source="https://example.test/prices",
                as_of="2026-01-01",
            )
        },
    )


def test_the_price_file_covers_exactly_the_catalogued_models() -> None:
    assert set(load_prices().models) == set(models())


def test_every_figure_has_a_source_and_a_date_and_every_gap_a_note() -> None:
    table = load_prices()
    assert table.checked and table.sources
    assert any("aws.amazon.com/bedrock/pricing" in s for s in table.sources)
    for entry in table.models.values():
        assert entry.source and entry.as_of, entry.model_id
        figures = [
            entry.training_usd_per_1k_tokens,
            entry.storage_usd_per_month,
            entry.provisioned_no_commitment_usd_per_mu_hour,
            entry.provisioned_one_month_usd_per_mu_hour,
            entry.provisioned_six_months_usd_per_mu_hour,
        ]
        if None in figures:
            assert entry.note, f"{entry.model_id} has an unknown figure and no note saying why"


def test_prices_are_found_by_model_id_and_by_foundation_model_arn() -> None:
    by_id = prices_for(COHERE)
    by_arn = prices_for(COHERE_ARN)
    assert by_id == by_arn
    assert by_id.model_id == COHERE
    assert by_id.training_usd_per_1k_tokens == 0.004
    assert by_id.storage_usd_per_month == 1.95


def test_an_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown model 'openai\.gpt-5'") as caught:
        estimate_training_cost("openai.gpt-5", 1000, 1)
    assert NOVA_MICRO in str(caught.value)
    assert COHERE in str(caught.value)


def test_cost_arithmetic_with_a_hand_made_table() -> None:
    # 123,456 tokens x 3 epochs = 370,368 tokens = 370.368 thousand; x $0.0015 = $0.555552.
    estimate = estimate_training_cost(NOVA_MICRO, 123_456, 3, prices=table_with(NOVA_MICRO, 0.0015))
    assert estimate.total_tokens == 370_368
    assert estimate.training_usd == 0.555552
    assert estimate.usd_per_1k_tokens == 0.0015
    assert estimate.storage_usd_per_month == 1.5
    assert estimate.checked == "2026-01-01"
    assert estimate.source == "https://example.test/prices"


def test_cost_arithmetic_with_the_shipped_prices_and_an_arn() -> None:
    # 250,000 tokens x 2 epochs = 500 thousand tokens; x $0.004 = $2.00.
    estimate = estimate_training_cost(COHERE_ARN, 250_000, 2)
    assert estimate.model_id == COHERE
    assert estimate.total_tokens == 500_000
    assert estimate.training_usd == 2.0
    assert estimate.storage_usd_per_month == 1.95


def test_decimal_arithmetic_has_no_float_noise() -> None:
    # In binary floating point 0.1 * 3 / 1000 is 0.00030000000000000003.
    estimate = estimate_training_cost(NOVA_MICRO, 1, 3, prices=table_with(NOVA_MICRO, 0.1))
    assert estimate.training_usd == 0.0003
    # And 0.004 * 70 / 1000 is 0.00028000000000000003.
    assert estimate_training_cost(COHERE, 70, 1).training_usd == 0.00028


def test_an_unknown_price_gives_no_dollar_figure_but_says_why() -> None:
    estimate = estimate_training_cost(NOVA_MICRO, 10_000, 2)
    assert estimate.usd_per_1k_tokens is None
    assert estimate.training_usd is None
    assert estimate.total_tokens == 20_000
    assert estimate.price_note


def test_a_catalogued_model_missing_from_the_table_is_unknown_not_an_error() -> None:
    estimate = estimate_training_cost(
        "amazon.nova-pro-v1:0:300k", 1000, 1, prices=table_with(NOVA_MICRO, 0.1)
    )
    assert estimate.training_usd is None
    assert "no entry" in estimate.price_note


def test_the_disclaimer_says_it_is_an_estimate_from_characters() -> None:
    text = estimate_training_cost(COHERE, 1000, 1).disclaimer.lower()
    assert "estimate" in text
    assert "characters" in text
    assert "bills the tokens it actually counts" in text


@pytest.mark.parametrize(
    ("tokens", "epochs", "message"),
    [
        (0, 1, "tokens_per_epoch must be a positive integer"),
        (-5, 1, "tokens_per_epoch must be a positive integer"),
        (1.5, 1, "tokens_per_epoch must be a positive integer"),
        (100, 0, "epochs must be a positive integer"),
        (100, True, "epochs must be a positive integer"),
    ],
)
def test_counts_must_be_positive_integers(tokens: object, epochs: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        estimate_training_cost(COHERE, tokens, epochs)  # type: ignore[arg-type]


def test_the_estimate_serialises_to_json() -> None:
    data = json.loads(json.dumps(estimate_training_cost(COHERE, 1000, 2).to_dict()))
    assert data["training_usd"] == 0.008
    assert set(data) >= {
        "model_id",
        "tokens_per_epoch",
        "epochs",
        "total_tokens",
        "usd_per_1k_tokens",
        "training_usd",
        "storage_usd_per_month",
        "source",
        "checked",
        "disclaimer",
    }
