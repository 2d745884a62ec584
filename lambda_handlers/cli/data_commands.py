"""Commands over a training data file: ``validate``, ``split``, ``augment`` and ``prepare-rft``
(and ``estimate-cost``, added beside ``validate`` from ``cost_commands``).

Each command parses its arguments, calls the library (the validation engine,
``lambda_handlers.datatools``) and prints a short report, or the full one as JSON with
``--json``. ``validate`` exits 0 when the data is valid and 1 when it is not. The commands
that write files (``split``, ``augment``, ``prepare-rft``) refuse an output that exists unless
``--force``, take ``-`` for stdout (their report then goes to stderr) and write through a
device, FIFO or symlink rather than replace it.
"""

from __future__ import annotations

import argparse
import os
import stat
from pathlib import Path
from typing import Any

from rich.table import Column, Table

from lambda_handlers.cli.console import Output
from lambda_handlers.cli.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EnvironmentProblem,
    UsageError,
    library_errors,
    os_error,
)
from lambda_handlers.cli.help import add_command
from lambda_handlers.datatools._jsonl import Target, check_distinct
from lambda_handlers.datatools.augment import MAX_FACTOR, augment_jsonl
from lambda_handlers.datatools.prepare_rft import RFT_MIN_RECORDS, prepare_rft
from lambda_handlers.datatools.split import split_jsonl
from lambda_handlers.validation import open_source, validate_dataset
from lambda_handlers.validation.rules import DatasetRules, rules_for
from lambda_handlers.validation.shards import validate_in_parallel, workers_for
from lambda_handlers.validation.sources import describe_path

TYPES = ("FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION", "REINFORCEMENT_FINE_TUNING")
NOVA = "amazon.nova-lite-v1:0:300k"
STDOUT = "-"
PROGRESS_MIN_BYTES = 16 * 1024 * 1024
"""Inputs smaller than this validate in a few seconds: no progress bar."""


# --- validate (estimate-cost reads data through validate_files) -------------------------


def _rules(base_model: str, customization_type: str) -> DatasetRules:
    try:
        return rules_for(base_model, customization_type)
    except ValueError as error:
        first_line = str(error).splitlines()[0]
        raise UsageError(f"{first_line} (see: bedrock-customize models)") from error


def validate_files(
    out: Output,
    train: str,
    validation: str | None,
    *,
    customization_type: str,
    base_model: str,
    max_examples: int,
    near_duplicates: bool = False,
    workers: int | None = None,
) -> dict[str, Any]:
    """The validation report of the files, with a progress bar for large inputs on a terminal.

    ``workers``: processes to use (``None``: every allowed core for large inputs, one for
    small ones); with more than one the files are cut into shards that give the same report.
    """
    rules = _rules(base_model, customization_type)
    with library_errors():
        training_source = open_source(train)
        validation_source = open_source(validation) if validation else None
    total = sum(source.size or 0 for source in (training_source, validation_source) if source)
    processes = workers_for(total, workers)
    with (
        out.progress("validating", total, min_total=PROGRESS_MIN_BYTES) as advance,
        library_errors(),
    ):
        if processes > 1:
            return validate_in_parallel(
                train,
                validation,
                customization_type=customization_type,
                base_model=base_model,
                workers=processes,
                max_examples=max_examples,
                rules=rules,
                near_duplicates=near_duplicates,
                progress=advance,
            )
        return validate_dataset(
            training_source,
            validation_source,
            customization_type=customization_type,
            base_model=base_model,
            max_examples=max_examples,
            progress=advance,
            rules=rules,
            near_duplicates=near_duplicates,
        )


def report_lines(report: dict[str, Any]) -> list[str]:
    """The report's summary: one line per file, the format and limits, the token counts."""
    lines = [
        f"{role}: {info['name']}: {info['records']:,} records ({info['usableRecords']:,} usable), "
        f"{info['bytes'] / 1e6:.1f} MB"
        for role, info in report["files"].items()
    ]
    limits = report["limits"]
    bounds = f"{limits['minRecords'] or '-'}..{limits['maxRecords'] or '-'} records"
    per_record = (
        f"{limits['maxTokensPerRecord']} tokens/record"
        if limits["maxTokensPerRecord"]
        else "no token limit published"
    )
    lines.append(f"format: {report['format']}; limits: {bounds}, {per_record}")
    tokens = report["files"]["training"]["tokens"]
    lines.append(
        f"estimated tokens per record: min {tokens['min']:,}, median {tokens['median']:,}, "
        f"p95 {tokens['p95']:,}, max {tokens['max']:,}; "
        f"per epoch {report['trainingTokensPerEpoch']:,}"
    )
    return lines


def findings_table(out: Output, report: dict[str, Any]) -> Table:
    """One row per finding code: errors first, its count, and where it first occurs."""
    table = out.table(
        "SEVERITY",
        "FINDING",
        Column("COUNT", justify="right"),
        Column("FIRST AT", overflow="fold"),
        Column("MESSAGE", max_width=80),
    )
    for severity, counts in (("error", report["errors"]), ("warning", report["warnings"])):
        style = "red" if severity == "error" else "yellow"
        for code, count in counts.items():
            examples = report["examples"].get(code) or [{}]
            first = examples[0]
            where = (
                f"{first.get('file', '')}:{first['line']}"
                if "line" in first
                else first.get("file", "")
            )
            at = f"{where} {first.get('path', '')}".strip()
            table.add_row(severity, code, f"{count:,}", at, first.get("message", ""), style=style)
    return table


def show_report(out: Output, report: dict[str, Any]) -> None:
    """The human form of a validation report: summary lines, findings, the verdict last."""
    for line in report_lines(report):
        out.line(line)
    if report["errors"] or report["warnings"]:
        out.show(findings_table(out, report))
    verdict = report["verdict"].upper()
    if report["errors"]:
        codes = ", ".join(report["errors"])
        out.line(
            f"{verdict}: fix the errors above ({codes}); warnings never block.", style="bold red"
        )
    else:
        out.line(verdict + (" (with warnings)" if report["warnings"] else ""), style="bold green")


def cmd_validate(args: argparse.Namespace, out: Output) -> int:
    """``validate TRAIN [--validation FILE]``: check data against the model's format and quotas."""
    if args.max_examples < 0:
        raise UsageError(f"--max-examples must be 0 or more, got {args.max_examples}")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be 1 or more, got {args.workers}")
    report = validate_files(
        out,
        args.train,
        args.validation,
        customization_type=args.type,
        base_model=args.base_model,
        max_examples=args.max_examples,
        near_duplicates=True,
        workers=args.workers,
    )
    if args.json:
        out.json(report)
    else:
        show_report(out, report)
    return EXIT_OK if report["verdict"] == "valid" else EXIT_FAILED


# --- split, augment, prepare-rft -------------------------------------------------------------


def _beside(source: Path, suffix: str) -> Path:
    """``data.jsonl`` -> ``data<suffix>`` in the same folder (``data.txt`` -> ``data.txt<suffix>``)."""
    stem = source.name[: -len(".jsonl")] if source.name.endswith(".jsonl") else source.name
    return source.with_name(stem + suffix)


def _input_file(path: Path) -> Path:
    """``path``, or a usage error when it is not an existing file (checked before any write)."""
    what = describe_path(path)
    if what is not None:
        raise UsageError(f"{path} is {what}, not a file; give the path of a JSONL file")
    if not os.access(path, os.R_OK):
        raise EnvironmentProblem(f"{path}: permission denied; check its permissions")
    return path


def _output(out: Output, path: Path, flag: str, force: bool) -> Target:
    """Where to write ``path``: stdout for ``-``; refused when it exists (without ``--force``).

    A device or a FIFO (``/dev/null``, a named pipe) exists but is written through, never
    replaced, so it needs no ``--force``; a symlink is followed.
    """
    if str(path) == STDOUT:
        return out.data_stream()
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if not path.is_symlink() and not path.parent.is_dir():
            raise UsageError(
                f"{flag} {path}: no such folder {path.parent}; create it or choose another path"
            ) from None
        return path
    except OSError as error:
        raise os_error(error) from error
    if stat.S_ISDIR(mode):
        raise UsageError(f"{flag} {path} is a folder; give the path of a file")
    if stat.S_ISREG(mode) and not force:
        raise UsageError(
            f"{path} exists; pass --force to replace it, or choose another path with {flag}"
        )
    return path


def _outputs(out: Output, source: Path, force: bool, /, **paths: tuple[str, Path]) -> list[Target]:
    """The targets of ``paths`` (name: (flag, path)), checked against the source and each other
    before the existence check, so the more useful message comes first."""
    if sum(str(path) == STDOUT for _, path in paths.values()) > 1:
        flags = " and ".join(flag for flag, _ in paths.values())
        raise UsageError(f"only one of {flags} can be - (stdout)")
    with library_errors():
        check_distinct(
            source, **{name: path for name, (_, path) in paths.items() if str(path) != STDOUT}
        )
    return [_output(out, path, flag, force) for flag, path in paths.values()]


def _reporting(out: Output, *targets: Target) -> Output:
    """Where the command's own report goes: stderr when stdout carries the data."""
    return out.to_stderr() if any(not isinstance(t, Path) for t in targets) else out


def cmd_split(args: argparse.Namespace, out: Output) -> int:
    """``split FILE --validation-fraction F``: write FILE's training and validation halves."""
    source = _input_file(args.file)
    train_path = args.train_out or _beside(source, ".train.jsonl")
    validation_path = args.validation_out or _beside(source, ".validation.jsonl")
    train_out, validation_out = _outputs(
        out,
        source,
        args.force,
        train_out=("--train-out", train_path),
        validation_out=("--validation-out", validation_path),
    )
    with library_errors(reading=source):
        report = split_jsonl(
            source,
            train_out,
            validation_out,
            validation_fraction=args.validation_fraction,
            seed=args.seed,
            stratify=args.stratify,
            label_field=args.label_field,
        )
    out = _reporting(out, train_out, validation_out)
    if args.json:
        out.json(report.to_dict())
        return EXIT_OK
    notes = [f"seed {report.seed}"]
    if report.stratified:
        notes.append(f"stratified by {report.label_field!r}")
    if report.skipped_blank:
        notes.append(f"{report.skipped_blank} blank lines skipped")
    if report.unparsed:
        notes.append(f"{report.unparsed} unparsed lines kept in training")
    out.line(
        f"{report.train} records -> {report.train_out}, {report.validation} -> "
        f"{report.validation_out} ({', '.join(notes)})"
    )
    return EXIT_OK


def _skipped_note(count: int, first: Any) -> str:
    return f"{_plural(count, 'record')} skipped, first on line {first.line}: {first.reason}"


def cmd_augment(args: argparse.Namespace, out: Output) -> int:
    """``augment FILE --factor N``: write FILE with prefixed prompt variants."""
    source = _input_file(args.file)
    (target,) = _outputs(
        out, source, args.force, out=("--out", args.out or _beside(source, ".augmented.jsonl"))
    )
    with library_errors(reading=source):
        report = augment_jsonl(source, target, factor=args.factor, seed=args.seed)
    out = _reporting(out, target)
    if args.json:
        out.json(report.to_dict())
        return EXIT_OK
    unchanged = report.without_prompt + report.unparsed
    skipped = (
        f"; {_skipped_note(report.skipped, report.skipped_examples[0])}" if report.skipped else ""
    )
    out.line(
        f"{report.lines_written} lines -> {report.out} ({report.augmented} records "
        f"x{report.factor}, {unchanged} copied unchanged{skipped}); near-duplicates: run "
        "validate (it warns on them) and deduplicate before training"
    )
    return EXIT_OK


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def _rft_notes(report: Any) -> list[str]:
    notes = []
    if report.invalid:
        first = report.invalid_examples[0]
        notes.append(
            f"{_plural(report.invalid, 'invalid pair')} skipped, "
            f"first on line {first.line}: {first.reason}"
        )
    if report.repeated:
        first = report.repeated_examples[0]
        notes.append(
            f"{_plural(report.repeated, 'repeated pair')} written once, "
            f"first on line {first.line} (same as line {first.same_as})"
        )
    if report.identical:
        notes.append(
            f"{_plural(report.identical, 'pair')} with identical chosen and rejected answers "
            f"(no signal), first on line {report.identical_lines[0]}"
        )
    if not report.within_rft_bounds:
        notes.append(
            f"Bedrock RFT needs {report.rft_min_records} to {report.rft_max_records} records"
        )
    return notes


def cmd_prepare_rft(args: argparse.Namespace, out: Output) -> int:
    """``prepare-rft PAIRS``: write the RFT records of PAIRS' preference pairs."""
    source = _input_file(args.file)
    (target,) = _outputs(
        out, source, args.force, out=("--out", args.out or _beside(source, ".rft.jsonl"))
    )
    with library_errors(reading=source):
        report = prepare_rft(source, target)
    out = _reporting(out, target)
    if args.json:
        out.json(report.to_dict())
        return EXIT_OK
    notes = _rft_notes(report)
    detail = f" ({'; '.join(notes)})" if notes else ""
    out.line(f"{report.written} RFT records -> {report.out}{detail}")
    return EXIT_OK


# --- the parsers -----------------------------------------------------------------------------


def _dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("train", help="training JSONL: a local path or s3://bucket/key")
    parser.add_argument("--type", required=True, choices=TYPES, help="customization type")
    parser.add_argument(
        "--base-model", required=True, help="base model id, e.g. amazon.nova-lite-v1:0:300k"
    )
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")


_OUTPUT_HELP = (
    "An output that exists is refused unless --force; - writes to stdout (the summary then "
    "goes to stderr); a device, FIFO or symlink is written through, never replaced. Outputs "
    "are written whole or not at all."
)


def _force_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force", action="store_true", help="replace an output file that already exists"
    )


def _add_validate(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(
        subparsers,
        "validate",
        summary="check a dataset against the model's real format and quotas",
        description="Check TRAIN (and --validation) against the format and quotas of the base "
        "model and customization type, line by line, and print a summary and a table of "
        "findings (--json: the full report). Errors make the data invalid: lines that are not "
        "UTF-8 JSON objects (a byte-order mark, gzip or UTF-16 is named as such), records "
        "nested too deeply to read, a key given twice in one record, wrong fields or types, "
        "records over the limits, an empty file. Warnings never block: blank lines, exact "
        "duplicates, near-duplicates (equal once case, whitespace and punctuation are "
        "ignored), validation records also in training, imbalanced labels.\n\n"
        "Exit 0 when the data is valid, 1 when it is not.",
        examples=(
            f"bedrock-customize validate train.jsonl --type FINE_TUNING --base-model {NOVA}",
            "bedrock-customize validate s3://bucket/train.jsonl --validation s3://bucket/val.jsonl "
            f"--type FINE_TUNING --base-model {NOVA} --json",
        ),
    )
    _dataset_arguments(parser)
    parser.add_argument("--validation", help="validation JSONL: a local path or s3://bucket/key")
    parser.add_argument(
        "--max-examples", type=int, default=5, help="examples kept per finding code (default 5)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes to validate with: 1 keeps to one; default: every core this process "
        "may use for inputs of 128 MB or more, one for smaller ones (same report either way)",
    )
    parser.set_defaults(func=cmd_validate)


def _add_split(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(
        subparsers,
        "split",
        summary="split a JSONL file into training and validation files, deterministically",
        description="Split FILE into FILE.train.jsonl and FILE.validation.jsonl (by default) "
        "with exactly round(F x records) records in validation, per label when stratified. "
        "The same seed always gives the same files. " + _OUTPUT_HELP,
        examples=(
            "bedrock-customize split data.jsonl --validation-fraction 0.1 --seed 7",
            "bedrock-customize split data.jsonl --validation-fraction 0.2 --stratify "
            "--train-out train.jsonl --validation-out - | wc -l",
        ),
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="JSONL file to split")
    parser.add_argument(
        "--validation-fraction",
        type=float,
        required=True,
        metavar="F",
        help="share of records for validation, greater than 0 and less than 1",
    )
    parser.add_argument(
        "--stratify",
        action="store_true",
        help="keep the fraction per value of --label-field (for classification data)",
    )
    parser.add_argument(
        "--label-field",
        default="completion",
        metavar="NAME",
        help="field holding the label when stratifying (default: completion)",
    )
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default: 0)")
    parser.add_argument(
        "--train-out", type=Path, metavar="PATH", help="training output file, or - for stdout"
    )
    parser.add_argument(
        "--validation-out",
        type=Path,
        metavar="PATH",
        help="validation output file, or - for stdout",
    )
    _force_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=cmd_split)


def _add_augment(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(
        subparsers,
        "augment",
        summary="add prefixed copies of each prompt (naive; validate and deduplicate afterwards)",
        description="Write each prompt/completion record followed by N-1 copies whose prompt "
        "starts with a prefix such as 'Question: '. A naive technique: it repeats completions "
        "and can cause overfitting. Split first and augment only the training file. A record "
        "that cannot be written back as JSON (a lone surrogate escape, a number out of range) "
        "is skipped and reported with its line; the run goes on. " + _OUTPUT_HELP,
        examples=(
            "bedrock-customize augment train.jsonl --factor 3 --seed 7",
            "bedrock-customize augment train.jsonl --factor 2 --out - | head",
        ),
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="JSONL file to augment")
    parser.add_argument(
        "--factor",
        type=int,
        required=True,
        metavar="N",
        help=f"copies of each record, original included (1 to {MAX_FACTOR})",
    )
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default: 0)")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="output file, or - for stdout (default: FILE.augmented.jsonl)",
    )
    _force_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=cmd_augment)


def _add_prepare_rft(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(
        subparsers,
        "prepare-rft",
        summary="turn preference pairs into reinforcement fine-tuning (RFT) records",
        description="Write one RFT record per valid line of PAIRS ({prompt, chosen, rejected, "
        "score?}): the prompt as the user message, chosen/rejected/score as the "
        "reference_answer that the preference grader reads. Invalid pairs (and pairs that "
        "cannot be written back as JSON) are skipped and counted with their line; a pair "
        "repeated on a later line is written once. Bedrock RFT needs at least "
        f"{RFT_MIN_RECORDS} records. " + _OUTPUT_HELP,
        examples=("bedrock-customize prepare-rft pairs.jsonl --out rft.jsonl",),
    )
    parser.add_argument("file", type=Path, metavar="PAIRS", help="JSONL file of preference pairs")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="output file, or - for stdout (default: PAIRS.rft.jsonl)",
    )
    _force_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=cmd_prepare_rft)


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``validate``, ``estimate-cost``, ``split``, ``augment`` and ``prepare-rft``."""
    from lambda_handlers.cli.cost_commands import add_estimate_cost  # estimate-cost's own module

    for add in (_add_validate, add_estimate_cost, _add_split, _add_augment, _add_prepare_rft):
        add(subparsers)
