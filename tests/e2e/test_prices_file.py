"""Cost ceilings decided, through the synthesized state machine run offline: a Llama 3.1
request with the sourced price in prices.json, and a Nova request with the stack's prices
file (context ``pricesFile``); without a price the refusal says what is missing and how to
give it. Nothing is submitted when a ceiling refuses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Synthesized, synthesize
from tests.e2e.conftest import _offline
from tests.e2e.fake_bedrock import FakeBedrock
from tests.e2e.harness import OfflineWorkflow
from tests.e2e.requests import error_message, request_for
from tests.factories import fine_tuning_request, jsonl

LLAMA = "meta.llama3-1-8b-instruct-v1:0:128k"
NOVA_LITE = "amazon.nova-lite-v1:0:300k"


@pytest.fixture(scope="module")
def synthesized_priced(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The default stack deployed with a prices file that prices Nova Lite's training."""
    path = tmp_path_factory.mktemp("prices") / "negotiated.json"
    path.write_text(
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
        "utf-8",
    )
    result = synthesize(tmp_path_factory.mktemp("cdk.out.priced"), {"pricesFile": str(path)})
    assert result.error is None, f"synthesis failed: {result.error}"
    return result


@pytest.fixture
def workflow_priced(
    synthesized_priced: Synthesized, bedrock: FakeBedrock
) -> Iterator[OfflineWorkflow]:
    yield from _offline(synthesized_priced.template, bedrock)


def llama_request(workflow: OfflineWorkflow, **overrides: Any) -> dict[str, Any]:
    """100 prompt-completion records of 100 estimated tokens, 2 epochs: 20,000 tokens, $0.0298
    at $0.00149 per 1,000."""
    records = [{"prompt": f"{i:03d}" + "a" * 287, "completion": "b" * 10} for i in range(100)]
    return fine_tuning_request(
        baseModelIdentifier=LLAMA,
        trainingDataConfig={"s3Uri": workflow.put_data("training/llama.jsonl", jsonl(records))},
        validationDataConfig=None,
        hyperParameters={"epochCount": 2},
        **overrides,
    )


def refused_before_submit(execution: Any, bedrock: FakeBedrock) -> str:
    assert execution.status == "FAILED", execution.cause
    assert execution.error == "TrainingCostExceeded", execution.cause
    assert "CreateModelCustomizationJob" not in bedrock.operations(), "nothing was paid for"
    return error_message(execution)


def test_a_llama_request_under_its_ceiling_is_submitted(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    execution = workflow.run(llama_request(workflow, maxTrainingCostUsd=0.03))
    assert execution.status == "SUCCEEDED", execution.cause
    estimate = execution.output["dataset"]["costEstimate"]
    assert estimate["training_usd"] == pytest.approx(0.0298)
    assert estimate["checked"] == "2026-07-24"
    assert "CreateModelCustomizationJob" in bedrock.operations()


def test_a_llama_request_over_its_ceiling_fails_before_submit(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    execution = workflow.run(llama_request(workflow, maxTrainingCostUsd=0.029))
    message = refused_before_submit(execution, bedrock)
    assert "estimated $0.0298 for 20,000 tokens" in message
    assert "exceeds the ceiling of $0.029" in message


def test_without_a_price_a_nova_ceiling_says_which_figure_and_how_to_give_it(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    message = refused_before_submit(
        workflow.run(request_for(workflow, maxTrainingCostUsd=5.0)), bedrock
    )
    assert f"the training price of {NOVA_LITE} (trainingUsdPer1kTokens" in message
    assert "cdk deploy -c pricesFile=FILE" in message


def test_the_stacks_prices_file_lets_a_nova_ceiling_decide(
    workflow_priced: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    within = workflow_priced.run(request_for(workflow_priced, maxTrainingCostUsd=5.0))
    assert within.status == "SUCCEEDED", within.cause
    estimate = within.output["dataset"]["costEstimate"]
    assert estimate["usd_per_1k_tokens"] == 0.002
    assert (estimate["source"], estimate["checked"]) == ("our agreement", "2026-10-01")
    assert 0 < estimate["training_usd"] <= 5.0

    over = workflow_priced.run(
        request_for(workflow_priced, maxTrainingCostUsd=estimate["training_usd"] / 2),
        name="over",
    )
    assert over.status == "FAILED" and over.error == "TrainingCostExceeded", over.cause
    assert "exceeds the ceiling" in error_message(over)
    assert bedrock.operations().count("CreateModelCustomizationJob") == 1, "only within's job"
