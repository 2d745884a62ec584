"""Validate decides a cost ceiling with the shipped prices (Llama 3.1 now has one) and with the
stack's prices file (``TRAINING_PRICES``), and refuses, naming the missing figure and how to
give it, where no price is known."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto import mock_aws

from lambda_handlers import validate_request
from lambda_handlers.common.errors import TrainingCostExceeded
from lambda_handlers.datatools.price_file import (
    ENVIRONMENT_VARIABLE,
    parse_price_file,
    training_prices_document,
)
from tests.factories import EXECUTION_ARN, conversation_records, fine_tuning_request, jsonl
from tests.handlers.test_handlers import buckets_with

LLAMA = "meta.llama3-1-8b-instruct-v1:0:128k"
NOVA_LITE = "amazon.nova-lite-v1:0:300k"


def llama_records() -> bytes:
    """100 distinct records (Llama's least) of 100 estimated tokens each (300 bytes / 3)."""
    return jsonl([{"prompt": f"{i:03d}" + "a" * 287, "completion": "b" * 10} for i in range(100)])


def llama_request(**overrides: Any) -> dict[str, Any]:
    request = fine_tuning_request(
        baseModelIdentifier=LLAMA, hyperParameters={"epochCount": 2}, **overrides
    )
    request.pop("validationDataConfig")
    return request


def run(request: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
    event = {"request": request, "execution": {"id": EXECUTION_ARN}}
    result: dict[str, Any] = validate_request.handler(event, lambda_context)
    return result


@mock_aws
def test_a_llama_request_under_its_ceiling_passes_with_the_sourced_price(lambda_context) -> None:
    buckets_with(llama_records())
    estimate = run(llama_request(maxTrainingCostUsd=0.03), lambda_context)["dataset"][
        "costEstimate"
    ]
    # 100 records x 100 tokens x 2 epochs = 20,000 tokens; x $0.00149 per 1,000 = $0.0298.
    assert estimate["total_tokens"] == 20_000
    assert estimate["training_usd"] == pytest.approx(0.0298)
    assert estimate["usd_per_1k_tokens"] == 0.00149
    assert estimate["checked"] == "2026-07-24"
    assert "aws-bedrock-pricing-data" in estimate["source"]


@mock_aws
def test_a_llama_request_over_its_ceiling_fails_with_training_cost_exceeded(
    lambda_context,
) -> None:
    buckets_with(llama_records())
    # $0.0298 and $0.029 both round to $0.03: the message shows every digit instead.
    with pytest.raises(
        TrainingCostExceeded,
        match=r"estimated \$0\.0298 for 20,000 tokens .* exceeds the ceiling of \$0\.029",
    ):
        run(llama_request(maxTrainingCostUsd=0.029), lambda_context)


@mock_aws
def test_without_a_price_the_refusal_names_the_figure_and_the_stacks_prices_file(
    lambda_context,
) -> None:
    buckets_with(jsonl(conversation_records(10)), jsonl(conversation_records(2, 50)))
    with pytest.raises(TrainingCostExceeded) as refused:
        run(fine_tuning_request(maxTrainingCostUsd=100.0), lambda_context)
    message = str(refused.value)
    assert "cannot be enforced without a price" in message
    assert f"training price of {NOVA_LITE} (trainingUsdPer1kTokens" in message
    assert "-c pricesFile=FILE" in message
    assert "--prices" not in message, "a workflow's user cannot pass a command-line option"


@mock_aws
@pytest.mark.parametrize(("ceiling", "allowed"), [(1.0, True), (0.0001, False)])
def test_the_stacks_prices_file_prices_a_nova_model(
    lambda_context, monkeypatch: pytest.MonkeyPatch, ceiling: float, allowed: bool
) -> None:
    given = parse_price_file(
        json.dumps(
            {
                "models": {
                    NOVA_LITE: {
                        "trainingUsdPer1kTokens": 0.002,
                        "source": "our agreement",
                        "asOf": "2026-10-01",
                    }
                }
            }
        ),
        "negotiated.json",
    )
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, training_prices_document(given))
    buckets_with(jsonl(conversation_records(10)), jsonl(conversation_records(2, 50)))
    request = fine_tuning_request(maxTrainingCostUsd=ceiling)
    if not allowed:
        with pytest.raises(TrainingCostExceeded, match=r"exceeds the ceiling of \$0\.0001"):
            run(request, lambda_context)
        return
    estimate = run(request, lambda_context)["dataset"]["costEstimate"]
    assert estimate["usd_per_1k_tokens"] == 0.002
    assert estimate["source"] == "our agreement" and estimate["checked"] == "2026-10-01"
    assert estimate["training_usd"] == pytest.approx(estimate["total_tokens"] / 1000 * 0.002)
    assert estimate["training_usd"] <= ceiling
