"""Run the synthesized state machine offline.

The definition is taken from the synthesized template and executed by moto's Step
Functions interpreter. Its Lambda tasks are routed to the real handler modules named
by each function's ``Handler`` in the template, with the function's environment as the
template sets it. S3, SNS, SQS and Step Functions are moto's; Bedrock, which moto does
not cover (provisioned throughput, deployments), is ``FakeBedrock``: a stateful fake
behind the handlers' real boto3 client that checks every request against botocore's
service model, patterns included (``tests/e2e/fake_bedrock.py``).
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock

import boto3
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import (
    StateTaskLambda,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped

from lambda_handlers.common.aws import client
from tests.conftest import FakeLambdaContext
from tests.e2e.eventbridge import matches, rules_of, tokens_answered_once
from tests.e2e.fake_bedrock import ACCOUNT, REGION, FakeBedrock

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
            given = self.resources[name]["Properties"].get("StateMachineName", name)
            return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{given}"
        return self.physical_name(name)

    def get_att(self, logical_id: str, attribute: str) -> str:
        kind = self.resources[logical_id]["Type"]
        arns = {
            "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}",
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{logical_id}",
            "AWS::KMS::Key": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{uuid.uuid5(uuid.NAMESPACE_URL, logical_id)}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{self.physical_name(logical_id)}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{logical_id}",
            # CloudFormation's LogGroup Arn ends in ':*'.
            "AWS::Logs::LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{self.physical_name(logical_id)}:*",
        }
        props = self.resources[logical_id].get("Properties", {})
        arns["AWS::Events::Rule"] = (
            f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{props.get('Name', logical_id)}"
        )
        arns["AWS::CloudWatch::Alarm"] = (
            f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{props.get('AlarmName', logical_id)}"
        )
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        if attribute == "QueueName" and kind == "AWS::SQS::Queue":
            return logical_id
        if attribute == "Name":
            given = self.resources[logical_id].get("Properties", {}).get("StateMachineName")
            return str(given or logical_id)
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


def synthesized_state_machine_name(template: dict[str, Any]) -> str:
    """The name the template gives the state machine: executions' ARNs (and the execution
    tags that hold them) are then the ones the policies expect."""
    [machine] = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    name: str = machine["Properties"]["StateMachineName"]
    return name


def state_machine_definition(
    template: dict[str, Any], wait_seconds: int | None = None, safety_seconds: int | None = None
) -> dict[str, Any]:
    """The synthesized definition, resolved; every Wait set to ``wait_seconds`` and every
    wait for a task token (the job's event) to time out after ``safety_seconds``, when given."""
    resolver = TemplateResolver(template)
    [machine] = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    definition = json.loads(resolver.resolve(machine["Properties"]["DefinitionString"]))
    _shorten(definition["States"], wait_seconds, safety_seconds)
    return definition


def _shorten(states: dict[str, Any], wait_seconds: int | None, safety_seconds: int | None) -> None:
    """Shorten the waits of ``states`` and of the states inside their Maps (a sweep's runs)."""
    for state in states.values():
        if (
            wait_seconds is not None
            and state["Type"] == "Wait"
            and ("Seconds" in state or "SecondsPath" in state)
        ):
            state.pop("SecondsPath", None)
            state["Seconds"] = wait_seconds
        if safety_seconds is not None and str(state.get("Resource", "")).endswith(
            ".waitForTaskToken"
        ):
            state["TimeoutSeconds"] = safety_seconds
        inner = state.get("ItemProcessor") or state.get("Iterator")
        if state["Type"] == "Map" and inner:
            _shorten(inner["States"], wait_seconds, safety_seconds)


def lambda_throttled() -> ClientError:
    """Lambda's answer to an invocation over the account's concurrency (the function never
    runs). moto's in-process Lambda lets the error reach the interpreter's client as is."""
    return ClientError(
        {
            "Error": {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."},
            "ResponseMetadata": {"HTTPStatusCode": 429, "RequestId": uuid.uuid4().hex},
        },
        "Invoke",
    )


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
        # Faults of Lambda itself, as Step Functions sees them, for a handler's next invocations.
        self.lambda_faults: dict[str, list[str]] = {}
        self.faulted: list[tuple[str, str]] = []
        self.retry_sleeps: list[float] = []
        self._one_at_a_time = threading.RLock()
        resolver = TemplateResolver(template)
        some_env = next(
            f.environment for f in self.functions.values() if "DATA_BUCKET" in f.environment
        )
        self.env = some_env
        self.data_bucket = some_env["DATA_BUCKET"]
        self.artifacts_bucket = some_env["ARTIFACTS_BUCKET"]
        self.topic_arn = some_env["TOPIC_ARN"]
        self._resolver = resolver
        # Bedrock's job events: "auto" announces a job's end while its execution waits for
        # it (as Bedrock would); "manual" leaves every delivery to the test (lost unless
        # delivered). The safety poll (the wait's timeout) is shortened to seconds.
        self.job_events = "auto"
        self.safety_poll_seconds = 1
        self.rules = rules_of(template, resolver.resolve)
        self.job_deliveries: list[tuple[str, str, list[Any]]] = []
        self.tokens_answered: list[str] = []

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
            synthesized_state_machine_name(self.template), wait_seconds=0
        )

    def create_state_machine(
        self, name: str, wait_seconds: int, safety_seconds: int | None = None
    ) -> str:
        """The synthesized definition as a moto state machine, Wait states shortened to
        ``wait_seconds``, the safety poll to ``safety_seconds`` (default: ``safety_poll_seconds``)."""
        sfn = boto3.client("stepfunctions", region_name=REGION)
        safety = self.safety_poll_seconds if safety_seconds is None else safety_seconds
        return sfn.create_state_machine(
            name=name,
            definition=json.dumps(state_machine_definition(self.template, wait_seconds, safety)),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/StateMachineRole",
        )["stateMachineArn"]

    def put_data(self, key: str, body: bytes) -> str:
        boto3.client("s3", region_name=REGION).put_object(
            Bucket=self.data_bucket, Key=key, Body=body
        )
        return f"s3://{self.data_bucket}/{key}"

    # the Lambda router
    def fail_lambda(self, handler: str, *faults: str) -> None:
        """The next invocations of ``handler`` (``"check_job.handler"``) fail as Lambda does:
        ``"throttled"`` (the function never runs: ``Lambda.TooManyRequestsException``) or
        ``"timed out"`` (it runs, and its answer is lost to its timeout: ``Sandbox.Timedout``)."""
        assert set(faults) <= {"throttled", "timed out"}, faults
        self.lambda_faults.setdefault(handler, []).extend(faults)

    def invoke(self, function_name: str, body: Any, response_headers: dict[str, str]) -> bytes:
        logical_id = function_name.rsplit(":", 1)[-1]
        spec = self.functions[logical_id]
        module_name, handler_name = spec.handler.rsplit(".", 1)
        handler: Callable[..., Any] = getattr(importlib.import_module(module_name), handler_name)
        event = json.loads(body) if body else {}
        pending = self.lambda_faults.get(spec.handler.removeprefix("lambda_handlers."))
        fault = pending.pop(0) if pending else None
        if fault == "throttled":
            self.faulted.append((spec.handler, fault))
            raise lambda_throttled()
        self.invocations.append((logical_id, event))
        # A Distributed Map invokes from several threads: one at a time, each in its own
        # environment (patch.dict restores os.environ as it found it when it exits).
        with self._one_at_a_time, mock.patch.dict(os.environ, spec.environment):
            try:
                result = handler(event, FakeLambdaContext(function_name=logical_id))
            except Exception as error:
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps(
                    {"errorType": type(error).__name__, "errorMessage": str(error)}
                ).encode()
        parked = spec.handler.removeprefix("lambda_handlers.") == "job_events.park_handler"
        if parked and self.job_events == "auto" and not result["woken"]:
            self._job_moves_on(event["jobArn"])
        if fault == "timed out":
            self.faulted.append((spec.handler, fault))
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(
                {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": "Task timed out after 30.00 seconds",
                }
            ).encode()
        return json.dumps(result).encode()

    def invoke_arn(self, function_arn: str, event: Any) -> Any:
        """Invoke a function by ARN as Bedrock would (synchronously); returns its result."""
        headers: dict[str, str] = {}
        result = json.loads(self.invoke(function_arn, json.dumps(event), headers))
        if headers:
            raise AssertionError(f"{function_arn} failed: {result}")
        return result

    def _job_moves_on(self, job_arn: str) -> None:
        """While its execution waits, the job moves on to its next status; Bedrock announces
        it. (Only an end status passes the rule; the others reach no function.)"""
        self.deliver_job_event(job_arn, self.bedrock.next_status(job_arn))

    def deliver_job_event(self, job_arn: str, status: str) -> list[Any]:
        """Bedrock's state change event for the job entering ``status``, delivered as
        EventBridge does: to the Lambda targets of every rule of the template whose pattern
        matches it. Returns what each target returned (nothing if no rule matched)."""
        event = self.bedrock.state_change_event(job_arn, status)
        results = [
            self.invoke_arn(target, event)
            for rule in self.rules
            if matches(rule.pattern, event)
            for target in rule.lambda_targets
        ]
        self.job_deliveries.append((job_arn, status, results))
        return results

    def deliver_status_change(
        self, execution_arn: str, status: str, request: Any, **detail: Any
    ) -> Any:
        """What the abort-cleanup rule delivers for an execution of this state machine (an
        ``aws.states`` "Step Functions Execution Status Change"), run by the abort cleanup;
        returns its report, or fails the test if the function failed."""
        event = {
            "version": "0",
            "source": "aws.states",
            "detail-type": "Step Functions Execution Status Change",
            "detail": {
                "executionArn": execution_arn,
                "stateMachineArn": self.state_machine_arn,
                "status": status,
                "input": json.dumps(request),
                **detail,
            },
        }
        [abort] = [k for k, f in self.functions.items() if f.handler.endswith("abort_handler")]
        return self.invoke_arn(abort, event)

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
        tokens_answered_once() as answered,
        mock.patch.object(LambdaSimpleBackend, "invoke", invoke),
        mock.patch.object(retrier_decl, "time", _Time),
        mock.patch.object(cleanup, "wait", workflow.retry_sleeps.append),
        mock.patch.object(StateTaskLambda, "_from_error", _lambda_error_as_aws_names_it),
        mock.patch.object(Environment, "set_error", _error_unless_stopped),
    ):
        workflow.tokens_answered = answered
        yield


def _error_unless_stopped(env: Any, error: Any) -> None:
    """A stopped execution is ABORTED whatever its running task does next. moto lets a task
    that waits for a token time out after the stop and records the execution FAILED with
    States.Timeout; Step Functions ends it ABORTED at the stop."""
    if isinstance(env.program_state(), ProgramStopped):
        return
    _MOTO_SET_ERROR(env, error)


def _lambda_error_as_aws_names_it(self: Any, env: Any, ex: Exception) -> Any:
    """moto names every error of Lambda's own API "Exception"; Step Functions names it
    ``Lambda.<code>`` ("When Lambda hits the maximum number of invocations, the error is
    Lambda.TooManyRequestsException": Step Functions guide, "Handle Lambda service
    exceptions"), which is what the workflow retries."""
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    if not isinstance(ex, ClientError):
        return _MOTO_FROM_ERROR(self, env, ex)
    error = f"Lambda.{ex.response['Error']['Code']}"
    return FailureEvent(
        env=env,
        error_name=CustomErrorName(error),
        event_type=HistoryEventType.TaskFailed,
        event_details=EventDetails(
            taskFailedEventDetails=TaskFailedEventDetails(
                error=error, cause=ex.response["Error"]["Message"]
            )
        ),
    )


_MOTO_FROM_ERROR = StateTaskLambda._from_error
_MOTO_SET_ERROR = Environment.set_error
