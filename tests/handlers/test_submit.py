"""Submit reads a job name in use as the real service says it: a ValidationException "The
provided job name is currently in use." (or the ConflictException the service model also
lists); the job of that name is adopted only when it carries this execution's token."""

from __future__ import annotations

import pytest

from lambda_handlers import submit_job
from lambda_handlers.common.errors import BedrockRequestRejected, JobNameTaken
from tests.factories import JOB_ARN, fine_tuning_request, job_description, plan_for
from tests.handlers.test_handlers import state

IN_USE = [
    ("ValidationException", "The provided job name is currently in use."),
    ("ConflictException", "job name already exists"),
]


@pytest.mark.parametrize(("code", "message"), IN_USE)
def test_a_name_in_use_by_another_execution_is_refused_and_left_alone(
    stub, lambda_context, code: str, message: str
) -> None:
    plan = plan_for(fine_tuning_request(jobName="support-triage-v1"))
    bedrock = stub("bedrock")  # a StopModelCustomizationJob here would fail the Stubber
    bedrock.add_client_error("create_model_customization_job", code, message)
    bedrock.add_response(
        "get_model_customization_job",
        job_description(plan, clientRequestToken="another-execution"),
        {"jobIdentifier": "support-triage-v1"},
    )
    with pytest.raises(JobNameTaken) as caught:
        submit_job.handler(state(plan), lambda_context)
    assert str(caught.value) == (
        f"A customization job named support-triage-v1 already exists ({JOB_ARN}, status "
        "InProgress) and was not started by this execution; it was left untouched. Choose "
        "another jobName, or leave jobName out to get one derived from the execution."
    )


@pytest.mark.parametrize(("code", "message"), IN_USE)
def test_a_name_in_use_by_this_executions_earlier_attempt_is_adopted(
    stub, lambda_context, code: str, message: str
) -> None:
    plan = plan_for()
    bedrock = stub("bedrock")
    bedrock.add_client_error("create_model_customization_job", code, message)
    bedrock.add_response("get_model_customization_job", job_description(plan))
    assert submit_job.handler(state(plan), lambda_context)["jobArn"] == JOB_ARN


def test_a_conflict_about_something_else_is_reported_as_bedrock_said_it(
    stub, lambda_context
) -> None:
    plan = plan_for()
    bedrock = stub("bedrock")
    bedrock.add_client_error(
        "create_model_customization_job", "ConflictException", "The model name is in use"
    )
    bedrock.add_client_error("get_model_customization_job", "ResourceNotFoundException", "none")
    with pytest.raises(BedrockRequestRejected, match="ConflictException: The model name is in use"):
        submit_job.handler(state(plan), lambda_context)


def test_other_validation_errors_are_not_read_as_a_name_in_use(stub, lambda_context) -> None:
    bedrock = stub("bedrock")
    bedrock.add_client_error(
        "create_model_customization_job", "ValidationException", "The provided job name is invalid"
    )
    with pytest.raises(BedrockRequestRejected):
        submit_job.handler(state(plan_for()), lambda_context)
