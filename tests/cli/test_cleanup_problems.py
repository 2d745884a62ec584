"""``bedrock-customize cleanup`` names what it could not remove with the command that removes it,
as text and as JSON, and exits 1."""

from __future__ import annotations

import json

import pytest

from lambda_handlers.common.plan import EXECUTION_TAG, STACK_TAG
from tests.cli.helpers import run
from tests.cli.test_operator_commands import active_deployment, setup
from tests.factories import DEPLOYMENT_ARN, EXECUTION_ARN, MODEL_ARN, NOW, job_description

pytestmark = pytest.mark.usefixtures("settings_env")

COMMAND = f"aws bedrock delete-custom-model-deployment --custom-model-deployment-identifier {DEPLOYMENT_ARN}"


def refused_deletion(stub) -> None:
    plan, _, bedrock = setup(stub, "Completed")
    bedrock.add_response(
        "get_custom_model",
        {
            "modelArn": MODEL_ARN,
            "modelName": plan.customModelName,
            "creationTime": NOW,
            "baseModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0:300k",
        },
    )
    # clean_up: the job again (completed: kept), then serving (by name), tags, the refusal.
    bedrock.add_response("get_model_customization_job", job_description(plan, "Completed"))
    bedrock.add_response("get_custom_model_deployment", active_deployment(plan))
    bedrock.add_response(
        "list_tags_for_resource",
        {
            "tags": [
                {"key": STACK_TAG, "value": "BedrockCustomization"},
                {"key": EXECUTION_TAG, "value": EXECUTION_ARN},
            ]
        },
    )
    bedrock.add_client_error(
        "delete_custom_model_deployment", "AccessDeniedException", "not authorized", 403
    )


def test_a_refused_deletion_is_named_with_its_command(stub) -> None:
    refused_deletion(stub)
    code, out, _ = run("cleanup", EXECUTION_ARN)
    assert code == 1
    assert out.splitlines()[-1] == (
        f"NOT removed: custom model deployment {DEPLOYMENT_ARN}: could not delete it "
        f"(AccessDeniedException: not authorized); run: {COMMAND}"
    )


def test_a_refused_deletion_in_json(stub) -> None:
    refused_deletion(stub)
    code, out, _ = run("cleanup", EXECUTION_ARN, "--json")
    assert code == 1
    assert json.loads(out)["removed"]["problems"] == [
        {
            "resource": "custom model deployment",
            "arn": DEPLOYMENT_ARN,
            "action": "delete",
            "error": "AccessDeniedException: not authorized",
            "command": COMMAND,
        }
    ]
