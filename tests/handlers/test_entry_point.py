"""Every handler's entry point: network failures leave it under one stable, retried name."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from lambda_handlers.common.errors import ServiceUnreachable
from lambda_handlers.common.observability import entry_point

URL = "https://bedrock.us-east-1.amazonaws.com/custom-models"


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url=URL),
        ConnectTimeoutError(endpoint_url=URL),
        ReadTimeoutError(endpoint_url=URL),
        ConnectionClosedError(endpoint_url=URL),
    ],
)
def test_a_network_failure_becomes_service_unreachable(error: Exception, lambda_context) -> None:
    @entry_point("plan.executionArn")
    def handler(event: dict[str, Any], context: Any) -> None:
        raise error

    with pytest.raises(ServiceUnreachable, match=type(error).__name__) as raised:
        handler({"plan": {"executionArn": "arn"}}, lambda_context)
    assert raised.value.__cause__ is error


def test_other_errors_and_results_pass_through(lambda_context) -> None:
    @entry_point("plan.executionArn")
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if event.get("fail"):
            raise KeyError("bug")
        return {"ok": True}

    assert handler({}, lambda_context) == {"ok": True}
    with pytest.raises(KeyError):
        handler({"fail": True}, lambda_context)


def test_every_state_handler_goes_through_the_entry_point() -> None:
    import importlib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "lambda_handlers"
    for module in sorted(p.stem for p in root.glob("*.py") if p.stem != "__init__"):
        text = (root / f"{module}.py").read_text()
        if "def handler" in text or "_handler(" in text:
            assert "@entry_point(" in text, module
            importlib.import_module(f"lambda_handlers.{module}")
