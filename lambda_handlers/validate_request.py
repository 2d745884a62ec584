"""First state: check the customization request and its data, resolve it into a plan.

Event: ``{"request": <the execution input>, "execution": {"id": <execution ARN>}}``.
Returns ``{"plan": <Plan>, "dataset": <summary of the data report>, "checks": {...}}``.
Raises ``RequestInvalid`` listing every problem of the request, what the stack does not
allow (a promotion target it does not list or tag, more model units, a commitment or a
cost ceiling than it allows: ``request_checks.policy_problems``), and the problems of the
resources it names (missing data, an unusable promotion target, a base model that cannot
answer for the evaluation: ``lambda_handlers/preflight``), ``TrainingDataInvalid`` with the data report's
summary (the full report is written to the artifacts bucket), or ``EvaluationDataInvalid``
for a test set the engine rejects, before anything is created.

Data at or above the stack's threshold (``SHARDED_VALIDATION_MIN_BYTES``) is not read here:
the answer carries ``sharded`` (the request and its byte ranges) and no ``dataset``; the
Distributed Map then invokes this function once per range (``{"shard": ...}``) and once to
merge (``{"merge": <state>}``), which answers as above (``lambda_handlers/sharded_validation.py``).
"""

from __future__ import annotations

import os
from typing import Any

from lambda_handlers.common import observability
from lambda_handlers.common.aws import client
from lambda_handlers.common.errors import (
    RequestInvalid,
    TrainingCostExceeded,
    TrainingDataInvalid,
)
from lambda_handlers.common.observability import entry_point, logger
from lambda_handlers.common.plan import Plan, SweepPlan, make_plan
from lambda_handlers.common.reports import put_report
from lambda_handlers.common.request import CustomizationRequest, StackPolicy
from lambda_handlers.common.request_checks import (
    check_request,
    policy_problems,
    training_cost_ceiling,
)
from lambda_handlers.common.settings import Settings
from lambda_handlers.common.sweep import RunCost, check_sweep_cost
from lambda_handlers.datatools.cost_ceiling import check_training_cost, default_epochs, epochs_for
from lambda_handlers.datatools.price_file import prices_from_environment
from lambda_handlers.preflight import check_test_set, request_problems
from lambda_handlers.sharded_validation import merged_report, shard_plan, validate_one_shard
from lambda_handlers.validation import open_source, validate_dataset
from lambda_handlers.validation.engine import summary
from lambda_handlers.validation.logs_report import validate_log_source
from lambda_handlers.validation.rules import rules_for


def _data_report(request: CustomizationRequest, s3: Any) -> dict[str, Any]:
    """The data report: invocation logs for distillation from logs, else the engine on S3 files."""
    logs_config = request.trainingDataConfig.invocationLogsConfig
    if logs_config is not None:
        config = (
            request.customizationConfig.distillationConfig if request.customizationConfig else None
        )
        return validate_log_source(
            s3,
            logs_config,
            student_model=request.baseModelIdentifier,
            teacher_model=(config or {})["teacherModelConfig"]["teacherModelIdentifier"],
        )
    try:
        rules = rules_for(request.baseModelIdentifier, request.customizationType)
    except ValueError as error:
        raise RequestInvalid([f"baseModelIdentifier: {str(error).splitlines()[0]}"]) from error
    validators = request.validationDataConfig.validators if request.validationDataConfig else []
    assert request.trainingDataConfig.s3Uri is not None  # s3Uri or logs: checked with the request
    report = validate_dataset(
        open_source(request.trainingDataConfig.s3Uri, s3),
        [open_source(v.s3Uri, s3) for v in validators],
        customization_type=request.customizationType,
        base_model=request.baseModelIdentifier,
        rules=rules,
    )
    report["summary"] = summary(report)
    return report


def validate_data(request: CustomizationRequest, plan: Plan, settings: Settings) -> dict[str, Any]:
    """Check the data the job will train on; write the report; fail on errors."""
    s3 = client("s3")
    return judge_data(_data_report(request, s3), request, plan, settings, s3)


def judge_data(
    report: dict[str, Any],
    request: CustomizationRequest,
    plan: Plan,
    settings: Settings,
    s3: Any,
) -> dict[str, Any]:
    """Write the data report; fail on errors; else its summary with the cost estimate."""
    count_findings(report)
    report_uri = put_report(s3, settings, plan.jobName, "data-validation.json", report)
    if report["verdict"] != "valid":
        raise TrainingDataInvalid(f"{report['summary']} Full report: {report_uri}")
    dataset: dict[str, Any] = {
        "verdict": report["verdict"],
        "reportUri": report_uri,
        "records": {role: info["records"] for role, info in report["files"].items()},
        "warnings": report["warnings"],
    }
    ceiling, whose = training_cost_ceiling(request, settings.policy)
    if "training" in report["files"]:
        dataset["trainingTokensPerEpoch"] = report["trainingTokensPerEpoch"]
        dataset["tokens"] = report["files"]["training"]["tokens"]
        dataset["costEstimate"] = check_cost(
            request, plan, report["trainingTokensPerEpoch"], settings.policy
        )
    elif ceiling is not None:
        raise TrainingCostExceeded(
            f"the training cost is held to {ceiling:g} ({whose}), but tokens selected from "
            "invocation logs cannot be estimated before the job, so the ceiling cannot be "
            "enforced"
        )
    return dataset


def count_findings(report: dict[str, Any]) -> None:
    """The data report's findings as metrics: errors and warnings, every code together."""
    observability.count(observability.VALIDATION_ERRORS, sum(report["errors"].values()))
    observability.count(observability.VALIDATION_WARNINGS, sum(report["warnings"].values()))


STACK_HOW_TO_PRICE = (
    "the stack owner gives the figure in a prices file (the format of prices.json) deployed with "
    "the stack: cdk deploy -c pricesFile=FILE, or SpendingLimits(prices_file=FILE)"
)


def check_cost(
    request: CustomizationRequest,
    plan: Plan,
    tokens_per_epoch: int,
    policy: StackPolicy,
) -> dict[str, Any]:
    """The training cost estimate (tokens x epochs x price); refuse above the ceiling: the
    request's maxTrainingCostUsd, else the stack's (``training_cost_ceiling``). The prices are
    the shipped ones with the stack's prices file over them (``TRAINING_PRICES``)."""
    ceiling, whose = training_cost_ceiling(request, policy)
    if plan.sweep is not None:
        return check_whole_sweep_cost(plan, plan.sweep, tokens_per_epoch, ceiling, whose)
    rft = (plan.customizationConfig or {}).get("rftConfig", {}).get("hyperParameters", {})
    try:
        epochs = epochs_for(
            {"epochCount": str(rft["epochCount"])} if "epochCount" in rft else plan.hyperParameters,
            default_epochs(plan.baseModelIdentifier),
        )
    except ValueError as error:
        raise RequestInvalid([f"hyperParameters.epochCount: {error}"]) from error
    if epochs is None:
        if ceiling is not None:
            raise TrainingCostExceeded(
                f"the training cost is held to {ceiling:g} ({whose}), but the number of epochs "
                "is unknown for this model: set epochCount to have the cost checked"
            )
        return {"estimated": False, "reason": "the number of epochs is unknown for this model"}
    check = check_training_cost(
        plan.baseModelIdentifier,
        tokens_per_epoch,
        epochs,
        ceiling,
        prices=prices_from_environment(os.environ),
        how_to_price=STACK_HOW_TO_PRICE,
    )
    if not check.allowed:
        raise TrainingCostExceeded(f"{check.reason} ({whose})")
    return {"estimated": True, **check.estimate, "maxUsd": check.max_usd, "ceiling": whose}


def check_whole_sweep_cost(
    plan: Plan, sweep: SweepPlan, tokens_per_epoch: int, ceiling: float | None, whose: str
) -> dict[str, Any]:
    """The whole sweep held to the ceiling: the sum of its runs' estimates, each run's epochs
    from its own hyperparameters. A refusal names the sweep, the total, the ceiling and the
    most expensive run; nothing is submitted."""
    default = default_epochs(plan.baseModelIdentifier)
    runs: list[RunCost] = []
    for i, run in enumerate(sweep.runs):
        label = f"run {i + 1} ({run.jobName})"
        try:
            epochs = epochs_for(run.hyperParameters, default)
        except ValueError as error:
            raise RequestInvalid([f"sweep {label}: epochCount: {error}"]) from error
        if epochs is None:
            if ceiling is not None:
                raise TrainingCostExceeded(
                    f"the sweep's training cost is held to {ceiling:g} ({whose}), but the number "
                    f"of epochs of {label} is unknown for this model: set epochCount to have the "
                    "cost checked"
                )
            return {"estimated": False, "reason": "the number of epochs is unknown for this model"}
        runs.append(RunCost(label, epochs))
    check = check_sweep_cost(
        plan.baseModelIdentifier,
        tokens_per_epoch,
        runs,
        ceiling,
        prices=prices_from_environment(os.environ),
        how_to_price=STACK_HOW_TO_PRICE,
        whose=whose,
    )
    if not check.allowed:
        raise TrainingCostExceeded(check.check.reason)
    return {
        "estimated": True,
        **check.check.estimate,
        "maxUsd": check.check.max_usd,
        "ceiling": whose,
        "runs": check.runs,
    }


def merge_shards(state: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """After the Distributed Map: the shards' reports merged, judged as ``validate_data``
    judges one pass; the state the small-file path gives."""
    sharded = state["sharded"]
    request = check_request(sharded["request"], settings.request_context())
    plan = Plan.model_validate(state["plan"])
    s3 = client("s3")
    report = merged_report(request, sharded["results"], s3)
    dataset = judge_data(report, request, plan, settings, s3)
    logger.info("request accepted", extra={"jobName": plan.jobName, "dataset": dataset})
    return {"plan": state["plan"], "dataset": dataset, "checks": state["checks"]}


@entry_point("execution.id")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A request (``{"request", "execution"}``); or, for large data, one shard
    (``{"shard", "execution"}``) or the merge (``{"merge": <state>, "execution"}``)."""
    settings = Settings.from_env()
    if "shard" in event:
        return validate_one_shard(event["shard"], settings, client("s3"))
    if "merge" in event:
        return merge_shards(event["merge"], settings)
    request = check_request(event.get("request"), settings.request_context())
    bedrock = client("bedrock")
    resource_problems, invocation = request_problems(
        request,
        client("s3"),
        bedrock,
        account=context.invoked_function_arn.split(":")[4],
        region=bedrock.meta.region_name,
        policy=settings.policy,
    )
    problems = policy_problems(request, settings.policy) + resource_problems
    if problems:
        raise RequestInvalid(problems)
    plan = make_plan(
        request, event["execution"]["id"], settings.request_context(), settings.stack_name
    )
    shards = shard_plan(request, plan.jobName, client("s3"))
    # Large data: the Distributed Map validates it after this state, then merge_shards.
    dataset = validate_data(request, plan, settings) if shards is None else None
    checks: dict[str, Any] = {}
    if request.evaluation is not None and invocation is not None:
        checks["evaluation"] = check_test_set(request, plan, settings, client("s3"), invocation)
    if shards is not None:
        logger.info("data in shards", extra={"jobName": plan.jobName, "shards": len(shards)})
        sharded = {"request": event["request"], "shards": shards}
        return {"plan": plan.model_dump(exclude_none=True), "checks": checks, "sharded": sharded}
    logger.info(
        "request accepted", extra={"jobName": plan.jobName, "dataset": dataset, "checks": checks}
    )
    return {"plan": plan.model_dump(exclude_none=True), "dataset": dataset, "checks": checks}
