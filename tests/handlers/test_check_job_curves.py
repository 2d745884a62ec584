"""Check job status reads a completed job's loss curves once, stores them, and gates on them.

Bedrock's calls under the strict Stubber; S3 in moto where the objects' contents matter,
under the strict Stubber where the exact calls do (none while the job runs; the 403 path).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import ANY
from moto import mock_aws

from lambda_handlers import check_job
from lambda_handlers.common.errors import AccessDenied, QualityGateFailed, RequestInvalid
from lambda_handlers.common.request_checks import check_request
from tests.factories import CONTEXT, JOB_ARN, fine_tuning_request, job_description, plan_for

JOB_ID = JOB_ARN.rsplit("/", 1)[1]
TRAINING_CSV = (
    "\ufeffstep_number,epoch_number,training_loss,perplexity\r\n"
    "0,0,2.40,11.02\r\n"
    "1,0,1.70,5.47\r\n"
    "2,1,nan,\r\n"
    "3,1,0.90,2.46\r\n"
)
VALIDATION_CSV = (
    "step_number,epoch_number,validation_loss,perplexity\n"
    "1,0,1.80,6.05\n"
    "3,1,1.30,3.67\n"
    "5,2,1.45,4.26\n"
    "7,3,1.60,4.95\n"
)


def state(plan: Any, **extra: Any) -> dict[str, Any]:
    return {"plan": plan.model_dump(exclude_none=True), "job": {"jobArn": JOB_ARN}, **extra}


def folder(plan: Any) -> str:
    return f"customization-jobs/{plan.jobName}/model-customization-job-{JOB_ID}"


def training_key(plan: Any) -> str:
    return f"{folder(plan)}/training_artifacts/step_wise_training_metrics.csv"


def validation_key(plan: Any) -> str:
    return f"{folder(plan)}/validation_artifacts/post_fine_tuning_validation/validation_metrics.csv"


def completed(stub: Any, plan: Any) -> None:
    stub("bedrock").add_response(
        "get_model_customization_job",
        job_description(plan, "Completed", trainingMetrics={"trainingLoss": 0.9}),
        {"jobIdentifier": JOB_ARN},
    )


def artifacts(plan: Any, *, training: bool, validation: bool) -> Any:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="artifacts-bucket")
    if training:
        s3.put_object(Bucket="artifacts-bucket", Key=training_key(plan), Body=TRAINING_CSV.encode())
    if validation:
        s3.put_object(
            Bucket="artifacts-bucket", Key=validation_key(plan), Body=VALIDATION_CSV.encode()
        )
    return s3


def report(s3: Any, plan: Any, name: str) -> bytes:
    key = f"reports/{plan.jobName}/{name}"
    return bytes(s3.get_object(Bucket="artifacts-bucket", Key=key)["Body"].read())


@mock_aws
def test_completed_job_with_both_files(stub, lambda_context) -> None:
    plan = plan_for()
    s3 = artifacts(plan, training=True, validation=True)
    completed(stub, plan)
    result = check_job.handler(state(plan), lambda_context)
    curves = result["curves"]
    assert curves["training"]["points"] == 3 and curves["training"]["skipped"] == 1
    assert curves["training"]["first"] == {"step": 0, "epoch": 0, "loss": 2.4}
    assert curves["training"]["last"] == {"step": 3, "epoch": 1, "loss": 0.9}
    assert curves["validation"]["best"] == {"step": 3, "epoch": 1, "loss": 1.3}
    assert curves["validationRising"] == 2
    assert curves["problems"] == []
    assert curves["files"]["training"] == f"s3://artifacts-bucket/{training_key(plan)}"
    # The same summary is stored with the reports, beside copies of both files.
    assert curves["report"] == f"s3://artifacts-bucket/reports/{plan.jobName}/training-curves.json"
    stored = json.loads(report(s3, plan, "training-curves.json"))
    assert stored == {"jobArn": JOB_ARN, **{k: v for k, v in curves.items() if k != "report"}}
    assert report(s3, plan, "step_wise_training_metrics.csv") == TRAINING_CSV.encode()
    assert report(s3, plan, "validation_metrics.csv") == VALIDATION_CSV.encode()
    assert result["status"] == "Completed" and result["outputModelArn"]  # the contract holds


@mock_aws
def test_completed_job_with_only_the_training_file(stub, lambda_context) -> None:
    plan = plan_for()
    s3 = artifacts(plan, training=True, validation=False)
    completed(stub, plan)
    curves = check_job.handler(state(plan), lambda_context)["curves"]
    assert curves["training"]["points"] == 3
    assert curves["validation"] is None and curves["validationRising"] is None
    assert set(curves["copies"]) == {"training"}
    stored = json.loads(report(s3, plan, "training-curves.json"))
    assert stored["validation"] is None


@mock_aws
def test_completed_job_with_no_metrics_files(stub, lambda_context) -> None:
    plan = plan_for()
    s3 = artifacts(plan, training=False, validation=False)
    completed(stub, plan)
    result = check_job.handler(state(plan), lambda_context)
    assert result["curves"]["training"] is None and result["curves"]["validation"] is None
    assert result["curves"]["copies"] == {}
    assert json.loads(report(s3, plan, "training-curves.json"))["training"] is None


@mock_aws
def test_an_unreadable_file_is_a_problem_not_a_failure(stub, lambda_context) -> None:
    plan = plan_for()
    s3 = artifacts(plan, training=True, validation=False)
    s3.put_object(
        Bucket="artifacts-bucket",
        Key=validation_key(plan),
        Body=b"step_number,epoch_number,loss\n0,0,1.0\n",
    )
    completed(stub, plan)
    curves = check_job.handler(state(plan), lambda_context)["curves"]
    assert curves["validation"] is None and curves["training"]["points"] == 3
    assert curves["problems"] == [
        "validation_metrics.csv: the metrics file has no 'validation_loss' column "
        "(columns found: step_number, epoch_number, loss)"
    ]


def test_no_s3_call_while_the_job_runs(stub, lambda_context) -> None:
    plan = plan_for()
    stub("s3")  # activated with nothing expected: any S3 call fails the test
    bedrock = stub("bedrock")
    for status in ("InProgress", "Stopping"):
        bedrock.add_response(
            "get_model_customization_job",
            job_description(plan, status),
            {"jobIdentifier": JOB_ARN},
        )
        assert "curves" not in check_job.handler(state(plan), lambda_context)


def _s3_403_then_listed(stub: Any, plan: Any, listed: list[str]) -> Any:
    s3 = stub("s3")
    s3.add_client_error(
        "get_object",
        "AccessDenied",
        "Access Denied",
        403,
        expected_params={"Bucket": "artifacts-bucket", "Key": training_key(plan)},
    )
    s3.add_response(
        "list_objects_v2",
        {"Contents": [{"Key": k} for k in listed], "KeyCount": len(listed)},
        {"Bucket": "artifacts-bucket", "Prefix": training_key(plan), "MaxKeys": 1},
    )
    return s3


def test_a_403_on_a_key_that_is_not_listed_is_an_absent_file(stub, lambda_context) -> None:
    plan = plan_for()
    completed(stub, plan)
    s3 = _s3_403_then_listed(stub, plan, [])
    s3.add_client_error(
        "get_object",
        "NoSuchKey",
        "The specified key does not exist.",
        404,
        expected_params={"Bucket": "artifacts-bucket", "Key": validation_key(plan)},
    )
    s3.add_response(
        "put_object",
        {},
        {
            "Bucket": "artifacts-bucket",
            "Key": f"reports/{plan.jobName}/training-curves.json",
            "Body": ANY,
            "ContentType": "application/json",
        },
    )
    curves = check_job.handler(state(plan), lambda_context)["curves"]
    assert curves["training"] is None and curves["validation"] is None


def test_a_403_on_a_file_that_exists_propagates(stub, lambda_context) -> None:
    plan = plan_for()
    completed(stub, plan)
    _s3_403_then_listed(stub, plan, [training_key(plan)])
    with pytest.raises(AccessDenied, match=f"GetObject s3://artifacts-bucket/{training_key(plan)}"):
        check_job.handler(state(plan), lambda_context)


# -- the training gate on the curve ---------------------------------------------------


def gated(limit: int) -> Any:
    return plan_for(fine_tuning_request(trainingGate={"maxValidationLossRises": limit}))


@mock_aws
def test_a_curve_within_the_gate_passes(stub, lambda_context) -> None:
    plan = gated(2)  # the validation loss rose twice at the end
    artifacts(plan, training=True, validation=True)
    completed(stub, plan)
    assert check_job.handler(state(plan), lambda_context)["curves"]["validationRising"] == 2


@mock_aws
def test_a_rising_curve_fails_the_gate_after_the_report_is_stored(stub, lambda_context) -> None:
    plan = gated(1)
    s3 = artifacts(plan, training=True, validation=True)
    completed(stub, plan)
    with pytest.raises(QualityGateFailed) as raised:
        check_job.handler(state(plan), lambda_context)
    assert str(raised.value) == (
        "Training gate failed: validation loss rose for the last 2 evaluations in a row, to "
        "1.6000 at step 7 (best 1.3000 at step 3), more than maxValidationLossRises 1; nothing "
        f"was served. Curves: s3://artifacts-bucket/reports/{plan.jobName}/training-curves.json"
    )
    assert json.loads(report(s3, plan, "training-curves.json"))["validationRising"] == 2


@mock_aws
def test_a_missing_validation_file_fails_a_gate_that_needs_it(stub, lambda_context) -> None:
    plan = gated(3)
    artifacts(plan, training=True, validation=False)
    completed(stub, plan)
    with pytest.raises(QualityGateFailed, match="no validation loss curve"):
        check_job.handler(state(plan), lambda_context)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (-1, "trainingGate.maxValidationLossRises: Input should be greater than or equal to 0"),
        (1001, "trainingGate.maxValidationLossRises: Input should be less than or equal to 1000"),
        (1.5, "trainingGate.maxValidationLossRises: Input should be a valid integer (got 1.5)"),
        ("2", "trainingGate.maxValidationLossRises: Input should be a valid integer (got '2')"),
        (True, "trainingGate.maxValidationLossRises: Input should be a valid integer (got True)"),
        (
            None,
            "trainingGate: give maxTrainingLoss, maxValidationLoss, maxValidationLossRises, "
            "or several",
        ),
    ],
)
def test_bad_gate_values_are_refused_by_name(value: object, problem: str) -> None:
    with pytest.raises(RequestInvalid) as raised:
        check_request(fine_tuning_request(trainingGate={"maxValidationLossRises": value}), CONTEXT)
    assert any(p.startswith(problem) for p in raised.value.problems), raised.value.problems


def test_the_rises_gate_needs_validation_data() -> None:
    request = fine_tuning_request(trainingGate={"maxValidationLossRises": 0})
    del request["validationDataConfig"]
    with pytest.raises(RequestInvalid) as raised:
        check_request(request, CONTEXT)
    assert raised.value.problems == [
        "trainingGate.maxValidationLossRises: needs validationDataConfig "
        "(no validation loss without it)"
    ]


def test_the_rises_gate_reaches_the_plan() -> None:
    plan = gated(0)
    assert plan.trainingGate == {"maxValidationLossRises": 0, "keepModelOnGateFailure": False}
