"""The ``split``, ``augment``, ``prepare-rft``, ``models`` and ``compare-costs`` subcommands of the ``bedrock-customize`` CLI.

``register(subparsers)`` adds the subcommands to the top-level parser; each sets ``func``
(and ``handler``, the same function, for an entry point that dispatches on that name), so the
entry point ends with ``return args.func(args)``. A command function only turns
arguments into a call of the pure function and the result into output.

Output: a short line for people, or the report as JSON on stdout with ``--json``.
Exit codes: 0 success; 2 usage error (bad argument values, missing input file, an output
that would overwrite the input), with one line on stderr starting with ``error: ``;
1 for other I/O failures (disk full, permission denied), also as one ``error: `` line.
argparse itself exits 2 for arguments it cannot parse.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lambda_handlers.datatools.augment import MAX_FACTOR, augment_jsonl
from lambda_handlers.datatools.catalogue_table import format_table, models_table
from lambda_handlers.datatools.compare_costs import (
    COMMAND_LINE,
    CostComparison,
    PriceOverrides,
    compare_costs,
)
from lambda_handlers.datatools.prepare_rft import RFT_MIN_RECORDS, prepare_rft
from lambda_handlers.datatools.split import split_jsonl

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def _error(message: str, code: int) -> int:
    """Print one ``error: `` line (never a traceback) and return the exit code."""
    text = " ".join(str(message).split())
    print(f"error: {text}", file=sys.stderr)
    return code


def _fail(exc: ValueError | OSError) -> int:
    """Report an error a command caught as one ``error: `` line; return its exit code."""
    if isinstance(exc, ValueError):
        return _error(str(exc), EXIT_USAGE)
    where = f": {exc.filename}" if exc.filename else ""
    code = (
        EXIT_USAGE
        if isinstance(exc, FileNotFoundError | IsADirectoryError | NotADirectoryError)
        else EXIT_FAILURE
    )
    return _error(f"{exc.strerror or exc}{where}", code)


def _print_json(report: dict[str, Any] | list[dict[str, Any]]) -> None:
    print(json.dumps(report, indent=2, ensure_ascii=False))


def _beside(source: Path, suffix: str) -> Path:
    """``data.jsonl`` -> ``data<suffix>`` in the same folder (``data.txt`` -> ``data.txt<suffix>``)."""
    stem = source.name[: -len(".jsonl")] if source.name.endswith(".jsonl") else source.name
    return source.with_name(stem + suffix)


def _input_file(path: Path) -> int | None:
    """A usage error when ``path`` is not an existing file, checked before anything is written."""
    if not path.exists():
        return _error(f"no such file: {path}", EXIT_USAGE)
    if not path.is_file():
        return _error(f"not a file: {path}", EXIT_USAGE)
    return None


def cmd_split(args: argparse.Namespace) -> int:
    """``split FILE --validation-fraction F``: write FILE's training and validation halves."""
    if (code := _input_file(args.file)) is not None:
        return code
    train_out = args.train_out or _beside(args.file, ".train.jsonl")
    validation_out = args.validation_out or _beside(args.file, ".validation.jsonl")
    try:
        report = split_jsonl(
            args.file,
            train_out,
            validation_out,
            validation_fraction=args.validation_fraction,
            seed=args.seed,
            stratify=args.stratify,
            label_field=args.label_field,
        )
    except (ValueError, OSError) as exc:
        return _fail(exc)
    if args.json:
        _print_json(report.to_dict())
        return EXIT_OK
    notes = [f"seed {report.seed}"]
    if report.stratified:
        notes.append(f"stratified by {report.label_field!r}")
    if report.skipped_blank:
        notes.append(f"{report.skipped_blank} blank lines skipped")
    if report.unparsed:
        notes.append(f"{report.unparsed} unparsed lines kept in training")
    print(
        f"{report.train} records -> {train_out}, {report.validation} -> {validation_out} "
        f"({', '.join(notes)})"
    )
    return EXIT_OK


def cmd_augment(args: argparse.Namespace) -> int:
    """``augment FILE --factor N``: write FILE with prefixed prompt variants."""
    if (code := _input_file(args.file)) is not None:
        return code
    out = args.out or _beside(args.file, ".augmented.jsonl")
    try:
        report = augment_jsonl(args.file, out, factor=args.factor, seed=args.seed)
    except (ValueError, OSError) as exc:
        return _fail(exc)
    if args.json:
        _print_json(report.to_dict())
        return EXIT_OK
    unchanged = report.without_prompt + report.unparsed
    print(
        f"{report.lines_written} lines -> {out} ({report.augmented} records x{report.factor}, "
        f"{unchanged} copied unchanged); near-duplicates: validate and deduplicate before training"
    )
    return EXIT_OK


def cmd_prepare_rft(args: argparse.Namespace) -> int:
    """``prepare-rft PAIRS``: write the RFT records of PAIRS' preference pairs."""
    if (code := _input_file(args.file)) is not None:
        return code
    out = args.out or _beside(args.file, ".rft.jsonl")
    try:
        report = prepare_rft(args.file, out)
    except (ValueError, OSError) as exc:
        return _fail(exc)
    if args.json:
        _print_json(report.to_dict())
        return EXIT_OK
    notes = []
    if report.invalid:
        first = report.invalid_examples[0]
        notes.append(
            f"{report.invalid} invalid pair{'s' if report.invalid != 1 else ''} skipped, "
            f"first on line {first.line}: {first.reason}"
        )
    if report.identical:
        notes.append(
            f"{report.identical} pair{'s' if report.identical != 1 else ''} with identical "
            f"chosen and rejected answers (no signal), first on line {report.identical_lines[0]}"
        )
    if not report.within_rft_bounds:
        notes.append(
            f"Bedrock RFT needs {report.rft_min_records} to {report.rft_max_records} records"
        )
    detail = f" ({'; '.join(notes)})" if notes else ""
    print(f"{report.written} RFT records -> {out}{detail}")
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    """``models``: the catalogue of customizable base models."""
    rows = models_table()
    if args.json:
        _print_json(rows)
    else:
        sys.stdout.write(format_table(rows))
    return EXIT_OK


def _dollars(usd: float | None) -> str:
    if usd is None:
        return "unknown"
    # A known cost under a cent keeps its digits: "$0.00" would read as free.
    return f"${usd:.6f}" if 0 < usd < 0.01 else f"${usd:,.2f}"


def format_comparison(comparison: CostComparison) -> str:
    """The short human table of a comparison: estimate banner, options, break-even, sources."""
    w = comparison.workload
    lines = [
        f"ESTIMATE, not a quote: {w.requests_per_day:,} requests a day for {w.days} days, "
        f"{w.input_tokens_per_request:,} input + {w.output_tokens_per_request:,} output tokens "
        "each",
        f"base model {comparison.base_model}, {comparison.custom_units} model unit"
        f"{'s' if comparison.custom_units != 1 else ''}"
        + (f", student {comparison.student_model}" if comparison.student_model else ""),
    ]
    sources: list[str] = []
    rows: list[tuple[str, str, str]] = []
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
        rows.append((option.label, _dollars(option.usd), where))
    width = max(len("OPTION"), *(len(label) for label, _, _ in rows))
    cost_title = f"COST, {w.days} DAYS"
    cost_width = max(len(cost_title), *(len(cost) for _, cost, _ in rows))
    lines.append(f"{'OPTION':<{width}}  {cost_title:>{cost_width}}  PRICES")
    lines += [f"{label:<{width}}  {cost:>{cost_width}}  {where}" for label, cost, where in rows]
    unknown = [option.label for option in comparison.options if option.usd is None]
    if comparison.cheapest is None:
        lines.append("cheapest: unknown (no option has a known cost)")
    else:
        best = comparison.option(comparison.cheapest)
        caveat = (
            f" (among the options with a known cost; {len(unknown)} unknown could be lower)"
            if unknown
            else ""
        )
        lines.append(f"cheapest: {best.label}, {_dollars(best.usd)}{caveat}")
    unknown_evens = [even for even in comparison.break_even if even.requests_per_day is None]
    if unknown_evens == list(comparison.break_even) and len({e.note for e in unknown_evens}) == 1:
        lines.append(f"break-even on demand vs provisioned: {unknown_evens[0].note}")
    else:
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
    lines += [
        f"note: {option.label}: {note}" for option in comparison.options for note in option.notes
    ]
    lines.append(
        "prices: "
        + ("  ".join(f"[{n}] {s}" for n, s in enumerate(sources, 1)) if sources else "none known")
    )
    lines.append("assumptions:")
    lines += [f"  - {item}" for item in comparison.assumptions]
    lines.append(comparison.disclaimer)
    return "\n".join(lines) + "\n"


def cmd_compare_costs(args: argparse.Namespace) -> int:
    """``compare-costs``: the cost of serving a workload on demand, provisioned or distilled."""
    try:
        comparison = compare_costs(
            requests_per_day=args.requests_per_day,
            input_tokens_per_request=args.input_tokens,
            output_tokens_per_request=args.output_tokens,
            days=args.days,
            base_model=args.base_model,
            custom_units=args.custom_units,
            student_model=args.student_model,
            overrides=PriceOverrides(
                on_demand_input=args.price_on_demand_input,
                on_demand_output=args.price_on_demand_output,
                provisioned_no_commitment=args.price_provisioned_hour,
                provisioned_one_month=args.price_provisioned_hour_1_month,
                provisioned_six_months=args.price_provisioned_hour_6_months,
                storage_month=args.price_storage_month,
                student_input=args.price_student_input,
                student_output=args.price_student_output,
                student_storage_month=args.price_student_storage_month,
            ),
        )
    except ValueError as exc:
        return _fail(exc)
    if args.json:
        _print_json(comparison.to_dict())
    else:
        sys.stdout.write(format_comparison(comparison))
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``split``, ``augment``, ``prepare-rft``, ``models`` and ``compare-costs``."""
    split = subparsers.add_parser(
        "split",
        help="split a JSONL file into training and validation files, deterministically",
        description="Split FILE into FILE.train.jsonl and FILE.validation.jsonl (by default) "
        "with exactly round(F x records) records in validation, per label when stratified. "
        "The same seed always gives the same files.",
    )
    split.add_argument("file", type=Path, metavar="FILE", help="JSONL file to split")
    split.add_argument(
        "--validation-fraction",
        type=float,
        required=True,
        metavar="F",
        help="share of records for validation, greater than 0 and less than 1",
    )
    split.add_argument(
        "--stratify",
        action="store_true",
        help="keep the fraction per value of --label-field (for classification data)",
    )
    split.add_argument(
        "--label-field",
        default="completion",
        metavar="NAME",
        help="field holding the label when stratifying (default: completion)",
    )
    split.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default: 0)")
    split.add_argument("--train-out", type=Path, metavar="PATH", help="training output file")
    split.add_argument("--validation-out", type=Path, metavar="PATH", help="validation output file")
    split.add_argument("--json", action="store_true", help="print the report as JSON")
    split.set_defaults(func=cmd_split, handler=cmd_split)

    augment = subparsers.add_parser(
        "augment",
        help="add prefixed copies of each prompt (naive; validate and deduplicate afterwards)",
        description="Write each prompt/completion record followed by N-1 copies whose prompt "
        "starts with a prefix such as 'Question: '. A naive technique: it repeats completions "
        "and can cause overfitting. Split first and augment only the training file.",
    )
    augment.add_argument("file", type=Path, metavar="FILE", help="JSONL file to augment")
    augment.add_argument(
        "--factor",
        type=int,
        required=True,
        metavar="N",
        help=f"copies of each record, original included (1 to {MAX_FACTOR})",
    )
    augment.add_argument(
        "--seed", type=int, default=0, metavar="N", help="random seed (default: 0)"
    )
    augment.add_argument(
        "--out", type=Path, metavar="PATH", help="output file (default: FILE.augmented.jsonl)"
    )
    augment.add_argument("--json", action="store_true", help="print the report as JSON")
    augment.set_defaults(func=cmd_augment, handler=cmd_augment)

    rft = subparsers.add_parser(
        "prepare-rft",
        help="turn preference pairs into reinforcement fine-tuning (RFT) records",
        description="Write one RFT record per valid line of PAIRS ({prompt, chosen, rejected, "
        "score?}): the prompt as the user message, chosen/rejected/score as the "
        "reference_answer that the preference grader reads. Invalid pairs are skipped and "
        f"counted with their line. Bedrock RFT needs at least {RFT_MIN_RECORDS} records.",
    )
    rft.add_argument("file", type=Path, metavar="PAIRS", help="JSONL file of preference pairs")
    rft.add_argument(
        "--out", type=Path, metavar="PATH", help="output file (default: PAIRS.rft.jsonl)"
    )
    rft.add_argument("--json", action="store_true", help="print the report as JSON")
    rft.set_defaults(func=cmd_prepare_rft, handler=cmd_prepare_rft)

    listing = subparsers.add_parser(
        "models",
        help="list the customizable base models, their approaches and hyperparameters",
        description="The model catalogue: approaches, serving modes, Regions and "
        "hyperparameter ranges of each customizable base model.",
    )
    listing.add_argument("--json", action="store_true", help="print the rows as JSON")
    listing.set_defaults(func=cmd_models, handler=cmd_models)

    costs = subparsers.add_parser(
        "compare-costs",
        help="estimate what serving a workload costs: base model on demand, custom model on "
        "provisioned throughput, distilled student per token",
        description="An ESTIMATE of the cost of serving REQUESTS a day for DAYS days each way, "
        "the cheapest option and the daily volume above which provisioned throughput is "
        "cheaper than on demand. Prices come from the package's prices.json (source and date "
        "shown) unless given here; a price nobody found is reported as unknown, never as zero.",
    )
    costs.add_argument(
        "--requests-per-day", type=int, required=True, metavar="N", help="requests a day"
    )
    costs.add_argument(
        "--input-tokens", type=int, required=True, metavar="N", help="input tokens per request"
    )
    costs.add_argument(
        "--output-tokens", type=int, required=True, metavar="N", help="output tokens per request"
    )
    costs.add_argument(
        "--days", type=int, default=30, metavar="N", help="length of the period (default: 30)"
    )
    costs.add_argument(
        "--base-model",
        required=True,
        metavar="ID",
        help="base model: catalogue id, foundation-model ARN or on-demand id "
        "(e.g. amazon.nova-pro-v1:0); see: bedrock-customize models",
    )
    costs.add_argument(
        "--custom-units",
        type=int,
        default=1,
        metavar="N",
        help="model units of provisioned throughput for the custom model (default: 1)",
    )
    costs.add_argument(
        "--student-model", metavar="ID", help="distilled student model to compare (optional)"
    )
    for flag, meta, text in (
        ("--price-on-demand-input", "USD_PER_1K", "base model on demand, per 1,000 input tokens"),
        ("--price-on-demand-output", "USD_PER_1K", "base model on demand, per 1,000 output tokens"),
        ("--price-provisioned-hour", "USD", "per model unit hour, no commitment"),
        ("--price-provisioned-hour-1-month", "USD", "per model unit hour, 1-month commitment"),
        ("--price-provisioned-hour-6-months", "USD", "per model unit hour, 6-month commitment"),
        ("--price-storage-month", "USD", "storage of the custom model per month"),
        ("--price-student-input", "USD_PER_1K", "student per token, per 1,000 input tokens"),
        ("--price-student-output", "USD_PER_1K", "student per token, per 1,000 output tokens"),
        ("--price-student-storage-month", "USD", "storage of the student model per month"),
    ):
        costs.add_argument(
            flag, type=float, metavar=meta, help=f"{text} (default: from prices.json)"
        )
    costs.add_argument("--json", action="store_true", help="print the comparison as JSON")
    costs.set_defaults(func=cmd_compare_costs, handler=cmd_compare_costs)
