"""Checks of ``CustomizationWorkflow``'s props: each refuses a value with the prop's name, what
it got and what is allowed, when the app is synthesized."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Duration, Stack, Token
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from constructs_lib.grader import GraderSpec
from constructs_lib.service_role import BedrockServiceRole
from constructs_lib.steps.base import Schedules, StepContext, bounded_name
from constructs_lib.steps.history import (
    HISTORY_BUDGET,
    HISTORY_LIMIT,
    HISTORY_MODEL,
    PollSchedule,
    rendered_definition,
    sweep_case_events,
    worst_case_events,
)
from constructs_lib.steps.sweep_runs import MAP_STATE
from constructs_lib.storage import CustomizationStorage

SUPPORTED_TYPES = ("FINE_TUNING", "CONTINUED_PRE_TRAINING")


def enabled_types(
    types: Sequence[str], *, graders: Sequence[GraderSpec], distillation: bool
) -> tuple[str, ...]:
    """The approaches requests may use: the prop's, and those its options enable."""
    unknown = sorted(set(types) - set(SUPPORTED_TYPES))
    if unknown:
        raise ValueError(
            f"enabled_customization_types: {unknown} not supported by this prop; allowed: "
            f"{list(SUPPORTED_TYPES)} (reinforcement fine-tuning is enabled by graders)"
        )
    if not types:
        raise ValueError(
            "enabled_customization_types must name at least one type, got an empty list"
        )
    enabled_by_options = (
        ("DISTILLATION", distillation),
        ("REINFORCEMENT_FINE_TUNING", bool(graders)),
    )
    return tuple(types) + tuple(t for t, on in enabled_by_options if on)


def check_logs(bucket: s3.IBucket | None, prefix: str, *, distillation: bool) -> None:
    if bucket is not None and not distillation:
        raise ValueError("invocation_logs_bucket is for distillation: set distillation=True too")
    if prefix.startswith("/") or "*" in prefix:
        raise ValueError(
            f"invocation_logs_prefix must be a key prefix (no leading '/', no '*'), got {prefix!r}"
        )


_NAME_MAX = 80
_NAME_UNSAFE = re.compile(r"[^0-9A-Za-z_-]")


def derive_state_machine_name(scope: Construct, name: str | None) -> str:
    """The prop's name, checked, or one derived from the stack's: letters, digits, ``-`` and
    ``_`` (what Step Functions allows and an execution tag can hold), at most 80."""
    if name is not None:
        if (
            Token.is_unresolved(name)
            or not name
            or len(name) > _NAME_MAX
            or _NAME_UNSAFE.search(name)
        ):
            raise ValueError(
                f"state_machine_name must be 1-{_NAME_MAX} letters, digits, '-' or '_' "
                f"(a literal, not a token), got {name!r}"
            )
        return name
    stack_name = Stack.of(scope).stack_name
    return bounded_name(_NAME_UNSAFE.sub("-", stack_name), "-customization", _NAME_MAX)


def literal(prop: str, value: Duration) -> Duration:
    """A duration the construct computes with (the history budget, the retry counts)."""
    if value.is_unresolved():
        raise ValueError(
            f"{prop} must be a literal duration, not a token: the workflow computes its "
            "retries and history budget from it when it is built"
        )
    return value


def poll_schedules(
    *, job: tuple[Duration, Duration], serving: tuple[Duration, Duration]
) -> Schedules:
    for what, (first, cap) in (("job", job), ("serving", serving)):
        first_prop, cap_prop = f"{what}_poll_interval", f"{what}_poll_max_interval"
        seconds = literal(first_prop, first).to_seconds()
        if seconds < 10:
            raise ValueError(f"{first_prop} must be at least 10 seconds, got {seconds} seconds")
        if literal(cap_prop, cap).to_seconds() < seconds:
            raise ValueError(
                f"{cap_prop} ({cap.to_seconds()} s) must be at least {first_prop} ({seconds} s)"
            )
    return Schedules(job=PollSchedule(*job), serving=PollSchedule(*serving))


def check_history(
    state_machine: sfn.StateMachine, ctx: StepContext, timeout: Duration, sweep_concurrency: int
) -> int:
    """Refuse props whose longest execution could come near Step Functions' history limit:
    spent in the top level's loops, or in a sweep's Map with ``sweep_concurrency`` runs."""
    definition = rendered_definition(state_machine)
    seconds = timeout.to_seconds()
    events = worst_case_events(definition, ctx.loops, seconds)
    if ctx.run_loops:
        events = max(
            events,
            sweep_case_events(definition, MAP_STATE, ctx.run_loops, seconds, sweep_concurrency),
        )
    if events > HISTORY_BUDGET:
        raise ValueError(
            f"execution_timeout {timeout.to_human_string()} with these poll intervals allows "
            f"up to {events:,} history events in the worst case ({HISTORY_MODEL}); Step "
            f"Functions fails an execution at {HISTORY_LIMIT:,} and this workflow allows "
            f"{HISTORY_BUDGET:,}: shorten execution_timeout, lengthen "
            "job_poll_max_interval / serving_poll_max_interval, or lower "
            "spending_limits.max_sweep_concurrency"
        )
    return events


def workflow_environment(
    storage: CustomizationStorage,
    service_role: BedrockServiceRole,
    topic: sns.ITopic,
    extra_data_buckets: Sequence[s3.IBucket],
    types: Sequence[str],
    encrypt_custom_models: bool,
) -> dict[str, str]:
    """What every function knows: the buckets, prefixes, approaches, role, key and topic."""
    return {
        "DATA_BUCKET": storage.data_bucket.bucket_name,
        "ARTIFACTS_BUCKET": storage.artifacts_bucket.bucket_name,
        "DATA_PREFIXES": ",".join(storage.data_prefixes),
        "OUTPUT_PREFIX": storage.output_prefix,
        "REPORTS_PREFIX": storage.reports_prefix,
        "EXTRA_DATA_BUCKETS": ",".join(b.bucket_name for b in extra_data_buckets),
        "ENABLED_CUSTOMIZATION_TYPES": ",".join(types),
        "SERVICE_ROLE_ARN": service_role.role_arn,
        "KMS_KEY_ARN": storage.key.key_arn if encrypt_custom_models else "",
        "TOPIC_ARN": topic.topic_arn,
        "STACK_NAME": Stack.of(storage).stack_name,
    }
