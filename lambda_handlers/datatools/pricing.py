"""Customization prices and the training cost estimate built on them.

The figures live in ``lambda_handlers/data/prices.json`` with their source and date; this
module only reads them and does arithmetic. A figure that was not found is ``None`` all the
way through: an estimate says "unknown" rather than quoting a number nobody checked. Figures
the user gives (a prices file, ``price_file``) replace the shipped ones and are cited with
their own source (``ModelPrices.source_of``).

Training is billed per token processed, that is tokens per epoch times epochs. The token
count a user has before a job runs is itself an estimate, and AWS bills the tokens its
tokenizer counts, so every estimate carries a disclaimer saying which estimate it is: the
validator's, one token per 3 UTF-8 bytes (``lambda_handlers.validation.tokens``), which errs
high on purpose.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from lambda_handlers.common.catalogue import find_model, models

BYTES_PER_TOKEN = 3
"""``lambda_handlers.validation.tokens.BYTES_PER_TOKEN``, repeated so that reading prices (the
stack does, at synthesis) does not load the validation engine; a test keeps them equal."""

TOKEN_ESTIMATE = (
    f"one token per {BYTES_PER_TOKEN} UTF-8 bytes of each record's text, rounded up: the "
    "validator's conservative estimate, about twice as many tokens as AWS's planning figure of "
    "6 characters per token for English, so the cost errs high"
)
"""How ``validate`` and ``estimate-cost`` count tokens (``lambda_handlers.validation.tokens``)."""

BILLING_NOTE = (
    "AWS bills the tokens it actually counts, for every epoch. Prices are from the source and "
    "date shown and may have changed since. Storage of the custom model is billed every month "
    "until it is deleted, and serving it is billed separately."
)
DISCLAIMER = (
    f"Estimate only: the tokens are estimated from the data, {TOKEN_ESTIMATE}; {BILLING_NOTE}"
)


def usd_text(value: float) -> str:
    """``$1,234.57``; an amount under a cent keeps its first three significant digits
    (``$0.000149``), so a cost above zero never reads ``$0.00``."""
    if value == 0 or abs(value) >= 0.01:
        return f"${value:,.2f}"
    exact = Decimal(repr(value))
    shown = exact.quantize(Decimal(1).scaleb(exact.adjusted() - 2))
    return f"${format(shown.normalize(), 'f')}"


@dataclass(frozen=True)
class ModelPrices:
    """Customization prices of one base model, in USD; ``None`` where the figure is unknown."""

    model_id: str
    training_usd_per_1k_tokens: float | None
    storage_usd_per_month: float | None
    provisioned_no_commitment_usd_per_mu_hour: float | None
    provisioned_one_month_usd_per_mu_hour: float | None
    provisioned_six_months_usd_per_mu_hour: float | None
    source: str
    as_of: str
    """The date the figures were seen on the pricing page (or the search found none)."""
    note: str = ""
    figure_sources: tuple[tuple[str, str, str], ...] = ()
    """``(attribute, source, as_of)`` of each figure that does not come from ``source`` (a
    figure from a prices file the user gave)."""

    def source_of(self, attribute: str) -> tuple[str, str]:
        """``(source, as_of)`` of one figure, e.g. ``training_usd_per_1k_tokens``."""
        for name, source, as_of in self.figure_sources:
            if name == attribute:
                return source, as_of
        return self.source, self.as_of


@dataclass(frozen=True)
class PriceTable:
    """The whole price file: per-model prices and where they came from."""

    checked: str
    sources: tuple[str, ...]
    models: dict[str, ModelPrices] = field(default_factory=dict)


@dataclass(frozen=True)
class CostEstimate:
    """The training cost of one job, with what it rests on."""

    model_id: str
    tokens_per_epoch: int
    epochs: int
    total_tokens: int
    usd_per_1k_tokens: float | None
    training_usd: float | None
    """``None`` when the training price is unknown."""
    storage_usd_per_month: float | None
    source: str
    checked: str
    """The date the price was seen (``as_of`` of the model's prices)."""
    disclaimer: str
    price_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The estimate as plain JSON-ready values."""
        return asdict(self)


def is_amount(value: Any) -> bool:
    """A finite JSON number (``true``/``false`` are not numbers here)."""
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def price_or_none(value: Any, where: str) -> float | None:
    """A figure of ``prices.json``: a non-negative number, or null for one not found."""
    if value is None:
        return None
    if not is_amount(value) or value < 0:
        raise ValueError(
            f"prices.json: {where} must be a non-negative number or null, got {value!r}"
        )
    return float(value)


def parse_prices(raw: dict[str, Any]) -> PriceTable:
    """Build a ``PriceTable`` from the JSON document of ``prices.json``."""
    entries: dict[str, ModelPrices] = {}
    for model_id, entry in raw["models"].items():
        provisioned = entry.get("provisionedThroughputUsdPerModelUnitHour") or {}
        entries[model_id] = ModelPrices(
            model_id=model_id,
            training_usd_per_1k_tokens=price_or_none(
                entry.get("trainingUsdPer1kTokens"), f"{model_id}.trainingUsdPer1kTokens"
            ),
            storage_usd_per_month=price_or_none(
                entry.get("storageUsdPerMonth"), f"{model_id}.storageUsdPerMonth"
            ),
            provisioned_no_commitment_usd_per_mu_hour=price_or_none(
                provisioned.get("noCommitment"), f"{model_id}.noCommitment"
            ),
            provisioned_one_month_usd_per_mu_hour=price_or_none(
                provisioned.get("oneMonth"), f"{model_id}.oneMonth"
            ),
            provisioned_six_months_usd_per_mu_hour=price_or_none(
                provisioned.get("sixMonths"), f"{model_id}.sixMonths"
            ),
            source=entry.get("source", ""),
            as_of=entry.get("asOf", raw.get("checked", "")),
            note=entry.get("note", ""),
        )
    return PriceTable(checked=raw["checked"], sources=tuple(raw["sources"]), models=entries)


@cache
def load_prices() -> PriceTable:
    """The price table shipped with the package (``lambda_handlers/data/prices.json``)."""
    text = resources.files("lambda_handlers").joinpath("data/prices.json").read_text("utf-8")
    return parse_prices(json.loads(text))


def _resolve_model_id(identifier: str) -> str:
    model = find_model(identifier)
    if model is None:
        known = ", ".join(sorted(models()))
        raise ValueError(f"unknown model {identifier!r}; known models: {known}")
    return model.model_id


def prices_for(identifier: str, *, prices: PriceTable | None = None) -> ModelPrices:
    """The prices of a catalogued model, by model id or foundation-model ARN.

    Raises ``ValueError`` naming the known models when the identifier is not catalogued. A
    catalogued model missing from the price file gets all-unknown prices, so an estimate
    says "unknown" instead of failing.
    """
    model_id = _resolve_model_id(identifier)
    table = prices if prices is not None else load_prices()
    found = table.models.get(model_id)
    if found is not None:
        return found
    return ModelPrices(
        model_id=model_id,
        training_usd_per_1k_tokens=None,
        storage_usd_per_month=None,
        provisioned_no_commitment_usd_per_mu_hour=None,
        provisioned_one_month_usd_per_mu_hour=None,
        provisioned_six_months_usd_per_mu_hour=None,
        source="",
        as_of=table.checked,
        note="no entry in the price file",
    )


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def estimate_training_cost(
    model_id: str, tokens_per_epoch: int, epochs: int, *, prices: PriceTable | None = None
) -> CostEstimate:
    """The training cost of ``epochs`` passes over ``tokens_per_epoch`` tokens.

    ``model_id`` is a catalogued model id or its foundation-model ARN. ``prices`` defaults to
    the shipped table; tests pass their own. The dollar figure is computed in decimal and
    exact (price x tokens / 1,000 has a finite decimal expansion), so it has no binary
    floating-point noise and a small amount is never rounded to zero. Raises ``ValueError`` for
    an unknown model (naming the known ones) and for counts that are not positive integers.
    """
    _positive_int(tokens_per_epoch, "tokens_per_epoch")
    _positive_int(epochs, "epochs")
    model_prices = prices_for(model_id, prices=prices)
    total_tokens = tokens_per_epoch * epochs
    per_1k = model_prices.training_usd_per_1k_tokens
    training_usd = (
        None if per_1k is None else float(Decimal(repr(per_1k)) * total_tokens / Decimal(1000))
    )
    source, as_of = model_prices.source_of("training_usd_per_1k_tokens")
    return CostEstimate(
        model_id=model_prices.model_id,
        tokens_per_epoch=tokens_per_epoch,
        epochs=epochs,
        total_tokens=total_tokens,
        usd_per_1k_tokens=per_1k,
        training_usd=training_usd,
        storage_usd_per_month=model_prices.storage_usd_per_month,
        source=source,
        checked=as_of,
        disclaimer=DISCLAIMER,
        price_note=model_prices.note,
    )
