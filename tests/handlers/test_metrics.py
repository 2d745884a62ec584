"""Handlers' metrics, read from the EMF lines Powertools writes to stdout, and the idle alarm
Start serving makes for a provisioned throughput (and cleanup deletes)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.stub import ANY

from lambda_handlers import cleanup, evaluate_model, start_serving, submit_job, validate_request
from lambda_handlers.common import observability
from lambda_handlers.common.errors import BedrockThrottled, TrainingDataInvalid
from lambda_handlers.common.observability import entry_point
from lambda_handlers.evaluation.gate import judge_gate
from tests.factories import (
    EXECUTION_ARN,
    JOB_ARN,
    MODEL_ARN,
    PT_ARN,
    fine_tuning_request,
    plan_for,
)
from tests.handlers.test_cleanup import OURS
from tests.handlers.test_handlers import pt_description, state

PREFIX = "BedrockCustomization-idle-throughput-"


@pytest.fixture(autouse=True)
def no_metrics_left() -> None:
    """Each test starts with no metric added (Powertools keeps them per process)."""
    observability.metrics.clear_metrics()


def emitted(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The EMF documents printed so far (Powertools' log lines are JSON too, without ``_aws``)."""
    documents = []
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("{"):
            document = json.loads(line)
            if "_aws" in document:
                documents.append(document)
    return documents


def values(document: dict[str, Any]) -> dict[str, Any]:
    """Metric name -> value of one EMF document, after checking its namespace and dimension."""
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "BedrockCustomization"
    assert directive["Dimensions"] == [["service"]]
    return {m["Name"]: _one(document[m["Name"]]) for m in directive["Metrics"]}


def _one(value: Any) -> Any:
    """Powertools writes each metric's values as a list: one value, as one number (two values
    added in one invocation stay a list, and fail the comparison)."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def only(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    (document,) = emitted(capsys)
    return values(document)


# -- the entry point ------------------------------------------------------------------------


def test_metrics_are_flushed_once_with_the_stack_as_only_dimension(
    capsys, lambda_context, monkeypatch
) -> None:
    monkeypatch.setenv("STACK_NAME", "team-a-customization")

    @entry_point("plan.executionArn")
    def handler(event: dict[str, Any], context: Any) -> str:
        observability.count("JobsSubmitted")
        observability.measure("EvaluationGain", 0.25)
        return "done"

    assert handler({"plan": {"executionArn": EXECUTION_ARN}}, lambda_context) == "done"
    (document,) = emitted(capsys)
    assert values(document) == {"JobsSubmitted": 1.0, "EvaluationGain": 0.25}
    assert document["service"] == "team-a-customization"
    units = {m["Name"]: m["Unit"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units == {"JobsSubmitted": "Count", "EvaluationGain": "None"}
    # No execution ARN among the dimensions: one series per stack, not one per execution.
    assert EXECUTION_ARN not in json.dumps(document["_aws"])


def test_metrics_are_flushed_when_the_handler_raises(capsys, lambda_context) -> None:
    @entry_point("plan.executionArn")
    def handler(event: dict[str, Any], context: Any) -> None:
        observability.count("CleanupLeftovers", 3)
        raise BedrockThrottled("slow down")

    with pytest.raises(BedrockThrottled):
        handler({}, lambda_context)
    assert only(capsys) == {"CleanupLeftovers": 3.0}


def test_a_handler_that_counts_nothing_prints_no_metrics(capsys, lambda_context) -> None:
    @entry_point("plan.executionArn")
    def handler(event: dict[str, Any], context: Any) -> int:
        return 1

    handler({}, lambda_context)
    assert emitted(capsys) == []


def test_the_trace_is_annotated_with_the_execution(lambda_context, monkeypatch) -> None:
    annotations: list[tuple[str, Any]] = []
    monkeypatch.setattr(
        observability.tracer, "put_annotation", lambda key, value: annotations.append((key, value))
    )

    @entry_point("plan.executionArn")
    def handler(event: dict[str, Any], context: Any) -> None:
        return None

    handler({"plan": {"executionArn": EXECUTION_ARN}}, lambda_context)
    handler({}, lambda_context)  # no execution (an event without one): no annotation
    assert annotations == [("execution_arn", EXECUTION_ARN)]


@pytest.mark.parametrize(
    ("status", "metric"),
    [
        ("Completed", "JobsCompleted"),
        ("Failed", "JobsFailed"),
        ("Stopped", "JobsStopped"),
        ("InProgress", None),
        ("Stopping", None),
    ],
)
def test_a_job_outcome_counts_only_an_end(capsys, status: str, metric: str | None) -> None:
    observability.count_job_outcome(status)
    observability.flush_metrics()
    assert [values(d) for d in emitted(capsys)] == ([{metric: 1.0}] if metric else [])


# -- what each handler counts -----------------------------------------------------------------


def test_submit_counts_the_job_it_submitted(stub, capsys, lambda_context) -> None:
    plan = plan_for()
    stub("bedrock").add_response("create_model_customization_job", {"jobArn": JOB_ARN})
    submit_job.handler(state(plan), lambda_context)
    assert only(capsys) == {"JobsSubmitted": 1.0}


def test_validation_counts_errors_and_warnings_even_when_it_rejects(stub, capsys) -> None:
    plan = plan_for()
    settings = validate_request.Settings.from_env()
    request = validate_request.check_request(fine_tuning_request(), settings.request_context())
    report = {
        "verdict": "invalid",
        "summary": "INVALID",
        "errors": {"missing_field": 3, "too_long": 2},
        "warnings": {"near_duplicate": 4},
    }
    s3 = stub("s3")
    s3.add_response("put_object", {})
    with pytest.raises(TrainingDataInvalid):
        validate_request.judge_data(report, request, plan, settings, s3.client)
    observability.flush_metrics()
    assert only(capsys) == {"ValidationErrors": 5.0, "ValidationWarnings": 4.0}


def _results(base: float, custom: float) -> dict[str, Any]:
    return {
        "records": 10,
        "metrics": {
            "exact_match": {"base": base, "custom": custom, "gain": custom - base},
            "token_f1": {"base": 0.1, "custom": 0.2, "gain": 0.1},
        },
    }


@pytest.mark.parametrize(
    ("gate", "expected"),
    [
        (None, {"base": 0.5, "custom": 0.75, "gain": 0.25, "gate": None}),
        (
            {"metric": "token_f1", "minImprovement": 0.05},
            {"base": 0.1, "custom": 0.2, "gain": 0.1, "gate": "QualityGatePassed"},
        ),
        (
            {"metric": "exact_match", "threshold": 0.9},
            {"base": 0.5, "custom": 0.75, "gain": 0.25, "gate": "QualityGateFailed"},
        ),
    ],
)
def test_evaluation_emits_the_gates_scores_and_its_verdict(capsys, gate, expected) -> None:
    results = _results(0.5, 0.75)
    evaluate_model.emit_scores(results, judge_gate(results, gate) if gate else None)
    observability.flush_metrics()
    (document,) = emitted(capsys)
    got = values(document)
    assert got.pop("EvaluationBaseScore") == pytest.approx(expected["base"])
    assert got.pop("EvaluationCustomScore") == pytest.approx(expected["custom"])
    assert got.pop("EvaluationGain") == pytest.approx(expected["gain"])
    assert got == ({expected["gate"]: 1.0} if expected["gate"] else {})
    assert document["score"] == (gate["metric"] if gate else "exact_match")


# -- the idle alarm of a provisioned throughput -------------------------------------------------


@pytest.fixture
def idle_alarms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDLE_THROUGHPUT_HOURS", "6")
    monkeypatch.setenv("IDLE_ALARM_PREFIX", PREFIX)


def throughput_plan():
    return plan_for(fine_tuning_request(serving={"mode": "provisioned-throughput"}))


def test_start_serving_makes_an_idle_alarm_on_bedrocks_invocations_metric(
    stub, capsys, lambda_context, idle_alarms, settings_env
) -> None:
    plan = throughput_plan()
    stub("bedrock").add_response(
        "create_provisioned_model_throughput", {"provisionedModelArn": PT_ARN}
    )
    stub("cloudwatch").add_response(
        "put_metric_alarm",
        {},
        {
            "AlarmName": f"{PREFIX}{plan.serving.name}",
            "AlarmDescription": ANY,
            "ActionsEnabled": True,
            "AlarmActions": [settings_env["TOPIC_ARN"]],
            "Namespace": "AWS/Bedrock",
            "MetricName": "Invocations",
            "Dimensions": [{"Name": "ModelId", "Value": PT_ARN}],
            "Statistic": "Sum",
            "Period": 3600,
            "EvaluationPeriods": 6,
            "DatapointsToAlarm": 6,
            "Threshold": 0,
            "ComparisonOperator": "LessThanOrEqualToThreshold",
            "TreatMissingData": "breaching",
            "Tags": [{"Key": k, "Value": v} for k, v in plan.tags.items()],
        },
    )
    start_serving.handler(state(plan, job={"outputModelArn": MODEL_ARN}), lambda_context)
    assert only(capsys) == {"ServingStarted": 1.0}


def test_no_idle_alarm_for_a_deployment_or_when_the_stack_has_it_off(
    stub, capsys, lambda_context, monkeypatch
) -> None:
    # No IDLE_THROUGHPUT_HOURS: a throughput gets no alarm (no CloudWatch call is stubbed,
    # so one would fail the test).
    stub("bedrock").add_response(
        "create_provisioned_model_throughput", {"provisionedModelArn": PT_ARN}
    )
    start_serving.handler(
        state(throughput_plan(), job={"outputModelArn": MODEL_ARN}), lambda_context
    )
    assert only(capsys) == {"ServingStarted": 1.0}


# -- cleanup: leftovers, serving past its time-to-live, the idle alarm deleted ------------------


def _ttl_event(plan: Any) -> dict[str, Any]:
    return {**state(plan), "reason": "time-to-live"}


def _found_our_throughput(bedrock: Any) -> None:
    bedrock.add_client_error("get_model_customization_job", "ResourceNotFoundException", "none")
    bedrock.add_response("get_provisioned_model_throughput", pt_description("InService"))
    bedrock.add_response("list_tags_for_resource", OURS)


def test_the_time_to_live_cleanup_removes_serving_and_its_alarm(
    stub, capsys, lambda_context, idle_alarms
) -> None:
    plan = throughput_plan()
    bedrock = stub("bedrock")
    _found_our_throughput(bedrock)
    bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
    stub("cloudwatch").add_response(
        "delete_alarms", {}, {"AlarmNames": [f"{PREFIX}{plan.serving.name}"]}
    )
    report = cleanup.handler(_ttl_event(plan), lambda_context)
    assert report["deleted"] == [PT_ARN]
    assert only(capsys) == {
        "ServingRemoved": 1.0,
        "CleanupLeftovers": 0.0,
        "ServingPastTimeToLive": 0.0,
    }


def test_serving_the_time_to_live_cleanup_could_not_delete_is_counted(
    stub, capsys, lambda_context, idle_alarms
) -> None:
    plan = throughput_plan()
    bedrock = stub("bedrock")
    _found_our_throughput(bedrock)
    bedrock.add_client_error(
        "delete_provisioned_model_throughput", "AccessDeniedException", "not authorized"
    )
    report = cleanup.handler(_ttl_event(plan), lambda_context)
    assert [p["resource"] for p in report["problems"]] == ["provisioned throughput"]
    # The alarm stays: the throughput it watches still bills.
    assert only(capsys) == {
        "ServingRemoved": 0.0,
        "CleanupLeftovers": 1.0,
        "ServingPastTimeToLive": 1.0,
    }


def test_a_time_to_live_cleanup_that_fails_counts_serving_as_past_its_time(
    stub, capsys, lambda_context
) -> None:
    plan = throughput_plan()
    stub("bedrock").add_client_error("get_model_customization_job", "ThrottlingException", "slow")
    with pytest.raises(BedrockThrottled):
        cleanup.handler(_ttl_event(plan), lambda_context)
    assert only(capsys) == {"ServingPastTimeToLive": 1.0}


def test_a_failure_cleanup_counts_no_time_to_live_and_deletes_a_left_alarm(
    stub, capsys, lambda_context, idle_alarms
) -> None:
    plan = throughput_plan()
    bedrock = stub("bedrock")
    bedrock.add_client_error("get_model_customization_job", "ResourceNotFoundException", "none")
    bedrock.add_client_error("get_provisioned_model_throughput", "ResourceNotFoundException", "no")
    # The throughput is gone (an earlier pass deleted it): its alarm may remain; none here.
    stub("cloudwatch").add_client_error("delete_alarms", "ResourceNotFound", "no such alarm")
    report = cleanup.handler({**state(plan), "error": {"Error": "States.Timeout"}}, lambda_context)
    assert report == {"stoppedJob": None, "deleted": [], "problems": []}
    assert only(capsys) == {"ServingRemoved": 0.0, "CleanupLeftovers": 0.0}


@pytest.mark.parametrize(
    ("status", "metrics"),
    [("InProgress", {}), ("Failed", {"JobsFailed": 1.0}), ("Stopped", {"JobsStopped": 1.0})],
)
def test_the_job_check_counts_a_job_that_ended(
    stub, capsys, lambda_context, status: str, metrics: dict[str, float]
) -> None:
    from lambda_handlers import check_job
    from lambda_handlers.common.errors import WorkflowError
    from tests.factories import job_description

    plan = plan_for()
    stub("bedrock").add_response(
        "get_model_customization_job",
        job_description(plan, status, failureMessage="bad data")
        if status == "Failed"
        else job_description(plan, status),
        {"jobIdentifier": JOB_ARN},
    )
    try:
        check_job.handler(state(plan, job={"jobArn": JOB_ARN}), lambda_context)
    except WorkflowError:
        assert status != "InProgress"
    found = [values(d) for d in emitted(capsys)]
    assert found == ([metrics] if metrics else [])
