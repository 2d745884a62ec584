"""A provisioned throughput's idle alarm, through the synthesized state machine offline: Start
serving creates it (in moto's CloudWatch) on the metric Bedrock publishes for that throughput,
acting on the stack's topic; the cleanup that deletes the throughput deletes it."""

from __future__ import annotations

from typing import Any

import boto3

from tests.e2e.fake_bedrock import REGION, FakeBedrock
from tests.e2e.harness import OfflineWorkflow
from tests.e2e.requests import request_for

PREFIX = "BedrockCustomization-idle-throughput-"


def idle_alarms() -> list[dict[str, Any]]:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    return list(cloudwatch.describe_alarms(AlarmNamePrefix=PREFIX)["MetricAlarms"])


def test_a_served_throughput_is_watched_for_idleness(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    execution = workflow.run(request_for(workflow, serving={"mode": "provisioned-throughput"}))

    assert execution.status == "SUCCEEDED"
    [throughput] = bedrock.live_serving()
    [alarm] = idle_alarms()
    assert alarm["AlarmName"] == f"{PREFIX}{execution.output['plan']['serving']['name']}"
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Bedrock", "Invocations")
    assert alarm["Dimensions"] == [{"Name": "ModelId", "Value": throughput}]
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Sum", 3600, 6)
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "LessThanOrEqualToThreshold")
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["AlarmActions"] == [workflow.topic_arn]
    tags = boto3.client("cloudwatch", region_name=REGION).list_tags_for_resource(
        ResourceARN=alarm["AlarmArn"]
    )["Tags"]
    assert {"Key": "bedrock-customize:stack", "Value": "BedrockCustomization"} in tags


def test_the_cleanup_that_deletes_the_throughput_deletes_its_alarm(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    bedrock.serving_statuses = ["Creating", "Failed"]
    execution = workflow.run(request_for(workflow, serving={"mode": "provisioned-throughput"}))

    assert execution.status == "FAILED"
    assert "CreateProvisionedModelThroughput" in bedrock.operations()
    assert bedrock.live_serving() == []
    assert idle_alarms() == [], "the alarm outlived the throughput it watched"


def test_no_alarm_for_an_on_demand_deployment(
    workflow: OfflineWorkflow, bedrock: FakeBedrock
) -> None:
    execution = workflow.run(request_for(workflow, serving={"mode": "on-demand-deployment"}))

    assert execution.status == "SUCCEEDED"
    assert len(bedrock.live_serving()) == 1
    assert idle_alarms() == []
