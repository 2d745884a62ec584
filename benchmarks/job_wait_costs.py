#!/usr/bin/env python3
"""What waiting for a long job costs, by event and by polling, counted from offline executions.

    python3 benchmarks/job_wait_costs.py [--hours 10] [--sweep 3]

Synthesizes the stack twice (``jobCompletion`` ``events``, the default, and ``polling``) and
runs one offline execution of each through moto's Step Functions interpreter with the real
handlers (``tests/e2e/harness.py``), for a job that ends ``--hours`` after it starts:

- Polling: the job is read when each Wait would end. The waits are the handler's own
  (``lambda_handlers/common/polling.py``: 5 minutes, doubling to 15, from the template's
  environment), so the job's script reports InProgress for every read before the end and
  Completed at the first read after it.
- Events: the job is read by each park: at the start and after every safety poll (the wait's
  ``TimeoutSeconds`` in the template); Bedrock's event for its end arrives at the end and wakes
  the execution (the harness's "auto" delivery), and one read confirms it.

With ``--sweep N``, a third execution (by event) runs a sweep of N runs, each job ending
``--hours`` after it starts, and its counts cover the whole Map and the choice of the winner.

Offline, Wait states take no time and each safety poll one second. Counted between the submit
and the first state after the job: the Lambda invocations by function, and the state
transitions (states entered, as Step Functions bills a Standard workflow; a retry would add
one each, and none happens here).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")  # the handlers' lines are not the point
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

from moto import mock_aws  # noqa: E402

from lambda_handlers.common.aws import client  # noqa: E402
from tests.conftest import synthesize  # noqa: E402
from tests.e2e.fake_bedrock import FakeBedrock  # noqa: E402
from tests.e2e.harness import (  # noqa: E402
    Execution,
    OfflineWorkflow,
    patch_interpreter,
    state_machine_definition,
)
from tests.e2e.requests import request_for  # noqa: E402

AFTER_JOB = "Serve the model?"


def polling_reads(template: dict[str, Any], seconds: int) -> int:
    """Reads of the job until the first one at or after ``seconds``, with the template's waits."""
    env = next(
        r["Properties"]["Environment"]["Variables"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"]["Handler"] == "lambda_handlers.check_job.handler"
    )
    wait, cap = int(env["JOB_POLL_SECONDS"]), int(env["JOB_POLL_MAX_SECONDS"])
    elapsed = reads = 0
    while True:
        elapsed += wait
        reads += 1
        if elapsed >= seconds:
            return reads
        wait = min(wait * 2, cap)


def event_reads(template: dict[str, Any], seconds: int) -> int:
    """Parks before the end (each reads the job): at the start and after each safety poll."""
    safety = state_machine_definition(template)["States"]["Wait for job event"]["TimeoutSeconds"]
    return -(-seconds // int(safety))


def run(
    template: dict[str, Any], statuses: list[str], sweep_runs: int = 0
) -> tuple[Execution, OfflineWorkflow]:
    client.cache_clear()  # a new client, with this run's fake Bedrock behind it
    bedrock = FakeBedrock(job_statuses=statuses)
    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    with mock_aws(config=config):
        workflow = OfflineWorkflow(template, bedrock)
        patched = patch_interpreter(workflow)
        next(patched)
        workflow.start()
        request = request_for(workflow, serving={"mode": "none"})
        if sweep_runs:
            rates = [0.00001 * (i + 1) for i in range(sweep_runs)]
            request["sweep"] = {"runs": [{"learningRate": r} for r in rates]}
        execution = workflow.run(request, timeout=len(statuses) * 5 * max(1, sweep_runs) + 60)
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    return execution, workflow


def counted(execution: Execution, workflow: OfflineWorkflow) -> dict[str, Any]:
    states = execution.entered_states()
    first = "Submit customization job" if "Submit customization job" in states else "Sweep?"
    wait = states[states.index(first) + 1 : states.index(AFTER_JOB)]
    by_function: dict[str, int] = {}
    for function, _ in workflow.invocations:
        handler = workflow.functions[function].handler.removeprefix("lambda_handlers.")
        if handler.startswith(("check_job", "job_events", "sweep_winner")) or (
            first == "Sweep?" and handler.startswith("submit_job")
        ):
            by_function[handler] = by_function.get(handler, 0) + 1
    return {"transitions": len(wait), "invocations": by_function}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hours", type=float, default=10, help="how long the job runs")
    parser.add_argument("--sweep", type=int, default=0, help="also a sweep of this many runs")
    args = parser.parse_args()
    seconds = int(args.hours * 3600)
    print(f"a job that ends {args.hours:g} hours after it starts:")
    for mode in ("polling", "events", *(["sweep"] if args.sweep else [])):
        with tempfile.TemporaryDirectory() as tmp:
            completion = "polling" if mode == "polling" else "events"
            synthesized = synthesize(Path(tmp), {"jobCompletion": completion})
        assert synthesized.error is None, synthesized.error
        template = synthesized.template
        if mode == "polling":
            reads = polling_reads(template, seconds)
            statuses = ["InProgress"] * (reads - 1) + ["Completed"]
        else:
            reads = event_reads(template, seconds)
            statuses = ["InProgress"] * reads + ["Completed"]
        execution, workflow = run(template, statuses, args.sweep if mode == "sweep" else 0)
        found = counted(execution, workflow)
        invocations = sum(found["invocations"].values())
        label = f"sweep of {args.sweep}" if mode == "sweep" else mode
        print(
            f"  {label:10} {invocations:4} Lambda invocations {found['invocations']}, "
            f"{found['transitions']:4} state transitions, "
            f"{bedrock_reads(workflow)} reads of the job"
        )


def bedrock_reads(workflow: OfflineWorkflow) -> int:
    return workflow.bedrock.operations().count("GetModelCustomizationJob")


if __name__ == "__main__":
    main()
