"""Every handler's entry: structured logging (Powertools Logger) and network failures.

Each handler logs with the execution ARN as correlation id, so one execution's lines
can be found across functions in CloudWatch Logs Insights. A network failure that the
SDK's own retries could not overcome leaves the handler as ``ServiceUnreachable``, one
stable name the state machine retries, instead of botocore's many exception classes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger

from lambda_handlers.common.errors import NETWORK_ERRORS, translate_network_error

logger = Logger(service="bedrock-customize")

_Handler = TypeVar("_Handler", bound=Callable[..., Any])


def entry_point(correlation_id_path: str) -> Callable[[_Handler], _Handler]:
    """Decorate a Lambda handler: logging with a correlation id, network errors translated."""

    def decorate(handler: _Handler) -> _Handler:
        @functools.wraps(handler)
        def run(event: Any, context: Any) -> Any:
            try:
                return handler(event, context)
            except NETWORK_ERRORS as error:
                logger.warning("AWS endpoint unreachable", extra={"error": str(error)})
                raise translate_network_error(error) from error

        return logger.inject_lambda_context(correlation_id_path=correlation_id_path)(run)  # type: ignore[return-value]

    return decorate
