"""Training: one job, or a sweep's runs in a Map and the winner chosen.

    Sweep? -- no --> Submit customization job -> (the wait for the job)
           -- yes -> Train the runs (Map over $.plan.sweep.runs, at most maxConcurrency at once:
                        Submit run -> (the wait for the run's job) -> Run finished
                        any failure of a run -> Run failed: the sweep goes on)
                     -> Choose the winner -> The winner's job ($.job)

Each iteration gets the plan with the run's job name, model name, token and hyperparameters
merged in (``States.JsonMerge``), so the same functions submit and follow a run as they do the
one job, with the same retries and the same wait (by event, with the safety poll, or polling).
A run's own failure (Failed, Stopped, a training gate, a job that cannot be followed) ends that
iteration with the error beside its plan; choosing the winner fails the execution into cleanup
only when no run completed with its measure (``lambda_handlers/sweep_winner.py``).
"""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import aws_stepfunctions as sfn

from constructs_lib.steps.base import StepContext
from constructs_lib.steps.flow import Fragment, sequence
from constructs_lib.steps.job_events import JobFollowing
from constructs_lib.steps.training import SWEEP_RUN

MAP_STATE = "Train the runs"


def _runs(ctx: StepContext, following: JobFollowing, on_error: sfn.IChainable) -> sfn.Map:
    """The Map: every run submitted and followed; each ends with its job or its error."""
    scope = ctx.scope
    failed = sfn.Pass(
        scope,
        "Run failed",
        comment="The run's own failure: kept beside its plan, the sweep goes on",
        parameters={"plan.$": "$.plan", "error.$": "$.error"},
    )
    run = following.chain(failed, left_running=failed, names=SWEEP_RUN)
    run.continue_with(
        sfn.Pass(
            scope,
            "Run finished",
            comment="The run's job completed: its plan and what Check run status read",
            parameters={"plan.$": "$.plan", "job.$": "$.job"},
        )
    )
    runs = sfn.Map(
        scope,
        MAP_STATE,
        comment="Each run of the sweep: its plan is the execution's with the run's names, "
        "token and hyperparameters",
        items_path="$.plan.sweep.runs",
        max_concurrency_path="$.plan.sweep.maxConcurrency",
        item_selector={
            "plan": sfn.JsonPath.json_merge(
                sfn.JsonPath.object_at("$.plan"), sfn.JsonPath.object_at("$$.Map.Item.Value")
            )
        },
        result_path="$.runs",
    )
    runs.item_processor(run.start)
    runs.add_catch(on_error, errors=["States.ALL"], result_path="$.error")
    return runs


def training(
    ctx: StepContext,
    following: JobFollowing,
    choose: Callable[[sfn.IChainable], Fragment],
    *,
    on_error: sfn.IChainable,
    left_running: sfn.IChainable,
) -> Fragment:
    """One job, or the sweep's runs and the winner, then on to serving with ``$.job``.

    ``choose``: the winner step's fragment for ``on_error`` (``constructs_lib/steps/sweep.py``).
    """
    scope = ctx.scope
    single = following.chain(on_error, left_running=left_running)
    winner = sfn.Pass(
        scope,
        "The winner's job",
        comment="The winning run's job, as the one job's would be: served, evaluated, gated",
        input_path="$.sweep.job",
        result_path="$.job",
    )
    sweep = sequence(
        Fragment.of(_runs(ctx, following, on_error)), choose(on_error), Fragment.of(winner)
    )
    choice = sfn.Choice(scope, "Sweep?")
    choice.when(sfn.Condition.is_present("$.plan.sweep"), sweep.start).otherwise(single.start)

    def continue_with(after: sfn.IChainable) -> None:
        single.continue_with(after)
        sweep.continue_with(after)

    return Fragment(choice, continue_with)
