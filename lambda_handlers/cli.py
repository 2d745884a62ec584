"""``bedrock-customize``: the command line for data checks and estimates.

Each command function only parses and hands over to library code; user errors are
one exception type (``UsageError``) that ends the program with exit status 2 and one
readable line. ``validate`` exits 0 when the data is valid and 1 when it is not.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from lambda_handlers.datatools.cli_commands import register as register_data_tools
from lambda_handlers.validation import open_source, validate_dataset
from lambda_handlers.validation.engine import summary
from lambda_handlers.validation.rules import rules_for

TYPES = ("FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION", "REINFORCEMENT_FINE_TUNING")
PROGRESS_MIN_BYTES = 16 * 1024 * 1024


class UsageError(Exception):
    """Bad arguments or input the user can fix; exit status 2."""


class _Parser(argparse.ArgumentParser):
    """Argument errors become ``UsageError`` so they go where the caller's stderr is."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


class Progress:
    """A one-line progress bar on a terminal; nothing when output is piped."""

    def __init__(self, total: int | None, stream: TextIO) -> None:
        self.total = total or 0
        self.stream = stream
        self.done = 0
        self.start = time.monotonic()
        self.enabled = stream.isatty() and self.total >= PROGRESS_MIN_BYTES
        self._last = 0.0

    def __call__(self, n_bytes: int) -> None:
        self.done += n_bytes
        now = time.monotonic()
        if not self.enabled or now - self._last < 0.1:
            return
        self._last = now
        share = min(1.0, self.done / self.total)
        speed = self.done / max(now - self.start, 1e-6) / 1e6
        bar = "#" * int(share * 30)
        self.stream.write(f"\r[{bar:<30}] {share:4.0%} {speed:7.1f} MB/s")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 60 + "\r")
            self.stream.flush()


def _open(location: str) -> Any:
    try:
        return open_source(location)
    except FileNotFoundError as error:
        raise UsageError(str(error)) from error


def run_validation(args: argparse.Namespace, stderr: TextIO) -> dict[str, Any]:
    try:
        rules = rules_for(args.base_model, args.type)
    except ValueError as error:
        raise UsageError(str(error).splitlines()[0] + " (see: bedrock-customize models)") from error
    training = _open(args.train)
    validation = _open(args.validation) if args.validation else None
    total = (training.size or 0) + ((validation.size or 0) if validation else 0)
    progress = Progress(total, stderr)
    try:
        return validate_dataset(
            training,
            validation,
            customization_type=args.type,
            base_model=args.base_model,
            max_examples=args.max_examples,
            progress=progress,
            rules=rules,
        )
    finally:
        progress.close()


def format_report(report: dict[str, Any]) -> str:
    """The short human summary of a report."""
    out = []
    for role, info in report["files"].items():
        out.append(
            f"{role}: {info['name']}: {info['records']:,} records ({info['usableRecords']:,} usable), "
            f"{info['bytes'] / 1e6:.1f} MB"
        )
    limits = report["limits"]
    bounds = f"{limits['minRecords'] or '-'}..{limits['maxRecords'] or '-'} records"
    per_record = (
        f"{limits['maxTokensPerRecord']} tokens/record"
        if limits["maxTokensPerRecord"]
        else "no token limit published"
    )
    out.append(f"format: {report['format']}; limits: {bounds}, {per_record}")
    tokens = report["files"]["training"]["tokens"]
    out.append(
        f"estimated tokens per record: min {tokens['min']:,}, median {tokens['median']:,}, p95 {tokens['p95']:,}, "
        f"max {tokens['max']:,}; per epoch {report['trainingTokensPerEpoch']:,}"
    )
    for title, counts in (("ERRORS", report["errors"]), ("WARNINGS", report["warnings"])):
        if not counts:
            continue
        out.append(f"{title:<24}{'count':>8}  first")
        for code, n in counts.items():
            first = report["examples"].get(code, [{}])[0] if report["examples"].get(code) else {}
            where = (
                f"{first.get('file', '')}:{first['line']}"
                if "line" in first
                else first.get("file", "")
            )
            detail = f"{where} {first.get('path', '')} {first.get('message', '')}".strip()
            out.append(f"  {code:<22}{n:>8,}  {detail[:110]}")
    verdict = report["verdict"].upper()
    if report["errors"]:
        out.append(
            f"{verdict}: fix the errors above ({', '.join(report['errors'])}); warnings never block."
        )
    else:
        out.append(f"{verdict}" + (" (with warnings)" if report["warnings"] else ""))
    return "\n".join(out)


def cmd_validate(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    report = run_validation(args, stderr)
    stdout.write((json.dumps(report, indent=2) if args.json else format_report(report)) + "\n")
    return 0 if report["verdict"] == "valid" else 1


def cmd_estimate_cost(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from lambda_handlers.datatools.pricing import estimate_training_cost

    if args.epochs < 1:
        raise UsageError(f"--epochs must be 1 or more, got {args.epochs}")
    args.validation, args.max_examples = None, 3
    report = run_validation(args, stderr)
    try:
        estimate = estimate_training_cost(
            args.base_model, report["trainingTokensPerEpoch"], args.epochs
        )
    except ValueError as error:
        raise UsageError(str(error)) from error
    result = {
        "estimate": estimate.to_dict(),
        "dataVerdict": report["verdict"],
        "dataSummary": summary(report),
    }
    if args.json:
        stdout.write(json.dumps(result, indent=2) + "\n")
        return 0
    e = estimate
    cost = (
        f"${e.training_usd:,.2f}" if e.training_usd is not None else "unknown (no published price)"
    )
    stdout.write(
        f"ESTIMATE: {e.total_tokens:,} tokens ({e.tokens_per_epoch:,} per epoch x {e.epochs} epochs) "
        f"-> training about {cost}\n"
        f"prices: {e.source} (checked {e.checked})\n{e.disclaimer}\n"
    )
    if report["verdict"] != "valid":
        stdout.write(
            f"note: the data has errors ({', '.join(report['errors'])}); run validate first.\n"
        )
    return 0


def cmd_cleanup(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    import os

    from lambda_handlers.common.aws import client
    from lambda_handlers.common.errors import WorkflowError
    from lambda_handlers.operations import inventory, plan_of, remove

    parts = args.execution_arn.split(":")
    if len(parts) < 8 or parts[2] != "states" or parts[5] != "execution":
        raise UsageError(f"not a Step Functions execution ARN: {args.execution_arn}")
    os.environ["AWS_DEFAULT_REGION"] = parts[3]  # the execution's Region, whatever the profile says
    try:
        plan, job = plan_of(client("stepfunctions"), args.execution_arn)
        found = inventory(client("bedrock"), plan, job)
        result: dict[str, Any] = {"found": found}
        if not args.dry_run:
            result["removed"] = remove(plan, found, delete_model=args.delete_model)
    except WorkflowError as error:
        stderr.write(f"error: {error}\n")
        return 1
    if args.json:
        stdout.write(json.dumps(result, indent=2) + "\n")
        return 0
    job_text = f"{found['job']['arn']} ({found['job']['status']})" if found["job"] else "none"
    serving = found["serving"]
    serving_text = (
        f"{serving['arn']} ({serving['status']}, {'ours' if serving['ours'] else 'NOT tagged with this execution'})"
        if serving
        else "none"
    )
    model_text = found["customModel"]["arn"] if found["customModel"] else "none"
    stdout.write(f"job: {job_text}\nserving: {serving_text}\ncustom model: {model_text}\n")
    if args.dry_run:
        stdout.write("dry run: nothing removed\n")
    else:
        removed = result["removed"]
        done = [
            x
            for x in (removed["stoppedJob"], *removed["deleted"], removed.get("deletedModel"))
            if x
        ]
        stdout.write("removed: " + (", ".join(done) if done else "nothing was running") + "\n")
        for problem in removed["problems"]:
            stdout.write(f"NOT removed: {problem}\n")
        return 1 if removed["problems"] else 0
    return 0


def cmd_promote(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Swap a model onto an endpoint by hand: a rollback to the recorded previous model."""
    import os

    from lambda_handlers.common.errors import WorkflowError
    from lambda_handlers.promote import promote

    kind = (
        "customModelDeploymentArn"
        if ":custom-model-deployment/" in args.target
        else ("provisionedModelArn" if ":provisioned-model/" in args.target else None)
    )
    if kind is None:
        raise UsageError(
            f"--target must be a custom-model-deployment or provisioned-model ARN, got {args.target}"
        )
    os.environ["AWS_DEFAULT_REGION"] = args.target.split(":")[3]
    try:
        result = promote({kind: args.target}, args.model)
    except WorkflowError as error:
        stderr.write(f"error: {error}\n")
        return 1
    stdout.write(
        (
            json.dumps(result, indent=2)
            if args.json
            else f"{args.target}: {result['previousModelArn']} -> {args.model} (update requested)"
        )
        + "\n"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bedrock-customize",
        description="Check and prepare training data for Amazon Bedrock model customization.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def dataset_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--type", required=True, choices=TYPES, help="customization type")
        p.add_argument(
            "--base-model", required=True, help="base model id, e.g. amazon.nova-lite-v1:0:300k"
        )
        p.add_argument("--json", action="store_true", help="print the full report as JSON")

    v = sub.add_parser(
        "validate", help="check a dataset against the model's real format and quotas"
    )
    v.add_argument("train", help="training JSONL: a local path or s3://bucket/key")
    v.add_argument("--validation", help="validation JSONL: a local path or s3://bucket/key")
    v.add_argument(
        "--max-examples", type=int, default=5, help="examples kept per finding code (default 5)"
    )
    dataset_args(v)
    v.set_defaults(handler=cmd_validate)

    c = sub.add_parser(
        "estimate-cost", help="estimate the training cost of a dataset (tokens x epochs x price)"
    )
    c.add_argument("train", help="training JSONL: a local path or s3://bucket/key")
    c.add_argument("--epochs", type=int, required=True, help="number of epochs")
    dataset_args(c)
    c.set_defaults(handler=cmd_estimate_cost)

    k = sub.add_parser(
        "cleanup", help="list and remove what an execution created (job, serving, model)"
    )
    k.add_argument("execution_arn", help="the Step Functions execution ARN")
    k.add_argument("--dry-run", action="store_true", help="only list what exists")
    k.add_argument(
        "--delete-model", action="store_true", help="also delete the custom model (storage costs)"
    )
    k.add_argument("--json", action="store_true", help="print JSON")
    k.set_defaults(handler=cmd_cleanup)

    r = sub.add_parser(
        "promote", help="swap a model onto a deployment or throughput (a rollback, by hand)"
    )
    r.add_argument(
        "--target", required=True, help="custom-model-deployment or provisioned-model ARN"
    )
    r.add_argument("--model", required=True, help="the custom model ARN to serve there")
    r.add_argument("--json", action="store_true", help="print JSON")
    r.set_defaults(handler=cmd_promote)

    register_data_tools(sub)
    return parser


def main(
    argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "validate" and args.max_examples < 0:
            raise UsageError(f"--max-examples must be 0 or more, got {args.max_examples}")
        handler = args.handler
        if handler in (cmd_validate, cmd_estimate_cost, cmd_cleanup, cmd_promote):
            return int(handler(args, stdout, stderr))
        return int(handler(args))
    except UsageError as error:
        stderr.write(f"error: {error}\n")
        return 2
    except SystemExit as exit_:  # --help
        return int(exit_.code or 0)
    except KeyboardInterrupt:
        stderr.write("interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
