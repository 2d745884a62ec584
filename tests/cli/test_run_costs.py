"""What exists, priced by the hour (``run_costs``): the commitment's price for throughput, the
month's storage spread over its hours, per-token billing adding nothing, and an unknown price
said to be unknown, never counted as zero."""

from __future__ import annotations

import pytest

from lambda_handlers.cli.run_costs import hourly_costs, total_text
from tests.cli.runs_helpers import JOB_ARN, MODEL_ARN, PT_ARN, llama_request, planned
from tests.factories import DEPLOYMENT_ARN, fine_tuning_request, plan_for

SERVING = {"arn": PT_ARN, "mode": "provisioned-throughput", "status": "InService", "ours": True}


def found(**parts: object) -> dict[str, object]:
    return {"job": None, "serving": None, "customModel": None, **parts}


@pytest.mark.parametrize(
    ("commitment", "price"), [(None, 24.0), ("OneMonth", 21.18), ("SixMonths", 13.08)]
)
def test_throughput_is_priced_at_its_commitment_per_model_unit(
    commitment: str | None, price: float
) -> None:
    serving = {"mode": "provisioned-throughput", "modelUnits": 2}
    if commitment:
        serving.update(commitmentDuration=commitment, confirmCommitment=True)
    plan = planned("run-1", llama_request(serving=serving))
    costs = hourly_costs(plan, found(serving=SERVING), None)
    assert costs["usdPerHour"] == pytest.approx(2 * price)
    assert costs["items"][0]["how"].startswith(
        f"2 model unit(s) x ${price:.2f} per model unit hour"
    )


def test_a_training_job_and_an_on_demand_deployment_add_nothing_by_the_hour() -> None:
    plan = plan_for(fine_tuning_request(serving={"mode": "on-demand-deployment"}))
    deployment = {
        "arn": DEPLOYMENT_ARN,
        "mode": "on-demand-deployment",
        "status": "Active",
        "ours": True,
    }
    costs = hourly_costs(
        plan, found(job={"arn": JOB_ARN, "status": "InProgress"}, serving=deployment), None
    )
    assert [item["usdPerHour"] for item in costs["items"]] == [0.0, 0.0]
    assert total_text(costs) == "nothing by the hour"


def test_an_unknown_price_is_said_to_be_unknown_not_zero() -> None:
    # Nova Lite: no source gives its throughput or storage price (bedrock-facts, prices.json).
    plan = plan_for(
        fine_tuning_request(serving={"mode": "provisioned-throughput", "modelUnits": 1})
    )
    costs = hourly_costs(
        plan, found(serving=SERVING, customModel={"arn": MODEL_ARN, "name": "m"}), None
    )
    assert [item["usdPerHour"] for item in costs["items"]] == [None, None]
    assert costs["unknown"] == ["provisioned throughput", "custom model"]
    assert total_text(costs) == (
        "at least $0.00 an hour (price unknown for: provisioned throughput, custom model)"
    )
    assert "give it with --prices FILE" in costs["items"][0]["how"]


def test_nothing_left_bills_nothing() -> None:
    assert total_text(hourly_costs(planned("run-1"), found(), None)) == "nothing exists that bills"
