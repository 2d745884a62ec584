"""Every handler's entry: logs, metrics and traces (Powertools), and network failures.

- Logs: each handler logs with the execution ARN as correlation id, so one execution's lines
  can be found across functions in CloudWatch Logs Insights.
- Metrics: what happened, as CloudWatch embedded metric format (EMF) lines on stdout, which
  Lambda's log delivery turns into metrics. One namespace (``NAMESPACE``) and one dimension,
  ``service``, whose value is the stack's name (``STACK_NAME``): counts per stack, never per
  execution (a dimension per execution would make a metric, and a bill line, per run). The
  metrics a handler added are flushed when it returns and when it raises.
- Traces: Powertools Tracer (the X-Ray SDK) records each invocation and its AWS calls, with
  the execution ARN as an annotation, so one execution's trace can be searched for. Tracing is
  off outside Lambda (tests, the command line).

A network failure that the SDK's own retries could not overcome leaves the handler as
``ServiceUnreachable``, one stable name the state machine retries, instead of botocore's many
exception classes.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from lambda_handlers.common.errors import NETWORK_ERRORS, translate_network_error

SERVICE = "bedrock-customize"
NAMESPACE = "BedrockCustomization"
"""The CloudWatch namespace of every metric the handlers emit (the dashboard reads it)."""
DIMENSION = "service"
"""The one dimension of every metric: its value is the stack's name."""

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE)
# botocore only: every AWS call the handlers make goes through it.
tracer = Tracer(service=SERVICE, patch_modules=("botocore",))

_Handler = TypeVar("_Handler", bound=Callable[..., Any])

# Metric names, one place: the handlers emit them, constructs_lib/observability.py graphs
# and alarms on them.
JOBS_SUBMITTED = "JobsSubmitted"
JOBS_COMPLETED = "JobsCompleted"
JOBS_FAILED = "JobsFailed"
JOBS_STOPPED = "JobsStopped"
VALIDATION_ERRORS = "ValidationErrors"
VALIDATION_WARNINGS = "ValidationWarnings"
EVALUATION_BASE_SCORE = "EvaluationBaseScore"
EVALUATION_CUSTOM_SCORE = "EvaluationCustomScore"
EVALUATION_GAIN = "EvaluationGain"
QUALITY_GATE_PASSED = "QualityGatePassed"
QUALITY_GATE_FAILED = "QualityGateFailed"
SERVING_STARTED = "ServingStarted"
SERVING_REMOVED = "ServingRemoved"
SERVING_PAST_TIME_TO_LIVE = "ServingPastTimeToLive"
CLEANUP_LEFTOVERS = "CleanupLeftovers"

_JOB_OUTCOMES = {"Completed": JOBS_COMPLETED, "Failed": JOBS_FAILED, "Stopped": JOBS_STOPPED}


def count(name: str, value: float = 1) -> None:
    """Add ``value`` (default 1) to the count ``name``, emitted when the handler ends."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def measure(name: str, value: float) -> None:
    """Record a value without a unit (a score, a gain), emitted when the handler ends."""
    metrics.add_metric(name=name, unit=MetricUnit.NoUnit, value=value)


def count_job_outcome(status: str) -> None:
    """Count a customization job that ended: ``Completed``, ``Failed`` or ``Stopped`` (a
    ``GetModelCustomizationJob`` status or an event's ``detail.jobStatus``); any other status
    is not an end and counts nothing. Call it once per job, where the wait for it ends."""
    name = _JOB_OUTCOMES.get(status)
    if name is not None:
        count(name)


def flush_metrics() -> None:
    """Write the metrics added so far as one EMF line, dimensioned by the stack's name;
    nothing when there are none."""
    if not metrics.metric_set:
        return
    metrics.service = os.environ.get("STACK_NAME") or SERVICE
    metrics.flush_metrics()


def _annotate(correlation_id: Any) -> None:
    if isinstance(correlation_id, str) and correlation_id:
        tracer.put_annotation(key="execution_arn", value=correlation_id)


def entry_point(correlation_id_path: str) -> Callable[[_Handler], _Handler]:
    """Decorate a Lambda handler: logging with a correlation id, a trace, metrics flushed
    however it ends, network errors translated."""

    def decorate(handler: _Handler) -> _Handler:
        @functools.wraps(handler)
        def run(event: Any, context: Any) -> Any:
            _annotate(logger.get_correlation_id())
            try:
                return handler(event, context)
            except NETWORK_ERRORS as error:
                logger.warning("AWS endpoint unreachable", extra={"error": str(error)})
                raise translate_network_error(error) from error
            finally:
                flush_metrics()

        # The response is the state's output: large, and in the execution's history anyway.
        traced = tracer.capture_lambda_handler(run, capture_response=False)
        return logger.inject_lambda_context(correlation_id_path=correlation_id_path)(traced)  # type: ignore[return-value]

    return decorate
