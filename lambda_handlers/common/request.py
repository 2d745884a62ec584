"""The customization request: the document a user starts an execution with.

The pydantic models below are the one source of its shape; ``schemas/`` holds the JSON
Schema generated from them. ``request_checks.check_request`` checks a request against
them and against what a schema cannot express (the model catalogue, hyperparameter
ranges, where data may live), and reports every problem at once, each naming its field.

Version 1 of the document mirrors the field names of ``CreateModelCustomizationJob``
where they exist, so a user who knows the API knows the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

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
# Runs per sweep: at most the stack's limit (default below), never above the hard maximum:
# each run is a training job billed in full (``sweep.py``).
SWEEP_MIN_RUNS = 2
SWEEP_HARD_MAX_RUNS = 20
SWEEP_DEFAULT_MAX_RUNS = 8
# Runs training at once: the request's maxConcurrency (default 2), lowered to the number of runs
# and to the stack's limit (default 2), which keeps the Map's waits inside the history budget.
SWEEP_DEFAULT_CONCURRENCY = 2


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
    every validation loss must be at most these, and the validation loss may have risen at
    most ``maxValidationLossRises`` evaluations in a row at the end of training (its
    ``validation_metrics.csv``; 0: the last evaluation may not be worse than the one before).
    ``keepModelOnGateFailure`` as below."""

    maxTrainingLoss: Annotated[float | None, Field(ge=0)] = None
    maxValidationLoss: Annotated[float | None, Field(ge=0)] = None
    maxValidationLossRises: Annotated[StrictInt | None, Field(ge=0, le=1000)] = None
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
HyperParameterName = Annotated[str, Field(min_length=1, max_length=64)]

SweepMeasure = Literal["validationLoss", "trainingLoss", "evaluation"]


class SweepConfig(_Strict):
    """Several jobs with different hyperparameters; the best by ``measure`` is kept.

    Exactly one of ``runs`` (a list of hyperparameter sets) or ``grid`` (values per name:
    every combination, names in alphabetical order, the last varying fastest). Each run's
    hyperparameters are the request's ``hyperParameters`` with the run's set over them, and
    each value is checked against the model's ranges before anything is submitted. From 2 to
    20 runs, and no more than the stack allows (8 unless its owner set another limit); the
    cost ceiling applies to all runs together. ``maxConcurrency``: jobs training at once
    (default 2, lowered to the number of runs and to the stack's limit). ``measure``: what picks the winner, the
    lowest final ``validationLoss`` or ``trainingLoss`` (default ``validationLoss`` with
    ``validationDataConfig``, else ``trainingLoss``); ``evaluation`` is refused for now.
    ``keepLosers``: keep the other runs' custom models (default: they are deleted).
    """

    runs: Annotated[
        list[dict[HyperParameterName, HyperParameterValue]] | None, Field(min_length=1)
    ] = None
    grid: Annotated[
        dict[HyperParameterName, Annotated[list[HyperParameterValue], Field(min_length=1)]] | None,
        Field(min_length=1),
    ] = None
    maxConcurrency: Annotated[StrictInt, Field(ge=1)] = SWEEP_DEFAULT_CONCURRENCY
    measure: SweepMeasure | None = None
    keepLosers: bool = False


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
    hyperParameters: dict[HyperParameterName, HyperParameterValue] = Field(default_factory=dict)
    sweep: SweepConfig | None = None
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
class StackPolicy:
    """What the stack owner lets executions do: promotion targets and spending limits.

    Checked in Validate only (``request_checks.policy_problems`` and
    ``preflight.promotion.target_problems``), never by ``check_request``: the abort cleanup
    rebuilds an execution's plan with ``check_request``, and a limit lowered by a later
    deploy must not turn a running execution's request into one cleanup would skip.

    ``promotion_arns``: deployments and throughputs executions may promote onto;
    ``promotion_tag``: ``(key, value)`` of the tag that marks more of them; neither: no
    promotion. ``max_model_units``: the largest ``serving.modelUnits``;
    ``allow_commitments``: whether ``serving.commitmentDuration`` may be asked for at all;
    ``max_training_cost_usd``: the ceiling ``maxTrainingCostUsd`` may not exceed, and the
    one a request without ``maxTrainingCostUsd`` is held to (``None``: no ceiling);
    ``max_sweep_runs``: the most runs a request's ``sweep`` may have (at most
    ``SWEEP_HARD_MAX_RUNS``, which ``check_request`` holds every request to);
    ``max_sweep_concurrency``: the most runs training at once, to which a sweep's
    ``maxConcurrency`` is lowered (read by ``make_plan``, which the number does not affect
    for the cleanup).
    """

    promotion_arns: tuple[str, ...] = ()
    promotion_tag: tuple[str, str] | None = None
    max_model_units: int = 1
    allow_commitments: bool = False
    max_training_cost_usd: float | None = None
    max_sweep_runs: int = SWEEP_DEFAULT_MAX_RUNS
    max_sweep_concurrency: int = SWEEP_DEFAULT_CONCURRENCY

    @property
    def promotes(self) -> bool:
        """Whether any endpoint may be promoted onto."""
        return bool(self.promotion_arns) or self.promotion_tag is not None


@dataclass(frozen=True)
class RequestContext:
    """What the deployed stack allows, passed to ``check_request``.

    ``data_bucket`` and ``data_prefixes``: where training and validation data may be;
    ``extra_data_buckets``: buckets the stack owner granted in full;
    ``output_bucket`` and ``output_prefix``: where Bedrock may write;
    ``enabled_types``: the customization types this stack was deployed for;
    ``policy``: promotion targets and spending limits, which ``check_request`` does not read.
    """

    data_bucket: str
    data_prefixes: tuple[str, ...]
    output_bucket: str
    output_prefix: str
    extra_data_buckets: tuple[str, ...] = ()
    enabled_types: tuple[str, ...] = ("FINE_TUNING", "CONTINUED_PRE_TRAINING")
    graders: dict[str, str] = field(default_factory=dict)  # name -> Lambda ARN the role may invoke
    invocation_logs_uris: tuple[str, ...] = ()  # s3:// prefixes the role may read logs from
    policy: StackPolicy = field(default_factory=StackPolicy)  # Validate's checks only


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``("bucket", "key")``."""
    rest = uri[len("s3://") :]
    bucket, _, key = rest.partition("/")
    return bucket, key


def resolve_grader(rft: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    """The API's ``RFTConfig``: a ``grader`` name replaced by its ``graderConfig``."""
    api = {k: v for k, v in rft.items() if k != "grader"}
    name = rft.get("grader")
    if isinstance(name, str) and name in ctx.graders:
        api["graderConfig"] = {"lambdaGrader": {"lambdaArn": ctx.graders[name]}}
    return api
