"""Serving-cost comparison: hand-computed costs and break-even, unknowns kept unknown.

The ``compare-costs`` command's tests are in tests/cli/test_model_commands.py."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from lambda_handlers.common.catalogue import models
from lambda_handlers.datatools.compare_costs import (
    BASE_ON_DEMAND,
    PROVISIONED_NO_COMMITMENT,
    PROVISIONED_ONE_MONTH,
    PROVISIONED_SIX_MONTHS,
    STUDENT_PER_TOKEN,
    CostComparison,
    OnDemandPrices,
    OnDemandTable,
    PriceOverrides,
    compare_costs,
    load_on_demand,
    parse_on_demand,
    resolve_model_id,
)
from lambda_handlers.datatools.pricing import ModelPrices, PriceTable

NOVA_PRO = "amazon.nova-pro-v1:0:300k"
NOVA_LITE = "amazon.nova-lite-v1:0:300k"
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
LLAMA_11B = "meta.llama3-2-11b-instruct-v1:0:128k"
SOURCE = "https://example.test/prices"


def customization(
    model_id: str,
    *,
    hourly: tuple[float | None, float | None, float | None] = (10.0, 8.0, 6.0),
    storage: float | None = 3.0,
) -> ModelPrices:
    return ModelPrices(
        model_id=model_id,
        training_usd_per_1k_tokens=None,
        storage_usd_per_month=storage,
        provisioned_no_commitment_usd_per_mu_hour=hourly[0],
        provisioned_one_month_usd_per_mu_hour=hourly[1],
        provisioned_six_months_usd_per_mu_hour=hourly[2],
        source=SOURCE,
        as_of="2026-01-01",
    )


def on_demand_entry(
    model_id: str,
    input_price: float | None = 0.001,
    output_price: float | None = 0.002,
    deployment: tuple[float | None, float | None] = (None, None),
) -> OnDemandPrices:
    return OnDemandPrices(
        model_id=model_id,
        invoke_model_id=model_id.rsplit(":", 1)[0],
        input_usd_per_1k_tokens=input_price,
        output_usd_per_1k_tokens=output_price,
        custom_deployment_input_usd_per_1k_tokens=deployment[0],
        custom_deployment_output_usd_per_1k_tokens=deployment[1],
        source=SOURCE,
        as_of="2026-02-02",
    )


def tables(
    pro: ModelPrices | None = None, pro_on_demand: OnDemandPrices | None = None
) -> tuple[PriceTable, OnDemandTable]:
    prices = PriceTable(
        checked="2026-01-01",
        sources=(SOURCE,),
        models={
            NOVA_PRO: pro or customization(NOVA_PRO),
            NOVA_LITE: customization(NOVA_LITE, storage=1.5),
        },
    )
    on_demand = OnDemandTable(
        checked="2026-02-02",
        sources=(SOURCE,),
        models={NOVA_PRO: pro_on_demand or on_demand_entry(NOVA_PRO)},
    )
    return prices, on_demand


# The reference workload: 100,000 requests a day, 1,000 input + 500 output tokens each, 30 days.
WORKLOAD: dict[str, Any] = {
    "requests_per_day": 100_000,
    "input_tokens_per_request": 1000,
    "output_tokens_per_request": 500,
    "base_model": NOVA_PRO,
}


def reference(**changes: Any) -> CostComparison:
    """The reference workload, with ``changes`` applied."""
    arguments: dict[str, Any] = {**WORKLOAD, **changes}
    return compare_costs(**arguments)


def test_monthly_cost_of_every_option_by_hand() -> None:
    prices, on_demand = tables()
    result = reference(prices=prices, on_demand=on_demand)
    # 100,000 requests x 30 days = 3,000,000 requests.
    # On demand: input 3,000,000 x 1,000 / 1,000 x $0.001 = $3,000;
    #            output 3,000,000 x 500 / 1,000 x $0.002 = $3,000; total $6,000.
    base = result.option(BASE_ON_DEMAND)
    assert [line.usd for line in base.lines] == [3000.0, 3000.0]
    assert base.usd == 6000.0
    # Provisioned, 1 model unit x 24 h x 30 days = 720 unit-hours, plus $3 storage a month:
    #   no commitment 720 x $10 = $7,200 + $3 = $7,203
    #   1 month       720 x $8  = $5,760 + $3 = $5,763
    #   6 months      720 x $6  = $4,320 + $3 = $4,323
    assert result.option(PROVISIONED_NO_COMMITMENT).usd == 7203.0
    assert result.option(PROVISIONED_ONE_MONTH).usd == 5763.0
    assert result.option(PROVISIONED_SIX_MONTHS).usd == 4323.0
    assert result.cheapest == PROVISIONED_SIX_MONTHS
    assert result.cheapest_note == "cheapest of all options"
    assert result.workload.days == 30


def test_break_even_by_hand() -> None:
    prices, on_demand = tables()
    result = reference(prices=prices, on_demand=on_demand)
    # One request on demand: 1,000/1,000 x $0.001 + 500/1,000 x $0.002 = $0.002.
    # Provisioned a day: 1 unit x hourly x 24 + $3 / 30 days of storage ($0.10):
    #   no commitment $240.10 / $0.002 = 120,050 requests a day
    #   1 month       $192.10 / $0.002 =  96,050
    #   6 months      $144.10 / $0.002 =  72,050
    volumes = {even.provisioned_option: even.requests_per_day for even in result.break_even}
    assert volumes == {
        PROVISIONED_NO_COMMITMENT: 120_050.0,
        PROVISIONED_ONE_MONTH: 96_050.0,
        PROVISIONED_SIX_MONTHS: 72_050.0,
    }
    # 100,000 a day is below the no-commitment break-even and above the other two.
    cheaper = {
        even.provisioned_option: even.provisioned_is_cheaper_now for even in result.break_even
    }
    assert cheaper == {
        PROVISIONED_NO_COMMITMENT: False,
        PROVISIONED_ONE_MONTH: True,
        PROVISIONED_SIX_MONTHS: True,
    }


def test_at_the_break_even_volume_both_options_cost_the_same() -> None:
    prices, on_demand = tables()
    result = reference(requests_per_day=120_050, prices=prices, on_demand=on_demand)
    # 120,050 x 30 x $0.002 = $7,203 = 720 x $10 + $3.
    assert result.option(BASE_ON_DEMAND).usd == 7203.0
    assert result.option(PROVISIONED_NO_COMMITMENT).usd == 7203.0
    assert result.break_even[0].provisioned_is_cheaper_now is False


def test_a_shorter_period_prorates_storage_and_keeps_the_break_even() -> None:
    prices, on_demand = tables()
    result = reference(days=7, prices=prices, on_demand=on_demand)
    # On demand: 100,000 x 7 x $0.002 = $1,400.
    # No commitment: 1 x $10 x 24 x 7 = $1,680 + $3 x 7/30 = $0.70 -> $1,680.70.
    assert result.option(BASE_ON_DEMAND).usd == 1400.0
    assert result.option(PROVISIONED_NO_COMMITMENT).usd == 1680.7
    assert result.break_even[0].requests_per_day == 120_050.0


def test_model_units_multiply_the_provisioned_cost() -> None:
    prices, on_demand = tables()
    result = reference(custom_units=3, prices=prices, on_demand=on_demand)
    # 3 units x $10 x 720 h = $21,600 + $3 = $21,603; break-even (720 + 0.1) / 0.002 = 360,050.
    assert result.option(PROVISIONED_NO_COMMITMENT).usd == 21_603.0
    assert result.break_even[0].requests_per_day == 360_050.0
    assert "3 model units" in result.option(PROVISIONED_NO_COMMITMENT).lines[0].formula


def test_a_distilled_student_with_its_prices_by_hand() -> None:
    prices, on_demand = tables()
    result = reference(
        student_model=NOVA_LITE,
        overrides=PriceOverrides(student_input=0.0002, student_output=0.0004),
        prices=prices,
        on_demand=on_demand,
    )
    student = result.option(STUDENT_PER_TOKEN)
    # 3,000,000 requests x (1 x $0.0002 + 0.5 x $0.0004) = 3,000,000 x $0.0004 = $1,200,
    # plus Nova Lite's storage from the table, $1.50 a month x 30/30 -> $1,201.50.
    assert student.usd == 1201.5
    assert student.model_id == NOVA_LITE
    assert result.cheapest == STUDENT_PER_TOKEN
    # Nova Lite is a distillation student with on-demand deployment: no caveat.
    assert student.notes == ()


def test_output_tokens_may_be_zero() -> None:
    prices, on_demand = tables()
    result = reference(output_tokens_per_request=0, prices=prices, on_demand=on_demand)
    # Only input: 3,000,000 x 1 x $0.001 = $3,000; break-even $240.10 / $0.001 = 240,100.
    assert result.option(BASE_ON_DEMAND).usd == 3000.0
    assert result.break_even[0].requests_per_day == 240_100.0


def test_decimal_arithmetic_has_no_float_noise() -> None:
    prices, on_demand = tables(pro_on_demand=on_demand_entry(NOVA_PRO, 0.1, 0.1))
    result = compare_costs(
        requests_per_day=1,
        input_tokens_per_request=3,
        output_tokens_per_request=0,
        days=1,
        base_model=NOVA_PRO,
        prices=prices,
        on_demand=on_demand,
    )
    # In binary floating point 3 x 0.1 / 1000 is 0.00030000000000000003.
    assert result.option(BASE_ON_DEMAND).usd == 0.0003


def test_unknown_prices_stay_unknown_and_never_become_zero() -> None:
    prices, on_demand = tables(pro=customization(NOVA_PRO, hourly=(10.0, None, None)))
    result = reference(student_model=NOVA_LITE, prices=prices, on_demand=on_demand)
    one_month = result.option(PROVISIONED_ONE_MONTH)
    assert one_month.usd is None
    assert one_month.lines[0].usd is None
    assert one_month.lines[1].usd == 3.0  # the known part is still shown
    hourly = one_month.prices[0]
    assert hourly.usd is None
    assert "--price-provisioned-hour-1-month" in hourly.note
    # The student has no per-token price in any table and none was given.
    assert result.option(STUDENT_PER_TOKEN).usd is None
    # Unknown options are left out of the cheapest, and the note says they could be lower.
    assert result.cheapest == BASE_ON_DEMAND
    assert "custom-provisioned-1-month" in result.cheapest_note
    assert "could be lower" in result.cheapest_note
    # ... and out of the break-even.
    even = {e.provisioned_option: e for e in result.break_even}
    assert even[PROVISIONED_NO_COMMITMENT].requests_per_day == 120_050.0
    assert even[PROVISIONED_ONE_MONTH].requests_per_day is None
    assert even[PROVISIONED_ONE_MONTH].provisioned_is_cheaper_now is None
    assert "unknown" in even[PROVISIONED_ONE_MONTH].note
    # In JSON an unknown cost is null, not 0.
    data = json.loads(json.dumps(result.to_dict()))
    costs = {option["key"]: option["usd"] for option in data["options"]}
    assert costs[PROVISIONED_ONE_MONTH] is None
    assert costs[STUDENT_PER_TOKEN] is None


def test_an_unknown_storage_price_makes_the_provisioned_cost_unknown() -> None:
    prices, on_demand = tables(pro=customization(NOVA_PRO, storage=None))
    result = reference(prices=prices, on_demand=on_demand)
    option = result.option(PROVISIONED_NO_COMMITMENT)
    assert option.lines[0].usd == 7200.0
    assert option.usd is None
    assert result.break_even[0].requests_per_day is None
    assert result.cheapest == BASE_ON_DEMAND


def test_an_unknown_on_demand_price_leaves_every_break_even_unknown() -> None:
    prices, on_demand = tables(pro_on_demand=on_demand_entry(NOVA_PRO, None, 0.002))
    result = reference(prices=prices, on_demand=on_demand)
    assert result.option(BASE_ON_DEMAND).usd is None
    assert all(even.requests_per_day is None for even in result.break_even)
    assert all("on-demand price is unknown" in even.note for even in result.break_even)
    assert result.cheapest == PROVISIONED_SIX_MONTHS


def test_with_every_price_unknown_nothing_is_cheapest() -> None:
    prices, on_demand = tables(
        pro=customization(NOVA_PRO, hourly=(None, None, None)),
        pro_on_demand=on_demand_entry(NOVA_PRO, None, None),
    )
    result = reference(prices=prices, on_demand=on_demand)
    assert all(option.usd is None for option in result.options)
    assert result.cheapest is None
    assert result.cheapest_note == "no option has a known cost"


def test_command_line_prices_replace_the_table_and_say_so() -> None:
    prices, on_demand = tables()
    result = reference(
        overrides=PriceOverrides(on_demand_input=0.002, provisioned_no_commitment=20),
        prices=prices,
        on_demand=on_demand,
    )
    base = result.option(BASE_ON_DEMAND)
    # Input 3,000,000 x 1 x $0.002 = $6,000 + output (table) $3,000 = $9,000.
    assert base.usd == 9000.0
    given, from_table = base.prices
    assert (given.usd, given.source, given.as_of) == (
        0.002,
        "command line (--price-on-demand-input)",
        "",
    )
    assert (from_table.usd, from_table.source, from_table.as_of) == (0.002, SOURCE, "2026-02-02")
    # 720 h x $20 = $14,400 + $3 = $14,403.
    assert result.option(PROVISIONED_NO_COMMITMENT).usd == 14_403.0


def test_every_assumption_is_listed() -> None:
    prices, on_demand = tables()
    result = reference(student_model=NOVA_LITE, prices=prices, on_demand=on_demand)
    text = " ".join(result.assumptions)
    for phrase in (
        "100,000 requests every day for 30 days",
        "tokenizer",
        "no batch discount",
        "whether used or not",
        "not checked",
        "a month is 30 days",
        "whole term",
        "storage every month until deleted",
        "not included",
        "left out of the cheapest",
        "quality is not compared",
    ):
        assert phrase in text, phrase
    assert result.disclaimer.startswith("ESTIMATE")


def test_a_student_without_on_demand_deployment_carries_a_caveat() -> None:
    result = reference(student_model=LLAMA_11B)
    notes = " ".join(result.option(STUDENT_PER_TOKEN).notes)
    assert "not list" in notes and "distillation student" in notes
    assert "no on-demand deployment" in notes


def test_the_shipped_nova_pro_on_demand_price_with_its_source_and_date() -> None:
    result = compare_costs(
        requests_per_day=10_000,
        input_tokens_per_request=1000,
        output_tokens_per_request=500,
        base_model=NOVA_PRO,
    )
    base = result.option(BASE_ON_DEMAND)
    # 300,000 requests x (1 x $0.0008 + 0.5 x $0.0032) = 300,000 x $0.0024 = $720.
    assert base.usd == 720.0
    for price in base.prices:
        assert "aws/agent-toolkit-for-aws" in price.source
        assert price.as_of == "2026-10-05"
    # No provisioned price was found for Nova Pro: unknown, not zero.
    assert result.option(PROVISIONED_NO_COMMITMENT).usd is None


def test_the_on_demand_section_covers_the_catalogue_with_sources_and_notes() -> None:
    table = load_on_demand()
    assert table.checked and table.sources
    assert set(table.models) == set(models())
    for entry in table.models.values():
        assert entry.source and entry.as_of, entry.model_id
        figures = (
            entry.input_usd_per_1k_tokens,
            entry.output_usd_per_1k_tokens,
            entry.custom_deployment_input_usd_per_1k_tokens,
            entry.custom_deployment_output_usd_per_1k_tokens,
        )
        if None in figures:
            assert entry.note, f"{entry.model_id} has an unknown figure and no note"
        assert all(figure is None or figure > 0 for figure in figures), entry.model_id


def test_costs_are_rounded_to_a_millionth_of_a_dollar_or_three_significant_digits() -> None:
    prices, on_demand = tables(pro_on_demand=on_demand_entry(NOVA_PRO, 0.0123456789, 0.001))
    result = reference(
        requests_per_day=1,
        input_tokens_per_request=1,
        output_tokens_per_request=0,
        days=1,
        prices=prices,
        on_demand=on_demand,
    )
    # 1 token / 1,000 x $0.0123456789 = $0.0000123456789: under a millionth's precision it
    # keeps three significant digits, $0.0000123, rather than fall towards $0.
    assert result.option(BASE_ON_DEMAND).usd == 0.0000123
    larger = reference(
        requests_per_day=100,
        input_tokens_per_request=1,
        output_tokens_per_request=0,
        days=1,
        prices=prices,
        on_demand=on_demand,
    )
    # 100 x $0.0000123456789 = $0.00123456789 -> $0.001235 (a millionth of a dollar).
    assert larger.option(BASE_ON_DEMAND).usd == 0.001235


def on_demand_document(**figures: Any) -> dict[str, Any]:
    entry = {"invokeModelId": "amazon.nova-pro-v1:0", "source": SOURCE, "asOf": "2026-02-02"}
    return {
        "checked": "2026-01-01",
        "onDemandInference": {
            "checked": "2026-02-02",
            "sources": [SOURCE],
            "models": {NOVA_PRO: {**entry, **figures}},
        },
    }


def test_the_on_demand_section_is_parsed_with_nulls_kept() -> None:
    table = parse_on_demand(on_demand_document(inputUsdPer1kTokens=0.5, outputUsdPer1kTokens=None))
    entry = table.models[NOVA_PRO]
    assert (entry.input_usd_per_1k_tokens, entry.output_usd_per_1k_tokens) == (0.5, None)
    assert entry.custom_deployment_input_usd_per_1k_tokens is None
    assert (entry.invoke_model_id, entry.as_of, table.checked) == (
        "amazon.nova-pro-v1:0",
        "2026-02-02",
        "2026-02-02",
    )
    assert parse_on_demand({"checked": "2026-01-01", "models": {}}).models == {}


@pytest.mark.parametrize("bad", [-0.1, math.nan, math.inf, "0.5", True])
def test_a_bad_figure_in_the_on_demand_section_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match=r"amazon\.nova-pro-v1:0:300k\.inputUsdPer1kTokens"):
        parse_on_demand(on_demand_document(inputUsdPer1kTokens=bad))


@pytest.mark.parametrize(
    "identifier",
    [
        NOVA_PRO,
        "amazon.nova-pro-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0",
    ],
)
def test_a_model_is_found_by_catalogue_id_on_demand_id_or_arn(identifier: str) -> None:
    assert resolve_model_id(identifier) == NOVA_PRO


def test_an_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown model 'openai\.gpt-5'") as caught:
        reference(base_model="openai.gpt-5")
    assert NOVA_PRO in str(caught.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"requests_per_day": 0}, "requests_per_day must be a positive integer"),
        ({"input_tokens_per_request": 0}, "input_tokens_per_request must be a positive integer"),
        ({"output_tokens_per_request": -1}, "output_tokens_per_request must be an integer of 0"),
        ({"days": 0}, "days must be a positive integer"),
        ({"custom_units": 0}, "custom_units must be a positive integer"),
        ({"requests_per_day": True}, "requests_per_day must be a positive integer"),
        ({"overrides": PriceOverrides(storage_month=0)}, "--price-storage-month must be a price"),
        ({"overrides": PriceOverrides(on_demand_input=-0.1)}, "--price-on-demand-input"),
        ({"overrides": PriceOverrides(student_output=math.nan)}, "--price-student-output"),
    ],
)
def test_bad_inputs_are_refused_with_their_name(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        reference(**change)
