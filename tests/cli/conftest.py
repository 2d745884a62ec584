"""Fixtures for command line tests: the handlers' strict Stubber and settings, for the operator
commands (cleanup runs the handlers' own code), and Chromium for the report pages."""

from __future__ import annotations

import os
import shutil

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


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's chromium; under CI a missing browser fails the test (dev.py installs it)."""
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed: dev.py test installs Debian's package")
        pytest.skip("chromium is not installed (apt-get install chromium; dev.py test does it)")
    return found
