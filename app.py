#!/usr/bin/env python3
"""CDK app: one BedrockCustomizationStack, checked by cdk-nag's AwsSolutions rules.

Environment-agnostic unless an account and Region are given, by context
(``-c account=... -c region=...``) or by CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION.
Context ``notificationEmails`` (comma-separated) subscribes addresses to outcomes;
``extraDataBuckets`` (comma-separated bucket names) lets requests read data from them;
``rftGraders`` (comma-separated: reference-match, format, preference, judge) deploys built-in
graders and enables reinforcement fine-tuning; ``judgeModelId`` is the judge grader's model;
``enableDistillation=true`` enables distillation, with ``invocationLogsBucket`` and
``invocationLogsPrefix`` for distillation from invocation logs.

What executions may do (defaults: no promotion, 1 model unit, no commitment, no ceiling):
``promotionTargetArns`` (comma-separated ARNs of custom model deployments and provisioned
throughputs) and/or ``promotionTargetTagKey`` with ``promotionTargetTagValue`` (a tag that
marks endpoints) name the endpoints requests may promote onto; ``maxModelUnits`` is the
largest ``serving.modelUnits``; ``allowCommitments=true`` lets requests buy throughput with
a commitment; ``maxTrainingCostUsd`` is a training cost ceiling requests cannot raise;
``pricesFile`` is a prices file (the format of ``lambda_handlers/data/prices.json``) whose
training prices the cost ceilings use where AWS publishes none, or you negotiated your own.
``stateMachineName`` names the state machine (default ``<stackName>-customization``).
``shardedValidationMinBytes`` validates data files of that many bytes or more (together) in
shards with a Distributed Map, ``validationShardBytes`` each (default 256 MiB); default: never.
``maxSweepRuns`` (default 8, at most 20) and ``maxSweepConcurrency`` (default 2) bound a request's
``sweep``. ``jobCompletion`` is ``events`` (default: the job's EventBridge event resumes the execution,
with a safety poll every ``jobSafetyPollMinutes``, default 30) or ``polling``.
``dashboard=false`` and ``alarms=false`` leave out the CloudWatch dashboard and the alarms;
``idleThroughputHours`` (1-24, default 6; ``0`` for none) is when an unused provisioned
throughput alarms.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from constructs_lib import BedrockCustomizationStack
from constructs_lib.grader import GraderSpec
from constructs_lib.observability import MonitoringOptions
from constructs_lib.steps.job_events import JobCompletion
from constructs_lib.steps.promotion import PromotionTargets
from constructs_lib.steps.request import SpendingLimits
from constructs_lib.steps.sharded_validation import ShardedValidation

CDK_JSON = Path(__file__).resolve().parent / "cdk.json"


def project_context() -> dict[str, object]:
    """The context in ``cdk.json`` (the feature flags): what ``cdk synth`` gives the app, so
    tests that build the app themselves synthesize the same template."""
    context: dict[str, object] = json.loads(CDK_JSON.read_text("utf-8"))["context"]
    return context


def monitoring_options(app: cdk.App) -> MonitoringOptions:
    """Context ``dashboard=false``, ``alarms=false``, ``idleThroughputHours`` (0: none)."""
    hours = str(app.node.try_get_context("idleThroughputHours") or "6").strip()
    if not hours.isdigit():
        raise ValueError(f"context idleThroughputHours: expected a whole number, got {hours!r}")
    return MonitoringOptions(
        dashboard=str(app.node.try_get_context("dashboard")).lower() != "false",
        alarms=str(app.node.try_get_context("alarms")).lower() != "false",
        idle_throughput_hours=int(hours) or None,
    )


def _whole(value: float | None, name: str) -> int:
    if value is None or not value.is_integer():
        raise ValueError(f"context {name}: expected a whole number, got {value!r}")
    return int(value)


def build_app(outdir: str | None = None, context: dict[str, object] | None = None) -> cdk.App:
    # Defaults only: `cdk synth -c key=value` and cdk.json (through the CLI) still override.
    app = cdk.App(outdir=outdir, context={**project_context(), **(context or {})})
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    account = app.node.try_get_context("account") or os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = app.node.try_get_context("region") or os.environ.get("CDK_DEFAULT_REGION")
    env = cdk.Environment(account=account, region=region) if account and region else None

    def listed(name: str) -> list[str]:
        return [v.strip() for v in (app.node.try_get_context(name) or "").split(",") if v.strip()]

    def number(name: str, default: float | None) -> float | None:
        value = app.node.try_get_context(name)
        if value is None or str(value).strip() == "":
            return default
        try:
            return float(str(value))
        except ValueError:
            raise ValueError(f"context {name}: expected a number, got {value!r}") from None

    tag_key = app.node.try_get_context("promotionTargetTagKey")
    tag_value = app.node.try_get_context("promotionTargetTagValue")
    if tag_value is not None and not tag_key:
        raise ValueError("context promotionTargetTagValue needs promotionTargetTagKey too")
    units = _whole(number("maxModelUnits", 1.0), "maxModelUnits")

    sharding_min = number("shardedValidationMinBytes", None)
    sharding = (
        ShardedValidation(
            min_bytes=int(sharding_min),
            shard_bytes=int(number("validationShardBytes", ShardedValidation.shard_bytes) or 0),
        )
        if sharding_min is not None
        else None
    )
    completion = str(app.node.try_get_context("jobCompletion") or "events").lower()
    if completion not in ("events", "polling"):
        raise ValueError(f"context jobCompletion: 'events' or 'polling', got {completion!r}")
    safety = number("jobSafetyPollMinutes", 30.0)
    BedrockCustomizationStack(
        app,
        app.node.try_get_context("stackName") or "BedrockCustomization",
        env=env,
        notification_emails=listed("notificationEmails"),
        extra_data_bucket_names=listed("extraDataBuckets"),
        graders=[
            GraderSpec(
                builtin=name,
                judge_model_id=app.node.try_get_context("judgeModelId")
                if name == "judge"
                else None,
            )
            for name in listed("rftGraders")
        ],
        distillation=str(app.node.try_get_context("enableDistillation") or "").lower() == "true",
        invocation_logs_bucket_name=app.node.try_get_context("invocationLogsBucket") or None,
        invocation_logs_prefix=app.node.try_get_context("invocationLogsPrefix") or "",
        promotion_targets=PromotionTargets(
            arns=listed("promotionTargetArns"),
            tag=(str(tag_key), str(tag_value or "")) if tag_key else None,
        ),
        spending_limits=SpendingLimits(
            max_model_units=units,
            allow_commitments=str(app.node.try_get_context("allowCommitments")).lower() == "true",
            max_training_cost_usd=number("maxTrainingCostUsd", None),
            prices_file=app.node.try_get_context("pricesFile") or None,
            max_sweep_runs=_whole(number("maxSweepRuns", 8.0), "maxSweepRuns"),
            max_sweep_concurrency=_whole(number("maxSweepConcurrency", 2.0), "maxSweepConcurrency"),
        ),
        state_machine_name=app.node.try_get_context("stateMachineName") or None,
        sharded_validation=sharding,
        job_completion=JobCompletion(
            events=completion == "events",
            safety_poll=cdk.Duration.seconds(round((safety or 0) * 60)),
        ),
        monitoring=monitoring_options(app),
        description="Amazon Bedrock model customization workflow (bedrock-customize)",
    )
    return app


if __name__ == "__main__":
    build_app().synth()
