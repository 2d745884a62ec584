"""Property-based: however malformed, a request ends in ``RequestInvalid``, never a crash.

Valid requests of every approach (the files in ``examples/`` and a few that use the fields
the examples leave out) are mutated at every field, at every depth: a value replaced by a
hostile one (None, booleans, huge and non-finite numbers, number-like and empty strings,
non-ASCII and very long text, lists, nested objects), a field removed, an unknown field
added. ``check_request`` must accept the result or raise ``RequestInvalid`` listing its
problems, and the Validate handler must end in the same ``RequestInvalid``.

Two layers: every field of every request with each value of a fixed hostile list
(exhaustive, deterministic), then hypothesis combining several mutations with generated
values. Hypothesis runs derandomized, so CI and a developer see the same examples.
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_handlers.common.errors import RequestInvalid
from lambda_handlers.common.request import RequestContext
from lambda_handlers.common.request_checks import check_request

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GRADERS = {
    name: f"arn:aws:lambda:us-east-1:123456789012:function:grader-{name}"
    for name in ("reference-match", "format", "preference", "judge")
}
# A stack with every option on, named as the examples' placeholders name it.
CONTEXT = RequestContext(
    data_bucket="your-data-bucket",
    data_prefixes=("training/", "validation/", "test/"),
    output_bucket="your-artifacts-bucket",
    output_prefix="customization-jobs/",
    extra_data_buckets=("shared-datasets",),
    enabled_types=(
        "FINE_TUNING",
        "CONTINUED_PRE_TRAINING",
        "DISTILLATION",
        "REINFORCEMENT_FINE_TUNING",
    ),
    graders=GRADERS,
    invocation_logs_uris=("s3://your-invocation-logs-bucket/logs/",),
)

# Fields no example uses, each in a valid request of its own.
EXTRA_REQUESTS: list[dict[str, Any]] = [
    {
        "customizationType": "FINE_TUNING",
        "baseModelIdentifier": "meta.llama3-1-8b-instruct-v1:0:128k",
        "jobName": "llama-ft-2026-11",
        "trainingDataConfig": {"s3Uri": "s3://shared-datasets/tickets/train.jsonl"},
        "outputDataConfig": {"s3Uri": "s3://your-artifacts-bucket/customization-jobs/llama/"},
        "hyperParameters": {"epochCount": "2", "batchSize": 1, "learningRate": "0.0001"},
        "maxTrainingCostUsd": 250.5,
        "serving": {
            "mode": "provisioned-throughput",
            "modelUnits": 2,
            "commitmentDuration": "OneMonth",
            "confirmCommitment": True,
            "name": "llama-tickets",
        },
        "evaluation": {
            "testDataConfig": {"s3Uri": "s3://your-data-bucket/test/tickets.jsonl"},
            "maxRecords": 150,
            "concurrency": 2,
            "maxTokens": 256,
            "useBatchInference": True,
            "keepModelOnGateFailure": True,
            "gate": {"metric": "f1_weighted", "threshold": 0.7},
        },
        "tags": {"team": "ml", "cost-center": "1234"},
    },
    {
        "customizationType": "REINFORCEMENT_FINE_TUNING",
        "baseModelIdentifier": "amazon.nova-2-lite-v1:0:256k",
        "trainingDataConfig": {"s3Uri": "s3://your-data-bucket/training/rft.jsonl"},
        "customizationConfig": {
            "rftConfig": {
                "graderConfig": {"lambdaGrader": {"lambdaArn": GRADERS["reference-match"]}},
                "hyperParameters": {"learningRate": 0.00001, "evalInterval": 10},
            }
        },
        "serving": {
            "mode": "auto",
            "timeToLiveHours": 8,
            "promoteTo": {
                "provisionedModelArn": "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdef123456"
            },
        },
        "trainingGate": {"maxTrainingLoss": 2.0, "keepModelOnGateFailure": False},
    },
    {
        "customizationType": "FINE_TUNING",
        "baseModelIdentifier": "amazon.nova-micro-v1:0:128k",
        "trainingDataConfig": {"s3Uri": "s3://your-data-bucket/training/train.jsonl"},
        "validationDataConfig": {
            "validators": [{"s3Uri": "s3://your-data-bucket/validation/val.jsonl"}]
        },
        "hyperParameters": {"epochCount": 2},
        "sweep": {
            "runs": [
                {"learningRate": 0.00001},
                {"learningRate": "0.00005", "learningRateWarmupSteps": 5},
            ],
            "maxConcurrency": 2,
            "measure": "validationLoss",
            "keepLosers": True,
        },
    },
    {
        "customizationType": "FINE_TUNING",
        "baseModelIdentifier": "cohere.command-text-v14:7:4k",
        "trainingDataConfig": {"s3Uri": "s3://your-data-bucket/training/train.jsonl"},
        "sweep": {
            "grid": {"epochCount": [1, 2], "learningRate": [0.00001, "0.0001"]},
            "measure": "trainingLoss",
        },
    },
]


def base_requests() -> dict[str, dict[str, Any]]:
    requests = {p.stem: json.loads(p.read_text()) for p in sorted(EXAMPLES.glob("*.json"))}
    requests.update({f"extra-{i}": r for i, r in enumerate(EXTRA_REQUESTS)})
    return requests


BASES = base_requests()

HUGE = 10**400  # JSON allows it; float() of it overflows
HOSTILE: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    HUGE,
    -HUGE,
    1.5,
    1e308,
    math.inf,
    math.nan,
    "",
    " ",
    "NaN",
    "-Infinity",
    "1e999",
    "0x1F",
    "ü数据🤖",
    "\x00",
    "x" * 70_000,
    [],
    [None, 1, "a"],
    [{"s3Uri": 1}],
    {},
    {"": None},
    {"a": {"b": [{"c": HUGE}]}},
    {"s3Uri": "s3://your-data-bucket/training/x.jsonl", "extra": []},
]
HOSTILE_KEYS = ["", "ü", "__proto__", "s3Uri", "grader", "x" * 300]

Path_ = tuple[str | int, ...]


def paths(value: Any, at: Path_ = ()) -> Iterator[Path_]:
    """Every field and list item of a JSON document, at every depth (the root excluded)."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, child in items:
        yield (*at, key)
        yield from paths(child, (*at, key))


def replaced(document: Any, path: Path_, new: Any) -> Any:
    out = copy.deepcopy(document)
    parent = out
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = copy.deepcopy(new)
    return out


def removed(document: Any, path: Path_) -> Any:
    out = copy.deepcopy(document)
    parent = out
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]
    return out


def outcome(request: Any, ctx: RequestContext = CONTEXT) -> str:
    """``accepted`` or ``rejected``; anything but ``RequestInvalid`` propagates."""
    try:
        check_request(request, ctx)
    except RequestInvalid as error:
        assert error.problems, "RequestInvalid without a problem"
        assert all(isinstance(p, str) and p.strip() for p in error.problems), error.problems
        assert str(error).startswith("The customization request has")
        assert len(str(error)) <= 32_768, len(str(error))
        return "rejected"
    return "accepted"


def crash(request: Any) -> str | None:
    try:
        outcome(request)
    except Exception as error:
        return f"{type(error).__name__}: {str(error)[:200]}"
    return None


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


# -- the bases are valid, or the mutations prove little ------------------------------------


@pytest.mark.parametrize("name", sorted(BASES))
def test_every_base_request_is_valid(name: str) -> None:
    assert outcome(BASES[name]) == "accepted"


# -- exhaustive: every field, every hostile value --------------------------------------------


@pytest.mark.parametrize("name", sorted(BASES))
def test_every_field_with_every_hostile_value_is_rejected_or_accepted(name: str) -> None:
    base = BASES[name]
    crashes = []
    for path in paths(base):
        for value in HOSTILE:
            error = crash(replaced(base, path, value))
            if error:
                crashes.append(f"{'.'.join(map(str, path))} = {short(value)}: {error}")
        error = crash(removed(base, path))
        if error:
            crashes.append(f"{'.'.join(map(str, path))} removed: {error}")
    assert crashes == [], f"{len(crashes)} crashes:\n" + "\n".join(crashes[:40])


@pytest.mark.parametrize("name", sorted(BASES))
def test_unknown_fields_anywhere_are_rejected(name: str) -> None:
    base = BASES[name]
    objects = [()] + [p for p in paths(base) if isinstance(_at(base, p), dict)]
    for path in objects:
        for key in HOSTILE_KEYS:
            target = _at(base, path)
            if key in target:
                continue
            request = replaced(base, (*path, key), None) if path else {**base, key: None}
            assert crash(request) is None, (path, key, crash(request))


def _at(document: Any, path: Path_) -> Any:
    for part in path:
        document = document[part]
    return document


@pytest.mark.parametrize("value", HOSTILE, ids=short)
def test_a_request_that_is_not_an_object_is_rejected(value: Any) -> None:
    if isinstance(value, dict) and value:
        assert crash(value) is None
    else:
        assert outcome(value) == "rejected"


# -- generated: several mutations at once, values built by hypothesis ------------------------

PROPERTY_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,  # the same examples on every machine and every run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**500),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["NaN", "inf", "-0", "1e999", "", "s3://", "arn:aws:bedrock:::", "ü"]),
)
hostile_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def mutated_requests(draw: st.DrawFn) -> Any:
    request = copy.deepcopy(BASES[draw(st.sampled_from(sorted(BASES)))])
    for _ in range(draw(st.integers(1, 4))):
        fields = list(paths(request))
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        if not fields or action == "add":
            objects = [()] + [p for p in fields if isinstance(_at(request, p), dict)]
            where = draw(st.sampled_from(objects))
            _at(request, where)[draw(st.text(max_size=12))] = draw(hostile_values)
            continue
        path = draw(st.sampled_from(fields))
        request = (
            removed(request, path)
            if action == "remove"
            else replaced(request, path, draw(hostile_values))
        )
    return request


@PROPERTY_SETTINGS
@given(request=mutated_requests())
def test_mutated_requests_are_rejected_or_accepted(request: Any) -> None:
    outcome(request)


# -- the Validate handler ends in the same RequestInvalid ----------------------------------


VALIDATE_ENV = {
    "DATA_BUCKET": CONTEXT.data_bucket,
    "ARTIFACTS_BUCKET": CONTEXT.output_bucket,
    "DATA_PREFIXES": ",".join(CONTEXT.data_prefixes),
    "OUTPUT_PREFIX": CONTEXT.output_prefix,
    "EXTRA_DATA_BUCKETS": ",".join(CONTEXT.extra_data_buckets),
    "ENABLED_CUSTOMIZATION_TYPES": ",".join(CONTEXT.enabled_types),
    "GRADERS": json.dumps(CONTEXT.graders),
    "INVOCATION_LOGS_URIS": ",".join(CONTEXT.invocation_logs_uris),
    "STACK_NAME": "BedrockCustomization",
}


@settings(PROPERTY_SETTINGS, max_examples=60)
@given(request=mutated_requests())
def test_the_validate_handler_turns_a_malformed_request_into_request_invalid(
    request: Any,
) -> None:
    """In the environment that describes ``CONTEXT``; a request ``check_request`` rejects
    fails the handler with the same problems, before any AWS call."""
    from lambda_handlers import validate_request
    from tests.conftest import FakeLambdaContext

    try:
        check_request(request, CONTEXT)
    except RequestInvalid as expected:
        event = {"request": request, "execution": {"id": EXECUTION_ARN}}
        with mock.patch.dict(os.environ, VALIDATE_ENV), pytest.raises(RequestInvalid) as raised:
            validate_request.handler(event, FakeLambdaContext())
        assert raised.value.problems == expected.problems


EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:CustomizationStateMachine:run-1"


# -- crashes the properties found, one regression test each ---------------------------------


def problems_of(request: Any) -> list[str]:
    with pytest.raises(RequestInvalid) as raised:
        check_request(request, CONTEXT)
    return raised.value.problems


@pytest.mark.parametrize("grader", [{"name": "format"}, ["format"]], ids=["object", "list"])
def test_a_grader_that_is_not_a_name_is_a_problem_not_a_type_error(grader: Any) -> None:
    request = replaced(BASES["rft-format"], ("customizationConfig", "rftConfig", "grader"), grader)
    assert (
        "customizationConfig.rftConfig.grader: expected the name of a grader of this stack, got "
        f"{type(grader).__name__} (graders: format, judge, preference, reference-match)"
    ) in problems_of(request)


@pytest.mark.parametrize("value", [HUGE, -HUGE])
def test_an_integer_beyond_every_float_is_out_of_range_not_an_overflow(value: int) -> None:
    request = replaced(BASES["fine-tuning-provisioned"], ("hyperParameters", "epochCount"), value)
    [problem] = problems_of(request)
    assert problem.startswith("hyperParameters.epochCount: ")
    assert "is out of range; expected epochCount (int 1 to 5" in problem


def test_a_huge_value_is_echoed_clipped() -> None:
    request = replaced(BASES["fine-tuning-provisioned"], ("customModelName",), "x" * 70_000)
    problems = problems_of(request)
    [problem] = problems
    assert problem.startswith("customModelName: String should have at most 63 characters (got 'xxx")
    assert problem.endswith("... (70002 chars))") and len(problem) < 200, problem


def test_too_many_problems_are_listed_up_to_a_bound() -> None:
    request = copy.deepcopy(BASES["fine-tuning-provisioned"])
    request["hyperParameters"] = {f"unknown{i}": 1 for i in range(40)}
    problems = problems_of(request)
    assert len(problems) == 31
    assert problems[-1] == "(request): 10 more problems not listed; fix these and check again"
    assert len(str(RequestInvalid(problems))) < 32_768
