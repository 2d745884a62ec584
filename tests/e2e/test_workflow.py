"""The synthesized state machine, executed offline with the real handlers.

Each test states the path it proves, the final state, and what was created or deleted.
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from tests.e2e.fake_bedrock import REGION, BedrockClientError, FakeBedrock
from tests.e2e.harness import OfflineWorkflow
from tests.e2e.requests import error_message, request_for
from tests.e2e.test_stack_limits import tag_as_promotion_target
from tests.factories import conversation_records, fine_tuning_request, jsonl, pretraining_records


def only_notification(workflow: OfflineWorkflow) -> dict[str, Any]:
    [message] = workflow.notifications()
    return message


# -- success -------------------------------------------------------------------------------


def test_success_with_provisioned_throughput(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    execution = workflow.run(request_for(workflow, serving={"mode": "provisioned-throughput"}))

    assert execution.status == "SUCCEEDED"
    assert execution.entered_states() == [
        "Validate request",
        "Sweep?",
        "Submit customization job",
        # Bedrock's event for the job's end wakes the execution; one read confirms it.
        "Wait for job event",
        "Check job status",
        "Job completed?",
        "Serve the model?",
        "Start serving",
        "Wait for serving",
        "Check serving status",
        "Serving ready?",
        "Wait for serving",
        "Check serving status",
        "Serving ready?",
        "Evaluate?",
        "Promote?",
        "Time-to-live?",
        "Notify success",
        "Customization succeeded",
    ]
    [job] = bedrock.jobs.values()
    [throughput] = bedrock.throughputs.values()
    assert throughput["modelArn"].startswith("arn:aws:bedrock:us-east-1:123456789012:custom-model/")
    assert throughput["commitmentDuration"] is None, "no commitment unless asked and confirmed"
    assert bedrock.live_serving() == [throughput["provisionedModelArn"]]
    assert {"key": "bedrock-customize:execution-arn", "value": execution.arn} in throughput["tags"]
    assert job["clientRequestToken"].startswith("job-")

    output = execution.output
    assert output["serving"]["invokeModelId"] == throughput["provisionedModelArn"]
    assert output["job"]["outputModelArn"] == throughput["modelArn"]
    message = only_notification(workflow)
    assert message["outcome"] == "SUCCEEDED"
    assert message["serving"]["invokeModelId"] == throughput["provisionedModelArn"]


def test_success_with_on_demand_deployment(workflow: OfflineWorkflow, bedrock: FakeBedrock) -> None:
    bedrock.serving_statuses = ["Creating", "Creating", "Active"]
    execution = workflow.run(request_for(workflow, serving={"mode": "on-demand-deployment"}))

    assert execution.status == "SUCCEEDED"
    [deployment] = bedrock.deployments.values()
    assert execution.output["serving"]["status"] == "Active"
    assert execution.output["serving"]["invokeModelId"] == deployment["customModelDeploymentArn"]
    assert bedrock.throughputs == {}
    assert execution.entered_states().count("Check serving status") == 3


def test_a_lost_success_notification_does_not_tear_down_serving(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    boto3.client("sns", region_name=REGION).delete_topic(TopicArn=workflow.topic_arn)
    execution = workflow.run(request_for(workflow, serving={"mode": "provisioned-throughput"}))

    assert execution.status == "SUCCEEDED"
    assert execution.output["notificationError"]["Error"]
    assert len(bedrock.live_serving()) == 1, "the served model stays up"


def test_continued_pre_training_without_serving(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    bedrock.job_statuses = ["InProgress", "InProgress", "InProgress", "Completed"]
    train = workflow.put_data("training/notes.jsonl", jsonl(pretraining_records(20)))
    val = workflow.put_data("validation/notes.jsonl", jsonl(pretraining_records(5, offset=100)))
    request = request_for(
        workflow,
        trainingDataConfig={"s3Uri": train},
        validationDataConfig={"validators": [{"s3Uri": val}]},
        customizationType="CONTINUED_PRE_TRAINING",
        baseModelIdentifier="amazon.titan-text-express-v1:0:8k",
        hyperParameters={"epochCount": 1, "batchSize": 16},
        serving={"mode": "none"},
    )
    execution = workflow.run(request)

    assert execution.status == "SUCCEEDED"
    [(_, params)] = [c for c in bedrock.calls if c[0] == "CreateModelCustomizationJob"]
    assert params["customizationType"] == "CONTINUED_PRE_TRAINING"
    assert params["hyperParameters"] == {"epochCount": "1", "batchSize": "16"}
    assert params["customModelKmsKeyId"].startswith("arn:aws:kms:")
    assert "Start serving" not in execution.entered_states()
    # The job reads InProgress three times and Completed once: parked (1), no event for
    # InProgress, so the safety poll parks again and that park reads it (2, 3), then the
    # end's event wakes the execution for the read that finds it Completed (4).
    assert bedrock.operations().count("GetModelCustomizationJob") == 4
    assert execution.entered_states().count("Safety poll") == 2
    assert execution.entered_states().count("Check job status") == 1
    assert bedrock.live_serving() == []


# -- the job fails or is stopped --------------------------------------------------------------


def test_job_failed_ends_failed_with_bedrocks_reason(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    bedrock.job_statuses = ["InProgress", "Failed"]
    execution = workflow.run(request_for(workflow, serving={"mode": "provisioned-throughput"}))

    assert execution.status == "FAILED"
    assert execution.error == "CustomizationJobFailed"
    assert "Validation of the training data failed at line 7" in error_message(execution)
    assert execution.entered_states()[-3:] == ["Clean up", "Notify failure", "Customization failed"]
    assert bedrock.throughputs == {}, "nothing is served from a failed job"
    assert "StopModelCustomizationJob" not in bedrock.operations(), "a failed job needs no stop"
    message = only_notification(workflow)
    assert message["outcome"] == "FAILED"
    assert message["error"]["error"] == "CustomizationJobFailed"


def test_job_stopped_ends_failed_and_serves_nothing(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    bedrock.job_statuses = ["InProgress", "Stopping", "Stopped"]
    execution = workflow.run(request_for(workflow, serving={"mode": "on-demand-deployment"}))

    assert execution.status == "FAILED"
    assert execution.error == "CustomizationJobStopped"
    assert bedrock.deployments == {}
    # Parked on InProgress; Stopping ends no wait, so the safety poll parks again, and the
    # Stopped event wakes the execution for the read that fails it.
    assert execution.entered_states().count("Check job status") == 1
    assert only_notification(workflow)["error"]["error"] == "CustomizationJobStopped"


# -- throttling and idempotency ----------------------------------------------------------------


def test_throttled_submit_is_retried_and_starts_exactly_one_job(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    bedrock.fail_next["CreateModelCustomizationJob"] = [
        BedrockClientError("ThrottlingException", "Rate exceeded", 429),
        BedrockClientError("ThrottlingException", "Rate exceeded", 429),
    ]
    execution = workflow.run(request_for(workflow))

    assert execution.status == "SUCCEEDED"
    creates = [p for op, p in bedrock.calls if op == "CreateModelCustomizationJob"]
    assert len(creates) == 3
    assert len({p["clientRequestToken"] for p in creates}) == 1, (
        "every attempt carries the same token"
    )
    assert len(bedrock.jobs) == 1
    # Two retries, full jitter: each waits at most interval * backoff^(attempt-1) seconds.
    assert len(workflow.retry_sleeps) == 2
    assert 0 <= workflow.retry_sleeps[0] <= 5 and 0 <= workflow.retry_sleeps[1] <= 10


def test_a_submit_whose_answer_was_lost_adopts_the_job_instead_of_starting_another(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    original = bedrock._CreateModelCustomizationJob
    attempts = {"n": 0}

    def created_then_lost(params: dict[str, Any]) -> dict[str, Any]:
        answer = original(params)
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise BedrockClientError("InternalServerException", "connection reset", 500)
        return answer

    bedrock._CreateModelCustomizationJob = created_then_lost
    execution = workflow.run(request_for(workflow))

    assert execution.status == "SUCCEEDED"
    assert len(bedrock.jobs) == 1
    assert attempts["n"] == 2


def test_service_role_propagation_is_waited_out(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    bedrock.fail_next["CreateModelCustomizationJob"] = [
        BedrockClientError(
            "ValidationException", "Could not assume the provided role. Check its trust policy"
        ),
    ]
    execution = workflow.run(request_for(workflow))
    assert execution.status == "SUCCEEDED"
    assert len(workflow.retry_sleeps) == 1


def test_a_rejected_submit_is_not_retried(workflow: OfflineWorkflow, bedrock: FakeBedrock) -> None:
    bedrock.fail_next["CreateModelCustomizationJob"] = [
        BedrockClientError("ValidationException", "The training data has an invalid format"),
    ]
    execution = workflow.run(request_for(workflow))
    assert execution.status == "FAILED"
    assert execution.error == "BedrockRequestRejected"
    assert "invalid format" in error_message(execution)
    assert bedrock.operations().count("CreateModelCustomizationJob") == 1
    assert workflow.retry_sleeps == []


# -- serving fails --------------------------------------------------------------------------------


def test_serving_failure_is_cleaned_up(
    workflow_full: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    workflow = workflow_full  # a stack that allows 2 model units
    bedrock.serving_statuses = ["Creating", "Failed"]
    execution = workflow.run(
        request_for(workflow, serving={"mode": "provisioned-throughput", "modelUnits": 2})
    )

    assert execution.status == "FAILED"
    assert execution.error == "ServingFailed"
    assert "Insufficient capacity" in error_message(execution)
    [throughput] = bedrock.throughputs.values()
    assert throughput["_deleted"], "the failed throughput was deleted"
    assert bedrock.live_serving() == []
    assert "StopModelCustomizationJob" not in bedrock.operations(), "the completed job is kept"
    message = only_notification(workflow)
    assert message["cleanup"]["deleted"] == [throughput["provisionedModelArn"]]


def test_failure_right_after_serving_was_requested_still_deletes_it(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    bedrock.fail_next["GetCustomModelDeployment"] = [
        BedrockClientError("AccessDeniedException", "denied", 403)
    ]
    execution = workflow.run(request_for(workflow, serving={"mode": "on-demand-deployment"}))

    assert execution.status == "FAILED"
    assert execution.error == "AccessDenied"
    assert bedrock.live_serving() == []


# -- invalid requests -------------------------------------------------------------------------------


def test_invalid_request_is_rejected_in_the_first_state(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    request = fine_tuning_request(
        baseModelIdentifier="anthropic.claude-3-5-sonnet-20241022-v2:0",
        jobName="my job",
        trainingDataConfig={"s3Uri": "s3://not-our-bucket/train.jsonl"},
        validationDataConfig=None,
        hyperParameters={"rlAlgorithm": "DPO"},
    )
    request.pop("validationDataConfig")
    execution = workflow.run(request)

    assert execution.status == "FAILED"
    assert execution.error == "RequestInvalid"
    assert execution.entered_states() == [
        "Validate request",
        "Request rejected",
        "Notify failure",
        "Customization failed",
    ]
    message = error_message(execution)
    for field in (
        "baseModelIdentifier:",
        "jobName:",
        "trainingDataConfig.s3Uri:",
        "hyperParameters.rlAlgorithm:",
    ):
        assert f"- {field}" in message
    assert bedrock.calls == [], "nothing reached Bedrock"
    assert only_notification(workflow)["error"]["error"] == "RequestInvalid"


def test_missing_training_data_is_rejected_before_submit(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    request = fine_tuning_request(
        trainingDataConfig={"s3Uri": f"s3://{workflow.data_bucket}/training/none.jsonl"}
    )
    request.pop("validationDataConfig")
    execution = workflow.run(request)
    assert execution.error == "RequestInvalid"
    assert "no object at" in error_message(execution)
    assert bedrock.calls == []


def test_bad_training_data_stops_the_execution_before_submit(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    records = conversation_records(12)
    records[4]["messages"].reverse()  # assistant first
    del records[7]["schemaVersion"]
    train = workflow.put_data("training/bad.jsonl", jsonl(records) + b"not json\n")
    request = request_for(workflow, trainingDataConfig={"s3Uri": train})
    execution = workflow.run(request)

    assert execution.status == "FAILED"
    assert execution.error == "TrainingDataInvalid"
    assert execution.entered_states() == [
        "Validate request",
        "Request rejected",
        "Notify failure",
        "Customization failed",
    ]
    message = error_message(execution)
    assert "role-order at training line 5 $.messages[0].role" in message
    assert "missing-field at training line 8 $.schemaVersion" in message
    assert "not-json at training line 13" in message
    assert bedrock.calls == [], "nothing was submitted"
    report_uri = message.rsplit("Full report: ", 1)[1]
    report = workflow.read_artifact(report_uri)
    assert report["verdict"] == "invalid"
    assert report["errors"] == {"missing-field": 1, "not-json": 1, "role-order": 1}


def test_valid_data_passes_its_statistics_on(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    execution = workflow.run(request_for(workflow))
    assert execution.status == "SUCCEEDED"
    dataset = execution.output["dataset"]
    assert dataset["records"] == {"training": 12, "validation": 3}
    assert dataset["trainingTokensPerEpoch"] > 0
    assert workflow.read_artifact(dataset["reportUri"])["verdict"] == "valid"


def test_too_few_records_for_the_model_are_refused(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    train = workflow.put_data("training/small.jsonl", jsonl(conversation_records(5)))
    execution = workflow.run(request_for(workflow, trainingDataConfig={"s3Uri": train}))
    assert execution.error == "TrainingDataInvalid"
    assert "too-few-records" in error_message(execution)
    assert bedrock.calls == []


def test_input_that_is_not_an_object_is_rejected(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    execution = workflow.run(["not", "a", "request"])
    assert execution.error == "RequestInvalid"
    assert bedrock.calls == []


# -- stopped executions ------------------------------------------------------------------------------


def test_stopped_execution_is_cleaned_up_by_the_abort_handler(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    bedrock.job_statuses = ["InProgress"]  # trains forever
    slow = workflow.create_state_machine("SlowPolling", wait_seconds=1)
    request = request_for(workflow, serving={"mode": "provisioned-throughput"})
    arn = workflow.start_execution(request, name="to-be-stopped", state_machine_arn=slow)
    deadline = time.monotonic() + 30
    while not bedrock.jobs and time.monotonic() < deadline:
        time.sleep(0.05)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    sfn.stop_execution(executionArn=arn, error="Operator", cause="changed my mind")
    assert workflow.wait(arn).status == "ABORTED"
    assert bedrock.running_jobs() != [], (
        "the job keeps training (and billing) after the execution stops"
    )

    report = workflow.deliver_status_change(arn, "ABORTED", request, stateMachineArn=slow)
    [job_arn] = bedrock.jobs
    assert report["stoppedJob"] == job_arn
    assert bedrock.running_jobs() == []
    assert [m["outcome"] for m in workflow.notifications()] == ["ABORTED"]


@pytest.mark.parametrize("mode", ["provisioned-throughput", "on-demand-deployment"])
def test_every_failure_leaves_nothing_billable(
    workflow: OfflineWorkflow, bedrock: FakeBedrock, mode: str
) -> None:
    bedrock.serving_statuses = ["Creating", "Failed"]
    execution = workflow.run(request_for(workflow, serving={"mode": mode}))
    assert execution.status == "FAILED"
    assert bedrock.live_serving() == []
    assert bedrock.running_jobs() == []


def test_time_to_live_schedules_the_deletion_of_serving(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    from datetime import UTC, datetime, timedelta

    started = datetime.now(UTC)
    request = request_for(workflow, serving={"mode": "on-demand-deployment", "timeToLiveHours": 6})
    execution = workflow.run(request)

    assert execution.status == "SUCCEEDED", execution.cause
    assert "Schedule serving expiry" in execution.entered_states()
    schedule = boto3.client("scheduler", region_name=REGION).get_schedule(
        Name=execution.output["expiry"]["name"]
    )
    cleanup_id = next(
        k for k, f in workflow.functions.items() if f.handler.endswith("cleanup.handler")
    )
    assert (
        schedule["Target"]["Arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{cleanup_id}"
    )
    assert schedule["ActionAfterCompletion"] == "DELETE"
    at = datetime.strptime(schedule["ScheduleExpression"], "at(%Y-%m-%dT%H:%M:%S)").replace(
        tzinfo=UTC
    )
    assert (
        started + timedelta(hours=6) - timedelta(seconds=5)
        <= at
        <= datetime.now(UTC) + timedelta(hours=6)
    )
    assert bedrock.live_serving(), "serving until the time-to-live ends"

    # When the schedule fires, the cleanup it targets removes the deployment.
    report = workflow.invoke_arn(schedule["Target"]["Arn"], json.loads(schedule["Target"]["Input"]))
    assert report["deleted"] == [execution.output["serving"]["arn"]]
    assert bedrock.live_serving() == []


def test_no_time_to_live_no_schedule(workflow: OfflineWorkflow, bedrock: FakeBedrock) -> None:
    execution = workflow.run(request_for(workflow, serving={"mode": "provisioned-throughput"}))
    assert execution.status == "SUCCEEDED"
    assert "Schedule serving expiry" not in execution.entered_states()
    assert boto3.client("scheduler", region_name=REGION).list_schedules()["Schedules"] == []


def test_a_cost_ceiling_that_cannot_be_met_stops_before_submit(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    execution = workflow.run(request_for(workflow, maxTrainingCostUsd=5.0))
    assert execution.status == "FAILED"
    assert execution.error == "TrainingCostExceeded"
    assert "cannot be enforced without a price" in error_message(execution)
    assert bedrock.calls == []
    estimate = workflow.run(request_for(workflow), name="run-2").output["dataset"]["costEstimate"]
    assert estimate["epochs"] == 2 and estimate["training_usd"] is None


# -- evaluation and the quality gate ------------------------------------------------------------


def evaluated_request(
    workflow: OfflineWorkflow, gate: dict[str, Any], **evaluation: Any
) -> dict[str, Any]:
    test = workflow.put_data("test/held-out.jsonl", jsonl(conversation_records(20, offset=500)))
    return request_for(
        workflow,
        serving={"mode": "on-demand-deployment"},
        evaluation={
            "testDataConfig": {"s3Uri": test},
            "gate": gate,
            "concurrency": 3,
            **evaluation,
        },
    )


def test_gate_passes_and_the_model_is_served(
    workflow: OfflineWorkflow, bedrock: FakeBedrock, runtime
) -> None:
    execution = workflow.run(
        evaluated_request(workflow, {"metric": "exact_match", "minImprovement": 0.5})
    )

    assert execution.status == "SUCCEEDED", execution.cause
    assert "Evaluate the model" in execution.entered_states()
    evaluation = execution.output["evaluation"]
    assert evaluation["records"] == 20
    assert evaluation["metrics"]["exact_match"] == {"base": 0.0, "custom": 1.0, "gain": 1.0}
    assert evaluation["gate"]["passed"] is True
    assert len(runtime.calls) == 40, "each test case asked of both models"
    base_ids = {
        p["modelId"] for _, p in runtime.calls if "custom-model-deployment" not in p["modelId"]
    }
    assert base_ids == {"amazon.nova-lite-v1:0"}, "the base model by its invocation id"
    assert bedrock.live_serving(), "served"
    report = workflow.read_artifact(evaluation["reportUri"])
    assert report["gate"]["message"].startswith("Quality gate passed")
    message = only_notification(workflow)
    assert message["evaluation"]["gate"]["passed"] is True
    assert message["evaluation"]["metrics"]["exact_match"]["gain"] == 1.0
    import csv
    import io

    rows = list(
        csv.DictReader(io.StringIO(workflow.read_data(evaluation["recordsCsvUri"]).decode()))
    )
    assert len(rows) == 20
    assert (
        rows[0]["reference"] == "Category: delivery"
        and rows[0]["custom_answer"] == "Category: delivery"
    )
    assert rows[0]["base_answer"] == "I am not sure."


def test_gate_fails_serving_is_removed_and_the_model_deleted(
    workflow: OfflineWorkflow,
    bedrock: FakeBedrock,
    runtime,
) -> None:
    runtime.answer = lambda model_id, prompt: "I am not sure."  # the custom model learned nothing
    execution = workflow.run(evaluated_request(workflow, {"metric": "token_f1", "threshold": 0.8}))

    assert execution.status == "FAILED"
    assert execution.error == "QualityGateFailed"
    message = error_message(execution)
    assert (
        "token_f1 0.0000 is below the threshold 0.8" in message
        and "base 0.0000, custom 0.0000" in message
    )
    assert bedrock.live_serving() == [], "serving removed"
    [job] = bedrock.jobs.values()
    [model] = bedrock.deleted_models
    assert model.endswith(job["jobArn"][-12:]), "the custom model deleted: it costs storage"
    notification = only_notification(workflow)
    assert notification["cleanup"]["deletedModel"] == model


def test_a_failed_gate_keeps_the_model_when_asked(
    workflow: OfflineWorkflow,
    bedrock: FakeBedrock,
    runtime,
) -> None:
    runtime.answer = lambda model_id, prompt: "no idea"
    request = evaluated_request(
        workflow, {"metric": "exact_match", "threshold": 0.5}, keepModelOnGateFailure=True
    )
    execution = workflow.run(request)
    assert execution.error == "QualityGateFailed"
    assert bedrock.live_serving() == []
    assert bedrock.deleted_models == []


def test_evaluation_needs_serving(workflow: OfflineWorkflow, bedrock: FakeBedrock) -> None:
    request = evaluated_request(workflow, {"metric": "exact_match", "threshold": 0.5})
    request["serving"] = {"mode": "none"}
    execution = workflow.run(request)
    assert execution.error == "RequestInvalid"
    assert "evaluation: a custom model answers only once it is served" in error_message(execution)
    assert bedrock.calls == []


# -- promotion ------------------------------------------------------------------------------------


def test_a_passing_model_is_promoted_onto_the_existing_deployment(
    workflow_full: OfflineWorkflow,
    bedrock: FakeBedrock,
    runtime,
) -> None:
    workflow = workflow_full  # a stack that allows promotion onto endpoints tagged so
    old_model = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/aaaaaaaaaaaa"
    production = tag_as_promotion_target(bedrock, bedrock.existing_deployment(old_model))
    request = evaluated_request(workflow, {"metric": "exact_match", "minImprovement": 0.5})
    request["serving"]["promoteTo"] = {"customModelDeploymentArn": production}
    request["serving"]["timeToLiveHours"] = 2  # the evaluation endpoint goes away later
    execution = workflow.run(request)

    assert execution.status == "SUCCEEDED", execution.cause
    states = execution.entered_states()
    assert (
        states.index("Evaluate the model")
        < states.index("Promote onto the endpoint")
        < states.index("Schedule serving expiry")
    )
    promotion = execution.output["promotion"]
    new_model = execution.output["job"]["outputModelArn"]
    assert promotion["previousModelArn"] == old_model, "recorded for a rollback"
    assert only_notification(workflow)["promotion"]["previousModelArn"] == old_model
    assert promotion["done"] is True and promotion["serving"] == new_model
    assert bedrock.deployments[production]["modelArn"] == new_model
    [(_, update)] = [c for c in bedrock.calls if c[0] == "UpdateCustomModelDeployment"]
    assert update == {"customModelDeploymentIdentifier": production, "modelArn": new_model}


def test_a_failing_model_is_not_promoted_and_production_is_untouched(
    workflow_full: OfflineWorkflow,
    bedrock: FakeBedrock,
    runtime,
) -> None:
    workflow = workflow_full  # a stack that allows promotion onto endpoints tagged so
    runtime.answer = lambda model_id, prompt: "no idea"
    old_model = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/aaaaaaaaaaaa"
    production = tag_as_promotion_target(bedrock, bedrock.existing_deployment(old_model))
    request = evaluated_request(workflow, {"metric": "exact_match", "threshold": 0.5})
    request["serving"]["promoteTo"] = {"customModelDeploymentArn": production}
    execution = workflow.run(request)

    assert execution.error == "QualityGateFailed"
    assert "UpdateCustomModelDeployment" not in bedrock.operations()
    assert bedrock.deployments[production]["modelArn"] == old_model
    assert not bedrock.deployments[production]["_deleted"], (
        "cleanup never deletes the user's endpoint"
    )


def test_promotion_without_serving_goes_straight_after_training(
    workflow_full: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    workflow = workflow_full  # a stack that allows promotion onto endpoints tagged so
    production = tag_as_promotion_target(
        bedrock,
        bedrock.existing_deployment(
            "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/aaaaaaaaaaaa"
        ),
    )
    execution = workflow.run(
        request_for(
            workflow,
            serving={"mode": "none", "promoteTo": {"customModelDeploymentArn": production}},
        )
    )
    assert execution.status == "SUCCEEDED", execution.cause
    assert "Start serving" not in execution.entered_states()
    assert bedrock.deployments[production]["modelArn"] == execution.output["job"]["outputModelArn"]


# -- gating on the job's losses --------------------------------------------------------------------


def test_a_training_gate_stops_a_model_before_it_is_served(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    request = request_for(
        workflow,
        serving={"mode": "provisioned-throughput"},
        trainingGate={"maxTrainingLoss": 0.3, "maxValidationLoss": 0.6},
    )
    execution = workflow.run(request)

    assert execution.error == "QualityGateFailed"
    assert "training loss 0.4200 is above 0.3" in error_message(execution)
    assert "validation loss" not in error_message(execution), "0.51 is within 0.6"
    assert bedrock.throughputs == {}, "nothing was served"
    assert len(bedrock.deleted_models) == 1


def test_a_training_gate_that_passes_lets_the_model_be_served(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    request = request_for(
        workflow,
        serving={"mode": "provisioned-throughput"},
        trainingGate={"maxTrainingLoss": 0.5, "maxValidationLoss": 0.6},
    )
    execution = workflow.run(request)
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["job"]["trainingLoss"] == 0.42
    assert bedrock.live_serving()


def test_a_large_test_set_asks_the_base_model_through_batch_inference(
    workflow: OfflineWorkflow,
    bedrock: FakeBedrock,
    runtime,
) -> None:
    test = workflow.put_data("test/large.jsonl", jsonl(conversation_records(120, offset=900)))
    request = request_for(
        workflow,
        serving={"mode": "on-demand-deployment"},
        evaluation={
            "testDataConfig": {"s3Uri": test},
            "gate": {"metric": "exact_match", "minImprovement": 0.5},
        },
    )
    execution = workflow.run(request)

    assert execution.status == "SUCCEEDED", execution.cause
    states = execution.entered_states()
    assert "Check batch evaluation" in states and states.index(
        "Check batch evaluation"
    ) < states.index("Evaluate the model")
    [job] = bedrock.batch_jobs.values()
    assert job["modelId"] == "amazon.nova-lite-v1:0"
    assert job["modelInvocationType"] == "Converse"
    assert job["outputDataConfig"]["s3OutputDataConfig"]["s3EncryptionKeyId"].startswith(
        "arn:aws:kms:"
    )
    base_calls = [p for _, p in runtime.calls if "custom-model-deployment" not in p["modelId"]]
    assert base_calls == [], "the base model answered by batch, not record by record"
    assert len(runtime.calls) == 120, "the custom model still answers through Converse"
    evaluation = execution.output["evaluation"]
    assert evaluation["records"] == 120
    assert evaluation["metrics"]["exact_match"] == {"base": 0.0, "custom": 1.0, "gain": 1.0}


def test_a_failure_during_batch_evaluation_stops_the_batch_job(
    workflow: OfflineWorkflow,
    bedrock: FakeBedrock,
    runtime,
) -> None:
    bedrock.fail_next["GetModelInvocationJob"] = [
        BedrockClientError("AccessDeniedException", "denied", 403)
    ]
    test = workflow.put_data("test/large.jsonl", jsonl(conversation_records(120, offset=900)))
    execution = workflow.run(
        request_for(
            workflow,
            serving={"mode": "on-demand-deployment"},
            evaluation={"testDataConfig": {"s3Uri": test}},
        )
    )
    assert execution.status == "FAILED"
    [job] = bedrock.batch_jobs.values()
    assert job["status"] == "Stopped", "nothing left running that costs money"
    assert bedrock.live_serving() == []
