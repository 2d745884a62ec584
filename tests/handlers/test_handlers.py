"""Each handler's AWS calls, checked against botocore's service model by a strict Stubber."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambda_handlers import (
    check_job,
    check_serving,
    cleanup,
    notify,
    start_serving,
    submit_job,
    validate_request,
)
from lambda_handlers.common.errors import (
    AccessDenied,
    BedrockRequestRejected,
    BedrockThrottled,
    BedrockUnavailable,
    CustomizationJobFailed,
    CustomizationJobStopped,
    JobNameTaken,
    PromotionFailed,
    QuotaExceeded,
    RequestInvalid,
    ServiceRoleNotReady,
    ServingFailed,
    TrainingCostExceeded,
    TrainingDataInvalid,
)
from lambda_handlers.common.notification import compose, sns_message
from lambda_handlers.common.plan import EXECUTION_TAG, STACK_TAG, build_create_job_request
from tests.factories import (
    DEPLOYMENT_ARN,
    EXECUTION_ARN,
    JOB_ARN,
    MODEL_ARN,
    NOW,
    PT_ARN,
    conversation_records,
    fine_tuning_request,
    foundation_model,
    job_description,
    jsonl,
    plan_for,
)
from tests.handlers.conftest import SETTINGS_ENV

ROLE = SETTINGS_ENV["SERVICE_ROLE_ARN"]
KEY = SETTINGS_ENV["KMS_KEY_ARN"]


def state(plan, **extra: Any) -> dict[str, Any]:
    return {"plan": plan.model_dump(exclude_none=True), **extra}


# -- validate_request ----------------------------------------------------------------


def buckets_with(training: bytes, validation: bytes | None = None) -> Any:
    """The stack's two buckets in moto, with the request's training (and validation) data."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="data-bucket")
    s3.create_bucket(Bucket="artifacts-bucket")
    s3.put_object(Bucket="data-bucket", Key="training/train.jsonl", Body=training)
    if validation is not None:
        s3.put_object(Bucket="data-bucket", Key="validation/val.jsonl", Body=validation)
    return s3


@mock_aws
def test_validate_returns_the_plan_and_writes_the_data_report(lambda_context) -> None:
    s3 = buckets_with(jsonl(conversation_records(10)), jsonl(conversation_records(2, 50)))
    result = validate_request.handler(
        {"request": fine_tuning_request(), "execution": {"id": EXECUTION_ARN}}, lambda_context
    )
    plan = plan_for()
    assert result["plan"] == plan.model_dump(exclude_none=True)
    key = f"reports/{plan.jobName}/data-validation.json"
    assert result["dataset"]["reportUri"] == f"s3://artifacts-bucket/{key}"
    assert result["dataset"]["records"] == {"training": 10, "validation": 2}
    report = json.loads(s3.get_object(Bucket="artifacts-bucket", Key=key)["Body"].read())
    assert report["verdict"] == "valid" and report["format"] == "bedrock-conversation"


@mock_aws
def test_validate_fails_on_bad_data_with_the_reports_summary(lambda_context) -> None:
    buckets_with(jsonl(conversation_records(3)), b"{}\n")
    with pytest.raises(TrainingDataInvalid) as caught:
        validate_request.handler(
            {"request": fine_tuning_request(), "execution": {"id": EXECUTION_ARN}}, lambda_context
        )
    message = str(caught.value)
    assert message.startswith("INVALID: 3 training records, 1 validation")
    assert (
        "too-few-records" in message and "missing-field at validation line 1 $.messages" in message
    )
    assert message.endswith("data-validation.json")


@mock_aws
def test_validate_names_each_missing_object(lambda_context) -> None:
    boto3.client("s3").create_bucket(Bucket="data-bucket")
    with pytest.raises(RequestInvalid) as caught:
        validate_request.handler(
            {"request": fine_tuning_request(), "execution": {"id": EXECUTION_ARN}}, lambda_context
        )
    assert caught.value.problems == [
        "trainingDataConfig.s3Uri: no object at s3://data-bucket/training/train.jsonl; upload the data first",
        "validationDataConfig.validators[0].s3Uri: no object at s3://data-bucket/validation/val.jsonl; "
        "upload the data first",
    ]


def test_validate_rejects_a_bad_request_before_touching_s3(stub, lambda_context) -> None:
    stub("s3")  # no responses queued: any S3 call would fail the test
    with pytest.raises(RequestInvalid):
        validate_request.handler(
            {
                "request": fine_tuning_request(baseModelIdentifier="nope"),
                "execution": {"id": EXECUTION_ARN},
            },
            lambda_context,
        )


def test_validate_translates_an_s3_error_naming_the_call(stub, lambda_context) -> None:
    # A 403 is settled by listing the key (tests/handlers/test_preflight.py); other errors
    # are translated.
    s3 = stub("s3")
    s3.add_client_error(
        "head_object",
        service_error_code="503",
        http_status_code=503,
        expected_params={"Bucket": "data-bucket", "Key": "training/train.jsonl"},
    )
    with pytest.raises(
        BedrockUnavailable, match=re.escape("HeadObject s3://data-bucket/training/train.jsonl")
    ):
        validate_request.handler(
            {"request": fine_tuning_request(), "execution": {"id": EXECUTION_ARN}}, lambda_context
        )


# -- submit_job ----------------------------------------------------------------------


def test_submit_creates_the_job_with_the_execution_token(stub, lambda_context) -> None:
    plan = plan_for()
    bedrock = stub("bedrock")
    expected = build_create_job_request(plan, ROLE, KEY)
    bedrock.add_response("create_model_customization_job", {"jobArn": JOB_ARN}, expected)
    assert submit_job.handler(state(plan), lambda_context) == {
        "jobArn": JOB_ARN,
        "jobName": plan.jobName,
        "pollSeconds": 300,  # the first look at the job, after 5 minutes
    }
    assert expected["clientRequestToken"] == plan.clientRequestToken
    assert {"key": EXECUTION_TAG, "value": EXECUTION_ARN} in expected["jobTags"]


def test_submit_adopts_the_job_an_earlier_attempt_created(stub, lambda_context) -> None:
    plan = plan_for()
    bedrock = stub("bedrock")
    bedrock.add_client_error(
        "create_model_customization_job", "ConflictException", "job name already exists"
    )
    bedrock.add_response(
        "get_model_customization_job", job_description(plan), {"jobIdentifier": plan.jobName}
    )
    assert submit_job.handler(state(plan), lambda_context)["jobArn"] == JOB_ARN


def test_submit_refuses_a_job_name_owned_by_someone_else(stub, lambda_context) -> None:
    plan = plan_for()
    bedrock = stub("bedrock")
    bedrock.add_client_error("create_model_customization_job", "ConflictException", "exists")
    bedrock.add_response(
        "get_model_customization_job",
        job_description(plan, clientRequestToken="someone-else"),
        {"jobIdentifier": plan.jobName},
    )
    with pytest.raises(JobNameTaken, match=f"named {plan.jobName} already exists"):
        submit_job.handler(state(plan), lambda_context)


@pytest.mark.parametrize(
    ("code", "status", "message", "error"),
    [
        ("ThrottlingException", 429, "Rate exceeded", BedrockThrottled),
        ("InternalServerException", 500, "oops", BedrockUnavailable),
        ("ServiceUnavailableException", 503, "later", BedrockUnavailable),
        ("ServiceQuotaExceededException", 400, "too many jobs", QuotaExceeded),
        ("ValidationException", 400, "Could not assume the role provided", ServiceRoleNotReady),
        ("ValidationException", 400, "Invalid hyperparameter", BedrockRequestRejected),
        ("AccessDeniedException", 403, "no", AccessDenied),
    ],
)
def test_submit_translates_errors_into_names_the_state_machine_acts_on(
    stub, lambda_context, code: str, status: int, message: str, error: type
) -> None:
    bedrock = stub("bedrock")
    bedrock.add_client_error(
        "create_model_customization_job", code, message, http_status_code=status
    )
    with pytest.raises(error, match=f"CreateModelCustomizationJob: {code}: {message}"):
        submit_job.handler(state(plan_for()), lambda_context)


# -- check_job -----------------------------------------------------------------------


def test_check_job_reports_progress(stub, lambda_context) -> None:
    plan = plan_for()
    details = {
        "validationDetails": {"status": "Completed", "creationTime": NOW, "lastModifiedTime": NOW},
        "trainingDetails": {"status": "InProgress", "creationTime": NOW, "lastModifiedTime": NOW},
    }
    stub("bedrock").add_response(
        "get_model_customization_job",
        job_description(plan, statusDetails=details),
        {"jobIdentifier": JOB_ARN},
    )
    result = check_job.handler(state(plan, job={"jobArn": JOB_ARN}), lambda_context)
    assert result == {
        "status": "InProgress",
        "jobArn": JOB_ARN,
        "jobName": plan.jobName,
        "stages": {"validation": "Completed", "training": "InProgress"},
        "pollSeconds": 600,  # twice the first wait
    }


@pytest.mark.parametrize(
    ("what", "previous", "expected"),
    [
        ("JOB", None, 600),
        ("JOB", 300, 600),
        ("JOB", 600, 900),
        ("JOB", 900, 900),
        ("SERVING", None, 120),
        ("SERVING", 480, 600),
        ("SERVING", "x", 120),
    ],
)
def test_looks_back_off_from_the_first_wait_to_the_cap(
    what: str, previous: object, expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambda_handlers.common.polling import first_poll, next_poll

    monkeypatch.delenv(f"{what}_POLL_SECONDS", raising=False)
    assert next_poll(what, previous) == expected  # type: ignore[arg-type]
    monkeypatch.setenv("JOB_POLL_SECONDS", "30")
    monkeypatch.setenv("JOB_POLL_MAX_SECONDS", "100")
    assert first_poll("JOB") == 30
    assert [next_poll("JOB", p) for p in (None, 30, 60, 100)] == [60, 60, 100, 100]


@mock_aws
def test_check_job_returns_the_model_when_completed(stub, lambda_context) -> None:
    plan = plan_for()
    # No metrics files: the curves are absent (tests/handlers/test_check_job_curves.py).
    boto3.client("s3").create_bucket(Bucket="artifacts-bucket")
    stub("bedrock").add_response(
        "get_model_customization_job",
        job_description(
            plan,
            "Completed",
            trainingMetrics={"trainingLoss": 0.25},
            validationMetrics=[{"validationLoss": 0.3}],
        ),
        {"jobIdentifier": JOB_ARN},
    )
    result = check_job.handler(state(plan, job={"jobArn": JOB_ARN}), lambda_context)
    assert result["outputModelArn"] == MODEL_ARN
    assert result["trainingLoss"] == 0.25
    assert result["validationLoss"] == [0.3]
    assert result["curves"]["training"] is None


def test_check_job_fails_with_bedrocks_reason(stub, lambda_context) -> None:
    plan = plan_for()
    details = {
        "validationDetails": {"status": "Failed", "creationTime": NOW, "lastModifiedTime": NOW}
    }
    stub("bedrock").add_response(
        "get_model_customization_job",
        job_description(
            plan, "Failed", failureMessage="Row 12: missing 'messages'", statusDetails=details
        ),
        {"jobIdentifier": JOB_ARN},
    )
    with pytest.raises(
        CustomizationJobFailed, match="failed during validation: Row 12: missing 'messages'"
    ):
        check_job.handler(state(plan, job={"jobArn": JOB_ARN}), lambda_context)


def test_check_job_fails_when_stopped(stub, lambda_context) -> None:
    plan = plan_for()
    stub("bedrock").add_response(
        "get_model_customization_job", job_description(plan, "Stopped"), {"jobIdentifier": JOB_ARN}
    )
    with pytest.raises(CustomizationJobStopped):
        check_job.handler(state(plan, job={"jobArn": JOB_ARN}), lambda_context)


# -- serving -------------------------------------------------------------------------


def serving_plan(mode: str, **serving: Any):
    return plan_for(fine_tuning_request(serving={"mode": mode, **serving}))


def test_start_serving_buys_throughput_without_commitment(stub, lambda_context) -> None:
    plan = serving_plan("provisioned-throughput", modelUnits=2)
    bedrock = stub("bedrock")
    bedrock.add_response(
        "create_provisioned_model_throughput",
        {"provisionedModelArn": PT_ARN},
        {
            "clientRequestToken": plan.serving.clientRequestToken,
            "modelUnits": 2,
            "provisionedModelName": plan.serving.name,
            "modelId": MODEL_ARN,
            "tags": [{"key": k, "value": v} for k, v in plan.tags.items()],
        },
    )
    result = start_serving.handler(state(plan, job={"outputModelArn": MODEL_ARN}), lambda_context)
    assert result == {
        "pollSeconds": 60,
        "mode": "provisioned-throughput",
        "arn": PT_ARN,
        "name": plan.serving.name,
        "status": "Creating",
        "ready": False,
    }


def test_start_serving_passes_a_confirmed_commitment(stub, lambda_context) -> None:
    plan = serving_plan(
        "provisioned-throughput", commitmentDuration="SixMonths", confirmCommitment=True
    )
    bedrock = stub("bedrock")
    bedrock.add_response(
        "create_provisioned_model_throughput",
        {"provisionedModelArn": PT_ARN},
        {
            "clientRequestToken": plan.serving.clientRequestToken,
            "modelUnits": 1,
            "provisionedModelName": plan.serving.name,
            "modelId": MODEL_ARN,
            "commitmentDuration": "SixMonths",
            "tags": [{"key": k, "value": v} for k, v in plan.tags.items()],
        },
    )
    start_serving.handler(state(plan, job={"outputModelArn": MODEL_ARN}), lambda_context)


def test_start_serving_deploys_on_demand(stub, lambda_context) -> None:
    plan = serving_plan("on-demand-deployment")
    bedrock = stub("bedrock")
    bedrock.add_response(
        "create_custom_model_deployment",
        {"customModelDeploymentArn": DEPLOYMENT_ARN},
        {
            "modelDeploymentName": plan.serving.name,
            "modelArn": MODEL_ARN,
            "description": f"Serves {plan.customModelName}, trained by {plan.jobName}",
            "tags": [{"key": k, "value": v} for k, v in plan.tags.items()],
            "clientRequestToken": plan.serving.clientRequestToken,
        },
    )
    assert (
        start_serving.handler(state(plan, job={"outputModelArn": MODEL_ARN}), lambda_context)["arn"]
        == DEPLOYMENT_ARN
    )


def pt_description(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "modelUnits": 1,
        "desiredModelUnits": 1,
        "provisionedModelName": "m-pt",
        "provisionedModelArn": PT_ARN,
        "modelArn": MODEL_ARN,
        "desiredModelArn": MODEL_ARN,
        "foundationModelArn": MODEL_ARN,
        "status": status,
        "creationTime": NOW,
        "lastModifiedTime": NOW,
        **extra,
    }


def deployment_description(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "customModelDeploymentArn": DEPLOYMENT_ARN,
        "modelDeploymentName": "m-od",
        "modelArn": MODEL_ARN,
        "createdAt": NOW,
        "status": status,
        **extra,
    }


def test_check_serving_backs_off_up_to_ten_minutes(stub, lambda_context) -> None:
    bedrock = stub("bedrock")
    for previous, expected in ((60, 120), (240, 480), (480, 600), (600, 600)):
        bedrock.add_response("get_provisioned_model_throughput", pt_description("Creating"))
        event = state(
            plan_for(),
            serving={"mode": "provisioned-throughput", "arn": PT_ARN, "pollSeconds": previous},
        )
        assert check_serving.handler(event, lambda_context)["pollSeconds"] == expected


@pytest.mark.parametrize(("status", "ready"), [("Creating", False), ("InService", True)])
def test_check_serving_throughput(stub, lambda_context, status: str, ready: bool) -> None:
    stub("bedrock").add_response(
        "get_provisioned_model_throughput", pt_description(status), {"provisionedModelId": PT_ARN}
    )
    event = state(plan_for(), serving={"mode": "provisioned-throughput", "arn": PT_ARN})
    result = check_serving.handler(event, lambda_context)
    assert (result["status"], result["ready"], result["invokeModelId"]) == (status, ready, PT_ARN)


@pytest.mark.parametrize(("status", "ready"), [("Creating", False), ("Active", True)])
def test_check_serving_deployment(stub, lambda_context, status: str, ready: bool) -> None:
    stub("bedrock").add_response(
        "get_custom_model_deployment",
        deployment_description(status),
        {"customModelDeploymentIdentifier": DEPLOYMENT_ARN},
    )
    event = state(plan_for(), serving={"mode": "on-demand-deployment", "arn": DEPLOYMENT_ARN})
    assert check_serving.handler(event, lambda_context)["ready"] is ready


def test_check_serving_fails_with_the_reason(stub, lambda_context) -> None:
    stub("bedrock").add_response(
        "get_provisioned_model_throughput",
        pt_description("Failed", failureMessage="Insufficient capacity"),
    )
    event = state(plan_for(), serving={"mode": "provisioned-throughput", "arn": PT_ARN})
    with pytest.raises(ServingFailed, match="Insufficient capacity"):
        check_serving.handler(event, lambda_context)


# -- cleanup -------------------------------------------------------------------------


def test_cleanup_stops_a_running_job_and_deletes_our_throughput(stub, lambda_context) -> None:
    plan = serving_plan("provisioned-throughput")
    bedrock = stub("bedrock")
    bedrock.add_response(
        "get_model_customization_job", job_description(plan), {"jobIdentifier": plan.jobName}
    )
    bedrock.add_response("stop_model_customization_job", {}, {"jobIdentifier": JOB_ARN})
    bedrock.add_response(
        "get_provisioned_model_throughput",
        pt_description("Failed"),
        {"provisionedModelId": plan.serving.name},
    )
    bedrock.add_response(
        "list_tags_for_resource",
        {
            "tags": [
                {"key": STACK_TAG, "value": "BedrockCustomization"},
                {"key": EXECUTION_TAG, "value": EXECUTION_ARN},
            ]
        },
        {"resourceARN": PT_ARN},
    )
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
    report = cleanup.handler(state(plan, error={"Error": "ServingFailed"}), lambda_context)
    assert report == {"stoppedJob": JOB_ARN, "deleted": [PT_ARN], "problems": []}


def test_cleanup_deletes_our_deployment(stub, lambda_context) -> None:
    plan = serving_plan("on-demand-deployment")
    bedrock = stub("bedrock")
    bedrock.add_response("get_model_customization_job", job_description(plan, "Completed"))
    bedrock.add_response(
        "get_custom_model_deployment",
        deployment_description("Failed"),
        {"customModelDeploymentIdentifier": plan.serving.name},
    )
    bedrock.add_response(
        "list_tags_for_resource",
        {
            "tags": [
                {"key": STACK_TAG, "value": "BedrockCustomization"},
                {"key": EXECUTION_TAG, "value": EXECUTION_ARN},
            ]
        },
    )
    bedrock.add_response(
        "delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": DEPLOYMENT_ARN}
    )
    report = cleanup.handler(state(plan), lambda_context)
    assert report == {"stoppedJob": None, "deleted": [DEPLOYMENT_ARN], "problems": []}


def test_cleanup_leaves_resources_of_other_executions_alone(stub, lambda_context) -> None:
    plan = serving_plan("provisioned-throughput")
    bedrock = stub("bedrock")
    bedrock.add_response(
        "get_model_customization_job", job_description(plan, clientRequestToken="other-token")
    )
    bedrock.add_response("get_provisioned_model_throughput", pt_description("InService"))
    bedrock.add_response(
        "list_tags_for_resource",
        {
            "tags": [
                {"key": STACK_TAG, "value": "BedrockCustomization"},
                {"key": EXECUTION_TAG, "value": "another-arn"},
            ]
        },
    )
    report = cleanup.handler(state(plan), lambda_context)
    assert report["stoppedJob"] is None and report["deleted"] == []
    [problem] = report["problems"]
    assert problem["arn"] == PT_ARN and problem["action"] == "left alone"
    assert problem["command"] is None, "no command to delete what is not this execution's"


def test_cleanup_when_nothing_was_created(stub, lambda_context) -> None:
    plan = serving_plan("provisioned-throughput")
    bedrock = stub("bedrock")
    bedrock.add_client_error(
        "get_model_customization_job", "ResourceNotFoundException", "no such job"
    )
    bedrock.add_client_error(
        "get_provisioned_model_throughput", "ResourceNotFoundException", "no such model"
    )
    assert cleanup.handler(state(plan), lambda_context) == {
        "stoppedJob": None,
        "deleted": [],
        "problems": [],
    }


def test_cleanup_without_a_plan_does_nothing(lambda_context) -> None:
    assert cleanup.handler({"error": {"Error": "RequestInvalid"}}, lambda_context)["deleted"] == []


def test_cleanup_retries_throttling_and_records_other_failures(stub, lambda_context) -> None:
    plan = plan_for()
    bedrock = stub("bedrock")
    bedrock.add_client_error("get_model_customization_job", "ThrottlingException", "slow down", 429)
    with pytest.raises(BedrockThrottled):
        cleanup.handler(state(plan), lambda_context)
    bedrock.add_client_error("get_model_customization_job", "AccessDeniedException", "denied", 403)
    report = cleanup.handler(state(plan), lambda_context)
    assert report["problems"] == [
        {
            "resource": "customization job",
            "arn": plan.jobName,
            "action": "find",
            "error": "AccessDeniedException: denied",
            "command": f"bedrock-customize cleanup {EXECUTION_ARN}",
        }
    ]


def test_abort_cleanup_rebuilds_the_plan_from_the_execution_input(stub, lambda_context) -> None:
    request = fine_tuning_request(serving={"mode": "provisioned-throughput"})
    plan = plan_for(request)
    bedrock, sns = stub("bedrock"), stub("sns")
    bedrock.add_response(
        "get_model_customization_job", job_description(plan), {"jobIdentifier": plan.jobName}
    )
    bedrock.add_response("stop_model_customization_job", {}, {"jobIdentifier": JOB_ARN})
    bedrock.add_client_error(
        "get_provisioned_model_throughput", "ResourceNotFoundException", "none"
    )
    sns.add_response("publish", {"MessageId": "m-1"})
    event = {
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "detail": {
            "executionArn": EXECUTION_ARN,
            "status": "ABORTED",
            "input": json.dumps(request),
        },
    }
    report = cleanup.abort_handler(event, lambda_context)
    assert report["stoppedJob"] == JOB_ARN


def test_abort_cleanup_reads_the_input_when_the_event_left_it_out(stub, lambda_context) -> None:
    request = fine_tuning_request()
    plan = plan_for(request)
    sfn, bedrock, sns = stub("stepfunctions"), stub("bedrock"), stub("sns")
    sfn.add_response(
        "describe_execution",
        {
            "executionArn": EXECUTION_ARN,
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:S",
            "status": "TIMED_OUT",
            "startDate": NOW,
            "input": json.dumps(request),
        },
        {"executionArn": EXECUTION_ARN},
    )
    bedrock.add_response("get_model_customization_job", job_description(plan, "Completed"))
    sns.add_response("publish", {"MessageId": "m-1"})
    event = {"detail": {"executionArn": EXECUTION_ARN, "status": "TIMED_OUT"}}
    assert cleanup.abort_handler(event, lambda_context) == {
        "stoppedJob": None,
        "deleted": [],
        "problems": [],
    }


def test_abort_cleanup_of_an_invalid_request_touches_nothing(stub, lambda_context) -> None:
    stub("bedrock")
    stub("sns")
    event = {
        "detail": {
            "executionArn": EXECUTION_ARN,
            "status": "ABORTED",
            "input": json.dumps({"bad": 1}),
        }
    }
    assert cleanup.abort_handler(event, lambda_context)["stoppedJob"] is None


# -- notify --------------------------------------------------------------------------


@mock_aws
def test_notify_publishes_text_for_people_and_json_for_programs(
    lambda_context, monkeypatch
) -> None:
    sns = boto3.client("sns")
    sqs = boto3.client("sqs")
    topic = sns.create_topic(Name="outcomes")["TopicArn"]
    queue = sqs.create_queue(QueueName="q")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    monkeypatch.setenv("TOPIC_ARN", topic)
    plan = serving_plan("provisioned-throughput")
    event = {
        "outcome": "SUCCEEDED",
        "state": state(
            plan,
            job={"jobArn": JOB_ARN, "outputModelArn": MODEL_ARN, "status": "Completed"},
            serving={
                "mode": "provisioned-throughput",
                "arn": PT_ARN,
                "invokeModelId": PT_ARN,
                "status": "InService",
            },
        ),
    }
    notify.handler(event, lambda_context)
    [message] = sqs.receive_message(QueueUrl=queue)["Messages"]
    detail = json.loads(message["Body"])
    assert detail["outcome"] == "SUCCEEDED"
    assert detail["customModelArn"] == MODEL_ARN
    assert detail["serving"]["invokeModelId"] == PT_ARN


def test_notify_failure_says_what_failed_and_what_was_cleaned(stub, lambda_context) -> None:
    plan = plan_for()
    error_cause = json.dumps({"errorType": "CustomizationJobFailed", "errorMessage": "bad row 3"})
    failed_state = state(
        plan,
        error={"Error": "CustomizationJobFailed", "Cause": error_cause},
        cleanup={"stoppedJob": None, "deleted": [PT_ARN], "problems": ["x still runs"]},
    )
    subject, text, detail = compose("FAILED", failed_state)
    assert subject == f"Bedrock customization {plan.jobName} failed"
    assert "Error CustomizationJobFailed: bad row 3" in text
    assert f"Cleaned up: {PT_ARN}" in text
    assert "NOT cleaned up, act on it: x still runs" in text
    assert detail["error"] == {"error": "CustomizationJobFailed", "message": "bad row 3"}
    body = json.loads(sns_message(text, detail))
    assert body["default"] == body["email"] == text
    assert json.loads(body["sqs"]) == json.loads(body["lambda"]) == detail

    sns = stub("sns")
    sns.add_response(
        "publish",
        {"MessageId": "m-1"},
        {
            "TopicArn": SETTINGS_ENV["TOPIC_ARN"],
            "Subject": subject,
            "Message": sns_message(text, detail),
            "MessageStructure": "json",
            "MessageAttributes": {
                "outcome": {"DataType": "String", "StringValue": "FAILED"},
                "jobName": {"DataType": "String", "StringValue": plan.jobName},
            },
        },
    )
    assert notify.handler({"outcome": "FAILED", "state": failed_state}, lambda_context) == {
        "messageId": "m-1"
    }


def test_schedule_expiry_creates_a_one_time_schedule_that_deletes_itself(
    stub,
    lambda_context,
    monkeypatch,
) -> None:
    from datetime import UTC, datetime

    from lambda_handlers import schedule_expiry

    monkeypatch.setenv(
        "EXPIRY_TARGET_ARN", "arn:aws:lambda:us-east-1:123456789012:function:cleanup"
    )
    monkeypatch.setenv("SCHEDULER_ROLE_ARN", "arn:aws:iam::123456789012:role/scheduler")
    plan = serving_plan("provisioned-throughput", timeToLiveHours=24)
    params = schedule_expiry.expiry_schedule(
        plan,
        datetime(2026, 11, 26, 12, 30, 15, 999, tzinfo=UTC),
        "arn:aws:lambda:us-east-1:123456789012:function:cleanup",
        "arn:aws:iam::123456789012:role/scheduler",
        "default",
    )
    assert params["ScheduleExpression"] == "at(2026-11-27T12:30:15)"
    assert params["ActionAfterCompletion"] == "DELETE"
    assert json.loads(params["Target"]["Input"])["plan"] == plan.model_dump(exclude_none=True)
    scheduler = stub("scheduler")
    scheduler.add_response(
        "create_schedule",
        {"ScheduleArn": "arn:aws:scheduler:us-east-1:123456789012:schedule/default/x"},
    )
    result = schedule_expiry.handler(state(plan), lambda_context)
    assert result["target"] == "arn:aws:lambda:us-east-1:123456789012:function:cleanup"
    assert result["name"] == params["Name"]
    scheduler.add_client_error("create_schedule", "ConflictException", "exists", 409)
    assert schedule_expiry.handler(state(plan), lambda_context)["name"] == params["Name"], (
        "a retry is fine"
    )


def cohere_request(**overrides: Any) -> dict[str, Any]:
    request = fine_tuning_request(
        baseModelIdentifier="cohere.command-text-v14:7:4k",
        hyperParameters={"epochCount": 3},
        **overrides,
    )
    request.pop("validationDataConfig")
    return request


@mock_aws
@pytest.mark.parametrize(
    ("ceiling", "allowed"),
    [(None, True), (1.0, True), (0.01, False)],
)
def test_the_training_cost_is_estimated_and_held_to_the_ceiling(
    lambda_context,
    ceiling: float | None,
    allowed: bool,
) -> None:
    records = [{"prompt": "a" * 290, "completion": "b" * 10}] * 40  # 100 estimated tokens each
    buckets_with(jsonl(records))
    request = cohere_request() if ceiling is None else cohere_request(maxTrainingCostUsd=ceiling)
    event = {"request": request, "execution": {"id": EXECUTION_ARN}}
    if not allowed:
        with pytest.raises(
            TrainingCostExceeded,
            match=r"estimated \$0\.05 for 12,000 tokens .* exceeds the ceiling of \$0\.01",
        ):
            validate_request.handler(event, lambda_context)
        return
    estimate = validate_request.handler(event, lambda_context)["dataset"]["costEstimate"]
    # 40 records x 100 tokens x 3 epochs = 12,000 tokens; x $0.004 per 1,000 = $0.048.
    assert estimate["total_tokens"] == 12_000
    assert estimate["training_usd"] == pytest.approx(0.048)
    assert estimate["maxUsd"] == ceiling


@mock_aws
def test_a_ceiling_without_a_price_is_not_silently_passed(lambda_context) -> None:
    buckets_with(jsonl(conversation_records(10)), jsonl(conversation_records(2, 50)))
    request = fine_tuning_request(maxTrainingCostUsd=100.0)
    with pytest.raises(TrainingCostExceeded, match="cannot be enforced without a price"):
        validate_request.handler(
            {"request": request, "execution": {"id": EXECUTION_ARN}}, lambda_context
        )
    unbounded = validate_request.handler(
        {"request": fine_tuning_request(), "execution": {"id": EXECUTION_ARN}}, lambda_context
    )
    assert unbounded["dataset"]["costEstimate"]["training_usd"] is None


# -- promotion -------------------------------------------------------------------------------

PRODUCTION_PT = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/b1b2b3b4b5b6"
OLD_MODEL = (
    "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/aaaaaaaaaaaa"
)


def test_promotion_onto_throughput_records_the_old_model(
    stub, lambda_context, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambda_handlers import promote

    monkeypatch.setenv("PROMOTION_TARGET_ARNS", PRODUCTION_PT)  # the stack allows it
    plan = plan_for(
        fine_tuning_request(
            serving={"mode": "none", "promoteTo": {"provisionedModelArn": PRODUCTION_PT}}
        )
    )
    bedrock = stub("bedrock")
    bedrock.add_response(
        "get_provisioned_model_throughput",
        pt_description("InService", modelArn=OLD_MODEL, provisionedModelArn=PRODUCTION_PT),
        {"provisionedModelId": PRODUCTION_PT},
    )
    bedrock.add_response(
        "update_provisioned_model_throughput",
        {},
        {"provisionedModelId": PRODUCTION_PT, "desiredModelId": MODEL_ARN},
    )
    event = state(plan, job={"outputModelArn": MODEL_ARN})
    result = promote.start_handler(event, lambda_context)
    assert result == {
        "target": PRODUCTION_PT,
        "previousModelArn": OLD_MODEL,
        "modelArn": MODEL_ARN,
        "done": False,
        "pollSeconds": 60,
    }

    bedrock.add_response(
        "get_provisioned_model_throughput", pt_description("Updating", modelArn=OLD_MODEL)
    )
    assert promote.check_handler({**event, "promotion": result}, lambda_context)["done"] is False
    bedrock.add_response(
        "get_provisioned_model_throughput", pt_description("InService", modelArn=MODEL_ARN)
    )
    assert promote.check_handler({**event, "promotion": result}, lambda_context)["done"] is True
    bedrock.add_response(
        "get_provisioned_model_throughput",
        pt_description("Failed", modelArn=OLD_MODEL, failureMessage="capacity"),
    )
    with pytest.raises(PromotionFailed, match="did not take"):
        promote.check_handler({**event, "promotion": result}, lambda_context)


def test_promotion_onto_a_deployment(stub, lambda_context, monkeypatch: pytest.MonkeyPatch) -> None:
    from lambda_handlers import promote

    monkeypatch.setenv("PROMOTION_TARGET_ARNS", DEPLOYMENT_ARN)  # the stack allows it
    plan = plan_for(
        fine_tuning_request(
            serving={"mode": "none", "promoteTo": {"customModelDeploymentArn": DEPLOYMENT_ARN}}
        )
    )
    bedrock = stub("bedrock")
    bedrock.add_response(
        "get_custom_model_deployment",
        deployment_description("Active", modelArn=OLD_MODEL),
        {"customModelDeploymentIdentifier": DEPLOYMENT_ARN},
    )
    bedrock.add_response(
        "update_custom_model_deployment",
        {"customModelDeploymentArn": DEPLOYMENT_ARN},
        {"customModelDeploymentIdentifier": DEPLOYMENT_ARN, "modelArn": MODEL_ARN},
    )
    result = promote.start_handler(state(plan, job={"outputModelArn": MODEL_ARN}), lambda_context)
    assert result["previousModelArn"] == OLD_MODEL
    bedrock.add_response(
        "get_custom_model_deployment",
        deployment_description(
            "Active",
            modelArn=MODEL_ARN,
            updateDetails={"modelArn": MODEL_ARN, "updateStatus": "UpdateFailed"},
        ),
    )
    with pytest.raises(PromotionFailed):
        promote.check_handler(
            {**state(plan, job={"outputModelArn": MODEL_ARN}), "promotion": result}, lambda_context
        )


def test_promotion_onto_a_deployment_needs_a_model_that_can_be_deployed() -> None:
    from lambda_handlers.common.errors import RequestInvalid
    from lambda_handlers.common.request_checks import check_request
    from tests.factories import CONTEXT

    request = fine_tuning_request(
        baseModelIdentifier="anthropic.claude-3-haiku-20240307-v1:0:200k",
        hyperParameters={},
        serving={"promoteTo": {"customModelDeploymentArn": DEPLOYMENT_ARN}},
    )
    with pytest.raises(RequestInvalid, match="promote onto a provisioned throughput"):
        check_request(request, CONTEXT)


# -- batch evaluation ----------------------------------------------------------------------

BATCH_ARN = "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdefabcdef"


def evaluated_plan(records_uri: str = "s3://data-bucket/test/t.jsonl", **evaluation: Any):
    return plan_for(
        fine_tuning_request(
            serving={"mode": "on-demand-deployment"},
            evaluation={"testDataConfig": {"s3Uri": records_uri}, **evaluation},
        )
    )


@mock_aws
def test_prepare_starts_a_batch_job_from_100_records(stub, lambda_context, monkeypatch) -> None:
    from lambda_handlers import batch_evaluation

    monkeypatch.setenv("BATCH_ROLE_ARN", "arn:aws:iam::123456789012:role/batch")
    s3 = buckets_with(b"")
    s3.put_object(Bucket="data-bucket", Key="test/t.jsonl", Body=jsonl(conversation_records(100)))
    plan = evaluated_plan()
    bedrock = stub("bedrock")
    bedrock.add_response(
        "get_foundation_model",
        foundation_model("amazon.nova-lite-v1:0"),
        {"modelIdentifier": "amazon.nova-lite-v1:0"},
    )
    bedrock.add_response("create_model_invocation_job", {"jobArn": BATCH_ARN})
    result = batch_evaluation.prepare_handler(state(plan), lambda_context)
    assert result["mode"] == "batch" and result["records"] == 100 and result["jobArn"] == BATCH_ARN
    assert result["baseModelId"] == "amazon.nova-lite-v1:0"
    key = f"reports/{plan.jobName}/batch/input/base.jsonl"
    lines = s3.get_object(Bucket="artifacts-bucket", Key=key)["Body"].read().splitlines()
    assert len(lines) == 100 and json.loads(lines[0])["recordId"] == "L0000000001"


@mock_aws
def test_prepare_keeps_small_sets_on_converse(stub, lambda_context) -> None:
    from lambda_handlers import batch_evaluation

    s3 = buckets_with(b"")
    s3.put_object(Bucket="data-bucket", Key="test/t.jsonl", Body=jsonl(conversation_records(20)))
    stub("bedrock").add_response(  # how the base model answers; no batch job
        "get_foundation_model", foundation_model("amazon.nova-lite-v1:0")
    )
    prepared = batch_evaluation.prepare_handler(state(evaluated_plan()), lambda_context)
    assert prepared == {
        "mode": "converse",
        "modeReason": "20 records, fewer than the 100 from which batch inference is used: Converse",
        "records": 20,
        "baseModelId": "amazon.nova-lite-v1:0",
    }


@pytest.mark.parametrize(
    ("status", "done"), [("InProgress", False), ("Completed", True), ("PartiallyCompleted", True)]
)
def test_check_batch_follows_the_job(stub, lambda_context, status: str, done: bool) -> None:
    from lambda_handlers import batch_evaluation

    stub("bedrock").add_response(
        "get_model_invocation_job",
        {
            "jobArn": BATCH_ARN,
            "jobName": "j-eval-base",
            "modelId": "amazon.nova-lite-v1:0",
            "roleArn": "arn:aws:iam::123456789012:role/batch",
            "status": status,
            "submitTime": NOW,
            "inputDataConfig": {"s3InputDataConfig": {"s3Uri": "s3://b/i.jsonl"}},
            "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": "s3://b/o/"}},
        },
        {"jobIdentifier": BATCH_ARN},
    )
    event = {**state(evaluated_plan()), "evaluationPrep": {"mode": "batch", "jobArn": BATCH_ARN}}
    assert batch_evaluation.check_handler(event, lambda_context)["done"] is done


def test_cleanup_stops_the_evaluations_batch_job(stub, lambda_context) -> None:
    from lambda_handlers.batch_evaluation import batch_job_name

    plan = evaluated_plan()
    bedrock = stub("bedrock")
    bedrock.add_client_error("get_model_customization_job", "ResourceNotFoundException", "none")
    bedrock.add_client_error("get_custom_model_deployment", "ResourceNotFoundException", "none")
    summary = {
        "jobArn": BATCH_ARN,
        "modelId": "amazon.nova-lite-v1:0",
        "roleArn": "arn:aws:iam::123456789012:role/b",
        "submitTime": NOW,
        "inputDataConfig": {"s3InputDataConfig": {"s3Uri": "s3://b/i.jsonl"}},
        "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": "s3://b/o/"}},
    }
    bedrock.add_response(
        "list_model_invocation_jobs",
        {
            "invocationJobSummaries": [
                {**summary, "jobName": batch_job_name(plan), "status": "InProgress"},
                {
                    **summary,
                    "jobArn": BATCH_ARN[:-1] + "x",
                    "jobName": batch_job_name(plan) + "-other",
                    "status": "InProgress",
                },
            ]
        },
        {"nameContains": batch_job_name(plan)},
    )
    bedrock.add_response(
        "list_tags_for_resource",
        {
            "tags": [
                {"key": STACK_TAG, "value": "BedrockCustomization"},
                {"key": EXECUTION_TAG, "value": EXECUTION_ARN},
            ]
        },
        {"resourceARN": BATCH_ARN},
    )
    bedrock.add_response("stop_model_invocation_job", {}, {"jobIdentifier": BATCH_ARN})
    report = cleanup.handler(state(plan), lambda_context)
    assert report["stoppedBatchJobs"] == [BATCH_ARN]


def test_success_text_reports_the_gain_and_the_rollback() -> None:
    plan = plan_for()
    success = state(
        plan,
        job={"outputModelArn": MODEL_ARN},
        serving={"mode": "on-demand-deployment", "invokeModelId": DEPLOYMENT_ARN},
        evaluation={
            "records": 20,
            "metrics": {"exact_match": {"base": 0.2, "custom": 0.8, "gain": 0.6}},
            "gate": {
                "passed": True,
                "message": "Quality gate passed (exact_match: base 0.2000, custom 0.8000)",
            },
        },
        promotion={
            "target": PRODUCTION_PT,
            "previousModelArn": OLD_MODEL,
            "modelArn": MODEL_ARN,
            "done": True,
        },
    )
    _, text, detail = compose("SUCCEEDED", success)
    assert "Quality gate passed (exact_match: base 0.2000, custom 0.8000)" in text
    assert f"it served {OLD_MODEL} before" in text
    assert detail["evaluation"]["metrics"]["exact_match"]["gain"] == 0.6
    ungated = {
        **success,
        "evaluation": {"records": 20, "metrics": success["evaluation"]["metrics"]},
    }
    assert "exact_match 0.800 (+0.600)" in compose("SUCCEEDED", ungated)[1]


def test_abort_cleanup_looks_again_for_what_a_running_task_created(
    stub, lambda_context, monkeypatch
) -> None:
    """Stopped while 'Start serving' ran: the deployment appears after the first pass."""
    from lambda_handlers import cleanup as cleanup_module

    monkeypatch.setenv("STRAGGLER_WAIT_SECONDS", "35")
    slept: list[float] = []
    monkeypatch.setattr(cleanup_module, "wait", slept.append)
    request = fine_tuning_request(serving={"mode": "on-demand-deployment"})
    plan = plan_for(request)
    bedrock, sns = stub("bedrock"), stub("sns")
    # First pass: the job completed, no deployment yet.
    bedrock.add_response(
        "get_model_customization_job", job_description(plan, "Completed", outputModelArn=MODEL_ARN)
    )
    bedrock.add_client_error("get_custom_model_deployment", "ResourceNotFoundException", "none")
    # Second pass, 35 s later: the deployment the in-flight task created.
    bedrock.add_response(
        "get_model_customization_job", job_description(plan, "Completed", outputModelArn=MODEL_ARN)
    )
    bedrock.add_response("get_custom_model_deployment", deployment_description("Creating"))
    bedrock.add_response(
        "list_tags_for_resource",
        {
            "tags": [
                {"key": STACK_TAG, "value": "BedrockCustomization"},
                {"key": EXECUTION_TAG, "value": EXECUTION_ARN},
            ]
        },
    )
    bedrock.add_response(
        "delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": DEPLOYMENT_ARN}
    )
    sns.add_response("publish", {"MessageId": "m-1"})
    event = {
        "detail": {"executionArn": EXECUTION_ARN, "status": "ABORTED", "input": json.dumps(request)}
    }
    report = cleanup.abort_handler(event, lambda_context)
    assert slept == [35]
    assert report["deleted"] == [DEPLOYMENT_ARN]
