"""An offline workflow per test: moto services, the fake Bedrock, the real handlers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from tests.e2e.fake_bedrock import FakeBedrock, FakeBedrockRuntime
from tests.e2e.harness import OfflineWorkflow, patch_interpreter


@pytest.fixture
def bedrock() -> FakeBedrock:
    return FakeBedrock()


def _offline(template: dict, bedrock: FakeBedrock) -> Iterator[OfflineWorkflow]:
    with mock_aws(
        config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    ):
        offline = OfflineWorkflow(template, bedrock)
        with patch_interpreter_context(offline):
            offline.start()
            yield offline
    assert not bedrock.violations, "requests that break the Bedrock service model:\\n" + "\\n".join(
        bedrock.violations
    )


@pytest.fixture
def runtime() -> Iterator[FakeBedrockRuntime]:
    """Converse for the evaluation: by default the custom model answers like the reference
    (the last word of the prompt names it) and the base model does not."""
    from lambda_handlers import evaluate_model

    def answer(model_id: str, prompt: str) -> str:
        custom = ":provisioned-model/" in model_id or ":custom-model-deployment/" in model_id
        return "Category: delivery" if custom else "I am not sure."

    fake = FakeBedrockRuntime(answer)
    evaluate_model.runtime.cache_clear()
    fake.register(evaluate_model.runtime())
    yield fake
    evaluate_model.runtime.cache_clear()
    assert not fake.violations, "\n".join(fake.violations)


@pytest.fixture
def workflow(synthesized, bedrock: FakeBedrock) -> Iterator[OfflineWorkflow]:
    yield from _offline(synthesized.template, bedrock)


@pytest.fixture
def workflow_polling(synthesized_polling, bedrock: FakeBedrock) -> Iterator[OfflineWorkflow]:
    """The stack that follows the job by polling alone (``jobCompletion=polling``)."""
    yield from _offline(synthesized_polling.template, bedrock)


@pytest.fixture
def workflow_full(synthesized_full, bedrock: FakeBedrock) -> Iterator[OfflineWorkflow]:
    """The stack with graders (and every other option) deployed."""
    yield from _offline(synthesized_full.template, bedrock)


def patch_interpreter_context(offline: OfflineWorkflow):
    from contextlib import contextmanager

    return contextmanager(patch_interpreter)(offline)
