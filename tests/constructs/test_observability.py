"""The dashboard and the alarms in the template, and the props that leave them out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from constructs_lib.observability import _checked_idle_hours
from lambda_handlers.common.idle_alarm import HOURS_ENV, PREFIX_ENV
from tests.conftest import Synthesized, synthesize
from tests.policy_eval import Policies, Request

STACK = "BedrockCustomization"
NAMESPACE = "BedrockCustomization"
IDLE_PREFIX = f"{STACK}-idle-throughput-"


def _logical_id(synthesized: Synthesized, resource_type: str, starts: str) -> str:
    [found] = [k for k in synthesized.resources(resource_type) if k.startswith(starts)]
    return found


def _flatten(part: Any) -> str:
    """A dashboard body part: text as it is, a reference as the logical ID (or pseudo) it names."""
    if isinstance(part, str):
        return part
    if "Ref" in part:
        return str(part["Ref"])
    return ".".join(part["Fn::GetAtt"])


def dashboard_metrics(synthesized: Synthesized) -> list[list[Any]]:
    """Every metric line of every widget of the dashboard, references as logical IDs."""
    [dashboard] = synthesized.resources("AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    widgets = json.loads("".join(_flatten(p) for p in body))["widgets"]
    return [line for w in widgets for line in w["properties"].get("metrics", [])]


def state_machine(synthesized: Synthesized) -> str:
    return _logical_id(synthesized, "AWS::StepFunctions::StateMachine", "WorkflowStateMachine")


def topic(synthesized: Synthesized) -> str:
    return _logical_id(synthesized, "AWS::SNS::Topic", "NotificationsTopic")


def alarm(synthesized: Synthesized, name: str) -> dict[str, Any]:
    [found] = [
        a["Properties"]
        for a in synthesized.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("AlarmName") == f"{STACK}-{name}"
    ]
    return found


# -- dashboard ---------------------------------------------------------------------------------


def test_the_dashboard_shows_executions_by_outcome_and_their_duration(
    synthesized: Synthesized,
) -> None:
    sm = state_machine(synthesized)
    states = {
        (line[1], line[4].get("stat", "Average"))
        for line in dashboard_metrics(synthesized)
        if line[0] == "AWS/States"
    }
    assert states == {
        ("ExecutionsSucceeded", "Sum"),
        ("ExecutionsFailed", "Sum"),
        ("ExecutionsTimedOut", "Sum"),
        ("ExecutionsAborted", "Sum"),
        ("ExecutionTime", "Average"),
        ("ExecutionTime", "Maximum"),
    }
    for line in dashboard_metrics(synthesized):
        if line[0] == "AWS/States":
            assert line[2:4] == ["StateMachineArn", sm]


def test_the_dashboard_shows_the_handlers_metrics_for_this_stack(synthesized: Synthesized) -> None:
    custom = [line for line in dashboard_metrics(synthesized) if line[0] == NAMESPACE]
    assert {line[1] for line in custom} == {
        "JobsSubmitted",
        "JobsCompleted",
        "JobsFailed",
        "JobsStopped",
        "ValidationErrors",
        "ValidationWarnings",
        "EvaluationGain",
        "EvaluationBaseScore",
        "EvaluationCustomScore",
        "ServingStarted",
        "ServingRemoved",
    }
    # One dimension, the stack's name: the handlers' EMF lines carry exactly that.
    assert all(line[2:4] == ["service", STACK] for line in custom)
    expressions = [line[0] for line in dashboard_metrics(synthesized) if "expression" in line[0]]
    assert expressions == [
        {
            "expression": "FILL(started, 0) - FILL(removed, 0)",
            "label": "Started minus removed",
            "period": 86400,
        }
    ]


# -- alarms ------------------------------------------------------------------------------------


def test_failed_or_timed_out_executions_alarm_to_the_topic(synthesized: Synthesized) -> None:
    props = alarm(synthesized, "failed-executions")
    assert props["AlarmActions"] == [{"Ref": topic(synthesized)}]
    assert (props["Threshold"], props["ComparisonOperator"], props["EvaluationPeriods"]) == (
        1,
        "GreaterThanOrEqualToThreshold",
        1,
    )
    assert props["TreatMissingData"] == "notBreaching"
    by_id = {m["Id"]: m for m in props["Metrics"]}
    assert by_id["expr_1"]["Expression"] == "FILL(failed, 0) + FILL(timed_out, 0)"
    for metric_id, name in (("failed", "ExecutionsFailed"), ("timed_out", "ExecutionsTimedOut")):
        stat = by_id[metric_id]["MetricStat"]
        assert stat["Metric"] == {
            "Namespace": "AWS/States",
            "MetricName": name,
            "Dimensions": [
                {"Name": "StateMachineArn", "Value": {"Ref": state_machine(synthesized)}}
            ],
        }
        assert (stat["Stat"], stat["Period"]) == ("Sum", 300)


@pytest.mark.parametrize(
    ("name", "metric", "statistic"),
    [
        ("cleanup-leftovers", "CleanupLeftovers", "Sum"),
        ("serving-past-time-to-live", "ServingPastTimeToLive", "Maximum"),
    ],
)
def test_handler_metric_alarms_to_the_topic(
    synthesized: Synthesized, name: str, metric: str, statistic: str
) -> None:
    props = alarm(synthesized, name)
    assert {k: props[k] for k in props if k not in ("AlarmDescription", "AlarmName")} == {
        "AlarmActions": [{"Ref": topic(synthesized)}],
        "Namespace": NAMESPACE,
        "MetricName": metric,
        "Dimensions": [{"Name": "service", "Value": STACK}],
        "Statistic": statistic,
        "Period": 300,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "EvaluationPeriods": 1,
        "TreatMissingData": "notBreaching",
    }


def _alarm_arn(name: str) -> str:
    return f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"


@pytest.mark.parametrize(
    "alarm_name",
    ["failed-executions", "cleanup-leftovers", "serving-past-time-to-live", "idle-throughput-*"],
)
def test_cloudwatch_may_publish_to_the_encrypted_topic_for_these_alarms_only(
    synthesized: Synthesized, alarm_name: str
) -> None:
    policies = Policies(synthesized.template)
    arn = _alarm_arn(f"{STACK}-{alarm_name}")
    # An alarm's own ARN exactly; the idle alarms' prefix as a pattern (ArnLike).
    operator = "ArnLike" if "*" in arn else "ArnEquals"
    wanted = {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        operator: {"aws:SourceArn": arn},
    }
    key_statements = [
        s
        for _, s in policies.resource_policy_statements()
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
        and s.get("Condition") == wanted
    ]
    actions = sorted(
        sorted(s["Action"]) if isinstance(s["Action"], list) else [s["Action"]]
        for s in key_statements
    )
    assert actions == [["kms:Decrypt", "kms:GenerateDataKey"], ["sns:Publish"]]


@pytest.mark.parametrize(
    ("alarm_name", "allowed"),
    [
        (f"{IDLE_PREFIX}nova-lite-ft-1e26d92319-pt", True),
        (f"{STACK}-failed-executions", True),
        ("OtherStack-idle-throughput-nova-lite-ft-pt", False),
        (f"{STACK}-failed-executions-other", False),
    ],
)
def test_the_key_and_topic_serve_cloudwatch_for_this_stacks_alarms_only(
    synthesized: Synthesized, alarm_name: str, allowed: bool
) -> None:
    policies = Policies(synthesized.template)
    key = _logical_id(synthesized, "AWS::KMS::Key", "StorageKey")
    key_arn = policies.resolve({"Fn::GetAtt": [key, "Arn"]})
    topic_arn = policies.resolve({"Ref": topic(synthesized)})
    context = {"aws:SourceArn": _alarm_arn(alarm_name), "aws:SourceAccount": "123456789012"}
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        request = Request(action, key_arn, context, service="cloudwatch.amazonaws.com")
        assert bool(policies.key_allows(key, request)) is allowed, action
    publish = Request("sns:Publish", topic_arn, context, service="cloudwatch.amazonaws.com")
    topic_statements = [
        s
        for logical_id, s in policies.resource_policy_statements()
        if logical_id.startswith("NotificationsTopicPolicy")
    ]
    assert bool(policies.allowing(publish, topic_statements)) is allowed


# -- the idle alarm: made at run time by Start serving, deleted by the cleanups -----------------


def _functions(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        f["Properties"]["Handler"]: f
        for f in synthesized.resources("AWS::Lambda::Function").values()
    }


def _statements(synthesized: Synthesized, handler: str, action: str) -> list[dict[str, Any]]:
    role = _functions(synthesized)[f"lambda_handlers.{handler}"]["Properties"]["Role"]
    policies = Policies(synthesized.template)
    return [
        s
        for s in policies.identity_statements(role["Fn::GetAtt"][0])
        if action in json.dumps(s["Action"])
    ]


def test_start_serving_may_create_idle_alarms_of_the_prefix_acting_on_the_topic_only(
    synthesized: Synthesized,
) -> None:
    pattern = _alarm_arn(f"{IDLE_PREFIX}*")
    topic_arn = Policies(synthesized.template).resolve({"Ref": topic(synthesized)})
    [put] = _statements(synthesized, "start_serving.handler", "cloudwatch:PutMetricAlarm")
    assert put["Resource"] == pattern
    assert put["Condition"] == {
        "ForAllValues:StringEquals": {"cloudwatch:AlarmActions": [topic_arn]}
    }
    [tag] = _statements(synthesized, "start_serving.handler", "cloudwatch:TagResource")
    assert tag["Resource"] == pattern
    assert not _statements(synthesized, "start_serving.handler", "cloudwatch:DeleteAlarms")


@pytest.mark.parametrize("handler", ["cleanup.handler", "cleanup.abort_handler"])
def test_the_cleanups_may_delete_idle_alarms_of_the_prefix_only(
    synthesized: Synthesized, handler: str
) -> None:
    [delete] = _statements(synthesized, handler, "cloudwatch:DeleteAlarms")
    assert (delete["Action"], delete["Resource"]) == (
        "cloudwatch:DeleteAlarms",
        _alarm_arn(f"{IDLE_PREFIX}*"),
    )
    assert not _statements(synthesized, handler, "cloudwatch:PutMetricAlarm")


def test_the_idle_hours_and_prefix_reach_exactly_the_functions_that_use_them(
    synthesized: Synthesized,
) -> None:
    with_settings = {
        handler: (env.get(HOURS_ENV), env.get(PREFIX_ENV))
        for handler, f in _functions(synthesized).items()
        if HOURS_ENV in (env := f["Properties"]["Environment"]["Variables"])
    }
    assert with_settings == {
        "lambda_handlers.start_serving.handler": ("6", IDLE_PREFIX),
        "lambda_handlers.cleanup.handler": ("6", IDLE_PREFIX),
        "lambda_handlers.cleanup.abort_handler": ("6", IDLE_PREFIX),
    }


# -- props ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("hours", [0, 25, -1, True, 1.5, "6"])
def test_idle_hours_outside_one_to_24_are_refused_by_name(hours: Any) -> None:
    with pytest.raises(ValueError, match=r"idle_throughput_hours: .*1 to 24.*got"):
        _checked_idle_hours(hours)


@pytest.mark.parametrize("hours", [1, 24, None])
def test_idle_hours_in_range_or_none_are_taken(hours: int | None) -> None:
    assert _checked_idle_hours(hours) == hours


@pytest.fixture(scope="module")
def without_dashboard_or_idle_alarm(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    result = synthesize(
        tmp_path_factory.mktemp("cdk.out.nodash"),
        {"dashboard": "false", "idleThroughputHours": "0"},
    )
    assert result.error is None, result.error
    return result


@pytest.fixture(scope="module")
def without_alarms(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    result = synthesize(tmp_path_factory.mktemp("cdk.out.noalarms"), {"alarms": "false"})
    assert result.error is None, result.error
    return result


def _alarm_names(synthesized: Synthesized) -> set[str]:
    return {
        a["Properties"]["AlarmName"]
        for a in synthesized.resources("AWS::CloudWatch::Alarm").values()
    }


def _idle_anywhere(synthesized: Synthesized) -> bool:
    text = json.dumps(synthesized.template)
    return IDLE_PREFIX in text or HOURS_ENV in text or "cloudwatch:PutMetricAlarm" in text


def test_dashboard_false_and_no_idle_hours_leave_them_out(
    synthesized: Synthesized, without_dashboard_or_idle_alarm: Synthesized
) -> None:
    assert not without_dashboard_or_idle_alarm.resources("AWS::CloudWatch::Dashboard")
    assert not _idle_anywhere(without_dashboard_or_idle_alarm)
    assert _idle_anywhere(synthesized)
    # The other alarms stay.
    assert _alarm_names(without_dashboard_or_idle_alarm) == _alarm_names(synthesized)


def test_alarms_false_leaves_every_monitoring_alarm_out(
    synthesized: Synthesized, without_alarms: Synthesized
) -> None:
    monitoring = {
        f"{STACK}-failed-executions",
        f"{STACK}-cleanup-leftovers",
        f"{STACK}-serving-past-time-to-live",
    }
    assert monitoring <= _alarm_names(synthesized)
    assert not monitoring & _alarm_names(without_alarms)
    assert not _idle_anywhere(without_alarms)
    assert without_alarms.resources("AWS::CloudWatch::Dashboard")
    # No CloudWatch permission on the key or the topic for alarms that do not exist.
    alarm_sources = [
        s
        for _, s in Policies(without_alarms.template).resource_policy_statements()
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
        and "AbortCleanup" not in s.get("Sid", "")
    ]
    assert alarm_sources == []
