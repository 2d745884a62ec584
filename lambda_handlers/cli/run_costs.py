"""What an execution's resources cost by the hour while they exist, from the price file.

Only serving with provisioned throughput (model units x the hourly price of its commitment)
and the custom model's storage (its monthly price spread over the hours of a month, as
``compare-costs`` does) bill by the hour. A training job bills the tokens it processes and
an on-demand deployment the tokens it answers: they are listed, with how they bill, but
add nothing to the hourly total. A price no source gives is said to be unknown, with how to
give it, never counted as zero.
"""

from __future__ import annotations

from typing import Any

from lambda_handlers.common.plan import Plan
from lambda_handlers.datatools.compare_costs import DAYS_PER_MONTH, HOURS_PER_DAY
from lambda_handlers.datatools.pricing import ModelPrices, PriceTable, prices_for, usd_text

HOURS_PER_MONTH = DAYS_PER_MONTH * HOURS_PER_DAY
HOW_TO_PRICE = "unknown: no source gives it; give it with --prices FILE"

_COMMITMENT_PRICE = {
    None: "provisioned_no_commitment_usd_per_mu_hour",
    "OneMonth": "provisioned_one_month_usd_per_mu_hour",
    "SixMonths": "provisioned_six_months_usd_per_mu_hour",
}


def _prices(plan: Plan, table: PriceTable | None) -> ModelPrices | None:
    try:
        return prices_for(plan.baseModelIdentifier, prices=table)
    except ValueError:  # a model the catalogue does not know: every price unknown
        return None


def _cited(prices: ModelPrices, attribute: str) -> str:
    source, as_of = prices.source_of(attribute)
    return f"{source} (as of {as_of})" if as_of else source


def _throughput(plan: Plan, prices: ModelPrices | None, arn: str) -> dict[str, Any]:
    units = plan.serving.modelUnits or 1
    attribute = _COMMITMENT_PRICE.get(plan.serving.commitmentDuration, _COMMITMENT_PRICE[None])
    hourly = getattr(prices, attribute) if prices else None
    commitment = plan.serving.commitmentDuration or "no commitment"
    if hourly is None:
        return {
            "what": "provisioned throughput",
            "arn": arn,
            "usdPerHour": None,
            "how": f"{units} model unit(s), {commitment}; hourly price {HOW_TO_PRICE}",
        }
    assert prices is not None
    return {
        "what": "provisioned throughput",
        "arn": arn,
        "usdPerHour": units * hourly,
        "how": f"{units} model unit(s) x {usd_text(hourly)} per model unit hour, {commitment}, "
        f"from {_cited(prices, attribute)}; billed while it exists, busy or idle",
    }


def _storage(prices: ModelPrices | None, arn: str) -> dict[str, Any]:
    monthly = prices.storage_usd_per_month if prices else None
    if monthly is None:
        return {
            "what": "custom model",
            "arn": arn,
            "usdPerHour": None,
            "how": f"storage price {HOW_TO_PRICE}",
        }
    assert prices is not None
    return {
        "what": "custom model",
        "arn": arn,
        "usdPerHour": monthly / HOURS_PER_MONTH,
        "how": f"storage {usd_text(monthly)} a month ({HOURS_PER_MONTH} hours), from "
        f"{_cited(prices, 'storage_usd_per_month')}; until it is deleted",
    }


def hourly_costs(plan: Plan, found: dict[str, Any], table: PriceTable | None) -> dict[str, Any]:
    """``{"items": [{"what", "arn", "usdPerHour" | None, "how"}], "usdPerHour": the sum of
    the known hourly figures, "unknown": what bills by the hour at a price not known}``."""
    prices = _prices(plan, table)
    items: list[dict[str, Any]] = []
    for job in [found.get("job"), *(found.get("runs") or [])]:  # a sweep's runs too
        if job and job["status"] in {"InProgress", "Stopping"}:
            items.append(
                {
                    "what": "customization job",
                    "arn": job["arn"],
                    "usdPerHour": 0.0,
                    "how": "billed per token trained (every epoch), not by the hour",
                }
            )
    serving = found.get("serving")
    if serving and serving["mode"] == "provisioned-throughput":
        items.append(_throughput(plan, prices, serving["arn"]))
    elif serving:
        items.append(
            {
                "what": "on-demand deployment",
                "arn": serving["arn"],
                "usdPerHour": 0.0,
                "how": "billed per token of inference, nothing while idle",
            }
        )
    model = found.get("customModel")
    if model:
        items.append(_storage(prices, model["arn"]))
    unknown = [item["what"] for item in items if item["usdPerHour"] is None]
    total = sum(item["usdPerHour"] for item in items if item["usdPerHour"] is not None)
    return {"items": items, "usdPerHour": total, "unknown": unknown}


def total_text(costs: dict[str, Any]) -> str:
    """``$24.00 an hour``; ``at least ...`` with what is not known; ``nothing by the hour``."""
    if not costs["items"]:
        return "nothing exists that bills"
    known = usd_text(costs["usdPerHour"])
    if costs["unknown"]:
        return f"at least {known} an hour (price unknown for: {', '.join(costs['unknown'])})"
    if costs["usdPerHour"] == 0:
        return "nothing by the hour"
    return f"{known} an hour"
