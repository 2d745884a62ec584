"""``start``, ``status``, ``list`` and ``stop`` against moto's Step Functions (executions run by
moto's interpreter) and Bedrock and CloudFormation through the strict Stubber: what each
prints, what it changes, and each AWS error as one line with its fix."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest

from lambda_handlers.cli import run_commands
from tests.cli.helpers import ESCAPE, cells, error_line, run
from tests.cli.runs_helpers import (
    JOB_ARN,
    MACHINE_ARN,
    MODEL_ARN,
    PT_ARN,
    REGION,
    execution_arn,
    expect_job,
    expect_model,
    expect_no,
    expect_stack,
    expect_throughput,
    final_status,
    llama_request,
    offline,  # noqa: F401  (a fixture, used by name)
    planned,
    run_stand_in,
)

pytestmark = pytest.mark.usefixtures("offline")


def sfn() -> Any:
    return boto3.client("stepfunctions", region_name=REGION)


def request_file(tmp_path: Path, request: dict[str, Any] | None = None) -> str:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request or llama_request()))
    return str(path)


# --- start ----------------------------------------------------------------------------------


def test_start_refuses_a_bad_request_naming_each_field_and_starts_nothing(
    tmp_path: Path,
) -> None:
    bad = llama_request(hyperParameters={"epochCount": 99}, tags={"bedrock-customize:x": "y"})
    code, out, err = run("start", request_file(tmp_path, bad), "--state-machine-arn", MACHINE_ARN)
    assert code == 1, err
    assert out.splitlines() == [
        f"REJECTED: {tmp_path / 'request.json'} has 2 problem(s); nothing started",
        "- hyperParameters.epochCount: 99 is out of range; expected epochCount (int 1 to 10, "
        "default 5)",
        "- tags.bedrock-customize:x: keys starting with 'bedrock-customize:' or 'aws:' are "
        "reserved",
    ]
    assert sfn().list_executions(stateMachineArn=MACHINE_ARN)["executions"] == []


def test_what_only_the_stack_knows_is_left_to_its_validate_state(tmp_path: Path) -> None:
    # Another bucket, an output location, distillation: the stack decides whether it allows them.
    request = llama_request(
        trainingDataConfig={"s3Uri": "s3://team-datasets/support/train.jsonl"},
        validationDataConfig={"validators": [{"s3Uri": "s3://team-datasets/support/val.jsonl"}]},
        outputDataConfig={"s3Uri": "s3://somewhere-else/out/"},
    )
    code, out, err = run(
        "start",
        request_file(tmp_path, request),
        "--state-machine-arn",
        MACHINE_ARN,
        "--name",
        "elsewhere",
    )
    assert code == 0, (out, err)
    prefix = request_file(
        tmp_path, llama_request(trainingDataConfig={"s3Uri": "s3://data-bucket/training/"})
    )
    code, out, _ = run("start", prefix, "--state-machine-arn", MACHINE_ARN, "--name", "prefix")
    assert code == 1
    assert (
        "- trainingDataConfig.s3Uri: s3://data-bucket/training/ is a prefix; name the JSONL object"
        in out
    )


def test_start_finds_the_state_machine_in_the_stack_outputs_and_starts_it(
    tmp_path: Path, stub: Any
) -> None:
    expect_stack(stub("cloudformation"))
    code, out, err = run("start", request_file(tmp_path), "--name", "run-1")
    assert code == 0, err
    arn = execution_arn("run-1")
    assert out.splitlines() == [f"started: {arn}", f"follow it: bedrock-customize watch {arn}"]
    described = sfn().describe_execution(executionArn=arn)
    assert json.loads(described["input"]) == llama_request()


def test_start_names_the_execution_after_the_model_by_default(tmp_path: Path) -> None:
    code, out, err = run(
        "start", request_file(tmp_path), "--state-machine-arn", MACHINE_ARN, "--json"
    )
    assert code == 0, err
    started = json.loads(out)
    [listed] = sfn().list_executions(stateMachineArn=MACHINE_ARN)["executions"]
    assert started["executionArn"] == listed["executionArn"]
    assert listed["name"].startswith("support-triage-v1-2")
    assert started["reused"] is False


def test_the_same_name_and_request_is_not_started_twice(tmp_path: Path) -> None:
    path = request_file(tmp_path)
    first = run("start", path, "--state-machine-arn", MACHINE_ARN, "--name", "run-1")
    second = run("start", path, "--state-machine-arn", MACHINE_ARN, "--name", "run-1")
    assert first[0] == second[0] == 0, (first, second)
    assert second[1].startswith(f"already started: {execution_arn('run-1')} (RUNNING since 20")
    assert "not started twice" in second[1]
    assert len(sfn().list_executions(stateMachineArn=MACHINE_ARN)["executions"]) == 1


def test_the_same_name_with_another_request_is_refused(tmp_path: Path) -> None:
    run("start", request_file(tmp_path), "--state-machine-arn", MACHINE_ARN, "--name", "run-1")
    other = request_file(tmp_path, llama_request(customModelName="other-model"))
    code, out, err = run("start", other, "--state-machine-arn", MACHINE_ARN, "--name", "run-1")
    assert (code, out) == (2, "")
    assert "already exists (RUNNING) with a different request; give another --name" in error_line(
        err
    )


def test_start_with_wait_follows_the_execution_to_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sfn().update_state_machine(
        stateMachineArn=MACHINE_ARN,
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
    )
    looks: list[float] = []

    def sleep(seconds: float) -> None:  # moto's interpreter runs in a thread: let it
        looks.append(seconds)
        assert len(looks) < 500, "the execution never ended"
        import time

        time.sleep(0.01)

    monkeypatch.setattr(run_commands, "sleep", sleep)
    code, out, err = run(
        "start",
        request_file(tmp_path),
        "--state-machine-arn",
        MACHINE_ARN,
        "--name",
        "quick",
        "--wait",
        "--interval",
        "5",
    )
    assert code == 0, err
    assert out.splitlines()[0] == f"started: {execution_arn('quick')}"
    assert "SUCCEEDED after" in out
    assert set(looks) <= {5.0}


def test_an_unknown_stack_says_which_region_and_how_to_name_it(tmp_path: Path, stub: Any) -> None:
    stub("cloudformation").add_client_error(
        "describe_stacks",
        "ValidationError",
        "Stack with id Nope does not exist",
        400,
        expected_params={"StackName": "Nope"},
    )
    code, out, err = run("start", request_file(tmp_path), "--stack-name", "Nope")
    assert (code, out) == (2, "")
    line = error_line(err)
    assert f"stack 'Nope' does not exist in Region {REGION}" in line
    assert "--stack-name" in line and "--region" in line and "--state-machine-arn" in line


def test_a_stack_without_the_output_is_not_taken_for_one(tmp_path: Path, stub: Any) -> None:
    stub("cloudformation").add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "Other",
                    "CreationTime": "2026-01-01T00:00:00Z",
                    "StackStatus": "CREATE_COMPLETE",
                    "Outputs": [],
                }
            ]
        },
        {"StackName": "Other"},
    )
    code, _, err = run("list", "--stack-name", "Other")
    assert code == 2
    assert "has no StateMachineArn output" in error_line(err)


def test_a_missing_state_machine_is_named_with_the_fix(tmp_path: Path) -> None:
    missing = MACHINE_ARN + "-gone"
    code, out, err = run("start", request_file(tmp_path), "--state-machine-arn", missing)
    assert (code, out) == (2, "")
    assert "no such state machine in Region us-east-1; check --state-machine-arn" in error_line(err)


def test_access_denied_is_exit_3_naming_the_call(tmp_path: Path, stub: Any) -> None:
    stub("cloudformation").add_client_error(
        "describe_stacks",
        "AccessDenied",
        "User is not authorized",
        403,
        expected_params={"StackName": "BedrockCustomization"},
    )
    code, out, err = run("start", request_file(tmp_path))
    assert (code, out) == (3, "")
    assert "access denied: use credentials allowed to call DescribeStacks" in error_line(err)


def test_credentials_aws_does_not_accept_say_how_to_refresh_them(stub: Any) -> None:
    stub("stepfunctions").add_client_error(
        "describe_execution",
        "ExpiredTokenException",
        "The security token included in the request is expired",
        400,
        expected_params={"executionArn": execution_arn("run-1")},
    )
    code, _, err = run("status", execution_arn("run-1"))
    assert code == 3
    assert "refresh them (aws sso login, aws configure)" in error_line(err)


# --- status ---------------------------------------------------------------------------------


def test_status_of_a_training_run_shows_state_job_stages_and_costs(stub: Any) -> None:
    plan = planned("run-1")
    run_stand_in(
        "run-1",
        llama_request(),
        {
            "plan": plan.model_dump(exclude_none=True),
            "job": {"jobArn": JOB_ARN, "status": "InProgress"},
        },
    )
    bedrock = stub("bedrock")
    expect_job(bedrock, plan)  # the job's stages
    expect_job(bedrock, plan)  # the inventory
    expect_no(
        bedrock, "get_provisioned_model_throughput", {"provisionedModelId": plan.serving.name}
    )
    code, out, err = run("status", execution_arn("run-1"))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"execution: {execution_arn('run-1')}"
    assert re.fullmatch(r"status: RUNNING for \d+s \(started [-\d]+ [:\d]+ UTC\)", lines[1])
    assert "state: Wait for job" in lines
    assert (
        "customization job: InProgress (validation Completed, dataProcessing Completed, "
        "training InProgress)"
    ) in lines
    assert cells(out, "job") == ["job", JOB_ARN, "InProgress"]
    assert (
        "cost: customization job: billed per token trained (every epoch), not by the hour" in lines
    )
    assert lines[-1] == "costs now: nothing by the hour"
    assert ESCAPE not in out


def test_status_prices_the_throughput_and_storage_that_exist(stub: Any) -> None:
    plan = planned("run-2")
    run_stand_in(
        "run-2",
        llama_request(),
        {
            "plan": plan.model_dump(exclude_none=True),
            "job": {"jobArn": JOB_ARN, "status": "Completed"},
            "serving": {"arn": PT_ARN, "status": "InService"},
        },
        end="succeed",
    )
    bedrock = stub("bedrock")
    expect_job(bedrock, plan, "Completed")
    expect_job(bedrock, plan, "Completed")
    expect_throughput(bedrock, plan)
    expect_model(bedrock, plan)
    code, out, err = run("status", execution_arn("run-2"), "--json")
    assert code == 0, err
    snap = json.loads(out)
    assert snap["status"] == "SUCCEEDED"
    assert snap["found"]["serving"]["arn"] == PT_ARN
    assert snap["found"]["customModel"]["arn"] == MODEL_ARN
    items = {item["what"]: item for item in snap["costs"]["items"]}
    assert items["provisioned throughput"]["usdPerHour"] == 24.0  # 1 model unit, no commitment
    assert items["custom model"]["usdPerHour"] == pytest.approx(1.95 / 720)
    assert snap["costs"]["usdPerHour"] == pytest.approx(24.0 + 1.95 / 720)
    assert snap["costs"]["unknown"] == []

    for _ in range(2):  # the same, as lines
        expect_job(bedrock, plan, "Completed")
    expect_throughput(bedrock, plan)
    expect_model(bedrock, plan)
    code, out, err = run("status", execution_arn("run-2"))
    assert code == 0, err
    assert out.splitlines()[-2:] == [
        "costs now: $24.00 an hour",
        f"to stop paying: bedrock-customize cleanup {execution_arn('run-2')} --dry-run, then "
        "without it",
    ]


def test_status_of_a_rejected_request_says_nothing_was_created() -> None:
    arn = run_stand_in("bad-1", {"not": "a request"}, {}, end="fail")
    code, out, err = run("status", arn)
    assert code == 0, err
    assert re.search(r"^status: FAILED after \d+s \(started .+ UTC, ended .+ UTC\)$", out, re.M)
    assert "error: CustomizationJobFailed: Customization job failed during training" in out
    assert "no plan in its history: the request was rejected, nothing was created" in out


def test_status_of_a_missing_execution_is_a_usage_error_with_the_fix() -> None:
    code, out, err = run("status", execution_arn("never"))
    assert (code, out) == (2, "")
    assert "no such execution in Region us-east-1; check the ARN or name" in error_line(err)


def test_status_takes_an_execution_name_and_the_stack(stub: Any) -> None:
    expect_stack(stub("cloudformation"))
    code, _out, err = run("status", "never")
    assert code == 2
    assert f"DescribeExecution {execution_arn('never')}: no such execution" in error_line(err)


def test_a_string_that_is_not_an_execution_arn_is_refused() -> None:
    code, _, err = run("status", "arn:aws:states:us-east-1:1:stateMachine:x")
    assert code == 2
    assert "not a Step Functions execution ARN" in error_line(err)


# --- list -----------------------------------------------------------------------------------


def test_list_shows_recent_executions_outcome_and_model(tmp_path: Path) -> None:
    run("start", request_file(tmp_path), "--state-machine-arn", MACHINE_ARN, "--name", "first")
    other = request_file(tmp_path, llama_request(customModelName="other-model"))
    run("start", other, "--state-machine-arn", MACHINE_ARN, "--name", "second")
    sfn().stop_execution(executionArn=execution_arn("first"))
    assert final_status(execution_arn("first")) == "ABORTED"
    code, out, err = run("list", "--state-machine-arn", MACHINE_ARN)
    assert code == 0, err
    assert out.split()[:8] == [
        "NAME",
        "STATUS",
        "STARTED",
        "(UTC)",
        "TOOK",
        "MODEL",
        "BASE",
        "MODEL",
    ]
    assert cells(out, "first")[1] == "ABORTED"
    assert cells(out, "first")[4:] == ["support-triage-v1", "meta.llama3-1-8b-instruct-v1:0:128k"]
    assert cells(out, "second")[1] == "RUNNING"
    assert cells(out, "second")[4] == "other-model"

    code, out, _ = run("list", "--state-machine-arn", MACHINE_ARN, "--status", "ABORTED", "--json")
    assert [row["name"] for row in json.loads(out)] == ["first"]


def test_list_of_a_state_machine_without_executions_says_so() -> None:
    code, out, err = run("list", "--state-machine-arn", MACHINE_ARN)
    assert (code, out) == (0, f"no executions of {MACHINE_ARN}\n"), err


# --- stop -----------------------------------------------------------------------------------


def _running_with_serving(stub: Any, name: str) -> tuple[Any, Any]:
    plan = planned(name)
    run_stand_in(
        name,
        llama_request(),
        {
            "plan": plan.model_dump(exclude_none=True),
            "job": {"jobArn": JOB_ARN, "status": "InProgress"},
        },
    )
    bedrock = stub("bedrock")
    expect_job(bedrock, plan)  # before: training, and a throughput (a leftover of a retry)
    expect_throughput(bedrock, plan)
    return plan, bedrock


def test_stop_stops_the_execution_and_reports_what_the_abort_cleanup_removed(
    stub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan, bedrock = _running_with_serving(stub, "run-3")
    expect_job(bedrock, plan)  # the first look after the stop: nothing removed yet
    expect_throughput(bedrock, plan)
    expect_job(bedrock, plan, "Stopped")  # the next: the abort cleanup has run
    expect_no(
        bedrock, "get_provisioned_model_throughput", {"provisionedModelId": plan.serving.name}
    )
    waits: list[float] = []
    monkeypatch.setattr(run_commands, "sleep", waits.append)
    code, out, err = run("stop", execution_arn("run-3"), "--interval", "7")
    assert code == 0, err
    assert final_status(execution_arn("run-3")) == "ABORTED"
    assert waits == [7.0]
    lines = out.splitlines()
    assert lines[0] == f"stop requested: {execution_arn('run-3')}"
    assert f"removed: job {JOB_ARN} (InProgress)" in lines
    assert f"removed: serving {PT_ARN} (InService)" in lines
    assert lines[-1] == "nothing of it runs or bills by the hour any more"


def test_stop_says_what_is_still_there_when_the_cleanup_does_not_come(
    stub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan, bedrock = _running_with_serving(stub, "run-4")
    for _ in range(3):  # looks at 0, 10 and 20 seconds: the deadline is 20
        expect_job(bedrock, plan, "Stopped")
        expect_throughput(bedrock, plan)
    now = [0.0]
    monkeypatch.setattr(run_commands, "clock", lambda: now[0])
    monkeypatch.setattr(run_commands, "sleep", lambda s: now.__setitem__(0, now[0] + s))
    code, out, err = run("stop", execution_arn("run-4"), "--timeout", "20", "--interval", "10")
    assert code == 1, err
    assert f"removed: job {JOB_ARN} (InProgress)" in out
    assert f"STILL THERE: serving {PT_ARN} (InService)" in out
    assert f"bedrock-customize cleanup {execution_arn('run-4')}" in out.splitlines()[-1]


def test_stop_without_waiting_only_stops(stub: Any) -> None:
    _running_with_serving(stub, "run-5")
    code, out, err = run("stop", execution_arn("run-5"), "--no-wait")
    assert code == 0, err
    assert final_status(execution_arn("run-5")) == "ABORTED"
    assert "the stack's abort cleanup stops the job and deletes serving" in out


def test_stopping_an_ended_execution_stops_nothing() -> None:
    arn = run_stand_in("bad-2", {"not": "a request"}, {}, end="fail")
    code, out, err = run("stop", arn)
    assert code == 0, err
    assert out.splitlines() == [f"{arn} has already ended (FAILED): nothing to stop"]


def test_start_reads_the_request_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(llama_request())))
    code, out, err = run("start", "-", "--state-machine-arn", MACHINE_ARN, "--name", "piped")
    assert code == 0, err
    assert out.splitlines()[0] == f"started: {execution_arn('piped')}"


def test_stopping_a_missing_execution_is_a_usage_error() -> None:
    code, out, err = run("stop", execution_arn("never"))
    assert (code, out) == (2, "")
    assert "no such execution in Region us-east-1" in error_line(err)


def test_the_same_name_and_request_after_the_run_ended_says_it_already_ran(tmp_path: Path) -> None:
    path = request_file(tmp_path)
    run("start", path, "--state-machine-arn", MACHINE_ARN, "--name", "run-1")
    sfn().stop_execution(executionArn=execution_arn("run-1"))
    assert final_status(execution_arn("run-1")) == "ABORTED"
    code, out, err = run("start", path, "--state-machine-arn", MACHINE_ARN, "--name", "run-1")
    assert code == 0, err
    assert out.startswith(f"already ran: {execution_arn('run-1')} (ABORTED, started 20")
    assert "give another --name to run the request again" in out
