"""The customization request: the document a user starts an execution with.

The pydantic models below are the one source of its shape; ``schemas/`` holds the JSON
Schema generated from them. ``check_request`` adds the checks a schema cannot express
(the model catalogue, hyperparameter ranges, where data may live) and reports every
problem at once, each naming its field.

Version 1 of the document mirrors the field names of ``CreateModelCustomizationJob``
where they exist, so a user who knows the API knows the request.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lambda_handlers.common import catalogue
from lambda_handlers.common.errors import RequestInvalid
from lambda_handlers.common.service_model import shape, shape_problems
from lambda_handlers.validation.distillation import check_teacher_student

REQUEST_VERSION: Literal["1"] = "1"

CustomizationType = Literal[
    "FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION", "REINFORCEMENT_FINE_TUNING"
]
ServingMode = Literal["none", "auto", "provisioned-throughput", "on-demand-deployment"]

# Patterns from botocore's bedrock service model (CreateModelCustomizationJob).
JOB_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*$"
MODEL_NAME_PATTERN = r"^([0-9a-zA-Z][_-]?){1,63}$"
SERVING_NAME_PATTERN = r"^([0-9a-zA-Z][_-]?){1,63}$"
TAG_PATTERN = r"^[a-zA-Z0-9\s._:/=+@-]*$"
# Bedrock's own S3Uri pattern: key segments of letters, digits and -!_*'(). only.
S3_URI_PATTERN = (
    r"^s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?$"
)
# Tag keys the workflow writes itself; a request may not set them.
RESERVED_TAG_PREFIX = "bedrock-customize:"
MAX_USER_TAGS = 190  # Bedrock allows 200; the workflow adds its own.


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class S3Location(_Strict):
    """An object or prefix in S3."""

    s3Uri: Annotated[str, Field(pattern=S3_URI_PATTERN, max_length=1024)]


class TrainingDataConfig(_Strict):
    """Where the training data is. ``s3Uri`` for every approach; distillation may use
    Bedrock invocation logs instead (``invocationLogsConfig``, same shape as the API)."""

    s3Uri: Annotated[str | None, Field(pattern=S3_URI_PATTERN, max_length=1024)] = None
    invocationLogsConfig: dict[str, Any] | None = None


class ValidationDataConfig(_Strict):
    """Up to 10 validation datasets, as in the API."""

    validators: Annotated[list[S3Location], Field(min_length=1, max_length=10)]


class OutputDataConfig(_Strict):
    """Where Bedrock writes the job's output. Default: the stack's artifacts bucket."""

    s3Uri: Annotated[str, Field(pattern=S3_URI_PATTERN, max_length=1024)]


class CustomizationConfig(_Strict):
    """Distillation or reinforcement fine-tuning settings, exactly one (as in the API).

    ``distillationConfig`` is the API's ``DistillationConfig`` (teacher model and
    ``maxResponseLengthForInference``). ``rftConfig`` is the API's ``RFTConfig``
    (``graderConfig``, typed ``hyperParameters``), where ``grader`` may name one of the
    graders the stack deployed instead of giving ``graderConfig``. Both are checked
    against botocore's service model, ranges included.
    """

    distillationConfig: dict[str, Any] | None = None
    rftConfig: dict[str, Any] | None = None


class PromotionTarget(_Strict):
    """An existing endpoint to swap the new model onto: exactly one of these ARNs."""

    customModelDeploymentArn: Annotated[
        str | None,
        Field(
            pattern=r"^arn:aws(-[a-z-]+)?:bedrock:[a-z0-9-]+:[0-9]{12}:custom-model-deployment/[a-z0-9]{12}$"
        ),
    ] = None
    provisionedModelArn: Annotated[
        str | None,
        Field(
            pattern=r"^arn:aws(-[a-z-]+)?:bedrock:[a-z0-9-]+:[0-9]{12}:provisioned-model/[a-z0-9]{12}$"
        ),
    ] = None


class ServingConfig(_Strict):
    """How to serve the custom model once trained.

    ``none`` (default) serves nothing. ``provisioned-throughput`` buys model units billed
    hourly with no commitment unless ``commitmentDuration`` is set and
    ``confirmCommitment`` is true. ``on-demand-deployment`` creates a custom model
    deployment, billed per token, for models that support it. ``auto`` picks the
    on-demand deployment where the model supports it, else provisioned throughput.
    ``timeToLiveHours``: delete what serving created this many hours after it is ready
    (a one-time EventBridge Scheduler schedule), so a trial endpoint cannot bill forever.
    ``promoteTo``: an existing deployment or throughput that gets the new model once it is
    trained (and has passed the quality gate, when there is one); the model it served
    before is recorded, so a rollback is one ``bedrock-customize promote`` away.
    """

    mode: ServingMode = "none"
    modelUnits: Annotated[int, Field(ge=1, le=100)] = 1
    commitmentDuration: Literal["OneMonth", "SixMonths"] | None = None
    confirmCommitment: bool = False
    name: Annotated[str | None, Field(pattern=SERVING_NAME_PATTERN, max_length=63)] = None
    timeToLiveHours: Annotated[int | None, Field(ge=1, le=8760)] = None
    promoteTo: PromotionTarget | None = None


GateMetric = Literal[
    "exact_match", "token_f1", "rouge_l", "f1_weighted", "precision_weighted", "recall_weighted"
]


class QualityGate(_Strict):
    """Serve the model only if it meets this bar: ``metric`` at least ``threshold`` (0-1), or
    at least ``minImprovement`` better than the base model on the same test set, or both."""

    metric: GateMetric = "token_f1"
    threshold: Annotated[float | None, Field(ge=0, le=1)] = None
    minImprovement: Annotated[float | None, Field(ge=-1, le=1)] = None


class TrainingGate(_Strict):
    """Gate on the job's own losses, before anything is served: the final training loss and
    every validation loss must be at most these. ``keepModelOnGateFailure`` as below."""

    maxTrainingLoss: Annotated[float | None, Field(ge=0)] = None
    maxValidationLoss: Annotated[float | None, Field(ge=0)] = None
    keepModelOnGateFailure: bool = False


class EvaluationConfig(_Strict):
    """Evaluate the served custom model against the base model on a held-out test set
    (prompt/completion or conversation JSONL under the data prefixes), through Converse."""

    testDataConfig: S3Location
    maxRecords: Annotated[int, Field(ge=1, le=2000)] = 200
    concurrency: Annotated[int, Field(ge=1, le=16)] = 4
    maxTokens: Annotated[int, Field(ge=1, le=8192)] = 512
    gate: QualityGate | None = None
    keepModelOnGateFailure: bool = False
    useBatchInference: bool = (
        False  # also on from 100 test records: the base model's answers by batch
    )


HyperParameterValue = Annotated[str, Field(max_length=64)] | int | float


class CustomizationRequest(_Strict):
    """A request to customize a Bedrock model (version 1)."""

    model_config = ConfigDict(
        extra="forbid",
        title="Bedrock customization request",
        json_schema_extra={"$id": "urn:bedrock-customize:customization-request:v1"},
    )

    requestVersion: Literal["1"] = REQUEST_VERSION
    customizationType: CustomizationType
    baseModelIdentifier: Annotated[str, Field(min_length=1, max_length=2048)]
    jobName: Annotated[str | None, Field(min_length=1, max_length=63, pattern=JOB_NAME_PATTERN)] = (
        None
    )
    customModelName: Annotated[
        str | None, Field(min_length=1, max_length=63, pattern=MODEL_NAME_PATTERN)
    ] = None
    trainingDataConfig: TrainingDataConfig
    validationDataConfig: ValidationDataConfig | None = None
    outputDataConfig: OutputDataConfig | None = None
    hyperParameters: dict[
        Annotated[str, Field(min_length=1, max_length=64)], HyperParameterValue
    ] = Field(default_factory=dict)
    customizationConfig: CustomizationConfig | None = None
    maxTrainingCostUsd: Annotated[float | None, Field(gt=0)] = None
    evaluation: EvaluationConfig | None = None
    trainingGate: TrainingGate | None = None
    serving: ServingConfig = Field(default_factory=ServingConfig)
    tags: dict[
        Annotated[str, Field(min_length=1, max_length=128, pattern=TAG_PATTERN)],
        Annotated[str, Field(max_length=256, pattern=TAG_PATTERN)],
    ] = Field(default_factory=dict)


@dataclass(frozen=True)
class RequestContext:
    """What the deployed stack allows, passed to ``check_request``.

    ``data_bucket`` and ``data_prefixes``: where training and validation data may be;
    ``extra_data_buckets``: buckets the stack owner granted in full;
    ``output_bucket`` and ``output_prefix``: where Bedrock may write;
    ``enabled_types``: the customization types this stack was deployed for.
    """

    data_bucket: str
    data_prefixes: tuple[str, ...]
    output_bucket: str
    output_prefix: str
    extra_data_buckets: tuple[str, ...] = ()
    enabled_types: tuple[str, ...] = ("FINE_TUNING", "CONTINUED_PRE_TRAINING")
    graders: dict[str, str] = field(default_factory=dict)  # name -> Lambda ARN the role may invoke
    invocation_logs_uris: tuple[str, ...] = ()  # s3:// prefixes the role may read logs from


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``("bucket", "key")``."""
    rest = uri[len("s3://") :]
    bucket, _, key = rest.partition("/")
    return bucket, key


def _loc(parts: tuple[Any, ...]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(request)"


_GUIDE_HINTS = {
    "teacherModelIdentifier": "the teacher model goes in customizationConfig.distillationConfig"
    ".teacherModelConfig.teacherModelIdentifier",
    "rlAlgorithm": "reinforcement fine-tuning takes customizationConfig.rftConfig with a grader Lambda",
    "beta": "reinforcement fine-tuning takes customizationConfig.rftConfig with a grader Lambda",
}


_UNION_BRANCHES = {"str", "int", "float", "constrained-str"}


def _structural_problems(error: ValidationError) -> list[str]:
    """One line per field; a value that fits no member of a union gets one line, not one per member."""
    by_field: dict[str, list[str]] = {}
    for item in error.errors(include_url=False):
        loc = item["loc"]
        in_union = any(isinstance(p, str) and p in _UNION_BRANCHES for p in loc)
        loc = tuple(p for p in loc if not (isinstance(p, str) and p in _UNION_BRANCHES))
        where = _loc(loc)
        if in_union:
            message = f"expected a number or a numeric string (got {item.get('input')!r})"
        elif item["type"] == "extra_forbidden":
            hint = _GUIDE_HINTS.get(str(loc[-1]) if loc else "", "")
            message = "unknown field" + (f" ({hint})" if hint else "")
        elif item["type"] == "missing":
            message = "required field is missing"
        elif item["type"] == "string_pattern_mismatch":
            message = f"{item['input']!r} does not match {item['ctx']['pattern']}"
        else:
            message = f"{item['msg']} (got {item.get('input')!r})"
        messages = by_field.setdefault(where, [])
        if message not in messages:
            messages.append(message)
    return [f"{where}: {message}" for where, messages in by_field.items() for message in messages]


def _check_uri(
    where: str, uri: Any, ctx: RequestContext, problems: list[str], *, output: bool = False
) -> None:
    if not isinstance(uri, str) or not re.match(S3_URI_PATTERN, uri):
        return  # the structural check already reported it
    bucket, key = split_s3_uri(uri)
    if output:
        if bucket != ctx.output_bucket or not key.startswith(ctx.output_prefix):
            problems.append(
                f"{where}: {uri} is outside the output location; use a URI under "
                f"s3://{ctx.output_bucket}/{ctx.output_prefix} (Bedrock may write only there)"
            )
        return
    if bucket in ctx.extra_data_buckets:
        if not key:
            problems.append(f"{where}: {uri} names a bucket, not a JSONL object")
        return
    if bucket != ctx.data_bucket:
        allowed = ", ".join([ctx.data_bucket, *ctx.extra_data_buckets])
        problems.append(
            f"{where}: bucket {bucket!r} is not one this stack may read; allowed: {allowed} "
            "(grant another bucket with the construct's extra_data_buckets)"
        )
        return
    if not any(key.startswith(p) for p in ctx.data_prefixes):
        prefixes = ", ".join(f"s3://{bucket}/{p}" for p in ctx.data_prefixes)
        problems.append(
            f"{where}: {uri} is outside the data prefixes; put it under one of {prefixes}"
        )
    elif key.endswith("/"):
        problems.append(f"{where}: {uri} is a prefix; name the JSONL object")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _check_hyperparameters(
    raw: dict[str, Any], model: catalogue.BaseModel | None, problems: list[str]
) -> None:
    params = raw.get("hyperParameters")
    if not isinstance(params, dict):
        return
    if model is None:
        known = catalogue.all_hyperparameter_names()
        for name in params:
            if name not in known:
                problems.append(
                    f"hyperParameters.{name}: not a hyperparameter of any supported model "
                    f"(known: {', '.join(sorted(known))})"
                )
        return
    rules = model.hyperparameters
    if rules is None:
        return  # not published for this model: passed through, said in the catalogue
    for name, value in params.items():
        rule = rules.get(name)
        if rule is None:
            allowed = "; ".join(r.describe() for r in rules.values())
            problems.append(f"hyperParameters.{name}: unknown for {model.name}; allowed: {allowed}")
            continue
        number = _number(value)
        if number is None or not math.isfinite(number):
            problems.append(
                f"hyperParameters.{name}: {value!r} is not a number; expected {rule.describe()}"
            )
            continue
        if rule.kind == "int" and not number.is_integer():
            problems.append(
                f"hyperParameters.{name}: {value!r} is not a whole number; expected {rule.describe()}"
            )
            continue
        if not rule.minimum <= number <= rule.maximum:
            problems.append(
                f"hyperParameters.{name}: {value!r} is out of range; expected {rule.describe()}"
            )


def resolve_grader(rft: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    """The API's ``RFTConfig``: a ``grader`` name replaced by its ``graderConfig``."""
    api = {k: v for k, v in rft.items() if k != "grader"}
    name = rft.get("grader")
    if isinstance(name, str) and name in ctx.graders:
        api["graderConfig"] = {"lambdaGrader": {"lambdaArn": ctx.graders[name]}}
    return api


def _rft_problems(rft: dict[str, Any], ctx: RequestContext) -> list[str]:
    path = "customizationConfig.rftConfig"
    problems: list[str] = []
    name = rft.get("grader")
    has_config = rft.get("graderConfig") is not None
    available = ", ".join(sorted(ctx.graders)) or "none: deploy the stack with a grader"
    if (name is None) == (not has_config):
        problems.append(f"{path}: give exactly one of grader (a name) or graderConfig")
    if name is not None and name not in ctx.graders:
        problems.append(
            f"{path}.grader: {name!r} is not a grader of this stack (graders: {available})"
        )
    if has_config:
        arn = (
            (rft["graderConfig"].get("lambdaGrader") or {}).get("lambdaArn")
            if isinstance(rft["graderConfig"], dict)
            else None
        )
        if isinstance(arn, str) and arn not in ctx.graders.values():
            problems.append(
                f"{path}.graderConfig.lambdaGrader.lambdaArn: {arn} is not a grader Bedrock may invoke "
                f"in this stack (graders: {available})"
            )
    api = resolve_grader(rft, ctx)
    if name is not None and "graderConfig" not in api:
        api["graderConfig"] = {
            "lambdaGrader": {"lambdaArn": "arn:aws:lambda:us-east-1:000000000000:function:x"}
        }
    problems.extend(shape_problems(shape("RFTConfig"), api, path))
    return problems


def _distillation_problems(config: dict[str, Any], student: Any) -> list[str]:
    path = "customizationConfig.distillationConfig"
    problems = shape_problems(shape("DistillationConfig"), config, path)
    teacher = (
        (config.get("teacherModelConfig") or {}).get("teacherModelIdentifier")
        if isinstance(config.get("teacherModelConfig"), dict)
        else None
    )
    if isinstance(teacher, str) and isinstance(student, str) and not problems:
        problems.extend(check_teacher_student(teacher, student))
    return problems


def _invocation_logs_problems(config: dict[str, Any], ctx: RequestContext) -> list[str]:
    path = "trainingDataConfig.invocationLogsConfig"
    problems = shape_problems(shape("InvocationLogsConfig"), config, path)
    source = config.get("invocationLogSource")
    uri = source.get("s3Uri") if isinstance(source, dict) else None
    if isinstance(uri, str) and not any(uri.startswith(p) for p in ctx.invocation_logs_uris):
        allowed = (
            ", ".join(ctx.invocation_logs_uris)
            or "none: deploy the stack with invocation logs enabled"
        )
        problems.append(
            f"{path}.invocationLogSource.s3Uri: {uri} is not a log location this stack may read "
            f"(allowed: {allowed})"
        )
    return problems


def _semantic_problems(raw: dict[str, Any], ctx: RequestContext) -> list[str]:
    problems: list[str] = []
    ctype = raw.get("customizationType")
    model_id = raw.get("baseModelIdentifier")
    model = catalogue.find_model(model_id) if isinstance(model_id, str) else None

    if isinstance(model_id, str) and model is None:
        known = ", ".join(sorted(catalogue.models()))
        problems.append(
            f"baseModelIdentifier: {model_id!r} is not a customizable base model; known: {known}"
        )
    if (
        isinstance(ctype, str)
        and ctype not in ctx.enabled_types
        and ctype in get_args(CustomizationType)
    ):
        problems.append(
            f"customizationType: {ctype} is not enabled in this stack (enabled: {', '.join(ctx.enabled_types)})"
        )
    if model is not None and isinstance(ctype, str) and ctype not in model.customization_types:
        problems.append(
            f"customizationType: {model.name} does not support {ctype}; it supports "
            f"{', '.join(model.customization_types)}"
        )
    if ctype == "REINFORCEMENT_FINE_TUNING" and raw.get("hyperParameters"):
        names = (
            ", ".join(sorted(raw["hyperParameters"]))
            if isinstance(raw["hyperParameters"], dict)
            else ""
        )
        problems.append(
            f"hyperParameters: reinforcement fine-tuning takes typed hyperparameters in "
            f"customizationConfig.rftConfig.hyperParameters, not here (got {names}); there is no "
            "rlAlgorithm or beta: the reward comes from the grader Lambda"
        )
    else:
        _check_hyperparameters(raw, model, problems)

    training = raw.get("trainingDataConfig")
    if isinstance(training, dict):
        has_uri = training.get("s3Uri") is not None
        has_logs = training.get("invocationLogsConfig") is not None
        if has_uri == has_logs:
            problems.append("trainingDataConfig: give exactly one of s3Uri or invocationLogsConfig")
        if has_logs and ctype != "DISTILLATION":
            problems.append(
                "trainingDataConfig.invocationLogsConfig: only distillation reads invocation logs"
            )
        _check_uri("trainingDataConfig.s3Uri", training.get("s3Uri"), ctx, problems)
    validation = raw.get("validationDataConfig")
    if isinstance(validation, dict) and isinstance(validation.get("validators"), list):
        for i, item in enumerate(validation["validators"]):
            if isinstance(item, dict):
                _check_uri(
                    f"validationDataConfig.validators[{i}].s3Uri", item.get("s3Uri"), ctx, problems
                )
    output = raw.get("outputDataConfig")
    if isinstance(output, dict):
        _check_uri("outputDataConfig.s3Uri", output.get("s3Uri"), ctx, problems, output=True)

    config = raw.get("customizationConfig")
    if isinstance(config, dict):
        members = [k for k in ("distillationConfig", "rftConfig") if config.get(k) is not None]
        if len(members) != 1:
            problems.append(
                "customizationConfig: give exactly one of distillationConfig or rftConfig"
            )
        expected = {
            "DISTILLATION": "distillationConfig",
            "REINFORCEMENT_FINE_TUNING": "rftConfig",
        }.get(str(ctype))
        if members and expected not in members:
            problems.append(
                f"customizationConfig: {members[0]} does not go with customizationType {ctype}"
            )
        if isinstance(config.get("distillationConfig"), dict):
            problems.extend(_distillation_problems(config["distillationConfig"], model_id))
        if isinstance(config.get("rftConfig"), dict):
            problems.extend(_rft_problems(config["rftConfig"], ctx))
    elif ctype in ("DISTILLATION", "REINFORCEMENT_FINE_TUNING"):
        problems.append(f"customizationConfig: required for {ctype}")
    if isinstance(training, dict) and isinstance(training.get("invocationLogsConfig"), dict):
        problems.extend(_invocation_logs_problems(training["invocationLogsConfig"], ctx))

    serving = raw.get("serving")
    if isinstance(serving, dict):
        mode = serving.get("mode", "none")
        if (
            model is not None
            and mode not in ("none", "auto")
            and mode in get_args(ServingMode)
            and mode not in model.serving_modes
        ):
            problems.append(
                f"serving.mode: custom models of {model.name} cannot use {mode}; use "
                f"{' or '.join(model.serving_modes)}"
            )
        promote = serving.get("promoteTo")
        if isinstance(promote, dict):
            given = [
                k for k in ("customModelDeploymentArn", "provisionedModelArn") if promote.get(k)
            ]
            if len(given) != 1:
                problems.append(
                    "serving.promoteTo: give exactly one of customModelDeploymentArn or provisionedModelArn"
                )
            elif (
                given[0] == "customModelDeploymentArn"
                and model is not None
                and "on-demand-deployment" not in model.serving_modes
            ):
                problems.append(
                    f"serving.promoteTo.customModelDeploymentArn: custom models of {model.name} cannot be "
                    "deployed on demand; promote onto a provisioned throughput"
                )
        if serving.get("commitmentDuration") is not None:
            if mode != "provisioned-throughput":
                problems.append(
                    "serving.commitmentDuration: applies to provisioned-throughput only"
                )
            elif serving.get("confirmCommitment") is not True:
                problems.append(
                    "serving.confirmCommitment: a commitment bills every hour of the term and cannot be "
                    "cancelled; set confirmCommitment to true to buy it"
                )

    training_gate = raw.get("trainingGate")
    if isinstance(training_gate, dict):
        if (
            training_gate.get("maxTrainingLoss") is None
            and training_gate.get("maxValidationLoss") is None
        ):
            problems.append("trainingGate: give maxTrainingLoss, maxValidationLoss, or both")
        if training_gate.get("maxValidationLoss") is not None and not raw.get(
            "validationDataConfig"
        ):
            problems.append(
                "trainingGate.maxValidationLoss: needs validationDataConfig (no validation loss without it)"
            )

    evaluation = raw.get("evaluation")
    if isinstance(evaluation, dict):
        test = evaluation.get("testDataConfig")
        if isinstance(test, dict):
            _check_uri("evaluation.testDataConfig.s3Uri", test.get("s3Uri"), ctx, problems)
        mode = serving.get("mode", "none") if isinstance(serving, dict) else "none"
        if mode == "none":
            problems.append(
                "evaluation: a custom model answers only once it is served; set serving.mode "
                "(auto, on-demand-deployment or provisioned-throughput)"
            )
        gate = evaluation.get("gate")
        if (
            isinstance(gate, dict)
            and gate.get("threshold") is None
            and gate.get("minImprovement") is None
        ):
            problems.append("evaluation.gate: give a threshold, a minImprovement, or both")

    tags = raw.get("tags")
    if isinstance(tags, dict):
        if len(tags) > MAX_USER_TAGS:
            problems.append(
                f"tags: {len(tags)} tags; at most {MAX_USER_TAGS} (the workflow adds its own)"
            )
        for key in tags:
            if isinstance(key, str) and (
                key.startswith(RESERVED_TAG_PREFIX) or key.lower().startswith("aws:")
            ):
                problems.append(
                    f"tags.{key}: keys starting with {RESERVED_TAG_PREFIX!r} or 'aws:' are reserved"
                )
    return problems


def check_request(raw: Any, ctx: RequestContext) -> CustomizationRequest:
    """Parse and check a request; raise ``RequestInvalid`` listing every problem."""
    if not isinstance(raw, dict):
        raise RequestInvalid([f"(request): expected a JSON object, got {type(raw).__name__}"])
    problems: list[str] = []
    request: CustomizationRequest | None = None
    try:
        request = CustomizationRequest.model_validate(raw)
    except ValidationError as error:
        problems.extend(_structural_problems(error))
    # A field with a structural problem is not reported twice.
    reported = {p.split(":", 1)[0] for p in problems}
    problems.extend(p for p in _semantic_problems(raw, ctx) if p.split(":", 1)[0] not in reported)
    if problems or request is None:
        raise RequestInvalid(problems)
    return request
