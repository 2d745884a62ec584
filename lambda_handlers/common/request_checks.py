"""Checking a customization request: ``check_request`` reports every problem at once.

First the schema's own problems (the pydantic models in ``request.py``), then what a schema
cannot express: the model catalogue, hyperparameter ranges, where data may live, which
customization and serving a model supports, and how the request's parts fit together.
One function per section of the request; ``semantic_problems`` runs them all. Each
problem names its field.
"""

from __future__ import annotations

import math
import re
import sys
from typing import Any, get_args

from pydantic import ValidationError

from lambda_handlers.common import catalogue, sweep
from lambda_handlers.common.errors import RequestInvalid
from lambda_handlers.common.request import (
    MAX_USER_TAGS,
    RESERVED_TAG_PREFIX,
    S3_URI_PATTERN,
    CustomizationRequest,
    CustomizationType,
    RequestContext,
    ServingMode,
    StackPolicy,
    SweepConfig,
    resolve_grader,
    split_s3_uri,
)
from lambda_handlers.common.service_model import shape, shape_problems
from lambda_handlers.validation.distillation import check_teacher_student


def semantic_problems(raw: dict[str, Any], ctx: RequestContext) -> list[str]:
    """Every problem the schema cannot see, section by section.

    The order is the order users have always read them in (and tests check): the model
    and type, hyperparameters, the sweep, data, customization config, invocation logs, serving,
    training gate, evaluation, tags.
    """
    model_id = raw.get("baseModelIdentifier")
    model = catalogue.find_model(model_id) if isinstance(model_id, str) else None
    return [
        *_model_problems(raw, ctx, model),
        *_hyperparameter_problems(raw, model),
        *_sweep_problems(raw, model),
        *_data_problems(raw, ctx),
        *_customization_config_problems(raw, ctx),
        *_invocation_logs_problems(raw, ctx),
        *_serving_problems(raw, model),
        *_training_gate_problems(raw),
        *_evaluation_problems(raw, ctx),
        *_tag_problems(raw),
    ]


# -- base model and customization type ---------------------------------------------------


def _model_problems(
    raw: dict[str, Any], ctx: RequestContext, model: catalogue.BaseModel | None
) -> list[str]:
    """An unknown base model, a type this stack does not enable or the model does not support."""
    problems: list[str] = []
    ctype = raw.get("customizationType")
    model_id = raw.get("baseModelIdentifier")
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
    return problems


# -- hyperparameters ---------------------------------------------------------------------


def _hyperparameter_problems(raw: dict[str, Any], model: catalogue.BaseModel | None) -> list[str]:
    """Top-level hyperparameters: none for reinforcement fine-tuning, else the model's ranges."""
    params = raw.get("hyperParameters")
    if raw.get("customizationType") == "REINFORCEMENT_FINE_TUNING" and params:
        names = ", ".join(sorted(params)) if isinstance(params, dict) else ""
        return [
            f"hyperParameters: reinforcement fine-tuning takes typed hyperparameters in "
            f"customizationConfig.rftConfig.hyperParameters, not here (got {names}); there is no "
            "rlAlgorithm or beta: the reward comes from the grader Lambda"
        ]
    if not isinstance(params, dict):
        return []
    problems: list[str] = []
    for name, value in params.items():
        where = f"hyperParameters.{name}"
        problems.extend(_hyperparameter_entry_problems(where, where, name, value, model))
    return problems


def _hyperparameter_entry_problems(
    name_at: str, value_at: str, name: str, value: Any, model: catalogue.BaseModel | None
) -> list[str]:
    """One hyperparameter against the model: a name it has (``name_at`` names the field), a
    value in its range (``value_at``). Without a known model, a name some model has; with a
    model whose ranges are not published, anything (said in the catalogue)."""
    if model is None:
        known = catalogue.all_hyperparameter_names()
        if name in known:
            return []
        return [
            f"{name_at}: not a hyperparameter of any supported model "
            f"(known: {', '.join(sorted(known))})"
        ]
    rules = model.hyperparameters
    if rules is None:
        return []
    rule = rules.get(name)
    if rule is None:
        allowed = "; ".join(r.describe() for r in rules.values())
        return [f"{name_at}: unknown for {model.name}; allowed: {allowed}"]
    return _hyperparameter_value_problems(value_at, value, rule)


def _hyperparameter_value_problems(
    where: str, value: Any, rule: catalogue.HyperParameterRule
) -> list[str]:
    """At most one problem with a value: not a number, not whole, or out of range."""
    number = _number(value)
    if number is None or not math.isfinite(number):
        return [f"{where}: {value!r} is not a number; expected {rule.describe()}"]
    if rule.kind == "int" and not number.is_integer():
        return [f"{where}: {value!r} is not a whole number; expected {rule.describe()}"]
    if not rule.minimum <= number <= rule.maximum:
        return [f"{where}: {value!r} is out of range; expected {rule.describe()}"]
    return []


def _sweep_problems(raw: dict[str, Any], model: catalogue.BaseModel | None) -> list[str]:
    """A sweep: runs or a grid, 2 to ``sweep.HARD_MAX_RUNS`` runs, a measure this workflow
    reads, and every value it gives checked as ``hyperParameters``' are, named by run (or
    grid value) and field. The stack's own limit is ``policy_problems``'."""
    if raw.get("sweep") is None:
        return []
    try:
        config = SweepConfig.model_validate(raw["sweep"])
    except ValidationError:
        return []  # the structural check reported it
    if raw.get("customizationType") == "REINFORCEMENT_FINE_TUNING":
        return [
            "sweep: reinforcement fine-tuning takes its hyperparameters in "
            "customizationConfig.rftConfig.hyperParameters, which a sweep does not vary yet"
        ]
    shape = sweep.shape_problems(config)
    if shape:
        return shape
    problems = [
        *sweep.count_problems(config),
        *sweep.measure_problems(config, raw.get("validationDataConfig") is not None),
    ]
    for name_at, value_at, name, value in sweep.checked_sets(config):
        for problem in _hyperparameter_entry_problems(name_at, value_at, name, value, model):
            if problem not in problems:  # a grid's unknown name once, not once per value
                problems.append(problem)
    base = raw.get("hyperParameters")
    problems.extend(sweep.duplicate_problems(config, base if isinstance(base, dict) else {}))
    return problems


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an integer beyond every float: beyond every range too
            return sys.float_info.max if value > 0 else -sys.float_info.max
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


# -- data --------------------------------------------------------------------------------


def _data_problems(raw: dict[str, Any], ctx: RequestContext) -> list[str]:
    """Training, validation and output locations: one training source, every URI allowed."""
    problems: list[str] = []
    training = raw.get("trainingDataConfig")
    if isinstance(training, dict):
        has_uri = training.get("s3Uri") is not None
        has_logs = training.get("invocationLogsConfig") is not None
        if has_uri == has_logs:
            problems.append("trainingDataConfig: give exactly one of s3Uri or invocationLogsConfig")
        if has_logs and raw.get("customizationType") != "DISTILLATION":
            problems.append(
                "trainingDataConfig.invocationLogsConfig: only distillation reads invocation logs"
            )
        problems.extend(_uri_problems("trainingDataConfig.s3Uri", training.get("s3Uri"), ctx))
    validation = raw.get("validationDataConfig")
    if isinstance(validation, dict) and isinstance(validation.get("validators"), list):
        for i, item in enumerate(validation["validators"]):
            if isinstance(item, dict):
                where = f"validationDataConfig.validators[{i}].s3Uri"
                problems.extend(_uri_problems(where, item.get("s3Uri"), ctx))
    output = raw.get("outputDataConfig")
    if isinstance(output, dict):
        where = "outputDataConfig.s3Uri"
        problems.extend(_uri_problems(where, output.get("s3Uri"), ctx, output=True))
    return problems


def _uri_problems(where: str, uri: Any, ctx: RequestContext, *, output: bool = False) -> list[str]:
    """Whether the stack may read (or, with ``output``, write) ``uri``, and that it names an object."""
    if not isinstance(uri, str) or not re.match(S3_URI_PATTERN, uri):
        return []  # the structural check already reported it
    bucket, key = split_s3_uri(uri)
    if output:
        if bucket != ctx.output_bucket or not key.startswith(ctx.output_prefix):
            return [
                f"{where}: {uri} is outside the output location; use a URI under "
                f"s3://{ctx.output_bucket}/{ctx.output_prefix} (Bedrock may write only there)"
            ]
        return []
    if bucket in ctx.extra_data_buckets:
        return [f"{where}: {uri} names a bucket, not a JSONL object"] if not key else []
    if bucket != ctx.data_bucket:
        allowed = ", ".join([ctx.data_bucket, *ctx.extra_data_buckets])
        return [
            f"{where}: bucket {bucket!r} is not one this stack may read; allowed: {allowed} "
            "(grant another bucket with the construct's extra_data_buckets)"
        ]
    if not any(key.startswith(p) for p in ctx.data_prefixes):
        prefixes = ", ".join(f"s3://{bucket}/{p}" for p in ctx.data_prefixes)
        return [f"{where}: {uri} is outside the data prefixes; put it under one of {prefixes}"]
    if key.endswith("/"):
        return [f"{where}: {uri} is a prefix; name the JSONL object"]
    return []


def _invocation_logs_problems(raw: dict[str, Any], ctx: RequestContext) -> list[str]:
    """``invocationLogsConfig`` against the service model, and a log location the stack may read."""
    training = raw.get("trainingDataConfig")
    if not isinstance(training, dict) or not isinstance(training.get("invocationLogsConfig"), dict):
        return []
    config = training["invocationLogsConfig"]
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


# -- customization config (distillation, reinforcement fine-tuning) ---------------------


def _customization_config_problems(raw: dict[str, Any], ctx: RequestContext) -> list[str]:
    """Exactly one config, the one the customization type needs, each checked in full."""
    ctype = raw.get("customizationType")
    config = raw.get("customizationConfig")
    if not isinstance(config, dict):
        if ctype in ("DISTILLATION", "REINFORCEMENT_FINE_TUNING"):
            return [f"customizationConfig: required for {ctype}"]
        return []
    problems: list[str] = []
    members = [k for k in ("distillationConfig", "rftConfig") if config.get(k) is not None]
    if len(members) != 1:
        problems.append("customizationConfig: give exactly one of distillationConfig or rftConfig")
    expected = {
        "DISTILLATION": "distillationConfig",
        "REINFORCEMENT_FINE_TUNING": "rftConfig",
    }.get(str(ctype))
    if members and expected not in members:
        problems.append(
            f"customizationConfig: {members[0]} does not go with customizationType {ctype}"
        )
    if isinstance(config.get("distillationConfig"), dict):
        student = raw.get("baseModelIdentifier")
        problems.extend(_distillation_problems(config["distillationConfig"], student))
    if isinstance(config.get("rftConfig"), dict):
        problems.extend(_rft_problems(config["rftConfig"], ctx))
    return problems


def _distillation_problems(config: dict[str, Any], student: Any) -> list[str]:
    """The service model's ``DistillationConfig``, then the teacher -> student pair."""
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


def _rft_problems(rft: dict[str, Any], ctx: RequestContext) -> list[str]:
    """One grader of this stack (by name or ARN), then the service model's ``RFTConfig``."""
    path = "customizationConfig.rftConfig"
    problems: list[str] = []
    name = rft.get("grader")
    has_config = rft.get("graderConfig") is not None
    available = ", ".join(sorted(ctx.graders)) or "none: deploy the stack with a grader"
    if (name is None) == (not has_config):
        problems.append(f"{path}: give exactly one of grader (a name) or graderConfig")
    if name is not None and not isinstance(name, str):
        problems.append(
            f"{path}.grader: expected the name of a grader of this stack, got "
            f"{type(name).__name__} (graders: {available})"
        )
    elif name is not None and name not in ctx.graders:
        problems.append(
            f"{path}.grader: {name!r} is not a grader of this stack (graders: {available})"
        )
    if has_config:
        config = rft["graderConfig"]
        lambda_grader = config.get("lambdaGrader") if isinstance(config, dict) else None
        # Not an object: the service model's shape check below names it.
        arn = lambda_grader.get("lambdaArn") if isinstance(lambda_grader, dict) else None
        if isinstance(arn, str) and arn not in ctx.graders.values():
            problems.append(
                f"{path}.graderConfig.lambdaGrader.lambdaArn: {arn} is not a grader Bedrock may invoke "
                f"in this stack (graders: {available})"
            )
    api = resolve_grader(rft, ctx)
    if name is not None and "graderConfig" not in api:
        # An unknown grader name is reported above; a stand-in keeps the shape check to the rest.
        api["graderConfig"] = {
            "lambdaGrader": {"lambdaArn": "arn:aws:lambda:us-east-1:000000000000:function:x"}
        }
    problems.extend(shape_problems(shape("RFTConfig"), api, path))
    return problems


# -- serving -----------------------------------------------------------------------------


def _serving_problems(raw: dict[str, Any], model: catalogue.BaseModel | None) -> list[str]:
    """A mode the model supports, a promotion target it can use, a commitment confirmed."""
    serving = raw.get("serving")
    if not isinstance(serving, dict):
        return []
    problems: list[str] = []
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
        problems.extend(_promotion_problems(promote, model))
    if serving.get("commitmentDuration") is not None:
        if mode != "provisioned-throughput":
            problems.append("serving.commitmentDuration: applies to provisioned-throughput only")
        elif serving.get("confirmCommitment") is not True:
            problems.append(
                "serving.confirmCommitment: a commitment bills every hour of the term and cannot be "
                "cancelled; set confirmCommitment to true to buy it"
            )
    return problems


def _promotion_problems(promote: dict[str, Any], model: catalogue.BaseModel | None) -> list[str]:
    """Exactly one target, and a deployment only for models that deploy on demand."""
    given = [k for k in ("customModelDeploymentArn", "provisionedModelArn") if promote.get(k)]
    if len(given) != 1:
        return [
            "serving.promoteTo: give exactly one of customModelDeploymentArn or provisionedModelArn"
        ]
    if (
        given[0] == "customModelDeploymentArn"
        and model is not None
        and "on-demand-deployment" not in model.serving_modes
    ):
        return [
            f"serving.promoteTo.customModelDeploymentArn: custom models of {model.name} cannot be "
            "deployed on demand; promote onto a provisioned throughput"
        ]
    return []


# -- gates and evaluation ----------------------------------------------------------------


def _training_gate_problems(raw: dict[str, Any]) -> list[str]:
    """At least one bound, and bounds on the validation loss only with validation data."""
    gate = raw.get("trainingGate")
    if not isinstance(gate, dict):
        return []
    problems: list[str] = []
    bounds = ("maxTrainingLoss", "maxValidationLoss", "maxValidationLossRises")
    if all(gate.get(b) is None for b in bounds):
        problems.append(
            "trainingGate: give maxTrainingLoss, maxValidationLoss, maxValidationLossRises, "
            "or several"
        )
    for bound in bounds[1:]:
        if gate.get(bound) is not None and not raw.get("validationDataConfig"):
            problems.append(
                f"trainingGate.{bound}: needs validationDataConfig (no validation loss without it)"
            )
    return problems


def _evaluation_problems(raw: dict[str, Any], ctx: RequestContext) -> list[str]:
    """A test set the stack may read, a served model to ask, a gate with a bar."""
    evaluation = raw.get("evaluation")
    if not isinstance(evaluation, dict):
        return []
    problems: list[str] = []
    test = evaluation.get("testDataConfig")
    if isinstance(test, dict):
        problems.extend(_uri_problems("evaluation.testDataConfig.s3Uri", test.get("s3Uri"), ctx))
    serving = raw.get("serving")
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
    return problems


# -- tags --------------------------------------------------------------------------------


def _tag_problems(raw: dict[str, Any]) -> list[str]:
    """Room for the workflow's own tags, and none of the keys reserved for it or AWS."""
    tags = raw.get("tags")
    if not isinstance(tags, dict):
        return []
    problems: list[str] = []
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


# -- what the stack owner allows (Validate only) -------------------------------------------

# How the stack owner changes each setting: the construct prop and the app's context value.
RAISE_MODEL_UNITS = "spending_limits.max_model_units (context maxModelUnits)"
ALLOW_COMMITMENTS = "spending_limits.allow_commitments=True (context allowCommitments=true)"
RAISE_COST_CEILING = "spending_limits.max_training_cost_usd (context maxTrainingCostUsd)"
STACK_COST_CEILING = (
    "this stack's spending_limits.max_training_cost_usd, context maxTrainingCostUsd"
)
ADD_PROMOTION_TARGETS = (
    "promotion_targets.arns (context promotionTargetArns) or promotion_targets.tag "
    "(context promotionTargetTagKey and promotionTargetTagValue)"
)


def policy_problems(request: CustomizationRequest, policy: StackPolicy) -> list[str]:
    """What the stack's spending limits refuse in a request ``check_request`` accepted.

    Run by Validate only: the abort cleanup rebuilds a running execution's plan with
    ``check_request``, and a limit lowered by a later deploy must not make it skip one.
    The promotion target is ``preflight.promotion.target_problems``'s (a tag needs Bedrock).
    """
    problems: list[str] = []
    serving = request.serving
    if serving.modelUnits > policy.max_model_units:
        problems.append(
            f"serving.modelUnits: the request asks for {serving.modelUnits}; this stack allows at "
            f"most {policy.max_model_units}; the stack owner raises it with {RAISE_MODEL_UNITS}"
        )
    if serving.commitmentDuration is not None and not policy.allow_commitments:
        problems.append(
            f"serving.commitmentDuration: the request asks for {serving.commitmentDuration}; this "
            "stack allows no commitment (one bills every hour of its term and cannot be "
            f"cancelled); the stack owner allows them with {ALLOW_COMMITMENTS}"
        )
    if request.sweep is not None:
        problems.extend(sweep.count_problems(request.sweep, policy.max_sweep_runs, stack=True))
    asked, ceiling = request.maxTrainingCostUsd, policy.max_training_cost_usd
    if asked is not None and ceiling is not None and asked > ceiling:
        problems.append(
            f"maxTrainingCostUsd: the request asks for {asked:g}; this stack's ceiling is "
            f"{ceiling:g}; ask for at most that, or the stack owner raises it with "
            f"{RAISE_COST_CEILING}"
        )
    return problems


def training_cost_ceiling(
    request: CustomizationRequest, policy: StackPolicy
) -> tuple[float | None, str]:
    """The ceiling the training cost is held to and whose it is: the request's
    ``maxTrainingCostUsd`` (never above the stack's, ``policy_problems`` sees to that), else
    the stack's ``max_training_cost_usd``, else none."""
    if request.maxTrainingCostUsd is not None:
        return request.maxTrainingCostUsd, "maxTrainingCostUsd"
    if policy.max_training_cost_usd is not None:
        return policy.max_training_cost_usd, STACK_COST_CEILING
    return None, "no ceiling"


# -- the whole request ------------------------------------------------------------------


# A problem echoes what the request held; a 70,000-character value need not come back whole.
_ECHO_CHARS = 100
# The whole message stays well inside Step Functions' 32,768-character error cause.
_PROBLEM_CHARS = 1_000
_LISTED_PROBLEMS = 30


def _clipped(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text)} chars)"


def _shown(value: Any) -> str:
    """``repr`` of a value from the request, clipped."""
    return _clipped(repr(value), _ECHO_CHARS)


def _loc(parts: tuple[Any, ...]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + _clipped(str(part), _ECHO_CHARS)
    return out or "(request)"


def _listed(problems: list[str]) -> list[str]:
    """Each problem clipped, and at most ``_LISTED_PROBLEMS`` of them, saying how many more."""
    shown = [_clipped(p, _PROBLEM_CHARS) for p in problems[:_LISTED_PROBLEMS]]
    rest = len(problems) - len(shown)
    if rest > 0:
        shown.append(f"(request): {rest} more problems not listed; fix these and check again")
    return shown


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
            message = f"expected a number or a numeric string (got {_shown(item.get('input'))})"
        elif item["type"] == "extra_forbidden":
            hint = _GUIDE_HINTS.get(str(loc[-1]) if loc else "", "")
            message = "unknown field" + (f" ({hint})" if hint else "")
        elif item["type"] == "missing":
            message = "required field is missing"
        elif item["type"] == "string_pattern_mismatch":
            message = f"{_shown(item['input'])} does not match {item['ctx']['pattern']}"
        else:
            message = f"{item['msg']} (got {_shown(item.get('input'))})"
        messages = by_field.setdefault(where, [])
        if message not in messages:
            messages.append(message)
    return [f"{where}: {message}" for where, messages in by_field.items() for message in messages]


def check_request(raw: Any, ctx: RequestContext) -> CustomizationRequest:
    """Parse and check a request; raise ``RequestInvalid`` listing every problem (the first
    ``_LISTED_PROBLEMS`` of them, values clipped, and how many more). Whatever ``raw`` is, no
    other exception: ``tests/handlers/test_request_properties.py`` holds it to that."""
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
    problems.extend(p for p in semantic_problems(raw, ctx) if p.split(":", 1)[0] not in reported)
    if problems or request is None:
        raise RequestInvalid(_listed(problems))
    return request
