"""What a cleanup could not remove, said so that a person can act on it.

Each problem names the resource, its ARN (its name when no ARN is known), what cleanup tried,
the error, and the command that finishes the job by hand. The notification (text and JSON)
and the ``bedrock-customize cleanup`` command show problems as they are built here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.common.errors import error_code

# What Bedrock answers for a resource that does not exist: ResourceNotFoundException (HTTP 404,
# "The specified resource Amazon Resource Name (ARN) was not found") on every Get, Stop and
# Delete that cleanup makes, per the API reference; ValidationException means "Input
# validation failed" (a malformed request, or one the resource's state refuses), so it is read
# as "not found" only when its message says so. Terraform's AWS provider
# (internal/service/bedrock: custom models, customization jobs, provisioned throughput) reads
# only ResourceNotFoundException as gone.
_NOT_FOUND_WORDS = ("not found", "does not exist", "could not find", "cannot be found")


def is_not_found(error: ClientError) -> bool:
    """Whether Bedrock says the resource does not exist (see above)."""
    code = error_code(error)
    if code == "ResourceNotFoundException":
        return True
    if code != "ValidationException":
        return False
    message = str(error.response.get("Error", {}).get("Message", "")).lower()
    return any(words in message for words in _NOT_FOUND_WORDS)


def cleanup_command(execution_arn: str) -> str:
    """The command that finds what an execution created and removes it, as cleanup does."""
    return f"bedrock-customize cleanup {execution_arn}"


@dataclass(frozen=True)
class Target:
    """One resource cleanup acts on: what it is, how it is known, and the command that
    removes it by hand."""

    resource: str
    arn: str
    action: str
    command: str | None

    def problem(self, error: str) -> dict[str, Any]:
        """The problem record: ``resource``, ``arn``, ``action``, ``error``, ``command``."""
        return {
            "resource": self.resource,
            "arn": self.arn,
            "action": self.action,
            "error": error,
            "command": self.command,
        }


def looking_for(resource: str, name: str, execution_arn: str) -> Target:
    """Reading a resource by its derived name: when that fails, whether it exists is unknown,
    and the cleanup command (which checks ownership before it deletes) is the way on."""
    return Target(resource, name, "find", cleanup_command(execution_arn))


def stopping_job(identifier: str) -> Target:
    return Target(
        "customization job",
        identifier,
        "stop",
        f"aws bedrock stop-model-customization-job --job-identifier {identifier}",
    )


def deleting_throughput(identifier: str) -> Target:
    return Target(
        "provisioned throughput",
        identifier,
        "delete",
        f"aws bedrock delete-provisioned-model-throughput --provisioned-model-id {identifier}",
    )


def deleting_deployment(identifier: str) -> Target:
    return Target(
        "custom model deployment",
        identifier,
        "delete",
        "aws bedrock delete-custom-model-deployment "
        f"--custom-model-deployment-identifier {identifier}",
    )


def stopping_batch_job(arn: str) -> Target:
    return Target(
        "batch inference job",
        arn,
        "stop",
        f"aws bedrock stop-model-invocation-job --job-identifier {arn}",
    )


def deleting_model(arn: str) -> Target:
    return Target(
        "custom model", arn, "delete", f"aws bedrock delete-custom-model --model-identifier {arn}"
    )


def problem_text(problem: dict[str, Any] | str) -> str:
    """One readable line for a problem (a plain string from an older report as it is)."""
    if isinstance(problem, str):
        return problem
    what = f"{problem.get('resource')} {problem.get('arn')}"
    if problem.get("action") == "left alone":
        return f"{what}: {problem.get('error')}"
    line = f"{what}: could not {problem.get('action')} it ({problem.get('error')})"
    if problem.get("command"):
        line += f"; run: {problem['command']}"
    return line
