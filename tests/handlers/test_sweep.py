"""The request side of a sweep: its expansion, every check before anything is submitted, the
cost ceiling over all its runs, and the plan's runs. A request without ``sweep`` gives the
plan it gave before sweeps existed (``plans_without_sweep.json``)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from lambda_handlers import validate_request
from lambda_handlers.common import sweep
from lambda_handlers.common.errors import RequestInvalid, TrainingCostExceeded
from lambda_handlers.common.plan import Plan, build_create_job_request, make_plan
from lambda_handlers.common.request import CustomizationRequest, StackPolicy
from lambda_handlers.common.request_checks import check_request, policy_problems
from lambda_handlers.common.settings import stack_policy
from lambda_handlers.datatools.pricing import estimate_training_cost
from tests.factories import CONTEXT, EXECUTION_ARN, fine_tuning_request, jsonl, plan_for
from tests.handlers.conftest import SETTINGS_ENV
from tests.handlers.test_handlers import buckets_with, cohere_request
from tests.handlers.test_request_properties import CONTEXT as EVERY_OPTION
from tests.handlers.test_request_properties import EXTRA_REQUESTS
from tests.service_model import assert_valid_request

NOVA_RANGE = "expected learningRate (float 1e-06 to 0.0001, default 1e-05)"


def problems_of(request: dict[str, Any]) -> list[str]:
    with pytest.raises(RequestInvalid) as caught:
        check_request(request, CONTEXT)
    return caught.value.problems


def swept(**sweep_config: Any) -> dict[str, Any]:
    return fine_tuning_request(sweep=sweep_config)


def parsed(request: dict[str, Any]) -> CustomizationRequest:
    return check_request(request, CONTEXT)


# -- expansion ---------------------------------------------------------------------------


def test_each_run_is_the_requests_hyperparameters_with_the_runs_set_over_them() -> None:
    request = parsed(
        swept(runs=[{"learningRate": 0.00005}, {"epochCount": 4}, {"learningRateWarmupSteps": 0}])
    )
    assert sweep.expand(request) == [
        {"epochCount": 2, "learningRate": 0.00005},
        {"epochCount": 4, "learningRate": 0.00001},
        {"epochCount": 2, "learningRate": 0.00001, "learningRateWarmupSteps": 0},
    ]


def test_a_grid_is_every_combination_names_sorted_the_last_varying_fastest() -> None:
    # Given learningRate first: the order is the names', not the document's, so a request
    # re-serialized with its keys in another order gives the same runs.
    grid = {"learningRate": [0.00001, 0.00005, 0.0001], "epochCount": [1, 3]}
    runs = sweep.expand(parsed(swept(grid=grid)))
    assert [(r["epochCount"], r["learningRate"]) for r in runs] == [
        (1, 0.00001),
        (1, 0.00005),
        (1, 0.0001),
        (3, 0.00001),
        (3, 0.00005),
        (3, 0.0001),
    ]
    reordered = swept(grid={"epochCount": [1, 3], "learningRate": [0.00001, 0.00005, 0.0001]})
    assert sweep.expand(parsed(reordered)) == runs


def test_a_request_without_a_sweep_expands_to_no_runs() -> None:
    assert sweep.expand(parsed(fine_tuning_request())) == []


def test_expansion_refuses_past_the_hard_maximum_without_building_the_grid() -> None:
    # Never built: 10**12 combinations. check_request refuses it first; expand refuses too.
    grid = {f"p{i}": list(range(10)) for i in range(12)}
    config = CustomizationRequest.model_validate(swept(grid=grid)).sweep
    assert config is not None and sweep.run_count(config) == 10**12
    with pytest.raises(ValueError, match=r"sweep: 1000000000000 runs; at most 20"):
        sweep.run_sets(config)


# -- the checks before anything is submitted ---------------------------------------------


def test_a_run_out_of_range_is_named_by_run_and_field() -> None:
    problems = problems_of(swept(runs=[{"learningRate": 0.00005}, {"learningRate": 0.5}]))
    assert problems == [f"sweep.runs[1].learningRate: 0.5 is out of range; {NOVA_RANGE}"]


def test_every_bad_value_of_every_run_is_listed() -> None:
    problems = problems_of(
        swept(runs=[{"epochCount": 9}, {"learningRate": "fast", "epochs": 3}, {"epochCount": 2.5}])
    )
    assert (
        problems[0]
        == "sweep.runs[0].epochCount: 9 is out of range; expected epochCount (int 1 to 5, default 2)"
    )
    assert problems[1].startswith("sweep.runs[1].learningRate: 'fast' is not a number;")
    assert problems[2].startswith("sweep.runs[1].epochs: unknown for Amazon Nova Lite; allowed:")
    assert problems[3].startswith("sweep.runs[2].epochCount: 2.5 is not a whole number;")
    assert len(problems) == 4


def test_a_grid_value_out_of_range_is_named_by_its_place_in_the_grid() -> None:
    problems = problems_of(swept(grid={"epochCount": [1, 2], "learningRate": [0.00001, 0.5]}))
    assert problems == [f"sweep.grid.learningRate[1]: 0.5 is out of range; {NOVA_RANGE}"]


def test_a_grid_name_the_model_does_not_have_is_named_once() -> None:
    [problem] = problems_of(swept(grid={"batchSize": [8, 16, 32]}))
    assert problem.startswith("sweep.grid.batchSize: unknown for Amazon Nova Lite; allowed:")


def test_runs_with_an_unknown_model_are_held_to_names_some_model_has() -> None:
    problems = problems_of(
        fine_tuning_request(baseModelIdentifier="nope", sweep={"runs": [{"epochz": 1}, {}]})
    )
    assert any(p.startswith("sweep.runs[0].epochz: not a hyperparameter of any") for p in problems)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            {"runs": [{}, {"epochCount": 3}], "grid": {"epochCount": [1, 2]}},
            "sweep: give exactly one of runs (a list of hyperparameter sets) or grid",
        ),
        ({"maxConcurrency": 2}, "sweep: give exactly one of runs"),
        (
            {"runs": [{"epochCount": 3}]},
            "sweep: 1 run; a sweep needs at least 2 (for one job, give its settings in "
            "hyperParameters without a sweep)",
        ),
        ({"grid": {"epochCount": [3], "learningRate": [0.00002]}}, "sweep: 1 run (grid 1 x 1);"),
        (
            {"runs": [{"learningRateWarmupSteps": i} for i in range(21)]},
            "sweep: 21 runs; a sweep has at most 20 runs (each run is a training job billed in "
            "full); split it into several sweeps",
        ),
        (
            {"grid": {"learningRateWarmupSteps": list(range(7)), "epochCount": [1, 2, 3]}},
            "sweep: 21 runs (grid 3 x 7); a sweep has at most 20 runs",
        ),
        (
            {"runs": [{}, {"epochCount": 3}], "measure": "evaluation"},
            "sweep.measure: 'evaluation' is not supported yet: choose validationLoss or "
            "trainingLoss",
        ),
        (
            {"runs": [{"epochCount": 3}, {"epochCount": "3"}]},
            "sweep.runs[1]: the same hyperparameters as sweep.runs[0]",
        ),
        (
            {"runs": [{"epochCount": 2}, {}]},  # 2 is the request's own: the same job twice
            "sweep.runs[1]: the same hyperparameters as sweep.runs[0]",
        ),
        (
            {"grid": {"epochCount": [1, 3, 1.0]}},
            "sweep.grid.epochCount[2]: the same value as sweep.grid.epochCount[0]",
        ),
        ({"runs": [{}, {"epochCount": 3}], "maxConcurrency": 0}, "sweep.maxConcurrency: "),
        ({"runs": [{}, {"epochCount": 3}], "measure": "accuracy"}, "sweep.measure: "),
        ({"runs": [{}, {"epochCount": 3}], "parallel": 2}, "sweep.parallel: unknown field"),
        ({"runs": []}, "sweep.runs: "),
        ({"grid": {"epochCount": []}}, "sweep.grid.epochCount: "),
    ],
)
def test_a_sweep_that_cannot_run_is_refused_saying_why(config: dict, expected: str) -> None:
    problems = problems_of(swept(**config))
    assert any(p.startswith(expected) for p in problems), problems


def test_the_validation_loss_needs_validation_data() -> None:
    request = swept(runs=[{}, {"epochCount": 3}], measure="validationLoss")
    request.pop("validationDataConfig")
    assert problems_of(request) == [
        "sweep.measure: 'validationLoss' needs validationDataConfig (no validation loss without "
        "validation data); give validation data or choose trainingLoss"
    ]


def test_reinforcement_fine_tuning_is_not_swept() -> None:
    rft = {**EXTRA_REQUESTS[1], "sweep": {"runs": [{"epochCount": 1}, {"epochCount": 2}]}}
    with pytest.raises(RequestInvalid) as caught:
        check_request(rft, EVERY_OPTION)
    assert caught.value.problems == [
        "sweep: reinforcement fine-tuning takes its hyperparameters in "
        "customizationConfig.rftConfig.hyperParameters, which a sweep does not vary yet"
    ]


def test_a_valid_sweep_passes_both_forms() -> None:
    assert parsed(swept(runs=[{}, {"epochCount": 3}])).sweep is not None
    assert parsed(swept(grid={"epochCount": [1, 5], "learningRate": [0.000001, 0.0001]})).sweep


# -- the stack's limit (Validate only) ---------------------------------------------------


def nine_runs() -> CustomizationRequest:
    return parsed(swept(grid={"epochCount": [1, 2, 3], "learningRateWarmupSteps": [0, 5, 10]}))


def test_more_runs_than_the_stack_allows_names_count_limit_and_prop() -> None:
    assert policy_problems(nine_runs(), StackPolicy()) == [
        "sweep: 9 runs (grid 3 x 3); this stack allows at most 8 per sweep; ask for fewer, or "
        "the stack owner raises it with spending_limits.max_sweep_runs (context maxSweepRuns) "
        "(up to 20)"
    ]
    assert policy_problems(nine_runs(), StackPolicy(max_sweep_runs=9)) == []


def test_the_stacks_limits_come_from_its_environment() -> None:
    assert stack_policy({}).max_sweep_runs == sweep.DEFAULT_MAX_RUNS == 8
    assert stack_policy({"MAX_SWEEP_RUNS": "12"}).max_sweep_runs == 12
    assert stack_policy({}).max_sweep_concurrency == 2
    assert stack_policy({"MAX_SWEEP_CONCURRENCY": "5"}).max_sweep_concurrency == 5


def test_the_abort_cleanup_still_plans_a_sweep_the_stack_limit_refuses() -> None:
    # check_request never reads the stack's limit: a limit lowered by a later deploy must not
    # hide a running sweep's jobs from the cleanup that rebuilds its plan.
    plan = make_plan(nine_runs(), EXECUTION_ARN, CONTEXT, "BedrockCustomization")
    assert plan.sweep is not None and len(plan.sweep.runs) == 9


# -- the plan ----------------------------------------------------------------------------


def sweep_plan(request: dict[str, Any], execution_arn: str = EXECUTION_ARN) -> Plan:
    plan = plan_for(request, execution_arn)
    assert plan.sweep is not None
    return plan


def test_each_run_has_its_own_names_token_and_api_hyperparameters() -> None:
    plan = sweep_plan(swept(grid={"epochCount": [1, 3], "learningRate": [0.00001, 0.00005]}))
    assert plan.sweep is not None
    runs = plan.sweep.runs
    assert [r.jobName for r in runs] == [f"{plan.jobName}-r{i}" for i in (1, 2, 3, 4)]
    assert [r.customModelName for r in runs] == [
        f"{plan.customModelName}-r{i}" for i in (1, 2, 3, 4)
    ]
    tokens = [r.clientRequestToken for r in runs]
    assert len(set(tokens)) == 4 and plan.clientRequestToken not in tokens
    assert all(t.startswith("job-") and len(t) == 44 for t in tokens)
    assert [r.hyperParameters for r in runs] == [
        {"epochCount": "1", "learningRate": "1e-05"},
        {"epochCount": "1", "learningRate": "5e-05"},
        {"epochCount": "3", "learningRate": "1e-05"},
        {"epochCount": "3", "learningRate": "5e-05"},
    ]


def test_run_tokens_are_stable_per_execution_and_differ_between_executions() -> None:
    request = swept(runs=[{}, {"epochCount": 3}])
    first, again = sweep_plan(request), sweep_plan(request)
    other = sweep_plan(request, EXECUTION_ARN.replace("run-1", "run-2"))
    assert first.sweep == again.sweep
    assert other.sweep is not None and first.sweep is not None
    assert {r.clientRequestToken for r in first.sweep.runs}.isdisjoint(
        r.clientRequestToken for r in other.sweep.runs
    )


def test_long_names_are_cut_to_63_characters_keeping_the_suffix() -> None:
    request = fine_tuning_request(
        jobName="j" * 63,
        customModelName="m" * 58 + "_mmmm",  # cut to 59 it would end in "_"
        sweep={"runs": [{"learningRateWarmupSteps": w} for w in range(12)]},
    )
    plan = sweep_plan(request)
    assert plan.sweep is not None
    for i, run in enumerate(plan.sweep.runs):
        assert len(run.jobName) <= 63 and run.jobName.endswith(f"-r{i + 1}")
        assert len(run.customModelName) <= 63 and run.customModelName.endswith(f"-r{i + 1}")
        # What the lead's Map gives Submit: the plan with the run merged over it, which the
        # real service model accepts (names, token, hyperparameters).
        merged = Plan.model_validate({**plan.model_dump(exclude_none=True), **run.model_dump()})
        params = build_create_job_request(merged, SETTINGS_ENV["SERVICE_ROLE_ARN"], None)
        assert_valid_request("bedrock", "CreateModelCustomizationJob", params)
    assert plan.sweep.runs[9].customModelName == "m" * 58 + "-r10"
    assert len({r.jobName for r in plan.sweep.runs}) == 12


@pytest.mark.parametrize(
    ("given", "runs", "stack", "expected"),
    [
        (5, 3, 8, 3),  # above the runs: lowered to them
        (2, 3, 8, 2),
        (1, 4, 8, 1),
        (None, 3, 8, 2),  # the default
        (5, 6, 4, 4),  # above the stack's limit: lowered to it
        (None, 3, 1, 1),
    ],
)
def test_max_concurrency_is_lowered_to_the_runs_and_the_stacks_limit_not_refused(
    given: int | None, runs: int, stack: int, expected: int
) -> None:
    config: dict[str, Any] = {"runs": [{"learningRateWarmupSteps": w} for w in range(runs)]}
    if given is not None:
        config["maxConcurrency"] = given
    ctx = replace(CONTEXT, policy=StackPolicy(max_sweep_concurrency=stack))
    plan = make_plan(check_request(swept(**config), ctx), EXECUTION_ARN, ctx)
    assert plan.sweep is not None and plan.sweep.maxConcurrency == expected
    assert policy_problems(check_request(swept(**config), ctx), ctx.policy) == []


def test_the_measure_defaults_to_the_validation_loss_only_with_validation_data() -> None:
    with_validation = sweep_plan(swept(runs=[{}, {"epochCount": 3}], keepLosers=True))
    assert with_validation.sweep is not None
    assert with_validation.sweep.measure == "validationLoss" and with_validation.sweep.keepLosers
    without = swept(runs=[{}, {"epochCount": 3}])
    without.pop("validationDataConfig")
    plan = sweep_plan(without)
    assert plan.sweep is not None
    assert plan.sweep.measure == "trainingLoss" and not plan.sweep.keepLosers
    chosen = sweep_plan(swept(runs=[{}, {"epochCount": 3}], measure="trainingLoss"))
    assert chosen.sweep is not None and chosen.sweep.measure == "trainingLoss"


def test_a_sweep_adds_only_its_own_field_to_the_plan() -> None:
    request = swept(runs=[{}, {"epochCount": 3}])
    with_sweep = plan_for(request).model_dump(exclude_none=True)
    del request["sweep"]
    assert set(with_sweep) - set(plan_for(request).model_dump(exclude_none=True)) == {"sweep"}
    with_sweep.pop("sweep")
    assert with_sweep == plan_for(request).model_dump(exclude_none=True)


PLANS_BEFORE = Path(__file__).with_name("plans_without_sweep.json")


def test_a_request_without_a_sweep_gives_the_plan_it_gave_before_sweeps() -> None:
    """``plans_without_sweep.json``: these plans as the commit before sweeps (612817a) made
    them (``make_plan(...).model_dump(exclude_none=True)``)."""
    before = json.loads(PLANS_BEFORE.read_text())
    now = {
        "fine-tuning": plan_for(),
        "fine-tuning-served": plan_for(
            fine_tuning_request(serving={"mode": "auto", "timeToLiveHours": 8})
        ),
        **{
            f"extra-{i}": make_plan(
                check_request(r, EVERY_OPTION), EXECUTION_ARN, EVERY_OPTION, "BedrockCustomization"
            )
            for i, r in enumerate(EXTRA_REQUESTS)
            if "sweep" not in r
        },
    }
    assert {name: plan.model_dump(exclude_none=True) for name, plan in now.items()} == before
    assert all(plan.sweep is None for plan in now.values())


# -- the cost ceiling over the whole sweep ------------------------------------------------

COHERE = "cohere.command-text-v14:7:4k"  # $0.004 per 1,000 training tokens


def test_the_sweeps_cost_is_the_sum_of_its_runs() -> None:
    runs = [sweep.RunCost("run 1", 1), sweep.RunCost("run 2", 3), sweep.RunCost("run 3", 2)]
    check = sweep.check_sweep_cost(COHERE, 4_000, runs, 0.05, whose="maxTrainingCostUsd")
    # 4,000 tokens x (1 + 3 + 2) epochs = 24,000 tokens; x $0.004 per 1,000 = $0.096.
    assert not check.allowed
    assert check.check.estimate["training_usd"] == pytest.approx(0.096)
    assert [r["training_usd"] for r in check.runs] == pytest.approx([0.016, 0.048, 0.032])
    assert sum(r["training_usd"] for r in check.runs) == pytest.approx(
        estimate_training_cost(COHERE, 4_000, 6).training_usd
    )
    assert check.check.reason == (
        "the sweep of 3 runs: estimated $0.10 for 24,000 tokens (4,000 x 6 epochs) exceeds the "
        "ceiling of $0.05 (maxTrainingCostUsd); the most expensive run is run 2, 3 epochs, "
        "about $0.05"
    )
    assert sweep.check_sweep_cost(COHERE, 4_000, runs, 0.096).allowed  # equal is allowed


def cohere_sweep(**overrides: Any) -> dict[str, Any]:
    return cohere_request(
        sweep={"runs": [{"epochCount": 1}, {"epochCount": 3}, {"epochCount": 2}]}, **overrides
    )


def forty_records() -> bytes:
    return jsonl([{"prompt": "a" * 290, "completion": "b" * 10}] * 40)  # 100 tokens each


@mock_aws
def test_validate_refuses_a_sweep_over_the_ceiling_naming_the_costliest_run(
    stub, lambda_context
) -> None:
    buckets_with(forty_records())
    stub("bedrock")  # nothing queued: a call to Bedrock (a submit above all) fails the test
    # One run of 3 epochs would be $0.048, under the ceiling; the sweep is $0.096.
    event = {"request": cohere_sweep(maxTrainingCostUsd=0.06), "execution": {"id": EXECUTION_ARN}}
    with pytest.raises(TrainingCostExceeded) as refused:
        validate_request.handler(event, lambda_context)
    name = plan_for(cohere_sweep()).jobName
    assert str(refused.value) == (
        "the sweep of 3 runs: estimated $0.10 for 24,000 tokens (4,000 x 6 epochs) exceeds the "
        f"ceiling of $0.06 (maxTrainingCostUsd); the most expensive run is run 2 ({name}-r2), "
        "3 epochs, about $0.05"
    )


@mock_aws
def test_validate_reports_a_sweep_under_the_ceiling_run_by_run(stub, lambda_context) -> None:
    buckets_with(forty_records())
    stub("bedrock")
    event = {"request": cohere_sweep(maxTrainingCostUsd=0.1), "execution": {"id": EXECUTION_ARN}}
    result = validate_request.handler(event, lambda_context)
    estimate = result["dataset"]["costEstimate"]
    assert estimate["total_tokens"] == 24_000
    assert estimate["training_usd"] == pytest.approx(0.096) and estimate["maxUsd"] == 0.1
    assert [(r["epochs"], r["training_usd"]) for r in estimate["runs"]] == [
        (1, pytest.approx(0.016)),
        (3, pytest.approx(0.048)),
        (2, pytest.approx(0.032)),
    ]
    assert result["plan"]["sweep"]["measure"] == "trainingLoss"


@mock_aws
def test_the_stacks_ceiling_holds_the_whole_sweep_too(
    stub, lambda_context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_TRAINING_COST_USD", "0.05")
    buckets_with(forty_records())
    stub("bedrock")
    event = {"request": cohere_sweep(), "execution": {"id": EXECUTION_ARN}}
    with pytest.raises(TrainingCostExceeded, match=r"exceeds the ceiling of \$0\.05 \(this stack"):
        validate_request.handler(event, lambda_context)


# -- Validate refuses before anything is submitted ---------------------------------------


def test_validate_refuses_a_sweep_with_a_run_out_of_range_before_touching_anything(
    stub, lambda_context
) -> None:
    stub("s3")  # nothing queued: any S3 or Bedrock call would fail the test
    stub("bedrock")
    request = swept(runs=[{"epochCount": 1}, {"epochCount": 3}, {"learningRate": 0.5}])
    with pytest.raises(RequestInvalid) as refused:
        validate_request.handler(
            {"request": request, "execution": {"id": EXECUTION_ARN}}, lambda_context
        )
    assert refused.value.problems == [
        f"sweep.runs[2].learningRate: 0.5 is out of range; {NOVA_RANGE}"
    ]


@mock_aws
def test_validate_refuses_more_runs_than_the_stack_allows(
    stub, lambda_context, monkeypatch: pytest.MonkeyPatch
) -> None:
    buckets_with(forty_records())
    stub("bedrock")
    request = cohere_request(sweep={"grid": {"epochCount": [1, 2, 3], "evalPercentage": [5, 10]}})
    monkeypatch.setenv("MAX_SWEEP_RUNS", "4")
    event = {"request": request, "execution": {"id": EXECUTION_ARN}}
    with pytest.raises(RequestInvalid) as refused:
        validate_request.handler(event, lambda_context)
    assert refused.value.problems == [
        "sweep: 6 runs (grid 3 x 2); this stack allows at most 4 per sweep; ask for fewer, or "
        f"the stack owner raises it with {sweep.RAISE_SWEEP_RUNS} (up to 20)"
    ]
    monkeypatch.setenv("MAX_SWEEP_RUNS", "6")
    plan = validate_request.handler(event, lambda_context)["plan"]
    assert len(plan["sweep"]["runs"]) == 6


LLAMA_33 = "meta.llama3-3-70b-instruct-v1:0:128k"  # hyperparameters not published: passed through


def test_a_ceiling_refuses_a_sweep_whose_run_has_unknown_epochs_naming_it() -> None:
    request = fine_tuning_request(
        baseModelIdentifier=LLAMA_33,
        hyperParameters={},
        sweep={"runs": [{"epochCount": 2}, {"learningRate": 0.0001}]},
    )
    plan = plan_for(request)
    assert plan.sweep is not None
    with pytest.raises(TrainingCostExceeded) as refused:
        validate_request.check_whole_sweep_cost(plan, plan.sweep, 1_000, 1.0, "maxTrainingCostUsd")
    assert str(refused.value) == (
        "the sweep's training cost is held to 1 (maxTrainingCostUsd), but the number of epochs "
        f"of run 2 ({plan.jobName}-r2) is unknown for this model: set epochCount to have the "
        "cost checked"
    )
    unbounded = validate_request.check_whole_sweep_cost(plan, plan.sweep, 1_000, None, "no ceiling")
    assert unbounded == {
        "estimated": False,
        "reason": "the number of epochs is unknown for this model",
    }


def test_an_epoch_count_that_is_not_a_whole_number_names_the_run() -> None:
    request = fine_tuning_request(
        baseModelIdentifier=LLAMA_33,
        hyperParameters={},
        sweep={"runs": [{"epochCount": 2}, {"epochCount": "two"}]},
    )
    plan = plan_for(request)
    assert plan.sweep is not None
    with pytest.raises(RequestInvalid) as refused:
        validate_request.check_whole_sweep_cost(plan, plan.sweep, 1_000, None, "no ceiling")
    assert refused.value.problems == [
        f"sweep run 2 ({plan.jobName}-r2): epochCount: epochCount must be a whole number of 1 "
        "or more, got 'two'"
    ]
