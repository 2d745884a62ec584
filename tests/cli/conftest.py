"""Fixtures for command line tests: the handlers' strict Stubber and settings, for the operator
commands (cleanup runs the handlers' own code)."""

from __future__ import annotations

import pytest

from tests.handlers.conftest import (
    SETTINGS_ENV,
    stub,  # noqa: F401  (a fixture, used by name)
)


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stack's settings, as the handler tests set them."""
    for key, value in SETTINGS_ENV.items():
        monkeypatch.setenv(key, value)
