"""A spending ceiling on a training job, checked before the job is submitted.

``check_training_cost`` compares ``pricing.estimate_training_cost`` with the ceiling. It never
passes silently on missing data: when the model's training price is unknown and a ceiling is
set, the check is refused (``allowed=False``) with a reason saying the ceiling cannot be
enforced without a price, and the caller decides (give a price, raise the ceiling to "none",
or stop). Without a ceiling every job is allowed, and the reason says no ceiling was set.

The estimate rests on estimated tokens (see ``pricing.DISCLAIMER``), so a job just under the
ceiling can still cost more than it; the reason says "estimated".

``epochs_for`` reads the epoch count a job will use from its hyperparameters, which the
Bedrock API takes as strings, or falls back to the model family's default.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

from lambda_handlers.common.catalogue import find_model
from lambda_handlers.datatools.pricing import PriceTable, estimate_training_cost

EPOCH_COUNT = "epochCount"
_WHOLE = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class CostCheck:
    """The verdict of a ceiling check and what it rests on."""

    estimate: dict[str, Any]
    """``pricing.CostEstimate.to_dict()``: tokens, price, source, date, disclaimer."""
    max_usd: float | None
    """The ceiling; ``None`` when none was set."""
    allowed: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """The check as plain JSON-ready values."""
        return asdict(self)


def _usd(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:g}"


def check_training_cost(
    model_id: str,
    tokens_per_epoch: int,
    epochs: int,
    max_usd: float | None,
    *,
    prices: PriceTable | None = None,
) -> CostCheck:
    """Whether a job of ``epochs`` x ``tokens_per_epoch`` tokens stays within ``max_usd``.

    A cost equal to the ceiling is allowed. ``prices`` defaults to the shipped price table.
    Raises ``ValueError`` for an unknown model, counts that are not positive integers and a
    ceiling that is not a finite number of 0 or more.
    """
    if max_usd is not None and (
        isinstance(max_usd, bool)
        or not isinstance(max_usd, int | float)
        or not math.isfinite(max_usd)
        or max_usd < 0
    ):
        raise ValueError(f"max_usd must be a number of 0 or more, or None, got {max_usd!r}")
    estimate = estimate_training_cost(model_id, tokens_per_epoch, epochs, prices=prices)
    cost = estimate.training_usd
    tokens = f"{estimate.total_tokens:,} tokens ({tokens_per_epoch:,} x {epochs} epochs)"
    if max_usd is None:
        figure = "unknown (no price)" if cost is None else f"about {_usd(cost)}"
        return CostCheck(
            estimate.to_dict(),
            None,
            True,
            f"no ceiling set; estimated training cost of {tokens}: {figure}",
        )
    ceiling = float(max_usd)
    if cost is None:
        return CostCheck(
            estimate.to_dict(),
            ceiling,
            False,
            f"the ceiling of {_usd(ceiling)} cannot be enforced without a price: the training "
            f"price of {estimate.model_id} is unknown ({estimate.price_note or 'no figure'}); "
            "give a price, or decide without a ceiling",
        )
    # The estimate is computed in decimal and rounded, so a cost equal to the ceiling compares
    # equal here rather than a binary-rounding hair above it.
    if cost <= ceiling:
        return CostCheck(
            estimate.to_dict(),
            ceiling,
            True,
            f"estimated {_usd(cost)} for {tokens} is within the ceiling of {_usd(ceiling)}",
        )
    return CostCheck(
        estimate.to_dict(),
        ceiling,
        False,
        f"estimated {_usd(cost)} for {tokens} exceeds the ceiling of {_usd(ceiling)}",
    )


def epochs_for(hyperparameters: dict[str, str], default: int | None) -> int | None:
    """The epochs a job will run: its ``epochCount`` hyperparameter, else ``default``.

    Hyperparameters are strings in the Bedrock API (``{"epochCount": "3"}``). Raises
    ``ValueError`` when ``epochCount`` is present but not a whole number of 1 or more, so a
    typo never turns into the default silently. ``default`` is usually
    ``default_epochs(model_id)``; ``None`` means the epochs are not known.
    """
    if EPOCH_COUNT not in hyperparameters:
        return default
    raw = hyperparameters[EPOCH_COUNT]
    text = str(raw)
    if isinstance(raw, bool) or not _WHOLE.fullmatch(text) or int(text) < 1:
        raise ValueError(f"{EPOCH_COUNT} must be a whole number of 1 or more, got {raw!r}")
    return int(text)


def default_epochs(model_id: str) -> int | None:
    """The default ``epochCount`` of the model's family, from the catalogue.

    ``None`` when the model is not catalogued or its hyperparameters are not published.
    """
    model = find_model(model_id)
    if model is None or model.hyperparameters is None:
        return None
    rule = model.hyperparameters.get(EPOCH_COUNT)
    return None if rule is None else int(rule.default)
