"""Property: whatever JSON a batch holds, every pure grader returns one well-formed result per
sample, with the sample's id and a score in [0, 1], and never falls back on its safety net."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_handlers.graders import format_check, judge, preference, reference_match
from lambda_handlers.graders.contract import GradeResult, to_event

# What a JSON document can hold: Bedrock sends JSON, so no NaN or infinity (the one place
# they are generated below is a pair's score, to show they are refused there).
finite = st.floats(allow_nan=False, allow_infinity=False)
scalars = st.none() | st.booleans() | st.integers() | finite | st.text(max_size=30)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=15,
)
response_text = st.text(max_size=60) | st.sampled_from(
    [
        "Answer: 42",
        "\\boxed{3/4}",
        "#### -7",
        '{"name": "Ada", "age": 3}',
        '```json\n{"a": [1, 2]}\n```',
        "the cat sat on the mat",
        "Score: 10",
        "\\boxed{",
        "1e999",
    ]
)
content = response_text | st.lists(
    st.fixed_dictionaries({"text": response_text}) | json_values, max_size=3
)
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system", "nova_assistant"]) | json_values},
    optional={"content": content | json_values},
)
schemas = (
    st.sampled_from(
        [
            {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
            {"type": "array", "items": {"type": "integer", "minimum": 0}},
            {"enum": [1, "a", None]},
            {"oneOf": []},
            True,
            False,
        ]
    )
    | json_values
)
answers = st.text(max_size=20) | st.integers() | finite | st.sampled_from(["42", "3/4", "Paris"])
answer_references = st.one_of(
    answers,
    st.lists(answers, max_size=3),
    st.fixed_dictionaries({"final_answer": answers | json_values}),
)
pair_references = st.one_of(
    st.fixed_dictionaries(
        {"chosen": st.text(min_size=1, max_size=30), "rejected": st.text(min_size=1, max_size=30)},
        optional={"score": st.floats(min_value=0, max_value=1)},
    ),
    # Invalid pairs: a NaN or out-of-range score, answers that are not strings.
    st.fixed_dictionaries(
        {
            "chosen": st.text(max_size=30) | json_values,
            "rejected": st.text(max_size=5) | json_values,
        },
        optional={"score": st.floats() | json_values},
    ),
)
schema_references = st.fixed_dictionaries({"json_schema": schemas})
any_reference = answer_references | pair_references | schema_references | json_values
sample_like = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=8) | st.integers() | json_values,
        "messages": st.lists(message, max_size=3) | json_values,
        "reference_answer": any_reference,
        "metadata": st.fixed_dictionaries({}, optional={"reference_answer": any_reference})
        | json_values,
    },
)


def batches(references: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    """Batches mixing arbitrary JSON, sample-like objects and well-formed samples (a string
    id, a final assistant turn, a reference of the grader's kind) so the scorers really run."""
    well_formed = st.builds(
        lambda sample_id, prompt, response, reference, under_metadata: {
            "id": sample_id,
            "messages": [*prompt, {"role": "assistant", "content": response}],
            **(
                {"metadata": {"reference_answer": reference}}
                if under_metadata
                else {"reference_answer": reference}
            ),
        },
        st.text(min_size=1, max_size=8),
        st.lists(message, max_size=2),
        content,
        references,
        st.booleans(),
    )
    return st.lists(well_formed | well_formed | sample_like | json_values, max_size=6)


def expected_id(raw: Any) -> Any:
    if isinstance(raw, dict) and raw.get("id") is not None and raw.get("id") != "":
        return raw["id"]
    return ""


def check(batch: list[Any], results: list[GradeResult]) -> None:
    assert len(results) == len(batch)
    for raw, result in zip(batch, results, strict=True):
        assert result.id is expected_id(raw) or result.id == expected_id(raw)
        assert isinstance(result.aggregate_reward_score, float)
        assert 0.0 <= result.aggregate_reward_score <= 1.0
        names = [m.name for m in result.metrics_list]
        assert "error_grader_exception" not in names, "a scorer raised: see the log"
        assert all(math.isfinite(m.value) for m in result.metrics_list)
        assert all(m.type in {"Reward", "Metric"} for m in result.metrics_list)
    json.dumps(to_event(results), allow_nan=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=batches(answer_references | any_reference))
def test_reference_match_on_any_batch(batch: list[Any]) -> None:
    check(batch, reference_match.grade(batch))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=batches(schema_references | any_reference))
def test_format_check_on_any_batch(batch: list[Any]) -> None:
    check(batch, format_check.grade(batch))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=batches(pair_references | any_reference))
def test_preference_on_any_batch(batch: list[Any]) -> None:
    check(batch, preference.grade(batch))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batch=batches(any_reference),
    answer=st.text(max_size=40) | st.sampled_from(["Score: 7", "Score: 11", "3"]),
)
def test_judge_on_any_batch_and_any_answer(batch: list[Any], answer: str) -> None:
    def converse(**request: Any) -> dict[str, Any]:
        json.dumps(request, allow_nan=False)  # what botocore would have to serialise
        return {"output": {"message": {"role": "assistant", "content": [{"text": answer}]}}}

    settings_ = judge.JudgeSettings(model_id="amazon.nova-pro-v1:0", concurrency=2)
    check(batch, judge.grade(batch, settings_, converse=converse))
