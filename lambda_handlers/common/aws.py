"""boto3 clients, created once per container.

Retries inside the SDK are kept short (standard mode, 3 retries after the first call): long waits belong
to the state machine's Retry, which costs nothing while it waits, not to a Lambda
that is billed by the millisecond.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30
)


@cache
def client(service: str) -> Any:
    """The one client of ``service`` for this container."""
    return boto3.client(service, config=_CONFIG)
