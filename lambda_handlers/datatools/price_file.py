"""Prices the user gives: a prices file in the format of ``lambda_handlers/data/prices.json``.

AWS does not publish every figure (no source gives the training price of a Nova model), and
a customer may have negotiated its own. Such figures come from a file the user passes
(``--prices FILE`` on the command line, ``-c pricesFile=FILE`` or
``SpendingLimits(prices_file=...)`` for the stack), in the same format as the shipped file,
with only the figures it gives::

    {"models": {"amazon.nova-lite-v1:0:300k": {
        "trainingUsdPer1kTokens": 0.002, "source": "our agreement", "asOf": "2026-10-01"}}}

Each figure it gives replaces the shipped one for that model and is cited with the file's
``source`` and ``asOf`` (default: the file's path); a figure it leaves out or sets to
``null`` keeps the shipped figure. ``onDemandInference.models`` gives on-demand prices the
same way (``compare-costs``).

The file is refused, naming the file, the JSON path and what is allowed, when it is not UTF-8
JSON, when an object has a key twice (JSON readers disagree on which one wins), when a
figure is not a finite number above 0 (or ``null``; 0 is refused because a price nobody
charges is indistinguishable from a placeholder), and when a key or model ID is unknown.
Unknown names are errors, not warnings: a misspelt model ID or figure name would otherwise
leave the model unpriced while the user believes it priced, and the cost ceiling would then
refuse its requests with a reason that contradicts the file.

The stack carries the training figures to the Validate function in one environment variable,
itself a prices file (``training_prices_environment``); Lambda allows 4 KB for all of a
function's variables, so a file whose training figures would take more than
``ENVIRONMENT_BUDGET`` bytes is refused when the stack is synthesized.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lambda_handlers.common.catalogue import find_model, models
from lambda_handlers.datatools.pricing import PriceTable, is_amount, load_prices, prices_for

ENVIRONMENT_VARIABLE = "TRAINING_PRICES"
"""The Validate function's variable that holds the training figures of the stack's file."""
ENVIRONMENT_BUDGET = 1536
"""Bytes (name and value) the stack lets that variable take of Lambda's 4 KB for all of a
function's variables: the others (bucket names, ARNs, limits, promotion targets, graders) take
up to about 2.5 KB with every option on (``tests/constructs/test_prices_file.py``). Enough
for a training price and a source of about 100 characters for each of ten models."""

_TRAINING = "trainingUsdPer1kTokens"
ALLOWED_FIGURE = "a number of US dollars above 0 (a finite JSON number), or null for no figure"

# JSON name -> ModelPrices attribute; the provisioned figures sit in one object.
CUSTOMIZATION_FIGURES = {
    "trainingUsdPer1kTokens": "training_usd_per_1k_tokens",
    "storageUsdPerMonth": "storage_usd_per_month",
}
PROVISIONED_KEY = "provisionedThroughputUsdPerModelUnitHour"
PROVISIONED_FIGURES = {
    "noCommitment": "provisioned_no_commitment_usd_per_mu_hour",
    "oneMonth": "provisioned_one_month_usd_per_mu_hour",
    "sixMonths": "provisioned_six_months_usd_per_mu_hour",
}
# JSON name -> OnDemandPrices attribute (compare_costs).
ON_DEMAND_FIGURES = {
    "inputUsdPer1kTokens": "input_usd_per_1k_tokens",
    "outputUsdPer1kTokens": "output_usd_per_1k_tokens",
    "customDeploymentInputUsdPer1kTokens": "custom_deployment_input_usd_per_1k_tokens",
    "customDeploymentOutputUsdPer1kTokens": "custom_deployment_output_usd_per_1k_tokens",
}
_TEXT_KEYS = ("name", "source", "asOf", "note")
_TOP_KEYS = ("about", "currency", "region", "sources", "checked", "models", "onDemandInference")
_ON_DEMAND_SECTION_KEYS = ("about", "currency", "region", "sources", "checked", "models")


class PriceFileError(ValueError):
    """A prices file that cannot be used: the message names the file, the JSON path and what
    is allowed there."""

    def __init__(self, origin: str, path: str, problem: str) -> None:
        super().__init__(f"prices file {origin}: at {path}: {problem}")
        self.origin = origin
        self.path = path


@dataclass(frozen=True)
class GivenEntry:
    """The figures a prices file gives for one model (attribute name -> USD) and their source."""

    figures: Mapping[str, float]
    source: str
    as_of: str


@dataclass(frozen=True)
class GivenPrices:
    """A checked prices file: per catalogue model ID, the figures it gives."""

    origin: str
    """Where the figures came from: the file's path (or the environment variable's name)."""
    customization: Mapping[str, GivenEntry] = field(default_factory=dict)
    on_demand: Mapping[str, GivenEntry] = field(default_factory=dict)

    def training_models(self) -> list[str]:
        """The models it gives a training price for."""
        return [
            m
            for m, e in self.customization.items()
            if CUSTOMIZATION_FIGURES[_TRAINING] in e.figures
        ]


# --- reading -------------------------------------------------------------------------------


class _Object(dict[str, Any]):
    """A JSON object that remembers the keys it was given more than once."""

    duplicates: list[str]


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    result = _Object()
    result.duplicates = []
    for key, value in pairs:
        if key in result:
            result.duplicates.append(key)
        result[key] = value
    return result


def _key_path(parent: str, key: str) -> str:
    return f"{parent}.{key}" if key.isidentifier() else f"{parent}[{json.dumps(key)}]"


def _check_object(origin: str, path: str, value: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PriceFileError(origin, path, f"expected a JSON object, got {_show(value)}")
    for key in getattr(value, "duplicates", ()):
        raise PriceFileError(
            origin,
            _key_path(path, key),
            "this key is given twice in one object; JSON readers differ on which one counts: "
            "give it once",
        )
    for key in value:
        if allowed and key not in allowed:
            raise PriceFileError(
                origin,
                _key_path(path, key),
                f"unknown key {json.dumps(key)}; allowed here: {', '.join(allowed)}",
            )
    return value


def _show(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    text = json.dumps(value) if not isinstance(value, dict | list) else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _figure(origin: str, path: str, value: Any) -> float | None:
    if value is None:
        return None
    if not is_amount(value) or value <= 0:
        zero = " (0 is refused: write null for a figure you do not have)" if value == 0 else ""
        raise PriceFileError(origin, path, f"got {_show(value)}{zero}; allowed: {ALLOWED_FIGURE}")
    return float(value)


def _text(origin: str, path: str, value: Any) -> str:
    if not isinstance(value, str) or len(value) > 1000:
        raise PriceFileError(
            origin, path, f"got {_show(value)}; allowed: a string of at most 1,000 characters"
        )
    return value


def _model_id(origin: str, path: str, key: str) -> str:
    if key in models():
        return key
    found = find_model(key)
    hint = (
        f"write it as the catalogue's ID {json.dumps(found.model_id)}"
        if found is not None
        else f"known models: {', '.join(models())} (see: bedrock-customize models)"
    )
    raise PriceFileError(origin, path, f"unknown model ID {json.dumps(key)}; {hint}")


def _entry(
    origin: str, path: str, raw: Any, figures: Mapping[str, str], nested: bool
) -> GivenEntry:
    allowed = (*figures, *((PROVISIONED_KEY,) if nested else ()), *_TEXT_KEYS)
    if not nested:
        allowed = (*allowed, "invokeModelId")
    entry = _check_object(origin, path, raw, allowed)
    given: dict[str, float] = {}
    for name, attribute in figures.items():
        value = _figure(origin, _key_path(path, name), entry.get(name))
        if value is not None:
            given[attribute] = value
    if nested and entry.get(PROVISIONED_KEY) is not None:
        where = _key_path(path, PROVISIONED_KEY)
        provisioned = _check_object(
            origin, where, entry[PROVISIONED_KEY], tuple(PROVISIONED_FIGURES)
        )
        for name, attribute in PROVISIONED_FIGURES.items():
            value = _figure(origin, _key_path(where, name), provisioned.get(name))
            if value is not None:
                given[attribute] = value
    texts = {
        key: _text(origin, _key_path(path, key), entry[key])
        for key in (*_TEXT_KEYS, "invokeModelId")
        if key in entry and entry[key] is not None
    }
    return GivenEntry(
        figures=given,
        source=texts.get("source") or f"prices file {origin}",
        as_of=texts.get("asOf", ""),
    )


def _models(
    origin: str, path: str, raw: Any, figures: Mapping[str, str], nested: bool
) -> dict[str, GivenEntry]:
    section = _check_object(origin, path, raw, ())
    result: dict[str, GivenEntry] = {}
    for key, value in section.items():
        where = _key_path(path, key)
        model_id = _model_id(origin, where, key)
        if model_id in result:
            raise PriceFileError(origin, where, f"{model_id} is given twice")
        result[model_id] = _entry(origin, where, value, figures, nested)
    return result


def parse_price_file(text: str, origin: str) -> GivenPrices:
    """Check the JSON text of a prices file; ``origin`` names it in messages.

    Raises ``PriceFileError`` (a ``ValueError``) for anything it cannot use.
    """
    try:
        raw = json.loads(text, object_pairs_hook=_object)
    except json.JSONDecodeError as error:
        raise PriceFileError(
            origin, f"line {error.lineno} column {error.colno}", f"not JSON: {error.msg}"
        ) from None
    top = _check_object(origin, "$", raw, _TOP_KEYS)
    if top.get("currency", "USD") != "USD":
        raise PriceFileError(origin, "$.currency", f'got {_show(top["currency"])}; allowed: "USD"')
    if "models" not in top and "onDemandInference" not in top:
        raise PriceFileError(
            origin, "$", 'no "models" (customization prices) or "onDemandInference" object'
        )
    customization = (
        _models(origin, "$.models", top["models"], CUSTOMIZATION_FIGURES, nested=True)
        if "models" in top
        else {}
    )
    on_demand: dict[str, GivenEntry] = {}
    if "onDemandInference" in top:
        section = _check_object(
            origin, "$.onDemandInference", top["onDemandInference"], _ON_DEMAND_SECTION_KEYS
        )
        on_demand = _models(
            origin,
            "$.onDemandInference.models",
            section.get("models", {}),
            ON_DEMAND_FIGURES,
            nested=False,
        )
    return GivenPrices(origin, customization, on_demand)


def read_price_file(path: str | Path) -> GivenPrices:
    """Read and check a prices file. ``OSError`` when it cannot be read, ``PriceFileError``
    (a ``ValueError``) when it is not a usable prices file."""
    origin = str(path)
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PriceFileError(
            origin, f"byte {error.start}", "not UTF-8: save the file as UTF-8 JSON"
        ) from None
    return parse_price_file(text.removeprefix("\ufeff"), origin)


# --- applying ------------------------------------------------------------------------------


def with_given(table: PriceTable, given: GivenPrices | None) -> PriceTable:
    """``table`` with the customization figures ``given`` replaces, each cited with its source."""
    if given is None or not given.customization:
        return table
    entries = dict(table.models)
    for model_id, entry in given.customization.items():
        base = prices_for(model_id, prices=table)
        names = ", ".join(sorted(entry.figures))
        figures: dict[str, Any] = dict(entry.figures)  # attribute -> USD
        entries[model_id] = replace(
            base,
            **figures,
            figure_sources=(
                *(s for s in base.figure_sources if s[0] not in entry.figures),
                *((attribute, entry.source, entry.as_of) for attribute in entry.figures),
            ),
            note=" ".join(filter(None, (base.note, f"Given by {given.origin}: {names}."))),
        )
    return replace(table, models=entries, sources=(*table.sources, f"prices file {given.origin}"))


def effective_prices(given: GivenPrices | None) -> PriceTable:
    """The shipped customization prices with the user's figures over them."""
    return with_given(load_prices(), given)


# --- the stack's carrier -------------------------------------------------------------------


def training_prices_document(given: GivenPrices) -> str:
    """The training figures of ``given`` as a compact prices file (what the Validate function
    needs: it checks the training cost, nothing else)."""
    document = {
        "models": {
            model_id: {
                _TRAINING: entry.figures[CUSTOMIZATION_FIGURES[_TRAINING]],
                "source": entry.source,
                **({"asOf": entry.as_of} if entry.as_of else {}),
            }
            for model_id, entry in given.customization.items()
            if CUSTOMIZATION_FIGURES[_TRAINING] in entry.figures
        }
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def training_prices_environment(given: GivenPrices | None) -> dict[str, str]:
    """The Validate function's environment for ``given``: empty when it gives no training
    price. Raises ``ValueError`` when it would not fit ``ENVIRONMENT_BUDGET``."""
    if given is None or not given.training_models():
        return {}
    value = training_prices_document(given)
    size = len(ENVIRONMENT_VARIABLE.encode()) + len(value.encode("utf-8"))
    if size > ENVIRONMENT_BUDGET:
        raise ValueError(
            f"prices file {given.origin}: its training prices take {size:,} bytes in the Validate "
            f"function's environment variable {ENVIRONMENT_VARIABLE}; the stack allows "
            f"{ENVIRONMENT_BUDGET:,} of Lambda's 4 KB for all of a function's variables. Shorten "
            "the source texts (a URL or a short name is enough) or give fewer models"
        )
    return {ENVIRONMENT_VARIABLE: value}


def prices_from_environment(environ: Mapping[str, str]) -> PriceTable:
    """The prices the Validate function uses: the shipped ones with the stack's over them."""
    value = environ.get(ENVIRONMENT_VARIABLE, "")
    if not value:
        return load_prices()
    return with_given(
        load_prices(), parse_price_file(value, f"{ENVIRONMENT_VARIABLE} (the stack's pricesFile)")
    )
