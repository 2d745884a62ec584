"""Check request parameters against botocore's service model, strictly.

botocore's own validation checks types, required members and minimum lengths; the
walker in ``lambda_handlers.common.service_model`` adds patterns, maxima, enums and
unions, so a name that Bedrock would reject with a ValidationException fails a test here.
"""

from __future__ import annotations

from typing import Any

from botocore.validate import ParamValidator

from lambda_handlers.common.service_model import service_model, shape_problems


def strict_problems(service: str, operation: str, params: dict[str, Any]) -> list[str]:
    """Every way ``params`` breaks the input shape of ``service.operation``."""
    model = service_model(service).operation_model(operation)
    report = ParamValidator().validate(params, model.input_shape)
    problems = [report.generate_report()] if report.has_errors() else []
    return problems + shape_problems(model.input_shape, params, operation)


def assert_valid_request(service: str, operation: str, params: dict[str, Any]) -> None:
    problems = strict_problems(service, operation, params)
    assert not problems, "\n".join(problems)


def assert_valid_response(service: str, operation: str, response: dict[str, Any]) -> None:
    """A canned response must have the output shape too (as Stubber checks)."""
    model = service_model(service).operation_model(operation)
    report = ParamValidator().validate(response, model.output_shape)
    assert not report.has_errors(), report.generate_report()
