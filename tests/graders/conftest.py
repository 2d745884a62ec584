"""Fixtures for grader tests: a fresh judge client, strict Stubbers on it, sample builders."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from lambda_handlers.graders import judge
from tests.service_model import assert_valid_request


@pytest.fixture(autouse=True)
def fresh_judge_client() -> Iterator[None]:
    """The judge caches its client per container; each test starts with a new one."""
    judge.judge_client.cache_clear()
    yield
    judge.judge_client.cache_clear()


@pytest.fixture(autouse=True)
def grader_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No grader setting leaks in from the environment the tests run in."""
    for name in (
        "GRADER_NUMERIC_TOLERANCE",
        "GRADER_JSON_SCHEMA",
        "JUDGE_MODEL_ID",
        "JUDGE_RUBRIC",
        "JUDGE_MAX_TOKENS",
        "JUDGE_CONCURRENCY",
    ):
        monkeypatch.delenv(name, raising=False)


class StrictJudgeStubber(Stubber):
    """A Stubber on the judge's own client that also checks patterns, maxima and enums."""

    def __init__(self) -> None:
        super().__init__(judge.judge_client())
        self.client.meta.events.register_first(
            "before-parameter-build.*.*", self._strict, unique_id="strict-judge"
        )

    def _strict(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        assert_valid_request("bedrock-runtime", model.name, params)


@pytest.fixture
def judge_stub() -> Iterator[StrictJudgeStubber]:
    stubber = StrictJudgeStubber()
    stubber.activate()
    yield stubber
    stubber.assert_no_pending_responses()
    stubber.deactivate()


def sample(
    response: Any,
    reference: Any = None,
    *,
    sample_id: Any = "s1",
    prompt: str = "What is 2 + 2?",
    **extra: Any,
) -> dict[str, Any]:
    """A sample as Bedrock sends it: the prompt, the generated response last, the reference."""
    record: dict[str, Any] = {
        "id": sample_id,
        "messages": [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": response},
        ],
        **extra,
    }
    if reference is not None:
        record["reference_answer"] = reference
    return record


def converse_response(text: str, output_tokens: int = 5) -> dict[str, Any]:
    """A Converse response in the service model's output shape."""
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": 100,
            "outputTokens": output_tokens,
            "totalTokens": 100 + output_tokens,
        },
        "metrics": {"latencyMs": 42},
    }
