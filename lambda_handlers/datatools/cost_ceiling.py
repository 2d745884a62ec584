"""A spending ceiling on a training job, checked before the job is submitted.

``check_training_cost`` compares ``pricing.estimate_training_cost`` with the ceiling. It never
passes silently on missing data: when the model's training price is unknown and a ceiling is
set, the check is refused (``allowed=False``) with a reason saying the ceiling cannot be
enforced without a price, and the caller decides (give a price, raise the ceiling to "none",
or stop). Without a ceiling every job is allowed, and the reason says no ceiling was set.

The estimate rests on estimated tokens (see ``pricing.DISCLAIMER``), so a job just under the
ceiling can still cost more than it; the reason says "estimated".

``epochs_for`` reads the epoch count a job will use from its hyperparameters, which the
Bedrock API takes as strings, or falls back to the model family's default; ``epoch_range``
says which counts the model accepts.

Where the training price is unknown the refusal names the missing figure and how to give it:
``how_to_price`` is the caller's way (``--prices FILE`` on the command line, the stack's
``pricesFile`` context value for the workflow).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from lambda_handlers.common.catalogue import find_model
from lambda_handlers.datatools.pricing import PriceTable, estimate_training_cost, usd_text

EPOCH_COUNT = "epochCount"
RFT_EPOCHS = (1, 50)
"""``rftConfig.hyperParameters.epochCount`` (botocore's service model); AWS gives no default."""
HOW_TO_PRICE = (
    "give the figure in a prices file: --prices FILE on the command line, or the stack's "
    "pricesFile context value (cdk deploy -c pricesFile=FILE)"
)
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


_usd = usd_text


def _exact(value: float) -> str:
    return f"${format(Decimal(repr(float(value))).normalize(), 'f')}"


def _both(cost: float, ceiling: float) -> tuple[str, str]:
    """The cost and the ceiling as text, with every digit when rounding makes them look equal
    (``$0.0298`` over ``$0.029``, not ``$0.03`` over ``$0.03``)."""
    shown = _usd(cost), _usd(ceiling)
    return (_exact(cost), _exact(ceiling)) if shown[0] == shown[1] else shown


def check_training_cost(
    model_id: str,
    tokens_per_epoch: int,
    epochs: int,
    max_usd: float | None,
    *,
    prices: PriceTable | None = None,
    how_to_price: str = HOW_TO_PRICE,
) -> CostCheck:
    """Whether a job of ``epochs`` x ``tokens_per_epoch`` tokens stays within ``max_usd``.

    A cost equal to the ceiling is allowed. ``prices`` defaults to the shipped price table;
    ``how_to_price`` ends the refusal when the training price is unknown.
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
            f"price of {estimate.model_id} (trainingUsdPer1kTokens, USD per 1,000 tokens) is "
            f"not in the prices used ({estimate.source or 'no source'}); {how_to_price}, or "
            "decide without a ceiling",
        )
    # The estimate is computed in decimal and rounded, so a cost equal to the ceiling compares
    # equal here rather than a binary-rounding hair above it.
    cost_text, ceiling_text = _both(cost, ceiling)
    if cost <= ceiling:
        return CostCheck(
            estimate.to_dict(),
            ceiling,
            True,
            f"estimated {cost_text} for {tokens} is within the ceiling of {ceiling_text}",
        )
    return CostCheck(
        estimate.to_dict(),
        ceiling,
        False,
        f"estimated {cost_text} for {tokens} exceeds the ceiling of {ceiling_text}",
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


def epoch_range(model_id: str, customization_type: str) -> tuple[int, int, int | None] | None:
    """``(min, max, default)`` epochs the model accepts for the approach, from the catalogue
    (``rftConfig``'s range for reinforcement fine-tuning, which has no default); ``None`` when
    they are not published (Nova 2 Lite and Llama 3.3 70B fine-tuning)."""
    if customization_type == "REINFORCEMENT_FINE_TUNING":
        return RFT_EPOCHS[0], RFT_EPOCHS[1], None
    model = find_model(model_id)
    if model is None or model.hyperparameters is None:
        return None
    rule = model.hyperparameters.get(EPOCH_COUNT)
    if rule is None:
        return None
    return int(rule.minimum), int(rule.maximum), int(rule.default)


def default_epochs(model_id: str) -> int | None:
    """The default ``epochCount`` of the model's family, from the catalogue.

    ``None`` when the model is not catalogued or its hyperparameters are not published.
    """
    model = find_model(model_id)
    if model is None or model.hyperparameters is None:
        return None
    rule = model.hyperparameters.get(EPOCH_COUNT)
    return None if rule is None else int(rule.default)
