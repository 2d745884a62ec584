"""Completion by event, in the template: the wait is a task token with the safety poll as its
timeout, the rule lets through only end states of this stack's jobs, and the park and the relay
may touch only the tokens and this state machine's tasks, as IAM and KMS will read them.

Polling-only is a context value away, and leaves none of it.
"""

from __future__ import annotations

from typing import Any

import pytest

from lambda_handlers.common.job_waits import END_STATUSES, wait_key
from tests.conftest import synthesize
from tests.e2e.fake_bedrock import ACCOUNT, REGION
from tests.e2e.harness import TemplateResolver, state_machine_definition
from tests.factories import JOB_ARN
from tests.iam_tags import function_role
from tests.policy_eval import Policies, Request

PARK = "lambda_handlers.job_events.park_handler"
RELAY = "lambda_handlers.job_events.relay_handler"


@pytest.fixture
def polling(synthesized_polling) -> dict[str, Any]:
    return synthesized_polling.template  # type: ignore[no-any-return]


def job_rules(template: dict[str, Any]) -> list[dict[str, Any]]:
    resolver = TemplateResolver(template)
    return [
        resolver.resolve(r["Properties"])
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Events::Rule"
        and r["Properties"].get("EventPattern", {}).get("source") == ["aws.bedrock"]
    ]


def service_role_arn(template: dict[str, Any]) -> str:
    """The role customization jobs run as (the stack's output ServiceRoleArn)."""
    value = template["Outputs"]["ServiceRoleArn"]["Value"]
    return str(TemplateResolver(template).resolve(value))


def test_the_wait_is_a_task_token_that_times_out_into_another_park(synthesized) -> None:
    states = state_machine_definition(synthesized.template)["States"]
    wait = states["Wait for job event"]
    assert wait["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert wait["Parameters"]["Payload"]["taskToken.$"] == "$$.Task.Token"
    assert wait["TimeoutSeconds"] == 30 * 60, "the safety poll: 30 minutes by default"
    assert wait["Next"] == "Check job status"
    timeout, other = wait["Catch"]
    assert (timeout["ErrorEquals"], timeout["Next"]) == (["States.Timeout"], "Safety poll")
    assert states["Safety poll"] == {
        "Type": "Pass",
        "Comment": states["Safety poll"]["Comment"],
        "Next": "Wait for job event",
    }
    assert (other["ErrorEquals"], other["Next"]) == (["States.ALL"], "Wait for job")
    # A timeout here is the safety poll: no Retry rule may swallow it.
    retried = {e for rule in wait["Retry"] for e in rule["ErrorEquals"]}
    assert not retried & {"States.Timeout", "States.ALL", "Sandbox.Timedout"}
    assert states["Wait for job"]["Next"] == "Check job status"
    assert states["Job completed?"]["Default"] == "Wait for job event"


def test_the_rule_passes_only_end_states_of_jobs_that_run_as_this_stacks_role(
    synthesized,
) -> None:
    template = synthesized.template
    [rule] = job_rules(template)
    pattern = rule["EventPattern"]
    assert pattern["detail-type"] == ["Model Customization Job State Change"]
    assert sorted(pattern["detail"]["jobStatus"]) == sorted(END_STATUSES)
    assert pattern["detail"]["roleArn"] == [service_role_arn(template)]
    [target] = rule["Targets"]
    relay = next(
        k
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"]["Handler"] == RELAY
    )
    assert target["Arn"] == TemplateResolver(template).get_att(relay, "Arn")


def test_polling_only_leaves_no_token_no_rule_and_the_poll_loop(polling) -> None:
    states = state_machine_definition(polling)["States"]
    assert "Wait for job event" not in states
    assert states["Wait for job"]["Next"] == "Check job status"
    assert job_rules(polling) == []
    handlers = {
        r["Properties"]["Handler"]
        for r in polling["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    }
    assert not handlers & {PARK, RELAY}


def test_the_safety_poll_is_a_context_value(tmp_path_factory) -> None:
    # A shorter safety poll means more rounds in the history: one sweep run at a time fits.
    context = {"jobSafetyPollMinutes": "10", "maxSweepConcurrency": "1"}
    result = synthesize(tmp_path_factory.mktemp("cdk.out.safety"), context)
    assert result.error is None, result.error
    states = state_machine_definition(result.template)["States"]
    assert states["Wait for job event"]["TimeoutSeconds"] == 600


@pytest.mark.parametrize("minutes", ["0.5", "2000"])
def test_a_safety_poll_out_of_range_is_refused_by_name(tmp_path_factory, minutes) -> None:
    result = synthesize(tmp_path_factory.mktemp("cdk.out.bad"), {"jobSafetyPollMinutes": minutes})
    assert result.error is not None
    assert "safety_poll must be between 1 minute and 24 hours" in result.error


# -- what the park and the relay may do, as IAM and KMS will read it ---------------------------

STATE_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:BedrockCustomization-customization"
OTHER_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:someone-else"


def artifacts(template: dict[str, Any]) -> str:
    [bucket] = [
        k
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::S3::Bucket" and k.startswith("StorageArtifacts")
    ]
    return TemplateResolver(template).physical_name(bucket)


@pytest.mark.parametrize("handler", [PARK, RELAY])
def test_only_this_state_machines_tasks_may_be_resumed(synthesized, handler) -> None:
    template = synthesized.template
    policies, role = Policies(template), function_role(template, handler)
    assert policies.role_allows(Request("states:SendTaskSuccess", STATE_MACHINE, role=role))
    assert not policies.role_allows(Request("states:SendTaskSuccess", OTHER_MACHINE, role=role))
    for action in ("states:SendTaskFailure", "states:StopExecution", "states:StartExecution"):
        assert not policies.role_allows(Request(action, STATE_MACHINE, role=role)), action
    # The task's output is execution data: encrypted under this state machine's context only.
    [key] = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::KMS::Key"]
    key_arn = TemplateResolver(template).get_att(key, "Arn")
    context = "kms:EncryptionContext:aws:states:stateMachineArn"
    mine = Request("kms:GenerateDataKey", key_arn, {context: STATE_MACHINE}, role=role)
    other = Request("kms:GenerateDataKey", key_arn, {context: OTHER_MACHINE}, role=role)
    assert policies.role_allows(mine) and not policies.role_allows(other)


def test_the_park_writes_tokens_and_the_relay_only_reads_them(synthesized) -> None:
    template = synthesized.template
    policies, bucket = Policies(template), artifacts(template)
    park, relay = function_role(template, PARK), function_role(template, RELAY)
    token = f"arn:aws:s3:::{bucket}/{wait_key(JOB_ARN)}"
    report = f"arn:aws:s3:::{bucket}/reports/some-job/data-validation.json"
    assert policies.role_allows(Request("s3:PutObject", token, role=park))
    assert not policies.role_allows(Request("s3:PutObject", report, role=park))
    assert not policies.role_allows(Request("s3:GetObject", token, role=park))
    assert policies.role_allows(Request("s3:GetObject", token, role=relay))
    assert not policies.role_allows(Request("s3:PutObject", token, role=relay))
    assert not policies.role_allows(Request("s3:GetObject", report, role=relay))
    listing = f"arn:aws:s3:::{bucket}"
    assert policies.role_allows(
        Request("s3:ListBucket", listing, {"s3:prefix": wait_key(JOB_ARN)}, role=relay)
    )
    assert not policies.role_allows(
        Request("s3:ListBucket", listing, {"s3:prefix": "reports/"}, role=relay)
    )


def test_the_tokens_expire_long_after_any_execution(synthesized) -> None:
    [bucket] = [
        r
        for k, r in synthesized.template["Resources"].items()
        if r["Type"] == "AWS::S3::Bucket" and k.startswith("StorageArtifacts")
    ]
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    [waits] = [r for r in rules if r.get("Prefix") == "job-waits/"]
    assert waits["ExpirationInDays"] == 30 and waits["Status"] == "Enabled"


def test_a_safety_poll_whose_rounds_do_not_fit_the_history_is_refused(tmp_path_factory) -> None:
    # Two sweep runs at once, each parking every 10 minutes for 7 days, are over the budget.
    context = {"jobSafetyPollMinutes": "10", "maxSweepConcurrency": "2"}
    result = synthesize(tmp_path_factory.mktemp("cdk.out.crowded"), context)
    assert result.error is not None
    assert "history events" in result.error and "max_sweep_concurrency" in result.error
