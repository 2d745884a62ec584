"""Commands about base models, with no data file: ``models`` (the catalogue) and
``compare-costs`` (what serving a workload costs each way).
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Column, Table

from lambda_handlers.cli.console import Output
from lambda_handlers.cli.cost_commands import add_prices_argument, given_prices
from lambda_handlers.cli.errors import EXIT_OK, UsageError, library_errors
from lambda_handlers.cli.help import add_command
from lambda_handlers.common.catalogue import models
from lambda_handlers.datatools.compare_costs import (
    COMMAND_LINE,
    MAX_COUNT,
    CostComparison,
    PriceOverrides,
    compare_costs,
    load_on_demand,
    with_given_on_demand,
)
from lambda_handlers.datatools.price_file import with_given
from lambda_handlers.datatools.pricing import load_prices, usd_text

# --- models ----------------------------------------------------------------------------------


def catalogue_rows() -> list[dict[str, Any]]:
    """One JSON-ready row per catalogued model, in catalogue order (``models --json``).

    ``hyperparameters`` is a list of ``{name, type, min, max, default, description}``, or
    ``None`` when AWS has not published them for the model; ``hyperparameters_note`` then
    says so.
    """
    rows: list[dict[str, Any]] = []
    for model in models().values():
        rules = model.hyperparameters
        rows.append(
            {
                "model_id": model.model_id,
                "name": model.name,
                "legacy": model.legacy,
                "approaches": list(model.customization_types),
                "serving_modes": list(model.serving_modes),
                "regions": list(model.regions),
                "hyperparameters": None
                if rules is None
                else [
                    {
                        "name": rule.name,
                        "type": rule.kind,
                        "min": rule.minimum,
                        "max": rule.maximum,
                        "default": rule.default,
                        "description": rule.describe(),
                    }
                    for rule in rules.values()
                ],
                "hyperparameters_note": model.hyperparameters_note,
            }
        )
    return rows


MODELS_WIDTH = 100
"""Columns of the ``models`` table, piped or on a terminal."""


def _model_cell(row: dict[str, Any]) -> str:
    # The name and Regions go under the id, the details in one column beside it: the table
    # fits 100 columns, the id is never cut and each detail keeps a line of its own.
    name = f"{row['name']} (legacy)" if row.get("legacy") else row["name"]
    return f"{row['model_id']}\n{name}\n{', '.join(row['regions'])}"


def _details_cell(row: dict[str, Any]) -> str:
    lines = [", ".join(row["approaches"]), "serving: " + ", ".join(row["serving_modes"])]
    if row["hyperparameters"] is None:
        lines.append(row.get("hyperparameters_note") or "hyperparameters not published")
    else:
        lines += [h.get("description") or h["name"] for h in row["hyperparameters"]]
    return "\n".join(lines)


def catalogue_table(out: Output, rows: list[dict[str, Any]]) -> Table:
    """The rows as a table of ``MODELS_WIDTH`` columns: one value a line, a rule between models."""
    table = out.table(
        Column("MODEL (id, name, Regions)", no_wrap=True),
        Column("APPROACHES, SERVING, HYPERPARAMETERS", overflow="fold"),
        row_lines=True,
    )
    table.width = MODELS_WIDTH
    for row in rows:
        table.add_row(_model_cell(row), _details_cell(row))
    return table


def cmd_models(args: argparse.Namespace, out: Output) -> int:
    """``models``: the catalogue of customizable base models."""
    rows = catalogue_rows()
    if args.json:
        out.json(rows)
    else:
        out.show(catalogue_table(out, rows))
    return EXIT_OK


# --- compare-costs ---------------------------------------------------------------------------


def dollars(usd: float | None) -> str:
    """``$1,234.50``; a known cost under a cent keeps its digits (``$0.000035``): ``$0.00``
    would read as free."""
    return "unknown" if usd is None else usd_text(usd)


_COUNTS = (
    # (argument, flag, least value): the counts compare-costs multiplies and divides by.
    ("requests_per_day", "--requests-per-day", 1),
    ("input_tokens", "--input-tokens", 1),
    ("output_tokens", "--output-tokens", 0),
    ("days", "--days", 1),
    ("custom_units", "--custom-units", 1),
)


def _check_counts(args: argparse.Namespace) -> None:
    """Refuse, by flag, a count compare-costs cannot compute with."""
    for name, flag, least in _COUNTS:
        value = getattr(args, name)
        if not least <= value <= MAX_COUNT:
            raise UsageError(f"{flag} must be from {least} to {MAX_COUNT:,}, got {value}")


def _cite(comparison: CostComparison) -> tuple[list[str], list[str]]:
    """Each option's price references (``[1] [2]``, what is still needed) and the sources."""
    sources: list[str] = []
    wheres: list[str] = []
    for option in comparison.options:
        refs: list[str] = []
        for price in option.prices:
            if price.usd is None:
                continue
            if price.source.startswith(COMMAND_LINE):
                cited = COMMAND_LINE
            else:
                cited = f"{price.source} (as of {price.as_of})" if price.as_of else price.source
            if cited not in sources:
                sources.append(cited)
            ref = f"[{sources.index(cited) + 1}]"
            if ref not in refs:
                refs.append(ref)
        needs = [price.flag for price in option.prices if price.usd is None]
        where = " ".join(refs)
        if needs:
            where = f"{where} needs {', '.join(needs)}".strip()
        wheres.append(where)
    return wheres, sources


def comparison_table(out: Output, comparison: CostComparison, wheres: list[str]) -> Table:
    """One row per option: its cost over the period and the prices it rests on."""
    table = out.table(
        "OPTION",
        Column(f"COST, {comparison.workload.days} DAYS", justify="right", no_wrap=True),
        Column("PRICES", overflow="fold"),
    )
    for option, where in zip(comparison.options, wheres, strict=True):
        table.add_row(option.label, dollars(option.usd), where)
    return table


def _cheapest_line(comparison: CostComparison) -> str:
    if comparison.cheapest is None:
        return "cheapest: unknown (no option has a known cost)"
    best = comparison.option(comparison.cheapest)
    unknown = [option.label for option in comparison.options if option.usd is None]
    caveat = (
        f" (among the options with a known cost; {len(unknown)} unknown could be lower)"
        if unknown
        else ""
    )
    return f"cheapest: {best.label}, {dollars(best.usd)}{caveat}"


def _break_even_lines(comparison: CostComparison) -> list[str]:
    unknown = [even for even in comparison.break_even if even.requests_per_day is None]
    if unknown == list(comparison.break_even) and len({even.note for even in unknown}) == 1:
        return [f"break-even on demand vs provisioned: {unknown[0].note}"]
    lines = []
    for even in comparison.break_even:
        term = comparison.option(even.provisioned_option).label.rsplit(", ", 1)[-1]
        if even.requests_per_day is None:
            lines.append(f"break-even, {term}: {even.note}")
            continue
        now = (
            "provisioned is cheaper"
            if even.provisioned_is_cheaper_now
            else "on demand costs the same or less"
        )
        lines.append(
            f"break-even, {term}: {even.requests_per_day:,.2f} requests a day "
            f"(provisioned is cheaper above it; at this volume {now})"
        )
    return lines


def show_comparison(out: Output, comparison: CostComparison) -> None:
    """The estimate banner, the options table, cheapest, break-even, sources, assumptions."""
    w = comparison.workload
    out.line(
        f"ESTIMATE, not a quote: {w.requests_per_day:,} requests a day for {w.days} days, "
        f"{w.input_tokens_per_request:,} input + {w.output_tokens_per_request:,} output tokens "
        "each",
        style="bold",
    )
    out.line(
        f"base model {comparison.base_model}, {comparison.custom_units} model unit"
        f"{'s' if comparison.custom_units != 1 else ''}"
        + (f", student {comparison.student_model}" if comparison.student_model else "")
    )
    wheres, sources = _cite(comparison)
    out.show(comparison_table(out, comparison, wheres))
    out.line(_cheapest_line(comparison))
    for line in _break_even_lines(comparison):
        out.line(line)
    for option in comparison.options:
        for note in option.notes:
            out.line(f"note: {option.label}: {note}")
    cited = "  ".join(f"[{n}] {source}" for n, source in enumerate(sources, 1))
    out.line("prices: " + (cited or "none known"))
    out.line("assumptions:")
    for item in comparison.assumptions:
        out.line(f"  - {item}")
    out.line(comparison.disclaimer)


def cmd_compare_costs(args: argparse.Namespace, out: Output) -> int:
    """``compare-costs``: the cost of serving a workload on demand, provisioned or distilled.

    Prices: a ``--price-...`` flag, else the ``--prices`` file, else the shipped prices.json."""
    _check_counts(args)
    given = given_prices(args)
    overrides = PriceOverrides(
        on_demand_input=args.price_on_demand_input,
        on_demand_output=args.price_on_demand_output,
        provisioned_no_commitment=args.price_provisioned_hour,
        provisioned_one_month=args.price_provisioned_hour_1_month,
        provisioned_six_months=args.price_provisioned_hour_6_months,
        storage_month=args.price_storage_month,
        student_input=args.price_student_input,
        student_output=args.price_student_output,
        student_storage_month=args.price_student_storage_month,
    )
    with library_errors():
        comparison = compare_costs(
            requests_per_day=args.requests_per_day,
            input_tokens_per_request=args.input_tokens,
            output_tokens_per_request=args.output_tokens,
            days=args.days,
            base_model=args.base_model,
            custom_units=args.custom_units,
            student_model=args.student_model,
            overrides=overrides,
            prices=with_given(load_prices(), given),
            on_demand=with_given_on_demand(load_on_demand(), given),
        )
    if args.json:
        out.json(comparison.to_dict())
    else:
        show_comparison(out, comparison)
    return EXIT_OK


# --- the parsers -----------------------------------------------------------------------------

_PRICE_FLAGS = (
    ("--price-on-demand-input", "USD_PER_1K", "base model on demand, per 1,000 input tokens"),
    ("--price-on-demand-output", "USD_PER_1K", "base model on demand, per 1,000 output tokens"),
    ("--price-provisioned-hour", "USD", "per model unit hour, no commitment"),
    ("--price-provisioned-hour-1-month", "USD", "per model unit hour, 1-month commitment"),
    ("--price-provisioned-hour-6-months", "USD", "per model unit hour, 6-month commitment"),
    ("--price-storage-month", "USD", "storage of the custom model per month"),
    ("--price-student-input", "USD_PER_1K", "student per token, per 1,000 input tokens"),
    ("--price-student-output", "USD_PER_1K", "student per token, per 1,000 output tokens"),
    ("--price-student-storage-month", "USD", "storage of the student model per month"),
)


def _add_models(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(
        subparsers,
        "models",
        summary="list the customizable base models, their approaches and hyperparameters",
        description="The model catalogue: approaches, serving modes, Regions and "
        "hyperparameter ranges of each customizable base model, as a table that fits 100 "
        "columns (--json: every field).",
        examples=("bedrock-customize models", "bedrock-customize models --json"),
    )
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.set_defaults(func=cmd_models)


def _add_compare_costs(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(
        subparsers,
        "compare-costs",
        summary="estimate what serving a workload costs: base model on demand, custom model on "
        "provisioned throughput, distilled student per token",
        examples=(
            "bedrock-customize compare-costs --requests-per-day 5000 --input-tokens 800 "
            "--output-tokens 200 --base-model amazon.nova-lite-v1:0:300k",
        ),
        description="An ESTIMATE of the cost of serving REQUESTS a day for DAYS days each way, "
        "the cheapest option and the daily volume above which provisioned throughput is "
        "cheaper than on demand. Prices come from the package's prices.json (source and date "
        "shown) unless given here, by a --price-... flag or in a --prices file (a flag wins); "
        "a price nobody found is reported as unknown, never as zero. Counts are whole numbers "
        "from 1 (0 for --output-tokens) to 10^15; prices are numbers above 0.",
    )
    parser.add_argument(
        "--requests-per-day", type=int, required=True, metavar="N", help="requests a day"
    )
    parser.add_argument(
        "--input-tokens", type=int, required=True, metavar="N", help="input tokens per request"
    )
    parser.add_argument(
        "--output-tokens", type=int, required=True, metavar="N", help="output tokens per request"
    )
    parser.add_argument(
        "--days", type=int, default=30, metavar="N", help="length of the period (default: 30)"
    )
    parser.add_argument(
        "--base-model",
        required=True,
        metavar="ID",
        help="base model: catalogue id, foundation-model ARN or on-demand id "
        "(e.g. amazon.nova-pro-v1:0); see: bedrock-customize models",
    )
    parser.add_argument(
        "--custom-units",
        type=int,
        default=1,
        metavar="N",
        help="model units of provisioned throughput for the custom model (default: 1)",
    )
    parser.add_argument(
        "--student-model", metavar="ID", help="distilled student model to compare (optional)"
    )
    for flag, meta, text in _PRICE_FLAGS:
        parser.add_argument(
            flag, type=float, metavar=meta, help=f"{text} (default: from prices.json)"
        )
    add_prices_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    parser.set_defaults(func=cmd_compare_costs)


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``models`` and ``compare-costs``."""
    _add_models(subparsers)
    _add_compare_costs(subparsers)
