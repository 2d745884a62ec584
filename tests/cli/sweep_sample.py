"""A sample finished sweep for ``report``: three runs of the report sample's request, run 2's
job failed before Bedrock gave its ARN back, runs 1 and 3 completed with their metrics files in
moto's S3 (each run's losses a little apart), run 3 won on the final validation loss.

The documents are the workflow's (``$.runs`` as the Map gives them, ``$.sweep`` as
``evaluation.sweep_choice.choose_winner`` lists them, the winner's job at ``$.job``); the
reports folder and the winner's own metrics files come from ``report_sample.put_sample``.
"""

from __future__ import annotations

import math
from typing import Any

from lambda_handlers.common.plan import Plan
from lambda_handlers.evaluation.curves import training_objects
from lambda_handlers.evaluation.sweep_choice import choose_winner
from tests.cli.report_sample import STEPS, STEPS_PER_EPOCH, put_sample
from tests.cli.runs_helpers import ACCOUNT, REGION, llama_request

RATES = (0.00001, 0.00002, 0.00005)
FAILED = 1  # run 2
# The floor each completed run's losses fall to: run 3's is lowest, so it wins.
FLOORS = {0: 0.62, 2: 0.41}
FAILURE = "Customization job failed: Validation of the training data failed at line 7"


def sweep_request() -> dict[str, Any]:
    return llama_request(sweep={"runs": [{"learningRate": r} for r in RATES]})


def run_job_arn(index: int) -> str:
    return (
        f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-customization-job/meta.llama3-1-8b/"
        f"run{index + 1}0000000"
    )


def run_model_arn(index: int) -> str:
    """As Bedrock names a custom model: the base model's id, then 12 letters and digits."""
    return (
        f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/meta.llama3-1-8b-instruct-v1:0:128k/"
        f"run{index + 1}model000"
    )


def run_training_csv(index: int) -> str:
    floor = FLOORS[index]
    rows = ["step_number,epoch_number,training_loss,perplexity"]
    for step in range(STEPS):
        loss = floor - 0.1 + 2.0 * math.exp(-step / (20 + 8 * index)) + 0.04 * math.sin(step)
        rows.append(f"{step},{step // STEPS_PER_EPOCH},{loss:.6f},{math.exp(loss):.6f}")
    return "\n".join(rows) + "\n"


def run_validation_csv(index: int) -> str:
    floor = FLOORS[index]
    rows = ["step_number,epoch_number,validation_loss,perplexity"]
    for step in range(9, STEPS, 10):
        loss = floor + 1.8 * math.exp(-step / (24 + 8 * index))
        rows.append(f"{step},{step // STEPS_PER_EPOCH},{loss:.6f},{math.exp(loss):.6f}")
    return "\n".join(rows) + "\n"


def run_results(plan: Plan) -> list[dict[str, Any]]:
    """The Map's result per run: ``{"plan", "job"}`` or ``{"plan", "error"}``."""
    assert plan.sweep is not None
    results = []
    for i, run in enumerate(plan.sweep.runs):
        merged = {**plan.model_dump(exclude_none=True), **run.model_dump()}
        if i == FAILED:
            error = {"Error": "CustomizationJobFailed", "Cause": f'{{"errorMessage": "{FAILURE}"}}'}
            results.append({"plan": merged, "error": error})
            continue
        last = float(run_validation_csv(i).strip().splitlines()[-1].split(",")[2])
        job = {
            "status": "Completed",
            "jobArn": run_job_arn(i),
            "jobName": run.jobName,
            "outputModelArn": run_model_arn(i),
            "trainingLoss": FLOORS[i] - 0.1,
            "validationLoss": [last],
        }
        results.append({"plan": merged, "job": job})
    return results


def put_sweep(s3: Any, plan: Plan) -> dict[str, Any]:
    """Store the sweep in moto's S3; the documents its execution's states would return."""
    documents = put_sample(s3, plan, metrics=False)
    for i in FLOORS:
        places = training_objects(plan.outputDataConfig["s3Uri"], run_job_arn(i))
        for role, text in (
            ("training", run_training_csv(i)),
            ("validation", run_validation_csv(i)),
        ):
            bucket, key = places[role]
            s3.put_object(Bucket=bucket, Key=key, Body=text.encode())
    assert plan.sweep is not None
    results = run_results(plan)
    chosen = choose_winner(plan.sweep.model_dump(), results)
    winner_job = results[chosen["winner"]]["job"]
    return {
        **documents,
        "runs": results,
        "sweep": {**chosen, "job": winner_job, "deletedModels": [run_model_arn(0)], "problems": []},
        "job": winner_job,
    }
