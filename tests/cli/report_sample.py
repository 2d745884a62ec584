"""A sample finished execution for ``report``: what a fine-tuning job and the workflow store.

The metrics files have Bedrock's columns (``step_number`` from 0, ``epoch_number``, the
loss, ``perplexity``): a training loss that falls with noise over 2 epochs of 60 steps, a
validation loss measured every 10 steps. The data report and the evaluation are written by
the project's own code (``validation.engine.summary``'s shape, ``evaluation.report``).
``docs/report-curve.png`` in the README is drawn from this sample by ``report_page``.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

from lambda_handlers.common.plan import Plan, job_folder
from lambda_handlers.evaluation.curves import (
    TRAINING_LOSS,
    VALIDATION_LOSS,
    parse_metrics_csv,
    summarize,
    training_objects,
)
from lambda_handlers.evaluation.metrics import token_f1
from lambda_handlers.evaluation.report import RecordRow, comparison_results, write_csv
from tests.cli.runs_helpers import JOB_ARN, MODEL_ARN, PT_ARN

ARTIFACTS = "artifacts-bucket"
STEPS = 120
STEPS_PER_EPOCH = 60


def training_csv() -> str:
    rows = ["step_number,epoch_number,training_loss,perplexity"]
    for step in range(STEPS):
        loss = 0.35 + 2.1 * math.exp(-step / 25) + 0.06 * math.sin(step * 1.7)
        rows.append(f"{step},{step // STEPS_PER_EPOCH},{loss:.6f},{math.exp(loss):.6f}")
    return "\r\n".join(rows) + "\r\n"


def validation_csv() -> str:
    rows = ["step_number,epoch_number,validation_loss,perplexity"]
    for step in range(9, STEPS, 10):
        loss = 0.48 + 1.9 * math.exp(-step / 28) + 0.0004 * max(0, step - 90) ** 1.5
        rows.append(f"{step},{step // STEPS_PER_EPOCH},{loss:.6f},{math.exp(loss):.6f}")
    return "\n".join(rows) + "\n"


def records() -> list[RecordRow]:
    cases = [
        ("t-1", "My parcel never arrived.", "delivery", "I am not sure.", "delivery"),
        ("t-2", "I was charged twice.", "billing", "billing", "billing"),
        ("t-3", "The app crashes <on start>.", "technical", "an error", "technical"),
        ("t-4", "Cancel my plan & refund me.", "billing", "I cannot help", "billing"),
    ]
    return [
        RecordRow(
            id=case_id,
            prompt=prompt,
            reference=reference,
            base_answer=base,
            custom_answer=custom,
            base_error=None,
            custom_error=None,
            base_token_f1=token_f1(reference, base),
            custom_token_f1=token_f1(reference, custom),
        )
        for case_id, prompt, reference, base, custom in cases
    ]


def reports_folder(plan: Plan) -> str:
    return f"reports/{job_folder(plan.jobName)}"


def put_sample(s3: Any, plan: Plan, *, metrics: bool = True) -> dict[str, Any]:
    """Store the sample in moto's S3; the documents the workflow's states would return."""
    s3.create_bucket(Bucket=ARTIFACTS)
    if metrics:
        places = training_objects(plan.outputDataConfig["s3Uri"], JOB_ARN)
        for role, text in (("training", training_csv()), ("validation", validation_csv())):
            bucket, key = places[role]
            s3.put_object(Bucket=bucket, Key=key, Body=text.encode())
    folder = reports_folder(plan)
    data_report = {
        "verdict": "valid",
        "summary": "VALID: 480 training records, 40 validation, about 96000 tokens per epoch "
        "(bedrock-conversation).",
        "files": {"training": {"records": 480}, "validation": {"records": 40}},
        "errors": {},
        "warnings": {},
    }
    rows = records()
    csv_text = io.StringIO()
    write_csv(csv_text, rows)
    evaluation = {"results": comparison_results(rows), "gate": None, "testSet": {"records": 4}}
    summary = summarize(
        parse_metrics_csv(training_csv(), TRAINING_LOSS),
        parse_metrics_csv(validation_csv(), VALIDATION_LOSS),
    )
    stored = [("training-curves.json", json.dumps({"jobArn": JOB_ARN, **summary}))]
    for name, body in (
        *(stored if metrics else []),
        ("data-validation.json", json.dumps(data_report)),
        ("evaluation.json", json.dumps(evaluation)),
        ("evaluation.csv", csv_text.getvalue()),
    ):
        s3.put_object(Bucket=ARTIFACTS, Key=f"{folder}/{name}", Body=body.encode())
    return {
        "plan": plan.model_dump(exclude_none=True),
        "dataset": {
            "verdict": "valid",
            "reportUri": f"s3://{ARTIFACTS}/{folder}/data-validation.json",
            "records": {"training": 480, "validation": 40},
            "warnings": {"duplicate-record": 2},
            "trainingTokensPerEpoch": 96000,
            "costEstimate": {"estimated": True, "training_usd": 0.286},
        },
        "job": {"jobArn": JOB_ARN, "status": "Completed", "outputModelArn": MODEL_ARN},
        "serving": {"arn": PT_ARN, "status": "InService", "invokeModelId": PT_ARN},
        "evaluation": {
            "reportUri": f"s3://{ARTIFACTS}/{folder}/evaluation.json",
            "recordsCsvUri": f"s3://{ARTIFACTS}/{folder}/evaluation.csv",
        },
    }
