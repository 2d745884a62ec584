"""Fixtures for command line tests: the handlers' strict Stubber, for the operator commands."""

from __future__ import annotations

from tests.handlers.conftest import stub  # noqa: F401  (a fixture, used by name)
