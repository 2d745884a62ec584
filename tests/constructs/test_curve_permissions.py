"""Check job status may read a completed job's two metrics files, list those keys, decrypt them
through S3 and write the reports; nothing else Bedrock writes, nothing in the data bucket.

Evaluated on the synthesized template's policies (``tests/policy_eval.py``), as S3 and KMS
present the requests.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Synthesized
from tests.e2e.fake_bedrock import REGION
from tests.policy_eval import Policies, Request

FOLDER = "customization-jobs/support-triage/model-customization-job-abcdef123456"
TRAINING = f"{FOLDER}/training_artifacts/step_wise_training_metrics.csv"
VALIDATION = f"{FOLDER}/validation_artifacts/post_fine_tuning_validation/validation_metrics.csv"


@pytest.fixture(scope="module", params=["default", "full"])
def policies(request: Any, synthesized: Synthesized, synthesized_full: Synthesized) -> Policies:
    return Policies((synthesized if request.param == "default" else synthesized_full).template)


def _check_job_role(policies: Policies) -> str:
    [role] = [
        r["Properties"]["Role"]["Fn::GetAtt"][0]
        for r in policies.resources.values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("Handler") == "lambda_handlers.check_job.handler"
    ]
    return str(role)


def _bucket(policies: Policies, name: str) -> str:
    """The ARN of the bucket the stack's output ``<name>BucketName`` names."""
    template = policies.template
    [bucket] = [
        v["Value"]["Ref"] for k, v in template["Outputs"].items() if k == f"{name}BucketName"
    ]
    return str(policies.resolve({"Fn::GetAtt": [bucket, "Arn"]}))


def _asks(policies: Policies, action: str, resource: str, **context: str) -> bool:
    request = Request(action, resource, context, role=_check_job_role(policies))
    return bool(policies.role_allows(request))


@pytest.mark.parametrize("key", [TRAINING, VALIDATION, TRAINING.replace("support-triage/", "")])
def test_check_job_reads_and_lists_the_metrics_files(policies: Policies, key: str) -> None:
    artifacts = _bucket(policies, "Artifacts")
    assert _asks(policies, "s3:GetObject", f"{artifacts}/{key}")
    assert _asks(policies, "s3:ListBucket", artifacts, **{"s3:prefix": key})


@pytest.mark.parametrize(
    "key",
    [
        f"{FOLDER}/output_model/model.tar.gz",  # what else Bedrock writes there
        f"{FOLDER}/training_artifacts/other.csv",
        "reports/support-triage/data-validation.json",
        "other-prefix/model-customization-job-abc/training_artifacts/step_wise_training_metrics.csv",
    ],
)
def test_check_job_reads_nothing_else_of_the_job_output(policies: Policies, key: str) -> None:
    artifacts = _bucket(policies, "Artifacts")
    assert not _asks(policies, "s3:GetObject", f"{artifacts}/{key}")
    assert not _asks(policies, "s3:ListBucket", artifacts, **{"s3:prefix": key})


def test_check_job_lists_nothing_without_a_metrics_key(policies: Policies) -> None:
    artifacts = _bucket(policies, "Artifacts")
    assert not _asks(policies, "s3:ListBucket", artifacts)
    assert not _asks(policies, "s3:ListBucket", artifacts, **{"s3:prefix": "customization-jobs/"})


def test_check_job_reads_no_training_data(policies: Policies) -> None:
    data = _bucket(policies, "Data")
    assert not _asks(policies, "s3:GetObject", f"{data}/training/train.jsonl")


def test_check_job_writes_the_curves_with_the_reports(policies: Policies) -> None:
    artifacts = _bucket(policies, "Artifacts")
    assert _asks(
        policies, "s3:PutObject", f"{artifacts}/reports/support-triage/training-curves.json"
    )
    assert not _asks(policies, "s3:PutObject", f"{artifacts}/{TRAINING}")


def test_check_job_uses_the_key_only_through_s3(policies: Policies) -> None:
    [key] = policies.logical_ids("AWS::KMS::Key")
    key_arn = str(policies.resolve({"Fn::GetAtt": [key, "Arn"]}))
    via = "kms:ViaService"
    assert _asks(policies, "kms:Decrypt", key_arn, **{via: f"s3.{REGION}.amazonaws.com"})
    assert not _asks(policies, "kms:Decrypt", key_arn, **{via: f"bedrock.{REGION}.amazonaws.com"})
    assert not _asks(policies, "kms:Decrypt", key_arn)
