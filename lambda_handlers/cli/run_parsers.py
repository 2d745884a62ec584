"""The parsers of ``start``, ``status``, ``watch``, ``list``, ``stop`` and ``report`` (the
commands are in ``run_commands``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from lambda_handlers.cli.cost_commands import add_prices_argument
from lambda_handlers.cli.help import add_command
from lambda_handlers.cli.stack_outputs import DEFAULT_STACK, STATE_MACHINE_OUTPUT

_ARN = "arn:aws:states:us-east-1:111122223333:execution:BedrockCustomization-customization:run-1"
_STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def _command(name: str) -> Callable[[argparse.Namespace, Any], int]:
    """The command function ``name`` of ``run_commands``, imported when it runs: its libraries
    (botocore, the request checks) are not loaded for other commands."""

    def command(args: argparse.Namespace, out: Any) -> int:
        from lambda_handlers.cli import run_commands

        return int(getattr(run_commands, name)(args, out))

    return command


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"expected 0 < seconds <= 3600, got {text}")
    return value


def _where(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stack-name",
        default=DEFAULT_STACK,
        help=f"the deployed stack whose {STATE_MACHINE_OUTPUT} output names the state "
        f"machine (default: {DEFAULT_STACK})",
    )
    parser.add_argument(
        "--state-machine-arn", help="the state machine's ARN, instead of the stack's output"
    )
    parser.add_argument("--region", help="the stack's Region (default: your AWS configuration's)")


def _execution(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "execution",
        metavar="EXECUTION",
        help="the execution's ARN (its Region is used), or its name: then the state machine is "
        "the stack's (--stack-name, --region) or --state-machine-arn",
    )
    _where(parser)


def _interval(parser: argparse.ArgumentParser, default: float) -> None:
    parser.add_argument(
        "--interval",
        type=_positive,
        default=default,
        metavar="SECONDS",
        help=f"seconds between looks (default {default:g})",
    )


def _add_start(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(
        subparsers,
        "start",
        summary="check a request here, then start a customization with it",
        description="Check REQUEST.json as the workflow's first state does (the schema, the "
        "model catalogue, hyperparameter ranges, serving, gates, tags), and refuse it with "
        "each problem's field named, before anything starts; what only the deployed stack "
        "knows (its buckets and prefixes, enabled types, graders and spending limits) is "
        "checked by its Validate state. Then start an execution of the stack's state machine "
        "(its StateMachineArn output, or --state-machine-arn). The same --name with the same "
        "request is not started twice: the running execution is reported instead. Uses your "
        "AWS credentials.\n\nExit 1 when the request has problems.",
        examples=(
            "bedrock-customize start request.json",
            "bedrock-customize start request.json --name support-triage-v1 --wait",
            "bedrock-customize start request.json --stack-name MyStack --region us-west-2",
        ),
    )
    parser.add_argument("request", metavar="REQUEST.json", help="the request; - reads stdin")
    parser.add_argument(
        "--name",
        help="the execution's name, 1-80 letters, digits, '-' or '_' (default: the custom "
        "model's name and the UTC time)",
    )
    parser.add_argument(
        "--wait", action="store_true", help="follow it as watch does, and exit as watch does"
    )
    _interval(parser, 30)
    _where(parser)
    parser.add_argument("--json", action="store_true", help="print JSON (without --wait)")
    parser.set_defaults(func=_command("cmd_start"))


def _add_status(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(
        subparsers,
        "status",
        summary="where an execution stands, what exists and what it costs by the hour",
        description="Show an execution's status and elapsed time, the state it is in, the "
        "customization job's status and stages (validation, data processing, training, as "
        "Bedrock reports them), what of it exists (job, custom model, provisioned throughput "
        "or deployment) and what that costs by the hour, from the price file. Read-only.",
        examples=(
            f"bedrock-customize status {_ARN}",
            "bedrock-customize status run-1 --stack-name BedrockCustomization --json",
        ),
    )
    _execution(parser)
    add_prices_argument(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=_command("cmd_status"))


def _add_watch(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(
        subparsers,
        "watch",
        summary="follow an execution until it ends (exit 0 succeeded, 1 not)",
        description="Follow an execution: a line for each change of state or job stage, and "
        "on a terminal a live line with the elapsed time; plain lines when piped. Ends with "
        "the execution's outcome: exit 0 when it succeeded, 1 when it failed, timed out or "
        "was stopped. Ctrl-C stops watching (exit 130), not the execution.",
        examples=(
            f"bedrock-customize watch {_ARN}",
            "bedrock-customize watch run-1 --interval 60 | tee run-1.log",
        ),
    )
    _execution(parser)
    _interval(parser, 30)
    parser.set_defaults(func=_command("cmd_watch"))


def _add_list(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(
        subparsers,
        "list",
        summary="the recent executions of the stack's state machine, outcome and model",
        description="List the newest executions of the stack's state machine (its "
        "StateMachineArn output, or --state-machine-arn): name, status, start, how long it "
        "ran, and the custom model and base model of its request. Read-only.",
        examples=(
            "bedrock-customize list",
            "bedrock-customize list --status FAILED --limit 5 --json",
        ),
    )
    parser.add_argument("--limit", type=int, default=20, help="how many, newest first (default 20)")
    parser.add_argument("--status", choices=_STATUSES, help="only executions with this status")
    _where(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=_command("cmd_list"))


def _add_stop(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(
        subparsers,
        "stop",
        summary="STOP an execution; its abort cleanup stops the job and deletes serving",
        description="Stop a running execution. The stack's abort cleanup (run on the "
        "execution's ABORTED status) then STOPS the customization job and DELETES the "
        "provisioned throughput or deployment it created; the custom model is kept. The "
        "command waits for that (up to --timeout) and reports what was removed and what is "
        "still there; --no-wait returns at once. This cannot be undone.\n\nExit 1 when "
        "something still runs after --timeout.",
        examples=(
            f"bedrock-customize stop {_ARN}",
            f"bedrock-customize stop {_ARN} --no-wait",
        ),
    )
    _execution(parser)
    parser.add_argument("--no-wait", action="store_true", help="do not wait for the abort cleanup")
    parser.add_argument(
        "--timeout",
        type=_positive,
        default=600,
        metavar="SECONDS",
        help="how long to wait for the cleanup (default 600)",
    )
    _interval(parser, 15)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=_command("cmd_stop"))


def _add_report(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(
        subparsers,
        "report",
        summary="download an execution's metrics and reports; one page with the loss curves",
        description="Download what the execution stored (the job's training and validation "
        "metrics files, the data report, the evaluation report and its per-record CSV), draw "
        "the training and validation loss curves to PNG, and write DIR/index.html: one "
        "self-contained page (no external files) with the request, the data report's "
        "summary, the curves, the evaluation against the base model with its per-record "
        "table, and what still exists and what it costs by the hour. A DIR that exists and "
        "is not empty is refused unless --force.",
        examples=(
            f"bedrock-customize report {_ARN} --out run-1-report",
            "bedrock-customize report run-1 --out run-1-report --force",
        ),
    )
    _execution(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="the folder to write")
    parser.add_argument(
        "--force", action="store_true", help="write into DIR even if it holds files"
    )
    add_prices_argument(parser)
    parser.add_argument("--json", action="store_true", help="print what was written as JSON")
    parser.set_defaults(func=_command("cmd_report"))


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``start``, ``status``, ``watch``, ``list``, ``stop`` and ``report``."""
    for add in (_add_start, _add_status, _add_watch, _add_list, _add_stop, _add_report):
        add(subparsers)
