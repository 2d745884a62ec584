"""The ``split``, ``augment`` and ``models`` subcommands of the ``bedrock-customize`` CLI.

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


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``split``, ``augment``, ``prepare-rft`` and ``models`` to the CLI's subcommands."""
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
