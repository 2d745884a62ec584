"""An offline workflow per test: moto services, the fake Bedrock, the real handlers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from tests.e2e.harness import FakeBedrock, OfflineWorkflow, patch_interpreter


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
def workflow(synthesized, bedrock: FakeBedrock) -> Iterator[OfflineWorkflow]:
    yield from _offline(synthesized.template, bedrock)


@pytest.fixture
def workflow_full(synthesized_full, bedrock: FakeBedrock) -> Iterator[OfflineWorkflow]:
    """The stack with graders (and every other option) deployed."""
    yield from _offline(synthesized_full.template, bedrock)


def patch_interpreter_context(offline: OfflineWorkflow):
    from contextlib import contextmanager

    return contextmanager(patch_interpreter)(offline)
