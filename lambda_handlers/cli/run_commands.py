"""Commands that run and follow the stack's workflow: ``start``, ``status``, ``watch``, ``list``,
``stop`` and ``report``.

They run with your AWS credentials. An execution is given by its ARN (its Region is used) or
by its name (the state machine is then found as ``start`` finds it: the stack's
``StateMachineArn`` output, or ``--state-machine-arn``). The library is ``runs`` (reading and
acting on an execution), ``run_costs`` (hourly prices) and ``report_page`` (the report).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rich.table import Column

from lambda_handlers.cli import runs
from lambda_handlers.cli.console import Output
from lambda_handlers.cli.cost_commands import given_prices
from lambda_handlers.cli.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    library_errors,
)

sleep: Callable[[float], None] = time.sleep
"""How the commands wait between looks; tests replace it."""
clock: Callable[[], float] = time.monotonic
now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


# --- where: Region, state machine, execution ------------------------------------------------


def _use_region(region: str | None) -> None:
    # Set before any client exists; the clients take their Region from the environment.
    if region:
        os.environ["AWS_DEFAULT_REGION"] = region


def _client(service: str) -> Any:
    from lambda_handlers.common.aws import client

    return client(service)


def state_machine(args: argparse.Namespace) -> str:
    """``--state-machine-arn``, else the ``StateMachineArn`` output of ``--stack-name``."""
    given = getattr(args, "state_machine_arn", None)
    if given:
        if not runs.is_state_machine_arn(given):
            raise UsageError(
                f"--state-machine-arn: not a Step Functions state machine ARN: {given}"
            )
        _use_region(given.split(":")[3])
        return str(given)
    _use_region(args.region)
    with library_errors():
        return runs.state_machine_from_stack(_client("cloudformation"), args.stack_name)


def execution(args: argparse.Namespace) -> str:
    """The ARN of EXECUTION: as given, or the named execution of the state machine."""
    given = str(args.execution)
    if given.startswith("arn:"):
        if not runs.is_execution_arn(given):
            raise UsageError(f"not a Step Functions execution ARN: {given}")
        _use_region(given.split(":")[3])
        return given
    return runs.execution_arn(state_machine(args), given)


# --- start ----------------------------------------------------------------------------------


def _read_request(path: str) -> tuple[Any, str]:
    with library_errors(reading=path):
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()  # noqa: SIM115
    try:
        return json.loads(text), text
    except ValueError as error:
        raise UsageError(
            f"{path}: not JSON ({error}); give the request as a JSON object"
        ) from error


def cmd_start(args: argparse.Namespace, out: Output) -> int:
    """``start REQUEST.json``: check the request here, then start an execution with it."""
    from lambda_handlers.common.errors import RequestInvalid

    raw, _ = _read_request(args.request)
    try:
        request = runs.check_locally(raw)
    except RequestInvalid as invalid:
        out.line(
            f"REJECTED: {args.request} has {len(invalid.problems)} problem(s); nothing started"
        )
        for problem in invalid.problems:
            out.line(f"- {problem}")
        return EXIT_FAILED
    machine = state_machine(args)
    name = args.name or runs.default_name(request, now())
    document = json.dumps(raw, ensure_ascii=False)
    with library_errors():
        started = runs.start(_client("stepfunctions"), machine, document, name)
    arn = started["executionArn"]
    if args.json and not args.wait:
        out.json({**started, "startDate": started["startDate"].isoformat()})
        return EXIT_OK
    since = f"{started['startDate'].astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    if started["reused"] and started["status"] == "RUNNING":
        out.line(
            f"already started: {arn} (RUNNING since {since}); the same request under the same "
            "name is not started twice"
        )
    elif started["reused"]:
        out.line(
            f"already ran: {arn} ({started['status']}, started {since}); an execution name is "
            "used once: give another --name to run the request again"
        )
    else:
        out.line(f"started: {arn}")
    if not args.wait:
        out.line(f"follow it: bedrock-customize watch {arn}")
        return EXIT_OK
    return follow(out, arn, interval=args.interval)


# --- status ---------------------------------------------------------------------------------


def read_execution(arn: str) -> dict[str, Any]:
    """The execution (DescribeExecution), where it is (``runs.progress``), its plan, its job
    (Bedrock's answer) and what of it exists (the inventory ``cleanup`` takes)."""
    from lambda_handlers.cli.operations import inventory

    sfn = _client("stepfunctions")
    with library_errors():
        described = runs.describe(sfn, arn)
        where = runs.progress(sfn, arn, described)
        plan = runs.plan_in(where["document"])
        job = runs.job_now(plan) if plan else None
        # A sweep submits its runs' jobs, never the plan's own: its winner's is in the document.
        known = job or ((where["document"] or {}).get("job") if plan and plan.sweep else None)
        found = inventory(_client("bedrock"), plan, dict(known or {})) if plan else None
    return {"described": described, "where": where, "plan": plan, "job": job, "found": found}


def snapshot(read: dict[str, Any], prices: Any = None) -> dict[str, Any]:
    """Everything ``status`` shows, as JSON-ready values."""
    from lambda_handlers.cli.run_costs import hourly_costs

    described, plan, found = read["described"], read["plan"], read["found"]
    snap: dict[str, Any] = {
        "executionArn": described["executionArn"],
        "status": described["status"],
        "startDate": described["startDate"].isoformat(),
        "stopDate": described["stopDate"].isoformat() if described.get("stopDate") else None,
        "elapsedSeconds": round(runs.elapsed_seconds(described, now()), 1),
        "state": read["where"]["state"],
        "error": runs.failure_text(described) or None,
        "job": _job(read["job"]),
        "found": found,
        "costs": hourly_costs(plan, found, prices) if plan and found else None,
    }
    if plan is None:
        snap["note"] = "no plan in its history: the request was rejected, nothing was created"
    return snap


def _job(job: dict[str, Any] | None) -> dict[str, Any] | None:
    if job is None:
        return None
    return {
        "arn": job["jobArn"],
        "name": job.get("jobName"),
        "status": job["status"],
        "stages": runs.job_stages(job),
        "failureMessage": job.get("failureMessage"),
        "outputModelArn": job.get("outputModelArn"),
    }


def _job_text(job: dict[str, Any] | None) -> str:
    if job is None:
        return "customization job: none"
    stages = ", ".join(f"{stage} {status}" for stage, status in job["stages"].items())
    return f"customization job: {job['status']}" + (f" ({stages})" if stages else "")


def _when(iso: str) -> str:
    return f"{datetime.fromisoformat(iso).astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def show_snapshot(out: Output, snap: dict[str, Any]) -> None:
    from lambda_handlers.cli.operator_commands import inventory_table
    from lambda_handlers.cli.run_costs import total_text

    out.line(f"execution: {snap['executionArn']}")
    elapsed = runs.duration_text(snap["elapsedSeconds"])
    started = _when(snap["startDate"])
    if snap["stopDate"]:
        ended = _when(snap["stopDate"])
        out.line(f"status: {snap['status']} after {elapsed} (started {started}, ended {ended})")
    else:
        out.line(f"status: {snap['status']} for {elapsed} (started {started})")
    if snap["state"]:
        out.line(f"state: {snap['state']}")
    if snap["error"]:
        out.line(f"error: {snap['error']}", style="bold red")
    out.line(_job_text(snap["job"]))
    if snap["job"] and snap["job"]["failureMessage"]:
        out.line(f"job failure: {snap['job']['failureMessage']}", style="bold red")
    if snap.get("note"):
        out.line(snap["note"])
    if snap["found"] is None:
        return
    out.show(inventory_table(out, snap["found"]))
    costs = snap["costs"]
    for item in costs["items"]:
        out.line(f"cost: {item['what']}: {item['how']}")
    out.line(f"costs now: {total_text(costs)}")
    if costs["usdPerHour"] or costs["unknown"]:
        arn = snap["executionArn"]
        out.line(f"to stop paying: bedrock-customize cleanup {arn} --dry-run, then without it")


def cmd_status(args: argparse.Namespace, out: Output) -> int:
    """``status EXECUTION``: where it stands, what exists, what that costs by the hour."""
    arn = execution(args)
    from lambda_handlers.datatools.price_file import effective_prices

    snap = snapshot(read_execution(arn), effective_prices(given_prices(args)))
    if args.json:
        out.json(snap)
    else:
        show_snapshot(out, snap)
    return EXIT_OK


# --- watch ----------------------------------------------------------------------------------


def _look(arn: str) -> tuple[dict[str, Any], str]:
    sfn = _client("stepfunctions")
    with library_errors():
        described = runs.describe(sfn, arn)
        where = runs.progress(sfn, arn, described)
        plan = runs.plan_in(where["document"])
        running = described["status"] == "RUNNING"
        job = _job(runs.job_now(plan)) if plan and running else None
    parts = [described["status"], runs.duration_text(runs.elapsed_seconds(described, now()))]
    if where["state"]:
        parts.append(where["state"])
    if job:
        parts.append(_job_text(job))
    return described, " | ".join(parts)


def _outcome(out: Output, described: dict[str, Any]) -> int:
    status = described["status"]
    took = runs.duration_text(runs.elapsed_seconds(described, now()))
    if status == "SUCCEEDED":
        output = json.loads(described.get("output") or "{}")
        model = (output.get("job") or {}).get("outputModelArn")
        serving = (output.get("serving") or {}).get("invokeModelId")
        out.line(f"SUCCEEDED after {took}", style="bold green")
        if model:
            out.line(f"custom model: {model}")
        if serving:
            out.line(f"invoke with modelId: {serving}")
        return EXIT_OK
    out.line(f"{status} after {took}", style="bold red")
    failure = runs.failure_text(described)
    if failure:
        out.line(f"error: {failure}")
    return EXIT_FAILED


def follow(out: Output, arn: str, *, interval: float) -> int:
    """Look every ``interval`` seconds until the execution ends; a line per change (of state
    or job stage: not of the clock), and a live line on a terminal. Exit 0 when it
    succeeded, 1 otherwise, 130 on Ctrl-C (the execution goes on)."""
    console = out.stderr_console
    live = console.status("looking...") if console.is_terminal else None
    shown: list[str] | None = None
    try:
        if live is not None:
            live.start()
        while True:
            described, line = _look(arn)
            if described["status"] in runs.ENDED:
                break
            changed = line.split(" | ", 2)[2:]  # what follows the status and the time
            if changed != shown:
                out.line(f"{now():%H:%M:%S} {line}")
                shown = changed
            if live is not None:
                live.update(line)
            sleep(interval)
    except KeyboardInterrupt:
        if live is not None:
            live.stop()
        out.note(
            f"stopped watching; the execution goes on: {arn} "
            f"(bedrock-customize stop {arn} stops it)"
        )
        return EXIT_INTERRUPTED
    finally:
        if live is not None:
            live.stop()  # also on an error: the terminal gets its cursor back
    return _outcome(out, described)


def cmd_watch(args: argparse.Namespace, out: Output) -> int:
    """``watch EXECUTION``: follow it until it ends."""
    return follow(out, execution(args), interval=args.interval)


# --- list -----------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace, out: Output) -> int:
    """``list``: the state machine's recent executions."""
    machine = state_machine(args)
    if not 1 <= args.limit <= 1000:
        raise UsageError(f"--limit must be from 1 to 1000, got {args.limit}")
    with library_errors():
        rows = runs.recent(_client("stepfunctions"), machine, args.limit, args.status)
    if args.json:
        out.json(
            [
                {
                    **row,
                    "startDate": row["startDate"].isoformat(),
                    "stopDate": row["stopDate"].isoformat() if row["stopDate"] else None,
                }
                for row in rows
            ]
        )
        return EXIT_OK
    if not rows:
        out.line(
            f"no executions of {machine}" + (f" with status {args.status}" if args.status else "")
        )
        return EXIT_OK
    table = out.table("NAME", "STATUS", "STARTED (UTC)", "TOOK", "MODEL", Column("BASE MODEL"))
    for row in rows:
        took = runs.elapsed_seconds(row, now())
        table.add_row(
            row["name"],
            row["status"],
            f"{row['startDate'].astimezone(UTC):%Y-%m-%d %H:%M}",
            runs.duration_text(took),
            row["customModelName"] or "-",
            row["baseModelIdentifier"] or "-",
            style="bold red" if row["status"] in {"FAILED", "TIMED_OUT", "ABORTED"} else "",
        )
    out.show(table)
    return EXIT_OK


# --- stop -----------------------------------------------------------------------------------


def _stop_report(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[str]]:
    left = runs.still_there(after)
    left_arns = {line.split(" ")[1] for line in left}
    removed = [line for line in runs.still_there(before) if line.split(" ")[1] not in left_arns]
    kept = [f"custom model {after['customModel']['arn']}"] if after.get("customModel") else []
    return {"removed": removed, "stillThere": left, "kept": kept}


def cmd_stop(args: argparse.Namespace, out: Output) -> int:
    """``stop EXECUTION``: stop it; the stack's abort cleanup removes the job and serving."""
    from lambda_handlers.cli.operations import inventory

    arn = execution(args)
    sfn, bedrock = _client("stepfunctions"), _client("bedrock")
    with library_errors():
        described = runs.describe(sfn, arn)
        plan = runs.plan_in(runs.progress(sfn, arn, described)["document"])
        look = (lambda: inventory(bedrock, plan, {})) if plan else (lambda: {})
        before = look()
        if described["status"] != "RUNNING":
            out.line(f"{arn} has already ended ({described['status']}): nothing to stop")
            return _finish(out, args, arn, before, before, stopped=False)
        runs.request_stop(sfn, arn)
        out.line(f"stop requested: {arn}")
        if args.no_wait or not plan:
            what = "" if plan else " (it has not passed Validate: nothing was created yet)"
            out.line(
                f"the stack's abort cleanup stops the job and deletes serving{what}; "
                f"see what is left with: bedrock-customize status {arn}"
            )
            return EXIT_OK
        latest = [before]

        def cleaned() -> bool:
            latest[0] = look()
            return not runs.still_there(latest[0])

        runs.wait_until(
            cleaned, timeout=args.timeout, interval=args.interval, sleep=sleep, clock=clock
        )
    return _finish(out, args, arn, before, latest[0], stopped=True)


def _finish(
    out: Output,
    args: argparse.Namespace,
    arn: str,
    before: dict[str, Any],
    after: dict[str, Any],
    *,
    stopped: bool,
) -> int:
    report = (
        _stop_report(before, after) if before else {"removed": [], "stillThere": [], "kept": []}
    )
    code = EXIT_FAILED if report["stillThere"] else EXIT_OK
    if args.json:
        out.json({"executionArn": arn, "stopped": stopped, **report})
        return code
    for line in report["removed"]:
        out.line(f"removed: {line}")
    for line in report["stillThere"]:
        out.line(f"STILL THERE: {line}", style="bold red")
    for line in report["kept"]:
        out.line(
            f"kept: {line} (storage is billed monthly; bedrock-customize cleanup {arn} "
            "--delete-model deletes it)"
        )
    if report["stillThere"]:
        out.line(
            f"the abort cleanup has not removed everything after {args.timeout:g}s: look "
            f"again with bedrock-customize status {arn}, or remove it with "
            f"bedrock-customize cleanup {arn}"
        )
    elif stopped:
        out.line("nothing of it runs or bills by the hour any more")
    return code


# --- report ---------------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace, out: Output) -> int:
    """``report EXECUTION --out DIR``: the files, the curves and one page."""
    from lambda_handlers.cli import report_page
    from lambda_handlers.datatools.price_file import effective_prices

    target = report_page.check_target(args.out, force=args.force)
    arn = execution(args)
    read = read_execution(arn)
    snap = snapshot(read, effective_prices(given_prices(args)))
    with library_errors():
        written = report_page.write_report(target, read, snap, _client("s3"))
    if args.json:
        out.json({"executionArn": arn, "out": str(target), "files": written})
        return EXIT_OK
    for name in written:
        out.line(f"wrote {target / name}")
    out.line(f"open {target / 'index.html'}")
    return EXIT_OK
