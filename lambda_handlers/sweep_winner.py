"""Choose the winner of a sweep, and delete the losers' models.

Input ``{"plan": <the sweep's plan>, "runs": [per-run results of the Map, in run order]}``.
Output ``{"winner", "why", "runs", "job", "deletedModels", "problems"}``: ``job`` is the
winning run's Check job status output, which the workflow serves, evaluates and gates as it
would one job's. The choice is ``evaluation/sweep_choice.py``; ``SweepFailed`` when no run
completed with the measure.

Unless the request keeps them (``keepLosers``), the model of every losing run that completed
is deleted, as cleanup deletes a gated-out model (``cleanup.delete_owned_model``): only if it
carries this stack's and this execution's tags. A model left alone or a delete refused is a
problem, named with the command that deletes it; the winner is served all the same.
"""

from __future__ import annotations

from typing import Any

from lambda_handlers.cleanup import delete_owned_model, run_plan
from lambda_handlers.common import observability
from lambda_handlers.common.observability import entry_point, logger
from lambda_handlers.common.plan import Plan
from lambda_handlers.evaluation.sweep_choice import choose_winner


def delete_losers(
    plan: Plan, sweep: dict[str, Any], listing: list[dict[str, Any]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """Delete the model of each run in ``listing`` that completed and did not win; the ARNs
    deleted and the problems."""
    deleted: list[str] = []
    problems: list[dict[str, Any]] = []
    runs = sweep.get("runs") or []
    for entry in listing:
        model_arn = entry.get("outputModelArn")
        if entry["won"] or entry["outcome"] != "Completed" or not model_arn:
            continue
        run = runs[entry["index"]] if entry["index"] < len(runs) else {}
        outcome = delete_owned_model(run_plan(plan, run), model_arn)
        if outcome["deletedModel"]:
            deleted.append(outcome["deletedModel"])
        problems += outcome["problems"]
    return deleted, problems


@entry_point("plan.executionArn")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    plan = Plan.model_validate(event["plan"])
    sweep: dict[str, Any] = event["plan"].get("sweep") or {}
    results: list[dict[str, Any]] = event.get("runs") or []
    choice = choose_winner(sweep, results)
    deleted: list[str] = []
    problems: list[dict[str, Any]] = []
    if not sweep.get("keepLosers"):
        deleted, problems = delete_losers(plan, sweep, choice["runs"])
    # A losing model that could not be deleted costs storage every month: a leftover.
    observability.count(observability.CLEANUP_LEFTOVERS, len(problems))
    result = {
        **choice,
        "job": results[choice["winner"]]["job"],
        "deletedModels": deleted,
        "problems": problems,
    }
    logger.info(
        "sweep winner chosen",
        extra={"winner": choice["winner"], "why": choice["why"], "deleted": deleted},
    )
    return result
