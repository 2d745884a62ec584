"""Commands that act on what an execution created, in your AWS account: ``cleanup`` and
``promote``.

They run with your AWS credentials, in the Region of the ARN they are given. The actions
themselves are library code (``lambda_handlers.cli.operations``, ``lambda_handlers.promote``),
the same the workflow runs; AWS errors arrive translated: exit 3 for credentials, network or
access, 1 for a request AWS refused.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from rich.table import Column, Table

from lambda_handlers.cli.console import Output
from lambda_handlers.cli.errors import EXIT_FAILED, EXIT_OK, UsageError, library_errors
from lambda_handlers.cli.help import add_command


def _use_region_of(arn: str) -> None:
    parts = arn.split(":")
    if len(parts) < 6 or not parts[3]:
        raise UsageError(f"not an ARN with a Region: {arn}")
    # The resource's Region, whatever the profile says: the clients are made after this.
    os.environ["AWS_DEFAULT_REGION"] = parts[3]


# --- cleanup ---------------------------------------------------------------------------------


def inventory_table(out: Output, found: dict[str, Any]) -> Table:
    """What of the execution exists: the job, the serving resource, the custom model."""
    table = out.table("RESOURCE", Column("ARN", overflow="fold"), "STATUS", "NOTE")
    job, serving, model = found["job"], found["serving"], found["customModel"]
    table.add_row("job", *((job["arn"], job["status"], "") if job else ("none", "", "")))
    for i, run in enumerate(found.get("runs") or [], start=1):  # a sweep's runs
        table.add_row(f"run {i}", run["arn"] or "none", run["status"] or "", run["name"])
    if serving:
        owner = "ours" if serving["ours"] else "NOT tagged with this stack and execution"
        table.add_row(
            "serving",
            serving["arn"],
            serving["status"],
            owner,
            style="" if serving["ours"] else "bold red",
        )
    else:
        table.add_row("serving", "none", "", "")
    table.add_row(
        "custom model", *((model["arn"], "", model["name"]) if model else ("none", "", ""))
    )
    return table


def _removed_lines(removed: dict[str, Any]) -> list[str]:
    from lambda_handlers.common.leftovers import problem_text  # see cmd_cleanup: a slow import

    done = [
        arn
        for arn in (
            removed["stoppedJob"],
            *removed.get("stoppedJobs", []),  # a sweep's runs
            *removed["deleted"],
            *removed.get("stoppedBatchJobs", []),
            removed.get("deletedModel"),
        )
        if arn
    ]
    lines = ["removed: " + (", ".join(done) if done else "nothing was running")]
    lines += [f"NOT removed: {problem_text(problem)}" for problem in removed["problems"]]
    return lines


def cmd_cleanup(args: argparse.Namespace, out: Output) -> int:
    """``cleanup EXECUTION_ARN``: list what the execution created and remove it."""
    parts = args.execution_arn.split(":")
    if len(parts) < 8 or parts[2] != "states" or parts[5] != "execution":
        raise UsageError(f"not a Step Functions execution ARN: {args.execution_arn}")
    _use_region_of(args.execution_arn)
    # Imported here: the handlers' AWS and validation libraries take a third of a second to
    # load, and only these commands need them.
    from lambda_handlers.cli.operations import inventory, plan_of, remove
    from lambda_handlers.common.aws import client

    with library_errors():
        plan, job = plan_of(client("stepfunctions"), args.execution_arn)
        found = inventory(client("bedrock"), plan, job)
        removed = None if args.dry_run else remove(plan, found, delete_model=args.delete_model)
    failed = bool(removed and removed["problems"])
    if args.json:
        out.json({"found": found} if removed is None else {"found": found, "removed": removed})
        return EXIT_FAILED if failed else EXIT_OK
    out.show(inventory_table(out, found))
    for line in ["dry run: nothing removed"] if removed is None else _removed_lines(removed):
        out.line(line, style="bold red" if line.startswith("NOT") else None)
    return EXIT_FAILED if failed else EXIT_OK


# --- promote ---------------------------------------------------------------------------------


def _target_kind(target: str) -> str:
    if ":custom-model-deployment/" in target:
        return "customModelDeploymentArn"
    if ":provisioned-model/" in target:
        return "provisionedModelArn"
    raise UsageError(
        f"--target must be a custom-model-deployment or provisioned-model ARN, got {target}"
    )


def cmd_promote(args: argparse.Namespace, out: Output) -> int:
    """``promote --target ARN --model ARN``: swap a model onto an endpoint, e.g. a rollback."""
    kind = _target_kind(args.target)
    _use_region_of(args.target)
    from lambda_handlers.promote import promote  # see cmd_cleanup: a slow import

    with library_errors():
        result = promote({kind: args.target}, args.model)
    if args.json:
        out.json(result)
    else:
        out.line(f"{args.target}: {result['previousModelArn']} -> {args.model} (update requested)")
    return EXIT_OK


# --- the parsers -----------------------------------------------------------------------------


_EXECUTION = "arn:aws:states:us-east-1:111122223333:execution:BedrockCustomization:run-1"


def _add_cleanup(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(
        subparsers,
        "cleanup",
        summary="DELETE what an execution created (job, serving, model); --dry-run only lists",
        description="Read the plan of EXECUTION_ARN from its history, list what of it exists "
        "(the customization job, the provisioned throughput or deployment, the custom model) "
        "and remove it with the workflow's own cleanup: it STOPS the job and DELETES the "
        "serving resource, and with --delete-model the custom model too. This cannot be "
        "undone: run it with --dry-run first to see what it would remove. Only what carries "
        "the execution's tag is removed. Uses your AWS credentials, in the ARN's Region.\n\n"
        "Exit 1 when something could not be removed (each named with the command that "
        "removes it).",
        examples=(
            f"bedrock-customize cleanup {_EXECUTION} --dry-run",
            f"bedrock-customize cleanup {_EXECUTION}",
            f"bedrock-customize cleanup {_EXECUTION} --delete-model",
        ),
    )
    parser.add_argument(
        "execution_arn", metavar="EXECUTION_ARN", help="the Step Functions execution ARN"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="only list what exists; delete nothing"
    )
    parser.add_argument(
        "--delete-model",
        action="store_true",
        help="also delete the custom model (it costs storage; deleting it cannot be undone)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=cmd_cleanup)


def _add_promote(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(
        subparsers,
        "promote",
        summary="swap a model onto a deployment or throughput (a rollback, by hand)",
        description="Point the custom-model deployment or provisioned throughput --target at "
        "the custom model --model, for example back to the previousModelArn an execution "
        "recorded. Uses your AWS credentials, in the target's Region.",
        examples=(
            "bedrock-customize promote --target arn:aws:bedrock:us-east-1:111122223333:"
            "custom-model-deployment/abcdef123456 --model PREVIOUS_MODEL_ARN",
        ),
    )
    parser.add_argument(
        "--target", required=True, help="custom-model-deployment or provisioned-model ARN"
    )
    parser.add_argument("--model", required=True, help="the custom model ARN to serve there")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=cmd_promote)


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``cleanup`` and ``promote``."""
    _add_cleanup(subparsers)
    _add_promote(subparsers)
