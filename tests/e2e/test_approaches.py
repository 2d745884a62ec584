"""Distillation and reinforcement fine-tuning, from request to a served custom model, offline.

These run the stack with graders (and the other options) deployed. Bedrock's side of
training is played by the fake: for RFT it reads the training data and calls the grader
Lambda the job names, as Bedrock does, so the grader's contract is proven end to end.
"""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.fake_bedrock import FakeBedrock
from tests.e2e.harness import OfflineWorkflow
from tests.factories import fine_tuning_request, jsonl


def rft_records(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"q{i}",
            "messages": [
                {"role": "system", "content": "Answer with a number."},
                {"role": "user", "content": f"What is {i} + {i}?"},
            ],
            "reference_answer": str(2 * i),
        }
        for i in range(n)
    ]


def rft_request(
    workflow: OfflineWorkflow, records: int, rft: dict[str, Any], **overrides: Any
) -> dict[str, Any]:
    """An RFT request for Nova 2 Lite over ``records`` generated records (no validation data:
    Nova 2 Lite takes none)."""
    train = workflow.put_data("training/rft.jsonl", jsonl(rft_records(records)))
    request = fine_tuning_request(
        customizationType="REINFORCEMENT_FINE_TUNING",
        baseModelIdentifier="amazon.nova-2-lite-v1:0:256k",
        trainingDataConfig={"s3Uri": train},
        hyperParameters={},
        customizationConfig={"rftConfig": rft},
        **overrides,
    )
    request.pop("validationDataConfig")
    return request


def test_reinforcement_fine_tuning_end_to_end(
    workflow_full: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    train = workflow_full.put_data("training/rft.jsonl", jsonl(rft_records(120)))
    graded: list[Any] = []

    def train_with_the_grader(params: dict[str, Any]) -> None:
        arn = params["customizationConfig"]["rftConfig"]["graderConfig"]["lambdaGrader"][
            "lambdaArn"
        ]
        lines = workflow_full.read_data(params["trainingDataConfig"]["s3Uri"]).splitlines()[:4]
        records = [json.loads(line) for line in lines]
        answers = ["The answer is 0", "2", "\\\\boxed{5}", "Answer: 6"]
        batch = [
            {
                "id": r["id"],
                "messages": [*r["messages"], {"role": "assistant", "content": a}],
                "reference_answer": r["reference_answer"],
            }
            for r, a in zip(records, answers, strict=True)
        ]
        graded.append((arn, workflow_full.invoke_arn(arn, batch)))

    bedrock.on_training = train_with_the_grader
    request = fine_tuning_request(
        customizationType="REINFORCEMENT_FINE_TUNING",
        baseModelIdentifier="amazon.nova-2-lite-v1:0:256k",
        trainingDataConfig={"s3Uri": train},
        hyperParameters={},
        customizationConfig={
            "rftConfig": {
                "grader": "reference-match",
                "hyperParameters": {"epochCount": 1, "batchSize": 16},
            }
        },
        serving={"mode": "on-demand-deployment"},
    )
    request.pop("validationDataConfig")  # Nova 2 Lite takes no validation data
    execution = workflow_full.run(request)

    assert execution.status == "SUCCEEDED", execution.cause
    [(_, params)] = [c for c in bedrock.calls if c[0] == "CreateModelCustomizationJob"]
    assert params["customizationType"] == "REINFORCEMENT_FINE_TUNING"
    assert "hyperParameters" not in params, "RFT hyperparameters are typed, inside rftConfig"
    grader_arn = params["customizationConfig"]["rftConfig"]["graderConfig"]["lambdaGrader"][
        "lambdaArn"
    ]
    assert workflow_full.functions[grader_arn.rsplit(":", 1)[1]].handler == (
        "lambda_handlers.graders.reference_match.handler"
    )
    [(called, results)] = graded
    assert called == grader_arn
    assert [r["id"] for r in results] == ["q0", "q1", "q2", "q3"]
    assert [r["aggregate_reward_score"] for r in results] == [1.0, 1.0, 0.0, 1.0]
    [deployment] = bedrock.deployments.values()
    assert execution.output["serving"]["invokeModelId"] == deployment["customModelDeploymentArn"]


def test_rft_with_a_grader_the_stack_lacks_is_refused(
    workflow_full: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    request = rft_request(workflow_full, 120, {"grader": "bleu"})
    execution = workflow_full.run(request)
    assert execution.error == "RequestInvalid"
    assert (
        "'bleu' is not a grader of this stack (graders: format, judge, preference, reference-match)"
        in (json.loads(execution.cause)["errorMessage"])
    )
    assert bedrock.calls == []


def test_rft_data_below_the_minimum_is_refused(
    workflow_full: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    request = rft_request(workflow_full, 50, {"grader": "format"})
    execution = workflow_full.run(request)
    assert execution.error == "TrainingDataInvalid"
    assert "too-few-records" in json.loads(execution.cause)["errorMessage"]
    assert bedrock.calls == []


# -- distillation ---------------------------------------------------------------------------


def prompt_records(n: int) -> list[dict[str, Any]]:
    return [
        {
            "schemaVersion": "bedrock-conversation-2024",
            "system": [{"text": "You answer support questions."}],
            "messages": [
                {"role": "user", "content": [{"text": f"How do I reset password number {i}?"}]}
            ],
        }
        for i in range(n)
    ]


def distillation_request(
    training: dict[str, Any], teacher: str = "amazon.nova-pro-v1:0"
) -> dict[str, Any]:
    request = fine_tuning_request(
        customizationType="DISTILLATION",
        baseModelIdentifier="amazon.nova-lite-v1:0:300k",
        trainingDataConfig=training,
        hyperParameters={},
        customizationConfig={
            "distillationConfig": {
                "teacherModelConfig": {
                    "teacherModelIdentifier": teacher,
                    "maxResponseLengthForInference": 1000,
                }
            }
        },
        serving={"mode": "on-demand-deployment"},
    )
    request.pop("validationDataConfig")
    return request


def test_distillation_from_prompts_end_to_end(
    workflow_full: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    train = workflow_full.put_data("training/prompts.jsonl", jsonl(prompt_records(150)))
    execution = workflow_full.run(distillation_request({"s3Uri": train}))

    assert execution.status == "SUCCEEDED", execution.cause
    [(_, params)] = [c for c in bedrock.calls if c[0] == "CreateModelCustomizationJob"]
    assert params["customizationType"] == "DISTILLATION"
    assert params["customizationConfig"] == {
        "distillationConfig": {
            "teacherModelConfig": {
                "teacherModelIdentifier": "amazon.nova-pro-v1:0",
                "maxResponseLengthForInference": 1000,
            }
        }
    }
    assert execution.output["dataset"]["records"] == {"training": 150}
    assert len(bedrock.deployments) == 1 and bedrock.live_serving()


def log_record(i: int, project: str) -> dict[str, Any]:
    return {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": "2026-11-20T10:00:00Z",
        "accountId": "123456789012",
        "region": "us-east-1",
        "requestId": f"req-{i}",
        "operation": "Converse",
        "modelId": "amazon.nova-pro-v1:0",
        "input": {
            "inputContentType": "application/json",
            "inputTokenCount": 9,
            "inputBodyJson": {
                "messages": [{"role": "user", "content": [{"text": f"Summarize ticket {i}"}]}]
            },
        },
        "output": {
            "outputContentType": "application/json",
            "outputTokenCount": 5,
            "outputBodyJson": {
                "output": {
                    "message": {
                        "role": "assistant",
                        "content": [{"text": f"Ticket {i}: late order."}],
                    }
                },
                "stopReason": "end_turn",
            },
        },
        "requestMetadata": {"project": project},
    }


def put_logs(workflow: OfflineWorkflow, records: list[dict[str, Any]]) -> str:
    import gzip

    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="bedrock-invocation-logs")
    key = "logs/AWSLogs/123456789012/BedrockModelInvocationLogs/us-east-1/2026/11/20/10/batch-1.json.gz"
    s3.put_object(Bucket="bedrock-invocation-logs", Key=key, Body=gzip.compress(jsonl(records)))
    return "s3://bedrock-invocation-logs/logs/"


def logs_training(uri: str, project: str = "support") -> dict[str, Any]:
    return {
        "invocationLogsConfig": {
            "usePromptResponse": True,
            "invocationLogSource": {"s3Uri": uri},
            "requestMetadataFilters": {"equals": {"project": project}},
        }
    }


def test_distillation_from_invocation_logs_end_to_end(
    workflow_full: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    uri = put_logs(
        workflow_full,
        [log_record(i, "support") for i in range(120)]
        + [log_record(i, "marketing") for i in range(30)],
    )
    execution = workflow_full.run(distillation_request(logs_training(uri)))

    assert execution.status == "SUCCEEDED", execution.cause
    [(_, params)] = [c for c in bedrock.calls if c[0] == "CreateModelCustomizationJob"]
    assert params["trainingDataConfig"] == logs_training(uri)
    report = workflow_full.read_artifact(execution.output["dataset"]["reportUri"])
    assert report["files"]["invocationLogs"]["matchingRecords"] == 120
    assert report["files"]["invocationLogs"]["records"] == 150


def test_too_few_selected_logs_stop_before_submit(
    workflow_full: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    uri = put_logs(workflow_full, [log_record(i, "support") for i in range(40)])
    execution = workflow_full.run(distillation_request(logs_training(uri)))
    assert execution.error == "TrainingDataInvalid"
    assert "too-few-records" in json.loads(execution.cause)["errorMessage"]
    assert bedrock.calls == []


def test_an_unsupported_teacher_student_pair_is_refused(
    workflow_full: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    train = workflow_full.put_data("training/prompts.jsonl", jsonl(prompt_records(150)))
    execution = workflow_full.run(
        distillation_request({"s3Uri": train}, teacher="anthropic.claude-3-5-sonnet-20240620-v1:0")
    )
    assert execution.error == "RequestInvalid"
    message = json.loads(execution.cause)["errorMessage"]
    assert (
        "customizationConfig.distillationConfig.teacherModelConfig.teacherModelIdentifier"
        in message
    )
    assert bedrock.calls == []


def test_logs_outside_the_granted_location_are_refused(
    workflow_full: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    execution = workflow_full.run(
        distillation_request(logs_training("s3://someone-elses-logs/AWSLogs/"))
    )
    assert execution.error == "RequestInvalid"
    assert (
        "is not a log location this stack may read (allowed: s3://bedrock-invocation-logs/logs/)"
        in (json.loads(execution.cause)["errorMessage"])
    )


def test_a_stopped_rft_execution_still_stops_its_job(
    workflow_full: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    """The abort cleanup rebuilds the plan from the request: it must accept what Validate accepted."""
    import time

    import boto3

    bedrock.job_statuses = ["InProgress"]
    slow = workflow_full.create_state_machine("SlowRft", wait_seconds=1)
    train = workflow_full.put_data("training/rft.jsonl", jsonl(rft_records(120)))
    request = fine_tuning_request(
        customizationType="REINFORCEMENT_FINE_TUNING",
        baseModelIdentifier="amazon.nova-2-lite-v1:0:256k",
        trainingDataConfig={"s3Uri": train},
        hyperParameters={},
        customizationConfig={"rftConfig": {"grader": "reference-match"}},
    )
    request.pop("validationDataConfig")
    arn = workflow_full.start_execution(request, name="rft-stopped", state_machine_arn=slow)
    deadline = time.monotonic() + 30
    while not bedrock.jobs and time.monotonic() < deadline:
        time.sleep(0.05)
    boto3.client("stepfunctions", region_name="us-east-1").stop_execution(executionArn=arn)
    assert workflow_full.wait(arn).status == "ABORTED"

    report = workflow_full.deliver_status_change(arn, "ABORTED", request)
    [job_arn] = bedrock.jobs
    assert report["stoppedJob"] == job_arn
    assert bedrock.running_jobs() == []
