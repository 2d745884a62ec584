"""The library behind ``start``, ``status``, ``watch``, ``list``, ``stop`` and ``report``: one
execution of the stack's state machine, read and acted on with the operator's credentials.

Nothing here prints. AWS errors whose fix is known (no such stack, state machine or
execution; credentials AWS does not accept) become the command line's own errors here, with
the fix; the rest (access denied, no credentials, no network) go through ``errors.py``.

Where an execution stands is read from Step Functions, not guessed: the last state document
in its history (each state's output carries ``plan``, ``dataset``, ``job``, ``serving``,
``evaluation`` at the workflow's result paths), Bedrock's answer for the job, and the same
inventory ``cleanup`` takes (``operations.inventory``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.cli.errors import EnvironmentProblem, UsageError
from lambda_handlers.cli.stack_outputs import STATE_MACHINE_OUTPUT
from lambda_handlers.common.plan import Plan
from lambda_handlers.common.request import CustomizationRequest, RequestContext, split_s3_uri
from lambda_handlers.common.request_checks import check_request

ENDED = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
_CUSTOMIZATION_TYPES = (
    "FINE_TUNING",
    "CONTINUED_PRE_TRAINING",
    "DISTILLATION",
    "REINFORCEMENT_FINE_TUNING",
)
_BAD_CREDENTIALS = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
}
# Step Functions execution names: 1-80 characters, none of whitespace, brackets, wildcards,
# special and control characters.
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@contextmanager
def aws(what: str, region: str | None = None) -> Iterator[None]:
    """Turn the AWS errors whose fix is known into one line with that fix."""
    try:
        yield
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        message = error.response.get("Error", {}).get("Message") or str(error)
        where = f" in Region {region}" if region else ""
        if code == "ExecutionDoesNotExist":
            raise UsageError(
                f"{what}: no such execution{where}; check the ARN or name "
                "(bedrock-customize list shows the recent ones)"
            ) from error
        if code == "StateMachineDoesNotExist":
            raise UsageError(
                f"{what}: no such state machine{where}; check --state-machine-arn, or "
                "--stack-name and the Region (--region or AWS_REGION)"
            ) from error
        if code == "InvalidArn":
            raise UsageError(f"{what}: {message}; give a Step Functions ARN") from error
        if code in _BAD_CREDENTIALS:
            raise EnvironmentProblem(
                f"{what}: {code}: {message}; AWS does not accept these credentials: refresh "
                "them (aws sso login, aws configure) and run again"
            ) from error
        raise


# --- the state machine and the execution --------------------------------------------------------


def state_machine_from_stack(cfn: Any, stack_name: str) -> str:
    """The ``StateMachineArn`` output of the stack."""
    region = cfn.meta.region_name
    try:
        with aws(f"DescribeStacks {stack_name}", region):
            stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        details = error.response.get("Error", {})
        if details.get("Code") == "ValidationError" and "does not exist" in str(
            details.get("Message", "")
        ):
            raise UsageError(
                f"stack {stack_name!r} does not exist in Region {region} (for these "
                "credentials' account); check --stack-name and the Region (--region or "
                "AWS_REGION), or give --state-machine-arn"
            ) from error
        raise
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stacks[0].get("Outputs") or []}
    arn = outputs.get(STATE_MACHINE_OUTPUT)
    if not arn:
        raise UsageError(
            f"stack {stack_name!r} has no {STATE_MACHINE_OUTPUT} output: it is not a "
            "bedrock-customize stack, or it is still being created; give --state-machine-arn"
        )
    return arn


def is_execution_arn(text: str) -> bool:
    parts = text.split(":")
    return (
        len(parts) >= 8 and parts[0] == "arn" and parts[2] == "states" and parts[5] == "execution"
    )


def is_state_machine_arn(text: str) -> bool:
    parts = text.split(":")
    return (
        len(parts) == 7
        and parts[0] == "arn"
        and parts[2] == "states"
        and parts[5] == ("stateMachine")
    )


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN of the execution ``name`` of a state machine."""
    prefix, _, machine = state_machine_arn.rpartition(":stateMachine:")
    return f"{prefix}:execution:{machine}:{name}"


def describe(sfn: Any, arn: str) -> dict[str, Any]:
    """DescribeExecution, translated."""
    with aws(f"DescribeExecution {arn}", sfn.meta.region_name):
        return dict(sfn.describe_execution(executionArn=arn))


# --- start ------------------------------------------------------------------------------------


def _at(value: Any, *keys: str) -> Any:
    """``value[k1][k2]...`` where each step is an object, else ``None``."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def local_context(raw: Any) -> RequestContext:
    """A context that accepts every location, type and grader the request names itself.

    What only the deployed stack knows (the buckets and prefixes it may read and write, the
    types and graders it enables, its spending limits) is checked by its Validate state; the
    command checks everything else the same way before anything is started.
    """
    validators = _at(raw, "validationDataConfig", "validators")
    uris = [
        _at(raw, "trainingDataConfig", "s3Uri"),
        _at(raw, "evaluation", "testDataConfig", "s3Uri"),
        *(_at(item, "s3Uri") for item in (validators if isinstance(validators, list) else [])),
    ]
    buckets = tuple(
        split_s3_uri(u)[0] for u in uris if isinstance(u, str) and u.startswith("s3://")
    )
    output = _at(raw, "outputDataConfig", "s3Uri")
    out_bucket, out_key = (
        split_s3_uri(output) if isinstance(output, str) and output.startswith("s3://") else ("", "")
    )
    rft = _at(raw, "customizationConfig", "rftConfig")
    graders: dict[str, str] = {}
    if isinstance(_at(rft, "grader"), str):
        graders[rft["grader"]] = "arn:aws:lambda:us-east-1:000000000000:function:grader"
    given_arn = _at(rft, "graderConfig", "lambdaGrader", "lambdaArn")
    if isinstance(given_arn, str):
        graders["(given)"] = given_arn
    logs_uri = _at(
        raw, "trainingDataConfig", "invocationLogsConfig", "invocationLogSource", "s3Uri"
    )
    return RequestContext(
        # The first bucket as the data bucket (any prefix), so its keys are checked in full.
        data_bucket=buckets[0] if buckets else "",
        data_prefixes=("",),
        output_bucket=out_bucket,
        output_prefix=out_key,
        extra_data_buckets=tuple(b for b in buckets if b != buckets[0]),
        enabled_types=_CUSTOMIZATION_TYPES,
        graders=graders,
        invocation_logs_uris=(logs_uri,) if isinstance(logs_uri, str) else (),
    )


def check_locally(raw: Any) -> CustomizationRequest:
    """The request checked as the Validate state checks it, less what only the stack knows;
    raises ``RequestInvalid`` naming each field."""
    return check_request(raw, local_context(raw))


def default_name(request: CustomizationRequest, now: datetime) -> str:
    """``<custom model name>-<UTC date>-<time>``: readable in ``list``, unique per second."""
    base = _NAME_UNSAFE.sub("-", request.customModelName or "run")[:60]
    return f"{base}-{now.astimezone(UTC):%Y%m%d-%H%M%S}"


def same_input(a: str, b: str) -> bool:
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return a == b


def start(sfn: Any, state_machine_arn: str, document: str, name: str) -> dict[str, Any]:
    """StartExecution named ``name`` with ``document`` as input.

    A running or ended execution of that name with the same input is reported (``reused``),
    not started again; with another input it is refused with the fix.
    """
    arn = execution_arn(state_machine_arn, name)
    region = sfn.meta.region_name
    try:
        existing = describe(sfn, arn)
    except UsageError:
        existing = None  # no execution of that name: start it
    if existing is not None:
        if not same_input(existing.get("input", ""), document):
            raise UsageError(
                f"an execution named {name!r} already exists ({existing['status']}) with a "
                "different request; give another --name"
            )
        return {
            "executionArn": arn,
            "startDate": existing["startDate"],
            "reused": True,
            "status": existing["status"],
        }
    try:
        with aws(f"StartExecution {state_machine_arn}", region):
            started = sfn.start_execution(
                stateMachineArn=state_machine_arn, name=name, input=document
            )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code == "ExecutionAlreadyExists":
            raise UsageError(
                f"an execution named {name!r} already exists with a different request, or "
                "has ended; give another --name"
            ) from error
        if code == "InvalidName":
            raise UsageError(
                f"--name {name!r}: {error.response['Error'].get('Message')}; use 1-80 letters, "
                "digits, '-' or '_'"
            ) from error
        raise
    return {
        "executionArn": started["executionArn"],
        "startDate": started["startDate"],
        "reused": False,
        "status": "RUNNING",
    }


# --- where an execution stands ----------------------------------------------------------------


def _pages(sfn: Any, arn: str) -> Iterator[list[dict[str, Any]]]:
    """The execution's history a page at a time, newest first (each page sorted by event id,
    whatever order it came in)."""
    with aws(f"GetExecutionHistory {arn}", sfn.meta.region_name):
        pages = sfn.get_paginator("get_execution_history").paginate(
            executionArn=arn, reverseOrder=True, PaginationConfig={"PageSize": 1000}
        )
        for page in pages:
            yield sorted(page["events"], key=lambda e: int(e.get("id", 0)), reverse=True)


def _document(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def progress(sfn: Any, arn: str, described: dict[str, Any]) -> dict[str, Any]:
    """``{"state": the latest state entered, "document": the latest state document with a
    plan}`` (the execution's output once it succeeded)."""
    found: dict[str, Any] = {"state": None, "document": _document(described.get("output"))}
    if found["document"] is not None and "plan" not in found["document"]:
        found["document"] = None
    for page in _pages(sfn, arn):
        for event in page:
            entered = event.get("stateEnteredEventDetails")
            if entered and found["state"] is None:
                found["state"] = entered.get("name")
            exited = event.get("stateExitedEventDetails")
            document = _document(exited.get("output")) if exited else None
            if found["document"] is None and document is not None and "plan" in document:
                found["document"] = document
        if found["state"] is not None and found["document"] is not None:
            break
    return found


def plan_in(document: dict[str, Any] | None) -> Plan | None:
    if not document or not isinstance(document.get("plan"), dict):
        return None
    try:
        return Plan.model_validate(document["plan"])
    except ValueError:
        return None


def job_now(plan: Plan) -> dict[str, Any] | None:
    """Bedrock's answer for the plan's job (``find_job``: only this execution's job)."""
    from lambda_handlers.cleanup import find_job

    return find_job(plan)


def job_stages(job: dict[str, Any] | None) -> dict[str, str]:
    details = (job or {}).get("statusDetails") or {}
    return {
        name.removesuffix("Details"): str(value.get("status"))
        for name, value in details.items()
        if isinstance(value, dict) and value.get("status")
    }


def elapsed_seconds(described: dict[str, Any], now: datetime) -> float:
    end = described.get("stopDate") or now
    return max(0.0, (end - described["startDate"]).total_seconds())


def duration_text(seconds: float) -> str:
    """``3h04m``, ``12m05s``, ``40s``."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


# --- list -----------------------------------------------------------------------------------------


def recent(
    sfn: Any, state_machine_arn: str, limit: int, status: str | None
) -> list[dict[str, Any]]:
    """The newest ``limit`` executions, each with its request's model (from its input)."""
    params: dict[str, Any] = {"stateMachineArn": state_machine_arn, "maxResults": min(limit, 1000)}
    if status:
        params["statusFilter"] = status
    with aws(f"ListExecutions {state_machine_arn}", sfn.meta.region_name):
        executions = sfn.list_executions(**params)["executions"][:limit]
    rows = []
    for item in executions:
        described = describe(sfn, item["executionArn"])
        request = _document(described.get("input")) or {}
        rows.append(
            {
                "name": item["name"],
                "executionArn": item["executionArn"],
                "status": item["status"],
                "startDate": item["startDate"],
                "stopDate": item.get("stopDate"),
                "customModelName": request.get("customModelName"),
                "baseModelIdentifier": request.get("baseModelIdentifier"),
                "error": described.get("error"),
            }
        )
    return rows


# --- stop -----------------------------------------------------------------------------------------


def request_stop(sfn: Any, arn: str) -> None:
    with aws(f"StopExecution {arn}", sfn.meta.region_name):
        sfn.stop_execution(
            executionArn=arn,
            error="StoppedByOperator",
            cause="stopped with bedrock-customize stop",
        )


def still_there(found: dict[str, Any]) -> list[str]:
    """What of an inventory still runs or bills by the hour: a job still training, serving."""
    left = []
    for job in [found.get("job"), *(found.get("runs") or [])]:  # a sweep's runs too
        if job and job["status"] in {"InProgress", "Stopping"}:
            left.append(f"job {job['arn']} ({job['status']})")
    serving = found.get("serving")
    if serving:
        left.append(f"serving {serving['arn']} ({serving['status']})")
    return left


def wait_until(
    done: Callable[[], bool],
    *,
    timeout: float,
    interval: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> bool:
    """Call ``done`` every ``interval`` seconds until it is true or ``timeout`` has passed."""
    deadline = clock() + timeout
    while True:
        if done():
            return True
        if clock() >= deadline:
            return False
        sleep(min(interval, max(0.0, deadline - clock())))


def failure_text(described: dict[str, Any]) -> str:
    error, cause = described.get("error"), described.get("cause")
    if not error and not cause:
        return ""
    text = " ".join(str(cause or "").split())
    parsed = _document(cause)
    if parsed and isinstance(parsed.get("errorMessage"), str):
        text = " ".join(parsed["errorMessage"].split())
    return f"{error}: {text}" if text else str(error)
