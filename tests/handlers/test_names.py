"""Names, tags and locations derived from the request and the execution fit what the service
accepts (botocore's patterns), whatever the execution is called and whatever job name the
request gives."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from lambda_handlers.batch_evaluation import batch_job_name
from lambda_handlers.common.plan import (
    EXECUTION_TAG,
    build_create_job_request,
    carries_execution_tag,
    execution_tag_value,
    job_folder,
)
from lambda_handlers.common.progress import build_serving_request
from lambda_handlers.common.service_model import service_model
from lambda_handlers.evaluation.batch import batch_job_request
from lambda_handlers.schedule_expiry import expiry_schedule
from tests.factories import EXECUTION_ARN, MODEL_ARN, fine_tuning_request, plan_for
from tests.service_model import strict_problems

MACHINE = "arn:aws:states:us-east-1:123456789012:execution:CustomizationStateMachine:"
# Step Functions names may hold these (no whitespace, brackets, wildcards, "#%\^|~`$&,;:/"),
# a tag value may not: ( ) ! ' and letters outside ASCII. 80 characters is the longest name.
HOSTILE_NAMES = ["run(1)!", "café-ünïcode", "a'b", "x(!')é" * 13 + "xy"]


def _shape_pattern(service: str, shape: str) -> re.Pattern[str]:
    return re.compile(service_model(service).shape_for(shape).metadata["pattern"])


TAG_VALUE = _shape_pattern("bedrock", "TagValue")
S3_URI = _shape_pattern("bedrock", "S3Uri")
JOB_NAME = _shape_pattern("bedrock", "JobName")


def test_the_hostile_names_are_names_step_functions_takes() -> None:
    assert len(HOSTILE_NAMES[-1]) == 80
    for name in HOSTILE_NAMES:
        assert not re.search(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/]", name)


def test_an_execution_arn_that_is_a_valid_tag_value_is_its_own_tag() -> None:
    """What every earlier version wrote: their resources are still recognized."""
    assert execution_tag_value(EXECUTION_ARN) == EXECUTION_ARN
    legacy = [{"key": EXECUTION_TAG, "value": EXECUTION_ARN}]
    assert carries_execution_tag(legacy, EXECUTION_ARN)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_the_execution_tag_fits_tag_value_whatever_the_name(name: str) -> None:
    arn = MACHINE + name
    value = execution_tag_value(arn)
    assert TAG_VALUE.fullmatch(value) and len(value) <= 256
    assert value == execution_tag_value(arn), "deterministic"
    assert "/sha256=" in value
    assert carries_execution_tag([{"key": EXECUTION_TAG, "value": value}], arn)


def test_the_execution_tag_is_unique_per_execution() -> None:
    arns = [MACHINE + n for n in (*HOSTILE_NAMES, "run(1)?", "run)1(!", "run_1__", "caf_-_n_code")]
    values = {execution_tag_value(a) for a in arns}
    assert len(values) == len(arns)
    # Names that differ only where characters were replaced stay apart...
    assert execution_tag_value(MACHINE + "a'b") != execution_tag_value(MACHINE + "a!b")
    # ...and an encoded value never equals another execution's plain ARN.
    assert execution_tag_value(MACHINE + "a'b") != MACHINE + "a_b"
    other = [{"key": EXECUTION_TAG, "value": execution_tag_value(MACHINE + "a!b")}]
    assert not carries_execution_tag(other, MACHINE + "a'b")
    assert not carries_execution_tag([{"key": "team", "value": MACHINE + "a'b"}], MACHINE + "a'b")


def test_a_long_state_machine_and_execution_name_still_fit() -> None:
    arn = f"arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:{'é' * 80}:{'(' * 80}"
    value = execution_tag_value(arn)
    assert len(value) == 256 and TAG_VALUE.fullmatch(value)


@pytest.mark.parametrize(
    ("job_name", "folder"),
    [("nova-lite-ft-1a2b", "nova-lite-ft-1a2b"), ("v1.2-run", "v1.2-run")],
)
def test_a_job_name_an_s3_key_can_hold_is_its_own_folder(job_name: str, folder: str) -> None:
    assert job_folder(job_name) == folder


def test_a_job_name_with_plus_gets_a_valid_distinct_folder() -> None:
    folder = job_folder("llama+v2")
    assert re.fullmatch(r"llama_v2-[0-9a-f]{10}", folder)
    assert S3_URI.fullmatch(f"s3://artifacts-bucket/customization-jobs/{folder}/")
    names = ["llama+v2", "llama+v2+", "llama++v2", "llama-v2", "llama.v2", "a+b", "a+b+c"]
    assert all(JOB_NAME.fullmatch(n) for n in names)
    assert len({job_folder(n) for n in names}) == len(names)
    assert job_folder("llama+v2") == folder, "deterministic"


def test_the_default_output_location_of_a_plus_name_is_a_valid_s3_uri() -> None:
    plan = plan_for(fine_tuning_request(jobName="support+triage-v2"))
    uri = plan.outputDataConfig["s3Uri"]
    assert uri == f"s3://artifacts-bucket/customization-jobs/{job_folder('support+triage-v2')}/"
    assert strict_problems("bedrock", "CreateModelCustomizationJob", job_request(plan)) == []


def job_request(plan):
    return build_create_job_request(plan, "arn:aws:iam::123456789012:role/R", None)


@pytest.mark.parametrize("job_name", [None, "support+triage.v2"])
@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_everything_derived_from_a_hostile_execution_fits_the_service(
    name: str, job_name: str | None
) -> None:
    """The job, serving, the expiry schedule and the batch evaluation job of an execution
    named like this, checked against botocore's patterns, lengths and enums."""
    request = fine_tuning_request(
        serving={"mode": "on-demand-deployment", "timeToLiveHours": 2},
        evaluation={"testDataConfig": {"s3Uri": "s3://data-bucket/test/t.jsonl"}},
        **({"jobName": job_name} if job_name else {}),
    )
    plan = plan_for(request, execution_arn=MACHINE + name)
    assert strict_problems("bedrock", "CreateModelCustomizationJob", job_request(plan)) == []
    for mode in ("on-demand-deployment", "provisioned-throughput"):
        served = plan.model_copy(update={"serving": plan.serving.model_copy(update={"mode": mode})})
        operation, params = build_serving_request(served, MODEL_ARN)
        api = "".join(part.title() for part in operation.split("_"))
        assert strict_problems("bedrock", api, params) == []
    schedule = expiry_schedule(
        plan,
        datetime(2026, 11, 26, tzinfo=UTC),
        "arn:aws:lambda:us-east-1:123456789012:function:Cleanup",
        "arn:aws:iam::123456789012:role/Scheduler",
        "default",
    )
    assert strict_problems("scheduler", "CreateSchedule", schedule) == []
    # How the batch evaluation should name its job and folders (batch_job_request checks them).
    reports = f"s3://artifacts-bucket/reports/{job_folder(plan.jobName)}/batch/"
    batch_job_request(
        job_name=batch_job_name(plan),
        role_arn="arn:aws:iam::123456789012:role/Batch",
        model_id="amazon.nova-lite-v1:0",
        input_s3_uri=reports + "input/base.jsonl",
        output_s3_uri=reports + "output/",
        tags=plan.tags,
    )
