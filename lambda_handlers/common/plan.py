"""The plan: a checked request resolved into everything the later states need.

The plan is a pure function of the request and the execution ARN. Names and
idempotency tokens are derived from the execution, so a retried state, or the
cleanup that runs after an aborted execution, arrives at the same names without
having to read anything back.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict

from lambda_handlers.common import catalogue
from lambda_handlers.common.request import CustomizationRequest, RequestContext, resolve_grader
from lambda_handlers.common.sweep import api_string, concurrency, expand, resolved_measure

EXECUTION_TAG = "bedrock-customize:execution-arn"
STACK_TAG = "bedrock-customize:stack"

_TYPE_SHORT = {
    "FINE_TUNING": "ft",
    "CONTINUED_PRE_TRAINING": "cpt",
    "DISTILLATION": "distill",
    "REINFORCEMENT_FINE_TUNING": "rft",
}


ResolvedServingMode = Literal["none", "provisioned-throughput", "on-demand-deployment"]


class ServingPlan(BaseModel):
    """What the serving states create, if anything."""

    model_config = ConfigDict(extra="forbid")

    mode: ResolvedServingMode
    name: str | None = None
    modelUnits: int | None = None
    commitmentDuration: str | None = None
    clientRequestToken: str | None = None
    timeToLiveHours: int | None = None


class SweepRunPlan(BaseModel):
    """One run of a sweep: what the state machine merges over the plan for its iteration."""

    model_config = ConfigDict(extra="forbid")

    jobName: str
    customModelName: str
    clientRequestToken: str
    hyperParameters: dict[str, str]


class SweepPlan(BaseModel):
    """A sweep resolved: the measure that picks the winner, how many jobs train at once
    (never more than the runs), whether the losers' models stay, and every run."""

    model_config = ConfigDict(extra="forbid")

    measure: str
    maxConcurrency: int
    keepLosers: bool
    runs: list[SweepRunPlan]


class Plan(BaseModel):
    """The resolved request; the state machine carries it as ``$.plan``."""

    model_config = ConfigDict(extra="forbid")

    planVersion: Literal["1"] = "1"
    executionArn: str
    customizationType: str
    baseModelIdentifier: str
    jobName: str
    customModelName: str
    clientRequestToken: str
    trainingDataConfig: dict[str, Any]
    validationDataConfig: dict[str, Any] | None = None
    outputDataConfig: dict[str, Any]
    hyperParameters: dict[str, str]
    customizationConfig: dict[str, Any] | None = None
    tags: dict[str, str]
    serving: ServingPlan
    evaluation: dict[str, Any] | None = None
    trainingGate: dict[str, Any] | None = None
    promoteTo: dict[str, str] | None = None
    sweep: SweepPlan | None = None


def execution_digest(execution_arn: str, purpose: str = "") -> str:
    """A stable hex digest of the execution ARN (and a purpose, for distinct tokens)."""
    return hashlib.sha256(f"{execution_arn}|{purpose}".encode()).hexdigest()


# botocore's bedrock ``TagValue``: ``[a-zA-Z0-9\s._:/=+@-]*``, at most 256 characters. Step
# Functions execution and state machine names may also hold ``(``, ``)``, ``!``, ``'`` and
# non-ASCII letters, which a tag value cannot. (Whitespace, which the pattern allows, is
# left out here: no ARN holds any.)
_TAG_VALUE_UNSAFE = re.compile(r"[^a-zA-Z0-9._:/=+@-]")
_TAG_VALUE_MAX = 256
_TAG_DIGEST_MARK = "/sha256="
_TAG_DIGEST_HEX = 32


def execution_tag_value(execution_arn: str) -> str:
    """The value of ``EXECUTION_TAG`` for an execution: its ARN when that is a valid tag value
    (what every earlier version wrote, so their resources are still recognized), else the ARN
    with each character a tag value cannot hold as ``_``, cut to fit, then ``/sha256=`` and 32
    hex digits of the ARN's SHA-256.

    Unique per execution: an ARN as it is never contains ``/`` (Step Functions names cannot),
    so an encoded value never equals another execution's plain ARN, and two encoded values
    differ by their digest (128 bits).
    """
    if len(execution_arn) <= _TAG_VALUE_MAX and not _TAG_VALUE_UNSAFE.search(execution_arn):
        return execution_arn
    digest = hashlib.sha256(execution_arn.encode()).hexdigest()[:_TAG_DIGEST_HEX]
    room = _TAG_VALUE_MAX - len(_TAG_DIGEST_MARK) - _TAG_DIGEST_HEX
    readable = _TAG_VALUE_UNSAFE.sub("_", execution_arn)[:room]
    return f"{readable}{_TAG_DIGEST_MARK}{digest}"


def carries_execution_tag(tags: list[dict[str, str]], execution_arn: str) -> bool:
    """Whether Bedrock tags (``[{"key", "value"}]``) mark a resource as this execution's. The
    plain ARN is accepted too."""
    wanted = {execution_arn, execution_tag_value(execution_arn)}
    return any(t.get("key") == EXECUTION_TAG and t.get("value") in wanted for t in tags)


def missing_ownership_tag(tags: list[dict[str, str]], plan: Plan) -> str | None:
    """Which ownership tag a resource lacks, by its tags (``"this stack's tag (...)"``, ``"its
    tag"``: this execution's); ``None`` when it is the plan's execution's to stop or delete: it
    carries the plan's stack tag (when the plan names a stack, as every plan of a deployed
    stack does) and this execution's tag. The one comparison cleanup and the ``cleanup``
    command make before a Stop or Delete; the roles' ``aws:ResourceTag`` conditions say the
    same to IAM."""
    stack = plan.tags.get(STACK_TAG)
    if stack and not any(t.get("key") == STACK_TAG and t.get("value") == stack for t in tags):
        return f"this stack's tag ({STACK_TAG}={stack})"
    if not carries_execution_tag(tags, plan.executionArn):
        return "its tag"
    return None


# botocore's bedrock ``ModelInvocationJobName``: 1-63 characters,
# ``[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\+\-\.]){0,63}``.
_BATCH_NAME_PREFIX = "eval-base-"
_BATCH_NAME_HEX = 40


def batch_job_name(execution_arn: str) -> str:
    """The name of the evaluation's batch inference job: ``eval-base-`` and 40 hex digits of
    the execution's digest (50 characters). Derived from the execution, never from the
    request's ``jobName``: two executions never share it, so cleanup finds only its own."""
    return _BATCH_NAME_PREFIX + execution_digest(execution_arn, "batch-name")[:_BATCH_NAME_HEX]


# botocore's bedrock ``S3Uri``: each key segment ``[-!_*'().a-z0-9A-Z]+``. A job name (``JobName``:
# ``[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*``) may hold ``+``, which a segment cannot.
_S3_SEGMENT_UNSAFE = re.compile(r"[^-!_*'().a-zA-Z0-9]")


def job_folder(job_name: str) -> str:
    """The folder of a job's output and reports (``customization-jobs/<folder>/``,
    ``reports/<folder>/``): the job name itself when an ``s3Uri`` can hold it (every name
    without ``+``), else the name with each such character as ``_``, then ``-`` and the first
    10 hex digits of the name's SHA-256 (``a+b`` -> ``a_b-<hash>``).

    Deterministic, so every state and the cleanup find the same folder. Collision-free with
    unchanged names (a job name cannot hold ``_``, every changed folder does) and, by the
    hash, between changed names.
    """
    if not _S3_SEGMENT_UNSAFE.search(job_name):
        return job_name
    digest = hashlib.sha256(job_name.encode()).hexdigest()[:10]
    return f"{_S3_SEGMENT_UNSAFE.sub('_', job_name)}-{digest}"


def _slug(text: str) -> str:
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", text.lower())).strip("-")


# botocore's bedrock ``JobName`` and ``CustomModelName``: at most 63 characters.
_API_NAME_MAX = 63


def sweep_run_name(base: str, index: int) -> str:
    """Run ``index``'s (0-based) name from the plan's job or model name: ``<base>-r<n>``,
    the base cut so the whole fits 63 characters and never ends in ``-`` or ``_`` (a model
    name may not hold two in a row), the suffix always kept."""
    suffix = f"-r{index + 1}"
    return base[: _API_NAME_MAX - len(suffix)].rstrip("-_") + suffix


def sweep_run_token(execution_arn: str, index: int) -> str:
    """Run ``index``'s ``clientRequestToken``: derived from the execution and the run, so a
    retried submit of the same run is the same job, and no two runs share one."""
    return f"job-{execution_digest(execution_arn, f'job-run-{index}')[:40]}"


def _sweep_plan(
    request: CustomizationRequest,
    execution_arn: str,
    ctx: RequestContext,
    job_name: str,
    model_name: str,
) -> SweepPlan | None:
    """Every run of the request's sweep named and tokened, and how many train at once (the
    stack's limit too); ``None`` without a sweep."""
    if request.sweep is None:
        return None
    runs = [
        SweepRunPlan(
            jobName=sweep_run_name(job_name, i),
            customModelName=sweep_run_name(model_name, i),
            clientRequestToken=sweep_run_token(execution_arn, i),
            hyperParameters={k: api_string(v) for k, v in params.items()},
        )
        for i, params in enumerate(expand(request))
    ]
    return SweepPlan(
        measure=resolved_measure(request),
        maxConcurrency=concurrency(request.sweep, ctx.policy.max_sweep_concurrency),
        keepLosers=request.sweep.keepLosers,
        runs=runs,
    )


def resolve_serving_mode(mode: str, model: catalogue.BaseModel | None) -> ResolvedServingMode:
    """``auto``: an on-demand deployment (billed per token, nothing running while idle) where
    the model supports it, else provisioned throughput without commitment."""
    if mode != "auto":
        return cast(ResolvedServingMode, mode)
    if model is not None and "on-demand-deployment" in model.serving_modes:
        return "on-demand-deployment"
    return "provisioned-throughput"


def make_plan(
    request: CustomizationRequest, execution_arn: str, ctx: RequestContext, stack_name: str = ""
) -> Plan:
    """Resolve a checked request for one execution."""
    model = catalogue.find_model(request.baseModelIdentifier)
    short = model.short if model else "custom"
    suffix = execution_digest(execution_arn)[:10]
    type_short = _TYPE_SHORT[request.customizationType]

    job_name = request.jobName or f"{short}-{type_short}-{suffix}"
    model_name = request.customModelName or f"{short}-{type_short}-{suffix}"
    output_uri = (
        request.outputDataConfig.s3Uri
        if request.outputDataConfig
        else f"s3://{ctx.output_bucket}/{ctx.output_prefix}{job_folder(job_name)}/"
    )

    tags = dict(request.tags)
    tags[EXECUTION_TAG] = execution_tag_value(execution_arn)
    if stack_name:
        tags[STACK_TAG] = stack_name

    serving_cfg = request.serving
    mode = resolve_serving_mode(serving_cfg.mode, model)
    serving = ServingPlan(mode=mode)
    if mode != "none":
        default_name = f"{_slug(model_name)}-{'pt' if mode == 'provisioned-throughput' else 'od'}"
        serving = ServingPlan(
            mode=mode,
            name=serving_cfg.name or default_name[:63].rstrip("-_"),
            modelUnits=serving_cfg.modelUnits if mode == "provisioned-throughput" else None,
            commitmentDuration=serving_cfg.commitmentDuration
            if serving_cfg.confirmCommitment
            else None,
            clientRequestToken=f"serve-{execution_digest(execution_arn, 'serve')[:40]}",
            timeToLiveHours=serving_cfg.timeToLiveHours,
        )

    training: dict[str, Any] = request.trainingDataConfig.model_dump(exclude_none=True)
    return Plan(
        executionArn=execution_arn,
        customizationType=request.customizationType,
        baseModelIdentifier=request.baseModelIdentifier,
        jobName=job_name,
        customModelName=model_name,
        clientRequestToken=f"job-{execution_digest(execution_arn, 'job')[:40]}",
        trainingDataConfig=training,
        validationDataConfig=(
            request.validationDataConfig.model_dump() if request.validationDataConfig else None
        ),
        outputDataConfig={"s3Uri": output_uri},
        hyperParameters={k: api_string(v) for k, v in request.hyperParameters.items()},
        customizationConfig=_api_customization_config(request, ctx),
        tags=tags,
        serving=serving,
        evaluation=request.evaluation.model_dump(exclude_none=True) if request.evaluation else None,
        trainingGate=request.trainingGate.model_dump(exclude_none=True)
        if request.trainingGate
        else None,
        promoteTo=(
            request.serving.promoteTo.model_dump(exclude_none=True)
            if request.serving.promoteTo
            else None
        ),
        sweep=_sweep_plan(request, execution_arn, ctx, job_name, model_name),
    )


def _api_customization_config(
    request: CustomizationRequest, ctx: RequestContext
) -> dict[str, Any] | None:
    """``customizationConfig`` as the API takes it: a grader name becomes its Lambda ARN."""
    if not request.customizationConfig:
        return None
    config = request.customizationConfig.model_dump(exclude_none=True)
    if "rftConfig" in config:
        config["rftConfig"] = resolve_grader(config["rftConfig"], ctx)
    return config


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """Bedrock's ``[{"key", "value"}]`` form of a tag map."""
    return [{"key": k, "value": v} for k, v in tags.items()]


def build_create_job_request(plan: Plan, role_arn: str, kms_key_arn: str | None) -> dict[str, Any]:
    """Parameters of ``CreateModelCustomizationJob`` for a plan."""
    params: dict[str, Any] = {
        "jobName": plan.jobName,
        "customModelName": plan.customModelName,
        "roleArn": role_arn,
        "clientRequestToken": plan.clientRequestToken,
        "baseModelIdentifier": plan.baseModelIdentifier,
        "customizationType": plan.customizationType,
        "jobTags": tag_list(plan.tags),
        "customModelTags": tag_list(plan.tags),
        "trainingDataConfig": plan.trainingDataConfig,
        "outputDataConfig": plan.outputDataConfig,
    }
    if kms_key_arn:
        params["customModelKmsKeyId"] = kms_key_arn
    if plan.validationDataConfig:
        params["validationDataConfig"] = plan.validationDataConfig
    if plan.hyperParameters:
        params["hyperParameters"] = plan.hyperParameters
    if plan.customizationConfig:
        params["customizationConfig"] = plan.customizationConfig
    return params
