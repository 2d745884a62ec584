"""Run the synthesized state machine offline.

The definition is taken from the synthesized template and executed by moto's Step
Functions interpreter. Its Lambda tasks are routed to the real handler modules named
by each function's ``Handler`` in the template, with the function's environment as the
template sets it. S3, SNS, SQS and Step Functions are moto's; Bedrock, which moto does
not cover (provisioned throughput, deployments), is ``FakeBedrock``: a stateful fake
behind the handlers' real boto3 client that checks every request against botocore's
service model, patterns included.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import boto3
from botocore.awsrequest import AWSResponse

from lambda_handlers.common.aws import client
from tests.conftest import FakeLambdaContext
from tests.service_model import assert_valid_response, strict_problems

ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK_NAME = "BedrockCustomization"


# -- the template -----------------------------------------------------------------------


class TemplateResolver:
    """Resolves the intrinsic functions CDK writes into concrete, fake values."""

    def __init__(self, template: dict[str, Any]):
        self.resources = template["Resources"]

    def physical_name(self, logical_id: str) -> str:
        return logical_id.lower()[:63]

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::Partition": "aws",
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": STACK_NAME,
        }
        if name in pseudo:
            return pseudo[name]
        kind = self.resources[name]["Type"]
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
        if kind == "AWS::StepFunctions::StateMachine":
            return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
        return self.physical_name(name)

    def get_att(self, logical_id: str, attribute: str) -> str:
        kind = self.resources[logical_id]["Type"]
        arns = {
            "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}",
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{logical_id}",
            "AWS::KMS::Key": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{uuid.uuid5(uuid.NAMESPACE_URL, logical_id)}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{self.physical_name(logical_id)}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{logical_id}",
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        if attribute == "Name":
            return logical_id
        raise KeyError(f"cannot resolve Fn::GetAtt {logical_id}.{attribute} ({kind})")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"Ref"}:
                return self.ref(value["Ref"])
            if set(value) == {"Fn::GetAtt"}:
                return self.get_att(*value["Fn::GetAtt"])
            if set(value) == {"Fn::Join"}:
                separator, parts = value["Fn::Join"]
                return separator.join(str(self.resolve(p)) for p in parts)
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value


@dataclass
class FunctionSpec:
    logical_id: str
    handler: str
    environment: dict[str, str]


def functions_of(template: dict[str, Any]) -> dict[str, FunctionSpec]:
    resolver = TemplateResolver(template)
    specs = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        props = resource["Properties"]
        env = resolver.resolve(props.get("Environment", {}).get("Variables", {}))
        specs[logical_id] = FunctionSpec(logical_id, props["Handler"], env)
    return specs


def state_machine_definition(
    template: dict[str, Any], wait_seconds: int | None = None
) -> dict[str, Any]:
    """The synthesized definition, resolved; every Wait set to ``wait_seconds`` when given."""
    resolver = TemplateResolver(template)
    [machine] = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    definition = json.loads(resolver.resolve(machine["Properties"]["DefinitionString"]))
    for state in definition["States"].values():
        if (
            wait_seconds is not None
            and state["Type"] == "Wait"
            and ("Seconds" in state or "SecondsPath" in state)
        ):
            state.pop("SecondsPath", None)
            state["Seconds"] = wait_seconds
    return definition


# -- Bedrock -----------------------------------------------------------------------------


class BedrockClientError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _now() -> datetime:
    return datetime.now(UTC)


def _id12() -> str:
    return uuid.uuid4().hex[:12]


@dataclass
class FakeBedrock:
    """The Bedrock control plane for one test, scripted and checked.

    ``job_statuses``: what successive GetModelCustomizationJob calls report (the last
    one sticks). ``serving_statuses``: likewise for provisioned throughput or a
    deployment. ``fail_next``: operation name -> errors to raise on its next calls.
    """

    job_statuses: list[str] = field(default_factory=lambda: ["InProgress", "Completed"])
    job_failure_message: str = "Validation of the training data failed at line 7"
    serving_statuses: list[str] = field(default_factory=lambda: ["Creating", "InService"])
    fail_next: dict[str, list[BedrockClientError]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # Called with the job's parameters when a job is created: how a test plays Bedrock's
    # side of training (reading the data, calling the RFT grader).
    on_training: Callable[[dict[str, Any]], None] | None = None
    deleted_models: list[str] = field(default_factory=list)
    batch_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # How the base model answers in a batch job: set by the test (prompt text -> answer).
    batch_answer: Callable[[str], str] = field(default=lambda prompt: "I am not sure.")
    violations: list[str] = field(default_factory=list)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    throughputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # botocore event hooks: see the API parameters, then answer instead of sending.
    def register(self, bedrock_client: Any) -> None:
        events = bedrock_client.meta.events
        events.register(
            "before-parameter-build.bedrock.*", self._capture, unique_id="fake-bedrock-params"
        )
        events.register("before-call.bedrock.*", self, unique_id="fake-bedrock")

    @staticmethod
    def _capture(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["fake_bedrock_params"] = copy.deepcopy(params)

    def __call__(
        self, model: Any, context: dict[str, Any], **_: Any
    ) -> tuple[AWSResponse, dict[str, Any]]:
        operation = model.name
        params = context["fake_bedrock_params"]
        with self._lock:
            self.calls.append((operation, params))
            self.violations += strict_problems("bedrock", operation, params)
            try:
                pending = self.fail_next.get(operation)
                if pending:
                    raise pending.pop(0)
                response = getattr(self, f"_{operation}")(params)
                assert_valid_response("bedrock", operation, response)
            except BedrockClientError as error:
                body = {
                    "Error": {"Code": error.code, "Message": error.message},
                    "ResponseMetadata": {"HTTPStatusCode": error.status},
                }
                return AWSResponse("https://bedrock.fake", error.status, {}, None), body
        response["ResponseMetadata"] = {"HTTPStatusCode": 200}
        return AWSResponse("https://bedrock.fake", 200, {}, None), response

    def operations(self) -> list[str]:
        return [op for op, _ in self.calls]

    # jobs
    def _find_job(self, identifier: str) -> dict[str, Any]:
        for job in self.jobs.values():
            if identifier in (job["jobArn"], job["jobName"]):
                return job
        raise BedrockClientError("ResourceNotFoundException", f"job {identifier} not found", 404)

    def _CreateModelCustomizationJob(self, p: dict[str, Any]) -> dict[str, Any]:
        for job in self.jobs.values():
            if job["jobName"] == p["jobName"]:
                if job["clientRequestToken"] == p.get("clientRequestToken"):
                    return {"jobArn": job["jobArn"]}
                raise BedrockClientError("ConflictException", f"job {p['jobName']} already exists")
        arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-customization-job/amazon.nova-lite-v1:0:300k/{_id12()}"
        self.jobs[arn] = {
            "jobArn": arn,
            "jobName": p["jobName"],
            "outputModelName": p["customModelName"],
            "clientRequestToken": p.get("clientRequestToken"),
            "roleArn": p["roleArn"],
            "creationTime": _now(),
            "baseModelArn": f"arn:aws:bedrock:{REGION}::foundation-model/{p['baseModelIdentifier']}",
            "trainingDataConfig": p["trainingDataConfig"],
            "validationDataConfig": p.get("validationDataConfig", {"validators": []}),
            "outputDataConfig": p["outputDataConfig"],
            "hyperParameters": p.get("hyperParameters", {}),
            "customizationType": p.get("customizationType", "FINE_TUNING"),
            "_polls": 0,
            "_stopped": False,
            "_tags": p.get("jobTags", []),
        }
        if p.get("customizationConfig"):
            self.jobs[arn]["customizationConfig"] = p["customizationConfig"]
        if self.on_training:
            self.on_training(p)
        return {"jobArn": arn}

    def _GetModelCustomizationJob(self, p: dict[str, Any]) -> dict[str, Any]:
        job = self._find_job(p["jobIdentifier"])
        if job["_stopped"]:
            status = "Stopped"
        else:
            status = self.job_statuses[min(job["_polls"], len(self.job_statuses) - 1)]
            job["_polls"] += 1
        answer = {k: v for k, v in job.items() if not k.startswith("_")}
        answer["status"] = status
        if status == "Completed":
            answer["outputModelArn"] = (
                f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/amazon.nova-lite-v1:0:300k/{job['jobArn'][-12:]}"
            )
            answer["trainingMetrics"] = {"trainingLoss": 0.42}
            answer["validationMetrics"] = [{"validationLoss": 0.51}]
        if status == "Failed":
            answer["failureMessage"] = self.job_failure_message
        return answer

    def _StopModelCustomizationJob(self, p: dict[str, Any]) -> dict[str, Any]:
        self._find_job(p["jobIdentifier"])["_stopped"] = True
        return {}

    # serving
    def _serving_status(self, resource: dict[str, Any]) -> str:
        status = self.serving_statuses[min(resource["_polls"], len(self.serving_statuses) - 1)]
        resource["_polls"] += 1
        if status == "Active" and "customModelDeploymentArn" not in resource:
            status = "InService"
        if status == "InService" and "customModelDeploymentArn" in resource:
            status = "Active"
        return status

    def _CreateProvisionedModelThroughput(self, p: dict[str, Any]) -> dict[str, Any]:
        for pt in self.throughputs.values():
            if pt["clientRequestToken"] == p.get("clientRequestToken"):
                return {"provisionedModelArn": pt["provisionedModelArn"]}
        arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:provisioned-model/{_id12()}"
        self.throughputs[arn] = {
            "provisionedModelArn": arn,
            "provisionedModelName": p["provisionedModelName"],
            "modelUnits": p["modelUnits"],
            "modelArn": p["modelId"],
            "commitmentDuration": p.get("commitmentDuration"),
            "clientRequestToken": p.get("clientRequestToken"),
            "tags": p.get("tags", []),
            "_polls": 0,
            "_deleted": False,
        }
        return {"provisionedModelArn": arn}

    @staticmethod
    def _find_live(store: dict[str, dict[str, Any]], identifier: str, what: str) -> dict[str, Any]:
        """A serving resource by ARN or name, unless deleted."""
        for arn, resource in store.items():
            names = {arn, resource.get("provisionedModelName"), resource.get("modelDeploymentName")}
            if identifier in names and not resource["_deleted"]:
                return resource
        raise BedrockClientError("ResourceNotFoundException", f"{what} {identifier} not found", 404)

    def _find_throughput(self, identifier: str) -> dict[str, Any]:
        return self._find_live(self.throughputs, identifier, "provisioned model")

    def _GetProvisionedModelThroughput(self, p: dict[str, Any]) -> dict[str, Any]:
        pt = self._find_throughput(p["provisionedModelId"])
        status = self._serving_status(pt)
        answer = {
            "modelUnits": pt["modelUnits"],
            "desiredModelUnits": pt["modelUnits"],
            "provisionedModelName": pt["provisionedModelName"],
            "provisionedModelArn": pt["provisionedModelArn"],
            "modelArn": pt["modelArn"],
            "desiredModelArn": pt["modelArn"],
            "foundationModelArn": pt["modelArn"],
            "status": status,
            "creationTime": _now(),
            "lastModifiedTime": _now(),
        }
        if status == "Failed":
            answer["failureMessage"] = "Insufficient capacity for the requested model units"
        return answer

    def _DeleteProvisionedModelThroughput(self, p: dict[str, Any]) -> dict[str, Any]:
        self._find_throughput(p["provisionedModelId"])["_deleted"] = True
        return {}

    def _CreateCustomModelDeployment(self, p: dict[str, Any]) -> dict[str, Any]:
        for d in self.deployments.values():
            if d["clientRequestToken"] == p.get("clientRequestToken"):
                return {"customModelDeploymentArn": d["customModelDeploymentArn"]}
        arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model-deployment/{_id12()}"
        self.deployments[arn] = {
            "customModelDeploymentArn": arn,
            "modelDeploymentName": p["modelDeploymentName"],
            "modelArn": p["modelArn"],
            "clientRequestToken": p.get("clientRequestToken"),
            "tags": p.get("tags", []),
            "_polls": 0,
            "_deleted": False,
        }
        return {"customModelDeploymentArn": arn}

    def _find_deployment(self, identifier: str) -> dict[str, Any]:
        return self._find_live(self.deployments, identifier, "deployment")

    def _GetCustomModelDeployment(self, p: dict[str, Any]) -> dict[str, Any]:
        d = self._find_deployment(p["customModelDeploymentIdentifier"])
        status = self._serving_status(d)
        if "_update" in d:  # an update reports Updating once, then completes
            answer_update = {"modelArn": d["modelArn"], "updateStatus": d["_update"]}
            d["_update"] = "UpdateCompleted"
        else:
            answer_update = None
        answer = {
            "customModelDeploymentArn": d["customModelDeploymentArn"],
            "modelDeploymentName": d["modelDeploymentName"],
            "modelArn": d["modelArn"],
            "createdAt": _now(),
            "status": status,
        }
        if status == "Failed":
            answer["failureMessage"] = "Deployment failed"
        if answer_update:
            answer["updateDetails"] = answer_update
        return answer

    def _UpdateCustomModelDeployment(self, p: dict[str, Any]) -> dict[str, Any]:
        d = self._find_deployment(p["customModelDeploymentIdentifier"])
        d["modelArn"] = p["modelArn"]
        d["_update"] = "Updating"
        return {"customModelDeploymentArn": d["customModelDeploymentArn"]}

    def _UpdateProvisionedModelThroughput(self, p: dict[str, Any]) -> dict[str, Any]:
        pt = self._find_throughput(p["provisionedModelId"])
        pt["modelArn"] = p["desiredModelId"]
        pt["_updating"] = True
        return {}

    def _CreateModelInvocationJob(self, p: dict[str, Any]) -> dict[str, Any]:
        arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-invocation-job/{_id12()}"
        self.batch_jobs[arn] = {**p, "jobArn": arn, "_polls": 0, "status": "Submitted"}
        return {"jobArn": arn}

    def _GetModelInvocationJob(self, p: dict[str, Any]) -> dict[str, Any]:
        job = next((j for a, j in self.batch_jobs.items() if a.endswith(p["jobIdentifier"])), None)
        if job is None:
            raise BedrockClientError("ResourceNotFoundException", "no such batch job", 404)
        job["_polls"] += 1
        if job["status"] != "Stopped":
            job["status"] = "InProgress" if job["_polls"] < 2 else "Completed"
        if job["status"] == "Completed" and "_written" not in job:
            self._write_batch_output(job)
        return {
            "jobArn": job["jobArn"],
            "jobName": job["jobName"],
            "modelId": job["modelId"],
            "roleArn": job["roleArn"],
            "status": job["status"],
            "submitTime": _now(),
            "inputDataConfig": job["inputDataConfig"],
            "outputDataConfig": job["outputDataConfig"],
        }

    def _write_batch_output(self, job: dict[str, Any]) -> None:
        """Bedrock's side of a batch job: read the input JSONL, write ``<name>.jsonl.out``."""
        s3 = boto3.client("s3", region_name=REGION)
        bucket, _, key = job["inputDataConfig"]["s3InputDataConfig"]["s3Uri"][5:].partition("/")
        lines = s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()
        out = []
        for line in lines:
            record = json.loads(line)
            prompt = " ".join(
                b["text"] for m in record["modelInput"]["messages"] for b in m["content"]
            )
            out.append(
                {
                    "recordId": record["recordId"],
                    "modelInput": record["modelInput"],
                    "modelOutput": {
                        "output": {
                            "message": {
                                "role": "assistant",
                                "content": [{"text": self.batch_answer(prompt)}],
                            }
                        },
                        "stopReason": "end_turn",
                    },
                }
            )
        obucket, _, oprefix = job["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"][5:].partition(
            "/"
        )
        s3.put_object(
            Bucket=obucket,
            Key=f"{oprefix}{job['jobArn'][-12:]}/base.jsonl.out",
            Body=b"".join(json.dumps(r).encode() + b"\n" for r in out),
        )
        job["_written"] = True

    def _ListModelInvocationJobs(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "invocationJobSummaries": [
                {
                    "jobArn": a,
                    "jobName": j["jobName"],
                    "modelId": j["modelId"],
                    "roleArn": j["roleArn"],
                    "status": j["status"],
                    "submitTime": _now(),
                    "inputDataConfig": j["inputDataConfig"],
                    "outputDataConfig": j["outputDataConfig"],
                }
                for a, j in self.batch_jobs.items()
                if p.get("nameContains", "") in j["jobName"]
            ]
        }

    def _StopModelInvocationJob(self, p: dict[str, Any]) -> dict[str, Any]:
        for arn, job in self.batch_jobs.items():
            if arn.endswith(p["jobIdentifier"]):
                job["status"] = "Stopped"
        return {}

    def existing_deployment(self, model_arn: str) -> str:
        """A deployment the user already runs (not created by the workflow, not tagged)."""
        arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model-deployment/{_id12()}"
        self.deployments[arn] = {
            "customModelDeploymentArn": arn,
            "modelDeploymentName": "production",
            "modelArn": model_arn,
            "clientRequestToken": None,
            "tags": [],
            "_polls": 99,
            "_deleted": False,
        }
        return arn

    def _DeleteCustomModelDeployment(self, p: dict[str, Any]) -> dict[str, Any]:
        self._find_deployment(p["customModelDeploymentIdentifier"])["_deleted"] = True
        return {}

    def _DeleteCustomModel(self, p: dict[str, Any]) -> dict[str, Any]:
        self.deleted_models.append(p["modelIdentifier"])
        return {}

    def _ListTagsForResource(self, p: dict[str, Any]) -> dict[str, Any]:
        arn = p["resourceARN"]
        for store in (self.throughputs, self.deployments):
            if arn in store:
                return {"tags": store[arn]["tags"]}
        if arn in self.jobs:
            return {"tags": self.jobs[arn]["_tags"]}
        raise BedrockClientError("ResourceNotFoundException", f"{arn} not found", 404)

    # what is still billable
    def running_jobs(self) -> list[str]:
        """Jobs neither stopped nor seen in a terminal status: still training, still billed."""

        def last_seen(job: dict[str, Any]) -> str:
            return self.job_statuses[min(max(job["_polls"] - 1, 0), len(self.job_statuses) - 1)]

        return [
            a
            for a, j in self.jobs.items()
            if not j["_stopped"] and last_seen(j) not in {"Completed", "Failed", "Stopped"}
        ]

    def live_serving(self) -> list[str]:
        return [a for a, r in {**self.throughputs, **self.deployments}.items() if not r["_deleted"]]


@dataclass
class FakeBedrockRuntime:
    """bedrock-runtime ``Converse`` behind the evaluation's real client, checked against the
    service model. ``answer(model_id, prompt_text)`` scripts what each model says."""

    answer: Callable[[str, str], str]
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, runtime_client: Any) -> None:
        events = runtime_client.meta.events
        events.register(
            "before-parameter-build.bedrock-runtime.*",
            FakeBedrock._capture,
            unique_id="fake-rt-params",
        )
        events.register("before-call.bedrock-runtime.*", self, unique_id="fake-rt")

    def __call__(
        self, model: Any, context: dict[str, Any], **_: Any
    ) -> tuple[AWSResponse, dict[str, Any]]:
        params = context["fake_bedrock_params"]
        with self._lock:
            self.calls.append((model.name, params))
            self.violations += strict_problems("bedrock-runtime", model.name, params)
        prompt = " ".join(
            b["text"] for m in params["messages"] for b in m["content"] if "text" in b
        )
        text = self.answer(params["modelId"], prompt)
        response = {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 10, "outputTokens": 2, "totalTokens": 12},
            "metrics": {"latencyMs": 5},
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }
        return AWSResponse("https://bedrock-runtime.fake", 200, {}, None), response


# -- running executions ------------------------------------------------------------------


@dataclass
class Execution:
    arn: str
    status: str
    output: dict[str, Any] | None
    error: str | None
    cause: str | None
    history: list[dict[str, Any]]

    def entered_states(self) -> list[str]:
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.history
            if "stateEnteredEventDetails" in e
        ]


class OfflineWorkflow:
    """The synthesized state machine in moto, with its Lambda tasks running the real handlers."""

    def __init__(self, template: dict[str, Any], bedrock: FakeBedrock):
        self.template = template
        self.bedrock = bedrock
        self.functions = functions_of(template)
        self.invocations: list[tuple[str, dict[str, Any]]] = []
        self.retry_sleeps: list[float] = []
        resolver = TemplateResolver(template)
        some_env = next(
            f.environment for f in self.functions.values() if "DATA_BUCKET" in f.environment
        )
        self.env = some_env
        self.data_bucket = some_env["DATA_BUCKET"]
        self.artifacts_bucket = some_env["ARTIFACTS_BUCKET"]
        self.topic_arn = some_env["TOPIC_ARN"]
        self._resolver = resolver

    # setup inside mock_aws
    def start(self) -> None:
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (self.data_bucket, self.artifacts_bucket):
            s3.create_bucket(Bucket=bucket)
        sns = boto3.client("sns", region_name=REGION)
        topic_name = self.topic_arn.rsplit(":", 1)[1]
        assert sns.create_topic(Name=topic_name)["TopicArn"] == self.topic_arn
        sqs = boto3.client("sqs", region_name=REGION)
        self.queue_url = sqs.create_queue(QueueName="outcomes")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(
            TopicArn=self.topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        self.bedrock.register(client("bedrock"))
        self.state_machine_arn = self.create_state_machine(
            "CustomizationStateMachine", wait_seconds=0
        )

    def create_state_machine(self, name: str, wait_seconds: int) -> str:
        """The synthesized definition as a moto state machine, Wait states shortened to ``wait_seconds``."""
        sfn = boto3.client("stepfunctions", region_name=REGION)
        return sfn.create_state_machine(
            name=name,
            definition=json.dumps(state_machine_definition(self.template, wait_seconds)),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/StateMachineRole",
        )["stateMachineArn"]

    def put_data(self, key: str, body: bytes) -> str:
        boto3.client("s3", region_name=REGION).put_object(
            Bucket=self.data_bucket, Key=key, Body=body
        )
        return f"s3://{self.data_bucket}/{key}"

    # the Lambda router
    def invoke(self, function_name: str, body: Any, response_headers: dict[str, str]) -> bytes:
        logical_id = function_name.rsplit(":", 1)[-1]
        spec = self.functions[logical_id]
        module_name, handler_name = spec.handler.rsplit(".", 1)
        handler: Callable[..., Any] = getattr(importlib.import_module(module_name), handler_name)
        event = json.loads(body) if body else {}
        self.invocations.append((logical_id, event))
        with mock.patch.dict(os.environ, spec.environment):
            try:
                result = handler(event, FakeLambdaContext(function_name=logical_id))
            except Exception as error:
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps(
                    {"errorType": type(error).__name__, "errorMessage": str(error)}
                ).encode()
        return json.dumps(result).encode()

    def invoke_arn(self, function_arn: str, event: Any) -> Any:
        """Invoke a function by ARN as Bedrock would (synchronously); returns its result."""
        headers: dict[str, str] = {}
        result = json.loads(self.invoke(function_arn, json.dumps(event), headers))
        if headers:
            raise AssertionError(f"{function_arn} failed: {result}")
        return result

    def read_data(self, uri: str) -> bytes:
        bucket, _, key = uri[len("s3://") :].partition("/")
        return (
            boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)["Body"].read()
        )

    def invoked(self) -> list[str]:
        return [self.functions[f].handler for f, _ in self.invocations]

    def start_execution(
        self, request: Any, name: str = "run-1", state_machine_arn: str | None = None
    ) -> str:
        sfn = boto3.client("stepfunctions", region_name=REGION)
        return sfn.start_execution(
            stateMachineArn=state_machine_arn or self.state_machine_arn,
            name=name,
            input=json.dumps(request),
        )["executionArn"]

    def run(self, request: Any, name: str = "run-1", timeout: float = 60) -> Execution:
        return self.wait(self.start_execution(request, name), timeout)

    def wait(self, arn: str, timeout: float = 60) -> Execution:
        sfn = boto3.client("stepfunctions", region_name=REGION)
        deadline = time.monotonic() + timeout
        while True:
            described = sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {arn} still running after {timeout}s")
            time.sleep(0.02)
        history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        output = json.loads(described["output"]) if described.get("output") else None
        return Execution(
            arn,
            described["status"],
            output,
            described.get("error"),
            described.get("cause"),
            history,
        )

    def read_artifact(self, uri: str) -> dict[str, Any]:
        bucket, _, key = uri[len("s3://") :].partition("/")
        body = (
            boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)["Body"].read()
        )
        return json.loads(body)

    def notifications(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name=REGION)
        messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        return [json.loads(m["Body"]) for m in messages]


def patch_interpreter(workflow: OfflineWorkflow) -> Iterator[None]:
    """Route moto's Lambda invocations to ``workflow`` and record retry sleeps instead of sleeping."""
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    def invoke(
        backend: Any,
        function_name: str,
        qualifier: Any,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        return workflow.invoke(function_name, body, response_headers)

    class _Time:
        @staticmethod
        def sleep(seconds: float) -> None:
            workflow.retry_sleeps.append(seconds)

    from lambda_handlers import cleanup

    with (
        mock.patch.object(LambdaSimpleBackend, "invoke", invoke),
        mock.patch.object(retrier_decl, "time", _Time),
        mock.patch.object(cleanup, "wait", workflow.retry_sleeps.append),
    ):
        yield
