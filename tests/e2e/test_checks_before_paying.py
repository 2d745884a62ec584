"""Check before paying, through the synthesized state machine run offline.

What an execution needs after training and serving have been paid for is checked in
Validate: the test set (found missing even behind S3's 403), the promotion target, how the
base model answers. A base model reachable only through an inference profile is evaluated
through it; an evaluation too long for one invocation runs in rounds and scores the same;
a base model that cannot answer ends the evaluation with the reason, never a gate decision.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from lambda_handlers.common.aws import client
from lambda_handlers.evaluate_model import FAIL_FAST_AFTER
from tests.conftest import FakeLambdaContext
from tests.e2e.fake_bedrock import ACCOUNT, REGION, FakeBedrock, FakeBedrockRuntime
from tests.e2e.harness import Execution, OfflineWorkflow
from tests.e2e.test_stack_limits import LISTED_DEPLOYMENT, tag_as_promotion_target
from tests.factories import conversation_records, fine_tuning_request, jsonl

NOVA_LITE_MODEL = (
    f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/amazon.nova-lite-v1:0:300k/aaaaaaaaaaaa"
)


def request_for(
    workflow: OfflineWorkflow,
    *,
    base_model: str = "amazon.nova-lite-v1:0:300k",
    training_records: int = 12,
    validation: bool = True,
    **overrides: Any,
) -> dict[str, Any]:
    train = workflow.put_data("training/train.jsonl", jsonl(conversation_records(training_records)))
    validation_uri = workflow.put_data(
        "validation/val.jsonl", jsonl(conversation_records(3, offset=10_000))
    )
    request = fine_tuning_request(
        baseModelIdentifier=base_model,
        trainingDataConfig={"s3Uri": train},
        validationDataConfig={"validators": [{"s3Uri": validation_uri}]},
    )
    if not validation:  # Nova 2 Lite fine-tuning takes no validation data
        del request["validationDataConfig"]
    request.update(overrides)
    return request


def evaluated(
    workflow: OfflineWorkflow,
    records: int = 20,
    gate: dict[str, Any] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    test = workflow.put_data(
        "test/held-out.jsonl", jsonl(conversation_records(records, offset=500))
    )
    overrides.setdefault("serving", {"mode": "on-demand-deployment"})
    return request_for(
        workflow,
        evaluation={
            "testDataConfig": {"s3Uri": test},
            "gate": gate or {"metric": "exact_match", "minImprovement": 0.5},
            "concurrency": 3,
        },
        **overrides,
    )


def error_message(execution: Execution) -> str:
    return str(json.loads(execution.cause or "{}").get("errorMessage", ""))


def assert_stopped_in_validate(execution: Execution, bedrock: FakeBedrock, error: str) -> None:
    assert execution.status == "FAILED", execution.cause
    assert execution.error == error, execution.cause
    assert "Submit customization job" not in execution.entered_states()
    assert "CreateModelCustomizationJob" not in bedrock.operations(), "nothing was paid for"


# -- S3 as it answers a caller without s3:ListBucket -------------------------------------------


class HeadWithoutListBucket:
    """HeadObject on a missing key answers 403 Forbidden, as S3 does for a caller that may not
    list the bucket (moto answers 404). ``refused`` counts the 403s given."""

    def __init__(self) -> None:
        self.refused = 0
        self._moto = boto3.client("s3", region_name=REGION)

    def install(self, s3_client: Any) -> None:
        events = s3_client.meta.events
        events.register("before-parameter-build.s3.HeadObject", self._capture, unique_id="h403p")
        events.register("before-call.s3.HeadObject", self._answer, unique_id="h403")

    @staticmethod
    def _capture(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["head_object"] = (params["Bucket"], params["Key"])

    def _answer(
        self, context: dict[str, Any], **_: Any
    ) -> tuple[AWSResponse, dict[str, Any]] | None:
        bucket, key = context["head_object"]
        listed = self._moto.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])
        if any(item["Key"] == key for item in listed):
            return None  # exists: moto answers
        self.refused += 1
        body = {"Error": {"Code": "403", "Message": "Forbidden"}}
        body["ResponseMetadata"] = {"HTTPStatusCode": 403}
        return AWSResponse(f"https://{bucket}.s3.amazonaws.com/{key}", 403, {}, None), body


@pytest.fixture
def forbidding_s3(workflow: OfflineWorkflow) -> HeadWithoutListBucket:
    fake = HeadWithoutListBucket()
    fake.install(client("s3"))
    return fake


def test_a_missing_test_set_behind_s3s_403_fails_in_validate_before_submit(
    workflow: OfflineWorkflow, bedrock: FakeBedrock, forbidding_s3: HeadWithoutListBucket
) -> None:
    request = evaluated(workflow)
    missing = f"s3://{workflow.data_bucket}/test/not-uploaded.jsonl"
    request["evaluation"]["testDataConfig"]["s3Uri"] = missing
    execution = workflow.run(request)

    assert_stopped_in_validate(execution, bedrock, "RequestInvalid")
    assert forbidding_s3.refused == 1, "S3 answered the HEAD of the missing key with 403"
    assert f"evaluation.testDataConfig.s3Uri: no object at {missing}; upload the data first" in (
        error_message(execution)
    )


def test_a_test_set_that_breaks_its_format_fails_in_validate_before_submit(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    request = evaluated(workflow)
    broken = [*conversation_records(3, offset=700), {"messages": "not a list"}]
    workflow.put_data("test/held-out.jsonl", jsonl(broken))
    execution = workflow.run(request)

    assert_stopped_in_validate(execution, bedrock, "EvaluationDataInvalid")
    message = error_message(execution)
    assert message.startswith("evaluation.testDataConfig.s3Uri: the test set")
    assert "line 4" in message and message.endswith("test-set-validation.json")


# -- the promotion target ---------------------------------------------------------------------


# Each runs on the stack that allows promotion (every option on), onto an endpoint it allows:
# listed, or tagged as its owner marks the endpoints executions may promote onto.


def _missing_deployment(bedrock: FakeBedrock) -> dict[str, str]:
    return {"customModelDeploymentArn": LISTED_DEPLOYMENT}  # listed, but not there


def _llama_deployment(bedrock: FakeBedrock) -> dict[str, str]:
    llama = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/meta.llama3-1-8b-instruct-v1:0:128k/bbbbbbbbbbbb"
    arn = tag_as_promotion_target(bedrock, bedrock.existing_deployment(llama))
    return {"customModelDeploymentArn": arn}


def _updating_deployment(bedrock: FakeBedrock) -> dict[str, str]:
    arn = tag_as_promotion_target(bedrock, bedrock.existing_deployment(NOVA_LITE_MODEL))
    bedrock.deployments[arn]["_update"] = "Updating"  # someone else's update is running
    return {"customModelDeploymentArn": arn}


def _updating_throughput(bedrock: FakeBedrock) -> dict[str, str]:
    arn = bedrock.existing_throughput(NOVA_LITE_MODEL, status="Updating")
    return {"provisionedModelArn": tag_as_promotion_target(bedrock, arn)}


def _base_model_throughput(bedrock: FakeBedrock) -> dict[str, str]:
    base = f"arn:aws:bedrock:{REGION}::foundation-model/amazon.nova-lite-v1:0:300k"
    arn = bedrock.existing_throughput(base)
    return {"provisionedModelArn": tag_as_promotion_target(bedrock, arn)}


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (_missing_deployment, "no deployment arn:aws:bedrock:us-east-1:123456789012:"),
        (_llama_deployment, "serves a custom model of meta.llama3-1-8b-instruct-v1:0:128k, not of"),
        (_updating_deployment, "is being updated to"),
        (_updating_throughput, "is Updating; it can take a new model only when InService"),
        (_base_model_throughput, "a throughput bought for a base model cannot change its model"),
    ],
    ids=["missing", "another-base-model", "deployment-updating", "throughput-updating", "base"],
)
def test_an_unusable_promotion_target_fails_in_validate_before_submit(
    workflow_full: OfflineWorkflow, bedrock: FakeBedrock, target: Any, expected: str
) -> None:
    promote_to = target(bedrock)
    request = request_for(workflow_full, serving={"mode": "none", "promoteTo": promote_to})
    execution = workflow_full.run(request)

    assert_stopped_in_validate(execution, bedrock, "RequestInvalid")
    message = error_message(execution)
    [(field, arn)] = promote_to.items()
    assert f"- serving.promoteTo.{field}: " in message and arn in message
    assert expected in message
    assert not any(op.startswith("Update") for op in bedrock.operations()), "target untouched"


def test_a_usable_promotion_target_passes_and_is_promoted(
    workflow_full: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    production = tag_as_promotion_target(bedrock, bedrock.existing_throughput(NOVA_LITE_MODEL))
    request = request_for(
        workflow_full, serving={"mode": "none", "promoteTo": {"provisionedModelArn": production}}
    )
    execution = workflow_full.run(request)

    assert execution.status == "SUCCEEDED", execution.cause
    assert bedrock.throughputs[production]["modelArn"] == execution.output["job"]["outputModelArn"]


# -- how the base model answers ----------------------------------------------------------------


def test_a_base_model_without_any_way_to_answer_fails_in_validate(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    del bedrock.inference_profiles["us.amazon.nova-2-lite-v1:0"]
    request = evaluated(
        workflow, base_model="amazon.nova-2-lite-v1:0:256k", training_records=200, validation=False
    )
    execution = workflow.run(request)

    assert_stopped_in_validate(execution, bedrock, "RequestInvalid")
    assert (
        "evaluation: the base model cannot answer for the evaluation: amazon.nova-2-lite-v1:0 "
        "cannot be invoked on demand in us-east-1 (inferenceTypesSupported: INFERENCE_PROFILE) "
        "and no system-defined inference profile contains it"
    ) in error_message(execution)


def _policy_text(workflow: OfflineWorkflow, role: str) -> str:
    """The statements of every IAM policy attached to the role ``role``, as JSON text."""
    return json.dumps(
        [
            statement
            for r in workflow.template["Resources"].values()
            if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
            and {"Ref": role} in r["Properties"].get("Roles", [])
            for statement in r["Properties"]["PolicyDocument"]["Statement"]
        ]
    )


def _role_of_function(workflow: OfflineWorkflow, handler: str) -> str:
    [function] = [
        f for f, spec in workflow.functions.items() if spec.handler == f"lambda_handlers.{handler}"
    ]
    return str(workflow.template["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0])


def _batch_role(workflow: OfflineWorkflow) -> str:
    [role] = [
        k
        for k, r in workflow.template["Resources"].items()
        if r["Type"] == "AWS::IAM::Role" and "BatchInferenceRole" in k
    ]
    return role


def test_a_profile_only_base_model_is_evaluated_through_its_profile(
    workflow: OfflineWorkflow, bedrock: FakeBedrock, runtime: FakeBedrockRuntime
) -> None:
    request = evaluated(
        workflow, base_model="amazon.nova-2-lite-v1:0:256k", training_records=200, validation=False
    )
    execution = workflow.run(request)

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["checks"]["evaluation"]["baseModel"]["invokeId"] == (
        "us.amazon.nova-2-lite-v1:0"
    ), "resolved in Validate, before paying"
    asked = Counter(p["modelId"] for _, p in runtime.calls)
    [custom] = [m for m in asked if ":custom-model-deployment/" in m]
    assert asked == {custom: 20, "us.amazon.nova-2-lite-v1:0": 20}, "the base model by its profile"
    evaluation = execution.output["evaluation"]
    assert evaluation["metrics"]["exact_match"] == {"base": 0.0, "custom": 1.0, "gain": 1.0}
    policy = _policy_text(workflow, _role_of_function(workflow, "evaluate_model.handler"))
    assert ":inference-profile/us.amazon.nova-2-lite-v1:0" in policy
    for region in ("us-east-1", "us-east-2", "us-west-2"):
        assert f":bedrock:{region}::foundation-model/amazon.nova-2-lite-v1:0" in policy


def test_the_fake_runtime_refuses_a_profile_only_model_by_its_id(
    runtime: FakeBedrockRuntime,
) -> None:
    from botocore.exceptions import ClientError

    from lambda_handlers import evaluate_model

    with pytest.raises(ClientError) as refused:
        evaluate_model.runtime().converse(
            modelId="amazon.nova-2-lite-v1:0",
            messages=[{"role": "user", "content": [{"text": "hello"}]}],
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["Error"]["Message"] == (
        "Invocation of model ID amazon.nova-2-lite-v1:0 with on-demand throughput isn't supported. "
        "Retry your request with the ID or ARN of an inference profile that contains this model."
    )


def test_a_profile_only_base_model_answers_a_batch_job_through_its_profile(
    workflow: OfflineWorkflow, bedrock: FakeBedrock, runtime: FakeBedrockRuntime
) -> None:
    request = evaluated(
        workflow,
        records=120,
        base_model="meta.llama3-2-1b-instruct-v1:0:128k",
        training_records=100,
        serving={"mode": "provisioned-throughput"},
    )
    execution = workflow.run(request)

    assert execution.status == "SUCCEEDED", execution.cause
    [job] = bedrock.batch_jobs.values()
    assert job["modelId"] == "us.meta.llama3-2-1b-instruct-v1:0", (
        "the batch job runs on the profile"
    )
    assert {p["modelId"] for _, p in runtime.calls} == {execution.output["serving"]["arn"]}
    assert execution.output["evaluation"]["records"] == 120
    policy = _policy_text(workflow, _batch_role(workflow))
    assert ":inference-profile/us.meta.llama3-2-1b-instruct-v1:0" in policy
    assert ":bedrock:us-east-2::foundation-model/meta.llama3-2-1b-instruct-v1:0" in policy


def test_a_base_model_that_cannot_answer_fails_the_evaluation_without_a_gate_decision(
    workflow: OfflineWorkflow, bedrock: FakeBedrock, runtime: FakeBedrockRuntime
) -> None:
    denied = "You don't have access to the model with the specified model ID."
    runtime.refuse["amazon.nova-lite-v1:0"] = ("AccessDeniedException", denied)
    execution = workflow.run(evaluated(workflow))

    assert execution.status == "FAILED"
    assert execution.error == "EvaluationFailed", execution.cause
    message = error_message(execution)
    assert "the base model (amazon.nova-lite-v1:0) gave no answer" in message and denied in message
    assert "No quality gate was decided" in message
    base_calls = [p for _, p in runtime.calls if p["modelId"] == "amazon.nova-lite-v1:0"]
    assert len(base_calls) < FAIL_FAST_AFTER + 3, "not asked every record once it was clear"
    assert bedrock.live_serving() == [], "serving removed"
    assert bedrock.deleted_models == [], "no gate failed: the model is kept"
    jobs = next(iter(bedrock.jobs.values()))["jobName"]
    reports = boto3.client("s3", region_name=REGION).list_objects_v2(
        Bucket=workflow.artifacts_bucket, Prefix=f"reports/{jobs}/evaluation.json"
    )
    assert reports.get("KeyCount", 0) == 0, "no evaluation report, no gate"


# -- bounded evaluation --------------------------------------------------------------------------


class SlowClock:
    """A fake clock that Converse answers advance: each answer takes ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.now, self.seconds = 0.0, seconds
        self._lock = threading.Lock()

    def tick(self) -> None:
        with self._lock:
            self.now += self.seconds


@pytest.fixture
def slow(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlowClock]:
    """Each Lambda invocation starts with 15 minutes on the fake clock; answers take a minute."""
    clock = SlowClock(seconds=60.0)

    def remaining(self: FakeLambdaContext) -> int:
        start = self.__dict__.setdefault("_started_at", clock.now)
        return int((900.0 - (clock.now - start)) * 1000)

    monkeypatch.setattr(FakeLambdaContext, "get_remaining_time_in_millis", remaining)
    yield clock


def _answers_by_prompt(model_id: str, prompt: str) -> str:
    """Varied answers, so the scores are not all 0 or 1: the custom model is right on even
    tickets, the base model on tickets divisible by 5."""
    ticket = int(prompt.split("Ticket ", 1)[1].split(":", 1)[0])
    custom = ":custom-model-deployment/" in model_id
    right = ticket % 2 == 0 if custom else ticket % 5 == 0
    return "Category: delivery" if right else "Category: billing"


def _evaluate(workflow: OfflineWorkflow, name: str) -> Execution:
    gate = {"metric": "exact_match", "minImprovement": 0.2}
    execution = workflow.run(evaluated(workflow, records=30, gate=gate), name=name)
    assert execution.status == "SUCCEEDED", execution.cause
    return execution


def test_slow_answers_take_several_rounds_and_score_as_one_invocation(
    workflow: OfflineWorkflow, runtime: FakeBedrockRuntime, slow: SlowClock
) -> None:
    runtime.answer = _answers_by_prompt
    fast = _evaluate(workflow, "fast")
    fast_calls = len(runtime.calls)
    assert fast.entered_states().count("Evaluate the model") == 1

    def slowly(model_id: str, prompt: str) -> str:
        slow.tick()
        return _answers_by_prompt(model_id, prompt)

    slow.now = 1.0  # the clock starts moving: a minute per answer
    runtime.answer = slowly
    slowed = _evaluate(workflow, "slow")

    rounds = slowed.entered_states().count("Evaluate the model")
    assert rounds >= 4, "60 calls of a minute each, about 13 per 15-minute invocation"
    slow_calls = Counter(
        (p["modelId"], json.dumps(p["messages"])) for _, p in runtime.calls[fast_calls:]
    )
    assert len(slow_calls) == 60 and set(slow_calls.values()) == {1}, "each call asked once"
    for key in ("records", "metrics", "gate"):
        assert slowed.output["evaluation"][key] == fast.output["evaluation"][key], key
    assert 0 < slowed.output["evaluation"]["metrics"]["exact_match"]["custom"] < 1

    def rows(execution: Execution) -> list[dict[str, str]]:
        text = workflow.read_data(execution.output["evaluation"]["recordsCsvUri"]).decode()
        return list(csv.DictReader(io.StringIO(text)))

    assert rows(slowed) == rows(fast), "the same per-record report"
    slices = _slices(workflow, slowed)
    assert len(slices) == rounds and sum(len(s) for s in slices) == 60
    assert len({(a["model"], a["id"]) for s in slices for a in s}) == 60, "scored once each"


def _slices(workflow: OfflineWorkflow, execution: Execution) -> list[list[dict[str, Any]]]:
    job = execution.output["plan"]["jobName"]
    s3 = boto3.client("s3", region_name=REGION)
    listed = s3.list_objects_v2(
        Bucket=workflow.artifacts_bucket, Prefix=f"reports/{job}/evaluation-answers/"
    )
    return [
        json.loads(s3.get_object(Bucket=workflow.artifacts_bucket, Key=o["Key"])["Body"].read())[
            "answers"
        ]
        for o in sorted(listed.get("Contents", []), key=lambda o: o["Key"])
    ]
