"""Loss curves in offline executions of the synthesized state machine.

Bedrock's side: when a job is created, the test writes the metrics files its job will leave
under the output location (``FakeBedrock.on_training``); Check job status reads them only
once the job is Completed, as it would on AWS.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from tests.e2e.fake_bedrock import REGION, FakeBedrock
from tests.e2e.harness import OfflineWorkflow
from tests.e2e.requests import error_message, request_for

TRAINING_CSV = (
    "step_number,epoch_number,training_loss,perplexity\n"
    "0,0,2.10,8.17\n"
    "1,0,1.40,4.06\n"
    "2,1,0.80,2.23\n"
    "3,1,0.60,1.82\n"
)
VALIDATION_CSV = (
    "step_number,epoch_number,validation_loss,perplexity\n"
    "1,0,1.50,4.48\n"
    "3,1,1.10,3.00\n"
    "5,2,1.20,3.32\n"
    "7,3,1.35,3.86\n"
)


def writes_metrics(bedrock: FakeBedrock, *, validation: bool = True) -> None:
    """Bedrock writes the job's metrics files under its output location."""

    def train(params: dict[str, Any]) -> None:
        [job] = [j for j in bedrock.jobs.values() if j["jobName"] == params["jobName"]]
        bucket, _, prefix = params["outputDataConfig"]["s3Uri"][5:].partition("/")
        folder = f"{prefix}model-customization-job-{job['jobArn'].rsplit('/', 1)[1]}"
        s3 = boto3.client("s3", region_name=REGION)
        files = {"training_artifacts/step_wise_training_metrics.csv": TRAINING_CSV}
        if validation:
            key = "validation_artifacts/post_fine_tuning_validation/validation_metrics.csv"
            files[key] = VALIDATION_CSV
        for name, text in files.items():
            s3.put_object(Bucket=bucket, Key=f"{folder}/{name}", Body=text.encode())

    bedrock.on_training = train


def test_a_completed_execution_carries_its_curves(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    writes_metrics(bedrock)
    execution = workflow.run(request_for(workflow))

    assert execution.status == "SUCCEEDED", execution.cause
    curves = execution.output["job"]["curves"]
    assert curves["training"]["first"] == {"step": 0, "epoch": 0, "loss": 2.1}
    assert curves["training"]["last"] == {"step": 3, "epoch": 1, "loss": 0.6}
    assert curves["training"]["steps"] == 4 and curves["training"]["epochs"] == 2
    assert curves["validation"]["best"] == {"step": 3, "epoch": 1, "loss": 1.1}
    assert curves["validationRising"] == 2
    # Stored with the execution's other reports, beside copies of Bedrock's files.
    bucket, _, key = curves["report"][5:].partition("/")
    assert bucket == workflow.artifacts_bucket and key.startswith("reports/")
    s3 = boto3.client("s3", region_name=REGION)
    stored = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert stored["validation"] == curves["validation"]
    copy = curves["copies"]["validation"][5:].partition("/")[2]
    assert s3.get_object(Bucket=bucket, Key=copy)["Body"].read() == VALIDATION_CSV.encode()


def test_an_execution_whose_job_wrote_no_validation_file_still_succeeds(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    writes_metrics(bedrock, validation=False)
    execution = workflow.run(request_for(workflow))

    assert execution.status == "SUCCEEDED", execution.cause
    curves = execution.output["job"]["curves"]
    assert curves["training"]["points"] == 4
    assert curves["validation"] is None and curves["validationRising"] is None


def test_a_rising_validation_curve_stops_the_model_before_it_is_served(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    writes_metrics(bedrock)
    request = request_for(
        workflow,
        serving={"mode": "provisioned-throughput"},
        trainingGate={"maxValidationLossRises": 1},
    )
    execution = workflow.run(request)

    assert execution.error == "QualityGateFailed"
    assert "validation loss rose for the last 2 evaluations in a row" in error_message(execution)
    assert "training-curves.json" in error_message(execution)
    assert bedrock.throughputs == {}, "nothing was served"
    assert len(bedrock.deleted_models) == 1, "the model that failed the gate is deleted"
