"""``estimate-cost`` (what training costs) and ``--prices FILE``, the prices file every command
that computes a cost takes (``estimate-cost``, ``compare-costs``).

``estimate-cost`` prints the model's training price with its source and date; with a data
file (or ``--tokens``) it estimates the job: tokens per epoch x epochs x price. The epochs
default to the model family's and are refused outside the model's range (the catalogue,
``lambda_handlers/data/models.json``). A price nobody published is said to be unknown, with
how to give it (``--prices``); a cost above zero is never printed as ``$0.00``.
"""

from __future__ import annotations

import argparse
from typing import Any

from lambda_handlers.cli.console import Output
from lambda_handlers.cli.errors import EXIT_OK, UsageError, library_errors
from lambda_handlers.cli.help import add_command
from lambda_handlers.common.catalogue import BaseModel, find_model
from lambda_handlers.datatools.compare_costs import MAX_COUNT
from lambda_handlers.datatools.cost_ceiling import epoch_range
from lambda_handlers.datatools.price_file import GivenPrices, effective_prices, read_price_file
from lambda_handlers.datatools.pricing import (
    BILLING_NOTE,
    TOKEN_ESTIMATE,
    CostEstimate,
    ModelPrices,
    estimate_training_cost,
    prices_for,
    usd_text,
)

TYPES = ("FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION", "REINFORCEMENT_FINE_TUNING")
HOW_TO_PRICE = "give it with --prices FILE (a JSON file in the format of prices.json)"
PRICES_HELP = (
    "a prices file in the format of the package's prices.json, with only the figures you have "
    "(negotiated, or not published): each replaces the shipped figure for its model and is "
    "cited with the file's source (see the README, Costs and cleanup)"
)

_NOTES = {
    "DISTILLATION": "distillation also bills the teacher model's inference that writes the "
    "training responses; that is not included",
    "REINFORCEMENT_FINE_TUNING": "reinforcement fine-tuning also bills the responses it "
    "generates for each prompt and the grader's Lambda invocations; those are not included",
}


# --- --prices ------------------------------------------------------------------------------


def add_prices_argument(parser: argparse.ArgumentParser) -> None:
    """``--prices FILE`` on a command that computes a cost."""
    parser.add_argument("--prices", metavar="FILE", help=PRICES_HELP)


def given_prices(args: argparse.Namespace) -> GivenPrices | None:
    """The checked prices file of ``--prices``, or ``None``; a file that cannot be read is an
    environment error (exit 3), one that is not a usable prices file a usage error (exit 2)."""
    if not getattr(args, "prices", None):
        return None
    with library_errors():
        return read_price_file(args.prices)


# --- estimate-cost -------------------------------------------------------------------------


def _model(identifier: str, customization_type: str) -> BaseModel:
    model = find_model(identifier)
    if model is None:
        raise UsageError(
            f"unknown model {identifier!r}; give a catalogue id (see: bedrock-customize models)"
        )
    if customization_type not in model.customization_types:
        raise UsageError(
            f"{model.model_id} does not support {customization_type}; it supports "
            f"{', '.join(model.customization_types)} (see: bedrock-customize models)"
        )
    return model


def _epochs(args: argparse.Namespace, model: BaseModel) -> tuple[int | None, str]:
    """The epochs to estimate with and how they were chosen; refused outside the model's range."""
    bounds = epoch_range(model.model_id, args.type)
    if args.epochs is None:
        if bounds is None or bounds[2] is None:
            return None, "no default published: give --epochs"
        return bounds[2], f"the model's default; it accepts {bounds[0]} to {bounds[1]}"
    if bounds is None:
        if args.epochs < 1:
            raise UsageError(f"--epochs must be 1 or more, got {args.epochs}")
        return args.epochs, "given; this model's range is not published"
    low, high, default = bounds
    if not low <= args.epochs <= high:
        default_text = f", default {default}" if default is not None else ""
        raise UsageError(
            f"--epochs {args.epochs} is outside what {model.model_id} accepts for {args.type}: "
            f"{low} to {high}{default_text} (see: bedrock-customize models)"
        )
    return args.epochs, f"given; the model accepts {low} to {high}"


def _cited(prices: ModelPrices, attribute: str) -> str:
    source, as_of = prices.source_of(attribute)
    return f"{source} (as of {as_of})" if as_of else source


def _price_lines(prices: ModelPrices) -> list[str]:
    training = prices.training_usd_per_1k_tokens
    lines = [
        "prices: training "
        + (
            f"{usd_text(training)} per 1,000 tokens, from {_cited(prices, 'training_usd_per_1k_tokens')}"
            if training is not None
            else f"unknown: no source gives it for {prices.model_id}; {HOW_TO_PRICE}"
        )
    ]
    storage = prices.storage_usd_per_month
    if storage is not None:
        where = _cited(prices, "storage_usd_per_month")
        same = training is not None and where == _cited(prices, "training_usd_per_1k_tokens")
        lines.append(
            f"storage of the custom model: {usd_text(storage)} a month until it is deleted, "
            + ("same source" if same else f"from {where}")
        )
    return lines


def _tokens(args: argparse.Namespace, out: Output) -> tuple[int | None, dict[str, Any] | None]:
    """Tokens per epoch (from TRAIN, or --tokens) and the data report when TRAIN was read."""
    if args.train is not None and args.tokens is not None:
        raise UsageError("give TRAIN or --tokens, not both")
    if args.tokens is not None:
        if not 1 <= args.tokens <= MAX_COUNT:
            raise UsageError(f"--tokens must be from 1 to {MAX_COUNT:,}, got {args.tokens}")
        return args.tokens, None
    if args.train is None:
        return None, None
    from lambda_handlers.cli.data_commands import validate_files

    report = validate_files(
        out,
        args.train,
        None,
        customization_type=args.type,
        base_model=args.base_model,
        max_examples=3,
    )
    return report["trainingTokensPerEpoch"], report


def _show_estimate(
    out: Output, estimate: CostEstimate, epochs_how: str, from_data: bool, prices: ModelPrices
) -> None:
    cost = (
        f"about {usd_text(estimate.training_usd)}"
        if estimate.training_usd is not None
        else "unknown (no training price)"
    )
    out.line(
        f"ESTIMATE: {estimate.total_tokens:,} tokens ({estimate.tokens_per_epoch:,} per epoch x "
        f"{estimate.epochs} epochs) -> training {cost}"
    )
    for line in _price_lines(prices):
        out.line(line)
    out.line(f"epochs: {estimate.epochs} ({epochs_how})")
    if from_data:
        out.line(f"tokens: estimated from the data, {TOKEN_ESTIMATE}")
        out.line(estimate.disclaimer)
    else:
        out.line("tokens: as given with --tokens")
        out.line(f"Estimate only: {BILLING_NOTE}")


def _json(
    model: BaseModel,
    args: argparse.Namespace,
    prices: ModelPrices,
    estimate: CostEstimate | None,
    epochs_how: str,
    report: dict[str, Any] | None,
) -> dict[str, Any]:
    from lambda_handlers.validation.engine import summary

    training_source, training_as_of = prices.source_of("training_usd_per_1k_tokens")
    result: dict[str, Any] = {
        "model": model.model_id,
        "type": args.type,
        "trainingUsdPer1kTokens": prices.training_usd_per_1k_tokens,
        "trainingPriceSource": training_source,
        "trainingPriceAsOf": training_as_of,
        "storageUsdPerMonth": prices.storage_usd_per_month,
        "epochs": epochs_how,
        "tokenEstimate": TOKEN_ESTIMATE if report is not None else "given with --tokens",
        "estimate": None if estimate is None else estimate.to_dict(),
        "notes": [_NOTES[args.type]] if args.type in _NOTES else [],
    }
    if report is not None:
        result["dataVerdict"] = report["verdict"]
        result["dataSummary"] = summary(report)
    return result


def cmd_estimate_cost(args: argparse.Namespace, out: Output) -> int:
    """``estimate-cost [TRAIN | --tokens N] --type T --base-model M [--epochs N] [--prices F]``."""
    model = _model(args.base_model, args.type)
    epochs, epochs_how = _epochs(args, model)
    table = effective_prices(given_prices(args))
    prices = prices_for(model.model_id, prices=table)
    tokens, report = _tokens(args, out)
    if tokens is not None and epochs is None:
        raise UsageError(
            f"--epochs is needed: {model.model_id} has no published default for {args.type}"
        )
    estimate = None
    if tokens is not None and epochs is not None:
        with library_errors():
            estimate = estimate_training_cost(model.model_id, tokens, epochs, prices=table)
    if args.json:
        out.json(_json(model, args, prices, estimate, epochs_how, report))
        return EXIT_OK
    if estimate is None:
        out.line(f"ESTIMATE: training {model.model_id} ({args.type}), per 1,000 tokens x epochs")
        for line in _price_lines(prices):
            out.line(line)
        out.line(f"epochs: {epochs if epochs is not None else '?'} ({epochs_how})")
        out.line("give TRAIN (a JSONL file) or --tokens N for the cost of a job")
    else:
        _show_estimate(out, estimate, epochs_how, report is not None, prices)
    if args.type in _NOTES:
        out.line(f"note: {_NOTES[args.type]}.")
    if report is not None and report["verdict"] != "valid":
        out.line(f"note: the data has errors ({', '.join(report['errors'])}); run validate first.")
    return EXIT_OK


def add_estimate_cost(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``estimate-cost``."""
    parser = add_command(
        subparsers,
        "estimate-cost",
        summary="estimate the training cost of a dataset (tokens x epochs x price)",
        description="Print the model's training price with its source and date and, given "
        "TRAIN (or --tokens), estimate the job: tokens per epoch x epochs x price. An "
        "estimate, not a quote: the tokens of TRAIN are estimated as the validator does, one "
        "token per 3 UTF-8 bytes (conservative, about twice AWS's 6-characters-per-token "
        "planning figure), and AWS bills the tokens it counts. --epochs defaults to the "
        "model's default and must be within the model's range. A price no source gives is "
        "reported as unknown, never as zero; give it with --prices FILE.",
        examples=(
            "bedrock-customize estimate-cost --type FINE_TUNING "
            "--base-model meta.llama3-1-8b-instruct-v1:0:128k",
            "bedrock-customize estimate-cost train.jsonl --type FINE_TUNING "
            "--base-model cohere.command-text-v14:7:4k --epochs 3",
            "bedrock-customize estimate-cost --tokens 2000000 --type FINE_TUNING "
            "--base-model amazon.nova-lite-v1:0:300k --prices negotiated.json",
        ),
    )
    parser.add_argument(
        "train", nargs="?", help="training JSONL: a local path or s3://bucket/key (optional)"
    )
    parser.add_argument("--type", required=True, choices=TYPES, help="customization type")
    parser.add_argument(
        "--base-model", required=True, help="base model id, e.g. amazon.nova-lite-v1:0:300k"
    )
    parser.add_argument(
        "--epochs",
        type=int,
        metavar="N",
        help="epochs (default: the model's default; refused outside the model's range)",
    )
    parser.add_argument(
        "--tokens", type=int, metavar="N", help="tokens per epoch, instead of reading TRAIN"
    )
    add_prices_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the estimate as JSON")
    parser.set_defaults(func=cmd_estimate_cost)
