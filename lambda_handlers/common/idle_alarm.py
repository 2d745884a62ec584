"""An alarm per provisioned throughput that bills while nobody invokes it.

A provisioned throughput is billed by the hour whether it answers requests or not, and its
ARN exists only once Start serving has created it, so no alarm can be written into the
template for it. Start serving therefore creates one CloudWatch alarm for the throughput it
created (``PutMetricAlarm``), named ``<prefix><provisioned model name>``, tagged like the
throughput, with the stack's topic as its action; the cleanup that deletes the throughput
deletes the alarm. The stack grants both calls on alarms of its prefix only
(``constructs_lib/observability.py``), and may publish to its topic only from them.

The metric is the one Bedrock publishes for every model invoked through bedrock-runtime:
namespace ``AWS/Bedrock``, metric ``Invocations``, dimension ``ModelId``, whose value is the
model id the caller gave, which for a provisioned throughput is its ARN (InvokeModel and
Converse take the provisioned model's ARN as ``modelId``). Sources: the Amazon Bedrock user
guide, "Monitor bedrock-runtime inference using CloudWatch metrics"
(docs.aws.amazon.com/bedrock/latest/userguide/monitoring-runtime-metrics.html, read
2026-12); Cloud Custodian's provisioned-throughput resource uses the provisioned model ARN as
the ``ModelId`` dimension of ``AWS/Bedrock`` ``Invocations`` (cloud-custodian pull request
#10916). Bedrock publishes a data point only when there are invocations, so a missing data
point is an idle hour (``TreatMissingData: breaching``).

Environment (set by the stack when the alarm is on): ``IDLE_THROUGHPUT_HOURS`` (the alarm
fires after that many whole hours without an invocation), ``IDLE_ALARM_PREFIX`` and
``TOPIC_ARN``. Without ``IDLE_THROUGHPUT_HOURS`` nothing is created or deleted.
"""

from __future__ import annotations

import os
from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common.aws import client
from lambda_handlers.common.errors import error_code, translate_client_error
from lambda_handlers.common.plan import Plan

HOURS_ENV = "IDLE_THROUGHPUT_HOURS"
PREFIX_ENV = "IDLE_ALARM_PREFIX"
NAMESPACE = "AWS/Bedrock"
METRIC = "Invocations"
DIMENSION = "ModelId"


def enabled() -> bool:
    """Whether the stack asks for idle alarms."""
    return bool(os.environ.get(HOURS_ENV))


def alarm_name(plan: Plan) -> str:
    """The alarm of the plan's provisioned throughput: the stack's prefix and its name."""
    return f"{os.environ[PREFIX_ENV]}{plan.serving.name}"


def idle_alarm_request(
    plan: Plan, throughput_arn: str, hours: int, topic_arn: str
) -> dict[str, Any]:
    """Parameters of ``PutMetricAlarm``: no invocation of ``throughput_arn`` for ``hours``
    whole hours (one-hour periods, every one of them empty) publishes to ``topic_arn``."""
    return {
        "AlarmName": alarm_name(plan),
        "AlarmDescription": (
            f"Provisioned throughput {plan.serving.name} ({throughput_arn}), serving "
            f"{plan.customModelName} of {plan.jobName}, had no invocation for {hours} h and "
            "bills by the hour all the same. Delete it if it is no longer needed: "
            f"aws bedrock delete-provisioned-model-throughput --provisioned-model-id "
            f"{throughput_arn}; then delete this alarm."
        ),
        "ActionsEnabled": True,
        "AlarmActions": [topic_arn],
        "Namespace": NAMESPACE,
        "MetricName": METRIC,
        "Dimensions": [{"Name": DIMENSION, "Value": throughput_arn}],
        "Statistic": "Sum",
        "Period": 3600,
        "EvaluationPeriods": hours,
        "DatapointsToAlarm": hours,
        "Threshold": 0,
        "ComparisonOperator": "LessThanOrEqualToThreshold",
        "TreatMissingData": "breaching",
        "Tags": [{"Key": key, "Value": value} for key, value in plan.tags.items()],
    }


def put_idle_alarm(plan: Plan, throughput_arn: str) -> str | None:
    """Create (or, on a retry, overwrite) the throughput's idle alarm; its name, or ``None``
    when the stack has the alarm off."""
    if not enabled():
        return None
    params = idle_alarm_request(
        plan, throughput_arn, int(os.environ[HOURS_ENV]), os.environ["TOPIC_ARN"]
    )
    try:
        client("cloudwatch").put_metric_alarm(**params)
    except ClientError as error:
        raise translate_client_error(error, f"PutMetricAlarm {params['AlarmName']}") from error
    return str(params["AlarmName"])


def delete_idle_alarm(plan: Plan) -> str | None:
    """Delete the throughput's idle alarm, if the stack makes them; its name, or ``None`` when
    the stack has the alarm off. An alarm that does not exist is no problem."""
    if not enabled() or plan.serving.mode != "provisioned-throughput" or not plan.serving.name:
        return None
    name = alarm_name(plan)
    try:
        client("cloudwatch").delete_alarms(AlarmNames=[name])
    except ClientError as error:
        if error_code(error) != "ResourceNotFound":
            raise
    return name
