"""Distillation and reinforcement fine-tuning, from request to a served custom model, offline.

These run the stack with graders (and the other options) deployed. Bedrock's side of
training is played by the fake: for RFT it reads the training data and calls the grader
Lambda the job names, as Bedrock does, so the grader's contract is proven end to end.
"""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.harness import FakeBedrock, OfflineWorkflow
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
    train = workflow_full.put_data("training/rft.jsonl", jsonl(rft_records(120)))
    request = fine_tuning_request(
        customizationType="REINFORCEMENT_FINE_TUNING",
        baseModelIdentifier="amazon.nova-2-lite-v1:0:256k",
        trainingDataConfig={"s3Uri": train},
        hyperParameters={},
        customizationConfig={"rftConfig": {"grader": "bleu"}},
    )
    request.pop("validationDataConfig")
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
    train = workflow_full.put_data("training/rft.jsonl", jsonl(rft_records(50)))
    request = fine_tuning_request(
        customizationType="REINFORCEMENT_FINE_TUNING",
        baseModelIdentifier="amazon.nova-2-lite-v1:0:256k",
        trainingDataConfig={"s3Uri": train},
        hyperParameters={},
        customizationConfig={"rftConfig": {"grader": "format"}},
    )
    request.pop("validationDataConfig")
    execution = workflow_full.run(request)
    assert execution.error == "TrainingDataInvalid"
    assert "too-few-records" in json.loads(execution.cause)["errorMessage"]
    assert bedrock.calls == []
