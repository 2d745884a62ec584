"""Malformed requests end the execution in Validate with RequestInvalid, through the state
machine: what crashed the handler before (tests/handlers/test_request_properties.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.fake_bedrock import FakeBedrock
from tests.e2e.harness import OfflineWorkflow

RFT = {
    "customizationType": "REINFORCEMENT_FINE_TUNING",
    "baseModelIdentifier": "amazon.nova-2-lite-v1:0:256k",
    "trainingDataConfig": {"s3Uri": "s3://data/training/rft.jsonl"},
}


@pytest.mark.parametrize(
    ("request_document", "problem"),
    [
        (
            {**RFT, "customizationConfig": {"rftConfig": {"grader": {"name": "format"}}}},
            "customizationConfig.rftConfig.grader: expected the name of a grader of this stack, got dict",
        ),
        (
            {**RFT, "customizationConfig": {"rftConfig": {"grader": ["format"]}}},
            "customizationConfig.rftConfig.grader: expected the name of a grader of this stack, got list",
        ),
        (
            {
                **RFT,
                "customizationType": "FINE_TUNING",
                "baseModelIdentifier": "amazon.nova-lite-v1:0:300k",
                "hyperParameters": {"epochCount": 10**400},
            },
            "hyperParameters.epochCount: 1000000000000000000000000000000000000000",
        ),
        ({**RFT, "jobName": "x" * 70_000}, "jobName: String should have at most 63 characters"),
    ],
    ids=["grader-object", "grader-list", "huge-integer", "huge-string"],
)
def test_a_malformed_request_ends_in_request_invalid(
    workflow_full: OfflineWorkflow,
    bedrock: FakeBedrock,
    request_document: dict[str, Any],
    problem: str,
) -> None:
    execution = workflow_full.run(request_document)

    assert execution.status == "FAILED"
    assert execution.error == "RequestInvalid", execution.cause
    message = json.loads(execution.cause)["errorMessage"]
    assert f"- {problem}" in message
    assert len(message) < 32_768
    assert execution.entered_states()[0] == "Validate request"
    assert "Submit customization job" not in execution.entered_states()
    assert bedrock.calls == []
