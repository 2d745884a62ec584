"""Park and relay (``lambda_handlers/job_events.py``): every call checked by a strict Stubber,
and the error answers as S3 and Step Functions give them."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY

from lambda_handlers import job_events
from lambda_handlers.common.errors import AccessDenied, BedrockThrottled
from lambda_handlers.common.job_waits import job_event, wait_key
from tests.factories import EXECUTION_ARN, JOB_ARN, job_description, plan_for
from tests.handlers.conftest import SETTINGS_ENV

TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAeMV" + "x" * 600  # task tokens run to hundreds of characters
BUCKET = SETTINGS_ENV["ARTIFACTS_BUCKET"]
KEY = wait_key(JOB_ARN)
ROLE = SETTINGS_ENV["SERVICE_ROLE_ARN"]


def park_event() -> dict[str, Any]:
    return {"taskToken": TOKEN, "jobArn": JOB_ARN, "executionArn": EXECUTION_ARN}


def bedrock_event(status: str = "Completed", **detail: Any) -> dict[str, Any]:
    """Shaped as Bedrock sends it (../shared/bedrock-facts.md): ``jobStatus``, the ARN in
    ``resources``."""
    return {
        "version": "0",
        "id": "2f0c8a3e-0000-4000-8000-000000000000",
        "detail-type": "Model Customization Job State Change",
        "source": "aws.bedrock",
        "account": "123456789012",
        "time": "2026-12-01T06:00:00Z",
        "region": "us-east-1",
        "resources": [JOB_ARN],
        "detail": {
            "version": "0.0",
            "jobName": "nova-lite-ft-1e26d92319",
            "jobArn": JOB_ARN,
            "roleArn": ROLE,
            "jobStatus": status,
            **detail,
        },
    }


def refused(code: str, message: str, status: int = 400) -> dict[str, Any]:
    return {"service_error_code": code, "service_message": message, "http_status_code": status}


# -- park ----------------------------------------------------------------------------------


def expect_park(stub, status: str) -> tuple[Any, Any]:
    s3, bedrock = stub("s3"), stub("bedrock")
    s3.add_response(
        "put_object",
        {},
        {"Bucket": BUCKET, "Key": KEY, "Body": ANY, "ContentType": "application/json"},
    )
    bedrock.add_response(
        "get_model_customization_job",
        job_description(plan_for(), status),
        {"jobIdentifier": JOB_ARN},
    )
    return s3, bedrock


def test_park_leaves_the_token_and_waits_while_the_job_runs(stub, lambda_context) -> None:
    expect_park(stub, "InProgress")
    result = job_events.park_handler(park_event(), lambda_context)
    assert result == {"parked": KEY, "status": "InProgress", "woken": False}
    assert KEY.startswith("job-waits/") and KEY.endswith(".json")


def test_park_wakes_the_execution_itself_when_the_job_already_ended(stub, lambda_context) -> None:
    # The job ended before the token was parked: its event is gone by, nobody else wakes it.
    expect_park(stub, "Completed")
    stub("stepfunctions").add_response("send_task_success", {}, {"taskToken": TOKEN, "output": ANY})
    result = job_events.park_handler(park_event(), lambda_context)
    assert result["woken"] is True


def test_park_fails_retryably_when_bedrock_throttles(stub, lambda_context) -> None:
    stub("s3").add_response("put_object", {}, None)
    stub("bedrock").add_client_error(
        "get_model_customization_job", **refused("ThrottlingException", "Rate exceeded", 429)
    )
    with pytest.raises(BedrockThrottled):
        job_events.park_handler(park_event(), lambda_context)


# -- relay ---------------------------------------------------------------------------------


def expect_token(stub, token: str | None = TOKEN) -> Any:
    s3 = stub("s3")
    if token:
        body = json.dumps({"taskToken": token, "jobArn": JOB_ARN}).encode()
        s3.add_response(
            "get_object",
            {"Body": StreamingBody(io.BytesIO(body), len(body))},
            {"Bucket": BUCKET, "Key": KEY},
        )
    else:  # S3's answer to a caller that may list the bucket; a 403 is settled by listing
        s3.add_client_error(
            "get_object", **refused("NoSuchKey", "The specified key does not exist.", 404)
        )
    return s3


@pytest.mark.parametrize("status", ["Completed", "Failed", "Stopped"])
def test_relay_resumes_the_waiting_execution_on_an_end(stub, lambda_context, status) -> None:
    expect_token(stub)
    sfn = stub("stepfunctions")
    sfn.add_response("send_task_success", {}, {"taskToken": TOKEN, "output": ANY})
    assert job_events.relay_handler(bedrock_event(status), lambda_context) == {
        "resumed": True,
        "why": status,
    }


def test_relay_passes_on_what_it_saw_and_how(stub, lambda_context) -> None:
    expect_token(stub)
    sent: list[dict[str, Any]] = []
    sfn = stub("stepfunctions")
    sfn.add_response("send_task_success", {}, {"taskToken": TOKEN, "output": ANY})
    sfn.client.meta.events.register(
        "before-parameter-build.states.SendTaskSuccess",
        lambda params, **_: sent.append(params),
        unique_id="record-output",
    )
    job_events.relay_handler(bedrock_event("Failed"), lambda_context)
    sfn.client.meta.events.unregister(
        "before-parameter-build.states.SendTaskSuccess", unique_id="record-output"
    )
    output = json.loads(sent[0]["output"])
    assert output["jobStatus"] == "Failed" and output["via"] == "event"


def test_a_repeated_event_finds_the_token_used_and_changes_nothing(stub, lambda_context) -> None:
    expect_token(stub)
    stub("stepfunctions").add_client_error(
        "send_task_success",
        **refused(
            "TaskTimedOut",
            "The task token has either expired or the task associated with the token has "
            "already been closed.",
        ),
    )
    result = job_events.relay_handler(bedrock_event(), lambda_context)
    assert result == {"resumed": False, "why": "the execution no longer waits for this job"}


def test_an_event_for_a_job_nobody_waits_for_is_dropped(stub, lambda_context) -> None:
    expect_token(stub, token=None)
    result = job_events.relay_handler(bedrock_event(), lambda_context)
    assert result == {"resumed": False, "why": "no execution waits for this job"}


def test_a_refused_read_of_the_token_is_an_error_to_retry_not_a_drop(stub, lambda_context) -> None:
    s3 = stub("s3")
    s3.add_client_error("get_object", **refused("AccessDenied", "Access Denied", 403))
    s3.add_client_error("list_objects_v2", **refused("AccessDenied", "Access Denied", 403))
    with pytest.raises(AccessDenied):
        job_events.relay_handler(bedrock_event(), lambda_context)


def test_a_403_for_a_token_that_is_not_there_is_settled_by_listing(stub, lambda_context) -> None:
    # S3 answers 403 for a missing key to a caller that may not list the whole bucket.
    s3 = stub("s3")
    s3.add_client_error("get_object", **refused("AccessDenied", "Access Denied", 403))
    s3.add_response(
        "list_objects_v2", {"KeyCount": 0}, {"Bucket": BUCKET, "Prefix": KEY, "MaxKeys": 1}
    )
    result = job_events.relay_handler(bedrock_event(), lambda_context)
    assert result == {"resumed": False, "why": "no execution waits for this job"}


@pytest.mark.parametrize("status", ["InProgress", "Stopping"])
def test_a_status_that_ends_no_wait_reads_nothing(stub, lambda_context, status) -> None:
    stub("s3")  # strict: any call would fail the test
    result = job_events.relay_handler(bedrock_event(status), lambda_context)
    assert result == {"resumed": False, "why": f"{status} ends no wait"}


@pytest.mark.parametrize(
    "event",
    [
        {"source": "aws.states", "detail-type": "Model Customization Job State Change"},
        # A pattern some public code uses: no such detail-type exists.
        {**bedrock_event(), "detail-type": "Bedrock Model Customization Job State Change"},
        {**bedrock_event(), "detail": {"jobArn": JOB_ARN, "status": "Completed"}},  # not jobStatus
        ["not", "an", "event"],
    ],
)
def test_what_is_not_a_job_state_change_is_dropped_without_a_call(
    stub, lambda_context, event
) -> None:
    stub("s3")
    assert job_event(event) is None
    assert job_events.relay_handler(event, lambda_context)["resumed"] is False
