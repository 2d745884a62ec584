"""Choose the winner of a sweep, and delete the losers' models.

Input ``{"plan": <the sweep's plan>, "runs": [per-run results of the Map, in run order]}``.
Output ``{"winner", "why", "runs", "job", "deletedModels", "problems"}``: ``job`` is the
winning run's Check job status output, which the workflow serves, evaluates and gates as it
would one job's. The choice is ``evaluation/sweep_choice.py``; ``SweepFailed`` when no run
completed with the measure.

Unless the request keeps them (``keepLosers``), the model of every losing run that completed
is deleted, as cleanup deletes a gated-out model (``cleanup.delete_owned_model``): only if it
carries this stack's and this execution's tags. A model left alone or a delete refused is a
problem, named with the command that deletes it; the winner is served all the same. A run
whose model missed the training gate lost too: its model, found by the run's name, is deleted
the same way unless the gate keeps it (``keepModelOnGateFailure``).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.cleanup import client_error_text, delete_owned_model, run_plan
from lambda_handlers.common import observability
from lambda_handlers.common.aws import client
from lambda_handlers.common.errors import NETWORK_ERRORS
from lambda_handlers.common.leftovers import is_not_found, looking_for
from lambda_handlers.common.observability import entry_point, logger
from lambda_handlers.common.plan import Plan
from lambda_handlers.evaluation.sweep_choice import choose_winner

_GATED_OUT = "QualityGateFailed"


def gated_out_model(plan: Plan) -> tuple[str | None, list[dict[str, Any]]]:
    """The model a run made before its training gate failed (the run's result has no job),
    found by the run's model name; ``None`` when there is none, with the problem when Bedrock
    could not say."""
    try:
        found = client("bedrock").get_custom_model(modelIdentifier=plan.customModelName)
    except ClientError as error:
        if is_not_found(error):
            return None, []
        text = client_error_text(error)
    except NETWORK_ERRORS as error:
        text = f"{type(error).__name__}: {error}"
    else:
        return str(found["modelArn"]), []
    looking = looking_for("custom model", plan.customModelName, plan.executionArn)
    return None, [looking.problem(text)]


def delete_losers(
    plan: Plan, sweep: dict[str, Any], listing: list[dict[str, Any]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """Delete the model of each run in ``listing`` that completed and did not win, and of each
    run whose model missed the training gate; the ARNs deleted and the problems."""
    deleted: list[str] = []
    problems: list[dict[str, Any]] = []
    runs = sweep.get("runs") or []
    keep_gated_out = bool((plan.trainingGate or {}).get("keepModelOnGateFailure"))
    for entry in listing:
        run = runs[entry["index"]] if entry["index"] < len(runs) else {}
        model_arn = entry.get("outputModelArn")
        if entry["outcome"] == _GATED_OUT and not keep_gated_out:
            model_arn, unfound = gated_out_model(run_plan(plan, run))
            problems += unfound
        elif entry["won"] or entry["outcome"] != "Completed":
            continue
        if not model_arn:
            continue
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
