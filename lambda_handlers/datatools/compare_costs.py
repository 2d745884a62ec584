"""What serving a workload would cost each way: the guide's comparison, done honestly.

The guide's ``compare_model_costs`` hard-codes three numbers (a base model's token prices,
"about $2,500 a month" per model unit, "50% cheaper" for a distilled model). Here every
price comes from ``lambda_handlers/data/prices.json`` with its source and date, or from the
caller (the command line), and a price nobody found stays ``None``: the option's cost is
reported as unknown, never as zero, and it takes no part in "cheapest" or the break-even.

The options compared for one workload (requests a day, tokens per request, a period of
``days``):

* the base model on demand: tokens x its on-demand prices;
* a custom model of the base model on provisioned throughput, with no commitment, a 1-month
  and a 6-month commitment: model units x price per model-unit-hour x 24 x days, plus the
  custom model's storage;
* a distilled student model served per token (an on-demand custom model deployment):
  tokens x the student's prices, plus its storage.

The break-even is the daily volume above which a provisioned option costs less than the
base model on demand. Both grow linearly with the period, so it does not depend on ``days``:
``(units x hourly price x 24 + storage per month / 30) / on-demand cost of one request``.

The arithmetic is decimal, so hand-computed figures match to the cent and beyond; a cost is
kept to a millionth of a dollar, or to three significant digits when it is smaller, so a cost
above zero is never rounded to zero.

Prices given by the user come first: a command-line flag (``PriceOverrides``), then a prices
file (``price_file.GivenPrices``, applied to the tables with ``with_given_on_demand`` and
``price_file.with_given``), then the shipped file.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources
from typing import Any

from lambda_handlers.common.catalogue import find_model, models
from lambda_handlers.datatools.price_file import GivenPrices
from lambda_handlers.datatools.pricing import ModelPrices, PriceTable, price_or_none, prices_for

DAYS_PER_MONTH = 30
"""Monthly prices (storage) are prorated over a period with this many days to the month."""
HOURS_PER_DAY = 24
COMMAND_LINE = "command line"

DISCLAIMER = (
    "ESTIMATE, not a quote: token counts are the caller's estimates and AWS bills the tokens its "
    "tokenizer counts; prices are from the source and date shown and may have changed since; "
    "an unknown price is reported as unknown, never as zero."
)

BASE_ON_DEMAND = "base-on-demand"
PROVISIONED_NO_COMMITMENT = "custom-provisioned-no-commitment"
PROVISIONED_ONE_MONTH = "custom-provisioned-1-month"
PROVISIONED_SIX_MONTHS = "custom-provisioned-6-months"
STUDENT_PER_TOKEN = "student-per-token"


# --- the on-demand section of prices.json -----------------------------------------------


@dataclass(frozen=True)
class OnDemandPrices:
    """On-demand inference prices of one catalogued base model, USD per 1,000 tokens."""

    model_id: str
    invoke_model_id: str
    """The id that invokes the base model on demand (the catalogue's id has a context suffix)."""
    input_usd_per_1k_tokens: float | None
    output_usd_per_1k_tokens: float | None
    custom_deployment_input_usd_per_1k_tokens: float | None
    """Per-token price of a custom model of this base on an on-demand deployment."""
    custom_deployment_output_usd_per_1k_tokens: float | None
    source: str
    as_of: str
    note: str = ""
    figure_sources: tuple[tuple[str, str, str], ...] = ()
    """``(attribute, source, as_of)`` of each figure a prices file gave."""

    def source_of(self, attribute: str) -> tuple[str, str]:
        """``(source, as_of)`` of one figure, e.g. ``input_usd_per_1k_tokens``."""
        for name, source, as_of in self.figure_sources:
            if name == attribute:
                return source, as_of
        return self.source, self.as_of


@dataclass(frozen=True)
class OnDemandTable:
    """The ``onDemandInference`` section of ``prices.json``."""

    checked: str
    sources: tuple[str, ...]
    models: dict[str, OnDemandPrices] = field(default_factory=dict)


def parse_on_demand(raw: dict[str, Any]) -> OnDemandTable:
    """Build an ``OnDemandTable`` from the whole ``prices.json`` document."""
    section = raw.get("onDemandInference")
    if section is None:
        return OnDemandTable(checked=raw.get("checked", ""), sources=())
    entries: dict[str, OnDemandPrices] = {}
    for model_id, entry in section["models"].items():
        entries[model_id] = OnDemandPrices(
            model_id=model_id,
            invoke_model_id=entry.get("invokeModelId") or model_id,
            input_usd_per_1k_tokens=price_or_none(
                entry.get("inputUsdPer1kTokens"), f"{model_id}.inputUsdPer1kTokens"
            ),
            output_usd_per_1k_tokens=price_or_none(
                entry.get("outputUsdPer1kTokens"), f"{model_id}.outputUsdPer1kTokens"
            ),
            custom_deployment_input_usd_per_1k_tokens=price_or_none(
                entry.get("customDeploymentInputUsdPer1kTokens"),
                f"{model_id}.customDeploymentInputUsdPer1kTokens",
            ),
            custom_deployment_output_usd_per_1k_tokens=price_or_none(
                entry.get("customDeploymentOutputUsdPer1kTokens"),
                f"{model_id}.customDeploymentOutputUsdPer1kTokens",
            ),
            source=entry.get("source", ""),
            as_of=entry.get("asOf", section.get("checked", "")),
            note=entry.get("note", ""),
        )
    return OnDemandTable(
        checked=section.get("checked", ""),
        sources=tuple(section.get("sources", ())),
        models=entries,
    )


@cache
def load_on_demand() -> OnDemandTable:
    """The on-demand prices shipped with the package (``lambda_handlers/data/prices.json``)."""
    text = resources.files("lambda_handlers").joinpath("data/prices.json").read_text("utf-8")
    return parse_on_demand(json.loads(text))


def with_given_on_demand(table: OnDemandTable, given: GivenPrices | None) -> OnDemandTable:
    """``table`` with the on-demand figures a prices file gives over it, each cited with the
    file's source."""
    if given is None or not given.on_demand:
        return table
    entries = dict(table.models)
    for model_id, entry in given.on_demand.items():
        base = entries.get(model_id) or OnDemandPrices(
            model_id, model_id, None, None, None, None, "", "", "no entry in prices.json"
        )
        figures: dict[str, Any] = dict(entry.figures)  # attribute -> USD
        entries[model_id] = replace(
            base,
            **figures,
            figure_sources=(
                *(s for s in base.figure_sources if s[0] not in entry.figures),
                *((attribute, entry.source, entry.as_of) for attribute in entry.figures),
            ),
        )
    return replace(table, models=entries)


def resolve_model_id(identifier: str, on_demand: OnDemandTable | None = None) -> str:
    """The catalogue id for a catalogue id, a foundation-model ARN or an on-demand model id.

    ``amazon.nova-pro-v1:0`` (how the base model is invoked) resolves to the catalogue's
    ``amazon.nova-pro-v1:0:300k``. Raises ``ValueError`` naming the known models otherwise.
    """
    model = find_model(identifier)
    if model is not None:
        return model.model_id
    table = on_demand if on_demand is not None else load_on_demand()
    bare = identifier.rsplit("foundation-model/", 1)[-1] if identifier.startswith("arn:") else ""
    for entry in table.models.values():
        if entry.invoke_model_id in (identifier, bare):
            return entry.model_id
    known = ", ".join(sorted(models()))
    raise ValueError(f"unknown model {identifier!r}; known models: {known}")


# --- inputs and results ---------------------------------------------------------------------


@dataclass(frozen=True)
class PriceOverrides:
    """Prices given by the caller; each one replaces the data file's figure. USD, > 0.

    Default: ``None`` for every price, that is, use ``prices.json`` (and unknown where the
    file has no figure).
    """

    on_demand_input: float | None = None
    """Base model on demand, USD per 1,000 input tokens (``--price-on-demand-input``)."""
    on_demand_output: float | None = None
    """Base model on demand, USD per 1,000 output tokens (``--price-on-demand-output``)."""
    provisioned_no_commitment: float | None = None
    """USD per model unit per hour, no commitment (``--price-provisioned-hour``)."""
    provisioned_one_month: float | None = None
    """USD per model unit per hour, 1-month commitment (``--price-provisioned-hour-1-month``)."""
    provisioned_six_months: float | None = None
    """USD per model unit per hour, 6-month commitment (``--price-provisioned-hour-6-months``)."""
    storage_month: float | None = None
    """Storage of the custom model, USD per month (``--price-storage-month``)."""
    student_input: float | None = None
    """Distilled student per token, USD per 1,000 input tokens (``--price-student-input``)."""
    student_output: float | None = None
    """Distilled student per token, USD per 1,000 output tokens (``--price-student-output``)."""
    student_storage_month: float | None = None
    """Storage of the student model, USD per month (``--price-student-storage-month``)."""


_FLAGS: dict[str, str] = {
    "on_demand_input": "--price-on-demand-input",
    "on_demand_output": "--price-on-demand-output",
    "provisioned_no_commitment": "--price-provisioned-hour",
    "provisioned_one_month": "--price-provisioned-hour-1-month",
    "provisioned_six_months": "--price-provisioned-hour-6-months",
    "storage_month": "--price-storage-month",
    "student_input": "--price-student-input",
    "student_output": "--price-student-output",
    "student_storage_month": "--price-student-storage-month",
}


@dataclass(frozen=True)
class Workload:
    """What is served: the same volume every day of the period."""

    requests_per_day: int
    input_tokens_per_request: int
    output_tokens_per_request: int
    days: int


@dataclass(frozen=True)
class Price:
    """One price an option rests on, with where it came from."""

    name: str
    usd: float | None
    """``None`` when unknown (never zero for "not found")."""
    unit: str
    source: str
    """A URL from ``prices.json``, or ``command line`` with the flag."""
    as_of: str
    """The date the source says the price was seen; empty for a command-line price."""
    flag: str
    """The command-line flag that gives this price."""
    note: str = ""


@dataclass(frozen=True)
class CostLine:
    """One part of an option's cost for the period, and how it was computed."""

    name: str
    usd: float | None
    formula: str


@dataclass(frozen=True)
class ServingOption:
    """One way of serving the workload and its cost for the period."""

    key: str
    label: str
    model_id: str
    usd: float | None
    """Cost for the period; ``None`` when any price it needs is unknown."""
    lines: tuple[CostLine, ...]
    prices: tuple[Price, ...]
    notes: tuple[str, ...] = ()
    """Caveats about the option itself; why a price is unknown is in that ``Price.note``."""


@dataclass(frozen=True)
class BreakEven:
    """The daily volume above which a provisioned option costs less than on demand."""

    provisioned_option: str
    requests_per_day: float | None
    """``None`` when a price it needs is unknown; see ``note``."""
    provisioned_is_cheaper_now: bool | None
    """Whether the workload's volume is above the break-even (``None`` when unknown)."""
    note: str


@dataclass(frozen=True)
class CostComparison:
    """The comparison: every option's cost, the cheapest, the break-even, the assumptions."""

    workload: Workload
    base_model: str
    student_model: str | None
    custom_units: int
    options: tuple[ServingOption, ...]
    cheapest: str | None
    """Key of the cheapest option among those with a known cost; ``None`` if none is known."""
    cheapest_note: str
    break_even: tuple[BreakEven, ...]
    assumptions: tuple[str, ...]
    disclaimer: str = DISCLAIMER

    def option(self, key: str) -> ServingOption:
        """The option with ``key``; ``KeyError`` if it was not compared."""
        for option in self.options:
            if option.key == key:
                return option
        raise KeyError(key)

    def to_dict(self) -> dict[str, Any]:
        """The comparison as plain JSON-ready values."""
        return asdict(self)


# --- arithmetic -----------------------------------------------------------------------------


def _dec(value: float | int) -> Decimal:
    # repr keeps the shortest decimal that round-trips, so 0.1 stays 0.1, not 0.1000000000000000055.
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _money(value: Decimal) -> float:
    if value == 0:
        return 0.0
    places = max(6, 2 - value.adjusted())  # a millionth, or three significant digits
    return float(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def _fmt(value: float | int) -> str:
    return format(_dec(value).normalize(), "f") if isinstance(value, float) else f"{value:,}"


MAX_COUNT = 10**15
"""The largest count (requests a day, tokens, days, model units) compared: beyond it a figure
is a typo, not a workload, and products of such counts stop being meaningful money."""


def _positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_COUNT:
        least = "a positive integer" if minimum == 1 else f"an integer of {minimum} or more"
        raise ValueError(f"{name} must be {least}, at most {MAX_COUNT:,}, got {value!r}")
    return value


def _check_overrides(overrides: PriceOverrides) -> None:
    for name, flag in _FLAGS.items():
        value = getattr(overrides, name)
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= 0
        ):
            raise ValueError(f"{flag} must be a price in USD greater than 0, got {value!r}")


def _pick(
    name: str,
    unit: str,
    override_field: str,
    overrides: PriceOverrides,
    entry: ModelPrices | OnDemandPrices | None,
    attribute: str,
    missing: str,
) -> Price:
    """The caller's price if given, else the prices' (a prices file's figure, else the data
    file's), else unknown with the reason."""
    flag = _FLAGS[override_field]
    given = getattr(overrides, override_field)
    figure = None if entry is None else getattr(entry, attribute)
    source, as_of = ("", "") if entry is None else entry.source_of(attribute)
    if given is not None:
        return Price(name, float(given), unit, f"{COMMAND_LINE} ({flag})", "", flag)
    if figure is not None:
        return Price(name, figure, unit, source, as_of, flag)
    return Price(
        name,
        None,
        unit,
        source,
        as_of,
        flag,
        f"{missing}; pass {flag} or give it in a --prices file",
    )


def _total(lines: list[CostLine]) -> float | None:
    if any(line.usd is None for line in lines):
        return None
    return _money(sum((_dec(line.usd) for line in lines if line.usd is not None), Decimal(0)))


def _token_lines(
    workload: Workload, input_price: Price, output_price: Price
) -> tuple[list[CostLine], Decimal | None]:
    """Input and output token cost for the period, and the cost of one request."""
    requests = workload.requests_per_day * workload.days
    lines: list[CostLine] = []
    per_request = Decimal(0)
    for kind, tokens, price in (
        ("input", workload.input_tokens_per_request, input_price),
        ("output", workload.output_tokens_per_request, output_price),
    ):
        formula = (
            f"{requests:,} requests x {tokens:,} {kind} tokens / 1,000 x "
            f"{'unknown' if price.usd is None else '$' + _fmt(price.usd)}"
        )
        if price.usd is None:
            lines.append(CostLine(f"{kind} tokens", None, formula))
            continue
        one = _dec(tokens) / 1000 * _dec(price.usd)
        per_request += one
        lines.append(CostLine(f"{kind} tokens", _money(one * requests), formula))
    known = input_price.usd is not None and output_price.usd is not None
    return lines, (per_request if known else None)


def _storage_line(workload: Workload, price: Price, what: str) -> CostLine:
    formula = (
        f"{'unknown' if price.usd is None else '$' + _fmt(price.usd)} a month x "
        f"{workload.days} / {DAYS_PER_MONTH} days"
    )
    usd = None if price.usd is None else _money(_dec(price.usd) * workload.days / DAYS_PER_MONTH)
    return CostLine(f"{what} storage", usd, formula)


# --- the comparison -------------------------------------------------------------------------


def _base_on_demand(
    workload: Workload, base_id: str, on_demand: OnDemandPrices | None, overrides: PriceOverrides
) -> tuple[ServingOption, Decimal | None]:
    missing = "not found in prices.json" if on_demand is None else "no figure in prices.json"
    input_price = _pick(
        "base model on-demand input",
        "USD per 1,000 input tokens",
        "on_demand_input",
        overrides,
        on_demand,
        "input_usd_per_1k_tokens",
        missing,
    )
    output_price = _pick(
        "base model on-demand output",
        "USD per 1,000 output tokens",
        "on_demand_output",
        overrides,
        on_demand,
        "output_usd_per_1k_tokens",
        missing,
    )
    lines, per_request = _token_lines(workload, input_price, output_price)
    option = ServingOption(
        key=BASE_ON_DEMAND,
        label="base model, on demand",
        model_id=base_id,
        usd=_total(lines),
        lines=tuple(lines),
        prices=(input_price, output_price),
    )
    return option, per_request


_TERMS: tuple[tuple[str, str, str, str], ...] = (
    # (option key, commitment term, override field, ModelPrices field)
    (
        PROVISIONED_NO_COMMITMENT,
        "no commitment",
        "provisioned_no_commitment",
        "provisioned_no_commitment_usd_per_mu_hour",
    ),
    (
        PROVISIONED_ONE_MONTH,
        "1-month commitment",
        "provisioned_one_month",
        "provisioned_one_month_usd_per_mu_hour",
    ),
    (
        PROVISIONED_SIX_MONTHS,
        "6-month commitment",
        "provisioned_six_months",
        "provisioned_six_months_usd_per_mu_hour",
    ),
)


def _provisioned(
    workload: Workload,
    base_id: str,
    units: int,
    customization: ModelPrices,
    overrides: PriceOverrides,
) -> list[tuple[ServingOption, Decimal | None]]:
    """Each commitment term's option, and its cost per day (``None`` if unknown)."""
    storage = _pick(
        "custom model storage",
        "USD per custom model per month",
        "storage_month",
        overrides,
        customization,
        "storage_usd_per_month",
        "no figure in prices.json",
    )
    storage_line = _storage_line(workload, storage, "custom model")
    result = []
    for key, term, override_field, figure_field in _TERMS:
        label = f"custom model, provisioned, {term}"
        hourly = _pick(
            f"provisioned throughput ({term})",
            "USD per model unit per hour",
            override_field,
            overrides,
            customization,
            figure_field,
            "no figure in prices.json",
        )
        hours = HOURS_PER_DAY * workload.days
        throughput = CostLine(
            "provisioned throughput",
            None if hourly.usd is None else _money(_dec(units) * _dec(hourly.usd) * hours),
            f"{units} model unit{'s' if units != 1 else ''} x "
            f"{'unknown' if hourly.usd is None else '$' + _fmt(hourly.usd)} x "
            f"{HOURS_PER_DAY} h x {workload.days} days",
        )
        lines = [throughput, storage_line]
        per_day = (
            None
            if hourly.usd is None or storage.usd is None
            else _dec(units) * _dec(hourly.usd) * HOURS_PER_DAY + _dec(storage.usd) / DAYS_PER_MONTH
        )
        option = ServingOption(
            key=key,
            label=label,
            model_id=base_id,
            usd=_total(lines),
            lines=tuple(lines),
            prices=(hourly, storage),
        )
        result.append((option, per_day))
    return result


def _student(
    workload: Workload,
    student_id: str,
    on_demand: OnDemandPrices | None,
    customization: ModelPrices,
    overrides: PriceOverrides,
) -> ServingOption:
    missing = "no price found for a custom model on an on-demand deployment"
    input_price = _pick(
        "student per-token input",
        "USD per 1,000 input tokens",
        "student_input",
        overrides,
        on_demand,
        "custom_deployment_input_usd_per_1k_tokens",
        missing,
    )
    output_price = _pick(
        "student per-token output",
        "USD per 1,000 output tokens",
        "student_output",
        overrides,
        on_demand,
        "custom_deployment_output_usd_per_1k_tokens",
        missing,
    )
    storage = _pick(
        "student model storage",
        "USD per custom model per month",
        "student_storage_month",
        overrides,
        customization,
        "storage_usd_per_month",
        "no figure in prices.json",
    )
    lines, _ = _token_lines(workload, input_price, output_price)
    lines.append(_storage_line(workload, storage, "student model"))
    notes: list[str] = []
    model = models()[student_id]
    if "DISTILLATION" not in model.customization_types:
        notes.append(f"models.json does not list {student_id} as a distillation student")
    if "on-demand-deployment" not in model.serving_modes:
        notes.append(
            f"models.json lists no on-demand deployment for custom models of {student_id}: "
            "a distilled model of it is served through provisioned throughput, so a per-token "
            "cost may not be attainable"
        )
    return ServingOption(
        key=STUDENT_PER_TOKEN,
        label="distilled student, per token (on-demand deployment)",
        model_id=student_id,
        usd=_total(lines),
        lines=tuple(lines),
        prices=(input_price, output_price, storage),
        notes=tuple(notes),
    )


def _break_even(
    workload: Workload,
    per_request: Decimal | None,
    option: ServingOption,
    per_day: Decimal | None,
) -> BreakEven:
    if per_request is None:
        return BreakEven(
            option.key, None, None, "unknown: the base model's on-demand price is unknown"
        )
    if per_day is None:
        return BreakEven(
            option.key,
            None,
            None,
            "unknown: a price of the provisioned option (model unit hour or storage) is unknown",
        )
    if per_request == 0:
        return BreakEven(option.key, None, False, "none: a request on demand costs nothing")
    volume = (per_day / per_request).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    cheaper = Decimal(workload.requests_per_day) > per_day / per_request
    return BreakEven(
        option.key,
        float(volume),
        cheaper,
        f"{option.label} costs less above {volume:,} requests a day: (units x hourly price x 24 + storage a month "
        f"/ {DAYS_PER_MONTH}) / on-demand cost of one request",
    )


def _assumptions(workload: Workload, units: int, student: bool) -> tuple[str, ...]:
    items = [
        f"{workload.requests_per_day:,} requests every day for {workload.days} days, each "
        f"{workload.input_tokens_per_request:,} input and {workload.output_tokens_per_request:,} "
        "output tokens; no peaks, no growth",
        "token counts are the caller's estimates; AWS bills the tokens its tokenizer counts",
        "on demand: Standard tier at the listed rate, no batch discount, no prompt caching, no "
        "cross-Region or service-tier price difference",
        f"provisioned throughput: {units} model unit{'s' if units != 1 else ''} billed "
        f"{HOURS_PER_DAY} hours a day whether used or not; whether {units} unit"
        f"{'s' if units != 1 else ''} can serve this volume is not checked (a model unit's "
        "throughput depends on the model)",
        "a custom model's provisioned throughput is priced like its base model's "
        "(the prices.json sources)",
        f"a month is {DAYS_PER_MONTH} days: storage a month is prorated over the period",
        "1-month and 6-month commitments are billed for the whole term; their figures are the "
        "share of the term that falls in the period",
        "custom models are billed storage every month until deleted; the one-off training or "
        "distillation cost (and the teacher's inference during distillation) is not included",
        "the break-even assumes the model units serve every request and the custom model's "
        "quality is acceptable; it does not depend on the number of days",
        "an option with an unknown price is reported as unknown and left out of the cheapest "
        "and the break-even",
    ]
    if student:
        items.append(
            "the distilled student is served per token through an on-demand custom model "
            "deployment; its quality is not compared here: measure it before switching"
        )
    return tuple(items)


def _cheapest(options: tuple[ServingOption, ...]) -> tuple[str | None, str]:
    known = [option for option in options if option.usd is not None]
    unknown = [option.key for option in options if option.usd is None]
    if not known:
        return None, "no option has a known cost"
    best = min(known, key=lambda option: _dec(option.usd or 0.0))
    if unknown:
        return best.key, (
            f"cheapest of the {len(known)} of {len(options)} options with a known cost; "
            f"the cost of {', '.join(unknown)} is unknown and could be lower"
        )
    return best.key, "cheapest of all options"


def compare_costs(
    *,
    requests_per_day: int,
    input_tokens_per_request: int,
    output_tokens_per_request: int,
    base_model: str,
    days: int = DAYS_PER_MONTH,
    custom_units: int = 1,
    student_model: str | None = None,
    overrides: PriceOverrides | None = None,
    prices: PriceTable | None = None,
    on_demand: OnDemandTable | None = None,
) -> CostComparison:
    """Compare the cost of serving a workload for ``days`` each way.

    ``base_model`` and ``student_model`` are catalogue ids, foundation-model ARNs or
    on-demand model ids (``amazon.nova-pro-v1:0``). ``overrides`` replace the shipped
    prices; ``prices`` and ``on_demand`` replace the shipped tables (tests pass their own).
    Raises ``ValueError`` for an unknown model, counts that are not positive integers
    (output tokens may be 0) and override prices that are not positive numbers.
    """
    _positive_int(requests_per_day, "requests_per_day")
    _positive_int(input_tokens_per_request, "input_tokens_per_request")
    _positive_int(output_tokens_per_request, "output_tokens_per_request", minimum=0)
    _positive_int(days, "days")
    _positive_int(custom_units, "custom_units")
    overrides = overrides or PriceOverrides()
    _check_overrides(overrides)
    table = on_demand if on_demand is not None else load_on_demand()
    base_id = resolve_model_id(base_model, table)
    student_id = resolve_model_id(student_model, table) if student_model else None
    workload = Workload(requests_per_day, input_tokens_per_request, output_tokens_per_request, days)

    base_option, per_request = _base_on_demand(
        workload, base_id, table.models.get(base_id), overrides
    )
    provisioned = _provisioned(
        workload, base_id, custom_units, prices_for(base_id, prices=prices), overrides
    )
    options = [base_option, *(option for option, _ in provisioned)]
    if student_id is not None:
        options.append(
            _student(
                workload,
                student_id,
                table.models.get(student_id),
                prices_for(student_id, prices=prices),
                overrides,
            )
        )
    cheapest, cheapest_note = _cheapest(tuple(options))
    return CostComparison(
        workload=workload,
        base_model=base_id,
        student_model=student_id,
        custom_units=custom_units,
        options=tuple(options),
        cheapest=cheapest,
        cheapest_note=cheapest_note,
        break_even=tuple(
            _break_even(workload, per_request, option, per_day) for option, per_day in provisioned
        ),
        assumptions=_assumptions(workload, custom_units, student_id is not None),
    )
