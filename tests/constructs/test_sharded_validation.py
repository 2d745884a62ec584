"""Sharded validation in the template: a Distributed Map after Validate when the prop is set,
nothing of it otherwise; Validate's function gets the threshold, the shard size and one hash
seed; the map's own permissions are the ones CDK writes, acknowledged; bad props are refused."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Duration, Stack

from constructs_lib.steps.history import PollSchedule, worst_case_events
from constructs_lib.steps.sharded_validation import MIB, ShardedValidation
from tests.conftest import Synthesized
from tests.constructs.test_stack_limits import environment_of
from tests.e2e.harness import state_machine_definition


def definition(synthesized: Synthesized) -> dict[str, Any]:
    return state_machine_definition(synthesized.template)


def test_the_full_stack_validates_large_data_in_a_distributed_map(
    synthesized_full: Synthesized,
) -> None:
    states = definition(synthesized_full)["States"]
    assert states["Validate request"]["Next"] == "Data in shards?"
    choice = states["Data in shards?"]
    assert choice["Choices"] == [
        {"Variable": "$.sharded", "IsPresent": True, "Next": "Validate data in shards"}
    ]
    assert choice["Default"] == "Sweep?"
    shards = states["Validate data in shards"]
    assert shards["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert shards["ItemsPath"] == "$.sharded.shards"
    assert shards["ResultPath"] == "$.sharded.results"
    assert shards["MaxConcurrency"] == ShardedValidation.max_concurrency
    assert shards["Next"] == "Merge shard reports"
    assert [c["Next"] for c in shards["Catch"]] == ["Request rejected"]
    [inner] = shards["ItemProcessor"]["States"].values()
    assert ":function:WorkflowFunctionsValidateRequest" in inner["Resource"] and inner["Retry"]
    merge = states["Merge shard reports"]
    assert merge["Next"] == "Sweep?"
    assert [c["Next"] for c in merge["Catch"]] == ["Request rejected"]
    env = environment_of(synthesized_full, "validate_request.handler")
    assert env["SHARDED_VALIDATION_MIN_BYTES"] == str(4 * MIB)
    assert env["VALIDATION_SHARD_BYTES"] == str(MIB)
    assert int(env["PYTHONHASHSEED"]) > 0  # one seed: shards' record digests compare


def test_without_the_prop_there_is_no_map_and_no_map_permission(synthesized: Synthesized) -> None:
    states = definition(synthesized)["States"]
    assert not {"Data in shards?", "Validate data in shards", "Merge shard reports"} & set(states)
    assert states["Validate request"]["Next"] == "Sweep?"
    env = environment_of(synthesized, "validate_request.handler")
    assert not {"SHARDED_VALIDATION_MIN_BYTES", "PYTHONHASHSEED"} & set(env)
    assert not [n for n in synthesized.resources("AWS::IAM::Policy") if "DistributedMap" in n]


def test_the_map_may_start_only_executions_of_its_own_state_machine(
    synthesized_full: Synthesized,
) -> None:
    [policy] = [
        p
        for name, p in synthesized_full.resources("AWS::IAM::Policy").items()
        if "DistributedMapPolicy" in name
    ]
    [start] = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "states:StartExecution"
    ]
    [machine] = synthesized_full.resources("AWS::StepFunctions::StateMachine")
    assert start["Resource"] == {"Ref": machine}


def test_a_map_state_counts_in_the_history_budget() -> None:
    """Entered, its map run started and ended, exited; the shards' own events are in their
    child executions' histories."""
    loop = {
        "Wait": {"Type": "Wait", "Seconds": 60, "Next": "Look"},
        "Look": {"Type": "Task", "Resource": "x", "Next": "Done?"},
        "Done?": {"Type": "Choice", "Choices": [], "Default": "Wait"},
    }
    schedules = {"Wait": PollSchedule(Duration.minutes(1), Duration.minutes(1))}
    with_map = {"States": {"Shards": {"Type": "Map", "Next": "Wait"}, **loop}}
    events = worst_case_events(with_map, schedules, 3600)
    assert events - worst_case_events({"States": loop}, schedules, 3600) == 4


@pytest.mark.parametrize(
    ("prop", "value", "message"),
    [
        (
            "min_bytes",
            0,
            "sharded_validation.min_bytes must be a whole number of at least 1, got 0",
        ),
        (
            "shard_bytes",
            1000,
            "sharded_validation.shard_bytes must be a whole number of at least 1048576",
        ),
        ("max_concurrency", 2.5, "sharded_validation.max_concurrency must be a whole number"),
        ("max_concurrency", True, "sharded_validation.max_concurrency must be a whole number"),
    ],
)
def test_props_that_cannot_work_are_refused(prop: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        ShardedValidation(**{prop: value}).checked()


def test_the_hash_seed_is_the_same_at_every_synthesis_of_a_stack() -> None:
    seeds = {
        ShardedValidation().environment(Stack(App(), name))["PYTHONHASHSEED"]
        for name in ("One", "One", "Two")
    }
    assert len(seeds) == 2
