"""Settings a handler reads from its environment, set by the workflow construct."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from lambda_handlers.common.request import (
    SWEEP_DEFAULT_CONCURRENCY,
    SWEEP_DEFAULT_MAX_RUNS,
    RequestContext,
    StackPolicy,
)


def _list(value: str) -> tuple[str, ...]:
    return tuple(v for v in (s.strip() for s in value.split(",")) if v)


def stack_policy(env: Mapping[str, str]) -> StackPolicy:
    """Promotion targets and spending limits, as the construct sets them on the functions that
    check them; unset, the construct's defaults: no promotion, 1 model unit, no commitment,
    no ceiling, 8 runs per sweep, 2 of them training at once."""
    tag_key = env.get("PROMOTION_TARGET_TAG_KEY", "")
    ceiling = env.get("MAX_TRAINING_COST_USD", "")
    return StackPolicy(
        promotion_arns=_list(env.get("PROMOTION_TARGET_ARNS", "")),
        promotion_tag=(tag_key, env.get("PROMOTION_TARGET_TAG_VALUE", "")) if tag_key else None,
        max_model_units=int(env.get("MAX_MODEL_UNITS") or 1),
        allow_commitments=env.get("ALLOW_COMMITMENTS", "").lower() == "true",
        max_training_cost_usd=float(ceiling) if ceiling else None,
        max_sweep_runs=int(env.get("MAX_SWEEP_RUNS") or SWEEP_DEFAULT_MAX_RUNS),
        max_sweep_concurrency=int(env.get("MAX_SWEEP_CONCURRENCY") or SWEEP_DEFAULT_CONCURRENCY),
    )


@dataclass(frozen=True)
class Settings:
    """Environment of the workflow's functions (names match the construct's)."""

    data_bucket: str
    artifacts_bucket: str
    data_prefixes: tuple[str, ...]
    output_prefix: str
    reports_prefix: str
    extra_data_buckets: tuple[str, ...]
    enabled_types: tuple[str, ...]
    service_role_arn: str
    kms_key_arn: str
    topic_arn: str
    stack_name: str
    graders: dict[str, str]
    invocation_logs_uris: tuple[str, ...]
    policy: StackPolicy

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            data_bucket=env.get("DATA_BUCKET", ""),
            artifacts_bucket=env.get("ARTIFACTS_BUCKET", ""),
            data_prefixes=_list(env.get("DATA_PREFIXES", "training/,validation/")),
            output_prefix=env.get("OUTPUT_PREFIX", "customization-jobs/"),
            reports_prefix=env.get("REPORTS_PREFIX", "reports/"),
            extra_data_buckets=_list(env.get("EXTRA_DATA_BUCKETS", "")),
            enabled_types=_list(
                env.get("ENABLED_CUSTOMIZATION_TYPES", "FINE_TUNING,CONTINUED_PRE_TRAINING")
            ),
            service_role_arn=env.get("SERVICE_ROLE_ARN", ""),
            kms_key_arn=env.get("KMS_KEY_ARN", ""),
            topic_arn=env.get("TOPIC_ARN", ""),
            stack_name=env.get("STACK_NAME", ""),
            graders=json.loads(env.get("GRADERS") or "{}"),
            invocation_logs_uris=_list(env.get("INVOCATION_LOGS_URIS", "")),
            policy=stack_policy(env),
        )

    def request_context(self) -> RequestContext:
        return RequestContext(
            data_bucket=self.data_bucket,
            data_prefixes=self.data_prefixes,
            output_bucket=self.artifacts_bucket,
            output_prefix=self.output_prefix,
            extra_data_buckets=self.extra_data_buckets,
            enabled_types=self.enabled_types,
            graders=dict(self.graders),
            invocation_logs_uris=self.invocation_logs_uris,
            policy=self.policy,
        )
