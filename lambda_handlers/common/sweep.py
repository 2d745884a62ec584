"""A hyperparameter sweep: the request's ``sweep`` expanded into runs, and what bounds it.

Pure: no AWS. ``expand`` gives each run's full hyperparameters (the request's with the run's
set over them); a grid is every combination, its names in alphabetical order, the last name
varying fastest, so the same request gives the same runs in the same order wherever it is
read (Validate, the abort cleanup). ``request_checks`` checks each set against the model's
ranges and calls ``count_problems``, ``measure_problems`` and ``duplicate_problems``;
``plan.make_plan`` names the runs; Validate holds the whole sweep to the cost ceiling
(``check_sweep_cost``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lambda_handlers.common.request import (
    SWEEP_DEFAULT_MAX_RUNS,
    SWEEP_HARD_MAX_RUNS,
    SWEEP_MIN_RUNS,
    CustomizationRequest,
    SweepConfig,
)
from lambda_handlers.datatools.cost_ceiling import HOW_TO_PRICE, CostCheck, check_training_cost
from lambda_handlers.datatools.pricing import PriceTable, estimate_training_cost, usd_text

MIN_RUNS = SWEEP_MIN_RUNS
HARD_MAX_RUNS = SWEEP_HARD_MAX_RUNS
"""The most runs any sweep may have, whatever the stack allows: each run is a training job
billed in full, and the Map that runs them and the output that lists them stay small."""
DEFAULT_MAX_RUNS = SWEEP_DEFAULT_MAX_RUNS
"""The stack's limit when its owner sets none (``MAX_SWEEP_RUNS``)."""
RAISE_SWEEP_RUNS = "spending_limits.max_sweep_runs (context maxSweepRuns)"
"""How the stack owner raises the stack's limit, up to ``HARD_MAX_RUNS``."""

MEASURES_SUPPORTED = ("validationLoss", "trainingLoss")


def api_string(value: str | int | float) -> str:
    """A hyperparameter as the Bedrock API takes it: a string (``2.0`` -> ``"2"``,
    ``1e-05`` -> ``"1e-05"``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def run_count(sweep: SweepConfig) -> int:
    """How many runs the sweep asks for, without expanding it (a grid's product)."""
    if sweep.runs is not None:
        return len(sweep.runs)
    if sweep.grid is not None:
        return math.prod(len(values) for values in sweep.grid.values())
    return 0


def _grid_shape(sweep: SweepConfig) -> str:
    """`` (grid: 2 x 3)`` for a grid, in its names' order; empty for a list of runs."""
    if sweep.runs is not None or sweep.grid is None:
        return ""
    sizes = " x ".join(str(len(sweep.grid[name])) for name in sorted(sweep.grid))
    return f" (grid {sizes})"


def _grid_sets(grid: dict[str, list[Any]]) -> Iterator[dict[str, Any]]:
    names = sorted(grid)
    for combination in itertools.product(*(grid[name] for name in names)):
        yield dict(zip(names, combination, strict=True))


def run_sets(sweep: SweepConfig) -> list[dict[str, Any]]:
    """Each run's own set, in run order. Raises ``ValueError`` past ``HARD_MAX_RUNS`` (a
    checked request never is), so a huge grid is never built."""
    count = run_count(sweep)
    if count > HARD_MAX_RUNS:
        raise ValueError(f"sweep: {count} runs; at most {HARD_MAX_RUNS}")
    if sweep.runs is not None:
        return [dict(run) for run in sweep.runs]
    return list(_grid_sets(sweep.grid or {}))


def expand(request: CustomizationRequest) -> list[dict[str, Any]]:
    """Each run's full hyperparameters: the request's ``hyperParameters`` with the run's set
    over them, in run order; ``[]`` without a sweep."""
    if request.sweep is None:
        return []
    return [{**request.hyperParameters, **own} for own in run_sets(request.sweep)]


def resolved_measure(request: CustomizationRequest) -> str:
    """The measure that picks the winner: the request's, else the validation loss when there
    is validation data, else the training loss."""
    if request.sweep is not None and request.sweep.measure is not None:
        return request.sweep.measure
    return "validationLoss" if request.validationDataConfig is not None else "trainingLoss"


def concurrency(sweep: SweepConfig, stack_limit: int | None = None) -> int:
    """``maxConcurrency``, lowered to the number of runs and to the stack's limit
    (``MAX_SWEEP_CONCURRENCY``), never refused for being larger: more at once only finishes
    sooner, and the stack's limit keeps the Map's waits inside the execution's history."""
    limits = [sweep.maxConcurrency, run_count(sweep)]
    if stack_limit is not None:
        limits.append(stack_limit)
    return max(1, min(limits))


# -- what request_checks reports ----------------------------------------------------------


def shape_problems(sweep: SweepConfig) -> list[str]:
    """Exactly one of ``runs`` or ``grid``."""
    if (sweep.runs is None) == (sweep.grid is None):
        return [
            "sweep: give exactly one of runs (a list of hyperparameter sets) or grid "
            "(a list of values per hyperparameter, every combination is run)"
        ]
    return []


def count_problems(
    sweep: SweepConfig, limit: int = HARD_MAX_RUNS, *, stack: bool = False
) -> list[str]:
    """At least ``MIN_RUNS`` runs and at most ``limit``; ``stack``: the limit is the stack's
    (``RAISE_SWEEP_RUNS`` raises it), else the hard maximum, which nothing raises."""
    count, shape = run_count(sweep), _grid_shape(sweep)
    if count < MIN_RUNS:
        return [
            f"sweep: {count} run{'' if count == 1 else 's'}{shape}; a sweep needs at least "
            f"{MIN_RUNS} (for one job, give its settings in hyperParameters without a sweep)"
        ]
    if count <= limit:
        return []
    if stack:
        return [
            f"sweep: {count} runs{shape}; this stack allows at most {limit} per sweep; ask for "
            f"fewer, or the stack owner raises it with {RAISE_SWEEP_RUNS} "
            f"(up to {HARD_MAX_RUNS})"
        ]
    return [
        f"sweep: {count} runs{shape}; a sweep has at most {HARD_MAX_RUNS} runs (each run is a "
        "training job billed in full); split it into several sweeps"
    ]


def measure_problems(sweep: SweepConfig, has_validation_data: bool) -> list[str]:
    """A measure this workflow can read: ``evaluation`` not yet, ``validationLoss`` only with
    validation data."""
    if sweep.measure == "evaluation":
        return [
            "sweep.measure: 'evaluation' is not supported yet: choose validationLoss or "
            "trainingLoss"
        ]
    if sweep.measure == "validationLoss" and not has_validation_data:
        return [
            "sweep.measure: 'validationLoss' needs validationDataConfig (no validation loss "
            "without validation data); give validation data or choose trainingLoss"
        ]
    return []


def checked_sets(sweep: SweepConfig) -> Iterator[tuple[str, str, str, Any]]:
    """``(where the name is, where the value is, name, value)`` of every value the sweep
    gives, each once: a run's ``sweep.runs[2].learningRate`` (both); a grid's value
    ``sweep.grid.learningRate[1]``, its name ``sweep.grid.learningRate``. Checking each grid
    value once checks every combination, ranges being per name."""
    if sweep.runs is not None:
        for i, run in enumerate(sweep.runs):
            for name, value in run.items():
                yield f"sweep.runs[{i}].{name}", f"sweep.runs[{i}].{name}", name, value
    elif sweep.grid is not None:
        for name, values in sweep.grid.items():
            for j, value in enumerate(values):
                yield f"sweep.grid.{name}", f"sweep.grid.{name}[{j}]", name, value


def duplicate_problems(sweep: SweepConfig, base: dict[str, Any]) -> list[str]:
    """Two runs that would train the same: each is billed. Values are compared as the API
    takes them (``2`` and ``"2"`` are the same)."""
    problems: list[str] = []
    if sweep.runs is not None:
        seen: dict[tuple[tuple[str, str], ...], int] = {}
        for i, run in enumerate(sweep.runs):
            full = {**base, **run}
            key = tuple(sorted((k, api_string(v)) for k, v in full.items()))
            if key in seen:
                problems.append(
                    f"sweep.runs[{i}]: the same hyperparameters as sweep.runs[{seen[key]}] "
                    "(after the request's hyperParameters); each run is a job billed in full"
                )
            else:
                seen[key] = i
    elif sweep.grid is not None:
        for name, values in sweep.grid.items():
            first: dict[str, int] = {}
            for j, value in enumerate(values):
                text = api_string(value)
                if text in first:
                    problems.append(
                        f"sweep.grid.{name}[{j}]: the same value as sweep.grid.{name}[{first[text]}]"
                    )
                else:
                    first[text] = j
    return problems


# -- the whole sweep's cost ---------------------------------------------------------------


@dataclass(frozen=True)
class RunCost:
    """One run as the cost check sees it: a name for messages and its epochs."""

    label: str
    epochs: int


@dataclass(frozen=True)
class SweepCostCheck:
    """The ceiling check of the whole sweep (``check``: the total) and each run's estimate."""

    check: CostCheck
    runs: list[dict[str, Any]]

    @property
    def allowed(self) -> bool:
        return self.check.allowed


def check_sweep_cost(
    model_id: str,
    tokens_per_epoch: int,
    runs: list[RunCost],
    max_usd: float | None,
    *,
    prices: PriceTable | None = None,
    how_to_price: str = HOW_TO_PRICE,
    whose: str = "",
) -> SweepCostCheck:
    """The sweep's estimate is the sum of its runs' (each run ``tokens_per_epoch`` x its own
    epochs, one price): checked against ``max_usd`` as one job of all their epochs is. A
    refusal names the sweep, the total, the ceiling (and ``whose`` it is) and the most
    expensive run. Raises ``ValueError`` without runs, and as ``check_training_cost`` does."""
    if not runs:
        raise ValueError("a sweep has at least one run to cost")
    total_epochs = sum(run.epochs for run in runs)
    check = check_training_cost(
        model_id, tokens_per_epoch, total_epochs, max_usd, prices=prices, how_to_price=how_to_price
    )
    listed: list[dict[str, Any]] = []
    for run in runs:
        estimate = estimate_training_cost(model_id, tokens_per_epoch, run.epochs, prices=prices)
        listed.append(
            {"run": run.label, "epochs": run.epochs, "training_usd": estimate.training_usd}
        )
    costliest = max(range(len(runs)), key=lambda i: runs[i].epochs)
    usd = listed[costliest]["training_usd"]
    most = f"{runs[costliest].label}, {runs[costliest].epochs} epochs" + (
        f", about {usd_text(usd)}" if usd is not None else ""
    )
    held = f" ({whose})" if whose else ""
    reason = (
        f"the sweep of {len(runs)} runs: {check.reason}{held}; the most expensive run is {most}"
    )
    return SweepCostCheck(CostCheck(check.estimate, check.max_usd, check.allowed, reason), listed)
