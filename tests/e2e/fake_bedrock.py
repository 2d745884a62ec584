"""A fake Bedrock control plane and runtime for offline executions.

Behind the handlers' real boto3 clients (botocore event hooks answer instead of sending),
stateful, and checked: every request against botocore's service model, patterns included
(``strict_problems``), every answer against the response shapes. It answers as the real
service does where the project knows how (``../shared/bedrock-facts.md``).
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError

from tests.service_model import assert_valid_response, strict_problems

ACCOUNT = "123456789012"
REGION = "us-east-1"

# How GetFoundationModel describes the base models as invoked (name, provider, inference
# types). Llama 3.2, Llama 3.3 70B and Nova 2 Lite cannot be invoked on demand by their id:
# the service reports INFERENCE_PROFILE (not in botocore's enum, which lists ON_DEMAND and
# PROVISIONED only) and Converse refuses them (../shared/bedrock-facts.md).
FOUNDATION_MODELS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "amazon.nova-micro-v1:0": ("Nova Micro", "Amazon", ("ON_DEMAND",)),
    "amazon.nova-lite-v1:0": ("Nova Lite", "Amazon", ("ON_DEMAND",)),
    "amazon.nova-pro-v1:0": ("Nova Pro", "Amazon", ("ON_DEMAND",)),
    "amazon.nova-2-lite-v1:0": ("Nova 2 Lite", "Amazon", ("INFERENCE_PROFILE",)),
    "anthropic.claude-3-haiku-20240307-v1:0": ("Claude 3 Haiku", "Anthropic", ("ON_DEMAND",)),
    "meta.llama3-1-8b-instruct-v1:0": ("Llama 3.1 8B Instruct", "Meta", ("ON_DEMAND",)),
    "meta.llama3-1-70b-instruct-v1:0": ("Llama 3.1 70B Instruct", "Meta", ("ON_DEMAND",)),
    "meta.llama3-2-1b-instruct-v1:0": ("Llama 3.2 1B Instruct", "Meta", ("INFERENCE_PROFILE",)),
    "meta.llama3-2-3b-instruct-v1:0": ("Llama 3.2 3B Instruct", "Meta", ("INFERENCE_PROFILE",)),
    "meta.llama3-2-11b-instruct-v1:0": ("Llama 3.2 11B Instruct", "Meta", ("INFERENCE_PROFILE",)),
    "meta.llama3-2-90b-instruct-v1:0": ("Llama 3.2 90B Instruct", "Meta", ("INFERENCE_PROFILE",)),
    "meta.llama3-3-70b-instruct-v1:0": ("Llama 3.3 70B Instruct", "Meta", ("INFERENCE_PROFILE",)),
    # Legacy models, invoked on demand by ids that are not their customizable ids cut short.
    "amazon.titan-text-lite-v1": ("Titan Text G1 - Lite", "Amazon", ("ON_DEMAND",)),
    "amazon.titan-text-express-v1": ("Titan Text G1 - Express", "Amazon", ("ON_DEMAND",)),
    "amazon.titan-text-premier-v1:0": ("Titan Text Premier", "Amazon", ("ON_DEMAND",)),
    "cohere.command-text-v14": ("Command", "Cohere", ("ON_DEMAND",)),
    "cohere.command-light-text-v14": ("Command Light", "Cohere", ("ON_DEMAND",)),
}
US_REGIONS = ("us-east-1", "us-east-2", "us-west-2")
# The system-defined profiles ListInferenceProfiles reports: id -> (model, destination Regions).
SYSTEM_PROFILES: dict[str, tuple[str, tuple[str, ...]]] = {
    f"us.{model}": (model, US_REGIONS) for model in FOUNDATION_MODELS
}
ON_DEMAND_REFUSED = (
    "Invocation of model ID {model} with on-demand throughput isn't supported. Retry your "
    "request with the ID or ARN of an inference profile that contains this model."
)
"""What Converse answers (ValidationException) for a model that needs an inference profile."""


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
    ``job_name_in_use``: how CreateModelCustomizationJob answers a name already taken by a
    job with another ``clientRequestToken``: the real service's ValidationException (the
    default), or the ConflictException that the service model also lists.
    """

    job_statuses: list[str] = field(default_factory=lambda: ["InProgress", "Completed"])
    # A job's own script and losses, by its job (a sweep's runs differ): None for the above.
    job_script: Callable[[dict[str, Any]], list[str] | None] | None = None
    job_losses: Callable[[dict[str, Any]], tuple[float, float]] | None = None
    job_failure_message: str = "Validation of the training data failed at line 7"
    job_name_in_use: str = "ValidationException"
    serving_statuses: list[str] = field(default_factory=lambda: ["Creating", "InService"])
    fail_next: dict[str, list[BedrockClientError]] = field(default_factory=dict)
    # The network down for the next N calls of an operation: botocore's own error after its
    # retries (EndpointConnectionError), not an answer of the service.
    unreachable: dict[str, int] = field(default_factory=dict)
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
    # What GetFoundationModel and ListInferenceProfiles answer: a test may change them.
    foundation_models: dict[str, tuple[str, str, tuple[str, ...]]] = field(
        default_factory=lambda: dict(FOUNDATION_MODELS)
    )
    inference_profiles: dict[str, tuple[str, tuple[str, ...]]] = field(
        default_factory=lambda: dict(SYSTEM_PROFILES)
    )
    # IAM's decision on a Stop or Delete, from the resource's tags, as the caller's policy
    # makes it: ``authorize(action, arn, tags)`` returns None to allow, or why it refuses
    # (AccessDeniedException). A test builds it from the synthesized template's statements.
    authorize: Callable[[str, str, list[dict[str, str]]], str | None] | None = None
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
            if self.unreachable.get(operation, 0) > 0:
                self.unreachable[operation] -= 1
                raise EndpointConnectionError(
                    endpoint_url=f"https://bedrock.{REGION}.amazonaws.com"
                )
            try:
                pending = self.fail_next.get(operation)
                if pending:
                    raise pending.pop(0)
                self._authorize(operation, params)
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

    def _authorize(self, operation: str, params: dict[str, Any]) -> None:
        if self.authorize is None or not operation.startswith(("Stop", "Delete")):
            return
        arn, tags = self._tagged_resource(operation, params)
        refused = self.authorize(f"bedrock:{operation}", arn, tags)
        if refused:
            raise BedrockClientError(
                "AccessDeniedException",
                f"User is not authorized to perform: bedrock:{operation} on resource: {arn} "
                f"({refused})",
                403,
            )

    def _tagged_resource(
        self, operation: str, params: dict[str, Any]
    ) -> tuple[str, list[dict[str, str]]]:
        """The resource a Stop or Delete names, with its tags (not found raises as Bedrock does)."""
        if operation == "StopModelCustomizationJob":
            job = self._find_job(params["jobIdentifier"])
            return job["jobArn"], job["_tags"]
        if operation == "StopModelInvocationJob":
            for arn, batch in self.batch_jobs.items():
                if arn.endswith(params["jobIdentifier"]):
                    return arn, list(batch.get("tags", []))
            raise BedrockClientError("ResourceNotFoundException", "no such batch job", 404)
        if operation == "DeleteProvisionedModelThroughput":
            pt = self._find_throughput(params["provisionedModelId"])
            return pt["provisionedModelArn"], pt["tags"]
        if operation == "DeleteCustomModelDeployment":
            d = self._find_deployment(params["customModelDeploymentIdentifier"])
            return d["customModelDeploymentArn"], d["tags"]
        if operation == "DeleteCustomModel":
            arn = params["modelIdentifier"]
            made = [j["_model_tags"] for j in self.jobs.values() if self._model_arn(j) == arn]
            return arn, made[0] if made else []
        raise AssertionError(f"no resource known for {operation}")

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
                # The same token again: the idempotent retry gets the job it created.
                if job["clientRequestToken"] == p.get("clientRequestToken"):
                    return {"jobArn": job["jobArn"]}
                if self.job_name_in_use == "ValidationException":
                    # What the real service says (../shared/bedrock-facts.md).
                    raise BedrockClientError(
                        "ValidationException", "The provided job name is currently in use."
                    )
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
            "_model_tags": p.get("customModelTags", []),
        }
        if p.get("customizationConfig"):
            self.jobs[arn]["customizationConfig"] = p["customizationConfig"]
        if self.on_training:
            self.on_training(p)
        return {"jobArn": arn}

    def foreign_job(self, name: str) -> str:
        """A job of that name that another execution (another token) started, still training."""
        self._CreateModelCustomizationJob(
            {
                "jobName": name,
                "customModelName": "someone-elses-model",
                "clientRequestToken": "another-execution",
                "roleArn": f"arn:aws:iam::{ACCOUNT}:role/Other",
                "baseModelIdentifier": "amazon.nova-lite-v1:0:300k",
                "trainingDataConfig": {"s3Uri": "s3://other-bucket/train.jsonl"},
                "outputDataConfig": {"s3Uri": "s3://other-bucket/out/"},
            }
        )
        [arn] = [a for a, j in self.jobs.items() if j["jobName"] == name]
        return arn

    def _GetModelCustomizationJob(self, p: dict[str, Any]) -> dict[str, Any]:
        job = self._find_job(p["jobIdentifier"])
        if job["_stopped"]:
            status = "Stopped"
        else:
            script = self._script(job)
            status = script[min(job["_polls"], len(script) - 1)]
            job["_polls"] += 1
        answer = {k: v for k, v in job.items() if not k.startswith("_")}
        answer["status"] = status
        if status == "Completed":
            training, validation = self.job_losses(job) if self.job_losses else (0.42, 0.51)
            answer["outputModelArn"] = self._model_arn(job)
            answer["trainingMetrics"] = {"trainingLoss": training}
            answer["validationMetrics"] = [{"validationLoss": validation}]
        if status == "Failed":
            answer["failureMessage"] = self.job_failure_message
        return answer

    def next_status(self, job_arn: str) -> str:
        """What the job's next read will report, without reading it: where the job is now,
        as far as its script goes (what Bedrock would announce)."""
        job = self._find_job(job_arn)
        if job["_stopped"]:
            return "Stopped"
        script = self._script(job)
        return script[min(job["_polls"], len(script) - 1)]

    def _script(self, job: dict[str, Any]) -> list[str]:
        own = self.job_script(job) if self.job_script else None
        return own or self.job_statuses

    def state_change_event(self, job_arn: str, status: str) -> dict[str, Any]:
        """The EventBridge event Bedrock sends when the job enters ``status``: source
        ``aws.bedrock``, detail-type ``Model Customization Job State Change``, the job ARN in
        ``resources``, and the detail's fields as ../shared/bedrock-facts.md lists them
        (``jobStatus``, not ``status``)."""
        job = self._find_job(job_arn)
        now = _now().isoformat().replace("+00:00", "Z")
        detail: dict[str, Any] = {
            "version": "0.0",
            "jobName": job["jobName"],
            "jobArn": job["jobArn"],
            "outputModelName": job["outputModelName"],
            "roleArn": job["roleArn"],
            "jobStatus": status,
            "creationTime": job["creationTime"].isoformat().replace("+00:00", "Z"),
            "lastModifiedTime": now,
            "baseModelArn": job["baseModelArn"],
            "hyperParameters": job["hyperParameters"],
            "trainingDataConfig": job["trainingDataConfig"],
            "validationDataConfig": job["validationDataConfig"],
            "outputDataConfig": job["outputDataConfig"],
        }
        if status == "Completed":
            detail["outputModelArn"] = self._model_arn(job)
        if status in {"Completed", "Failed", "Stopped"}:
            detail["endTime"] = now
        if status == "Failed":
            detail["failureMessage"] = self.job_failure_message
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Model Customization Job State Change",
            "source": "aws.bedrock",
            "account": ACCOUNT,
            "time": now,
            "region": REGION,
            "resources": [job["jobArn"]],
            "detail": detail,
        }

    def _StopModelCustomizationJob(self, p: dict[str, Any]) -> dict[str, Any]:
        self._find_job(p["jobIdentifier"])["_stopped"] = True
        return {}

    # serving
    def _serving_status(self, resource: dict[str, Any]) -> str:
        if "_status" in resource:  # an endpoint the user runs, in a status a test sets
            return str(resource["_status"])
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
        self._refuse_a_name_in_use(self.throughputs, p["provisionedModelName"])
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
    def _refuse_a_name_in_use(store: dict[str, dict[str, Any]], name: str) -> None:
        """Serving names are unique in the account and Region while the resource exists. The
        service model lists no ConflictException for these creates, and no source gives the
        real answer's message: ValidationException with this message is a stand-in, and no
        handler reads the message (Start serving fails, and cleanup follows)."""
        for resource in store.values():
            names = {resource.get("provisionedModelName"), resource.get("modelDeploymentName")}
            if name in names and not resource["_deleted"]:
                raise BedrockClientError("ValidationException", f"The name {name} is in use.")

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
        self._refuse_a_name_in_use(self.deployments, p["modelDeploymentName"])
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
        if arn in self.batch_jobs:
            return {"tags": self._batch_job_tags(self.batch_jobs[arn])}
        for job in self.jobs.values():
            if arn == self._model_arn(job):  # the job's model: its customModelTags
                return {"tags": job["_model_tags"]}
        raise BedrockClientError("ResourceNotFoundException", f"{arn} not found", 404)

    @staticmethod
    def _batch_job_tags(job: dict[str, Any]) -> list[dict[str, str]]:
        """The tags a batch job was created with, while it runs. The Terraform AWS provider's
        documentation of ``aws_bedrock_model_invocation_job`` says Bedrock does not give the tags
        of a batch job that has finished; the error it answers is not documented, so this
        ValidationException and its message are a stand-in."""
        if job["status"] in {"Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired"}:
            raise BedrockClientError(
                "ValidationException", "Tags of a finished batch inference job are not available."
            )
        return list(job.get("tags", []))

    @staticmethod
    def _model_arn(job: dict[str, Any]) -> str:
        """The custom model a job makes (GetModelCustomizationJob's ``outputModelArn``)."""
        return f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/amazon.nova-lite-v1:0:300k/{job['jobArn'][-12:]}"

    def existing_throughput(self, model_arn: str, status: str = "InService") -> str:
        """A provisioned throughput the user already runs, in ``status``."""
        arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:provisioned-model/{_id12()}"
        self.throughputs[arn] = {
            "provisionedModelArn": arn,
            "provisionedModelName": "production-pt",
            "modelUnits": 1,
            "modelArn": model_arn,
            "commitmentDuration": None,
            "clientRequestToken": None,
            "tags": [],
            "_polls": 99,
            "_deleted": False,
            "_status": status,
        }
        return arn

    # base models and custom models, as the evaluation and the promotion checks read them
    def _GetFoundationModel(self, p: dict[str, Any]) -> dict[str, Any]:
        model_id = p["modelIdentifier"].rsplit("foundation-model/", 1)[-1]
        if model_id not in self.foundation_models:
            raise BedrockClientError(
                "ValidationException", "The provided model identifier is invalid."
            )
        name, provider, inference = self.foundation_models[model_id]
        return {
            "modelDetails": {
                "modelArn": f"arn:aws:bedrock:{REGION}::foundation-model/{model_id}",
                "modelId": model_id,
                "modelName": name[:20],
                "providerName": provider,
                "inputModalities": ["TEXT"],
                "outputModalities": ["TEXT"],
                "responseStreamingSupported": True,
                "customizationsSupported": [],
                "inferenceTypesSupported": list(inference),
                "modelLifecycle": {"status": "ACTIVE"},
            }
        }

    def _ListInferenceProfiles(self, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("typeEquals", "SYSTEM_DEFINED") != "SYSTEM_DEFINED":
            return {"inferenceProfileSummaries": []}
        return {
            "inferenceProfileSummaries": [
                {
                    "inferenceProfileName": f"US {model}"[:64].replace(".", " ").replace(":", " "),
                    "description": f"Routes requests to {model} in {len(regions)} Regions",
                    "createdAt": _now(),
                    "updatedAt": _now(),
                    "inferenceProfileArn": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/{profile_id}",
                    "models": [
                        {"modelArn": f"arn:aws:bedrock:{r}::foundation-model/{model}"}
                        for r in regions
                    ],
                    "inferenceProfileId": profile_id,
                    "status": "ACTIVE",
                    "type": "SYSTEM_DEFINED",
                }
                for profile_id, (model, regions) in self.inference_profiles.items()
            ]
        }

    def _GetCustomModel(self, p: dict[str, Any]) -> dict[str, Any]:
        """A custom model's ARN names its base model (custom-model/<base id>/<id>)."""
        arn = p["modelIdentifier"]
        parts = arn.split(":custom-model/", 1)
        if len(parts) != 2 or "/" not in parts[1] or parts[1].startswith("imported/"):
            raise BedrockClientError("ResourceNotFoundException", f"model {arn} not found", 404)
        base = parts[1].rsplit("/", 1)[0]
        return {
            "modelArn": arn,
            "modelName": f"model-{arn[-12:]}",
            "baseModelArn": f"arn:aws:bedrock:{REGION}::foundation-model/{base}",
            "customizationType": "FINE_TUNING",
            "creationTime": _now(),
            "modelStatus": "Active",
        }

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
    # Models invoked by their id that the service refuses on demand (ON_DEMAND_REFUSED).
    profile_only: frozenset[str] = frozenset(
        m for m, (_, _, inference) in FOUNDATION_MODELS.items() if "ON_DEMAND" not in inference
    )
    # model id -> (error code, message): a model that refuses every call (access, quota).
    refuse: dict[str, tuple[str, str]] = field(default_factory=dict)
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
        refusal = self._refusal(params["modelId"])
        if refusal is not None:
            code, message = refusal
            body = {"Error": {"Code": code, "Message": message}}
            body["ResponseMetadata"] = {"HTTPStatusCode": 400}
            return AWSResponse("https://bedrock-runtime.fake", 400, {}, None), body
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

    def _refusal(self, model_id: str) -> tuple[str, str] | None:
        if model_id in self.refuse:
            return self.refuse[model_id]
        if model_id in self.profile_only:
            return "ValidationException", ON_DEMAND_REFUSED.format(model=model_id)
        return None
