"""Large datasets validated in shards: a Step Functions Distributed Map after Validate.

When a request's data files reach ``ShardedValidation.min_bytes`` together, Validate plans byte
ranges of them instead of reading them (``lambda_handlers/sharded_validation.py``); the map
runs Validate's own function once per range, each writing its shard's report to the reports
prefix; a last invocation merges them into the report one pass gives and judges it as Validate
does. Smaller data never enters the map: Validate reads it as before.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from aws_cdk import Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn

from constructs_lib.nag import acknowledge
from constructs_lib.steps.base import LambdaStep
from constructs_lib.steps.flow import Fragment, when

GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True)
class ShardedValidation:
    """Validate data of ``min_bytes`` or more with a Distributed Map, in shards of
    ``shard_bytes``, ``max_concurrency`` at a time; the report is the one a single pass gives."""

    min_bytes: int = 2 * GIB
    """Data files (training and validation together) of at least this many bytes are
    validated in shards. Default 2 GiB: one function reads less within its 15 minutes."""
    shard_bytes: int = 256 * MIB
    """The bytes of a shard (cut at line ends). Default 256 MiB: some seconds per invocation.
    Past 400 shards (about 100 GB) shards grow instead: their ranges and results travel in
    the execution's state, which holds 256 KB."""
    max_concurrency: int = 40
    """Shards validated at once. Default 40: well under an account's Lambda concurrency."""

    def checked(self) -> ShardedValidation:
        for name, value, low in (
            ("min_bytes", self.min_bytes, 1),
            ("shard_bytes", self.shard_bytes, MIB),
            ("max_concurrency", self.max_concurrency, 1),
        ):
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or Token.is_unresolved(value)
                or value < low
            ):
                raise ValueError(
                    f"sharded_validation.{name} must be a whole number of at least {low}, "
                    f"got {value!r}"
                )
        return self

    def environment(self, stack: Stack) -> dict[str, str]:
        """What Validate reads; and one hash seed, so that the record digests of shards
        validated by different invocations compare (derived from the stack's name, so the
        template does not change from one synthesis to the next)."""
        seed = int(hashlib.sha256(stack.stack_name.encode()).hexdigest()[:8], 16) or 1
        return {
            "SHARDED_VALIDATION_MIN_BYTES": str(self.min_bytes),
            "VALIDATION_SHARD_BYTES": str(self.shard_bytes),
            "PYTHONHASHSEED": str(seed),
        }


def in_shards(step: LambdaStep, sharding: ShardedValidation, rejected: sfn.IChainable) -> Fragment:
    """When Validate planned shards (``$.sharded``): the Distributed Map, then the merge; any
    failure goes to ``rejected`` as Validate's own do (nothing exists to clean up yet)."""
    scope = step.ctx.scope
    shards = sfn.DistributedMap(
        scope,
        "Validate data in shards",
        items_path="$.sharded.shards",
        item_selector={
            "shard": sfn.JsonPath.object_at("$$.Map.Item.Value"),
            "execution": {"id": sfn.JsonPath.execution_id},
        },
        result_path="$.sharded.results",
        max_concurrency=sharding.max_concurrency,
        comment="One invocation per byte range of the data; each writes its shard's report",
    )
    shards.item_processor(
        step.task(
            "Validate one shard",
            result_path="$",
            comment="Checks the lines that start in one byte range",
        )
    )
    merge = step.task(
        "Merge shard reports",
        payload=sfn.TaskInput.from_object(
            {"merge": sfn.JsonPath.object_at("$"), "execution": {"id": sfn.JsonPath.execution_id}}
        ),
        result_path="$",
        comment="The report of one pass, from the shards' reports; rejects invalid data",
    )
    shards.add_catch(rejected, errors=["States.ALL"], result_path="$")
    merge.add_catch(rejected, errors=["States.ALL"], result_path="$")
    shards.next(merge)
    return when(
        scope,
        "Data in shards?",
        sfn.Condition.is_present("$.sharded"),
        Fragment(shards, merge.next),
    )


def _as_nag_renders(value: Any) -> str:
    """A resolved ARN as cdk-nag writes it in a finding: references as ``<Name>``, other
    intrinsic functions as compact JSON."""
    if isinstance(value, str):
        return value
    if set(value) == {"Fn::Join"}:
        return "".join(_as_nag_renders(part) for part in value["Fn::Join"][1])
    if set(value) == {"Ref"}:
        return f"<{value['Ref']}>"
    if set(value) == {"Fn::GetAtt"}:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    return json.dumps(value, separators=(",", ":"))


def acknowledge_map_policy(state_machine: sfn.StateMachine) -> None:
    """The wildcards of the policy CDK writes for a Distributed Map, when there is one."""
    policy = state_machine.node.try_find_child("DistributedMapPolicy")
    if not isinstance(policy, iam.Policy):
        return
    document = Stack.of(policy).resolve(policy.document.to_json())
    resources = [
        _as_nag_renders(resource)
        for statement in document["Statement"]
        for resource in (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
    ]
    acknowledge(
        policy,
        "IAM5",
        "Generated by DistributedMap: the state machine runs each map run as child executions "
        "of itself and describes, stops or redrives them; their ARNs hold the state machine's "
        "name and run and execution ids known only at run time.",
        findings=[f"Resource::{r}" for r in resources if "*" in r],
    )
