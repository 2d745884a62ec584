"""Errors the workflow raises, by stable name.

Step Functions sees a Lambda error by the exception's class name (``errorType``), so
the state machine retries and catches these names. Renaming one is a breaking change.
"""

from __future__ import annotations

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError


class WorkflowError(Exception):
    """Base of every error a handler raises on purpose."""


class RequestInvalid(WorkflowError):
    """The customization request has problems; nothing was created."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        count = len(problems)
        lines = "\n".join(f"- {p}" for p in problems)
        super().__init__(
            f"The customization request has {count} problem{'s' if count != 1 else ''}:\n{lines}"
        )


class TrainingDataInvalid(WorkflowError):
    """The training or validation data breaks the model's format or quotas; nothing was submitted."""


class TrainingCostExceeded(WorkflowError):
    """The estimated training cost is over the request's maxTrainingCostUsd (or cannot be
    checked against it); nothing was submitted."""


class BedrockThrottled(WorkflowError):
    """Bedrock throttled the call; retried with exponential backoff and jitter."""


class BedrockUnavailable(WorkflowError):
    """Bedrock answered with a server error (5xx); retried with backoff."""


class ServiceUnreachable(WorkflowError):
    """An AWS endpoint could not be reached (connection refused or reset, DNS, a read or
    connect timeout) after the SDK's own retries; retried like throttling, since the call
    may be repeated: every call of the workflow is a read or idempotent."""


class JobUnreachable(WorkflowError):
    """The customization job could not be read for longer than the workflow's patience; the
    job was left running (it may well complete) and the notification says how to follow it."""


class ServiceRoleNotReady(WorkflowError):
    """Bedrock could not assume the service role yet (IAM propagation); retried briefly."""


class QuotaExceeded(WorkflowError):
    """A service quota is reached (concurrent jobs, model units); submit retries slowly."""


class BedrockRequestRejected(WorkflowError):
    """Bedrock rejected the request as invalid; retrying would not help."""


class AccessDenied(WorkflowError):
    """A permission is missing; the message names the action."""


class ResourceMissing(WorkflowError):
    """A model, job or other resource named in the request does not exist."""


class JobNameTaken(WorkflowError):
    """A customization job of that name exists and was not started by this execution."""


class CustomizationJobFailed(WorkflowError):
    """The customization job ended with status Failed; the message carries Bedrock's reason."""


class CustomizationJobStopped(WorkflowError):
    """The customization job was stopped before it completed."""


class EvaluationFailed(WorkflowError):
    """The evaluation could not run (a batch inference job failed, expired or was stopped), or
    a model gave no answer at all: no quality gate is decided against a model that did not
    answer."""


class QualityGateFailed(WorkflowError):
    """The custom model did not meet the request's quality gate; serving is removed and the
    model deleted unless the request keeps it."""


class SweepFailed(WorkflowError):
    """No run of a sweep completed with the measure that picks the winner; the message names
    every run's outcome. Nothing is served."""


class PromotionFailed(WorkflowError):
    """The existing endpoint did not take the new model; it keeps serving the one it had."""


class ServingFailed(WorkflowError):
    """Provisioned throughput or the custom model deployment ended in status Failed."""


class EvaluationDataInvalid(WorkflowError):
    """The evaluation's test set breaks its format, or holds no record the evaluation can
    use; found in Validate, so nothing was submitted."""


_THROTTLING = {
    "ThrottlingException",
    "TooManyRequestsException",
    "Throttling",
    "RequestLimitExceeded",
}
_UNAVAILABLE = {"ServiceUnavailableException", "InternalServerException", "InternalFailure"}
_ROLE_NOT_READY_HINTS = ("assume", "role")


def translate_client_error(error: ClientError, action: str) -> WorkflowError:
    """Map a botocore ``ClientError`` to the workflow error a state machine can act on.

    ``action`` names what was being done (``"CreateModelCustomizationJob"``) so the
    message says where it happened.
    """
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "") or str(error)
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    text = f"{action}: {code}: {message}"
    if code in _THROTTLING:
        return BedrockThrottled(text)
    if code in _UNAVAILABLE or status >= 500:
        return BedrockUnavailable(text)
    if code == "ServiceQuotaExceededException":
        return QuotaExceeded(text)
    if code == "ValidationException" and all(h in message.lower() for h in _ROLE_NOT_READY_HINTS):
        return ServiceRoleNotReady(text)
    if code in {"AccessDeniedException", "AccessDenied"}:
        return AccessDenied(text)
    if code in {"ResourceNotFoundException", "NoSuchKey", "404", "NotFound"}:
        return ResourceMissing(text)
    return BedrockRequestRejected(text)


def error_code(error: ClientError) -> str:
    """The service's error code of a ``ClientError``."""
    return str(error.response.get("Error", {}).get("Code", ""))


# botocore's network failures: EndpointConnectionError, ConnectTimeoutError, SSLError and
# proxy errors are ConnectionErrors; ReadTimeoutError and ConnectionClosedError are
# HTTPClientErrors. None of them is a ClientError: the service never answered.
NETWORK_ERRORS = (BotocoreConnectionError, HTTPClientError)


def translate_network_error(error: Exception) -> ServiceUnreachable:
    """The one stable, retried error for an AWS endpoint that did not answer."""
    return ServiceUnreachable(f"{type(error).__name__}: {error}")
