"""Fixtures for handler tests: the handlers' own clients under a strict Stubber."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from lambda_handlers.common.aws import client
from tests.service_model import assert_valid_request

SETTINGS_ENV = {
    "DATA_BUCKET": "data-bucket",
    "ARTIFACTS_BUCKET": "artifacts-bucket",
    "DATA_PREFIXES": "training/,validation/,test/",
    "OUTPUT_PREFIX": "customization-jobs/",
    "EXTRA_DATA_BUCKETS": "",
    "ENABLED_CUSTOMIZATION_TYPES": "FINE_TUNING,CONTINUED_PRE_TRAINING",
    "SERVICE_ROLE_ARN": "arn:aws:iam::123456789012:role/BedrockServiceRole",
    "KMS_KEY_ARN": "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555",
    "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:outcomes",
    "STACK_NAME": "BedrockCustomization",
}


@pytest.fixture(autouse=True)
def settings_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key, value in SETTINGS_ENV.items():
        monkeypatch.setenv(key, value)
    return SETTINGS_ENV


class StrictStubber(Stubber):
    """A Stubber whose every expected call is also checked for patterns, maxima and enums."""

    def __init__(self, service: str):
        self.service = service
        super().__init__(client(service))
        self.client.meta.events.register_first(
            "before-parameter-build.*.*", self._strict, unique_id=f"strict-{service}"
        )

    def _strict(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        assert_valid_request(self.service, model.name, params)


@pytest.fixture
def stub() -> Iterator[Any]:
    """``stub("bedrock")`` -> an activated StrictStubber on the handler's client."""
    stubbers: list[StrictStubber] = []

    def make(service: str) -> StrictStubber:
        s = StrictStubber(service)
        s.activate()
        stubbers.append(s)
        return s

    yield make
    for s in stubbers:
        s.assert_no_pending_responses()
        s.deactivate()
